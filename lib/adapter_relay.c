// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The adapter while it serves: what the kernel's driver does, relayed to
 * the back-end (feature negotiation, stage 3 on DRIVER_OK, reset, config
 * writes), and the back-end's own requests (config changes).
 *
 * The adapter never reads the kick or call eventfds: they are the data
 * plane between the module and the back-end, and a read here would steal
 * a notification from one of them.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <linux/virtio_config.h>

#include "adapter_priv.h"
#include "adapter_types.h"
#include "internal.h"
#include "transport.h"

/* Enough to drain what a driver sends at once, bounded so others get a turn */
#define KERNEL_BUDGET	16

static int set_state(struct vlb_adapter *a, uint32_t request,
		     unsigned int index, unsigned int num)
{
	struct vhu_msg req;

	vhu_msg_init(&req, request, sizeof(struct vhu_vring_state));
	req.u.state.index = index;
	req.u.state.num = num;
	return vlb_adapter_call(a, &req, NULL, 0, NULL);
}

static int set_vring_fd(struct vlb_adapter *a, uint32_t request,
			unsigned int index, int fd)
{
	struct vhu_msg req;

	vhu_msg_init(&req, request, sizeof(uint64_t));
	req.u.u64 = index & VHU_VRING_IDX_MASK;
	return vlb_adapter_call(a, &req, &fd, 1, NULL);
}

/*
 * Without REPLY_ACK nothing says when the back-end has acted on a message;
 * a GET_FEATURES after it does (the back-end answers in order).
 */
static int sync_backend(struct vlb_adapter *a)
{
	struct vhu_msg req, reply;

	if (vlb_adapter_has(a, VHU_PROTOCOL_F_REPLY_ACK))
		return 0;
	vhu_msg_init(&req, VHU_GET_FEATURES, 0);
	return vlb_adapter_call(a, &req, NULL, 0, &reply);
}

/* Bits the module adds to what the back-end offers */
#define MODULE_FEATURES	(VLB_BIT(VIRTIO_F_VERSION_1) | \
			 VLB_BIT(VIRTIO_F_ACCESS_PLATFORM))

/* The driver accepted features: the back-end gets the same, in its terms */
static int send_features(struct vlb_adapter *a, uint64_t acked)
{
	uint64_t features = acked & a->offered;
	int rc;

	/*
	 * Only after a recovery or a reconnect can the driver hold features
	 * this back-end does not offer: it replaces one that did.
	 */
	if (acked & ~(a->offered | MODULE_FEATURES)) {
		vlb_err("vhost-user back-end %s does not offer features 0x%llx that the driver negotiated: refusing it (start the same back-end, or one that offers them)",
			a->socket_path,
			(unsigned long long)(acked & ~(a->offered | MODULE_FEATURES)));
		return -ENOTSUP;
	}

	if (!a->owner_sent) {
		struct vhu_msg req;

		vhu_msg_init(&req, VHU_SET_OWNER, 0);
		rc = vlb_adapter_call(a, &req, NULL, 0, NULL);
		if (rc < 0)
			return rc;
		a->owner_sent = true;
	}
	if (a->has_protocol)
		features |= 1ULL << VHU_F_PROTOCOL_FEATURES;
	rc = vlb_adapter_set_u64(a, VHU_SET_FEATURES, features);
	return rc < 0 ? rc : sync_backend(a);
}

/* The whole shared area as one region: IOVAs are the back-end's "guest" addresses */
static int set_mem_table(struct vlb_adapter *a)
{
	struct vhu_msg req;

	vhu_msg_init(&req, VHU_SET_MEM_TABLE,
		     offsetof(struct vhu_memory, regions[1]));
	req.u.memory.nregions = 1;
	req.u.memory.regions[0] = (struct vhu_region){
		.guest_addr = VLB_SHM_IOVA_BASE,
		.size = a->kdev.shm_size,
		.user_addr = (uintptr_t)a->kdev.mem,
		.mmap_offset = 0,
	};
	return vlb_adapter_call(a, &req, &a->kdev.shm_fd, 1, NULL);
}

/* Our address of len bytes at iova, or 0 if they are not all in the area */
static uint64_t user_addr(const struct vlb_adapter *a, uint64_t iova,
			  uint64_t len)
{
	uint64_t off = iova - VLB_SHM_IOVA_BASE;

	if (iova < VLB_SHM_IOVA_BASE || off > a->kdev.shm_size || len > a->kdev.shm_size - off)
		return 0;
	return (uintptr_t)a->kdev.mem + off;
}

static int set_vring_addr(struct vlb_adapter *a, const struct vlb_vq_info *vq)
{
	struct vhu_msg req;
	struct vhu_vring_addr *addr = &req.u.addr;

	vhu_msg_init(&req, VHU_SET_VRING_ADDR, sizeof(*addr));
	addr->index = vq->index;
	addr->desc = user_addr(a, vq->desc, 16ULL * vq->num);
	addr->avail = user_addr(a, vq->avail, 6 + 2ULL * vq->num);
	addr->used = user_addr(a, vq->used, 6 + 8ULL * vq->num);
	if (!addr->desc || !addr->avail || !addr->used) {
		vlb_err("queue %u: the kernel put its ring outside the shared area",
			vq->index);
		return -EFAULT;
	}
	return vlb_adapter_call(a, &req, NULL, 0, NULL);
}

/* Hand queue i to the back-end: size, addresses, start at 0, the eventfds */
static int start_ring(struct vlb_adapter *a, const struct vlb_vq_info *vq)
{
	unsigned int i = vq->index;
	int rc;

	rc = set_state(a, VHU_SET_VRING_NUM, i, vq->num);
	if (rc == 0)
		rc = set_vring_addr(a, vq);
	if (rc == 0)
		rc = set_state(a, VHU_SET_VRING_BASE, i, 0);
	/*
	 * The call fd before the kick fd: a back-end starts the ring on its
	 * kick fd, and the driver may have queued requests already; their
	 * completions need somewhere to go (libvhost-user fails otherwise).
	 */
	if (rc == 0)
		rc = set_vring_fd(a, VHU_SET_VRING_CALL, i, a->call[i]);
	if (rc == 0)
		rc = set_vring_fd(a, VHU_SET_VRING_KICK, i, a->kick[i]);
	if (rc == 0)
		a->started[i] = true;
	return rc;
}

/* Stage 3: the driver set the rings up; the back-end takes them over */
static int start_rings(struct vlb_adapter *a)
{
	struct vlb_vq_info vq;
	unsigned int i;
	int rc;

	rc = vlb_adapter_stop_rings(a);	/* a DRIVER_OK again starts afresh */
	if (rc == 0)
		rc = set_mem_table(a);
	for (i = 0; rc == 0 && i < a->num_queues; i++) {
		rc = vlb_tp_get_vq(a->kdev.fd, i, &vq);
		if (rc < 0)
			vlb_err("queue %u: cannot get its ring from the kernel: %s",
				i, strerror(-rc));
		else if (vq.num)
			rc = start_ring(a, &vq);
	}
	/* With protocol features, rings start disabled */
	for (i = 0; rc == 0 && a->has_protocol && i < a->num_queues; i++)
		if (a->started[i])
			rc = set_state(a, VHU_SET_VRING_ENABLE, i, 1);
	return rc;
}

int vlb_adapter_replay(struct vlb_adapter *a)
{
	int rc = 0;

	if (a->features_set)
		rc = send_features(a, a->acked);
	if (rc == 0 && a->driver_ok)
		rc = start_rings(a);
	return rc;
}

/*
 * What the driver does is recorded first, so that a back-end that comes
 * back later gets it replayed; while none is connected that is all.
 */
static int on_features(struct vlb_adapter *a, uint64_t acked)
{
	a->acked = acked;
	a->features_set = true;
	return a->sock < 0 ? 0 : send_features(a, acked);
}

static int on_driver_ok(struct vlb_adapter *a)
{
	a->driver_ok = true;
	return a->sock < 0 ? 0 : start_rings(a);
}

static int on_reset(struct vlb_adapter *a)
{
	a->driver_ok = false;
	a->features_set = false;
	return a->sock < 0 ? 0 : vlb_adapter_stop_rings(a);
}

int vlb_adapter_stop_rings(struct vlb_adapter *a)
{
	struct vhu_msg req, reply;
	unsigned int i;
	int rc;

	for (i = 0; i < a->num_queues; i++) {
		if (!a->started[i])
			continue;
		vhu_msg_init(&req, VHU_GET_VRING_BASE, sizeof(struct vhu_vring_state));
		req.u.state.index = i;
		rc = vlb_adapter_call(a, &req, NULL, 0, &reply);
		if (rc < 0)
			return rc;
		a->started[i] = false;
	}
	return 0;
}

/*
 * Fetch config space from the back-end into the kernel.  The type fits it
 * again (queue counts, the tag option), as it did at creation.
 */
static int refresh_config(struct vlb_adapter *a, bool notify)
{
	struct vlb_type_setup s = {
		.features = a->offered,
		.num_queues = a->num_queues,
		.config_size = a->config_size,
		.config_from_backend = true,
		.tag = a->tag,
	};
	const struct vlb_type *type = vlb_type_get(a->kdev.device_id);
	int rc;

	rc = vlb_adapter_get_config(a, s.config);
	if (rc == 0 && type->finish)
		rc = type->finish(&s);
	if (rc == 0)
		rc = vlb_tp_set_config(a->kdev.fd, 0, s.config, s.config_size, notify);
	return rc;
}

/* The driver wrote config: the back-end may react (virtio-input's select) */
static int on_config_write(struct vlb_adapter *a, const struct vlb_msg *m)
{
	uint32_t off = m->u.config.offset, len = m->u.config.len;
	struct vhu_msg req;
	int rc;

	if (!vlb_adapter_has(a, VHU_PROTOCOL_F_CONFIG))
		return 0;	/* the kernel keeps what was written */
	if (len > VLB_MSG_CONFIG_MAX || off > a->config_size ||
	    len > a->config_size - off)
		return -EINVAL;
	vhu_msg_init(&req, VHU_SET_CONFIG, VHU_CONFIG_HDR_SIZE + len);
	req.u.config.offset = off;
	req.u.config.size = len;
	memcpy(req.u.config.data, m->u.config.data, len);
	rc = vlb_adapter_call(a, &req, NULL, 0, NULL);
	return rc < 0 ? rc : refresh_config(a, false);
}

static int relay(struct vlb_adapter *a, const struct vlb_msg *m)
{
	switch (m->type) {
	case VLB_MSG_FEATURES:
		return on_features(a, m->u.features);
	case VLB_MSG_DRIVER_OK:
		return on_driver_ok(a);
	case VLB_MSG_RESET:
		return on_reset(a);
	case VLB_MSG_CONFIG_WRITE:
		/* the kernel keeps what was written; a new back-end has its own */
		return a->sock < 0 ? 0 : on_config_write(a, m);
	default:
		vlb_dbg("unknown message type %u from the kernel", m->type);
		return 0;
	}
}

int vlb_adapter_on_kernel(struct vlb_adapter *a)
{
	struct vlb_msg m;
	int n, rc;

	for (n = 0; n < KERNEL_BUDGET; n++) {
		rc = vlb_tp_read_msg(a->kdev.fd, &m);
		if (rc == 0)
			break;
		if (rc == -ENODEV)
			vlb_err("the kernel failed virtio device type %u of back-end %s (see dmesg)",
				a->kdev.device_id, a->socket_path);
		if (rc < 0)
			return rc;
		/*
		 * A failed relay ends the adapter (the kernel hears it as
		 * removal), unless the back-end went and will be waited for:
		 * the step is recorded and replayed to its successor.
		 */
		rc = relay(a, &m);
		if (rc < 0 && vlb_adapter_may_reconnect(a, rc))
			rc = vlb_adapter_begin_reconnect(a);
		if (rc < 0)
			return rc;
		if (m.flags & VLB_MSG_F_REPLY) {
			rc = vlb_tp_reply(a->kdev.fd, m.seq, 0);
			if (rc < 0)
				return rc;
		}
	}
	return n;
}

static int answer_backend(struct vlb_adapter *a, const struct vhu_msg *m,
			  bool failed)
{
	struct vhu_msg r;

	if (!(m->hdr.flags & VHU_F_NEED_REPLY))
		return 0;
	vhu_msg_init(&r, m->hdr.request, sizeof(uint64_t));
	r.hdr.flags |= VHU_F_REPLY;
	r.u.u64 = failed;
	return vhu_send(a->req_fd, &r, NULL, 0, vhu_now_ms() + a->timeout_ms);
}

int vlb_adapter_on_backend_req(struct vlb_adapter *a)
{
	int fds[VHU_MAX_FDS];
	struct vhu_msg m;
	unsigned int nfds;
	int rc;

	rc = vhu_recv(a->req_fd, &m, fds, VHU_MAX_FDS, &nfds,
		      vhu_now_ms() + a->timeout_ms);
	if (rc == -ECONNRESET) {
		/* Only the channel: the main socket says if the back-end is gone */
		vlb_dbg("vhost-user back-end %s closed its request channel",
			a->socket_path);
		close(a->req_fd);
		a->req_fd = -1;
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = vhu_check_backend_req(&m, nfds);
	while (nfds)
		close(fds[--nfds]);	/* no request we serve uses one */
	if (rc == -EOPNOTSUPP) {
		vlb_warn("vhost-user back-end %s sent request %u, which the adapter does not serve",
			 a->socket_path, m.hdr.request);
		return answer_backend(a, &m, true);
	}
	/* CONFIG_CHANGE_MSG; without CONFIG there is nothing to fetch */
	if (rc == 0 && vlb_adapter_has(a, VHU_PROTOCOL_F_CONFIG) && a->config_size)
		rc = refresh_config(a, true);
	if (rc == 0)
		rc = answer_backend(a, &m, false);
	return rc < 0 ? rc : 1;
}

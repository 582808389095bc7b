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

static int plan_state(struct vlb_plan *p, uint32_t request, unsigned int index,
		      unsigned int num)
{
	struct vlb_step *s = vlb_plan_add(p, request, sizeof(struct vhu_vring_state));

	if (!s)
		return -ENOMEM;
	s->req.u.state.index = index;
	s->req.u.state.num = num;
	return 0;
}

static struct vlb_step *plan_vring_fd(struct vlb_plan *p, uint32_t request,
				      unsigned int index, int fd)
{
	struct vlb_step *s = vlb_plan_add(p, request, sizeof(uint64_t));

	if (s) {
		s->req.u.u64 = index & VHU_VRING_IDX_MASK;
		s->fd = fd;
	}
	return s;
}

/*
 * Without REPLY_ACK nothing says when the back-end has acted on a message;
 * a GET_FEATURES after it does (the back-end answers in order).
 */
static int plan_sync(struct vlb_adapter *a, struct vlb_plan *p)
{
	if (vlb_adapter_has(a, VHU_PROTOCOL_F_REPLY_ACK))
		return 0;
	return vlb_plan_add(p, VHU_GET_FEATURES, 0) ? 0 : -ENOMEM;
}

/* Bits the module adds to what the back-end offers */
#define MODULE_FEATURES	(VLB_BIT(VIRTIO_F_VERSION_1) | \
			 VLB_BIT(VIRTIO_F_ACCESS_PLATFORM))

/* The driver accepted features: the back-end gets the same, in its terms */
static int plan_features(struct vlb_adapter *a, struct vlb_plan *p,
			 uint64_t acked)
{
	uint64_t features = acked & a->offered;
	struct vlb_step *s;

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
		s = vlb_plan_add(p, VHU_SET_OWNER, 0);
		if (!s)
			return -ENOMEM;
		s->effect = STEP_OWNER;
	}
	if (a->has_protocol)
		features |= 1ULL << VHU_F_PROTOCOL_FEATURES;
	s = vlb_plan_add(p, VHU_SET_FEATURES, sizeof(uint64_t));
	if (!s)
		return -ENOMEM;
	s->req.u.u64 = features;
	return plan_sync(a, p);
}

/* The whole shared area as one region: IOVAs are the back-end's "guest" addresses */
static int plan_mem_table(struct vlb_adapter *a, struct vlb_plan *p)
{
	struct vlb_step *s = vlb_plan_add(p, VHU_SET_MEM_TABLE,
					  offsetof(struct vhu_memory, regions[1]));

	if (!s)
		return -ENOMEM;
	s->req.u.memory.nregions = 1;
	s->req.u.memory.regions[0] = (struct vhu_region){
		.guest_addr = VLB_SHM_IOVA_BASE,
		.size = a->kdev.shm_size,
		.user_addr = (uintptr_t)a->kdev.mem,
		.mmap_offset = 0,
	};
	s->fd = a->kdev.shm_fd;
	return 0;
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

static int plan_vring_addr(struct vlb_adapter *a, struct vlb_plan *p,
			   const struct vlb_vq_info *vq)
{
	struct vlb_step *s = vlb_plan_add(p, VHU_SET_VRING_ADDR,
					  sizeof(struct vhu_vring_addr));
	struct vhu_vring_addr *addr;

	if (!s)
		return -ENOMEM;
	addr = &s->req.u.addr;
	addr->index = vq->index;
	addr->desc = user_addr(a, vq->desc, 16ULL * vq->num);
	addr->avail = user_addr(a, vq->avail, 6 + 2ULL * vq->num);
	addr->used = user_addr(a, vq->used, 6 + 8ULL * vq->num);
	if (!addr->desc || !addr->avail || !addr->used) {
		vlb_err("queue %u: the kernel put its ring outside the shared area",
			vq->index);
		return -EFAULT;
	}
	return 0;
}

/* Hand queue i to the back-end: size, addresses, start at 0, the eventfds */
static int plan_start_ring(struct vlb_adapter *a, struct vlb_plan *p,
			   const struct vlb_vq_info *vq)
{
	unsigned int i = vq->index;
	struct vlb_step *s;
	int rc;

	rc = plan_state(p, VHU_SET_VRING_NUM, i, vq->num);
	if (rc == 0)
		rc = plan_vring_addr(a, p, vq);
	if (rc == 0)
		rc = plan_state(p, VHU_SET_VRING_BASE, i, 0);
	if (rc)
		return rc;
	/*
	 * The call fd before the kick fd: a back-end starts the ring on its
	 * kick fd, and the driver may have queued requests already; their
	 * completions need somewhere to go (libvhost-user fails otherwise).
	 */
	if (!plan_vring_fd(p, VHU_SET_VRING_CALL, i, a->call[i]))
		return -ENOMEM;
	s = plan_vring_fd(p, VHU_SET_VRING_KICK, i, a->kick[i]);
	if (!s)
		return -ENOMEM;
	s->effect = STEP_RING_STARTED;
	s->ring = (uint16_t)i;
	return 0;
}

/* Stop the back-end's started rings (GET_VRING_BASE) */
static int plan_stop_rings(struct vlb_adapter *a, struct vlb_plan *p)
{
	struct vlb_step *s;
	unsigned int i;

	for (i = 0; i < a->num_queues; i++) {
		if (!a->started[i])
			continue;
		if (plan_state(p, VHU_GET_VRING_BASE, i, 0))
			return -ENOMEM;
		s = &p->steps[p->n - 1];
		s->effect = STEP_RING_STOPPED;
		s->ring = (uint16_t)i;
	}
	return 0;
}

/* Stage 3: the driver set the rings up; the back-end takes them over */
static int plan_start_rings(struct vlb_adapter *a, struct vlb_plan *p)
{
	bool used[VLB_MAX_QUEUES] = { false };
	struct vlb_vq_info vq;
	unsigned int i;
	int rc;

	rc = plan_stop_rings(a, p);	/* a DRIVER_OK again starts afresh */
	if (rc == 0)
		rc = plan_mem_table(a, p);
	for (i = 0; rc == 0 && i < a->num_queues; i++) {
		rc = vlb_tp_get_vq(a->kdev.fd, i, &vq);
		if (rc < 0)
			vlb_err("queue %u: cannot get its ring from the kernel: %s",
				i, strerror(-rc));
		else if (vq.num)
			rc = plan_start_ring(a, p, &vq);
		if (rc == 0)
			used[i] = vq.num != 0;
	}
	/* With protocol features, rings start disabled */
	for (i = 0; rc == 0 && a->has_protocol && i < a->num_queues; i++)
		if (used[i])
			rc = plan_state(p, VHU_SET_VRING_ENABLE, i, 1);
	return rc;
}

int vlb_adapter_replay(struct vlb_adapter *a)
{
	struct vlb_plan p = { 0 };
	int rc = 0;

	if (a->features_set)
		rc = plan_features(a, &p, a->acked);
	if (rc == 0 && a->driver_ok)
		rc = plan_start_rings(a, &p);
	if (rc) {
		vlb_plan_clear(&p);
		return rc;
	}
	return vlb_plan_run_sync(a, &p);
}

int vlb_adapter_stop_rings(struct vlb_adapter *a)
{
	struct vlb_plan p = { 0 };
	int rc = plan_stop_rings(a, &p);

	if (rc) {
		vlb_plan_clear(&p);
		return rc;
	}
	return vlb_plan_run_sync(a, &p);
}

/*
 * Config space the back-end sent, into the kernel.  The type fits it again
 * (queue counts, the tag option), as it did at creation.
 */
int vlb_adapter_put_config(struct vlb_adapter *a, const uint8_t *config,
			   bool notify)
{
	struct vlb_type_setup s = {
		.features = a->offered,
		.num_queues = a->num_queues,
		.config_size = a->config_size,
		.config_from_backend = true,
		.tag = a->tag,
	};
	const struct vlb_type *type = vlb_type_get(a->kdev.device_id);
	int rc = 0;

	memcpy(s.config, config, a->config_size);
	if (type->finish)
		rc = type->finish(&s);
	if (rc == 0)
		rc = vlb_tp_set_config(a->kdev.fd, 0, s.config, s.config_size, notify);
	return rc;
}

/* Fetch config space from the back-end into the kernel */
static int plan_config(struct vlb_adapter *a, struct vlb_plan *p)
{
	struct vlb_step *s = vlb_plan_add(p, VHU_GET_CONFIG,
					  VHU_CONFIG_HDR_SIZE + a->config_size);

	if (!s)
		return -ENOMEM;
	s->req.u.config.size = a->config_size;
	s->effect = STEP_CONFIG;
	s->may_fail = true;
	return 0;
}

/* The driver wrote config: the back-end may react (virtio-input's select) */
static int plan_config_write(struct vlb_adapter *a, struct vlb_plan *p,
			     const struct vlb_msg *m)
{
	uint32_t off = m->u.config.offset, len = m->u.config.len;
	struct vlb_step *s;

	if (!vlb_adapter_has(a, VHU_PROTOCOL_F_CONFIG))
		return 0;	/* the kernel keeps what was written */
	if (len > VLB_MSG_CONFIG_MAX || off > a->config_size ||
	    len > a->config_size - off)
		return -EINVAL;
	s = vlb_plan_add(p, VHU_SET_CONFIG, VHU_CONFIG_HDR_SIZE + len);
	if (!s)
		return -ENOMEM;
	s->req.u.config.offset = off;
	s->req.u.config.size = len;
	memcpy(s->req.u.config.data, m->u.config.data, len);
	return plan_config(a, p);
}

/*
 * What the driver did is recorded first, so that a back-end that comes
 * back later gets it replayed; while none is connected that is all.
 */
static int plan_kernel_msg(struct vlb_adapter *a, struct vlb_plan *p,
			   const struct vlb_msg *m)
{
	bool connected = a->sock >= 0;

	switch (m->type) {
	case VLB_MSG_FEATURES:
		a->acked = m->u.features;
		a->features_set = true;
		p->what = "the driver's features";
		return connected ? plan_features(a, p, m->u.features) : 0;
	case VLB_MSG_DRIVER_OK:
		a->driver_ok = true;
		p->what = "the rings' set-up (DRIVER_OK)";
		p->must_succeed = true;
		return connected ? plan_start_rings(a, p) : 0;
	case VLB_MSG_RESET:
		a->driver_ok = false;
		a->features_set = false;
		p->what = "a reset";
		return connected ? plan_stop_rings(a, p) : 0;
	case VLB_MSG_CONFIG_WRITE:
		/* the kernel keeps what was written; a new back-end has its own */
		p->what = "a config write";
		return connected ? plan_config_write(a, p, m) : 0;
	default:
		vlb_dbg("unknown message type %u from the kernel", m->type);
		return 0;
	}
}

static int relay(struct vlb_adapter *a, const struct vlb_msg *m)
{
	struct vlb_plan *p = &a->plan;
	int rc;

	vlb_plan_clear(p);
	p->seq = m->seq;
	p->answer = m->flags & VLB_MSG_F_REPLY;
	rc = plan_kernel_msg(a, p, m);
	if (rc < 0) {
		vlb_plan_clear(p);
		return rc;
	}
	return vlb_plan_begin(a);
}

int vlb_adapter_on_kernel(struct vlb_adapter *a)
{
	struct vlb_msg m;
	int n, rc;

	/* One message at a time: the next waits for this one's plan */
	for (n = 0; n < KERNEL_BUDGET && !a->plan.active; n++) {
		rc = vlb_tp_read_msg(a->kdev.fd, &m);
		if (rc == 0)
			break;
		if (rc == -ENODEV)
			vlb_err("the kernel failed virtio device type %u of back-end %s (see dmesg)",
				a->kdev.device_id, a->socket_path);
		if (rc < 0)
			return rc;
		rc = relay(a, &m);
		if (rc < 0)
			return rc;
	}
	return n;
}

/* The back-end announced new config space: fetch it, the driver hears */
static int start_config_change(struct vlb_adapter *a)
{
	struct vlb_plan *p = &a->plan;
	int rc;

	a->config_changed = false;
	vlb_plan_clear(p);
	p->what = "a config change";
	p->notify = true;
	rc = a->sock < 0 ? 0 : plan_config(a, p);
	if (rc < 0) {
		vlb_plan_clear(p);
		return rc;
	}
	return vlb_plan_begin(a);
}

int vlb_adapter_on_idle(struct vlb_adapter *a)
{
	return a->config_changed ? start_config_change(a) : 0;
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
	if (rc < 0)
		return rc;
	/*
	 * CONFIG_CHANGE_MSG: acknowledged at once (a back-end waiting for it
	 * may not serve GET_CONFIG meanwhile), fetched when no plan runs.
	 * Without CONFIG there is nothing to fetch.
	 */
	rc = answer_backend(a, &m, false);
	if (rc < 0 || !vlb_adapter_has(a, VHU_PROTOCOL_F_CONFIG) || !a->config_size)
		return rc < 0 ? rc : 1;
	a->config_changed = true;
	rc = a->plan.active ? 0 : start_config_change(a);
	return rc < 0 ? rc : 1;
}

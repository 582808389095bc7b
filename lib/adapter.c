// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The adapter's life: connecting and negotiating with the back-end (stage
 * 1), creating the kernel device from what it offers (stage 2), serving
 * loops, failure and teardown.  What happens while it serves (stage 3 and
 * the relaying of control events) is in adapter_relay.c; the per-type
 * defaults in adapter_types.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "adapter_priv.h"
#include "adapter_types.h"
#include "internal.h"
#include "sysfs.h"
#include "transport.h"

#define DEFAULT_TIMEOUT_MS	5000	/* per exchange of set-up and teardown */
#define DEFAULT_QUEUE_SIZE	256
/* How often a reconnecting adapter tries the socket */
#define RETRY_MS		200


/* The protocol features the adapter implements */
#define OUR_PROTOCOL_FEATURES	(VLB_BIT(VHU_PROTOCOL_F_MQ) | \
				 VLB_BIT(VHU_PROTOCOL_F_REPLY_ACK) | \
				 VLB_BIT(VHU_PROTOCOL_F_BACKEND_REQ) | \
				 VLB_BIT(VHU_PROTOCOL_F_CONFIG))

/*
 * Bits 24..40 are the transport's.  Of those, a device here offers only
 * the ones the kernel's split ring and the module implement; the module
 * adds ACCESS_PLATFORM itself, and the back-end never sees it (it gets
 * plain addresses, no IOTLB).  Bit 30 is vhost-user's, never virtio's.
 */
#define TRANSPORT_FEATURES	(((1ULL << 41) - 1) & ~((1ULL << 24) - 1))
#define TRANSPORT_KEPT		(VLB_BIT(VIRTIO_RING_F_INDIRECT_DESC) | \
				 VLB_BIT(VIRTIO_RING_F_EVENT_IDX) | \
				 VLB_BIT(VIRTIO_F_VERSION_1))

/* The first released size (0.1): nothing smaller was ever valid */
#define ADAPTER_CONFIG_SIZE_0_1	offsetof(struct vlb_adapter_config, reconnect_s)

/* Take the application's config at its size (see adapter.h) and check it */
static int copy_config(const struct vlb_adapter_config *ucfg,
		       struct vlb_adapter_config *cfg)
{
	int rc;

	if (!ucfg)
		return -EINVAL;
	rc = vlb_take_struct("vlb_adapter_create: struct vlb_adapter_config",
			     cfg, sizeof(*cfg), ucfg, ucfg->size,
			     ADAPTER_CONFIG_SIZE_0_1);
	if (rc)
		return rc;
	if (cfg->reserved0 || cfg->reserved1 ||
	    !vlb_all_zero(cfg->reserved, sizeof(cfg->reserved))) {
		vlb_err("vlb_adapter_create: reserved fields must be zero");
		return -EINVAL;
	}
	if (!cfg->socket_path || cfg->device_id == 0 || cfg->device_id > 63) {
		vlb_err("vlb_adapter_create: a socket path and a device id 1..63 are required");
		return -EINVAL;
	}
	if (cfg->config_size > VHU_MAX_CONFIG) {
		vlb_err("vlb_adapter_create: config space of %u bytes, vhost-user carries %u at most",
			cfg->config_size, VHU_MAX_CONFIG);
		return -EINVAL;
	}
	return 0;
}

static const char *connect_hint(int err)
{
	switch (err) {
	case ENOENT:
		return "is the back-end running? start it with its socket at this path";
	case ECONNREFUSED:
		return "nothing listens on it: is the back-end still running?";
	case EACCES:
	case EPERM:
		return "not permitted: run as root or as the back-end's user";
	default:
		return "check the path and the back-end";
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* quiet: while reconnecting, "not there yet" is expected, not an error */
static int connect_backend(struct vlb_adapter *a, bool quiet)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int err;

	if (strlen(a->socket_path) >= sizeof(sa.sun_path)) {
		vlb_err("cannot connect to %s: the path is longer than a unix socket path may be (%zu bytes)",
			a->socket_path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, a->socket_path);
	a->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (a->sock < 0)
		return -errno;
	if (connect(a->sock, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return 0;
	err = errno;
	close(a->sock);
	a->sock = -1;
	if (quiet && (err == ENOENT || err == ECONNREFUSED))
		return -err;
	vlb_err("cannot connect to vhost-user back-end %s: %s (%s)",
		a->socket_path, strerror(err), connect_hint(err));
	return -err;
}

int vlb_adapter_call(struct vlb_adapter *a, struct vhu_msg *req,
		     const int *fds, unsigned int nfds, struct vhu_msg *reply)
{
	return vhu_call(a->sock, req, fds, nfds,
			vlb_adapter_has(a, VHU_PROTOCOL_F_REPLY_ACK), reply,
			vhu_now_ms() + a->timeout_ms);
}

static int get_u64(struct vlb_adapter *a, uint32_t request, uint64_t *out)
{
	struct vhu_msg req, reply;
	int rc;

	vhu_msg_init(&req, request, 0);
	rc = vlb_adapter_call(a, &req, NULL, 0, &reply);
	if (rc == 0)
		*out = reply.u.u64;
	return rc;
}

int vlb_adapter_set_u64(struct vlb_adapter *a, uint32_t request, uint64_t value)
{
	struct vhu_msg req;

	vhu_msg_init(&req, request, sizeof(uint64_t));
	req.u.u64 = value;
	return vlb_adapter_call(a, &req, NULL, 0, NULL);
}

int vlb_adapter_get_config(struct vlb_adapter *a, uint8_t *buf)
{
	struct vhu_msg req, reply;
	int rc;

	vhu_msg_init(&req, VHU_GET_CONFIG, VHU_CONFIG_HDR_SIZE + a->config_size);
	req.u.config.size = a->config_size;
	rc = vlb_adapter_call(a, &req, NULL, 0, &reply);
	if (rc == 0)
		memcpy(buf, reply.u.config.data, a->config_size);
	return rc;
}

/* A socketpair: one end for the back-end's requests, the other ours */
static int open_backend_channel(struct vlb_adapter *a)
{
	struct vhu_msg req;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	vhu_msg_init(&req, VHU_SET_BACKEND_REQ_FD, 0);
	rc = vlb_adapter_call(a, &req, &sv[1], 1, NULL);
	close(sv[1]);
	if (rc < 0) {
		close(sv[0]);
		return rc;
	}
	a->req_fd = sv[0];
	return 0;
}

static int negotiate_protocol(struct vlb_adapter *a)
{
	uint64_t offered;
	int rc;

	rc = get_u64(a, VHU_GET_PROTOCOL_FEATURES, &offered);
	if (rc < 0)
		return rc;
	/* REPLY_ACK applies from the message after this one */
	rc = vlb_adapter_set_u64(a, VHU_SET_PROTOCOL_FEATURES, offered & OUR_PROTOCOL_FEATURES);
	if (rc < 0)
		return rc;
	a->protocol = offered & OUR_PROTOCOL_FEATURES;
	a->has_protocol = true;
	if (vlb_adapter_has(a, VHU_PROTOCOL_F_BACKEND_REQ))
		return open_backend_channel(a);
	return 0;
}

static unsigned int pick_queue_count(const struct vlb_adapter_config *cfg,
				     const struct vlb_type *type,
				     unsigned int backend_max)
{
	unsigned int want = cfg->num_queues ? cfg->num_queues : type->queues;

	if (!want)
		want = backend_max ? backend_max : 1;
	if (backend_max && want > backend_max) {
		vlb_info("the back-end serves %u queues: using %u, not %u",
			 backend_max, backend_max, want);
		want = backend_max;
	}
	return want;
}

/* Stage 1: what the back-end offers, fitted to the type, into s */
static int query_backend(struct vlb_adapter *a,
			 const struct vlb_adapter_config *cfg,
			 struct vlb_type_setup *s)
{
	const struct vlb_type *type = vlb_type_get(a->kdev.device_id);
	uint64_t features, max_queues = 0;
	int rc;

	rc = get_u64(a, VHU_GET_FEATURES, &features);
	if (rc < 0)
		return rc;
	if (!(features & VLB_BIT(VIRTIO_F_VERSION_1))) {
		vlb_err("vhost-user back-end %s does not offer VIRTIO_F_VERSION_1: legacy devices are not supported",
			a->socket_path);
		return -ENOTSUP;
	}
	if (features & VLB_BIT(VHU_F_PROTOCOL_FEATURES)) {
		rc = negotiate_protocol(a);
		if (rc < 0)
			return rc;
	}
	if (vlb_adapter_has(a, VHU_PROTOCOL_F_MQ)) {
		rc = get_u64(a, VHU_GET_QUEUE_NUM, &max_queues);
		if (rc < 0)
			return rc;
		if (max_queues == 0) {
			vlb_err("vhost-user back-end %s says it serves no queue", a->socket_path);
			return -EPROTO;
		}
		if (max_queues > VLB_MAX_QUEUES)
			max_queues = VLB_MAX_QUEUES;
	}

	memset(s, 0, sizeof(*s));
	s->features = features & ~VLB_BIT(VHU_F_PROTOCOL_FEATURES) &
		      ~VLB_BIT(VIRTIO_F_ACCESS_PLATFORM) &
		      ~(TRANSPORT_FEATURES & ~TRANSPORT_KEPT);
	s->num_queues = pick_queue_count(cfg, type, max_queues);
	s->config_size = cfg->config_size ? cfg->config_size : type->config_size;
	s->tag = cfg->tag;
	a->config_size = s->config_size;
	if (s->config_size && vlb_adapter_has(a, VHU_PROTOCOL_F_CONFIG)) {
		rc = vlb_adapter_get_config(a, s->config);
		if (rc < 0)
			return rc;
		s->config_from_backend = true;
	} else if (type->needs_backend_config) {
		vlb_err("vhost-user back-end %s does not serve config space (protocol feature CONFIG), which a %s device needs",
			a->socket_path, type->pub.name);
		return -ENOTSUP;
	}
	return type->finish ? type->finish(s) : 0;
}

static int create_kernel_device(struct vlb_adapter *a,
				const struct vlb_adapter_config *cfg,
				const struct vlb_type_setup *s)
{
	struct vlb_create c = {
		.size = sizeof(c),
		.device_id = a->kdev.device_id,
		.features = s->features,
		.num_queues = s->num_queues,
		.queue_size = cfg->queue_size ? cfg->queue_size : DEFAULT_QUEUE_SIZE,
		.config_size = s->config_size,
		.config = (uintptr_t)s->config,
		.shm_size = cfg->shm_size,
	};
	/* The area's fd stays: the back-end gets it in SET_MEM_TABLE */
	int rc;

	/* If the adapter dies, its successor gets as long as a back-end */
	if (a->reconnect_s) {
		c.flags = VLB_CREATE_F_RECOVERABLE;
		c.recovery_timeout_ms = a->reconnect_s > UINT32_MAX / 1000 ?
					UINT32_MAX : a->reconnect_s * 1000;
	}
	rc = vlb_kdev_create(&a->kdev, &c, true);
	if (rc < 0)
		return rc;
	a->num_queues = s->num_queues;
	a->offered = s->features;
	return 0;
}

/* The eventfds both sides will use; the back-end gets them on DRIVER_OK */
static int setup_eventfds(struct vlb_adapter *a)
{
	unsigned int i;
	int rc;

	for (i = 0; i < a->num_queues; i++) {
		a->kick[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		a->call[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (a->kick[i] < 0 || a->call[i] < 0)
			return -errno;
		rc = vlb_tp_set_vq_fds(a->kdev.fd, i, a->kick[i], a->call[i]);
		if (rc < 0) {
			vlb_err("queue %u: cannot register its eventfds: %s", i,
				strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int watch(struct vlb_adapter *a, int fd, uint32_t events,
		 enum vlb_adapter_source src)
{
	struct epoll_event ev = { .events = events, .data.u32 = src };

	if (fd < 0)
		return 0;
	return epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int watch_backend(struct vlb_adapter *a)
{
	int rc = watch(a, a->sock, EPOLLIN | EPOLLRDHUP, SRC_BACKEND);

	return rc ? rc : watch(a, a->req_fd, EPOLLIN, SRC_BACKEND_REQ);
}

int vlb_adapter_setup_polling(struct vlb_adapter *a)
{
	int rc;

	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	a->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	a->deadline_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (a->epfd < 0 || a->stop_fd < 0 || a->deadline_fd < 0)
		return -errno;
	rc = watch(a, a->kdev.fd, EPOLLIN, SRC_KERNEL);
	if (rc == 0)
		rc = watch(a, a->deadline_fd, EPOLLIN, SRC_DEADLINE);
	if (rc == 0)
		rc = watch_backend(a);
	if (rc == 0 && a->reconnect_s) {
		a->retry_fd = timerfd_create(CLOCK_MONOTONIC,
					     TFD_CLOEXEC | TFD_NONBLOCK);
		rc = a->retry_fd < 0 ? -errno :
		     watch(a, a->retry_fd, EPOLLIN, SRC_RETRY);
	}
	return rc;
}

static struct vlb_adapter *adapter_alloc(const struct vlb_adapter_config *cfg)
{
	struct vlb_adapter *a = calloc(1, sizeof(*a));
	unsigned int i;

	if (!a)
		return NULL;
	a->sock = a->req_fd = -1;
	a->epfd = a->stop_fd = a->retry_fd = a->deadline_fd = -1;
	a->reconnect_s = cfg->reconnect_s;
	/* The kernel's clock started before we read its message: a margin */
	a->relay_ms = vlb_module_reply_timeout_ms() / 4 * 3;
	vlb_kdev_init(&a->kdev, cfg->device_id);
	for (i = 0; i < VLB_MAX_QUEUES; i++)
		a->kick[i] = a->call[i] = -1;
	a->timeout_ms = cfg->timeout_ms ? (int)cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (a->timeout_ms <= 0)
		a->timeout_ms = DEFAULT_TIMEOUT_MS;
	a->socket_path = strdup(cfg->socket_path);
	a->tag = cfg->tag ? strdup(cfg->tag) : NULL;
	if (!a->socket_path || (cfg->tag && !a->tag)) {
		vlb_adapter_destroy(a);
		return NULL;
	}
	return a;
}

/*
 * A recovered device: the kernel keeps what the driver negotiated; this
 * back-end is set up as for a new device when the kernel tells it again.
 */
static int recover_kernel_device(struct vlb_adapter *a, unsigned int index,
				 const struct vlb_type_setup *s)
{
	int rc = vlb_kdev_recover(&a->kdev, index, true);

	if (rc < 0)
		return rc;
	a->num_queues = s->num_queues;
	a->offered = s->features;
	a->recovered = true;
	return 0;
}

/* index < 0: create a device; else take over vloopback<index> */
static int open_adapter(const struct vlb_adapter_config *ucfg, int index,
			struct vlb_adapter **out)
{
	struct vlb_adapter_config config, *cfg = &config;
	struct vlb_type_setup setup;
	struct vlb_adapter *a;
	int rc;

	rc = copy_config(ucfg, cfg);
	if (rc)
		return rc;
	a = adapter_alloc(cfg);
	if (!a)
		return -ENOMEM;
	rc = connect_backend(a, false);
	if (rc == 0)
		rc = query_backend(a, cfg, &setup);
	if (rc == 0 && index >= 0)
		rc = recover_kernel_device(a, (unsigned int)index, &setup);
	else if (rc == 0)
		rc = create_kernel_device(a, cfg, &setup);
	if (rc == 0)
		rc = setup_eventfds(a);
	if (rc == 0)
		rc = vlb_adapter_setup_polling(a);
	if (rc) {
		/* A device we could not take over stays quiesced for another try */
		if (index >= 0 && a->kdev.fd >= 0) {
			close(a->kdev.fd);
			a->kdev.fd = -1;
		}
		a->error = rc;	/* nothing to tell the back-end on the way out */
		vlb_adapter_destroy(a);
		return rc;
	}
	*out = a;
	return 0;
}

VLB_EXPORT int vlb_adapter_create(const struct vlb_adapter_config *ucfg,
				  struct vlb_adapter **out)
{
	return open_adapter(ucfg, -1, out);
}

VLB_EXPORT int vlb_adapter_recover(const struct vlb_adapter_config *ucfg,
				   unsigned int index, struct vlb_adapter **out)
{
	if (index > INT_MAX)
		return -EINVAL;
	return open_adapter(ucfg, (int)index, out);
}

VLB_EXPORT int vlb_adapter_index(struct vlb_adapter *a)
{
	return vlb_kdev_index(&a->kdev);
}

VLB_EXPORT int vlb_adapter_reconnecting(struct vlb_adapter *a)
{
	return atomic_load(&a->reconnecting) ? 1 : 0;
}

/* The back-end went away or missed a deadline: can we wait for a new one? */
bool vlb_adapter_may_reconnect(struct vlb_adapter *a, int rc)
{
	/* Not while reconnecting: then -ECONNRESET is giving up */
	return a->reconnect_s && a->retry_fd >= 0 && !a->error &&
	       !atomic_load(&a->reconnecting) &&
	       (rc == -ECONNRESET || rc == -EPIPE || rc == -ETIMEDOUT);
}

/* Forget the back-end: its socket, channel, rings and protocol */
static void drop_backend(struct vlb_adapter *a)
{
	unsigned int i;

	close_fd(&a->sock);
	close_fd(&a->req_fd);
	for (i = 0; i < VLB_MAX_QUEUES; i++)
		a->started[i] = false;
	a->owner_sent = false;
	a->has_protocol = false;
	a->protocol = 0;
}

int vlb_adapter_begin_reconnect(struct vlb_adapter *a)
{
	struct itimerspec its = {
		.it_value = { .tv_nsec = RETRY_MS * 1000000L },
		.it_interval = { .tv_nsec = RETRY_MS * 1000000L },
	};
	if (atomic_load(&a->reconnecting))
		return 0;
	vlb_warn("vhost-user back-end %s went away: keeping virtio device type %u, reconnecting for up to %u s",
		 a->socket_path, a->kdev.device_id, a->reconnect_s);
	drop_backend(a);
	a->reconnect_deadline = vhu_now_ms() + (int64_t)a->reconnect_s * 1000;
	if (timerfd_settime(a->retry_fd, 0, &its, NULL) < 0)
		return -errno;
	atomic_store(&a->reconnecting, true);
	/* The step is recorded: the driver's goes on, the successor replays it */
	return a->plan.active ? vlb_plan_finish(a, 0) : 0;
}

/* Timer: one try.  0 (still trying or back), or -errno when giving up */
static int try_reconnect(struct vlb_adapter *a)
{
	struct itimerspec off = { 0 };
	uint64_t ticks;
	int rc;

	if (read(a->retry_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return -errno;
	if (!atomic_load(&a->reconnecting))
		return 0;
	rc = connect_backend(a, true);
	if (rc == 0) {
		rc = vlb_adapter_resume(a);
		if (rc == 0)
			rc = watch_backend(a);
		if (rc == 0) {
			timerfd_settime(a->retry_fd, 0, &off, NULL);
			atomic_store(&a->reconnecting, false);
			vlb_info("reconnected to vhost-user back-end %s",
				 a->socket_path);
			return 1;
		}
		if (rc == -ENOTSUP)	/* logged: a back-end that cannot serve */
			return rc;
		/* It went again, or is not ready yet: the next try starts over */
		drop_backend(a);
	}
	if (vhu_now_ms() < a->reconnect_deadline)
		return 0;
	vlb_err("vhost-user back-end %s did not come back within %u s: removing virtio device type %u",
		a->socket_path, a->reconnect_s, a->kdev.device_id);
	return -ECONNRESET;
}

/* Stage 1 against a back-end that replaces one the driver negotiated with */
static int check_backend(struct vlb_adapter *a, const struct vlb_type_setup *s)
{
	uint64_t need = a->features_set ? a->acked & a->offered : a->offered;

	if ((s->features & need) != need) {
		vlb_err("vhost-user back-end %s no longer offers features 0x%llx that were negotiated with the driver: refusing it (start the same back-end, or one that offers them)",
			a->socket_path,
			(unsigned long long)(need & ~s->features));
		return -ENOTSUP;
	}
	if (s->num_queues < a->num_queues) {
		vlb_err("vhost-user back-end %s serves %u queues, the device uses %u: refusing it",
			a->socket_path, s->num_queues, a->num_queues);
		return -ENOTSUP;
	}
	return 0;
}

int vlb_adapter_resume(struct vlb_adapter *a)
{
	struct vlb_adapter_config cfg = {
		.num_queues = (uint16_t)a->num_queues,
		.config_size = a->config_size,
		.tag = a->tag,
	};
	struct vlb_type_setup setup;
	int rc;

	rc = query_backend(a, &cfg, &setup);
	if (rc == 0)
		rc = check_backend(a, &setup);
	if (rc == 0 && a->driver_ok) {
		/* Each ring again at 0 with exactly what is owed, each once */
		rc = vlb_tp_restart_queues(a->kdev.fd);
		if (rc < 0) {
			vlb_err("the kernel cannot restart the rings of virtio device type %u: %s",
				a->kdev.device_id, strerror(-rc));
			return rc == -ENOTSUP ? -EIO : rc;
		}
	}
	return rc ? rc : vlb_adapter_replay(a);
}

VLB_EXPORT int vlb_adapter_start(struct vlb_adapter *a)
{
	int rc;

	if (a->recovered && !a->error)	/* the adapter it replaces did */
		return 0;
	rc = a->error ? a->error : vlb_tp_start(a->kdev.fd);
	if (rc < 0 && !a->error)
		vlb_err("cannot start virtio device type %u: %s", a->kdev.device_id,
			strerror(-rc));
	return rc;
}


int vlb_adapter_fail(struct vlb_adapter *a, int rc)
{
	if (a->error)
		return a->error;
	a->error = rc;
	vlb_plan_clear(&a->plan);
	/* The device first: the kernel fails what is in flight at once */
	if (a->kdev.fd >= 0)
		vlb_info("removing virtio device type %u of back-end %s",
			 a->kdev.device_id, a->socket_path);
	vlb_kdev_close(&a->kdev);
	close_fd(&a->sock);
	close_fd(&a->req_fd);
	return rc;
}

VLB_EXPORT void vlb_adapter_destroy(struct vlb_adapter *a)
{
	unsigned int i;

	if (!a)
		return;
	if (a->thread_started)
		vlb_adapter_join(a);
	/*
	 * A clean stop: the back-end leaves the rings before they go away;
	 * not in the middle of a plan, whose answer is still on its way.
	 */
	if (!a->error && a->sock >= 0 && !a->plan.waiting)
		vlb_adapter_stop_rings(a);
	vlb_plan_clear(&a->plan);
	close_fd(&a->sock);
	close_fd(&a->req_fd);
	vlb_kdev_destroy(&a->kdev);
	for (i = 0; i < VLB_MAX_QUEUES; i++) {
		close_fd(&a->kick[i]);
		close_fd(&a->call[i]);
	}
	close_fd(&a->epfd);
	close_fd(&a->stop_fd);
	close_fd(&a->retry_fd);
	close_fd(&a->deadline_fd);
	free(a->socket_path);
	free(a->tag);
	free(a);
}

VLB_EXPORT int vlb_adapter_fd(struct vlb_adapter *a)
{
	return a->epfd;
}

/* The socket is readable outside an exchange: the back-end hung up or lied */
static int on_backend(struct vlb_adapter *a, uint32_t events)
{
	char byte;
	ssize_t n = recv(a->sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR) &&
	    !(events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)))
		return 0;
	if (n > 0 && !(events & (EPOLLHUP | EPOLLRDHUP))) {
		vlb_err("vhost-user back-end %s sent a message nobody asked for",
			a->socket_path);
		return -EPROTO;
	}
	vlb_err("vhost-user back-end %s closed the connection (did it exit? see its log)",
		a->socket_path);
	return -ECONNRESET;
}

static int handle_event(struct vlb_adapter *a, const struct epoll_event *ev)
{
	switch (ev->data.u32) {
	case SRC_BACKEND_REQ:
		return vlb_adapter_on_backend_req(a);
	case SRC_KERNEL:
		return vlb_adapter_on_kernel(a);
	case SRC_RETRY:
		return try_reconnect(a);
	case SRC_DEADLINE:
		return vlb_plan_on_deadline(a);
	default:
		return 0;
	}
}

VLB_EXPORT int vlb_adapter_dispatch(struct vlb_adapter *a)
{
	struct epoll_event ev[4];
	int i, n, rc, handled = 0;

	if (a->error)
		return a->error;
	n = epoll_wait(a->epfd, ev, 4, 0);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	/* The back-end first: an answer, or a hang-up that ends the relay */
	for (i = 0; i < n; i++)
		if (ev[i].data.u32 == SRC_BACKEND && a->sock >= 0) {
			rc = a->plan.waiting ? vlb_plan_on_reply(a) :
			     on_backend(a, ev[i].events);
			if (rc < 0 && vlb_adapter_may_reconnect(a, rc))
				rc = vlb_adapter_begin_reconnect(a);
			if (rc < 0)
				return vlb_adapter_fail(a, rc);
			handled++;
		}
	for (i = 0; i < n; i++) {
		if (ev[i].data.u32 == SRC_BACKEND)
			continue;
		/* the back-end's channel went with it */
		if (ev[i].data.u32 == SRC_BACKEND_REQ && a->req_fd < 0)
			continue;
		rc = handle_event(a, &ev[i]);
		if (rc < 0 && vlb_adapter_may_reconnect(a, rc))
			rc = vlb_adapter_begin_reconnect(a);
		if (rc < 0)
			return vlb_adapter_fail(a, rc);
		handled += rc;
	}
	return handled;
}

/* Wait up to timeout_ms and dispatch: 0, 1 when stopped, or -errno */
static int serve_once(struct vlb_adapter *a, int timeout_ms)
{
	struct pollfd fds[2] = {
		{ .fd = a->stop_fd, .events = POLLIN },
		{ .fd = a->epfd, .events = POLLIN },
	};
	eventfd_t ignored;
	int rc;

	if (a->error)
		return a->error;
	if (poll(fds, 2, timeout_ms) < 0)
		return errno == EINTR ? 0 : -errno;
	if (fds[0].revents) {
		eventfd_read(a->stop_fd, &ignored);	/* used up by this stop */
		return 1;
	}
	rc = fds[1].revents ? vlb_adapter_dispatch(a) : 0;
	return rc < 0 ? rc : 0;
}

VLB_EXPORT int vlb_adapter_run(struct vlb_adapter *a)
{
	int rc;

	while ((rc = serve_once(a, -1)) == 0)
		;
	return rc == 1 ? 0 : rc;
}

static void *serve_thread(void *arg)
{
	struct vlb_adapter *a = arg;

	a->thread_rc = vlb_adapter_run(a);
	return NULL;
}

VLB_EXPORT int vlb_adapter_run_thread(struct vlb_adapter *a)
{
	sigset_t all, old;
	int rc;

	if (a->thread_started)
		return -EBUSY;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&a->thread, NULL, serve_thread, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		vlb_err("cannot start the adapter's thread: %s", strerror(rc));
		return -rc;
	}
	a->thread_started = true;
	return 0;
}

VLB_EXPORT int vlb_adapter_join(struct vlb_adapter *a)
{
	if (!a->thread_started)
		return -EINVAL;
	vlb_adapter_stop(a);
	pthread_join(a->thread, NULL);
	a->thread_started = false;
	return a->thread_rc;
}

VLB_EXPORT void vlb_adapter_stop(struct vlb_adapter *a)
{
	eventfd_write(a->stop_fd, 1);	/* write(2): async-signal-safe */
}

/* Any thread: a failure closes the kdev, which then says -ENODEV */
VLB_EXPORT int vlb_adapter_virtio_index(struct vlb_adapter *a)
{
	return vlb_kdev_virtio_index(&a->kdev);
}

/* vlb_kdev_wait_sysfs's serve() */
static int serve_for_wait(void *ctx, int ms)
{
	return serve_once(ctx, ms);
}

VLB_EXPORT int vlb_adapter_wait_sysfs(struct vlb_adapter *a, const char *pattern,
				      char *name, size_t len, int timeout_ms)
{
	int rc = vlb_kdev_wait_sysfs(&a->kdev, pattern, name, len, timeout_ms,
				     serve_for_wait, a);

	/* The device went with a failure: say which */
	return rc < 0 && rc != -ETIMEDOUT && rc != -EINTR && a->error ? a->error : rc;
}

VLB_EXPORT uint32_t vlb_adapter_device_id(struct vlb_adapter *a)
{
	return a->kdev.device_id;
}

VLB_EXPORT unsigned int vlb_adapter_num_queues(struct vlb_adapter *a)
{
	return a->num_queues;
}

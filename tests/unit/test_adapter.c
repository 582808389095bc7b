// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * lib/adapter.c, stage 1, without the kernel: fake_backend, a thread on a
 * listening unix socket, answers the adapter's questions as the test's
 * profile says, and records what it was asked.  The module's node is
 * pointed at a path that does not exist, so a negotiation that succeeds
 * ends at "cannot open" (-ENOENT) right after stage 1; one that fails, fails
 * before.  Also the type names.  (The kernel tests run the whole adapter
 * with real back-ends.)
 *
 * Reconnect: an adapter built here around a fake kernel device (an
 * anonymous area; the two ioctls resume uses are wrapped with the linker's
 * --wrap, see meson.build) is resumed against fake_backend as if its first
 * back-end had gone: what the new one is asked, and in which order.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <vloopback/adapter.h>

#include "adapter_priv.h"
#include "adapter_types.h"
#include "log_capture.h"
#include "transport.h"
#include "vhost_user.h"
#include "vhu_peer.h"

#define MAX_SEEN	32

/* What fake_backend offers */
struct profile {
	uint64_t features;
	uint64_t protocol;
	uint64_t queue_num;
	unsigned int delay_ms;	/* before each answer: a slow back-end */
	uint32_t refuse;	/* a request whose REPLY_ACK says failed */
};

struct fake_backend {
	struct profile profile;
	int listen_fd;
	pthread_t thread;
	/* what it was asked, in order */
	struct vhu_msg seen[MAX_SEEN];
	unsigned int seen_fds[MAX_SEEN];
	int n_seen;
};

struct fixture {
	char dir[64];
	char path[128];
	struct fake_backend fake;
	struct log_capture log;
};

/* An independent reader for the adapter's requests; fds are counted and closed */
static bool fake_read(int sock, struct vhu_msg *m, unsigned int *nfds)
{
	int fds[VHU_MAX_FDS];
	unsigned int i;
	bool ok = peer_recv(sock, m, fds, nfds);

	for (i = 0; i < *nfds; i++)
		close(fds[i]);
	return ok;
}

static void fake_reply(int sock, const struct vhu_msg *req, const void *payload,
		       uint32_t size)
{
	char buf[sizeof(struct vhu_msg)];
	struct vhu_hdr h = { req->hdr.request, VHU_VERSION | VHU_F_REPLY, size };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, size);
	/* the adapter may have hung up meanwhile: no SIGPIPE */
	if (send(sock, buf, sizeof(h) + size, MSG_NOSIGNAL) < 0)
		return;
}

static void fake_answer(struct fake_backend *f, int sock, const struct vhu_msg *m)
{
	uint64_t zero = 0, failed = 1;
	struct vhu_msg r = *m;

	if (f->profile.delay_ms)
		usleep(f->profile.delay_ms * 1000);
	switch (m->hdr.request) {
	case VHU_GET_FEATURES:
		fake_reply(sock, m, &f->profile.features, 8);
		break;
	case VHU_GET_PROTOCOL_FEATURES:
		fake_reply(sock, m, &f->profile.protocol, 8);
		break;
	case VHU_GET_QUEUE_NUM:
		fake_reply(sock, m, &f->profile.queue_num, 8);
		break;
	case VHU_GET_CONFIG:
		memset(r.u.config.data, 0x5a, sizeof(r.u.config.data));
		fake_reply(sock, m, &r.u, m->hdr.size);
		break;
	default:
		if (m->hdr.flags & VHU_F_NEED_REPLY)
			fake_reply(sock, m, m->hdr.request == f->profile.refuse ?
				   &failed : &zero, 8);
	}
}

static void *fake_backend(void *arg)
{
	struct fake_backend *f = arg;
	struct vhu_msg m;
	unsigned int nfds;
	int sock = accept(f->listen_fd, NULL, NULL);

	while (sock >= 0 && f->n_seen < MAX_SEEN && fake_read(sock, &m, &nfds)) {
		f->seen[f->n_seen] = m;
		f->seen_fds[f->n_seen++] = nfds;
		fake_answer(f, sock, &m);
	}
	if (sock >= 0)
		close(sock);
	return NULL;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!fx)
		return -1;
	strcpy(fx->dir, "/tmp/vlb-test-adapter-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/backend.sock", fx->dir);
	strcpy(sa.sun_path, fx->path);
	fx->fake.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind(fx->fake.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fx->fake.listen_fd, 1) < 0)
		return -1;
	/* Stage 1 succeeds into "cannot open the module's node" */
	setenv("VLB_DEVICE_NODE", "/nonexistent/virtio-loopback", 1);
	capture_start(&fx->log);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	capture_stop();
	close(fx->fake.listen_fd);
	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* vlb_adapter_create for device id against fake_backend with profile p */
static int create_with(struct fixture *fx, const struct profile *p,
		       uint32_t id, const char *tag)
{
	struct vlb_adapter_config cfg = {
		.size = sizeof(cfg),
		.device_id = id,
		.socket_path = fx->path,
		.tag = tag,
		.timeout_ms = 2000,
	};
	struct vlb_adapter *a = NULL;
	int rc;

	fx->fake.profile = *p;
	assert_int_equal(pthread_create(&fx->fake.thread, NULL, fake_backend, &fx->fake), 0);
	rc = vlb_adapter_create(&cfg, &a);
	pthread_join(fx->fake.thread, NULL);	/* ends when the adapter hangs up */
	assert_null(a);
	return rc;
}

/* The first request of that type fake_backend saw, or NULL */
static const struct vhu_msg *asked(struct fixture *fx, uint32_t request, int *index)
{
	int i;

	for (i = 0; i < fx->fake.n_seen; i++)
		if (fx->fake.seen[i].hdr.request == request) {
			if (index)
				*index = i;
			return &fx->fake.seen[i];
		}
	return NULL;
}

static void assert_logged(struct fixture *fx, const char *part)
{
	assert_true(fx->log.count > 0);
	if (!strstr(fx->log.msg[0], part))
		fail_msg("log says \"%s\", expected it to mention \"%s\"",
			 fx->log.msg[0], part);
}

#define VERSION_1	(1ULL << 32)
#define PROTOCOL	(1ULL << VHU_F_PROTOCOL_FEATURES)
#define PF(bit)		(1ULL << (bit))

static void test_type_names_and_numbers(void **state)
{
	(void)state;
	assert_int_equal(vlb_adapter_type_id("blk"), 2);
	assert_int_equal(vlb_adapter_type_id("fs"), 26);
	assert_int_equal(vlb_adapter_type_id("net"), 1);
	assert_int_equal(vlb_adapter_type_id("9p"), 9);
	assert_int_equal(vlb_adapter_type_id("gpio"), 41);
	assert_int_equal(vlb_adapter_type_id("42"), 42);
	assert_int_equal(vlb_adapter_type_id("63"), 63);
	assert_int_equal(vlb_adapter_type_id("0"), -EINVAL);
	assert_int_equal(vlb_adapter_type_id("64"), -EINVAL);
	assert_int_equal(vlb_adapter_type_id("-2"), -EINVAL);
	assert_int_equal(vlb_adapter_type_id("2x"), -EINVAL);
	assert_int_equal(vlb_adapter_type_id(""), -EINVAL);
	assert_int_equal(vlb_adapter_type_id("disk"), -EINVAL);
	assert_string_equal(vlb_adapter_type_name(26), "fs");
	assert_null(vlb_adapter_type_name(42));
}

/* qemu-storage-daemon's size_max of 0 would make the driver's segments 4 KiB */
static void test_blk_size_max_of_zero_is_not_offered(void **state)
{
	const struct vlb_type *blk = vlb_type_get(2);
	struct vlb_type_setup s = { .features = VERSION_1 | (1ULL << 1),
				    .num_queues = 1, .config_size = 60,
				    .config_from_backend = true };

	(void)state;
	assert_int_equal(blk->finish(&s), 0);
	assert_int_equal(s.features, VERSION_1);
	s.features = VERSION_1 | (1ULL << 1);
	s.config[9] = 0x10;	/* 4 KiB: the back-end's limit stands */
	assert_int_equal(blk->finish(&s), 0);
	assert_int_equal(s.features, VERSION_1 | (1ULL << 1));
}

static void test_missing_socket_says_start_the_backend(void **state)
{
	struct fixture *fx = *state;
	struct vlb_adapter_config cfg = {
		.size = sizeof(cfg), .device_id = 2, .socket_path = "/nonexistent/sock",
	};
	struct vlb_adapter *a = NULL;

	assert_int_equal(vlb_adapter_create(&cfg, &a), -ENOENT);
	assert_logged(fx, "is the back-end running?");
}

static void test_legacy_backend_is_refused(void **state)
{
	struct fixture *fx = *state;
	struct profile p = { .features = PROTOCOL };

	assert_int_equal(create_with(fx, &p, 4, NULL), -ENOTSUP);
	assert_logged(fx, "VIRTIO_F_VERSION_1");
}

static void test_blk_needs_the_backends_config(void **state)
{
	struct fixture *fx = *state;
	struct profile p = { .features = VERSION_1 | PROTOCOL,
			     .protocol = PF(VHU_PROTOCOL_F_REPLY_ACK) };

	assert_int_equal(create_with(fx, &p, 2, NULL), -ENOTSUP);
	assert_logged(fx, "does not serve config space");
	assert_null(asked(fx, VHU_GET_CONFIG, NULL));
}

static void test_fs_without_config_needs_a_tag(void **state)
{
	struct fixture *fx = *state;
	struct profile p = { .features = VERSION_1 };

	assert_int_equal(create_with(fx, &p, 26, NULL), -EINVAL);
	assert_logged(fx, "--tag");
}

static void test_fs_tag_longer_than_36_bytes_is_refused(void **state)
{
	struct fixture *fx = *state;
	struct profile p = { .features = VERSION_1 };

	assert_int_equal(create_with(fx, &p, 26, "a-tag-that-is-much-longer-than-36-bytes"), -EINVAL);
	assert_logged(fx, "1 to 36 bytes");
}

static void test_negotiation_takes_what_both_sides_have(void **state)
{
	struct fixture *fx = *state;
	struct profile p = { .features = VERSION_1 | PROTOCOL,
			     .protocol = 0xffff, .queue_num = 4 };
	const struct vhu_msg *m;
	int i_set = -1, i_req = -1, i_cfg = -1;

	/* Stage 1 passed: the failure is the missing module */
	assert_int_equal(create_with(fx, &p, 2, NULL), -ENOENT);
	assert_logged(fx, "cannot open /nonexistent/virtio-loopback");

	m = asked(fx, VHU_SET_PROTOCOL_FEATURES, &i_set);
	assert_non_null(m);
	assert_int_equal(m->u.u64, PF(VHU_PROTOCOL_F_MQ) | PF(VHU_PROTOCOL_F_REPLY_ACK) |
				   PF(VHU_PROTOCOL_F_BACKEND_REQ) | PF(VHU_PROTOCOL_F_CONFIG));
	/* REPLY_ACK applies only after SET_PROTOCOL_FEATURES */
	assert_false(m->hdr.flags & VHU_F_NEED_REPLY);

	m = asked(fx, VHU_SET_BACKEND_REQ_FD, &i_req);
	assert_non_null(m);
	assert_true(i_req > i_set);
	assert_int_equal(fx->fake.seen_fds[i_req], 1);
	assert_true(m->hdr.flags & VHU_F_NEED_REPLY);

	assert_non_null(asked(fx, VHU_GET_QUEUE_NUM, NULL));
	m = asked(fx, VHU_GET_CONFIG, &i_cfg);
	assert_non_null(m);
	assert_int_equal(m->hdr.size, VHU_CONFIG_HDR_SIZE + 60);	/* virtio-blk's */
	assert_int_equal(m->u.config.offset, 0);
	assert_int_equal(m->u.config.size, 60);
	/* Nothing of stage 3 before the driver asked for it */
	assert_null(asked(fx, VHU_SET_OWNER, NULL));
	assert_null(asked(fx, VHU_SET_FEATURES, NULL));
}

static void test_backend_without_protocol_features_gets_none(void **state)
{
	struct fixture *fx = *state;
	struct profile p = { .features = VERSION_1 };

	assert_int_equal(create_with(fx, &p, 4, NULL), -ENOENT);
	assert_int_equal(fx->fake.n_seen, 1);	/* GET_FEATURES, nothing else */
	assert_int_equal(fx->fake.seen[0].hdr.request, VHU_GET_FEATURES);
}

static void test_backend_with_no_queue_is_refused(void **state)
{
	struct fixture *fx = *state;
	struct profile p = { .features = VERSION_1 | PROTOCOL,
			     .protocol = PF(VHU_PROTOCOL_F_MQ), .queue_num = 0 };

	assert_int_equal(create_with(fx, &p, 4, NULL), -EPROTO);
	assert_logged(fx, "serves no queue");
}

static void test_reserved_fields_must_be_zero(void **state)
{
	struct vlb_adapter_config cfg = {
		.size = sizeof(cfg), .device_id = 2, .socket_path = "/x",
		.reserved = { [3] = 1 },
	};
	struct vlb_adapter *a = NULL;

	(void)state;
	assert_int_equal(vlb_adapter_create(&cfg, &a), -EINVAL);
	cfg.reserved[3] = 0;
	cfg.size = 8;		/* smaller than 0.1's: never valid */
	assert_int_equal(vlb_adapter_create(&cfg, &a), -EINVAL);
}

/* A newer program's larger config: fine while what we do not know is 0 */
static void test_larger_config_needs_a_zero_tail(void **state)
{
	struct fixture *fx = *state;
	struct {
		struct vlb_adapter_config cfg;
		uint64_t newer;
	} big = { .cfg = { .size = sizeof(big), .device_id = 2,
			   .socket_path = "/nonexistent/backend.sock" },
		  .newer = 1 };
	struct vlb_adapter *a = NULL;

	(void)fx;
	assert_int_equal(vlb_adapter_create(&big.cfg, &a), -E2BIG);
	big.newer = 0;
	assert_int_equal(vlb_adapter_create(&big.cfg, &a), -ENOENT);
	assert_null(a);
}

/* ---- reconnect: the kernel side faked ---- */

#define AREA_SIZE	(1 << 20)
#define RING_NUM	64

static int restarts;		/* VLB_IOC_RESTART_QUEUES calls */
static int restart_seen;	/* fake_backend's n_seen at that moment */
static struct fake_backend *restart_fake;

int __wrap_vlb_tp_restart_queues(int dev);
int __wrap_vlb_tp_restart_queues(int dev)
{
	(void)dev;
	restarts++;
	restart_seen = restart_fake ? restart_fake->n_seen : -1;
	return 0;
}

/* Queue i's ring at 64 KiB * (i + 1) into the area, as the module lays them */
int __wrap_vlb_tp_get_vq(int dev, unsigned int index, struct vlb_vq_info *out);
int __wrap_vlb_tp_get_vq(int dev, unsigned int index, struct vlb_vq_info *out)
{
	uint64_t base = VLB_SHM_IOVA_BASE + 0x10000ULL * (index + 1);

	(void)dev;
	*out = (struct vlb_vq_info){
		.index = index, .num = RING_NUM, .desc = base,
		.avail = base + 16 * RING_NUM, .used = base + 0x2000,
	};
	return 0;
}

#define BLK_F_FLUSH	(1ULL << 9)
#define BLK_F_SEG_MAX	(1ULL << 2)
#define BLK_F_MQ	(1ULL << 12)

/*
 * An adapter that served a virtio-blk device with two queues, whose driver
 * negotiated VERSION_1 | FLUSH | MQ and reached DRIVER_OK, and whose back-end
 * just went: connected again to fake_backend (profile p).
 */
static struct vlb_adapter *adapter_on(struct fake_backend *fake,
				      const char *path, const struct profile *p)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vlb_adapter *a = calloc(1, sizeof(*a));
	unsigned int i;

	assert_non_null(a);
	a->socket_path = (char *)path;
	a->timeout_ms = 2000;
	a->relay_ms = 5000;
	a->req_fd = a->epfd = a->stop_fd = a->retry_fd = a->deadline_fd = -1;
	vlb_kdev_init(&a->kdev, 2);
	a->kdev.shm_size = AREA_SIZE;
	a->kdev.mem = mmap(NULL, AREA_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(a->kdev.mem != MAP_FAILED);
	a->kdev.shm_fd = eventfd(0, EFD_CLOEXEC);	/* any fd to pass */
	a->num_queues = 2;
	for (i = 0; i < 2; i++) {
		a->kick[i] = eventfd(0, EFD_CLOEXEC);
		a->call[i] = eventfd(0, EFD_CLOEXEC);
	}
	a->offered = VERSION_1 | BLK_F_FLUSH | BLK_F_SEG_MAX | BLK_F_MQ;
	a->config_size = 60;

	fake->profile = *p;
	assert_int_equal(pthread_create(&fake->thread, NULL, fake_backend, fake), 0);
	strcpy(sa.sun_path, path);
	a->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(a->sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return a;
}

/*
 * An adapter that served a virtio-blk device with two queues, whose driver
 * negotiated VERSION_1 | FLUSH | MQ and reached DRIVER_OK, and whose back-end
 * just went: connected again to fake_backend (profile p).
 */
static struct vlb_adapter *gone_adapter(struct fixture *fx,
					const struct profile *p)
{
	struct vlb_adapter *a;

	restarts = 0;
	restart_seen = -1;
	restart_fake = &fx->fake;
	a = adapter_on(&fx->fake, fx->path, p);
	a->acked = VERSION_1 | BLK_F_FLUSH | BLK_F_MQ;
	a->features_set = true;
	a->driver_ok = true;
	a->reconnect_s = 30;
	return a;
}

static void free_adapter_of(struct fake_backend *fake, struct vlb_adapter *a)
{
	unsigned int i;

	if (a->sock >= 0)
		close(a->sock);
	pthread_join(fake->thread, NULL);	/* ends when we hang up */
	restart_fake = NULL;
	vlb_plan_clear(&a->plan);
	if (a->kdev.fd >= 0)
		close(a->kdev.fd);
	if (a->epfd >= 0)
		close(a->epfd);
	if (a->stop_fd >= 0)
		close(a->stop_fd);
	if (a->deadline_fd >= 0)
		close(a->deadline_fd);
	if (a->retry_fd >= 0)
		close(a->retry_fd);
	if (a->req_fd >= 0)
		close(a->req_fd);
	for (i = 0; i < 2; i++) {
		close(a->kick[i]);
		close(a->call[i]);
	}
	close(a->kdev.shm_fd);
	munmap(a->kdev.mem, AREA_SIZE);
	pthread_mutex_destroy(&a->kdev.fd_lock);
	free(a);
}

static void free_adapter(struct fixture *fx, struct vlb_adapter *a)
{
	free_adapter_of(&fx->fake, a);
}

/* The i-th request from `from` on, which must be `request` */
static const struct vhu_msg *expect(struct fixture *fx, int *at, uint32_t request)
{
	const struct vhu_msg *m;

	if (*at >= fx->fake.n_seen)
		fail_msg("request %d: expected %u, the back-end saw only %d",
			 *at, request, fx->fake.n_seen);
	m = &fx->fake.seen[*at];
	if (m->hdr.request != request)
		fail_msg("request %d: expected %u, got %u", *at, request,
			 m->hdr.request);
	(*at)++;
	return m;
}

static void test_reconnect_replays_setup_after_restarting_the_rings(void **state)
{
	struct fixture *fx = *state;
	struct profile p = { .features = VERSION_1 | PROTOCOL | BLK_F_MQ | BLK_F_FLUSH |
					 BLK_F_SEG_MAX,
			     .protocol = PF(VHU_PROTOCOL_F_MQ) |
					 PF(VHU_PROTOCOL_F_REPLY_ACK) |
					 PF(VHU_PROTOCOL_F_CONFIG),
			     .queue_num = 4 };
	struct vlb_adapter *a = gone_adapter(fx, &p);
	const struct vhu_msg *m;
	unsigned int q;
	int at, i_owner = -1;

	if (vlb_adapter_resume(a) != 0)
		fail_msg("resume: %s", fx->log.count ? fx->log.msg[0] : "(no log)");

	/* Stage 1 again, then the kernel's rings restarted, then the set-up */
	assert_int_equal(restarts, 1);
	assert_non_null(asked(fx, VHU_GET_QUEUE_NUM, NULL));
	assert_non_null(asked(fx, VHU_GET_CONFIG, NULL));
	assert_non_null(asked(fx, VHU_SET_OWNER, &i_owner));
	assert_int_equal(restart_seen, i_owner);
	at = i_owner;
	expect(fx, &at, VHU_SET_OWNER);
	m = expect(fx, &at, VHU_SET_FEATURES);
	/* what the driver negotiated, in vhost-user's terms */
	assert_int_equal(m->u.u64, VERSION_1 | BLK_F_FLUSH | BLK_F_MQ | PROTOCOL);
	m = expect(fx, &at, VHU_SET_MEM_TABLE);
	assert_int_equal(fx->fake.seen_fds[at - 1], 1);
	assert_int_equal(m->u.memory.nregions, 1);
	assert_int_equal(m->u.memory.regions[0].guest_addr, VLB_SHM_IOVA_BASE);
	assert_int_equal(m->u.memory.regions[0].size, AREA_SIZE);
	for (q = 0; q < 2; q++) {
		m = expect(fx, &at, VHU_SET_VRING_NUM);
		assert_int_equal(m->u.state.index, q);
		assert_int_equal(m->u.state.num, RING_NUM);
		m = expect(fx, &at, VHU_SET_VRING_ADDR);
		assert_int_equal(m->u.addr.index, q);
		assert_int_equal(m->u.addr.desc,
				 (uintptr_t)a->kdev.mem + 0x10000ULL * (q + 1));
		/* the module's ring starts again at 0 with what is owed */
		m = expect(fx, &at, VHU_SET_VRING_BASE);
		assert_int_equal(m->u.state.index, q);
		assert_int_equal(m->u.state.num, 0);
		m = expect(fx, &at, VHU_SET_VRING_CALL);
		assert_int_equal(fx->fake.seen_fds[at - 1], 1);
		m = expect(fx, &at, VHU_SET_VRING_KICK);
		assert_int_equal(fx->fake.seen_fds[at - 1], 1);
		assert_true(a->started[q]);
	}
	for (q = 0; q < 2; q++) {
		m = expect(fx, &at, VHU_SET_VRING_ENABLE);
		assert_int_equal(m->u.state.index, q);
		assert_int_equal(m->u.state.num, 1);
	}
	assert_int_equal(at, fx->fake.n_seen);	/* nothing else */
	free_adapter(fx, a);
}

/* Negotiated before DRIVER_OK: owner and features only, no ring restart */
static void test_reconnect_before_driver_ok_replays_features_only(void **state)
{
	struct fixture *fx = *state;
	struct profile p;
	struct vlb_adapter *a;
	int at = -1;

	p = (struct profile){ .features = VERSION_1 | PROTOCOL | BLK_F_MQ | BLK_F_FLUSH |
					  BLK_F_SEG_MAX,
			      .protocol = PF(VHU_PROTOCOL_F_CONFIG) };
	a = gone_adapter(fx, &p);
	a->driver_ok = false;
	assert_int_equal(vlb_adapter_resume(a), 0);
	assert_int_equal(restarts, 0);
	assert_non_null(asked(fx, VHU_SET_OWNER, &at));
	at++;
	expect(fx, &at, VHU_SET_FEATURES);
	expect(fx, &at, VHU_GET_FEATURES);	/* no REPLY_ACK: the sync */
	assert_int_equal(at, fx->fake.n_seen);
	assert_null(asked(fx, VHU_SET_MEM_TABLE, NULL));
	free_adapter(fx, a);
}

static void test_reconnect_refuses_a_backend_with_fewer_features(void **state)
{
	struct fixture *fx = *state;
	/* the new back-end lost FLUSH, which the driver negotiated */
	struct profile p = { .features = VERSION_1 | PROTOCOL | BLK_F_MQ | BLK_F_SEG_MAX,
			     .protocol = PF(VHU_PROTOCOL_F_MQ) |
					 PF(VHU_PROTOCOL_F_REPLY_ACK) |
					 PF(VHU_PROTOCOL_F_CONFIG),
			     .queue_num = 4 };
	struct vlb_adapter *a = gone_adapter(fx, &p);

	assert_int_equal(vlb_adapter_resume(a), -ENOTSUP);
	assert_logged(fx, "no longer offers features 0x200 that were negotiated");
	/* refused before anything changed: rings untouched, no set-up sent */
	assert_int_equal(restarts, 0);
	assert_null(asked(fx, VHU_SET_OWNER, NULL));
	assert_null(asked(fx, VHU_SET_FEATURES, NULL));
	assert_null(asked(fx, VHU_SET_MEM_TABLE, NULL));
	free_adapter(fx, a);
}

/* SEG_MAX was offered but not negotiated: a back-end without it will do */
static void test_reconnect_accepts_fewer_features_than_offered(void **state)
{
	struct fixture *fx = *state;
	struct profile p = { .features = VERSION_1 | PROTOCOL | BLK_F_MQ | BLK_F_FLUSH,
			     .protocol = PF(VHU_PROTOCOL_F_REPLY_ACK) |
					 PF(VHU_PROTOCOL_F_CONFIG) |
					 PF(VHU_PROTOCOL_F_MQ),
			     .queue_num = 2 };
	struct vlb_adapter *a = gone_adapter(fx, &p);

	assert_int_equal(vlb_adapter_resume(a), 0);
	assert_int_equal(restarts, 1);
	free_adapter(fx, a);
}

static void test_reconnect_refuses_a_backend_with_fewer_queues(void **state)
{
	struct fixture *fx = *state;
	struct profile p = { .features = VERSION_1 | PROTOCOL | BLK_F_MQ | BLK_F_FLUSH,
			     .protocol = PF(VHU_PROTOCOL_F_MQ) |
					 PF(VHU_PROTOCOL_F_CONFIG),
			     .queue_num = 1 };
	struct vlb_adapter *a = gone_adapter(fx, &p);

	assert_int_equal(vlb_adapter_resume(a), -ENOTSUP);
	assert_logged(fx, "serves 1 queues, the device uses 2");
	assert_int_equal(restarts, 0);
	free_adapter(fx, a);
}

static void test_reconnect_config_field_rules(void **state)
{
	struct vlb_adapter_config cfg = {
		.size = sizeof(cfg), .device_id = 2,
		.socket_path = "/nonexistent/backend.sock",
		.reconnect_s = 30, .reserved1 = 1,
	};
	struct vlb_adapter *a = NULL;

	(void)state;
	assert_int_equal(vlb_adapter_create(&cfg, &a), -EINVAL);
	cfg.reserved1 = 0;
	assert_int_equal(vlb_adapter_create(&cfg, &a), -ENOENT);
	/* 0.1's size ends before reconnect_s: accepted, not read */
	cfg.size = offsetof(struct vlb_adapter_config, reconnect_s);
	cfg.reserved1 = 1;
	assert_int_equal(vlb_adapter_create(&cfg, &a), -ENOENT);
	assert_null(a);
}

/* ---- the relay: plans run from one event loop, the kernel faked ---- */

#define REPLY_ACK_BLK	{ .features = VERSION_1 | PROTOCOL | BLK_F_MQ | BLK_F_FLUSH, \
			  .protocol = PF(VHU_PROTOCOL_F_REPLY_ACK) }

/* A listening socket at path, for a second fake_backend */
static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	return fd;
}

/*
 * An adapter serving a fresh device (REPLY_ACK negotiated) in its own
 * epoll fd; the kernel's device fd is a seqpacket socket whose other end,
 * *kern, plays the module: messages in, replies out.
 */
static struct vlb_adapter *serving_adapter(struct fake_backend *fake,
					   const char *path,
					   const struct profile *p, int *kern)
{
	struct vlb_adapter *a = adapter_on(fake, path, p);
	int sp[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
					     SOCK_CLOEXEC, 0, sp), 0);
	a->kdev.fd = sp[0];
	*kern = sp[1];
	a->protocol = p->protocol;
	a->has_protocol = true;
	assert_int_equal(vlb_adapter_setup_polling(a), 0);
	return a;
}

static void kernel_says(int kern, uint32_t type, uint64_t seq)
{
	struct vlb_msg m = { .type = type, .flags = VLB_MSG_F_REPLY, .seq = seq };

	if (type == VLB_MSG_FEATURES)
		m.u.features = VERSION_1 | BLK_F_FLUSH;
	assert_int_equal(send(kern, &m, sizeof(m), 0), sizeof(m));
}

/* The adapter's reply to the fake kernel, if one came: true with *r */
static bool kernel_heard(int kern, struct vlb_reply *r)
{
	return recv(kern, r, sizeof(*r), MSG_DONTWAIT) == sizeof(*r);
}

/* Dispatch what one epoll fd over adapters says; the first failure, or 0 */
static int serve_loop_once(int ep, struct vlb_adapter **as, int timeout_ms)
{
	struct epoll_event ev[2];
	int i, n, rc;

	n = epoll_wait(ep, ev, 2, timeout_ms);
	for (i = 0; i < n; i++) {
		rc = vlb_adapter_dispatch(as[ev[i].data.u32]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void test_slow_backend_does_not_hold_up_another_device(void **state)
{
	struct fixture *fx = *state;
	struct profile fast = REPLY_ACK_BLK, slow = REPLY_ACK_BLK;
	struct fake_backend slow_fake = { .listen_fd = -1 };
	struct vlb_adapter *as[2];
	struct vlb_reply r;
	char slow_path[160];
	int kern[2], ep, i, rounds = 0, fast_round = -1, slow_round = -1;
	int64_t sent;

	snprintf(slow_path, sizeof(slow_path), "%s/slow.sock", fx->dir);
	slow_fake.listen_fd = listen_at(slow_path);
	slow.delay_ms = 1000;	/* each answer: SET_OWNER, SET_FEATURES */
	as[0] = serving_adapter(&slow_fake, slow_path, &slow, &kern[0]);
	as[1] = serving_adapter(&fx->fake, fx->path, &fast, &kern[1]);
	ep = epoll_create1(EPOLL_CLOEXEC);
	for (i = 0; i < 2; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, vlb_adapter_fd(as[i]), &ev), 0);
	}

	/* The slow one's message first: a blocking relay would serve it first */
	kernel_says(kern[0], VLB_MSG_FEATURES, 7);
	kernel_says(kern[1], VLB_MSG_FEATURES, 9);
	sent = vhu_now_ms();
	while ((fast_round < 0 || slow_round < 0) && rounds < 200) {
		assert_int_equal(serve_loop_once(ep, as, 100), 0);
		rounds++;
		if (fast_round < 0 && kernel_heard(kern[1], &r)) {
			assert_int_equal(r.seq, 9);
			assert_int_equal(r.result, 0);
			fast_round = rounds;
			/* before the slow one's 2 s, even on a loaded host */
			assert_true(vhu_now_ms() - sent < 2000);
		}
		if (slow_round < 0 && kernel_heard(kern[0], &r)) {
			assert_int_equal(r.seq, 7);
			assert_int_equal(r.result, 0);
			slow_round = rounds;
		}
	}
	assert_true(fast_round > 0);
	assert_true(slow_round > fast_round);	/* answered in between */
	/* the slow device got its whole relay, in order */
	assert_int_equal(slow_fake.n_seen, 2);
	assert_int_equal(slow_fake.seen[0].hdr.request, VHU_SET_OWNER);
	assert_int_equal(slow_fake.seen[1].hdr.request, VHU_SET_FEATURES);
	assert_int_equal(fx->log.count, 0);

	close(ep);
	close(kern[0]);
	close(kern[1]);
	free_adapter_of(&slow_fake, as[0]);
	free_adapter(fx, as[1]);
	close(slow_fake.listen_fd);
	unlink(slow_path);
}

/* Wait for the adapter's reply to the fake kernel, serving it meanwhile */
static int served_until_reply(struct vlb_adapter *a, int kern,
			      struct vlb_reply *r)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), rc = 0, n;
	struct epoll_event ev = { .events = EPOLLIN };

	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, vlb_adapter_fd(a), &ev), 0);
	for (n = 0; n < 100 && rc >= 0 && !kernel_heard(kern, r); n++) {
		epoll_wait(ep, &ev, 1, 100);
		rc = vlb_adapter_dispatch(a);
	}
	close(ep);
	return rc < 0 ? rc : (n < 100 ? 0 : -ETIMEDOUT);
}

static void test_backend_refusal_fails_the_step_not_the_device(void **state)
{
	struct fixture *fx = *state;
	struct profile p = REPLY_ACK_BLK;
	struct vlb_adapter *a;
	struct vlb_reply r;
	int kern;

	p.refuse = VHU_SET_FEATURES;
	a = serving_adapter(&fx->fake, fx->path, &p, &kern);
	kernel_says(kern, VLB_MSG_FEATURES, 3);
	assert_int_equal(served_until_reply(a, kern, &r), 0);
	assert_int_equal(r.seq, 3);
	assert_int_equal(r.result, -EREMOTEIO);	/* the driver's step fails */
	assert_int_equal(a->error, 0);
	assert_true(a->kdev.fd >= 0);		/* the device stays */
	assert_non_null(strstr(fx->log.msg[fx->log.count - 1],
			       "the driver's step fails, the device stays"));
	/* and it still serves: a reset is answered */
	kernel_says(kern, VLB_MSG_RESET, 4);
	assert_int_equal(served_until_reply(a, kern, &r), 0);
	assert_int_equal(r.seq, 4);
	assert_int_equal(r.result, 0);
	close(kern);
	free_adapter(fx, a);
}

/*
 * An adapter whose back-end answers each step after 600 ms, with 200 ms for
 * the whole of the driver's features (SET_OWNER, SET_FEATURES), just sent
 * as message seq; reconnect on or off.
 */
static struct vlb_adapter *stuck_adapter(struct fixture *fx, int *kern,
					 uint64_t seq, bool reconnect)
{
	struct profile p = REPLY_ACK_BLK;
	struct vlb_adapter *a;

	p.delay_ms = 600;
	a = serving_adapter(&fx->fake, fx->path, &p, kern);
	a->relay_ms = 200;
	if (reconnect) {
		a->reconnect_s = 30;
		a->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	}
	kernel_says(*kern, VLB_MSG_FEATURES, seq);
	return a;
}

static void test_missed_deadline_fails_the_device(void **state)
{
	struct fixture *fx = *state;
	struct vlb_reply r;
	int kern;
	struct vlb_adapter *a = stuck_adapter(fx, &kern, 5, false);

	assert_int_equal(served_until_reply(a, kern, &r), -ETIMEDOUT);
	assert_int_equal(a->error, -ETIMEDOUT);
	assert_int_equal(a->kdev.fd, -1);	/* removed, not answered */
	assert_int_equal(recv(kern, &r, sizeof(r), MSG_DONTWAIT), 0);
	close(kern);
	free_adapter(fx, a);
}

/* With reconnect on, a stuck back-end is dropped and waited for instead */
static void test_missed_deadline_with_reconnect_keeps_the_device(void **state)
{
	struct fixture *fx = *state;
	struct vlb_reply r;
	int kern;
	struct vlb_adapter *a = stuck_adapter(fx, &kern, 6, true);

	assert_int_equal(served_until_reply(a, kern, &r), 0);
	assert_int_equal(r.seq, 6);
	assert_int_equal(r.result, 0);		/* replayed to the successor */
	assert_int_equal(vlb_adapter_reconnecting(a), 1);
	assert_true(a->features_set);
	assert_int_equal(a->error, 0);
	close(kern);
	free_adapter(fx, a);
}

/* Getters on another thread while the adapter fails: no stale fd, no crash */
struct getter_ctx {
	struct vlb_adapter *a;
	atomic_bool stop;
	int last_index;
};

static void *call_getters(void *arg)
{
	struct getter_ctx *c = arg;

	while (!atomic_load(&c->stop)) {
		c->last_index = vlb_adapter_virtio_index(c->a);
		(void)vlb_adapter_index(c->a);
		(void)vlb_adapter_reconnecting(c->a);
		(void)vlb_adapter_num_queues(c->a);
		(void)vlb_adapter_device_id(c->a);
		(void)vlb_adapter_fd(c->a);
	}
	return NULL;
}

static void test_getters_race_a_failure_safely(void **state)
{
	struct fixture *fx = *state;
	struct profile p = REPLY_ACK_BLK;
	struct getter_ctx c = { 0 };
	pthread_t tid;
	int kern;

	c.a = serving_adapter(&fx->fake, fx->path, &p, &kern);
	assert_int_equal(pthread_create(&tid, NULL, call_getters, &c), 0);
	usleep(20000);
	assert_int_equal(vlb_adapter_fail(c.a, -EPROTO), -EPROTO);
	usleep(20000);
	atomic_store(&c.stop, true);
	pthread_join(tid, NULL);
	assert_int_equal(c.last_index, -ENODEV);
	assert_int_equal(vlb_adapter_index(c.a), -ENODEV);
	assert_int_equal(vlb_adapter_num_queues(c.a), 2);
	assert_int_equal(vlb_adapter_dispatch(c.a), -EPROTO);
	close(kern);
	free_adapter(fx, c.a);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_type_names_and_numbers),
		T(test_blk_size_max_of_zero_is_not_offered),
		T(test_missing_socket_says_start_the_backend),
		T(test_legacy_backend_is_refused),
		T(test_blk_needs_the_backends_config),
		T(test_fs_without_config_needs_a_tag),
		T(test_fs_tag_longer_than_36_bytes_is_refused),
		T(test_negotiation_takes_what_both_sides_have),
		T(test_backend_without_protocol_features_gets_none),
		T(test_backend_with_no_queue_is_refused),
		T(test_reserved_fields_must_be_zero),
		T(test_larger_config_needs_a_zero_tail),
		T(test_reconnect_replays_setup_after_restarting_the_rings),
		T(test_reconnect_before_driver_ok_replays_features_only),
		T(test_reconnect_refuses_a_backend_with_fewer_features),
		T(test_reconnect_accepts_fewer_features_than_offered),
		T(test_reconnect_refuses_a_backend_with_fewer_queues),
		T(test_reconnect_config_field_rules),
		T(test_slow_backend_does_not_hold_up_another_device),
		T(test_backend_refusal_fails_the_step_not_the_device),
		T(test_missed_deadline_fails_the_device),
		T(test_missed_deadline_with_reconnect_keeps_the_device),
		T(test_getters_race_a_failure_safely),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

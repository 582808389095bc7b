// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * lib/adapter.c, stage 1, without the kernel: fake_backend, a thread on a
 * listening unix socket, answers the adapter's questions as the test's
 * profile says, and records what it was asked.  The module's node is
 * pointed at a path that does not exist, so a negotiation that succeeds
 * ends at "cannot open" (-ENOENT) right after stage 1; one that fails, fails
 * before.  Also the type names.  (The kernel tests run the whole adapter
 * with real back-ends.)
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include <vloopback/adapter.h>

#include "log_capture.h"
#include "vhost_user.h"
#include "vhu_peer.h"

#define MAX_SEEN	32

/* What fake_backend offers */
struct profile {
	uint64_t features;
	uint64_t protocol;
	uint64_t queue_num;
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
	if (write(sock, buf, sizeof(h) + size) < 0)
		return;
}

static void fake_answer(struct fake_backend *f, int sock, const struct vhu_msg *m)
{
	uint64_t zero = 0;
	struct vhu_msg r = *m;

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
			fake_reply(sock, m, &zero, 8);
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
	int i_set, i_req, i_cfg;

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

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_type_names_and_numbers),
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

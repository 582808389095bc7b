// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * lib/vhost_user.c against fake_backend: a thread on the other end of a
 * socketpair that reads one request and answers it the way the test says,
 * usually with a lie (wrong size, wrong request, fds nobody asked for,
 * silence).  Real back-ends cannot be made to misbehave on purpose, so
 * this is the one place a fake is used.  Each test checks the error the
 * front-end gets, that it came in bounded time, and that no fd leaked.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "log_capture.h"
#include "vhost_user.h"
#include "vhu_peer.h"

#define DEADLINE_MS	2000

/* What the fake back-end does with the request it read */
enum lie {
	HONEST,			/* the right reply */
	SHORT_PAYLOAD,		/* 4 bytes where 8 are due */
	WRONG_REQUEST,		/* answers another request type */
	NO_REPLY_FLAG,		/* the reply flag is missing */
	BAD_VERSION,		/* protocol version 2 */
	UNKNOWN_FLAG,		/* a flag bit nobody defined */
	HUGE_SIZE,		/* announces a 1 GiB payload */
	THREE_FDS,		/* an honest payload with 3 fds attached */
	MANY_FDS,		/* 20 fds: more than the control buffer holds */
	ACK_FAILED,		/* ack says 1: the request failed */
	EMPTY_CONFIG,		/* GET_CONFIG's "failed" reply */
	OTHER_VRING,		/* GET_VRING_BASE about another index */
	SILENT,			/* never answers */
	HANG_UP,		/* closes the socket */
	DRIP,			/* honest, one byte at a time */
};

struct fake_backend {
	int sock;
	enum lie lie;
	pthread_t thread;
	/* what it received */
	struct vhu_msg req;
	unsigned int nfds;
	uint64_t eventfd_value;	/* read from a received eventfd, if any */
};

struct fixture {
	int sock;		/* the front-end's end */
	struct fake_backend fake;
	int fds_before;
	struct log_capture log;
};

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* An independent reader for the request, not the code under test */
static void fake_read_request(struct fake_backend *f)
{
	int fds[VHU_MAX_FDS];
	unsigned int i;

	peer_recv(f->sock, &f->req, fds, &f->nfds);
	for (i = 0; i < f->nfds; i++) {
		eventfd_t v;

		if (eventfd_read(fds[i], &v) == 0)
			f->eventfd_value = v;
		close(fds[i]);
	}
}

static void fake_send(int sock, const void *buf, size_t len, const int *fds,
		      unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 32)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	sendmsg(sock, &mh, MSG_NOSIGNAL);
}

/* The honest reply to req: its payload echoed, with the answer filled in */
static void honest_reply(const struct vhu_msg *req, struct vhu_msg *r)
{
	*r = *req;
	r->hdr.flags = VHU_VERSION | VHU_F_REPLY;
	switch (req->hdr.request) {
	case VHU_GET_FEATURES:
		r->hdr.size = sizeof(uint64_t);
		r->u.u64 = 0x140000000ULL;
		break;
	case VHU_GET_VRING_BASE:
		r->u.state.num = 42;
		break;
	case VHU_GET_CONFIG:
		memset(r->u.config.data, 0xab, r->u.config.size);
		break;
	default:	/* an ack */
		r->hdr.size = sizeof(uint64_t);
		r->u.u64 = 0;
	}
}

/* The message as the wire has it: the header, then the payload right after */
static size_t wire(const struct vhu_msg *r, char *buf)
{
	size_t size = r->hdr.size < sizeof(r->u) ? r->hdr.size : sizeof(r->u);

	memcpy(buf, &r->hdr, sizeof(r->hdr));
	memcpy(buf + sizeof(r->hdr), &r->u, size);
	return sizeof(r->hdr) + size;
}

static void send_fds_with(int sock, const struct vhu_msg *r, unsigned int n)
{
	char buf[sizeof(*r)];
	size_t len = wire(r, buf);
	int fds[32];
	unsigned int i;

	for (i = 0; i < n; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	fake_send(sock, buf, len, fds, n);
	for (i = 0; i < n; i++)
		close(fds[i]);
}

static void lie(struct fake_backend *f, struct vhu_msg *r)
{
	char buf[sizeof(*r)];
	size_t len, i;

	switch (f->lie) {
	case SHORT_PAYLOAD:	r->hdr.size = 4; break;
	case WRONG_REQUEST:	r->hdr.request = VHU_GET_PROTOCOL_FEATURES; break;
	case NO_REPLY_FLAG:	r->hdr.flags = VHU_VERSION; break;
	case BAD_VERSION:	r->hdr.flags = 2 | VHU_F_REPLY; break;
	case UNKNOWN_FLAG:	r->hdr.flags |= 0x100; break;
	case HUGE_SIZE:		r->hdr.size = 1U << 30; break;
	case ACK_FAILED:	r->u.u64 = 1; break;
	case EMPTY_CONFIG:	r->hdr.size = 0; break;
	case OTHER_VRING:	r->u.state.index++; break;
	case THREE_FDS:		send_fds_with(f->sock, r, 3); return;
	case MANY_FDS:		send_fds_with(f->sock, r, 20); return;
	default:		break;
	}
	len = wire(r, buf);
	if (f->lie != DRIP) {
		fake_send(f->sock, buf, len, NULL, 0);
		return;
	}
	for (i = 0; i < len; i++) {
		fake_send(f->sock, buf + i, 1, NULL, 0);
		usleep(1000);
	}
}

static void *fake_backend(void *arg)
{
	struct fake_backend *f = arg;
	struct vhu_msg r;

	fake_read_request(f);
	switch (f->lie) {
	case SILENT:
		peer_read_all(f->sock, &r, 1);	/* until the front-end gives up */
		return NULL;
	case HANG_UP:
		shutdown(f->sock, SHUT_RDWR);
		return NULL;
	default:
		break;
	}
	if (!vhu_has_reply(f->req.hdr.request) &&
	    !(f->req.hdr.flags & VHU_F_NEED_REPLY))
		return NULL;	/* nothing is due */
	honest_reply(&f->req, &r);
	lie(f, &r);
	return NULL;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	int sv[2];

	if (!fx || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	fx->sock = sv[0];
	fx->fake.sock = sv[1];
	fx->fds_before = count_open_fds();
	capture_start(&fx->log);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	capture_stop();
	close(fx->sock);
	close(fx->fake.sock);
	free(fx);
	return 0;
}

static void start_fake(struct fixture *fx, enum lie l)
{
	fx->fake.lie = l;
	assert_int_equal(pthread_create(&fx->fake.thread, NULL, fake_backend,
					&fx->fake), 0);
}

/* Join the fake; the front-end must not have kept any fd it was sent */
static void stop_fake(struct fixture *fx)
{
	shutdown(fx->sock, SHUT_WR);	/* ends a SILENT fake's wait */
	pthread_join(fx->fake.thread, NULL);
	assert_int_equal(count_open_fds(), fx->fds_before);
}

/* One exchange with the fake telling lie l; the error code it gave */
static int call_with(struct fixture *fx, enum lie l, struct vhu_msg *req,
		     bool ack, struct vhu_msg *reply)
{
	int rc;

	start_fake(fx, l);
	rc = vhu_call(fx->sock, req, NULL, 0, ack, reply,
		      vhu_now_ms() + DEADLINE_MS);
	stop_fake(fx);
	return rc;
}

static int get_features_with(struct fixture *fx, enum lie l)
{
	struct vhu_msg req, reply;

	vhu_msg_init(&req, VHU_GET_FEATURES, 0);
	return call_with(fx, l, &req, false, &reply);
}

static void assert_logged(struct fixture *fx, const char *part)
{
	assert_true(fx->log.count > 0);
	if (!strstr(fx->log.msg[0], part))
		fail_msg("log says \"%s\", expected it to mention \"%s\"",
			 fx->log.msg[0], part);
}

static void test_honest_get_features_returns_its_value(void **state)
{
	struct fixture *fx = *state;
	struct vhu_msg req, reply;

	vhu_msg_init(&req, VHU_GET_FEATURES, 0);
	assert_int_equal(call_with(fx, HONEST, &req, false, &reply), 0);
	assert_int_equal(reply.u.u64, 0x140000000ULL);
	assert_int_equal(fx->log.count, 0);
}

static void test_reply_read_one_byte_at_a_time_is_whole(void **state)
{
	struct fixture *fx = *state;
	struct vhu_msg req, reply;

	vhu_msg_init(&req, VHU_GET_FEATURES, 0);
	assert_int_equal(call_with(fx, DRIP, &req, false, &reply), 0);
	assert_int_equal(reply.u.u64, 0x140000000ULL);
}

static void test_short_payload_is_a_protocol_error(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(get_features_with(fx, SHORT_PAYLOAD), -EPROTO);
	assert_logged(fx, "malformed reply to GET_FEATURES");
}

static void test_reply_to_another_request_is_refused(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(get_features_with(fx, WRONG_REQUEST), -EPROTO);
	assert_logged(fx, "answered GET_PROTOCOL_FEATURES");
}

static void test_reply_without_reply_flag_is_refused(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(get_features_with(fx, NO_REPLY_FLAG), -EPROTO);
	assert_logged(fx, "no REPLY flag");
}

static void test_other_protocol_version_is_refused(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(get_features_with(fx, BAD_VERSION), -EPROTO);
	assert_logged(fx, "version 2");
}

static void test_unknown_flag_is_refused(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(get_features_with(fx, UNKNOWN_FLAG), -EPROTO);
	assert_logged(fx, "unknown message flags 0x100");
}

static void test_huge_size_is_refused_before_reading_it(void **state)
{
	struct fixture *fx = *state;
	int64_t start = vhu_now_ms();

	assert_int_equal(get_features_with(fx, HUGE_SIZE), -EPROTO);
	assert_logged(fx, "1073741824-byte payload");
	assert_true(vhu_now_ms() - start < DEADLINE_MS);
}

static void test_unexpected_fds_are_refused_and_closed(void **state)
{
	struct fixture *fx = *state;

	/* stop_fake checks that all three were closed */
	assert_int_equal(get_features_with(fx, THREE_FDS), -EPROTO);
	assert_logged(fx, "more file descriptors than expected");
}

static void test_flood_of_fds_is_refused_and_closed(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(get_features_with(fx, MANY_FDS), -EPROTO);
	assert_logged(fx, "file descriptors than expected");
}

static void test_recv_keeps_expected_fds_and_refuses_extra(void **state)
{
	struct fixture *fx = *state;
	struct vhu_msg m;
	unsigned int n;
	int fds[VHU_MAX_FDS];

	/* A back-end request with two fds: one is allowed, so both go */
	m = (struct vhu_msg){ .hdr = { VHU_BACKEND_CONFIG_CHANGE_MSG, VHU_VERSION, 0 } };
	send_fds_with(fx->fake.sock, &m, 2);
	assert_int_equal(vhu_recv(fx->sock, &m, fds, 1, &n, vhu_now_ms() + DEADLINE_MS),
			 -EPROTO);
	assert_int_equal(n, 0);
	/* With room for both they are handed over */
	send_fds_with(fx->fake.sock, &m, 2);
	assert_int_equal(vhu_recv(fx->sock, &m, fds, 2, &n, vhu_now_ms() + DEADLINE_MS), 0);
	assert_int_equal(n, 2);
	assert_int_equal(vhu_check_backend_req(&m, n), -EPROTO);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(count_open_fds(), fx->fds_before);
}

static void test_failed_ack_is_remote_error(void **state)
{
	struct fixture *fx = *state;
	struct vhu_msg req;

	vhu_msg_init(&req, VHU_SET_FEATURES, sizeof(uint64_t));
	assert_int_equal(call_with(fx, ACK_FAILED, &req, true, NULL), -EREMOTEIO);
	assert_true(fx->fake.req.hdr.flags & VHU_F_NEED_REPLY);
	assert_logged(fx, "refused SET_FEATURES");
}

static void test_ack_waited_for_only_when_asked(void **state)
{
	struct fixture *fx = *state;
	struct vhu_msg req;

	vhu_msg_init(&req, VHU_SET_OWNER, 0);
	assert_int_equal(call_with(fx, SILENT, &req, false, NULL), 0);
	assert_false(fx->fake.req.hdr.flags & VHU_F_NEED_REPLY);
}

static void config_request(struct vhu_msg *req, uint32_t size)
{
	vhu_msg_init(req, VHU_GET_CONFIG, VHU_CONFIG_HDR_SIZE + size);
	req->u.config.size = size;
}

static void test_config_reply_is_the_requested_region(void **state)
{
	struct fixture *fx = *state;
	struct vhu_msg req, reply;

	config_request(&req, 60);
	assert_int_equal(call_with(fx, HONEST, &req, false, &reply), 0);
	assert_int_equal(fx->log.count, 0);
	assert_int_equal(reply.u.config.size, 60);
	assert_int_equal(reply.u.config.data[59], 0xab);
}

static void test_empty_config_reply_is_remote_error(void **state)
{
	struct fixture *fx = *state;
	struct vhu_msg req, reply;

	config_request(&req, 60);
	assert_int_equal(call_with(fx, EMPTY_CONFIG, &req, false, &reply), -EREMOTEIO);
	assert_logged(fx, "failed GET_CONFIG");
}

static void test_short_config_reply_is_refused(void **state)
{
	struct fixture *fx = *state;
	struct vhu_msg req, reply;

	config_request(&req, 60);
	assert_int_equal(call_with(fx, SHORT_PAYLOAD, &req, false, &reply), -EPROTO);
	assert_logged(fx, "size differs");
}

static void test_vring_base_of_another_vring_is_refused(void **state)
{
	struct fixture *fx = *state;
	struct vhu_msg req, reply;

	vhu_msg_init(&req, VHU_GET_VRING_BASE, sizeof(struct vhu_vring_state));
	req.u.state.index = 1;
	assert_int_equal(call_with(fx, OTHER_VRING, &req, false, &reply), -EPROTO);
	assert_logged(fx, "another vring");
}

static void test_silent_backend_times_out(void **state)
{
	struct fixture *fx = *state;
	struct vhu_msg req, reply;
	int64_t start = vhu_now_ms();
	int rc;

	vhu_msg_init(&req, VHU_GET_FEATURES, 0);
	start_fake(fx, SILENT);
	rc = vhu_call(fx->sock, &req, NULL, 0, false, &reply, start + 200);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_in_range(vhu_now_ms() - start, 200, 1500);
	assert_logged(fx, "did not answer GET_FEATURES in time");
	stop_fake(fx);
}

static void test_hang_up_is_connection_reset(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(get_features_with(fx, HANG_UP), -ECONNRESET);
	assert_logged(fx, "closed the connection during GET_FEATURES");
}

static void test_fds_with_payload_bytes_are_refused(void **state)
{
	struct fixture *fx = *state;
	struct vhu_msg m = { .hdr = { VHU_GET_FEATURES, VHU_VERSION | VHU_F_REPLY, 8 } };
	int fd = eventfd(0, EFD_CLOEXEC);
	unsigned int n;

	/* Two sends, so that the fd comes with the payload's first byte */
	fake_send(fx->fake.sock, &m.hdr, sizeof(m.hdr), NULL, 0);
	fake_send(fx->fake.sock, &m.u, 8, &fd, 1);
	close(fd);
	assert_int_equal(vhu_recv(fx->sock, &m, NULL, 0, &n, vhu_now_ms() + DEADLINE_MS),
			 -EPROTO);
	assert_int_equal(count_open_fds(), fx->fds_before);
}

static void test_kick_fd_reaches_the_backend(void **state)
{
	struct fixture *fx = *state;
	struct vhu_msg req;
	int efd = eventfd(7, EFD_CLOEXEC | EFD_NONBLOCK);

	vhu_msg_init(&req, VHU_SET_VRING_KICK, sizeof(uint64_t));
	req.u.u64 = 3;
	start_fake(fx, HONEST);
	assert_int_equal(vhu_call(fx->sock, &req, &efd, 1, true, NULL,
				  vhu_now_ms() + DEADLINE_MS), 0);
	close(efd);
	stop_fake(fx);
	assert_int_equal(fx->fake.nfds, 1);
	assert_int_equal(fx->fake.eventfd_value, 7);
	assert_int_equal(fx->fake.req.u.u64, 3);
}

static void test_backend_requests_are_checked(void **state)
{
	struct vhu_msg m = { .hdr = { VHU_BACKEND_CONFIG_CHANGE_MSG, VHU_VERSION, 0 } };

	(void)state;
	assert_int_equal(vhu_check_backend_req(&m, 0), 0);
	m.hdr.size = 8;
	assert_int_equal(vhu_check_backend_req(&m, 0), -EPROTO);
	m.hdr.request = VHU_BACKEND_IOTLB_MSG;
	assert_int_equal(vhu_check_backend_req(&m, 0), -EOPNOTSUPP);
	m.hdr.flags |= VHU_F_REPLY;
	assert_int_equal(vhu_check_backend_req(&m, 0), -EPROTO);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_honest_get_features_returns_its_value),
		T(test_reply_read_one_byte_at_a_time_is_whole),
		T(test_short_payload_is_a_protocol_error),
		T(test_reply_to_another_request_is_refused),
		T(test_reply_without_reply_flag_is_refused),
		T(test_other_protocol_version_is_refused),
		T(test_unknown_flag_is_refused),
		T(test_huge_size_is_refused_before_reading_it),
		T(test_unexpected_fds_are_refused_and_closed),
		T(test_flood_of_fds_is_refused_and_closed),
		T(test_recv_keeps_expected_fds_and_refuses_extra),
		T(test_failed_ack_is_remote_error),
		T(test_ack_waited_for_only_when_asked),
		T(test_config_reply_is_the_requested_region),
		T(test_empty_config_reply_is_remote_error),
		T(test_short_config_reply_is_refused),
		T(test_vring_base_of_another_vring_is_refused),
		T(test_silent_backend_times_out),
		T(test_hang_up_is_connection_reset),
		T(test_fds_with_payload_bytes_are_refused),
		T(test_kick_fd_reaches_the_backend),
		T(test_backend_requests_are_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

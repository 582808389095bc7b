// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Fuzz the vhost-user front-end's reading of what a back-end sends: the
 * input becomes the bytes (and fds) a back-end writes on a socket, and the
 * real receive path (vhu_recv) and checks (vhu_check_reply,
 * vhu_check_backend_req) read them.  Beyond the sanitizers, it checks that
 * an accepted message keeps the promises the adapter relies on and that no
 * fd leaks, whatever the input.
 *
 * Input: byte 0 picks what the front-end waits for (a table below), byte 1
 * how many fds the "back-end" attaches (low 4 bits) and whether they come
 * with the second chunk instead of the first (bit 4), byte 2 where the
 * bytes are split in two sends; the rest is what is sent.
 *
 * Built with clang -fsanitize=fuzzer as a libFuzzer target, or with
 * replay.c as a plain program that runs given inputs (the unit suite runs
 * the seed corpus that way, with any compiler).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vloopback/log.h>

#include "vhost_user.h"

#define MAX_INPUT	4096	/* stays below a socket buffer: one send never blocks */

/* What the front-end is waiting for */
struct wait_case {
	uint32_t request;	/* 0: a request on the back-end channel */
	uint32_t config_size;	/* GET_CONFIG only */
	bool ack;
};

static const struct wait_case cases[] = {
	{ VHU_GET_FEATURES, 0, false },
	{ VHU_GET_PROTOCOL_FEATURES, 0, false },
	{ VHU_GET_QUEUE_NUM, 0, false },
	{ VHU_GET_VRING_BASE, 0, false },
	{ VHU_GET_CONFIG, 60, false },
	{ VHU_GET_CONFIG, VHU_MAX_CONFIG, false },
	{ VHU_SET_FEATURES, 0, true },
	{ VHU_SET_MEM_TABLE, 0, true },
	{ 0, 0, false },
};

static void discard(int level, const char *msg, void *opaque)
{
	(void)level;
	(void)msg;
	(void)opaque;
}

static void make_request(const struct wait_case *c, struct vhu_msg *req)
{
	uint32_t size = 0;

	if (c->request == VHU_GET_CONFIG)
		size = VHU_CONFIG_HDR_SIZE + c->config_size;
	else if (c->request == VHU_GET_VRING_BASE)
		size = sizeof(struct vhu_vring_state);
	else if (c->ack)
		size = sizeof(uint64_t);
	vhu_msg_init(req, c->request, size);
	req->u.config.size = c->config_size;	/* also state.num: harmless */
	if (c->request == VHU_GET_VRING_BASE)
		req->u.state.index = 1;
	if (c->ack)
		req->hdr.flags |= VHU_F_NEED_REPLY;
}

static void send_part(int sock, const uint8_t *data, size_t len, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	int fds[16];
	unsigned int i;

	if (!len)
		return;
	for (i = 0; i < nfds; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
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
	if (sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
		abort();	/* the harness itself is broken */
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

/* The promises an accepted reply makes to the adapter */
static void check_accepted_reply(const struct vhu_msg *req, const struct vhu_msg *r)
{
	if (r->hdr.request != req->hdr.request || !(r->hdr.flags & VHU_F_REPLY))
		abort();
	if (req->hdr.request == VHU_GET_CONFIG) {
		if (r->hdr.size != req->hdr.size || r->u.config.size != req->u.config.size)
			abort();
	} else if (r->hdr.size != sizeof(uint64_t)) {
		abort();
	}
	if (req->hdr.request == VHU_GET_VRING_BASE && r->u.state.index != 1)
		abort();
	if ((req->hdr.flags & VHU_F_NEED_REPLY) && r->u.u64 != 0)
		abort();
}

/* The lowest free fd number: it moves if anything leaked */
static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

static void run_case(const struct wait_case *c, int sock)
{
	struct vhu_msg req, m;
	unsigned int nfds, i;
	int fds[VHU_MAX_FDS];
	int rc;

	make_request(c, &req);
	/* Everything is sent already: a deadline of now reads what is there */
	rc = vhu_recv(sock, &m, fds, c->request ? 0 : 1, &nfds, vhu_now_ms());
	if (rc < 0) {
		if (nfds)
			abort();
		return;
	}
	if (m.hdr.size > VHU_MAX_PAYLOAD || nfds > 1)
		abort();
	if (c->request == 0)
		rc = vhu_check_backend_req(&m, nfds);
	else if (vhu_check_reply(&req, &m, nfds) == 0)
		check_accepted_reply(&req, &m);
	if (c->request == 0 && rc == 0 && (m.hdr.size || nfds))
		abort();
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	const struct wait_case *c;
	unsigned int nfds, split;
	bool late_fds;
	int sv[2], before;

	if (size < 3 || size > MAX_INPUT)
		return -1;	/* not worth keeping in the corpus */
	if (!quiet) {
		/* Errors are formatted, then dropped: the formatting is fuzzed too */
		vlb_set_log_fn(discard, NULL);
		vlb_set_log_level(VLB_LOG_DEBUG);
		quiet = true;
	}
	c = &cases[data[0] % (sizeof(cases) / sizeof(cases[0]))];
	nfds = data[1] & 0xf;
	late_fds = data[1] & 0x10;
	split = data[2];
	data += 3;
	size -= 3;
	if (split > size)
		split = size;

	before = lowest_free_fd();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	send_part(sv[1], data, split, late_fds ? 0 : nfds);
	send_part(sv[1], data + split, size - split, late_fds || !split ? nfds : 0);
	shutdown(sv[1], SHUT_WR);	/* a short message ends, it does not wait */
	run_case(c, sv[0]);
	close(sv[0]);
	close(sv[1]);
	if (lowest_free_fd() != before)
		abort();	/* an fd leaked */
	return 0;
}

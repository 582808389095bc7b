// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * vhost-user message codec: framing, fd passing, and the checks that keep a
 * misbehaving back-end from getting anything past us (see vhost_user.h).
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "vhost_user.h"

#define VHU_HDR_SIZE	((uint32_t)sizeof(struct vhu_hdr))
#define VHU_KNOWN_FLAGS	(VHU_F_VERSION_MASK | VHU_F_REPLY | VHU_F_NEED_REPLY)

/* Room for more fds than we ever accept, so that an excess is seen, not cut */
#define VHU_CMSG_FDS	(2 * VHU_MAX_FDS)

void vhu_msg_init(struct vhu_msg *m, uint32_t request, uint32_t size)
{
	memset(m, 0, sizeof(*m));
	m->hdr.request = request;
	m->hdr.flags = VHU_VERSION;
	m->hdr.size = size;
}

const char *vhu_request_name(uint32_t request)
{
	switch (request) {
	case VHU_GET_FEATURES:		return "GET_FEATURES";
	case VHU_SET_FEATURES:		return "SET_FEATURES";
	case VHU_SET_OWNER:		return "SET_OWNER";
	case VHU_SET_MEM_TABLE:		return "SET_MEM_TABLE";
	case VHU_SET_VRING_NUM:		return "SET_VRING_NUM";
	case VHU_SET_VRING_ADDR:	return "SET_VRING_ADDR";
	case VHU_SET_VRING_BASE:	return "SET_VRING_BASE";
	case VHU_GET_VRING_BASE:	return "GET_VRING_BASE";
	case VHU_SET_VRING_KICK:	return "SET_VRING_KICK";
	case VHU_SET_VRING_CALL:	return "SET_VRING_CALL";
	case VHU_GET_PROTOCOL_FEATURES:	return "GET_PROTOCOL_FEATURES";
	case VHU_SET_PROTOCOL_FEATURES:	return "SET_PROTOCOL_FEATURES";
	case VHU_GET_QUEUE_NUM:		return "GET_QUEUE_NUM";
	case VHU_SET_VRING_ENABLE:	return "SET_VRING_ENABLE";
	case VHU_SET_BACKEND_REQ_FD:	return "SET_BACKEND_REQ_FD";
	case VHU_GET_CONFIG:		return "GET_CONFIG";
	case VHU_SET_CONFIG:		return "SET_CONFIG";
	default:			return "an unknown request";
	}
}

int64_t vhu_now_ms(void)
{
	return vlb_now_ms();
}

/* Wait for events on sock until deadline: 0, -ETIMEDOUT or -errno */
static int wait_for(int sock, short events, int64_t deadline_ms)
{
	struct pollfd p = { .fd = sock, .events = events };
	int64_t left;
	int rc;

	for (;;) {
		left = deadline_ms - vhu_now_ms();
		if (left < 0)
			left = 0;	/* one last look: the answer may be there */
		rc = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (rc > 0)
			return 0;	/* readable, writable, or HUP: the call says */
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc == 0 && left == 0)
			return -ETIMEDOUT;
	}
}

static void close_fds(int *fds, unsigned int *n)
{
	while (*n)
		close(fds[--*n]);
}

static int send_chunk(int sock, const struct iovec *iov, int iovcnt,
		      const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = iovcnt };
	struct cmsghdr *c;
	ssize_t n;

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
	n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n >= 0)
		return (int)n;
	if (errno == EPIPE || errno == ECONNRESET)
		return -ECONNRESET;
	return -errno;
}

int vhu_send(int sock, const struct vhu_msg *m, const int *fds,
	     unsigned int nfds, int64_t deadline_ms)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)&m->hdr, .iov_len = VHU_HDR_SIZE },
		{ .iov_base = (void *)&m->u, .iov_len = m->hdr.size },
	};
	size_t left = VHU_HDR_SIZE + m->hdr.size;
	int i = 0, rc;

	if (nfds > VHU_MAX_FDS || m->hdr.size > VHU_MAX_PAYLOAD)
		return -EINVAL;
	while (left) {
		rc = send_chunk(sock, &iov[i], 2 - i, fds, nfds);
		if (rc == -EAGAIN || rc == -EINTR) {
			rc = wait_for(sock, POLLOUT, deadline_ms);
			if (rc < 0)
				return rc;
			continue;
		}
		if (rc < 0)
			return rc;
		nfds = 0;	/* the fds went with the first byte */
		left -= rc;
		/* Skip what was sent: whole iovecs, then into the next */
		while (i < 2 && (size_t)rc >= iov[i].iov_len) {
			rc -= iov[i].iov_len;
			iov[i].iov_len = 0;
			i++;
		}
		if (i < 2) {
			iov[i].iov_base = (char *)iov[i].iov_base + rc;
			iov[i].iov_len -= rc;
		}
	}
	return 0;
}

/*
 * Take the fds out of a received control buffer: the first ones into
 * fds[*n..] up to room in all, the others closed at once.  Returns how many
 * came, or -EPROTO if the kernel had to cut the control data (it closed
 * what did not fit).
 */
static int take_fds(struct msghdr *mh, int *fds, unsigned int room,
		    unsigned int *n)
{
	struct cmsghdr *c;
	unsigned int i, count;
	int total = 0;
	int fd;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < count; i++, total++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (*n < room)
				fds[(*n)++] = fd;
			else
				close(fd);
		}
	}
	return mh->msg_flags & MSG_CTRUNC ? -EPROTO : total;
}

/*
 * Read exactly len bytes into buf.  Fds that come along go to fds[*n..]
 * (at most room of them in total).
 */
static int recv_exact(int sock, void *buf, size_t len, int *fds,
		      unsigned int room, unsigned int *n, int64_t deadline_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHU_CMSG_FDS)];
		struct cmsghdr align;
	} ctl;
	unsigned int before;
	size_t got = 0;
	ssize_t r;
	int rc;

	while (got < len) {
		struct iovec iov = { .iov_base = (char *)buf + got,
				     .iov_len = len - got };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};

		r = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			rc = wait_for(sock, POLLIN, deadline_ms);
			if (rc < 0)
				return rc;
			continue;
		}
		if (r < 0)
			return -errno;
		before = *n;
		rc = take_fds(&mh, fds, room, n);
		if (rc < 0 || (unsigned int)rc > *n - before) {
			vlb_err("vhost-user back-end sent %s file descriptors than expected (%u at most)",
				rc < 0 ? "far more" : "more", room);
			return -EPROTO;
		}
		if (r == 0)
			return -ECONNRESET;
		got += r;
	}
	return 0;
}

int vhu_check_hdr(const struct vhu_hdr *h)
{
	if ((h->flags & VHU_F_VERSION_MASK) != VHU_VERSION) {
		vlb_err("vhost-user back-end speaks protocol version %u, not %u",
			h->flags & VHU_F_VERSION_MASK, VHU_VERSION);
		return -EPROTO;
	}
	if (h->flags & ~VHU_KNOWN_FLAGS) {
		vlb_err("vhost-user back-end sent unknown message flags 0x%x",
			h->flags & ~VHU_KNOWN_FLAGS);
		return -EPROTO;
	}
	if (h->size > VHU_MAX_PAYLOAD) {
		vlb_err("vhost-user back-end sent a %u-byte payload (at most %u expected)",
			h->size, VHU_MAX_PAYLOAD);
		return -EPROTO;
	}
	return 0;
}

int vhu_recv(int sock, struct vhu_msg *m, int *fds, unsigned int max_fds,
	     unsigned int *nfds, int64_t deadline_ms)
{
	unsigned int extra = 0;
	int rc;

	*nfds = 0;
	if (max_fds > VHU_MAX_FDS)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	rc = recv_exact(sock, &m->hdr, VHU_HDR_SIZE, fds, max_fds, nfds,
			deadline_ms);
	if (rc == 0)
		rc = vhu_check_hdr(&m->hdr);
	/* Fds belong with the header: any on the payload is a lie */
	if (rc == 0)
		rc = recv_exact(sock, &m->u, m->hdr.size, NULL, 0, &extra,
				deadline_ms);
	if (rc < 0)
		close_fds(fds, nfds);
	return rc;
}

bool vhu_has_reply(uint32_t request)
{
	switch (request) {
	case VHU_GET_FEATURES:
	case VHU_GET_PROTOCOL_FEATURES:
	case VHU_GET_QUEUE_NUM:
	case VHU_GET_VRING_BASE:
	case VHU_GET_CONFIG:
		return true;
	default:
		return false;
	}
}

static int bad_reply(const struct vhu_msg *req, const char *what)
{
	vlb_err("vhost-user back-end sent a malformed reply to %s: %s",
		vhu_request_name(req->hdr.request), what);
	return -EPROTO;
}

static int check_config_reply(const struct vhu_msg *req,
			      const struct vhu_msg *reply)
{
	const struct vhu_config *want = &req->u.config, *got = &reply->u.config;

	if (reply->hdr.size == 0) {
		vlb_err("vhost-user back-end failed GET_CONFIG of %u bytes", want->size);
		return -EREMOTEIO;
	}
	if (reply->hdr.size != req->hdr.size)
		return bad_reply(req, "its size differs from the request's");
	if (got->offset != want->offset || got->size != want->size)
		return bad_reply(req, "it describes another part of config space");
	return 0;
}

int vhu_check_reply(const struct vhu_msg *req, const struct vhu_msg *reply,
		    unsigned int nfds)
{
	uint32_t request = req->hdr.request;

	if (!(reply->hdr.flags & VHU_F_REPLY))
		return bad_reply(req, "a request came instead (no REPLY flag)");
	if (reply->hdr.request != request) {
		vlb_err("vhost-user back-end answered %s (request %u) while we asked %s",
			vhu_request_name(reply->hdr.request), reply->hdr.request,
			vhu_request_name(request));
		return -EPROTO;
	}
	if (nfds)
		return bad_reply(req, "it carries file descriptors");
	if (request == VHU_GET_CONFIG)
		return check_config_reply(req, reply);
	if (request == VHU_GET_VRING_BASE) {
		if (reply->hdr.size != sizeof(struct vhu_vring_state))
			return bad_reply(req, "not a vring state");
		if (reply->u.state.index != req->u.state.index)
			return bad_reply(req, "it is about another vring");
		return 0;
	}
	if (reply->hdr.size != sizeof(uint64_t))
		return bad_reply(req, "not a 64-bit value");
	if (!vhu_has_reply(request) && reply->u.u64 != 0) {
		vlb_err("vhost-user back-end refused %s (status %llu)",
			vhu_request_name(request),
			(unsigned long long)reply->u.u64);
		return -EREMOTEIO;
	}
	return 0;
}

int vhu_check_backend_req(const struct vhu_msg *m, unsigned int nfds)
{
	if (m->hdr.flags & VHU_F_REPLY) {
		vlb_err("vhost-user back-end sent a reply on its request channel");
		return -EPROTO;
	}
	if (m->hdr.request != VHU_BACKEND_CONFIG_CHANGE_MSG)
		return -EOPNOTSUPP;
	if (m->hdr.size != 0 || nfds) {
		vlb_err("vhost-user back-end sent a malformed CONFIG_CHANGE_MSG (%u bytes, %u fds)",
			m->hdr.size, nfds);
		return -EPROTO;
	}
	return 0;
}

void vhu_log_call_error(const struct vhu_msg *req, int rc)
{
	const char *name = vhu_request_name(req->hdr.request);

	switch (rc) {
	case -EPROTO:
	case -EREMOTEIO:
		break;	/* the check that found it said why */
	case -ETIMEDOUT:
		vlb_err("vhost-user back-end did not answer %s in time (is it stuck?)",
			name);
		break;
	case -ECONNRESET:
		vlb_err("vhost-user back-end closed the connection during %s (see its log)",
			name);
		break;
	default:
		vlb_err("vhost-user %s failed: %s", name, strerror(-rc));
	}
}

bool vhu_want_reply(struct vhu_msg *req, bool ack)
{
	if (vhu_has_reply(req->hdr.request))
		return true;
	if (ack)
		req->hdr.flags |= VHU_F_NEED_REPLY;
	return ack;
}

int vhu_call(int sock, struct vhu_msg *req, const int *fds, unsigned int nfds,
	     bool ack, struct vhu_msg *reply, int64_t deadline_ms)
{
	struct vhu_msg local;
	unsigned int got_fds;
	bool want = vhu_want_reply(req, ack);
	int rc;

	rc = vhu_send(sock, req, fds, nfds, deadline_ms);
	if (rc == 0 && want) {
		if (!reply)
			reply = &local;
		rc = vhu_recv(sock, reply, NULL, 0, &got_fds, deadline_ms);
		if (rc == 0)
			rc = vhu_check_reply(req, reply, got_fds);
	}
	if (rc < 0)
		vhu_log_call_error(req, rc);
	return rc;
}

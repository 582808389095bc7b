/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The back-end's side of a vhost-user socket, for tests: reads one message
 * of the front-end under test with its own code, not lib/vhost_user.c's.
 */
#ifndef VLB_TEST_VHU_PEER_H
#define VLB_TEST_VHU_PEER_H

#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vhost_user.h"

static inline bool peer_read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t r;

	while (got < len) {
		r = read(fd, (char *)buf + got, len - got);
		if (r <= 0)
			return false;
		got += r;
	}
	return true;
}

/*
 * One message: header (with the fds it carries, *nfds of them, which the
 * caller closes), then a payload that fits m->u.  false on a short read or
 * an oversized payload.
 */
static inline bool peer_recv(int sock, struct vhu_msg *m, int fds[VHU_MAX_FDS],
			     unsigned int *nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VHU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = &m->hdr, .iov_len = sizeof(m->hdr) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;

	*nfds = 0;
	if (recvmsg(sock, &mh, MSG_WAITALL) != sizeof(m->hdr))
		return false;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		*nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(c), *nfds * sizeof(int));
	}
	return m->hdr.size <= sizeof(m->u) && peer_read_all(sock, &m->u, m->hdr.size);
}

#endif /* VLB_TEST_VHU_PEER_H */

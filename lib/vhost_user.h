/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The vhost-user protocol, front-end side (QEMU's docs/interop/vhost-user.rst):
 * message framing over a unix stream socket, fd passing with SCM_RIGHTS,
 * REPLY_ACK, and strict checks of everything the back-end sends.
 *
 * The back-end is another process and is not trusted: every message read
 * from it is checked (version, flags, size bounded and exact for its type,
 * the request it answers, the number of fds) before any field is used, fds
 * it sends that we did not ask for are closed, and every wait has a
 * deadline, so a back-end that lies or goes silent yields an error, never
 * a crash or a hang.  Errors: -EPROTO (malformed or unexpected message),
 * -ETIMEDOUT, -ECONNRESET (the back-end closed the socket), -EREMOTEIO
 * (the back-end answered "failed"), or another -errno from the socket.
 *
 * Private to libvloopback.  Native byte order throughout, as the spec says.
 */
#ifndef VLB_VHOST_USER_H
#define VLB_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>

/* Header flags */
#define VHU_VERSION		0x1
#define VHU_F_VERSION_MASK	0x3
#define VHU_F_REPLY		0x4
#define VHU_F_NEED_REPLY	0x8

/* Requests the front-end sends (the ones this library uses) */
enum vhu_request {
	VHU_GET_FEATURES		= 1,
	VHU_SET_FEATURES		= 2,
	VHU_SET_OWNER			= 3,
	VHU_SET_MEM_TABLE		= 5,
	VHU_SET_VRING_NUM		= 8,
	VHU_SET_VRING_ADDR		= 9,
	VHU_SET_VRING_BASE		= 10,
	VHU_GET_VRING_BASE		= 11,
	VHU_SET_VRING_KICK		= 12,
	VHU_SET_VRING_CALL		= 13,
	VHU_GET_PROTOCOL_FEATURES	= 15,
	VHU_SET_PROTOCOL_FEATURES	= 16,
	VHU_GET_QUEUE_NUM		= 17,
	VHU_SET_VRING_ENABLE		= 18,
	VHU_SET_BACKEND_REQ_FD		= 21,
	VHU_GET_CONFIG			= 24,
	VHU_SET_CONFIG			= 25,
};

/* Requests the back-end sends on the back-end channel */
enum vhu_backend_request {
	VHU_BACKEND_IOTLB_MSG		= 1,
	VHU_BACKEND_CONFIG_CHANGE_MSG	= 2,
};

/* Virtio feature bit 30, reused by vhost-user: protocol features exist */
#define VHU_F_PROTOCOL_FEATURES	30

/* Protocol feature bits */
#define VHU_PROTOCOL_F_MQ		0
#define VHU_PROTOCOL_F_REPLY_ACK	3
#define VHU_PROTOCOL_F_BACKEND_REQ	5
#define VHU_PROTOCOL_F_CONFIG		9

/* SET_VRING_KICK/CALL payload: the vring index in bits 0-7 */
#define VHU_VRING_IDX_MASK	0xff

#define VHU_MAX_FDS		8	/* per message, as the spec bounds it */
#define VHU_MAX_REGIONS		8
#define VHU_MAX_CONFIG		256	/* bytes of config space per message */
#define VHU_CONFIG_HDR_SIZE	12	/* offset, size, flags */

struct vhu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;		/* payload bytes that follow on the wire */
};

struct vhu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vhu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;		/* user addresses in the front-end's mapping */
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vhu_region {
	uint64_t guest_addr;
	uint64_t size;
	uint64_t user_addr;
	uint64_t mmap_offset;
};

struct vhu_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vhu_region regions[VHU_MAX_REGIONS];
};

struct vhu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t data[VHU_MAX_CONFIG];
};

union vhu_payload {
	uint64_t u64;
	struct vhu_vring_state state;
	struct vhu_vring_addr addr;
	struct vhu_memory memory;
	struct vhu_config config;
};

/*
 * A message as kept in memory.  On the wire it is hdr followed by the
 * first hdr.size bytes of u: the layouts match the spec's packed ones.
 */
struct vhu_msg {
	struct vhu_hdr hdr;
	union vhu_payload u;
};

/* The payload size of the replies and back-end requests we accept */
#define VHU_MAX_PAYLOAD		((uint32_t)sizeof(union vhu_payload))

/* A request with a payload of size bytes, zeroed */
void vhu_msg_init(struct vhu_msg *m, uint32_t request, uint32_t size);

/* Name of a front-end request, for messages a person reads */
const char *vhu_request_name(uint32_t request);

/* Milliseconds on CLOCK_MONOTONIC, the clock of every deadline here */
int64_t vhu_now_ms(void);

/*
 * Send m with nfds fds (at most VHU_MAX_FDS; the caller keeps its fds).
 * Waits for room in the socket until deadline_ms at most.
 */
int vhu_send(int sock, const struct vhu_msg *m, const int *fds,
	     unsigned int nfds, int64_t deadline_ms);

/*
 * Receive one message: a header that passes vhu_check_hdr(), then its
 * payload, waiting until deadline_ms at most.  Up to max_fds fds that come
 * with it are stored in fds, their count in *nfds: the caller owns them.
 * More than max_fds, or fds anywhere but on the header, is -EPROTO with
 * every received fd closed.  On any error *nfds is 0 and nothing is open.
 */
int vhu_recv(int sock, struct vhu_msg *m, int *fds, unsigned int max_fds,
	     unsigned int *nfds, int64_t deadline_ms);

/*
 * Check a header read from the back-end: version 1, no unknown flag, the
 * payload at most VHU_MAX_PAYLOAD.  Logs why not.  0 or -EPROTO.
 */
int vhu_check_hdr(const struct vhu_hdr *h);

/*
 * Check that reply (which came with nfds fds) answers req: the REPLY flag,
 * the same request type, no fds, and exactly the payload the type has
 * (u64 for GET_FEATURES, a vring state with req's index for
 * GET_VRING_BASE, req's config region for GET_CONFIG, the u64 ack when req
 * asked for one).  A zero ack or a config of the right size is 0; an ack
 * that says failed, or GET_CONFIG's empty "failed" reply, is -EREMOTEIO;
 * anything else -EPROTO (logged).
 */
int vhu_check_reply(const struct vhu_msg *req, const struct vhu_msg *reply,
		    unsigned int nfds);

/*
 * Check a request the back-end sent on the back-end channel: not a reply,
 * a type we serve, with its exact payload and no fds.  0, -EOPNOTSUPP for
 * a well-formed request of another type (answer it "failed" if it wants
 * an answer), or -EPROTO.
 */
int vhu_check_backend_req(const struct vhu_msg *m, unsigned int nfds);

/* Whether the back-end answers req even without NEED_REPLY */
bool vhu_has_reply(uint32_t request);

/*
 * Whether the back-end will answer req: it has a reply of its own, or ack
 * (REPLY_ACK negotiated), which sets NEED_REPLY in req.
 */
bool vhu_want_reply(struct vhu_msg *req, bool ack);

/* Log why an exchange of req failed with rc, unless a check already said */
void vhu_log_call_error(const struct vhu_msg *req, int rc);

/*
 * One exchange: send req (with fds), then wait for its reply if it has
 * one, or, when ack is true, set NEED_REPLY and wait for the ack.  The
 * whole exchange ends by deadline_ms.  reply may be NULL when req has no
 * reply of its own.  Failures are logged with the request's name.
 */
int vhu_call(int sock, struct vhu_msg *req, const int *fds, unsigned int nfds,
	     bool ack, struct vhu_msg *reply, int64_t deadline_ms);

#endif /* VLB_VHOST_USER_H */

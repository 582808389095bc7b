/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The device side of a split virtqueue, over memory the caller maps.
 *
 * Everything the driver wrote (indices, descriptors, indirect tables) is
 * untrusted: each value is bounds-checked before use, and the first
 * malformed one marks the ring broken.  A broken ring is never touched
 * again: every later call fails with -EIO until vlb_vring_init().
 *
 * Not thread-safe: the caller serialises all calls on one ring.
 */
#ifndef VLB_VRING_H
#define VLB_VRING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/virtio_ring.h>

/*
 * Most iovecs one request can have.  A direct chain is bounded by the ring
 * size (at most VLB_MAX_QUEUE_SIZE); an indirect table by this too.
 */
#define VLB_VRING_MAX_IOV	1024

/* The shared area: IOVA iova_base is at base, size bytes long */
struct vlb_vring_mem {
	void *base;
	uint64_t size;
	uint64_t iova_base;
};

struct vlb_vring {
	struct vlb_vring_mem mem;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t num;
	uint16_t last_avail;	/* next avail entry to pop */
	uint16_t used_idx;	/* our copy of used->idx (only we write it) */
	uint16_t signalled_used;	/* used_idx when the driver was last told */
	bool signalled_valid;
	bool event_idx;
	bool indirect;
	bool broken;
	const char *error;	/* why the ring broke, for the log */
};

/* One popped chain: iov[0..n_out) are readable, iov[n_out..n_out+n_in) writable */
struct vlb_vring_chain {
	uint16_t head;
	unsigned int n_out;
	unsigned int n_in;
};

/*
 * Map a driver's ring: desc/avail/used are IOVAs, num the size it chose,
 * features the negotiated ones (EVENT_IDX and INDIRECT_DESC matter).
 * Returns 0, or -EINVAL if num is not a power of two or a part of the ring
 * is misaligned or outside mem (the ring is then broken).
 */
int vlb_vring_init(struct vlb_vring *vr, const struct vlb_vring_mem *mem,
		   unsigned int num, uint64_t desc, uint64_t avail,
		   uint64_t used, uint64_t features);

/*
 * Translate [iova, iova+len) into a pointer inside mem, or NULL if any byte
 * of it is outside.
 */
void *vlb_vring_translate(const struct vlb_vring_mem *mem, uint64_t iova,
			  uint64_t len);

/*
 * Pop the next available chain into iov (room for VLB_VRING_MAX_IOV).
 * Returns 1 and fills *chain, 0 if nothing is available, -EINVAL when the
 * driver's data is malformed (the ring is now broken), -EIO if it already
 * was.  iov entries point into mem and stay valid while mem is mapped.
 */
int vlb_vring_pop(struct vlb_vring *vr, struct vlb_vring_chain *chain,
		  struct iovec *iov);

/*
 * Return chain head to the driver with len bytes written into its writable
 * buffers.  Publishes used->idx with release semantics at once; whether the
 * driver must be interrupted is a separate question (vlb_vring_need_call).
 * Returns 0, -EINVAL if head is not a descriptor index, -EIO if broken.
 */
int vlb_vring_push(struct vlb_vring *vr, uint16_t head, uint32_t len);

/*
 * True if the driver asked to be interrupted for the used entries pushed
 * since the last call that returned true (NO_INTERRUPT, or used_event with
 * EVENT_IDX).  Call after a batch of pushes; call it once per batch.
 */
bool vlb_vring_need_call(struct vlb_vring *vr);

/*
 * Kick suppression around a processing round: disable before popping,
 * enable after.  vlb_vring_enable_kick returns true if entries arrived
 * meanwhile: the caller must pop again, or a kick may be lost.
 */
void vlb_vring_disable_kick(struct vlb_vring *vr);
bool vlb_vring_enable_kick(struct vlb_vring *vr);

/* Entries the driver made available that were not popped yet (0 if broken) */
unsigned int vlb_vring_pending(struct vlb_vring *vr);

#endif /* VLB_VRING_H */

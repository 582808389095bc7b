// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Split virtqueue, device side (virtio 1.x, little-endian rings).
 *
 * Memory ordering: the driver publishes avail->idx after filling the ring
 * and descriptors, so avail->idx is loaded with acquire before any of them
 * is read; we publish used->idx with release after writing the used
 * element.  The two "did the other side go to sleep?" checks (interrupt
 * and kick suppression) need a full fence between our store and our load.
 *
 * Every value read from shared memory is read once into a local (the
 * driver may change it under us) and checked before use.
 */
#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "vring.h"

#define DESC_SIZE	sizeof(struct vring_desc)

static uint16_t load_acquire16(__virtio16 *p)
{
	return le16toh(atomic_load_explicit((_Atomic uint16_t *)p,
					    memory_order_acquire));
}

/*
 * Read a shared value exactly once.  memcpy has no alignment requirement
 * (indirect tables are only as aligned as the driver made them); the
 * signal fence stops the compiler from re-reading the source later.
 */
static void read_once(void *dst, const void *src, size_t len)
{
	memcpy(dst, src, len);
	atomic_signal_fence(memory_order_seq_cst);
}

static uint16_t read16(const void *src)
{
	uint16_t v;

	read_once(&v, src, sizeof(v));
	return le16toh(v);
}

static int fail(struct vlb_vring *vr, const char *why)
{
	vr->broken = true;
	vr->error = why;
	return -EINVAL;
}

void *vlb_vring_translate(const struct vlb_vring_mem *mem, uint64_t iova,
			  uint64_t len)
{
	uint64_t off;

	if (iova < mem->iova_base)
		return NULL;
	off = iova - mem->iova_base;
	if (off > mem->size || len > mem->size - off)
		return NULL;
	return (char *)mem->base + off;
}

/* Translate a ring part, which must also be aligned in IOVA and memory */
static void *map_part(const struct vlb_vring_mem *mem, uint64_t iova,
		      uint64_t len, uintptr_t align)
{
	void *p = vlb_vring_translate(mem, iova, len);

	if (!p || (iova & (align - 1)) || ((uintptr_t)p & (align - 1)))
		return NULL;
	return p;
}

int vlb_vring_init(struct vlb_vring *vr, const struct vlb_vring_mem *mem,
		   unsigned int num, uint64_t desc, uint64_t avail,
		   uint64_t used, uint64_t features)
{
	memset(vr, 0, sizeof(*vr));
	vr->mem = *mem;
	vr->event_idx = features & (1ULL << VIRTIO_RING_F_EVENT_IDX);
	vr->indirect = features & (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	if (num == 0 || num > VLB_VRING_MAX_IOV || (num & (num - 1)))
		return fail(vr, "ring size is not a power of two up to 1024");
	vr->num = (uint16_t)num;
	/* avail and used end with used_event / avail_event: always mapped */
	vr->desc = map_part(mem, desc, DESC_SIZE * num, VRING_DESC_ALIGN_SIZE);
	vr->avail = map_part(mem, avail, 6 + 2 * num, VRING_AVAIL_ALIGN_SIZE);
	vr->used = map_part(mem, used, 6 + 8 * num, VRING_USED_ALIGN_SIZE);
	if (!vr->desc || !vr->avail || !vr->used)
		return fail(vr, "ring outside the shared area or misaligned");
	return 0;
}

/* Append one buffer; readable buffers must all come before writable ones */
static int add_buffer(struct vlb_vring *vr, struct vlb_vring_chain *chain,
		      struct iovec *iov, const struct vring_desc *d)
{
	uint32_t len = le32toh(d->len);
	void *p = vlb_vring_translate(&vr->mem, le64toh(d->addr), len);

	if (!p)
		return fail(vr, "buffer outside the shared area");
	if (le16toh(d->flags) & VRING_DESC_F_WRITE) {
		chain->n_in++;
	} else {
		if (chain->n_in)
			return fail(vr, "readable buffer after a writable one");
		chain->n_out++;
	}
	iov[chain->n_out + chain->n_in - 1] =
		(struct iovec){ .iov_base = p, .iov_len = len };
	return 0;
}

static int walk(struct vlb_vring *vr, const struct vring_desc *table,
		unsigned int size, uint16_t i, struct vlb_vring_chain *chain,
		struct iovec *iov, bool top);

/* The head descriptor points at a table that holds the whole chain */
static int walk_indirect(struct vlb_vring *vr, const struct vring_desc *d,
			 struct vlb_vring_chain *chain, struct iovec *iov)
{
	uint32_t len = le32toh(d->len);
	const struct vring_desc *table;

	if (!vr->indirect)
		return fail(vr, "indirect descriptor not negotiated");
	if (le16toh(d->flags) & VRING_DESC_F_NEXT)
		return fail(vr, "indirect descriptor with NEXT set");
	if (len == 0 || len % DESC_SIZE || len / DESC_SIZE > VLB_VRING_MAX_IOV)
		return fail(vr, "indirect table size invalid");
	table = vlb_vring_translate(&vr->mem, le64toh(d->addr), len);
	if (!table)
		return fail(vr, "indirect table outside the shared area");
	return walk(vr, table, len / DESC_SIZE, 0, chain, iov, false);
}

/*
 * Follow a chain in a table of size descriptors.  Visiting more than size
 * descriptors means the chain loops, so the walk always ends.
 */
static int walk(struct vlb_vring *vr, const struct vring_desc *table,
		unsigned int size, uint16_t i, struct vlb_vring_chain *chain,
		struct iovec *iov, bool top)
{
	struct vring_desc d;
	unsigned int count;
	uint16_t flags;
	int rc;

	for (count = 1;; count++) {
		if (i >= size)
			return fail(vr, "descriptor index out of range");
		if (count > size)
			return fail(vr, "descriptor chain loops or is too long");
		read_once(&d, &table[i], sizeof(d));
		flags = le16toh(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (!top)
				return fail(vr, "indirect descriptor in an indirect table");
			if (count != 1)
				return fail(vr, "indirect descriptor not at the chain head");
			return walk_indirect(vr, &d, chain, iov);
		}
		rc = add_buffer(vr, chain, iov, &d);
		if (rc)
			return rc;
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = le16toh(d.next);
	}
}

unsigned int vlb_vring_pending(struct vlb_vring *vr)
{
	if (vr->broken)
		return 0;
	return (uint16_t)(load_acquire16(&vr->avail->idx) - vr->last_avail);
}

int vlb_vring_pop(struct vlb_vring *vr, struct vlb_vring_chain *chain,
		  struct iovec *iov)
{
	unsigned int pending;
	uint16_t head;
	int rc;

	if (vr->broken)
		return -EIO;
	pending = vlb_vring_pending(vr);
	if (pending == 0)
		return 0;
	if (pending > vr->num)
		return fail(vr, "avail index moved by more than the ring size");
	head = read16(&vr->avail->ring[vr->last_avail & (vr->num - 1)]);
	*chain = (struct vlb_vring_chain){ .head = head };
	rc = walk(vr, vr->desc, vr->num, head, chain, iov, true);
	if (rc)
		return rc;
	vr->last_avail++;
	return 1;
}

int vlb_vring_push(struct vlb_vring *vr, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e;

	if (vr->broken)
		return -EIO;
	if (head >= vr->num)
		return -EINVAL;
	e = &vr->used->ring[vr->used_idx & (vr->num - 1)];
	e->id = htole32(head);
	e->len = htole32(len);
	vr->used_idx++;
	atomic_store_explicit((_Atomic uint16_t *)&vr->used->idx,
			      htole16(vr->used_idx), memory_order_release);
	return 0;
}

bool vlb_vring_need_call(struct vlb_vring *vr)
{
	uint16_t old = vr->signalled_used;
	bool valid = vr->signalled_valid;

	if (vr->broken || (valid && old == vr->used_idx))
		return false;
	vr->signalled_used = vr->used_idx;
	vr->signalled_valid = true;
	/* Our used->idx store must be visible before we read the driver's wish */
	atomic_thread_fence(memory_order_seq_cst);
	if (!vr->event_idx)
		return !(read16(&vr->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	if (!valid)
		return true;
	return vring_need_event(read16(&vr->avail->ring[vr->num]),
				vr->used_idx, old);
}

void vlb_vring_disable_kick(struct vlb_vring *vr)
{
	/* With EVENT_IDX, a stale avail_event already keeps the driver quiet */
	if (vr->broken || vr->event_idx)
		return;
	vr->used->flags = htole16(VRING_USED_F_NO_NOTIFY);
}

bool vlb_vring_enable_kick(struct vlb_vring *vr)
{
	uint16_t event = htole16(vr->last_avail);

	if (vr->broken)
		return false;
	if (vr->event_idx)	/* avail_event sits right after the used ring */
		memcpy(&vr->used->ring[vr->num], &event, sizeof(event));
	else
		vr->used->flags = 0;
	/* Publish the wish before checking what the driver added meanwhile */
	atomic_thread_fence(memory_order_seq_cst);
	return vlb_vring_pending(vr) != 0;
}

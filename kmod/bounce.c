// SPDX-License-Identifier: GPL-2.0
/*
 * Bounce mappings: every buffer a driver maps is given a range of the
 * shared area, and data moves between the two only here.
 *
 * A mapping covers whole 512-byte slots.  The module remembers, per mapping
 * (indexed by its first slot), the driver's physical address and length, and
 * per slot which mapping it belongs to, so an address from anywhere (a sync
 * of part of a mapping, a descriptor's address) resolves to one live mapping
 * or to nothing, and no copy ever crosses a mapping's end.
 *
 * Device-writable mappings start zeroed: a device that writes less than it
 * was given hands the driver zeros, never older bytes of the area.
 *
 * Recovery gives the device process a fresh area (vlb_bounce_rehome): every
 * live mapping moves to the same IOVA in it, so the driver's addresses stay
 * valid; area_lock keeps copies off the area while it moves.
 *
 * Once the device is dead (vlb_bounce_kill) nothing moves between the area
 * and the driver any more, in either direction: the process may still hold
 * pinned pages of the area (io_uring fixed buffers, vmsplice) that survive
 * the revocation, so the area is neither read nor filled from then on, and
 * what the driver reads back from a device-writable buffer is 0xff, an
 * error status in the common request formats.
 */
#include <linux/bitmap.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "vloopback.h"

#define VLB_NO_MAPPING		U32_MAX

static bool to_device(enum dma_data_direction dir)
{
	return dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL;
}

static bool from_device(enum dma_data_direction dir)
{
	return dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL;
}

static unsigned long slot_of(const struct vlb_bounce *b, u64 iova)
{
	return (iova - b->iova) >> VLB_SLOT_SHIFT;
}

static u64 iova_of(const struct vlb_bounce *b, unsigned long slot)
{
	return b->iova + ((u64)slot << VLB_SLOT_SHIFT);
}

/*
 * The live mapping that holds all of [iova, iova + len), as its first slot,
 * or -1.  Bounded: one table lookup, whatever the address.
 */
static long find_mapping(const struct vlb_bounce *b, u64 iova, size_t len)
{
	unsigned long slot;
	u32 start;

	if (iova < b->iova || iova - b->iova >= b->size)
		return -1;
	slot = slot_of(b, iova);
	start = READ_ONCE(b->start[slot]);
	if (start == VLB_NO_MAPPING || !test_bit(start, b->live))
		return -1;
	if (len > b->len[start] ||
	    iova - iova_of(b, start) > b->len[start] - len)
		return -1;
	return start;
}

/* Caller holds area_lock */
static void *area_va(const struct vlb_bounce *b, u64 iova)
{
	return b->vaddr + (iova - b->iova);
}

/* Walk the driver's pages of [iova, iova + len) of mapping @start. */
static void copy_orig(const struct vlb_bounce *b, unsigned long start,
		      u64 iova, void *buf, size_t len, bool to_orig)
{
	phys_addr_t phys = b->orig[start] + (iova - iova_of(b, start));

	while (len) {
		unsigned int off = offset_in_page(phys);
		size_t n = min_t(size_t, len, PAGE_SIZE - off);
		void *p = kmap_local_page(pfn_to_page(PHYS_PFN(phys)));

		if (!buf)
			memset(p + off, 0xff, n);
		else if (to_orig)
			memcpy(p + off, buf, n);
		else
			memcpy(buf, p + off, n);
		kunmap_local(p);
		if (buf)
			buf += n;
		phys += n;
		len -= n;
	}
}

/* Move [iova, iova + len) of mapping @start towards the CPU or the device. */
static void bounce(struct vlb_bounce *b, unsigned long start, u64 iova,
		   size_t len, bool for_cpu)
{
	unsigned long flags;
	bool dead;

	read_lock_irqsave(&b->area_lock, flags);
	dead = READ_ONCE(b->dead);
	if (for_cpu)	/* a dead device's writes are never read */
		copy_orig(b, start, iova, dead ? NULL : area_va(b, iova), len,
			  true);
	else if (!dead)
		copy_orig(b, start, iova, area_va(b, iova), len, false);
	read_unlock_irqrestore(&b->area_lock, flags);
}

static void zero_area(struct vlb_bounce *b, u64 iova, size_t len)
{
	unsigned long flags;

	read_lock_irqsave(&b->area_lock, flags);
	memset(area_va(b, iova), 0, len);
	read_unlock_irqrestore(&b->area_lock, flags);
}

dma_addr_t vlb_bounce_map(struct vlb_bounce *b, phys_addr_t phys, size_t size,
			  enum dma_data_direction dir, unsigned long attrs)
{
	size_t alloc = max_t(size_t, size, 1);
	unsigned long slot, i, n;
	u64 iova;

	if (size > b->max_mapping)
		return DMA_MAPPING_ERROR;
	/* IOVAs, not addresses: they survive a move of the area */
	iova = vlb_iova_alloc(&b->iova_alloc, alloc);
	if (!iova)
		return DMA_MAPPING_ERROR;
	slot = slot_of(b, iova);
	n = DIV_ROUND_UP(alloc, VLB_SLOT_SIZE);
	b->orig[slot] = phys;
	b->len[slot] = alloc;
	b->dir[slot] = dir;
	for (i = 0; i < n; i++)
		WRITE_ONCE(b->start[slot + i], slot);
	/* the bookkeeping is complete before the mapping counts as live */
	smp_mb__before_atomic();
	set_bit(slot, b->live);

	if (from_device(dir) && !to_device(dir))
		zero_area(b, iova, alloc);
	else if (!(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		bounce(b, slot, iova, size, false);
	return iova;
}

/*
 * Only the address a map returned is undone, once: on some kernels the
 * virtio core walks chains through flags a device could have influenced.
 */
void vlb_bounce_unmap(struct vlb_bounce *b, dma_addr_t iova, size_t size,
		      enum dma_data_direction dir, unsigned long attrs)
{
	long start = find_mapping(b, iova, 0);
	unsigned long i, n;
	size_t len;

	if (start < 0 || iova != iova_of(b, start) ||
	    !test_and_clear_bit(start, b->live)) {
		pr_err_ratelimited("virtio_loopback: unmap of unknown IOVA %#llx+%zu\n",
				   (u64)iova, size);
		return;
	}
	len = b->len[start];
	if (from_device(dir) && !(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		bounce(b, start, iova, min(size, len), true);
	n = DIV_ROUND_UP(len, VLB_SLOT_SIZE);
	for (i = 0; i < n; i++)
		WRITE_ONCE(b->start[start + i], VLB_NO_MAPPING);
	vlb_iova_free(&b->iova_alloc, iova, len);
}

/* A sync of a range that is not inside one live mapping is refused. */
void vlb_bounce_sync(struct vlb_bounce *b, dma_addr_t iova, size_t size,
		     enum dma_data_direction dir, bool for_cpu)
{
	long start;

	if (for_cpu ? !from_device(dir) : !to_device(dir))
		return;
	start = find_mapping(b, iova, size);
	if (start < 0) {
		pr_err_ratelimited("virtio_loopback: sync of %#llx+%zu outside any mapping\n",
				   (u64)iova, size);
		return;
	}
	bounce(b, start, iova, size, for_cpu);
}

/*
 * Read @len bytes at @iova from the driver's own memory behind the mapping,
 * not from the area: the shadow ring reads indirect tables this way, so the
 * device cannot change what the kernel believes a chain holds.
 */
int vlb_bounce_read_orig(const struct vlb_bounce *b, u64 iova, void *buf,
			 size_t len)
{
	long start = find_mapping(b, iova, len);

	if (start < 0)
		return -EFAULT;
	copy_orig(b, start, iova, buf, len, false);
	return 0;
}

/*
 * Move every live mapping to @vaddr, a fresh area of the same size: what
 * the device is to read is bounced again from the driver's pages (the old
 * area may have been written by whoever still pins it), what it wrote is
 * carried over (completed, not yet unmapped buffers keep their data).
 */
void vlb_bounce_rehome(struct vlb_bounce *b, void *vaddr)
{
	unsigned long flags, slot;

	write_lock_irqsave(&b->area_lock, flags);
	for_each_set_bit(slot, b->live, b->nslots) {
		u64 iova = iova_of(b, slot);
		void *to = vaddr + (iova - b->iova);

		if (to_device(b->dir[slot]))
			copy_orig(b, slot, iova, to, b->len[slot], false);
		else
			memcpy(to, area_va(b, iova), b->len[slot]);
	}
	b->vaddr = vaddr;
	write_unlock_irqrestore(&b->area_lock, flags);
}

/* From now on the area is neither filled nor read (see the top). */
void vlb_bounce_kill(struct vlb_bounce *b)
{
	WRITE_ONCE(b->dead, true);
}

size_t vlb_bounce_max_mapping(const struct vlb_bounce *b)
{
	return b->max_mapping;
}

/* Only before the virtio device is registered. */
void vlb_bounce_set_max_mapping(struct vlb_bounce *b, size_t max)
{
	b->max_mapping = max;
}

int vlb_bounce_init(struct vlb_bounce *b, void *vaddr, u64 iova, size_t size,
		    size_t max_mapping)
{
	b->vaddr = vaddr;
	b->iova = iova;
	b->size = size;
	b->max_mapping = max_mapping;
	b->nslots = size >> VLB_SLOT_SHIFT;
	b->orig = kvcalloc(b->nslots, sizeof(*b->orig), GFP_KERNEL_ACCOUNT);
	b->len = kvcalloc(b->nslots, sizeof(*b->len), GFP_KERNEL_ACCOUNT);
	b->start = kvmalloc_array(b->nslots, sizeof(*b->start),
				  GFP_KERNEL_ACCOUNT);
	b->dir = kvcalloc(b->nslots, sizeof(*b->dir), GFP_KERNEL_ACCOUNT);
	b->live = bitmap_zalloc(b->nslots, GFP_KERNEL_ACCOUNT);
	rwlock_init(&b->area_lock);
	if (!b->orig || !b->len || !b->start || !b->dir || !b->live)
		return -ENOMEM;
	memset(b->start, 0xff, b->nslots * sizeof(*b->start));
	return vlb_iova_init(&b->iova_alloc, iova, size);
}

/*
 * Some drivers never unmap buffers the device still held at removal
 * (virtio_input's event buffers): their slots go back before the pool does.
 */
void vlb_bounce_destroy(struct vlb_bounce *b)
{
	unsigned long slot;

	/* a live mapping implies a pool: only a complete init made one */
	if (b->live) {
		for_each_set_bit(slot, b->live, b->nslots)
			vlb_iova_free(&b->iova_alloc, iova_of(b, slot),
				      b->len[slot]);
	}
	vlb_iova_destroy(&b->iova_alloc);
	kvfree(b->orig);
	kvfree(b->len);
	kvfree(b->start);
	kvfree(b->dir);
	bitmap_free(b->live);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The shadow ring: what the device process sees of a virtqueue.
 *
 * The virtio core's split ring is private kernel memory (dma.c allocates
 * it).  The device process sees a second split ring of the same size in the
 * shared area, written by the module:
 *
 *   publish  when the driver notifies, each new chain of the private ring
 *            is copied into the shadow ring (its descriptors already hold
 *            bounce IOVAs) and the head is made available there;
 *   harvest  when the device signals its call eventfd, each entry of the
 *            shadow used ring is checked (a head outstanding on this queue,
 *            returned once, with a length at most the chain's
 *            device-writable bytes) before it is written to the private
 *            used ring, where the driver will read it; with event index
 *            it then tells the device when to call next (coalesce.c).
 *
 * The kernel reads nothing else from the shadow ring but the notification
 * hints of the device (used->flags, avail_event), which can only cost the
 * device its own kicks.  Every loop is bounded by the ring size.
 *
 * The per-head bookkeeping here (outstanding, writable bytes, whether the
 * chain is a request) is the only truth when the device dies: the owed
 * requests are returned to the driver from it, without reading shared
 * memory.  Chains that are all device-writable (receive buffers, input
 * events, random bytes) are not requests: a device legitimately holds them,
 * and returning them would only make the driver post them again, forever.
 * Drivers reclaim those when they are removed.
 *
 * All functions run with lvq->lock held.
 */
#include <linux/bitmap.h>
#include <linux/gfp.h>
#include <linux/io.h>
#include <linux/slab.h>
#include <linux/virtio_ring.h>

#include "vloopback.h"

static u16 rd16(const __virtio16 *p)
{
	return le16_to_cpu((__force __le16)READ_ONCE(*p));
}

static void wr16(__virtio16 *p, u16 v)
{
	WRITE_ONCE(*p, (__force __virtio16)cpu_to_le16(v));
}

/* VERSION_1 is required, so every ring field is little-endian. */
static u32 rd32(const __virtio32 *p)
{
	return le32_to_cpu((__force __le32)READ_ONCE(*p));
}

/*
 * The virtio core's own rings, allocated through the transport's mapping
 * ops: private kernel memory.  The handle given back is only a cookie;
 * nothing outside the module ever sees these rings.
 */
void *vlb_ring_alloc(size_t size, gfp_t gfp, dma_addr_t *cookie)
{
	void *va = alloc_pages_exact(size, gfp | __GFP_ZERO | __GFP_ACCOUNT);

	if (va)
		*cookie = virt_to_phys(va);
	return va;
}

void vlb_ring_free(void *va, size_t size)
{
	free_pages_exact(va, size);
}

/* A zeroed shadow ring in the area's slot for this queue. */
static void shadow_ring_init(struct vlb_vq *lvq)
{
	struct vlb_shadow *sh = &lvq->shadow;
	void *va = vlb_shm_ring(lvq->ldev, lvq->index, &sh->iova);

	memset(va, 0, vring_size(sh->num, SMP_CACHE_BYTES));
	vring_init(&sh->ring, sh->num, va, SMP_CACHE_BYTES);
	sh->avail_pub = 0;
	sh->used_seen = 0;
}

int vlb_shadow_init(struct vlb_vq *lvq, struct virtqueue *vq)
{
	struct vlb_shadow *sh = &lvq->shadow;
	unsigned int num = virtqueue_get_vring_size(vq);

	memset(sh, 0, sizeof(*sh));
	sh->num = num;
	sh->event_idx = virtio_has_feature(vq->vdev, VIRTIO_RING_F_EVENT_IDX);
	sh->priv = virtqueue_get_vring(vq);
	sh->owed = bitmap_zalloc(num, GFP_KERNEL_ACCOUNT);
	sh->request = bitmap_zalloc(num, GFP_KERNEL_ACCOUNT);
	sh->wlen = kcalloc(num, sizeof(*sh->wlen), GFP_KERNEL_ACCOUNT);
	sh->since = kcalloc(num, sizeof(*sh->since), GFP_KERNEL_ACCOUNT);
	if (!sh->owed || !sh->request || !sh->wlen || !sh->since) {
		vlb_shadow_free(lvq);
		return -ENOMEM;
	}
	shadow_ring_init(lvq);
	return 0;
}

void vlb_shadow_free(struct vlb_vq *lvq)
{
	struct vlb_shadow *sh = &lvq->shadow;

	bitmap_free(sh->owed);
	bitmap_free(sh->request);
	kfree(sh->wlen);
	kfree(sh->since);
	memset(sh, 0, sizeof(*sh));
}

void vlb_shadow_addrs(const struct vlb_vq *lvq, struct vlb_vq_info *info)
{
	const struct vlb_shadow *sh = &lvq->shadow;
	const void *desc = sh->ring.desc;

	info->num = sh->num;
	info->desc = sh->iova;
	info->avail = sh->iova + ((const void *)sh->ring.avail - desc);
	info->used = sh->iova + ((const void *)sh->ring.used - desc);
}

/* Device-writable bytes and readability of an indirect table. */
static int scan_indirect(struct vlb_vq *lvq, u64 iova, u32 len, u64 *wlen,
			 bool *readable)
{
	const struct vlb_bounce *b = &lvq->ldev->shm.bounce;
	unsigned int i, k, m, n = len / sizeof(struct vring_desc);
	struct vring_desc d[8];

	if (!n || n > VLB_MAX_INDIRECT)
		return -EINVAL;
	/* a few entries per read: one mapping lookup for each, not per entry */
	for (i = 0; i < n; i += m) {
		m = min_t(unsigned int, n - i, ARRAY_SIZE(d));
		if (vlb_bounce_read_orig(b, iova + i * sizeof(d[0]), d,
					 m * sizeof(d[0])))
			return -EFAULT;
		for (k = 0; k < m; k++) {
			if (le16_to_cpu((__force __le16)d[k].flags) & VRING_DESC_F_WRITE)
				*wlen += le32_to_cpu((__force __le32)d[k].len);
			else
				*readable = true;
		}
	}
	return 0;
}

/*
 * Copy the chain at @head to the shadow descriptor table and, with
 * @account, note what it holds.  The private table is the virtio core's and
 * trusted; the walk is bounded anyway.
 */
static void walk_chain(struct vlb_vq *lvq, u16 head, bool copy, bool account)
{
	struct vlb_shadow *sh = &lvq->shadow;
	unsigned int i = head, steps = 0;
	bool readable = false;
	u64 wlen = 0;

	while (i < sh->num && steps++ < sh->num) {
		const struct vring_desc *d = &sh->priv->desc[i];
		u16 flags = rd16(&d->flags);
		u32 len = rd32(&d->len);

		if (copy)
			sh->ring.desc[i] = *d;
		if (!account) {
			/* nothing to note */
		} else if (flags & VRING_DESC_F_INDIRECT) {
			if (scan_indirect(lvq, le64_to_cpu((__force __le64)d->addr),
					  len, &wlen, &readable))
				dev_warn_ratelimited(&lvq->ldev->dev,
						     "queue %u: unreadable indirect table\n",
						     lvq->index);
		} else if (flags & VRING_DESC_F_WRITE) {
			wlen += len;
		} else {
			readable = true;
		}
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = rd16(&d->next);
	}
	if (!account)
		return;
	sh->wlen[head] = min_t(u64, wlen, U32_MAX);
	sh->since[head] = jiffies;
	__assign_bit(head, sh->request, readable);
	__set_bit(head, sh->owed);
	sh->requests += readable;
}

/*
 * Take what the driver made available since the last call.  With event
 * index, ask the driver for the next notification and look once more, so
 * a chain added meanwhile is never left without one.
 */
static unsigned int take_avail(struct vlb_vq *lvq, bool publish)
{
	struct vlb_shadow *sh = &lvq->shadow;
	const struct vring *pr = sh->priv;
	unsigned int taken = 0;
	u16 idx;

	for (;;) {
		idx = rd16(&pr->avail->idx);
		/* the entries below the index were written before it */
		virt_rmb();
		while (sh->avail_seen != idx && taken < sh->num) {
			u16 head = rd16(&pr->avail->ring[sh->avail_seen &
							 (sh->num - 1)]);

			sh->avail_seen++;
			if (head >= sh->num || test_bit(head, sh->owed)) {
				WARN_ONCE(1, "virtio_loopback: driver reused head %u\n",
					  head);
				continue;
			}
			walk_chain(lvq, head, publish, true);
			if (publish)
				wr16(&sh->ring.avail->ring[sh->avail_pub++ &
							   (sh->num - 1)], head);
			taken++;
		}
		if (!sh->event_idx)
			return taken;
		wr16(&vring_avail_event(pr), sh->avail_seen);
		/* publish the event before looking for what it may have missed */
		virt_mb();
		if (rd16(&pr->avail->idx) == sh->avail_seen || taken >= sh->num)
			return taken;
	}
}

/* Does the device want a kick for what was published since @old? */
static bool device_wants_kick(struct vlb_shadow *sh, u16 old)
{
	const struct vring *r = &sh->ring;

	/* the index is visible before we read the device's wish */
	virt_mb();
	if (sh->event_idx)
		return vring_need_event(rd16(&vring_avail_event(r)),
					sh->avail_pub, old);
	return !(rd16(&r->used->flags) & VRING_USED_F_NO_NOTIFY);
}

/* The driver notified: returns whether to kick the device. */
bool vlb_shadow_publish(struct vlb_vq *lvq)
{
	struct vlb_shadow *sh = &lvq->shadow;
	u16 old = sh->avail_pub;

	if (!take_avail(lvq, true))
		return false;
	/* the descriptors and entries before the index that publishes them */
	virt_wmb();
	wr16(&sh->ring.avail->idx, sh->avail_pub);
	return device_wants_kick(sh, old);
}

static void push_used(struct vlb_shadow *sh, u16 id, u32 len)
{
	struct vring_used_elem *e =
		&sh->priv->used->ring[sh->used_pub++ & (sh->num - 1)];

	WRITE_ONCE(e->id, (__force __virtio32)cpu_to_le32(id));
	WRITE_ONCE(e->len, (__force __virtio32)cpu_to_le32(len));
	__clear_bit(id, sh->owed);
	sh->requests -= test_bit(id, sh->request);
}

/* Make pushed entries visible; does the driver want an interrupt? */
static bool driver_wants_irq(struct vlb_shadow *sh, u16 old)
{
	const struct vring *pr = sh->priv;

	if (sh->used_pub == old)
		return false;
	/* the entries before the index that publishes them */
	virt_wmb();
	wr16(&pr->used->idx, sh->used_pub);
	/* the index is visible before we read the driver's wish */
	virt_mb();
	if (sh->event_idx)
		return vring_need_event(rd16(&vring_used_event(pr)),
					sh->used_pub, old);
	return !(rd16(&pr->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

/* Check one entry the device returned and pass it on. */
static int take_used(struct vlb_vq *lvq, u16 slot)
{
	struct vlb_shadow *sh = &lvq->shadow;
	const struct vring_used_elem *e = &sh->ring.used->ring[slot];
	u32 id = rd32(&e->id), len = rd32(&e->len);

	if (id >= sh->num || !test_bit(id, sh->owed)) {
		dev_warn_ratelimited(&lvq->ldev->dev,
				     "queue %u: used id %u was not outstanding\n",
				     lvq->index, id);
		return -EPROTO;
	}
	if (len > sh->wlen[id]) {
		dev_warn_ratelimited(&lvq->ldev->dev,
				     "queue %u: used length %u of id %u exceeds its %u writable bytes\n",
				     lvq->index, len, id, sh->wlen[id]);
		return -EPROTO;
	}
	push_used(sh, id, len);
	return 0;
}

/*
 * The device signalled: pass on what it returned.  -EPROTO if it returned
 * something it was not given (the caller fails the device; the entries
 * before the bad one were passed on).  *irq: the driver wants an interrupt.
 */
int vlb_shadow_harvest(struct vlb_vq *lvq, bool *irq)
{
	struct vlb_shadow *sh = &lvq->shadow;
	u16 old = sh->used_pub, idx;
	int err = 0;

	for (;;) {
		idx = rd16(&sh->ring.used->idx);
		if ((u16)(idx - sh->used_seen) > sh->num) {
			dev_warn_ratelimited(&lvq->ldev->dev,
					     "queue %u: used index %u is %u past the ring\n",
					     lvq->index, idx,
					     (u16)(idx - sh->used_seen));
			err = -EPROTO;
			break;
		}
		/* the entries below the index were written before it */
		virt_rmb();
		for (; sh->used_seen != idx; sh->used_seen++) {
			err = take_used(lvq, sh->used_seen & (sh->num - 1));
			if (err)
				goto out;
		}
		if (!sh->event_idx)
			break;
		/* ask for a call after the next batch, then look once more */
		wr16(&vring_used_event(&sh->ring),
		     sh->used_seen + vlb_coalesce_batch(lvq) - 1);
		/* the event is visible before we look for entries it missed */
		virt_mb();
		if (rd16(&sh->ring.used->idx) == sh->used_seen)
			break;
	}
out:
	*irq = driver_wants_irq(sh, old);
	return err;
}

/* Quiesced: what the driver adds is owed, for the next device process. */
void vlb_shadow_hold(struct vlb_vq *lvq)
{
	take_avail(lvq, false);
}

/*
 * The device is dead: return every owed request, and those the driver adds
 * from now on, with length 0 (the bounce layer hands back 0xff), reading
 * nothing the device could have written.  Returns whether to interrupt.
 */
bool vlb_shadow_fail(struct vlb_vq *lvq)
{
	struct vlb_shadow *sh = &lvq->shadow;
	u16 old = sh->used_pub;
	unsigned int head;

	take_avail(lvq, false);
	for_each_set_bit(head, sh->owed, sh->num)
		if (test_bit(head, sh->request))
			push_used(sh, head, 0);
	return driver_wants_irq(sh, old) || sh->used_pub != old;
}

/* Has the device held a request for longer than @limit jiffies? */
bool vlb_shadow_overdue(struct vlb_vq *lvq, unsigned long limit)
{
	struct vlb_shadow *sh = &lvq->shadow;
	unsigned int head;

	for_each_set_bit(head, sh->owed, sh->num)
		if (test_bit(head, sh->request) &&
		    time_after(jiffies, sh->since[head] + limit))
			return true;
	return false;
}

/*
 * A new device process (recovery) or a new back-end (the adapter
 * reconnected) starts from a fresh shadow ring holding exactly what is
 * owed, each chain once, at index 0.
 */
void vlb_shadow_restart(struct vlb_vq *lvq)
{
	struct vlb_shadow *sh = &lvq->shadow;
	unsigned int head;

	shadow_ring_init(lvq);
	for_each_set_bit(head, sh->owed, sh->num) {
		walk_chain(lvq, head, true, false);
		wr16(&sh->ring.avail->ring[sh->avail_pub++ & (sh->num - 1)],
		     head);
	}
	/* the entries before the index that publishes them */
	virt_wmb();
	wr16(&sh->ring.avail->idx, sh->avail_pub);
}

/* Does the device owe anything on this queue? */
bool vlb_shadow_owes(const struct vlb_vq *lvq)
{
	const struct vlb_shadow *sh = &lvq->shadow;

	return sh->owed && !bitmap_empty(sh->owed, sh->num);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * What the driver is owed when the device process dies.
 *
 * Drivers such as virtio_blk never time out a request: if the device side
 * vanished with requests in the ring, removing the disk would wait for them
 * forever.  So the module counts, per descriptor head, how often the driver
 * made it available and how often the device returned it (scanning the avail
 * ring at every kick and the used ring at every call), and once the device is
 * dead it stands in for it: every owed request is returned with length 0
 * after the shared area was poisoned, so the driver reads an error status.
 *
 * Only chains with a device-readable part are requests.  Chains that are
 * all device-writable are receive buffers (input events, rx packets, random
 * bytes) that a device legitimately holds: returning them would only make
 * the driver post them again, forever.  Drivers reclaim those on removal.
 *
 * The counts are only as good as the scans: a window larger than the ring
 * (the device polling without kicks while the driver polls without calls)
 * marks the queue untracked, and it is then failed on a best-effort basis.
 * The used ring is checked on its way to the driver (vlb_inflight_used):
 * a device returning heads it was never given is failed before the virtio
 * core sees them.  All functions here run with lvq->lock held.
 */
#include <linux/virtio_ring.h>

#include "vloopback.h"

static u16 window(struct vlb_vq *lvq, u16 idx, u16 *seen)
{
	u16 n = idx - *seen;

	if (n > lvq->vring->num) {
		lvq->untracked = true;
		*seen = idx - lvq->vring->num;
		n = lvq->vring->num;
	}
	return n;
}

void vlb_inflight_avail(struct vlb_vq *lvq)
{
	const struct vring *vr = lvq->vring;
	u16 n;

	if (!vr)
		return;
	n = window(lvq, le16_to_cpu(READ_ONCE(vr->avail->idx)),
		   &lvq->avail_seen);
	/* entries below the index were written before it: read them after */
	virt_rmb();
	for (; n; n--, lvq->avail_seen++) {
		u16 slot = lvq->avail_seen & (vr->num - 1);
		u16 head = le16_to_cpu(READ_ONCE(vr->avail->ring[slot]));

		if (head < vr->num)
			lvq->owed[head]++;
	}
}

/*
 * Count what the device returned.  An entry for a head the driver does not
 * have in flight would make the virtio core break the queue, and then
 * nothing, not even removal, could complete the requests still in it: stop
 * at it and return false, so the caller fails the device before the driver
 * reads the entry.  used_seen stays at the first entry not vouched for.
 */
bool vlb_inflight_used(struct vlb_vq *lvq)
{
	const struct vring *vr = lvq->vring;
	u16 n;

	if (!vr)
		return true;
	n = window(lvq, le16_to_cpu(READ_ONCE(vr->used->idx)),
		   &lvq->used_seen);
	/* same order as the driver: the index, then the entries below it */
	virt_rmb();
	for (; n; n--, lvq->used_seen++) {
		u16 slot = lvq->used_seen & (vr->num - 1);
		u32 id = le32_to_cpu(READ_ONCE(vr->used->ring[slot].id));

		if (id >= vr->num || (!lvq->owed[id] && !lvq->untracked))
			return false;
		if (lvq->owed[id])
			lvq->owed[id]--;
	}
	return true;
}

/*
 * Does the chain at @head carry anything the device was meant to read?
 * With @poison, also fill what the device was meant to write with 0xff, so
 * the driver reads an error status back (0xff is no valid status in the
 * common request formats).  The walk is bounded by the ring size and the
 * indirect table's length, and every address is checked against the area.
 */
static bool walk_chain(struct vlb_vq *lvq, u16 head, bool poison)
{
	const struct vring *vr = lvq->vring;
	struct vring_desc *d = vr->desc;
	unsigned int i = head, n = vr->num, steps = 0;
	bool request = false;

	while (i < n && steps++ < n) {
		u16 flags = le16_to_cpu(READ_ONCE(d[i].flags));
		u64 addr = le64_to_cpu(READ_ONCE(d[i].addr));
		u32 len = le32_to_cpu(READ_ONCE(d[i].len));
		void *buf = vlb_shm_iova_to_va(&lvq->ldev->shm, addr, len);

		if (!buf)
			return true;	/* unreadable: returning it is the safe side */
		if ((flags & VRING_DESC_F_INDIRECT) && d == vr->desc) {
			d = buf;
			n = len / sizeof(*d);
			i = 0;
			steps = 0;	/* the indirect table starts a new walk */
			continue;
		}
		if (!(flags & VRING_DESC_F_WRITE))
			request = true;
		else if (poison)
			memset(buf, 0xff, len);
		if (!(flags & VRING_DESC_F_NEXT))
			return request;
		i = le16_to_cpu(READ_ONCE(d[i].next));
	}
	return true;
}

static void push_used(struct vlb_vq *lvq, u16 head)
{
	const struct vring *vr = lvq->vring;
	u16 idx = le16_to_cpu(READ_ONCE(vr->used->idx));
	struct vring_used_elem *e = &vr->used->ring[idx & (vr->num - 1)];

	WRITE_ONCE(e->id, cpu_to_le32(head));
	WRITE_ONCE(e->len, 0);
	/* the driver must see the entry before the index that publishes it */
	virt_wmb();
	WRITE_ONCE(vr->used->idx, cpu_to_le16(idx + 1));
	/* our own entry must not be counted again as a return */
	lvq->used_seen = idx + 1;
}

/*
 * A dead device must hear every kick: it may have died asking not to be
 * kicked (VRING_USED_F_NO_NOTIFY, or an avail_event left behind), and then
 * requests added from now on would never reach vlb_vq_notify().  Ask for the
 * next one, and look again in case the driver added one meanwhile.
 */
static void want_every_kick(struct vlb_vq *lvq)
{
	const struct vring *vr = lvq->vring;
	u16 idx;

	WRITE_ONCE(vr->used->flags, 0);
	do {
		vlb_inflight_avail(lvq);
		idx = lvq->avail_seen;
		WRITE_ONCE(vring_avail_event(vr), cpu_to_le16(idx));
		/* publish the event before looking for what it may have missed */
		virt_mb();
	} while (le16_to_cpu(READ_ONCE(vr->avail->idx)) != idx);
}

/*
 * Return every owed request to the driver.  The device is dead and user
 * space no longer maps the area, so the module is the only writer of the
 * used ring.  Returns how many were returned: the caller raises the irq.
 */
unsigned int vlb_inflight_fail(struct vlb_vq *lvq)
{
	unsigned int head, done = 0;

	if (!lvq->vring)
		return 0;
	want_every_kick(lvq);
	/* what the device wrote past a bad entry is dropped with it */
	if (!vlb_inflight_used(lvq))
		WRITE_ONCE(lvq->vring->used->idx, cpu_to_le16(lvq->used_seen));
	for (head = 0; head < lvq->vring->num; head++) {
		if (!lvq->owed[head] || !walk_chain(lvq, head, false))
			continue;
		walk_chain(lvq, head, true);
		lvq->owed[head]--;
		push_used(lvq, head);
		done++;
	}
	return done;
}

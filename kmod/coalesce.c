// SPDX-License-Identifier: GPL-2.0
/*
 * Notification moderation: fewer calls from the device, fewer interrupts
 * for the driver, with no wait at low depth.
 *
 * With VIRTIO_RING_F_EVENT_IDX the module decides, through the shadow
 * ring's used_event, after which returned entry the device is to signal
 * its call eventfd.  While few requests are outstanding it asks for a call
 * at the next entry, as the driver itself does.  Under load, with N
 * requests outstanding, it asks for a call only once N/2 more have come
 * back (at most coalesce_max): the device keeps half its queue busy while
 * the driver takes a batch, and neither writes an eventfd nor takes an
 * interrupt per request.
 *
 * A timer bounds the wait when the rest of a batch is slow to come (a
 * flush among reads, a device that stopped): when it fires, what was
 * returned is taken.  A harvest that asks for a batch starts it unless it
 * is running, for twice the time the batch should take at the rate entries
 * came back lately (a moving average per queue), never longer than
 * coalesce_usecs: a stall costs a completion at most that long.  A batch
 * asked for while it runs keeps the earlier expiry and may end early:
 * restarting the timer at every harvest, or moving its expiry on, did not
 * lower the harvests per I/O (tests/bench/results/module-time.md).  A late
 * batch sends the queue back to a call per entry until the device calls
 * again, so a device that holds its requests (a slow disk, a stalled one)
 * costs one timer per call, not a timer every few microseconds.
 *
 * The batch follows the load by itself, request by request; both knobs
 * are module parameters, coalesce_max=1 switching moderation off.
 */
#include <linux/hrtimer.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/module.h>

#include "compat.h"
#include "vloopback.h"

static unsigned int coalesce_max = 16;
module_param(coalesce_max, uint, 0644);
MODULE_PARM_DESC(coalesce_max,
		 "most completions the device returns per call under load (1: a call per completion; default 16)");

static unsigned int coalesce_usecs = 500;
module_param(coalesce_usecs, uint, 0644);
MODULE_PARM_DESC(coalesce_usecs,
		 "longest a completion waits for the rest of its batch (µs, 1-10000, default 500)");

/* After how many more returned entries the device is to call. */
u16 vlb_coalesce_batch(const struct vlb_vq *lvq)
{
	unsigned int max = clamp(READ_ONCE(coalesce_max), 1U, 256U);

	/* without event index the device calls at every entry anyway */
	if (lvq->late || !lvq->shadow.event_idx)
		return 1;
	return clamp(lvq->shadow.requests / 2U, 1U, max);
}

static enum hrtimer_restart vlb_coalesce_expired(struct hrtimer *timer)
{
	vlb_vq_take(container_of(timer, struct vlb_vq, coalesce), true);
	return HRTIMER_NORESTART;
}

void vlb_coalesce_init(struct vlb_vq *lvq)
{
	vlb_compat_hrtimer_setup(&lvq->coalesce, vlb_coalesce_expired,
				 CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
}

/* A harvest took @taken entries: follow the rate they come back at. */
void vlb_coalesce_note(struct vlb_vq *lvq, u16 taken)
{
	u64 now, gap;

	if (!taken)
		return;
	now = ktime_get_ns();
	gap = min_t(u64, div_u64(now - lvq->took_ns, taken), 10 * NSEC_PER_MSEC);
	lvq->took_ns = now;
	/* over about the last eight harvests */
	lvq->entry_ns += (s64)(gap - lvq->entry_ns) / 8;
}

/* A batch was asked for: bound its wait.  Called with lvq->lock held. */
void vlb_coalesce_arm(struct vlb_vq *lvq)
{
	u64 max = clamp(READ_ONCE(coalesce_usecs), 1U, 10000U) * NSEC_PER_USEC;
	u16 batch = vlb_coalesce_batch(lvq);
	u64 ns = 2ULL * batch * lvq->entry_ns;

	if (batch > 1 && !hrtimer_is_queued(&lvq->coalesce))
		hrtimer_start(&lvq->coalesce, clamp_t(u64, ns, 10 * NSEC_PER_USEC, max),
			      HRTIMER_MODE_REL_HARD);
}

/*
 * No timer is pending or running after this; it is re-armed only by a
 * harvest, which needs lvq->vq set.
 */
void vlb_coalesce_cancel(struct vlb_vq *lvq)
{
	hrtimer_cancel(&lvq->coalesce);
}

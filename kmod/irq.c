// SPDX-License-Identifier: GPL-2.0
/*
 * The data plane: kick and call eventfds, with no process in between.
 *
 * Kick: when the driver notifies a queue, the module signals the kick
 * eventfd the device process gave; whoever polls it (the device process, or
 * the vhost-user backend it was handed to) sees the new buffers.
 *
 * Call: the module waits on the call eventfd in-kernel, the way KVM's irqfd
 * does.  A write to it queues an irq_work that runs vring_interrupt() in
 * hard interrupt context, like a real device's interrupt.  The wakeup itself
 * must not call into the driver: it runs under the eventfd's lock with
 * current->in_eventfd set, and drivers kick (signal another eventfd) from
 * their callbacks.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/poll.h>

#include "compat.h"
#include "vloopback.h"

/*
 * Take what the device returned and interrupt the driver if it wants it.
 * Runs in hard interrupt context: the call's irq_work, or the moderation
 * timer (coalesce.c) when a batch is @late.
 */
void vlb_vq_take(struct vlb_vq *lvq, bool late)
{
	struct vlb_device *ldev = lvq->ldev;
	struct virtqueue *vq;
	bool irq = false;
	int err = 0;

	spin_lock(&lvq->lock);
	vq = lvq->vq;
	/* nothing reaches the driver before DRIVER_OK or after a reset */
	if (vq && !(READ_ONCE(ldev->status) & VIRTIO_CONFIG_S_DRIVER_OK))
		vq = NULL;
	if (vq && READ_ONCE(ldev->dead)) {
		irq = vlb_shadow_fail(lvq);
	} else if (vq && !lvq->broken && !lvq->held) {
		u16 old = lvq->shadow.used_pub;

		lvq->late = late;
		err = vlb_shadow_harvest(lvq, &irq);
		vlb_coalesce_note(lvq, lvq->shadow.used_pub - old);
		if (!err)
			vlb_coalesce_arm(lvq);
	}
	if (err)
		lvq->broken = true;
	irq |= vq && lvq->irq_pending;
	lvq->irq_pending = false;
	spin_unlock(&lvq->lock);
	if (err)
		vlb_dev_fail_async(ldev);
	/* del_vqs clears lvq->vq, then waits for this with vlb_vq_sync */
	if (irq)
		vring_interrupt(0, vq);
}

/* Take what the device returned, from process context; false if broken */
static bool vlb_vq_harvest_locked(struct vlb_vq *lvq)
{
	bool irq = false;

	if (!lvq->vq || lvq->broken)
		return !lvq->broken;
	if (vlb_shadow_harvest(lvq, &irq))
		lvq->broken = true;
	lvq->irq_pending |= irq;
	return !lvq->broken;
}

/*
 * The device process went: pass on what it completed, then keep what the
 * driver adds owed for the next one.  False if it had returned something
 * it was not given.
 */
bool vlb_vq_hold(struct vlb_vq *lvq)
{
	bool sane;

	spin_lock_irq(&lvq->lock);
	lvq->held = true;
	sane = vlb_vq_harvest_locked(lvq);
	spin_unlock_irq(&lvq->lock);
	irq_work_queue(&lvq->irq_work);
	return sane;
}

/*
 * A new device process or back-end: pass on what the old one completed,
 * give the new one a shadow ring holding exactly what is owed, and kick.
 */
bool vlb_vq_restart(struct vlb_vq *lvq)
{
	bool sane;

	spin_lock_irq(&lvq->lock);
	sane = vlb_vq_harvest_locked(lvq);
	if (sane && lvq->vq) {
		vlb_shadow_restart(lvq);
		if (lvq->kick && vlb_shadow_owes(lvq))
			vlb_compat_eventfd_signal(lvq->kick);
	}
	spin_unlock_irq(&lvq->lock);
	irq_work_queue(&lvq->irq_work);
	return sane;
}

/* Recovered: the new process's shadow ring holds what is owed; publish. */
void vlb_vq_resume(struct vlb_vq *lvq)
{
	spin_lock_irq(&lvq->lock);
	if (lvq->vq)
		vlb_shadow_restart(lvq);
	lvq->held = false;
	spin_unlock_irq(&lvq->lock);
}

static void vlb_vq_irq(struct irq_work *work)
{
	vlb_vq_take(container_of(work, struct vlb_vq, irq_work), false);
}

/*
 * Wait until nothing runs vlb_vq_take() for this queue.  Only a harvest
 * arms the timer, and none happens once lvq->vq is NULL or the device is
 * dead: callers see to one or the other first.
 */
void vlb_vq_sync(struct vlb_vq *lvq)
{
	vlb_coalesce_cancel(lvq);
	irq_work_sync(&lvq->irq_work);
	vlb_coalesce_cancel(lvq);
}

static int vlb_call_wakeup(wait_queue_entry_t *wait, unsigned int mode,
			   int sync, void *key)
{
	struct vlb_vq *lvq = container_of(wait, struct vlb_vq, call_wait);
	u64 count;

	if (!(key_to_poll(key) & EPOLLIN))
		return 0;
	/* we hold the eventfd's wait queue lock here, as do_read requires */
	eventfd_ctx_do_read(lvq->call, &count);
	irq_work_queue(&lvq->irq_work);
	return 0;
}

static void vlb_call_queue(struct file *file, wait_queue_head_t *wqh,
			   poll_table *pt)
{
	struct vlb_vq *lvq = container_of(pt, struct vlb_vq, call_pt);

	add_wait_queue(wqh, &lvq->call_wait);
}

void vlb_vq_init(struct vlb_vq *lvq, struct vlb_device *ldev,
		 unsigned int index)
{
	lvq->ldev = ldev;
	lvq->index = index;
	spin_lock_init(&lvq->lock);
	init_irq_work(&lvq->irq_work, vlb_vq_irq);
	vlb_coalesce_init(lvq);
	init_waitqueue_func_entry(&lvq->call_wait, vlb_call_wakeup);
	init_poll_funcptr(&lvq->call_pt, vlb_call_queue);
}

static void vlb_call_detach(struct vlb_vq *lvq)
{
	u64 count;

	if (!lvq->call)
		return;
	eventfd_ctx_remove_wait_queue(lvq->call, &lvq->call_wait, &count);
	eventfd_ctx_put(lvq->call);
	lvq->call = NULL;
	irq_work_sync(&lvq->irq_work);
}

/* Watch @file, an eventfd whose context is @ctx; takes over the reference. */
static void vlb_call_attach(struct vlb_vq *lvq, struct file *file,
			    struct eventfd_ctx *ctx)
{
	__poll_t events;

	lvq->call = ctx;
	events = vfs_poll(file, &lvq->call_pt);
	/* a completion signalled before we watched must not be lost */
	if (events & EPOLLIN)
		irq_work_queue(&lvq->irq_work);
}

static struct eventfd_ctx *vlb_call_get(int fd, struct file **file)
{
	struct eventfd_ctx *ctx;

	*file = fget(fd);
	if (!*file)
		return ERR_PTR(-EBADF);
	ctx = eventfd_ctx_fileget(*file);
	if (IS_ERR(ctx))
		fput(*file);
	return ctx;
}

/*
 * A new kick eventfd hears at once of what is already owed: after a
 * recovery the new process finds its shadow ring full.
 */
static void vlb_kick_swap(struct vlb_vq *lvq, struct eventfd_ctx *ctx)
{
	struct eventfd_ctx *old;

	spin_lock_irq(&lvq->lock);
	old = lvq->kick;
	lvq->kick = ctx;
	if (ctx && lvq->vq && vlb_shadow_owes(lvq))
		vlb_compat_eventfd_signal(ctx);
	spin_unlock_irq(&lvq->lock);
	if (old)
		eventfd_ctx_put(old);
}

/*
 * kick_fd/call_fd: an eventfd, or -1 to detach.  Both are checked before
 * anything changes.  Caller holds fds_lock.
 */
int vlb_vq_set_fds(struct vlb_vq *lvq, int kick_fd, int call_fd)
{
	struct eventfd_ctx *kick = NULL, *call = NULL;
	struct file *call_file = NULL;

	if (kick_fd >= 0) {
		kick = eventfd_ctx_fdget(kick_fd);
		if (IS_ERR(kick))
			return PTR_ERR(kick);
	}
	if (call_fd >= 0) {
		call = vlb_call_get(call_fd, &call_file);
		if (IS_ERR(call)) {
			if (kick)
				eventfd_ctx_put(kick);
			return PTR_ERR(call);
		}
	}
	vlb_call_detach(lvq);
	if (call) {
		vlb_call_attach(lvq, call_file, call);
		fput(call_file);
	}
	vlb_kick_swap(lvq, kick);
	return 0;
}

void vlb_vq_release_fds(struct vlb_vq *lvq)
{
	vlb_call_detach(lvq);
	vlb_kick_swap(lvq, NULL);
}

/* virtqueue notify callback: may run in atomic context */
bool vlb_vq_notify(struct virtqueue *vq)
{
	struct vlb_vq *lvq = vq->priv;
	unsigned long flags;
	bool fail = false;

	spin_lock_irqsave(&lvq->lock, flags);
	if (READ_ONCE(lvq->ldev->dead)) {
		fail = vlb_shadow_fail(lvq);
		lvq->irq_pending |= fail;
	} else if (lvq->held) {
		/* owed, published to whoever recovers the device */
		vlb_shadow_hold(lvq);
	} else if (vlb_shadow_publish(lvq) && lvq->kick) {
		vlb_compat_eventfd_signal(lvq->kick);
	}
	spin_unlock_irqrestore(&lvq->lock, flags);
	if (fail)
		irq_work_queue(&lvq->irq_work);
	return true;
}

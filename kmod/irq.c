// SPDX-License-Identifier: GPL-2.0
/*
 * The data plane: kick and call eventfds, with no process in between.
 *
 * Kick: when the driver notifies a queue, the module signals the kick
 * eventfd the device process gave; whoever polls it (the device process, or
 * the vhost-user backend it was handed to) sees the new buffers.
 *
 * Call: the module waits on the call eventfd in-kernel, the way KVM's irqfd
 * does.  A write to it runs vring_interrupt() in hard interrupt context,
 * like a real device's interrupt, on the CPU that last kicked the queue
 * (where the driver submitted; an IPI, as MSI routing would deliver it) or,
 * when that is this CPU, through an irq_work.  The device's thread then
 * goes on completing while the driver takes its interrupt elsewhere, and
 * EVENT_IDX spares it a notification per request.  The wakeup itself must
 * not call into the driver: it runs under the eventfd's lock with
 * current->in_eventfd set, and drivers kick (signal another eventfd) from
 * their callbacks.  As with one interrupt line, the handler never runs on
 * two CPUs at once for a queue.
 */
#include <linux/eventfd.h>
#include <linux/file.h>
#include <linux/poll.h>
#include <linux/smp.h>

#include "compat.h"
#include "vloopback.h"

static void vlb_vq_interrupt_once(struct vlb_vq *lvq)
{
	struct virtqueue *vq;
	bool sane = true;

	spin_lock(&lvq->lock);
	vq = lvq->vq;
	if (vq) {
		vlb_inflight_avail(lvq);
		sane = vlb_inflight_used(lvq);
	}
	spin_unlock(&lvq->lock);
	if (!sane) {
		vlb_dev_fail_async(lvq->ldev);
		return;
	}
	/* del_vqs clears lvq->vq, then waits for us with vlb_vq_irq_sync */
	if (vq)
		vring_interrupt(0, vq);
}

/* One CPU at a time: a CPU asking meanwhile makes the runner go round again */
static void vlb_vq_interrupt(struct vlb_vq *lvq)
{
	if (atomic_inc_return(&lvq->irq_req) != 1)
		return;
	do {
		atomic_xchg(&lvq->irq_req, 1);	/* ordered before the ring reads */
		vlb_vq_interrupt_once(lvq);
	} while (atomic_cmpxchg(&lvq->irq_req, 1, 0) != 1);
}

static void vlb_vq_irq(struct irq_work *work)
{
	vlb_vq_interrupt(container_of(work, struct vlb_vq, irq_work));
}

static void vlb_vq_csd(void *info)
{
	struct vlb_vq *lvq = info;

	clear_bit(0, &lvq->csd_queued);
	/* a wakeup from now on sends again: our ring reads come after this */
	smp_mb__after_atomic();
	vlb_vq_interrupt(lvq);
	atomic_dec(&lvq->csd_refs);	/* the last access to lvq */
}

/* Interrupt on cpu; false if it cannot take it (offline) */
static bool vlb_vq_send(struct vlb_vq *lvq, int cpu)
{
	/* One on its way reads the ring after our caller's writes */
	if (test_and_set_bit(0, &lvq->csd_queued))
		return true;
	atomic_inc(&lvq->csd_refs);
	if (!smp_call_function_single_async(cpu, &lvq->csd))
		return true;
	clear_bit(0, &lvq->csd_queued);
	atomic_dec(&lvq->csd_refs);
	return false;
}

/* Run the driver's callback soon, in hard interrupt context */
static void vlb_vq_raise(struct vlb_vq *lvq)
{
	int cpu = READ_ONCE(lvq->kick_cpu);

	if (cpu < 0 || cpu == smp_processor_id() || !vlb_vq_send(lvq, cpu))
		irq_work_queue(&lvq->irq_work);
}

/* Wait until no interrupt of the queue is queued or running */
void vlb_vq_irq_sync(struct vlb_vq *lvq)
{
	irq_work_sync(&lvq->irq_work);
	while (atomic_read(&lvq->csd_refs))
		cpu_relax();
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
	vlb_vq_raise(lvq);
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
	lvq->kick_cpu = -1;
	INIT_CSD(&lvq->csd, vlb_vq_csd, lvq);
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
	vlb_vq_irq_sync(lvq);
}

static int vlb_call_attach(struct vlb_vq *lvq, int fd)
{
	struct eventfd_ctx *ctx;
	struct file *file;
	__poll_t events;

	file = fget(fd);
	if (!file)
		return -EBADF;
	ctx = eventfd_ctx_fileget(file);
	if (IS_ERR(ctx)) {
		fput(file);
		return PTR_ERR(ctx);
	}
	lvq->call = ctx;
	events = vfs_poll(file, &lvq->call_pt);
	fput(file);
	/* a completion signalled before we watched must not be lost */
	if (events & EPOLLIN)
		irq_work_queue(&lvq->irq_work);
	return 0;
}

static void vlb_kick_swap(struct vlb_vq *lvq, struct eventfd_ctx *ctx)
{
	struct eventfd_ctx *old;

	spin_lock_irq(&lvq->lock);
	old = lvq->kick;
	lvq->kick = ctx;
	spin_unlock_irq(&lvq->lock);
	if (old)
		eventfd_ctx_put(old);
}

/* kick_fd/call_fd: an eventfd, or -1 to detach.  Caller holds fds_lock. */
int vlb_vq_set_fds(struct vlb_vq *lvq, int kick_fd, int call_fd)
{
	struct eventfd_ctx *kick = NULL;
	int err;

	if (kick_fd >= 0) {
		kick = eventfd_ctx_fdget(kick_fd);
		if (IS_ERR(kick))
			return PTR_ERR(kick);
	}
	vlb_call_detach(lvq);
	if (call_fd >= 0) {
		err = vlb_call_attach(lvq, call_fd);
		if (err) {
			if (kick)
				eventfd_ctx_put(kick);
			return err;
		}
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
	WRITE_ONCE(lvq->kick_cpu, smp_processor_id());
	vlb_inflight_avail(lvq);
	if (READ_ONCE(lvq->ldev->dead))
		fail = vlb_inflight_fail(lvq) > 0;
	else if (lvq->kick)
		vlb_compat_eventfd_signal(lvq->kick);
	spin_unlock_irqrestore(&lvq->lock, flags);
	if (fail)
		irq_work_queue(&lvq->irq_work);
	return true;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Messages to the device process: the kernel tells, user space answers.
 *
 * The kernel keeps the device state; the device process learns of changes
 * by read()ing struct vlb_msg from its device fd, and answers the ones that
 * carry VLB_MSG_F_REPLY by write()ing a struct vlb_reply.  Every wait for an
 * answer is bounded: a device process that does not answer in time is
 * declared dead (vlb_dev_fail), which also wakes every other waiter.
 */
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "vloopback.h"

struct vlb_msg_slot {
	struct list_head node;
	struct vlb_msg msg;
	bool needs_reply;
	bool done;
	int result;
};

/* false: the device is dead (checked under the lock vlb_dev_fail sets it) */
static bool msg_queue(struct vlb_device *ldev, struct vlb_msg_slot *s)
{
	spin_lock(&ldev->msg_lock);
	if (ldev->dead) {
		spin_unlock(&ldev->msg_lock);
		return false;
	}
	s->msg.seq = ++ldev->msg_seq;
	list_add_tail(&s->node, &ldev->msg_queue);
	spin_unlock(&ldev->msg_lock);
	wake_up_interruptible_poll(&ldev->msg_readq, EPOLLIN | EPOLLRDNORM);
	return true;
}

/* Send @m and wait for the device process's answer: 0 or -errno. */
int vlb_msg_call(struct vlb_device *ldev, struct vlb_msg *m)
{
	struct vlb_msg_slot s = { .msg = *m, .needs_reply = true };
	unsigned long timeout = msecs_to_jiffies(vlb_reply_timeout_ms());
	long left;

	s.msg.flags |= VLB_MSG_F_REPLY;
	if (!msg_queue(ldev, &s))
		return -ENODEV;
	left = wait_event_timeout(ldev->msg_replyq,
				  READ_ONCE(s.done) || READ_ONCE(ldev->dead),
				  timeout);
	spin_lock(&ldev->msg_lock);
	list_del(&s.node);	/* still queued or sent, unless answered */
	spin_unlock(&ldev->msg_lock);
	if (s.done)
		return s.result;
	if (!left)
		vlb_dev_fail(ldev, "the device process did not answer in time");
	return -ENODEV;
}

/* Tell the device process something that needs no answer. */
int vlb_msg_post(struct vlb_device *ldev, const struct vlb_msg *m)
{
	struct vlb_msg_slot *s;

	if (READ_ONCE(ldev->dead))
		return -ENODEV;
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->msg = *m;
	if (!msg_queue(ldev, s)) {
		kfree(s);
		return -ENODEV;
	}
	return 0;
}

/*
 * Take the first queued message into @m.  A slot waiting for a reply lives
 * on its waiter's stack: it moves to msg_sent in the same critical section,
 * so it is never off-list while unlocked, and the waiter unlinks it under
 * msg_lock before returning.  A slot needing no reply is returned: the
 * reader owns it from then on.
 */
static bool msg_take(struct vlb_device *ldev, struct vlb_msg *m,
		     struct vlb_msg_slot **owned)
{
	struct vlb_msg_slot *s;

	*owned = NULL;
	spin_lock(&ldev->msg_lock);
	s = list_first_entry_or_null(&ldev->msg_queue, struct vlb_msg_slot,
				     node);
	if (s) {
		*m = s->msg;
		list_del_init(&s->node);
		if (s->needs_reply)
			list_add_tail(&s->node, &ldev->msg_sent);
		else
			*owned = s;
	}
	spin_unlock(&ldev->msg_lock);
	return s;
}

static bool msg_ready(struct vlb_device *ldev)
{
	/* pairs with vlb_dev_fail(): user space hears once the area is revoked */
	return smp_load_acquire(&ldev->gone) || !list_empty_careful(&ldev->msg_queue);
}

ssize_t vlb_msg_read(struct vlb_device *ldev, char __user *buf, size_t len,
		     bool nonblock)
{
	struct vlb_msg_slot *owned;
	struct vlb_msg m;
	int err;

	if (len < sizeof(m))
		return -EINVAL;
	for (;;) {
		/* pairs with vlb_dev_fail(), as in msg_ready() */
		if (smp_load_acquire(&ldev->gone))
			return -ENODEV;
		if (msg_take(ldev, &m, &owned))
			break;
		if (nonblock)
			return -EAGAIN;
		err = wait_event_interruptible(ldev->msg_readq,
					       msg_ready(ldev));
		if (err)
			return err;
	}
	/* a lost message needing a reply ends in the waiter's timeout */
	if (copy_to_user(buf, &m, sizeof(m))) {
		if (owned) {
			spin_lock(&ldev->msg_lock);
			list_add(&owned->node, &ldev->msg_queue);
			spin_unlock(&ldev->msg_lock);
		}
		return -EFAULT;
	}
	kfree(owned);
	return sizeof(m);
}

ssize_t vlb_msg_write(struct vlb_device *ldev, const char __user *buf,
		      size_t len)
{
	struct vlb_msg_slot *s, *found = NULL;
	struct vlb_reply r;

	if (len != sizeof(r))
		return -EINVAL;
	if (copy_from_user(&r, buf, sizeof(r)))
		return -EFAULT;
	if (memchr_inv(r.reserved, 0, sizeof(r.reserved)) ||
	    r.result > 0 || r.result < -MAX_ERRNO)
		return -EINVAL;
	/* codes above 511 are the kernel's own (-EPROBE_DEFER, -ERESTARTSYS) */
	if (r.result < -511)
		r.result = -EIO;

	spin_lock(&ldev->msg_lock);
	list_for_each_entry(s, &ldev->msg_sent, node) {
		if (s->msg.seq == r.seq) {
			found = s;
			s->result = r.result;
			list_del_init(&s->node);
			WRITE_ONCE(s->done, true);
			break;
		}
	}
	spin_unlock(&ldev->msg_lock);
	if (!found)
		return -ENOENT;	/* never asked, or the waiter gave up */
	wake_up(&ldev->msg_replyq);
	return sizeof(r);
}

__poll_t vlb_msg_poll(struct vlb_device *ldev, struct file *file,
		      poll_table *wait)
{
	__poll_t mask = 0;

	poll_wait(file, &ldev->msg_readq, wait);
	/* pairs with vlb_dev_fail(), as in msg_ready() */
	if (smp_load_acquire(&ldev->gone))
		mask |= EPOLLHUP | EPOLLERR;
	if (!list_empty_careful(&ldev->msg_queue))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

/* Free the queued messages that need no reply. */
void vlb_msg_drain(struct vlb_device *ldev)
{
	struct vlb_msg_slot *s, *tmp;

	spin_lock(&ldev->msg_lock);
	list_for_each_entry_safe(s, tmp, &ldev->msg_queue, node) {
		if (!s->needs_reply) {
			list_del(&s->node);
			kfree(s);
		}
	}
	spin_unlock(&ldev->msg_lock);
}

/* The device is dead: release waiters and drop messages nobody will read. */
void vlb_msg_flush(struct vlb_device *ldev)
{
	vlb_msg_drain(ldev);
	wake_up_all(&ldev->msg_replyq);
	wake_up_interruptible_poll(&ldev->msg_readq, EPOLLHUP | EPOLLERR);
}

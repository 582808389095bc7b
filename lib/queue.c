// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Queues of an in-process device: dispatch rounds, requests, completions
 * and interrupts.  The ring itself is vring.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "device_priv.h"
#include "internal.h"

/* The queue whose round runs on this thread: its completions wait for the end */
static __thread struct vlb_queue *round_queue;

int vlb_queue_setup(struct vlb_dev *dev, struct vlb_queue *q,
		    unsigned int index)
{
	q->dev = dev;
	q->index = index;
	q->kick_fd = -1;
	q->call_fd = -1;
	q->vring.broken = true;		/* nothing to touch before DRIVER_OK */
	pthread_mutex_init(&q->round_lock, NULL);
	pthread_mutex_init(&q->ring_lock, NULL);
	q->slots = calloc(dev->queue_size, sizeof(*q->slots));
	if (!q->slots)
		return -ENOMEM;
	q->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	q->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->kick_fd < 0 || q->call_fd < 0)
		return -errno;
	return 0;
}

void vlb_queue_cleanup(struct vlb_queue *q)
{
	struct vlb_req_priv *r;
	unsigned int i;

	if (q->slots)
		for (i = 0; i < q->dev->queue_size; i++)
			free(q->slots[i]);
	free(q->slots);
	while ((r = q->stale)) {
		q->stale = r->next_stale;
		free(r);
	}
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	if (q->call_fd >= 0)
		close(q->call_fd);
	pthread_mutex_destroy(&q->round_lock);
	pthread_mutex_destroy(&q->ring_lock);
}

static void break_queue(struct vlb_queue *q, const char *why)
{
	q->vring.broken = true;
	vlb_err("virtio device type %u, queue %u: %s: the queue stops until the driver resets it",
		q->dev->device_id, q->index, why);
}

int vlb_queue_start(struct vlb_queue *q, const struct vlb_vq_info *info)
{
	struct vlb_dev *dev = q->dev;
	int rc;

	if (info->num == 0)	/* the driver does not use this queue */
		return 0;
	pthread_mutex_lock(&q->round_lock);
	pthread_mutex_lock(&q->ring_lock);
	rc = vlb_vring_init(&q->vring, &dev->mem, info->num, info->desc,
			    info->avail, info->used, dev->features);
	if (rc == 0 && info->num > dev->queue_size) {
		rc = -EINVAL;
		q->vring.error = "ring larger than the device's queue size";
	}
	if (rc)
		break_queue(q, q->vring.error);
	q->ready = true;	/* if broken, dispatch says so */
	q->call_pending = false;
	q->held = 0;
	pthread_mutex_unlock(&q->ring_lock);
	pthread_mutex_unlock(&q->round_lock);
	/* The driver may have queued requests and kicked before we looked */
	if (rc == 0)
		eventfd_write(q->kick_fd, 1);
	return rc;
}

/*
 * Stale requests the application completed stay allocated until the next
 * reset, so that a second completion of one is recognised, not a use after
 * free.  Called with ring_lock held.
 */
static void free_completed_stale(struct vlb_queue *q)
{
	struct vlb_req_priv **pp = &q->stale, *r;

	while ((r = *pp)) {
		if (r->busy) {
			pp = &r->next_stale;
		} else {
			*pp = r->next_stale;
			free(r);
		}
	}
}

void vlb_queue_stop(struct vlb_queue *q)
{
	struct vlb_req_priv *r;
	unsigned int i;

	pthread_mutex_lock(&q->round_lock);
	pthread_mutex_lock(&q->ring_lock);
	q->ready = false;
	q->vring.broken = true;
	q->generation++;
	free_completed_stale(q);
	for (i = 0; i < q->dev->queue_size; i++) {
		r = q->slots[i];
		if (r && r->busy) {	/* the application still holds it */
			r->next_stale = q->stale;
			q->stale = r;
			q->slots[i] = NULL;
		}
	}
	pthread_mutex_unlock(&q->ring_lock);
	pthread_mutex_unlock(&q->round_lock);
}

/* The request object for chain head: reused per head, grown as needed */
static struct vlb_req_priv *slot_req(struct vlb_queue *q, uint16_t head,
				     unsigned int n_iov)
{
	struct vlb_req_priv *r = q->slots[head];

	if (r && r->cap >= n_iov)
		return r;
	free(r);
	q->slots[head] = NULL;
	r = calloc(1, sizeof(*r) + n_iov * sizeof(struct iovec));
	if (!r)
		return NULL;
	r->cap = n_iov;
	r->q = q;
	r->head = head;
	q->slots[head] = r;
	return r;
}

static uint64_t iov_bytes(const struct iovec *iov, unsigned int n)
{
	uint64_t sum = 0;

	while (n--)
		sum += iov[n].iov_len;
	return sum;
}

/*
 * Pop one chain into a request.  Returns 1 with *out set, 0 if none, or
 * -errno.  Called with both locks held.
 */
static int pop_req(struct vlb_queue *q, struct vlb_req_priv **out)
{
	struct vlb_vring_chain chain;
	struct vlb_req_priv *r;
	unsigned int n;
	int rc;

	rc = vlb_vring_pop(&q->vring, &chain, q->scratch);
	if (rc == -EINVAL) {
		break_queue(q, q->vring.error);
		return -EIO;
	}
	if (rc <= 0)
		return rc;
	/* head < num <= queue_size: vlb_queue_start checked the ring size */
	if (q->slots[chain.head] && q->slots[chain.head]->busy) {
		break_queue(q, "the driver reused a chain the device still holds");
		return -EIO;
	}
	n = chain.n_out + chain.n_in;
	r = slot_req(q, chain.head, n > 4 ? n : 4);
	if (!r) {
		/* Cannot hold it: hand it back empty rather than lose it */
		vlb_vring_push(&q->vring, chain.head, 0);
		q->call_pending = true;
		return -ENOMEM;
	}
	memcpy(r->iov, q->scratch, n * sizeof(struct iovec));
	r->pub = (struct vlb_req){
		.out = r->iov, .n_out = chain.n_out,
		.in = r->iov + chain.n_out, .n_in = chain.n_in,
	};
	r->in_bytes = iov_bytes(r->pub.in, chain.n_in);
	r->generation = q->generation;
	r->busy = true;
	q->held++;
	*out = r;
	return 1;
}

static int notify_locked(struct vlb_queue *q)
{
	q->call_pending = false;
	if (vlb_vring_need_call(&q->vring) && eventfd_write(q->call_fd, 1) < 0)
		return -errno;
	return 0;
}

VLB_EXPORT int vlb_queue_notify(struct vlb_queue *q)
{
	int rc;

	pthread_mutex_lock(&q->ring_lock);
	rc = notify_locked(q);
	pthread_mutex_unlock(&q->ring_lock);
	return rc;
}

/* Started by the driver and not found broken: its ring may be read */
static bool serving(const struct vlb_queue *q)
{
	return q->ready && !q->vring.broken;
}

/* A lazy queue holding what it needs leaves kicks off */
static bool holds_enough(const struct vlb_queue *q)
{
	return q->lazy_kick && q->held >= q->lazy_kick;
}

/*
 * The next request of a round: pops with kicks off, and only when the ring
 * is empty turns kicks back on and looks once more (an entry added in
 * between would otherwise wait for a kick that never comes).  A lazy queue
 * leaves kicks off while the device holds at least min_held requests.
 */
static int next_req(struct vlb_queue *q, struct vlb_req_priv **out)
{
	int rc = pop_req(q, out);

	if (rc == 0 && holds_enough(q))
		return 0;
	if (rc == 0 && !q->polling && vlb_vring_enable_kick(&q->vring)) {
		vlb_vring_disable_kick(&q->vring);
		rc = pop_req(q, out);
	}
	return rc;
}

/* Runs ops->handle for up to budget requests; both locks held on entry and exit */
static int run_round(struct vlb_queue *q, unsigned int budget)
{
	struct vlb_req_priv *r;
	unsigned int n = 0;
	int rc = 0;

	vlb_vring_disable_kick(&q->vring);
	while (n < budget && (rc = next_req(q, &r)) > 0) {
		pthread_mutex_unlock(&q->ring_lock);
		q->dev->ops.handle(q, &r->pub);
		pthread_mutex_lock(&q->ring_lock);
		n++;
	}
	/*
	 * Leave the rest for the next round, so other fds get their turn; after
	 * -ENOMEM the next round retries.
	 */
	if (rc == -ENOMEM ||
	    (n == budget && !q->polling && vlb_vring_enable_kick(&q->vring)))
		eventfd_write(q->kick_fd, 1);
	return rc < 0 ? rc : (int)n;
}

/* A round, its completions told at its end; the kick was consumed or not needed */
int vlb_queue_dispatch_polled(struct vlb_queue *q)
{
	int rc = 0;

	pthread_mutex_lock(&q->round_lock);
	pthread_mutex_lock(&q->ring_lock);
	if (q->ready) {
		if (q->vring.broken) {
			rc = -EIO;
		} else {
			round_queue = q;
			rc = run_round(q, q->vring.num);
			round_queue = NULL;
		}
		if (q->call_pending) {
			int nrc = notify_locked(q);

			rc = rc < 0 ? rc : (nrc < 0 ? nrc : rc);
		}
	}
	pthread_mutex_unlock(&q->ring_lock);
	pthread_mutex_unlock(&q->round_lock);
	return rc;
}

VLB_EXPORT int vlb_queue_dispatch(struct vlb_queue *q)
{
	eventfd_t ignored;

	if (!q->dev->ops.handle)
		return -EINVAL;	/* a pull queue, served by vlb_queue_pop() */
	/* Consume the kick first: one arriving from here on means "look again" */
	eventfd_read(q->kick_fd, &ignored);
	return vlb_queue_dispatch_polled(q);
}

bool vlb_queue_poll(struct vlb_queue *q)
{
	bool pending;

	pthread_mutex_lock(&q->ring_lock);
	q->polling = true;
	pending = serving(q) && vlb_vring_pending(&q->vring) != 0;
	pthread_mutex_unlock(&q->ring_lock);
	return pending;
}

void vlb_queue_unpoll(struct vlb_queue *q)
{
	bool pending = false;

	pthread_mutex_lock(&q->ring_lock);
	q->polling = false;
	if (serving(q) && !holds_enough(q))
		pending = vlb_vring_enable_kick(&q->vring);
	pthread_mutex_unlock(&q->ring_lock);
	if (pending)
		eventfd_write(q->kick_fd, 1);
}

/*
 * The pull side of next_req(): when the ring is empty, the kick is used up
 * before kicks go back on, so one arriving from then on wakes the poller.
 */
static int pull_req(struct vlb_queue *q, struct vlb_req_priv **out)
{
	eventfd_t ignored;
	int rc;

	vlb_vring_disable_kick(&q->vring);
	rc = pop_req(q, out);
	if (rc != 0)
		return rc;
	eventfd_read(q->kick_fd, &ignored);
	return next_req(q, out);
}

VLB_EXPORT int vlb_queue_pop(struct vlb_queue *q, struct vlb_req **out)
{
	struct vlb_req_priv *r = NULL;
	eventfd_t ignored;
	int rc;

	*out = NULL;
	if (q->dev->ops.handle)
		return -EINVAL;	/* a push queue: its handler gets them */
	pthread_mutex_lock(&q->round_lock);
	pthread_mutex_lock(&q->ring_lock);
	if (serving(q)) {
		rc = pull_req(q, &r);
	} else {
		/* nothing to pull: a kick must not keep the poller spinning */
		eventfd_read(q->kick_fd, &ignored);
		rc = q->ready ? -EIO : 0;
	}
	if (q->ready && q->call_pending)
		notify_locked(q);	/* a chain handed back after -ENOMEM */
	pthread_mutex_unlock(&q->ring_lock);
	pthread_mutex_unlock(&q->round_lock);
	if (rc > 0)
		*out = &r->pub;
	return rc;
}

static int completed_twice(struct vlb_queue *q, struct vlb_req_priv *r)
{
	vlb_err("virtio device type %u, queue %u: request (chain %u) completed twice: refused (complete each request exactly once)",
		q->dev->device_id, q->index, r->head);
	return -EINVAL;
}

/*
 * A request completed after a reset: the ring it came from is gone.  It
 * stays on the stale list, marked done, until the next reset.
 */
static int complete_stale(struct vlb_queue *q, struct vlb_req_priv *r)
{
	if (!r->busy)
		return completed_twice(q, r);
	r->busy = false;
	return -ESTALE;
}

static int complete(struct vlb_req *req, uint32_t written, bool notify)
{
	struct vlb_req_priv *r = (struct vlb_req_priv *)req;
	struct vlb_queue *q = r->q;
	int rc;

	pthread_mutex_lock(&q->ring_lock);
	if (r->generation != q->generation) {
		rc = complete_stale(q, r);
	} else if (!r->busy) {
		/* held must not underflow: a lazy queue would never kick again */
		rc = completed_twice(q, r);
	} else {
		r->busy = false;
		q->held--;
		if (written > r->in_bytes)
			written = (uint32_t)r->in_bytes;
		rc = vlb_vring_push(&q->vring, r->head, written);
		if (rc == 0 && notify) {
			if (round_queue == q)
				q->call_pending = true;
			else
				rc = notify_locked(q);
		}
		/* A lazy queue short of buffers: listen again, look once more */
		if (q->lazy_kick && q->held + 1 == q->lazy_kick && round_queue != q &&
		    vlb_vring_enable_kick(&q->vring))
			eventfd_write(q->kick_fd, 1);
	}
	pthread_mutex_unlock(&q->ring_lock);
	return rc;
}

VLB_EXPORT int vlb_req_complete(struct vlb_req *req, uint32_t written)
{
	return complete(req, written, true);
}

VLB_EXPORT int vlb_req_complete_nonotify(struct vlb_req *req, uint32_t written)
{
	return complete(req, written, false);
}

/* Copy between a buffer and len bytes of iov from off: the bytes copied */
static size_t iov_copy(const struct iovec *iov, unsigned int n, size_t off,
		       void *buf, size_t len, bool to_iov)
{
	size_t done = 0, chunk;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		chunk = iov[i].iov_len - off;
		if (chunk > len - done)
			chunk = len - done;
		if (to_iov)
			memcpy((char *)iov[i].iov_base + off, (char *)buf + done, chunk);
		else
			memcpy((char *)buf + done, (char *)iov[i].iov_base + off, chunk);
		done += chunk;
		off = 0;
	}
	return done;
}

VLB_EXPORT size_t vlb_req_copy_from(const struct vlb_req *req, size_t off,
				    void *dst, size_t len)
{
	return iov_copy(req->out, req->n_out, off, dst, len, false);
}

VLB_EXPORT size_t vlb_req_copy_to(struct vlb_req *req, size_t off,
				  const void *src, size_t len)
{
	return iov_copy(req->in, req->n_in, off, (void *)src, len, true);
}

VLB_EXPORT size_t vlb_req_out_size(const struct vlb_req *req)
{
	return iov_bytes(req->out, req->n_out);
}

VLB_EXPORT size_t vlb_req_in_size(const struct vlb_req *req)
{
	return iov_bytes(req->in, req->n_in);
}

VLB_EXPORT void vlb_queue_set_lazy_kick(struct vlb_queue *q, unsigned int min_held)
{
	pthread_mutex_lock(&q->ring_lock);
	/* Kicks may be off and wanted now: the next round turns them on */
	if (min_held == 0 || min_held > q->lazy_kick)
		eventfd_write(q->kick_fd, 1);
	q->lazy_kick = min_held;
	pthread_mutex_unlock(&q->ring_lock);
}

VLB_EXPORT int vlb_queue_fd(struct vlb_queue *q)
{
	return q->kick_fd;
}

VLB_EXPORT struct vlb_dev *vlb_queue_dev(struct vlb_queue *q)
{
	return q->dev;
}

VLB_EXPORT unsigned int vlb_queue_index(struct vlb_queue *q)
{
	return q->index;
}

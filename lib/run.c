// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Ready-made serving loops, built only on the public fds and dispatch
 * functions (an application's own event loop does the same).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include <vloopback/uapi.h>

#include "device_priv.h"
#include "internal.h"
#include "sysfs.h"

enum { SERVED = 0, STOPPED = 1 };

/* Looks at the rings between two readings of the clock while polling */
#define LOOKS_PER_CLOCK	32

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000U + (uint64_t)t.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

static void end_polling(struct vlb_queue *qs, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		vlb_queue_unpoll(&qs[i]);
}

/*
 * Busy polling (vlb_dev_config.poll_us): look at the rings of qs[0..n) for
 * up to poll_us and run a round on each that has requests.  Returns true
 * once one ran: the caller looks at its fds without sleeping, so a stop or
 * a message on the device fd is seen between rounds, and polls again.
 * False when the time ran out, with kicks back on: the caller may sleep.
 */
static bool poll_rings(struct vlb_dev *dev, struct vlb_queue *qs,
		       unsigned int n)
{
	unsigned int i, looks;
	bool ran = false;
	uint64_t end;

	if (!dev->poll_ns || !dev->ops.handle)
		return false;
	end = now_ns() + dev->poll_ns;
	for (looks = 1; ; looks++) {
		for (i = 0; i < n; i++) {
			if (vlb_queue_poll(&qs[i])) {
				vlb_queue_dispatch_polled(&qs[i]);
				ran = true;
			}
		}
		if (ran)
			return true;
		if (looks % LOOKS_PER_CLOCK == 0 && now_ns() >= end)
			break;
		cpu_relax();
	}
	end_polling(qs, n);
	return false;
}

/*
 * fds: [0] stop, [1] device, [2..] the queues' kicks if with_queues.  The
 * queues of a pull device (no ops->handle) are the application's to poll.
 */
static nfds_t fill_fds(struct vlb_dev *dev, struct pollfd *fds,
		       bool with_queues)
{
	nfds_t n = 0;
	unsigned int i;

	if (!dev->ops.handle)
		with_queues = false;
	fds[n++] = (struct pollfd){ .fd = dev->stop_fd, .events = POLLIN };
	fds[n++] = (struct pollfd){ .fd = dev->kdev.fd, .events = POLLIN };
	for (i = 0; with_queues && i < dev->num_queues; i++)
		fds[n++] = (struct pollfd){ .fd = dev->queues[i].kick_fd,
					    .events = POLLIN };
	return n;
}

/*
 * Wait up to timeout_ms for work and do it.  Returns SERVED, STOPPED, or
 * -errno when the device can no longer be served.  Queue errors are not
 * fatal: a broken queue was logged and waits for the driver's reset.
 */
static int serve_once(struct vlb_dev *dev, struct pollfd *fds, nfds_t n,
		      int timeout_ms)
{
	nfds_t i;
	int rc;

	if (poll(fds, n, timeout_ms) < 0)
		return errno == EINTR ? SERVED : -errno;
	if (fds[0].revents)
		return STOPPED;
	if (fds[1].revents) {
		rc = vlb_dev_dispatch(dev);
		if (rc < 0)
			return rc;
	}
	for (i = 2; i < n; i++)
		if (fds[i].revents)
			vlb_queue_dispatch(&dev->queues[i - 2]);
	return SERVED;
}

/* A stop request is used up by the run loop it ended */
static void consume_stop(struct vlb_dev *dev)
{
	eventfd_t ignored;

	eventfd_read(dev->stop_fd, &ignored);
}

VLB_EXPORT int vlb_dev_run(struct vlb_dev *dev)
{
	struct pollfd fds[2 + VLB_MAX_QUEUES];
	nfds_t n = fill_fds(dev, fds, true);
	bool busy = false;
	int rc;

	while ((rc = serve_once(dev, fds, n, busy ? 0 : -1)) == SERVED)
		busy = poll_rings(dev, dev->queues, dev->num_queues);
	if (busy)
		end_polling(dev->queues, dev->num_queues);
	consume_stop(dev);
	return rc == STOPPED ? 0 : rc;
}

static void *queue_thread(void *arg)
{
	struct vlb_queue *q = arg;
	struct pollfd fds[2] = {
		{ .fd = q->dev->stop_fd, .events = POLLIN },
		{ .fd = q->kick_fd, .events = POLLIN },
	};
	bool busy = false;

	for (;;) {
		if (poll(fds, 2, busy ? 0 : -1) < 0 && errno != EINTR) {
			vlb_err("queue %u: poll failed: %s", q->index, strerror(errno));
			break;
		}
		if (fds[0].revents)
			break;
		if (fds[1].revents)
			vlb_queue_dispatch(q);
		busy = poll_rings(q->dev, q, 1);
	}
	if (busy)
		end_polling(q, 1);
	return NULL;
}

/* Start one thread per queue, with every signal blocked (the caller gets them) */
static int start_queue_threads(struct vlb_dev *dev, pthread_t *tids,
			       unsigned int *started)
{
	sigset_t all, old;
	int rc = 0;

	*started = 0;
	if (!dev->ops.handle)
		return 0;	/* a pull device polls its queues itself */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; *started < dev->num_queues; (*started)++) {
		rc = pthread_create(&tids[*started], NULL, queue_thread,
				    &dev->queues[*started]);
		if (rc) {
			vlb_err("cannot start a thread for queue %u: %s",
				*started, strerror(rc));
			rc = -rc;
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

VLB_EXPORT int vlb_dev_run_threaded(struct vlb_dev *dev)
{
	struct pollfd fds[2];
	pthread_t tids[VLB_MAX_QUEUES];
	unsigned int started, i;
	nfds_t n = fill_fds(dev, fds, false);
	int rc;

	rc = start_queue_threads(dev, tids, &started);
	while (rc == 0 && (rc = serve_once(dev, fds, n, -1)) == SERVED)
		;
	vlb_dev_stop(dev);	/* the queue threads leave when they see it */
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	consume_stop(dev);
	return rc == STOPPED ? 0 : rc;
}

/* vlb_kdev_wait_sysfs's serve(): all of the device's fds */
struct wait_ctx {
	struct vlb_dev *dev;
	struct pollfd fds[2 + VLB_MAX_QUEUES];
	nfds_t n;
};

static int serve_for_wait(void *ctx, int ms)
{
	struct wait_ctx *w = ctx;

	return serve_once(w->dev, w->fds, w->n, ms);	/* SERVED 0, STOPPED 1 */
}

VLB_EXPORT int vlb_dev_wait_sysfs(struct vlb_dev *dev, const char *pattern,
				  char *name, size_t len, int timeout_ms)
{
	struct wait_ctx w = { .dev = dev };

	w.n = fill_fds(dev, w.fds, true);
	return vlb_kdev_wait_sysfs(&dev->kdev, pattern, name, len, timeout_ms,
				   serve_for_wait, &w);
}

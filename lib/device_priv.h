/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/* Private to libvloopback: what device.c, queue.c and run.c share. */
#ifndef VLB_DEVICE_PRIV_H
#define VLB_DEVICE_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <vloopback/device.h>
#include <vloopback/uapi.h>

#include "kdev.h"
#include "vring.h"

/* A request as the library keeps it; the public part comes first. */
struct vlb_req_priv {
	struct vlb_req pub;
	struct vlb_queue *q;
	struct vlb_req_priv *next_stale;
	unsigned int generation;	/* q->generation when popped */
	uint16_t head;
	bool busy;			/* popped, not completed yet */
	uint64_t in_bytes;		/* room in the writable buffers */
	unsigned int cap;		/* iov entries allocated */
	struct iovec iov[];
};

/*
 * Locking (see device.h for who calls what):
 * round_lock serialises a dispatch round (pop + handlers) with the device
 * thread starting or stopping the ring, so a reset never happens while a
 * handler looks at buffers.  ring_lock protects the ring and the request
 * bookkeeping against completions from any thread.  Order: round_lock,
 * then ring_lock; ring_lock is never held while a callback runs.
 */
struct vlb_queue {
	struct vlb_dev *dev;
	unsigned int index;
	int kick_fd;			/* the module signals it; we read it */
	int call_fd;			/* we signal it; the module interrupts */
	pthread_mutex_t round_lock;
	pthread_mutex_t ring_lock;
	/* under ring_lock; ready/generation/vring change under both locks */
	struct vlb_vring vring;
	bool ready;			/* the driver set the ring up */
	bool call_pending;		/* completed in this round, not told yet */
	bool polling;			/* run.c looks at the ring: kicks stay off */
	unsigned int lazy_kick;		/* vlb_queue_set_lazy_kick()'s min_held */
	unsigned int held;		/* popped, not completed, this generation */
	unsigned int generation;	/* bumped by each reset */
	struct vlb_req_priv **slots;	/* [queue_size], by chain head */
	struct vlb_req_priv *stale;	/* held by the application across a reset */
	/* under round_lock: one chain's iovecs before they go into a request */
	struct iovec scratch[VLB_VRING_MAX_IOV];
};

struct vlb_dev {
	struct vlb_kdev kdev;		/* the kernel device and its area */
	int stop_fd;			/* eventfd: vlb_dev_stop() */
	bool recovered;			/* by vlb_dev_recover: started already */
	struct vlb_dev_ops ops;
	void *opaque;
	uint32_t device_id;
	uint16_t queue_size;
	uint64_t poll_ns;		/* vlb_dev_config.poll_us */
	unsigned int num_queues;
	struct vlb_vring_mem mem;	/* kdev's area, as the rings see it */
	/* written by the device's thread, read by any */
	_Atomic uint64_t features;	/* negotiated */
	struct vlb_queue *queues;
};

/*
 * queue.c: it never calls the module (device.c does), so unit tests can
 * drive a queue over rings in plain memory.
 */
/* Locks, eventfds and request slots; q is zeroed; cleanup even on failure */
int vlb_queue_setup(struct vlb_dev *dev, struct vlb_queue *q,
		    unsigned int index);
void vlb_queue_cleanup(struct vlb_queue *q);
/* Map the driver's ring (on DRIVER_OK) and wake the queue's dispatcher */
int vlb_queue_start(struct vlb_queue *q, const struct vlb_vq_info *info);
/* Forget the ring (on RESET): held requests become stale */
void vlb_queue_stop(struct vlb_queue *q);
/*
 * Busy polling (run.c): whether requests wait in the ring, seen without a
 * system call; from the first look on, rounds leave the driver's kicks
 * off.  A round for them, without reading the kick eventfd.  The end of
 * polling: kicks back on, the fd signalled if requests came meanwhile.
 */
bool vlb_queue_poll(struct vlb_queue *q);
int vlb_queue_dispatch_polled(struct vlb_queue *q);
void vlb_queue_unpoll(struct vlb_queue *q);

#endif /* VLB_DEVICE_PRIV_H */

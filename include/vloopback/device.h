/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * In-process virtio devices: the application implements the device side of
 * a virtio device (its requests and its config space); the kernel's own
 * driver (virtio-blk, virtio-input, ...) drives it through
 * virtio_loopback.ko.
 *
 * Life of a device:
 *   vlb_dev_create()   the kernel device exists, no driver yet
 *   vlb_dev_start()    drivers may bind: from now on, serve the device fd
 *                      (vlb_dev_dispatch), because the driver's probe waits
 *                      for the answers (the module fails the device after
 *                      its timeout, 10 s by default)
 *   ...                ops->features, ops->driver_ok, then ops->handle per
 *                      request; ops->reset when the driver goes away
 *   vlb_dev_destroy()  the kernel device is removed
 *
 * Serving: either the ready-made loops (vlb_dev_run, vlb_dev_run_threaded),
 * or the application's own event loop: poll vlb_dev_fd() and every
 * vlb_queue_fd() for POLLIN, then call vlb_dev_dispatch() or
 * vlb_queue_dispatch(); neither ever blocks.
 *
 * Threads: a device and its queues may be used from several threads under
 * these rules, which the two run loops follow:
 *   - vlb_dev_dispatch: one thread at a time.
 *   - vlb_queue_dispatch: one thread at a time per queue; different queues
 *     and the device may be dispatched concurrently.
 *   - vlb_req_complete*, vlb_queue_notify, vlb_dev_set_config, vlb_dev_stop
 *     and the getters: any thread, any time between create and destroy.
 *   - vlb_dev_create, vlb_dev_start, vlb_dev_destroy: with nothing else
 *     running on that device.
 * Callbacks run on the thread that dispatches: ops->handle on the queue's,
 * the others on the device's.  While a queue's ops->handle runs, a reset
 * waits for it to return (so a reset never pulls buffers from under a
 * handler), which also means ops->handle must not wait for the device's
 * thread.
 */
#ifndef VLOOPBACK_DEVICE_H
#define VLOOPBACK_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vlb_dev;
struct vlb_queue;

/*
 * One request: a descriptor chain the driver made available.  out are the
 * buffers the driver filled (read them), in the buffers the driver wants
 * filled (write them); both point into the device's shared memory.
 * The library owns the request: it stays valid from ops->handle until
 * vlb_req_complete*() (or, for a request held across a reset, until the
 * completion that reports -ESTALE) and must not be touched afterwards.
 */
struct vlb_req {
	struct iovec *out;	/* driver -> device */
	unsigned int n_out;
	struct iovec *in;	/* device -> driver */
	unsigned int n_in;
	void *data;		/* the application's, while it holds the request */
};

/*
 * What the device does.  Every callback is optional.  A callback that returns
 * int answers the driver: 0 accepts, -errno refuses (the driver's step fails).
 * Callbacks are only ever appended; the library reads the struct at the size
 * the application says in vlb_dev_config.ops_size.
 */
struct vlb_dev_ops {
	/* The driver accepted these features (all bits, transport ones too) */
	int (*features)(struct vlb_dev *dev, uint64_t acked);
	/* The driver is ready; requests may arrive from now on */
	void (*driver_ok)(struct vlb_dev *dev);
	/*
	 * The driver reset the device: forget driver state, and drop the
	 * requests still held (their completion returns -ESTALE).  No queue
	 * handler runs at the same time.
	 */
	void (*reset)(struct vlb_dev *dev);
	/*
	 * The driver wrote len bytes at off in config space (the module has
	 * already stored them).  A device whose config reacts to writes (e.g.
	 * virtio-input's select/subsel) updates it here with
	 * vlb_dev_set_config(notify=false): the driver reads after the reply.
	 */
	int (*config_write)(struct vlb_dev *dev, uint32_t off, const void *data,
			    uint32_t len);
	/*
	 * A request on queue q; it must eventually be completed, from any
	 * thread.  NULL: a pull device, which takes its requests with
	 * vlb_queue_pop() when it has room for them (back-pressure).
	 */
	void (*handle)(struct vlb_queue *q, struct vlb_req *req);
};

/*
 * Filled by the application, read only during vlb_dev_create().  size is
 * sizeof(struct vlb_dev_config) as the application was compiled.  Fields
 * are only ever appended, and the library takes the struct as the kernel's
 * copy_struct_from_user() does: a program built against an older header
 * (a smaller size) gets the defaults for the fields it does not know; a
 * newer one may pass a larger struct whose fields this library does not
 * know, if they are zero (-E2BIG otherwise).  Reserved fields must be zero.
 */
struct vlb_dev_config {
	uint32_t size;
	uint32_t device_id;		/* VIRTIO_ID_* */
	uint32_t vendor_id;
	uint16_t num_queues;		/* 1..VLB_MAX_QUEUES */
	uint16_t queue_size;		/* power of two, 2..VLB_MAX_QUEUE_SIZE */
	/*
	 * Device features offered.  The library adds the ring features it
	 * implements (INDIRECT_DESC, EVENT_IDX); the module adds VERSION_1 and
	 * ACCESS_PLATFORM.
	 */
	uint64_t features;
	const void *config;		/* initial config space, copied */
	uint32_t config_size;
	uint32_t reserved0;
	uint64_t shm_size;		/* shared area bytes, 0 = the module's default */
	const struct vlb_dev_ops *ops;	/* copied, ops_size bytes of it */
	void *opaque;			/* returned by vlb_dev_opaque() */
	uint32_t reserved[8];
	/* 0.2 */
	/*
	 * sizeof(struct vlb_dev_ops) as the application was compiled; 0: the
	 * callbacks of 0.1 (features to handle).  Copied like this struct:
	 * callbacks this library does not know must be NULL.
	 */
	uint32_t ops_size;
	uint32_t reserved1;
	/* 0.2: recovery */
	uint32_t flags;			/* VLB_DEV_F_* */
	/*
	 * VLB_DEV_F_RECOVERABLE: how long the kernel keeps the quiesced
	 * device for a new process, 0 = the module's recovery_max_ms (which
	 * also caps it).  Must be 0 without the flag.
	 */
	uint32_t recovery_timeout_ms;
	/* 0.2: busy polling */
	/*
	 * How long vlb_dev_run() and vlb_dev_run_threaded() keep looking at
	 * the rings, without sleeping or a system call, after the last
	 * request they found, before they sleep in poll(2) again: while they
	 * look, the driver does not signal the queues' eventfds and no thread
	 * waits to be woken.  Costs a CPU while it looks.  0, the default:
	 * sleep at once.  At most 1000000 (one second).
	 */
	uint32_t poll_us;
	uint32_t reserved2;
};

/*
 * The device outlives its process: if the process dies (or closes the fd
 * without vlb_dev_destroy), the kernel quiesces it: the virtio device, its
 * name and the requests in flight stay, new requests wait, nothing fails,
 * until a new process takes it over with vlb_dev_recover() within the
 * recovery timeout (or the kernel fails and removes it).  The device
 * process must keep its state where a successor finds it (a file, as the
 * file-backed ramdisk example does): requests it completed are done, the
 * others are handed to the successor, each once.  Since 0.2.
 */
#define VLB_DEV_F_RECOVERABLE	(1U << 0)

/*
 * Create the kernel device (not started).  On success *out is a new device
 * the caller destroys with vlb_dev_destroy().  Returns 0 or -errno (logged,
 * with a hint, e.g. when the module is not loaded).
 */
int vlb_dev_create(const struct vlb_dev_config *cfg, struct vlb_dev **out);

/*
 * Take over quiesced device vloopback<index> (created with
 * VLB_DEV_F_RECOVERABLE by a process that died): *out is a new device the
 * caller serves and destroys as one from vlb_dev_create(), already started
 * (vlb_dev_start() is a no-op on it).  cfg is read as for vlb_dev_create()
 * but only its ops, ops_size, opaque, num_queues and queue_size are used
 * (they must be those the device was created with); the kernel kept the
 * rest.  The first dispatch brings ops->features and ops->driver_ok with
 * what the driver negotiated, then the queues hold every request the dead
 * process did not complete, each once, followed by new ones.  The device
 * stays recoverable.  Returns 0 or -errno: -ENOENT no such device, -EPERM
 * not root nor the user that created it, another -errno if it is not
 * quiesced (all logged with a hint).  Since 0.2.
 */
int vlb_dev_recover(const struct vlb_dev_config *cfg, unsigned int index,
		    struct vlb_dev **out);

/*
 * N of /sys/devices/virtual/misc/virtio-loopback/vloopbackN: what
 * vlb_dev_recover() takes.  Or -errno.  Since 0.2.
 */
int vlb_dev_index(struct vlb_dev *dev);

/* Let drivers bind.  Serve the device from now on (see above).  0 or -errno. */
int vlb_dev_start(struct vlb_dev *dev);

/*
 * Remove the kernel device (requests in flight are failed by the kernel;
 * a recoverable device is removed too, not quiesced) and free everything, including requests the application still holds.
 * NULL is ignored.
 */
void vlb_dev_destroy(struct vlb_dev *dev);

/* The device fd: POLLIN means call vlb_dev_dispatch().  Owned by dev. */
int vlb_dev_fd(struct vlb_dev *dev);

/*
 * Handle every pending message from the driver (features, driver ok,
 * reset, config writes), calling ops, until the fd has none left, so it
 * may be polled edge-triggered (EPOLLET) too.  Never blocks.  Returns the
 * number handled, or -ENODEV once the module has failed the device (it is
 * gone: destroy it), or another -errno.
 */
int vlb_dev_dispatch(struct vlb_dev *dev);

/* Queue i, or NULL if i >= num_queues.  Owned by dev. */
struct vlb_queue *vlb_dev_queue(struct vlb_dev *dev, unsigned int i);

unsigned int vlb_dev_num_queues(struct vlb_dev *dev);
void *vlb_dev_opaque(struct vlb_dev *dev);

/* Negotiated features: 0 until ops->features is called, and after a reset */
uint64_t vlb_dev_features(struct vlb_dev *dev);

/*
 * N of /sys/bus/virtio/devices/virtioN, or -EAGAIN before the kernel has
 * registered the device (it does so shortly after vlb_dev_start).
 */
int vlb_dev_virtio_index(struct vlb_dev *dev);

/*
 * Update config space at off (len bytes, copied).  notify raises a config
 * change interrupt in the driver; not needed from ops->config_write.
 */
int vlb_dev_set_config(struct vlb_dev *dev, uint32_t off, const void *data,
		       uint32_t len, bool notify);

/* The kick eventfd: POLLIN means call vlb_queue_dispatch().  Owned by dev. */
int vlb_queue_fd(struct vlb_queue *q);

/*
 * Pop the requests the driver made available and pass each to ops->handle.
 * Completions made during the round interrupt the driver once, at its end.
 * To be fair to other queues a round takes at most one ring's worth of
 * requests and re-arms the fd if more are waiting.  Never blocks.
 * Returns the number of requests handled, or -errno: -EIO if the queue is
 * broken (the driver wrote a malformed ring; logged once; it stays broken
 * until the driver resets the device), -EINVAL on a pull device's queue.
 */
int vlb_queue_dispatch(struct vlb_queue *q);

/*
 * The pull side, for a device without ops->handle: take the next request
 * the driver made available.  Returns 1 with *req set (complete it as a
 * handled one), 0 with *req NULL when there is none (before DRIVER_OK
 * too): poll vlb_queue_fd() for POLLIN and pop again, or -errno: -EIO if
 * the queue is broken, -EINVAL on a push device.  Never blocks.  The
 * application polls the queue fds itself (vlb_dev_run() and
 * vlb_dev_run_threaded() serve only the device of a pull device).  One
 * thread at a time per queue; a reset waits for a running pop.  Since 0.2.
 */
int vlb_queue_pop(struct vlb_queue *q, struct vlb_req **req);

/*
 * For a queue whose buffers the device keeps until it has something to put
 * in them (virtio-input events, received packets): while the device holds
 * at least min_held requests of the queue, the driver does not kick when it
 * adds buffers, so re-posting a buffer after each event costs no kick and
 * no wakeup.  The buffers added meanwhile are taken by the next
 * vlb_queue_dispatch(); when a completion leaves the device holding fewer
 * than min_held, kicks come back on and, if buffers are waiting, the queue
 * fd is signalled.  min_held is what the device needs at once (1 for one
 * event per buffer).  0, the default: the driver kicks for every batch.
 */
void vlb_queue_set_lazy_kick(struct vlb_queue *q, unsigned int min_held);

struct vlb_dev *vlb_queue_dev(struct vlb_queue *q);
unsigned int vlb_queue_index(struct vlb_queue *q);

/*
 * Copy len bytes of the request's out buffers (what the driver wrote),
 * starting off bytes into them, to dst.  Returns the bytes copied: fewer
 * than len where the buffers end.  Since 0.2.
 */
size_t vlb_req_copy_from(const struct vlb_req *req, size_t off, void *dst,
			 size_t len);

/*
 * Copy len bytes from src into the request's in buffers (for the driver),
 * starting off bytes into them.  Returns the bytes copied: fewer than len
 * where the buffers end.  Since 0.2.
 */
size_t vlb_req_copy_to(struct vlb_req *req, size_t off, const void *src,
		       size_t len);

/* Bytes in the request's out buffers, and room in its in buffers.  Since 0.2. */
size_t vlb_req_out_size(const struct vlb_req *req);
size_t vlb_req_in_size(const struct vlb_req *req);

/*
 * Give the request back to the driver with written bytes stored in its in
 * buffers (clamped to their size), and interrupt the driver if it asked
 * for it: at the end of the current round when called from ops->handle,
 * at once otherwise.  req is invalid afterwards.
 * Returns 0, -ESTALE if the driver reset the device since the request was
 * made (nothing is returned: the request is just freed), or -EIO if the
 * queue broke meanwhile.  A second completion of the same request is
 * refused with -EINVAL and logged (from 0.2; it is still a bug of the
 * device: once the driver has reused the chain for a new request, the
 * library cannot tell the two apart).
 */
int vlb_req_complete(struct vlb_req *req, uint32_t written);

/*
 * The same without the interrupt: complete a batch this way, then call
 * vlb_queue_notify() once.
 */
int vlb_req_complete_nonotify(struct vlb_req *req, uint32_t written);

/* Interrupt the driver if it wants to hear of what was completed. 0 or -errno */
int vlb_queue_notify(struct vlb_queue *q);

/*
 * Serve the device and all its queues on the calling thread until
 * vlb_dev_stop() or until the device fails.  Returns 0 when stopped,
 * -ENODEV when the module failed the device, or another -errno.
 */
int vlb_dev_run(struct vlb_dev *dev);

/*
 * Like vlb_dev_run, with one thread per queue (signals blocked in them);
 * the calling thread serves the device fd.  All threads are joined before
 * it returns.
 */
int vlb_dev_run_threaded(struct vlb_dev *dev);

/*
 * Make the current or next vlb_dev_run*() or vlb_dev_wait_sysfs() return.
 * Async-signal-safe: call it from a SIGINT handler.
 */
void vlb_dev_stop(struct vlb_dev *dev);

/*
 * Wait until the driver has created something in sysfs, serving the device
 * and its queues meanwhile (a driver's probe needs answers and I/O before
 * its disk or input node appears).  pattern is a glob(7) relative to
 * /sys/bus/virtio/devices/virtioN/, e.g. "block/vd*" for a virtio-blk
 * disk, "input/input*[0-9]/event*" for an input device's event node, or
 * "driver" for "a driver is bound".  On success the last path component
 * of the first match is copied into name (len bytes with the NUL).
 * Returns 0, -ETIMEDOUT after timeout_ms (negative: no limit), -EINTR
 * after vlb_dev_stop(), -ENAMETOOLONG, or the error that ended serving.
 */
int vlb_dev_wait_sysfs(struct vlb_dev *dev, const char *pattern, char *name,
		       size_t len, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* VLOOPBACK_DEVICE_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The adapter: attach an unmodified vhost-user back-end (qemu-storage-daemon,
 * virtiofsd, ...) to this machine's kernel, so that its device appears here
 * as /dev/vdX, a virtio-fs tag, a network interface..., with no VM.
 *
 * The adapter is the back-end's vhost-user front-end.  It connects to the
 * back-end's socket and asks what it offers (features, queues, config), then
 * creates a kernel device with that, and when the kernel's driver has set
 * the device up, hands the back-end the device's shared memory and the very
 * eventfds the module kicks and listens to.  From then on requests go
 * between the kernel and the back-end directly; the adapter only relays
 * control events (feature negotiation, reset, config changes).
 *
 * Life of an adapter:
 *   vlb_adapter_create()   connect, query the back-end, create the device
 *   vlb_adapter_start()    drivers may bind: serve the adapter from now on,
 *                          the driver's probe waits for its answers
 *   vlb_adapter_destroy()  stop the back-end's rings, disconnect, remove
 *                          the kernel device
 *
 * Serving: either the application's own event loop (poll vlb_adapter_fd()
 * for POLLIN, then call vlb_adapter_dispatch()), or vlb_adapter_run() on
 * the calling thread, or vlb_adapter_run_thread() on a thread of the
 * library's; many adapters may share one event loop.  Dispatch never
 * waits: what a kernel message needs of the back-end (the driver's
 * features: SET_OWNER, SET_FEATURES; DRIVER_OK: the memory table and every
 * ring's set-up...) is a sequence of steps, each sent when the previous
 * one's answer has come, the answer read when the back-end's socket makes
 * vlb_adapter_fd() readable.  So a slow back-end delays only its own
 * device.  Each kernel message has one deadline for all its steps: the
 * module's reply_timeout_ms (its parameter) less a quarter, so that the
 * adapter, not the module, notices a stuck back-end.  While a message is
 * relayed the kernel's next one waits.
 *
 * Refusal: when the back-end refuses a step (a REPLY_ACK that says failed,
 * GET_CONFIG's "failed" answer, a malformed config), the kernel gets the
 * error as the answer to the driver's step (its feature negotiation, reset
 * or config write fails, -EREMOTEIO or -EPROTO) and the device stays.  A
 * refused DRIVER_OK set-up, which the kernel cannot be told of, fails the
 * device.
 *
 * Failure: when the back-end goes away (its socket closes, the process
 * dies), misses a message's deadline or breaks the protocol, or the kernel
 * fails the device, the adapter
 * logs why, removes the kernel device at once (the kernel fails the
 * requests in flight) and every later dispatch returns the same error.
 * Only vlb_adapter_destroy() is left to do.
 *
 * Reconnect (reconnect_s, since 0.2): when the back-end's socket closes or
 * it misses a message's deadline (the adapter then closes it), the
 * driver's step is answered, recorded and replayed later; the adapter keeps the kernel device (requests wait, none fails) and
 * connects to the same socket path again, every 200 ms for up to
 * reconnect_s seconds, on a timer in vlb_adapter_fd().  A back-end that
 * comes back is asked what it offers (stage 1 again) and refused, with a
 * message, if it no longer offers every feature the driver negotiated or
 * the queues in use; then the module restarts the rings
 * (VLB_IOC_RESTART_QUEUES: each starts again at 0 holding exactly the
 * requests still owed) and the adapter replays the set-up: owner,
 * features, memory table, and per ring num, addresses, base 0, call and
 * kick fds, enable.  No request is lost or done twice by the protocol;
 * the back-end must keep its data across the restart (a disk image does).
 * Not back within reconnect_s: the device is removed as on a failure.
 * The kernel device is then created recoverable, so that if the adapter
 * itself dies its successor takes the device over: vlb_adapter_recover().
 *
 * Threads: an adapter is served by one thread at a time (dispatch, run,
 * wait_sysfs, start).  vlb_adapter_stop() may be called from any thread or
 * a signal handler.  Each getter says from where it may be called; all of
 * them are safe against the serving thread failing the adapter (which
 * closes the kernel device), none after vlb_adapter_destroy().
 */
#ifndef VLOOPBACK_ADAPTER_H
#define VLOOPBACK_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct vlb_adapter;

/*
 * Filled by the application, read only during vlb_adapter_create().  size
 * is sizeof(struct vlb_adapter_config) as the application was compiled:
 * fields are only appended, and the library takes the struct as
 * vlb_dev_create() takes its config (smaller: the new fields get their
 * defaults; larger: -E2BIG unless the fields it does not know are zero).
 * Reserved fields must be zero.  Zero means "the default" for every
 * optional field.
 */
struct vlb_adapter_config {
	uint32_t size;
	uint32_t device_id;	/* VIRTIO_ID_*: see vlb_device_type_at() */
	const char *socket_path; /* the back-end's listening unix socket */
	/*
	 * Queues: the type's usual count (for blk: as many as the back-end
	 * has), never more than the back-end supports.
	 */
	uint16_t num_queues;
	uint16_t queue_size;	/* ring entries, power of two; default 256 */
	/*
	 * Per exchange with the back-end while connecting, reconnecting and
	 * stopping; default 5000.  Relayed kernel messages have the module's
	 * deadline instead (see above).
	 */
	uint32_t timeout_ms;
	/*
	 * virtio-fs and 9p: the tag, for back-ends that do not serve the
	 * config space (virtiofsd); required for fs then.
	 */
	const char *tag;
	/* Bytes of config space to ask the back-end for; default: the type's */
	uint32_t config_size;
	uint32_t reserved0;
	uint64_t shm_size;	/* shared area bytes; default: the module's */
	uint32_t reserved[8];
	/* 0.2 */
	/*
	 * Seconds to keep the device and reconnect when the back-end's
	 * socket closes (see above); 0: fail at once.  Non-zero also makes
	 * the kernel device recoverable, for reconnect_s seconds (capped by
	 * the module's recovery_max_ms), should the adapter itself die.
	 */
	uint32_t reconnect_s;
	uint32_t reserved1;
};

/*
 * A virtio device type the library knows: the one table of them, which
 * vloopbackctl and the Python binding read too.  Owned by the library,
 * read-only, valid for the process's life; fields are only appended.
 */
struct vlb_device_type {
	const char *name;	/* short name: "blk", "fs", "9p"... */
	const char *ident;	/* an identifier for bindings: "BLOCK", "NINEP"... */
	uint32_t id;		/* VIRTIO_ID_* */
	uint32_t reserved;
	const char *driver;	/* the kernel module that drives it: "virtio_blk"; NULL: none known */
	/*
	 * What that driver makes under /sys/bus/virtio/devices/virtioN/ once
	 * it has the device (a glob for vlb_dev_wait_sysfs): "block/vd*" for
	 * a disk, "net/?*" for an interface, "driver" for the others.
	 */
	const char *sysfs;
};

/*
 * The i-th type of the table (0, 1, ... in id order), or NULL past the
 * last.  Since 0.2.
 */
const struct vlb_device_type *vlb_device_type_at(unsigned int i);

/* The table's entry for a virtio device id, or NULL.  Since 0.2. */
const struct vlb_device_type *vlb_device_type_of(uint32_t device_id);

/*
 * The virtio device id of a type name (the table's names), or of a number
 * 1..63.  Returns the id, or -EINVAL for anything else.
 */
int vlb_adapter_type_id(const char *name);

/* The name of a device id, or NULL if it has none. */
const char *vlb_adapter_type_name(uint32_t device_id);

/*
 * Connect to the back-end, negotiate with it and create the kernel device
 * (not started).  Blocks for at most a few exchanges' timeouts.  On success
 * *out is a new adapter, destroyed with vlb_adapter_destroy().  Returns 0
 * or -errno, logged with what to do: -ENOENT or -ECONNREFUSED when nothing
 * listens on the socket, -ENOTSUP when the back-end lacks something the
 * device needs, -EPROTO, -ETIMEDOUT or -ECONNRESET when it misbehaves, or
 * the module's errors (see vlb_dev_create()).
 */
int vlb_adapter_create(const struct vlb_adapter_config *cfg,
		       struct vlb_adapter **out);

/*
 * Replace an adapter that died: connect to the back-end as
 * vlb_adapter_create() does, then take over quiesced device
 * vloopback<index> (created by an adapter with reconnect_s) instead of
 * creating one.  The kernel then tells the driver's features and
 * DRIVER_OK, which the first dispatches relay to the back-end as for a
 * new device, and the rings hold exactly the requests still owed.  cfg
 * must describe the same back-end and queue count; the back-end must
 * offer the negotiated features (refused, logged, otherwise).  The
 * adapter is started already (vlb_adapter_start() does nothing).  0 or
 * -errno, logged with a hint.  Since 0.2.
 */
int vlb_adapter_recover(const struct vlb_adapter_config *cfg,
			unsigned int index, struct vlb_adapter **out);

/*
 * N of vloopbackN: what vlb_adapter_recover() takes.  Or -errno: -ENODEV
 * once the device is gone.  Any thread (a lock keeps a concurrent failure
 * from handing it a closed fd).  Since 0.2.
 */
int vlb_adapter_index(struct vlb_adapter *a);

/*
 * 1 while the back-end is away and the adapter tries to reconnect, else 0.
 * Any thread.  Since 0.2.
 */
int vlb_adapter_reconnecting(struct vlb_adapter *a);

/* Let drivers bind; serve the adapter from now on.  0 or -errno. */
int vlb_adapter_start(struct vlb_adapter *a);

/*
 * Stop the back-end's rings, disconnect from it and remove the kernel
 * device (requests still in flight fail), then free everything.  Stops and
 * joins the thread of vlb_adapter_run_thread() first.  NULL is ignored.
 */
void vlb_adapter_destroy(struct vlb_adapter *a);

/*
 * POLLIN on this fd: call vlb_adapter_dispatch().  Owned by the adapter.
 * Any thread; the same fd for the adapter's life.
 */
int vlb_adapter_fd(struct vlb_adapter *a);

/*
 * Handle what is pending: messages from the kernel (each starts a relay),
 * the back-end's answers (each sends the relay's next step), its requests,
 * its disconnection, a missed deadline.  Never blocks (a back-end that
 * writes half a message is waited for until the message's deadline at
 * most).  Returns the number of events handled (0: nothing was pending),
 * or -errno once the adapter has failed (see above): -ECONNRESET (back-end
 * gone), -EPROTO, -EREMOTEIO (a DRIVER_OK step refused), -ETIMEDOUT
 * (deadline missed), -ENODEV (kernel device failed).
 */
int vlb_adapter_dispatch(struct vlb_adapter *a);

/*
 * Serve on the calling thread until vlb_adapter_stop() (returns 0) or a
 * failure (returns its -errno).
 */
int vlb_adapter_run(struct vlb_adapter *a);

/*
 * Serve on a new thread (all signals blocked in it) until
 * vlb_adapter_join().  Returns 0 or -errno if the thread cannot start.
 */
int vlb_adapter_run_thread(struct vlb_adapter *a);

/*
 * Stop the thread of vlb_adapter_run_thread() and wait for it.  Returns
 * what its vlb_adapter_run() returned: 0, or the failure that ended it
 * earlier.  -EINVAL if no thread runs.
 */
int vlb_adapter_join(struct vlb_adapter *a);

/*
 * Make the current or next vlb_adapter_run() or vlb_adapter_wait_sysfs()
 * return.  Async-signal-safe: call it from a SIGTERM handler.
 */
void vlb_adapter_stop(struct vlb_adapter *a);

/*
 * Wait until the kernel's driver has created something in sysfs, serving
 * the adapter meanwhile; pattern, name, len and the return values are
 * those of vlb_dev_wait_sysfs() ("block/vd*" for a disk, "net/?*" for an
 * interface, "driver" for a bound driver).  Not while a thread serves.
 */
int vlb_adapter_wait_sysfs(struct vlb_adapter *a, const char *pattern,
			   char *name, size_t len, int timeout_ms);

/*
 * N of /sys/bus/virtio/devices/virtioN, or -EAGAIN before the kernel has
 * registered the device, or -ENODEV once it is gone.  Any thread.
 */
int vlb_adapter_virtio_index(struct vlb_adapter *a);

/*
 * The device id, and the number of queues the device was created with:
 * fixed at creation, any thread.
 */
uint32_t vlb_adapter_device_id(struct vlb_adapter *a);
unsigned int vlb_adapter_num_queues(struct vlb_adapter *a);

#ifdef __cplusplus
}
#endif

#endif /* VLOOPBACK_ADAPTER_H */

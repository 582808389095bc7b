/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * The only code that talks to virtio_loopback.ko: one validated wrapper per
 * ioctl, read and write of <vloopback/uapi.h>.  Each returns 0 (or the
 * non-negative value described) on success and -errno on failure, retries
 * EINTR, and logs only through the log helpers: a failed ioctl at debug
 * level, since the caller knows what it meant and reports it.
 * Arguments that the module would reject anyway (reserved fields, NULL
 * pointers, negative fds) are rejected here, without a system call.
 */
#ifndef VLB_TRANSPORT_H
#define VLB_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <vloopback/uapi.h>

/*
 * Open the control node with flags | O_CLOEXEC.  The node is
 * VLB_DEVICE_NODE unless the environment variable of that name names
 * another (ignored in set-uid programs).  A failure is logged once at
 * error level, with a hint when the module is not loaded.
 * Returns the fd (the caller closes it) or -errno.
 */
int vlb_tp_open_node(int flags);

/* vlb_tp_open_node(O_RDWR): the fd devices are created on. */
int vlb_tp_open_control(void);

/* VLB_IOC_GET_VERSION: the module's API version and limits. */
int vlb_tp_version(int ctl, struct vlb_version *v);

/*
 * VLB_IOC_CREATE.  c->size must be sizeof(*c), flags and reserved zero,
 * num_queues non-zero, queue_size a power of two >= 2, and config set when
 * config_size is.  Returns the new device's fd, close-on-exec (the caller
 * closes it, which removes the device), or -errno.
 */
int vlb_tp_create(int ctl, const struct vlb_create *c);

/* VLB_IOC_SHM_FD: a new close-on-exec fd of the shared area (caller closes). */
int vlb_tp_shm_fd(int dev);

/*
 * Take over quiesced device vloopback<index>: its new device fd
 * (close-on-exec; the caller closes it), or -errno.
 */
int vlb_tp_recover(int ctl, unsigned int index);

/* Remove the device now, recoverable or not (a later close only frees). */
int vlb_tp_destroy(int dev);

/* The back-end restarted: every ring again at 0 with what is owed. */
int vlb_tp_restart_queues(int dev);

/*
 * VLB_IOC_SET_VQ_FDS: the eventfds of queue index; -1 detaches one.
 * The module takes its own references: the caller keeps its fds.
 */
int vlb_tp_set_vq_fds(int dev, unsigned int index, int kick_fd, int call_fd);

/* VLB_IOC_GET_VQ: ring addresses of queue index into *out. */
int vlb_tp_get_vq(int dev, unsigned int index, struct vlb_vq_info *out);

/* VLB_IOC_SET_CONFIG: write len bytes at off; notify raises a config change. */
int vlb_tp_set_config(int dev, uint32_t off, const void *data, uint32_t len,
		      bool notify);

/* VLB_IOC_START: register the virtio device so that drivers may bind. */
int vlb_tp_start(int dev);

/* VLB_IOC_GET_INFO: the names the kernel gave the device. */
int vlb_tp_get_info(int dev, struct vlb_info *out);

/*
 * Read one message into *m.  Returns 1 when one was read, 0 when none is
 * pending on a non-blocking fd, -ENODEV when the module ended the stream
 * (the device failed), -EPROTO on a short message, or -errno.
 */
int vlb_tp_read_msg(int dev, struct vlb_msg *m);

/* Answer message seq with result: 0 or -errno (which fails the driver's step). */
int vlb_tp_reply(int dev, uint64_t seq, int32_t result);

#endif /* VLB_TRANSPORT_H */

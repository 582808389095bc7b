/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Private to libvloopback: the kernel half of a device, one code path for
 * both users of the module: the in-process device (device.c) and the
 * adapter (adapter.c).  Creating it (the module's version and limits
 * checked first, every failure logged with what to do), its shared area,
 * its virtio index, and waiting for what its driver makes in sysfs.
 */
#ifndef VLB_KDEV_H
#define VLB_KDEV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vloopback/uapi.h>

/*
 * Threads: create, close and destroy on the thread that owns the device;
 * vlb_kdev_virtio_index from any thread (fd_lock keeps a concurrent close
 * from handing it a closed, maybe reused, fd).
 */
struct vlb_kdev {
	pthread_mutex_t fd_lock;	/* fd against close, for the getter */
	int fd;			/* the device fd, non-blocking; -1 when closed */
	int shm_fd;		/* the shared area's fd if kept, else -1 */
	void *mem;		/* our mapping of the shared area, or NULL */
	uint64_t shm_size;
	uint32_t device_id;
	atomic_int virtio_index;	/* -1 until the kernel registered it */
};

/* Everything closed: what vlb_kdev_destroy() accepts at any point; destroy frees the lock */
void vlb_kdev_init(struct vlb_kdev *k, uint32_t device_id);

/*
 * Create the device c describes (c->size, device_id... filled by the
 * caller) and map its shared area.  keep_shm_fd keeps the area's fd (the
 * adapter hands it to the back-end).  Returns 0 or -errno, logged with a
 * hint (module not loaded, type not allowed, limits, permissions).  On
 * failure k holds what to destroy.
 */
int vlb_kdev_create(struct vlb_kdev *k, const struct vlb_create *c,
		    bool keep_shm_fd);

/*
 * Take over quiesced device vloopback<index> (VLB_IOC_RECOVER) and map its
 * new shared area; keep_shm_fd as for create.  Returns 0 or -errno, logged
 * with a hint.  On failure k holds what to destroy.
 */
int vlb_kdev_recover(struct vlb_kdev *k, unsigned int index, bool keep_shm_fd);

/* vloopback<N> of the device, or -errno */
int vlb_kdev_index(struct vlb_kdev *k);

/*
 * Remove the device on purpose (VLB_IOC_DESTROY, so a recoverable one is
 * not quiesced) and close its fd (the mapping stays)
 */
void vlb_kdev_close(struct vlb_kdev *k);

/* vlb_kdev_close(), then unmap the area and close its fd */
void vlb_kdev_destroy(struct vlb_kdev *k);

/*
 * N of virtioN, -EAGAIN before the kernel registered it, -ENODEV once
 * closed.  Any thread.
 */
int vlb_kdev_virtio_index(struct vlb_kdev *k);

/*
 * Wait until the driver made pattern in sysfs (see vlb_dev_wait_sysfs),
 * calling serve(ctx, ms) to serve the device meanwhile: it waits up to ms
 * for work and does it, returning 0 to go on, 1 when stopped (-EINTR
 * then), or -errno to give up with.
 */
int vlb_kdev_wait_sysfs(struct vlb_kdev *k, const char *pattern, char *name,
			size_t len, int timeout_ms,
			int (*serve)(void *ctx, int ms), void *ctx);

#endif /* VLB_KDEV_H */

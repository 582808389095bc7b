// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/* The kernel half of a device: see kdev.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "kdev.h"
#include "sysfs.h"
#include "transport.h"

/* How often wait_sysfs looks at sysfs when no fd wakes it (sysfs cannot be polled) */
#define SYSFS_POLL_MS	20

void vlb_kdev_init(struct vlb_kdev *k, uint32_t device_id)
{
	pthread_mutex_init(&k->fd_lock, NULL);
	k->fd = -1;
	k->shm_fd = -1;
	k->mem = NULL;
	k->shm_size = 0;
	k->device_id = device_id;
	atomic_init(&k->virtio_index, -1);
}

/* The module's own limits, with a readable reason when c exceeds them */
static int check_module(int ctl, const struct vlb_create *c)
{
	struct vlb_version v;
	int rc = vlb_tp_version(ctl, &v);

	if (rc < 0) {
		vlb_err("cannot query virtio_loopback.ko: %s", strerror(-rc));
		return rc;
	}
	if (v.api_version != VLB_UAPI_VERSION) {
		vlb_err("virtio_loopback.ko speaks API %u, this library %u (install matching versions)",
			v.api_version, VLB_UAPI_VERSION);
		return -EPROTO;
	}
	if (c->device_id >= 64 || !(v.device_types & (1ULL << c->device_id))) {
		vlb_err("virtio device type %u is not allowed by virtio_loopback.ko (see its device_types parameter in virtio_loopback(4))",
			c->device_id);
		return -EPERM;
	}
	/* VLB_MAX_QUEUES too: the library sizes its arrays by it */
	if (c->num_queues == 0 || c->num_queues > v.max_queues ||
	    c->num_queues > VLB_MAX_QUEUES ||
	    c->queue_size < 2 || c->queue_size > v.max_queue_size ||
	    (c->queue_size & (c->queue_size - 1)) ||
	    c->config_size > v.max_config_size || c->shm_size > v.max_shm_size) {
		vlb_err("virtio device type %u with %u queues of %u entries does not fit the module's limits: 1..%u queues of a power of two 2..%u entries, config up to %u bytes, shared area up to %llu bytes",
			c->device_id, c->num_queues, c->queue_size, v.max_queues,
			v.max_queue_size, v.max_config_size,
			(unsigned long long)v.max_shm_size);
		return -EINVAL;
	}
	return 0;
}

/* What a person can do when the module refuses a device check_module passed */
static const char *create_hint(int err)
{
	switch (err) {
	case -EPERM:
		return " (without CAP_SYS_ADMIN only the types in the module's user_device_types parameter: see virtio_loopback(4))";
	case -EUSERS:
		return " (this user has as many devices as the module's max_user_devices parameter allows: remove one first)";
	case -EBUSY:
		return " (the module's max_devices devices exist already)";
	case -EINVAL:
		return " (see the module's limits: modinfo virtio_loopback)";
	default:
		return "";
	}
}

static int map_area(struct vlb_kdev *k, bool keep_shm_fd)
{
	struct vlb_info info;
	void *p;
	int rc;

	rc = vlb_tp_get_info(k->fd, &info);
	if (rc < 0)
		return rc;
	k->shm_fd = vlb_tp_shm_fd(k->fd);
	if (k->shm_fd < 0) {
		rc = k->shm_fd;
		k->shm_fd = -1;
		return rc;
	}
	p = mmap(NULL, info.shm_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 k->shm_fd, 0);
	rc = p == MAP_FAILED ? -errno : 0;
	if (rc == 0) {
		k->mem = p;
		k->shm_size = info.shm_size;
	} else {
		vlb_err("cannot map the shared area (%llu bytes): %s",
			(unsigned long long)info.shm_size, strerror(-rc));
	}
	if (!keep_shm_fd || rc) {
		close(k->shm_fd);
		k->shm_fd = -1;
	}
	return rc;
}

int vlb_kdev_create(struct vlb_kdev *k, const struct vlb_create *c,
		    bool keep_shm_fd)
{
	int ctl = vlb_tp_open_control();
	int rc;

	if (ctl < 0)
		return ctl;	/* logged with a hint */
	rc = check_module(ctl, c);
	if (rc == 0) {
		rc = vlb_tp_create(ctl, c);
		if (rc < 0)
			vlb_err("cannot create virtio device type %u: %s%s",
				c->device_id, strerror(-rc), create_hint(rc));
	}
	close(ctl);
	if (rc < 0)
		return rc;
	k->fd = rc;
	/* Messages are read by dispatch, which must never block */
	if (fcntl(k->fd, F_SETFL, fcntl(k->fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	return map_area(k, keep_shm_fd);
}

/* What a person can do when the module refuses a recovery */
static const char *recover_hint(int err)
{
	switch (err) {
	case -ENOENT:
		return " (no such device: see /sys/devices/virtual/misc/virtio-loopback/)";
	case -EPERM:
		return " (only root or the user that created the device may recover it)";
	case -EBUSY:
	case -EINVAL:
		return " (only a recoverable device whose process died, while its state says quiesced)";
	default:
		return "";
	}
}

int vlb_kdev_recover(struct vlb_kdev *k, unsigned int index, bool keep_shm_fd)
{
	int ctl = vlb_tp_open_control();
	int rc;

	if (ctl < 0)
		return ctl;	/* logged with a hint */
	rc = vlb_tp_recover(ctl, index);
	close(ctl);
	if (rc < 0) {
		vlb_err("cannot recover vloopback%u: %s%s", index,
			strerror(-rc), recover_hint(rc));
		return rc;
	}
	k->fd = rc;
	if (fcntl(k->fd, F_SETFL, fcntl(k->fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	return map_area(k, keep_shm_fd);
}

int vlb_kdev_index(struct vlb_kdev *k)
{
	struct vlb_info info;
	int rc;

	pthread_mutex_lock(&k->fd_lock);
	rc = k->fd < 0 ? -ENODEV : vlb_tp_get_info(k->fd, &info);
	pthread_mutex_unlock(&k->fd_lock);
	return rc < 0 ? rc : (int)info.index;
}

void vlb_kdev_close(struct vlb_kdev *k)
{
	pthread_mutex_lock(&k->fd_lock);
	/* On purpose: a recoverable device must not wait for a new process */
	if (k->fd >= 0)
		vlb_tp_destroy(k->fd);
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	atomic_store(&k->virtio_index, -1);	/* gone: the getter says -ENODEV */
	pthread_mutex_unlock(&k->fd_lock);
}

void vlb_kdev_destroy(struct vlb_kdev *k)
{
	/* The device first, so the kernel stops using the area */
	vlb_kdev_close(k);
	if (k->mem)
		munmap(k->mem, k->shm_size);
	k->mem = NULL;
	if (k->shm_fd >= 0)
		close(k->shm_fd);
	k->shm_fd = -1;
	pthread_mutex_destroy(&k->fd_lock);
}

int vlb_kdev_virtio_index(struct vlb_kdev *k)
{
	struct vlb_info info;
	int idx = atomic_load(&k->virtio_index);
	int rc;

	if (idx >= 0)
		return idx;
	pthread_mutex_lock(&k->fd_lock);
	rc = k->fd < 0 ? -ENODEV : vlb_tp_get_info(k->fd, &info);
	if (rc == 0 && info.virtio_index < 0)
		rc = -EAGAIN;
	if (rc == 0) {
		atomic_store(&k->virtio_index, info.virtio_index);
		rc = info.virtio_index;
	}
	pthread_mutex_unlock(&k->fd_lock);
	return rc;
}

int vlb_kdev_wait_sysfs(struct vlb_kdev *k, const char *pattern, char *name,
			size_t len, int timeout_ms,
			int (*serve)(void *ctx, int ms), void *ctx)
{
	int64_t deadline = vlb_now_ms() + timeout_ms;
	int64_t left;
	int idx, rc;

	for (;;) {
		idx = vlb_kdev_virtio_index(k);
		if (idx < 0 && idx != -EAGAIN)
			return idx;
		rc = idx < 0 ? 0 : vlb_sysfs_find(idx, pattern, name, len);
		if (rc)
			return rc < 0 ? rc : 0;
		left = SYSFS_POLL_MS;
		if (timeout_ms >= 0 && (left = deadline - vlb_now_ms()) <= 0)
			return -ETIMEDOUT;
		rc = serve(ctx, left < SYSFS_POLL_MS ? (int)left : SYSFS_POLL_MS);
		if (rc)
			return rc == 1 ? -EINTR : rc;
	}
}

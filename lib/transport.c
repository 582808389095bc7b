// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"
#include "transport.h"

/* The largest errno the kernel uses: replies carry 0 or -errno. */
#define VLB_MAX_ERRNO 4095

static const char *node_path(void)
{
	const char *path = secure_getenv("VLB_DEVICE_NODE");

	return path && *path ? path : VLB_DEVICE_NODE;
}

/* What a person can do about a failed open. */
static const char *open_hint(int err)
{
	switch (err) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return " (is virtio_loopback.ko loaded? try: modprobe virtio_loopback)";
	case EACCES:
	case EPERM:
		return " (run as root, or get access to the node from its udev rule)";
	default:
		return "";
	}
}

int vlb_tp_open_node(int flags)
{
	const char *path = node_path();
	int fd = open(path, flags | O_CLOEXEC);

	if (fd < 0) {
		int err = errno;

		vlb_err("cannot open %s: %s%s", path, strerror(err), open_hint(err));
		return -err;
	}
	return fd;
}

int vlb_tp_open_control(void)
{
	return vlb_tp_open_node(O_RDWR);
}

static int do_ioctl(int fd, unsigned long req, const char *name, void *arg)
{
	int ret;

	if (fd < 0)
		return -EBADF;
	do
		ret = ioctl(fd, req, arg);
	while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		int err = errno;

		vlb_dbg("%s failed: %s", name, strerror(err));
		return -err;
	}
	return ret;
}

#define VLB_IOCTL(fd, req, arg) do_ioctl(fd, req, #req, arg)

/*
 * The device and shm fds come from the module; make sure they are
 * close-on-exec whatever it did, or an exec'd child would keep the device
 * alive after its owner closed it.  Consumes fd on failure.
 */
static int cloexec_fd(int fd)
{
	int flags;

	if (fd < 0)
		return fd;
	flags = fcntl(fd, F_GETFD);
	if (flags < 0 ||
	    (!(flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

int vlb_tp_version(int ctl, struct vlb_version *v)
{
	if (!v)
		return -EINVAL;
	memset(v, 0, sizeof(*v));
	return VLB_IOCTL(ctl, VLB_IOC_GET_VERSION, v);
}

static int create_valid(const struct vlb_create *c)
{
	if (c->size != sizeof(*c)) {
		vlb_dbg("vlb_create.size is %u, not %zu", c->size, sizeof(*c));
		return 0;
	}
	if ((c->flags & ~VLB_CREATE_F_RECOVERABLE) ||
	    (!(c->flags & VLB_CREATE_F_RECOVERABLE) && c->recovery_timeout_ms) ||
	    !vlb_all_zero(c->reserved, sizeof(c->reserved))) {
		vlb_dbg("vlb_create: flags or reserved fields are not zero");
		return 0;
	}
	if (!c->num_queues || c->queue_size < 2 ||
	    (c->queue_size & (c->queue_size - 1))) {
		vlb_dbg("vlb_create: %u queues of %u entries: need at least one "
			"queue, of a power of two >= 2 entries",
			c->num_queues, c->queue_size);
		return 0;
	}
	if (c->config_size && !c->config) {
		vlb_dbg("vlb_create: config_size %u without config", c->config_size);
		return 0;
	}
	return 1;
}

int vlb_tp_create(int ctl, const struct vlb_create *c)
{
	if (!c || !create_valid(c))
		return -EINVAL;
	/* The ioctl does not write *c: the cast only satisfies ioctl(2). */
	return cloexec_fd(VLB_IOCTL(ctl, VLB_IOC_CREATE, (void *)c));
}

int vlb_tp_recover(int ctl, unsigned int index)
{
	struct vlb_recover r = { .size = sizeof(r), .index = index };

	return cloexec_fd(VLB_IOCTL(ctl, VLB_IOC_RECOVER, &r));
}

int vlb_tp_destroy(int dev)
{
	return VLB_IOCTL(dev, VLB_IOC_DESTROY, NULL);
}

int vlb_tp_restart_queues(int dev)
{
	return VLB_IOCTL(dev, VLB_IOC_RESTART_QUEUES, NULL);
}

int vlb_tp_shm_fd(int dev)
{
	return cloexec_fd(VLB_IOCTL(dev, VLB_IOC_SHM_FD, NULL));
}

int vlb_tp_set_vq_fds(int dev, unsigned int index, int kick_fd, int call_fd)
{
	struct vlb_vq_fds fds = {
		.index = index,
		.kick_fd = kick_fd,
		.call_fd = call_fd,
	};

	if (kick_fd < -1 || call_fd < -1)
		return -EBADF;
	return VLB_IOCTL(dev, VLB_IOC_SET_VQ_FDS, &fds);
}

int vlb_tp_get_vq(int dev, unsigned int index, struct vlb_vq_info *out)
{
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->index = index;
	return VLB_IOCTL(dev, VLB_IOC_GET_VQ, out);
}

int vlb_tp_set_config(int dev, uint32_t off, const void *data, uint32_t len,
		      bool notify)
{
	struct vlb_config cfg = {
		.offset = off,
		.len = len,
		.data = (uintptr_t)data,
		.flags = notify ? VLB_CONFIG_F_NOTIFY : 0,
	};

	if ((len && !data) || len > UINT32_MAX - off)
		return -EINVAL;
	return VLB_IOCTL(dev, VLB_IOC_SET_CONFIG, &cfg);
}

int vlb_tp_start(int dev)
{
	return VLB_IOCTL(dev, VLB_IOC_START, NULL);
}

int vlb_tp_get_info(int dev, struct vlb_info *out)
{
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	return VLB_IOCTL(dev, VLB_IOC_GET_INFO, out);
}

int vlb_tp_read_msg(int dev, struct vlb_msg *m)
{
	ssize_t n;

	if (!m)
		return -EINVAL;
	if (dev < 0)
		return -EBADF;
	do
		n = read(dev, m, sizeof(*m));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return -ENODEV;
	if ((size_t)n != sizeof(*m)) {
		vlb_err("short message from virtio_loopback.ko: %zd of %zu bytes",
			n, sizeof(*m));
		return -EPROTO;
	}
	return 1;
}

int vlb_tp_reply(int dev, uint64_t seq, int32_t result)
{
	struct vlb_reply r = { .seq = seq, .result = result };
	ssize_t n;

	if (result > 0 || result < -VLB_MAX_ERRNO)
		return -EINVAL;
	if (dev < 0)
		return -EBADF;
	do
		n = write(dev, &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != sizeof(r)) {
		vlb_err("short reply to virtio_loopback.ko: %zd of %zu bytes",
			n, sizeof(r));
		return -EPROTO;
	}
	return 0;
}

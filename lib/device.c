// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * In-process devices: creation, the control messages from the driver, and
 * the getters.  Queues are in queue.c, the serving loops in run.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_ring.h>

#include "device_priv.h"
#include "internal.h"
#include "transport.h"

/* Ring features vring.c implements, offered on every device */
#define RING_FEATURES	((1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
			 (1ULL << VIRTIO_RING_F_EVENT_IDX))

/* The first released sizes (0.1): nothing smaller was ever valid */
#define DEV_CONFIG_SIZE_0_1	offsetof(struct vlb_dev_config, ops_size)
#define DEV_OPS_SIZE_0_1	(offsetof(struct vlb_dev_ops, handle) + \
				 sizeof(((struct vlb_dev_ops *)0)->handle))

/*
 * Take the application's config and ops into the library's own copies, at
 * the sizes the application says (see device.h), and check them.
 */
static int copy_config(const struct vlb_dev_config *ucfg,
		       struct vlb_dev_config *cfg, struct vlb_dev_ops *ops)
{
	int rc;

	if (!ucfg)
		return -EINVAL;
	rc = vlb_copy_struct(cfg, sizeof(*cfg), ucfg, ucfg->size,
			     DEV_CONFIG_SIZE_0_1);
	if (rc) {
		vlb_err("vlb_dev_create: config size %u: %s (this library knows %zu bytes, 0.1 had %zu)",
			ucfg->size, rc == -E2BIG ?
			"fields this library does not know are set" : "too small",
			sizeof(*cfg), (size_t)DEV_CONFIG_SIZE_0_1);
		return rc;
	}
	if (cfg->reserved0 || cfg->reserved1 ||
	    !vlb_all_zero(cfg->reserved, sizeof(cfg->reserved))) {
		vlb_err("vlb_dev_create: reserved fields must be zero");
		return -EINVAL;
	}
	if (!cfg->ops) {
		vlb_err("vlb_dev_create: ops->handle is required");
		return -EINVAL;
	}
	rc = vlb_copy_struct(ops, sizeof(*ops), cfg->ops,
			     cfg->ops_size ? cfg->ops_size : DEV_OPS_SIZE_0_1,
			     DEV_OPS_SIZE_0_1);
	if (rc) {
		vlb_err("vlb_dev_create: ops size %u: %s (this library knows %zu bytes)",
			cfg->ops_size, rc == -E2BIG ?
			"callbacks this library does not know are set" : "too small",
			sizeof(*ops));
		return rc;
	}
	if (!ops->handle) {
		vlb_err("vlb_dev_create: ops->handle is required");
		return -EINVAL;
	}
	return 0;
}

/* The module's own limits, with a readable reason when a request exceeds them */
static int check_module(int ctl, const struct vlb_dev_config *cfg)
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
	if (cfg->device_id >= 64 || !(v.device_types & (1ULL << cfg->device_id))) {
		vlb_err("virtio device type %u is not allowed by virtio_loopback.ko (see its module parameters)",
			cfg->device_id);
		return -EPERM;
	}
	/* VLB_MAX_QUEUES too: the run loops size their arrays by it */
	if (cfg->num_queues == 0 || cfg->num_queues > v.max_queues ||
	    cfg->num_queues > VLB_MAX_QUEUES ||
	    cfg->queue_size < 2 || cfg->queue_size > v.max_queue_size ||
	    (cfg->queue_size & (cfg->queue_size - 1)) ||
	    cfg->config_size > v.max_config_size || cfg->shm_size > v.max_shm_size) {
		vlb_err("device does not fit the module's limits: 1..%u queues of a power of two 2..%u entries, config up to %u bytes, shared area up to %llu bytes",
			v.max_queues, v.max_queue_size, v.max_config_size,
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
	default:
		return "";
	}
}

static int create_kernel_device(struct vlb_dev *dev,
				const struct vlb_dev_config *cfg)
{
	struct vlb_create c = {
		.size = sizeof(c),
		.device_id = cfg->device_id,
		.vendor_id = cfg->vendor_id,
		.features = cfg->features | RING_FEATURES,
		.num_queues = cfg->num_queues,
		.queue_size = cfg->queue_size,
		.config_size = cfg->config_size,
		.config = (uintptr_t)cfg->config,
		.shm_size = cfg->shm_size,
	};
	int ctl = vlb_tp_open_control();
	int rc;

	if (ctl < 0)
		return ctl;	/* logged with a hint */
	rc = check_module(ctl, cfg);
	if (rc == 0) {
		rc = vlb_tp_create(ctl, &c);
		if (rc < 0)
			vlb_err("cannot create virtio device type %u: %s%s",
				cfg->device_id, strerror(-rc), create_hint(rc));
	}
	close(ctl);
	if (rc < 0)
		return rc;
	dev->fd = rc;
	/* Messages are read by dispatch, which must never block */
	if (fcntl(dev->fd, F_SETFL, fcntl(dev->fd, F_GETFL) | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int map_shared_area(struct vlb_dev *dev)
{
	struct vlb_info info;
	void *p;
	int fd, rc;

	rc = vlb_tp_get_info(dev->fd, &info);
	if (rc < 0)
		return rc;
	fd = vlb_tp_shm_fd(dev->fd);
	if (fd < 0)
		return fd;
	p = mmap(NULL, info.shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	rc = p == MAP_FAILED ? -errno : 0;
	close(fd);
	if (rc) {
		vlb_err("cannot map the shared area (%llu bytes): %s",
			(unsigned long long)info.shm_size, strerror(-rc));
		return rc;
	}
	dev->mem = (struct vlb_vring_mem){
		.base = p, .size = info.shm_size, .iova_base = VLB_SHM_IOVA_BASE,
	};
	return 0;
}

static int setup_queues(struct vlb_dev *dev, unsigned int n)
{
	unsigned int i;
	int rc;

	dev->queues = calloc(n, sizeof(*dev->queues));
	if (!dev->queues)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct vlb_queue *q = &dev->queues[i];

		dev->num_queues = i + 1;	/* what destroy cleans up */
		rc = vlb_queue_setup(dev, q, i);
		if (rc == 0)
			rc = vlb_tp_set_vq_fds(dev->fd, i, q->kick_fd, q->call_fd);
		if (rc < 0) {
			vlb_err("queue %u: cannot set up its eventfds: %s", i,
				strerror(-rc));
			return rc;
		}
	}
	return 0;
}

VLB_EXPORT int vlb_dev_create(const struct vlb_dev_config *ucfg,
			      struct vlb_dev **out)
{
	struct vlb_dev_config config, *cfg = &config;
	struct vlb_dev_ops ops;
	struct vlb_dev *dev;
	int rc;

	rc = copy_config(ucfg, cfg, &ops);
	if (rc)
		return rc;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->fd = -1;
	dev->virtio_index = -1;
	dev->ops = ops;
	dev->opaque = cfg->opaque;
	dev->device_id = cfg->device_id;
	dev->queue_size = cfg->queue_size;
	dev->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	rc = dev->stop_fd < 0 ? -errno : create_kernel_device(dev, cfg);
	if (rc == 0)
		rc = map_shared_area(dev);
	if (rc == 0)
		rc = setup_queues(dev, cfg->num_queues);
	if (rc) {
		vlb_dev_destroy(dev);
		return rc;
	}
	*out = dev;
	return 0;
}

VLB_EXPORT int vlb_dev_start(struct vlb_dev *dev)
{
	int rc = vlb_tp_start(dev->fd);

	if (rc < 0)
		vlb_err("cannot start virtio device type %u: %s", dev->device_id,
			strerror(-rc));
	return rc;
}

VLB_EXPORT void vlb_dev_destroy(struct vlb_dev *dev)
{
	unsigned int i;

	if (!dev)
		return;
	/* First, so the kernel stops using the rings and the eventfds */
	if (dev->fd >= 0)
		close(dev->fd);
	for (i = 0; i < dev->num_queues; i++)
		vlb_queue_cleanup(&dev->queues[i]);
	free(dev->queues);
	if (dev->mem.base)
		munmap(dev->mem.base, dev->mem.size);
	if (dev->stop_fd >= 0)
		close(dev->stop_fd);
	free(dev);
}

static int on_features(struct vlb_dev *dev, uint64_t acked)
{
	dev->features = acked;
	return dev->ops.features ? dev->ops.features(dev, acked) : 0;
}

static int on_driver_ok(struct vlb_dev *dev)
{
	struct vlb_vq_info info;
	unsigned int i;
	int rc;

	if (dev->ops.driver_ok)
		dev->ops.driver_ok(dev);
	for (i = 0; i < dev->num_queues; i++) {
		/* A second DRIVER_OK without a reset starts from scratch too */
		vlb_queue_stop(&dev->queues[i]);
		rc = vlb_tp_get_vq(dev->fd, i, &info);
		if (rc < 0)
			vlb_err("queue %u: cannot get its ring: %s", i, strerror(-rc));
		else
			vlb_queue_start(&dev->queues[i], &info);	/* logs failures */
	}
	return 0;
}

static int on_reset(struct vlb_dev *dev)
{
	unsigned int i;

	for (i = 0; i < dev->num_queues; i++)
		vlb_queue_stop(&dev->queues[i]);
	dev->features = 0;
	if (dev->ops.reset)
		dev->ops.reset(dev);
	return 0;
}

static int on_config_write(struct vlb_dev *dev, const struct vlb_msg *m)
{
	uint32_t len = m->u.config.len;

	if (len > VLB_MSG_CONFIG_MAX)
		return -EINVAL;
	if (!dev->ops.config_write)
		return 0;
	return dev->ops.config_write(dev, m->u.config.offset, m->u.config.data,
				     len);
}

static int handle_msg(struct vlb_dev *dev, const struct vlb_msg *m)
{
	switch (m->type) {
	case VLB_MSG_FEATURES:
		return on_features(dev, m->u.features);
	case VLB_MSG_DRIVER_OK:
		return on_driver_ok(dev);
	case VLB_MSG_RESET:
		return on_reset(dev);
	case VLB_MSG_CONFIG_WRITE:
		return on_config_write(dev, m);
	default:
		vlb_dbg("unknown message type %u", m->type);
		return -EOPNOTSUPP;
	}
}

/* Enough to drain what a driver sends at once, bounded so queues get a turn */
#define DISPATCH_BUDGET	32

VLB_EXPORT int vlb_dev_dispatch(struct vlb_dev *dev)
{
	struct vlb_msg m;
	int n, rc, result;

	for (n = 0; n < DISPATCH_BUDGET; n++) {
		rc = vlb_tp_read_msg(dev->fd, &m);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (rc == -ENODEV)
				vlb_err("virtio device type %u failed and the kernel removed it (see dmesg)",
					dev->device_id);
			return rc;
		}
		result = handle_msg(dev, &m);
		if (m.flags & VLB_MSG_F_REPLY) {
			rc = vlb_tp_reply(dev->fd, m.seq, result);
			if (rc < 0)
				return rc;
		}
	}
	/* Budget spent with messages left: POLLIN stays set, we are called again */
	return n;
}

VLB_EXPORT int vlb_dev_fd(struct vlb_dev *dev)
{
	return dev->fd;
}

VLB_EXPORT struct vlb_queue *vlb_dev_queue(struct vlb_dev *dev, unsigned int i)
{
	return i < dev->num_queues ? &dev->queues[i] : NULL;
}

VLB_EXPORT unsigned int vlb_dev_num_queues(struct vlb_dev *dev)
{
	return dev->num_queues;
}

VLB_EXPORT void *vlb_dev_opaque(struct vlb_dev *dev)
{
	return dev->opaque;
}

VLB_EXPORT uint64_t vlb_dev_features(struct vlb_dev *dev)
{
	return dev->features;
}

VLB_EXPORT int vlb_dev_virtio_index(struct vlb_dev *dev)
{
	struct vlb_info info;
	int rc;

	if (dev->virtio_index >= 0)
		return dev->virtio_index;
	rc = vlb_tp_get_info(dev->fd, &info);
	if (rc < 0)
		return rc;
	if (info.virtio_index < 0)
		return -EAGAIN;
	dev->virtio_index = info.virtio_index;
	return dev->virtio_index;
}

VLB_EXPORT int vlb_dev_set_config(struct vlb_dev *dev, uint32_t off,
				  const void *data, uint32_t len, bool notify)
{
	return vlb_tp_set_config(dev->fd, off, data, len, notify);
}

VLB_EXPORT void vlb_dev_stop(struct vlb_dev *dev)
{
	/* write(2) is async-signal-safe; the counter stays readable until consumed */
	eventfd_write(dev->stop_fd, 1);
}

// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * In-process devices: creation, the control messages from the driver, and
 * the getters.  Queues are in queue.c, the serving loops in run.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/virtio_ring.h>

#include "device_priv.h"
#include "internal.h"
#include "kdev.h"
#include "transport.h"

/* Ring features vring.c implements, offered on every device */
#define RING_FEATURES	((1ULL << VIRTIO_RING_F_INDIRECT_DESC) | \
			 (1ULL << VIRTIO_RING_F_EVENT_IDX))

/* vlb_dev_config.poll_us: one second at most */
#define POLL_US_MAX	1000000U

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
	rc = vlb_take_struct("vlb_dev_create: struct vlb_dev_config", cfg,
			     sizeof(*cfg), ucfg, ucfg->size, DEV_CONFIG_SIZE_0_1);
	if (rc)
		return rc;
	if (cfg->flags & ~VLB_DEV_F_RECOVERABLE) {
		vlb_err("vlb_dev_create: unknown flags 0x%x", cfg->flags);
		return -EINVAL;
	}
	if (cfg->recovery_timeout_ms && !(cfg->flags & VLB_DEV_F_RECOVERABLE)) {
		vlb_err("vlb_dev_create: recovery_timeout_ms without VLB_DEV_F_RECOVERABLE");
		return -EINVAL;
	}
	if (cfg->reserved0 || cfg->reserved1 || cfg->reserved2 ||
	    !vlb_all_zero(cfg->reserved, sizeof(cfg->reserved))) {
		vlb_err("vlb_dev_create: reserved fields must be zero");
		return -EINVAL;
	}
	if (cfg->poll_us > POLL_US_MAX) {
		vlb_err("vlb_dev_create: poll_us %u is more than %u (one second)",
			cfg->poll_us, POLL_US_MAX);
		return -EINVAL;
	}
	if (!cfg->ops) {
		vlb_err("vlb_dev_create: ops is required");
		return -EINVAL;
	}
	rc = vlb_take_struct("vlb_dev_create: struct vlb_dev_ops", ops,
			     sizeof(*ops), cfg->ops,
			     cfg->ops_size ? cfg->ops_size : DEV_OPS_SIZE_0_1,
			     DEV_OPS_SIZE_0_1);
	return rc;
}

static void set_mem(struct vlb_dev *dev);

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
		.flags = cfg->flags & VLB_DEV_F_RECOVERABLE ?
			 VLB_CREATE_F_RECOVERABLE : 0,
		.recovery_timeout_ms = cfg->recovery_timeout_ms,
	};
	int rc = vlb_kdev_create(&dev->kdev, &c, false);

	if (rc == 0)
		set_mem(dev);
	return rc;
}

static int recover_kernel_device(struct vlb_dev *dev, unsigned int index)
{
	int rc = vlb_kdev_recover(&dev->kdev, index, false);

	if (rc == 0)
		set_mem(dev);
	return rc;
}

static void set_mem(struct vlb_dev *dev)
{
	dev->mem = (struct vlb_vring_mem){
			.base = dev->kdev.mem, .size = dev->kdev.shm_size,
			.iova_base = VLB_SHM_IOVA_BASE,
		};
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
			rc = vlb_tp_set_vq_fds(dev->kdev.fd, i, q->kick_fd, q->call_fd);
		if (rc < 0) {
			vlb_err("queue %u: cannot set up its eventfds: %s", i,
				strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* index < 0: create the device cfg describes; else recover vloopback<index> */
static int open_device(const struct vlb_dev_config *ucfg, int index,
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
	vlb_kdev_init(&dev->kdev, cfg->device_id);
	dev->ops = ops;
	dev->opaque = cfg->opaque;
	dev->device_id = cfg->device_id;
	dev->queue_size = cfg->queue_size;
	dev->poll_ns = (uint64_t)cfg->poll_us * 1000;
	dev->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	dev->recovered = index >= 0;
	if (dev->stop_fd < 0)
		rc = -errno;
	else if (index >= 0)
		rc = recover_kernel_device(dev, index);
	else
		rc = create_kernel_device(dev, cfg);
	if (rc == 0)
		rc = setup_queues(dev, cfg->num_queues);
	if (rc) {
		/*
		 * A device we failed to take over stays quiesced for the next
		 * try: close it, do not destroy it.
		 */
		if (index >= 0 && dev->kdev.fd >= 0) {
			close(dev->kdev.fd);
			dev->kdev.fd = -1;
		}
		vlb_dev_destroy(dev);
		return rc;
	}
	*out = dev;
	return 0;
}

VLB_EXPORT int vlb_dev_create(const struct vlb_dev_config *ucfg,
			      struct vlb_dev **out)
{
	return open_device(ucfg, -1, out);
}

VLB_EXPORT int vlb_dev_recover(const struct vlb_dev_config *ucfg,
			       unsigned int index, struct vlb_dev **out)
{
	if (index > INT_MAX)
		return -EINVAL;
	return open_device(ucfg, (int)index, out);
}

VLB_EXPORT int vlb_dev_index(struct vlb_dev *dev)
{
	return vlb_kdev_index(&dev->kdev);
}

VLB_EXPORT int vlb_dev_start(struct vlb_dev *dev)
{
	int rc;

	if (dev->recovered)	/* registered by the process it replaces */
		return 0;
	rc = vlb_tp_start(dev->kdev.fd);
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
	vlb_kdev_close(&dev->kdev);
	for (i = 0; i < dev->num_queues; i++)
		vlb_queue_cleanup(&dev->queues[i]);
	free(dev->queues);
	vlb_kdev_destroy(&dev->kdev);
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
		rc = vlb_tp_get_vq(dev->kdev.fd, i, &info);
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

/*
 * Everything pending, until the fd has nothing more: the fd is the module's
 * and cannot be re-armed from here, so a budget that left messages behind
 * would stall an edge-triggered (EPOLLET) caller.  Draining is bounded all
 * the same: the module queues only a few messages per device, most of them
 * waiting for their reply.
 */
VLB_EXPORT int vlb_dev_dispatch(struct vlb_dev *dev)
{
	struct vlb_msg m;
	int n, rc, result;

	for (n = 0;; n++) {
		rc = vlb_tp_read_msg(dev->kdev.fd, &m);
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
			rc = vlb_tp_reply(dev->kdev.fd, m.seq, result);
			if (rc < 0)
				return rc;
		}
	}
	return n;
}

VLB_EXPORT int vlb_dev_fd(struct vlb_dev *dev)
{
	return dev->kdev.fd;
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
	return vlb_kdev_virtio_index(&dev->kdev);
}

VLB_EXPORT int vlb_dev_set_config(struct vlb_dev *dev, uint32_t off,
				  const void *data, uint32_t len, bool notify)
{
	return vlb_tp_set_config(dev->kdev.fd, off, data, len, notify);
}

VLB_EXPORT void vlb_dev_stop(struct vlb_dev *dev)
{
	/* write(2) is async-signal-safe; the counter stays readable until consumed */
	eventfd_write(dev->stop_fd, 1);
}

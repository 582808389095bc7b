// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_config_ops: the transport as the kernel's drivers see it.
 *
 * The kernel keeps the device's state here (features, status, config
 * space, rings); the device process is told of what changes by messages and
 * answers those where the driver must not go on before it did (features,
 * reset, config writes).  Rings are created with the DMA device set to our
 * vloopbackN device, so they land in the shared area.
 */
#include <linux/slab.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "compat.h"
#include "vloopback.h"

static void vlb_get(struct virtio_device *vdev, unsigned int offset,
		    void *buf, unsigned int len)
{
	struct vlb_device *ldev = vdev_to_ldev(vdev);

	if (offset > ldev->config_size || len > ldev->config_size - offset) {
		memset(buf, 0, len);
		return;
	}
	spin_lock(&ldev->config_lock);
	memcpy(buf, ldev->config + offset, len);
	spin_unlock(&ldev->config_lock);
}

/* The driver wrote config: the device may react (update config) first. */
static void vlb_set(struct virtio_device *vdev, unsigned int offset,
		    const void *buf, unsigned int len)
{
	struct vlb_device *ldev = vdev_to_ldev(vdev);
	struct vlb_msg m = { .type = VLB_MSG_CONFIG_WRITE };
	unsigned int done, n;

	if (offset > ldev->config_size || len > ldev->config_size - offset)
		return;
	spin_lock(&ldev->config_lock);
	memcpy(ldev->config + offset, buf, len);
	spin_unlock(&ldev->config_lock);

	for (done = 0; done < len; done += n) {
		n = min_t(unsigned int, len - done, VLB_MSG_CONFIG_MAX);
		m.u.config.offset = offset + done;
		m.u.config.len = n;
		memcpy(m.u.config.data, buf + done, n);
		if (vlb_msg_call(ldev, &m))
			return;
	}
}

static u32 vlb_generation(struct virtio_device *vdev)
{
	return READ_ONCE(vdev_to_ldev(vdev)->config_generation);
}

static u8 vlb_get_status(struct virtio_device *vdev)
{
	return vdev_to_ldev(vdev)->status;
}

static void vlb_set_status(struct virtio_device *vdev, u8 status)
{
	struct vlb_device *ldev = vdev_to_ldev(vdev);
	struct vlb_msg m = { .type = VLB_MSG_DRIVER_OK };
	u8 old = ldev->status;

	WRITE_ONCE(ldev->status, status);
	if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	    !(old & VIRTIO_CONFIG_S_DRIVER_OK))
		vlb_msg_post(ldev, &m);
}

/* After a reset the device must no longer touch the rings we free next. */
static void vlb_reset(struct virtio_device *vdev)
{
	struct vlb_device *ldev = vdev_to_ldev(vdev);
	struct vlb_msg m = { .type = VLB_MSG_RESET };
	int err;

	if (ldev->told) {
		err = vlb_msg_call(ldev, &m);
		if (err && err != -ENODEV)
			vlb_dev_fail(ldev, "the device process refused reset");
		ldev->told = false;
	}
	WRITE_ONCE(ldev->status, 0);
}

static u64 vlb_get_features(struct virtio_device *vdev)
{
	return vdev_to_ldev(vdev)->features;
}

static int vlb_finalize_features(struct virtio_device *vdev)
{
	struct vlb_device *ldev = vdev_to_ldev(vdev);
	struct vlb_msg m = { .type = VLB_MSG_FEATURES };

	vring_transport_features(vdev);
	/* without ACCESS_PLATFORM the rings would bypass the shared area */
	if (!__virtio_test_bit(vdev, VIRTIO_F_VERSION_1) ||
	    !__virtio_test_bit(vdev, VIRTIO_F_ACCESS_PLATFORM)) {
		dev_err(&vdev->dev, "driver refused VERSION_1 or ACCESS_PLATFORM\n");
		return -EINVAL;
	}
	m.u.features = vdev->features;
	ldev->told = true;
	return vlb_msg_call(ldev, &m);
}

int vlb_vdev_create_vq(struct virtio_device *vdev, unsigned int index,
		       const char *name, vq_callback_t *callback, bool ctx,
		       struct virtqueue **out)
{
	struct vlb_device *ldev = vdev_to_ldev(vdev);
	struct vlb_vq *lvq;
	struct virtqueue *vq;
	int err;

	if (index >= ldev->num_queues)
		return -ENOENT;
	lvq = &ldev->vqs[index];
	vq = vring_create_virtqueue(index, ldev->queue_size, SMP_CACHE_BYTES,
				    vdev, true, true, ctx, vlb_vq_notify,
				    callback, name);
	if (!vq)
		return -ENOMEM;
	vq->priv = lvq;
	/* nobody looks at the shadow before lvq->vq is set */
	err = vlb_shadow_init(lvq, vq);
	if (err) {
		vring_del_virtqueue(vq);
		return err;
	}
	spin_lock_irq(&lvq->lock);
	lvq->broken = false;
	lvq->irq_pending = false;
	lvq->vq = vq;
	spin_unlock_irq(&lvq->lock);
	*out = vq;
	return 0;
}

void vlb_vdev_del_vqs(struct virtio_device *vdev)
{
	struct virtqueue *vq, *n;

	list_for_each_entry_safe(vq, n, &vdev->vqs, list) {
		struct vlb_vq *lvq = vq->priv;

		spin_lock_irq(&lvq->lock);
		lvq->vq = NULL;
		spin_unlock_irq(&lvq->lock);
		vlb_vq_sync(lvq);
		vring_del_virtqueue(vq);
		vlb_shadow_free(lvq);
	}
}

static void vlb_synchronize_cbs(struct virtio_device *vdev)
{
	struct vlb_device *ldev = vdev_to_ldev(vdev);
	unsigned int i;

	for (i = 0; i < ldev->num_queues; i++)
		vlb_vq_sync(&ldev->vqs[i]);
}

static const char *vlb_bus_name(struct virtio_device *vdev)
{
	return dev_name(&vdev_to_ldev(vdev)->dev);
}

const struct virtio_config_ops vlb_config_ops = {
	.get			= vlb_get,
	.set			= vlb_set,
	.generation		= vlb_generation,
	.get_status		= vlb_get_status,
	.set_status		= vlb_set_status,
	.reset			= vlb_reset,
	.find_vqs		= vlb_compat_find_vqs,
	.del_vqs		= vlb_vdev_del_vqs,
	.synchronize_cbs	= vlb_synchronize_cbs,
	.get_features		= vlb_get_features,
	.finalize_features	= vlb_finalize_features,
	.bus_name		= vlb_bus_name,
};

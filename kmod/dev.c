// SPDX-License-Identifier: GPL-2.0
/*
 * The device object and its file descriptor.
 *
 * A device is one allocation holding two struct devices: vloopbackN, the
 * parent that owns the DMA ops and the memory, and virtioM, registered on
 * the virtio bus once user space asks (VLB_IOC_START).  virtioM holds a
 * reference on vloopbackN, so the memory lives until both are gone.
 *
 * Every way a device ends goes through the same steps, in this order:
 *   vlb_dev_fail()        mark dead, take the area from user space, return
 *                         in-flight requests, wake every waiter;
 *   vlb_dev_unregister()  remove virtioM (the driver unbinds);
 *   vlb_dev_destroy()     drop the eventfds and the fd's reference.
 * Closing the fd (including by process death) runs all three; a device
 * process that stops answering, or returns buffers it was never given,
 * gets the first two from a work item, and the last when its fd is closed.
 */
#include <linux/anon_inodes.h>
#include <linux/cred.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/nospec.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/virtio_config.h>
#include <uapi/linux/virtio_blk.h>
#include <uapi/linux/virtio_ids.h>

#include "compat.h"
#include "vloopback.h"

static DEFINE_IDA(vlb_ida);

/* every device with an open fd, for the per-user limit */
static LIST_HEAD(vlb_devices);
static DEFINE_MUTEX(vlb_devices_lock);

/* 0, or -EUSERS when @uid already has @limit devices */
static int vlb_dev_track(struct vlb_device *ldev, unsigned int limit)
{
	struct vlb_device *d;
	unsigned int n = 0;
	int err = 0;

	mutex_lock(&vlb_devices_lock);
	list_for_each_entry(d, &vlb_devices, node)
		n += uid_eq(d->owner, ldev->owner);
	if (n >= limit)
		err = -EUSERS;
	else
		list_add(&ldev->node, &vlb_devices);
	mutex_unlock(&vlb_devices_lock);
	return err;
}

static void vlb_dev_untrack(struct vlb_device *ldev)
{
	mutex_lock(&vlb_devices_lock);
	list_del(&ldev->node);
	mutex_unlock(&vlb_devices_lock);
}

/*
 * Serialized by fail_lock: a second caller returns only once the device is
 * fully failed (area revoked, owed requests on their way back).
 */
void vlb_dev_fail(struct vlb_device *ldev, const char *why)
{
	unsigned int i;

	mutex_lock(&ldev->fail_lock);
	if (READ_ONCE(ldev->dead)) {
		mutex_unlock(&ldev->fail_lock);
		return;
	}
	spin_lock(&ldev->msg_lock);
	WRITE_ONCE(ldev->dead, true);
	spin_unlock(&ldev->msg_lock);
	if (why)
		dev_warn(&ldev->dev, "%s: removing the device\n", why);

	vlb_shm_revoke(&ldev->shm);
	/*
	 * Interrupt every queue, not only those with requests owed: the device
	 * may have completed requests and died before signalling.
	 */
	for (i = 0; i < ldev->num_queues; i++) {
		struct vlb_vq *lvq = &ldev->vqs[i];

		spin_lock_irq(&lvq->lock);
		if (lvq->vq)
			lvq->irq_pending = true;
		spin_unlock_irq(&lvq->lock);
		irq_work_queue(&lvq->irq_work);
	}
	/* Only now may user space learn of it: its mapping no longer sees the area */
	smp_store_release(&ldev->gone, true);
	vlb_msg_flush(ldev);
	if (why)
		queue_work(vlb_wq, &ldev->remove_work);
	mutex_unlock(&ldev->fail_lock);
}

static void vlb_fail_work(struct work_struct *work)
{
	vlb_dev_fail(container_of(work, struct vlb_device, fail_work),
		     "the device process returned a buffer it was not given");
}

/* For the interrupt path, which cannot sleep: the rest happens in a work. */
void vlb_dev_fail_async(struct vlb_device *ldev)
{
	queue_work(vlb_wq, &ldev->fail_work);
}

/*
 * A device process that holds a request too long, while the driver waits
 * (virtio_blk has no timeout of its own), is failed like a silent one.
 */
static void vlb_watchdog(struct work_struct *work)
{
	struct vlb_device *ldev = container_of(to_delayed_work(work),
					       struct vlb_device, watchdog);
	bool overdue = false;
	unsigned int i;

	for (i = 0; i < ldev->num_queues && !overdue; i++) {
		struct vlb_vq *lvq = &ldev->vqs[i];

		spin_lock_irq(&lvq->lock);
		overdue = lvq->vq && vlb_shadow_overdue(lvq, ldev->io_timeout);
		spin_unlock_irq(&lvq->lock);
	}
	if (overdue)
		vlb_dev_fail(ldev, "the device process held a request too long");
	else if (!READ_ONCE(ldev->dead))
		queue_delayed_work(vlb_wq, &ldev->watchdog, HZ);
}

static void vlb_dev_unregister(struct vlb_device *ldev)
{
	bool registered;

	flush_work(&ldev->start_work);
	mutex_lock(&ldev->lock);
	registered = ldev->registered;
	ldev->registered = false;
	mutex_unlock(&ldev->lock);
	if (registered)
		unregister_virtio_device(&ldev->vdev);
}

static void vlb_remove_work(struct work_struct *work)
{
	vlb_dev_unregister(container_of(work, struct vlb_device, remove_work));
}

static void vlb_vdev_release(struct device *dev)
{
	struct vlb_device *ldev = container_of(dev, struct vlb_device,
					       vdev.dev);

	put_device(&ldev->dev);
}

static void vlb_start_work(struct work_struct *work)
{
	struct vlb_device *ldev = container_of(work, struct vlb_device,
					       start_work);
	int err;

	if (READ_ONCE(ldev->dead))
		return;
	ldev->vdev.dev.parent = &ldev->dev;
	ldev->vdev.dev.release = vlb_vdev_release;
	ldev->vdev.config = &vlb_config_ops;
	ldev->vdev.id.device = ldev->device_id;
	ldev->vdev.id.vendor = ldev->vendor_id;
	get_device(&ldev->dev);		/* virtioM's, put by its release */
	err = register_virtio_device(&ldev->vdev);
	if (err) {
		put_device(&ldev->vdev.dev);
		dev_err(&ldev->dev, "cannot register virtio device: %d\n", err);
		return;
	}
	mutex_lock(&ldev->lock);
	ldev->registered = true;
	mutex_unlock(&ldev->lock);
}

/*
 * The one teardown order: fail (nothing reaches the device any more),
 * unregister (the driver is gone, and with it every virtqueue), wait for
 * interrupt work, then for the works that could still be queued, and only
 * then drop the eventfds.  Drops the reference the fd (or the quiesced
 * state) held.
 */
static void vlb_dev_teardown(struct vlb_device *ldev)
{
	unsigned int i;

	vlb_dev_fail(ldev, NULL);
	vlb_dev_unregister(ldev);
	for (i = 0; i < ldev->num_queues; i++)
		vlb_vq_sync(&ldev->vqs[i]);
	cancel_delayed_work_sync(&ldev->watchdog);
	cancel_work_sync(&ldev->fail_work);
	cancel_work_sync(&ldev->remove_work);
	mutex_lock(&ldev->fds_lock);
	for (i = 0; i < ldev->num_queues; i++)
		vlb_vq_release_fds(&ldev->vqs[i]);
	mutex_unlock(&ldev->fds_lock);
	device_del(&ldev->dev);
	vlb_dev_untrack(ldev);
	put_device(&ldev->dev);
}

/*
 * Hold every queue: what the driver adds from now on is owed, not
 * published; what the process completed before it went is passed on.
 * False if it had returned something it was not given.
 */
static bool vlb_dev_hold_queues(struct vlb_device *ldev)
{
	bool sane = true;
	unsigned int i;

	for (i = 0; i < ldev->num_queues; i++)
		sane &= vlb_vq_hold(&ldev->vqs[i]);
	return sane;
}

/*
 * The process of a recoverable device went without VLB_IOC_DESTROY: keep
 * the device, its driver and what it is owed, and wait for a new process.
 * Its eventfds and its view of the area go with it.
 */
static bool vlb_dev_quiesce(struct vlb_device *ldev)
{
	unsigned int i;

	mutex_lock(&ldev->lock);
	if (!ldev->recoverable || ldev->destroying || !ldev->registered ||
	    READ_ONCE(ldev->dead) || !vlb_dev_hold_queues(ldev)) {
		mutex_unlock(&ldev->lock);
		return false;
	}
	WRITE_ONCE(ldev->quiesced, true);
	mutex_unlock(&ldev->lock);

	cancel_delayed_work_sync(&ldev->watchdog);
	mutex_lock(&ldev->fds_lock);
	for (i = 0; i < ldev->num_queues; i++)
		vlb_vq_release_fds(&ldev->vqs[i]);
	mutex_unlock(&ldev->fds_lock);
	vlb_shm_unmap_users(&ldev->shm);
	vlb_msg_drain(ldev);
	/* rmmod waits for the device: the fd's module reference moves here */
	__module_get(THIS_MODULE);
	queue_delayed_work(vlb_wq, &ldev->recovery_work, ldev->recovery_timeout);
	dev_info(&ldev->dev, "device process gone: quiesced for %u s, waiting for recovery\n",
		 jiffies_to_msecs(ldev->recovery_timeout) / 1000);
	return true;
}

static void vlb_recovery_expired(struct work_struct *work)
{
	struct vlb_device *ldev = container_of(to_delayed_work(work),
					       struct vlb_device,
					       recovery_work);

	vlb_dev_fail(ldev, "no device process recovered it in time");
	vlb_dev_teardown(ldev);
	/* rmmod's destroy_workqueue() waits for this work to return */
	module_put(THIS_MODULE);
}

static int vlb_dev_release(struct inode *inode, struct file *file)
{
	struct vlb_device *ldev = file->private_data;

	if (!vlb_dev_quiesce(ldev))
		vlb_dev_teardown(ldev);
	return 0;
}

static long vlb_ioc_start(struct vlb_device *ldev)
{
	long err = 0;

	mutex_lock(&ldev->lock);
	if (READ_ONCE(ldev->dead))
		err = -ENODEV;
	else if (ldev->started)
		err = -EBUSY;
	else
		ldev->started = true;
	mutex_unlock(&ldev->lock);
	if (!err)
		queue_work(vlb_wq, &ldev->start_work);
	if (!err && ldev->io_timeout)
		queue_delayed_work(vlb_wq, &ldev->watchdog, HZ);
	return err;
}

static long vlb_ioc_set_vq_fds(struct vlb_device *ldev, void __user *arg)
{
	struct vlb_vq_fds f;
	long err;

	if (copy_from_user(&f, arg, sizeof(f)))
		return -EFAULT;
	if (memchr_inv(f.reserved, 0, sizeof(f.reserved)) ||
	    f.index >= ldev->num_queues || f.kick_fd < -1 || f.call_fd < -1)
		return -EINVAL;
	f.index = array_index_nospec(f.index, ldev->num_queues);
	mutex_lock(&ldev->fds_lock);
	err = vlb_vq_set_fds(&ldev->vqs[f.index], f.kick_fd, f.call_fd);
	mutex_unlock(&ldev->fds_lock);
	return err;
}

static long vlb_ioc_get_vq(struct vlb_device *ldev, void __user *arg)
{
	struct vlb_vq_info info;
	struct vlb_vq *lvq;
	u32 index;

	if (copy_from_user(&info, arg, sizeof(info)))
		return -EFAULT;
	if (info.index >= ldev->num_queues ||
	    memchr_inv(info.reserved, 0, sizeof(info.reserved)))
		return -EINVAL;
	index = array_index_nospec(info.index, ldev->num_queues);
	memset(&info, 0, sizeof(info));
	info.index = index;
	lvq = &ldev->vqs[index];
	spin_lock_irq(&lvq->lock);
	if (lvq->vq)
		vlb_shadow_addrs(lvq, &info);
	spin_unlock_irq(&lvq->lock);
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

/*
 * A virtio-blk request can carry seg_max segments of up to the largest
 * mapping each.  If that did not fit in the bounce region, the request
 * could never be mapped and blk-mq would retry it forever: so the largest
 * mapping shrinks until seg_max of them fit in the region (less room for
 * the request's header, status and indirect table: with nothing else in
 * flight it is then always mapped), and seg_max shrinks if even pages would
 * not fit.  Caller holds config_lock or owns the device alone.
 */
#define VLB_BLK_SLACK		SZ_64K
#define VLB_BLK_SEG_MAX_OFF	offsetof(struct virtio_blk_config, seg_max)

static u32 vlb_blk_budget(const struct vlb_device *ldev)
{
	return min_t(size_t, ldev->shm.bounce.size - VLB_BLK_SLACK, U32_MAX);
}

/* The config's seg_max, if the device has one: its address */
static __le32 *vlb_blk_seg_max(struct vlb_device *ldev)
{
	if (ldev->device_id != VIRTIO_ID_BLOCK ||
	    !(ldev->features & BIT_ULL(VIRTIO_BLK_F_SEG_MAX)) ||
	    ldev->config_size < VLB_BLK_SEG_MAX_OFF + sizeof(__le32))
		return NULL;
	/* kmalloc'd, and the field is 4-byte aligned in the layout */
	return (__le32 *)(ldev->config + VLB_BLK_SEG_MAX_OFF);
}

static void vlb_blk_cap_seg_max(struct vlb_device *ldev)
{
	size_t max_mapping = vlb_bounce_max_mapping(&ldev->shm.bounce);
	u32 cap = vlb_blk_budget(ldev) / max_mapping;
	__le32 *p = vlb_blk_seg_max(ldev);

	if (p && le32_to_cpu(*p) > cap)
		*p = cpu_to_le32(cap);
}

static void vlb_dev_cap_requests(struct vlb_device *ldev)
{
	__le32 *p = vlb_blk_seg_max(ldev);
	size_t per_seg;
	u32 seg_max;

	if (!p)
		return;
	seg_max = max(le32_to_cpu(*p), 1U);
	per_seg = round_down(vlb_blk_budget(ldev) / seg_max, PAGE_SIZE);
	if (per_seg < vlb_bounce_max_mapping(&ldev->shm.bounce))
		vlb_bounce_set_max_mapping(&ldev->shm.bounce,
					   max_t(size_t, per_seg, PAGE_SIZE));
	vlb_blk_cap_seg_max(ldev);
}

static long vlb_ioc_set_config(struct vlb_device *ldev, void __user *arg)
{
	struct vlb_config c;
	bool notify;
	void *data;

	if (copy_from_user(&c, arg, sizeof(c)))
		return -EFAULT;
	if ((c.flags & ~VLB_CONFIG_F_NOTIFY) ||
	    memchr_inv(c.reserved, 0, sizeof(c.reserved)) ||
	    c.offset > ldev->config_size || c.len > ldev->config_size - c.offset)
		return -EINVAL;
	data = memdup_user(u64_to_user_ptr(c.data), c.len);
	if (IS_ERR(data))
		return PTR_ERR(data);
	spin_lock(&ldev->config_lock);
	memcpy(ldev->config + c.offset, data, c.len);
	vlb_blk_cap_seg_max(ldev);
	WRITE_ONCE(ldev->config_generation, ldev->config_generation + 1);
	spin_unlock(&ldev->config_lock);
	kfree(data);

	mutex_lock(&ldev->lock);
	notify = ldev->registered && (c.flags & VLB_CONFIG_F_NOTIFY);
	if (notify)
		virtio_config_changed(&ldev->vdev);
	mutex_unlock(&ldev->lock);
	return 0;
}

/* Remove the device on purpose: in-flight requests fail, nothing waits. */
static long vlb_ioc_destroy(struct vlb_device *ldev)
{
	mutex_lock(&ldev->lock);
	ldev->destroying = true;
	mutex_unlock(&ldev->lock);
	vlb_dev_fail(ldev, NULL);
	vlb_dev_unregister(ldev);
	return 0;
}

/*
 * The back-end behind this device restarted (the adapter reconnected):
 * pass on what the old one completed, then start every ring again at 0
 * holding exactly what is still owed, and kick.
 */
static long vlb_ioc_restart_queues(struct vlb_device *ldev)
{
	bool sane = true;
	unsigned int i;

	if (READ_ONCE(ldev->dead))
		return -ENODEV;
	if (!(READ_ONCE(ldev->status) & VIRTIO_CONFIG_S_DRIVER_OK))
		return -EINVAL;
	for (i = 0; i < ldev->num_queues; i++)
		sane &= vlb_vq_restart(&ldev->vqs[i]);
	if (!sane) {
		vlb_dev_fail_async(ldev);
		return -EPROTO;
	}
	return 0;
}

static long vlb_ioc_get_info(struct vlb_device *ldev, void __user *arg)
{
	struct vlb_info info = {
		.index = ldev->index,
		.virtio_index = -1,
		.shm_size = ldev->shm.size,
	};

	mutex_lock(&ldev->lock);
	if (ldev->registered)
		info.virtio_index = ldev->vdev.index;
	mutex_unlock(&ldev->lock);
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long vlb_dev_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	struct vlb_device *ldev = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VLB_IOC_SHM_FD:
		return vlb_shm_fd(&ldev->shm);
	case VLB_IOC_SET_VQ_FDS:
		return vlb_ioc_set_vq_fds(ldev, uarg);
	case VLB_IOC_GET_VQ:
		return vlb_ioc_get_vq(ldev, uarg);
	case VLB_IOC_SET_CONFIG:
		return vlb_ioc_set_config(ldev, uarg);
	case VLB_IOC_START:
		return vlb_ioc_start(ldev);
	case VLB_IOC_GET_INFO:
		return vlb_ioc_get_info(ldev, uarg);
	case VLB_IOC_DESTROY:
		return vlb_ioc_destroy(ldev);
	case VLB_IOC_RESTART_QUEUES:
		return vlb_ioc_restart_queues(ldev);
	default:
		return -ENOTTY;
	}
}

static ssize_t vlb_dev_read(struct file *file, char __user *buf, size_t len,
			    loff_t *ppos)
{
	return vlb_msg_read(file->private_data, buf, len,
			    file->f_flags & O_NONBLOCK);
}

static ssize_t vlb_dev_write(struct file *file, const char __user *buf,
			     size_t len, loff_t *ppos)
{
	return vlb_msg_write(file->private_data, buf, len);
}

static __poll_t vlb_dev_poll(struct file *file, poll_table *wait)
{
	return vlb_msg_poll(file->private_data, file, wait);
}

static const struct file_operations vlb_dev_fops = {
	.owner		= THIS_MODULE,
	.release	= vlb_dev_release,
	.unlocked_ioctl	= vlb_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.read		= vlb_dev_read,
	.write		= vlb_dev_write,
	.poll		= vlb_dev_poll,
	.llseek		= noop_llseek,
};

/* Frees everything, whatever stage creation reached. */
static void vlb_dev_free(struct device *dev)
{
	struct vlb_device *ldev = container_of(dev, struct vlb_device, dev);

	vlb_msg_drain(ldev);
	vlb_shm_destroy(&ldev->shm);
	kfree(ldev->vqs);
	kfree(ldev->config);
	ida_free(&vlb_ida, ldev->index);
	kfree(ldev);
}

static ssize_t state_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct vlb_device *ldev = container_of(dev, struct vlb_device, dev);
	const char *state = "live";

	if (READ_ONCE(ldev->dead))
		state = "failed";
	else if (READ_ONCE(ldev->quiesced))
		state = "quiesced";
	return sysfs_emit(buf, "%s\n", state);
}
static DEVICE_ATTR_RO(state);

static ssize_t recoverable_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct vlb_device *ldev = container_of(dev, struct vlb_device, dev);

	return sysfs_emit(buf, "%d\n", ldev->recoverable);
}
static DEVICE_ATTR_RO(recoverable);

static struct attribute *vlb_dev_attrs[] = {
	&dev_attr_state.attr,
	&dev_attr_recoverable.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vlb_dev);

static void vlb_dev_init(struct vlb_device *ldev, const struct vlb_create *c)
{
	ldev->device_id = c->device_id;
	ldev->vendor_id = c->vendor_id;
	ldev->features = c->features | BIT_ULL(VIRTIO_F_VERSION_1) |
			 BIT_ULL(VIRTIO_F_ACCESS_PLATFORM);
	ldev->num_queues = c->num_queues;
	ldev->queue_size = c->queue_size;
	ldev->config_size = c->config_size;
	spin_lock_init(&ldev->config_lock);
	mutex_init(&ldev->fds_lock);
	spin_lock_init(&ldev->msg_lock);
	INIT_LIST_HEAD(&ldev->msg_queue);
	INIT_LIST_HEAD(&ldev->msg_sent);
	init_waitqueue_head(&ldev->msg_readq);
	init_waitqueue_head(&ldev->msg_replyq);
	mutex_init(&ldev->lock);
	mutex_init(&ldev->fail_lock);
	INIT_WORK(&ldev->start_work, vlb_start_work);
	INIT_WORK(&ldev->remove_work, vlb_remove_work);
	INIT_WORK(&ldev->fail_work, vlb_fail_work);
	INIT_DELAYED_WORK(&ldev->watchdog, vlb_watchdog);
	INIT_DELAYED_WORK(&ldev->recovery_work, vlb_recovery_expired);
	ldev->recoverable = c->flags & VLB_CREATE_F_RECOVERABLE;
	ldev->recovery_timeout = msecs_to_jiffies(c->recovery_timeout_ms);

	device_initialize(&ldev->dev);
	ldev->dev.parent = vlb_misc.this_device;
	ldev->dev.release = vlb_dev_free;
	ldev->dev.groups = vlb_dev_groups;
	ldev->dev.dma_mask = &ldev->dev.coherent_dma_mask;
}

static int vlb_dev_alloc_parts(struct vlb_device *ldev,
			       const struct vlb_create *c,
			       const void __user *config)
{
	unsigned int i;
	int err;

	err = vlb_mapping_attach(ldev);
	if (err)
		return err;
	err = dma_set_mask_and_coherent(&ldev->dev, DMA_BIT_MASK(64));
	if (err)
		return err;
	ldev->config = memdup_user(config, c->config_size);
	if (IS_ERR(ldev->config)) {
		err = PTR_ERR(ldev->config);
		ldev->config = NULL;
		return err;
	}
	ldev->vqs = kcalloc(c->num_queues, sizeof(*ldev->vqs), GFP_KERNEL);
	if (!ldev->vqs)
		return -ENOMEM;
	for (i = 0; i < c->num_queues; i++)
		vlb_vq_init(&ldev->vqs[i], ldev, i);
	err = vlb_shm_init(ldev, c->shm_size);
	if (!err)
		vlb_dev_cap_requests(ldev);
	return err;
}

/*
 * @c was validated by the caller.  @admin: the caller has CAP_SYS_ADMIN;
 * @user_limit: how many devices the caller's uid may have.  Returns the new device's fd.
 */
int vlb_dev_create(const struct vlb_create *c, const void __user *config,
		   bool admin, unsigned int user_limit)
{
	struct vlb_device *ldev;
	int index, err, fd;

	ldev = kzalloc(sizeof(*ldev), GFP_KERNEL);
	if (!ldev)
		return -ENOMEM;
	index = ida_alloc_max(&vlb_ida, vlb_max_devices() - 1, GFP_KERNEL);
	if (index < 0) {
		kfree(ldev);
		return index == -ENOSPC ? -EBUSY : index;
	}
	ldev->index = index;
	ldev->owner = current_uid();
	if (!admin)
		ldev->io_timeout = msecs_to_jiffies(vlb_io_timeout_ms());
	vlb_dev_init(ldev, c);
	err = dev_set_name(&ldev->dev, "vloopback%u", index);
	if (!err)
		err = vlb_dev_alloc_parts(ldev, c, config);
	if (!err)
		err = device_add(&ldev->dev);
	if (err)
		goto put;
	err = vlb_dev_track(ldev, user_limit);
	if (err)
		goto del;
	fd = anon_inode_getfd("[virtio-loopback]", &vlb_dev_fops, ldev,
			      O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	err = fd;
	vlb_dev_untrack(ldev);
del:
	device_del(&ldev->dev);
put:
	put_device(&ldev->dev);
	return err;
}

static struct vlb_device *vlb_dev_find(unsigned int index)
{
	struct vlb_device *d, *found = NULL;

	mutex_lock(&vlb_devices_lock);
	list_for_each_entry(d, &vlb_devices, node) {
		if (d->index == index) {
			found = d;
			get_device(&d->dev);
			break;
		}
	}
	mutex_unlock(&vlb_devices_lock);
	return found;
}

/*
 * A fresh area with every live mapping moved into it, and every queue's
 * shadow ring rebuilt there from what is owed; then the queues publish
 * again.  Nobody reads the shadow rings meanwhile: the queues are held.
 */
static int vlb_dev_rebuild(struct vlb_device *ldev)
{
	struct vlb_area *old;
	unsigned int i;
	int err;

	err = vlb_shm_replace(&ldev->shm, &old);
	if (err)
		return err;
	for (i = 0; i < ldev->num_queues; i++)
		vlb_vq_resume(&ldev->vqs[i]);
	vlb_shm_free_old(old);
	return 0;
}

/* What a new process must hear first: what the driver accepted, and ready. */
static void vlb_dev_retell(struct vlb_device *ldev)
{
	struct vlb_msg m = { .type = VLB_MSG_FEATURES };

	m.u.features = ldev->vdev.features;
	vlb_msg_post(ldev, &m);
	m = (struct vlb_msg){ .type = VLB_MSG_DRIVER_OK };
	vlb_msg_post(ldev, &m);
}

static int vlb_dev_claim(struct vlb_device *ldev)
{
	int fd, err;

	if (READ_ONCE(ldev->dead) || !ldev->quiesced)
		return READ_ONCE(ldev->dead) ? -ENODEV : -EBUSY;
	/* the timeout is running: it fails the device, recovery is too late */
	if (!cancel_delayed_work(&ldev->recovery_work))
		return -ENODEV;
	err = vlb_dev_rebuild(ldev);
	fd = err ? err : anon_inode_getfd("[virtio-loopback]", &vlb_dev_fops,
					  ldev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		vlb_dev_fail(ldev, "recovery failed");
		queue_delayed_work(vlb_wq, &ldev->recovery_work, 0);
		return fd;
	}
	WRITE_ONCE(ldev->quiesced, false);
	vlb_dev_retell(ldev);
	if (ldev->io_timeout)
		queue_delayed_work(vlb_wq, &ldev->watchdog, HZ);
	dev_info(&ldev->dev, "recovered by a new device process\n");
	/* the new fd holds the module now */
	module_put(THIS_MODULE);
	return fd;
}

/* VLB_IOC_RECOVER: for root, or the user who created the device. */
int vlb_dev_recover(const struct vlb_recover *r)
{
	struct vlb_device *ldev = vlb_dev_find(r->index);
	int fd;

	if (!ldev)
		return -ENOENT;
	if (!capable(CAP_SYS_ADMIN) && !uid_eq(current_uid(), ldev->owner)) {
		put_device(&ldev->dev);
		return -EPERM;
	}
	mutex_lock(&ldev->lock);
	fd = vlb_dev_claim(ldev);
	mutex_unlock(&ldev->lock);
	put_device(&ldev->dev);
	return fd;
}

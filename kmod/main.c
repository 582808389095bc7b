// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_loopback: virtio devices whose device side is a user-space process.
 *
 * /dev/virtio-loopback answers VLB_IOC_GET_VERSION to anyone who can open
 * it, and creates devices (VLB_IOC_CREATE) for CAP_SYS_ADMIN: a device is a
 * new fd, and whatever virtio driver the kernel has for its type binds to it
 * unchanged.  Which types may be created is a module parameter.
 */
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>
#include <uapi/linux/virtio_config.h>
#include <uapi/linux/virtio_ids.h>
#include <uapi/linux/virtio_net.h>

#include "compat.h"
#include "vloopback.h"

/*
 * The types the module knows to fit the bounce model: their drivers pass
 * only buffers they map, never physical addresses in config or in requests
 * (virtio-mem and virtio-pmem do, so they are not here).  device_types can
 * only narrow this.
 */
#define VLB_SUPPORTED_TYPES						\
	(BIT_ULL(VIRTIO_ID_NET) | BIT_ULL(VIRTIO_ID_BLOCK) |		\
	 BIT_ULL(VIRTIO_ID_CONSOLE) | BIT_ULL(VIRTIO_ID_RNG) |		\
	 BIT_ULL(VIRTIO_ID_9P) | BIT_ULL(VIRTIO_ID_INPUT) |		\
	 BIT_ULL(VIRTIO_ID_SOUND) | BIT_ULL(VIRTIO_ID_FS) |		\
	 BIT_ULL(VIRTIO_ID_SCMI) | BIT_ULL(VIRTIO_ID_I2C_ADAPTER) |	\
	 BIT_ULL(VIRTIO_ID_GPIO))

/*
 * Types whose drivers busy-wait on the device (virtio_console's output with
 * interrupts off) are never handed to users without CAP_SYS_ADMIN.
 */
#define VLB_USER_UNSAFE_TYPES	BIT_ULL(VIRTIO_ID_CONSOLE)

static unsigned int device_types[64] = {
	VIRTIO_ID_NET, VIRTIO_ID_BLOCK, VIRTIO_ID_CONSOLE, VIRTIO_ID_RNG,
	VIRTIO_ID_9P, VIRTIO_ID_INPUT, VIRTIO_ID_SOUND, VIRTIO_ID_FS,
	VIRTIO_ID_SCMI, VIRTIO_ID_I2C_ADAPTER, VIRTIO_ID_GPIO,
};

static unsigned int num_device_types = 11;
module_param_array(device_types, uint, &num_device_types, 0444);
MODULE_PARM_DESC(device_types,
		 "virtio device ids that may be created (default: net, block, console, rng, 9p, input, sound, fs, scmi, i2c, gpio)");

/*
 * Who else may create devices: a process that can open the node for writing
 * (udev gives the vloopback group mode 0660) but lacks CAP_SYS_ADMIN may
 * create only these types, only this many at a time, with a smaller area.
 * The default is none: handing a device type to users is the admin's call
 * (a block device can be mounted by automounters, an input device types
 * into the console, an rng credits entropy).
 */
static unsigned int user_device_types[64];
static unsigned int num_user_device_types;
module_param_array(user_device_types, uint, &num_user_device_types, 0444);
MODULE_PARM_DESC(user_device_types,
		 "virtio device ids that users without CAP_SYS_ADMIN may create (default: none)");

static unsigned int max_user_devices = 4;
module_param(max_user_devices, uint, 0444);
MODULE_PARM_DESC(max_user_devices, "devices one user without CAP_SYS_ADMIN may have at once (0: none; default 4)");

static unsigned int user_shm_max_mb = 64;
module_param(user_shm_max_mb, uint, 0444);
MODULE_PARM_DESC(user_shm_max_mb, "largest shared area a user without CAP_SYS_ADMIN may ask for (MiB, default 64)");

static unsigned int reply_timeout_ms = 10000;
module_param(reply_timeout_ms, uint, 0644);
MODULE_PARM_DESC(reply_timeout_ms,
		 "how long the driver waits for the device process to answer before the device is removed (100-60000, default 10000)");

static unsigned int io_timeout_ms = 30000;
module_param(io_timeout_ms, uint, 0644);
MODULE_PARM_DESC(io_timeout_ms,
		 "how long a device created without CAP_SYS_ADMIN may hold a request before it is removed (0: forever; default 30000)");

unsigned int vlb_io_timeout_ms(void)
{
	return READ_ONCE(io_timeout_ms);
}

static unsigned int recovery_max_ms = 120000;
module_param(recovery_max_ms, uint, 0644);
MODULE_PARM_DESC(recovery_max_ms,
		 "the longest a recoverable device waits for a new device process, and the default (ms, default 120000)");

static unsigned int shm_default_mb = 16;
module_param(shm_default_mb, uint, 0444);
MODULE_PARM_DESC(shm_default_mb, "shared area per device when none is asked for (MiB, default 16)");

static unsigned int shm_max_mb = 256;
module_param(shm_max_mb, uint, 0444);
MODULE_PARM_DESC(shm_max_mb, "largest shared area a device may ask for (MiB, default 256)");

static unsigned int max_devices = 64;
module_param(max_devices, uint, 0444);
MODULE_PARM_DESC(max_devices, "devices that may exist at once (default 64)");

/* Transport features the module does not implement: refused at creation. */
#define VLB_UNSUPPORTED_FEATURES					\
	(BIT_ULL(VIRTIO_F_RING_PACKED) | BIT_ULL(VIRTIO_F_SR_IOV) |	\
	 BIT_ULL(VIRTIO_F_NOTIFICATION_DATA) | BIT_ULL(VIRTIO_F_RING_RESET))

/* The bounce region must hold a few of the largest mappings. */
#define VLB_MIN_BOUNCE		(512 * 1024)

unsigned int vlb_reply_timeout_ms(void)
{
	return clamp(READ_ONCE(reply_timeout_ms), 100U, 60000U);
}

unsigned int vlb_max_devices(void)
{
	return clamp(max_devices, 1U, 4096U);
}

static u64 vlb_type_mask(const unsigned int *types, unsigned int n)
{
	u64 mask = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		if (types[i] > 0 && types[i] < 64)
			mask |= BIT_ULL(types[i]);
	return mask;
}

static u64 vlb_allowed_types(void)
{
	return vlb_type_mask(device_types, num_device_types) &
	       VLB_SUPPORTED_TYPES;
}

/* A user's types are also subject to the system-wide list. */
static u64 vlb_user_types(void)
{
	return vlb_allowed_types() & ~VLB_USER_UNSAFE_TYPES &
	       vlb_type_mask(user_device_types, num_user_device_types);
}

/*
 * Features whose drivers busy-wait for the device: virtio_net spins on its
 * control queue under rtnl.  A user's device process must not be able to
 * hold the kernel there (VDUSE refuses the same).
 */
static bool vlb_user_features_ok(const struct vlb_create *c)
{
	return c->device_id != VIRTIO_ID_NET ||
	       !(c->features & BIT_ULL(VIRTIO_NET_F_CTRL_VQ));
}

static long vlb_ioc_version(void __user *arg)
{
	struct vlb_version v = {
		.api_version = VLB_UAPI_VERSION,
		.max_queues = VLB_MAX_QUEUES,
		.max_queue_size = VLB_MAX_QUEUE_SIZE,
		.max_config_size = VLB_MAX_CONFIG_SIZE,
		.max_shm_size = (u64)shm_max_mb << 20,
		.device_types = vlb_allowed_types(),
	};

	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

static int vlb_check_shm(struct vlb_create *c, bool admin)
{
	size_t rings = vlb_shm_ring_bytes(c->num_queues, c->queue_size);
	u64 max = (u64)(admin ? shm_max_mb : min(shm_max_mb, user_shm_max_mb)) << 20;

	if (!c->shm_size)
		c->shm_size = max_t(u64, (u64)shm_default_mb << 20,
				    PAGE_ALIGN(rings + VLB_MIN_BOUNCE));
	if (!PAGE_ALIGNED(c->shm_size) || c->shm_size > max ||
	    c->shm_size < rings + VLB_MIN_BOUNCE)
		return -EINVAL;
	return 0;
}

static int vlb_check_recovery(struct vlb_create *c)
{
	unsigned int max = READ_ONCE(recovery_max_ms);

	if (!(c->flags & VLB_CREATE_F_RECOVERABLE))
		return c->recovery_timeout_ms ? -EINVAL : 0;
	if (c->recovery_timeout_ms > max)
		return -EINVAL;
	if (!c->recovery_timeout_ms)
		c->recovery_timeout_ms = max;
	return 0;
}

static int vlb_check_create(struct vlb_create *c, bool admin)
{
	if ((c->flags & ~VLB_CREATE_F_RECOVERABLE) ||
	    memchr_inv(c->reserved, 0, sizeof(c->reserved)) ||
	    vlb_check_recovery(c))
		return -EINVAL;
	if (c->device_id == 0 || c->device_id >= 64)
		return -EINVAL;
	if (!((admin ? vlb_allowed_types() : vlb_user_types()) &
	      BIT_ULL(c->device_id))) {
		pr_info_ratelimited("virtio_loopback: device type %u is not in the %s parameter\n",
				    c->device_id,
				    admin ? "device_types" : "user_device_types");
		return -EPERM;
	}
	if (!c->num_queues || c->num_queues > VLB_MAX_QUEUES ||
	    c->queue_size < 2 || c->queue_size > VLB_MAX_QUEUE_SIZE ||
	    !is_power_of_2(c->queue_size))
		return -EINVAL;
	if (c->config_size > VLB_MAX_CONFIG_SIZE ||
	    (c->config_size && !c->config))
		return -EINVAL;
	if (c->features & VLB_UNSUPPORTED_FEATURES)
		return -EINVAL;
	if (!admin && !vlb_user_features_ok(c)) {
		pr_info_ratelimited("virtio_loopback: a net device with a control queue needs CAP_SYS_ADMIN\n");
		return -EPERM;
	}
	return vlb_check_shm(c, admin);
}

/* The node's permissions decide who gets here; capabilities decide what. */
static long vlb_ioc_create(struct file *file, void __user *arg)
{
	bool admin = capable(CAP_SYS_ADMIN);
	struct vlb_create c;
	u32 usize;
	int err;

	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;
	if (!admin && !vlb_user_types())
		return -EPERM;
	if (get_user(usize, (u32 __user *)arg))
		return -EFAULT;
	if (usize < sizeof(c) || usize > PAGE_SIZE)
		return -EINVAL;
	/* a newer, larger struct is fine as long as what we don't know is 0 */
	err = copy_struct_from_user(&c, sizeof(c), arg, usize);
	if (err)
		return err == -E2BIG ? -EINVAL : err;
	err = vlb_check_create(&c, admin);
	if (err)
		return err;
	return vlb_dev_create(&c, u64_to_user_ptr(c.config), admin,
			      admin ? UINT_MAX : max_user_devices);
}

static long vlb_ioc_recover(struct file *file, void __user *arg)
{
	struct vlb_recover r;
	u32 usize;
	int err;

	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;
	if (get_user(usize, (u32 __user *)arg))
		return -EFAULT;
	if (usize < sizeof(r) || usize > PAGE_SIZE)
		return -EINVAL;
	err = copy_struct_from_user(&r, sizeof(r), arg, usize);
	if (err)
		return err == -E2BIG ? -EINVAL : err;
	if (r.flags || memchr_inv(r.reserved, 0, sizeof(r.reserved)))
		return -EINVAL;
	return vlb_dev_recover(&r);
}

static long vlb_ctl_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case VLB_IOC_GET_VERSION:
		return vlb_ioc_version(uarg);
	case VLB_IOC_CREATE:
		return vlb_ioc_create(file, uarg);
	case VLB_IOC_RECOVER:
		return vlb_ioc_recover(file, uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations vlb_ctl_fops = {
	.owner		= THIS_MODULE,
	.open		= nonseekable_open,
	.unlocked_ioctl	= vlb_ctl_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

struct miscdevice vlb_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "virtio-loopback",
	.fops	= &vlb_ctl_fops,
	.mode	= 0600,
};

/* Device works: starting, failing and removing devices. */
struct workqueue_struct *vlb_wq;

static int __init vlb_init(void)
{
	int err;

	if (vlb_type_mask(device_types, num_device_types) & ~VLB_SUPPORTED_TYPES)
		pr_warn("virtio_loopback: device_types lists types outside the bounce model; they stay refused\n");
	vlb_wq = alloc_workqueue("virtio_loopback", WQ_UNBOUND, 0);
	if (!vlb_wq)
		return -ENOMEM;
	err = misc_register(&vlb_misc);
	if (err) {
		destroy_workqueue(vlb_wq);
		return err;
	}
	pr_info("virtio_loopback: ready, uapi version %u\n", VLB_UAPI_VERSION);
	return 0;
}

/* Every device holds a module reference through its fd: none is left. */
static void __exit vlb_exit(void)
{
	misc_deregister(&vlb_misc);
	destroy_workqueue(vlb_wq);
}

module_init(vlb_init);
module_exit(vlb_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("virtio transport for devices implemented in user space");
MODULE_AUTHOR("The vloopback developers");
MODULE_VERSION("0.1.0");

/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note OR MIT */
/*
 * virtio_loopback.ko <-> user space contract.
 *
 * /dev/virtio-loopback is the control node.  VLB_IOC_CREATE on it returns a
 * new file descriptor: one fd per device, and closing it removes the device.
 *
 * On a device fd:
 *   ioctl  VLB_IOC_SHM_FD     the device's shared memory area as a new fd
 *          VLB_IOC_SET_VQ_FDS per queue: the kick eventfd (module signals it
 *                             when the driver notifies) and the call eventfd
 *                             (user space writes it to interrupt the driver)
 *          VLB_IOC_GET_VQ     ring addresses of a queue, valid after DRIVER_OK
 *          VLB_IOC_SET_CONFIG update config space, optionally signal a change
 *          VLB_IOC_START      register the virtio device: drivers may bind
 *          VLB_IOC_GET_INFO   names the kernel gave the device
 *   read   one struct vlb_msg per call: what the driver did
 *   write  one struct vlb_reply per call: answer to a msg with VLB_MSG_F_REPLY
 *   poll   EPOLLIN when a message is pending, EPOLLHUP when the device failed
 *          (by then the shared area is taken back: its mapping reads zeros)
 *
 * Ring and buffer addresses are IOVAs: offsets into the shared area plus
 * VLB_SHM_IOVA_BASE.  User space never sees any other kernel memory.
 *
 * Every struct carries reserved fields that must be zero; the module rejects
 * anything else with -EINVAL so they can gain a meaning later.
 */
#ifndef VLOOPBACK_UAPI_H
#define VLOOPBACK_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define VLB_UAPI_VERSION	1
#define VLB_DEVICE_NODE		"/dev/virtio-loopback"

/* Limits enforced by the module (VLB_IOC_GET_VERSION reports the live ones) */
#define VLB_MAX_QUEUES		64
#define VLB_MAX_QUEUE_SIZE	1024
#define VLB_MAX_CONFIG_SIZE	4096
#define VLB_SHM_IOVA_BASE	0x100000ULL

struct vlb_version {
	__u32 api_version;	/* VLB_UAPI_VERSION of the module */
	__u32 max_queues;
	__u32 max_queue_size;
	__u32 max_config_size;
	__u64 max_shm_size;	/* bytes */
	__u64 device_types;	/* bit n set: virtio device id n may be created */
	__u32 reserved[8];
};

/* VLB_IOC_CREATE: describe the device; the call returns the device fd */
struct vlb_create {
	__u32 size;		/* sizeof(struct vlb_create) */
	__u32 flags;		/* none defined yet: must be 0 */
	__u32 device_id;	/* virtio device type (VIRTIO_ID_*) */
	__u32 vendor_id;
	__u64 features;		/* device features offered to the driver */
	__u16 num_queues;	/* 1..max_queues */
	__u16 queue_size;	/* max ring size, power of two, 2..max_queue_size */
	__u32 config_size;	/* bytes of config space, 0..max_config_size */
	__u64 config;		/* user pointer to config_size bytes */
	__u64 shm_size;		/* shared area bytes, 0 = module default */
	__u32 reserved[8];
};

/* VLB_IOC_SET_VQ_FDS: -1 detaches an eventfd */
struct vlb_vq_fds {
	__u32 index;
	__s32 kick_fd;
	__s32 call_fd;
	__u32 reserved[5];
};

/* VLB_IOC_GET_VQ */
struct vlb_vq_info {
	__u32 index;		/* in */
	__u32 num;		/* ring size the driver chose, 0 = queue unused */
	__u64 desc;		/* IOVAs of the split ring parts */
	__u64 avail;
	__u64 used;
	__u32 reserved[4];
};

#define VLB_CONFIG_F_NOTIFY	(1U << 0)	/* raise a config change */

/* VLB_IOC_SET_CONFIG */
struct vlb_config {
	__u32 offset;
	__u32 len;
	__u64 data;		/* user pointer to len bytes */
	__u32 flags;		/* VLB_CONFIG_F_* */
	__u32 reserved[5];
};

/* VLB_IOC_GET_INFO */
struct vlb_info {
	__u32 index;		/* vloopback<index> in sysfs */
	__s32 virtio_index;	/* virtio<index> on the virtio bus, -1 before START */
	__u64 shm_size;
	__u32 reserved[8];
};

/* Messages: the kernel tells user space what the driver did */
enum vlb_msg_type {
	VLB_MSG_FEATURES	= 1,	/* driver accepted features (reply) */
	VLB_MSG_DRIVER_OK	= 2,	/* rings are set up: start serving */
	VLB_MSG_RESET		= 3,	/* stop using the rings (reply) */
	VLB_MSG_CONFIG_WRITE	= 4,	/* driver wrote config (reply) */
};

#define VLB_MSG_F_REPLY		(1U << 0)	/* answer with a vlb_reply */
#define VLB_MSG_CONFIG_MAX	96

struct vlb_msg {
	__u32 type;		/* enum vlb_msg_type */
	__u32 flags;		/* VLB_MSG_F_* */
	__u64 seq;		/* echo in vlb_reply.seq */
	union {
		__u64 features;		/* VLB_MSG_FEATURES */
		struct {
			__u32 offset;
			__u32 len;
			__u8 data[VLB_MSG_CONFIG_MAX];
		} config;		/* VLB_MSG_CONFIG_WRITE */
		__u8 raw[112];
	} u;
};

struct vlb_reply {
	__u64 seq;
	__s32 result;		/* 0 or -errno: nonzero fails the driver's step */
	__u32 reserved[5];
};

#define VLB_IOC_MAGIC		0xB9
#define VLB_IOC_GET_VERSION	_IOR(VLB_IOC_MAGIC, 0x00, struct vlb_version)
#define VLB_IOC_CREATE		_IOW(VLB_IOC_MAGIC, 0x01, struct vlb_create)
#define VLB_IOC_SHM_FD		_IO(VLB_IOC_MAGIC, 0x10)
#define VLB_IOC_SET_VQ_FDS	_IOW(VLB_IOC_MAGIC, 0x11, struct vlb_vq_fds)
#define VLB_IOC_GET_VQ		_IOWR(VLB_IOC_MAGIC, 0x12, struct vlb_vq_info)
#define VLB_IOC_SET_CONFIG	_IOW(VLB_IOC_MAGIC, 0x13, struct vlb_config)
#define VLB_IOC_START		_IO(VLB_IOC_MAGIC, 0x14)
#define VLB_IOC_GET_INFO	_IOR(VLB_IOC_MAGIC, 0x15, struct vlb_info)

#endif /* VLOOPBACK_UAPI_H */

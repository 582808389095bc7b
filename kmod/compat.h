/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel interfaces virtio_loopback uses that changed between the
 * kernels it supports (Debian 12: 6.1 and 6.12).  Every version test lives
 * here; the rest of the module calls the vlb_compat_* names.
 */
#ifndef VLB_KMOD_COMPAT_H
#define VLB_KMOD_COMPAT_H

#include <linux/eventfd.h>
#include <linux/hrtimer.h>
#include <linux/mm.h>
#include <linux/shmem_fs.h>
#include <linux/version.h>
#include <linux/virtio_config.h>

#include "vloopback.h"

/*
 * 6.18 lets a transport map buffers for the virtio core itself (struct
 * virtio_map_ops): map.c uses it there, dma.c's dma_map_ops before.
 */
#define VLB_HAVE_VIRTIO_MAP (LINUX_VERSION_CODE >= KERNEL_VERSION(6, 18, 0))

/* defined by the uapi headers only from 6.3 on */
#ifndef VIRTIO_F_NOTIFICATION_DATA
#define VIRTIO_F_NOTIFICATION_DATA	38
#endif

/* 6.8 dropped the counter argument of eventfd_signal() */
static inline void vlb_compat_eventfd_signal(struct eventfd_ctx *ctx)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/* 6.13 added hrtimer_setup(); 7.x removed hrtimer_init() */
static inline void vlb_compat_hrtimer_setup(struct hrtimer *timer,
					    enum hrtimer_restart (*fn)(struct hrtimer *),
					    clockid_t clock, enum hrtimer_mode mode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
	hrtimer_setup(timer, fn, clock, mode);
#else
	hrtimer_init(timer, clock, mode);
	timer->function = fn;
#endif
}

/* the area's shmem file, not charged against any mount's size (7.0 made
 * its flags a vma_flags_t)
 */
static inline struct file *vlb_compat_shmem_file(const char *name,
						 size_t size)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(7, 0, 0)
	return shmem_file_setup(name, size, mk_vma_flags(VMA_NORESERVE_BIT));
#else
	return shmem_file_setup(name, size, VM_NORESERVE);
#endif
}

/* 6.11 passes find_vqs() an array of struct virtqueue_info */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
static inline int vlb_compat_find_vqs(struct virtio_device *vdev,
				      unsigned int nvqs,
				      struct virtqueue *vqs[],
				      struct virtqueue_info vqs_info[],
				      struct irq_affinity *desc)
{
	unsigned int i, index = 0;
	int err;

	for (i = 0; i < nvqs; i++) {
		struct virtqueue_info *info = &vqs_info[i];

		vqs[i] = NULL;
		if (!info->name)
			continue;
		err = vlb_vdev_create_vq(vdev, index++, info->name,
					 info->callback, info->ctx, &vqs[i]);
		if (err) {
			vlb_vdev_del_vqs(vdev);
			return err;
		}
	}
	return 0;
}
#else
static inline int vlb_compat_find_vqs(struct virtio_device *vdev,
				      unsigned int nvqs,
				      struct virtqueue *vqs[],
				      vq_callback_t *callbacks[],
				      const char * const names[],
				      const bool *ctx,
				      struct irq_affinity *desc)
{
	unsigned int i, index = 0;
	int err;

	for (i = 0; i < nvqs; i++) {
		vqs[i] = NULL;
		if (!names[i])
			continue;
		err = vlb_vdev_create_vq(vdev, index++, names[i], callbacks[i],
					 ctx ? ctx[i] : false, &vqs[i]);
		if (err) {
			vlb_vdev_del_vqs(vdev);
			return err;
		}
	}
	return 0;
}
#endif

#endif /* VLB_KMOD_COMPAT_H */

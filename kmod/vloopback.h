/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio_loopback: a virtio transport whose device side is a user-space
 * process.  Internal declarations shared by the module's files:
 *
 *   main.c   module parameters, /dev/virtio-loopback, VLB_IOC_CREATE
 *   dev.c    the device object, its fd, its one teardown path
 *   msg.c    messages to the device process and its replies
 *   vdev.c   virtio_config_ops: the kernel keeps the device state
 *   shm.c    the shared area and the bounce DMA ops over it
 *   irq.c    kick and call eventfds
 *   inflight.c  what the driver is owed when the device process dies
 */
#ifndef VLB_KMOD_VLOOPBACK_H
#define VLB_KMOD_VLOOPBACK_H

#include <linux/device.h>
#include <linux/eventfd.h>
#include <linux/irq_work.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <vloopback/uapi.h>

struct gen_pool;
struct vlb_bounce;

/* The area shared with the device process: rings and bounce buffers. */
struct vlb_shm {
	struct file *file;	/* shmem file; user space maps this */
	struct page **pages;	/* the area's pages, pinned for its lifetime */
	unsigned long npages;
	void *vaddr;		/* kernel mapping of the whole area */
	size_t size;
	size_t ring_size;	/* [0, ring_size) holds the vrings */
	struct gen_pool *ring_pool;
	struct gen_pool *bounce_pool;
	struct vlb_bounce *bounce;	/* bookkeeping of live mappings */
	bool poisoned;		/* device dead: the driver reads 0xff back */
};

struct vlb_device;

/* One virtqueue of a device.  The vq itself exists only between find_vqs
 * and del_vqs; the eventfds live as long as the device.
 */
struct vlb_vq {
	struct vlb_device *ldev;
	unsigned int index;

	/* protects vq, vring, kick and the in-flight tracking below */
	spinlock_t lock;
	struct virtqueue *vq;
	const struct vring *vring;
	struct eventfd_ctx *kick;
	u16 *owed;		/* per head: made available - returned */
	u16 avail_seen;
	u16 used_seen;
	bool untracked;		/* a window exceeded the ring: counts are off */

	/* call eventfd, watched in-kernel; changed under ldev->fds_lock */
	struct eventfd_ctx *call;
	wait_queue_entry_t call_wait;
	poll_table call_pt;
	struct irq_work irq_work;	/* vring_interrupt in hard irq context */
};

struct vlb_device {
	struct device dev;		/* vloopbackN: owns the DMA ops */
	struct virtio_device vdev;	/* virtioM, what the drivers see */
	unsigned int index;
	kuid_t owner;			/* who created it */
	struct list_head node;		/* in vlb_devices */

	/* what user space described at creation, immutable */
	u32 device_id;
	u32 vendor_id;
	u64 features;
	unsigned int num_queues;
	unsigned int queue_size;

	/* config space: written by user space (ioctl) and the driver */
	spinlock_t config_lock;
	u8 *config;
	unsigned int config_size;
	u32 config_generation;

	u8 status;			/* virtio status, owned by the kernel */
	bool told;			/* the device process knows of a driver */

	struct vlb_shm shm;
	struct vlb_vq *vqs;
	struct mutex fds_lock;		/* serializes eventfd changes */

	/* messages: queued for read(), then awaiting a reply */
	spinlock_t msg_lock;
	struct list_head msg_queue;
	struct list_head msg_sent;
	wait_queue_head_t msg_readq;
	wait_queue_head_t msg_replyq;
	u64 msg_seq;

	/* lifecycle */
	struct mutex lock;		/* protects started and registered */
	bool started;
	bool registered;
	bool dead;			/* set once, never cleared */
	bool gone;			/* dead, and the area revoked: user space hears */
	struct work_struct start_work;
	struct work_struct remove_work;
	struct work_struct fail_work;	/* vlb_dev_fail from atomic context */
};

static inline struct vlb_device *vdev_to_ldev(struct virtio_device *vdev)
{
	return container_of(vdev, struct vlb_device, vdev);
}

/* main.c */
extern struct miscdevice vlb_misc;
unsigned int vlb_reply_timeout_ms(void);
unsigned int vlb_max_devices(void);

/* dev.c */
int vlb_dev_create(const struct vlb_create *c, const void __user *config,
		   unsigned int user_limit);
void vlb_dev_fail(struct vlb_device *ldev, const char *why);
void vlb_dev_fail_async(struct vlb_device *ldev);

/* msg.c */
int vlb_msg_call(struct vlb_device *ldev, struct vlb_msg *m);
int vlb_msg_post(struct vlb_device *ldev, const struct vlb_msg *m);
ssize_t vlb_msg_read(struct vlb_device *ldev, char __user *buf, size_t len,
		     bool nonblock);
ssize_t vlb_msg_write(struct vlb_device *ldev, const char __user *buf,
		      size_t len);
__poll_t vlb_msg_poll(struct vlb_device *ldev, struct file *file,
		      poll_table *wait);
void vlb_msg_flush(struct vlb_device *ldev);

/* vdev.c */
extern const struct virtio_config_ops vlb_config_ops;
int vlb_vdev_create_vq(struct virtio_device *vdev, unsigned int index,
		       const char *name, vq_callback_t *callback, bool ctx,
		       struct virtqueue **out);
void vlb_vdev_del_vqs(struct virtio_device *vdev);

/* shm.c */
int vlb_shm_init(struct vlb_device *ldev, size_t size);
void vlb_shm_destroy(struct vlb_shm *shm);
void vlb_shm_revoke(struct vlb_shm *shm);
int vlb_shm_fd(struct vlb_shm *shm);
void *vlb_shm_iova_to_va(struct vlb_shm *shm, u64 iova, size_t len);
size_t vlb_shm_ring_bytes(unsigned int num_queues, unsigned int queue_size);
extern const struct dma_map_ops vlb_dma_ops;

/* irq.c */
void vlb_vq_init(struct vlb_vq *lvq, struct vlb_device *ldev,
		 unsigned int index);
int vlb_vq_set_fds(struct vlb_vq *lvq, int kick_fd, int call_fd);
void vlb_vq_release_fds(struct vlb_vq *lvq);
bool vlb_vq_notify(struct virtqueue *vq);

/* inflight.c */
void vlb_inflight_avail(struct vlb_vq *lvq);
bool vlb_inflight_used(struct vlb_vq *lvq);
unsigned int vlb_inflight_fail(struct vlb_vq *lvq);

#endif /* VLB_KMOD_VLOOPBACK_H */

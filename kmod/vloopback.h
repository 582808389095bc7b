/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio_loopback: a virtio transport whose device side is a user-space
 * process.  Internal declarations shared by the module's files:
 *
 *   main.c   module parameters, /dev/virtio-loopback, VLB_IOC_CREATE
 *   dev.c    the device object, its fd, its one teardown path
 *   msg.c    messages to the device process and its replies
 *   vdev.c   virtio_config_ops: the kernel keeps the device state
 *   shm.c    the shared area: shadow rings, then the bounce region
 *   bounce.c bounce mappings: the only place data crosses the boundary
 *   iova.c   where in the area a mapping goes: a pool, per-CPU caches
 *   map.c    virtio_map_ops over bounce.c (6.18+); the core's rings stay private
 *   dma.c    the same as dma_map_ops, for older kernels
 *   shadow.c the device's view of a queue, mediated and checked
 *   irq.c    kick and call eventfds
 *   coalesce.c notification moderation: a call per batch under load
 */
#ifndef VLB_KMOD_VLOOPBACK_H
#define VLB_KMOD_VLOOPBACK_H

#include <linux/device.h>
#include <linux/dma-direction.h>
#include <linux/eventfd.h>
#include <linux/hrtimer.h>
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
struct vlb_iova_cache;

/* Largest indirect table the shadow ring reads (the virtio core's limit) */
#define VLB_MAX_INDIRECT	4096

/* The bounce region is handed out in slots of 512 bytes. */
#define VLB_SLOT_SHIFT		9
#define VLB_SLOT_SIZE		BIT(VLB_SLOT_SHIFT)

/* IOVAs of the bounce region (iova.c) */
struct vlb_iova {
	struct gen_pool *pool;
	struct vlb_iova_cache __percpu *cache;
};

/* Bounce mappings in the shared area (bounce.c) */
struct vlb_bounce {
	struct vlb_iova iova_alloc;
	void *vaddr;		/* kernel address of the bounce region */
	u64 iova;		/* its first IOVA */
	size_t size;
	size_t max_mapping;
	unsigned long nslots;
	phys_addr_t *orig;	/* per mapping (first slot): driver's address */
	u32 *len;		/* per mapping (first slot): bytes */
	u32 *start;		/* per slot: first slot of its mapping, or ~0 */
	u8 *dir;		/* per mapping (first slot): dma_data_direction */
	rwlock_t area_lock;	/* copies read it, vlb_bounce_rehome writes vaddr */
	unsigned long *live;	/* bit set: a live mapping starts here */
	bool dead;		/* nothing moves through the area any more */
};

/* The area shared with the device process: shadow rings and bounce buffers. */
struct vlb_shm {
	struct file *file;	/* shmem file; user space maps this */
	struct page **pages;	/* the area's pages, pinned while it is used */
	unsigned long npages;
	void *vaddr;		/* kernel mapping of the whole area */
	size_t size;
	struct vlb_bounce bounce;	/* everything after the shadow rings */
};

/*
 * A queue as the device sees it (shadow.c): a split ring in the shared area
 * that only the module writes, next to the virtio core's private ring.
 */
struct vlb_shadow {
	unsigned int num;
	bool event_idx;
	struct vring ring;		/* in the shared area */
	u64 iova;			/* of ring.desc */
	const struct vring *priv;	/* the virtio core's */
	u16 avail_seen;		/* private avail entries taken */
	u16 avail_pub;		/* shadow avail index published */
	u16 used_seen;		/* shadow used entries taken */
	u16 used_pub;		/* private used index written */
	u16 requests;		/* owed chains that are requests */
	unsigned long *owed;	/* per head: made available, not returned */
	unsigned long *request;	/* per head: the chain has a readable part */
	u32 *wlen;		/* per head: device-writable bytes */
	unsigned long *since;	/* per head: jiffies when published */
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
	struct vlb_shadow shadow;
	struct eventfd_ctx *kick;
	bool broken;		/* the device returned what it was not given */
	bool irq_pending;	/* entries were returned outside the irq_work */
	bool held;		/* quiesced: chains are owed, not published */

	/* call eventfd, watched in-kernel; changed under ldev->fds_lock */
	struct eventfd_ctx *call;
	wait_queue_entry_t call_wait;
	poll_table call_pt;
	struct irq_work irq_work;	/* vring_interrupt in hard irq context */
	struct hrtimer coalesce;	/* harvest what a batch left waiting */
	u64 took_ns;		/* when a harvest last took entries */
	u32 entry_ns;		/* moving average: time per returned entry */
	bool late;		/* the timer ended the last batch: no batching */
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
	struct mutex fail_lock;		/* serializes vlb_dev_fail */
	bool started;
	bool registered;
	bool dead;			/* set once, never cleared */
	bool quiesced;			/* no process: requests wait for one */
	bool recoverable;		/* quiesce, not fail, when the fd closes */
	bool destroying;		/* VLB_IOC_DESTROY: remove, never quiesce */
	unsigned long recovery_timeout;	/* jiffies a quiesced device waits */
	struct delayed_work recovery_work;	/* fails it when they are up */
	bool gone;			/* dead, and the area revoked: user space hears */
	struct work_struct start_work;
	struct work_struct remove_work;
	struct work_struct fail_work;	/* vlb_dev_fail from atomic context */
	unsigned long io_timeout;	/* jiffies a request may be held, 0: any */
	struct delayed_work watchdog;	/* checks io_timeout */
};

static inline struct vlb_device *vdev_to_ldev(struct virtio_device *vdev)
{
	return container_of(vdev, struct vlb_device, vdev);
}

/* main.c */
extern struct miscdevice vlb_misc;
extern struct workqueue_struct *vlb_wq;
unsigned int vlb_reply_timeout_ms(void);
unsigned int vlb_max_devices(void);
unsigned int vlb_io_timeout_ms(void);
unsigned int vlb_recovery_max_ms(void);

/* dev.c */
int vlb_dev_create(const struct vlb_create *c, const void __user *config,
		   bool admin, unsigned int user_limit);
void vlb_dev_fail(struct vlb_device *ldev, const char *why);
void vlb_dev_fail_async(struct vlb_device *ldev);
int vlb_dev_recover(const struct vlb_recover *r);

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
void vlb_msg_drain(struct vlb_device *ldev);

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
void vlb_shm_unmap_users(struct vlb_shm *shm);
struct vlb_area;
int vlb_shm_replace(struct vlb_shm *shm, struct vlb_area **old);
void vlb_shm_free_old(struct vlb_area *old);
int vlb_shm_fd(struct vlb_shm *shm);
size_t vlb_shm_ring_bytes(unsigned int num_queues, unsigned int queue_size);
void *vlb_shm_ring(struct vlb_device *ldev, unsigned int index, u64 *iova);

/* iova.c */
int vlb_iova_init(struct vlb_iova *a, u64 iova, size_t size);
void vlb_iova_destroy(struct vlb_iova *a);
u64 vlb_iova_alloc(struct vlb_iova *a, size_t len);
void vlb_iova_free(struct vlb_iova *a, u64 iova, size_t len);

/* bounce.c */
int vlb_bounce_init(struct vlb_bounce *b, void *vaddr, u64 iova, size_t size,
		    size_t max_mapping);
void vlb_bounce_destroy(struct vlb_bounce *b);
dma_addr_t vlb_bounce_map(struct vlb_bounce *b, phys_addr_t phys, size_t size,
			  enum dma_data_direction dir, unsigned long attrs);
void vlb_bounce_unmap(struct vlb_bounce *b, dma_addr_t iova, size_t size,
		      enum dma_data_direction dir, unsigned long attrs);
void vlb_bounce_sync(struct vlb_bounce *b, dma_addr_t iova, size_t size,
		     enum dma_data_direction dir, bool for_cpu);
int vlb_bounce_read_orig(const struct vlb_bounce *b, u64 iova, void *buf,
			 size_t len);
void vlb_bounce_kill(struct vlb_bounce *b);
void vlb_bounce_rehome(struct vlb_bounce *b, void *vaddr);
size_t vlb_bounce_max_mapping(const struct vlb_bounce *b);
void vlb_bounce_set_max_mapping(struct vlb_bounce *b, size_t max);

/* dma.c or map.c, whichever the kernel has the interface for */
int vlb_mapping_attach(struct vlb_device *ldev);

/* shadow.c */
void *vlb_ring_alloc(size_t size, gfp_t gfp, dma_addr_t *cookie);
void vlb_ring_free(void *va, size_t size);
int vlb_shadow_init(struct vlb_vq *lvq, struct virtqueue *vq);
void vlb_shadow_free(struct vlb_vq *lvq);
void vlb_shadow_addrs(const struct vlb_vq *lvq, struct vlb_vq_info *info);
bool vlb_shadow_publish(struct vlb_vq *lvq);
int vlb_shadow_harvest(struct vlb_vq *lvq, bool *irq);
bool vlb_shadow_fail(struct vlb_vq *lvq);
bool vlb_shadow_overdue(struct vlb_vq *lvq, unsigned long limit);
void vlb_shadow_restart(struct vlb_vq *lvq);
void vlb_shadow_hold(struct vlb_vq *lvq);
bool vlb_shadow_owes(const struct vlb_vq *lvq);

/* irq.c */
void vlb_vq_init(struct vlb_vq *lvq, struct vlb_device *ldev,
		 unsigned int index);
int vlb_vq_set_fds(struct vlb_vq *lvq, int kick_fd, int call_fd);
void vlb_vq_release_fds(struct vlb_vq *lvq);
bool vlb_vq_notify(struct virtqueue *vq);
void vlb_vq_take(struct vlb_vq *lvq, bool late);
void vlb_vq_sync(struct vlb_vq *lvq);
bool vlb_vq_hold(struct vlb_vq *lvq);
bool vlb_vq_restart(struct vlb_vq *lvq);
void vlb_vq_resume(struct vlb_vq *lvq);

/* coalesce.c */
u16 vlb_coalesce_batch(const struct vlb_vq *lvq);
void vlb_coalesce_init(struct vlb_vq *lvq);
void vlb_coalesce_note(struct vlb_vq *lvq, u16 taken);
void vlb_coalesce_arm(struct vlb_vq *lvq);
void vlb_coalesce_cancel(struct vlb_vq *lvq);

#endif /* VLB_KMOD_VLOOPBACK_H */

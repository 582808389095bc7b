// SPDX-License-Identifier: GPL-2.0
/*
 * The area shared with the device process.
 *
 * User space sees exactly one memory area per device: a shmem file the
 * module created, mapped by the device process (or handed as it is to a
 * vhost-user back-end in SET_MEM_TABLE).  It holds, first, one shadow ring
 * per queue (shadow.c writes them; the virtio core's own rings stay
 * private), then the bounce region every mapped buffer is copied through
 * (bounce.c).  Every address user space sees is an IOVA in
 * [VLB_SHM_IOVA_BASE, VLB_SHM_IOVA_BASE + size).
 *
 * The kernel keeps its own references to the pages and its own mapping of
 * them.  The file cannot grow or shrink (sealed), and revoking user space
 * truncates it: every mapping of it, in any process, loses the pages.  Pages
 * pinned through it before (io_uring fixed buffers, vmsplice) outlive the
 * truncation, which is why a dead device's area is never read again.
 */
#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "compat.h"
#include "vloopback.h"

/*
 * A mapping may take up to an eighth of the bounce region, at most 1 MiB: a
 * 1 MiB request then fits in a few mappings (one allocation and one copy
 * each) while a full queue of them still leaves room to allocate.
 */
#define VLB_MAX_MAPPING		SZ_1M

/* One shadow ring per queue, each in its own pages */
static size_t shm_ring_stride(unsigned int queue_size)
{
	return PAGE_ALIGN(vring_size(queue_size, SMP_CACHE_BYTES));
}

size_t vlb_shm_ring_bytes(unsigned int num_queues, unsigned int queue_size)
{
	return num_queues * shm_ring_stride(queue_size);
}

/* Queue @index's shadow ring: kernel address and IOVA of its first byte. */
void *vlb_shm_ring(struct vlb_device *ldev, unsigned int index, u64 *iova)
{
	size_t off = index * shm_ring_stride(ldev->queue_size);

	*iova = VLB_SHM_IOVA_BASE + off;
	return ldev->shm.vaddr + off;
}

/* The area's memory: a sealed shmem file, its pages pinned and mapped. */
struct vlb_area {
	struct file *file;
	struct page **pages;
	unsigned long npages;
	void *vaddr;
};

static void area_free(struct vlb_area *a)
{
	unsigned long i;

	if (a->vaddr)
		vunmap(a->vaddr);
	for (i = 0; a->pages && i < a->npages && a->pages[i]; i++)
		put_page(a->pages[i]);
	kvfree(a->pages);
	if (a->file)
		fput(a->file);
	memset(a, 0, sizeof(*a));
}

/* User space may map the file, never resize it nor add seals of its own. */
static void area_seal(struct file *file)
{
	SHMEM_I(file_inode(file))->seals |=
		F_SEAL_SEAL | F_SEAL_GROW | F_SEAL_SHRINK;
}

static int area_alloc(struct vlb_area *a, size_t size)
{
	struct address_space *mapping;
	unsigned long i;
	int err;

	memset(a, 0, sizeof(*a));
	a->file = vlb_compat_shmem_file("virtio-loopback", size);
	if (IS_ERR(a->file)) {
		err = PTR_ERR(a->file);
		a->file = NULL;
		return err;
	}
	area_seal(a->file);
	a->npages = size >> PAGE_SHIFT;
	a->pages = kvcalloc(a->npages, sizeof(*a->pages), GFP_KERNEL_ACCOUNT);
	if (!a->pages)
		goto nomem;
	mapping = a->file->f_mapping;
	/* Pinned pages must not move to swap: both sides address them. */
	mapping_set_unevictable(mapping);
	for (i = 0; i < a->npages; i++) {
		struct page *page = shmem_read_mapping_page(mapping, i);

		if (IS_ERR(page)) {
			area_free(a);
			return PTR_ERR(page);
		}
		a->pages[i] = page;
	}
	a->vaddr = vmap(a->pages, a->npages, VM_MAP, PAGE_KERNEL);
	if (a->vaddr)
		return 0;
nomem:
	area_free(a);
	return -ENOMEM;
}

static void shm_take(struct vlb_shm *shm, struct vlb_area *a)
{
	shm->file = a->file;
	shm->pages = a->pages;
	shm->npages = a->npages;
	shm->vaddr = a->vaddr;
}

static void shm_give(struct vlb_shm *shm, struct vlb_area *a)
{
	a->file = shm->file;
	a->pages = shm->pages;
	a->npages = shm->npages;
	a->vaddr = shm->vaddr;
}

/* On error the caller still calls vlb_shm_destroy(). */
int vlb_shm_init(struct vlb_device *ldev, size_t size)
{
	struct vlb_shm *shm = &ldev->shm;
	size_t rings = vlb_shm_ring_bytes(ldev->num_queues, ldev->queue_size);
	struct vlb_area a;
	size_t max_mapping;
	int err;

	shm->size = size;
	err = area_alloc(&a, size);
	if (err)
		return err;
	shm_take(shm, &a);
	max_mapping = clamp_t(size_t, (size - rings) / 8, PAGE_SIZE,
			      VLB_MAX_MAPPING);
	return vlb_bounce_init(&shm->bounce, shm->vaddr + rings,
			       VLB_SHM_IOVA_BASE + rings, size - rings,
			       max_mapping);
}

void vlb_shm_destroy(struct vlb_shm *shm)
{
	struct vlb_area a;

	vlb_bounce_destroy(&shm->bounce);
	shm_give(shm, &a);
	area_free(&a);
}

/*
 * Recovery: a fresh area of the same size and layout replaces the old one,
 * whose user mappings were taken away when the process went.  The bounce
 * mappings move into it; the caller rebuilds the shadow rings, and holds
 * every queue's lock so that nothing reads them meanwhile.
 */
int vlb_shm_replace(struct vlb_shm *shm, struct vlb_area **old)
{
	size_t rings = shm->bounce.iova - VLB_SHM_IOVA_BASE;
	struct vlb_area *a = kmalloc(sizeof(*a), GFP_KERNEL);
	int err;

	if (!a)
		return -ENOMEM;
	err = area_alloc(a, shm->size);
	if (err) {
		kfree(a);
		return err;
	}
	vlb_bounce_rehome(&shm->bounce, a->vaddr + rings);
	/* swap: @a now describes the old area, which the caller frees */
	swap(shm->file, a->file);
	swap(shm->pages, a->pages);
	swap(shm->vaddr, a->vaddr);
	*old = a;
	return 0;
}

void vlb_shm_free_old(struct vlb_area *old)
{
	area_free(old);
	kfree(old);
}

/* Every user mapping of the area loses its pages; the kernel keeps them. */
void vlb_shm_unmap_users(struct vlb_shm *shm)
{
	struct inode *inode = file_inode(shm->file);

	inode_lock(inode);
	mapping_clear_unevictable(shm->file->f_mapping);
	shmem_truncate_range(inode, 0, (loff_t)-1);
	inode_unlock(inode);
}

/*
 * Take the area away from user space: every mapping of the file, in any
 * process (the device process, a vhost-user back-end), loses the pages;
 * new faults get fresh zero pages.  The kernel's pinned copy is untouched
 * but is not used for data any more (vlb_bounce_kill).
 */
void vlb_shm_revoke(struct vlb_shm *shm)
{
	vlb_bounce_kill(&shm->bounce);
	vlb_shm_unmap_users(shm);
}

int vlb_shm_fd(struct vlb_shm *shm)
{
	int fd = get_unused_fd_flags(O_CLOEXEC);

	if (fd >= 0)
		fd_install(fd, get_file(shm->file));
	return fd;
}

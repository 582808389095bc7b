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

static int shm_pin_pages(struct vlb_shm *shm)
{
	struct address_space *mapping = shm->file->f_mapping;
	unsigned long i;

	shm->pages = kvcalloc(shm->npages, sizeof(*shm->pages),
			      GFP_KERNEL_ACCOUNT);
	if (!shm->pages)
		return -ENOMEM;
	/* Pinned pages must not move to swap: both sides address them. */
	mapping_set_unevictable(mapping);
	for (i = 0; i < shm->npages; i++) {
		struct page *page = shmem_read_mapping_page(mapping, i);

		if (IS_ERR(page))
			return PTR_ERR(page);
		shm->pages[i] = page;
	}
	shm->vaddr = vmap(shm->pages, shm->npages, VM_MAP, PAGE_KERNEL);
	return shm->vaddr ? 0 : -ENOMEM;
}

/* User space may map the file, never resize it nor add seals of its own. */
static void shm_seal(struct vlb_shm *shm)
{
	SHMEM_I(file_inode(shm->file))->seals |=
		F_SEAL_SEAL | F_SEAL_GROW | F_SEAL_SHRINK;
}

/* On error the caller still calls vlb_shm_destroy(). */
int vlb_shm_init(struct vlb_device *ldev, size_t size)
{
	struct vlb_shm *shm = &ldev->shm;
	size_t rings = vlb_shm_ring_bytes(ldev->num_queues, ldev->queue_size);
	size_t max_mapping;
	int err;

	shm->size = size;
	shm->npages = size >> PAGE_SHIFT;
	shm->file = vlb_compat_shmem_file("virtio-loopback", size);
	if (IS_ERR(shm->file)) {
		err = PTR_ERR(shm->file);
		shm->file = NULL;
		return err;
	}
	shm_seal(shm);
	err = shm_pin_pages(shm);
	if (err)
		return err;
	max_mapping = clamp_t(size_t, (size - rings) / 8, PAGE_SIZE,
			      VLB_MAX_MAPPING);
	return vlb_bounce_init(&shm->bounce, shm->vaddr + rings,
			       VLB_SHM_IOVA_BASE + rings, size - rings,
			       max_mapping);
}

void vlb_shm_destroy(struct vlb_shm *shm)
{
	unsigned long i;

	vlb_bounce_destroy(&shm->bounce);
	if (shm->vaddr)
		vunmap(shm->vaddr);
	for (i = 0; shm->pages && i < shm->npages && shm->pages[i]; i++)
		put_page(shm->pages[i]);
	kvfree(shm->pages);
	if (shm->file)
		fput(shm->file);
}

/*
 * Take the area away from user space: every mapping of the file, in any
 * process (the device process, a vhost-user back-end), loses the pages;
 * new faults get fresh zero pages.  The kernel's pinned copy is untouched
 * but is not used for data any more (vlb_bounce_kill).
 */
void vlb_shm_revoke(struct vlb_shm *shm)
{
	struct inode *inode = file_inode(shm->file);

	vlb_bounce_kill(&shm->bounce);
	inode_lock(inode);
	mapping_clear_unevictable(shm->file->f_mapping);
	shmem_truncate_range(inode, 0, (loff_t)-1);
	inode_unlock(inode);
}

int vlb_shm_fd(struct vlb_shm *shm)
{
	int fd = get_unused_fd_flags(O_CLOEXEC);

	if (fd >= 0)
		fd_install(fd, get_file(shm->file));
	return fd;
}

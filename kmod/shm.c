// SPDX-License-Identifier: GPL-2.0
/*
 * The shared area of a device and the DMA ops that bounce through it.
 *
 * User space sees exactly one memory area per device: a shmem file the
 * module created, mapped by the device process (or handed as it is to a
 * vhost-user backend in SET_MEM_TABLE).  The vrings are allocated in it by
 * the virtio core through our dma_alloc_coherent(), and every buffer a
 * driver maps is copied into it (and back on unmap), the way VDUSE's bounce
 * domain works.  DMA addresses, and so every address in the rings, are IOVAs
 * in [VLB_SHM_IOVA_BASE, VLB_SHM_IOVA_BASE + size).
 *
 * The kernel keeps its own references to the pages and its own mapping of
 * them, so revoking user space (truncating the file) leaves the kernel's view
 * intact while every user mapping loses it.
 */
#include <linux/bitmap.h>
#include <linux/dma-map-ops.h>
#include <linux/file.h>
#include <linux/genalloc.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/shmem_fs.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "vloopback.h"

/* Bounce slots are 512 bytes: small headers waste little, sectors align. */
#define VLB_SLOT_SHIFT		9
#define VLB_SLOT_SIZE		BIT(VLB_SLOT_SHIFT)
/*
 * A mapping may take up to an eighth of the bounce area, at most 1 MiB: a
 * 1 MiB request then fits in a few mappings (one gen_pool_alloc() and one
 * copy each) while a full queue of them still leaves room to allocate.
 */
#define VLB_MAX_MAPPING		SZ_1M

struct vlb_bounce {
	/* per slot: the driver's physical address for the slot's first byte */
	phys_addr_t *orig;
	/* per mapping, indexed by its first slot: length in bytes */
	u32 *len;
	/* bit set: a live mapping starts at this slot */
	unsigned long *live;
	unsigned long nslots;
};

size_t vlb_shm_ring_bytes(unsigned int num_queues, unsigned int queue_size)
{
	return num_queues * PAGE_ALIGN(vring_size(queue_size, SMP_CACHE_BYTES));
}

/* The bounce area: what follows the rings */
static size_t shm_bounce_bytes(const struct vlb_shm *shm)
{
	return shm->size - shm->ring_size;
}

static struct vlb_shm *dev_to_shm(struct device *dev)
{
	return &container_of(dev, struct vlb_device, dev)->shm;
}

void *vlb_shm_iova_to_va(struct vlb_shm *shm, u64 iova, size_t len)
{
	u64 off = iova - VLB_SHM_IOVA_BASE;

	if (iova < VLB_SHM_IOVA_BASE || off > shm->size || len > shm->size - off)
		return NULL;
	return shm->vaddr + off;
}

static bool bounce_range(struct vlb_shm *shm, u64 iova, size_t size,
			 unsigned long *slot)
{
	u64 start = VLB_SHM_IOVA_BASE + shm->ring_size;

	if (iova < start || !vlb_shm_iova_to_va(shm, iova, size))
		return false;
	*slot = (iova - start) >> VLB_SLOT_SHIFT;
	return true;
}

/* Copy between the area and the driver's pages, page by page. */
static void bounce_copy(struct vlb_shm *shm, u64 iova, size_t size,
			bool to_area)
{
	struct vlb_bounce *b = shm->bounce;
	u64 rel = iova - VLB_SHM_IOVA_BASE - shm->ring_size;
	phys_addr_t phys = b->orig[rel >> VLB_SLOT_SHIFT] +
			   (rel & (VLB_SLOT_SIZE - 1));
	void *va = shm->vaddr + (iova - VLB_SHM_IOVA_BASE);

	while (size) {
		unsigned int off = offset_in_page(phys);
		size_t n = min_t(size_t, size, PAGE_SIZE - off);
		void *p = kmap_local_page(pfn_to_page(PHYS_PFN(phys)));

		if (to_area)
			memcpy(va, p + off, n);
		else
			memcpy(p + off, va, n);
		kunmap_local(p);
		va += n;
		phys += n;
		size -= n;
	}
}

static dma_addr_t vlb_map_page(struct device *dev, struct page *page,
			       unsigned long offset, size_t size,
			       enum dma_data_direction dir, unsigned long attrs)
{
	struct vlb_shm *shm = dev_to_shm(dev);
	struct vlb_bounce *b = shm->bounce;
	size_t alloc = max_t(size_t, size, 1);
	phys_addr_t phys = page_to_phys(page) + offset;
	unsigned long va, slot, i, n;
	u64 iova;

	va = gen_pool_alloc(shm->bounce_pool, alloc);
	if (!va)
		return DMA_MAPPING_ERROR;
	iova = VLB_SHM_IOVA_BASE + (va - (unsigned long)shm->vaddr);
	slot = (iova - VLB_SHM_IOVA_BASE - shm->ring_size) >> VLB_SLOT_SHIFT;
	n = DIV_ROUND_UP(alloc, VLB_SLOT_SIZE);
	for (i = 0; i < n; i++)
		b->orig[slot + i] = phys + i * VLB_SLOT_SIZE;
	b->len[slot] = alloc;
	set_bit(slot, b->live);

	if (attrs & DMA_ATTR_SKIP_CPU_SYNC)
		return iova;
	if (dir == DMA_TO_DEVICE || dir == DMA_BIDIRECTIONAL)
		bounce_copy(shm, iova, size, true);
	else if (READ_ONCE(shm->poisoned))
		memset((void *)va, 0xff, size);
	return iova;
}

/*
 * The address comes from the driver, but on some kernels the virtio core
 * walks chains using flags from the shared descriptor table, so a hostile
 * device process can make it unmap twice.  Only live mappings are undone.
 */
static void vlb_unmap_page(struct device *dev, dma_addr_t iova, size_t size,
			   enum dma_data_direction dir, unsigned long attrs)
{
	struct vlb_shm *shm = dev_to_shm(dev);
	struct vlb_bounce *b = shm->bounce;
	unsigned long slot;

	if (!bounce_range(shm, iova, size, &slot) ||
	    !test_and_clear_bit(slot, b->live)) {
		dev_err_ratelimited(dev, "unmap of unknown IOVA %#llx+%zu\n",
				    (u64)iova, size);
		return;
	}
	if ((dir == DMA_FROM_DEVICE || dir == DMA_BIDIRECTIONAL) &&
	    !(attrs & DMA_ATTR_SKIP_CPU_SYNC))
		bounce_copy(shm, iova, min_t(size_t, size, b->len[slot]), false);
	gen_pool_free(shm->bounce_pool,
		      (unsigned long)shm->vaddr + (iova - VLB_SHM_IOVA_BASE),
		      b->len[slot]);
}

static void vlb_sync_for_cpu(struct device *dev, dma_addr_t iova,
			     size_t size, enum dma_data_direction dir)
{
	struct vlb_shm *shm = dev_to_shm(dev);
	unsigned long slot;

	if (dir != DMA_FROM_DEVICE && dir != DMA_BIDIRECTIONAL)
		return;
	if (bounce_range(shm, iova, size, &slot))
		bounce_copy(shm, iova, size, false);
}

static void vlb_sync_for_device(struct device *dev, dma_addr_t iova,
				size_t size, enum dma_data_direction dir)
{
	struct vlb_shm *shm = dev_to_shm(dev);
	unsigned long slot;

	if (dir != DMA_TO_DEVICE && dir != DMA_BIDIRECTIONAL)
		return;
	if (bounce_range(shm, iova, size, &slot))
		bounce_copy(shm, iova, size, true);
}

/* Rings: page-aligned, zeroed, never copied: both sides share them. */
static void *vlb_alloc(struct device *dev, size_t size, dma_addr_t *iova,
		       gfp_t gfp, unsigned long attrs)
{
	struct vlb_shm *shm = dev_to_shm(dev);
	unsigned long va = gen_pool_alloc(shm->ring_pool, size);

	if (!va)
		return NULL;
	memset((void *)va, 0, size);
	*iova = VLB_SHM_IOVA_BASE + (va - (unsigned long)shm->vaddr);
	return (void *)va;
}

static void vlb_free(struct device *dev, size_t size, void *vaddr,
		     dma_addr_t iova, unsigned long attrs)
{
	gen_pool_free(dev_to_shm(dev)->ring_pool, (unsigned long)vaddr, size);
}

static size_t vlb_max_mapping_size(struct device *dev)
{
	return clamp_t(size_t, shm_bounce_bytes(dev_to_shm(dev)) / 8, PAGE_SIZE,
		       VLB_MAX_MAPPING);
}

const struct dma_map_ops vlb_dma_ops = {
	.map_page		= vlb_map_page,
	.unmap_page		= vlb_unmap_page,
	.sync_single_for_cpu	= vlb_sync_for_cpu,
	.sync_single_for_device	= vlb_sync_for_device,
	.alloc			= vlb_alloc,
	.free			= vlb_free,
	.max_mapping_size	= vlb_max_mapping_size,
};

static int shm_pin_pages(struct vlb_shm *shm)
{
	struct address_space *mapping = shm->file->f_mapping;
	unsigned long i;

	shm->pages = kvcalloc(shm->npages, sizeof(*shm->pages), GFP_KERNEL);
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

static struct gen_pool *shm_pool(struct vlb_shm *shm, int order, size_t off,
				 size_t size)
{
	struct gen_pool *pool = gen_pool_create(order, NUMA_NO_NODE);

	if (!pool)
		return NULL;
	if (gen_pool_add_virt(pool, (unsigned long)shm->vaddr + off,
			      VLB_SHM_IOVA_BASE + off, size, NUMA_NO_NODE)) {
		gen_pool_destroy(pool);
		return NULL;
	}
	return pool;
}

static int shm_init_bounce(struct vlb_shm *shm)
{
	size_t bytes = shm_bounce_bytes(shm);
	struct vlb_bounce *b = kzalloc(sizeof(*b), GFP_KERNEL);

	if (!b)
		return -ENOMEM;
	shm->bounce = b;
	b->nslots = bytes >> VLB_SLOT_SHIFT;
	b->orig = kvcalloc(b->nslots, sizeof(*b->orig), GFP_KERNEL);
	b->len = kvcalloc(b->nslots, sizeof(*b->len), GFP_KERNEL);
	b->live = bitmap_zalloc(b->nslots, GFP_KERNEL);
	if (!b->orig || !b->len || !b->live)
		return -ENOMEM;

	shm->ring_pool = shm_pool(shm, PAGE_SHIFT, 0, shm->ring_size);
	shm->bounce_pool = shm_pool(shm, VLB_SLOT_SHIFT, shm->ring_size, bytes);
	return shm->ring_pool && shm->bounce_pool ? 0 : -ENOMEM;
}

/* On error the caller still calls vlb_shm_destroy(). */
int vlb_shm_init(struct vlb_device *ldev, size_t size)
{
	struct vlb_shm *shm = &ldev->shm;
	int err;

	shm->size = size;
	shm->npages = size >> PAGE_SHIFT;
	shm->ring_size = vlb_shm_ring_bytes(ldev->num_queues, ldev->queue_size);
	shm->file = shmem_file_setup("virtio-loopback", size, VM_NORESERVE);
	if (IS_ERR(shm->file)) {
		err = PTR_ERR(shm->file);
		shm->file = NULL;
		return err;
	}
	err = shm_pin_pages(shm);
	if (err)
		return err;
	return shm_init_bounce(shm);
}

/*
 * Some drivers never unmap buffers the device still held at removal
 * (virtio_input's event buffers): the area goes away with them, so their
 * slots are simply returned before the pool is destroyed.
 */
static void shm_bounce_reclaim(struct vlb_shm *shm)
{
	struct vlb_bounce *b = shm->bounce;
	unsigned long slot;

	for_each_set_bit(slot, b->live, b->nslots)
		gen_pool_free(shm->bounce_pool, (unsigned long)shm->vaddr +
			      shm->ring_size + (slot << VLB_SLOT_SHIFT),
			      b->len[slot]);
}

/* Rings still allocated would mean a driver skipped del_vqs: keep the pool. */
static void shm_pool_destroy(struct gen_pool *pool)
{
	if (!pool)
		return;
	if (gen_pool_avail(pool) != gen_pool_size(pool)) {
		pr_err("virtio_loopback: rings never freed, leaking their pool\n");
		return;
	}
	gen_pool_destroy(pool);
}

void vlb_shm_destroy(struct vlb_shm *shm)
{
	struct vlb_bounce *b = shm->bounce;
	unsigned long i;

	if (b && b->live && shm->bounce_pool)
		shm_bounce_reclaim(shm);
	shm_pool_destroy(shm->ring_pool);
	shm_pool_destroy(shm->bounce_pool);
	if (b) {
		kvfree(b->orig);
		kvfree(b->len);
		bitmap_free(b->live);
		kfree(b);
	}
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
 * process (the device process, a vhost-user backend), loses the pages; new
 * faults get fresh zero pages.  The kernel's pinned copy is untouched, and
 * buffers the driver maps from now on read back as 0xff, an error status
 * for the common virtio request formats (inflight.c poisons the ones
 * already in flight).
 */
void vlb_shm_revoke(struct vlb_shm *shm)
{
	struct inode *inode = file_inode(shm->file);

	WRITE_ONCE(shm->poisoned, true);
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

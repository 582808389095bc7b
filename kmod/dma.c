// SPDX-License-Identifier: GPL-2.0
/*
 * The DMA API as the virtio core uses it on a vloopback device, on kernels
 * without virtio_map_ops (map.c has those).
 *
 * vloopbackN, the parent of the virtio device, carries these ops: buffers
 * a driver maps are bounced through the shared area (bounce.c), while the
 * rings the virtio core allocates are ordinary kernel memory that user space
 * never sees (shadow.c mediates between them and the device's rings).
 */
#include <linux/dma-map-ops.h>
#include <linux/scatterlist.h>

#include "compat.h"
#include "vloopback.h"

#if !VLB_HAVE_VIRTIO_MAP

static struct vlb_bounce *dev_to_bounce(struct device *dev)
{
	return &container_of(dev, struct vlb_device, dev)->shm.bounce;
}

static dma_addr_t vlb_map_page(struct device *dev, struct page *page,
			       unsigned long offset, size_t size,
			       enum dma_data_direction dir, unsigned long attrs)
{
	return vlb_bounce_map(dev_to_bounce(dev), page_to_phys(page) + offset,
			      size, dir, attrs);
}

static void vlb_unmap_page(struct device *dev, dma_addr_t iova, size_t size,
			   enum dma_data_direction dir, unsigned long attrs)
{
	vlb_bounce_unmap(dev_to_bounce(dev), iova, size, dir, attrs);
}

static void vlb_unmap_sg(struct device *dev, struct scatterlist *sgl,
			 int nents, enum dma_data_direction dir,
			 unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		vlb_unmap_page(dev, sg_dma_address(sg), sg_dma_len(sg), dir,
			       attrs);
}

/* One mapping per entry: the area has no IOMMU to merge them. */
static int vlb_map_sg(struct device *dev, struct scatterlist *sgl, int nents,
		      enum dma_data_direction dir, unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i) {
		sg_dma_address(sg) = vlb_map_page(dev, sg_page(sg), sg->offset,
						  sg->length, dir, attrs);
		if (sg_dma_address(sg) == DMA_MAPPING_ERROR) {
			vlb_unmap_sg(dev, sgl, i, dir, attrs);
			return -ENOMEM;
		}
		sg_dma_len(sg) = sg->length;
	}
	return nents;
}

static void vlb_sync_for_cpu(struct device *dev, dma_addr_t iova,
			     size_t size, enum dma_data_direction dir)
{
	vlb_bounce_sync(dev_to_bounce(dev), iova, size, dir, true);
}

static void vlb_sync_for_device(struct device *dev, dma_addr_t iova,
				size_t size, enum dma_data_direction dir)
{
	vlb_bounce_sync(dev_to_bounce(dev), iova, size, dir, false);
}

static void vlb_sync_sg_for_cpu(struct device *dev, struct scatterlist *sgl,
				int nents, enum dma_data_direction dir)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		vlb_sync_for_cpu(dev, sg_dma_address(sg), sg_dma_len(sg), dir);
}

static void vlb_sync_sg_for_device(struct device *dev,
				   struct scatterlist *sgl, int nents,
				   enum dma_data_direction dir)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		vlb_sync_for_device(dev, sg_dma_address(sg), sg_dma_len(sg),
				    dir);
}

/* The virtio core's rings: private kernel memory (shadow.c) */
static void *vlb_alloc(struct device *dev, size_t size, dma_addr_t *cookie,
		       gfp_t gfp, unsigned long attrs)
{
	return vlb_ring_alloc(size, gfp, cookie);
}

static void vlb_free(struct device *dev, size_t size, void *vaddr,
		     dma_addr_t cookie, unsigned long attrs)
{
	vlb_ring_free(vaddr, size);
}

static size_t vlb_max_mapping_size(struct device *dev)
{
	return vlb_bounce_max_mapping(dev_to_bounce(dev));
}

static const struct dma_map_ops vlb_dma_ops = {
	.map_page		= vlb_map_page,
	.unmap_page		= vlb_unmap_page,
	.map_sg			= vlb_map_sg,
	.unmap_sg		= vlb_unmap_sg,
	.sync_single_for_cpu	= vlb_sync_for_cpu,
	.sync_single_for_device	= vlb_sync_for_device,
	.sync_sg_for_cpu	= vlb_sync_sg_for_cpu,
	.sync_sg_for_device	= vlb_sync_sg_for_device,
	.alloc			= vlb_alloc,
	.free			= vlb_free,
	.max_mapping_size	= vlb_max_mapping_size,
};

/* Route the virtio core's mappings for @ldev through the bounce area. */
int vlb_mapping_attach(struct vlb_device *ldev)
{
	set_dma_ops(&ldev->dev, &vlb_dma_ops);
	/* without our ops the virtio core would hand user space kernel memory */
	if (get_dma_ops(&ldev->dev) != &vlb_dma_ops) {
		dev_err_once(&ldev->dev, "this kernel ignores set_dma_ops()\n");
		return -ENODEV;
	}
	return 0;
}

#endif /* !VLB_HAVE_VIRTIO_MAP */

// SPDX-License-Identifier: GPL-2.0
/*
 * virtio_map_ops: the transport maps buffers for the virtio core itself,
 * the upstream way from 6.18 on (VDUSE does the same), instead of
 * overriding a device's DMA ops (dma.c, for older kernels).
 *
 * Buffers a driver maps are bounced through the shared area (bounce.c); the
 * rings the virtio core allocates are ordinary kernel memory that user space
 * never sees (shadow.c mediates between them and the device's rings).
 */
#include <linux/virtio_config.h>

#include "compat.h"
#include "vloopback.h"

#if VLB_HAVE_VIRTIO_MAP

static struct vlb_bounce *map_to_bounce(union virtio_map map)
{
	return &container_of(map.dma_dev, struct vlb_device, dev)->shm.bounce;
}

static dma_addr_t vlb_map_page(union virtio_map map, struct page *page,
			       unsigned long offset, size_t size,
			       enum dma_data_direction dir, unsigned long attrs)
{
	return vlb_bounce_map(map_to_bounce(map), page_to_phys(page) + offset,
			      size, dir, attrs);
}

static void vlb_unmap_page(union virtio_map map, dma_addr_t iova,
			   size_t size, enum dma_data_direction dir,
			   unsigned long attrs)
{
	vlb_bounce_unmap(map_to_bounce(map), iova, size, dir, attrs);
}

static void vlb_sync_for_cpu(union virtio_map map, dma_addr_t iova,
			     size_t size, enum dma_data_direction dir)
{
	vlb_bounce_sync(map_to_bounce(map), iova, size, dir, true);
}

static void vlb_sync_for_device(union virtio_map map, dma_addr_t iova,
				size_t size, enum dma_data_direction dir)
{
	vlb_bounce_sync(map_to_bounce(map), iova, size, dir, false);
}

/* The virtio core's rings: private kernel memory (shadow.c) */
static void *vlb_alloc(union virtio_map map, size_t size, dma_addr_t *cookie,
		       gfp_t gfp)
{
	return vlb_ring_alloc(size, gfp, cookie);
}

static void vlb_free(union virtio_map map, size_t size, void *vaddr,
		     dma_addr_t cookie, unsigned long attrs)
{
	vlb_ring_free(vaddr, size);
}

/* Every mapping is a bounce: the driver must always sync. */
static bool vlb_need_sync(union virtio_map map, dma_addr_t iova)
{
	return true;
}

static int vlb_mapping_error(union virtio_map map, dma_addr_t iova)
{
	return iova == DMA_MAPPING_ERROR ? -ENOMEM : 0;
}

static size_t vlb_max_mapping_size(union virtio_map map)
{
	return vlb_bounce_max_mapping(map_to_bounce(map));
}

static const struct virtio_map_ops vlb_map_ops = {
	.map_page		= vlb_map_page,
	.unmap_page		= vlb_unmap_page,
	.sync_single_for_cpu	= vlb_sync_for_cpu,
	.sync_single_for_device	= vlb_sync_for_device,
	.alloc			= vlb_alloc,
	.free			= vlb_free,
	.need_sync		= vlb_need_sync,
	.mapping_error		= vlb_mapping_error,
	.max_mapping_size	= vlb_max_mapping_size,
};

/* Route the virtio core's mappings for @ldev through the bounce area. */
int vlb_mapping_attach(struct vlb_device *ldev)
{
	ldev->vdev.map = &vlb_map_ops;
	ldev->vdev.vmap.dma_dev = &ldev->dev;
	return 0;
}

#endif /* VLB_HAVE_VIRTIO_MAP */

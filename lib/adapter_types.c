// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Device types for the adapter: names, ids, defaults, and the few config
 * fields that depend on the queue count or on options (see adapter_types.h).
 * Config layouts are the virtio spec's, little-endian.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <vloopback/adapter.h>

#include "adapter_types.h"
#include "internal.h"


static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, v);
	put_le16(p + 2, v >> 16);
}

static uint32_t get_le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * virtio-blk: size_max (le32 at 8) counts only with VIRTIO_BLK_F_SIZE_MAX
 * (1), num_queues (le16 at 34) only with VIRTIO_BLK_F_MQ (12).  A size_max
 * of 0 (qemu-storage-daemon offers the feature with it) limits nothing the
 * back-end needs, but the driver takes it as the smallest segment its kernel
 * allows: 4 KiB on 6.1, 64 KiB on 6.12.  The feature goes, and the module's
 * own mapping limit sizes the segments.
 */
static int blk_finish(struct vlb_type_setup *s)
{
	if ((s->features & VLB_BIT(1)) && get_le32(s->config + 8) == 0)
		s->features &= ~VLB_BIT(1);
	if (!(s->features & VLB_BIT(12)))
		s->num_queues = 1;
	else
		put_le16(s->config + 34, s->num_queues);
	return 0;
}

/* virtio-fs: tag[36] at 0, num_request_queues (le32) at 36; queue 0 is hiprio */
static int fs_finish(struct vlb_type_setup *s)
{
	if (s->num_queues < 2) {
		vlb_err("a virtio-fs device needs 2 queues or more (hiprio + requests), the back-end allows %u",
			s->num_queues);
		return -ENOTSUP;
	}
	if (s->tag) {
		if (strlen(s->tag) > 36 || !*s->tag) {
			vlb_err("virtio-fs tag '%s' must be 1 to 36 bytes", s->tag);
			return -EINVAL;
		}
		memset(s->config, 0, 36);
		memcpy(s->config, s->tag, strlen(s->tag));
	} else if (!s->config_from_backend) {
		vlb_err("the back-end does not give the virtio-fs tag (no GET_CONFIG): give one (e.g. --tag myfs)");
		return -EINVAL;
	}
	put_le32(s->config + 36, s->num_queues - 1);
	return 0;
}

/* virtio-9p: le16 tag_len, then the tag; read by the driver with MOUNT_TAG (0) */
static int p9_finish(struct vlb_type_setup *s)
{
	size_t len = s->tag ? strlen(s->tag) : 0;

	if (s->config_from_backend && !s->tag)
		return 0;
	if (!len || len > VHU_MAX_CONFIG - 2) {
		vlb_err("a 9p device needs a tag of 1 to %u bytes (e.g. --tag myfs)",
			VHU_MAX_CONFIG - 2);
		return -EINVAL;
	}
	put_le16(s->config, len);
	memcpy(s->config + 2, s->tag, len);
	s->config_size = 2 + len;
	s->features |= VLB_BIT(0);
	return 0;
}

/*
 * virtio-net with rx and tx only: the adapter creates no control queue, so
 * the features that need one go; without the back-end's config, so do the
 * ones read from it (the driver then picks a random MAC, link up).
 */
#define NET_CTRL_FEATURES	(VLB_BIT(2) | VLB_BIT(17) | VLB_BIT(18) | VLB_BIT(19) | VLB_BIT(20) | \
				 VLB_BIT(21) | VLB_BIT(22) | VLB_BIT(23) | VLB_BIT(52) | VLB_BIT(53) | \
				 VLB_BIT(57) | VLB_BIT(60) | VLB_BIT(61))
#define NET_CONFIG_FEATURES	(VLB_BIT(3) | VLB_BIT(5) | VLB_BIT(16) | VLB_BIT(62) | VLB_BIT(63))

static int net_finish(struct vlb_type_setup *s)
{
	s->features &= ~NET_CTRL_FEATURES;
	if (!s->config_from_backend)
		s->features &= ~NET_CONFIG_FEATURES;
	s->num_queues = 2;
	return 0;
}

#define TYPE(name_, ident_, id_, driver_, sysfs_) \
	.pub = { .name = name_, .ident = ident_, .id = id_, .driver = driver_, \
		 .sysfs = sysfs_ }

/* The device types: the only table of them (vloopbackctl and Python read it) */
static const struct vlb_type types[] = {
	{ TYPE("net", "NET", 1, "virtio_net", "net/?*"),
	  2, 12, false, net_finish },
	{ TYPE("blk", "BLOCK", 2, "virtio_blk", "block/vd*"),
	  0, 60, true, blk_finish },
	{ TYPE("console", "CONSOLE", 3, "virtio_console", "driver"),
	  2, 12, false, NULL },
	{ TYPE("rng", "RNG", 4, "virtio_rng", "driver"),
	  1, 0, false, NULL },
	{ TYPE("9p", "NINEP", 9, "9pnet_virtio", "driver"),
	  1, 0, false, p9_finish },
	{ TYPE("input", "INPUT", 18, "virtio_input", "driver"),
	  2, 136, false, NULL },
	{ TYPE("vsock", "VSOCK", 19, "vmw_vsock_virtio_transport", "driver"),
	  3, 8, false, NULL },
	{ TYPE("sound", "SOUND", 25, "virtio_snd", "driver"),
	  4, 16, false, NULL },
	{ TYPE("fs", "FS", 26, "virtiofs", "driver"),
	  2, 40, false, fs_finish },
	{ TYPE("scmi", "SCMI", 32, NULL, "driver"),
	  2, 0, false, NULL },
	{ TYPE("i2c", "I2C", 34, "i2c_virtio", "driver"),
	  1, 0, false, NULL },
	{ TYPE("gpio", "GPIO", 41, "gpio_virtio", "driver"),
	  2, 8, false, NULL },
};

#define N_TYPES	(sizeof(types) / sizeof(types[0]))

const struct vlb_type *vlb_type_get(uint32_t id)
{
	static const struct vlb_type generic = { .pub.sysfs = "driver", .queues = 1 };
	size_t i;

	for (i = 0; i < N_TYPES; i++)
		if (types[i].pub.id == id)
			return &types[i];
	return &generic;
}

VLB_EXPORT const struct vlb_device_type *vlb_device_type_at(unsigned int i)
{
	return i < N_TYPES ? &types[i].pub : NULL;
}

VLB_EXPORT const struct vlb_device_type *vlb_device_type_of(uint32_t device_id)
{
	const struct vlb_type *t = vlb_type_get(device_id);

	return t->pub.name ? &t->pub : NULL;
}

VLB_EXPORT int vlb_adapter_type_id(const char *name)
{
	unsigned long id;
	char *end;
	size_t i;

	if (!name || !*name)
		return -EINVAL;
	for (i = 0; i < N_TYPES; i++)
		if (!strcmp(types[i].pub.name, name))
			return types[i].pub.id;
	id = strtoul(name, &end, 10);
	if (*end || name[0] < '1' || name[0] > '9' || id > 63)
		return -EINVAL;
	return (int)id;
}

VLB_EXPORT const char *vlb_adapter_type_name(uint32_t device_id)
{
	return vlb_type_get(device_id)->pub.name;
}

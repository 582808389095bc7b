/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Private to libvloopback: what the adapter knows about each virtio device
 * type.  The adapter has one code path for every type; a type only picks
 * its defaults here (queue count, config space size) and, in finish(),
 * fits config space and features to what was negotiated.
 */
#ifndef VLB_ADAPTER_TYPES_H
#define VLB_ADAPTER_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include <vloopback/adapter.h>

#include "vhost_user.h"

/* The device being planned, between talking to the back-end and creating it */
struct vlb_type_setup {
	uint64_t features;		/* to offer to the driver */
	unsigned int num_queues;
	uint8_t config[VHU_MAX_CONFIG];
	uint32_t config_size;
	bool config_from_backend;	/* else zeroes: finish() fills it */
	const char *tag;		/* the application's option, or NULL */
};

struct vlb_type {
	struct vlb_device_type pub;	/* name NULL for an id without an entry */
	uint16_t queues;		/* usual count; 0: the back-end's */
	uint16_t config_size;		/* bytes GET_CONFIG asks for */
	bool needs_backend_config;	/* e.g. blk: only the back-end knows the capacity */
	/* Fit config and features to the setup; -errno, logged */
	int (*finish)(struct vlb_type_setup *s);
};

/* The entry for id; a generic one (1 queue, no config) for other ids */
const struct vlb_type *vlb_type_get(uint32_t id);

#endif /* VLB_ADAPTER_TYPES_H */

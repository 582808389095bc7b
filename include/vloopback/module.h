/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/* What the loaded virtio_loopback.ko supports. */
#ifndef VLOOPBACK_MODULE_H
#define VLOOPBACK_MODULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Filled by the library.  Fields are only ever appended: ask with
 * vlb_module_query(&info, sizeof(info)), which fills what both sides know
 * and zeroes the rest of a larger struct.
 */
struct vlb_module_info {
	uint32_t api_version;		/* VLB_UAPI_VERSION the module speaks */
	uint32_t max_queues;		/* per device */
	uint32_t max_queue_size;	/* ring entries */
	uint32_t max_config_size;	/* bytes of config space */
	uint64_t max_shm_size;		/* bytes of shared area per device */
	uint64_t device_types;		/* bit n: virtio device id n allowed */
};

/*
 * Ask the module for its version and limits.  Opens the control node
 * (/dev/virtio-loopback, or the path in the environment variable
 * VLB_DEVICE_NODE) read-only and closes it again.
 * size is sizeof(*out) as the caller was compiled: the library writes
 * exactly size bytes, the fields it knows and zero for the others (as the
 * kernel's copy_struct_to_user()).
 * Returns 0 and fills *out, or -errno: -EINVAL for a size smaller than
 * 0.1's struct (32 bytes), -ENOENT when the module is not loaded, -EACCES
 * without permission on the node, -ENOTTY when the node is not the
 * module's.  Failures are logged at VLB_LOG_ERR.  Since 0.2.
 */
int vlb_module_query(struct vlb_module_info *out, size_t size);

/*
 * vlb_module_query() for 0.1's struct: fills the fields of 0.1 only, never
 * more than those 32 bytes.  Prefer vlb_module_query().
 */
int vlb_module_info(struct vlb_module_info *out);

#ifdef __cplusplus
}
#endif

#endif /* VLOOPBACK_MODULE_H */

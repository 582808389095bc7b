/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/* What the loaded virtio_loopback.ko supports. */
#ifndef VLOOPBACK_MODULE_H
#define VLOOPBACK_MODULE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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
 * Returns 0 and fills *out, or -errno: -ENOENT when the module is not
 * loaded, -EACCES without permission on the node, -ENOTTY when the node is
 * not the module's.  Failures are logged at VLB_LOG_ERR.
 */
int vlb_module_info(struct vlb_module_info *out);

#ifdef __cplusplus
}
#endif

#endif /* VLOOPBACK_MODULE_H */

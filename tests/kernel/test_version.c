// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The module's version and limits, read through libvloopback: proves the
 * library and the loaded module speak the same uapi.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <vloopback/vloopback.h>

int main(void)
{
	struct vlb_module_info info;
	int err = vlb_module_info(&info);

	if (err) {
		fprintf(stderr, "test_version: vlb_module_info: %s\n",
			strerror(-err));
		return 1;
	}
	printf("virtio_loopback uapi %" PRIu32 ", library %s, %" PRIu32
	       " queues x %" PRIu32 ", config %" PRIu32 " bytes, area %" PRIu64
	       " MiB, types %#" PRIx64 "\n", info.api_version,
	       VLB_VERSION_STRING, info.max_queues, info.max_queue_size,
	       info.max_config_size, info.max_shm_size >> 20,
	       info.device_types);
	if (info.api_version != VLB_UAPI_VERSION) {
		fprintf(stderr, "test_version: module speaks uapi %" PRIu32
			", library %d\n", info.api_version, VLB_UAPI_VERSION);
		return 1;
	}
	return 0;
}

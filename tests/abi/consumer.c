// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * A program built against the installed library the way a user builds one
 * (pkg-config, <vloopback/vloopback.h>): prints the header's version and
 * what vlb_module_info says.  Exits 0 when the call returned 0 or -errno.
 */
#include <stdio.h>
#include <string.h>

#include <vloopback/vloopback.h>

int main(void)
{
	struct vlb_module_info info;
	int ret;

	printf("vloopback %s (%d.%d.%d)\n", VLB_VERSION_STRING,
	       VLB_VERSION_MAJOR, VLB_VERSION_MINOR, VLB_VERSION_PATCH);

	ret = vlb_module_info(&info);
	if (ret < 0) {
		printf("vlb_module_info: %d (%s)\n", ret, strerror(-ret));
		return 0;
	}
	printf("module api %u: %u queues of %u entries, config %u bytes, "
	       "shm %llu bytes, device types 0x%llx\n",
	       (unsigned)info.api_version, (unsigned)info.max_queues,
	       (unsigned)info.max_queue_size, (unsigned)info.max_config_size,
	       (unsigned long long)info.max_shm_size,
	       (unsigned long long)info.device_types);
	return 0;
}

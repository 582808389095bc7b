// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <vloopback/module.h>

#include "internal.h"
#include "transport.h"

/* The struct of 0.1, what vlb_module_info() was compiled against */
#define MODULE_INFO_SIZE_0_1	32
_Static_assert(offsetof(struct vlb_module_info, device_types) + sizeof(uint64_t) ==
	       MODULE_INFO_SIZE_0_1, "0.1's fields moved");

VLB_EXPORT int vlb_module_query(struct vlb_module_info *out, size_t size)
{
	struct vlb_module_info info;
	struct vlb_version v;
	int fd, ret;

	if (!out || size < MODULE_INFO_SIZE_0_1)
		return -EINVAL;
	fd = vlb_tp_open_node(O_RDONLY);
	if (fd < 0)
		return fd;	/* already logged, with a hint */
	ret = vlb_tp_version(fd, &v);
	close(fd);
	if (ret < 0) {
		vlb_err("cannot read the version of virtio_loopback.ko: %s%s",
			strerror(-ret),
			ret == -ENOTTY ? " (the node is not the module's)" : "");
		return ret;
	}

	info = (struct vlb_module_info){
		.api_version = v.api_version,
		.max_queues = v.max_queues,
		.max_queue_size = v.max_queue_size,
		.max_config_size = v.max_config_size,
		.max_shm_size = v.max_shm_size,
		.device_types = v.device_types,
	};
	memcpy(out, &info, size < sizeof(info) ? size : sizeof(info));
	if (size > sizeof(info))
		memset((char *)out + sizeof(info), 0, size - sizeof(info));
	return 0;
}

VLB_EXPORT int vlb_module_info(struct vlb_module_info *out)
{
	return vlb_module_query(out, MODULE_INFO_SIZE_0_1);
}

/* The module's default, for a module whose parameters cannot be read */
#define REPLY_TIMEOUT_DEFAULT_MS	10000

int vlb_module_reply_timeout_ms(void)
{
	FILE *f = fopen("/sys/module/virtio_loopback/parameters/reply_timeout_ms", "re");
	unsigned int ms = REPLY_TIMEOUT_DEFAULT_MS;

	if (f) {
		if (fscanf(f, "%u", &ms) != 1)
			ms = REPLY_TIMEOUT_DEFAULT_MS;
		fclose(f);
	}
	/* the module clamps it so */
	return ms < 100 ? 100 : ms > 60000 ? 60000 : (int)ms;
}

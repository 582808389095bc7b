// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <vloopback/module.h>

#include "internal.h"
#include "transport.h"

VLB_EXPORT int vlb_module_info(struct vlb_module_info *out)
{
	struct vlb_version v;
	int fd, ret;

	if (!out)
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

	*out = (struct vlb_module_info){
		.api_version = v.api_version,
		.max_queues = v.max_queues,
		.max_queue_size = v.max_queue_size,
		.max_config_size = v.max_config_size,
		.max_shm_size = v.max_shm_size,
		.device_types = v.device_types,
	};
	return 0;
}

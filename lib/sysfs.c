// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>

#include "sysfs.h"

#define SYSFS_VIRTIO	"/sys/bus/virtio/devices"

int vlb_sysfs_find(int virtio_index, const char *pattern, char *name,
		   size_t len)
{
	char path[512];
	const char *base;
	glob_t g;
	int rc;

	rc = snprintf(path, sizeof(path), SYSFS_VIRTIO "/virtio%d/%s",
		      virtio_index, pattern);
	if (rc < 0 || (size_t)rc >= sizeof(path))
		return -ENAMETOOLONG;
	rc = glob(path, 0, NULL, &g);
	if (rc == GLOB_NOMATCH)
		return 0;
	if (rc)
		return rc == GLOB_NOSPACE ? -ENOMEM : -EIO;
	base = strrchr(g.gl_pathv[0], '/') + 1;
	rc = strlen(base) < len ? 1 : -ENAMETOOLONG;
	if (rc == 1)
		strcpy(name, base);
	globfree(&g);
	return rc;
}

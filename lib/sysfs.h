/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/* Private to libvloopback: what the kernel's drivers made of a virtio device. */
#ifndef VLB_SYSFS_H
#define VLB_SYSFS_H

#include <stddef.h>

/*
 * Look for pattern, a glob(7) relative to /sys/bus/virtio/devices/virtioN/
 * for N = virtio_index.  Returns 1 and copies the last path component of
 * the first match into name (len bytes with the NUL), 0 if nothing matches
 * yet, or -errno (-ENAMETOOLONG when name or the path is too short).
 */
int vlb_sysfs_find(int virtio_index, const char *pattern, char *name,
		   size_t len);

#endif /* VLB_SYSFS_H */

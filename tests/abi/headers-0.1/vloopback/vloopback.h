/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libvloopback: run the device side of virtio devices in user space, on the
 * virtio_loopback.ko transport.  Include this header for the whole API.
 */
#ifndef VLOOPBACK_VLOOPBACK_H
#define VLOOPBACK_VLOOPBACK_H

#define VLB_VERSION_MAJOR 0
#define VLB_VERSION_MINOR 1
#define VLB_VERSION_PATCH 0
#define VLB_VERSION_STRING "0.1.0"

#include "adapter.h"
#include "device.h"
#include "log.h"
#include "module.h"
#include "uapi.h"

#endif /* VLOOPBACK_VLOOPBACK_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/* Private to libvloopback: never installed. */
#ifndef VLB_INTERNAL_H
#define VLB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <vloopback/log.h>

/*
 * Everything is built with -fvisibility=hidden; public functions carry this
 * and are also listed in libvloopback.map.
 */
#define VLB_EXPORT __attribute__((visibility("default")))

/* Format a message and hand it to the log function if level passes. */
void vlb_logf(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define vlb_err(...)	vlb_logf(VLB_LOG_ERR, __VA_ARGS__)
#define vlb_warn(...)	vlb_logf(VLB_LOG_WARN, __VA_ARGS__)
#define vlb_info(...)	vlb_logf(VLB_LOG_INFO, __VA_ARGS__)
#define vlb_dbg(...)	vlb_logf(VLB_LOG_DEBUG, __VA_ARGS__)

/* Reserved fields and unknown struct tails must be zero. */
static inline bool vlb_all_zero(const void *p, size_t len)
{
	const unsigned char *b = p;

	while (len--)
		if (*b++)
			return false;
	return true;
}

#endif /* VLB_INTERNAL_H */

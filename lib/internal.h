/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/* Private to libvloopback: never installed. */
#ifndef VLB_INTERNAL_H
#define VLB_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <vloopback/log.h>

/*
 * Everything is built with -fvisibility=hidden; public functions carry this
 * and are also listed in libvloopback.map.
 */
#define VLB_EXPORT __attribute__((visibility("default")))

#define VLB_BIT(n)	(1ULL << (n))

/* CLOCK_MONOTONIC in milliseconds: deadlines */
static inline int64_t vlb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

/*
 * An option struct the application filled, as the kernel's
 * copy_struct_from_user() takes one: src is usize bytes as the application
 * was compiled, dst the library's ksize.  A smaller src is zero-filled (the
 * fields it does not know get their defaults); a larger one is accepted if
 * the tail the library does not know is zero (-E2BIG otherwise: it asks for
 * something this library cannot do).  min is the first released size:
 * anything smaller was never a valid struct (-EINVAL).
 */
static inline int vlb_copy_struct(void *dst, size_t ksize, const void *src,
				  size_t usize, size_t min)
{
	if (usize < min)
		return -EINVAL;
	if (usize > ksize &&
	    !vlb_all_zero((const char *)src + ksize, usize - ksize))
		return -E2BIG;
	memset(dst, 0, ksize);
	memcpy(dst, src, usize < ksize ? usize : ksize);
	return 0;
}

/* vlb_copy_struct(), a refusal logged as "what of N bytes: why" */
static inline int vlb_take_struct(const char *what, void *dst, size_t ksize,
				  const void *src, size_t usize, size_t min)
{
	int rc = vlb_copy_struct(dst, ksize, src, usize, min);

	if (rc)
		vlb_err("%s of %zu bytes: %s (this library knows %zu, 0.1 had %zu)",
			what, usize, rc == -E2BIG ?
			"it sets fields this library does not know" : "too small",
			ksize, min);
	return rc;
}

/*
 * The module's reply_timeout_ms parameter (how long it waits for the
 * answer to a message before failing the device), or its default when the
 * parameter cannot be read.
 */
int vlb_module_reply_timeout_ms(void);

#endif /* VLB_INTERNAL_H */

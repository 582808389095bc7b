// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

/* Longer messages are truncated: they are one line for a person to read. */
#define VLB_LOG_MAX 1024

static void log_stderr(int level, const char *msg, void *opaque)
{
	(void)level;
	(void)opaque;
	fprintf(stderr, "vloopback: %s\n", msg);
}

/* Protects log_fn and log_opaque, which change together. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static vlb_log_fn log_fn = log_stderr;
static void *log_opaque;
static int log_level = VLB_LOG_WARN;

VLB_EXPORT void vlb_set_log_fn(vlb_log_fn fn, void *opaque)
{
	pthread_mutex_lock(&log_lock);
	log_fn = fn ? fn : log_stderr;
	log_opaque = fn ? opaque : NULL;
	pthread_mutex_unlock(&log_lock);
}

VLB_EXPORT void vlb_set_log_level(int level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

void vlb_logf(int level, const char *fmt, ...)
{
	char msg[VLB_LOG_MAX];
	int saved_errno = errno;	/* callers log, then still look at errno */
	vlb_log_fn fn;
	void *opaque;
	va_list ap;

	if (level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&log_lock);
	fn = log_fn;
	opaque = log_opaque;
	pthread_mutex_unlock(&log_lock);

	/* Called unlocked so that fn may itself change the log function. */
	fn(level, msg, opaque);
	errno = saved_errno;
}

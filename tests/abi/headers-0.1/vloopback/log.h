/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Where libvloopback's messages go.  The library never writes to stdout; by
 * default it prints errors and warnings to stderr as "vloopback: <message>".
 *
 * Both setters may be called at any time from any thread; a message being
 * emitted concurrently may still reach the previous function.
 */
#ifndef VLOOPBACK_LOG_H
#define VLOOPBACK_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

/* Severities, numbered like syslog's LOG_* so a log function can pass them on */
enum vlb_log_level {
	VLB_LOG_ERR = 3,
	VLB_LOG_WARN = 4,
	VLB_LOG_INFO = 6,
	VLB_LOG_DEBUG = 7
};

/*
 * Receives one message: a complete line without prefix or trailing newline.
 * msg is only valid during the call.
 */
typedef void (*vlb_log_fn)(int level, const char *msg, void *opaque);

/* Send messages to fn (with opaque); NULL restores the stderr default. */
void vlb_set_log_fn(vlb_log_fn fn, void *opaque);

/* Drop messages less severe than level (default VLB_LOG_WARN). */
void vlb_set_log_level(int level);

#ifdef __cplusplus
}
#endif

#endif /* VLOOPBACK_LOG_H */

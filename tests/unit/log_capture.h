/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/* A log function for tests: keeps the messages it receives, in order. */
#ifndef VLB_TEST_LOG_CAPTURE_H
#define VLB_TEST_LOG_CAPTURE_H

#include <string.h>

#include <vloopback/log.h>

#define CAPTURE_MAX 8

struct log_capture {
	int count;	/* messages received, even beyond CAPTURE_MAX */
	int level[CAPTURE_MAX];
	char msg[CAPTURE_MAX][2048];
};

static inline void capture_log(int level, const char *msg, void *opaque)
{
	struct log_capture *c = opaque;

	if (c->count < CAPTURE_MAX) {
		c->level[c->count] = level;
		strncpy(c->msg[c->count], msg, sizeof(c->msg[0]) - 1);
	}
	c->count++;
}

/* Start capturing into c (zeroed) at the default level. */
static inline void capture_start(struct log_capture *c)
{
	memset(c, 0, sizeof(*c));
	vlb_set_log_level(VLB_LOG_WARN);
	vlb_set_log_fn(capture_log, c);
}

static inline void capture_stop(void)
{
	vlb_set_log_fn(NULL, NULL);
	vlb_set_log_level(VLB_LOG_WARN);
}

#endif /* VLB_TEST_LOG_CAPTURE_H */

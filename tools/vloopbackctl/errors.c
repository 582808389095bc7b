// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Errors a person reads: one line, what failed, why, and what to do.  The
 * library's messages already say all of that, so the first error it logs
 * is the line; the rest would only be consequences.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <vloopback/vloopback.h>

#include "cli.h"

static char first_error[1024];
static bool verbose_log;

/* Verbose: every message as it comes; the first error again at the end */
static void capture(int level, const char *msg, void *opaque)
{
	(void)opaque;
	if (level <= VLB_LOG_ERR && !first_error[0])
		snprintf(first_error, sizeof(first_error), "%s", msg);
	if (level <= VLB_LOG_ERR && !verbose_log)
		return;
	fprintf(stderr, "vloopbackctl: %s%s\n",
		level == VLB_LOG_WARN ? "warning: " : "", msg);
}

void cli_log_init(bool verbose)
{
	verbose_log = verbose;
	vlb_set_log_level(verbose ? VLB_LOG_DEBUG : VLB_LOG_WARN);
	vlb_set_log_fn(capture, NULL);
}

static void direct(int level, const char *msg, void *opaque)
{
	(void)level;
	(void)opaque;
	fprintf(stderr, "vloopbackctl: %s\n", msg);
}

void cli_log_direct(void)
{
	vlb_set_log_level(VLB_LOG_INFO);
	vlb_set_log_fn(direct, NULL);
}

int cli_error(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("vloopbackctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vloopbackctl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see: vloopbackctl %s --help)\n", cmd);
	return EXIT_USAGE;
}

static int exit_code_of(int err, int code)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return EXIT_PERM;
	case ECONNREFUSED:
	case ECONNRESET:
	case ENOTSOCK:
	case ETIMEDOUT:
	case EPROTO:
	case EREMOTEIO:
	case ENOTSUP:
		return EXIT_BACKEND;
	default:
		return code;
	}
}

int cli_report(int err, int code, const char *what)
{
	if (first_error[0])
		cli_error(0, "%s", first_error);
	else
		cli_error(0, "%s: %s", what, strerror(err));
	first_error[0] = '\0';
	return exit_code_of(err, code);
}

// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/* lib/log.c: levels, the log function and its stderr default. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"
#include "log_capture.h"

/* Runs first: nothing has called vlb_set_log_level yet. */
static void test_default_level_passes_only_err_and_warn(void **state)
{
	struct log_capture c = { 0 };

	(void)state;
	vlb_set_log_fn(capture_log, &c);
	vlb_err("e");
	vlb_warn("w");
	vlb_info("i");
	vlb_dbg("d");
	capture_stop();

	assert_int_equal(c.count, 2);
	assert_int_equal(c.level[0], VLB_LOG_ERR);
	assert_string_equal(c.msg[0], "e");
	assert_int_equal(c.level[1], VLB_LOG_WARN);
	assert_string_equal(c.msg[1], "w");
}

static void test_level_debug_passes_everything(void **state)
{
	struct log_capture c;

	(void)state;
	capture_start(&c);
	vlb_set_log_level(VLB_LOG_DEBUG);
	vlb_err("e");
	vlb_warn("w");
	vlb_info("i");
	vlb_dbg("d");
	capture_stop();

	assert_int_equal(c.count, 4);
	assert_int_equal(c.level[2], VLB_LOG_INFO);
	assert_string_equal(c.msg[2], "i");
	assert_int_equal(c.level[3], VLB_LOG_DEBUG);
	assert_string_equal(c.msg[3], "d");
}

static void test_level_err_drops_warnings(void **state)
{
	struct log_capture c;

	(void)state;
	capture_start(&c);
	vlb_set_log_level(VLB_LOG_ERR);
	vlb_warn("w");
	vlb_err("e");
	capture_stop();

	assert_int_equal(c.count, 1);
	assert_string_equal(c.msg[0], "e");
}

static void test_message_is_formatted_and_errno_kept(void **state)
{
	struct log_capture c;

	(void)state;
	capture_start(&c);
	errno = EXDEV;
	vlb_err("%s has %d queues", "dev0", 4);
	assert_int_equal(errno, EXDEV);
	capture_stop();

	assert_int_equal(c.count, 1);
	assert_string_equal(c.msg[0], "dev0 has 4 queues");
}

static void test_long_message_is_truncated_not_overflowed(void **state)
{
	char big[1500];
	struct log_capture c;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	capture_start(&c);
	vlb_err("<%s>", big);
	capture_stop();

	assert_int_equal(c.count, 1);
	assert_int_equal(strlen(c.msg[0]), 1023);
	assert_int_equal(c.msg[0][0], '<');
}

/* Point stderr at a fresh temporary file; returns the saved stderr. */
static int stderr_to_tmpfile(FILE **tmp)
{
	int saved = dup(STDERR_FILENO);

	*tmp = tmpfile();
	assert_non_null(*tmp);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(*tmp), STDERR_FILENO) >= 0);
	return saved;
}

static void test_null_fn_restores_stderr_with_prefix(void **state)
{
	struct log_capture c;
	char out[256] = "";
	FILE *tmp;
	int saved;

	(void)state;
	capture_start(&c);
	vlb_set_log_fn(NULL, NULL);
	saved = stderr_to_tmpfile(&tmp);
	vlb_err("hello %d", 42);
	vlb_info("not shown");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	assert_int_equal(fread(out, 1, sizeof(out) - 1, tmp), strlen("vloopback: hello 42\n"));
	fclose(tmp);

	assert_string_equal(out, "vloopback: hello 42\n");
	assert_int_equal(c.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_level_passes_only_err_and_warn),
		cmocka_unit_test(test_level_debug_passes_everything),
		cmocka_unit_test(test_level_err_drops_warnings),
		cmocka_unit_test(test_message_is_formatted_and_errno_kept),
		cmocka_unit_test(test_long_message_is_truncated_not_overflowed),
		cmocka_unit_test(test_null_fn_restores_stderr_with_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * vlb_module_info without the module: what a person sees when it is not
 * loaded, and error mapping when the node is something else.  Success is
 * tested in the guest, against the real module.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <vloopback/vloopback.h>

#include "log_capture.h"

static void test_missing_node_is_enoent_with_one_hint(void **state)
{
	struct vlb_module_info info;
	struct log_capture c;

	(void)state;
	setenv("VLB_DEVICE_NODE", "/nonexistent/virtio-loopback", 1);
	capture_start(&c);
	assert_int_equal(vlb_module_info(&info), -ENOENT);
	capture_stop();

	assert_int_equal(c.count, 1);
	assert_int_equal(c.level[0], VLB_LOG_ERR);
	assert_string_equal(c.msg[0],
		"cannot open /nonexistent/virtio-loopback: No such file or directory "
		"(is virtio_loopback.ko loaded? try: modprobe virtio_loopback)");
}

static void test_node_of_another_driver_is_enotty(void **state)
{
	struct vlb_module_info info;
	struct log_capture c;

	(void)state;
	setenv("VLB_DEVICE_NODE", "/dev/null", 1);
	capture_start(&c);
	assert_int_equal(vlb_module_info(&info), -ENOTTY);
	capture_stop();

	assert_int_equal(c.count, 1);
	assert_int_equal(c.level[0], VLB_LOG_ERR);
	assert_non_null(strstr(c.msg[0], "the node is not the module's"));
}

static void test_null_out_is_einval_before_opening(void **state)
{
	struct log_capture c;

	(void)state;
	setenv("VLB_DEVICE_NODE", "/nonexistent/virtio-loopback", 1);
	capture_start(&c);
	assert_int_equal(vlb_module_info(NULL), -EINVAL);
	capture_stop();

	assert_int_equal(c.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_node_is_enoent_with_one_hint),
		cmocka_unit_test(test_node_of_another_driver_is_enotty),
		cmocka_unit_test(test_null_out_is_einval_before_opening),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

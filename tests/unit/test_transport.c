// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * lib/transport.c without the module: argument validation (a bad request
 * never reaches the kernel) and the mapping of read/write/ioctl results.
 * /dev/null stands in for a node whose driver knows none of our ioctls: a
 * request that got past validation fails there with -ENOTTY, so -EINVAL
 * proves the wrapper refused it.  Pipes stand in for the message stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log_capture.h"
#include "transport.h"

static int open_null(void **state)
{
	int *fd = malloc(sizeof(*fd));

	*fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	*state = fd;
	return *fd < 0;
}

static int close_null(void **state)
{
	int *fd = *state;

	close(*fd);
	free(fd);
	return 0;
}

static struct vlb_create good_create(void)
{
	static const unsigned char config[8];
	struct vlb_create c = {
		.size = sizeof(c),
		.device_id = 2,
		.num_queues = 1,
		.queue_size = 256,
		.config_size = sizeof(config),
		.config = (uintptr_t)config,
	};
	return c;
}

static void test_create_good_request_reaches_the_ioctl(void **state)
{
	struct vlb_create c = good_create();

	assert_int_equal(vlb_tp_create(*(int *)*state, &c), -ENOTTY);
	c.flags = VLB_CREATE_F_RECOVERABLE, c.recovery_timeout_ms = 5000;
	assert_int_equal(vlb_tp_create(*(int *)*state, &c), -ENOTTY);
}

static void test_create_rejects_bad_requests(void **state)
{
	int fd = *(int *)*state;
	struct vlb_create c;

	c = good_create(), c.size = sizeof(c) - 8;
	assert_int_equal(vlb_tp_create(fd, &c), -EINVAL);
	c = good_create(), c.flags = 2;	/* unknown */
	assert_int_equal(vlb_tp_create(fd, &c), -EINVAL);
	/* a recovery timeout means nothing without the flag */
	c = good_create(), c.recovery_timeout_ms = 1000;
	assert_int_equal(vlb_tp_create(fd, &c), -EINVAL);
	c = good_create(), c.reserved[6] = 1;
	assert_int_equal(vlb_tp_create(fd, &c), -EINVAL);
	c = good_create(), c.num_queues = 0;
	assert_int_equal(vlb_tp_create(fd, &c), -EINVAL);
	c = good_create(), c.queue_size = 1;
	assert_int_equal(vlb_tp_create(fd, &c), -EINVAL);
	c = good_create(), c.queue_size = 96;
	assert_int_equal(vlb_tp_create(fd, &c), -EINVAL);
	c = good_create(), c.config = 0;
	assert_int_equal(vlb_tp_create(fd, &c), -EINVAL);
	assert_int_equal(vlb_tp_create(fd, NULL), -EINVAL);
}

static void test_negative_fds_are_ebadf(void **state)
{
	struct vlb_create c = good_create();
	struct vlb_version v;
	struct vlb_vq_info vq;
	struct vlb_info info;
	struct vlb_msg m;

	(void)state;
	assert_int_equal(vlb_tp_version(-1, &v), -EBADF);
	assert_int_equal(vlb_tp_create(-1, &c), -EBADF);
	assert_int_equal(vlb_tp_shm_fd(-1), -EBADF);
	assert_int_equal(vlb_tp_set_vq_fds(-1, 0, -1, -1), -EBADF);
	assert_int_equal(vlb_tp_get_vq(-1, 0, &vq), -EBADF);
	assert_int_equal(vlb_tp_set_config(-1, 0, NULL, 0, true), -EBADF);
	assert_int_equal(vlb_tp_start(-1), -EBADF);
	assert_int_equal(vlb_tp_get_info(-1, &info), -EBADF);
	assert_int_equal(vlb_tp_recover(-1, 0), -EBADF);
	assert_int_equal(vlb_tp_destroy(-1), -EBADF);
	assert_int_equal(vlb_tp_restart_queues(-1), -EBADF);
	assert_int_equal(vlb_tp_read_msg(-1, &m), -EBADF);
	assert_int_equal(vlb_tp_reply(-1, 1, 0), -EBADF);
}

static void test_ioctls_map_errors_to_negative_errno(void **state)
{
	int fd = *(int *)*state;
	unsigned char cfg[4] = { 0 };
	struct vlb_version v;
	struct vlb_vq_info vq;
	struct vlb_info info;

	assert_int_equal(vlb_tp_version(fd, &v), -ENOTTY);
	assert_int_equal(vlb_tp_shm_fd(fd), -ENOTTY);
	assert_int_equal(vlb_tp_set_vq_fds(fd, 0, -1, -1), -ENOTTY);
	assert_int_equal(vlb_tp_get_vq(fd, 3, &vq), -ENOTTY);
	assert_int_equal(vq.index, 3);
	assert_int_equal(vlb_tp_set_config(fd, 4, cfg, sizeof(cfg), false), -ENOTTY);
	assert_int_equal(vlb_tp_start(fd), -ENOTTY);
	assert_int_equal(vlb_tp_get_info(fd, &info), -ENOTTY);
	assert_int_equal(vlb_tp_recover(fd, 7), -ENOTTY);
	assert_int_equal(vlb_tp_destroy(fd), -ENOTTY);
	assert_int_equal(vlb_tp_restart_queues(fd), -ENOTTY);
}

static void test_other_bad_arguments_are_refused(void **state)
{
	int fd = *(int *)*state;
	unsigned char cfg[4] = { 0 };

	assert_int_equal(vlb_tp_version(fd, NULL), -EINVAL);
	assert_int_equal(vlb_tp_get_vq(fd, 0, NULL), -EINVAL);
	assert_int_equal(vlb_tp_get_info(fd, NULL), -EINVAL);
	assert_int_equal(vlb_tp_read_msg(fd, NULL), -EINVAL);
	assert_int_equal(vlb_tp_set_vq_fds(fd, 0, -2, -1), -EBADF);
	assert_int_equal(vlb_tp_set_vq_fds(fd, 0, -1, -7), -EBADF);
	assert_int_equal(vlb_tp_set_config(fd, 0, NULL, 4, false), -EINVAL);
	assert_int_equal(vlb_tp_set_config(fd, UINT32_MAX - 1, cfg, 4, false), -EINVAL);
	assert_int_equal(vlb_tp_reply(fd, 1, 1), -EINVAL);
	assert_int_equal(vlb_tp_reply(fd, 1, -4096), -EINVAL);
}

static void test_open_without_node_is_enoent(void **state)
{
	struct log_capture c;

	(void)state;
	setenv("VLB_DEVICE_NODE", "/nonexistent/virtio-loopback", 1);
	capture_start(&c);
	assert_int_equal(vlb_tp_open_control(), -ENOENT);
	capture_stop();
	assert_int_equal(c.count, 1);
	assert_int_equal(c.level[0], VLB_LOG_ERR);
}

/* A non-blocking pipe: p[0] plays the device fd, p[1] the module. */
static void message_pipe(int p[2])
{
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void test_read_msg_returns_one_message(void **state)
{
	struct vlb_msg in = { .type = VLB_MSG_FEATURES, .flags = VLB_MSG_F_REPLY,
			      .seq = 7, .u.features = 1ULL << 32 };
	struct vlb_msg out;
	int p[2];

	(void)state;
	message_pipe(p);
	assert_int_equal(write(p[1], &in, sizeof(in)), sizeof(in));
	assert_int_equal(vlb_tp_read_msg(p[0], &out), 1);
	assert_memory_equal(&in, &out, sizeof(in));
	assert_int_equal(vlb_tp_read_msg(p[0], &out), 0);	/* none left */
	close(p[0]);
	close(p[1]);
}

static void test_read_msg_short_message_is_eproto(void **state)
{
	struct vlb_msg m = { .type = VLB_MSG_RESET };
	struct log_capture c;
	int p[2];

	(void)state;
	message_pipe(p);
	assert_int_equal(write(p[1], &m, 16), 16);
	capture_start(&c);
	assert_int_equal(vlb_tp_read_msg(p[0], &m), -EPROTO);
	capture_stop();
	assert_int_equal(c.count, 1);
	close(p[0]);
	close(p[1]);
}

static void test_read_msg_end_of_stream_is_enodev(void **state)
{
	struct vlb_msg m;
	int p[2];

	(void)state;
	message_pipe(p);
	close(p[1]);
	assert_int_equal(vlb_tp_read_msg(p[0], &m), -ENODEV);
	close(p[0]);
}

static void test_reply_writes_one_clean_reply(void **state)
{
	unsigned char buf[sizeof(struct vlb_reply) + 8];	/* room to see extra bytes */
	struct vlb_reply r;
	int p[2];

	(void)state;
	message_pipe(p);
	assert_int_equal(vlb_tp_reply(p[1], 42, -EIO), 0);
	assert_int_equal(read(p[0], buf, sizeof(buf)), sizeof(r));
	memcpy(&r, buf, sizeof(r));
	assert_int_equal(r.seq, 42);
	assert_int_equal(r.result, -EIO);
	for (size_t i = 0; i < sizeof(r.reserved) / sizeof(r.reserved[0]); i++)
		assert_int_equal(r.reserved[i], 0);
	close(p[0]);
	assert_int_equal(vlb_tp_reply(p[1], 43, 0), -EPIPE);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_good_request_reaches_the_ioctl,
						open_null, close_null),
		cmocka_unit_test_setup_teardown(test_create_rejects_bad_requests,
						open_null, close_null),
		cmocka_unit_test(test_negative_fds_are_ebadf),
		cmocka_unit_test_setup_teardown(test_ioctls_map_errors_to_negative_errno,
						open_null, close_null),
		cmocka_unit_test_setup_teardown(test_other_bad_arguments_are_refused,
						open_null, close_null),
		cmocka_unit_test(test_open_without_node_is_enoent),
		cmocka_unit_test(test_read_msg_returns_one_message),
		cmocka_unit_test(test_read_msg_short_message_is_eproto),
		cmocka_unit_test(test_read_msg_end_of_stream_is_enodev),
		cmocka_unit_test(test_reply_writes_one_clean_reply),
	};

	/* A reply to a closed pipe must come back as -EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

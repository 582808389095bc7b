// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * vlb_dev_create's config and ops taken as the kernel's
 * copy_struct_from_user() takes a struct: smaller (an older program) with
 * the defaults, larger (a newer one) if the unknown tail is zero.  Without
 * the module: a config the library accepts fails at opening the node
 * (-ENOENT), one it refuses fails before (-EINVAL, -E2BIG).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <vloopback/vloopback.h>

#include "device_priv.h"
#include "log_capture.h"

#define CONFIG_SIZE_0_1	offsetof(struct vlb_dev_config, ops_size)
#define OPS_SIZE_0_1	(5 * sizeof(void (*)(void)))

static void handle(struct vlb_queue *q, struct vlb_req *req)
{
	(void)q;
	vlb_req_complete(req, 0);
}

/* A config in a buffer of size bytes (the struct, then what follows it) */
struct big_config {
	struct vlb_dev_config cfg;
	unsigned char tail[64];
};

static struct vlb_dev_ops ops = { .handle = handle };

static void fill(struct big_config *b, uint32_t size)
{
	memset(b, 0, sizeof(*b));
	b->cfg.size = size;
	b->cfg.device_id = 4;
	b->cfg.num_queues = 1;
	b->cfg.queue_size = 64;
	b->cfg.ops = &ops;
}

static int create(const struct vlb_dev_config *cfg)
{
	struct vlb_dev *dev = NULL;
	struct log_capture c;
	int rc;

	capture_start(&c);
	rc = vlb_dev_create(cfg, &dev);
	capture_stop();
	assert_null(dev);
	return rc;
}

static void test_config_of_0_1_size_is_accepted(void **state)
{
	struct big_config b;

	(void)state;
	fill(&b, CONFIG_SIZE_0_1);
	b.cfg.ops_size = 0xdead;	/* beyond the caller's struct: not read */
	assert_int_equal(create(&b.cfg), -ENOENT);
}

static void test_config_smaller_than_0_1_is_einval(void **state)
{
	struct big_config b;

	(void)state;
	fill(&b, CONFIG_SIZE_0_1 - 4);
	assert_int_equal(create(&b.cfg), -EINVAL);
}

static void test_larger_config_with_zero_tail_is_accepted(void **state)
{
	struct big_config b;

	(void)state;
	fill(&b, sizeof(b));
	assert_int_equal(create(&b.cfg), -ENOENT);
}

static void test_larger_config_with_unknown_field_set_is_e2big(void **state)
{
	struct big_config b;

	(void)state;
	fill(&b, sizeof(b));
	b.tail[40] = 1;
	assert_int_equal(create(&b.cfg), -E2BIG);
}

static void test_ops_size_bounds_the_ops_read(void **state)
{
	struct big_ops {
		struct vlb_dev_ops ops;
		void (*newer[4])(void);
	} big = { .ops = { .handle = handle } };
	struct big_config b;

	(void)state;
	fill(&b, sizeof(b.cfg));
	b.cfg.ops = &big.ops;
	b.cfg.ops_size = sizeof(big);
	assert_int_equal(create(&b.cfg), -ENOENT);	/* unknown callbacks NULL */
	big.newer[2] = (void (*)(void))handle;
	assert_int_equal(create(&b.cfg), -E2BIG);	/* one set: refused */
	b.cfg.ops_size = OPS_SIZE_0_1 - sizeof(void *);
	assert_int_equal(create(&b.cfg), -EINVAL);	/* handle cut off */
	b.cfg.ops_size = 0;				/* 0.1's ops */
	assert_int_equal(create(&b.cfg), -ENOENT);
}

static void test_reserved_must_be_zero(void **state)
{
	struct big_config b;

	(void)state;
	fill(&b, sizeof(b.cfg));
	b.cfg.reserved1 = 1;
	assert_int_equal(create(&b.cfg), -EINVAL);
	fill(&b, sizeof(b.cfg));
	b.cfg.reserved[7] = 1;
	assert_int_equal(create(&b.cfg), -EINVAL);
	fill(&b, sizeof(b.cfg));
	b.cfg.reserved2 = 1;
	assert_int_equal(create(&b.cfg), -EINVAL);
}

/* poll_us (0.2): up to one second */
static void test_poll_us_is_bounded(void **state)
{
	struct big_config b;

	(void)state;
	fill(&b, sizeof(b.cfg));
	b.cfg.poll_us = 1000000;
	assert_int_equal(create(&b.cfg), -ENOENT);	/* accepted */
	b.cfg.poll_us = 1000001;
	assert_int_equal(create(&b.cfg), -EINVAL);
}

static void test_module_query_size(void **state)
{
	struct {
		struct vlb_module_info info;
		uint64_t newer;
	} big;

	(void)state;
	setenv("VLB_DEVICE_NODE", "/nonexistent/virtio-loopback", 1);
	assert_int_equal(vlb_module_query(&big.info, 31), -EINVAL);
	assert_int_equal(vlb_module_query(&big.info, sizeof(big)), -ENOENT);
	assert_int_equal(vlb_module_query(&big.info, sizeof(big.info)), -ENOENT);
}

static int config_writes;

static int count_config_write(struct vlb_dev *dev, uint32_t off,
			      const void *data, uint32_t len)
{
	(void)dev;
	(void)off;
	(void)data;
	(void)len;
	config_writes++;
	return 0;
}

/*
 * An edge-triggered caller gets one wakeup for a burst of messages: one
 * dispatch must take them all.  The device fd is a fake, a seqpacket
 * socket carrying vlb_msg records as the module's fd does (the real one
 * is in the guest tests).
 */
static void test_dispatch_drains_for_edge_triggered_callers(void **state)
{
	struct vlb_dev dev = { .device_id = 3, .ops = { .handle = handle,
		.config_write = count_config_write } };
	struct vlb_msg m = { .type = VLB_MSG_CONFIG_WRITE,
			     .u.config = { .offset = 0, .len = 1 } };
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET };
	int sp[2], ep, i;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp), 0);
	dev.kdev.fd = sp[0];
	ep = epoll_create1(0);
	assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, sp[0], &ev), 0);
	for (i = 0; i < 40; i++) {
		m.seq = (uint64_t)i;
		assert_int_equal(write(sp[1], &m, sizeof(m)), (ssize_t)sizeof(m));
	}
	config_writes = 0;
	assert_int_equal(epoll_wait(ep, &ev, 1, 0), 1);
	assert_int_equal(vlb_dev_dispatch(&dev), 40);
	assert_int_equal(config_writes, 40);
	assert_int_equal(epoll_wait(ep, &ev, 1, 0), 0);	/* no edge, none left */
	assert_int_equal(vlb_dev_dispatch(&dev), 0);
	close(ep);
	close(sp[0]);
	close(sp[1]);
}

/* A failed adapter's getter on another thread: -ENODEV, never a stale fd */
/* The recovery fields of 0.2: flags known, a timeout only with the flag */
static void test_recoverable_flag_and_timeout_rules(void **state)
{
	struct big_config b;

	(void)state;
	fill(&b, sizeof(b.cfg));
	b.cfg.flags = VLB_DEV_F_RECOVERABLE;
	b.cfg.recovery_timeout_ms = 5000;
	assert_int_equal(create(&b.cfg), -ENOENT);	/* accepted */
	b.cfg.flags = 2;
	assert_int_equal(create(&b.cfg), -EINVAL);	/* unknown flag */
	b.cfg.flags = 0;
	assert_int_equal(create(&b.cfg), -EINVAL);	/* timeout, no flag */
	/* a 0.1-sized config cannot carry them: not read, defaults apply */
	fill(&b, CONFIG_SIZE_0_1);
	b.cfg.flags = 2;
	assert_int_equal(create(&b.cfg), -ENOENT);
}

/* vlb_dev_recover takes cfg as create does; a bad one never reaches the node */
static void test_recover_checks_config_then_opens_the_node(void **state)
{
	struct vlb_dev *dev = NULL;
	struct log_capture c;
	struct big_config b;
	int rc;

	(void)state;
	fill(&b, sizeof(b.cfg));
	capture_start(&c);
	rc = vlb_dev_recover(&b.cfg, 3, &dev);
	capture_stop();
	assert_int_equal(rc, -ENOENT);
	assert_null(dev);
	b.cfg.ops = NULL;
	capture_start(&c);
	rc = vlb_dev_recover(&b.cfg, 3, &dev);
	capture_stop();
	assert_int_equal(rc, -EINVAL);
	assert_null(dev);
}

static void test_virtio_index_after_close_is_enodev(void **state)
{
	struct vlb_kdev k;
	int p[2];

	(void)state;
	vlb_kdev_init(&k, 2);
	assert_int_equal(vlb_kdev_virtio_index(&k), -ENODEV);
	assert_int_equal(pipe(p), 0);
	k.fd = p[0];
	atomic_store(&k.virtio_index, 5);		/* known, cached */
	assert_int_equal(vlb_kdev_virtio_index(&k), 5);
	vlb_kdev_close(&k);
	assert_int_equal(k.fd, -1);
	assert_int_equal(vlb_kdev_virtio_index(&k), -ENODEV);
	vlb_kdev_destroy(&k);
	close(p[1]);
}

static int setup(void **state)
{
	(void)state;
	setenv("VLB_DEVICE_NODE", "/nonexistent/virtio-loopback", 1);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_of_0_1_size_is_accepted),
		cmocka_unit_test(test_config_smaller_than_0_1_is_einval),
		cmocka_unit_test(test_larger_config_with_zero_tail_is_accepted),
		cmocka_unit_test(test_larger_config_with_unknown_field_set_is_e2big),
		cmocka_unit_test(test_ops_size_bounds_the_ops_read),
		cmocka_unit_test(test_reserved_must_be_zero),
		cmocka_unit_test(test_poll_us_is_bounded),
		cmocka_unit_test(test_module_query_size),
		cmocka_unit_test(test_dispatch_drains_for_edge_triggered_callers),
		cmocka_unit_test(test_virtio_index_after_close_is_enodev),
		cmocka_unit_test(test_recoverable_flag_and_timeout_rules),
		cmocka_unit_test(test_recover_checks_config_then_opens_the_node),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}

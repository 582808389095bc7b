// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The module's contract under hostile input: every malformed ioctl, read and
 * write on /dev/virtio-loopback and on a device fd gets a clean error, and a
 * process without CAP_SYS_ADMIN cannot create devices.  Talks to the uapi
 * directly (no libvloopback) so that nothing smooths the inputs over.
 * Run as root in a guest with virtio_loopback loaded; the guest's dmesg must
 * stay clean, which tests/vm/run checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include <vloopback/uapi.h>

static int failures;

#define EXPECT_ERR(call, err) expect_err(#call, (call), (err))

static void expect_err(const char *what, long ret, int err)
{
	if (ret == -1 && errno == err)
		return;
	fprintf(stderr, "FAIL: %s: got %ld (%s), want %s\n", what, ret,
		ret == -1 ? strerror(errno) : "success", strerror(err));
	failures++;
}

static void expect(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "FAIL: %s\n", what);
		failures++;
	}
}

static struct vlb_create good(void)
{
	struct vlb_create c = {
		.size = sizeof(c),
		.device_id = VIRTIO_ID_RNG,
		.num_queues = 1,
		.queue_size = 64,
	};
	return c;
}

static void test_version(int ctl)
{
	struct vlb_version v;

	expect(ioctl(ctl, VLB_IOC_GET_VERSION, &v) == 0, "GET_VERSION works");
	expect(v.api_version == VLB_UAPI_VERSION, "api version is 1");
	expect(v.max_queues == VLB_MAX_QUEUES, "max_queues reported");
	expect(v.device_types & (1ULL << VIRTIO_ID_BLOCK), "block allowed");
	expect(!(v.device_types & (1ULL << VIRTIO_ID_BALLOON)),
	       "balloon not allowed by default");
	EXPECT_ERR(ioctl(ctl, VLB_IOC_GET_VERSION, (void *)8), EFAULT);
	EXPECT_ERR(ioctl(ctl, _IO(VLB_IOC_MAGIC, 0x7f)), ENOTTY);
}

static void test_create_rejects(int ctl)
{
	struct { struct vlb_create c; char tail[16]; } big;
	unsigned char cfg[8] = { 0 };
	struct vlb_create c;
	int dev;

	c = good(); c.flags = VLB_CREATE_F_RECOVERABLE << 1;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.recovery_timeout_ms = 1000;	/* not recoverable */
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.flags = VLB_CREATE_F_RECOVERABLE;
	c.recovery_timeout_ms = 0xffffffff;		/* past recovery_max_ms */
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.reserved[6] = 1;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.size = 8;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.size = 1 << 20;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.device_id = 0;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.device_id = 1000;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.device_id = VIRTIO_ID_BALLOON;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EPERM);
	c = good(); c.num_queues = 0;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.num_queues = 65535;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.queue_size = 100;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.queue_size = 32768;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.config_size = 1 << 20; c.config = (uintptr_t)cfg;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.config_size = sizeof(cfg);
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.config_size = sizeof(cfg); c.config = 16;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EFAULT);
	c = good(); c.features = 1ULL << VIRTIO_F_RING_PACKED;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.shm_size = 1 << 20 | 1;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.shm_size = 1ULL << 40;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	c = good(); c.shm_size = 4096;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &c), EINVAL);
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, NULL), EFAULT);

	/* a newer, larger struct: fine if the unknown tail is zero */
	memset(&big, 0, sizeof(big));
	big.c = good();
	big.c.size = sizeof(big);
	big.tail[3] = 1;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_CREATE, &big), EINVAL);
	big.tail[3] = 0;
	dev = ioctl(ctl, VLB_IOC_CREATE, &big);
	expect(dev >= 0, "larger struct with zero tail accepted");
	close(dev);
}

static void test_device_fd(int ctl)
{
	struct vlb_create c = good();
	struct vlb_vq_fds f = { .index = 0, .kick_fd = -1, .call_fd = -1 };
	struct vlb_vq_info vi = { .index = 0 };
	struct vlb_config cfg = { 0 };
	struct vlb_reply r = { .seq = 12345 };
	struct vlb_info info;
	char buf[512];
	int dev, efd, nul, shm;
	void *p;

	dev = ioctl(ctl, VLB_IOC_CREATE, &c);
	expect(dev >= 0, "valid rng device created");
	if (dev < 0)
		return;
	efd = eventfd(0, EFD_CLOEXEC);
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);

	f.index = 1;
	EXPECT_ERR(ioctl(dev, VLB_IOC_SET_VQ_FDS, &f), EINVAL);
	f.index = 0; f.kick_fd = 9999;
	EXPECT_ERR(ioctl(dev, VLB_IOC_SET_VQ_FDS, &f), EBADF);
	f.kick_fd = nul;
	EXPECT_ERR(ioctl(dev, VLB_IOC_SET_VQ_FDS, &f), EINVAL);
	f.kick_fd = -1; f.call_fd = nul;
	EXPECT_ERR(ioctl(dev, VLB_IOC_SET_VQ_FDS, &f), EINVAL);
	f.call_fd = -7;
	EXPECT_ERR(ioctl(dev, VLB_IOC_SET_VQ_FDS, &f), EINVAL);
	f.call_fd = efd; f.reserved[0] = 1;
	EXPECT_ERR(ioctl(dev, VLB_IOC_SET_VQ_FDS, &f), EINVAL);
	f.reserved[0] = 0; f.kick_fd = efd;
	expect(ioctl(dev, VLB_IOC_SET_VQ_FDS, &f) == 0, "eventfds accepted");
	/* the same eventfd again, then detached: no leak, no complaint */
	expect(ioctl(dev, VLB_IOC_SET_VQ_FDS, &f) == 0, "eventfds replaced");

	expect(ioctl(dev, VLB_IOC_GET_VQ, &vi) == 0 && vi.num == 0,
	       "queue not set up before a driver binds");
	vi.index = 64;
	EXPECT_ERR(ioctl(dev, VLB_IOC_GET_VQ, &vi), EINVAL);

	cfg.offset = 1; cfg.len = 1;
	EXPECT_ERR(ioctl(dev, VLB_IOC_SET_CONFIG, &cfg), EINVAL);
	cfg.offset = 0; cfg.len = 0; cfg.flags = 2;
	EXPECT_ERR(ioctl(dev, VLB_IOC_SET_CONFIG, &cfg), EINVAL);

	expect(ioctl(dev, VLB_IOC_GET_INFO, &info) == 0 &&
	       info.virtio_index == -1 && info.shm_size >= (1 << 20),
	       "info before start: no virtio device, area sized");
	shm = ioctl(dev, VLB_IOC_SHM_FD);
	expect(shm >= 0, "shared area fd");
	p = mmap(NULL, info.shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, shm, 0);
	expect(p != MAP_FAILED, "shared area maps");
	if (p != MAP_FAILED) {
		memset(p, 0x5a, info.shm_size);	/* scribbling is harmless */
		munmap(p, info.shm_size);
	}
	close(shm);

	EXPECT_ERR(read(dev, buf, 16), EINVAL);
	fcntl(dev, F_SETFL, O_NONBLOCK);
	EXPECT_ERR(read(dev, buf, sizeof(buf)), EAGAIN);
	EXPECT_ERR(write(dev, buf, 3), EINVAL);
	EXPECT_ERR(write(dev, &r, sizeof(r)), ENOENT);
	r.result = 5;
	EXPECT_ERR(write(dev, &r, sizeof(r)), EINVAL);
	EXPECT_ERR(ioctl(dev, _IO(VLB_IOC_MAGIC, 0x7f)), ENOTTY);
	close(efd);	/* the module holds its own references */
	close(nul);
	close(dev);
}

/* Without CAP_SYS_ADMIN, an open control fd is not enough to create. */
static void test_unprivileged(int ctl)
{
	struct vlb_create c = good();
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (setresuid(65534, 65534, 65534))
			_exit(2);
		if (ioctl(ctl, VLB_IOC_CREATE, &c) != -1 || errno != EPERM)
			_exit(1);
		if (open(VLB_DEVICE_NODE, O_RDWR) != -1 || errno != EACCES)
			_exit(3);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "unprivileged create gets EPERM, open gets EACCES");
}

/* Devices that are created and closed without ever starting. */
static void test_cycles(int ctl)
{
	int i, dev;

	for (i = 0; i < 100; i++) {
		struct vlb_create c = good();

		dev = ioctl(ctl, VLB_IOC_CREATE, &c);
		if (dev < 0) {
			expect(0, "create in a loop");
			return;
		}
		close(dev);
	}
}

/* Recovery: only quiesced devices, by an index that exists, strict struct */
static void test_recover_rejects(int ctl)
{
	struct vlb_recover r = { .size = sizeof(r), .index = 4095 };
	struct vlb_create c = good();
	struct vlb_info info;
	int dev;

	EXPECT_ERR(ioctl(ctl, VLB_IOC_RECOVER, &r), ENOENT);
	r.flags = 1;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_RECOVER, &r), EINVAL);
	r.flags = 0; r.reserved[0] = 1;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_RECOVER, &r), EINVAL);
	r.reserved[0] = 0; r.size = 4;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_RECOVER, &r), EINVAL);
	c.flags = VLB_CREATE_F_RECOVERABLE;
	dev = ioctl(ctl, VLB_IOC_CREATE, &c);
	expect(dev >= 0 && ioctl(dev, VLB_IOC_GET_INFO, &info) == 0,
	       "a recoverable device");
	r.size = sizeof(r); r.index = info.index;
	EXPECT_ERR(ioctl(ctl, VLB_IOC_RECOVER, &r), EBUSY);
	/* never started: closing removes it, there is nothing to keep */
	close(dev);
	EXPECT_ERR(ioctl(ctl, VLB_IOC_RECOVER, &r), ENOENT);
}

int main(void)
{
	int ctl = open(VLB_DEVICE_NODE, O_RDWR | O_CLOEXEC);

	if (ctl < 0) {
		perror("test_uapi: " VLB_DEVICE_NODE);
		return 1;
	}
	test_version(ctl);
	test_create_rejects(ctl);
	test_recover_rejects(ctl);
	test_device_fd(ctl);
	test_unprivileged(ctl);
	test_cycles(ctl);
	close(ctl);
	if (failures)
		fprintf(stderr, "test_uapi: %d failure(s)\n", failures);
	else
		printf("test_uapi: all checks passed\n");
	return failures ? 1 : 0;
}

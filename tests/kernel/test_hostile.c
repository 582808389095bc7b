// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Device processes that misbehave, written against the uapi directly since
 * libvloopback would never do this.  Each case must end with the module
 * failing the device, removing it and saying why, never with a hang or a
 * kernel complaint (tests/vm/run checks the guest's log).
 *   test_hostile silent     never answers the driver's first question
 *   test_hostile garbage    returns a head the driver never made available
 * Expects virtio_loopback loaded with reply_timeout_ms=1000 and virtio_rng.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include <vloopback/uapi.h>

#define QSIZE 16

struct rng {
	int dev, kick, call;
	struct vlb_info info;
	uint8_t *area;
	struct vring_used *used;
};

static int fail(const char *what)
{
	fprintf(stderr, "test_hostile: %s: %s\n", what, strerror(errno));
	return 1;
}

static int create(struct rng *r)
{
	struct vlb_create c = {
		.size = sizeof(c), .device_id = VIRTIO_ID_RNG,
		.num_queues = 1, .queue_size = QSIZE,
	};
	struct vlb_vq_fds f = { .index = 0 };
	int ctl = open(VLB_DEVICE_NODE, O_RDWR | O_CLOEXEC);

	if (ctl < 0)
		return fail(VLB_DEVICE_NODE);
	r->dev = ioctl(ctl, VLB_IOC_CREATE, &c);
	close(ctl);
	r->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->call = eventfd(0, EFD_CLOEXEC);
	f.kick_fd = r->kick;
	f.call_fd = r->call;
	if (r->dev < 0 || ioctl(r->dev, VLB_IOC_SET_VQ_FDS, &f) ||
	    ioctl(r->dev, VLB_IOC_START) || fcntl(r->dev, F_SETFL, O_NONBLOCK))
		return fail("create");
	return 0;
}

/* Wait until the module declares the device dead: POLLHUP, then ENODEV. */
static int expect_failed(struct rng *r, int timeout_ms)
{
	struct pollfd p = { .fd = r->dev, .events = POLLIN };
	struct vlb_msg m;

	for (;;) {
		if (poll(&p, 1, timeout_ms) <= 0) {
			fprintf(stderr, "test_hostile: device not failed after %d ms\n",
				timeout_ms);
			return 1;
		}
		if (p.revents & POLLHUP)
			break;
		while (read(r->dev, &m, sizeof(m)) == sizeof(m))
			;	/* still not answering */
	}
	if (read(r->dev, &m, sizeof(m)) != -1 || errno != ENODEV) {
		fprintf(stderr, "test_hostile: read after failure: want ENODEV\n");
		return 1;
	}
	return 0;
}

static int silent(void)
{
	struct rng r;

	if (create(&r))
		return 1;
	if (expect_failed(&r, 10000))
		return 1;
	close(r.dev);
	printf("silent: device failed and removed\n");
	return 0;
}

static int answer(struct rng *r, struct vlb_msg *m)
{
	struct vlb_reply rep = { .seq = m->seq };
	struct vlb_vq_info vi = { .index = 0 };
	int shm;

	if (m->type == VLB_MSG_DRIVER_OK) {
		if (ioctl(r->dev, VLB_IOC_GET_VQ, &vi) ||
		    ioctl(r->dev, VLB_IOC_GET_INFO, &r->info))
			return fail("GET_VQ");
		shm = ioctl(r->dev, VLB_IOC_SHM_FD);
		r->area = mmap(NULL, r->info.shm_size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, shm, 0);
		close(shm);
		if (r->area == MAP_FAILED)
			return fail("mmap");
		r->used = (void *)(r->area + vi.used - VLB_SHM_IOVA_BASE);
	}
	if ((m->flags & VLB_MSG_F_REPLY) &&
	    write(r->dev, &rep, sizeof(rep)) != sizeof(rep))
		return fail("reply");
	return 0;
}

/* Serve control messages until the driver kicks the queue. */
static int until_kick(struct rng *r)
{
	struct pollfd p[2] = { { r->dev, POLLIN, 0 }, { r->kick, POLLIN, 0 } };
	struct vlb_msg m;
	uint64_t n;

	for (;;) {
		if (poll(p, 2, 10000) <= 0)
			return fail("no kick within 10 s");
		while (read(r->dev, &m, sizeof(m)) == sizeof(m))
			if (answer(r, &m))
				return 1;
		if (read(r->kick, &n, sizeof(n)) == sizeof(n) && r->used)
			return 0;
	}
}

static int garbage(void)
{
	struct rng r = { 0 };
	uint64_t one = 1;
	uint16_t idx;

	if (create(&r) || until_kick(&r))
		return 1;
	idx = r.used->idx;
	r.used->ring[idx % QSIZE].id = 0xdead;
	r.used->ring[idx % QSIZE].len = 32;
	__atomic_store_n(&r.used->idx, idx + 1, __ATOMIC_RELEASE);
	if (write(r.call, &one, sizeof(one)) != sizeof(one))
		return fail("call");
	if (expect_failed(&r, 10000))
		return 1;
	/* the area was taken back: this mapping no longer sees the rings */
	if (r.used->idx != 0) {
		fprintf(stderr, "test_hostile: area still shared after failure\n");
		return 1;
	}
	close(r.dev);
	printf("garbage: device failed, area revoked, removed\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "silent"))
		return silent();
	if (argc == 2 && !strcmp(argv[1], "garbage"))
		return garbage();
	fprintf(stderr, "usage: test_hostile silent|garbage\n");
	return 2;
}

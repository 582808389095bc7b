// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Device processes that attack the kernel, written against the uapi
 * directly since libvloopback would never do this.  One attack per case:
 *
 *   silent     never answers the driver's first question
 *   garbage    returns a head the driver never made available
 *   twice      returns the same head twice
 *   longlen    returns a length larger than the chain's writable bytes
 *   nextloop   sets NEXT on every descriptor (a loop), then returns a valid
 *              head: the driver must get its buffer, the device lives on
 *   rewrite    a disk: rewrites every descriptor of the requests it owes
 *              (loops, huge lengths, addresses at the area's ends, indirect
 *              tables pointing at themselves), then dies
 *   pin        a disk: registers the area as io_uring fixed buffers and
 *              vmsplices it before dying; a survivor keeps writing the
 *              pinned pages
 *   grow       tries to grow and shrink the area's fd
 *   bigseg     a disk with a small area that offers 254 segments: the
 *              driver's largest request must fit the area
 *   holder     a disk made by an unprivileged user that never completes:
 *              failed by the module's I/O watchdog
 *   ctrlvq     an unprivileged net device with a control queue: refused
 *
 * For the disk cases a reader process reads the disk with O_DIRECT while
 * the device dies: it must get an error, never bytes the device process
 * wrote after its death, and the device must be removed in bounded time.
 * Expects virtio_loopback loaded with reply_timeout_ms=1000, and for
 * holder/ctrlvq, user_device_types=1,2 io_timeout_ms=2000 and the node
 * readable and writable by uid 65534.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>

#include <vloopback/uapi.h>

#define QSIZE		16
#define DISK_SECTORS	2048
#define PATTERN		0x5a

struct dev {
	int fd, kick, call;
	struct vlb_info info;
	uint8_t *area;
	struct vring ring;	/* the shadow ring, as the device sees it */
};

static int fail(const char *what)
{
	fprintf(stderr, "test_hostile: %s: %s\n", what, strerror(errno));
	return 1;
}

static int failx(const char *what)
{
	fprintf(stderr, "test_hostile: %s\n", what);
	return 1;
}

static int create(struct dev *d, uint32_t type, uint64_t features,
		  const void *config, uint32_t config_size, uint64_t shm_size)
{
	struct vlb_create c = {
		.size = sizeof(c), .device_id = type, .features = features,
		.num_queues = 1, .queue_size = QSIZE,
		.config = (uintptr_t)config, .config_size = config_size,
		.shm_size = shm_size,
	};
	struct vlb_vq_fds f = { .index = 0 };
	int ctl = open(VLB_DEVICE_NODE, O_RDWR | O_CLOEXEC);

	memset(d, 0, sizeof(*d));
	if (ctl < 0)
		return fail(VLB_DEVICE_NODE);
	d->fd = ioctl(ctl, VLB_IOC_CREATE, &c);
	close(ctl);
	if (d->fd < 0)
		return -errno;
	d->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->call = eventfd(0, EFD_CLOEXEC);
	f.kick_fd = d->kick;
	f.call_fd = d->call;
	if (ioctl(d->fd, VLB_IOC_SET_VQ_FDS, &f) ||
	    ioctl(d->fd, VLB_IOC_START) || fcntl(d->fd, F_SETFL, O_NONBLOCK))
		return fail("create");
	return 0;
}

static int create_rng(struct dev *d)
{
	int err = create(d, VIRTIO_ID_RNG, 0, NULL, 0, 0);

	return err < 0 ? fail("create rng") : err;
}

static int create_disk(struct dev *d, uint64_t shm_size, uint32_t seg_max)
{
	struct virtio_blk_config cfg = { .capacity = DISK_SECTORS,
					 .seg_max = seg_max };
	uint64_t features = seg_max ? 1ULL << VIRTIO_BLK_F_SEG_MAX : 0;

	features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	return create(d, VIRTIO_ID_BLOCK, features, &cfg, sizeof(cfg),
		      shm_size);
}

/* Wait until the module declares the device dead: POLLHUP, then ENODEV. */
static int expect_failed(struct dev *d, int timeout_ms)
{
	struct pollfd p = { .fd = d->fd, .events = POLLIN };
	struct vlb_msg m;

	for (;;) {
		if (poll(&p, 1, timeout_ms) <= 0) {
			fprintf(stderr, "test_hostile: device not failed after %d ms\n",
				timeout_ms);
			return 1;
		}
		if (p.revents & POLLHUP)
			break;
		while (read(d->fd, &m, sizeof(m)) == sizeof(m))
			;	/* still not answering */
	}
	if (read(d->fd, &m, sizeof(m)) != -1 || errno != ENODEV)
		return failx("read after failure: want ENODEV");
	return 0;
}

static int map_rings(struct dev *d)
{
	struct vlb_vq_info vi = { .index = 0 };
	int shm;

	if (ioctl(d->fd, VLB_IOC_GET_VQ, &vi) ||
	    ioctl(d->fd, VLB_IOC_GET_INFO, &d->info))
		return fail("GET_VQ");
	shm = ioctl(d->fd, VLB_IOC_SHM_FD);
	d->area = mmap(NULL, d->info.shm_size, PROT_READ | PROT_WRITE,
		       MAP_SHARED, shm, 0);
	close(shm);
	if (d->area == MAP_FAILED)
		return fail("mmap");
	d->ring.num = vi.num;
	d->ring.desc = (void *)(d->area + vi.desc - VLB_SHM_IOVA_BASE);
	d->ring.avail = (void *)(d->area + vi.avail - VLB_SHM_IOVA_BASE);
	d->ring.used = (void *)(d->area + vi.used - VLB_SHM_IOVA_BASE);
	return 0;
}

static int answer(struct dev *d, struct vlb_msg *m)
{
	struct vlb_reply rep = { .seq = m->seq };

	if (m->type == VLB_MSG_DRIVER_OK && map_rings(d))
		return 1;
	if ((m->flags & VLB_MSG_F_REPLY) &&
	    write(d->fd, &rep, sizeof(rep)) != sizeof(rep))
		return fail("reply");
	return 0;
}

/*
 * Serve control messages until the rings are mapped and the driver has
 * kicked.  DRIVER_OK is posted without waiting for an answer, so the kick
 * that follows it can be read first: it is remembered, not dropped.
 */
static int until_kick(struct dev *d)
{
	struct pollfd p[2] = { { d->fd, POLLIN, 0 }, { d->kick, POLLIN, 0 } };
	bool kicked = false;
	struct vlb_msg m;
	uint64_t n;

	for (;;) {
		if (poll(p, 2, 10000) <= 0)
			return failx("no kick within 10 s");
		while (read(d->fd, &m, sizeof(m)) == sizeof(m))
			if (answer(d, &m))
				return 1;
		if (read(d->kick, &n, sizeof(n)) == sizeof(n))
			kicked = true;
		if (kicked && d->area)
			return 0;
	}
}

static void *iova_va(struct dev *d, uint64_t iova)
{
	return d->area + iova - VLB_SHM_IOVA_BASE;
}

static uint16_t first_avail(struct dev *d)
{
	return d->ring.avail->ring[0];
}

/* Return @id with @len, as a device would, and signal. */
static int put_used(struct dev *d, uint32_t id, uint32_t len)
{
	uint16_t idx = d->ring.used->idx;
	uint64_t one = 1;

	d->ring.used->ring[idx % d->ring.num].id = id;
	d->ring.used->ring[idx % d->ring.num].len = len;
	__atomic_store_n(&d->ring.used->idx, idx + 1, __ATOMIC_RELEASE);
	if (write(d->call, &one, sizeof(one)) != sizeof(one))
		return fail("call");
	return 0;
}

/* The device is alive and well @ms later. */
static int expect_alive(struct dev *d, int ms)
{
	struct pollfd p = { .fd = d->fd, .events = 0 };

	if (poll(&p, 1, ms) != 0)
		return failx("device failed but did nothing wrong");
	return 0;
}

/* One rng case: after the first kick, @attack; then expect failure. */
static int rng_case(const char *name, int (*attack)(struct dev *))
{
	struct dev d;

	if (create_rng(&d) || until_kick(&d) || attack(&d))
		return 1;
	if (expect_failed(&d, 10000))
		return 1;
	/* the area was taken back: this mapping no longer sees the rings */
	if (d.ring.avail->idx != 0)
		return failx("area still shared after failure");
	close(d.fd);
	printf("%s: device failed, area revoked, removed\n", name);
	return 0;
}

static int silent(void)
{
	struct dev d;

	if (create_rng(&d) || expect_failed(&d, 10000))
		return 1;
	close(d.fd);
	printf("silent: device failed and removed\n");
	return 0;
}

static int attack_garbage(struct dev *d)
{
	return put_used(d, 0xdead, 32);
}

static int attack_twice(struct dev *d)
{
	uint16_t head = first_avail(d);

	return put_used(d, head, 0) || put_used(d, head, 0);
}

static int attack_longlen(struct dev *d)
{
	uint16_t head = first_avail(d);

	return put_used(d, head, d->ring.desc[head].len + 1);
}

/*
 * A loop in the descriptor table: the kernel must not care, since it never
 * reads the table back.  The buffer is filled and returned, and the device
 * goes on living.
 */
static int nextloop(void)
{
	struct dev d;
	uint16_t head;
	unsigned int i;

	if (create_rng(&d) || until_kick(&d))
		return 1;
	head = first_avail(&d);
	memset(iova_va(&d, d.ring.desc[head].addr), 0xa5,
	       d.ring.desc[head].len);
	for (i = 0; i < d.ring.num; i++) {
		d.ring.desc[i].flags |= VRING_DESC_F_NEXT;
		d.ring.desc[i].next = i;
	}
	if (put_used(&d, head, d.ring.desc[head].len) ||
	    until_kick(&d) || expect_alive(&d, 1000))
		return 1;
	close(d.fd);
	printf("nextloop: the driver took its buffer back, device alive\n");
	return 0;
}

/*
 * The virtio device of vloopback<@vlb>: GET_INFO reports it only once the
 * driver's probe returned, and these disks hold the probe's first read.
 */
static int virtio_of(unsigned int vlb)
{
	char dir[96];
	struct dirent *e;
	int tries, index = -1;
	DIR *dp;

	snprintf(dir, sizeof(dir),
		 "/sys/devices/virtual/misc/virtio-loopback/vloopback%u", vlb);
	for (tries = 0; tries < 200 && index < 0; tries++) {
		dp = opendir(dir);
		while (dp && (e = readdir(dp)) && index < 0)
			if (sscanf(e->d_name, "virtio%d", &index) != 1)
				index = -1;
		if (dp)
			closedir(dp);
		if (index < 0)
			usleep(50000);
	}
	if (index < 0)
		failx("no virtio device appeared");
	return index;
}

/* The disk that the virtio device @index became, as /dev/vdX */
static int disk_path(int index, char *path, size_t len)
{
	char dir[96];
	struct dirent *e;
	DIR *dp;
	int tries;

	snprintf(dir, sizeof(dir), "/sys/bus/virtio/devices/virtio%d/block",
		 index);
	for (tries = 0; tries < 200; tries++) {
		dp = opendir(dir);
		while (dp && (e = readdir(dp)))
			if (e->d_name[0] != '.' &&
			    (size_t)snprintf(path, len, "/dev/%s", e->d_name) < len) {
				closedir(dp);
				if (access(path, F_OK) == 0)
					return 0;
				dp = NULL;
			}
		if (dp)
			closedir(dp);
		usleep(50000);
	}
	return failx("no disk appeared");
}

/*
 * The reader: read the disk with O_DIRECT, in a child.  Exit 0 if every
 * read failed, 1 if one succeeded, 2 if it saw the pattern the dead device
 * wrote.
 */
static pid_t start_reader(const char *path, size_t len)
{
	pid_t pid = fork();
	uint8_t *buf;
	size_t i;
	ssize_t n;
	int fd;

	if (pid)
		return pid;
	if (posix_memalign((void **)&buf, 4096, len))
		_exit(3);
	fd = open(path, O_RDONLY | O_DIRECT);
	if (fd < 0)
		_exit(0);	/* the disk went away first: fine */
	n = pread(fd, buf, len, 0);
	if (n <= 0)
		_exit(0);
	for (i = 0; i < (size_t)n; i++)
		if (buf[i] == PATTERN)
			_exit(2);
	_exit(1);
}

static int reap(pid_t pid, int timeout_s, const char *what)
{
	int status, i;

	for (i = 0; i < timeout_s * 10; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				return 0;
			fprintf(stderr, "test_hostile: %s: status %#x\n", what,
				status);
			return 1;
		}
		usleep(100000);
	}
	kill(pid, SIGKILL);
	fprintf(stderr, "test_hostile: %s: no result after %d s\n", what,
		timeout_s);
	return 1;
}

static int virtio_gone(int index, int timeout_s)
{
	char path[64];
	int i;

	snprintf(path, sizeof(path), "/sys/bus/virtio/devices/virtio%d", index);
	for (i = 0; i < timeout_s * 10; i++) {
		if (access(path, F_OK))
			return 0;
		usleep(100000);
	}
	return failx("the virtio device was not removed");
}

/* Every descriptor, and the bounce region, made as hostile as it gets. */
static void poison_rings(struct dev *d)
{
	uint64_t lo = VLB_SHM_IOVA_BASE, hi = lo + d->info.shm_size;
	uint64_t addrs[] = { 0, lo - 1, hi - 1, hi, ~0ULL, lo };
	unsigned int i;
	struct vring_desc *t;

	for (i = 0; i < d->ring.num; i++) {
		d->ring.desc[i].addr = addrs[i % 6];
		d->ring.desc[i].len = i & 1 ? 0xffffffff : d->info.shm_size;
		d->ring.desc[i].flags = VRING_DESC_F_NEXT | VRING_DESC_F_WRITE |
					(i & 2 ? VRING_DESC_F_INDIRECT : 0);
		d->ring.desc[i].next = i;
	}
	/* what follows the rings holds the bounced indirect tables: loops */
	t = (void *)(d->ring.used->ring + d->ring.num + 1);
	t = (void *)(((uintptr_t)t + 4095) & ~4095UL);
	for (i = 0; (uint8_t *)(t + i + 1) <= d->area + d->info.shm_size; i++)
		t[i] = (struct vring_desc){ .addr = lo, .len = 0xffffffff,
			.flags = VRING_DESC_F_NEXT | VRING_DESC_F_INDIRECT,
			.next = 0 };
}

static int write_pattern_file(void)
{
	char buf[4096];
	int fd = open("/tmp/hostile-pattern", O_WRONLY | O_CREAT | O_TRUNC,
		      0600);

	memset(buf, PATTERN, sizeof(buf));
	if (fd < 0 || write(fd, buf, sizeof(buf)) != sizeof(buf))
		return fail("/tmp/hostile-pattern");
	close(fd);
	return 0;
}

/* io_uring fixed buffers and a vmsplice pin on the area, in a survivor. */
static pid_t start_survivor(struct dev *d, int go)
{
	size_t len = d->info.shm_size;
	struct iovec iov = { d->area, len };
	struct io_uring ring;
	pid_t pid;
	int p[2], src, i;
	char c;

	if (io_uring_queue_init(4, &ring, 0) ||
	    io_uring_register_buffers(&ring, &iov, 1))
		return fail("io_uring fixed buffer on the area"), -1;
	if (pipe(p) || vmsplice(p[1], &(struct iovec){ d->area, 65536 }, 1,
				0) < 0)
		return fail("vmsplice the area"), -1;
	pid = fork();
	if (pid)
		return pid;
	close(d->fd);	/* only the pins survive the device process */
	src = open("/tmp/hostile-pattern", O_RDONLY);
	if (src < 0 || read(go, &c, 1) != 1)
		_exit(3);
	/* the device is dead: write PATTERN all over the pinned pages */
	memset(d->area, PATTERN, 4096);
	for (i = 0; i < 200; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		struct io_uring_cqe *cqe;
		size_t off = (size_t)(i % 64) * 4096 % len;

		io_uring_prep_read_fixed(sqe, src, d->area + off, 4096, 0, 0);
		io_uring_submit(&ring);
		if (io_uring_wait_cqe(&ring, &cqe))
			_exit(4);
		io_uring_cqe_seen(&ring, cqe);
		usleep(10000);
	}
	_exit(0);
}

/*
 * A disk whose device process holds the requests it is given, attacks,
 * and dies: with @pin, pinned pages of the area outlive it.
 */
static int disk_death(const char *name, bool pin)
{
	int go[2], survivor_go[2], index;
	pid_t dev_pid, reader, survivor = -1;
	char path[64], c = 1;
	struct dev d;

	if (pipe(go) || pipe(survivor_go))
		return fail("pipe");
	if (pin && write_pattern_file())
		return 1;
	if (create_disk(&d, 0, 0))
		return fail("create disk");
	if (ioctl(d.fd, VLB_IOC_GET_INFO, &d.info))
		return fail("GET_INFO");
	dev_pid = fork();
	if (!dev_pid) {
		/* the device process: serve set-up, owe everything */
		close(go[1]);
		close(survivor_go[1]);
		if (until_kick(&d))
			_exit(1);
		if (pin) {
			survivor = start_survivor(&d, survivor_go[0]);
			if (survivor < 0)
				_exit(1);
		}
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		poison_rings(&d);
		_exit(0);
	}
	close(go[0]);
	close(survivor_go[0]);
	close(d.fd);	/* the child is the device process now */
	index = virtio_of(d.info.index);
	if (index < 0 || disk_path(index, path, sizeof(path))) {
		kill(dev_pid, SIGKILL);
		return failx("the disk did not appear");
	}
	reader = start_reader(path, 1 << 20);
	usleep(500000);
	if (write(go[1], &c, 1) != 1)
		return fail("go");
	if (waitpid(dev_pid, NULL, 0) != dev_pid)
		return fail("wait for the device process");
	if (pin && write(survivor_go[1], &c, 1) != 1)
		return fail("survivor go");
	if (reap(reader, 20, "reader after the device died"))
		return 1;
	/* a second reader after the death: an error, at once */
	if (reap(start_reader(path, 4 << 20), 20, "reader of the dead disk"))
		return 1;
	if (virtio_gone(index, 20))
		return 1;
	printf("%s: the driver saw errors only, the disk was removed\n", name);
	return 0;
}

static int grow(void)
{
	struct dev d;
	int shm;

	if (create_rng(&d) || ioctl(d.fd, VLB_IOC_GET_INFO, &d.info))
		return 1;
	shm = ioctl(d.fd, VLB_IOC_SHM_FD);
	if (shm < 0)
		return fail("SHM_FD");
	if (ftruncate(shm, d.info.shm_size * 2) == 0 || errno != EPERM)
		return failx("the area's fd grew");
	if (ftruncate(shm, 4096) == 0 || errno != EPERM)
		return failx("the area's fd shrank");
	if (fallocate(shm, 0, d.info.shm_size, 4096) == 0)
		return failx("fallocate grew the area's fd");
	close(shm);
	close(d.fd);
	printf("grow: the area's size is fixed\n");
	return 0;
}

static long sysfs_long(const char *disk, const char *attr)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/%s/queue/%s", disk, attr);
	f = fopen(path, "r");
	if (f && fscanf(f, "%ld", &v) != 1)
		v = -1;
	if (f)
		fclose(f);
	return v;
}

/* A small area and 254 segments offered: the largest request must fit. */
static int bigseg(void)
{
	uint64_t shm = 2 << 20;
	long segs, seg_size;
	char path[64];
	struct dev d;
	int index = -1;

	if (create_disk(&d, shm, 254))
		return fail("create disk");
	if (until_kick(&d) || ioctl(d.fd, VLB_IOC_GET_INFO, &d.info))
		return 1;
	index = virtio_of(d.info.index);
	if (index < 0 || disk_path(index, path, sizeof(path)))
		return 1;
	segs = sysfs_long(path + 5, "max_segments");
	seg_size = sysfs_long(path + 5, "max_segment_size");
	printf("bigseg: %ld segments of %ld bytes in a %llu-byte area\n", segs,
	       seg_size, (unsigned long long)shm);
	if (segs <= 0 || seg_size <= 0 || segs * seg_size > (long)shm)
		return failx("the driver may send more than the area holds");
	close(d.fd);
	return virtio_gone(index, 20);
}

/* Become a user without CAP_SYS_ADMIN. */
static int drop_privileges(void)
{
	if (setgid(65534) || setuid(65534))
		return fail("setuid");
	return 0;
}

static int holder(void)
{
	struct dev d;

	if (drop_privileges() || create_disk(&d, 0, 0))
		return fail("create disk as a user");
	if (until_kick(&d))
		return 1;
	/* owe the request forever; the watchdog must end it */
	if (expect_failed(&d, 15000))
		return 1;
	close(d.fd);
	printf("holder: failed by the I/O watchdog\n");
	return 0;
}

static int ctrlvq(void)
{
	struct virtio_net_config cfg = { .mac = { 2, 0, 0, 0, 0, 1 } };
	uint64_t ctrl = 1ULL << VIRTIO_NET_F_CTRL_VQ;
	struct dev d;
	int err;

	if (drop_privileges())
		return 1;
	err = create(&d, VIRTIO_ID_NET, ctrl, &cfg, sizeof(cfg), 0);
	if (err != -EPERM)
		return failx("a user's net device with a control queue was not refused");
	err = create(&d, VIRTIO_ID_NET, 0, &cfg, sizeof(cfg), 0);
	if (err)
		return fail("a user's plain net device");
	close(d.fd);
	printf("ctrlvq: refused with a control queue, allowed without\n");
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*attack)(struct dev *);
	} rng_cases[] = {
		{ "garbage", attack_garbage },
		{ "twice", attack_twice },
		{ "longlen", attack_longlen },
	};
	unsigned int i;

	if (argc != 2)
		goto usage;
	for (i = 0; i < sizeof(rng_cases) / sizeof(rng_cases[0]); i++)
		if (!strcmp(argv[1], rng_cases[i].name))
			return rng_case(rng_cases[i].name, rng_cases[i].attack);
	if (!strcmp(argv[1], "silent"))
		return silent();
	if (!strcmp(argv[1], "nextloop"))
		return nextloop();
	if (!strcmp(argv[1], "rewrite"))
		return disk_death("rewrite", false);
	if (!strcmp(argv[1], "pin"))
		return disk_death("pin", true);
	if (!strcmp(argv[1], "grow"))
		return grow();
	if (!strcmp(argv[1], "bigseg"))
		return bigseg();
	if (!strcmp(argv[1], "holder"))
		return holder();
	if (!strcmp(argv[1], "ctrlvq"))
		return ctrlvq();
usage:
	fprintf(stderr, "usage: test_hostile silent|garbage|twice|longlen|nextloop|rewrite|pin|grow|bigseg|holder|ctrlvq\n");
	return 2;
}

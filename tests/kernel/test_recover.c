// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A file-backed virtio-blk device process written against the uapi, for the
 * recovery tests: it can be killed at any moment and a new one takes over
 * the same disk.
 *
 *   test_recover serve FILE [TIMEOUT_MS]  create a recoverable disk over
 *                                         FILE; prints "INDEX /dev/vdX"
 *   test_recover recover INDEX FILE       take over quiesced vloopbackINDEX
 *   test_recover destroy INDEX            take it over and remove it
 *   test_recover state INDEX              print live, quiesced or failed
 *
 * Requests are served one descriptor chain at a time, in any order the
 * shadow ring hands them (after a recovery it holds what was owed, by
 * head).  No INDIRECT_DESC and no SEG_MAX: a chain is header, at most one
 * data buffer, status.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_ring.h>

#include <vloopback/uapi.h>

struct disk {
	int fd, kick, call;
	uint8_t *data;		/* the backing file, mapped */
	uint64_t size;
	uint8_t *area;
	uint64_t area_size;
	struct vring ring;
	uint16_t last_avail;
};

static int die(const char *what)
{
	fprintf(stderr, "test_recover: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void open_backing(struct disk *d, const char *path)
{
	struct stat st;
	int fd = open(path, O_RDWR);

	if (fd < 0 || fstat(fd, &st))
		die(path);
	d->size = st.st_size;
	d->data = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		       0);
	if (d->data == MAP_FAILED)
		die("mmap backing file");
	close(fd);
}

static void set_fds(struct disk *d)
{
	struct vlb_vq_fds f = { .index = 0 };

	d->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->call = eventfd(0, EFD_CLOEXEC);
	f.kick_fd = d->kick;
	f.call_fd = d->call;
	if (ioctl(d->fd, VLB_IOC_SET_VQ_FDS, &f) ||
	    fcntl(d->fd, F_SETFL, O_NONBLOCK))
		die("SET_VQ_FDS");
}

static void map_rings(struct disk *d)
{
	struct vlb_vq_info vi = { .index = 0 };
	struct vlb_info info;
	int shm;

	if (ioctl(d->fd, VLB_IOC_GET_VQ, &vi) ||
	    ioctl(d->fd, VLB_IOC_GET_INFO, &info))
		die("GET_VQ");
	shm = ioctl(d->fd, VLB_IOC_SHM_FD);
	d->area_size = info.shm_size;
	d->area = mmap(NULL, d->area_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       shm, 0);
	if (d->area == MAP_FAILED)
		die("mmap area");
	close(shm);
	d->ring.num = vi.num;
	d->ring.desc = (void *)(d->area + vi.desc - VLB_SHM_IOVA_BASE);
	d->ring.avail = (void *)(d->area + vi.avail - VLB_SHM_IOVA_BASE);
	d->ring.used = (void *)(d->area + vi.used - VLB_SHM_IOVA_BASE);
	d->last_avail = 0;	/* a new ring, recovered or not, starts at 0 */
}

static void *iova(struct disk *d, uint64_t addr, uint32_t len)
{
	uint64_t off = addr - VLB_SHM_IOVA_BASE;

	if (addr < VLB_SHM_IOVA_BASE || off > d->area_size ||
	    len > d->area_size - off)
		return NULL;
	return d->area + off;
}

/* One request: header, optional data, status.  Returns the used length. */
static uint32_t serve_chain(struct disk *d, uint16_t head)
{
	struct vring_desc *v[3];
	struct virtio_blk_outhdr *h;
	unsigned int n = 0, i = head;
	uint8_t *status, *buf = NULL;
	uint32_t len = 0;
	uint64_t off;

	while (n < 3) {
		v[n++] = &d->ring.desc[i];
		if (!(d->ring.desc[i].flags & VRING_DESC_F_NEXT))
			break;
		i = d->ring.desc[i].next % d->ring.num;
	}
	h = iova(d, v[0]->addr, sizeof(*h));
	status = iova(d, v[n - 1]->addr, 1);
	if (!h || !status || n < 2)
		return 0;
	if (n == 3) {
		len = v[1]->len;
		buf = iova(d, v[1]->addr, len);
	}
	off = h->sector * 512;
	*status = VIRTIO_BLK_S_OK;
	switch (h->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (!buf || off > d->size || len > d->size - off) {
			*status = VIRTIO_BLK_S_IOERR;
			return 1;
		}
		if (h->type == VIRTIO_BLK_T_IN) {
			memcpy(buf, d->data + off, len);
			return len + 1;
		}
		memcpy(d->data + off, buf, len);
		return 1;
	case VIRTIO_BLK_T_FLUSH:
		msync(d->data, d->size, MS_SYNC);
		return 1;
	case VIRTIO_BLK_T_GET_ID:
		if (buf)
			memset(buf, 0, len);
		return len + 1;
	default:
		*status = VIRTIO_BLK_S_UNSUPP;
		return 1;
	}
}

static void serve_ring(struct disk *d)
{
	uint16_t avail = __atomic_load_n(&d->ring.avail->idx, __ATOMIC_ACQUIRE);
	uint16_t used = d->ring.used->idx;
	uint64_t one = 1;

	if (avail == d->last_avail)
		return;
	for (; d->last_avail != avail; d->last_avail++, used++) {
		uint16_t head = d->ring.avail->ring[d->last_avail % d->ring.num];
		struct vring_used_elem *e = &d->ring.used->ring[used % d->ring.num];

		e->len = serve_chain(d, head);
		e->id = head;
	}
	__atomic_store_n(&d->ring.used->idx, used, __ATOMIC_RELEASE);
	if (write(d->call, &one, sizeof(one)) != sizeof(one))
		die("call");
}

static void on_msg(struct disk *d, const struct vlb_msg *m)
{
	struct vlb_reply r = { .seq = m->seq };

	if (m->type == VLB_MSG_DRIVER_OK)
		map_rings(d);
	if (m->type == VLB_MSG_RESET)
		d->area = NULL;
	if ((m->flags & VLB_MSG_F_REPLY) && write(d->fd, &r, sizeof(r)) < 0)
		die("reply");
}

static int serve(struct disk *d)
{
	struct pollfd p[2] = { { d->fd, POLLIN, 0 }, { d->kick, POLLIN, 0 } };
	struct vlb_msg m;
	uint64_t n;

	for (;;) {
		if (poll(p, 2, -1) < 0)
			die("poll");
		if (p[0].revents & POLLHUP)
			return 1;
		while (read(d->fd, &m, sizeof(m)) == sizeof(m))
			on_msg(d, &m);
		/* a kick read before DRIVER_OK mapped the rings is not lost */
		if (read(d->kick, &n, sizeof(n)) < 0 && errno != EAGAIN)
			die("kick");
		if (d->area)
			serve_ring(d);
	}
}

/* The disk that vloopback<@index> became */
static void print_node(unsigned int index)
{
	char dir[128], blk[160];
	struct dirent *e;
	int tries, vi;
	DIR *dp;

	snprintf(dir, sizeof(dir),
		 "/sys/devices/virtual/misc/virtio-loopback/vloopback%u", index);
	/*
	 * vi is looked up again each time: a device just destroyed may have
	 * left vloopback<index> with its old virtioN for a moment
	 */
	for (tries = 0; tries < 400; tries++, usleep(50000)) {
		vi = -1;
		dp = opendir(dir);
		while (vi < 0 && dp && (e = readdir(dp)))
			if (sscanf(e->d_name, "virtio%d", &vi) != 1)
				vi = -1;
		if (dp)
			closedir(dp);
		if (vi < 0)
			continue;
		snprintf(blk, sizeof(blk), "%s/virtio%d/block", dir, vi);
		dp = opendir(blk);
		while (dp && (e = readdir(dp)))
			if (e->d_name[0] != '.') {
				printf("%u /dev/%s\n", index, e->d_name);
				fflush(stdout);
				closedir(dp);
				return;
			}
		if (dp)
			closedir(dp);
	}
	die("no disk appeared");
}

static int ctl(void)
{
	int fd = open(VLB_DEVICE_NODE, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die(VLB_DEVICE_NODE);
	return fd;
}

static int cmd_serve(const char *path, uint32_t timeout_ms)
{
	struct virtio_blk_config cfg = { 0 };
	struct disk d = { 0 };
	struct vlb_create c = {
		.size = sizeof(c), .flags = VLB_CREATE_F_RECOVERABLE,
		.device_id = VIRTIO_ID_BLOCK, .num_queues = 1,
		.queue_size = 128, .config = (uintptr_t)&cfg,
		.config_size = sizeof(cfg),
		.features = 1ULL << VIRTIO_BLK_F_FLUSH,
		.recovery_timeout_ms = timeout_ms,
	};
	struct vlb_info info;
	int ctl_fd = ctl();

	open_backing(&d, path);
	cfg.capacity = d.size / 512;
	d.fd = ioctl(ctl_fd, VLB_IOC_CREATE, &c);
	if (d.fd < 0)
		die("create");
	close(ctl_fd);
	set_fds(&d);
	if (ioctl(d.fd, VLB_IOC_GET_INFO, &info) ||
	    ioctl(d.fd, VLB_IOC_START))
		die("start");
	if (fork() == 0) {	/* report the node once it exists */
		print_node(info.index);
		_exit(0);
	}
	return serve(&d);
}

static int recover(unsigned int index)
{
	struct vlb_recover r = { .size = sizeof(r), .index = index };
	int ctl_fd = ctl(), fd;

	fd = ioctl(ctl_fd, VLB_IOC_RECOVER, &r);
	close(ctl_fd);
	if (fd < 0) {
		fprintf(stderr, "test_recover: recover vloopback%u: %s\n",
			index, strerror(errno));
		exit(errno == EPERM ? 3 : 1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct disk d = { 0 };
	char path[128], state[32] = "";
	FILE *f;

	if (argc >= 3 && !strcmp(argv[1], "serve"))
		return cmd_serve(argv[2], argc > 3 ? atoi(argv[3]) : 0);
	if (argc == 4 && !strcmp(argv[1], "recover")) {
		d.fd = recover(atoi(argv[2]));
		open_backing(&d, argv[3]);
		set_fds(&d);
		printf("recovered\n");
		fflush(stdout);
		return serve(&d);
	}
	if (argc == 3 && !strcmp(argv[1], "destroy")) {
		d.fd = recover(atoi(argv[2]));
		if (ioctl(d.fd, VLB_IOC_DESTROY))
			die("destroy");
		close(d.fd);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "state")) {
		snprintf(path, sizeof(path),
			 "/sys/devices/virtual/misc/virtio-loopback/vloopback%s/state",
			 argv[2]);
		f = fopen(path, "r");
		if (!f || !fgets(state, sizeof(state), f))
			strcpy(state, "gone\n");
		fputs(state, stdout);
		return 0;
	}
	fprintf(stderr, "usage: test_recover serve FILE [TIMEOUT_MS] | recover INDEX FILE | destroy INDEX | state INDEX\n");
	return 2;
}

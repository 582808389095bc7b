// SPDX-License-Identifier: MIT
/*
 * ramdisk: a virtio-blk disk kept in this process's memory.
 *
 *   ramdisk --size 64M [--queues 4 [--thread-per-queue]]
 *   ramdisk --size 1G --null [--queues 4]       (keeps no data: for benchmarks)
 *   ramdisk --size 64M --poll 50                (busy-polls 50 us before sleeping)
 *   ramdisk --file disk.img [--size 64M] --recoverable[=MS]
 *   ramdisk --file disk.img --recover INDEX      (after a crash or kill -9)
 *
 * The kernel's own virtio_blk driver binds to the device and creates
 * /dev/vdX; this program prints that path once the disk exists, then serves
 * reads, writes, flushes, discards, write-zeroes and the serial number until
 * SIGINT or SIGTERM, which removes the disk.  The data is lost on exit,
 * unless the disk is a file (--file: mapped MAP_SHARED, so what a request
 * wrote is in the page cache the moment it completes, whatever happens to
 * this process afterwards).
 *
 * Recovery: a --recoverable disk outlives this process.  If it dies (kill
 * -9, a crash, an upgrade), the kernel keeps /dev/vdX and its requests in
 * flight for MS milliseconds (default: the module's recovery_max_ms);
 * "ramdisk --file SAME --recover INDEX" takes it over and serves every
 * request the dead process did not complete.  INDEX (N of vloopbackN) is
 * printed after the disk's path.  This only works for a file-backed disk:
 * the data must survive the process.
 *
 * Null mode (--null) keeps no data and allocates none: reads return zeroes,
 * writes, discards and write-zeroes are checked and dropped, flushes
 * succeed.  What is left is the transport's cost, as with null_blk or
 * ublk's null target, which is what it is for.
 *
 * Polling (--poll US): after the last request, the serving threads keep
 * looking at the rings for US microseconds before they sleep, so a request
 * arriving meanwhile costs neither an eventfd signal nor a wakeup; each
 * serving thread then uses a CPU while the disk is busy.
 *
 * With more than one queue the kernel submits from several CPUs at once.
 * One thread serves every queue unless --thread-per-queue gives each its
 * own: threads pay off only with CPUs to spare beside the ones submitting
 * (in the bench's two-vCPU guest, two queues with two fio jobs did 1.3 to
 * 1.9 times the reads on one thread).  The handler below is written to be
 * called concurrently either way (it only shares the disk's bytes, and two
 * requests in flight on the same sectors are the driver's problem, as on
 * real disks).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>

#include <vloopback/vloopback.h>

#define PROG		"ramdisk"
#define SECTOR		512ULL
#define QUEUE_SIZE	256
/*
 * The module makes a segment small enough that seg_max of them fit in the
 * shared area, and every segment is one bounce mapping (a slot search, a
 * descriptor, a copy).  64 MiB and 62 segments give 1 MiB segments, the
 * module's largest: a 1 MiB read in physically contiguous memory is one
 * mapping instead of sixteen with 16 MiB and 254, and 62 scattered pages
 * still make a 248 KiB request.
 */
#define AREA_SIZE	(64ULL << 20)
#define SEG_MAX		62
/* One discard / write-zeroes range may cover up to 2 GiB */
#define MAX_RANGE_SECTORS	(1U << 22)
#define SERIAL		"vloopback-ramdisk"

struct ramdisk {
	uint8_t *bytes;
	uint64_t size;
	bool file;		/* bytes map a file, MAP_SHARED */
	bool null;		/* --null: no bytes, nothing is stored */
};

/* What the command line asked for */
struct args {
	uint64_t size;
	unsigned int queues;
	const char *file;	/* --file: back the disk by this file */
	bool recoverable;
	uint32_t recovery_ms;	/* 0: the module's default */
	uint32_t poll_us;	/* --poll: 0 sleeps at once */
	int recover;		/* --recover INDEX, or -1 */
	bool null;		/* --null: store nothing */
	bool thread_per_queue;	/* --thread-per-queue */
};

/* ---- the requests ---- */

/* Is [sector, sector + bytes) on the disk?  (Written to avoid overflow.) */
static bool in_range(const struct ramdisk *rd, uint64_t sector, uint64_t bytes)
{
	uint64_t sectors = rd->size / SECTOR;

	return bytes % SECTOR == 0 && sector <= sectors &&
	       bytes / SECTOR <= sectors - sector;
}

static uint8_t do_read(struct ramdisk *rd, struct vlb_req *req,
		       uint64_t sector, size_t len)
{
	static const uint8_t zeroes[64 << 10];
	size_t off, n;

	if (!in_range(rd, sector, len))
		return VIRTIO_BLK_S_IOERR;
	if (!rd->null) {
		vlb_req_copy_to(req, 0, rd->bytes + sector * SECTOR, len);
		return VIRTIO_BLK_S_OK;
	}
	/* Zeroes, not whatever the shared buffers held from earlier requests */
	for (off = 0; off < len; off += n) {
		n = vlb_req_copy_to(req, off, zeroes,
				    len - off < sizeof(zeroes) ? len - off : sizeof(zeroes));
		if (n == 0)
			break;
	}
	return VIRTIO_BLK_S_OK;
}

static uint8_t do_write(struct ramdisk *rd, struct vlb_req *req,
			uint64_t sector, size_t len)
{
	if (!in_range(rd, sector, len))
		return VIRTIO_BLK_S_IOERR;
	if (!rd->null)
		vlb_req_copy_from(req, sizeof(struct virtio_blk_outhdr),
				  rd->bytes + sector * SECTOR, len);
	return VIRTIO_BLK_S_OK;
}

/*
 * Discard and write-zeroes carry one range each (max_*_seg is 1).  On a RAM
 * disk both simply zero the sectors, which discard is allowed to do.
 */
static uint8_t do_zero(struct ramdisk *rd, struct vlb_req *req, size_t len,
		       bool discard)
{
	struct virtio_blk_discard_write_zeroes range;
	uint64_t sector;
	uint32_t num, flags;

	if (len != sizeof(range))
		return VIRTIO_BLK_S_IOERR;
	vlb_req_copy_from(req, sizeof(struct virtio_blk_outhdr),
		   &range, sizeof(range));
	sector = le64toh(range.sector);
	num = le32toh(range.num_sectors);
	flags = le32toh(range.flags);
	/* The spec reserves the unmap flag to write-zeroes */
	if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP ||
	    (discard && flags))
		return VIRTIO_BLK_S_UNSUPP;
	if (num > MAX_RANGE_SECTORS || !in_range(rd, sector, num * SECTOR))
		return VIRTIO_BLK_S_IOERR;
	if (!rd->null)
		memset(rd->bytes + sector * SECTOR, 0, num * SECTOR);
	return VIRTIO_BLK_S_OK;
}

/*
 * A virtio-blk request: a header the driver wrote (out), then data out or
 * in depending on the type, and a status byte last in the in buffers.
 * Runs on the queue's thread; completes every request before returning.
 */
static void handle(struct vlb_queue *q, struct vlb_req *req)
{
	struct ramdisk *rd = vlb_dev_opaque(vlb_queue_dev(q));
	struct virtio_blk_outhdr hdr;
	size_t out_len = vlb_req_out_size(req);
	size_t in_len = vlb_req_in_size(req);
	size_t data_out, data_in;
	uint64_t sector;
	uint32_t written = 0;
	uint8_t status;

	if (in_len == 0 || out_len < sizeof(hdr)) {
		vlb_req_complete(req, 0);	/* malformed: no room to answer */
		return;
	}
	data_out = out_len - sizeof(hdr);
	data_in = in_len - 1;		/* all but the status byte */
	vlb_req_copy_from(req, 0, &hdr, sizeof(hdr));
	sector = le64toh(hdr.sector);
	switch (le32toh(hdr.type)) {
	case VIRTIO_BLK_T_IN:
		status = do_read(rd, req, sector, data_in);
		if (status == VIRTIO_BLK_S_OK)
			written = (uint32_t)data_in;
		break;
	case VIRTIO_BLK_T_OUT:
		status = do_write(rd, req, sector, data_out);
		break;
	case VIRTIO_BLK_T_FLUSH:
		/* RAM has no cache to write back; a file has the page cache */
		status = VIRTIO_BLK_S_OK;
		if (rd->file && msync(rd->bytes, rd->size, MS_SYNC))
			status = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		char id[VIRTIO_BLK_ID_BYTES] = SERIAL;	/* NUL-padded, maybe not terminated */

		written = (uint32_t)vlb_req_copy_to(req, 0, id,
					       data_in < sizeof(id) ? data_in : sizeof(id));
		status = VIRTIO_BLK_S_OK;
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
		status = do_zero(rd, req, data_out, true);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = do_zero(rd, req, data_out, false);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	vlb_req_copy_to(req, data_in, &status, 1);
	vlb_req_complete(req, written + 1);
}

/* ---- the program around it ---- */

static struct vlb_dev *dev;
static bool lib_logged_error;	/* the library already said what went wrong */

static void on_signal(int sig)
{
	(void)sig;
	vlb_dev_stop(dev);	/* async-signal-safe: the run loop returns */
}

static void log_line(int level, const char *msg, void *opaque)
{
	(void)opaque;
	if (level <= VLB_LOG_ERR)
		lib_logged_error = true;
	fprintf(stderr, PROG ": %s\n", msg);
}

/* One line per failure: the library's if it logged one, else ours */
static int fail(const char *what, int err, const char *hint)
{
	if (!lib_logged_error)
		fprintf(stderr, PROG ": %s: %s%s\n", what, strerror(err), hint);
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " --size BYTES [--queues N [--thread-per-queue]] [--null] [--poll US]\n"
		"       " PROG " --file PATH [--size BYTES] [--queues N [--thread-per-queue]] [--recoverable[=MS]]\n"
		"       " PROG " --file PATH [--queues N [--thread-per-queue]] --recover INDEX\n"
		"A virtio-blk disk in RAM or in a file, served by this process through virtio_loopback.ko.\n"
		"Prints the disk's /dev/vdX once it exists (followed by INDEX for a recoverable\n"
		"disk), then serves it until SIGINT/SIGTERM, which removes it.\n\n"
		"  -s, --size BYTES        disk size, a multiple of 512; suffixes K, M, G (powers of 1024);\n"
		"                          with --file, the file is extended to it (default: the file's size)\n"
		"  -f, --file PATH         keep the disk in this file (mapped shared) instead of RAM\n"
		"  -q, --queues N          request queues, 1..%u (default 1), all served by one thread\n"
		"  -t, --thread-per-queue  serve each queue on its own thread instead\n"
		"  -n, --null              keep no data: reads return zeroes, writes are dropped\n"
		"  -p, --poll US           after the last request, look for more for US microseconds\n"
		"                          (0..1000000, default 0) before sleeping: less latency, more CPU\n"
		"  -r, --recoverable[=MS]  if this process dies, the kernel keeps the disk MS ms\n"
		"                          (default: the module's recovery_max_ms) for --recover\n"
		"  -R, --recover INDEX     take over the disk vloopbackINDEX whose process died\n"
		"                          (same --file and --queues as it had)\n"
		"  -h, --help              this text\n", VLB_MAX_QUEUES);
}

static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return false;
	switch (*end) {
	case 'G': shift += 10;	/* fall through */
	case 'M': shift += 10;	/* fall through */
	case 'K': shift += 10; end++; break;
	}
	if (*end || v > (UINT64_MAX >> shift))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

/* A decimal number 0..max, all of s */
static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && !*end && end != s && *s != '-' && *out <= max;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "queues", required_argument, NULL, 'q' },
		{ "file", required_argument, NULL, 'f' },
		{ "recoverable", optional_argument, NULL, 'r' },
		{ "recover", required_argument, NULL, 'R' },
		{ "null", no_argument, NULL, 'n' },
		{ "poll", required_argument, NULL, 'p' },
		{ "thread-per-queue", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	uint64_t *size = &a->size;
	unsigned long v;
	int c;

	while ((c = getopt_long(argc, argv, "s:q:f:r::R:np:th", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			a->file = optarg;
			break;
		case 'n':
			a->null = true;
			break;
		case 't':
			a->thread_per_queue = true;
			break;
		case 'p':
			if (!parse_uint(optarg, 1000000, &v)) {
				fprintf(stderr, PROG ": bad --poll '%s' (microseconds, 0..1000000, e.g. --poll 50)\n", optarg);
				return -1;
			}
			a->poll_us = (uint32_t)v;
			break;
		case 'r':
			a->recoverable = true;
			if (!optarg)
				break;
			if (!parse_uint(optarg, UINT32_MAX, &v)) {
				fprintf(stderr, PROG ": bad --recoverable '%s' (milliseconds, e.g. --recoverable=30000)\n", optarg);
				return -1;
			}
			a->recovery_ms = (uint32_t)v;
			break;
		case 'R':
			if (!parse_uint(optarg, INT32_MAX, &v)) {
				fprintf(stderr, PROG ": bad --recover '%s' (N of vloopbackN)\n", optarg);
				return -1;
			}
			a->recover = (int)v;
			break;
		case 's':
			if (!parse_size(optarg, size) || *size == 0 || *size % SECTOR) {
				fprintf(stderr, PROG ": bad --size '%s' (try: --size 64M)\n", optarg);
				return -1;
			}
			break;
		case 'q':
			if (!parse_uint(optarg, VLB_MAX_QUEUES, &v) || v < 1) {
				fprintf(stderr, PROG ": bad --queues '%s' (1..%u)\n", optarg, VLB_MAX_QUEUES);
				return -1;
			}
			a->queues = (unsigned int)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc || (*size == 0 && !a->file)) {
		fprintf(stderr, PROG ": --size or --file is required (try: " PROG " --size 64M)\n");
		return -1;
	}
	if ((a->recoverable || a->recover >= 0) && !a->file) {
		fprintf(stderr, PROG ": recovery needs the data to outlive the process (add --file PATH)\n");
		return -1;
	}
	if (a->null && a->file) {
		fprintf(stderr, PROG ": --null keeps no data, --file keeps it in a file: choose one\n");
		return -1;
	}
	if (a->recoverable && a->recover >= 0) {
		fprintf(stderr, PROG ": --recover takes over a disk that is recoverable already (drop --recoverable)\n");
		return -1;
	}
	return 0;
}

/*
 * The disk's bytes: anonymous memory (untouched pages cost nothing, so a
 * large disk only uses what is written), or the file, shared, extended to
 * --size if that is larger.  Returns 0 or an errno, with *what set.
 */
static int map_disk(struct ramdisk *rd, const struct args *a, const char **what)
{
	struct stat st;
	int fd, err;

	if (a->null) {
		rd->size = a->size;
		rd->null = true;
		return 0;
	}
	if (!a->file) {
		rd->size = a->size;
		rd->bytes = mmap(NULL, rd->size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		*what = "cannot allocate the disk";
		return rd->bytes == MAP_FAILED ? errno : 0;
	}
	*what = a->file;
	fd = open(a->file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	err = fstat(fd, &st) ? errno : 0;
	/* Extend, never shrink, and not under a disk being recovered */
	if (!err && (uint64_t)st.st_size < a->size && a->recover < 0) {
		err = ftruncate(fd, (off_t)a->size) ? errno : 0;
		st.st_size = (off_t)a->size;
	}
	rd->size = (uint64_t)st.st_size / SECTOR * SECTOR;
	if (!err && rd->size == 0)
		err = EINVAL;	/* an empty file and no --size */
	rd->bytes = err ? MAP_FAILED :
		    mmap(NULL, rd->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!err && rd->bytes == MAP_FAILED)
		err = errno;
	close(fd);
	rd->file = true;
	return err;
}

/* What the driver reads before it even asks for a request */
static void fill_config(struct virtio_blk_config *c, uint64_t size, unsigned int queues)
{
	memset(c, 0, sizeof(*c));
	c->capacity = htole64(size / SECTOR);
	c->seg_max = htole32(SEG_MAX);
	c->blk_size = htole32(SECTOR);
	c->num_queues = htole16((uint16_t)queues);
	c->max_discard_sectors = htole32(MAX_RANGE_SECTORS);
	c->max_discard_seg = htole32(1);
	c->discard_sector_alignment = htole32(1);
	c->max_write_zeroes_sectors = htole32(MAX_RANGE_SECTORS);
	c->max_write_zeroes_seg = htole32(1);
	c->write_zeroes_may_unmap = 1;
}

int main(int argc, char **argv)
{
	static const struct vlb_dev_ops ops = { .handle = handle };
	struct sigaction sa = { .sa_handler = on_signal };
	struct virtio_blk_config config;
	struct ramdisk rd = { 0 };
	struct vlb_dev_config cfg;
	struct args a = { .queues = 1, .recover = -1 };
	unsigned int queues;
	const char *what;
	char name[64];
	int rc;

	if (parse_args(argc, argv, &a))
		return 2;
	queues = a.queues;
	vlb_set_log_fn(log_line, NULL);

	rc = map_disk(&rd, &a, &what);
	if (rc)
		return fail(what, rc, a.file ? " (an existing file, or give --size)" :
			    " (try a smaller --size)");

	fill_config(&config, rd.size, queues);
	cfg = (struct vlb_dev_config){
		.size = sizeof(cfg),
		.device_id = VIRTIO_ID_BLOCK,
		.num_queues = (uint16_t)queues,
		.queue_size = QUEUE_SIZE,
		.features = (1ULL << VIRTIO_BLK_F_SEG_MAX) |
			    (1ULL << VIRTIO_BLK_F_BLK_SIZE) |
			    (1ULL << VIRTIO_BLK_F_FLUSH) |
			    (1ULL << VIRTIO_BLK_F_DISCARD) |
			    (1ULL << VIRTIO_BLK_F_WRITE_ZEROES) |
			    (queues > 1 ? 1ULL << VIRTIO_BLK_F_MQ : 0),
		.config = &config,
		.config_size = sizeof(config),
		.ops = &ops,
		.ops_size = sizeof(ops),
		.opaque = &rd,
		.flags = a.recoverable ? VLB_DEV_F_RECOVERABLE : 0,
		.recovery_timeout_ms = a.recovery_ms,
		.poll_us = a.poll_us,
		.shm_size = AREA_SIZE,
	};
	/*
	 * A recovered device keeps what the kernel has (features, config);
	 * only the ops and the queues' shape are taken from cfg.
	 */
	if (a.recover >= 0)
		rc = vlb_dev_recover(&cfg, (unsigned int)a.recover, &dev);
	else
		rc = vlb_dev_create(&cfg, &dev);
	if (rc < 0)
		return fail(a.recover >= 0 ? "cannot take over the disk" :
			    "cannot create the device", -rc, "");

	/* No SA_RESTART: the loops notice the stop either way */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rc = vlb_dev_start(dev);	/* nothing to do for a recovered one */
	/* The driver probes now and needs answers: wait_sysfs serves meanwhile */
	if (rc == 0)
		rc = vlb_dev_wait_sysfs(dev, "block/vd*", name, sizeof(name), 10000);
	if (rc == 0) {
		if (a.recoverable || a.recover >= 0)
			printf("/dev/%s %d\n", name, vlb_dev_index(dev));
		else
			printf("/dev/%s\n", name);
		fflush(stdout);
		rc = a.thread_per_queue ? vlb_dev_run_threaded(dev) : vlb_dev_run(dev);
	} else if (rc == -ETIMEDOUT) {
		fail("no disk appeared within 10 s", ETIMEDOUT,
		     " (is virtio_blk loaded? try: modprobe virtio_blk)");
	} else if (rc != -EINTR) {
		fail("serving the device failed", -rc, " (see dmesg)");
	}

	vlb_dev_destroy(dev);	/* removes /dev/vdX */
	if (rd.bytes)
		munmap(rd.bytes, rd.size);
	return rc == 0 || rc == -EINTR ? 0 : 1;
}

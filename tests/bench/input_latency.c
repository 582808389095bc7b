// SPDX-License-Identifier: MIT
/*
 * input_latency: how long an input event takes from the process that makes
 * it to a reader of /dev/input/eventN, through vloopback's virtio-input and
 * through uinput, measured side by side.
 *
 *   input_latency [--via vloopback|uinput|both] [--count N] [--warmup N] [--gap-us N]
 *
 * Each way creates an input device that reports relative X motion (a
 * mouse: the value is free, so it carries a sequence number) and opens its
 * event node, read by a thread of its own.  Then, warmup + count times, for
 * each way in turn: note the time, send REL_X=i+1 and SYN_REPORT, and wait
 * until the reader has read them and noted its time; the difference is
 * event i's latency.  Alternating the ways event by event gives both the
 * same conditions (TCG guests on a shared host drift a lot).
 *   vloopback  the two events go into buffers the virtio_input driver
 *              posted, completed with one interrupt (vlb_queue_notify);
 *   uinput     one write() of the two events to /dev/uinput.
 * --gap-us spaces the events (default 1000, a 1 kHz mouse) so that each
 * finds the system idle, as real input does.  Prints one line per way:
 *   via=W count=N p50_us=.. p90_us=.. p99_us=.. mean_us=.. min_us=.. max_us=..
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/input.h>
#include <linux/uinput.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_input.h>

#include <vloopback/vloopback.h>

#define PROG		"input_latency"
#define NAME		"vloopback-bench-input"
#define EVENTQ		0
#define STATUSQ		1
#define QUEUE_SIZE	64
#define WAIT_MS		5000	/* an event not read by then is lost: fail */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, PROG ": %s: %s\n", what, strerror(err));
	exit(1);
}

/* ---- a way of sending events: vloopback or uinput ---- */

/* What one way measured, and its reader */
struct run {
	unsigned int total;		/* warmup + count */
	_Atomic int64_t *sent;		/* ns, by sequence number */
	int64_t *latency;		/* ns, by sequence number */
	int ev_fd;			/* the event node the reader reads */
	int ack_fd;			/* eventfd: the reader got a report */
	pthread_t reader;
};

struct way {
	const char *name;
	/* create the device; returns the fd of its event node, opened */
	int (*setup)(struct way *w);
	/* send REL_X=seq+1 and SYN_REPORT; 0, or -EAGAIN: serve fds first */
	int (*send)(struct way *w, unsigned int seq);
	/* fds[0..nfds) were polled: do what they ask */
	void (*serve)(struct way *w);
	void (*teardown)(struct way *w);
	struct pollfd fds[3];
	unsigned int nfds;
	struct run run;
};

static int open_event_node(const char *event)
{
	char node[64];
	int fd;

	if ((size_t)snprintf(node, sizeof(node), "/dev/input/%s", event) >= sizeof(node))
		die(event, ENAMETOOLONG);
	fd = open(node, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(node, errno);
	return fd;
}

/* ---- uinput ---- */

static int uinput_fd = -1;

/* The eventN of /sys/devices/virtual/input/SYSNAME (evdev has bound it) */
static int uinput_event_node(const char *sysname)
{
	char dir[128];
	struct dirent *e;
	DIR *d;
	int64_t deadline = now_ns() + (int64_t)WAIT_MS * 1000000;

	snprintf(dir, sizeof(dir), "/sys/devices/virtual/input/%s", sysname);
	while (now_ns() < deadline) {
		d = opendir(dir);
		if (!d)
			die(dir, errno);
		while ((e = readdir(d)))
			if (!strncmp(e->d_name, "event", 5)) {
				int fd = open_event_node(e->d_name);

				closedir(d);
				return fd;
			}
		closedir(d);
		usleep(10000);
	}
	die("no event node for the uinput device (is evdev loaded?)", ETIMEDOUT);
	return -1;
}

static int uinput_setup(struct way *w)
{
	struct uinput_setup us = { .id = { .bustype = BUS_VIRTUAL, .vendor = 0x1af4 } };
	char sysname[64];

	(void)w;
	uinput_fd = open("/dev/uinput", O_WRONLY | O_CLOEXEC);
	if (uinput_fd < 0)
		die("/dev/uinput (is uinput loaded?)", errno);
	snprintf(us.name, sizeof(us.name), "%s", NAME);
	if (ioctl(uinput_fd, UI_SET_EVBIT, EV_REL) < 0 ||
	    ioctl(uinput_fd, UI_SET_RELBIT, REL_X) < 0 ||
	    ioctl(uinput_fd, UI_DEV_SETUP, &us) < 0 ||
	    ioctl(uinput_fd, UI_DEV_CREATE) < 0 ||
	    ioctl(uinput_fd, UI_GET_SYSNAME(sizeof(sysname)), sysname) < 0)
		die("uinput device", errno);
	return uinput_event_node(sysname);
}

static int uinput_send(struct way *w, unsigned int seq)
{
	struct input_event ev[2] = {
		{ .type = EV_REL, .code = REL_X, .value = (int)seq + 1 },
		{ .type = EV_SYN, .code = SYN_REPORT },
	};

	(void)w;
	if (write(uinput_fd, ev, sizeof(ev)) != sizeof(ev))
		die("write to /dev/uinput", errno);
	return 0;
}

static void uinput_teardown(struct way *w)
{
	(void)w;
	ioctl(uinput_fd, UI_DEV_DESTROY);
	close(uinput_fd);
}

/* ---- vloopback: a virtio-input device on libvloopback ---- */

static struct vlb_dev *vdev;
static struct vlb_req *bufs[QUEUE_SIZE];	/* posted event buffers, a ring */
static unsigned int buf_first, nbufs;
static uint8_t cfg_select, cfg_subsel;

static void vlb_handle(struct vlb_queue *q, struct vlb_req *req)
{
	if (vlb_queue_index(q) == STATUSQ || nbufs == QUEUE_SIZE) {
		vlb_req_complete(req, 0);
		return;
	}
	bufs[(buf_first + nbufs++) % QUEUE_SIZE] = req;
}

static void vlb_reset(struct vlb_dev *dev)
{
	(void)dev;
	while (nbufs) {
		vlb_req_complete(bufs[buf_first], 0);
		buf_first = (buf_first + 1) % QUEUE_SIZE;
		nbufs--;
	}
}

/* What the driver reads after selecting: a name, ids, and one event code */
static uint8_t cfg_answer(struct virtio_input_config *c)
{
	switch (cfg_select) {
	case VIRTIO_INPUT_CFG_ID_NAME:
		strcpy(c->u.string, NAME);
		return (uint8_t)strlen(NAME);
	case VIRTIO_INPUT_CFG_ID_DEVIDS:
		c->u.ids.bustype = htole16(BUS_VIRTUAL);
		c->u.ids.vendor = htole16(0x1af4);
		return sizeof(c->u.ids);
	case VIRTIO_INPUT_CFG_EV_BITS:
		if (cfg_subsel != EV_REL)
			return 0;
		c->u.bitmap[REL_X / 8] = 1U << (REL_X % 8);
		return REL_X / 8 + 1;
	default:
		return 0;
	}
}

static int vlb_config_write(struct vlb_dev *dev, uint32_t off,
			    const void *data, uint32_t len)
{
	const uint8_t *b = data;
	const uint32_t from = offsetof(struct virtio_input_config, size);
	struct virtio_input_config c;
	uint32_t i;

	for (i = 0; i < len; i++) {
		if (off + i == offsetof(struct virtio_input_config, select))
			cfg_select = b[i];
		else if (off + i == offsetof(struct virtio_input_config, subsel))
			cfg_subsel = b[i];
	}
	memset(&c, 0, sizeof(c));
	c.size = cfg_answer(&c);
	return vlb_dev_set_config(dev, from, (uint8_t *)&c + from,
				  sizeof(c) - from, false);
}

static int vlb_setup(struct way *w)
{
	static const struct vlb_dev_ops ops = {
		.handle = vlb_handle,
		.reset = vlb_reset,
		.config_write = vlb_config_write,
	};
	struct virtio_input_config config = { 0 };
	struct vlb_dev_config cfg = {
		.size = sizeof(cfg),
		.device_id = VIRTIO_ID_INPUT,
		.num_queues = 2,
		.queue_size = QUEUE_SIZE,
		.config = &config,
		.config_size = sizeof(config),
		.ops = &ops,
	};
	char name[64];
	int rc;

	rc = vlb_dev_create(&cfg, &vdev);
	if (rc == 0) {
		/* A report takes two buffers: no kicks while we hold as many */
		vlb_queue_set_lazy_kick(vlb_dev_queue(vdev, EVENTQ), 2);
		rc = vlb_dev_start(vdev);
	}
	if (rc == 0)
		rc = vlb_dev_wait_sysfs(vdev, "input/input*[0-9]/event*", name,
					sizeof(name), WAIT_MS);
	if (rc < 0)
		die("vloopback input device (are virtio_input and evdev loaded?)", -rc);
	w->fds[0] = (struct pollfd){ .fd = vlb_dev_fd(vdev), .events = POLLIN };
	w->fds[1] = (struct pollfd){ .fd = vlb_queue_fd(vlb_dev_queue(vdev, EVENTQ)),
				     .events = POLLIN };
	w->fds[2] = (struct pollfd){ .fd = vlb_queue_fd(vlb_dev_queue(vdev, STATUSQ)),
				     .events = POLLIN };
	w->nfds = 3;
	return open_event_node(name);
}

static void vlb_fill(struct vlb_req *req, uint16_t type, uint16_t code,
		     uint32_t value)
{
	struct virtio_input_event ev = {
		.type = htole16(type), .code = htole16(code), .value = htole32(value),
	};

	if (req->n_in != 1 || req->in[0].iov_len < sizeof(ev))
		die("the driver posted an odd event buffer", EPROTO);
	memcpy(req->in[0].iov_base, &ev, sizeof(ev));
	vlb_req_complete_nonotify(req, sizeof(ev));
}

/*
 * Buffers are taken from the ring when needed, not when the driver kicks:
 * the driver re-posts each buffer it consumed, and answering every such
 * kick would wake this thread (and compete with the reader) per event.
 * With lazy kicks (vlb_setup) the driver does not even kick for them; the
 * kick fd is only watched while we are short of buffers.
 */
static int vlb_send(struct way *w, unsigned int seq)
{
	struct vlb_queue *q = vlb_dev_queue(vdev, EVENTQ);

	if (nbufs < 2)
		vlb_queue_dispatch(q);
	w->fds[1].fd = nbufs < 2 ? vlb_queue_fd(q) : -1;
	if (nbufs < 2)
		return -EAGAIN;
	vlb_fill(bufs[buf_first], EV_REL, REL_X, seq + 1);
	vlb_fill(bufs[(buf_first + 1) % QUEUE_SIZE], EV_SYN, SYN_REPORT, 0);
	buf_first = (buf_first + 2) % QUEUE_SIZE;
	nbufs -= 2;
	return vlb_queue_notify(q);
}

static void vlb_serve(struct way *w)
{
	int rc;

	if (w->fds[0].revents && (rc = vlb_dev_dispatch(vdev)) < 0)
		die("the device failed", -rc);
	if (w->fds[1].revents)
		vlb_queue_dispatch(vlb_dev_queue(vdev, EVENTQ));
	if (w->fds[2].revents)
		vlb_queue_dispatch(vlb_dev_queue(vdev, STATUSQ));
}

static void vlb_teardown(struct way *w)
{
	(void)w;
	vlb_dev_destroy(vdev);
}

static struct way ways[] = {
	{ .name = "vloopback", .setup = vlb_setup, .send = vlb_send,
	  .serve = vlb_serve, .teardown = vlb_teardown },
	{ .name = "uinput", .setup = uinput_setup, .send = uinput_send,
	  .teardown = uinput_teardown },
};

/* ---- the measurement ---- */

/*
 * The reader: a report is REL_X (its sequence number + 1) then SYN_REPORT,
 * which is when evdev wakes readers.  Notes the latency, tells the sender.
 */
static void *reader(void *arg)
{
	struct run *r = arg;
	struct input_event ev[16];
	unsigned int got = 0, seq = ~0U, i;
	ssize_t n;

	while (got < r->total) {
		n = read(r->ev_fd, ev, sizeof(ev));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("read of the event node", n < 0 ? errno : EIO);
		for (i = 0; i < (size_t)n / sizeof(ev[0]); i++) {
			if (ev[i].type == EV_REL && ev[i].code == REL_X)
				seq = (unsigned int)ev[i].value - 1;
			if (ev[i].type != EV_SYN || ev[i].code != SYN_REPORT ||
			    seq >= r->total)
				continue;
			r->latency[seq] = now_ns() - atomic_load(&r->sent[seq]);
			seq = ~0U;
			got++;
			eventfd_write(r->ack_fd, 1);
		}
	}
	return NULL;
}

static struct way *active[2];
static unsigned int nactive;

/*
 * Wait for a reader's ack (ack_fd, or -1 for none) while serving every
 * active way's fds.  Returns whether the ack came (it is consumed).
 */
static bool serve_until(int ack_fd)
{
	struct pollfd fds[1 + 2 * 3];
	unsigned int i, j, n = 1;
	eventfd_t ignored;
	int rc;

	fds[0] = (struct pollfd){ .fd = ack_fd, .events = POLLIN };
	for (i = 0; i < nactive; i++)
		for (j = 0; j < active[i]->nfds; j++)
			fds[n++] = active[i]->fds[j];
	rc = poll(fds, n, WAIT_MS);
	if (rc < 0 && errno != EINTR)
		die("poll", errno);
	if (rc == 0)
		die(ack_fd >= 0 ? "an event never reached the reader" :
				  "the driver posts no event buffers", ETIMEDOUT);
	for (i = 0, n = 1; i < nactive; i++) {
		for (j = 0; j < active[i]->nfds; j++)
			active[i]->fds[j].revents = fds[n++].revents;
		if (active[i]->serve)
			active[i]->serve(active[i]);
	}
	if (ack_fd < 0 || !fds[0].revents)
		return false;
	eventfd_read(ack_fd, &ignored);
	return true;
}

/* One event through w, timed by its reader */
static void one_event(struct way *w, unsigned int seq)
{
	struct run *r = &w->run;

	atomic_store(&r->sent[seq], now_ns());
	while (w->send(w, seq) == -EAGAIN) {
		serve_until(-1);	/* until the driver posts buffers */
		atomic_store(&r->sent[seq], now_ns());
	}
	while (!serve_until(r->ack_fd))
		;
}

static void measure(unsigned int total, unsigned int gap_us)
{
	struct timespec gap = { .tv_nsec = (long)gap_us * 1000 };
	unsigned int seq, i;

	for (seq = 0; seq < total; seq++)
		for (i = 0; i < nactive; i++) {
			one_event(active[i], seq);
			if (gap_us)
				nanosleep(&gap, NULL);
		}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double pct_us(const int64_t *sorted, unsigned int n, double pct)
{
	return sorted[(unsigned int)(pct / 100.0 * (n - 1) + 0.5)] / 1000.0;
}

static void print_stats(const char *via, const int64_t *lat, unsigned int n)
{
	int64_t *s = malloc(n * sizeof(*s));
	double sum = 0;
	unsigned int i;

	if (!s)
		die("malloc", ENOMEM);
	memcpy(s, lat, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_i64);
	for (i = 0; i < n; i++)
		sum += (double)s[i];
	printf("via=%s count=%u p50_us=%.1f p90_us=%.1f p99_us=%.1f mean_us=%.1f min_us=%.1f max_us=%.1f\n",
	       via, n, pct_us(s, n, 50), pct_us(s, n, 90), pct_us(s, n, 99),
	       sum / n / 1000.0, s[0] / 1000.0, s[n - 1] / 1000.0);
	free(s);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: " PROG " [--via vloopback|uinput|both] [--count N] [--warmup N] [--gap-us N]\n");
}

static void start_way(struct way *w, unsigned int total)
{
	struct run *r = &w->run;

	r->total = total;
	r->sent = calloc(total, sizeof(*r->sent));
	r->latency = calloc(total, sizeof(*r->latency));
	r->ack_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!r->sent || !r->latency || r->ack_fd < 0)
		die("setup", ENOMEM);
	r->ev_fd = w->setup(w);
	if (pthread_create(&r->reader, NULL, reader, r))
		die("pthread_create", EAGAIN);
	active[nactive++] = w;
}

static void stop_way(struct way *w, unsigned int warmup)
{
	struct run *r = &w->run;

	pthread_join(r->reader, NULL);
	print_stats(w->name, r->latency + warmup, r->total - warmup);
	close(r->ev_fd);
	close(r->ack_fd);
	w->teardown(w);
	free((void *)r->sent);
	free(r->latency);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "via", required_argument, NULL, 'v' },
		{ "count", required_argument, NULL, 'c' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "gap-us", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned int count = 5000, warmup = 100, gap_us = 1000, i;
	const char *via = "both";
	int c;

	while ((c = getopt_long(argc, argv, "v:c:w:g:h", opts, NULL)) != -1) {
		switch (c) {
		case 'v': via = optarg; break;
		case 'c': count = (unsigned int)atoi(optarg); break;
		case 'w': warmup = (unsigned int)atoi(optarg); break;
		case 'g': gap_us = (unsigned int)atoi(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (count == 0 || gap_us >= 1000000) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < sizeof(ways) / sizeof(ways[0]); i++)
		if (!strcmp(via, "both") || !strcmp(via, ways[i].name))
			start_way(&ways[i], warmup + count);
	if (nactive == 0) {
		usage(stderr);
		return 2;
	}
	measure(warmup + count, gap_us);
	for (i = 0; i < nactive; i++)
		stop_way(active[i], warmup);
	return 0;
}

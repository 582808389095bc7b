// SPDX-License-Identifier: MIT
/*
 * input: a virtio-input device (keyboard, mouse or tablet) whose events come
 * from text lines.
 *
 *   input [--keyboard|--mouse|--tablet] [--events FILE|-]
 *
 * The kernel's virtio_input driver binds to the device and creates an evdev
 * node; the program prints it (/dev/input/eventN), then reads lines
 * "type code value" (numbers as in <linux/input-event-codes.h>, decimal or
 * 0x-hex; '#' starts a comment) from stdin or FILE and sends each as an
 * event, e.g. "1 30 1" "0 0 0" presses A and ends the report with EV_SYN.
 * Events the driver sends back (keyboard LEDs) are printed on stdout as
 * "status type code value".  SIGINT or SIGTERM removes the device.
 *
 * Unlike a disk, this device speaks first: the driver posts empty buffers
 * on the event queue, which the device needs only when it has an event.  So
 * it is a pull device (no ops->handle): it takes a buffer with
 * vlb_queue_pop() when an event waits for one, and leaves the others in
 * the ring meanwhile, where they cost no kick.  Its main loop is the
 * application's own poll loop rather than vlb_dev_run (it also watches the
 * event source), and it watches the event queue only while events wait.  The config space is not static either: the
 * driver selects what it wants to read (name, event bits, axis ranges) by
 * writing select/subsel, and the device answers before the write returns.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/input.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_input.h>

#include <vloopback/vloopback.h>

#define PROG		"input"
#define NAME		"vloopback-input"
#define SERIAL		"vloopback-0"
#define EVENTQ		0	/* device -> driver: input events */
#define STATUSQ		1	/* driver -> device: LEDs and the like */
#define QUEUE_SIZE	64
#define BACKLOG		1024	/* events read while the driver had no buffer */
#define TABLET_MAX	32767

enum kind { KEYBOARD, MOUSE, TABLET };

struct input {
	enum kind kind;
	uint8_t select, subsel;		/* what the driver asked to read */
	/* events waiting for a buffer, oldest first */
	struct virtio_input_event backlog[BACKLOG];
	unsigned int ev_first, nevents;
};

/* ---- config space: answers to select/subsel ---- */

static void set_bit(uint8_t *bitmap, unsigned int bit)
{
	bitmap[bit / 8] |= (uint8_t)(1U << (bit % 8));
}

/* The driver learns which event codes exist from these bitmaps */
static void ev_bits(enum kind kind, unsigned int type, uint8_t *bitmap)
{
	static const unsigned int buttons[] = { BTN_LEFT, BTN_RIGHT, BTN_MIDDLE };
	unsigned int i;

	switch (type) {
	case EV_KEY:
		if (kind == KEYBOARD) {
			for (i = KEY_ESC; i <= KEY_MICMUTE; i++)
				set_bit(bitmap, i);
		} else {
			for (i = 0; i < sizeof(buttons) / sizeof(buttons[0]); i++)
				set_bit(bitmap, buttons[i]);
		}
		break;
	case EV_REL:
		if (kind == MOUSE) {
			set_bit(bitmap, REL_X);
			set_bit(bitmap, REL_Y);
			set_bit(bitmap, REL_WHEEL);
		}
		break;
	case EV_ABS:
		if (kind == TABLET) {
			set_bit(bitmap, ABS_X);
			set_bit(bitmap, ABS_Y);
		}
		break;
	case EV_LED:
		if (kind == KEYBOARD) {
			set_bit(bitmap, LED_NUML);
			set_bit(bitmap, LED_CAPSL);
			set_bit(bitmap, LED_SCROLLL);
		}
		break;
	case EV_REP:		/* any bit: the kernel does key repeat */
		if (kind == KEYBOARD)
			set_bit(bitmap, REP_DELAY);
		break;
	}
}

/* Bytes up to the last non-zero one: how the spec sizes a bitmap */
static uint8_t bitmap_size(const uint8_t *bitmap, unsigned int len)
{
	while (len && !bitmap[len - 1])
		len--;
	return (uint8_t)len;
}

static uint8_t string_answer(char *dst, const char *s)
{
	strcpy(dst, s);
	return (uint8_t)strlen(s);
}

/* Fill c->u for what is selected; returns its size (0: nothing there) */
static uint8_t answer(const struct input *in, struct virtio_input_config *c)
{
	switch (in->select) {
	case VIRTIO_INPUT_CFG_ID_NAME:
		return string_answer(c->u.string, NAME);
	case VIRTIO_INPUT_CFG_ID_SERIAL:
		return string_answer(c->u.string, SERIAL);
	case VIRTIO_INPUT_CFG_ID_DEVIDS:
		c->u.ids.bustype = htole16(BUS_VIRTUAL);
		c->u.ids.vendor = htole16(0x1af4);
		c->u.ids.product = htole16(0x0100 + in->kind);
		c->u.ids.version = htole16(1);
		return sizeof(c->u.ids);
	case VIRTIO_INPUT_CFG_EV_BITS:
		ev_bits(in->kind, in->subsel, c->u.bitmap);
		return bitmap_size(c->u.bitmap, sizeof(c->u.bitmap));
	case VIRTIO_INPUT_CFG_ABS_INFO:
		if (in->kind != TABLET || (in->subsel != ABS_X && in->subsel != ABS_Y))
			return 0;
		c->u.abs.min = htole32(0);
		c->u.abs.max = htole32(TABLET_MAX);
		return sizeof(c->u.abs);
	default:		/* PROP_BITS and unknown selectors: empty */
		return 0;
	}
}

/*
 * The driver wrote select and/or subsel: put the answer in config space
 * now, since the driver reads "size" right after its write returns.
 */
static int config_write(struct vlb_dev *dev, uint32_t off, const void *data,
			uint32_t len)
{
	struct input *in = vlb_dev_opaque(dev);
	const uint8_t *bytes = data;
	struct virtio_input_config c;
	const uint32_t from = offsetof(struct virtio_input_config, size);
	uint32_t i;

	for (i = 0; i < len; i++) {
		if (off + i == offsetof(struct virtio_input_config, select))
			in->select = bytes[i];
		else if (off + i == offsetof(struct virtio_input_config, subsel))
			in->subsel = bytes[i];
	}
	memset(&c, 0, sizeof(c));
	c.size = answer(in, &c);
	return vlb_dev_set_config(dev, from, (uint8_t *)&c + from,
				  sizeof(c) - from, false);
}

/* ---- events ---- */

/*
 * Put backlogged events into buffers the driver posted; interrupt the
 * driver once.  When the ring runs dry first, the queue fd says when the
 * driver posts more.
 */
static void deliver(struct vlb_dev *dev)
{
	struct input *in = vlb_dev_opaque(dev);
	struct vlb_queue *q = vlb_dev_queue(dev, EVENTQ);
	struct virtio_input_event *ev;
	struct vlb_req *req;
	bool sent = false;

	while (in->nevents && vlb_queue_pop(q, &req) == 1) {
		if (vlb_req_in_size(req) < sizeof(*ev)) {
			vlb_req_complete(req, 0);	/* not an event buffer */
			continue;
		}
		ev = &in->backlog[in->ev_first];
		vlb_req_copy_to(req, 0, ev, sizeof(*ev));
		in->ev_first = (in->ev_first + 1) % BACKLOG;
		in->nevents--;
		vlb_req_complete_nonotify(req, sizeof(*ev));
		sent = true;
	}
	if (sent)
		vlb_queue_notify(q);
}

static void queue_event(struct vlb_dev *dev, uint16_t type, uint16_t code,
			int32_t value)
{
	struct input *in = vlb_dev_opaque(dev);

	if (in->nevents == BACKLOG) {
		fprintf(stderr, PROG ": %u events waiting for the driver, dropping one\n", BACKLOG);
		return;
	}
	in->backlog[(in->ev_first + in->nevents++) % BACKLOG] =
		(struct virtio_input_event){
			.type = htole16(type),
			.code = htole16(code),
			.value = htole32((uint32_t)value),
		};
}

/* What the driver sends back (keyboard LEDs): print it */
static void read_status(struct vlb_queue *q)
{
	struct virtio_input_event ev;
	struct vlb_req *req;

	while (vlb_queue_pop(q, &req) == 1) {
		if (vlb_req_copy_from(req, 0, &ev, sizeof(ev)) == sizeof(ev)) {
			printf("status %u %u %d\n", le16toh(ev.type),
			       le16toh(ev.code), (int32_t)le32toh(ev.value));
			fflush(stdout);
		}
		vlb_req_complete(req, 0);
	}
}

/* The driver went away: events for it are void */
static void reset(struct vlb_dev *dev)
{
	struct input *in = vlb_dev_opaque(dev);

	in->nevents = 0;
}

/* ---- the event source: lines of text ---- */

/* One number in [min, max] at *p; moves *p past it */
static bool parse_number(char **p, long min, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(*p, &end, 0);
	if (errno || end == *p || *out < min || *out > max)
		return false;
	*p = end;
	return true;
}

static bool parse_line(char *line, uint16_t *type, uint16_t *code, int32_t *value)
{
	long t, c, v;

	if (!parse_number(&line, 0, UINT16_MAX, &t) ||
	    !parse_number(&line, 0, UINT16_MAX, &c) ||
	    !parse_number(&line, INT32_MIN, INT32_MAX, &v))
		return false;
	if (line[strspn(line, " \t\r")] != '\0')
		return false;	/* trailing words */
	*type = (uint16_t)t;
	*code = (uint16_t)c;
	*value = (int32_t)v;
	return true;
}

struct line_reader {
	int fd;
	char buf[4096];
	size_t len;
	unsigned long lineno;
};

/* Read what is there; queue one event per complete line.  0 at end of input */
static int read_events(struct vlb_dev *dev, struct line_reader *r)
{
	ssize_t n = read(r->fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len);
	char *line, *nl;
	uint16_t type, code;
	int32_t value;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	if (n == 0 && r->len)		/* a last line without newline */
		r->buf[r->len++] = '\n';
	r->len += (size_t)n;
	line = r->buf;
	while ((nl = memchr(line, '\n', r->len - (size_t)(line - r->buf)))) {
		*nl = '\0';
		r->lineno++;
		line[strcspn(line, "#")] = '\0';
		if (line[strspn(line, " \t\r")] == '\0')
			;	/* blank or comment */
		else if (parse_line(line, &type, &code, &value))
			queue_event(dev, type, code, value);
		else
			fprintf(stderr, PROG ": line %lu: expected \"type code value\", skipped\n",
				r->lineno);
		line = nl + 1;
	}
	r->len -= (size_t)(line - r->buf);
	memmove(r->buf, line, r->len);
	if (r->len == sizeof(r->buf) - 1) {
		fprintf(stderr, PROG ": line %lu too long, skipped\n", ++r->lineno);
		r->len = 0;
	}
	deliver(dev);
	return n > 0;
}

/* ---- the program around it ---- */

static struct vlb_dev *dev;
static volatile sig_atomic_t stopping;
static bool lib_logged_error;	/* the library already said what went wrong */

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
	vlb_dev_stop(dev);	/* ends vlb_dev_wait_sysfs too */
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
		"Usage: " PROG " [--keyboard|--mouse|--tablet] [--events FILE|-]\n"
		"A virtio-input device served by this process through virtio_loopback.ko.\n"
		"Prints its /dev/input/eventN, then sends one event per line \"type code value\"\n"
		"read from FILE (default -, stdin), e.g. \"1 30 1\" then \"0 0 0\" presses A.\n"
		"Keyboard LED changes are printed as \"status type code value\".\n\n"
		"  -k, --keyboard     a keyboard with LEDs (default)\n"
		"  -m, --mouse        a mouse: buttons and relative X, Y, wheel\n"
		"  -t, --tablet       a tablet: buttons and absolute X, Y in 0..%d\n"
		"  -e, --events FILE  where the event lines come from\n"
		"  -h, --help         this text\n", TABLET_MAX);
}

static int parse_args(int argc, char **argv, enum kind *kind, const char **events)
{
	static const struct option opts[] = {
		{ "keyboard", no_argument, NULL, 'k' },
		{ "mouse", no_argument, NULL, 'm' },
		{ "tablet", no_argument, NULL, 't' },
		{ "events", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "kmte:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': *kind = KEYBOARD; break;
		case 'm': *kind = MOUSE; break;
		case 't': *kind = TABLET; break;
		case 'e': *events = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

/*
 * The main loop: the device, both queues and the event source; the event
 * queue only while events wait for buffers.  Signals are only let in while
 * ppoll waits, so a stop is never missed.
 */
static int serve(struct vlb_dev *d, int events_fd, const sigset_t *waitmask)
{
	struct input *in = vlb_dev_opaque(d);
	int eventq_fd = vlb_queue_fd(vlb_dev_queue(d, EVENTQ));
	struct line_reader reader = { .fd = events_fd };
	struct pollfd fds[4] = {
		{ .fd = vlb_dev_fd(d), .events = POLLIN },
		{ .fd = vlb_queue_fd(vlb_dev_queue(d, EVENTQ)), .events = POLLIN },
		{ .fd = vlb_queue_fd(vlb_dev_queue(d, STATUSQ)), .events = POLLIN },
		{ .fd = events_fd, .events = POLLIN },
	};
	int rc;

	while (!stopping) {
		fds[1].fd = in->nevents ? eventq_fd : -1;
		if (ppoll(fds, 4, NULL, waitmask) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (fds[0].revents && (rc = vlb_dev_dispatch(d)) < 0)
			return rc;
		if (fds[1].revents)
			deliver(d);
		if (fds[2].revents)
			read_status(vlb_dev_queue(d, STATUSQ));
		if (fds[3].revents) {
			rc = read_events(d, &reader);
			if (rc < 0) {
				fprintf(stderr, PROG ": cannot read events: %s\n", strerror(-rc));
				return rc;
			}
			if (rc == 0)
				fds[3].fd = -1;	/* end of input: keep serving */
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct vlb_dev_ops ops = {	/* no handle: it pulls */
		.reset = reset,
		.config_write = config_write,
	};
	static struct input in;		/* large backlog: not on the stack */
	struct sigaction sa = { .sa_handler = on_signal };
	struct virtio_input_config config = { 0 };
	struct vlb_dev_config cfg = {
		.size = sizeof(cfg),
		.device_id = VIRTIO_ID_INPUT,
		.num_queues = 2,
		.queue_size = QUEUE_SIZE,
		.config = &config,
		.config_size = sizeof(config),
		.ops = &ops,
		.ops_size = sizeof(ops),
		.opaque = &in,
	};
	const char *events = "-";
	sigset_t stop_sigs, waitmask;
	char name[64];
	int fd, rc;

	if (parse_args(argc, argv, &in.kind, &events))
		return 2;
	vlb_set_log_fn(log_line, NULL);
	fd = strcmp(events, "-") ? open(events, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
	if (fd < 0)
		return fail(events, errno, "");

	rc = vlb_dev_create(&cfg, &dev);
	if (rc < 0)
		return fail("cannot create the device", -rc, "");
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rc = vlb_dev_start(dev);
	if (rc == 0)
		rc = vlb_dev_wait_sysfs(dev, "input/input*[0-9]/event*", name,
					sizeof(name), 10000);
	if (rc == 0) {
		printf("/dev/input/%s\n", name);
		fflush(stdout);
		/* Block the stop signals except inside ppoll (see serve) */
		sigemptyset(&stop_sigs);
		sigaddset(&stop_sigs, SIGINT);
		sigaddset(&stop_sigs, SIGTERM);
		sigprocmask(SIG_BLOCK, &stop_sigs, &waitmask);
		rc = serve(dev, fd, &waitmask);
		if (rc == -ENODEV)
			fail("the kernel removed the device", ENODEV, " (see dmesg)");
	} else if (rc == -ETIMEDOUT) {
		/* An input device without an event node means: no evdev */
		bool input = vlb_dev_wait_sysfs(dev, "input/input*", name,
						sizeof(name), 0) == 0;

		fail("no /dev/input/event node appeared within 10 s", ETIMEDOUT,
		     input ? " (is evdev loaded? try: modprobe evdev)" :
			     " (is virtio_input loaded? try: modprobe virtio_input)");
	} else if (rc != -EINTR) {
		fail("serving the device failed", -rc, " (see dmesg)");
	}

	vlb_dev_destroy(dev);
	return rc == 0 || rc == -EINTR ? 0 : 1;
}

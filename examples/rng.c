// SPDX-License-Identifier: MIT
/*
 * rng: a virtio-rng device whose entropy comes from this process.
 *
 *   rng
 *
 * The kernel's virtio_rng driver binds to the device and registers it as a
 * hardware RNG ("virtio_rng.N" in /sys/class/misc/hw_random/rng_available);
 * when it is the current one, reading /dev/hwrng reads from here.  The
 * program prints virtioN once the driver is bound, then fills every buffer
 * the driver posts with getrandom(2) until SIGINT or SIGTERM.
 *
 * The smallest complete device: one queue, no config space, no features,
 * and a handler that only writes.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <linux/virtio_ids.h>

#include <vloopback/vloopback.h>

#define PROG	"rng"

/* Fill what the driver offers; the request says how much we wrote */
static void handle(struct vlb_queue *q, struct vlb_req *req)
{
	unsigned char buf[4096];
	size_t want = vlb_req_in_size(req);
	ssize_t n;

	(void)q;
	if (want > sizeof(buf))
		want = sizeof(buf);	/* a driver takes what it gets */
	/* Short reads only happen for huge buffers or on a signal */
	n = getrandom(buf, want, 0);
	vlb_req_complete(req, n > 0 ? (uint32_t)vlb_req_copy_to(req, 0, buf, (size_t)n) : 0);
}

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

int main(int argc, char **argv)
{
	static const struct vlb_dev_ops ops = { .handle = handle };
	struct sigaction sa = { .sa_handler = on_signal };
	struct vlb_dev_config cfg = {
		.size = sizeof(cfg),
		.device_id = VIRTIO_ID_RNG,
		.num_queues = 1,
		.queue_size = 64,
		.ops = &ops,
		.ops_size = sizeof(ops),
	};
	int rc;

	if (argc > 1) {
		bool help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;

		fprintf(help ? stdout : stderr,
			"Usage: " PROG "\n"
			"A virtio-rng device fed from getrandom(2), served by this process through\n"
			"virtio_loopback.ko.  Prints virtioN once the kernel's driver is bound, then\n"
			"serves until SIGINT/SIGTERM.  Read it with: cat /sys/class/misc/hw_random/rng_available\n"
			"and, once it is rng_current, head -c 32 /dev/hwrng | od -An -tx1\n");
		return help ? 0 : 2;
	}
	vlb_set_log_fn(log_line, NULL);

	rc = vlb_dev_create(&cfg, &dev);
	if (rc < 0)
		return fail("cannot create the device", -rc, "");
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rc = vlb_dev_start(dev);
	/* hwrng reads from the device during the probe: wait_sysfs serves it */
	if (rc == 0) {
		char name[16];

		rc = vlb_dev_wait_sysfs(dev, "driver", name, sizeof(name), 10000);
	}
	if (rc == 0) {
		printf("virtio%d\n", vlb_dev_virtio_index(dev));
		fflush(stdout);
		rc = vlb_dev_run(dev);
	} else if (rc == -ETIMEDOUT) {
		fail("no driver bound within 10 s", ETIMEDOUT,
		     " (is virtio_rng loaded? try: modprobe virtio_rng)");
	} else if (rc != -EINTR) {
		fail("serving the device failed", -rc, " (see dmesg)");
	}

	vlb_dev_destroy(dev);
	return rc == 0 || rc == -EINTR ? 0 : 1;
}

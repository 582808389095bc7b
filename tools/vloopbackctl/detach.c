// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * vloopbackctl detach: stop an attachment's adapter and wait until the
 * kernel device is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <vloopback/uapi.h>

#include "cli.h"

/* The adapter stops its back-end's rings first: a few exchanges */
#define TERM_WAIT_MS	20000
#define KILL_WAIT_MS	10000

static const char usage[] =
"Usage: vloopbackctl detach NAME\n"
"\n"
"Stop the adapter of attachment NAME and wait until the kernel device is\n"
"gone.  For a disk, its cached writes are flushed first; unmount it before.\n"
"Requests still in flight fail, as when a disk is unplugged.\n"
"Exit status: 0 detached; 4 not permitted; 6 no such attachment; 1 other.\n"
"\n"
"  -h, --help   this text\n";

static bool gone(const struct cli_state *s)
{
	return !state_alive(s) && !state_device_present(s);
}

static bool wait_gone(const struct cli_state *s, int ms)
{
	struct timespec tick = { 0, 50 * 1000 * 1000 };

	for (; ms > 0; ms -= 50) {
		if (gone(s))
			return true;
		nanosleep(&tick, NULL);
	}
	return gone(s);
}

/* Dirty pages of the block device reach the back-end before it goes */
static void flush_disk(const struct cli_state *s)
{
	int fd;

	if (strncmp(s->node, "/dev/", 5))
		return;
	fd = open(s->node, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fsync(fd) < 0)
		cli_error(0, "warning: detach %s: cannot flush %s: %s", s->name,
			  s->node, strerror(errno));
	close(fd);
}

static int stop_adapter(const struct cli_state *s)
{
	int rc = state_signal(s, SIGTERM);

	if (rc < 0 && rc != -ESRCH)
		return cli_error(rc == -EPERM ? EXIT_PERM : EXIT_FAIL,
				 "detach %s: cannot signal its adapter (pid %d): %s (run as its user or root)",
				 s->name, (int)s->pid, strerror(-rc));
	if (wait_gone(s, TERM_WAIT_MS))
		return 0;
	cli_error(0, "warning: detach %s: the adapter (pid %d) did not stop within %d s: killing it",
		  s->name, (int)s->pid, TERM_WAIT_MS / 1000);
	state_signal(s, SIGKILL);
	if (wait_gone(s, KILL_WAIT_MS))
		return 0;
	return cli_error(EXIT_FAIL, "detach %s: virtio%d is still there (see dmesg)",
			 s->name, s->virtio_index);
}

/*
 * The adapter died and the kernel keeps the device for a new one: take it
 * over and remove it on purpose, at once (its waiting requests fail).
 */
static int destroy_quiesced(const struct cli_state *s)
{
	struct vlb_recover r = { .size = sizeof(r), .index = (__u32)s->vlb_index };
	int ctl = open(VLB_DEVICE_NODE, O_RDWR | O_CLOEXEC), fd, err;

	if (ctl < 0)
		return cli_error(EXIT_FAIL, "detach %s: cannot open %s: %s", s->name,
				 VLB_DEVICE_NODE, strerror(errno));
	fd = ioctl(ctl, VLB_IOC_RECOVER, &r);
	err = errno;
	close(ctl);
	if (fd < 0)
		return cli_error(err == EPERM ? EXIT_PERM : EXIT_FAIL,
				 "detach %s: cannot take vloopback%d over to remove it: %s",
				 s->name, s->vlb_index, strerror(err));
	if (ioctl(fd, VLB_IOC_DESTROY) < 0)
		err = errno;
	else
		err = 0;
	close(fd);
	if (err)
		return cli_error(EXIT_FAIL, "detach %s: cannot remove vloopback%d: %s",
				 s->name, s->vlb_index, strerror(err));
	return wait_gone(s, KILL_WAIT_MS) ? 0 :
	       cli_error(EXIT_FAIL, "detach %s: virtio%d is still there (see dmesg)",
			 s->name, s->virtio_index);
}

int cmd_detach(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct cli_state s;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c != 'h')
			return cli_usage("detach", "unknown option");
		fputs(usage, stdout);
		return 0;
	}
	if (argc - optind != 1)
		return cli_usage("detach", "give one NAME");
	rc = state_read(argv[optind], &s);
	if (rc == -ENOENT)
		return cli_error(EXIT_NO_NAME, "detach %s: no such attachment (see: vloopbackctl list)",
				 argv[optind]);
	if (rc < 0)
		return cli_error(rc == -EACCES ? EXIT_PERM : EXIT_FAIL,
				 "detach %s: cannot read its state: %s", argv[optind],
				 strerror(-rc));
	if (state_quiesced(&s)) {
		rc = destroy_quiesced(&s);
		if (rc)
			return rc;
		state_remove(s.name, true);	/* kept for recover until now */
		return 0;
	}
	if (state_alive(&s)) {
		if (s.pid <= 0)
			return cli_error(EXIT_FAIL, "detach %s: it is still attaching (try again in a moment)",
					 s.name);
		flush_disk(&s);
		rc = stop_adapter(&s);
		if (rc)
			return rc;
	}
	/* What a killed adapter left; a new attachment of the name is kept */
	state_clean(s.name, true);
	return 0;
}

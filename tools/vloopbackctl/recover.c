// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * vloopbackctl recover: an attachment made with --reconnect whose adapter
 * died (kill -9, a crash, an upgrade) left its device quiesced: requests
 * wait, the disk keeps its name.  Run the saved attachment again on that
 * device: connect to the back-end, take the device over, carry on.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <vloopback/vloopback.h>

#include "cli.h"

static const char usage[] =
"Usage: vloopbackctl recover NAME [--foreground]\n"
"\n"
"Start a new adapter for attachment NAME, made with attach --reconnect,\n"
"whose adapter died: it reconnects to the same back-end socket and takes\n"
"over the device the kernel kept (quiesced), with every request still in\n"
"flight.  Prints the device, which keeps its name.\n"
"Exit status: 0 recovered; 5 back-end unreachable or refused; 6 no such\n"
"attachment; 1 other (the device is not quiesced, or the kernel refused).\n"
"\n"
"  -f, --foreground   keep serving in this process until SIGTERM or SIGINT\n"
"  -h, --help         this text\n";

static int recover(struct cli_state *s, bool foreground)
{
	struct vlb_adapter_config cfg = {
		.size = sizeof(cfg),
		.device_id = s->device_id,
		.socket_path = s->socket,
		.num_queues = (uint16_t)s->queues,
		.queue_size = (uint16_t)s->queue_size,
		.timeout_ms = s->timeout_ms,
		.tag = s->tag[0] ? s->tag : NULL,
		.reconnect_s = s->reconnect_s,
	};
	struct vlb_adapter *a;
	int rc;

	rc = vlb_adapter_recover(&cfg, (unsigned int)s->vlb_index, &a);
	if (rc < 0)
		return cli_report(-rc, -rc == ENOENT || -rc == ECONNREFUSED ||
				  -rc == ENOTSUP ? EXIT_BACKEND : EXIT_FAIL,
				  "recover");
	if (!foreground) {
		rc = serve_in_background(a, s);
		if (rc == 0)
			printf("%s\n", s->node);
		return rc;	/* the device is the child's now */
	}
	s->pid = getpid();
	rc = state_write(s);
	if (rc < 0) {
		vlb_adapter_destroy(a);
		return cli_error(EXIT_FAIL, "recover %s: cannot write its state: %s",
				 s->name, strerror(-rc));
	}
	printf("%s\n", s->node);
	fflush(stdout);
	cli_sd_notify("READY=1");
	return serve(a, s);
}

int recover_quiesced(const char *name, bool foreground)
{
	struct cli_state s;
	int lock_fd;

	if (state_read(name, &s) < 0 || !state_quiesced(&s))
		return -1;
	lock_fd = state_take_over(s.name);
	if (lock_fd < 0)
		return -1;	/* another adapter took it: attach says so */
	s.pid = 0;
	return recover(&s, foreground);
}

int cmd_recover(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool foreground = false, verbose = false;
	struct cli_state s;
	int c, rc, lock_fd;

	while ((c = getopt_long(argc, argv, "fvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': foreground = true; break;
		case 'v': verbose = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_usage("recover", "unknown option");
		}
	}
	if (argc - optind != 1)
		return cli_usage("recover", "give one NAME");
	cli_log_init(verbose);
	rc = state_read(argv[optind], &s);
	if (rc == -ENOENT)
		return cli_error(EXIT_NO_NAME, "recover %s: no such attachment (see: vloopbackctl list)",
				 argv[optind]);
	if (rc < 0)
		return cli_error(rc == -EACCES ? EXIT_PERM : EXIT_FAIL,
				 "recover %s: cannot read its state: %s", argv[optind],
				 strerror(-rc));
	if (state_alive(&s))
		return cli_error(EXIT_FAIL, "recover %s: its adapter runs (pid %d): nothing to recover",
				 s.name, (int)s.pid);
	if (!state_quiesced(&s))
		return cli_error(EXIT_FAIL, "recover %s: its device is not waiting for an adapter (attached without --reconnect, or its recovery time ran out: attach it again)",
				 s.name);
	lock_fd = state_take_over(s.name);
	if (lock_fd == -EEXIST)
		return cli_error(EXIT_FAIL, "recover %s: another adapter took it meanwhile", s.name);
	if (lock_fd < 0)
		return cli_error(EXIT_FAIL, "recover %s: cannot lock its entry: %s", s.name,
				 strerror(-lock_fd));
	/* lock_fd stays open, inherited by the background adapter */
	s.pid = 0;
	return recover(&s, foreground);
}

// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/* vloopbackctl list and status: what is attached, from the state files. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char list_usage[] =
"Usage: vloopbackctl list [--json]\n"
"\n"
"Show every attachment of this user (root's, or a group member's own): its\n"
"name, type, whether its adapter runs, what the device became, and the\n"
"back-end's socket.  Entries of adapters that were killed are removed.\n"
"\n"
"  -j, --json   one JSON array of objects (name, type, device_id, pid,\n"
"               running, socket, virtio_index, device_present, queues,\n"
"               quiesced, reconnecting, reconnect_s, node)\n"
"  -h, --help   this text\n";

static const char status_usage[] =
"Usage: vloopbackctl status NAME [--json]\n"
"\n"
"Show one attachment.  Exit status: 0 its adapter runs and the kernel has\n"
"the device; 1 it ended (its log may say why); 6 no such attachment.\n"
"\n"
"  -j, --json   one JSON object (see vloopbackctl list --help)\n"
"  -h, --help   this text\n";

/* --json and -h; the index of the first operand, or -1 after --help, or -EXIT_USAGE */
static int parse_json_opt(int argc, char **argv, const char *cmd,
			  const char *usage, bool *json)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	*json = false;
	while ((c = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		if (c == 'j') {
			*json = true;
		} else if (c == 'h') {
			fputs(usage, stdout);
			return -1;
		} else {
			return -cli_usage(cmd, "unknown option");
		}
	}
	return optind;
}

static const char *state_word(const struct cli_state *s)
{
	if (state_quiesced(s))
		return "quiesced";
	if (!state_alive(s))
		return "ended";
	if (s->pid <= 0)
		return "attaching";
	if (s->reconnecting)
		return "reconnecting";
	return state_device_present(s) ? "running" : "starting";
}

int cmd_list(int argc, char **argv)
{
	struct cli_state s;
	char **names;
	bool json;
	int i, n, shown = 0;

	i = parse_json_opt(argc, argv, "list", list_usage, &json);
	if (i < 0)
		return i == -1 ? 0 : -i;
	if (i < argc)
		return cli_usage("list", "unexpected argument '%s'", argv[i]);
	names = state_names(&n);
	if (json)
		putchar('[');
	else
		printf("%-12s %-8s %-8s %-16s %-9s %s\n", "NAME", "TYPE", "STATE",
		       "DEVICE", "VIRTIO", "SOCKET");
	for (i = 0; i < n; i++) {
		/* An adapter killed with -9 left its entry: remove it, not show it */
		if (state_clean(names[i], false) || state_read(names[i], &s) < 0)
			continue;	/* dead, or went away meanwhile */
		if (json) {
			if (shown++)
				putchar(',');
			state_print_json(&s);
		} else {
			printf("%-12s %-8s %-8s %-16s virtio%-3d %s\n", s.name, s.type,
			       state_word(&s), s.node, s.virtio_index, s.socket);
		}
	}
	if (json)
		puts("]");
	state_free_names(names, n);
	return 0;
}

int cmd_status(int argc, char **argv)
{
	struct cli_state s;
	char log[256];
	bool json;
	int i, rc;

	i = parse_json_opt(argc, argv, "status", status_usage, &json);
	if (i < 0)
		return i == -1 ? 0 : -i;
	if (argc - i != 1)
		return cli_usage("status", "give one NAME");
	rc = state_read(argv[i], &s);
	if (rc == -ENOENT)
		return cli_error(EXIT_NO_NAME, "status %s: no such attachment (see: vloopbackctl list)",
				 argv[i]);
	if (rc < 0)
		return cli_error(rc == -EACCES ? EXIT_PERM : EXIT_FAIL,
				 "status %s: cannot read its state: %s", argv[i], strerror(-rc));
	if (json) {
		state_print_json(&s);
		putchar('\n');
	} else {
		state_log_path(s.name, log, sizeof(log));
		printf("name:    %s\ntype:    %s (virtio device id %u)\n", s.name,
		       s.type, s.device_id);
		printf("state:   %s (adapter pid %d)\n", state_word(&s), (int)s.pid);
		printf("device:  %s (virtio%d%s)\nqueues:  %u\nsocket:  %s\nlog:     %s\n",
		       s.node, s.virtio_index,
		       state_device_present(&s) ? "" : ", gone", s.queues, s.socket, log);
	}
	return state_alive(&s) && state_device_present(&s) ? 0 : EXIT_FAIL;
}

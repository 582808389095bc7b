// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * vloopbackctl: attach vhost-user back-ends to this kernel as virtio
 * devices, and list, inspect and detach them.  One file per subcommand.
 */
#include <stdio.h>
#include <string.h>

#include <vloopback/vloopback.h>

#include "cli.h"

static const char usage[] =
"Usage: vloopbackctl COMMAND [OPTIONS]\n"
"\n"
"Attach vhost-user back-ends (qemu-storage-daemon, virtiofsd, ...) to this\n"
"kernel as virtio devices, through virtio_loopback.ko.\n"
"\n"
"Commands:\n"
"  attach --type TYPE --socket PATH   make the back-end's device a local device\n"
"  list [--json]                      show the attachments\n"
"  status NAME [--json]               show one attachment\n"
"  detach NAME                        remove an attachment's device\n"
"  recover NAME                       a new adapter for a quiesced attachment\n"
"\n"
"vloopbackctl COMMAND --help describes each; see also vloopbackctl(8).\n"
"  -h, --help      this text\n"
"  -V, --version   the version\n";

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "attach", cmd_attach },
	{ "list", cmd_list },
	{ "status", cmd_status },
	{ "detach", cmd_detach },
	{ "recover", cmd_recover },
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		return cli_usage("", "a command is required") ;
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		printf("vloopbackctl %s\n", VLB_VERSION_STRING);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	return cli_error(EXIT_USAGE, "unknown command '%s' (see: vloopbackctl --help)",
			 argv[1]);
}

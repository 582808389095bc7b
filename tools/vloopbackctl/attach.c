// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * vloopbackctl attach: make a vhost-user back-end's device a local kernel
 * device.  The adapter runs in this process until the device is up; then,
 * unless --foreground, a child carries on serving and the command returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vloopback/vloopback.h>

#include "cli.h"

/* Generous: a driver's probe under emulation takes seconds */
#define DRIVER_WAIT_MS	30000

struct attach_opts {
	const char *type;
	const char *socket;
	const char *name;
	const char *tag;
	unsigned char mac[6];	/* net: the interface's address, if mac_set */
	bool mac_set;
	unsigned long mtu;	/* net: the interface's MTU, if nonzero */
	unsigned long num_queues;
	unsigned long queue_size;
	unsigned long timeout_ms;
	unsigned long reconnect_s;
	bool foreground;
	bool verbose;
	bool json;
};

static const char usage[] =
"Usage: vloopbackctl attach --type TYPE --socket PATH [OPTIONS]\n"
"\n"
"Connect to the vhost-user back-end listening on PATH and make its device a\n"
"device of this kernel.  Prints what it became (/dev/vdX, an interface, the\n"
"virtio-fs tag, or virtioN) once the kernel's driver has it, and leaves the\n"
"adapter running in the background.\n"
"\n"
"  -t, --type TYPE       a type below, or a virtio device id (1-63)\n"
"  -s, --socket PATH     the back-end's unix socket\n"
"  -n, --name NAME       name of the attachment (default: TYPE0, TYPE1, ...)\n"
"      --num-queues N    queues (default: the type's; never more than the back-end's)\n"
"      --queue-size N    ring entries per queue, a power of two (default 256)\n"
"      --tag TAG         virtio-fs or 9p tag, for back-ends that do not give one\n"
"      --mac ADDR        net: the interface's MAC address (xx:xx:xx:xx:xx:xx)\n"
"      --mtu N           net: the interface's MTU\n"
"      --timeout MS      how long to wait for each answer of the back-end (default 5000)\n"
"      --reconnect[=S]   if the back-end goes, keep the device and reconnect for up\n"
"                        to S seconds (default 30); the adapter can be recovered too\n"
"  -f, --foreground      keep serving in this process until SIGTERM or SIGINT\n"
"                        (under systemd Type=notify: READY=1 once the device is up)\n"
"  -j, --json            print the attachment as a JSON object (see list --help)\n"
"  -v, --verbose         print what the adapter does\n"
"  -h, --help            this text\n"
"\n"
"Exit status: 0 attached; 2 usage; 3 module not loaded; 4 not permitted;\n"
"5 back-end unreachable or refused; 1 other failures.  See vloopbackctl(8).\n"
"\n"
"Types (virtio device id, the kernel's driver):\n";

/* The library's table of types, for --help */
static void print_types(void)
{
	const struct vlb_device_type *t;
	unsigned int i;

	for (i = 0; (t = vlb_device_type_at(i)); i++)
		printf("  %-8s %2u  %s\n", t->name, t->id, t->driver ? t->driver : "-");
}

/* "blk, fs, ..." from the library's table, for error messages */
static const char *type_names(void)
{
	static char buf[256];
	const struct vlb_device_type *t;
	size_t n = 0;
	unsigned int i;

	for (i = 0; (t = vlb_device_type_at(i)) && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? ", " : "",
				      t->name);
	return buf;
}

static int parse_number(const char *opt, const char *arg, unsigned long max,
			unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(arg, &end, 0);
	if (errno || *end || !*arg || *out == 0 || *out > max)
		return cli_usage("attach", "%s needs a number from 1 to %lu, not '%s'",
				 opt, max, arg);
	return 0;
}

static int parse_mac(const char *arg, struct attach_opts *o)
{
	unsigned char *m = o->mac;
	int n = -1;

	sscanf(arg, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx%n",
	       &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &n);
	/* a unicast address: the multicast bit of the first octet clear */
	if (n != 17 || arg[n] || (m[0] & 1))
		return cli_usage("attach", "--mac needs a unicast address xx:xx:xx:xx:xx:xx, not '%s'",
				 arg);
	o->mac_set = true;
	return 0;
}

static int parse_opts(int argc, char **argv, struct attach_opts *o)
{
	static const struct option longopts[] = {
		{ "type", required_argument, NULL, 't' },
		{ "socket", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "num-queues", required_argument, NULL, 'Q' },
		{ "queue-size", required_argument, NULL, 'S' },
		{ "tag", required_argument, NULL, 'T' },
		{ "mac", required_argument, NULL, 'M' },
		{ "mtu", required_argument, NULL, 'U' },
		{ "timeout", required_argument, NULL, 'W' },
		{ "reconnect", optional_argument, NULL, 'R' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c, rc = 0;

	memset(o, 0, sizeof(*o));
	while (rc == 0 && (c = getopt_long(argc, argv, "t:s:n:fjvh", longopts, NULL)) != -1) {
		switch (c) {
		case 't': o->type = optarg; break;
		case 's': o->socket = optarg; break;
		case 'n': o->name = optarg; break;
		case 'T': o->tag = optarg; break;
		case 'M': rc = parse_mac(optarg, o); break;
		case 'U': rc = parse_number("--mtu", optarg, 65535, &o->mtu); break;
		case 'f': o->foreground = true; break;
		case 'j': o->json = true; break;
		case 'v': o->verbose = true; break;
		case 'Q': rc = parse_number("--num-queues", optarg, VLB_MAX_QUEUES, &o->num_queues); break;
		case 'S': rc = parse_number("--queue-size", optarg, VLB_MAX_QUEUE_SIZE, &o->queue_size); break;
		case 'W': rc = parse_number("--timeout", optarg, 600000, &o->timeout_ms); break;
		case 'R':
			o->reconnect_s = 30;
			if (optarg)
				rc = parse_number("--reconnect", optarg, 86400, &o->reconnect_s);
			break;
		case 'h': fputs(usage, stdout); print_types(); return -1;
		default: return cli_usage("attach", "unknown option");
		}
	}
	if (rc)
		return rc;
	if (optind < argc)
		return cli_usage("attach", "unexpected argument '%s'", argv[optind]);
	if (!o->type || !o->socket)
		return cli_usage("attach", "--type and --socket are required");
	if ((o->mac_set || o->mtu) && vlb_adapter_type_id(o->type) >= 0 &&
	    vlb_adapter_type_id(o->type) != 1)
		return cli_usage("attach", "--mac and --mtu are for --type net");
	if (o->name && !state_name_valid(o->name))
		return cli_usage("attach", "a name is 1 to %d letters, digits, '-' or '_', not '%s'",
				 NAME_MAX_LEN, o->name);
	return 0;
}

/*
 * Take the attachment's name: its entry is created exclusively and locked
 * now, before the (long) attach, so two attaches never get the same name.
 * Returns the lock's fd, held until the adapter ends, or -exit code.
 */
static int reserve_name(const struct attach_opts *o, uint32_t id, char *name)
{
	const char *type = vlb_adapter_type_name(id);
	char base[NAME_MAX_LEN - 3];
	int fd;

	if (o->name) {
		snprintf(name, NAME_MAX_LEN + 1, "%s", o->name);
		fd = state_reserve(name);
		if (fd == -EEXIST)
			return -cli_error(EXIT_FAIL, "attach %s: an attachment of that name runs (detach it first, or choose another --name)",
					  o->name);
	} else {
		if (type)
			snprintf(base, sizeof(base), "%s", type);
		else
			snprintf(base, sizeof(base), "virtio%u-", id);
		fd = state_reserve_next(base, name, NAME_MAX_LEN + 1);
		if (fd == -ENOSPC)
			return -cli_error(EXIT_FAIL, "attach: no free name (detach some, or give --name)");
	}
	if (fd < 0)
		return -cli_error(fd == -EACCES ? EXIT_PERM : EXIT_FAIL,
				  "attach: cannot create the entry of %s in %s: %s",
				  name, state_dir(), strerror(-fd));
	return fd;
}

static int check_module(void)
{
	struct vlb_module_info info;
	int rc = vlb_module_query(&info, sizeof(info));

	if (rc == 0)
		return 0;
	if (rc == -ENOENT || rc == -ENODEV || rc == -ENXIO)
		return cli_report(-rc, EXIT_NO_MODULE, "attach");
	return cli_report(-rc, EXIT_FAIL, "attach");
}

/*
 * --mac, --mtu: set on the interface as "ip link set" would.  The back-end
 * (dpdk's vhost PMD...) serves no config space, so the device cannot
 * announce them; the interface is still down, nobody uses it yet.
 */
static int net_configure(const struct attach_opts *o, const char *name,
			 const char *ifname)
{
	struct ifreq ifr;
	int fd, rc = 0;

	if (!o->mac_set && !o->mtu)
		return 0;
	/* the kernel names interfaces within IFNAMSIZ: longer is not one */
	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return cli_error(EXIT_FAIL, "attach %s: interface name '%s' is too long",
				 name, ifname);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cli_error(EXIT_FAIL, "attach %s: socket: %s", name, strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, ifname, strlen(ifname) + 1);
	if (o->mac_set) {
		ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
		memcpy(ifr.ifr_hwaddr.sa_data, o->mac, sizeof(o->mac));
		if (ioctl(fd, SIOCSIFHWADDR, &ifr) < 0)
			rc = cli_error(EXIT_FAIL, "attach %s: cannot set the MAC address of %s: %s",
				       name, ifname, strerror(errno));
	}
	if (rc == 0 && o->mtu) {
		ifr.ifr_mtu = (int)o->mtu;
		if (ioctl(fd, SIOCSIFMTU, &ifr) < 0)
			rc = cli_error(EXIT_FAIL, "attach %s: cannot set the MTU of %s to %lu: %s (68 to the driver's maximum)",
				       name, ifname, o->mtu, strerror(errno));
	}
	close(fd);
	return rc;
}

/* What the device became, once the kernel's driver has it */
static int wait_for_driver(struct vlb_adapter *a, const struct attach_opts *o,
			   const char *name, struct cli_state *s)
{
	const struct vlb_device_type *t = vlb_device_type_of(vlb_adapter_device_id(a));
	const char *sysfs = t ? t->sysfs : "driver";
	const char *driver = t ? t->driver : NULL;
	char found[48];	/* vdX, an interface name: short */
	int rc;

	rc = vlb_adapter_wait_sysfs(a, sysfs, found, sizeof(found), DRIVER_WAIT_MS);
	/* A failed adapter's error may be -ETIMEDOUT too: the back-end's */
	if (rc == -ETIMEDOUT && vlb_adapter_dispatch(a) < 0)
		return cli_report(-vlb_adapter_dispatch(a), EXIT_FAIL, "attach");
	if (rc == -ETIMEDOUT && driver)
		return cli_error(EXIT_FAIL, "attach %s: no driver took virtio%d within %d s (is %s loaded? try: modprobe %s)",
				 name, vlb_adapter_virtio_index(a), DRIVER_WAIT_MS / 1000,
				 driver, driver);
	if (rc == -ETIMEDOUT)
		return cli_error(EXIT_FAIL, "attach %s: no driver took virtio%d within %d s (does this kernel have a driver for virtio device type %u?)",
				 name, vlb_adapter_virtio_index(a), DRIVER_WAIT_MS / 1000,
				 vlb_adapter_device_id(a));
	if (rc < 0)
		return cli_report(-rc, EXIT_FAIL, "attach: waiting for the kernel's driver");
	s->virtio_index = vlb_adapter_virtio_index(a);
	if (!strncmp(sysfs, "block/", 6))
		snprintf(s->node, sizeof(s->node), "/dev/%s", found);
	else if (!strncmp(sysfs, "net/", 4)) {
		snprintf(s->node, sizeof(s->node), "%s", found);
		rc = net_configure(o, name, found);
		if (rc)
			return rc;
	}
	else if (o->tag)
		snprintf(s->node, sizeof(s->node), "%s", o->tag);
	else
		snprintf(s->node, sizeof(s->node), "virtio%d", s->virtio_index);
	return 0;
}

/* Set by SIGTERM/SIGINT (detach) or SIGUSR1 (leave the device quiesced) */
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* The entry says whether the adapter waits for its back-end, as it changes */
static void publish_reconnecting(struct vlb_adapter *a, struct cli_state *s)
{
	bool now = vlb_adapter_reconnecting(a) == 1;
	int rc;

	if (now == s->reconnecting)
		return;
	s->reconnecting = now;
	rc = state_write(s);
	if (rc < 0)
		cli_error(0, "warning: %s: cannot update its entry: %s", s->name,
			  strerror(-rc));
}

/*
 * vlb_adapter_run(), with the entry kept up to date after each dispatch
 * (the reconnect timer ticks in the adapter's fd).  Signals are blocked but
 * in ppoll, so one arriving between the check and the wait is not lost.
 * 0 once a signal stopped it, or the adapter's failure.
 */
static int serve_loop(struct vlb_adapter *a, struct cli_state *s,
		      const sigset_t *waitmask)
{
	struct pollfd p = { .fd = vlb_adapter_fd(a), .events = POLLIN };
	int rc;

	while (!stop_signal) {
		rc = ppoll(&p, 1, NULL, waitmask);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc > 0 && (rc = vlb_adapter_dispatch(a)) < 0)
			return rc;
		publish_reconnecting(a, s);
	}
	return 0;
}

/*
 * Serve until stopped or failed.  SIGTERM, SIGINT: the device is removed
 * and the attachment gone.  SIGUSR1 with --reconnect: the adapter leaves
 * without removing it; the kernel quiesces it and keeps the entry for the
 * next "attach --name" or "recover" (a restart of the service).
 */
int serve(struct vlb_adapter *a, struct cli_state *s)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, waitmask;
	int rc;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGUSR1);
	rc = serve_loop(a, s, &waitmask);
	cli_sd_notify("STOPPING=1");
	if (rc == 0 && stop_signal == SIGUSR1 && s->reconnect_s) {
		/* exit closes the device's fd without a destroy: quiesced */
		fprintf(stderr, "vloopbackctl: %s: leaving %s quiesced for the next adapter\n",
			s->name, s->node);
		return 0;
	}
	vlb_adapter_destroy(a);
	/* After a failure the log stays: it says why */
	state_remove(s->name, rc == 0);
	return rc == 0 ? 0 : cli_report(-rc, EXIT_FAIL, "adapter");
}

/* Fork; the child serves, the parent returns once the child's state is written */
int serve_in_background(struct vlb_adapter *a, struct cli_state *s)
{
	char log[256], ok;
	int pipefd[2], fd;
	pid_t pid;

	state_log_path(s->name, log, sizeof(log));
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return cli_error(EXIT_FAIL, "attach %s: pipe: %s", s->name, strerror(errno));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return cli_error(EXIT_FAIL, "attach %s: fork: %s", s->name, strerror(errno));
	if (pid > 0) {
		close(pipefd[1]);
		if (read(pipefd[0], &ok, 1) != 1)
			return cli_error(EXIT_FAIL, "attach %s: the adapter ended at once (see %s)",
					 s->name, log);
		s->pid = pid;
		return 0;
	}
	close(pipefd[0]);
	setsid();
	/* A daemon keeps no directory busy (an unmount of the caller's cwd) */
	if (chdir("/") < 0)
		_exit(EXIT_FAIL);
	fd = open("/dev/null", O_RDWR);
	dup2(fd, 0);
	dup2(fd, 1);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd >= 0)
		dup2(fd, 2);
	cli_log_direct();
	s->pid = getpid();
	if (state_write(s) < 0)
		_exit(cli_error(EXIT_FAIL, "cannot write the state of %s", s->name));
	fprintf(stderr, "vloopbackctl: %s: serving %s (virtio%d) for %s, pid %d\n",
		s->name, s->node, s->virtio_index, s->socket, (int)s->pid);
	if (write(pipefd[1], "", 1) != 1)
		_exit(EXIT_FAIL);
	close(pipefd[1]);
	_exit(serve(a, s));
}

static void print_attached(const struct attach_opts *o, const struct cli_state *s)
{
	if (o->json) {
		state_print_json(s);
		putchar('\n');
	} else {
		printf("%s\n", s->node);
	}
}

static int attach(const struct attach_opts *o, uint32_t id, const char *name)
{
	struct vlb_adapter_config cfg = {
		.size = sizeof(cfg),
		.device_id = id,
		.socket_path = o->socket,
		.num_queues = o->num_queues,
		.queue_size = o->queue_size,
		.timeout_ms = o->timeout_ms,
		.tag = o->tag,
		.reconnect_s = (uint32_t)o->reconnect_s,
	};
	struct cli_state s = { .virtio_index = -1, .device_id = id,
			       .reconnect_s = (unsigned int)o->reconnect_s,
			       .queue_size = (unsigned int)o->queue_size,
			       .timeout_ms = (unsigned int)o->timeout_ms };
	struct vlb_adapter *a;
	char ready[256];
	int rc;

	rc = vlb_adapter_create(&cfg, &a);
	if (rc < 0)
		return cli_report(-rc, -rc == ENOENT ? EXIT_BACKEND : EXIT_FAIL, "attach");
	rc = vlb_adapter_start(a);
	if (rc == 0)
		rc = wait_for_driver(a, o, name, &s);
	else
		rc = cli_report(-rc, EXIT_FAIL, "attach");
	if (rc) {
		vlb_adapter_destroy(a);
		return rc;
	}
	snprintf(s.name, sizeof(s.name), "%s", name);
	snprintf(s.type, sizeof(s.type), "%s", o->type);
	snprintf(s.socket, sizeof(s.socket), "%s", o->socket);
	s.queues = vlb_adapter_num_queues(a);
	s.vlb_index = vlb_adapter_index(a);
	if (o->tag)
		snprintf(s.tag, sizeof(s.tag), "%s", o->tag);
	if (!o->foreground) {
		rc = serve_in_background(a, &s);
		if (rc == 0)
			print_attached(o, &s);
		return rc;	/* the device is the child's now: no destroy */
	}
	s.pid = getpid();
	rc = state_write(&s);
	if (rc < 0) {
		vlb_adapter_destroy(a);
		return cli_error(EXIT_FAIL, "cannot write %s/%s: %s", state_dir(), name,
				 strerror(-rc));
	}
	print_attached(o, &s);
	fflush(stdout);
	/* systemd Type=notify: started means the device node exists */
	snprintf(ready, sizeof(ready), "READY=1\nSTATUS=serving %s (virtio%d) for %s\nMAINPID=%d",
		 s.node, s.virtio_index, s.socket, (int)s.pid);
	cli_sd_notify(ready);
	return serve(a, &s);
}

int cmd_attach(int argc, char **argv)
{
	struct attach_opts o;
	char name[NAME_MAX_LEN + 1];
	int id, rc, lock_fd;

	rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc < 0 ? 0 : rc;	/* -1: --help */
	id = vlb_adapter_type_id(o.type);
	if (id < 0)
		return cli_usage("attach", "unknown device type '%s': use %s, or a number 1-63",
				 o.type, type_names());
	cli_log_init(o.verbose);
	rc = check_module();
	if (rc)
		return rc;
	rc = state_dir_create();
	if (rc < 0)
		return cli_error(rc == -EACCES || rc == -EPERM ? EXIT_PERM : EXIT_FAIL,
				 "cannot use %s: %s (%s)", state_dir(), strerror(-rc),
				 rc == -EPERM ? "it is not this user's directory: remove it" :
				 geteuid() == 0 ? "is /run writable?" :
				 "set XDG_RUNTIME_DIR to a directory of yours, as a login session does");
	/* The same attachment, its adapter dead: carry on with its device */
	if (o.name && (rc = recover_quiesced(o.name, o.foreground)) >= 0)
		return rc;
	lock_fd = reserve_name(&o, id, name);
	if (lock_fd < 0)
		return -lock_fd;
	/* lock_fd stays open (and is inherited by the background adapter) */
	rc = attach(&o, id, name);
	if (rc)
		state_remove(name, false);	/* still ours: the lock is held */
	return rc;
}

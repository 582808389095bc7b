// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * vloopbackctl's attachment entries (tools/vloopbackctl/state.c) and its
 * sd_notify (notify.c), with real processes in a private state directory:
 * names taken concurrently never collide, a live attachment's name is
 * refused, a killed adapter's entry is dead and cleaned, a pid reused after
 * the adapter died is never signalled, each user has a directory, and
 * READY=1 reaches $NOTIFY_SOCKET (a path or an abstract name).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli.h"

static char dir[] = "/tmp/vlb-test-cli-XXXXXX";

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	setenv("VLB_STATE_DIR", dir, 1);
	return state_dir_create();
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/*
 * A child that takes a name like an attach does, writes its entry, reports
 * the name on fd out, then holds the name until killed.
 */
static pid_t holder(const char *base, const char *fixed, int out)
{
	pid_t pid = fork();
	struct cli_state s = { .virtio_index = -1 };
	int fd;

	if (pid != 0)
		return pid;
	if (fixed) {
		snprintf(s.name, sizeof(s.name), "%s", fixed);
		fd = state_reserve(fixed);
	} else {
		fd = state_reserve_next(base, s.name, sizeof(s.name));
	}
	if (fd < 0) {
		dprintf(out, "error %d\n", fd);
		_exit(1);
	}
	s.pid = getpid();
	snprintf(s.type, sizeof(s.type), "blk");
	if (state_write(&s) < 0)
		_exit(1);
	dprintf(out, "%s\n", s.name);
	for (;;)
		pause();
}

static void read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len && read(fd, buf + n, 1) == 1 && buf[n] != '\n')
		n++;
	buf[n] = '\0';
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

#define N 8

static void test_concurrent_attaches_get_different_names(void **state)
{
	char names[N][64];
	pid_t pids[N];
	int p[2], i, j, n;
	char **listed;

	(void)state;
	assert_int_equal(pipe(p), 0);
	for (i = 0; i < N; i++)
		pids[i] = holder("blk", NULL, p[1]);
	for (i = 0; i < N; i++)
		read_line(p[0], names[i], sizeof(names[i]));
	for (i = 0; i < N; i++) {
		assert_int_equal(strncmp(names[i], "blk", 3), 0);
		for (j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
	listed = state_names(&n);
	assert_int_equal(n, N);
	state_free_names(listed, n);
	for (i = 0; i < N; i++)
		reap(pids[i]);
	for (i = 0; i < N; i++)
		assert_true(state_clean(names[i], true));	/* all dead now */
	close(p[0]);
	close(p[1]);
}

static void test_live_name_is_refused_dead_one_is_reused(void **state)
{
	struct cli_state s;
	char name[64];
	int p[2], fd, n;
	pid_t pid;
	char **listed;

	(void)state;
	assert_int_equal(pipe(p), 0);
	pid = holder(NULL, "disk", p[1]);
	read_line(p[0], name, sizeof(name));
	assert_string_equal(name, "disk");
	assert_int_equal(state_reserve("disk"), -EEXIST);
	assert_int_equal(state_read("disk", &s), 0);
	assert_true(state_alive(&s));
	assert_int_equal(s.pid, pid);
	assert_false(state_clean("disk", false));	/* alive: kept */

	reap(pid);		/* kill -9: no chance to clean up */
	assert_false(state_alive(&s));
	assert_true(state_clean("disk", false));	/* what list does */
	assert_int_equal(state_read("disk", &s), -ENOENT);
	listed = state_names(&n);
	assert_int_equal(n, 0);
	state_free_names(listed, n);

	pid = holder(NULL, "disk", p[1]);
	read_line(p[0], name, sizeof(name));
	reap(pid);				/* dead again, not cleaned */
	fd = state_reserve("disk");		/* a new attach takes it over */
	assert_true(fd >= 0);
	state_remove("disk", true);
	close(fd);
	close(p[0]);
	close(p[1]);
}

/* What `recover` runs the attachment again with survives the adapter */
static void test_recovery_fields_round_trip_and_take_over_keeps_them(void **state)
{
	struct cli_state s = { .virtio_index = 3, .vlb_index = 5, .reconnect_s = 30,
			       .queue_size = 128, .timeout_ms = 2000, .queues = 2,
			       .device_id = 2 }, r;
	int fd;

	(void)state;
	snprintf(s.name, sizeof(s.name), "rdisk");
	snprintf(s.type, sizeof(s.type), "blk");
	snprintf(s.socket, sizeof(s.socket), "/tmp/rec.sock");
	snprintf(s.node, sizeof(s.node), "/dev/vda");
	snprintf(s.tag, sizeof(s.tag), "t");
	fd = state_reserve("rdisk");
	assert_true(fd >= 0);
	assert_int_equal(state_write(&s), 0);
	assert_int_equal(state_read("rdisk", &r), 0);
	assert_int_equal(r.vlb_index, 5);
	assert_int_equal(r.reconnect_s, 30);
	assert_int_equal(r.queue_size, 128);
	assert_int_equal(r.timeout_ms, 2000);
	assert_int_equal(r.queues, 2);
	assert_string_equal(r.tag, "t");
	assert_false(r.reconnecting);
	/* no such vloopback device here: not quiesced, whatever the entry says */
	assert_false(state_quiesced(&r));
	assert_int_equal(state_take_over("rdisk"), -EEXIST);	/* held */
	close(fd);					/* the adapter died */
	fd = state_take_over("rdisk");
	assert_true(fd >= 0);
	assert_int_equal(state_read("rdisk", &r), 0);		/* data kept */
	assert_string_equal(r.node, "/dev/vda");
	state_remove("rdisk", true);
	close(fd);
	/* an older entry without the fields: unknown index */
	assert_int_equal(state_read("nosuch", &r), -ENOENT);
	assert_int_equal(r.vlb_index, -1);
}

static void test_reused_pid_is_never_signalled(void **state)
{
	struct cli_state s;
	char name[64];
	int p[2], status;
	pid_t pid, other;

	(void)state;
	assert_int_equal(pipe(p), 0);
	pid = holder(NULL, "vdx", p[1]);
	read_line(p[0], name, sizeof(name));
	assert_int_equal(state_read("vdx", &s), 0);
	reap(pid);

	/* Another process, even one named like the adapter, got "its" pid */
	other = fork();
	if (other == 0) {
		prctl(PR_SET_NAME, "vloopbackctl");
		for (;;)
			pause();
	}
	s.pid = other;
	usleep(10000);
	assert_int_equal(state_signal(&s, SIGTERM), -ESRCH);
	usleep(10000);
	assert_int_equal(waitpid(other, &status, WNOHANG), 0);	/* still alive */
	reap(other);

	/* The live adapter is signalled */
	pid = holder(NULL, "vdy", p[1]);
	read_line(p[0], name, sizeof(name));
	assert_int_equal(state_read("vdy", &s), 0);
	assert_int_equal(state_signal(&s, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	assert_true(state_clean("vdy", true));
	close(p[0]);
	close(p[1]);
}

static void test_state_directory_per_user(void **state)
{
	(void)state;
	assert_string_equal(state_dir_for(0, NULL, "/run/user/0"), "/run/vloopback");
	assert_string_equal(state_dir_for(1000, NULL, "/run/user/1000"),
			    "/run/user/1000/vloopback");
	assert_string_equal(state_dir_for(1000, NULL, NULL), "/run/user/1000/vloopback");
	assert_string_equal(state_dir_for(1000, NULL, "relative"),
			    "/run/user/1000/vloopback");
	assert_string_equal(state_dir_for(1000, "/x/y", "/run/user/1000"), "/x/y");
	state_dir_for(0, dir, NULL);	/* back to the tests' */
}

static void expect_notify(const char *env, const struct sockaddr_un *sa,
			  socklen_t len)
{
	char buf[128];
	ssize_t n;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (const struct sockaddr *)sa, len), 0);
	setenv("NOTIFY_SOCKET", env, 1);
	assert_int_equal(cli_sd_notify("READY=1\nSTATUS=serving /dev/vdb"), 1);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "READY=1\nSTATUS=serving /dev/vdb");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

static void test_sd_notify_reaches_notify_socket(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char env[108];

	(void)state;
	assert_int_equal(cli_sd_notify("READY=1"), 0);	/* not under systemd */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
	expect_notify(sa.sun_path, &sa, sizeof(sa));

	snprintf(env, sizeof(env), "@vlb-test-notify-%d", (int)getpid());
	memset(sa.sun_path, 0, sizeof(sa.sun_path));
	memcpy(sa.sun_path + 1, env + 1, strlen(env) - 1);
	expect_notify(env, &sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
					    strlen(env)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_attaches_get_different_names),
		cmocka_unit_test(test_live_name_is_refused_dead_one_is_reused),
		cmocka_unit_test(test_reused_pid_is_never_signalled),
		cmocka_unit_test(test_recovery_fields_round_trip_and_take_over_keeps_them),
		cmocka_unit_test(test_state_directory_per_user),
		cmocka_unit_test(test_sd_notify_reaches_notify_socket),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

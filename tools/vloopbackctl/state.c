// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * What vloopbackctl remembers of an attachment, in the state directory
 * (/run/vloopback for root, $XDG_RUNTIME_DIR/vloopback for anyone else):
 *
 *   NAME.lock   created exclusively when the name is taken, and held
 *               locked (flock) by the adapter process for its whole life:
 *               the lock, not a pid, says the attachment is alive
 *   NAME        "key=value" lines, written (by rename) once the device is up
 *   NAME.log    the log of a background adapter
 *   .lock       the directory's lock, held briefly while a name is taken or
 *               a dead attachment's files are removed, so those never race
 *
 * An attachment whose NAME.lock is not locked is dead (its adapter was
 * killed with -9): list, status, detach and attach remove its files.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli.h"

bool state_name_valid(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > NAME_MAX_LEN)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_')
			return false;
	return true;
}

static char dir_buf[256];

const char *state_dir_for(uid_t uid, const char *override, const char *runtime)
{
	if (override && *override == '/')
		snprintf(dir_buf, sizeof(dir_buf), "%s", override);
	else if (uid == 0)
		snprintf(dir_buf, sizeof(dir_buf), "%s", STATE_DIR);
	else if (runtime && *runtime == '/')
		snprintf(dir_buf, sizeof(dir_buf), "%s/vloopback", runtime);
	else
		snprintf(dir_buf, sizeof(dir_buf), "/run/user/%u/vloopback",
			 (unsigned int)uid);
	return dir_buf;
}

const char *state_dir(void)
{
	if (!dir_buf[0])
		/* secure_getenv: a set-user-id vloopbackctl ignores them */
		state_dir_for(geteuid(), secure_getenv("VLB_STATE_DIR"),
			      secure_getenv("XDG_RUNTIME_DIR"));
	return dir_buf;
}

int state_dir_create(void)
{
	struct stat st;

	/* Another user's attachments are none of ours: private unless root's */
	if (mkdir(state_dir(), geteuid() == 0 ? 0755 : 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(state_dir(), &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return -EPERM;	/* not ours: someone planted it */
	return 0;
}

static void state_path(const char *name, const char *suffix, char *buf,
		       size_t len)
{
	snprintf(buf, len, "%s/%s%s", state_dir(), name, suffix);
}

void state_log_path(const char *name, char *buf, size_t len)
{
	state_path(name, ".log", buf, len);
}

/* The directory's lock: an fd to close, or -errno */
static int dir_lock(void)
{
	char path[300];
	int fd;

	state_path(".lock", "", path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return -errno;
		}
	return fd;
}

/* 1 if NAME.lock is held by a live adapter, 0 if not (or missing) */
static int lock_held(const char *name)
{
	char path[300];
	int fd, held;

	state_path(name, ".lock", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	held = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

static void unlink_entry(const char *name, bool with_log)
{
	char path[300];

	state_path(name, "", path, sizeof(path));
	unlink(path);
	state_path(name, ".lock", path, sizeof(path));
	unlink(path);
	if (with_log) {
		state_log_path(name, path, sizeof(path));
		unlink(path);
	}
}

static void parse_line(struct cli_state *s, const char *key, const char *v);
static void copy(char *dst, size_t len, const char *src);

/*
 * A dead adapter's recoverable device that the kernel still has: quiesced,
 * or about to be (the adapter's lock goes with the process, a moment before
 * the kernel has quiesced the device).
 */
static bool state_kept(const struct cli_state *s)
{
	char word[32];
	const char *w = state_kernel_word(s, word, sizeof(word));

	return s->reconnect_s && w && strcmp(w, "failed") != 0;
}

/*
 * NAME's adapter is dead but the kernel keeps its device for a new one
 * (vloopbackctl recover): the entry is not free, and not to be cleaned.
 */
static bool quiesced_name(const char *name)
{
	struct cli_state s;
	char path[300], line[512], *eq;
	FILE *f;

	memset(&s, 0, sizeof(s));
	s.vlb_index = -1;
	copy(s.name, sizeof(s.name), name);
	state_path(name, "", path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		eq = strchr(line, '=');
		if (eq) {
			*eq = '\0';
			parse_line(&s, line, eq + 1);
		}
	}
	fclose(f);
	return state_kept(&s);
}

/* Under the directory lock: NAME is free, or was a dead attachment (removed) */
static bool free_locked(const char *name)
{
	char path[300];

	if (lock_held(name) || quiesced_name(name))
		return false;
	state_path(name, ".lock", path, sizeof(path));
	if (access(path, F_OK) == 0) {
		unlink_entry(name, false);	/* dead: its log may say why */
		return true;
	}
	state_path(name, "", path, sizeof(path));
	unlink(path);		/* a data file without its lock: dead too */
	return true;
}

/* Under the directory lock: create NAME.lock and lock it; the fd or -errno */
static int take_locked(const char *name)
{
	char path[300];
	int fd;

	state_path(name, ".lock", path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int rc = -errno;

		close(fd);
		unlink(path);
		return rc;
	}
	return fd;
}

int state_reserve(const char *name)
{
	int dfd = dir_lock(), fd;

	if (dfd < 0)
		return dfd;
	fd = free_locked(name) ? take_locked(name) : -EEXIST;
	close(dfd);
	return fd;
}

int state_reserve_next(const char *base, char *name, size_t len)
{
	int dfd = dir_lock(), fd = -ENOSPC, i;

	if (dfd < 0)
		return dfd;
	for (i = 0; i < 1000; i++) {
		snprintf(name, len, "%s%d", base, i);
		if (free_locked(name)) {
			fd = take_locked(name);
			break;
		}
	}
	close(dfd);
	return fd;
}

int state_write(const struct cli_state *s)
{
	char tmp[300], path[300];
	FILE *f;
	int rc;

	state_path(s->name, ".tmp", tmp, sizeof(tmp));
	state_path(s->name, "", path, sizeof(path));
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "name=%s\npid=%d\ntype=%s\ndevice_id=%u\nsocket=%s\n"
		"virtio_index=%d\nnode=%s\nqueues=%u\n",
		s->name, (int)s->pid, s->type, s->device_id, s->socket,
		s->virtio_index, s->node, s->queues);
	fprintf(f, "vlb_index=%d\nreconnect=%u\nreconnecting=%d\n"
		"queue_size=%u\ntimeout_ms=%u\ntag=%s\n",
		s->vlb_index, s->reconnect_s, s->reconnecting, s->queue_size,
		s->timeout_ms, s->tag);
	rc = fclose(f) ? -errno : 0;
	/* rename: readers see no file or the whole of it */
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

static void copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

static void parse_line(struct cli_state *s, const char *key, const char *v)
{
	if (!strcmp(key, "pid"))
		s->pid = atoi(v);
	else if (!strcmp(key, "type"))
		copy(s->type, sizeof(s->type), v);
	else if (!strcmp(key, "device_id"))
		s->device_id = strtoul(v, NULL, 10);
	else if (!strcmp(key, "socket"))
		copy(s->socket, sizeof(s->socket), v);
	else if (!strcmp(key, "virtio_index"))
		s->virtio_index = atoi(v);
	else if (!strcmp(key, "node"))
		copy(s->node, sizeof(s->node), v);
	else if (!strcmp(key, "queues"))
		s->queues = strtoul(v, NULL, 10);
	else if (!strcmp(key, "vlb_index"))
		s->vlb_index = atoi(v);
	else if (!strcmp(key, "reconnect"))
		s->reconnect_s = strtoul(v, NULL, 10);
	else if (!strcmp(key, "reconnecting"))
		s->reconnecting = atoi(v) != 0;
	else if (!strcmp(key, "queue_size"))
		s->queue_size = strtoul(v, NULL, 10);
	else if (!strcmp(key, "timeout_ms"))
		s->timeout_ms = strtoul(v, NULL, 10);
	else if (!strcmp(key, "tag"))
		copy(s->tag, sizeof(s->tag), v);
}

int state_read(const char *name, struct cli_state *s)
{
	char path[300], line[512];
	char *eq;
	FILE *f;

	if (!state_name_valid(name))
		return -ENOENT;
	memset(s, 0, sizeof(*s));
	s->virtio_index = -1;
	s->vlb_index = -1;
	copy(s->name, sizeof(s->name), name);
	state_path(name, "", path, sizeof(path));
	f = fopen(path, "re");
	if (!f) {
		/* Taken, the device not up yet: an attachment starting */
		if (errno == ENOENT && lock_held(name))
			return 0;
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		eq = strchr(line, '=');
		if (eq) {
			*eq = '\0';
			parse_line(s, line, eq + 1);
		}
	}
	fclose(f);
	return 0;
}

void state_remove(const char *name, bool with_log)
{
	int dfd = dir_lock();

	unlink_entry(name, with_log);
	if (dfd >= 0)
		close(dfd);
}

bool state_alive(const struct cli_state *s)
{
	return lock_held(s->name);
}

bool state_clean(const char *name, bool with_log)
{
	char path[300];
	int dfd = dir_lock();
	bool dead = false;

	if (dfd < 0)
		return false;
	if (!lock_held(name) && !quiesced_name(name)) {
		free_locked(name);
		if (with_log) {
			state_log_path(name, path, sizeof(path));
			unlink(path);
		}
		dead = true;
	}
	close(dfd);
	return dead;
}

int state_signal(const struct cli_state *s, int sig)
{
	int pidfd, rc = 0;

	if (s->pid <= 0)
		return -ESRCH;
	/*
	 * The pidfd names one process for good.  The lock checked after it
	 * is opened proves that process is still the adapter (while the
	 * adapter lives its pid cannot be reused), so a pid reused since the
	 * adapter died is never signalled.
	 */
	pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
	if (pidfd < 0)
		return -errno;
	if (!lock_held(s->name))
		rc = -ESRCH;
	else if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0)
		rc = -errno;
	close(pidfd);
	return rc;
}

const char *state_kernel_word(const struct cli_state *s, char *buf, size_t len)
{
	char path[128];
	FILE *f;

	if (s->vlb_index < 0)
		return NULL;
	snprintf(path, sizeof(path),
		 "/sys/devices/virtual/misc/virtio-loopback/vloopback%d/state",
		 s->vlb_index);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

bool state_quiesced(const struct cli_state *s)
{
	char word[32];
	const char *w = state_kernel_word(s, word, sizeof(word));

	return w && !strcmp(w, "quiesced") && !state_alive(s);
}

int state_take_over(const char *name)
{
	int dfd = dir_lock(), fd;
	char path[300];

	if (dfd < 0)
		return dfd;
	if (lock_held(name)) {
		fd = -EEXIST;
	} else {
		state_path(name, ".lock", path, sizeof(path));
		unlink(path);
		fd = take_locked(name);
	}
	close(dfd);
	return fd;
}

bool state_device_present(const struct cli_state *s)
{
	char path[64];

	if (s->virtio_index < 0)
		return false;
	snprintf(path, sizeof(path), "/sys/bus/virtio/devices/virtio%d",
		 s->virtio_index);
	return access(path, F_OK) == 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **state_names(int *n)
{
	DIR *d = opendir(state_dir());
	char **names = NULL, **grown, name[NAME_MAX_LEN + 1];
	struct dirent *e;
	size_t len;

	*n = 0;
	while (d && (e = readdir(d))) {
		/* One entry per NAME.lock: every attachment has one */
		len = strlen(e->d_name);
		if (len <= 5 || len - 5 > NAME_MAX_LEN ||
		    strcmp(e->d_name + len - 5, ".lock"))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(len - 5), e->d_name);
		if (!state_name_valid(name))
			continue;	/* the directory's own .lock */
		grown = realloc(names, (*n + 1) * sizeof(*names));
		if (!grown)
			break;
		names = grown;
		names[*n] = strdup(name);
		if (names[*n])
			(*n)++;
	}
	if (d)
		closedir(d);
	if (*n)
		qsort(names, *n, sizeof(*names), by_name);
	return names;
}

void state_free_names(char **names, int n)
{
	while (n--)
		free(names[n]);
	free(names);
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

void state_print_json(const struct cli_state *s)
{
	bool alive = state_alive(s);

	fputs("{\"name\":", stdout);
	json_string(s->name);
	fputs(",\"type\":", stdout);
	json_string(s->type);
	printf(",\"device_id\":%u,\"pid\":%d,\"running\":%s,\"socket\":",
	       s->device_id, (int)s->pid, alive ? "true" : "false");
	json_string(s->socket);
	printf(",\"virtio_index\":%d,\"device_present\":%s,\"queues\":%u,"
	       "\"quiesced\":%s,\"reconnecting\":%s,\"reconnect_s\":%u,\"node\":",
	       s->virtio_index, state_device_present(s) ? "true" : "false",
	       s->queues, state_quiesced(s) ? "true" : "false",
	       alive && s->reconnecting ? "true" : "false", s->reconnect_s);
	json_string(s->node);
	putchar('}');
}

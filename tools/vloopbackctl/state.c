// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * What vloopbackctl remembers of an attachment: STATE_DIR/NAME, "key=value"
 * lines written by the adapter process once its device is up and removed
 * when it ends.  A file whose process is gone (killed with -9) is stale:
 * list and status say so, detach cleans it up.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int state_dir_create(void)
{
	if (mkdir(STATE_DIR, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void state_path(const char *name, const char *suffix, char *buf,
		       size_t len)
{
	snprintf(buf, len, "%s/%s%s", STATE_DIR, name, suffix);
}

void state_log_path(const char *name, char *buf, size_t len)
{
	state_path(name, ".log", buf, len);
}

int state_write(const struct cli_state *s)
{
	char tmp[256], path[256];
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
	rc = fclose(f) ? -errno : 0;
	/* rename: readers see the old file or the whole new one */
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
	if (!strcmp(key, "name"))
		copy(s->name, sizeof(s->name), v);
	else if (!strcmp(key, "pid"))
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
}

int state_read(const char *name, struct cli_state *s)
{
	char path[256], line[512];
	char *eq;
	FILE *f;

	if (!state_name_valid(name))
		return -ENOENT;
	state_path(name, "", path, sizeof(path));
	f = fopen(path, "re");
	if (!f)
		return -errno;
	memset(s, 0, sizeof(*s));
	s->virtio_index = -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		eq = strchr(line, '=');
		if (eq) {
			*eq = '\0';
			parse_line(s, line, eq + 1);
		}
	}
	fclose(f);
	copy(s->name, sizeof(s->name), name);
	return 0;
}

void state_remove(const char *name, bool with_log)
{
	char path[256];

	state_path(name, "", path, sizeof(path));
	unlink(path);
	if (with_log) {
		state_log_path(name, path, sizeof(path));
		unlink(path);
	}
}

/* The pid is ours only if it is still a vloopbackctl: pids get reused */
bool state_alive(const struct cli_state *s)
{
	char path[64], comm[32] = "";
	FILE *f;

	if (s->pid <= 0 || (kill(s->pid, 0) < 0 && errno == ESRCH))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)s->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return !strncmp(comm, "vloopbackctl", 12);
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
	DIR *d = opendir(STATE_DIR);
	char **names = NULL, **grown;
	struct dirent *e;

	*n = 0;
	while (d && (e = readdir(d))) {
		if (!state_name_valid(e->d_name))
			continue;	/* ".", "..", logs, temporary files */
		grown = realloc(names, (*n + 1) * sizeof(*names));
		if (!grown)
			break;
		names = grown;
		names[*n] = strdup(e->d_name);
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
	printf(",\"virtio_index\":%d,\"device_present\":%s,\"queues\":%u,\"node\":",
	       s->virtio_index, state_device_present(s) ? "true" : "false",
	       s->queues);
	json_string(s->node);
	putchar('}');
}

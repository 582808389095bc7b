/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/* vloopbackctl: what the subcommands share. */
#ifndef VLOOPBACKCTL_CLI_H
#define VLOOPBACKCTL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit codes, documented in vloopbackctl(8) */
enum {
	EXIT_FAIL = 1,		/* anything not below */
	EXIT_USAGE = 2,		/* bad command line, unknown type */
	EXIT_NO_MODULE = 3,	/* virtio_loopback.ko not loaded */
	EXIT_PERM = 4,		/* not permitted */
	EXIT_BACKEND = 5,	/* back-end unreachable, refused, or misbehaved */
	EXIT_NO_NAME = 6,	/* no attachment of that name */
};

/* Subcommands: argv[0] is the subcommand's name; each returns an exit code */
int cmd_attach(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_recover(int argc, char **argv);

/* errors.c: one line per failure, "vloopbackctl: <what>: <why> (<what to do>)" */

/* Route libvloopback's messages: errors kept for cli_report, the rest to stderr */
void cli_log_init(bool verbose);
/* From now on, library messages go to stderr as they come (a daemon's log) */
void cli_log_direct(void);
/* Print the line and return code */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage error of subcommand cmd: the line, then return EXIT_USAGE */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * A library call failed with -err: print the first error the library
 * logged (it says what to do), or what plus strerror.  Returns the exit
 * code for err, or code when err says nothing more specific.
 */
int cli_report(int err, int code, const char *what);

/*
 * state.c: one entry per attachment in the state directory: /run/vloopback
 * for root, $XDG_RUNTIME_DIR/vloopback (or /run/user/UID/vloopback) for
 * other users, $VLB_STATE_DIR if set (tests).  Each entry's NAME.lock is
 * created exclusively and held locked by the adapter for its whole life.
 */
#define STATE_DIR	"/run/vloopback"
#define NAME_MAX_LEN	32

struct cli_state {
	char name[NAME_MAX_LEN + 1];
	pid_t pid;			/* the adapter process; 0 while starting */
	char type[16];
	uint32_t device_id;
	char socket[108];
	int virtio_index;
	char node[64];			/* /dev/vdX, an interface, a tag, or virtioN */
	unsigned int queues;
	/* recovery: what `recover` needs to run the same attachment again */
	int vlb_index;			/* N of vloopbackN, -1 unknown */
	unsigned int reconnect_s;	/* 0: no reconnect, not recoverable */
	bool reconnecting;		/* the adapter waits for its back-end */
	unsigned int queue_size;	/* as given to attach, 0 = default */
	unsigned int timeout_ms;
	char tag[40];
};

bool state_name_valid(const char *name);
/* This user's state directory */
const char *state_dir(void);
/* Which one for uid, given $VLB_STATE_DIR and $XDG_RUNTIME_DIR (may be NULL) */
const char *state_dir_for(uid_t uid, const char *override, const char *runtime);
/* 0, or -errno: the directory cannot be made (EACCES...), or is not ours (EPERM) */
int state_dir_create(void);
/*
 * Take NAME for a new attachment: its lock file is created exclusively and
 * locked.  Returns the lock's fd, to keep open (and inherited) as long as
 * the adapter lives, or -EEXIST if a live attachment has the name, or
 * -errno.  A dead attachment of that name is removed first.
 */
int state_reserve(const char *name);
/* The same for the first free name of base0, base1...; written into name */
int state_reserve_next(const char *base, char *name, size_t len);
/* Write s (the data file), atomically */
int state_write(const struct cli_state *s);
/* 0 (s filled; only its name while starting), -ENOENT, or another -errno */
int state_read(const char *name, struct cli_state *s);
/* Remove NAME's files (the owner, when its adapter ends) */
void state_remove(const char *name, bool with_log);
/* The log file of an attachment's background adapter */
void state_log_path(const char *name, char *buf, size_t len);
/* Whether the adapter of s lives: it holds the lock (never a pid guess) */
bool state_alive(const struct cli_state *s);
/* If NAME's adapter is dead, remove its files (and its log); true then */
bool state_clean(const char *name, bool with_log);
/*
 * Send sig to the adapter of s, if it still lives; never to another
 * process that got its pid.  0, -ESRCH (not alive), or -errno.
 */
int state_signal(const struct cli_state *s, int sig);
/* Whether the kernel still has the device of s */
bool state_device_present(const struct cli_state *s);
/* The kernel's word for the device of s: "live", "quiesced", "failed", or NULL */
const char *state_kernel_word(const struct cli_state *s, char *buf, size_t len);
/* The adapter of s is dead and its device waits for a new one */
bool state_quiesced(const struct cli_state *s);
/*
 * Lock NAME again for a new adapter of a quiesced attachment, keeping its
 * data file.  The lock's fd, -EEXIST if an adapter holds it, or -errno.
 */
int state_take_over(const char *name);
/* Names of all attachments, sorted; *n of them.  Free with state_free_names */
char **state_names(int *n);
void state_free_names(char **names, int n);

/* notify.c: sd_notify(3)'s protocol, without libsystemd */
/* Send msg to $NOTIFY_SOCKET if set: 1 sent, 0 not under systemd, -errno */
int cli_sd_notify(const char *msg);

/* attach.c, shared with recover.c */
struct vlb_adapter;
/*
 * Serve a in the foreground until stopped or failed, keeping the entry s
 * up to date (reconnecting); an exit code.  SIGTERM/SIGINT remove the
 * device, SIGUSR1 leaves a recoverable one quiesced for the next adapter.
 */
int serve(struct vlb_adapter *a, struct cli_state *s);
/* Fork; the child serves, the parent returns once its state is written */
int serve_in_background(struct vlb_adapter *a, struct cli_state *s);

/*
 * recover.c: if attachment NAME is quiesced, recover it (attach --name of
 * such an attachment does, so a restarted service keeps its device): an
 * exit code; -1 if it is not quiesced.
 */
int recover_quiesced(const char *name, bool foreground);

/* Print s as one JSON object (no newline) */
void state_print_json(const struct cli_state *s);

#endif /* VLOOPBACKCTL_CLI_H */

/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/* Private to libvloopback: what adapter.c and adapter_relay.c share. */
#ifndef VLB_ADAPTER_PRIV_H
#define VLB_ADAPTER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <vloopback/adapter.h>
#include <vloopback/uapi.h>

#include "kdev.h"
#include "vhost_user.h"

/* What the adapter's epoll fd reports, in epoll_event.data.u32 */
enum vlb_adapter_source {
	SRC_KERNEL = 1,		/* the device fd: messages from the driver */
	SRC_BACKEND,		/* the vhost-user socket: only a hang-up is expected */
	SRC_BACKEND_REQ,	/* the back-end's request channel */
	SRC_RETRY,		/* timerfd: try to reconnect to the back-end */
	SRC_DEADLINE,		/* timerfd: the plan's deadline passed */
};

/* What a step's success changes in the adapter */
enum vlb_step_effect {
	STEP_PLAIN,
	STEP_OWNER,		/* owner_sent */
	STEP_RING_STOPPED,	/* started[ring]: false */
	STEP_RING_STARTED,	/* started[ring]: true */
	STEP_CONFIG,		/* the reply's config space into the kernel */
};

/* One message to the back-end, and what its success means */
struct vlb_step {
	struct vhu_msg req;
	int fd;			/* sent with req (the adapter's own), or -1 */
	uint8_t effect;		/* enum vlb_step_effect */
	bool may_fail;		/* a malformed answer is a refusal, not a lie */
	uint16_t ring;		/* of STEP_RING_* */
};

/*
 * The back-end steps of one kernel message, or of a config change the
 * back-end announced: sent one at a time, each when the previous one's
 * answer came (or at once when none is due), within one deadline.
 */
struct vlb_plan {
	struct vlb_step *steps;
	unsigned int n, cap;
	unsigned int next;	/* the step to send */
	bool active;		/* begun, not finished */
	bool waiting;		/* steps[next - 1]'s answer is due */
	bool answer;		/* the kernel waits for a reply to seq */
	bool notify;		/* STEP_CONFIG raises a config change */
	bool must_succeed;	/* the kernel cannot be told of a refusal */
	uint64_t seq;
	int64_t deadline;	/* vhu_now_ms() */
	const char *what;	/* for messages */
};

struct vlb_adapter {
	char *socket_path;		/* for messages */
	char *tag;			/* the fs/9p tag option, or NULL */
	int timeout_ms;			/* per exchange of set-up and teardown */
	int relay_ms;			/* per relayed kernel message: the
					   module's reply timeout less a margin */
	int deadline_fd;		/* timerfd: the plan's deadline */
	struct vlb_plan plan;		/* what is being relayed */
	bool config_changed;		/* announced during a plan: fetch after */
	int sock;			/* vhost-user socket */
	int req_fd;			/* our end of the back-end channel, or -1 */
	struct vlb_kdev kdev;		/* the kernel device; its area's fd kept
					   for SET_MEM_TABLE */
	int epfd;			/* vlb_adapter_fd() */
	int stop_fd;			/* eventfd: vlb_adapter_stop() */
	unsigned int num_queues;
	int kick[VLB_MAX_QUEUES];	/* the module signals, the back-end reads */
	int call[VLB_MAX_QUEUES];	/* the back-end signals, the module reads */
	bool started[VLB_MAX_QUEUES];	/* handed to the back-end */
	uint64_t offered;		/* features offered to the driver */
	uint64_t protocol;		/* negotiated protocol features */
	bool has_protocol;		/* VHU_F_PROTOCOL_FEATURES negotiated */
	bool owner_sent;
	uint32_t config_size;		/* asked of the back-end with GET_CONFIG */
	int error;			/* 0, or the failure that ended the adapter */
	/* Reconnect: see adapter.h.  Only the serving thread touches these */
	uint32_t reconnect_s;		/* 0: a closed socket fails the adapter */
	int retry_fd;			/* timerfd, armed while reconnecting */
	int64_t reconnect_deadline;	/* vhu_now_ms() after which we give up */
	atomic_bool reconnecting;	/* the getter reads it from any thread */
	bool recovered;			/* by vlb_adapter_recover: started */
	/* What the driver did, to replay to a new back-end */
	uint64_t acked;			/* features the driver accepted */
	bool features_set;		/* acked is valid (until a reset) */
	bool driver_ok;			/* DRIVER_OK, no reset since */
	pthread_t thread;
	bool thread_started;
	int thread_rc;
};

static inline bool vlb_adapter_has(const struct vlb_adapter *a, unsigned int pf)
{
	return a->protocol & (1ULL << pf);
}

/* The epoll fd and what it watches; the timers.  0 or -errno */
int vlb_adapter_setup_polling(struct vlb_adapter *a);

/* One exchange with the back-end, with the adapter's timeout and REPLY_ACK */
int vlb_adapter_call(struct vlb_adapter *a, struct vhu_msg *req,
		     const int *fds, unsigned int nfds, struct vhu_msg *reply);

/* GET_CONFIG of a->config_size bytes into buf.  0 or -errno (logged) */
int vlb_adapter_get_config(struct vlb_adapter *a, uint8_t *buf);
/* A request whose payload is one u64 (SET_FEATURES...): vlb_adapter_call's result */
int vlb_adapter_set_u64(struct vlb_adapter *a, uint32_t request, uint64_t value);

/*
 * End the adapter with error rc (0 < is -errno): remove the kernel device
 * (in-flight requests fail), disconnect from the back-end.  The first
 * failure sticks; later calls do nothing.  Returns a->error.
 */
int vlb_adapter_fail(struct vlb_adapter *a, int rc);

/* adapter_relay.c: handle what the source reported.  >= 0 or -errno */
int vlb_adapter_on_kernel(struct vlb_adapter *a);
int vlb_adapter_on_backend_req(struct vlb_adapter *a);
/* Config space from the back-end (a->config_size bytes) into the kernel */
int vlb_adapter_put_config(struct vlb_adapter *a, const uint8_t *config,
			   bool notify);
/* No plan runs: start what waited for that (a config change).  0 or -errno */
int vlb_adapter_on_idle(struct vlb_adapter *a);

/*
 * adapter_plan.c.  A step appended to p: request with a zeroed payload of
 * size bytes, no fd, no effect; NULL when out of memory.
 */
struct vlb_step *vlb_plan_add(struct vlb_plan *p, uint32_t request,
			      uint32_t size);
/* Forget p's steps (nothing is sent or answered) */
void vlb_plan_clear(struct vlb_plan *p);
/*
 * Start a->plan (filled by the relay): the kernel fd is set aside and the
 * deadline armed until it ends; steps are sent until one's answer is due.
 * A plan without steps ends at once.  0 or -errno (the adapter fails).
 */
int vlb_plan_begin(struct vlb_adapter *a);
/* The socket is readable while an answer is due.  0 or -errno */
int vlb_plan_on_reply(struct vlb_adapter *a);
/* The deadline timer fired: -ETIMEDOUT if the plan still runs, else 0 */
int vlb_plan_on_deadline(struct vlb_adapter *a);
/*
 * End a->plan now with result (0: the back-end went and its successor gets
 * the step replayed): the kernel gets result if it waits.  0 or -errno.
 */
int vlb_plan_finish(struct vlb_adapter *a, int result);
/*
 * Run p to its end on the calling thread, each exchange bounded by
 * timeout_ms (set-up and teardown, outside the event loop's plans); p is
 * cleared.  0 or -errno.
 */
int vlb_plan_run_sync(struct vlb_adapter *a, struct vlb_plan *p);

/*
 * A new back-end was connected: stage 1 again, checked against what was
 * negotiated (-ENOTSUP, logged, if it offers less), then the module's rings
 * restarted and the set-up replayed (owner, features, memory table, rings).
 * 0 or -errno.
 */
int vlb_adapter_resume(struct vlb_adapter *a);

/* rc from an exchange: the back-end went away and reconnect is on */
bool vlb_adapter_may_reconnect(struct vlb_adapter *a, int rc);

/* Keep the device, drop the back-end, arm the retry timer.  0 or -errno */
int vlb_adapter_begin_reconnect(struct vlb_adapter *a);

/* Replay owner and features, and if the driver was ready, the rings */
int vlb_adapter_replay(struct vlb_adapter *a);

/* Stop the back-end's started rings (GET_VRING_BASE).  0 or -errno */
int vlb_adapter_stop_rings(struct vlb_adapter *a);

#endif /* VLB_ADAPTER_PRIV_H */

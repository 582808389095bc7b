// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The adapter's plans: what one kernel message needs of the back-end, as a
 * list of steps run from the event loop.  A step is sent, and dispatch
 * returns; its answer is taken when the socket is readable, and the next
 * step goes out.  So a slow back-end delays only its own device, and the
 * whole message has one deadline, the module's reply timeout less a margin,
 * instead of one per exchange.
 *
 * A refusal (a REPLY_ACK that says failed, GET_CONFIG's empty answer, or a
 * malformed answer to a step that may fail) ends the plan: the kernel gets
 * it as the error of the driver's step and the device stays.  A back-end
 * that misses the deadline, closes the socket or breaks the protocol fails
 * the device, or, with reconnect on, is dropped and waited for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "adapter_priv.h"
#include "internal.h"
#include "transport.h"

struct vlb_step *vlb_plan_add(struct vlb_plan *p, uint32_t request,
			      uint32_t size)
{
	struct vlb_step *s;

	if (p->n == p->cap) {
		unsigned int cap = p->cap ? 2 * p->cap : 8;

		s = realloc(p->steps, cap * sizeof(*s));
		if (!s)
			return NULL;
		p->steps = s;
		p->cap = cap;
	}
	s = &p->steps[p->n++];
	memset(s, 0, sizeof(*s));
	vhu_msg_init(&s->req, request, size);
	s->fd = -1;
	return s;
}

void vlb_plan_clear(struct vlb_plan *p)
{
	free(p->steps);
	memset(p, 0, sizeof(*p));
}

static int apply(struct vlb_adapter *a, const struct vlb_step *s,
		 const struct vhu_msg *reply, bool notify)
{
	switch (s->effect) {
	case STEP_OWNER:
		a->owner_sent = true;
		return 0;
	case STEP_RING_STOPPED:
		a->started[s->ring] = false;
		return 0;
	case STEP_RING_STARTED:
		a->started[s->ring] = true;
		return 0;
	case STEP_CONFIG:
		return vlb_adapter_put_config(a, reply->u.config.data, notify);
	default:
		return 0;
	}
}

int vlb_plan_run_sync(struct vlb_adapter *a, struct vlb_plan *p)
{
	struct vhu_msg reply;
	unsigned int i;
	int rc = 0;

	for (i = 0; rc == 0 && i < p->n; i++) {
		struct vlb_step *s = &p->steps[i];

		rc = vlb_adapter_call(a, &s->req, &s->fd, s->fd >= 0, &reply);
		if (rc == 0)
			rc = apply(a, s, &reply, p->notify);
	}
	vlb_plan_clear(p);
	return rc;
}

/* While a plan runs the kernel's next message waits: no level-triggered spin */
static int watch_kernel(struct vlb_adapter *a, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0,
				  .data.u32 = SRC_KERNEL };

	if (a->kdev.fd < 0 || a->epfd < 0)
		return 0;
	return epoll_ctl(a->epfd, EPOLL_CTL_MOD, a->kdev.fd, &ev) < 0 ? -errno : 0;
}

static int arm_deadline(struct vlb_adapter *a, int ms)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ms / 1000,
			      .tv_nsec = (ms % 1000) * 1000000L },
	};

	if (a->deadline_fd < 0)
		return 0;
	return timerfd_settime(a->deadline_fd, 0, &its, NULL) < 0 ? -errno : 0;
}

int vlb_plan_finish(struct vlb_adapter *a, int result)
{
	struct vlb_plan *p = &a->plan;
	bool answer = p->active && p->answer;
	uint64_t seq = p->seq;
	int rc;

	vlb_plan_clear(p);
	rc = arm_deadline(a, 0);
	if (rc == 0)
		rc = watch_kernel(a, true);
	if (rc == 0 && answer)
		rc = vlb_tp_reply(a->kdev.fd, seq, result);
	return rc < 0 ? rc : vlb_adapter_on_idle(a);
}

/* The back-end said no: the driver's step fails, the device stays */
static int refused(struct vlb_adapter *a, int rc)
{
	struct vlb_plan *p = &a->plan;

	if (p->must_succeed)
		return rc;	/* nobody to tell: the device cannot go on */
	vlb_warn("vhost-user back-end %s refused %s: the driver's step fails, the device stays",
		 a->socket_path, p->what);
	return vlb_plan_finish(a, rc);
}

/* Send steps until one's answer is due, or finish */
static int advance(struct vlb_adapter *a)
{
	struct vlb_plan *p = &a->plan;
	bool ack = vlb_adapter_has(a, VHU_PROTOCOL_F_REPLY_ACK);
	int rc;

	while (p->next < p->n) {
		struct vlb_step *s = &p->steps[p->next++];
		bool want = vhu_want_reply(&s->req, ack);

		rc = vhu_send(a->sock, &s->req, &s->fd, s->fd >= 0, p->deadline);
		if (rc < 0) {
			vhu_log_call_error(&s->req, rc);
			return rc;
		}
		if (want) {
			p->waiting = true;
			return 0;
		}
		rc = apply(a, s, NULL, p->notify);
		if (rc < 0)
			return rc;
	}
	return vlb_plan_finish(a, 0);
}

int vlb_plan_begin(struct vlb_adapter *a)
{
	struct vlb_plan *p = &a->plan;
	int rc;

	p->active = true;
	p->deadline = vhu_now_ms() + a->relay_ms;
	rc = watch_kernel(a, false);
	if (rc == 0 && p->n)
		rc = arm_deadline(a, a->relay_ms);
	return rc < 0 ? rc : advance(a);
}

/* Same request, marked a reply: the stream is in step, whatever else is wrong */
static bool answers(const struct vhu_msg *req, const struct vhu_msg *reply)
{
	return (reply->hdr.flags & VHU_F_REPLY) &&
	       reply->hdr.request == req->hdr.request;
}

int vlb_plan_on_reply(struct vlb_adapter *a)
{
	struct vlb_plan *p = &a->plan;
	struct vlb_step *s = &p->steps[p->next - 1];
	struct vhu_msg reply;
	unsigned int nfds;
	bool got;
	int rc;

	rc = vhu_recv(a->sock, &reply, NULL, 0, &nfds, p->deadline);
	got = rc == 0;
	if (got)
		rc = vhu_check_reply(&s->req, &reply, nfds);
	if (rc == -EREMOTEIO ||
	    (got && rc == -EPROTO && s->may_fail && answers(&s->req, &reply)))
		return refused(a, rc);
	if (rc < 0) {
		vhu_log_call_error(&s->req, rc);
		return rc;
	}
	p->waiting = false;
	rc = apply(a, s, &reply, p->notify);
	return rc < 0 ? rc : advance(a);
}

int vlb_plan_on_deadline(struct vlb_adapter *a)
{
	struct vlb_plan *p = &a->plan;
	uint64_t ticks;

	if (read(a->deadline_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return -errno;
	if (!p->active || vhu_now_ms() < p->deadline)
		return 0;	/* ended, or a new one began, meanwhile */
	vlb_err("vhost-user back-end %s did not answer %s in time (%s gets %d ms in all; is it stuck?)",
		a->socket_path, vhu_request_name(p->steps[p->next - 1].req.hdr.request),
		p->what, a->relay_ms);
	return -ETIMEDOUT;
}

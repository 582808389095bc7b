// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * lib/queue.c: dispatch rounds, completions, interrupts and resets, over a
 * ring in plain memory (queue.c never calls the module, so no kernel is
 * needed).  The test plays the driver: it posts chains and reads the used
 * ring and the call eventfd.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <cmocka.h>

#include "device_priv.h"
#include "log_capture.h"

#define AREA_SIZE	65536
#define IOVA_BASE	0x100000ULL
#define NUM		8
#define DESC_OFF	0
#define AVAIL_OFF	4096
#define USED_OFF	8192
#define BUF_OFF		16384

enum mode { COMPLETE_NOW, HOLD };

struct fixture {
	struct vlb_dev dev;
	struct vlb_queue q;
	uint8_t *area;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	enum mode mode;
	uint32_t written;		/* what COMPLETE_NOW completes with */
	bool repost;			/* the "driver" re-posts each chain at once */
	unsigned int handled;
	struct vlb_req *held[64];
	unsigned int nheld;
	struct vlb_req seen[NUM];	/* copies of the first requests handled */
	struct log_capture log;
};

static uint64_t iova(uint64_t off)
{
	return IOVA_BASE + off;
}

static void set_desc(struct fixture *f, unsigned int i, uint64_t off,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	f->desc[i] = (struct vring_desc){
		.addr = htole64(iova(off)), .len = htole32(len),
		.flags = htole16(flags), .next = htole16(next),
	};
}

static void make_avail(struct fixture *f, uint16_t head)
{
	uint16_t idx = le16toh(f->avail->idx);

	f->avail->ring[idx % NUM] = htole16(head);
	f->avail->idx = htole16((uint16_t)(idx + 1));
}

/* One readable and one writable buffer per chain: i's pair is 2i, 2i+1 */
static void post(struct fixture *f, uint16_t head)
{
	set_desc(f, head, BUF_OFF + head * 256u, 16, VRING_DESC_F_NEXT,
		 (uint16_t)((head + 1) % NUM));
	set_desc(f, (head + 1) % NUM, BUF_OFF + head * 256u + 16, 64,
		 VRING_DESC_F_WRITE, 0);
	make_avail(f, head);
}

/* A single writable buffer of 64 bytes */
static void post_in(struct fixture *f, uint16_t head)
{
	set_desc(f, head, BUF_OFF + head * 256u, 64, VRING_DESC_F_WRITE, 0);
	make_avail(f, head);
}

/* Read (and reset) an eventfd's counter: how often it was signalled */
static uint64_t count(int fd)
{
	eventfd_t v;

	return eventfd_read(fd, &v) == 0 ? v : 0;
}

static uint16_t used_idx(struct fixture *f)
{
	return le16toh(f->used->idx);
}

static void handle(struct vlb_queue *q, struct vlb_req *req)
{
	struct fixture *f = vlb_dev_opaque(vlb_queue_dev(q));
	struct vlb_req_priv *r = (struct vlb_req_priv *)req;

	if (f->handled < NUM)
		f->seen[f->handled] = *req;
	f->handled++;
	if (f->mode == HOLD) {
		f->held[f->nheld++] = req;
		return;
	}
	if (f->repost)
		make_avail(f, r->head);	/* reuse is fine once completed */
	assert_int_equal(vlb_req_complete(req, f->written), 0);
}

static void start(struct fixture *f, unsigned int num)
{
	struct vlb_vq_info info = {
		.num = num, .desc = iova(DESC_OFF), .avail = iova(AVAIL_OFF),
		.used = iova(USED_OFF),
	};

	vlb_queue_start(&f->q, &info);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->area = aligned_alloc(4096, AREA_SIZE);
	assert_non_null(f->area);
	memset(f->area, 0, AREA_SIZE);
	f->desc = (void *)(f->area + DESC_OFF);
	f->avail = (void *)(f->area + AVAIL_OFF);
	f->used = (void *)(f->area + USED_OFF);
	f->dev.kdev.fd = -1;
	f->dev.queue_size = NUM;
	f->dev.ops.handle = handle;
	f->dev.opaque = f;
	f->dev.mem = (struct vlb_vring_mem){ f->area, AREA_SIZE, IOVA_BASE };
	assert_int_equal(vlb_queue_setup(&f->dev, &f->q, 0), 0);
	capture_start(&f->log);
	*state = f;
	return 0;
}

static int setup_started(void **state)
{
	struct fixture *f;

	setup(state);
	f = *state;
	start(f, NUM);
	count(f->q.kick_fd);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	capture_stop();
	vlb_queue_cleanup(&f->q);	/* frees held requests too (ASan checks) */
	free(f->area);
	free(f);
	return 0;
}

static void dispatch_before_driver_ok_does_nothing(void **state)
{
	struct fixture *f = *state;

	post(f, 0);
	assert_int_equal(vlb_queue_dispatch(&f->q), 0);
	assert_int_equal(f->handled, 0);
}

static void start_wakes_the_dispatcher(void **state)
{
	struct fixture *f = *state;

	post(f, 0);	/* posted before DRIVER_OK was seen */
	start(f, NUM);
	assert_int_equal(count(f->q.kick_fd), 1);
	assert_int_equal(vlb_queue_dispatch(&f->q), 1);
	assert_int_equal(f->handled, 1);
}

static void unused_queue_stays_idle(void **state)
{
	struct fixture *f = *state;

	start(f, 0);
	assert_int_equal(count(f->q.kick_fd), 0);
	assert_int_equal(vlb_queue_dispatch(&f->q), 0);
}

static void dispatch_hands_each_request_to_handle(void **state)
{
	struct fixture *f = *state;

	post(f, 0);
	post(f, 2);
	post_in(f, 5);
	f->written = 7;
	assert_int_equal(vlb_queue_dispatch(&f->q), 3);
	assert_int_equal(f->handled, 3);
	assert_int_equal(f->seen[0].n_out, 1);
	assert_int_equal(f->seen[0].n_in, 1);
	assert_ptr_equal(f->seen[0].out[0].iov_base, f->area + BUF_OFF);
	assert_int_equal(f->seen[0].out[0].iov_len, 16);
	assert_ptr_equal(f->seen[0].in[0].iov_base, f->area + BUF_OFF + 16);
	assert_int_equal(f->seen[0].in[0].iov_len, 64);
	assert_int_equal(f->seen[2].n_out, 0);
	assert_int_equal(f->seen[2].n_in, 1);
	assert_int_equal(used_idx(f), 3);
	assert_int_equal(le32toh(f->used->ring[0].id), 0);
	assert_int_equal(le32toh(f->used->ring[1].id), 2);
	assert_int_equal(le32toh(f->used->ring[2].id), 5);
	assert_int_equal(le32toh(f->used->ring[2].len), 7);
}

static void completions_in_a_round_interrupt_once(void **state)
{
	struct fixture *f = *state;

	post(f, 0);
	post(f, 2);
	post(f, 4);
	assert_int_equal(vlb_queue_dispatch(&f->q), 3);
	assert_int_equal(used_idx(f), 3);
	assert_int_equal(count(f->q.call_fd), 1);
}

static void no_interrupt_when_the_driver_suppresses_it(void **state)
{
	struct fixture *f = *state;

	f->avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	post(f, 0);
	assert_int_equal(vlb_queue_dispatch(&f->q), 1);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(count(f->q.call_fd), 0);
}

static void held_request_completed_later_interrupts_at_once(void **state)
{
	struct fixture *f = *state;

	f->mode = HOLD;
	post(f, 0);
	assert_int_equal(vlb_queue_dispatch(&f->q), 1);
	assert_int_equal(used_idx(f), 0);
	assert_int_equal(count(f->q.call_fd), 0);
	assert_int_equal(vlb_req_complete(f->held[0], 3), 0);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(le32toh(f->used->ring[0].len), 3);
	assert_int_equal(count(f->q.call_fd), 1);
}

static void nonotify_batch_then_notify_interrupts_once(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	f->mode = HOLD;
	post(f, 0);
	post(f, 2);
	post(f, 4);
	assert_int_equal(vlb_queue_dispatch(&f->q), 3);
	for (i = 0; i < 3; i++)
		assert_int_equal(vlb_req_complete_nonotify(f->held[i], 0), 0);
	assert_int_equal(used_idx(f), 3);
	assert_int_equal(count(f->q.call_fd), 0);
	assert_int_equal(vlb_queue_notify(&f->q), 0);
	assert_int_equal(count(f->q.call_fd), 1);
	assert_int_equal(vlb_queue_notify(&f->q), 0);	/* nothing new */
	assert_int_equal(count(f->q.call_fd), 0);
}

static void written_is_clamped_to_the_writable_size(void **state)
{
	struct fixture *f = *state;

	f->written = 1000;
	post(f, 0);	/* 64 writable bytes */
	assert_int_equal(vlb_queue_dispatch(&f->q), 1);
	assert_int_equal(le32toh(f->used->ring[0].len), 64);
}

static void reset_makes_held_requests_stale(void **state)
{
	struct fixture *f = *state;

	f->mode = HOLD;
	post(f, 0);
	post(f, 2);
	assert_int_equal(vlb_queue_dispatch(&f->q), 2);
	count(f->q.call_fd);
	vlb_queue_stop(&f->q);
	assert_int_equal(vlb_req_complete(f->held[0], 0), -ESTALE);
	assert_int_equal(used_idx(f), 0);
	assert_int_equal(count(f->q.call_fd), 0);
	/* held[1] is never completed: cleanup frees it (ASan would say) */
}

static void second_completion_is_refused_and_logged(void **state)
{
	struct fixture *f = *state;

	f->mode = HOLD;
	vlb_queue_set_lazy_kick(&f->q, 1);
	post(f, 0);
	assert_int_equal(vlb_queue_dispatch(&f->q), 1);
	assert_int_equal(vlb_req_complete(f->held[0], 1), 0);
	f->log.count = 0;
	assert_int_equal(vlb_req_complete(f->held[0], 1), -EINVAL);
	assert_int_equal(vlb_req_complete_nonotify(f->held[0], 1), -EINVAL);
	assert_int_equal(used_idx(f), 1);		/* pushed once */
	assert_int_equal(f->q.held, 0);		/* no underflow */
	assert_int_equal(f->log.count, 2);
	assert_non_null(strstr(f->log.msg[0], "completed twice"));
	/* The lazy queue still takes the next buffer */
	post(f, 2);
	assert_int_equal(vlb_queue_dispatch(&f->q), 1);
}

static void second_completion_of_a_stale_request_is_refused(void **state)
{
	struct fixture *f = *state;

	f->mode = HOLD;
	post(f, 0);
	assert_int_equal(vlb_queue_dispatch(&f->q), 1);
	vlb_queue_stop(&f->q);
	assert_int_equal(vlb_req_complete(f->held[0], 0), -ESTALE);
	/* Still allocated (ASan would say): recognised, not a use after free */
	assert_int_equal(vlb_req_complete(f->held[0], 0), -EINVAL);
}

static void copy_helpers_gather_and_scatter(void **state)
{
	struct fixture *f = *state;
	char out[16], got[16];
	struct vlb_req *req;
	unsigned int i;

	f->mode = HOLD;
	for (i = 0; i < sizeof(out); i++)
		out[i] = (char)('a' + i);
	memcpy(f->area + BUF_OFF, out, sizeof(out));	/* chain 0's out */
	post(f, 0);
	assert_int_equal(vlb_queue_dispatch(&f->q), 1);
	req = f->held[0];
	assert_int_equal(vlb_req_out_size(req), 16);
	assert_int_equal(vlb_req_in_size(req), 64);
	memset(got, 0, sizeof(got));
	assert_int_equal(vlb_req_copy_from(req, 4, got, 8), 8);
	assert_memory_equal(got, "efghijkl", 8);
	assert_int_equal(vlb_req_copy_from(req, 12, got, 8), 4);	/* the end */
	assert_int_equal(vlb_req_copy_from(req, 20, got, 8), 0);
	assert_int_equal(vlb_req_copy_to(req, 60, "wxyz12", 6), 4);
	assert_memory_equal(f->area + BUF_OFF + 16 + 60, "wxyz", 4);
	assert_int_equal(vlb_req_complete(req, 64), 0);
}

static void new_ring_after_reset_starts_clean(void **state)
{
	struct fixture *f = *state;

	f->mode = HOLD;
	post(f, 0);
	assert_int_equal(vlb_queue_dispatch(&f->q), 1);
	vlb_queue_stop(&f->q);
	memset(f->area, 0, BUF_OFF);	/* the driver sets up new rings */
	start(f, NUM);
	post(f, 0);	/* head 0 again: the old request is not in the way */
	assert_int_equal(vlb_queue_dispatch(&f->q), 1);
	assert_int_equal(vlb_req_complete(f->held[0], 0), -ESTALE);
	assert_int_equal(vlb_req_complete(f->held[1], 0), 0);
	assert_int_equal(used_idx(f), 1);
}

static void dispatch_after_reset_does_nothing(void **state)
{
	struct fixture *f = *state;

	vlb_queue_stop(&f->q);
	post(f, 0);
	assert_int_equal(vlb_queue_dispatch(&f->q), 0);
	assert_int_equal(f->handled, 0);
}

static void driver_reposting_a_held_chain_breaks_the_queue(void **state)
{
	struct fixture *f = *state;

	f->mode = HOLD;
	post(f, 0);
	assert_int_equal(vlb_queue_dispatch(&f->q), 1);
	make_avail(f, 0);	/* still ours */
	assert_int_equal(vlb_queue_dispatch(&f->q), -EIO);
	assert_int_equal(f->handled, 1);
	assert_int_equal(f->log.count, 1);
	assert_non_null(strstr(f->log.msg[0], "still holds"));
	assert_int_equal(vlb_req_complete(f->held[0], 0), -EIO);
}

static void malformed_ring_breaks_the_queue_and_logs_once(void **state)
{
	struct fixture *f = *state;

	make_avail(f, NUM);	/* head out of range */
	assert_int_equal(vlb_queue_dispatch(&f->q), -EIO);
	assert_int_equal(vlb_queue_dispatch(&f->q), -EIO);
	assert_int_equal(f->handled, 0);
	assert_int_equal(f->log.count, 1);
	assert_int_equal(f->log.level[0], VLB_LOG_ERR);
	assert_non_null(strstr(f->log.msg[0], "descriptor index out of range"));
}

static void ring_larger_than_queue_size_is_refused(void **state)
{
	struct fixture *f = *state;

	start(f, 2 * NUM);
	assert_int_equal(count(f->q.kick_fd), 0);
	assert_int_equal(vlb_queue_dispatch(&f->q), -EIO);
	assert_int_equal(f->log.count, 1);
}

static void round_takes_one_ring_and_rearms_the_kick(void **state)
{
	struct fixture *f = *state;

	f->repost = true;	/* an endless stream of requests */
	post_in(f, 0);
	assert_int_equal(vlb_queue_dispatch(&f->q), NUM);
	assert_int_equal(count(f->q.kick_fd), 1);	/* come back soon */
	f->repost = false;
	assert_int_equal(vlb_queue_dispatch(&f->q), 1);
	assert_int_equal(count(f->q.kick_fd), 0);
	assert_int_equal(used_idx(f), NUM + 1);
}

/* ---- lazy kicks: a device that keeps posted buffers ---- */

/* Would the driver kick after making one more chain available? */
static bool driver_kicks(struct fixture *f)
{
	uint16_t new_idx = le16toh(f->avail->idx);
	uint16_t avail_event;

	if (!(f->dev.features & (1ULL << VIRTIO_RING_F_EVENT_IDX)))
		return !(le16toh(f->used->flags) & VRING_USED_F_NO_NOTIFY);
	memcpy(&avail_event, &f->used->ring[NUM], sizeof(avail_event));
	return vring_need_event(le16toh(avail_event), new_idx,
				(uint16_t)(new_idx - 1));
}

static void restart_with(struct fixture *f, uint64_t features)
{
	vlb_queue_stop(&f->q);
	memset(f->area, 0, AREA_SIZE);
	f->dev.features = features;
	start(f, NUM);
	count(f->q.kick_fd);
}

/*
 * The driver re-posts each buffer the device fills; while the device holds
 * min_held others, that costs no kick.  The completion that leaves it
 * fewer turns kicks back on and, buffers waiting, wakes the dispatcher,
 * which takes them all.
 */
static void lazy_kick(struct fixture *f, uint64_t features, unsigned int min_held)
{
	unsigned int i, quiet = 4 - min_held;

	restart_with(f, features);
	vlb_queue_set_lazy_kick(&f->q, min_held);
	count(f->q.kick_fd);
	f->mode = HOLD;
	for (i = 0; i < 4; i++)
		post_in(f, (uint16_t)i);
	assert_int_equal(vlb_queue_dispatch(&f->q), 4);
	for (i = 0; i < quiet; i++) {
		assert_int_equal(vlb_req_complete(f->held[i], 8), 0);
		make_avail(f, (uint16_t)i);	/* the driver re-posts it */
		assert_false(driver_kicks(f));
	}
	assert_int_equal(count(f->q.kick_fd), 0);
	assert_int_equal(vlb_req_complete(f->held[quiet], 8), 0);
	assert_int_equal(count(f->q.kick_fd), 1);
	assert_int_equal(vlb_queue_dispatch(&f->q), quiet);
	assert_int_equal(used_idx(f), quiet + 1);
}

static void lazy_queue_is_not_kicked_while_it_holds_buffers(void **state)
{
	lazy_kick(*state, 0, 1);
}

static void lazy_queue_with_event_idx(void **state)
{
	lazy_kick(*state, 1ULL << VIRTIO_RING_F_EVENT_IDX, 1);
}

static void lazy_queue_wanting_two_buffers(void **state)
{
	lazy_kick(*state, 1ULL << VIRTIO_RING_F_EVENT_IDX, 2);
}

/* Without lazy kicks, re-posting a buffer kicks: the default */
static void eager_queue_is_kicked_for_each_buffer(void **state)
{
	struct fixture *f = *state;

	restart_with(f, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	f->mode = HOLD;
	post_in(f, 0);
	post_in(f, 1);
	assert_int_equal(vlb_queue_dispatch(&f->q), 2);
	assert_int_equal(vlb_req_complete(f->held[0], 8), 0);
	make_avail(f, 0);
	assert_true(driver_kicks(f));
}

/* ---- the pull API ---- */

static void pull(struct fixture *f)
{
	f->dev.ops.handle = NULL;
}

static void pull_queue_pops_in_order_then_rearms_the_kick(void **state)
{
	struct fixture *f = *state;
	struct vlb_req *req;

	pull(f);
	post(f, 0);
	post(f, 2);
	eventfd_write(f->q.kick_fd, 1);		/* the driver's kick */
	assert_int_equal(vlb_queue_pop(&f->q, &req), 1);
	assert_int_equal(((struct vlb_req_priv *)req)->head, 0);
	assert_int_equal(vlb_queue_pop(&f->q, &req), 1);
	assert_int_equal(((struct vlb_req_priv *)req)->head, 2);
	assert_int_equal(vlb_req_complete(req, 4), 0);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(vlb_queue_pop(&f->q, &req), 0);
	assert_null(req);
	/* Empty: the kick was used up and the driver kicks again */
	assert_int_equal(count(f->q.kick_fd), 0);
	assert_true(driver_kicks(f));
	assert_int_equal(f->handled, 0);
}

/* A device that stops popping holds the driver back; nothing is lost */
static void pull_queue_leaves_requests_until_popped(void **state)
{
	struct fixture *f = *state;
	struct vlb_req *req;
	unsigned int i;

	pull(f);
	for (i = 0; i < NUM; i += 2)
		post(f, (uint16_t)i);
	for (i = 0; i < NUM / 2; i++) {
		assert_int_equal(vlb_queue_pop(&f->q, &req), 1);
		assert_int_equal(vlb_req_complete(req, 0), 0);
	}
	assert_int_equal(vlb_queue_pop(&f->q, &req), 0);
	assert_int_equal(used_idx(f), NUM / 2);
}

static void push_and_pull_do_not_mix(void **state)
{
	struct fixture *f = *state;
	struct vlb_req *req;

	assert_int_equal(vlb_queue_pop(&f->q, &req), -EINVAL);
	pull(f);
	post(f, 0);
	eventfd_write(f->q.kick_fd, 1);
	assert_int_equal(vlb_queue_dispatch(&f->q), -EINVAL);
	assert_int_equal(count(f->q.kick_fd), 1);	/* not stolen */
}

static void pull_before_driver_ok_finds_nothing(void **state)
{
	struct fixture *f = *state;
	struct vlb_req *req;

	pull(f);
	post(f, 0);
	eventfd_write(f->q.kick_fd, 1);
	assert_int_equal(vlb_queue_pop(&f->q, &req), 0);
	assert_null(req);
	assert_int_equal(count(f->q.kick_fd), 0);	/* no spinning poller */
}

/* ---- completions from another thread while rounds go on ---- */

struct completer {
	struct fixture *f;
	pthread_mutex_t lock;
	struct vlb_req *reqs[NUM];
	unsigned int n;
	bool done;
	unsigned int failures;	/* cmocka's asserts only work on the main thread */
};

static struct completer *the_completer;

static void handle_to_thread(struct vlb_queue *q, struct vlb_req *req)
{
	struct completer *c = the_completer;

	(void)q;
	pthread_mutex_lock(&c->lock);
	c->reqs[c->n++] = req;
	pthread_mutex_unlock(&c->lock);
}

static void *complete_thread(void *arg)
{
	struct completer *c = arg;
	struct vlb_req *req;
	bool done;

	do {
		pthread_mutex_lock(&c->lock);
		req = c->n ? c->reqs[--c->n] : NULL;
		done = c->done && !c->n;
		pthread_mutex_unlock(&c->lock);
		if (req && vlb_req_complete(req, 1) != 0)
			c->failures++;
	} while (!done);
	return NULL;
}

static void completions_from_another_thread_reach_the_used_ring(void **state)
{
	struct fixture *f = *state;
	struct completer c = { .f = f, .lock = PTHREAD_MUTEX_INITIALIZER };
	uint16_t seen = 0, i;
	unsigned int total = 0;
	pthread_t tid;

	the_completer = &c;
	f->dev.ops.handle = handle_to_thread;
	pthread_create(&tid, NULL, complete_thread, &c);
	/* The driver's side: recycle every used chain, 2000 times over */
	for (i = 0; i < NUM; i++)
		post_in(f, i);
	while (total < 2000) {
		uint16_t now = le16toh(__atomic_load_n(&f->used->idx, __ATOMIC_ACQUIRE));

		for (; seen != now; seen++, total++)
			make_avail(f, (uint16_t)le32toh(f->used->ring[seen % NUM].id));
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		vlb_queue_dispatch(&f->q);
	}
	pthread_mutex_lock(&c.lock);
	c.done = true;
	pthread_mutex_unlock(&c.lock);
	pthread_join(tid, NULL);
	assert_int_equal(c.failures, 0);
	assert_false(f->q.vring.broken);
	assert_int_equal(f->log.count, 0);
}

/* ---- busy polling (run.c) ---- */

/* Rounds leave kicks off until polling ends */
static void polling_keeps_kicks_off_until_it_ends(void **state)
{
	struct fixture *f = *state;

	assert_false(vlb_queue_poll(&f->q));	/* nothing yet */
	post(f, 0);
	assert_true(vlb_queue_poll(&f->q));
	assert_int_equal(vlb_queue_dispatch_polled(&f->q), 1);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(count(f->q.call_fd), 1);
	assert_false(driver_kicks(f));		/* the driver stays quiet */
	assert_false(vlb_queue_poll(&f->q));
	vlb_queue_unpoll(&f->q);
	assert_true(driver_kicks(f));		/* listening again */
	assert_int_equal(count(f->q.kick_fd), 0);	/* nothing waited */
}

/* A request made between the last look and kicks coming back is not lost */
static void request_made_as_polling_ends_signals_the_fd(void **state)
{
	struct fixture *f = *state;

	assert_false(vlb_queue_poll(&f->q));
	post(f, 0);		/* kicks are off: the driver does not kick */
	vlb_queue_unpoll(&f->q);
	assert_int_equal(count(f->q.kick_fd), 1);
	assert_int_equal(vlb_queue_dispatch(&f->q), 1);
	assert_int_equal(used_idx(f), 1);
}

/* With EVENT_IDX, polled rounds leave avail_event behind: no kick wanted */
static void polling_leaves_avail_event_behind(void **state)
{
	struct fixture *f = *state;

	restart_with(f, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	post(f, 0);
	assert_int_equal(vlb_queue_dispatch(&f->q), 1);
	assert_false(vlb_queue_poll(&f->q));
	post(f, 2);
	assert_true(driver_kicks(f));	/* as the plain round left it */
	assert_true(vlb_queue_poll(&f->q));
	assert_int_equal(vlb_queue_dispatch_polled(&f->q), 1);
	post(f, 4);
	assert_false(driver_kicks(f));	/* avail_event was not moved on */
	assert_true(vlb_queue_poll(&f->q));
	assert_int_equal(vlb_queue_dispatch_polled(&f->q), 1);
	vlb_queue_unpoll(&f->q);
	assert_int_equal(count(f->q.kick_fd), 0);
	post(f, 6);
	assert_true(driver_kicks(f));
}

/* A stopped queue is never seen as busy, nor signalled when polling ends */
static void polling_a_stopped_queue_finds_nothing(void **state)
{
	struct fixture *f = *state;

	post(f, 0);
	vlb_queue_stop(&f->q);
	assert_false(vlb_queue_poll(&f->q));
	vlb_queue_unpoll(&f->q);
	assert_int_equal(count(f->q.kick_fd), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_started, teardown)
#define T_IDLE(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T_IDLE(dispatch_before_driver_ok_does_nothing),
		T_IDLE(start_wakes_the_dispatcher),
		T_IDLE(unused_queue_stays_idle),
		T(dispatch_hands_each_request_to_handle),
		T(completions_in_a_round_interrupt_once),
		T(no_interrupt_when_the_driver_suppresses_it),
		T(held_request_completed_later_interrupts_at_once),
		T(nonotify_batch_then_notify_interrupts_once),
		T(written_is_clamped_to_the_writable_size),
		T(reset_makes_held_requests_stale),
		T(second_completion_is_refused_and_logged),
		T(second_completion_of_a_stale_request_is_refused),
		T(copy_helpers_gather_and_scatter),
		T(polling_keeps_kicks_off_until_it_ends),
		T(request_made_as_polling_ends_signals_the_fd),
		T(polling_leaves_avail_event_behind),
		T(polling_a_stopped_queue_finds_nothing),
		T(new_ring_after_reset_starts_clean),
		T(dispatch_after_reset_does_nothing),
		T(driver_reposting_a_held_chain_breaks_the_queue),
		T(malformed_ring_breaks_the_queue_and_logs_once),
		T_IDLE(ring_larger_than_queue_size_is_refused),
		T(round_takes_one_ring_and_rearms_the_kick),
		T(lazy_queue_is_not_kicked_while_it_holds_buffers),
		T(lazy_queue_with_event_idx),
		T(lazy_queue_wanting_two_buffers),
		T(eager_queue_is_kicked_for_each_buffer),
		T(completions_from_another_thread_reach_the_used_ring),
		T(pull_queue_pops_in_order_then_rearms_the_kick),
		T(pull_queue_leaves_requests_until_popped),
		T(push_and_pull_do_not_mix),
		T_IDLE(pull_before_driver_ok_finds_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * lib/vring.c: split rings built by hand in an in-memory "shared area",
 * played from the driver's side, checked from the device's side.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "vring.h"

#define AREA_SIZE	65536
#define IOVA_BASE	0x100000ULL
#define NUM		8
/* Layout of the test area (offsets) */
#define DESC_OFF	0
#define AVAIL_OFF	4096
#define USED_OFF	8192
#define TABLE_OFF	12288	/* indirect tables */
#define BUF_OFF		16384	/* data buffers */

#define F_EVENT_IDX	(1ULL << VIRTIO_RING_F_EVENT_IDX)
#define F_INDIRECT	(1ULL << VIRTIO_RING_F_INDIRECT_DESC)

struct fixture {
	uint8_t *area;
	struct vlb_vring_mem mem;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	struct vlb_vring vr;
	struct iovec iov[VLB_VRING_MAX_IOV];
	struct vlb_vring_chain chain;
};

static uint64_t iova(uint64_t off)
{
	return IOVA_BASE + off;
}

static void set_desc(struct vring_desc *table, unsigned int i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	table[i].addr = htole64(addr);
	table[i].len = htole32(len);
	table[i].flags = htole16(flags);
	table[i].next = htole16(next);
}

/* The driver side of "make chain head available" */
static void make_avail(struct fixture *f, uint16_t head)
{
	uint16_t idx = le16toh(f->avail->idx);

	f->avail->ring[idx % NUM] = htole16(head);
	f->avail->idx = htole16((uint16_t)(idx + 1));
}

/* avail_event, right after the used ring */
static uint16_t used_event_of(struct fixture *f)
{
	uint16_t v;

	memcpy(&v, &f->used->ring[NUM], sizeof(v));
	return le16toh(v);
}

static void set_used_event(struct fixture *f, uint16_t v)
{
	f->avail->ring[NUM] = htole16(v);
}

static int setup_features(void **state, uint64_t features)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->area = aligned_alloc(4096, AREA_SIZE);
	assert_non_null(f->area);
	memset(f->area, 0, AREA_SIZE);
	f->mem = (struct vlb_vring_mem){ f->area, AREA_SIZE, IOVA_BASE };
	f->desc = (void *)(f->area + DESC_OFF);
	f->avail = (void *)(f->area + AVAIL_OFF);
	f->used = (void *)(f->area + USED_OFF);
	assert_int_equal(vlb_vring_init(&f->vr, &f->mem, NUM, iova(DESC_OFF),
					iova(AVAIL_OFF), iova(USED_OFF),
					features), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_features(state, F_INDIRECT);
}

static int setup_event_idx(void **state)
{
	return setup_features(state, F_INDIRECT | F_EVENT_IDX);
}

static int setup_plain(void **state)
{
	return setup_features(state, 0);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->area);
	free(f);
	return 0;
}

/*
 * Pop must fail with -EINVAL for the reason expected (not some other check
 * that happened to trip), break the ring, and every later call gets -EIO.
 */
static void assert_pop_breaks(struct fixture *f, const char *why)
{
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), -EINVAL);
	assert_true(f->vr.broken);
	assert_string_equal(f->vr.error, why);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), -EIO);
	assert_int_equal(vlb_vring_push(&f->vr, 0, 0), -EIO);
	assert_false(vlb_vring_need_call(&f->vr));
	assert_int_equal(vlb_vring_pending(&f->vr), 0);
}

/* ---- well-formed rings ---- */

static void pop_on_empty_ring_returns_zero(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(vlb_vring_pending(&f->vr), 0);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 0);
	assert_false(f->vr.broken);
}

static void pop_single_descriptor_gives_one_readable_iovec(void **state)
{
	struct fixture *f = *state;

	memcpy(f->area + BUF_OFF, "hello", 5);
	set_desc(f->desc, 3, iova(BUF_OFF), 5, 0, 0);
	make_avail(f, 3);
	assert_int_equal(vlb_vring_pending(&f->vr), 1);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	assert_int_equal(f->chain.head, 3);
	assert_int_equal(f->chain.n_out, 1);
	assert_int_equal(f->chain.n_in, 0);
	assert_ptr_equal(f->iov[0].iov_base, f->area + BUF_OFF);
	assert_int_equal(f->iov[0].iov_len, 5);
	assert_memory_equal(f->iov[0].iov_base, "hello", 5);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 0);
}

static void pop_multi_descriptor_chain_splits_out_and_in(void **state)
{
	struct fixture *f = *state;

	/* 2 readable then 2 writable, linked out of order: 5 -> 1 -> 7 -> 0 */
	set_desc(f->desc, 5, iova(BUF_OFF), 16, VRING_DESC_F_NEXT, 1);
	set_desc(f->desc, 1, iova(BUF_OFF + 100), 512, VRING_DESC_F_NEXT, 7);
	set_desc(f->desc, 7, iova(BUF_OFF + 1000), 512,
		 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 0);
	set_desc(f->desc, 0, iova(BUF_OFF + 2000), 1, VRING_DESC_F_WRITE, 0);
	make_avail(f, 5);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	assert_int_equal(f->chain.head, 5);
	assert_int_equal(f->chain.n_out, 2);
	assert_int_equal(f->chain.n_in, 2);
	assert_ptr_equal(f->iov[0].iov_base, f->area + BUF_OFF);
	assert_int_equal(f->iov[0].iov_len, 16);
	assert_ptr_equal(f->iov[1].iov_base, f->area + BUF_OFF + 100);
	assert_ptr_equal(f->iov[2].iov_base, f->area + BUF_OFF + 1000);
	assert_ptr_equal(f->iov[3].iov_base, f->area + BUF_OFF + 2000);
	assert_int_equal(f->iov[3].iov_len, 1);
}

static void pop_writable_only_chain_has_no_out(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 2, iova(BUF_OFF), 8, VRING_DESC_F_WRITE, 0);
	make_avail(f, 2);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	assert_int_equal(f->chain.n_out, 0);
	assert_int_equal(f->chain.n_in, 1);
}

static void pop_indirect_table_gives_its_chain(void **state)
{
	struct fixture *f = *state;
	struct vring_desc *table = (void *)(f->area + TABLE_OFF);

	set_desc(table, 0, iova(BUF_OFF), 16, VRING_DESC_F_NEXT, 2);
	set_desc(table, 2, iova(BUF_OFF + 64), 4096,
		 VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	set_desc(table, 1, iova(BUF_OFF + 8192), 1, VRING_DESC_F_WRITE, 0);
	/* WRITE on the indirect descriptor itself must be ignored */
	set_desc(f->desc, 4, iova(TABLE_OFF), 3 * 16,
		 VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	make_avail(f, 4);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	assert_int_equal(f->chain.head, 4);
	assert_int_equal(f->chain.n_out, 1);
	assert_int_equal(f->chain.n_in, 2);
	assert_ptr_equal(f->iov[0].iov_base, f->area + BUF_OFF);
	assert_ptr_equal(f->iov[1].iov_base, f->area + BUF_OFF + 64);
	assert_int_equal(f->iov[1].iov_len, 4096);
	assert_ptr_equal(f->iov[2].iov_base, f->area + BUF_OFF + 8192);
}

static void pop_indirect_table_may_be_unaligned(void **state)
{
	struct fixture *f = *state;
	struct vring_desc *table = (void *)(f->area + TABLE_OFF + 8);

	set_desc(table, 0, iova(BUF_OFF), 16, 0, 0);
	set_desc(f->desc, 0, iova(TABLE_OFF + 8), 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	assert_int_equal(f->chain.n_out, 1);
}

static void pop_buffer_ending_at_area_end_is_accepted(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 0, iova(AREA_SIZE - 10), 10, VRING_DESC_F_NEXT, 1);
	set_desc(f->desc, 1, iova(AREA_SIZE), 0, 0, 0);	/* empty, at the end */
	make_avail(f, 0);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	assert_int_equal(f->chain.n_out, 2);
	assert_int_equal(f->iov[1].iov_len, 0);
}

static void pop_takes_chains_in_avail_order(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 6, iova(BUF_OFF), 1, 0, 0);
	set_desc(f->desc, 2, iova(BUF_OFF + 1), 1, 0, 0);
	make_avail(f, 6);
	make_avail(f, 2);
	assert_int_equal(vlb_vring_pending(&f->vr), 2);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	assert_int_equal(f->chain.head, 6);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	assert_int_equal(f->chain.head, 2);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 0);
}

static void indices_wrap_at_16_bits(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	/* Both sides start just below the wrap, as after 65534 requests */
	f->avail->idx = htole16(65534);
	f->vr.last_avail = 65534;
	f->vr.used_idx = 65534;
	f->used->idx = htole16(65534);
	set_desc(f->desc, 1, iova(BUF_OFF), 4, 0, 0);
	for (i = 0; i < 4; i++)
		make_avail(f, 1);
	assert_int_equal(le16toh(f->avail->idx), 2);
	assert_int_equal(vlb_vring_pending(&f->vr), 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
		assert_int_equal(vlb_vring_push(&f->vr, f->chain.head, 0), 0);
	}
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 0);
	assert_int_equal(le16toh(f->used->idx), 2);
	/* 65534 % 8 = 6: elements went to slots 6, 7, 0, 1 */
	assert_int_equal(le32toh(f->used->ring[7].id), 1);
	assert_int_equal(le32toh(f->used->ring[0].id), 1);
}

static void push_writes_used_element_and_index(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 3, iova(BUF_OFF), 64, VRING_DESC_F_WRITE, 0);
	set_desc(f->desc, 5, iova(BUF_OFF + 64), 64, VRING_DESC_F_WRITE, 0);
	make_avail(f, 3);
	make_avail(f, 5);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	/* Completion order is the device's choice: 5 first */
	assert_int_equal(vlb_vring_push(&f->vr, 5, 17), 0);
	assert_int_equal(le16toh(f->used->idx), 1);
	assert_int_equal(le32toh(f->used->ring[0].id), 5);
	assert_int_equal(le32toh(f->used->ring[0].len), 17);
	assert_int_equal(vlb_vring_push(&f->vr, 3, 64), 0);
	assert_int_equal(le16toh(f->used->idx), 2);
	assert_int_equal(le32toh(f->used->ring[1].id), 3);
	assert_int_equal(le32toh(f->used->ring[1].len), 64);
}

static void push_rejects_head_outside_ring_without_breaking(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(vlb_vring_push(&f->vr, NUM, 0), -EINVAL);
	assert_false(f->vr.broken);
	assert_int_equal(le16toh(f->used->idx), 0);
}

/* ---- interrupt (call) and kick suppression ---- */

static void need_call_false_when_nothing_was_pushed(void **state)
{
	struct fixture *f = *state;

	vlb_vring_push(&f->vr, 0, 0);
	assert_true(vlb_vring_need_call(&f->vr));
	assert_false(vlb_vring_need_call(&f->vr));
}

static void need_call_honours_no_interrupt_flag(void **state)
{
	struct fixture *f = *state;

	f->avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	vlb_vring_push(&f->vr, 0, 0);
	assert_false(vlb_vring_need_call(&f->vr));
	f->avail->flags = 0;
	vlb_vring_push(&f->vr, 1, 0);
	assert_true(vlb_vring_need_call(&f->vr));
}

static void need_call_event_idx_ignores_no_interrupt_flag(void **state)
{
	struct fixture *f = *state;

	/* first call after init always interrupts (nothing to compare with) */
	f->avail->flags = htole16(VRING_AVAIL_F_NO_INTERRUPT);
	vlb_vring_push(&f->vr, 0, 0);
	assert_true(vlb_vring_need_call(&f->vr));
	set_used_event(f, 1);	/* wants a call when used idx passes 1 */
	vlb_vring_push(&f->vr, 1, 0);
	assert_true(vlb_vring_need_call(&f->vr));
}

static void need_call_event_idx_waits_for_used_event(void **state)
{
	struct fixture *f = *state;

	vlb_vring_push(&f->vr, 0, 0);
	assert_true(vlb_vring_need_call(&f->vr));	/* used idx 1 */
	/* The driver wants to hear once entry 3 is used (used idx goes past 3) */
	set_used_event(f, 3);
	vlb_vring_push(&f->vr, 1, 0);			/* used idx 2 */
	assert_false(vlb_vring_need_call(&f->vr));
	vlb_vring_push(&f->vr, 2, 0);			/* used idx 3 */
	assert_false(vlb_vring_need_call(&f->vr));
	vlb_vring_push(&f->vr, 3, 0);			/* used idx 4: passes 3 */
	assert_true(vlb_vring_need_call(&f->vr));
	vlb_vring_push(&f->vr, 4, 0);			/* already past: quiet */
	assert_false(vlb_vring_need_call(&f->vr));
}

static void need_call_event_idx_batch_crossing_event_calls_once(void **state)
{
	struct fixture *f = *state;

	vlb_vring_push(&f->vr, 0, 0);
	assert_true(vlb_vring_need_call(&f->vr));	/* used idx 1 */
	set_used_event(f, 2);
	vlb_vring_push(&f->vr, 1, 0);
	vlb_vring_push(&f->vr, 2, 0);
	vlb_vring_push(&f->vr, 3, 0);			/* batch 1..4 crosses 2 */
	assert_true(vlb_vring_need_call(&f->vr));
	assert_false(vlb_vring_need_call(&f->vr));
}

static void kick_suppression_without_event_idx_uses_used_flags(void **state)
{
	struct fixture *f = *state;

	vlb_vring_disable_kick(&f->vr);
	assert_int_equal(le16toh(f->used->flags), VRING_USED_F_NO_NOTIFY);
	assert_false(vlb_vring_enable_kick(&f->vr));
	assert_int_equal(le16toh(f->used->flags), 0);
}

static void enable_kick_with_event_idx_publishes_avail_event(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 0, iova(BUF_OFF), 1, 0, 0);
	make_avail(f, 0);
	make_avail(f, 0);
	vlb_vring_disable_kick(&f->vr);
	assert_int_equal(le16toh(f->used->flags), 0);	/* flags unused */
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	assert_false(vlb_vring_enable_kick(&f->vr));
	assert_int_equal(used_event_of(f), 2);
}

static void enable_kick_reports_entries_that_arrived_meanwhile(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 0, iova(BUF_OFF), 1, 0, 0);
	vlb_vring_disable_kick(&f->vr);
	make_avail(f, 0);	/* the driver adds while kicks are off */
	assert_true(vlb_vring_enable_kick(&f->vr));
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	assert_false(vlb_vring_enable_kick(&f->vr));
}

/* ---- ring set-up ---- */

static void init_rejects_size_not_power_of_two(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(vlb_vring_init(&f->vr, &f->mem, 6, iova(DESC_OFF),
					iova(AVAIL_OFF), iova(USED_OFF), 0),
			 -EINVAL);
	assert_true(f->vr.broken);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), -EIO);
	assert_int_equal(vlb_vring_init(&f->vr, &f->mem, 0, iova(DESC_OFF),
					iova(AVAIL_OFF), iova(USED_OFF), 0),
			 -EINVAL);
	assert_int_equal(vlb_vring_init(&f->vr, &f->mem, 2048, iova(DESC_OFF),
					iova(AVAIL_OFF), iova(USED_OFF), 0),
			 -EINVAL);
}

static void init_rejects_misaligned_ring_parts(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(vlb_vring_init(&f->vr, &f->mem, NUM, iova(8),
					iova(AVAIL_OFF), iova(USED_OFF), 0),
			 -EINVAL);
	assert_int_equal(vlb_vring_init(&f->vr, &f->mem, NUM, iova(DESC_OFF),
					iova(AVAIL_OFF + 1), iova(USED_OFF), 0),
			 -EINVAL);
	assert_int_equal(vlb_vring_init(&f->vr, &f->mem, NUM, iova(DESC_OFF),
					iova(AVAIL_OFF), iova(USED_OFF + 2), 0),
			 -EINVAL);
}

static void init_rejects_ring_outside_area(void **state)
{
	struct fixture *f = *state;

	/* desc below the base, used running past the end */
	assert_int_equal(vlb_vring_init(&f->vr, &f->mem, NUM, IOVA_BASE - 4096,
					iova(AVAIL_OFF), iova(USED_OFF), 0),
			 -EINVAL);
	assert_int_equal(vlb_vring_init(&f->vr, &f->mem, NUM, iova(DESC_OFF),
					iova(AVAIL_OFF), iova(AREA_SIZE - 64), 0),
			 -EINVAL);
	assert_true(f->vr.broken);
}

static void translate_checks_every_byte(void **state)
{
	struct fixture *f = *state;

	assert_ptr_equal(vlb_vring_translate(&f->mem, IOVA_BASE, AREA_SIZE),
			 f->area);
	assert_null(vlb_vring_translate(&f->mem, IOVA_BASE, AREA_SIZE + 1));
	assert_null(vlb_vring_translate(&f->mem, IOVA_BASE - 1, 1));
	assert_null(vlb_vring_translate(&f->mem, iova(AREA_SIZE), 1));
	assert_null(vlb_vring_translate(&f->mem, UINT64_MAX, 2));
	assert_null(vlb_vring_translate(&f->mem, iova(16), UINT64_MAX));
}

/* ---- malformed driver data: -EINVAL, then the ring is broken ---- */

static void pop_rejects_head_out_of_range(void **state)
{
	struct fixture *f = *state;

	make_avail(f, NUM);
	assert_pop_breaks(f, "descriptor index out of range");
}

static void pop_rejects_next_out_of_range(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 0, iova(BUF_OFF), 1, VRING_DESC_F_NEXT, NUM);
	make_avail(f, 0);
	assert_pop_breaks(f, "descriptor index out of range");
}

static void pop_rejects_descriptor_pointing_to_itself(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 2, iova(BUF_OFF), 1, VRING_DESC_F_NEXT, 2);
	make_avail(f, 2);
	assert_pop_breaks(f, "descriptor chain loops or is too long");
}

static void pop_rejects_loop_through_the_whole_ring(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	/* 0 -> 1 -> ... -> 7 -> 0: every step is in range, the chain never ends */
	for (i = 0; i < NUM; i++)
		set_desc(f->desc, i, iova(BUF_OFF), 1, VRING_DESC_F_NEXT,
			 (uint16_t)((i + 1) % NUM));
	make_avail(f, 0);
	assert_pop_breaks(f, "descriptor chain loops or is too long");
}

static void pop_accepts_chain_exactly_ring_size_long(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	for (i = 0; i < NUM - 1; i++)
		set_desc(f->desc, i, iova(BUF_OFF), 1, VRING_DESC_F_NEXT,
			 (uint16_t)(i + 1));
	set_desc(f->desc, NUM - 1, iova(BUF_OFF), 1, 0, 0);
	make_avail(f, 0);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	assert_int_equal(f->chain.n_out, NUM);
}

static void pop_rejects_loop_inside_indirect_table(void **state)
{
	struct fixture *f = *state;
	struct vring_desc *table = (void *)(f->area + TABLE_OFF);

	set_desc(table, 0, iova(BUF_OFF), 1, VRING_DESC_F_NEXT, 1);
	set_desc(table, 1, iova(BUF_OFF), 1, VRING_DESC_F_NEXT, 0);
	set_desc(f->desc, 0, iova(TABLE_OFF), 2 * 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "descriptor chain loops or is too long");
}

static void pop_rejects_next_beyond_indirect_table(void **state)
{
	struct fixture *f = *state;
	struct vring_desc *table = (void *)(f->area + TABLE_OFF);

	/* in range for the ring, but the table has only 2 entries */
	set_desc(table, 0, iova(BUF_OFF), 1, VRING_DESC_F_NEXT, 2);
	set_desc(f->desc, 0, iova(TABLE_OFF), 2 * 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "descriptor index out of range");
}

static void pop_rejects_indirect_inside_indirect(void **state)
{
	struct fixture *f = *state;
	struct vring_desc *table = (void *)(f->area + TABLE_OFF);

	set_desc(table, 0, iova(TABLE_OFF + 256), 16, VRING_DESC_F_INDIRECT, 0);
	set_desc(f->desc, 0, iova(TABLE_OFF), 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "indirect descriptor in an indirect table");
}

static void pop_rejects_indirect_len_not_multiple_of_16(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 0, iova(TABLE_OFF), 24, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "indirect table size invalid");
}

static void pop_rejects_indirect_len_zero(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 0, iova(TABLE_OFF), 0, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "indirect table size invalid");
}

static void pop_rejects_indirect_table_larger_than_limit(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 0, iova(0), (VLB_VRING_MAX_IOV + 1) * 16,
		 VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "indirect table size invalid");
}

static void pop_rejects_indirect_table_outside_area(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 0, iova(AREA_SIZE - 16), 32, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "indirect table outside the shared area");
}

static void pop_rejects_indirect_with_next(void **state)
{
	struct fixture *f = *state;
	struct vring_desc *table = (void *)(f->area + TABLE_OFF);

	set_desc(table, 0, iova(BUF_OFF), 1, 0, 0);
	set_desc(f->desc, 0, iova(TABLE_OFF), 16,
		 VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	set_desc(f->desc, 1, iova(BUF_OFF), 1, 0, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "indirect descriptor with NEXT set");
}

static void pop_rejects_indirect_after_direct_descriptor(void **state)
{
	struct fixture *f = *state;
	struct vring_desc *table = (void *)(f->area + TABLE_OFF);

	set_desc(table, 0, iova(BUF_OFF), 1, 0, 0);
	set_desc(f->desc, 0, iova(BUF_OFF), 1, VRING_DESC_F_NEXT, 1);
	set_desc(f->desc, 1, iova(TABLE_OFF), 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "indirect descriptor not at the chain head");
}

static void pop_rejects_indirect_when_not_negotiated(void **state)
{
	struct fixture *f = *state;
	struct vring_desc *table = (void *)(f->area + TABLE_OFF);

	set_desc(table, 0, iova(BUF_OFF), 1, 0, 0);
	set_desc(f->desc, 0, iova(TABLE_OFF), 16, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "indirect descriptor not negotiated");
}

static void pop_rejects_buffer_below_area(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 0, IOVA_BASE - 16, 8, 0, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "buffer outside the shared area");
}

static void pop_rejects_buffer_running_past_area_end(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 0, iova(AREA_SIZE - 8), 9, 0, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "buffer outside the shared area");
}

static void pop_rejects_buffer_address_wrapping_around(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 0, UINT64_MAX - 4, 0x10000, 0, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "buffer outside the shared area");
}

static void pop_rejects_indirect_entry_outside_area(void **state)
{
	struct fixture *f = *state;
	struct vring_desc *table = (void *)(f->area + TABLE_OFF);

	set_desc(table, 0, iova(BUF_OFF), 1, VRING_DESC_F_NEXT, 1);
	set_desc(table, 1, iova(AREA_SIZE), 1, VRING_DESC_F_WRITE, 0);
	set_desc(f->desc, 0, iova(TABLE_OFF), 32, VRING_DESC_F_INDIRECT, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "buffer outside the shared area");
}

static void pop_rejects_readable_after_writable(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 0, iova(BUF_OFF), 8,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	set_desc(f->desc, 1, iova(BUF_OFF + 8), 8, 0, 0);
	make_avail(f, 0);
	assert_pop_breaks(f, "readable buffer after a writable one");
}

static void pop_rejects_avail_idx_jump_beyond_ring_size(void **state)
{
	struct fixture *f = *state;

	set_desc(f->desc, 0, iova(BUF_OFF), 1, 0, 0);
	f->avail->idx = htole16(NUM + 1);
	assert_pop_breaks(f, "avail index moved by more than the ring size");
}

static void pop_accepts_avail_idx_exactly_ring_size_ahead(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	set_desc(f->desc, 0, iova(BUF_OFF), 1, 0, 0);
	for (i = 0; i < NUM; i++)
		make_avail(f, 0);
	for (i = 0; i < NUM; i++)
		assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 0);
}

static void init_after_break_makes_ring_usable_again(void **state)
{
	struct fixture *f = *state;

	make_avail(f, NUM);
	assert_pop_breaks(f, "descriptor index out of range");
	memset(f->area, 0, 16384);	/* the driver re-creates its rings */
	assert_int_equal(vlb_vring_init(&f->vr, &f->mem, NUM, iova(DESC_OFF),
					iova(AVAIL_OFF), iova(USED_OFF),
					F_INDIRECT), 0);
	assert_false(f->vr.broken);
	set_desc(f->desc, 1, iova(BUF_OFF), 1, 0, 0);
	make_avail(f, 1);
	assert_int_equal(vlb_vring_pop(&f->vr, &f->chain, f->iov), 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define T_EVENT(fn) cmocka_unit_test_setup_teardown(fn, setup_event_idx, teardown)
#define T_PLAIN(fn) cmocka_unit_test_setup_teardown(fn, setup_plain, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(pop_on_empty_ring_returns_zero),
		T(pop_single_descriptor_gives_one_readable_iovec),
		T(pop_multi_descriptor_chain_splits_out_and_in),
		T(pop_writable_only_chain_has_no_out),
		T(pop_indirect_table_gives_its_chain),
		T(pop_indirect_table_may_be_unaligned),
		T(pop_buffer_ending_at_area_end_is_accepted),
		T(pop_takes_chains_in_avail_order),
		T(indices_wrap_at_16_bits),
		T(push_writes_used_element_and_index),
		T(push_rejects_head_outside_ring_without_breaking),
		T(need_call_false_when_nothing_was_pushed),
		T(need_call_honours_no_interrupt_flag),
		T_EVENT(need_call_event_idx_ignores_no_interrupt_flag),
		T_EVENT(need_call_event_idx_waits_for_used_event),
		T_EVENT(need_call_event_idx_batch_crossing_event_calls_once),
		T(kick_suppression_without_event_idx_uses_used_flags),
		T_EVENT(enable_kick_with_event_idx_publishes_avail_event),
		T(enable_kick_reports_entries_that_arrived_meanwhile),
		T_EVENT(enable_kick_reports_entries_that_arrived_meanwhile),
		T(init_rejects_size_not_power_of_two),
		T(init_rejects_misaligned_ring_parts),
		T(init_rejects_ring_outside_area),
		T(translate_checks_every_byte),
		T(pop_rejects_head_out_of_range),
		T(pop_rejects_next_out_of_range),
		T(pop_rejects_descriptor_pointing_to_itself),
		T(pop_rejects_loop_through_the_whole_ring),
		T(pop_accepts_chain_exactly_ring_size_long),
		T(pop_rejects_loop_inside_indirect_table),
		T(pop_rejects_next_beyond_indirect_table),
		T(pop_rejects_indirect_inside_indirect),
		T(pop_rejects_indirect_len_not_multiple_of_16),
		T(pop_rejects_indirect_len_zero),
		T(pop_rejects_indirect_table_larger_than_limit),
		T(pop_rejects_indirect_table_outside_area),
		T(pop_rejects_indirect_with_next),
		T(pop_rejects_indirect_after_direct_descriptor),
		T_PLAIN(pop_rejects_indirect_when_not_negotiated),
		T(pop_rejects_buffer_below_area),
		T(pop_rejects_buffer_running_past_area_end),
		T(pop_rejects_buffer_address_wrapping_around),
		T(pop_rejects_indirect_entry_outside_area),
		T(pop_rejects_readable_after_writable),
		T(pop_rejects_avail_idx_jump_beyond_ring_size),
		T(pop_accepts_avail_idx_exactly_ring_size_ahead),
		T(init_after_break_makes_ring_usable_again),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * IOVAs for bounce mappings: a genalloc pool over the bounce region, with
 * a per-CPU cache of small freed ranges in front of it.
 *
 * A 4k request maps and unmaps four small ranges (its header, indirect
 * table, data and status byte).  genalloc's first-fit bitmap search and
 * its atomic bit updates took about half of the module's map and unmap
 * time (tests/bench/results/module-time.md), so a range of up to
 * VLB_IOVA_CLASSES slots goes back to the freeing CPU's cache, by size,
 * and the next mapping of that size on that CPU takes it from there, under
 * a lock only another CPU ever contends.  Completions often run on another
 * CPU than submissions: a CPU whose cache is empty takes half of one of
 * the next few CPUs' before it asks the pool.
 *
 * Cached ranges are free area the pool does not see.  When the pool cannot
 * serve a mapping, every cache is emptied into it and the mapping is tried
 * once more, so a request that fits the area with nothing else in flight
 * still does.
 */
#include <linux/genalloc.h>
#include <linux/minmax.h>
#include <linux/percpu.h>
#include <linux/spinlock.h>

#include "vloopback.h"

#define VLB_IOVA_CLASSES	8	/* ranges of 1 to 8 slots are cached */
#define VLB_IOVA_DEPTH		32	/* cached ranges per CPU and size */
#define VLB_IOVA_STEAL		4	/* other CPUs' caches tried on a miss */

struct vlb_iova_cache {
	raw_spinlock_t lock;
	u8 n[VLB_IOVA_CLASSES];
	u64 iova[VLB_IOVA_CLASSES][VLB_IOVA_DEPTH];
};

/* The cache class of a range of @len bytes, or -1 if it is not cached. */
static int class_of(size_t len)
{
	size_t slots = DIV_ROUND_UP(len, VLB_SLOT_SIZE);

	return slots && slots <= VLB_IOVA_CLASSES ? slots - 1 : -1;
}

static size_t class_len(int k)
{
	return (size_t)(k + 1) << VLB_SLOT_SHIFT;
}

/* Move up to half of @from's ranges of class @k to @to; both locked. */
static void take_half(struct vlb_iova_cache *to, struct vlb_iova_cache *from,
		      int k)
{
	unsigned int m = DIV_ROUND_UP(from->n[k], 2);

	m = min_t(unsigned int, m, VLB_IOVA_DEPTH - to->n[k]);
	from->n[k] -= m;
	memcpy(&to->iova[k][to->n[k]], &from->iova[k][from->n[k]],
	       m * sizeof(u64));
	to->n[k] += m;
}

/*
 * Refill this CPU's empty class @k from the next CPUs' caches (a few, so a
 * miss costs the same on any machine).  Interrupts are off.
 */
static void steal(struct vlb_iova *a, struct vlb_iova_cache *c, int k)
{
	unsigned int cpu = smp_processor_id(), tries;

	for (tries = 0; tries < VLB_IOVA_STEAL && !c->n[k]; tries++) {
		struct vlb_iova_cache *o;

		cpu = cpumask_next(cpu, cpu_possible_mask);
		if (cpu >= nr_cpu_ids)
			cpu = cpumask_first(cpu_possible_mask);
		o = per_cpu_ptr(a->cache, cpu);
		if (o == c)
			return;		/* round the machine */
		if (!READ_ONCE(o->n[k]) || !raw_spin_trylock(&o->lock))
			continue;
		take_half(c, o, k);
		raw_spin_unlock(&o->lock);
	}
}

static u64 cache_get(struct vlb_iova *a, int k)
{
	struct vlb_iova_cache *c;
	unsigned long flags;
	u64 iova = 0;

	local_irq_save(flags);
	c = this_cpu_ptr(a->cache);
	raw_spin_lock(&c->lock);
	if (!c->n[k])
		steal(a, c, k);
	if (c->n[k])
		iova = c->iova[k][--c->n[k]];
	raw_spin_unlock(&c->lock);
	local_irq_restore(flags);
	return iova;
}

static bool cache_put(struct vlb_iova *a, int k, u64 iova)
{
	struct vlb_iova_cache *c;
	unsigned long flags;
	bool kept = false;

	local_irq_save(flags);
	c = this_cpu_ptr(a->cache);
	raw_spin_lock(&c->lock);
	if (c->n[k] < VLB_IOVA_DEPTH) {
		c->iova[k][c->n[k]++] = iova;
		kept = true;
	}
	raw_spin_unlock(&c->lock);
	local_irq_restore(flags);
	return kept;
}

/* Give every cached range back to the pool. */
static void drain(struct vlb_iova *a)
{
	unsigned long flags;
	unsigned int cpu, i;
	int k;

	for_each_possible_cpu(cpu) {
		struct vlb_iova_cache *c = per_cpu_ptr(a->cache, cpu);

		raw_spin_lock_irqsave(&c->lock, flags);
		for (k = 0; k < VLB_IOVA_CLASSES; k++) {
			for (i = 0; i < c->n[k]; i++)
				gen_pool_free(a->pool, c->iova[k][i],
					      class_len(k));
			c->n[k] = 0;
		}
		raw_spin_unlock_irqrestore(&c->lock, flags);
	}
}

/* An IOVA for @len bytes (at least one), or 0. */
u64 vlb_iova_alloc(struct vlb_iova *a, size_t len)
{
	int k = class_of(len);
	u64 iova;

	if (k >= 0) {
		iova = cache_get(a, k);
		if (iova)
			return iova;
		len = class_len(k);
	}
	iova = gen_pool_alloc(a->pool, len);
	if (!iova) {
		drain(a);
		iova = gen_pool_alloc(a->pool, len);
	}
	return iova;
}

void vlb_iova_free(struct vlb_iova *a, u64 iova, size_t len)
{
	int k = class_of(len);

	if (k >= 0 && cache_put(a, k, iova))
		return;
	gen_pool_free(a->pool, iova, len);
}

int vlb_iova_init(struct vlb_iova *a, u64 iova, size_t size)
{
	unsigned int cpu;

	a->cache = alloc_percpu_gfp(struct vlb_iova_cache, GFP_KERNEL_ACCOUNT);
	if (!a->cache)
		return -ENOMEM;
	for_each_possible_cpu(cpu)
		raw_spin_lock_init(&per_cpu_ptr(a->cache, cpu)->lock);
	a->pool = gen_pool_create(VLB_SLOT_SHIFT, NUMA_NO_NODE);
	if (!a->pool)
		return -ENOMEM;
	return gen_pool_add(a->pool, iova, size, NUMA_NO_NODE);
}

/* Every IOVA handed out was freed. */
void vlb_iova_destroy(struct vlb_iova *a)
{
	if (a->pool && a->cache)
		drain(a);
	if (a->pool)
		gen_pool_destroy(a->pool);
	free_percpu(a->cache);
	a->pool = NULL;
	a->cache = NULL;
}

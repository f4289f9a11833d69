/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/idr.h>: ID maps (idr: id -> pointer) and ID allocators (ida).
 * An idr's table is kernel memory (kmalloc'd, freed when it empties or at idr_destroy), so an
 * idr left populated at module exit is a leak finding. An ida holds up to HVB_IDA_MAX ids
 * (allocations beyond return -ENOSPC).
 */
#ifndef _HVB_LINUX_IDR_H
#define _HVB_LINUX_IDR_H

#include "../hvb_kernel.h"
#include "errno.h"
#include "err.h"
#include "gfp.h"
#include "limits.h"

struct idr {
	void **ptrs; /* kmalloc'd, cap entries */
	unsigned int cap;
	unsigned int base;
	unsigned int next; /* idr_alloc_cyclic */
	unsigned int count;
};
#define IDR_INIT_BASE(name, b) { NULL, 0, (b), 0, 0 }
#define IDR_INIT(name) IDR_INIT_BASE(name, 0)
#define DEFINE_IDR(name) struct idr name = IDR_INIT(name)
static inline void idr_init_base(struct idr *idr, int base)
{
	idr->ptrs = NULL;
	idr->cap = 0;
	idr->base = (unsigned int)base;
	idr->next = 0;
	idr->count = 0;
}
static inline void idr_init(struct idr *idr) { idr_init_base(idr, 0); }
static inline void idr_preload(gfp_t gfp) { (void)gfp; }
static inline void idr_preload_end(void) { }
static inline bool idr_is_empty(const struct idr *idr) { return idr->count == 0; }
static inline void idr_destroy(struct idr *idr)
{
	hvb_kops->kfree(idr->ptrs, "idr_destroy");
	idr->ptrs = NULL;
	idr->cap = 0;
	idr->count = 0;
}
/* The slot of id, growing the table to hold it; NULL when out of memory. */
static inline void **hvb_idr_slot(struct idr *idr, unsigned int id, gfp_t gfp)
{
	if (id >= idr->cap) {
		unsigned int cap = idr->cap ? idr->cap : 16;
		void **p;

		while (cap <= id)
			cap *= 2;
		p = (void **)hvb_kops->kmalloc(cap * sizeof(void *), gfp, 1, "idr_alloc");
		if (!p)
			return NULL;
		if (idr->ptrs)
			memcpy(p, idr->ptrs, idr->cap * sizeof(void *));
		hvb_kops->kfree(idr->ptrs, "idr_alloc");
		idr->ptrs = p;
		idr->cap = cap;
	}
	return &idr->ptrs[id];
}
/* The lowest free id in [start, end) (end <= 0: no limit); -ENOSPC or -ENOMEM. */
static inline int idr_alloc(struct idr *idr, void *ptr, int start, int end, gfp_t gfp)
{
	unsigned int lo = (unsigned int)(start < (int)idr->base ? (int)idr->base : start);
	unsigned int hi = end <= 0 ? (unsigned int)INT_MAX : (unsigned int)end;
	unsigned int id;

	hvb_kops->sched_point("idr_alloc");
	if (start < 0)
		return -EINVAL;
	for (id = lo; id < hi; id++) {
		void **slot;

		if (id < idr->cap && idr->ptrs[id])
			continue;
		slot = hvb_idr_slot(idr, id - idr->base, gfp);
		if (!slot)
			return -ENOMEM;
		/* A NULL entry still reserves its id, as idr_alloc(idr, NULL, ...) does. */
		*slot = ptr ? ptr : (void *)1;
		idr->count++;
		return (int)id;
	}
	return -ENOSPC;
}
static inline int idr_alloc_cyclic(struct idr *idr, void *ptr, int start, int end, gfp_t gfp)
{
	int from = (int)idr->next > start ? (int)idr->next : start;
	int id = idr_alloc(idr, ptr, from, end, gfp);

	if (id == -ENOSPC && from > start)
		id = idr_alloc(idr, ptr, start, end, gfp);
	if (id >= 0)
		idr->next = (unsigned int)id + 1;
	return id;
}
static inline int idr_alloc_u32(struct idr *idr, void *ptr, u32 *nextid, unsigned long max, gfp_t gfp)
{
	int id = idr_alloc(idr, ptr, (int)*nextid, max >= INT_MAX ? 0 : (int)max + 1, gfp);

	if (id < 0)
		return id;
	*nextid = (u32)id;
	return 0;
}
static inline void *hvb_idr_value(void *p) { return p == (void *)1 ? NULL : p; }
static inline void *idr_find(const struct idr *idr, unsigned long id)
{
	unsigned long i = id - idr->base;

	if (id < idr->base || i >= idr->cap)
		return NULL;
	return hvb_idr_value(READ_ONCE(idr->ptrs[i]));
}
static inline void *idr_remove(struct idr *idr, unsigned long id)
{
	unsigned long i = id - idr->base;
	void *p;

	hvb_kops->sched_point("idr_remove");
	if (id < idr->base || i >= idr->cap || !idr->ptrs[i])
		return NULL;
	p = idr->ptrs[i];
	idr->ptrs[i] = NULL;
	if (--idr->count == 0)
		idr_destroy(idr); /* the tree frees its nodes as it empties */
	return hvb_idr_value(p);
}
static inline void *idr_replace(struct idr *idr, void *ptr, unsigned long id)
{
	unsigned long i = id - idr->base;
	void *old;

	if (id < idr->base || i >= idr->cap || !idr->ptrs[i])
		return ERR_PTR(-ENOENT);
	old = idr->ptrs[i];
	idr->ptrs[i] = ptr ? ptr : (void *)1;
	return hvb_idr_value(old);
}
/* The entry at or after *nextid (updated), or NULL. */
static inline void *idr_get_next(struct idr *idr, int *nextid)
{
	unsigned int i;

	for (i = (unsigned int)*nextid < idr->base ? 0 : (unsigned int)*nextid - idr->base; i < idr->cap; i++) {
		if (idr->ptrs[i] && idr->ptrs[i] != (void *)1) {
			*nextid = (int)(i + idr->base);
			return idr->ptrs[i];
		}
	}
	return NULL;
}
static inline void *idr_get_next_ul(struct idr *idr, unsigned long *nextid)
{
	int id = (int)*nextid;
	void *p = idr_get_next(idr, &id);

	*nextid = (unsigned long)id;
	return p;
}
static inline int idr_for_each(const struct idr *idr, int (*fn)(int id, void *p, void *data), void *data)
{
	unsigned int i;

	for (i = 0; i < idr->cap; i++) {
		if (idr->ptrs[i] && idr->ptrs[i] != (void *)1) {
			int r = fn((int)(i + idr->base), idr->ptrs[i], data);

			if (r)
				return r;
		}
	}
	return 0;
}
#define idr_for_each_entry(idr, entry, id) \
	for (id = 0; ((entry) = idr_get_next(idr, &(id))) != NULL; id += 1U)
#define idr_for_each_entry_ul(idr, entry, tmp, id) \
	for (tmp = 0, id = 0; ((entry) = idr_get_next_ul(idr, &(id))) != NULL; id += 1UL)
#define idr_for_each_entry_continue(idr, entry, id) \
	for ((entry) = idr_get_next((idr), &(id)); entry; ++id, (entry) = idr_get_next((idr), &(id)))

/* ---- ida ---- */
#define HVB_IDA_MAX 4096
struct ida {
	unsigned long bits[HVB_IDA_MAX / (8 * sizeof(unsigned long))];
};
#define IDA_INIT(name) { { 0 } }
#define DEFINE_IDA(name) struct ida name = IDA_INIT(name)
static inline void ida_init(struct ida *ida) { memset(ida, 0, sizeof(*ida)); }
static inline bool ida_is_empty(const struct ida *ida)
{
	size_t i;

	for (i = 0; i < sizeof(ida->bits) / sizeof(ida->bits[0]); i++)
		if (ida->bits[i])
			return false;
	return true;
}
static inline void ida_destroy(struct ida *ida) { ida_init(ida); }
/* The lowest free id in [min, max] (inclusive, as ida_alloc_range takes it). */
static inline int ida_alloc_range(struct ida *ida, unsigned int min, unsigned int max, gfp_t gfp)
{
	unsigned int id;
	const unsigned int w = 8 * sizeof(unsigned long);

	(void)gfp;
	hvb_kops->sched_point("ida_alloc");
	if ((int)min < 0)
		return -ENOSPC;
	for (id = min; id <= max && id < HVB_IDA_MAX; id++) {
		if (!(ida->bits[id / w] & (1UL << (id % w)))) {
			ida->bits[id / w] |= 1UL << (id % w);
			return (int)id;
		}
	}
	return -ENOSPC;
}
static inline int ida_alloc(struct ida *ida, gfp_t gfp) { return ida_alloc_range(ida, 0, INT_MAX, gfp); }
static inline int ida_alloc_min(struct ida *ida, unsigned int min, gfp_t gfp) { return ida_alloc_range(ida, min, INT_MAX, gfp); }
static inline int ida_alloc_max(struct ida *ida, unsigned int max, gfp_t gfp) { return ida_alloc_range(ida, 0, max, gfp); }
static inline void ida_free(struct ida *ida, unsigned int id)
{
	const unsigned int w = 8 * sizeof(unsigned long);

	hvb_kops->sched_point("ida_free");
	if (id >= HVB_IDA_MAX || !(ida->bits[id / w] & (1UL << (id % w)))) {
		hvb_kops->report("guest.ida-free", "ida_free of an id not allocated");
		return;
	}
	ida->bits[id / w] &= ~(1UL << (id % w));
}
/* ida_simple_get(ida, start, end, gfp): end is exclusive, 0 for no limit. */
static inline int ida_simple_get(struct ida *ida, unsigned int start, unsigned int end, gfp_t gfp)
{
	return ida_alloc_range(ida, start, end ? end - 1 : INT_MAX, gfp);
}
static inline void ida_simple_remove(struct ida *ida, unsigned int id) { ida_free(ida, id); }

#endif

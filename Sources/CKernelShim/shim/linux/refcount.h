/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/refcount.h>: refcount_t with the kernel's saturation semantics
 * (lib/refcount.c): an increment from 0, an overflow or an underflow pins the counter at
 * REFCOUNT_SATURATED (so the object leaks instead of being freed early) and is a finding:
 *   addition on 0          guest.use-after-free
 *   underflow              guest.refcount-negative
 *   overflow / saturated   guest.refcount-saturated
 *   refcount_dec() to 0    guest.refcount-leak (the object can never be released)
 * Every operation is a scheduling point; one on freed memory is reported as a use-after-free.
 */
#ifndef _HVB_LINUX_REFCOUNT_H
#define _HVB_LINUX_REFCOUNT_H

#include "atomic.h"
#include "limits.h"
#include "mutex.h"
#include "spinlock.h"

typedef struct refcount_struct {
	atomic_t refs;
} refcount_t;

#define REFCOUNT_INIT(n) { .refs = ATOMIC_INIT(n) }
#define REFCOUNT_MAX INT_MAX
#define REFCOUNT_SATURATED (INT_MIN / 2)

enum refcount_saturation_type {
	REFCOUNT_ADD_NOT_ZERO_OVF,
	REFCOUNT_ADD_OVF,
	REFCOUNT_ADD_UAF,
	REFCOUNT_SUB_UAF,
	REFCOUNT_DEC_LEAK,
};

static inline void refcount_warn_saturate(refcount_t *r, enum refcount_saturation_type t)
{
	__atomic_store_n(&r->refs.counter, REFCOUNT_SATURATED, __ATOMIC_SEQ_CST);
	switch (t) {
	case REFCOUNT_ADD_NOT_ZERO_OVF:
	case REFCOUNT_ADD_OVF:
		hvb_kops->report("guest.refcount-saturated", "refcount_t: saturated; leaking memory");
		break;
	case REFCOUNT_ADD_UAF:
		hvb_kops->report("guest.use-after-free", "refcount_t: addition on 0; use-after-free");
		break;
	case REFCOUNT_SUB_UAF:
		hvb_kops->report("guest.refcount-negative", "refcount_t: underflow; use-after-free");
		break;
	case REFCOUNT_DEC_LEAK:
		hvb_kops->report("guest.refcount-leak", "refcount_t: decrement hit 0; leaking memory");
		break;
	}
}
/* A scheduling point; true when the counter is in freed memory (reported, left alone). */
static inline bool hvb_refcount_point(refcount_t *r, const char *what)
{
	hvb_kops->sched_point(what);
	return hvb_freed(&r->refs, sizeof(r->refs), what);
}
/* old + i as the hardware computes it (no undefined signed overflow). */
static inline int hvb_refcount_sum(int old, int i) { return (int)((unsigned int)old + (unsigned int)i); }
static inline void refcount_set(refcount_t *r, int n) { atomic_set(&r->refs, n); }
static inline unsigned int refcount_read(const refcount_t *r) { return (unsigned int)atomic_read(&r->refs); }

static inline bool __refcount_add_not_zero(int i, refcount_t *r, int *oldp)
{
	int old;

	if (hvb_refcount_point(r, "refcount_add_not_zero"))
		return false;
	old = __atomic_load_n(&r->refs.counter, __ATOMIC_RELAXED);
	do {
		if (!old)
			break;
	} while (!__atomic_compare_exchange_n(&r->refs.counter, &old, (int)((unsigned int)old + (unsigned int)i), false,
					      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	if (oldp)
		*oldp = old;
	if (unlikely(old < 0 || hvb_refcount_sum(old, i) < 0))
		refcount_warn_saturate(r, REFCOUNT_ADD_NOT_ZERO_OVF);
	return old != 0;
}
static inline bool refcount_add_not_zero(int i, refcount_t *r) { return __refcount_add_not_zero(i, r, NULL); }
static inline bool refcount_inc_not_zero(refcount_t *r) { return __refcount_add_not_zero(1, r, NULL); }
static inline void refcount_add(int i, refcount_t *r)
{
	int old;

	if (hvb_refcount_point(r, "refcount_add"))
		return;
	old = __atomic_fetch_add(&r->refs.counter, i, __ATOMIC_SEQ_CST);
	if (unlikely(!old))
		refcount_warn_saturate(r, REFCOUNT_ADD_UAF);
	else if (unlikely(old < 0 || hvb_refcount_sum(old, i) < 0))
		refcount_warn_saturate(r, REFCOUNT_ADD_OVF);
}
static inline void refcount_inc(refcount_t *r) { refcount_add(1, r); }
static inline bool refcount_sub_and_test(int i, refcount_t *r)
{
	int old;

	if (hvb_refcount_point(r, "refcount_sub_and_test"))
		return false;
	old = __atomic_fetch_sub(&r->refs.counter, i, __ATOMIC_SEQ_CST);
	if (old == i)
		return true;
	if (unlikely(old < 0 || hvb_refcount_sum(old, -i) < 0))
		refcount_warn_saturate(r, REFCOUNT_SUB_UAF);
	return false;
}
static inline bool refcount_dec_and_test(refcount_t *r) { return refcount_sub_and_test(1, r); }
static inline void refcount_dec(refcount_t *r)
{
	int old;

	if (hvb_refcount_point(r, "refcount_dec"))
		return;
	old = __atomic_fetch_sub(&r->refs.counter, 1, __ATOMIC_SEQ_CST);
	if (unlikely(old <= 1))
		refcount_warn_saturate(r, old == 1 ? REFCOUNT_DEC_LEAK : REFCOUNT_SUB_UAF);
}
/* 1 -> 0 only. */
static inline bool refcount_dec_if_one(refcount_t *r)
{
	int one = 1;

	if (hvb_refcount_point(r, "refcount_dec_if_one"))
		return false;
	return __atomic_compare_exchange_n(&r->refs.counter, &one, 0, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
/* Decrements unless that would reach 0; false when the counter is 1. */
static inline bool refcount_dec_not_one(refcount_t *r)
{
	int val;

	if (hvb_refcount_point(r, "refcount_dec_not_one"))
		return true;
	val = __atomic_load_n(&r->refs.counter, __ATOMIC_RELAXED);
	do {
		if (unlikely(val == REFCOUNT_SATURATED))
			return true;
		if (val == 1)
			return false;
		if (unlikely(val <= 0)) {
			refcount_warn_saturate(r, REFCOUNT_SUB_UAF);
			return true;
		}
	} while (!__atomic_compare_exchange_n(&r->refs.counter, &val, val - 1, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
	return true;
}
/* Decrements; when that reaches 0, returns true with the lock held. */
static inline bool refcount_dec_and_lock(refcount_t *r, spinlock_t *lock)
{
	if (refcount_dec_not_one(r))
		return false;
	spin_lock(lock);
	if (!refcount_dec_and_test(r)) {
		spin_unlock(lock);
		return false;
	}
	return true;
}
#define refcount_dec_and_lock_irqsave(r, lock, flagsp)          \
	({                                                      \
		bool _ret = false;                              \
		if (!refcount_dec_not_one(r)) {                 \
			spin_lock_irqsave(lock, *(flagsp));     \
			if (refcount_dec_and_test(r))           \
				_ret = true;                    \
			else                                    \
				spin_unlock_irqrestore(lock, *(flagsp)); \
		}                                               \
		_ret;                                           \
	})
static inline bool refcount_dec_and_mutex_lock(refcount_t *r, struct mutex *lock)
{
	if (refcount_dec_not_one(r))
		return false;
	mutex_lock(lock);
	if (!refcount_dec_and_test(r)) {
		mutex_unlock(lock);
		return false;
	}
	return true;
}

#endif

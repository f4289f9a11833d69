/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/atomic.h>: atomic_t, atomic64_t, atomic_long_t and the generic
 * xchg/cmpxchg. The counters themselves are declared in <linux/types.h>, as in the kernel.
 * Every read-modify-write is a scheduling point (where another thread may run between two
 * such operations); plain atomic_read/atomic_set are not, as they order nothing. A counter
 * in freed memory is reported as a use-after-free before it is touched.
 */
#ifndef _HVB_LINUX_ATOMIC_H
#define _HVB_LINUX_ATOMIC_H

#include "../hvb_kernel.h"
#include "compiler.h"
#include "types.h"

#define HVB_ATOMIC_OPS(pfx, T, V)                                                                     \
	static inline V pfx##_read(const T *v) { return __atomic_load_n(&v->counter, __ATOMIC_RELAXED); } \
	static inline V pfx##_read_acquire(const T *v) { return __atomic_load_n(&v->counter, __ATOMIC_ACQUIRE); } \
	static inline void pfx##_set(T *v, V i) { __atomic_store_n(&v->counter, i, __ATOMIC_RELAXED); }   \
	static inline void pfx##_set_release(T *v, V i) { __atomic_store_n(&v->counter, i, __ATOMIC_RELEASE); } \
	static inline void hvb_##pfx##_point(T *v, const char *what)                                  \
	{                                                                                             \
		hvb_kops->sched_point(what);                                                          \
		hvb_check_live(v, what);                                                              \
	}                                                                                             \
	static inline V pfx##_fetch_add(V i, T *v) { hvb_##pfx##_point(v, #pfx "_fetch_add"); return __atomic_fetch_add(&v->counter, i, __ATOMIC_SEQ_CST); } \
	static inline V pfx##_fetch_sub(V i, T *v) { hvb_##pfx##_point(v, #pfx "_fetch_sub"); return __atomic_fetch_sub(&v->counter, i, __ATOMIC_SEQ_CST); } \
	static inline V pfx##_fetch_and(V i, T *v) { hvb_##pfx##_point(v, #pfx "_fetch_and"); return __atomic_fetch_and(&v->counter, i, __ATOMIC_SEQ_CST); } \
	static inline V pfx##_fetch_or(V i, T *v) { hvb_##pfx##_point(v, #pfx "_fetch_or"); return __atomic_fetch_or(&v->counter, i, __ATOMIC_SEQ_CST); } \
	static inline V pfx##_fetch_xor(V i, T *v) { hvb_##pfx##_point(v, #pfx "_fetch_xor"); return __atomic_fetch_xor(&v->counter, i, __ATOMIC_SEQ_CST); } \
	static inline V pfx##_fetch_andnot(V i, T *v) { hvb_##pfx##_point(v, #pfx "_fetch_andnot"); return __atomic_fetch_and(&v->counter, ~i, __ATOMIC_SEQ_CST); } \
	static inline V pfx##_fetch_inc(T *v) { return pfx##_fetch_add(1, v); }                       \
	static inline V pfx##_fetch_dec(T *v) { return pfx##_fetch_sub(1, v); }                       \
	static inline V pfx##_add_return(V i, T *v) { return pfx##_fetch_add(i, v) + i; }             \
	static inline V pfx##_sub_return(V i, T *v) { return pfx##_fetch_sub(i, v) - i; }             \
	static inline V pfx##_inc_return(T *v) { return pfx##_add_return(1, v); }                     \
	static inline V pfx##_dec_return(T *v) { return pfx##_sub_return(1, v); }                     \
	static inline void pfx##_add(V i, T *v) { (void)pfx##_fetch_add(i, v); }                      \
	static inline void pfx##_sub(V i, T *v) { (void)pfx##_fetch_sub(i, v); }                      \
	static inline void pfx##_inc(T *v) { (void)pfx##_fetch_add(1, v); }                           \
	static inline void pfx##_dec(T *v) { (void)pfx##_fetch_sub(1, v); }                           \
	static inline void pfx##_and(V i, T *v) { (void)pfx##_fetch_and(i, v); }                      \
	static inline void pfx##_or(V i, T *v) { (void)pfx##_fetch_or(i, v); }                        \
	static inline void pfx##_xor(V i, T *v) { (void)pfx##_fetch_xor(i, v); }                      \
	static inline void pfx##_andnot(V i, T *v) { (void)pfx##_fetch_andnot(i, v); }                \
	static inline bool pfx##_sub_and_test(V i, T *v) { return pfx##_sub_return(i, v) == 0; }      \
	static inline bool pfx##_dec_and_test(T *v) { return pfx##_dec_return(v) == 0; }              \
	static inline bool pfx##_inc_and_test(T *v) { return pfx##_inc_return(v) == 0; }              \
	static inline bool pfx##_add_negative(V i, T *v) { return pfx##_add_return(i, v) < 0; }       \
	static inline V pfx##_xchg(T *v, V i) { hvb_##pfx##_point(v, #pfx "_xchg"); return __atomic_exchange_n(&v->counter, i, __ATOMIC_SEQ_CST); } \
	/* Returns the value found; stores `n` when it was `o`. */                                     \
	static inline V pfx##_cmpxchg(T *v, V o, V n)                                                 \
	{                                                                                             \
		hvb_##pfx##_point(v, #pfx "_cmpxchg");                                                \
		__atomic_compare_exchange_n(&v->counter, &o, n, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
		return o;                                                                             \
	}                                                                                             \
	static inline bool pfx##_try_cmpxchg(T *v, V *o, V n)                                         \
	{                                                                                             \
		hvb_##pfx##_point(v, #pfx "_try_cmpxchg");                                            \
		return __atomic_compare_exchange_n(&v->counter, o, n, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
	}                                                                                             \
	/* Adds a unless the counter is u; returns the old value. */                                  \
	static inline V pfx##_fetch_add_unless(T *v, V a, V u)                                        \
	{                                                                                             \
		V c = pfx##_read(v);                                                                  \
		do {                                                                                  \
			if (c == u)                                                                   \
				break;                                                                \
		} while (!pfx##_try_cmpxchg(v, &c, c + a));                                           \
		return c;                                                                             \
	}                                                                                             \
	static inline bool pfx##_add_unless(T *v, V a, V u) { return pfx##_fetch_add_unless(v, a, u) != u; } \
	static inline bool pfx##_inc_not_zero(T *v) { return pfx##_add_unless(v, 1, 0); }             \
	static inline bool pfx##_inc_unless_negative(T *v)                                            \
	{                                                                                             \
		V c = pfx##_read(v);                                                                  \
		do {                                                                                  \
			if (c < 0)                                                                    \
				return false;                                                         \
		} while (!pfx##_try_cmpxchg(v, &c, c + 1));                                           \
		return true;                                                                          \
	}                                                                                             \
	static inline bool pfx##_dec_unless_positive(T *v)                                            \
	{                                                                                             \
		V c = pfx##_read(v);                                                                  \
		do {                                                                                  \
			if (c > 0)                                                                    \
				return false;                                                         \
		} while (!pfx##_try_cmpxchg(v, &c, c - 1));                                           \
		return true;                                                                          \
	}                                                                                             \
	/* Decrements when the result stays >= 0; returns old - 1 either way. */                     \
	static inline V pfx##_dec_if_positive(T *v)                                                   \
	{                                                                                             \
		V c = pfx##_read(v);                                                                  \
		do {                                                                                  \
			if (c - 1 < 0)                                                                \
				break;                                                                \
		} while (!pfx##_try_cmpxchg(v, &c, c - 1));                                           \
		return c - 1;                                                                         \
	}

HVB_ATOMIC_OPS(atomic, atomic_t, int)
HVB_ATOMIC_OPS(atomic64, atomic64_t, s64)
HVB_ATOMIC_OPS(atomic_long, atomic_long_t, long)

/* The ordering variants: every operation here is fully ordered already. */
#define atomic_inc_return_relaxed atomic_inc_return
#define atomic_dec_return_relaxed atomic_dec_return
#define atomic_fetch_add_relaxed atomic_fetch_add
#define atomic_fetch_sub_release atomic_fetch_sub
#define atomic_cmpxchg_relaxed atomic_cmpxchg
#define atomic_try_cmpxchg_relaxed atomic_try_cmpxchg
#define atomic_try_cmpxchg_acquire atomic_try_cmpxchg
#define atomic_try_cmpxchg_release atomic_try_cmpxchg
#define atomic_cond_read_acquire(v, c) ({ int VAL; while (VAL = atomic_read(v), !(c)) hvb_kops->sched_point("atomic_cond_read"); VAL; })

/* xchg()/cmpxchg() on any naturally aligned scalar. */
#define xchg(ptr, v) ({ hvb_kops->sched_point("xchg"); __atomic_exchange_n((ptr), (v), __ATOMIC_SEQ_CST); })
#define cmpxchg(ptr, o, n)                                                                                \
	({                                                                                                \
		__typeof__(*(ptr)) _o = (o);                                                              \
		hvb_kops->sched_point("cmpxchg");                                                         \
		__atomic_compare_exchange_n((ptr), &_o, (n), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
		_o;                                                                                       \
	})
#define try_cmpxchg(ptr, po, n) \
	({ hvb_kops->sched_point("try_cmpxchg"); __atomic_compare_exchange_n((ptr), (po), (n), false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); })
#define cmpxchg64 cmpxchg
#define cmpxchg_relaxed cmpxchg
#define cmpxchg_acquire cmpxchg
#define cmpxchg_release cmpxchg
#define xchg_relaxed xchg

#endif

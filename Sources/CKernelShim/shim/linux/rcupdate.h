/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/rcupdate.h>: RCU with real grace periods. Read-side sections are
 * tracked per thread; synchronize_rcu() sleeps (through the runtime's block/wake) until every
 * reader that began before it has left; call_rcu()/kfree_rcu() callbacks run on the kworker
 * after such a grace period. Sleeping inside a read-side section, and synchronize_rcu() from
 * one, are findings; so is rcu_dereference() outside any read-side section, lock or softirq
 * (what CONFIG_PROVE_RCU reports).
 */
#ifndef _HVB_LINUX_RCUPDATE_H
#define _HVB_LINUX_RCUPDATE_H

#include "../hvb_kernel.h"
#include "compiler.h"
#include "kernel.h"
#include "types.h"

static inline void rcu_read_lock(void) { hvb_kops->rcu_read_lock(); }
static inline void rcu_read_unlock(void) { hvb_kops->rcu_read_unlock(); }
#define rcu_read_lock_bh() do { rcu_read_lock(); hvb_kops->preempt_add(1); } while (0)
#define rcu_read_unlock_bh() do { hvb_kops->preempt_add(-1); rcu_read_unlock(); } while (0)
#define rcu_read_lock_sched() do { rcu_read_lock(); hvb_kops->preempt_add(1); } while (0)
#define rcu_read_unlock_sched() do { hvb_kops->preempt_add(-1); rcu_read_unlock(); } while (0)
static inline int rcu_read_lock_held(void) { return (hvb_kops->context() & HVB_CTX_RCU) != 0; }
/* Any reader: rcu_read_lock, or preemption/softirq disabled (consolidated RCU, 4.20+). */
static inline int rcu_read_lock_any_held(void) { return (hvb_kops->context() & (HVB_CTX_RCU | HVB_CTX_ATOMIC | HVB_CTX_SOFTIRQ)) != 0; }
#define rcu_read_lock_bh_held() rcu_read_lock_any_held()
#define rcu_read_lock_sched_held() rcu_read_lock_any_held()
static inline void synchronize_rcu(void) { hvb_kops->synchronize_rcu(); }
#define synchronize_rcu_expedited() synchronize_rcu()
#define synchronize_net() synchronize_rcu()
static inline void call_rcu(struct rcu_head *head, rcu_callback_t func) { hvb_kops->call_rcu(head, func, -1); }
static inline void rcu_barrier(void) { hvb_kops->rcu_barrier(); }
/* kfree_rcu(ptr, rhf): kfree(ptr) after a grace period; kvfree_rcu likewise. */
#define kfree_rcu(ptr, rhf)                                                                      \
	do {                                                                                     \
		__typeof__(ptr) ___p = (ptr);                                                    \
		if (___p)                                                                        \
			hvb_kops->call_rcu(&___p->rhf, NULL, (long)offsetof(__typeof__(*___p), rhf)); \
	} while (0)
#define kvfree_rcu(ptr, rhf) kfree_rcu(ptr, rhf)

static inline void hvb_rcu_dereference_check(bool c, const char *what)
{
	if (!c && !rcu_read_lock_any_held())
		hvb_kops->report("guest.rcu-dereference-unprotected", what);
}
#define rcu_dereference_raw(p) READ_ONCE(p)
#define rcu_dereference_check(p, c)                                                                        \
	({                                                                                                 \
		hvb_rcu_dereference_check(!!(c), "rcu_dereference(" #p ") outside a read-side critical section"); \
		READ_ONCE(p);                                                                              \
	})
#define rcu_dereference(p) rcu_dereference_check(p, 0)
#define rcu_dereference_bh(p) rcu_dereference_check(p, 0)
#define rcu_dereference_sched(p) rcu_dereference_check(p, 0)
#define rcu_dereference_protected(p, c) (p)
#define rcu_access_pointer(p) READ_ONCE(p)
#define rcu_assign_pointer(p, v)                     \
	do {                                         \
		hvb_kops->sched_point("rcu_assign_pointer"); \
		smp_wmb();                           \
		WRITE_ONCE(p, v);                    \
	} while (0)
#define RCU_INIT_POINTER(p, v) WRITE_ONCE(p, v)
#define RCU_INITIALIZER(v) (v)
#define rcu_replace_pointer(rp, p, c) ({ __typeof__(rp) __tmp = (rp); rcu_assign_pointer(rp, p); __tmp; })
#define rcu_pointer_handoff(p) (p)
#define init_rcu_head(h) do { (void)(h); } while (0)
#define destroy_rcu_head(h) do { (void)(h); } while (0)

#endif

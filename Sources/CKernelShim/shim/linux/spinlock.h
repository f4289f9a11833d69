/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/spinlock.h>: every spinlock and rwlock form. Taking one makes
 * the thread atomic (sleeping then is a finding); contention makes it spin, which here means
 * waiting for the holder without the sleep check. The irq/bh forms behave as the plain ones
 * (the simulated machine has one CPU and the channel callback is a thread of its own). A
 * lock never initialized, or one in freed memory, is a finding.
 */
#ifndef _HVB_LINUX_SPINLOCK_H
#define _HVB_LINUX_SPINLOCK_H

#include "../hvb_kernel.h"
#include "bottom_half.h"
#include "irqflags.h"
#include "preempt.h"
#include "spinlock_types.h"

#define spin_lock_init(l)                                \
	do {                                             \
		spinlock_t *_l = (l);                    \
		_l->locked = 0;                          \
		_l->owner = 0;                           \
		_l->name = #l;                           \
		_l->magic = SPINLOCK_MAGIC;              \
	} while (0)
#define raw_spin_lock_init spin_lock_init
#define spin_lock(l) hvb_kops->lock_acquire(l)
#define spin_unlock(l) hvb_kops->lock_release(l)
#define spin_lock_nested(l, sub) spin_lock(l)
#define spin_lock_irqsave(l, flags) do { (flags) = 0x200; hvb_kops->lock_acquire(l); } while (0)
#define spin_lock_irqsave_nested(l, flags, sub) spin_lock_irqsave(l, flags)
#define spin_unlock_irqrestore(l, flags) do { (void)(flags); hvb_kops->lock_release(l); } while (0)
#define spin_lock_irq(l) hvb_kops->lock_acquire(l)
#define spin_unlock_irq(l) hvb_kops->lock_release(l)
#define spin_lock_bh(l) hvb_kops->lock_acquire(l)
#define spin_unlock_bh(l) hvb_kops->lock_release(l)
#define raw_spin_lock spin_lock
#define raw_spin_unlock spin_unlock
#define raw_spin_lock_irqsave spin_lock_irqsave
#define raw_spin_unlock_irqrestore spin_unlock_irqrestore
#define raw_spin_lock_irq spin_lock_irq
#define raw_spin_unlock_irq spin_unlock_irq
static inline int spin_is_locked(spinlock_t *l) { return READ_ONCE(l->locked) != 0; }
static inline int spin_is_contended(spinlock_t *l) { return hvb_kops->waiters(l) > 0; }
static inline int spin_trylock(spinlock_t *l)
{
	hvb_kops->sched_point("spin_trylock");
	if (READ_ONCE(l->locked))
		return 0;
	hvb_kops->lock_acquire(l);
	return 1;
}
#define spin_trylock_irqsave(l, flags) ({ (flags) = 0x200; spin_trylock(l); })
#define spin_trylock_irq(l) spin_trylock(l)
#define spin_trylock_bh(l) spin_trylock(l)
#define raw_spin_trylock spin_trylock
/* lockdep_assert_held() for spinlocks: the caller must hold it. */
#define assert_spin_locked(l)                                                                   \
	do {                                                                                    \
		if (!spin_is_locked(l))                                                         \
			hvb_kops->report("guest.lock-not-held", "assert_spin_locked(" #l ") failed"); \
	} while (0)
#define assert_raw_spin_locked assert_spin_locked

/* ---- rwlock_t: many readers or one writer, spinning ---- */
static inline void hvb_rwlock_check(rwlock_t *l, const char *what)
{
	hvb_check_live(l, what);
	if (l->magic != RWLOCK_MAGIC) {
		hvb_kops->report("guest.lock-uninitialized", "rwlock used before rwlock_init / DEFINE_RWLOCK");
		l->magic = RWLOCK_MAGIC;
	}
}
#define rwlock_init(l) do { rwlock_t *_l = (l); _l->readers = 0; _l->writer = 0; _l->name = #l; _l->magic = RWLOCK_MAGIC; } while (0)
static inline void read_lock(rwlock_t *l)
{
	hvb_kops->sched_point("read_lock");
	hvb_rwlock_check(l, "read_lock");
	while (READ_ONCE(l->writer)) {
		if (l->writer == (const void *)hvb_kops->current_task()) {
			hvb_kops->report("guest.deadlock", "read_lock of an rwlock the thread holds for writing");
			return;
		}
		hvb_kops->block_flags(l, "read_lock", 0, 0, HVB_WAIT_SPIN);
	}
	l->readers++;
	hvb_kops->preempt_add(1);
}
static inline void read_unlock(rwlock_t *l)
{
	if (l->readers <= 0)
		hvb_kops->report("guest.unlock-unlocked", "read_unlock of an rwlock not read-locked");
	else
		l->readers--;
	hvb_kops->preempt_add(-1);
	hvb_kops->wake(l);
	hvb_kops->sched_point("read_unlock");
}
static inline void write_lock(rwlock_t *l)
{
	const void *me = hvb_kops->current_task();

	hvb_kops->sched_point("write_lock");
	hvb_rwlock_check(l, "write_lock");
	while (READ_ONCE(l->writer) || READ_ONCE(l->readers)) {
		if (l->writer == me) {
			hvb_kops->report("guest.deadlock", "write_lock of an rwlock the thread holds already");
			return;
		}
		hvb_kops->block_flags(l, "write_lock", 0, 0, HVB_WAIT_SPIN);
	}
	l->writer = me;
	hvb_kops->preempt_add(1);
}
static inline void write_unlock(rwlock_t *l)
{
	if (!l->writer)
		hvb_kops->report("guest.unlock-unlocked", "write_unlock of an rwlock not write-locked");
	l->writer = 0;
	hvb_kops->preempt_add(-1);
	hvb_kops->wake(l);
	hvb_kops->sched_point("write_unlock");
}
static inline int read_trylock(rwlock_t *l)
{
	if (READ_ONCE(l->writer))
		return 0;
	read_lock(l);
	return 1;
}
static inline int write_trylock(rwlock_t *l)
{
	if (READ_ONCE(l->writer) || READ_ONCE(l->readers))
		return 0;
	write_lock(l);
	return 1;
}
#define read_lock_irqsave(l, flags) do { (flags) = 0x200; read_lock(l); } while (0)
#define read_unlock_irqrestore(l, flags) do { (void)(flags); read_unlock(l); } while (0)
#define write_lock_irqsave(l, flags) do { (flags) = 0x200; write_lock(l); } while (0)
#define write_unlock_irqrestore(l, flags) do { (void)(flags); write_unlock(l); } while (0)
#define read_lock_irq read_lock
#define read_unlock_irq read_unlock
#define write_lock_irq write_lock
#define write_unlock_irq write_unlock
#define read_lock_bh read_lock
#define read_unlock_bh read_unlock
#define write_lock_bh write_lock
#define write_unlock_bh write_unlock

#endif

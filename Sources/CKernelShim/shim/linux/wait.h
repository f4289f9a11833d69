/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/wait.h>: wait queues and every wait_event form. A sleeper is
 * marked as the kernel marks it: wait_event* uninterruptible, *_interruptible* interruptible
 * (any signal: -ERESTARTSYS), *_killable* killable (fatal signal: -ERESTARTSYS), so hvblob can
 * deliver a signal to exactly those. wake_up_interruptible() reaches only interruptible
 * sleepers, as in the kernel. The condition is re-checked after every wake-up.
 */
#ifndef _HVB_LINUX_WAIT_H
#define _HVB_LINUX_WAIT_H

#include "../hvb_kernel.h"
#include "errno.h"
#include "list.h"
#include "sched.h"
#include "spinlock.h"

struct wait_queue_entry;
typedef int (*wait_queue_func_t)(struct wait_queue_entry *wq_entry, unsigned int mode, int flags, void *key);
#define WQ_FLAG_EXCLUSIVE 0x01
#define WQ_FLAG_WOKEN 0x02
struct wait_queue_entry {
	unsigned int flags;
	void *private; /* the task */
	wait_queue_func_t func;
	struct list_head entry;
};
typedef struct wait_queue_entry wait_queue_entry_t;
struct wait_queue_head {
	spinlock_t lock;
	struct list_head head;
};
typedef struct wait_queue_head wait_queue_head_t;

#define __WAIT_QUEUE_HEAD_INITIALIZER(name) { .lock = __SPIN_LOCK_UNLOCKED(name.lock), .head = { &(name).head, &(name).head } }
#define DECLARE_WAIT_QUEUE_HEAD(name) struct wait_queue_head name = __WAIT_QUEUE_HEAD_INITIALIZER(name)
#define DECLARE_WAIT_QUEUE_HEAD_ONSTACK(name) DECLARE_WAIT_QUEUE_HEAD(name)
static inline void init_waitqueue_head(struct wait_queue_head *w)
{
	spin_lock_init(&w->lock);
	w->head.next = &w->head;
	w->head.prev = &w->head;
}
static inline int waitqueue_active(struct wait_queue_head *w)
{
	return hvb_kops->waiters(w) > 0 || READ_ONCE(w->head.next) != &w->head;
}
static inline bool wq_has_sleeper(struct wait_queue_head *w)
{
	smp_mb();
	return waitqueue_active(w);
}

/* ---- wait entries (prepare_to_wait / schedule / finish_wait) ---- */
/*
 * Wait queues work as in kernel/sched/wait.c: a sleeper puts an entry on the queue and sets its
 * task state before it tests its condition; a wake-up calls each entry's function, which sets
 * the task TASK_RUNNING (and, for autoremove entries, takes the entry off the queue); a sleep
 * only sleeps while the state is not TASK_RUNNING. So a wake-up that lands between the test
 * and the sleep ends the sleep at once instead of being lost. Queue operations are not
 * scheduling points: no other thread runs inside one (the queue's lock in the kernel).
 */
/* try_to_wake_up(): only a task whose state `mode` reaches; 1 when it was woken. */
static inline int hvb_try_to_wake_up(struct task_struct *t, unsigned int mode)
{
	if (!(READ_ONCE(t->__state) & mode))
		return 0;
	WRITE_ONCE(t->__state, TASK_RUNNING);
	hvb_kops->wake(t);
	return 1;
}
static inline int default_wake_function(struct wait_queue_entry *e, unsigned int mode, int flags, void *key)
{
	(void)flags;
	(void)key;
	return hvb_try_to_wake_up((struct task_struct *)e->private, mode);
}
static inline void hvb_wq_unlink(struct wait_queue_entry *e)
{
	if (e->entry.next && e->entry.next != &e->entry) {
		e->entry.prev->next = e->entry.next;
		e->entry.next->prev = e->entry.prev;
	}
	e->entry.next = &e->entry;
	e->entry.prev = &e->entry;
}
static inline int autoremove_wake_function(struct wait_queue_entry *e, unsigned int mode, int flags, void *key)
{
	int ret = default_wake_function(e, mode, flags, key);

	if (ret)
		hvb_wq_unlink(e);
	return ret;
}
#define DEFINE_WAIT_FUNC(name, function) \
	struct wait_queue_entry name = { .private = current, .func = function, .entry = { &(name).entry, &(name).entry } }
#define DEFINE_WAIT(name) DEFINE_WAIT_FUNC(name, autoremove_wake_function)
#define DECLARE_WAITQUEUE(name, tsk) \
	struct wait_queue_entry name = { .private = tsk, .func = default_wake_function, .entry = { NULL, NULL } }
static inline void init_wait_entry(struct wait_queue_entry *e, int flags)
{
	e->flags = (unsigned int)flags;
	e->private = current;
	e->func = autoremove_wake_function;
	e->entry.next = &e->entry;
	e->entry.prev = &e->entry;
}
#define init_wait(e) init_wait_entry(e, 0)
static inline bool hvb_wq_unlinked(const struct wait_queue_entry *e)
{
	return !e->entry.next || e->entry.next == &e->entry;
}
static inline void hvb_wq_link(struct wait_queue_head *w, struct wait_queue_entry *e, bool tail)
{
	struct list_head *prev = tail ? w->head.prev : &w->head, *next = prev->next;

	hvb_check_live(&w->head, "add_wait_queue");
	e->entry.next = next;
	e->entry.prev = prev;
	next->prev = &e->entry;
	prev->next = &e->entry;
}
static inline void add_wait_queue(struct wait_queue_head *w, struct wait_queue_entry *e)
{
	e->flags &= ~WQ_FLAG_EXCLUSIVE;
	hvb_wq_link(w, e, false);
}
static inline void add_wait_queue_exclusive(struct wait_queue_head *w, struct wait_queue_entry *e)
{
	e->flags |= WQ_FLAG_EXCLUSIVE;
	hvb_wq_link(w, e, true);
}
static inline void remove_wait_queue(struct wait_queue_head *w, struct wait_queue_entry *e)
{
	(void)w;
	hvb_wq_unlink(e);
}
static inline void prepare_to_wait(struct wait_queue_head *w, struct wait_queue_entry *e, int state)
{
	hvb_kops->sched_point("prepare_to_wait");
	e->flags &= ~WQ_FLAG_EXCLUSIVE;
	if (hvb_wq_unlinked(e))
		hvb_wq_link(w, e, false);
	set_current_state((unsigned int)state);
}
static inline bool prepare_to_wait_exclusive(struct wait_queue_head *w, struct wait_queue_entry *e, int state)
{
	bool was_empty = false;

	hvb_kops->sched_point("prepare_to_wait_exclusive");
	e->flags |= WQ_FLAG_EXCLUSIVE;
	if (hvb_wq_unlinked(e)) {
		was_empty = w->head.next == &w->head;
		hvb_wq_link(w, e, true);
	}
	set_current_state((unsigned int)state);
	return was_empty;
}
/*
 * prepare_to_wait_event(): -ERESTARTSYS (the entry off the queue) when a signal the state
 * admits is pending, else the entry queued and the state set; 0.
 */
static inline long hvb_prepare_to_wait_event(struct wait_queue_head *w, struct wait_queue_entry *e, unsigned int state)
{
	if (signal_pending_state(state, current)) {
		hvb_wq_unlink(e);
		return -ERESTARTSYS;
	}
	if (hvb_wq_unlinked(e))
		hvb_wq_link(w, e, (e->flags & WQ_FLAG_EXCLUSIVE) != 0);
	set_current_state(state);
	return 0;
}
static inline long prepare_to_wait_event(struct wait_queue_head *w, struct wait_queue_entry *e, int state)
{
	hvb_kops->sched_point("prepare_to_wait_event");
	return hvb_prepare_to_wait_event(w, e, (unsigned int)state);
}
static inline void finish_wait(struct wait_queue_head *w, struct wait_queue_entry *e)
{
	(void)w;
	__set_current_state(TASK_RUNNING);
	hvb_wq_unlink(e);
}

/* Wakes the entries `mode` reaches, at most nr exclusive ones (0: all). */
static inline void __wake_up(struct wait_queue_head *w, unsigned int mode, int nr, void *key)
{
	struct list_head *p, *n;

	hvb_check_live(&w->head, "wake_up");
	hvb_kops->sched_point("wake_up");
	for (p = w->head.next; p && p != &w->head; p = n) {
		struct wait_queue_entry *e = container_of(p, struct wait_queue_entry, entry);
		unsigned int flags = e->flags;

		n = p->next;
		if (e->func(e, mode, 0, key) && (flags & WQ_FLAG_EXCLUSIVE) && nr > 0 && !--nr)
			break;
	}
	/* A thread the shim parks on the queue itself (none of the wait_event forms do). */
	hvb_kops->wake_flags(w, mode == TASK_INTERRUPTIBLE ? HVB_WAKE_INTERRUPTIBLE : HVB_WAKE_ALL);
}
#define wake_up(w) __wake_up(w, TASK_NORMAL, 1, NULL)
#define wake_up_nr(w, nr) __wake_up(w, TASK_NORMAL, nr, NULL)
#define wake_up_all(w) __wake_up(w, TASK_NORMAL, 0, NULL)
#define wake_up_locked(w) __wake_up(w, TASK_NORMAL, 1, NULL)
#define wake_up_all_locked(w) __wake_up(w, TASK_NORMAL, 0, NULL)
#define wake_up_interruptible(w) __wake_up(w, TASK_INTERRUPTIBLE, 1, NULL)
#define wake_up_interruptible_nr(w, nr) __wake_up(w, TASK_INTERRUPTIBLE, nr, NULL)
#define wake_up_interruptible_all(w) __wake_up(w, TASK_INTERRUPTIBLE, 0, NULL)
#define wake_up_interruptible_sync(w) __wake_up(w, TASK_INTERRUPTIBLE, 1, NULL)
#define wake_up_poll(w, m) __wake_up(w, TASK_NORMAL, 1, (void *)(uintptr_t)(m))
#define wake_up_interruptible_poll(w, m) __wake_up(w, TASK_INTERRUPTIBLE, 1, (void *)(uintptr_t)(m))

/* The task state of a sleep kind (HVB_WAIT_*). */
static inline unsigned int hvb_flags_state(int flags)
{
	if (flags & HVB_WAIT_INTERRUPTIBLE)
		return TASK_INTERRUPTIBLE;
	if (flags & HVB_WAIT_KILLABLE)
		return TASK_KILLABLE;
	return TASK_UNINTERRUPTIBLE;
}
/*
 * schedule() / schedule_timeout() for a wait_event: sleeps while the task's state is not
 * TASK_RUNNING (a wake-up since the state was set ends it at once), until the deadline, or
 * until a signal the kind admits; the wait is described as `what`.
 */
static inline void hvb_wait_sleep(const char *what, int has_deadline, u64 deadline, int flags)
{
	struct task_struct *me = current;

	while (READ_ONCE(me->__state) != TASK_RUNNING) {
		if (has_deadline && hvb_kops->get_jiffies() >= deadline)
			break;
		if (hvb_kops->block_flags(me, what, deadline, has_deadline, flags))
			break;
	}
	__set_current_state(TASK_RUNNING);
}

/*
 * ___wait_event(): until cond, a signal the kind admits (flags), or the deadline; the waiter is
 * on the queue with its state set before each test of cond. Evaluates to 0 when cond held,
 * -ERESTARTSYS on a signal, 1 on timeout (cond still false).
 */
#define __hvb_wait_event(wq, cond, flags, has_deadline, deadline, what)                       \
	({                                                                                       \
		int __r = 0;                                                                     \
		hvb_kops->sleep_check(what);                                                     \
		hvb_kops->sched_point(what);                                                     \
		if (!(cond)) {                                                                   \
			struct wait_queue_entry __we;                                            \
			unsigned int __st = hvb_flags_state(flags);                              \
			init_wait_entry(&__we, 0);                                               \
			for (;;) {                                                               \
				long __int = hvb_prepare_to_wait_event(&(wq), &__we, __st);      \
				if (cond)                                                        \
					break;                                                   \
				if (__int) {                                                     \
					__r = -ERESTARTSYS;                                      \
					break;                                                   \
				}                                                                \
				if ((has_deadline) && hvb_kops->get_jiffies() >= (deadline)) {   \
					__r = 1;                                                 \
					break;                                                   \
				}                                                                \
				hvb_wait_sleep(what, (has_deadline), (deadline), (flags));       \
			}                                                                        \
			finish_wait(&(wq), &__we);                                               \
		}                                                                                \
		__r;                                                                             \
	})
/* What a *_timeout wait returns when it did not time out: the jiffies left, at least 1. */
#define __hvb_left(deadline) \
	({ u64 __now = hvb_kops->get_jiffies(); (long)((deadline) > __now ? (deadline) - __now : 1); })

#define wait_event(wq, cond) do { (void)__hvb_wait_event(wq, cond, 0, 0, 0, "wait_event(" #cond ")"); } while (0)
#define wait_event_idle(wq, cond) wait_event(wq, cond)
#define wait_event_freezable(wq, cond) wait_event_interruptible(wq, cond)
#define wait_event_timeout(wq, cond, timeout)                                                              \
	({                                                                                                 \
		u64 __dl = hvb_kops->get_jiffies() + (u64)(timeout);                                       \
		int __w = __hvb_wait_event(wq, cond, 0, 1, __dl, "wait_event_timeout(" #cond ")");        \
		__w == 1 ? 0L : __hvb_left(__dl);                                                          \
	})
#define wait_event_idle_timeout(wq, cond, timeout) wait_event_timeout(wq, cond, timeout)
#define wait_event_interruptible(wq, cond) \
	__hvb_wait_event(wq, cond, HVB_WAIT_INTERRUPTIBLE, 0, 0, "wait_event_interruptible(" #cond ")")
#define wait_event_interruptible_exclusive(wq, cond) \
	__hvb_wait_event(wq, cond, HVB_WAIT_INTERRUPTIBLE, 0, 0, "wait_event_interruptible_exclusive(" #cond ")")
#define wait_event_killable(wq, cond) \
	__hvb_wait_event(wq, cond, HVB_WAIT_KILLABLE, 0, 0, "wait_event_killable(" #cond ")")
#define wait_event_killable_exclusive(wq, cond) wait_event_killable(wq, cond)
#define wait_event_interruptible_timeout(wq, cond, timeout)                                                \
	({                                                                                                 \
		u64 __dl = hvb_kops->get_jiffies() + (u64)(timeout);                                       \
		int __w = __hvb_wait_event(wq, cond, HVB_WAIT_INTERRUPTIBLE, 1, __dl,                      \
					   "wait_event_interruptible_timeout(" #cond ")");                 \
		__w < 0 ? (long)__w : __w == 1 ? 0L : __hvb_left(__dl);                                     \
	})
#define wait_event_killable_timeout(wq, cond, timeout)                                                     \
	({                                                                                                 \
		u64 __dl = hvb_kops->get_jiffies() + (u64)(timeout);                                       \
		int __w = __hvb_wait_event(wq, cond, HVB_WAIT_KILLABLE, 1, __dl, "wait_event_killable_timeout(" #cond ")"); \
		__w < 0 ? (long)__w : __w == 1 ? 0L : __hvb_left(__dl);                                     \
	})
/* Sleeps with `lock` (a spinlock, held by the caller) released, re-taken before cond is tested. */
#define __hvb_wait_event_lock(wq, cond, lock, flags, what)                                         \
	({                                                                                          \
		int __r = 0;                                                                        \
		hvb_kops->sched_point(what);                                                        \
		if (!(cond)) {                                                                      \
			struct wait_queue_entry __we;                                               \
			unsigned int __st = hvb_flags_state(flags);                                 \
			init_wait_entry(&__we, 0);                                                  \
			for (;;) {                                                                  \
				long __int = hvb_prepare_to_wait_event(&(wq), &__we, __st);         \
				if (cond)                                                           \
					break;                                                      \
				if (__int) {                                                        \
					__r = -ERESTARTSYS;                                         \
					break;                                                      \
				}                                                                   \
				spin_unlock(&(lock));                                               \
				hvb_wait_sleep(what, 0, 0, (flags));                                \
				spin_lock(&(lock));                                                 \
			}                                                                           \
			finish_wait(&(wq), &__we);                                                  \
		}                                                                                   \
		__r;                                                                                \
	})
#define wait_event_lock_irq(wq, cond, lock) \
	do { (void)__hvb_wait_event_lock(wq, cond, lock, 0, "wait_event_lock_irq(" #cond ")"); } while (0)
#define wait_event_interruptible_lock_irq(wq, cond, lock) \
	__hvb_wait_event_lock(wq, cond, lock, HVB_WAIT_INTERRUPTIBLE, "wait_event_interruptible_lock_irq(" #cond ")")
#define wait_event_interruptible_locked(wq, cond) \
	__hvb_wait_event_lock(wq, cond, (wq).lock, HVB_WAIT_INTERRUPTIBLE, "wait_event_interruptible_locked(" #cond ")")

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/completion.h>: completions in every wait form. As in the kernel,
 * complete() lets one waiter through, complete_all() every present and future one (done is
 * pinned at UINT_MAX until reinit_completion()); the interruptible/killable waits return
 * -ERESTARTSYS when a signal of their kind ends them.
 */
#ifndef _HVB_LINUX_COMPLETION_H
#define _HVB_LINUX_COMPLETION_H

#include "../hvb_kernel.h"
#include "errno.h"
#include "limits.h"
#include "version.h"
#include "wait.h"

struct completion {
	unsigned int done;
	struct wait_queue_head wait;
};
#define COMPLETION_INITIALIZER(work) { 0, __WAIT_QUEUE_HEAD_INITIALIZER((work).wait) }
#define COMPLETION_INITIALIZER_ONSTACK(work) COMPLETION_INITIALIZER(work)
#define DECLARE_COMPLETION(work) struct completion work = COMPLETION_INITIALIZER(work)
#define DECLARE_COMPLETION_ONSTACK(work) DECLARE_COMPLETION(work)

static inline void init_completion(struct completion *c)
{
	c->done = 0;
	init_waitqueue_head(&c->wait);
}
static inline void reinit_completion(struct completion *c) { c->done = 0; }
static inline bool completion_done(struct completion *c) { return READ_ONCE(c->done) != 0; }
static inline void complete(struct completion *c)
{
	hvb_kops->sched_point("complete");
	if (hvb_freed(c, sizeof(c->done), "complete"))
		return;
	if (c->done != UINT_MAX)
		c->done++;
	hvb_kops->wake(c);
}
static inline void complete_all(struct completion *c)
{
	hvb_kops->sched_point("complete_all");
	if (hvb_freed(c, sizeof(c->done), "complete_all"))
		return;
	c->done = UINT_MAX;
	hvb_kops->wake(c);
}
static inline bool try_wait_for_completion(struct completion *c)
{
	hvb_kops->sched_point("try_wait_for_completion");
	if (!READ_ONCE(c->done))
		return false;
	if (c->done != UINT_MAX)
		c->done--;
	return true;
}
/*
 * The generic wait: >0 (the jiffies left, at least 1; 1 when untimed) when completed, 0 on
 * timeout, -ERESTARTSYS when a signal (of the kind flags admits) ended it.
 */
static inline long hvb_wait_for_completion(struct completion *c, int flags, bool timed, unsigned long timeout,
					   const char *what)
{
	u64 deadline = timed ? hvb_kops->get_jiffies() + timeout : 0;
	u64 now;

	hvb_kops->sleep_check(what);
	hvb_kops->sched_point(what);
	hvb_check_live(c, what);
	while (!READ_ONCE(c->done)) {
		if (flags && hvb_kops->signal_pending(flags == HVB_WAIT_KILLABLE))
			return -ERESTARTSYS;
		if (timed && hvb_kops->get_jiffies() >= deadline)
			return 0;
		if (hvb_kops->block_flags(c, what, deadline, timed, flags) && !READ_ONCE(c->done))
			return -ERESTARTSYS;
	}
	if (c->done != UINT_MAX)
		c->done--;
	if (!timed)
		return 1;
	now = hvb_kops->get_jiffies();
	return deadline > now ? (long)(deadline - now) : 1;
}
static inline void wait_for_completion(struct completion *c) { (void)hvb_wait_for_completion(c, 0, false, 0, "wait_for_completion"); }
static inline void wait_for_completion_io(struct completion *c) { (void)hvb_wait_for_completion(c, 0, false, 0, "wait_for_completion_io"); }
static inline void wait_for_completion_idle(struct completion *c) { (void)hvb_wait_for_completion(c, 0, false, 0, "wait_for_completion_idle"); }
static inline unsigned long wait_for_completion_timeout(struct completion *c, unsigned long timeout)
{
	return (unsigned long)hvb_wait_for_completion(c, 0, true, timeout, "wait_for_completion_timeout");
}
static inline unsigned long wait_for_completion_io_timeout(struct completion *c, unsigned long timeout)
{
	return (unsigned long)hvb_wait_for_completion(c, 0, true, timeout, "wait_for_completion_io_timeout");
}
static inline int __must_check wait_for_completion_interruptible(struct completion *c)
{
	long r = hvb_wait_for_completion(c, HVB_WAIT_INTERRUPTIBLE, false, 0, "wait_for_completion_interruptible");

	return r < 0 ? (int)r : 0;
}
static inline int __must_check wait_for_completion_killable(struct completion *c)
{
	long r = hvb_wait_for_completion(c, HVB_WAIT_KILLABLE, false, 0, "wait_for_completion_killable");

	return r < 0 ? (int)r : 0;
}
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
/* A sleep in `state` (TASK_INTERRUPTIBLE / TASK_KILLABLE / ...): 0, or -ERESTARTSYS on a signal it admits. */
static inline int __must_check wait_for_completion_state(struct completion *c, unsigned int state)
{
	long r = hvb_wait_for_completion(c, hvb_state_flags(state), false, 0, "wait_for_completion_state");

	return r < 0 ? (int)r : 0;
}
#endif
static inline long __must_check wait_for_completion_interruptible_timeout(struct completion *c, unsigned long timeout)
{
	return hvb_wait_for_completion(c, HVB_WAIT_INTERRUPTIBLE, true, timeout, "wait_for_completion_interruptible_timeout");
}
static inline long __must_check wait_for_completion_killable_timeout(struct completion *c, unsigned long timeout)
{
	return hvb_wait_for_completion(c, HVB_WAIT_KILLABLE, true, timeout, "wait_for_completion_killable_timeout");
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/sched.h>: the task, current, task states and the sleeps built
 * on them (schedule, schedule_timeout*, wake_up_process). The first members mirror the
 * runtime's own task record (hvb_internal.h), which current points at.
 */
#ifndef _HVB_LINUX_SCHED_H
#define _HVB_LINUX_SCHED_H

#include "../hvb_kernel.h"
#include "jiffies.h"
#include "preempt.h"

#define TASK_RUNNING 0x0000
#define TASK_INTERRUPTIBLE 0x0001
#define TASK_UNINTERRUPTIBLE 0x0002
#define TASK_WAKEKILL 0x0100
#define TASK_NOLOAD 0x0400
#define TASK_KILLABLE (TASK_WAKEKILL | TASK_UNINTERRUPTIBLE)
#define TASK_IDLE (TASK_UNINTERRUPTIBLE | TASK_NOLOAD)
#define TASK_NORMAL (TASK_INTERRUPTIBLE | TASK_UNINTERRUPTIBLE)
#define TASK_COMM_LEN 16
#define MAX_SCHEDULE_TIMEOUT LONG_MAX

struct cred;
struct task_struct {
	pid_t pid;
	char comm[TASK_COMM_LEN];
	const struct cred *cred;
	int __hvb_preempt; /* runtime-owned: spinlocks held, preempt/irq disabled */
	int __hvb_softirq; /* runtime-owned */
	unsigned int __state;
};
#define current (hvb_kops->current_task())
#define get_current() current
static inline pid_t task_pid_nr(struct task_struct *t) { return t->pid; }
static inline pid_t task_tgid_nr(struct task_struct *t) { return t->pid; }
static inline pid_t task_pid_vnr(struct task_struct *t) { return t->pid; }
static inline pid_t task_tgid_vnr(struct task_struct *t) { return t->pid; }
#define get_task_comm(buf, t) strncpy(buf, (t)->comm, sizeof(buf))

/* The kind of sleep a task state asks for. */
static inline int hvb_state_flags(unsigned int state)
{
	if (state & TASK_INTERRUPTIBLE)
		return HVB_WAIT_INTERRUPTIBLE;
	if (state & TASK_WAKEKILL)
		return HVB_WAIT_KILLABLE;
	return 0;
}
#define __set_current_state(s) WRITE_ONCE(current->__state, (s))
#define set_current_state(s) do { WRITE_ONCE(current->__state, (s)); smp_mb(); } while (0)

static inline int wake_up_process(struct task_struct *t)
{
	int was = t->__state != TASK_RUNNING;

	hvb_kops->sched_point("wake_up_process");
	WRITE_ONCE(t->__state, TASK_RUNNING);
	hvb_kops->wake(t);
	return was;
}
/* Sleeps in the current state until woken (wake_up_process or a wait queue) or `timeout`. */
static inline long schedule_timeout(long timeout)
{
	struct task_struct *me = current;
	u64 deadline = timeout == MAX_SCHEDULE_TIMEOUT ? 0 : hvb_kops->get_jiffies() + (u64)(timeout < 0 ? 0 : timeout);
	u64 now;

	hvb_kops->sleep_check("schedule_timeout");
	while (READ_ONCE(me->__state) != TASK_RUNNING) {
		if (timeout != MAX_SCHEDULE_TIMEOUT && hvb_kops->get_jiffies() >= deadline)
			break;
		if (hvb_kops->block_flags(me, "schedule_timeout", deadline, timeout != MAX_SCHEDULE_TIMEOUT,
					  hvb_state_flags(me->__state)))
			break;
	}
	me->__state = TASK_RUNNING;
	if (timeout == MAX_SCHEDULE_TIMEOUT)
		return timeout;
	now = hvb_kops->get_jiffies();
	return now >= deadline ? 0 : (long)(deadline - now);
}
static inline void schedule(void) { (void)schedule_timeout(MAX_SCHEDULE_TIMEOUT); }
static inline long schedule_timeout_interruptible(long t) { __set_current_state(TASK_INTERRUPTIBLE); return schedule_timeout(t); }
static inline long schedule_timeout_killable(long t) { __set_current_state(TASK_KILLABLE); return schedule_timeout(t); }
static inline long schedule_timeout_uninterruptible(long t) { __set_current_state(TASK_UNINTERRUPTIBLE); return schedule_timeout(t); }
static inline long schedule_timeout_idle(long t) { __set_current_state(TASK_IDLE); return schedule_timeout(t); }
static inline void yield(void) { hvb_kops->sched_point("yield"); }

#include "sched/signal.h"

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the coroutine engine and the kernel API runtime; no kernel types here. */
#ifndef HVB_INTERNAL_H
#define HVB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct hvb_coro;

/*
 * Mirrors the first members of the shim's struct task_struct (pid, comm[16], cred pointer,
 * preempt count, softirq flag, state) at the same offsets; the rest is the runtime's own.
 */
struct hvb_task {
	int pid;
	char comm[16];
	const void *cred;
	int locks_held; /* spinlocks held, preemption/interrupts disabled */
	int atomic;	/* softirq: the channel callback, a timer, an RCU callback */
	unsigned int state;
	int rcu_nesting;
	uint64_t reader_seq; /* the grace-period sequence when it became an RCU reader */
	int sigpending;	     /* HVB_SIG_* */
	int atomic_noted;    /* might_sleep() found atomic context: the sleep that follows is not reported again */
};
#define HVB_SIG_PENDING 0x1
#define HVB_SIG_FATAL 0x2

void hvb_task_init(struct hvb_task *t, const char *name, int pid, uint32_t cred);
void hvb_coro_park(int state, const void *key, const char *what, uint64_t deadline, int has_deadline, int flags);
struct hvb_task *hvb_current_task_of_coro(void);
int hvb_in_coro(void);
/* Every coroutine's task, for the RCU grace-period scan. */
int hvb_ntasks(void);
struct hvb_task *hvb_task_nth(int i);
/* Wakes those blocked on key; with interruptible_only, only HVB_WAIT_INTERRUPTIBLE sleepers. */
int hvb_wake_key_flags(const void *key, int interruptible_only);
int hvb_waiters_on(const void *key);
/* Marks a blocked coroutine ready (its deadline passed). */
void hvb_coro_make_ready(struct hvb_coro *c);

/*
 * Persistent mode. The writable spans of the loaded object that holds `inside` (its
 * writable PT_LOAD segments less RELRO and the __sancov_* coverage sections): how many, or -1
 * when no loaded object holds it; `skipped`: bytes left out.
 */
struct hvb_span {
	uintptr_t start;
	size_t len;
};
int hvb_writable_spans(const void *inside, struct hvb_span *out, int max, size_t *skipped);

#endif

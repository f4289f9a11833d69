/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the coroutine engine and the kernel API runtime; no kernel types here. */
#ifndef HVB_INTERNAL_H
#define HVB_INTERNAL_H

#include <stdint.h>

/* Mirrors struct task_struct of the shim (pid, comm[16], cred pointer) at the same offsets. */
struct hvb_task {
	int pid;
	char comm[16];
	const void *cred;
	int locks_held;
	int atomic;
};

void hvb_task_init(struct hvb_task *t, const char *name, int pid, uint32_t cred);
void hvb_coro_park(int state, const void *key, const char *what, uint64_t deadline, int has_deadline);
struct hvb_task *hvb_current_task_of_coro(void);
int hvb_in_coro(void);

#endif

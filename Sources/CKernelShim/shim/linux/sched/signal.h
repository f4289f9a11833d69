/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/sched/signal.h>: pending signals of the current thread. */
#ifndef _HVB_LINUX_SCHED_SIGNAL_H
#define _HVB_LINUX_SCHED_SIGNAL_H

#include "../../hvb_kernel.h"

struct task_struct;
/* Only the current thread's signals are known (hvblob delivers them to a blocked call). */
static inline int signal_pending(struct task_struct *p) { (void)p; return hvb_kops->signal_pending(0); }
static inline int fatal_signal_pending(struct task_struct *p) { (void)p; return hvb_kops->signal_pending(1); }
static inline int signal_pending_state(unsigned int state, struct task_struct *p)
{
	if (!(state & (0x0001 | 0x0100)))
		return 0;
	return (state & 0x0001) ? signal_pending(p) : fatal_signal_pending(p);
}

#endif

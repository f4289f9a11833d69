/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/preempt.h>: preemption control and context queries. */
#ifndef _HVB_LINUX_PREEMPT_H
#define _HVB_LINUX_PREEMPT_H

#include "../hvb_kernel.h"

#define preempt_disable() hvb_kops->preempt_add(1)
#define preempt_enable() do { hvb_kops->preempt_add(-1); hvb_kops->sched_point("preempt_enable"); } while (0)
#define preempt_enable_no_resched() hvb_kops->preempt_add(-1)
#define migrate_disable() do { } while (0)
#define migrate_enable() do { } while (0)
#define in_atomic() ((hvb_kops->context() & (HVB_CTX_ATOMIC | HVB_CTX_SOFTIRQ)) != 0)
#define in_softirq() ((hvb_kops->context() & HVB_CTX_SOFTIRQ) != 0)
#define in_serving_softirq() in_softirq()
#define in_interrupt() in_softirq()
#define in_irq() 0
#define in_hardirq() 0
#define in_nmi() 0
#define in_task() (!in_softirq())
#define preemptible() (!in_atomic())

#endif

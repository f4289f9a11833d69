/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/irqflags.h>: interrupts off counts as atomic context. */
#ifndef _HVB_LINUX_IRQFLAGS_H
#define _HVB_LINUX_IRQFLAGS_H

#include "../hvb_kernel.h"

#define local_irq_disable() hvb_kops->preempt_add(1)
#define local_irq_enable() hvb_kops->preempt_add(-1)
#define local_irq_save(flags) do { (flags) = 0x200; hvb_kops->preempt_add(1); } while (0)
#define local_irq_restore(flags) do { (void)(flags); hvb_kops->preempt_add(-1); } while (0)
#define irqs_disabled() ((hvb_kops->context() & HVB_CTX_ATOMIC) != 0)

#endif

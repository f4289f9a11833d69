/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/interrupt.h>: context queries and irq flags (tasklets: see MISSING). */
#ifndef _HVB_LINUX_INTERRUPT_H
#define _HVB_LINUX_INTERRUPT_H

#include "bottom_half.h"
#include "irqflags.h"
#include "preempt.h"

#endif

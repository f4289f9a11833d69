/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/kernel.h> with what it gathers (minmax.h, math.h, container_of.h,
 * kstrtox.h, sprintf.h, might_sleep from sched.h's kernel.h half).
 */
#ifndef _HVB_LINUX_KERNEL_H
#define _HVB_LINUX_KERNEL_H

#include <stdlib.h>
#include "../hvb_kernel.h"
#include "../asm/byteorder.h"
#include "bug.h"
#include "build_bug.h"
#include "err.h"
#include "limits.h"
#include "log2.h"
#include "overflow.h"
#include "printk.h"
#include "stringify.h"
#include "types.h"
#include "container_of.h"
#include "math.h"
#include "minmax.h"
#include "kstrtox.h"




#define u64_to_user_ptr(x) ((void __user *)(uintptr_t)(x))

/* A scheduling point where the kernel may reschedule. */
#define cond_resched() ({ hvb_kops->sched_point("cond_resched"); 0; })
#define might_sleep() hvb_kops->sleep_check("might_sleep")
#define might_sleep_if(c) do { if (c) might_sleep(); } while (0)
#define might_fault() hvb_kops->sleep_check("might_fault")

static inline __printf(3, 0) int vscnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	return hvb_kops->vscnprintf(buf, size, fmt, ap);
}
static inline __printf(3, 4) int scnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = hvb_kops->vscnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}


#endif

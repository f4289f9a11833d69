/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/bottom_half.h> */
#ifndef _HVB_LINUX_BOTTOM_HALF_H
#define _HVB_LINUX_BOTTOM_HALF_H

#include "../hvb_kernel.h"

#define local_bh_disable() hvb_kops->preempt_add(1)
#define local_bh_enable() do { hvb_kops->preempt_add(-1); hvb_kops->sched_point("local_bh_enable"); } while (0)

#endif

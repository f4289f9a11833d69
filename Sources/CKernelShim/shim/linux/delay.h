/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/delay.h>: sleeps advance on the machine's clock; busy delays only yield. */
#ifndef _HVB_LINUX_DELAY_H
#define _HVB_LINUX_DELAY_H

#include "sched.h"

static inline void hvb_sleep_ms(unsigned long ms, int flags, const char *what)
{
	u64 deadline = hvb_kops->get_jiffies() + ms;

	hvb_kops->sleep_check(what);
	while (hvb_kops->get_jiffies() < deadline)
		if (hvb_kops->block_flags(current, what, deadline, 1, flags))
			break;
}
static inline void msleep(unsigned int ms) { hvb_sleep_ms(ms, 0, "msleep"); }
static inline unsigned long msleep_interruptible(unsigned int ms)
{
	u64 deadline = hvb_kops->get_jiffies() + ms, now;

	hvb_sleep_ms(ms, HVB_WAIT_INTERRUPTIBLE, "msleep_interruptible");
	now = hvb_kops->get_jiffies();
	return now >= deadline ? 0 : (unsigned long)(deadline - now);
}
static inline void ssleep(unsigned int s) { hvb_sleep_ms(s * 1000UL, 0, "ssleep"); }
static inline void usleep_range(unsigned long min, unsigned long max) { (void)max; hvb_sleep_ms((min + 999) / 1000, 0, "usleep_range"); }
static inline void fsleep(unsigned long us) { hvb_sleep_ms((us + 999) / 1000, 0, "fsleep"); }
#define udelay(n) hvb_kops->sched_point("udelay")
#define ndelay(n) hvb_kops->sched_point("ndelay")
#define mdelay(n) hvb_kops->sched_point("mdelay")

#endif

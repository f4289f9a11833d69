/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/jiffies.h>: jiffies are the machine's milliseconds (HZ 1000). */
#ifndef _HVB_LINUX_JIFFIES_H
#define _HVB_LINUX_JIFFIES_H

#include "../hvb_kernel.h"
#include "limits.h"

#define HZ 1000
#define USER_HZ 100
#define jiffies ((unsigned long)hvb_kops->get_jiffies())
#define jiffies_64 (hvb_kops->get_jiffies())
static inline u64 get_jiffies_64(void) { return hvb_kops->get_jiffies(); }
#define MAX_JIFFY_OFFSET ((LONG_MAX >> 1) - 1)
#define time_after(a, b) ((long)((b) - (a)) < 0)
#define time_before(a, b) time_after(b, a)
#define time_after_eq(a, b) ((long)((a) - (b)) >= 0)
#define time_before_eq(a, b) time_after_eq(b, a)
#define time_in_range(a, b, c) (time_after_eq(a, b) && time_before_eq(a, c))
#define time_after64(a, b) ((s64)((b) - (a)) < 0)
#define time_before64(a, b) time_after64(b, a)
#define time_is_before_jiffies(a) time_after(jiffies, a)
#define time_is_after_jiffies(a) time_before(jiffies, a)
static inline unsigned long msecs_to_jiffies(const unsigned int m) { return m; }
static inline unsigned long usecs_to_jiffies(const unsigned int u) { return (u + 999) / 1000; }
static inline unsigned long nsecs_to_jiffies(u64 n) { return (unsigned long)((n + 999999) / 1000000); }
static inline unsigned int jiffies_to_msecs(const unsigned long j) { return (unsigned int)j; }
static inline unsigned int jiffies_to_usecs(const unsigned long j) { return (unsigned int)(j * 1000); }
static inline u64 jiffies_to_nsecs(const unsigned long j) { return (u64)j * 1000000ULL; }
static inline unsigned long round_jiffies(unsigned long j) { return j; }
static inline unsigned long round_jiffies_relative(unsigned long j) { return j; }

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/ktime.h> with timekeeping.h: time from the machine's clock. */
#ifndef _HVB_LINUX_KTIME_H
#define _HVB_LINUX_KTIME_H

#include "jiffies.h"

typedef s64 ktime_t;
#define NSEC_PER_USEC 1000L
#define NSEC_PER_MSEC 1000000L
#define NSEC_PER_SEC 1000000000L
#define USEC_PER_MSEC 1000L
#define USEC_PER_SEC 1000000L
#define MSEC_PER_SEC 1000L
#define KTIME_MAX ((s64)~((u64)1 << 63))

static inline u64 ktime_get_ns(void) { return hvb_kops->get_jiffies() * 1000000ULL; }
static inline ktime_t ktime_get(void) { return (ktime_t)ktime_get_ns(); }
static inline ktime_t ktime_get_real(void) { return ktime_get(); }
static inline ktime_t ktime_get_boottime(void) { return ktime_get(); }
static inline ktime_t ktime_get_raw(void) { return ktime_get(); }
static inline u64 ktime_get_real_ns(void) { return ktime_get_ns(); }
static inline u64 ktime_get_boottime_ns(void) { return ktime_get_ns(); }
static inline u64 ktime_get_raw_ns(void) { return ktime_get_ns(); }
static inline u64 ktime_get_mono_fast_ns(void) { return ktime_get_ns(); }
static inline time64_t ktime_get_seconds(void) { return (time64_t)(ktime_get_ns() / NSEC_PER_SEC); }
static inline time64_t ktime_get_real_seconds(void) { return ktime_get_seconds(); }
#define ktime_set(s, ns) ((ktime_t)(s) * NSEC_PER_SEC + (ktime_t)(ns))
#define ktime_add(a, b) ((a) + (b))
#define ktime_sub(a, b) ((a) - (b))
#define ktime_add_ns(k, ns) ((k) + (ktime_t)(ns))
#define ktime_add_us(k, us) ((k) + (ktime_t)(us) * NSEC_PER_USEC)
#define ktime_add_ms(k, ms) ((k) + (ktime_t)(ms) * NSEC_PER_MSEC)
#define ktime_sub_ns(k, ns) ((k) - (ktime_t)(ns))
static inline s64 ktime_to_ns(ktime_t k) { return k; }
static inline s64 ktime_to_us(ktime_t k) { return k / NSEC_PER_USEC; }
static inline s64 ktime_to_ms(ktime_t k) { return k / NSEC_PER_MSEC; }
static inline ktime_t ns_to_ktime(u64 ns) { return (ktime_t)ns; }
static inline ktime_t us_to_ktime(u64 us) { return (ktime_t)us * NSEC_PER_USEC; }
static inline ktime_t ms_to_ktime(u64 ms) { return (ktime_t)ms * NSEC_PER_MSEC; }
static inline s64 ktime_us_delta(ktime_t later, ktime_t earlier) { return ktime_to_us(later - earlier); }
static inline s64 ktime_ms_delta(ktime_t later, ktime_t earlier) { return ktime_to_ms(later - earlier); }
static inline int ktime_compare(ktime_t a, ktime_t b) { return a < b ? -1 : a > b ? 1 : 0; }
static inline bool ktime_after(ktime_t a, ktime_t b) { return a > b; }
static inline bool ktime_before(ktime_t a, ktime_t b) { return a < b; }

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/log2.h> with the bit searches of asm/bitops.h. */
#ifndef _HVB_LINUX_LOG2_H
#define _HVB_LINUX_LOG2_H

#include "types.h"

static inline int fls(unsigned int x) { return x ? 32 - __builtin_clz(x) : 0; }
static inline int fls64(u64 x) { return x ? 64 - __builtin_clzll(x) : 0; }
#define ffs(x) __builtin_ffs((int)(x)) /* glibc declares ffs() too */
static inline unsigned long __ffs(unsigned long w) { return (unsigned long)__builtin_ctzl(w); }
static inline unsigned long __fls(unsigned long w) { return 63UL - (unsigned long)__builtin_clzl(w); }
static inline unsigned long ffz(unsigned long w) { return __ffs(~w); }
#define ilog2(n) ((n) ? (int)(63 - __builtin_clzll((unsigned long long)(n))) : -1)
static inline bool is_power_of_2(unsigned long n) { return n != 0 && ((n & (n - 1)) == 0); }
static inline unsigned long roundup_pow_of_two(unsigned long n) { return n <= 1 ? 1 : 1UL << fls64(n - 1); }
static inline unsigned long rounddown_pow_of_two(unsigned long n) { return n ? 1UL << (fls64(n) - 1) : 0; }
#define order_base_2(n) ((n) > 1 ? ilog2((n) - 1) + 1 : 0)

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/compiler.h> with compiler_types.h and compiler_attributes.h
 * folded in: sparse annotations (no-ops), attributes, READ_ONCE/WRITE_ONCE.
 */
#ifndef _HVB_LINUX_COMPILER_H
#define _HVB_LINUX_COMPILER_H

#define __user
#define __kernel
#define __iomem
#define __force
#define __rcu
#define __percpu
#define __private
#define __must_hold(x)
#define __acquires(x)
#define __releases(x)
#define __acquire(x) (void)0
#define __release(x) (void)0
#define __cond_lock(x, c) (c)

#define __init
#define __exit
#define __initdata
#define __exitdata
#define __initconst
#define __ref
#define __devinit
#define __must_check __attribute__((warn_unused_result))
#define __always_unused __attribute__((unused))
#define __maybe_unused __attribute__((unused))
#define __used __attribute__((used))
#define __packed __attribute__((packed))
#define __aligned(x) __attribute__((aligned(x)))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define __scanf(a, b) __attribute__((format(scanf, a, b)))
#undef __always_inline
#define __always_inline inline __attribute__((always_inline))
#define noinline __attribute__((noinline))
#define __noreturn __attribute__((noreturn))
#define __cold __attribute__((cold))
#define __pure __attribute__((pure))
#define __weak __attribute__((weak))
#define __section(s) __attribute__((section(s)))
#define __visible __attribute__((externally_visible))
#define __read_mostly
#define __ro_after_init
#define __cacheline_aligned __attribute__((aligned(64)))
#define ____cacheline_aligned __attribute__((aligned(64)))
#define ____cacheline_aligned_in_smp __attribute__((aligned(64)))
#define __randomize_layout
#define __no_randomize_layout
#define notrace
#define asmlinkage
#ifndef fallthrough
#define fallthrough __attribute__((__fallthrough__))
#endif

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define barrier() __asm__ __volatile__("" ::: "memory")
#define __same_type(a, b) __builtin_types_compatible_p(__typeof__(a), __typeof__(b))
#define __must_be_array(a) 0
#define unreachable() __builtin_unreachable()

#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) do { *(volatile __typeof__(x) *)&(x) = (v); } while (0)
#define data_race(expr) (expr)

#include "../asm/barrier.h"

#endif /* _HVB_LINUX_COMPILER_H */

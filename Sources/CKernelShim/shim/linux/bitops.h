/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/bitops.h> with bitmap.h's basics: atomic bit operations are scheduling points. */
#ifndef _HVB_LINUX_BITOPS_H
#define _HVB_LINUX_BITOPS_H

#include "../hvb_kernel.h"
#include "bits.h"
#include "log2.h"
#include "types.h"

#define BITS_TO_LONGS(n) (((n) + BITS_PER_LONG - 1) / BITS_PER_LONG)
#define DECLARE_BITMAP(name, bits) unsigned long name[BITS_TO_LONGS(bits)]
static inline void set_bit(long nr, volatile unsigned long *a)
{
	hvb_kops->sched_point("set_bit");
	__atomic_fetch_or(&a[BIT_WORD(nr)], BIT_MASK(nr), __ATOMIC_SEQ_CST);
}
static inline void clear_bit(long nr, volatile unsigned long *a)
{
	hvb_kops->sched_point("clear_bit");
	__atomic_fetch_and(&a[BIT_WORD(nr)], ~BIT_MASK(nr), __ATOMIC_SEQ_CST);
}
static inline void change_bit(long nr, volatile unsigned long *a)
{
	hvb_kops->sched_point("change_bit");
	__atomic_fetch_xor(&a[BIT_WORD(nr)], BIT_MASK(nr), __ATOMIC_SEQ_CST);
}
static inline bool test_and_set_bit(long nr, volatile unsigned long *a)
{
	hvb_kops->sched_point("test_and_set_bit");
	return (__atomic_fetch_or(&a[BIT_WORD(nr)], BIT_MASK(nr), __ATOMIC_SEQ_CST) & BIT_MASK(nr)) != 0;
}
static inline bool test_and_clear_bit(long nr, volatile unsigned long *a)
{
	hvb_kops->sched_point("test_and_clear_bit");
	return (__atomic_fetch_and(&a[BIT_WORD(nr)], ~BIT_MASK(nr), __ATOMIC_SEQ_CST) & BIT_MASK(nr)) != 0;
}
#define test_and_set_bit_lock test_and_set_bit
#define clear_bit_unlock clear_bit
static inline void __set_bit(long nr, volatile unsigned long *a) { a[BIT_WORD(nr)] |= BIT_MASK(nr); }
static inline void __clear_bit(long nr, volatile unsigned long *a) { a[BIT_WORD(nr)] &= ~BIT_MASK(nr); }
static inline bool test_bit(long nr, const volatile unsigned long *a) { return (a[BIT_WORD(nr)] & BIT_MASK(nr)) != 0; }
static inline unsigned long find_next_bit(const unsigned long *a, unsigned long size, unsigned long off)
{
	for (; off < size; off++)
		if (a[off / BITS_PER_LONG] & BIT_MASK(off))
			return off;
	return size;
}
static inline unsigned long find_next_zero_bit(const unsigned long *a, unsigned long size, unsigned long off)
{
	for (; off < size; off++)
		if (!(a[off / BITS_PER_LONG] & BIT_MASK(off)))
			return off;
	return size;
}
#define find_first_bit(a, size) find_next_bit(a, size, 0)
#define find_first_zero_bit(a, size) find_next_zero_bit(a, size, 0)
#define for_each_set_bit(bit, addr, size) \
	for ((bit) = find_first_bit((addr), (size)); (bit) < (size); (bit) = find_next_bit((addr), (size), (bit) + 1))
#define for_each_clear_bit(bit, addr, size) \
	for ((bit) = find_first_zero_bit((addr), (size)); (bit) < (size); (bit) = find_next_zero_bit((addr), (size), (bit) + 1))
static inline unsigned int hweight32(u32 w) { return (unsigned int)__builtin_popcount(w); }
static inline unsigned int hweight64(u64 w) { return (unsigned int)__builtin_popcountll(w); }
#define hweight_long(w) hweight64((u64)(w))
static inline void bitmap_zero(unsigned long *dst, unsigned int nbits) { memset(dst, 0, BITS_TO_LONGS(nbits) * sizeof(unsigned long)); }
static inline void bitmap_fill(unsigned long *dst, unsigned int nbits) { memset(dst, 0xff, BITS_TO_LONGS(nbits) * sizeof(unsigned long)); }

#endif

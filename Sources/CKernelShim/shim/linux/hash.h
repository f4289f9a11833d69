/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/hash.h>: the kernel's multiplicative (golden ratio) hashes. */
#ifndef _HVB_LINUX_HASH_H
#define _HVB_LINUX_HASH_H

#include "types.h"

#define GOLDEN_RATIO_32 0x61C88647U
#define GOLDEN_RATIO_64 0x61C8864680B583EBULL
static inline u32 __hash_32(u32 val) { return val * GOLDEN_RATIO_32; }
static inline u32 hash_32(u32 val, unsigned int bits) { return bits ? __hash_32(val) >> (32 - bits) : 0; }
static inline u32 hash_64(u64 val, unsigned int bits) { return bits ? (u32)((val * GOLDEN_RATIO_64) >> (64 - bits)) : 0; }
#define hash_long(val, bits) hash_64((u64)(val), bits)
static inline u32 hash_ptr(const void *ptr, unsigned int bits) { return hash_long((unsigned long)ptr, bits); }
static inline u32 hash32_ptr(const void *ptr)
{
	unsigned long val = (unsigned long)ptr;

	return (u32)(val ^ (val >> 32));
}

#endif

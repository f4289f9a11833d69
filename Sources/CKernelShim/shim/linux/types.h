/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/types.h>. The kernel's scalar types on x86-64 (LP64), the
 * list/hlist heads and the atomic counters, which the kernel also declares here.
 */
#ifndef _HVB_LINUX_TYPES_H
#define _HVB_LINUX_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h> /* libc's pid_t, uid_t, dev_t... are the ones every libc header agrees on */

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;

typedef u8 __u8;
typedef u16 __u16;
typedef u32 __u32;
typedef u64 __u64;
typedef s8 __s8;
typedef s16 __s16;
typedef s32 __s32;
typedef s64 __s64;

/* Byte-order annotated types (sparse's __bitwise is a no-op here; x86 is little-endian). */
#define __bitwise
#define __bitwise__
typedef __u16 __bitwise __le16;
typedef __u16 __bitwise __be16;
typedef __u32 __bitwise __le32;
typedef __u32 __bitwise __be32;
typedef __u64 __bitwise __le64;
typedef __u64 __bitwise __be64;
typedef __u16 __bitwise __sum16;
typedef __u32 __bitwise __wsum;

typedef __u64 __attribute__((aligned(8))) __aligned_u64;
typedef __s64 __attribute__((aligned(8))) __aligned_s64;
typedef __le64 __attribute__((aligned(8))) __aligned_le64;
typedef __be64 __attribute__((aligned(8))) __aligned_be64;

/* The BSD-style names the kernel keeps in linux/types.h. */
typedef unsigned char unchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;

typedef long loff_t;
typedef unsigned long kernel_ulong_t;
typedef unsigned int gfp_t;
typedef unsigned int slab_flags_t;
typedef unsigned int fmode_t;
typedef unsigned short umode_t;
typedef u64 phys_addr_t;
typedef u64 dma_addr_t;
typedef phys_addr_t resource_size_t;
typedef u64 sector_t;
typedef unsigned long irq_hw_number_t;
typedef long __kernel_long_t;
typedef unsigned long __kernel_ulong_t;
typedef size_t __kernel_size_t;
typedef ssize_t __kernel_ssize_t;
typedef int __kernel_pid_t;
typedef unsigned int __kernel_uid32_t;
typedef unsigned int __kernel_gid32_t;
typedef long long __kernel_loff_t;
typedef long long time64_t;
typedef unsigned int __poll_t;

/* The atomic counters (their operations: <linux/atomic.h>). */
typedef struct {
	int counter;
} atomic_t;
#define ATOMIC_INIT(i) { (i) }
typedef struct {
	s64 counter;
} atomic64_t;
#define ATOMIC64_INIT(i) { (i) }
typedef struct {
	long counter;
} atomic_long_t;
#define ATOMIC_LONG_INIT(i) { (i) }

/* List heads (their operations: <linux/list.h>). */
struct list_head {
	struct list_head *next, *prev;
};
struct hlist_head {
	struct hlist_node *first;
};
struct hlist_node {
	struct hlist_node *next, **pprev;
};

/* The RCU callback head (its use: <linux/rcupdate.h>). */
struct callback_head {
	struct callback_head *next;
	void (*func)(struct callback_head *head);
} __attribute__((aligned(sizeof(void *))));
#define rcu_head callback_head
typedef void (*rcu_callback_t)(struct rcu_head *head);

#endif /* _HVB_LINUX_TYPES_H */

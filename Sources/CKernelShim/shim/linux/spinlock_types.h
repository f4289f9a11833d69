/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/spinlock_types.h>: spinlock_t, rwlock_t (operations: <linux/spinlock.h>). */
#ifndef _HVB_LINUX_SPINLOCK_TYPES_H
#define _HVB_LINUX_SPINLOCK_TYPES_H

#include "types.h"

/* CONFIG_DEBUG_SPINLOCK's magic: a lock never initialized is a finding. */
#define SPINLOCK_MAGIC 0xdead4eadU
#define RWLOCK_MAGIC 0xdeaf1eedU

typedef struct spinlock {
	int locked;
	const void *owner; /* the holding task */
	const char *name;
	unsigned int magic;
} spinlock_t;
typedef spinlock_t raw_spinlock_t;
#define __SPIN_LOCK_UNLOCKED(x) { 0, 0, #x, SPINLOCK_MAGIC }
#define __RAW_SPIN_LOCK_UNLOCKED(x) __SPIN_LOCK_UNLOCKED(x)
#define DEFINE_SPINLOCK(x) spinlock_t x = __SPIN_LOCK_UNLOCKED(x)
#define DEFINE_RAW_SPINLOCK(x) raw_spinlock_t x = __SPIN_LOCK_UNLOCKED(x)

typedef struct {
	int readers;
	const void *writer;
	const char *name;
	unsigned int magic;
} rwlock_t;
#define __RW_LOCK_UNLOCKED(x) { 0, 0, #x, RWLOCK_MAGIC }
#define DEFINE_RWLOCK(x) rwlock_t x = __RW_LOCK_UNLOCKED(x)

#endif

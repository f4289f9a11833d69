/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/compat.h>: 32-bit compat helpers. */
#ifndef _HVB_LINUX_COMPAT_H
#define _HVB_LINUX_COMPAT_H

#include "fs.h"
#include "types.h"

typedef u32 compat_uptr_t;
typedef s32 compat_long_t;
typedef u32 compat_ulong_t;
typedef s32 compat_int_t;
typedef u32 compat_uint_t;
typedef u32 compat_size_t;
static inline void __user *compat_ptr(compat_uptr_t uptr) { return (void __user *)(unsigned long)uptr; }
static inline compat_uptr_t ptr_to_compat(void __user *uptr) { return (u32)(unsigned long)uptr; }
static inline bool in_compat_syscall(void) { return false; }

#endif

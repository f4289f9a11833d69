/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/uaccess.h>: user memory of the calling process (the simulated
 * guest's address space). Each access may fault and so sleep: from atomic context it is a
 * finding. access_ok() takes (addr, size) as since 5.0; uaccess_kernel() exists until 5.17
 * (set_fs() is gone in 5.18, and from x86 since 5.10, so it is always false here).
 */
#ifndef _HVB_LINUX_UACCESS_H
#define _HVB_LINUX_UACCESS_H

#include "../hvb_kernel.h"
#include "errno.h"
#include "err.h"
#include "kernel.h"
#include "slab.h"

#define TASK_SIZE_MAX ((1UL << 47) - 4096)
static inline bool hvb_access_ok(const void __user *addr, unsigned long size)
{
	unsigned long a = (unsigned long)(uintptr_t)addr;

	return size <= TASK_SIZE_MAX && a <= TASK_SIZE_MAX - size;
}
#define access_ok(addr, size) hvb_access_ok((const void __user *)(addr), (unsigned long)(size))
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 18, 0)
static inline bool uaccess_kernel(void) { return false; }
#endif

static inline unsigned long __must_check copy_from_user(void *dst, const void __user *src, unsigned long n)
{
	hvb_kops->sleep_check("copy_from_user");
	if (!access_ok(src, n)) {
		memset(dst, 0, n);
		return n;
	}
	return hvb_kops->copy_from_user(dst, src, n);
}
static inline unsigned long __must_check copy_to_user(void __user *dst, const void *src, unsigned long n)
{
	hvb_kops->sleep_check("copy_to_user");
	if (!access_ok(dst, n))
		return n;
	return hvb_kops->copy_to_user(dst, src, n);
}
#define __copy_from_user copy_from_user
#define __copy_to_user copy_to_user
#define raw_copy_from_user copy_from_user
#define raw_copy_to_user copy_to_user
/* get_user(x, ptr) / put_user(x, ptr): one scalar of *ptr's type; 0 or -EFAULT. */
#define get_user(x, ptr)                                                                 \
	({                                                                               \
		__typeof__(*(ptr)) __gu_val;                                             \
		int __gu_err = copy_from_user(&__gu_val, (ptr), sizeof(*(ptr))) ? -EFAULT : 0; \
		(x) = __gu_err ? (__typeof__(*(ptr)))0 : __gu_val;                       \
		__gu_err;                                                                \
	})
#define put_user(x, ptr)                                                                 \
	({                                                                               \
		__typeof__(*(ptr)) __pu_val = (x);                                       \
		copy_to_user((ptr), &__pu_val, sizeof(*(ptr))) ? -EFAULT : 0;            \
	})
#define __get_user get_user
#define __put_user put_user
static inline unsigned long __must_check clear_user(void __user *to, unsigned long n)
{
	static const char zeros[256];
	unsigned long done = 0;

	while (done < n) {
		unsigned long chunk = n - done < sizeof(zeros) ? n - done : sizeof(zeros);
		unsigned long left = copy_to_user((char __user *)to + done, zeros, chunk);

		if (left)
			return n - done - chunk + left;
		done += chunk;
	}
	return 0;
}
/* The string's length (without NUL, at most count), -EFAULT when unreadable. */
static inline long strncpy_from_user(char *dst, const char __user *src, long count)
{
	long i;

	for (i = 0; i < count; i++) {
		if (copy_from_user(&dst[i], src + i, 1))
			return -EFAULT;
		if (!dst[i])
			return i;
	}
	return count;
}
static inline void *memdup_user(const void __user *src, size_t len)
{
	void *p = hvb_alloc(len, GFP_KERNEL, 0, "memdup_user");

	if (!p)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(p, src, len)) {
		kfree(p);
		return ERR_PTR(-EFAULT);
	}
	return p;
}
static inline void *vmemdup_user(const void __user *src, size_t len) { return memdup_user(src, len); }
static inline void *memdup_user_nul(const void __user *src, size_t len)
{
	char *p = (char *)hvb_alloc(len + 1, GFP_KERNEL, 0, "memdup_user_nul");

	if (!p)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(p, src, len)) {
		kfree(p);
		return ERR_PTR(-EFAULT);
	}
	p[len] = 0;
	return p;
}
/* copy_struct_from_user (5.4+): extensible structs; a larger user struct must be zero-padded. */
static inline int copy_struct_from_user(void *dst, size_t ksize, const void __user *src, size_t usize)
{
	size_t size = ksize < usize ? ksize : usize;

	if (usize > ksize) {
		size_t i;

		for (i = ksize; i < usize; i++) {
			char c;

			if (copy_from_user(&c, (const char __user *)src + i, 1))
				return -EFAULT;
			if (c)
				return -E2BIG;
		}
	} else if (usize < ksize) {
		memset((char *)dst + usize, 0, ksize - usize);
	}
	return copy_from_user(dst, src, size) ? -EFAULT : 0;
}

#endif

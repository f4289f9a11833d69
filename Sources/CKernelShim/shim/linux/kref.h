/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/kref.h>: kref on top of refcount_t, as in the kernel (so a get
 * from 0 is a use-after-free finding and a put below zero a refcount-negative one). A kref in
 * freed memory is reported as a use-after-free with the allocation and free sites.
 */
#ifndef _HVB_LINUX_KREF_H
#define _HVB_LINUX_KREF_H

#include "refcount.h"

struct kref {
	refcount_t refcount;
};
#define KREF_INIT(n) { .refcount = REFCOUNT_INIT(n) }

static inline void kref_init(struct kref *k) { refcount_set(&k->refcount, 1); }
static inline unsigned int kref_read(const struct kref *k) { return refcount_read(&k->refcount); }
static inline void kref_get(struct kref *k)
{
	if (hvb_freed(k, sizeof(*k), "kref_get"))
		return;
	refcount_inc(&k->refcount);
}
static inline int kref_put(struct kref *k, void (*release)(struct kref *))
{
	if (hvb_freed(k, sizeof(*k), "kref_put"))
		return 0;
	if (refcount_dec_and_test(&k->refcount)) {
		release(k);
		return 1;
	}
	return 0;
}
static inline int kref_put_lock(struct kref *k, void (*release)(struct kref *), spinlock_t *lock)
{
	if (hvb_freed(k, sizeof(*k), "kref_put_lock"))
		return 0;
	if (refcount_dec_and_lock(&k->refcount, lock)) {
		release(k);
		return 1;
	}
	return 0;
}
static inline int kref_put_mutex(struct kref *k, void (*release)(struct kref *), struct mutex *lock)
{
	if (hvb_freed(k, sizeof(*k), "kref_put_mutex"))
		return 0;
	if (refcount_dec_and_mutex_lock(&k->refcount, lock)) {
		release(k);
		return 1;
	}
	return 0;
}
static inline int __must_check kref_get_unless_zero(struct kref *k)
{
	if (hvb_freed(k, sizeof(*k), "kref_get_unless_zero"))
		return 0;
	return refcount_inc_not_zero(&k->refcount);
}

#endif

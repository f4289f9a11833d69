/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/slab.h>: kmalloc & co. Every block records where it was
 * allocated; a freed one is poisoned (0x6b) and quarantined, so a later kref/refcount/lock/
 * list operation on it, or a second kfree, is reported with both sites. A blocking allocation
 * from atomic context is a finding (might_sleep_if(gfpflags_allow_blocking())).
 * kvmalloc & co live here since 5.17 (mm.h before); both include this.
 *
 * What the quarantine catches (as guest.use-after-free / guest.double-free, with the
 * allocating and freeing call sites symbolized through hvb_symbolize):
 *   - a second kfree/kvfree/vfree of a block, or a free of a pointer into a freed block
 *   - on freed memory: kref_get/kref_put*, every refcount_t and atomic_t read-modify-write,
 *     spin_lock/spin_unlock, mutex and rwsem operations, rwlock_t, list_add/list_del/
 *     list_replace/hlist_* (the entry or its neighbours), list/hlist iteration reaching a
 *     freed entry (the loop ends there instead of faulting), complete/wait_for_completion,
 *     wake_up on a freed wait queue, queue_work/flush_work/cancel_work, mod_timer/del_timer,
 *     call_rcu/kfree_rcu, and an RCU callback whose rcu_head was freed before it ran
 * What it does not catch: a plain load or store by the driver's own code (no
 * instrumentation: only the shim's entry points look), a freed block that left the bounded
 * quarantine (4096 blocks / 64 MiB, oldest first), and memory never from kmalloc (stack,
 * static). Freshly allocated, non-zeroed memory reads 0x5a (POISON_INUSE), never stale data.
 */
#ifndef _HVB_LINUX_SLAB_H
#define _HVB_LINUX_SLAB_H
/* Always inlined: the runtime records the caller of hvb_kops->kmalloc, the driver's own line. */

#include "../hvb_kernel.h"
#include "gfp.h"
#include "overflow.h"
#include "types.h"

#define ZERO_SIZE_PTR ((void *)16)
#define ZERO_OR_NULL_PTR(x) ((unsigned long)(x) <= (unsigned long)ZERO_SIZE_PTR)
#define KMALLOC_MAX_SIZE (1UL << 22)
#define ARCH_KMALLOC_MINALIGN 8

static inline __attribute__((always_inline)) void *hvb_alloc(size_t n, gfp_t f, int zero, const char *fn)
{
	if (gfpflags_allow_blocking(f))
		hvb_kops->sleep_check(fn);
	return hvb_kops->kmalloc(n, f, zero || (f & __GFP_ZERO), fn);
}
static inline __attribute__((always_inline)) void *kmalloc(size_t n, gfp_t f) { return hvb_alloc(n, f, 0, "kmalloc"); }
static inline __attribute__((always_inline)) void *kzalloc(size_t n, gfp_t f) { return hvb_alloc(n, f, 1, "kzalloc"); }
static inline __attribute__((always_inline)) void *kmalloc_node(size_t n, gfp_t f, int node) { (void)node; return hvb_alloc(n, f, 0, "kmalloc_node"); }
static inline __attribute__((always_inline)) void *kzalloc_node(size_t n, gfp_t f, int node) { (void)node; return hvb_alloc(n, f, 1, "kzalloc_node"); }
static inline __attribute__((always_inline)) void *kmalloc_array(size_t n, size_t s, gfp_t f)
{
	size_t b;

	return __builtin_mul_overflow(n, s, &b) ? NULL : hvb_alloc(b, f, 0, "kmalloc_array");
}
static inline __attribute__((always_inline)) void *kcalloc(size_t n, size_t s, gfp_t f)
{
	size_t b;

	return __builtin_mul_overflow(n, s, &b) ? NULL : hvb_alloc(b, f, 1, "kcalloc");
}
static inline __attribute__((always_inline)) void kfree(const void *p) { hvb_kops->kfree(p, "kfree"); }
static inline __attribute__((always_inline)) void kfree_sensitive(const void *p) { hvb_kops->kfree(p, "kfree_sensitive"); }
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 10, 0)
#define kzfree kfree_sensitive /* renamed kfree_sensitive in 5.9, gone in 5.10 */
#endif
/* krealloc: a new block, the old contents copied, the old block freed. */
static inline __attribute__((always_inline)) size_t hvb_alloc_size(const void *p)
{
	/* The runtime's allocation header keeps the size just before the block. */
	return p && !ZERO_OR_NULL_PTR(p) ? ((const size_t *)p)[-3] : 0;
}
static inline __attribute__((always_inline)) void *krealloc(const void *p, size_t n, gfp_t f)
{
	void *q;
	size_t old = hvb_alloc_size(p);

	if (!n) {
		kfree(p);
		return ZERO_SIZE_PTR;
	}
	q = hvb_alloc(n, f, 0, "krealloc");
	if (q && p)
		memcpy(q, p, old < n ? old : n);
	if (q)
		kfree(p);
	return q;
}
#define krealloc_array(p, n, s, f) krealloc(p, size_mul(n, s), f)
static inline __attribute__((always_inline)) size_t ksize(const void *p) { return hvb_alloc_size(p); }
static inline __attribute__((always_inline)) void *kmemdup(const void *src, size_t len, gfp_t f)
{
	void *p = hvb_alloc(len, f, 0, "kmemdup");

	if (p)
		memcpy(p, src, len);
	return p;
}

/* ---- kvmalloc (5.17+ here; mm.h before, which includes this) ---- */
static inline __attribute__((always_inline)) void *kvmalloc(size_t n, gfp_t f) { return hvb_alloc(n, f, 0, "kvmalloc"); }
static inline __attribute__((always_inline)) void *kvzalloc(size_t n, gfp_t f) { return hvb_alloc(n, f, 1, "kvzalloc"); }
static inline __attribute__((always_inline)) void *kvmalloc_node(size_t n, gfp_t f, int node) { (void)node; return hvb_alloc(n, f, 0, "kvmalloc_node"); }
static inline __attribute__((always_inline)) void *kvmalloc_array(size_t n, size_t s, gfp_t f)
{
	size_t b;

	return __builtin_mul_overflow(n, s, &b) ? NULL : hvb_alloc(b, f, 0, "kvmalloc_array");
}
static inline __attribute__((always_inline)) void *kvcalloc(size_t n, size_t s, gfp_t f)
{
	size_t b;

	return __builtin_mul_overflow(n, s, &b) ? NULL : hvb_alloc(b, f, 1, "kvcalloc");
}
static inline __attribute__((always_inline)) void kvfree(const void *p) { hvb_kops->kfree(p, "kvfree"); }
static inline __attribute__((always_inline)) void kvfree_sensitive(const void *p, size_t len) { (void)len; hvb_kops->kfree(p, "kvfree_sensitive"); }

/* ---- slab caches: objects of one size, from kmalloc underneath ---- */
#define SLAB_HWCACHE_ALIGN 0x00002000U
#define SLAB_PANIC 0x00040000U
#define SLAB_ACCOUNT 0x04000000U
#define SLAB_RECLAIM_ACCOUNT 0x00020000U
#define SLAB_TYPESAFE_BY_RCU 0x00080000U
struct kmem_cache {
	size_t size;
	void (*ctor)(void *);
	long live;
	char name[32];
};
static inline __attribute__((always_inline)) struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, unsigned int align,
						   slab_flags_t flags, void (*ctor)(void *))
{
	struct kmem_cache *c = (struct kmem_cache *)hvb_kops->kmalloc(sizeof(*c), GFP_KERNEL, 1, "kmem_cache_create");

	(void)align;
	(void)flags;
	if (!c)
		return NULL;
	c->size = size;
	c->ctor = ctor;
	snprintf(c->name, sizeof(c->name), "%s", name);
	return c;
}
#define KMEM_CACHE(s, flags) kmem_cache_create(#s, sizeof(struct s), __alignof__(struct s), (flags), NULL)
#define kmem_cache_create_usercopy(name, size, align, flags, uo, us, ctor) kmem_cache_create(name, size, align, flags, ctor)
static inline __attribute__((always_inline)) void *kmem_cache_alloc(struct kmem_cache *c, gfp_t f)
{
	void *p = hvb_alloc(c->size, f, 0, "kmem_cache_alloc");

	if (p) {
		c->live++;
		if (c->ctor)
			c->ctor(p);
	}
	return p;
}
static inline __attribute__((always_inline)) void *kmem_cache_zalloc(struct kmem_cache *c, gfp_t f) { return kmem_cache_alloc(c, f | __GFP_ZERO); }
static inline __attribute__((always_inline)) void kmem_cache_free(struct kmem_cache *c, void *p)
{
	if (p)
		c->live--;
	hvb_kops->kfree(p, "kmem_cache_free");
}
static inline __attribute__((always_inline)) void kmem_cache_destroy(struct kmem_cache *c)
{
	if (!c)
		return;
	if (c->live)
		hvb_kops->report("guest.memory-leak", "kmem_cache_destroy of a cache with objects still allocated");
	hvb_kops->kfree(c, "kmem_cache_destroy");
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/vmalloc.h>: virtually contiguous memory (from the same checked allocator). */
#ifndef _HVB_LINUX_VMALLOC_H
#define _HVB_LINUX_VMALLOC_H

#include "slab.h"

static inline void *vmalloc(unsigned long n) { return hvb_alloc(n, GFP_KERNEL, 0, "vmalloc"); }
static inline void *vzalloc(unsigned long n) { return hvb_alloc(n, GFP_KERNEL, 1, "vzalloc"); }
static inline void *vmalloc_user(unsigned long n) { return hvb_alloc(n, GFP_KERNEL, 1, "vmalloc_user"); }
static inline void *vmalloc_node(unsigned long n, int node) { (void)node; return hvb_alloc(n, GFP_KERNEL, 0, "vmalloc_node"); }
static inline void *vzalloc_node(unsigned long n, int node) { (void)node; return hvb_alloc(n, GFP_KERNEL, 1, "vzalloc_node"); }
static inline void *__vmalloc(unsigned long n, gfp_t f) { return hvb_alloc(n, f, 0, "__vmalloc"); }
static inline void *vmalloc_array(size_t n, size_t s) { return __vmalloc(size_mul(n, s), GFP_KERNEL); }
static inline void *vcalloc(size_t n, size_t s) { return hvb_alloc(size_mul(n, s), GFP_KERNEL, 1, "vcalloc"); }
static inline void vfree(const void *p) { hvb_kops->kfree(p, "vfree"); }
static inline bool is_vmalloc_addr(const void *p) { (void)p; return false; }

#endif

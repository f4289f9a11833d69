/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/uio.h>: iovecs and iov_iter over user memory, with the members
 * each era's struct iov_iter really has:
 *   5.10-5.13  unsigned int type (ITER_IOVEC = 4 ... | READ/WRITE); iov_offset; count; iov; nr_segs
 *   5.14       u8 iter_type (ITER_IOVEC = 0 ...); bool data_source; iov_offset; count; iov; nr_segs
 *   5.16       + bool nofault
 *   6.0        + bool user_backed, ubuf (ITER_UBUF); iov_iter_get_pages{,_alloc}2 replace
 *              iov_iter_get_pages{,_alloc} (which no longer exist)
 *   6.1        ITER_SOURCE / ITER_DEST
 *   6.2        import_ubuf()
 * Only user-backed iterators (ITER_IOVEC/ITER_UBUF) are modelled: kvec/bvec/xarray/pipe are not.
 */
#ifndef _HVB_LINUX_UIO_H
#define _HVB_LINUX_UIO_H

#include "../hvb_kernel.h"
#include "errno.h"
#include "limits.h"
#include "mm.h"
#include "slab.h"
#include "uaccess.h"

#define READ 0
#define WRITE 1
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 1, 0)
#define ITER_SOURCE 1 /* == WRITE */
#define ITER_DEST 0   /* == READ */
#endif
#define UIO_FASTIOV 8
#define UIO_MAXIOV 1024
#define MAX_RW_COUNT (INT_MAX & PAGE_MASK)

struct iovec {
	void __user *iov_base;
	__kernel_size_t iov_len;
};
struct kvec {
	void *iov_base;
	size_t iov_len;
};
struct bio_vec;
struct pipe_inode_info;
struct xarray;

#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 14, 0)
enum iter_type {
	ITER_IOVEC = 4,
	ITER_KVEC = 8,
	ITER_BVEC = 16,
	ITER_PIPE = 32,
	ITER_DISCARD = 64,
};
struct iov_iter {
	unsigned int type; /* iter_type | READ/WRITE */
	size_t iov_offset;
	size_t count;
	union {
		const struct iovec *iov;
		const struct kvec *kvec;
		const struct bio_vec *bvec;
		struct pipe_inode_info *pipe;
	};
	union {
		unsigned long nr_segs;
		struct {
			unsigned int head;
			unsigned int start_head;
		};
	};
};
static inline enum iter_type iov_iter_type(const struct iov_iter *i) { return (enum iter_type)(i->type & ~(READ | WRITE)); }
static inline int iov_iter_rw(const struct iov_iter *i) { return (int)(i->type & (READ | WRITE)); }
#else
enum iter_type {
	ITER_IOVEC,
	ITER_KVEC,
	ITER_BVEC,
	ITER_PIPE,
	ITER_XARRAY,
	ITER_DISCARD,
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 0, 0)
	ITER_UBUF,
#endif
};
struct iov_iter {
	u8 iter_type;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 16, 0)
	bool nofault;
#endif
	bool data_source;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 0, 0)
	bool user_backed;
	union {
		size_t iov_offset;
		int last_offset;
	};
#else
	size_t iov_offset;
#endif
	size_t count;
	union {
		const struct iovec *iov;
		const struct kvec *kvec;
		const struct bio_vec *bvec;
		struct xarray *xarray;
		struct pipe_inode_info *pipe;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 0, 0)
		void __user *ubuf;
#endif
	};
	union {
		unsigned long nr_segs;
		struct {
			unsigned int head;
			unsigned int start_head;
		};
		loff_t xarray_start;
	};
};
static inline enum iter_type iov_iter_type(const struct iov_iter *i) { return (enum iter_type)i->iter_type; }
static inline int iov_iter_rw(const struct iov_iter *i) { return i->data_source ? WRITE : READ; }
#endif

static inline size_t iov_iter_count(const struct iov_iter *i) { return i->count; }
static inline bool iter_is_iovec(const struct iov_iter *i) { return iov_iter_type(i) == ITER_IOVEC; }
static inline bool iov_iter_is_kvec(const struct iov_iter *i) { return iov_iter_type(i) == ITER_KVEC; }
static inline bool iov_iter_is_bvec(const struct iov_iter *i) { return iov_iter_type(i) == ITER_BVEC; }
static inline bool iov_iter_is_pipe(const struct iov_iter *i) { return iov_iter_type(i) == ITER_PIPE; }
static inline bool iov_iter_is_discard(const struct iov_iter *i) { return iov_iter_type(i) == ITER_DISCARD; }
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 0, 0)
static inline bool iter_is_ubuf(const struct iov_iter *i) { return iov_iter_type(i) == ITER_UBUF; }
static inline bool user_backed_iter(const struct iov_iter *i) { return i->user_backed; }
#endif

/* The user address the iterator stands at (user-backed iterators only; 0 otherwise). */
static inline unsigned long hvb_iter_addr(const struct iov_iter *i)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 0, 0)
	if (iov_iter_type(i) == ITER_UBUF)
		return (unsigned long)(uintptr_t)i->ubuf + i->iov_offset;
#endif
	if (iov_iter_type(i) == ITER_IOVEC && i->nr_segs)
		return (unsigned long)(uintptr_t)i->iov->iov_base + i->iov_offset;
	return 0;
}
static inline void hvb_iter_set(struct iov_iter *i, unsigned int direction, int type)
{
	memset(i, 0, sizeof(*i));
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 14, 0)
	i->type = (unsigned int)type | (direction & (READ | WRITE));
#else
	i->iter_type = (u8)type;
	i->data_source = (direction & WRITE) != 0;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 0, 0)
	i->user_backed = type == ITER_IOVEC || type == ITER_UBUF;
#endif
#endif
}
static inline void iov_iter_init(struct iov_iter *i, unsigned int direction, const struct iovec *iov,
				 unsigned long nr_segs, size_t count)
{
	if (direction & ~(READ | WRITE))
		hvb_kops->report("guest.warn-on", "iov_iter_init: direction is neither READ nor WRITE");
	hvb_iter_set(i, direction, ITER_IOVEC);
	i->iov = iov;
	i->nr_segs = nr_segs;
	i->count = count;
}
/* Exists in every era here (removed only in 6.8). */
static inline int import_single_range(int rw, void __user *buf, size_t len, struct iovec *iov, struct iov_iter *i)
{
	if (len > MAX_RW_COUNT)
		len = MAX_RW_COUNT;
	if (!access_ok(buf, len))
		return -EFAULT;
	iov->iov_base = buf;
	iov->iov_len = len;
	iov_iter_init(i, (unsigned int)rw, iov, 1, len);
	return 0;
}
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 0, 0)
static inline void iov_iter_ubuf(struct iov_iter *i, unsigned int direction, void __user *buf, size_t count)
{
	hvb_iter_set(i, direction, ITER_UBUF);
	i->ubuf = buf;
	i->count = count;
	i->nr_segs = 1;
}
#endif
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
static inline int import_ubuf(int rw, void __user *buf, size_t len, struct iov_iter *i)
{
	if (len > MAX_RW_COUNT)
		len = MAX_RW_COUNT;
	if (!access_ok(buf, len))
		return -EFAULT;
	iov_iter_ubuf(i, (unsigned int)rw, buf, len);
	return 0;
}
#endif
static inline void iov_iter_advance(struct iov_iter *i, size_t n)
{
	if (n > i->count)
		n = i->count;
	i->iov_offset += n;
	i->count -= n;
}
static inline void iov_iter_revert(struct iov_iter *i, size_t n)
{
	if (n > i->iov_offset)
		n = i->iov_offset;
	i->iov_offset -= n;
	i->count += n;
}
static inline void iov_iter_truncate(struct iov_iter *i, u64 count)
{
	if (i->count > count)
		i->count = (size_t)count;
}
static inline void iov_iter_reexpand(struct iov_iter *i, size_t count) { i->count = count; }
static inline int iov_iter_npages(const struct iov_iter *i, int maxpages)
{
	unsigned long a = hvb_iter_addr(i);
	long n = i->count ? (long)DIV_ROUND_UP(offset_in_page(a) + i->count, PAGE_SIZE) : 0;

	return n < maxpages ? (int)n : maxpages;
}
static inline size_t copy_to_iter(const void *addr, size_t bytes, struct iov_iter *i)
{
	unsigned long a = hvb_iter_addr(i);
	size_t n = bytes < i->count ? bytes : i->count;
	size_t left;

	if (!a || iov_iter_rw(i) != READ)
		return 0;
	left = hvb_kops->copy_to_user((void __user *)(uintptr_t)a, addr, n);
	iov_iter_advance(i, n - left);
	return n - left;
}
static inline size_t copy_from_iter(void *addr, size_t bytes, struct iov_iter *i)
{
	unsigned long a = hvb_iter_addr(i);
	size_t n = bytes < i->count ? bytes : i->count;
	size_t left;

	if (!a || iov_iter_rw(i) != WRITE)
		return 0;
	left = hvb_kops->copy_from_user(addr, (const void __user *)(uintptr_t)a, n);
	iov_iter_advance(i, n - left);
	return n - left;
}

/*
 * Pins the pages under the iterator (up to maxsize bytes and maxpages pages). Direction
 * READ: data flows into this memory, so the pages are pinned for writing.
 */
static inline ssize_t hvb_iov_iter_get_pages(struct iov_iter *i, struct page ***pagesp, struct page **given,
					     size_t maxsize, unsigned int maxpages, size_t *start, bool advance)
{
	unsigned long a = hvb_iter_addr(i);
	size_t len = i->count < maxsize ? i->count : maxsize;
	long nr, got;
	struct page **p = given;

	if (!a) {
		hvb_kops->report("guest.unsupported", "iov_iter_get_pages on an iterator that is not user-backed");
		return -EFAULT;
	}
	if (!len)
		return 0;
	*start = (size_t)offset_in_page(a);
	nr = (long)DIV_ROUND_UP(*start + len, PAGE_SIZE);
	if (maxpages && nr > (long)maxpages) {
		nr = (long)maxpages;
		len = (size_t)nr * PAGE_SIZE - *start;
	}
	if (!p) {
		p = (struct page **)hvb_kops->kmalloc(sizeof(*p) * (size_t)nr, GFP_KERNEL, 1, "iov_iter_get_pages_alloc");
		if (!p)
			return -ENOMEM;
	}
	got = hvb_kops->pin_user_pages(a & PAGE_MASK, nr, iov_iter_rw(i) == WRITE ? 0 : FOLL_WRITE, p);
	if (got <= 0) {
		if (!given)
			hvb_kops->kfree(p, "iov_iter_get_pages_alloc");
		return got < 0 ? got : -EFAULT;
	}
	if (pagesp)
		*pagesp = p;
	if (got < nr)
		len = (size_t)got * PAGE_SIZE - *start;
	if (advance)
		iov_iter_advance(i, len);
	return (ssize_t)len;
}
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 0, 0)
static inline ssize_t iov_iter_get_pages_alloc(struct iov_iter *i, struct page ***pages, size_t maxsize, size_t *start)
{
	return hvb_iov_iter_get_pages(i, pages, NULL, maxsize, 0, start, false);
}
static inline ssize_t iov_iter_get_pages(struct iov_iter *i, struct page **pages, size_t maxsize, unsigned int maxpages,
					 size_t *start)
{
	return hvb_iov_iter_get_pages(i, NULL, pages, maxsize, maxpages, start, false);
}
#else
static inline ssize_t iov_iter_get_pages_alloc2(struct iov_iter *i, struct page ***pages, size_t maxsize, size_t *start)
{
	return hvb_iov_iter_get_pages(i, pages, NULL, maxsize, 0, start, true);
}
static inline ssize_t iov_iter_get_pages2(struct iov_iter *i, struct page **pages, size_t maxsize, unsigned int maxpages,
					  size_t *start)
{
	return hvb_iov_iter_get_pages(i, NULL, pages, maxsize, maxpages, start, true);
}
#endif

#endif

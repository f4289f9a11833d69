/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/mm.h>: pages and pinning user memory. A struct page is never
 * dereferenced by a driver: its pointer encodes the PFN and the intent it was pinned with
 * (bit 0: write), so a release can account for it exactly.
 */
#ifndef _HVB_LINUX_MM_H
#define _HVB_LINUX_MM_H

#include "../hvb_kernel.h"
#include "errno.h"
#include "gfp.h"
#include "slab.h"
#include "types.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define PAGE_ALIGN(addr) (((addr) + PAGE_SIZE - 1) & PAGE_MASK)
#define PAGE_ALIGNED(addr) (((unsigned long)(addr) & (PAGE_SIZE - 1)) == 0)
#define offset_in_page(p) ((unsigned long)(p) & ~PAGE_MASK)
#define PFN_DOWN(x) ((x) >> PAGE_SHIFT)
#define PFN_UP(x) (((x) + PAGE_SIZE - 1) >> PAGE_SHIFT)
#define PFN_PHYS(x) ((phys_addr_t)(x) << PAGE_SHIFT)

struct page;
struct vm_area_struct;
struct mm_struct;
#define HVB_PAGE(pfn, write) ((struct page *)(uintptr_t)(((uint64_t)(pfn) << 4) | 0x8 | ((write) ? 1 : 0)))
#define page_to_pfn(p) ((unsigned long)((uintptr_t)(p) >> 4))
#define page_to_phys(p) PFN_PHYS(page_to_pfn(p))

/* gup flags */
#define FOLL_WRITE 0x01
#define FOLL_TOUCH 0x02
#define FOLL_GET 0x04
#define FOLL_FORCE 0x10
#define FOLL_NOWAIT 0x20
#define FOLL_POPULATE 0x40
#define FOLL_LONGTERM 0x100
#define FOLL_PIN 0x40000

/* get_user_pages_fast (4.x+) and pin_user_pages_fast (5.6+): nr pinned, or -errno. */
static inline int get_user_pages_fast(unsigned long start, int nr, unsigned int gup_flags, struct page **pages)
{
	hvb_kops->sleep_check("get_user_pages_fast");
	return (int)hvb_kops->pin_user_pages(start, nr, gup_flags, pages);
}
static inline int pin_user_pages_fast(unsigned long start, int nr, unsigned int gup_flags, struct page **pages)
{
	hvb_kops->sleep_check("pin_user_pages_fast");
	return (int)hvb_kops->pin_user_pages(start, nr, gup_flags, pages);
}
#define get_user_pages_unlocked(start, nr, pages, flags) get_user_pages_fast(start, (int)(nr), flags, pages)
static inline void put_page(struct page *p) { hvb_kops->put_page(p); }
static inline void get_page(struct page *p)
{
	(void)p;
	hvb_kops->report("guest.unsupported", "get_page: the shim's pages carry no reference count");
}
static inline void unpin_user_page(struct page *p) { hvb_kops->put_page(p); }
static inline void unpin_user_pages(struct page **pages, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		hvb_kops->put_page(pages[i]);
}
/* Marking a page dirty tells hvblob the host's writes to it must be kept. */
static inline void set_page_dirty_lock(struct page *p) { hvb_kops->set_page_dirty(p); }
static inline int set_page_dirty(struct page *p) { hvb_kops->set_page_dirty(p); return 1; }
static inline void unpin_user_pages_dirty_lock(struct page **pages, unsigned long n, bool dirty)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		if (dirty)
			hvb_kops->set_page_dirty(pages[i]);
		hvb_kops->put_page(pages[i]);
	}
}

#endif

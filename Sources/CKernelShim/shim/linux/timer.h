/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/timer.h>: timers fire on the kworker thread, in softirq context
 * (sleeping there is a finding), once the machine's clock reaches `expires`.
 */
#ifndef _HVB_LINUX_TIMER_H
#define _HVB_LINUX_TIMER_H

#include "../hvb_kernel.h"
#include "jiffies.h"
#include "list.h"

struct timer_list {
	struct hlist_node entry; /* pprev != NULL while pending */
	unsigned long expires;
	void (*function)(struct timer_list *);
	u32 flags;
};
#define TIMER_DEFERRABLE 0x00080000
#define TIMER_PINNED 0x00100000
#define TIMER_IRQSAFE 0x00200000
#define __TIMER_INITIALIZER(fn, fl) { .entry = { NULL, NULL }, .expires = 0, .function = (fn), .flags = (fl) }
#define DEFINE_TIMER(name, fn) struct timer_list name = __TIMER_INITIALIZER(fn, 0)
static inline void timer_setup(struct timer_list *t, void (*fn)(struct timer_list *), unsigned int flags)
{
	t->entry.next = NULL;
	t->entry.pprev = NULL;
	t->function = fn;
	t->flags = flags;
	t->expires = 0;
}
#define timer_setup_on_stack timer_setup
#define destroy_timer_on_stack(t) do { (void)(t); } while (0)
#define from_timer(var, timer, field) container_of(timer, __typeof__(*var), field)
static inline int timer_pending(const struct timer_list *t) { return READ_ONCE(t->entry.pprev) != NULL; }
static inline int mod_timer(struct timer_list *t, unsigned long expires) { return hvb_kops->mod_timer(t, expires, 0); }
static inline int mod_timer_pending(struct timer_list *t, unsigned long expires) { return hvb_kops->mod_timer(t, expires, 1); }
static inline void add_timer(struct timer_list *t)
{
	if (timer_pending(t))
		hvb_kops->report("guest.timer-double-add", "add_timer of a timer already pending");
	(void)hvb_kops->mod_timer(t, t->expires, 0);
}
static inline int del_timer(struct timer_list *t) { return hvb_kops->del_timer(t, 0); }
static inline int del_timer_sync(struct timer_list *t) { return hvb_kops->del_timer(t, 1); }
/* 6.2 renamed these timer_delete{,_sync}; both spellings are kept, as the kernel did. */
static inline int timer_delete(struct timer_list *t) { return hvb_kops->del_timer(t, 0); }
static inline int timer_delete_sync(struct timer_list *t) { return hvb_kops->del_timer(t, 1); }
#define timer_shutdown_sync timer_delete_sync

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/rculist.h>: list and hlist operations for RCU readers. Updates
 * are scheduling points (the caller holds the update-side lock); a deleted entry keeps its
 * forward pointer for readers still on it, as in the kernel.
 */
#ifndef _HVB_LINUX_RCULIST_H
#define _HVB_LINUX_RCULIST_H

#include "list.h"
#include "rcupdate.h"

#define list_next_rcu(list) (*((struct list_head __rcu **)(&(list)->next)))
static inline void INIT_LIST_HEAD_RCU(struct list_head *l)
{
	WRITE_ONCE(l->next, l);
	WRITE_ONCE(l->prev, l);
}
static inline void __list_add_rcu(struct list_head *n, struct list_head *prev, struct list_head *next)
{
	hvb_kops->sched_point("list_add_rcu");
	if (!hvb_list_add_valid(n, prev, next))
		return;
	n->next = next;
	n->prev = prev;
	rcu_assign_pointer(list_next_rcu(prev), n);
	next->prev = n;
}
static inline void list_add_rcu(struct list_head *n, struct list_head *h) { __list_add_rcu(n, h, h->next); }
static inline void list_add_tail_rcu(struct list_head *n, struct list_head *h) { __list_add_rcu(n, h->prev, h); }
static inline void list_del_rcu(struct list_head *e)
{
	if (!__list_del_entry(e))
		return;
	e->prev = (struct list_head *)LIST_POISON2;
}
static inline void list_del_init_rcu(struct list_head *e)
{
	if (__list_del_entry(e))
		e->prev = e;
}
static inline void list_replace_rcu(struct list_head *old, struct list_head *n)
{
	hvb_kops->sched_point("list_replace_rcu");
	n->next = old->next;
	n->prev = old->prev;
	rcu_assign_pointer(list_next_rcu(n->prev), n);
	n->next->prev = n;
	old->prev = (struct list_head *)LIST_POISON2;
}
#define list_entry_rcu(ptr, type, member) container_of(READ_ONCE(ptr), type, member)
#define list_first_or_null_rcu(ptr, type, member)                                          \
	({ struct list_head *__h = (ptr); struct list_head *__n = READ_ONCE(__h->next);     \
	   likely(__h != __n) ? list_entry_rcu(__n, type, member) : NULL; })
#define list_next_or_null_rcu(head, ptr, type, member)                                     \
	({ struct list_head *__h = (head); struct list_head *__p = (ptr);                   \
	   struct list_head *__n = READ_ONCE(__p->next);                                    \
	   likely(__n != __h) ? list_entry_rcu(__n, type, member) : NULL; })
/* The optional lockdep condition of the _rcu iterators: (dummy, ##cond, 0) picks it or 0. */
#define __hvb_rcu_list_check(dummy, cond, extra...) \
	hvb_rcu_dereference_check(!!(cond), "an _rcu list iteration outside a read-side critical section")
#define list_for_each_entry_rcu(pos, head, member, cond...)                                     \
	for (__hvb_rcu_list_check(dummy, ##cond, 0), pos = list_entry_rcu((head)->next, __typeof__(*pos), member); \
	     &pos->member != (head); pos = hvb_list_next_entry(pos, head, member))
#define list_for_each_entry_srcu(pos, head, member, cond) list_for_each_entry_rcu(pos, head, member, cond)
#define list_for_each_entry_continue_rcu(pos, head, member) \
	for (pos = hvb_list_next_entry(pos, head, member); &pos->member != (head); pos = hvb_list_next_entry(pos, head, member))

/* ---- hlist ---- */
#define hlist_first_rcu(head) (*((struct hlist_node __rcu **)(&(head)->first)))
#define hlist_next_rcu(node) (*((struct hlist_node __rcu **)(&(node)->next)))
static inline void hlist_del_rcu(struct hlist_node *n)
{
	if (__hlist_del(n))
		n->pprev = (struct hlist_node **)LIST_POISON2;
}
static inline void hlist_del_init_rcu(struct hlist_node *n)
{
	if (!hlist_unhashed(n) && __hlist_del(n))
		WRITE_ONCE(n->pprev, NULL);
}
static inline void hlist_add_head_rcu(struct hlist_node *n, struct hlist_head *h)
{
	struct hlist_node *first = h->first;

	hvb_kops->sched_point("hlist_add_head_rcu");
	if (hvb_hlist_freed(h, sizeof(*h), "hlist_add_head_rcu (head)"))
		return;
	n->next = first;
	WRITE_ONCE(n->pprev, &h->first);
	rcu_assign_pointer(hlist_first_rcu(h), n);
	if (first)
		WRITE_ONCE(first->pprev, &n->next);
}
static inline void hlist_add_tail_rcu(struct hlist_node *n, struct hlist_head *h)
{
	struct hlist_node *i, *last = NULL;

	for (i = h->first; i; i = i->next)
		last = i;
	if (last) {
		n->next = last->next;
		WRITE_ONCE(n->pprev, &last->next);
		rcu_assign_pointer(hlist_next_rcu(last), n);
	} else {
		hlist_add_head_rcu(n, h);
	}
}
static inline void hlist_replace_rcu(struct hlist_node *old, struct hlist_node *n)
{
	struct hlist_node *next = old->next;

	n->next = next;
	WRITE_ONCE(n->pprev, old->pprev);
	rcu_assign_pointer(*(struct hlist_node __rcu **)n->pprev, n);
	if (next)
		WRITE_ONCE(n->next->pprev, &n->next);
	WRITE_ONCE(old->pprev, (struct hlist_node **)LIST_POISON2);
}
#define hlist_for_each_entry_rcu(pos, head, member, cond...)                                         \
	for (__hvb_rcu_list_check(dummy, ##cond, 0), pos = hlist_entry_safe(READ_ONCE(hlist_first_rcu(head)), __typeof__(*(pos)), member); \
	     pos; pos = hlist_entry_safe(hvb_hlist_next(&(pos)->member), __typeof__(*(pos)), member))
#define hlist_for_each_entry_rcu_notrace hlist_for_each_entry_rcu
#define hlist_for_each_entry_rcu_bh hlist_for_each_entry_rcu
#define hlist_for_each_entry_srcu(pos, head, member, cond) hlist_for_each_entry_rcu(pos, head, member, cond)
#define hlist_for_each_entry_continue_rcu(pos, member) \
	for (pos = hlist_entry_safe(hvb_hlist_next(&(pos)->member), __typeof__(*(pos)), member); pos; \
	     pos = hlist_entry_safe(hvb_hlist_next(&(pos)->member), __typeof__(*(pos)), member))

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/list.h>: doubly linked lists and hlists, checked as
 * CONFIG_DEBUG_LIST checks them (corruption is a finding, the operation is skipped), and
 * checked against freed memory (an entry or neighbour in a freed block is a use-after-free).
 * Every change is a scheduling point.
 */
#ifndef _HVB_LINUX_LIST_H
#define _HVB_LINUX_LIST_H

#include "../hvb_kernel.h"
#include "container_of.h"
#include "poison.h"
#include "types.h"

#define LIST_HEAD_INIT(name) { &(name), &(name) }
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)

static inline void INIT_LIST_HEAD(struct list_head *l)
{
	WRITE_ONCE(l->next, l);
	l->prev = l;
}
static inline bool list_empty(const struct list_head *h) { return READ_ONCE(h->next) == h; }
static inline bool list_empty_careful(const struct list_head *h) { return h->next == h && h->prev == h; }
static inline bool list_is_head(const struct list_head *l, const struct list_head *h) { return l == h; }
static inline bool list_is_first(const struct list_head *l, const struct list_head *h) { return l->prev == h; }
static inline bool list_is_last(const struct list_head *l, const struct list_head *h) { return l->next == h; }
static inline bool list_is_singular(const struct list_head *h) { return !list_empty(h) && h->next == h->prev; }

/* An entry whose pointers read as freed memory: report where it was freed; true to skip. */
static inline bool hvb_list_freed(const struct list_head *e, const char *what)
{
	return hvb_freed(e, sizeof(*e), what);
}
static inline bool hvb_list_add_valid(struct list_head *n, struct list_head *prev, struct list_head *next)
{
	if (hvb_list_freed(prev, "list_add (list head or previous entry)") ||
	    hvb_list_freed(next, "list_add (next entry)"))
		return false;
	if (next->prev != prev || prev->next != next || n == prev || n == next) {
		hvb_kops->report("guest.list-corruption", n == prev || n == next
					 ? "list_add double add: the entry is already next to where it goes"
					 : "list_add corruption: the neighbours do not point at each other");
		return false;
	}
	return true;
}
static inline bool hvb_list_del_valid(struct list_head *e)
{
	struct list_head *prev = e->prev, *next = e->next;

	if (hvb_list_freed(e, "list_del"))
		return false;
	if (next == LIST_POISON1 || prev == LIST_POISON2) {
		hvb_kops->report("guest.list-corruption", "list_del of an entry already deleted");
		return false;
	}
	if (hvb_list_freed(prev, "list_del (previous entry)") || hvb_list_freed(next, "list_del (next entry)"))
		return false;
	if (prev->next != e || next->prev != e) {
		hvb_kops->report("guest.list-corruption", "list_del corruption: the neighbours do not point at the entry");
		return false;
	}
	return true;
}
static inline void __list_add(struct list_head *n, struct list_head *prev, struct list_head *next)
{
	hvb_kops->sched_point("list_add");
	if (!hvb_list_add_valid(n, prev, next))
		return;
	next->prev = n;
	n->next = next;
	n->prev = prev;
	WRITE_ONCE(prev->next, n);
}
static inline void list_add(struct list_head *n, struct list_head *h) { __list_add(n, h, h->next); }
static inline void list_add_tail(struct list_head *n, struct list_head *h) { __list_add(n, h->prev, h); }
static inline void __list_del(struct list_head *prev, struct list_head *next)
{
	next->prev = prev;
	WRITE_ONCE(prev->next, next);
}
static inline bool __list_del_entry(struct list_head *e)
{
	hvb_kops->sched_point("list_del");
	if (!hvb_list_del_valid(e))
		return false;
	__list_del(e->prev, e->next);
	return true;
}
static inline void list_del(struct list_head *e)
{
	if (!__list_del_entry(e))
		return;
	e->next = (struct list_head *)LIST_POISON1;
	e->prev = (struct list_head *)LIST_POISON2;
}
static inline void list_del_init(struct list_head *e)
{
	if (__list_del_entry(e))
		INIT_LIST_HEAD(e);
}
static inline void list_replace(struct list_head *old, struct list_head *n)
{
	hvb_kops->sched_point("list_replace");
	if (hvb_list_freed(old, "list_replace"))
		return;
	n->next = old->next;
	n->next->prev = n;
	n->prev = old->prev;
	n->prev->next = n;
}
static inline void list_replace_init(struct list_head *old, struct list_head *n)
{
	list_replace(old, n);
	INIT_LIST_HEAD(old);
}
static inline void list_move(struct list_head *e, struct list_head *h)
{
	if (__list_del_entry(e))
		list_add(e, h);
}
static inline void list_move_tail(struct list_head *e, struct list_head *h)
{
	if (__list_del_entry(e))
		list_add_tail(e, h);
}
static inline void __list_splice(const struct list_head *list, struct list_head *prev, struct list_head *next)
{
	struct list_head *first = list->next, *last = list->prev;

	hvb_kops->sched_point("list_splice");
	first->prev = prev;
	prev->next = first;
	last->next = next;
	next->prev = last;
}
static inline void list_splice(const struct list_head *list, struct list_head *h)
{
	if (!list_empty(list))
		__list_splice(list, h, h->next);
}
static inline void list_splice_tail(struct list_head *list, struct list_head *h)
{
	if (!list_empty(list))
		__list_splice(list, h->prev, h);
}
static inline void list_splice_init(struct list_head *list, struct list_head *h)
{
	if (!list_empty(list)) {
		__list_splice(list, h, h->next);
		INIT_LIST_HEAD(list);
	}
}
static inline void list_splice_tail_init(struct list_head *list, struct list_head *h)
{
	if (!list_empty(list)) {
		__list_splice(list, h->prev, h);
		INIT_LIST_HEAD(list);
	}
}
static inline size_t list_count_nodes(struct list_head *h)
{
	struct list_head *p;
	size_t n = 0;

	for (p = h->next; p != h; p = p->next)
		n++;
	return n;
}

/* The next pointer of an iteration; an entry in freed memory ends it (reported) at `head`. */
static inline struct list_head *hvb_list_next(const struct list_head *p, const struct list_head *head)
{
	struct list_head *n = READ_ONCE(p->next);

	if (hvb_poisoned(&p->next, sizeof(p->next)) || n == LIST_POISON1) {
		if (n == LIST_POISON1)
			hvb_kops->report("guest.list-corruption", "list iteration reached an entry already deleted");
		else
			hvb_kops->check_access(p, sizeof(*p), "list iteration");
		return (struct list_head *)head;
	}
	return n;
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) list_entry((ptr)->next, type, member)
#define list_last_entry(ptr, type, member) list_entry((ptr)->prev, type, member)
#define list_first_entry_or_null(ptr, type, member)                         \
	({ struct list_head *_h = (ptr); struct list_head *_p = READ_ONCE(_h->next); \
	   _p != _h ? list_entry(_p, type, member) : NULL; })
#define list_next_entry(pos, member) list_entry((pos)->member.next, __typeof__(*(pos)), member)
#define list_prev_entry(pos, member) list_entry((pos)->member.prev, __typeof__(*(pos)), member)
#define list_entry_is_head(pos, head, member) (&(pos)->member == (head))
#define hvb_list_next_entry(pos, head, member) \
	list_entry(hvb_list_next(&(pos)->member, (head)), __typeof__(*(pos)), member)

#define list_for_each(pos, head) for (pos = (head)->next; pos != (head); pos = hvb_list_next(pos, (head)))
#define list_for_each_prev(pos, head) for (pos = (head)->prev; pos != (head); pos = pos->prev)
#define list_for_each_safe(pos, n, head) \
	for (pos = (head)->next, n = hvb_list_next(pos, (head)); pos != (head); pos = n, n = hvb_list_next(pos, (head)))
#define list_for_each_entry(pos, head, member)                                        \
	for (pos = list_first_entry(head, __typeof__(*pos), member); !list_entry_is_head(pos, head, member); \
	     pos = hvb_list_next_entry(pos, head, member))
#define list_for_each_entry_reverse(pos, head, member)                               \
	for (pos = list_last_entry(head, __typeof__(*pos), member); !list_entry_is_head(pos, head, member); \
	     pos = list_prev_entry(pos, member))
#define list_prepare_entry(pos, head, member) ((pos) ? : list_entry(head, __typeof__(*pos), member))
#define list_for_each_entry_continue(pos, head, member) \
	for (pos = hvb_list_next_entry(pos, head, member); !list_entry_is_head(pos, head, member); \
	     pos = hvb_list_next_entry(pos, head, member))
#define list_for_each_entry_from(pos, head, member) \
	for (; !list_entry_is_head(pos, head, member); pos = hvb_list_next_entry(pos, head, member))
#define list_for_each_entry_safe(pos, n, head, member)                                   \
	for (pos = list_first_entry(head, __typeof__(*pos), member), n = hvb_list_next_entry(pos, head, member); \
	     !list_entry_is_head(pos, head, member); pos = n, n = hvb_list_next_entry(n, head, member))
#define list_for_each_entry_safe_reverse(pos, n, head, member)                          \
	for (pos = list_last_entry(head, __typeof__(*pos), member), n = list_prev_entry(pos, member); \
	     !list_entry_is_head(pos, head, member); pos = n, n = list_prev_entry(n, member))

/* ---- hlist: singly headed, doubly linked ---- */
#define HLIST_HEAD_INIT { .first = NULL }
#define HLIST_HEAD(name) struct hlist_head name = { .first = NULL }
#define INIT_HLIST_HEAD(ptr) ((ptr)->first = NULL)
static inline void INIT_HLIST_NODE(struct hlist_node *h)
{
	h->next = NULL;
	h->pprev = NULL;
}
static inline bool hlist_unhashed(const struct hlist_node *h) { return !h->pprev; }
static inline bool hlist_unhashed_lockless(const struct hlist_node *h) { return !READ_ONCE(h->pprev); }
static inline bool hlist_empty(const struct hlist_head *h) { return !READ_ONCE(h->first); }
static inline bool hvb_hlist_freed(const void *p, size_t n, const char *what)
{
	return hvb_freed(p, n, what);
}
static inline bool __hlist_del(struct hlist_node *n)
{
	struct hlist_node *next = n->next;
	struct hlist_node **pprev = n->pprev;

	hvb_kops->sched_point("hlist_del");
	if (hvb_hlist_freed(n, sizeof(*n), "hlist_del"))
		return false;
	if (pprev == LIST_POISON2) {
		hvb_kops->report("guest.list-corruption", "hlist_del of an entry already deleted");
		return false;
	}
	if (!pprev) {
		hvb_kops->report("guest.list-corruption", "hlist_del of an entry never added");
		return false;
	}
	if (hvb_hlist_freed(pprev, sizeof(*pprev), "hlist_del (previous entry)"))
		return false;
	WRITE_ONCE(*pprev, next);
	if (next)
		WRITE_ONCE(next->pprev, pprev);
	return true;
}
static inline void hlist_del(struct hlist_node *n)
{
	if (!__hlist_del(n))
		return;
	n->next = (struct hlist_node *)LIST_POISON1;
	n->pprev = (struct hlist_node **)LIST_POISON2;
}
static inline void hlist_del_init(struct hlist_node *n)
{
	if (!hlist_unhashed(n) && __hlist_del(n))
		INIT_HLIST_NODE(n);
}
static inline void hlist_add_head(struct hlist_node *n, struct hlist_head *h)
{
	struct hlist_node *first = h->first;

	hvb_kops->sched_point("hlist_add_head");
	if (hvb_hlist_freed(h, sizeof(*h), "hlist_add_head (head)"))
		return;
	WRITE_ONCE(n->next, first);
	if (first)
		WRITE_ONCE(first->pprev, &n->next);
	WRITE_ONCE(h->first, n);
	WRITE_ONCE(n->pprev, &h->first);
}
static inline void hlist_add_before(struct hlist_node *n, struct hlist_node *next)
{
	hvb_kops->sched_point("hlist_add_before");
	WRITE_ONCE(n->pprev, next->pprev);
	WRITE_ONCE(n->next, next);
	WRITE_ONCE(next->pprev, &n->next);
	WRITE_ONCE(*(n->pprev), n);
}
static inline void hlist_add_behind(struct hlist_node *n, struct hlist_node *prev)
{
	hvb_kops->sched_point("hlist_add_behind");
	WRITE_ONCE(n->next, prev->next);
	WRITE_ONCE(prev->next, n);
	WRITE_ONCE(n->pprev, &prev->next);
	if (n->next)
		WRITE_ONCE(n->next->pprev, &n->next);
}
/* The next node of an iteration; one in freed memory ends it (reported). */
static inline struct hlist_node *hvb_hlist_next(const struct hlist_node *p)
{
	if (hvb_poisoned(&p->next, sizeof(p->next))) {
		hvb_kops->check_access(p, sizeof(*p), "hlist iteration");
		return NULL;
	}
	if (p->next == LIST_POISON1) {
		hvb_kops->report("guest.list-corruption", "hlist iteration reached an entry already deleted");
		return NULL;
	}
	return READ_ONCE(p->next);
}
#define hlist_entry(ptr, type, member) container_of(ptr, type, member)
#define hlist_entry_safe(ptr, type, member) \
	({ __typeof__(ptr) ____ptr = (ptr); ____ptr ? hlist_entry(____ptr, type, member) : NULL; })
#define hlist_for_each(pos, head) for (pos = (head)->first; pos; pos = hvb_hlist_next(pos))
#define hlist_for_each_safe(pos, n, head) \
	for (pos = (head)->first; pos && ({ n = hvb_hlist_next(pos); 1; }); pos = n)
#define hlist_for_each_entry(pos, head, member)                                      \
	for (pos = hlist_entry_safe((head)->first, __typeof__(*(pos)), member); pos;  \
	     pos = hlist_entry_safe(hvb_hlist_next(&(pos)->member), __typeof__(*(pos)), member))
#define hlist_for_each_entry_continue(pos, member) \
	for (pos = hlist_entry_safe(hvb_hlist_next(&(pos)->member), __typeof__(*(pos)), member); pos; \
	     pos = hlist_entry_safe(hvb_hlist_next(&(pos)->member), __typeof__(*(pos)), member))
#define hlist_for_each_entry_from(pos, member) \
	for (; pos; pos = hlist_entry_safe(hvb_hlist_next(&(pos)->member), __typeof__(*(pos)), member))
#define hlist_for_each_entry_safe(pos, n, head, member)                                  \
	for (pos = hlist_entry_safe((head)->first, __typeof__(*pos), member);             \
	     pos && ({ n = hvb_hlist_next(&(pos)->member); 1; });                        \
	     pos = hlist_entry_safe(n, __typeof__(*pos), member))

#endif

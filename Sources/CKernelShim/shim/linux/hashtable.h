/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/hashtable.h>: fixed-size hash tables of hlists, plain and RCU. */
#ifndef _HVB_LINUX_HASHTABLE_H
#define _HVB_LINUX_HASHTABLE_H

#include "hash.h"
#include "kernel.h"
#include "list.h"
#include "log2.h"
#include "rculist.h"

#define DEFINE_HASHTABLE(name, bits) struct hlist_head name[1 << (bits)] = { [0 ... ((1 << (bits)) - 1)] = HLIST_HEAD_INIT }
#define DEFINE_READ_MOSTLY_HASHTABLE(name, bits) DEFINE_HASHTABLE(name, bits)
#define DECLARE_HASHTABLE(name, bits) struct hlist_head name[1 << (bits)]
#define HASH_SIZE(name) (ARRAY_SIZE(name))
#define HASH_BITS(name) ilog2(HASH_SIZE(name))
/* 32-bit keys use hash_32, wider ones hash_long, as the kernel picks. */
#define hash_min(val, bits) (sizeof(val) <= 4 ? hash_32((u32)(val), bits) : hash_long(val, bits))

static inline void __hash_init(struct hlist_head *ht, unsigned int sz)
{
	unsigned int i;

	for (i = 0; i < sz; i++)
		INIT_HLIST_HEAD(&ht[i]);
}
#define hash_init(table) __hash_init(table, HASH_SIZE(table))
#define hash_add(table, node, key) hlist_add_head(node, &table[hash_min(key, HASH_BITS(table))])
#define hash_add_rcu(table, node, key) hlist_add_head_rcu(node, &table[hash_min(key, HASH_BITS(table))])
static inline bool hash_hashed(struct hlist_node *node) { return !hlist_unhashed(node); }
static inline bool __hash_empty(struct hlist_head *ht, unsigned int sz)
{
	unsigned int i;

	for (i = 0; i < sz; i++)
		if (!hlist_empty(&ht[i]))
			return false;
	return true;
}
#define hash_empty(table) __hash_empty(table, HASH_SIZE(table))
static inline void hash_del(struct hlist_node *node) { hlist_del_init(node); }
static inline void hash_del_rcu(struct hlist_node *node) { hlist_del_init_rcu(node); }

#define hash_for_each(name, bkt, obj, member)                                      \
	for ((bkt) = 0, obj = NULL; obj == NULL && (bkt) < HASH_SIZE(name); (bkt)++) \
		hlist_for_each_entry(obj, &name[bkt], member)
#define hash_for_each_rcu(name, bkt, obj, member)                                  \
	for ((bkt) = 0, obj = NULL; obj == NULL && (bkt) < HASH_SIZE(name); (bkt)++) \
		hlist_for_each_entry_rcu(obj, &name[bkt], member)
#define hash_for_each_safe(name, bkt, tmp, obj, member)                            \
	for ((bkt) = 0, obj = NULL; obj == NULL && (bkt) < HASH_SIZE(name); (bkt)++) \
		hlist_for_each_entry_safe(obj, tmp, &name[bkt], member)
#define hash_for_each_possible(name, obj, member, key) \
	hlist_for_each_entry(obj, &name[hash_min(key, HASH_BITS(name))], member)
#define hash_for_each_possible_rcu(name, obj, member, key, cond...) \
	hlist_for_each_entry_rcu(obj, &name[hash_min(key, HASH_BITS(name))], member, ##cond)
#define hash_for_each_possible_rcu_notrace(name, obj, member, key) \
	hlist_for_each_entry_rcu_notrace(obj, &name[hash_min(key, HASH_BITS(name))], member)
#define hash_for_each_possible_safe(name, obj, tmp, member, key) \
	hlist_for_each_entry_safe(obj, tmp, &name[hash_min(key, HASH_BITS(name))], member)

#endif

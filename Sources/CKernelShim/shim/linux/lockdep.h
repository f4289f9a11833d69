/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/lockdep.h>. Lock classes are not modelled: lockdep_is_held() is
 * taken as true and the asserts check nothing (assert_spin_locked() does check).
 */
#ifndef _HVB_LINUX_LOCKDEP_H
#define _HVB_LINUX_LOCKDEP_H

struct lock_class_key {
	int unused;
};
#define lockdep_is_held(l) ((void)(l), 1)
#define lockdep_assert_held(l) do { (void)(l); } while (0)
#define lockdep_assert_held_write(l) do { (void)(l); } while (0)
#define lockdep_assert_held_read(l) do { (void)(l); } while (0)
#define lockdep_assert_not_held(l) do { (void)(l); } while (0)
#define lockdep_assert_irqs_disabled() do { } while (0)
#define lockdep_set_class(l, k) do { (void)(l); (void)(k); } while (0)
#define lockdep_set_subclass(l, s) do { (void)(l); } while (0)
#define SINGLE_DEPTH_NESTING 1

#endif

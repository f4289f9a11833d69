/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/mutex.h>: sleeping locks with an owner, checked as
 * CONFIG_DEBUG_MUTEXES checks them: taking one may sleep (a finding in atomic context),
 * recursion is a deadlock, unlocking another thread's mutex and using one never initialized
 * are findings. The interruptible/killable forms return -EINTR when a signal ends the wait.
 */
#ifndef _HVB_LINUX_MUTEX_H
#define _HVB_LINUX_MUTEX_H

#include "../hvb_kernel.h"
#include "errno.h"
#include "lockdep.h"

#define MUTEX_MAGIC 0x6d757478U /* "mutx" */
struct mutex {
	const void *owner; /* the holding task */
	const char *name;
	unsigned int magic;
};
#define __MUTEX_INITIALIZER(x) { 0, #x, MUTEX_MAGIC }
#define DEFINE_MUTEX(x) struct mutex x = __MUTEX_INITIALIZER(x)
#define mutex_init(m) do { struct mutex *_m = (m); _m->owner = 0; _m->name = #m; _m->magic = MUTEX_MAGIC; } while (0)
static inline void mutex_destroy(struct mutex *m)
{
	if (m->owner)
		hvb_kops->report("guest.mutex-destroy-locked", "mutex_destroy of a mutex still held");
	m->magic = 0;
}
static inline bool mutex_is_locked(struct mutex *m) { return READ_ONCE(m->owner) != 0; }

/* 0 when taken; -EINTR when a signal (of the kind `flags` admits) ended the wait. */
static inline int hvb_mutex_lock(struct mutex *m, int flags, const char *what)
{
	const void *me = hvb_kops->current_task();

	hvb_check_live(m, what);
	hvb_kops->sleep_check(what);
	hvb_kops->sched_point(what);
	if (m->magic != MUTEX_MAGIC) {
		hvb_kops->report("guest.lock-uninitialized", "mutex used before mutex_init / DEFINE_MUTEX");
		m->magic = MUTEX_MAGIC;
		if (!m->name)
			m->name = "mutex";
	}
	while (READ_ONCE(m->owner)) {
		if (m->owner == me) {
			hvb_kops->report("guest.deadlock", "mutex_lock of a mutex the thread holds already");
			return 0;
		}
		if (hvb_kops->block_flags(m, what, 0, 0, flags))
			return -EINTR;
	}
	m->owner = me;
	return 0;
}
static inline void mutex_lock(struct mutex *m) { (void)hvb_mutex_lock(m, 0, "mutex_lock"); }
#define mutex_lock_nested(m, sub) mutex_lock(m)
#define mutex_lock_io mutex_lock
static inline int __must_check mutex_lock_interruptible(struct mutex *m)
{
	return hvb_mutex_lock(m, HVB_WAIT_INTERRUPTIBLE, "mutex_lock_interruptible");
}
static inline int __must_check mutex_lock_killable(struct mutex *m)
{
	return hvb_mutex_lock(m, HVB_WAIT_KILLABLE, "mutex_lock_killable");
}
static inline int mutex_trylock(struct mutex *m)
{
	hvb_check_live(m, "mutex_trylock");
	hvb_kops->sched_point("mutex_trylock");
	if (READ_ONCE(m->owner))
		return 0;
	m->owner = hvb_kops->current_task();
	return 1;
}
static inline void mutex_unlock(struct mutex *m)
{
	hvb_check_live(m, "mutex_unlock");
	if (!m->owner)
		hvb_kops->report("guest.unlock-unlocked", "mutex_unlock of a mutex nobody holds");
	else if (m->owner != (const void *)hvb_kops->current_task())
		hvb_kops->report("guest.mutex-unlock-not-owner", "mutex_unlock by a thread that does not hold it");
	m->owner = 0;
	hvb_kops->wake(m);
	hvb_kops->sched_point("mutex_unlock");
}

#endif

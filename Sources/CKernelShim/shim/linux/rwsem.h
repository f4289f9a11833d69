/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/rwsem.h>: read/write semaphores (sleeping). A waiting writer
 * holds back new readers, as the kernel's rwsem does; read recursion while a writer waits
 * therefore deadlocks here as it can there.
 */
#ifndef _HVB_LINUX_RWSEM_H
#define _HVB_LINUX_RWSEM_H

#include "../hvb_kernel.h"
#include "errno.h"

struct rw_semaphore {
	int readers;
	int writers_waiting;
	const void *writer;
	const char *name;
};
#define __RWSEM_INITIALIZER(x) { 0, 0, 0, #x }
#define DECLARE_RWSEM(x) struct rw_semaphore x = __RWSEM_INITIALIZER(x)
#define init_rwsem(s) do { struct rw_semaphore *_s = (s); _s->readers = 0; _s->writers_waiting = 0; _s->writer = 0; _s->name = #s; } while (0)
static inline int rwsem_is_locked(struct rw_semaphore *s) { return s->readers || s->writer; }

static inline int hvb_down_read(struct rw_semaphore *s, int flags, const char *what)
{
	hvb_check_live(s, what);
	hvb_kops->sleep_check(what);
	hvb_kops->sched_point(what);
	while (READ_ONCE(s->writer) || READ_ONCE(s->writers_waiting)) {
		if (s->writer == (const void *)hvb_kops->current_task()) {
			hvb_kops->report("guest.deadlock", "down_read of an rw_semaphore the thread holds for writing");
			return 0;
		}
		if (hvb_kops->block_flags(s, what, 0, 0, flags))
			return -EINTR;
	}
	s->readers++;
	return 0;
}
static inline int hvb_down_write(struct rw_semaphore *s, int flags, const char *what)
{
	const void *me = hvb_kops->current_task();

	hvb_check_live(s, what);
	hvb_kops->sleep_check(what);
	hvb_kops->sched_point(what);
	s->writers_waiting++;
	while (READ_ONCE(s->writer) || READ_ONCE(s->readers)) {
		if (s->writer == me) {
			hvb_kops->report("guest.deadlock", "down_write of an rw_semaphore the thread holds already");
			s->writers_waiting--;
			return 0;
		}
		if (hvb_kops->block_flags(s, what, 0, 0, flags)) {
			s->writers_waiting--;
			hvb_kops->wake(s);
			return -EINTR;
		}
	}
	s->writers_waiting--;
	s->writer = me;
	return 0;
}
static inline void down_read(struct rw_semaphore *s) { (void)hvb_down_read(s, 0, "down_read"); }
static inline int __must_check down_read_interruptible(struct rw_semaphore *s) { return hvb_down_read(s, HVB_WAIT_INTERRUPTIBLE, "down_read_interruptible"); }
static inline int __must_check down_read_killable(struct rw_semaphore *s) { return hvb_down_read(s, HVB_WAIT_KILLABLE, "down_read_killable"); }
static inline void down_write(struct rw_semaphore *s) { (void)hvb_down_write(s, 0, "down_write"); }
static inline int __must_check down_write_killable(struct rw_semaphore *s) { return hvb_down_write(s, HVB_WAIT_KILLABLE, "down_write_killable"); }
#define down_read_nested(s, sub) down_read(s)
#define down_write_nested(s, sub) down_write(s)
static inline int down_read_trylock(struct rw_semaphore *s)
{
	hvb_kops->sched_point("down_read_trylock");
	if (s->writer || s->writers_waiting)
		return 0;
	s->readers++;
	return 1;
}
static inline int down_write_trylock(struct rw_semaphore *s)
{
	hvb_kops->sched_point("down_write_trylock");
	if (s->writer || s->readers)
		return 0;
	s->writer = hvb_kops->current_task();
	return 1;
}
static inline void up_read(struct rw_semaphore *s)
{
	if (s->readers <= 0)
		hvb_kops->report("guest.unlock-unlocked", "up_read of an rw_semaphore not held for reading");
	else
		s->readers--;
	hvb_kops->wake(s);
	hvb_kops->sched_point("up_read");
}
static inline void up_write(struct rw_semaphore *s)
{
	if (s->writer != (const void *)hvb_kops->current_task())
		hvb_kops->report("guest.unlock-unlocked", "up_write of an rw_semaphore the thread does not hold for writing");
	s->writer = 0;
	hvb_kops->wake(s);
	hvb_kops->sched_point("up_write");
}
static inline void downgrade_write(struct rw_semaphore *s)
{
	s->writer = 0;
	s->readers++;
	hvb_kops->wake(s);
}

#endif

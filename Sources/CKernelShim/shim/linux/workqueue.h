/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/workqueue.h>: work runs later on its own kernel thread (the
 * kworker, a coroutine hvblob steps between the steps of other threads), never in the
 * caller. Delayed work waits for the machine's clock. flush/cancel_*_sync wait for a running
 * item; flushing a work item from itself is a deadlock finding. One kworker serves every
 * queue, so items run one at a time, in queueing order (as on an ordered workqueue).
 */
#ifndef _HVB_LINUX_WORKQUEUE_H
#define _HVB_LINUX_WORKQUEUE_H

#include "../hvb_kernel.h"
#include "atomic.h"
#include "list.h"
#include "timer.h"

struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);
struct work_struct {
	atomic_long_t data; /* runtime-owned: pending bit and the queue */
	struct list_head entry;
	work_func_t func;
};
struct delayed_work {
	struct work_struct work;
	struct timer_list timer;
	struct workqueue_struct *wq;
	int cpu;
};
struct rcu_work {
	struct work_struct work;
	struct callback_head rcu;
	struct workqueue_struct *wq;
};
#define WORK_STRUCT_PENDING 1UL
#define WORK_CPU_UNBOUND 64
#define __WORK_INITIALIZER(n, f) { .data = ATOMIC_LONG_INIT(0), .entry = { &(n).entry, &(n).entry }, .func = (f) }
#define __DELAYED_WORK_INITIALIZER(n, f, tflags) { .work = __WORK_INITIALIZER((n).work, (f)), .timer = __TIMER_INITIALIZER(NULL, (tflags)) }
#define DECLARE_WORK(n, f) struct work_struct n = __WORK_INITIALIZER(n, f)
#define DECLARE_DELAYED_WORK(n, f) struct delayed_work n = __DELAYED_WORK_INITIALIZER(n, f, 0)
#define DECLARE_DEFERRABLE_WORK(n, f) struct delayed_work n = __DELAYED_WORK_INITIALIZER(n, f, TIMER_DEFERRABLE)
static inline void hvb_init_work(struct work_struct *w, work_func_t f)
{
	atomic_long_set(&w->data, 0);
	w->entry.next = &w->entry;
	w->entry.prev = &w->entry;
	w->func = f;
}
#define INIT_WORK(w, f) hvb_init_work((w), (f))
#define INIT_WORK_ONSTACK(w, f) hvb_init_work((w), (f))
#define INIT_DELAYED_WORK(dw, f) do { hvb_init_work(&(dw)->work, (f)); timer_setup(&(dw)->timer, NULL, 0); (dw)->wq = NULL; } while (0)
#define INIT_DELAYED_WORK_ONSTACK INIT_DELAYED_WORK
#define INIT_DEFERRABLE_WORK(dw, f) do { INIT_DELAYED_WORK(dw, f); (dw)->timer.flags = TIMER_DEFERRABLE; } while (0)
#define destroy_work_on_stack(w) do { (void)(w); } while (0)
#define destroy_delayed_work_on_stack(w) do { (void)(w); } while (0)
static inline struct delayed_work *to_delayed_work(struct work_struct *w) { return container_of(w, struct delayed_work, work); }
static inline bool work_pending(const struct work_struct *w) { return (atomic_long_read(&w->data) & WORK_STRUCT_PENDING) != 0; }
#define delayed_work_pending(dw) work_pending(&(dw)->work)

#define WQ_UNBOUND (1 << 1)
#define WQ_FREEZABLE (1 << 2)
#define WQ_MEM_RECLAIM (1 << 3)
#define WQ_HIGHPRI (1 << 4)
#define WQ_CPU_INTENSIVE (1 << 5)
#define WQ_SYSFS (1 << 6)
#define WQ_POWER_EFFICIENT (1 << 7)
#define __WQ_ORDERED (1 << 17)
#define WQ_MAX_ACTIVE 512
#define WQ_DFL_ACTIVE (WQ_MAX_ACTIVE / 2)

#define system_wq (hvb_kops->system_workqueue(HVB_SYSTEM_WQ))
#define system_highpri_wq (hvb_kops->system_workqueue(HVB_SYSTEM_HIGHPRI_WQ))
#define system_long_wq (hvb_kops->system_workqueue(HVB_SYSTEM_LONG_WQ))
#define system_unbound_wq (hvb_kops->system_workqueue(HVB_SYSTEM_UNBOUND_WQ))
#define system_freezable_wq (hvb_kops->system_workqueue(HVB_SYSTEM_FREEZABLE_WQ))
#define system_power_efficient_wq system_wq

/* alloc_workqueue(fmt, flags, max_active, args...): the name is formatted as printf would. */
#define alloc_workqueue(fmt, flags, max_active, ...)                                       \
	({                                                                                 \
		char __n[32];                                                              \
		snprintf(__n, sizeof(__n), fmt, ##__VA_ARGS__);                            \
		hvb_kops->alloc_workqueue(__n, (flags), (max_active));                     \
	})
#define alloc_ordered_workqueue(fmt, flags, ...) alloc_workqueue(fmt, __WQ_ORDERED | (flags), 1, ##__VA_ARGS__)
#define create_workqueue(name) alloc_workqueue("%s", WQ_MEM_RECLAIM, 1, (name))
#define create_singlethread_workqueue(name) alloc_ordered_workqueue("%s", WQ_MEM_RECLAIM, (name))
static inline void destroy_workqueue(struct workqueue_struct *wq) { hvb_kops->destroy_workqueue(wq); }
static inline void flush_workqueue(struct workqueue_struct *wq) { hvb_kops->flush_workqueue(wq); }
static inline void drain_workqueue(struct workqueue_struct *wq) { hvb_kops->flush_workqueue(wq); }
#define flush_scheduled_work() flush_workqueue(system_wq)

static inline bool queue_work(struct workqueue_struct *wq, struct work_struct *w) { return hvb_kops->queue_work(wq, w); }
static inline bool queue_work_on(int cpu, struct workqueue_struct *wq, struct work_struct *w) { (void)cpu; return hvb_kops->queue_work(wq, w); }
static inline bool schedule_work(struct work_struct *w) { return hvb_kops->queue_work(system_wq, w); }
static inline bool schedule_work_on(int cpu, struct work_struct *w) { (void)cpu; return hvb_kops->queue_work(system_wq, w); }
static inline bool queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dw, unsigned long delay)
{
	return hvb_kops->queue_delayed_work(wq, dw, delay, 0);
}
static inline bool queue_delayed_work_on(int cpu, struct workqueue_struct *wq, struct delayed_work *dw, unsigned long delay)
{
	(void)cpu;
	return hvb_kops->queue_delayed_work(wq, dw, delay, 0);
}
static inline bool mod_delayed_work(struct workqueue_struct *wq, struct delayed_work *dw, unsigned long delay)
{
	return hvb_kops->queue_delayed_work(wq, dw, delay, 1);
}
static inline bool schedule_delayed_work(struct delayed_work *dw, unsigned long delay)
{
	return hvb_kops->queue_delayed_work(system_wq, dw, delay, 0);
}
static inline bool flush_work(struct work_struct *w) { return hvb_kops->flush_work(w); }
static inline bool flush_delayed_work(struct delayed_work *dw) { return hvb_kops->flush_delayed_work(dw); }
static inline bool cancel_work(struct work_struct *w) { return hvb_kops->cancel_work(w, 0); }
static inline bool cancel_work_sync(struct work_struct *w) { return hvb_kops->cancel_work(w, 1); }
static inline bool cancel_delayed_work(struct delayed_work *dw) { return hvb_kops->cancel_delayed_work(dw, 0); }
static inline bool cancel_delayed_work_sync(struct delayed_work *dw) { return hvb_kops->cancel_delayed_work(dw, 1); }

#endif

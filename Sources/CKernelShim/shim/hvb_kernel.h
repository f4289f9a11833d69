/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob's kernel shim, common core: the API era, the configuration, the basic types and the
 * table (`hvb_kops`) behind every call that blocks, wakes, locks, allocates or sends.
 *
 * The kernel API itself lives in headers laid out as the kernel's are (shim/linux/, shim/asm/):
 * each holds its own part of the API and includes what it needs, so a
 * missing API has an obvious home. A driver's source is compiled unmodified against them and
 * loaded into hvblob, which runs its kernel threads as coroutines. What the shim knows it
 * lacks is listed in shim/MISSING.
 *
 * API eras (HVB_KVER = major * 100 + minor): 510, 513, 514, 518, 600, 603; each stands for
 * the versions up to the next. What changed between them for a VMBus driver of this kind:
 *   5.10  vmbus_requestor (channel->rqstor_size, vmbus_request_addr(&channel->requestor, id))
 *   5.14  iov_iter: `type` split into `iter_type` + `data_source`; vmbus_request_addr() and
 *         vmbus_next_request_id() take the channel; channel->{next_request_id,request_addr}_callback
 *   5.16  iov_iter.nofault
 *   5.18  uaccess_kernel() gone (set_fs removed); vmbus_sendpacket_getid(),
 *         vmbus_request_addr_match(), VMBUS_RQST_ADDR_ANY, VMBUS_RQST_ID_NO_RESPONSE
 *   6.0   iov_iter_get_pages_alloc2() replaces iov_iter_get_pages_alloc(); ITER_UBUF,
 *         iov_iter.user_backed / .ubuf
 *   6.2   import_ubuf()
 *   6.3   hv_driver.remove returns void
 * (5.11 and 5.12 add nothing a driver of this kind sees: era 510 covers 5.10-5.12.)
 *
 * Every call that blocks, wakes, locks or sends goes through `hvb_kops`, the table hvblob
 * fills in: those are the points where hvblob's scheduler may run another thread.
 */
#ifndef HVB_KERNEL_H
#define HVB_KERNEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifndef HVB_KVER
#define HVB_KVER 601
#endif
#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))
#define LINUX_VERSION_CODE KERNEL_VERSION(HVB_KVER / 100, HVB_KVER % 100, 0)

#include "linux/kconfig.h"
#include "linux/types.h"
#include "linux/compiler.h"

/* What the table's entries take; each is defined in its own header. */
struct device;
struct task_struct;
struct spinlock;
struct page;
struct miscdevice;
struct dentry;
struct file;
struct inode;
struct seq_file;
struct file_operations;
struct hv_driver;
struct vmbus_channel;
struct vmbus_packet_mpb_array;
struct vmpacket_descriptor;
struct workqueue_struct;
struct work_struct;
struct delayed_work;
struct timer_list;

/* block_flags(): how a thread sleeps (TASK_UNINTERRUPTIBLE is 0). */
#define HVB_WAIT_INTERRUPTIBLE 0x1 /* TASK_INTERRUPTIBLE: any signal ends the wait */
#define HVB_WAIT_KILLABLE 0x2	   /* TASK_KILLABLE: a fatal signal ends the wait */
#define HVB_WAIT_SPIN 0x4	   /* spinning for a lock, not sleeping */
/* wake_flags(): whom a wake-up reaches. */
#define HVB_WAKE_ALL 0
#define HVB_WAKE_INTERRUPTIBLE 0x1 /* wake_up_interruptible(): only TASK_INTERRUPTIBLE sleepers */
/* context(): where the running code is. */
#define HVB_CTX_ATOMIC 0x1  /* spinlock held / preemption or interrupts disabled */
#define HVB_CTX_SOFTIRQ 0x2 /* the channel callback, a timer */
#define HVB_CTX_RCU 0x4	    /* inside rcu_read_lock() */
#define HVB_CTX_THREAD 0x8  /* on a kernel thread (a coroutine) at all */
/* system_workqueue(which) */
#define HVB_SYSTEM_WQ 0
#define HVB_SYSTEM_HIGHPRI_WQ 1
#define HVB_SYSTEM_LONG_WQ 2
#define HVB_SYSTEM_UNBOUND_WQ 3
#define HVB_SYSTEM_FREEZABLE_WQ 4
#define HVB_SYSTEM_NR_WQ 5

#define HVB_KOPS_VERSION_SHIM 2

/* ---- the table behind every call (filled in by hvblob's runtime, runtime.c) ---- */
struct hvb_kops {
	int version;
	/* diagnostics */
	void (*report)(const char *rule, const char *detail);
	void (*dev_log)(const struct device *dev, int level, const char *fmt, va_list ap);
	void (*sched_point)(const char *what);
	u64 (*get_jiffies)(void);
	struct task_struct *(*current_task)(void);
	/* memory (kmalloc & co: quarantined and poisoned when freed) */
	void *(*kmalloc)(size_t size, gfp_t flags, int zero, const char *fn);
	void (*kfree)(const void *p, const char *fn);
	/* locks and waiting */
	void (*lock_acquire)(struct spinlock *l);
	void (*lock_release)(struct spinlock *l);
	void (*block)(const void *key, const char *what, u64 deadline, int has_deadline);
	void (*wake)(const void *key);
	/* user memory */
	unsigned long (*copy_from_user)(void *dst, const void __user *src, unsigned long n);
	unsigned long (*copy_to_user)(void __user *dst, const void *src, unsigned long n);
	long (*pin_user_pages)(unsigned long start, long nr, unsigned int gup_flags, struct page **pages);
	void (*put_page)(struct page *p);
	void (*set_page_dirty)(struct page *p);
	/* devices */
	int (*misc_register)(struct miscdevice *m);
	void (*misc_deregister)(struct miscdevice *m);
	struct dentry *(*debugfs_create)(const char *name, struct dentry *parent, void *data,
					 const struct file_operations *fops, int is_dir);
	struct dentry *(*debugfs_lookup)(const char *name, struct dentry *parent);
	void (*debugfs_remove)(struct dentry *d);
	int (*single_open)(struct file *f, int (*show)(struct seq_file *, void *), void *data);
	int (*single_release)(struct inode *inode, struct file *f);
	void (*seq_vprintf)(struct seq_file *m, const char *fmt, va_list ap);
	int (*vscnprintf)(char *buf, size_t size, const char *fmt, va_list ap);
	/* VMBus */
	int (*driver_register)(struct hv_driver *drv);
	void (*driver_unregister)(struct hv_driver *drv);
	int (*vmbus_open)(struct vmbus_channel *c, u32 send_size, u32 recv_size, void *userdata, u32 userlen,
			  void (*cb)(void *), void *context);
	void (*vmbus_close)(struct vmbus_channel *c);
	int (*sendpacket_mpb_desc)(struct vmbus_channel *c, struct vmbus_packet_mpb_array *desc, u32 desc_size,
				   void *buffer, u32 bufferlen, u64 requestid);
	struct vmpacket_descriptor *(*pkt_iter_first)(struct vmbus_channel *c);
	struct vmpacket_descriptor *(*pkt_iter_next)(struct vmbus_channel *c, const struct vmpacket_descriptor *d);
	void (*pkt_iter_close)(struct vmbus_channel *c);
	u64 (*request_addr)(struct vmbus_channel *c, u64 id);
	u64 (*next_request_id)(struct vmbus_channel *c, u64 addr);

	/* ---- since table version 2 ---- */
	/* A sleep of a given kind (HVB_WAIT_*); returns 1 when a signal ended it. */
	int (*block_flags)(const void *key, const char *what, u64 deadline, int has_deadline, int flags);
	/* Wakes the sleepers on key that `flags` (HVB_WAKE_*) reaches. */
	void (*wake_flags)(const void *key, int flags);
	/* How many threads sleep on key (waitqueue_active()). */
	int (*waiters)(const void *key);
	/* signal_pending(current) (fatal: fatal_signal_pending(current)). */
	int (*signal_pending)(int fatal);
	/* might_sleep(): reports a sleeping call from atomic context (CONFIG_DEBUG_ATOMIC_SLEEP). */
	void (*sleep_check)(const char *what);
	int (*context)(void);
	/* preempt_count: preempt_disable(), local_irq_save(), rwlock_t, bit locks. */
	void (*preempt_add)(int delta);
	/* Use-after-free check: when p is inside a freed (quarantined) block, report it and return 1. */
	int (*check_access)(const void *p, size_t n, const char *what);
	/* RCU */
	void (*rcu_read_lock)(void);
	void (*rcu_read_unlock)(void);
	void (*synchronize_rcu)(void);
	/* kfree_offset >= 0: the callback is kfree((char *)head - kfree_offset) (kfree_rcu). */
	void (*call_rcu)(struct callback_head *head, void (*func)(struct callback_head *), long kfree_offset);
	void (*rcu_barrier)(void);
	/* workqueues and timers (run on the kworker thread, a coroutine hvblob steps) */
	struct workqueue_struct *(*system_workqueue)(int which);
	struct workqueue_struct *(*alloc_workqueue)(const char *name, unsigned int flags, int max_active);
	void (*destroy_workqueue)(struct workqueue_struct *wq);
	bool (*queue_work)(struct workqueue_struct *wq, struct work_struct *w);
	bool (*queue_delayed_work)(struct workqueue_struct *wq, struct delayed_work *dw, unsigned long delay, int mod);
	bool (*cancel_work)(struct work_struct *w, int sync);
	bool (*cancel_delayed_work)(struct delayed_work *dw, int sync);
	bool (*flush_work)(struct work_struct *w);
	bool (*flush_delayed_work)(struct delayed_work *dw);
	void (*flush_workqueue)(struct workqueue_struct *wq);
	int (*mod_timer)(struct timer_list *t, unsigned long expires, int only_if_pending);
	int (*del_timer)(struct timer_list *t, int sync);
	/* device-managed resources, released when the device goes (after remove, or a failed probe) */
	void *(*devm_kmalloc)(struct device *dev, size_t size, gfp_t flags, int zero, const char *fn);
	void (*devm_kfree)(struct device *dev, const void *p);
	int (*devm_add_action)(struct device *dev, void (*action)(void *), void *data);
	void (*devm_remove_action)(struct device *dev, void (*action)(void *), void *data, int run);
};
extern struct hvb_kops *hvb_kops;

/* The poison freed memory is filled with (as SLUB's POISON_FREE), and fresh kmalloc memory. */
#define HVB_POISON_FREE 0x6b
#define HVB_POISON_INUSE 0x5a

/* Whether the first bytes of an object read as freed memory (the cheap test before a lookup). */
static inline bool hvb_poisoned(const void *p, size_t n)
{
	const unsigned char *b = (const unsigned char *)p;
	size_t i;

	if (n > 8)
		n = 8;
	for (i = 0; i < n; i++)
		if (b[i] != HVB_POISON_FREE)
			return false;
	return n != 0;
}
/* Before the shim touches driver memory: a use-after-free is reported, with both sites. */
#define hvb_check_live(p, what)                                                    \
	do {                                                                       \
		if (hvb_poisoned((p), sizeof(*(p))))                              \
			hvb_kops->check_access((p), sizeof(*(p)), (what));        \
	} while (0)

/* Whether p is freed memory (reported): the caller then leaves it alone. */
static inline bool hvb_freed(const void *p, size_t n, const char *what)
{
	return hvb_poisoned(p, n) && hvb_kops->check_access(p, n, what);
}

#define HVB_EXPORT __attribute__((visibility("default"), used))

#endif /* HVB_KERNEL_H */

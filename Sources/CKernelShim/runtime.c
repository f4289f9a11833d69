// SPDX-License-Identifier: Apache-2.0
/*
 * The kernel API behind hvblob's shim headers: what a loaded driver's `hvb_kops` points at.
 * Memory, locks and waiting live here (on hvblob's coroutines); everything that touches the
 * simulated machine (user memory, pins, the channel, request ids) goes to Swift through
 * `struct hvb_host_ops`. Misuse is reported by rule, never trapped on.
 */
#include <stdlib.h>

#include "shim/hvb_kernel.h"
#include "shim/linux/cred.h"
#include "shim/linux/debugfs.h"
#include "shim/linux/device.h"
#include "shim/linux/hyperv.h"
#include "shim/linux/miscdevice.h"
#include "shim/linux/seq_file.h"
#include "shim/linux/slab.h"
#include "shim/linux/timer.h"
#include "shim/linux/workqueue.h"
#include "hvb_kops.h"
#include "hvb_internal.h"

static struct hvb_host_ops host;
static struct user_namespace hvb_init_user_ns;

#define HVB_ALLOC_MAGIC 0x68766261u /* "hvba" */
#define HVB_FREED_MAGIC 0x64656164u /* "dead" */
/*
 * Before every kmalloc'd block; slab.h's ksize() reads `size` at block - 24. Live blocks are
 * on one list in allocation order, each with a sequence number, so that what a scenario
 * allocated and never freed can be listed with its call sites (hvb_allocations_since).
 */
struct hvb_alloc_header {
	struct hvb_alloc_header *prev, *next;
	uint64_t seq;
	uint64_t pad;
	uint32_t magic;
	uint32_t quarantine; /* its slot in the quarantine ring once freed */
	size_t size;
	const void *alloc_at; /* the driver's call site */
	const char *alloc_fn;
};
_Static_assert(sizeof(struct hvb_alloc_header) == 64, "allocation header");
_Static_assert(offsetof(struct hvb_alloc_header, size) == 64 - 3 * sizeof(size_t), "ksize() reads the size here");

/*
 * Freed blocks are not reused at once: they stay poisoned (0x6b) in a bounded FIFO
 * quarantine, so a later access through the shim finds poison and is reported with the
 * sites that allocated and freed the block; the oldest leaves when the ring or the byte
 * budget is full.
 */
#define HVB_QUARANTINE_SLOTS 4096
#define HVB_QUARANTINE_BYTES (64UL << 20)
struct hvb_freed {
	struct hvb_alloc_header *h;
	size_t size;
	const void *alloc_at;
	const char *alloc_fn;
	const void *free_at;
	const char *free_fn;
};
static struct {
	struct hvb_freed slot[HVB_QUARANTINE_SLOTS];
	unsigned int head, count;
	size_t bytes;
	unsigned long pushes; /* blocks ever put in: which slots a run wrote (persistent mode) */
} quarantine;

#define HVB_MAX_DENTRIES 128
#define HVB_MAX_CREDS 64
#define HVB_MAX_DEVICES 8
#define HVB_MAX_MISC 16

/*
 * One device the host offered (a slot per offer, never reused within a run). The VMBus core
 * allocates its hv_device and channel at the offer; after a rescind, once the driver's remove
 * returned, it frees them: here through the quarantining allocator, so a driver that still
 * holds a pointer to either gets guest.use-after-free with both sites.
 */
struct hvb_vmbus_device {
	struct hv_device *hdev; /* NULL once freed */
	struct vmbus_channel *channel;
	int offered;
	int probed;
	int freed; /* rescinded, removed and freed */
};

/* A registered misc device: keyed by name, as /dev and /sys/class/misc are. */
struct hvb_misc_entry {
	struct miscdevice *m;
	int device; /* the offered device whose probe registered it (slot + 1), 0 for none */
};

static struct {
	/* the VMBus bus: the registered driver and every device offered to it */
	struct {
		struct hv_driver *driver;
		struct hvb_vmbus_device dev[HVB_MAX_DEVICES];
		int count;
		int probing; /* slot + 1 of the device whose probe runs, 0 outside probe */
	} vmbus;
	/* misc devices, in registration order */
	struct {
		struct hvb_misc_entry reg[HVB_MAX_MISC];
		int count;
	} misc;
	struct dentry dentries[HVB_MAX_DENTRIES];
	struct cred creds[HVB_MAX_CREDS];
	int ncreds;
	long live_allocations;
	long live_bytes;
	/* live blocks, oldest first, and the sequence number of the last one */
	struct hvb_alloc_header *alloc_head, *alloc_tail;
	uint64_t alloc_seq;
	long fail_countdown;
	int reading_packets;
	/* A kernel-side reader (the harness reading a debugfs file): uaccess is memcpy. */
	int kernel_uaccess;
	struct hvb_task kernel_task;
	/* sleeping-in-atomic call sites already reported (one finding per site) */
	const void *atomic_sites[64];
	int natomic_sites;
	/* RCU: the grace-period sequence and the callbacks waiting for one */
	u64 rcu_seq;
	struct hvb_rcu_cb *rcu_head, **rcu_tail;
	int rcu_pending;
	char rcu_gp_key, rcu_barrier_key;
	/* the kworker and what it runs */
	struct hvb_coro *kworker;
	struct hvb_coro *kworker_dead;
	char kworker_key, flush_key;
	struct list_head work_list;
	struct hlist_head timers;
	struct work_struct *running_work;
	struct workqueue_struct *running_wq;
	struct timer_list *running_timer;
	struct hvb_task *kworker_task;
	/* device-managed resources, in the order they were taken */
	struct hvb_devres *devres;
	int ndevres, capdevres;
} st;

/*
 * Persistent mode's checkpoint (hvb_checkpoint): copies of the library's writable spans, of
 * the shim's state, of the quarantine's live slots and of every heap block of the checkpoint
 * (header and bytes). While it is active, a block of the checkpoint that leaves the quarantine
 * is kept (HVB_KEPT_MAGIC), never returned to malloc, so that a reset can restore it in place.
 */
#define HVB_KEPT_MAGIC 0x6b657074u /* "kept" */
#define HVB_MAX_SPANS 32
struct hvb_saved_block {
	struct hvb_alloc_header *h;
	size_t len; /* header and payload */
	unsigned char *copy;
};
static struct {
	int active;
	uint64_t seq; /* st.alloc_seq at the checkpoint: blocks with seq <= it are the checkpoint's */
	struct hvb_span span[HVB_MAX_SPANS];
	unsigned char *span_copy[HVB_MAX_SPANS];
	int nspans;
	size_t span_bytes, skipped_bytes;
	__typeof__(st) st_copy;
	struct hvb_devres *devres_copy;
	unsigned int q_head, q_count;
	size_t q_bytes;
	unsigned long q_pushes;
	struct hvb_freed *q_slots; /* the live slots, oldest first */
	struct workqueue_struct *wqs_copy;
	struct hvb_saved_block *blocks;
	long nblocks;
	size_t block_bytes;
	long resets, freed_last;
	size_t restored_last;
} ckpt;
static unsigned long ckpt_serial; /* checkpoints taken: which one is active */

/* Files open now (hvb_open_misc to hvb_release): a reset closes what a run left open. */
struct hvb_file;
static struct hvb_file *open_files;
static int nopen_files;
static unsigned long files_epoch; /* a file of an earlier epoch is on no list */

struct hvb_rcu_cb {
	struct hvb_rcu_cb *next;
	struct callback_head *head;
	void (*func)(struct callback_head *);
	long kfree_offset; /* >= 0: kfree_rcu */
	u64 seq;
	const void *at;
};

struct workqueue_struct {
	char name[32];
	unsigned int flags;
	int max_active;
	int system;
	int destroying;
};
static struct workqueue_struct system_wqs[HVB_SYSTEM_NR_WQ] = {
	{ "events", 0, 256, 1, 0 },
	{ "events_highpri", WQ_HIGHPRI, 256, 1, 0 },
	{ "events_long", 0, 256, 1, 0 },
	{ "events_unbound", WQ_UNBOUND, 512, 1, 0 },
	{ "events_freezable", WQ_FREEZABLE, 256, 1, 0 },
};

struct hvb_devres {
	struct device *dev;
	void *mem;			/* devm_kmalloc */
	void (*action)(void *);		/* devm_add_action */
	void *data;
};

static void report(const char *rule, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(const char *rule, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (host.report)
		host.report(host.host, rule, buf);
}

/* ---- tasks ---- */

static const struct cred *hvb_cred(uint32_t uid)
{
	struct cred *c;
	int i;

	for (i = 0; i < st.ncreds; i++)
		if (st.creds[i].uid.val == uid)
			return &st.creds[i];
	if (st.ncreds == HVB_MAX_CREDS)
		return &st.creds[0];
	c = &st.creds[st.ncreds++];
	c->uid = c->euid = c->suid = c->fsuid = KUIDT_INIT(uid);
	c->gid = c->egid = c->sgid = c->fsgid = KGIDT_INIT(uid);
	c->user_ns = &hvb_init_user_ns;
	return c;
}

void hvb_task_init(struct hvb_task *t, const char *name, int pid, uint32_t cred)
{
	t->pid = pid;
	snprintf(t->comm, sizeof(t->comm), "%s", name ? name : "kworker");
	t->cred = hvb_cred(cred);
}

static struct task_struct *k_current_task(void)
{
	struct hvb_task *t = hvb_current_task_of_coro();

	_Static_assert(offsetof(struct hvb_task, cred) == offsetof(struct task_struct, cred), "task layout");
	_Static_assert(offsetof(struct hvb_task, locks_held) == offsetof(struct task_struct, __hvb_preempt), "task layout");
	_Static_assert(offsetof(struct hvb_task, atomic) == offsetof(struct task_struct, __hvb_softirq), "task layout");
	_Static_assert(offsetof(struct hvb_task, state) == offsetof(struct task_struct, __state), "task layout");
	return (struct task_struct *)(t ? t : &st.kernel_task);
}

/* ---- formatting: printf plus the kernel's %pU ---- */

static int hvb_format(char *out, size_t size, const char *fmt, va_list ap)
{
	size_t n = 0;
	char spec[32];

	if (!size)
		return 0;
	out[0] = 0;
	while (*fmt && n + 1 < size) {
		const char *start;
		size_t len;
		char conv;
		int lmod = 0; /* 0 int, 1 long, 2 long long, 3 size_t */

		if (*fmt != '%') {
			out[n++] = *fmt++;
			out[n] = 0;
			continue;
		}
		start = fmt++;
		if (*fmt == '%') {
			out[n++] = '%';
			out[n] = 0;
			fmt++;
			continue;
		}
		while (*fmt && strchr("-+ #0123456789.*", *fmt))
			fmt++;
		if (*fmt == 'h') {
			fmt++;
			if (*fmt == 'h')
				fmt++;
		} else if (*fmt == 'l') {
			fmt++;
			lmod = 1;
			if (*fmt == 'l') {
				fmt++;
				lmod = 2;
			}
		} else if (*fmt == 'z') {
			fmt++;
			lmod = 3;
		}
		conv = *fmt ? *fmt++ : 0;
		len = (size_t)(fmt - start);
		if (len >= sizeof(spec) || memchr(start, '*', len))
			break; /* the shim does not format these; stop rather than misread arguments */
		memcpy(spec, start, len);
		spec[len] = 0;
		if (conv == 'p' && *fmt == 'U') {
			const uint8_t *g = va_arg(ap, const uint8_t *);
			char kind = 'b';

			fmt++;
			if (*fmt && strchr("bBlL", *fmt))
				kind = *fmt++;
			if (kind == 'l' || kind == 'L')
				n += snprintf(out + n, size - n,
					      "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
					      g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11],
					      g[12], g[13], g[14], g[15]);
			else
				n += snprintf(out + n, size - n,
					      "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
					      g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11],
					      g[12], g[13], g[14], g[15]);
		} else if (strchr("di", conv)) {
			if (lmod == 2)
				n += snprintf(out + n, size - n, spec, va_arg(ap, long long));
			else if (lmod == 1 || lmod == 3)
				n += snprintf(out + n, size - n, spec, va_arg(ap, long));
			else
				n += snprintf(out + n, size - n, spec, va_arg(ap, int));
		} else if (strchr("uxXo", conv)) {
			if (lmod == 2)
				n += snprintf(out + n, size - n, spec, va_arg(ap, unsigned long long));
			else if (lmod == 1 || lmod == 3)
				n += snprintf(out + n, size - n, spec, va_arg(ap, unsigned long));
			else
				n += snprintf(out + n, size - n, spec, va_arg(ap, unsigned int));
		} else if (conv == 'c') {
			n += snprintf(out + n, size - n, spec, va_arg(ap, int));
		} else if (conv == 's') {
			const char *s = va_arg(ap, const char *);

			n += snprintf(out + n, size - n, spec, s ? s : "(null)");
		} else if (conv == 'p') {
			n += snprintf(out + n, size - n, "%p", va_arg(ap, void *));
		} else {
			break;
		}
		if (n >= size)
			n = size - 1;
	}
	return (int)n;
}

static int uaf_check(const void *p, size_t n, const char *what, const void *at);

static void k_dev_log(const struct device *d, int level, const char *fmt, va_list ap)
{
	char buf[512];
	char line[600];

	if (d && uaf_check(d, sizeof(*d), "dev_printk", __builtin_return_address(0)))
		d = NULL;
	hvb_format(buf, sizeof(buf), fmt, ap);
	snprintf(line, sizeof(line), "%s%s%s", d ? d->name : "", d ? ": " : "", buf);
	if (host.log)
		host.log(host.host, level, line);
}

static int k_vscnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	return hvb_format(buf, size, fmt, ap);
}

/* ---- scheduling ---- */

/* A scheduling point at the driver's call site `at`. */
static void sched_at(const char *what, const void *at)
{
	if (hvb_in_coro() && host.sched_point && host.sched_point(host.host, what, at))
		hvb_coro_park(HVB_READY, NULL, what, 0, 0, 0);
}

/* Called from the shim's inline helpers, i.e. from inside the driver's own function. */
static void k_sched_point(const char *what)
{
	sched_at(what, __builtin_return_address(0));
}

static u64 k_jiffies(void)
{
	return host.now ? host.now(host.host) : 0;
}

static struct hvb_task *cur_task(void)
{
	struct hvb_task *t = hvb_current_task_of_coro();

	return t ? t : &st.kernel_task;
}

/* "function+0xoff" of a driver address, for findings. */
static const char *site(const void *at, char *buf, size_t n)
{
	const char *s = at ? hvb_symbolize(at, buf, n) : "";

	if (!at)
		snprintf(buf, n, "%s", "the VMBus core");
	else if (!*s)
		snprintf(buf, n, "%p", at);
	return buf;
}

/* ---- RCU readers: rcu_read_lock sections and (as consolidated RCU has it) atomic regions ---- */

static int in_reader(const struct hvb_task *t)
{
	return t->rcu_nesting > 0 || t->locks_held > 0 || t->atomic;
}

static void reader_enter(struct hvb_task *t, int was_reader)
{
	if (!was_reader)
		t->reader_seq = st.rcu_seq;
}

static void kworker_wake(void);

static void reader_exit(struct hvb_task *t)
{
	if (in_reader(t))
		return;
	if (hvb_wake_key(&st.rcu_gp_key) > 0 && host.woke)
		host.woke(host.host);
	if (st.rcu_pending)
		kworker_wake();
}

/* Whether some thread other than `self` is a reader that began before grace period `seq`. */
static int readers_before(u64 seq, const struct hvb_task *self)
{
	int i, n = hvb_ntasks();

	for (i = 0; i < n; i++) {
		const struct hvb_task *t = hvb_task_nth(i);

		if (t && t != self && in_reader(t) && t->reader_seq < seq)
			return 1;
	}
	return st.kernel_task.rcu_nesting > 0 && &st.kernel_task != self && st.kernel_task.reader_seq < seq;
}

/* ---- sleeping ---- */

/* might_sleep(): a sleeping call in atomic context is a finding (once per call site). */
static void sleep_check_at(const char *what, const void *at)
{
	struct hvb_task *t = hvb_current_task_of_coro();
	char buf[160];
	int i;

	if (!t || (!t->locks_held && !t->atomic && !t->rcu_nesting))
		return;
	t->atomic_noted = 1;
	for (i = 0; i < st.natomic_sites; i++)
		if (st.atomic_sites[i] == at)
			return;
	if (st.natomic_sites < (int)(sizeof(st.atomic_sites) / sizeof(st.atomic_sites[0])))
		st.atomic_sites[st.natomic_sites++] = at;
	if (t->atomic)
		report("guest.sleep-while-atomic", "%s (may sleep) in softirq context (the channel callback, a timer or an RCU callback), at %s",
		       what, site(at, buf, sizeof(buf)));
	else if (t->locks_held)
		report("guest.sleep-while-atomic", "%s (may sleep) while holding %d spinlock(s) or with preemption disabled, at %s",
		       what, t->locks_held, site(at, buf, sizeof(buf)));
	else
		report("guest.sleep-while-atomic", "%s (may sleep) inside an RCU read-side critical section, at %s", what,
		       site(at, buf, sizeof(buf)));
}

static void k_sleep_check(const char *what)
{
	sleep_check_at(what, __builtin_return_address(0));
}

static int signal_admits(const struct hvb_task *t, int flags)
{
	if ((flags & HVB_WAIT_INTERRUPTIBLE) && (t->sigpending & HVB_SIG_PENDING))
		return 1;
	return (flags & HVB_WAIT_KILLABLE) && (t->sigpending & HVB_SIG_FATAL);
}

/* Parks the thread on key; 1 when a signal of the kind `flags` admits ended (or prevented) it. */
static int block_at(const void *key, const char *what, u64 deadline, int has_deadline, int flags, const void *at)
{
	struct hvb_task *t = hvb_current_task_of_coro();

	if (!t) {
		report("guest.block-outside-thread", "%s called with no thread to block", what);
		return 0;
	}
	if (!(flags & HVB_WAIT_SPIN) && t->atomic_noted) {
		t->atomic_noted = 0; /* might_sleep() reported this one at its call site */
	} else if (!(flags & HVB_WAIT_SPIN)) {
		if (t->locks_held > 0)
			report("guest.sleep-while-atomic", "%s while holding %d spinlock(s)", what, t->locks_held);
		if (t->atomic)
			report("guest.sleep-while-atomic", "%s in the channel callback (softirq context)", what);
		else if (t->rcu_nesting > 0)
			report("guest.sleep-while-atomic", "%s inside an RCU read-side critical section", what);
	}
	(void)at;
	if (signal_admits(t, flags))
		return 1;
	hvb_coro_park(HVB_BLOCKED, key, what, deadline, has_deadline, flags);
	return signal_admits(t, flags);
}

static int k_block_flags(const void *key, const char *what, u64 deadline, int has_deadline, int flags)
{
	return block_at(key, what, deadline, has_deadline, flags, __builtin_return_address(0));
}

static void k_block(const void *key, const char *what, u64 deadline, int has_deadline)
{
	(void)block_at(key, what, deadline, has_deadline, 0, __builtin_return_address(0));
}

static void k_wake_flags(const void *key, int flags)
{
	if (hvb_wake_key_flags(key, (flags & HVB_WAKE_INTERRUPTIBLE) != 0) > 0 && host.woke)
		host.woke(host.host);
}

static void k_wake(const void *key)
{
	k_wake_flags(key, HVB_WAKE_ALL);
}

static int k_waiters(const void *key)
{
	return hvb_waiters_on(key);
}

static int k_signal_pending(int fatal)
{
	const struct hvb_task *t = hvb_current_task_of_coro();

	return t && (t->sigpending & (fatal ? HVB_SIG_FATAL : HVB_SIG_PENDING)) != 0;
}

static int k_context(void)
{
	const struct hvb_task *t = hvb_current_task_of_coro();
	int c = 0;

	if (!t)
		return st.kernel_task.rcu_nesting ? HVB_CTX_RCU : 0;
	c |= HVB_CTX_THREAD;
	if (t->locks_held)
		c |= HVB_CTX_ATOMIC;
	if (t->atomic)
		c |= HVB_CTX_SOFTIRQ;
	if (t->rcu_nesting)
		c |= HVB_CTX_RCU;
	return c;
}

static void k_preempt_add(int delta)
{
	struct hvb_task *t = cur_task();
	int was = in_reader(t);

	if (t->locks_held + delta < 0) {
		report("guest.preempt-count", "preempt_enable / local_irq_restore / unlock without a matching disable");
		return;
	}
	t->locks_held += delta;
	if (delta > 0)
		reader_enter(t, was);
	else
		reader_exit(t);
}

/* ---- use-after-free checks ---- */

static struct hvb_freed *quarantined(const void *p)
{
	unsigned int i;

	for (i = 0; i < quarantine.count; i++) {
		struct hvb_freed *f = &quarantine.slot[(quarantine.head + HVB_QUARANTINE_SLOTS - 1 - i) % HVB_QUARANTINE_SLOTS];
		const char *b = (const char *)(f->h + 1);

		if ((const char *)p >= b && (const char *)p < b + (f->size ? f->size : 1))
			return f;
	}
	return NULL;
}

static void report_uaf(const char *rule, const char *what, const void *p, const struct hvb_freed *f, const void *at)
{
	char a[160], b[160], c[160];

	report(rule, "%s at %s on %p (offset %zu in a %zu-byte block allocated by %s at %s, freed by %s at %s)", what,
	       site(at, c, sizeof(c)), p, (size_t)((const char *)p - (const char *)(f->h + 1)), f->size, f->alloc_fn,
	       site(f->alloc_at, a, sizeof(a)), f->free_fn, site(f->free_at, b, sizeof(b)));
}

/* The runtime's own use-after-free check (hvb_check_live's, without the table). */
static int uaf_check(const void *p, size_t n, const char *what, const void *at)
{
	struct hvb_freed *f;

	if (!hvb_poisoned(p, n) || !(f = quarantined(p)))
		return 0;
	report_uaf("guest.use-after-free", what, p, f, at);
	return 1;
}

static int k_check_access(const void *p, size_t n, const char *what)
{
	struct hvb_freed *f = quarantined(p);

	(void)n;
	if (f)
		report_uaf("guest.use-after-free", what, p, f, __builtin_return_address(0));
	return f != NULL;
}

/* ---- spinlocks ---- */

static void k_spin_lock(spinlock_t *l)
{
	struct hvb_task *t = hvb_current_task_of_coro();
	const void *at = __builtin_return_address(0);
	struct hvb_freed *f;
	int was;

	sched_at("spin_lock", at);
	if (hvb_poisoned(l, sizeof(l->locked)) && (f = quarantined(l))) {
		report_uaf("guest.use-after-free", "spin_lock", l, f, at);
		return;
	}
	if (l->magic != SPINLOCK_MAGIC) {
		char buf[160];

		report("guest.lock-uninitialized", "spin_lock of a spinlock never initialized (spin_lock_init / DEFINE_SPINLOCK), at %s",
		       site(at, buf, sizeof(buf)));
		l->magic = SPINLOCK_MAGIC;
		if (!l->name)
			l->name = "spinlock";
	}
	while (l->locked) {
		if (l->owner == (const void *)t) {
			report("guest.deadlock", "spin_lock(%s) taken again by the thread that holds it", l->name);
			return;
		}
		(void)block_at(l, "spin_lock", 0, 0, HVB_WAIT_SPIN, at);
		if (!t)
			break;
	}
	l->locked = 1;
	l->owner = t;
	if (t) {
		was = in_reader(t);
		t->locks_held++;
		reader_enter(t, was);
	}
}

static void k_spin_unlock(spinlock_t *l)
{
	struct hvb_task *t = hvb_current_task_of_coro();
	const void *at = __builtin_return_address(0);
	struct hvb_freed *f;

	if (hvb_poisoned(l, sizeof(l->locked)) && (f = quarantined(l))) {
		report_uaf("guest.use-after-free", "spin_unlock", l, f, at);
		return;
	}
	if (!l->locked)
		report("guest.unlock-unlocked", "spin_unlock(%s) of a lock nobody holds", l->name ? l->name : "spinlock");
	l->locked = 0;
	l->owner = NULL;
	if (t && t->locks_held > 0) {
		t->locks_held--;
		reader_exit(t);
	}
	k_wake(l);
	sched_at("spin_unlock", at);
}

/* ---- memory ---- */

static void quarantine_drain(unsigned int keep)
{
	while (quarantine.count > keep || (quarantine.count && quarantine.bytes > HVB_QUARANTINE_BYTES)) {
		unsigned int oldest = (quarantine.head + HVB_QUARANTINE_SLOTS - quarantine.count) % HVB_QUARANTINE_SLOTS;
		struct hvb_freed *f = &quarantine.slot[oldest];

		quarantine.bytes -= f->size;
		quarantine.count--;
		if (ckpt.active && f->h->seq <= ckpt.seq) {
			f->h->magic = HVB_KEPT_MAGIC;
		} else {
			f->h->magic = 0;
			free(f->h);
		}
		f->h = NULL;
	}
}

#define HVB_SHIM_OWNED 0x6f776e6564ULL /* "owned": in hvb_alloc_header.pad */

/* Takes a live block off the list of the driver's allocations. */
static void alloc_unlink(struct hvb_alloc_header *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		st.alloc_head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else
		st.alloc_tail = h->prev;
	h->prev = h->next = NULL;
	st.live_allocations--;
	st.live_bytes -= (long)h->size;
}

static void *alloc_at(size_t size, int zero, const char *fn, const void *at);

/*
 * An object of the shim's VMBus core the driver gets pointers to (an hv_device, a channel):
 * kmalloc memory, so that its free is quarantined and a later touch reported with both sites,
 * but never counted as the driver's allocation nor failed by hvb_fail_allocation.
 */
static void *shim_alloc(size_t size, const char *fn)
{
	long countdown = st.fail_countdown;
	void *p;

	st.fail_countdown = 0;
	p = alloc_at(size, 1, fn, NULL);
	st.fail_countdown = countdown;
	if (p) {
		struct hvb_alloc_header *h = (struct hvb_alloc_header *)p - 1;

		alloc_unlink(h);
		h->pad = HVB_SHIM_OWNED;
	}
	return p;
}

/* At reset: a shim object still live goes back to malloc (it was never on the live list). */
static void shim_release_live(void *p)
{
	struct hvb_alloc_header *h;

	if (!p)
		return;
	h = (struct hvb_alloc_header *)p - 1;
	if (h->magic == HVB_ALLOC_MAGIC && h->pad == HVB_SHIM_OWNED) {
		h->magic = 0;
		free(h);
	}
}

static void *alloc_at(size_t size, int zero, const char *fn, const void *at)
{
	struct hvb_alloc_header *h;

	if (st.fail_countdown > 0 && --st.fail_countdown == 0)
		return NULL;
	h = malloc(sizeof(*h) + (size ? size : 1));
	if (!h)
		return NULL;
	/* Fresh memory is not zero unless asked: POISON_INUSE makes a read of it deterministic. */
	memset(h + 1, zero ? 0 : HVB_POISON_INUSE, size);
	h->magic = HVB_ALLOC_MAGIC;
	h->quarantine = 0;
	h->size = size;
	h->alloc_at = at;
	h->alloc_fn = fn;
	h->seq = ++st.alloc_seq;
	h->pad = 0;
	h->next = NULL;
	h->prev = st.alloc_tail;
	if (st.alloc_tail)
		st.alloc_tail->next = h;
	else
		st.alloc_head = h;
	st.alloc_tail = h;
	st.live_allocations++;
	st.live_bytes += (long)size;
	return h + 1;
}

static void *k_kmalloc(size_t size, gfp_t flags, int zero, const char *fn)
{
	(void)flags;
	return alloc_at(size, zero, fn, __builtin_return_address(0));
}

static void free_at(const void *p, const char *fn, const void *at)
{
	struct hvb_alloc_header *h;
	struct hvb_freed *f;

	if (!p || IS_ERR(p) || ZERO_OR_NULL_PTR(p))
		return;
	h = (struct hvb_alloc_header *)p - 1;
	if (h->magic != HVB_ALLOC_MAGIC) {
		f = quarantined(p);
		if (f && (const void *)(f->h + 1) == p)
			report_uaf("guest.double-free", fn, p, f, at);
		else if (f)
			report_uaf("guest.bad-free", fn, p, f, at);
		else
			report("guest.bad-free", "%s(%p): not a block from kmalloc", fn, p);
		return;
	}
	h->magic = HVB_FREED_MAGIC;
	if (h->pad != HVB_SHIM_OWNED)
		alloc_unlink(h);
	memset(h + 1, HVB_POISON_FREE, h->size);
	quarantine_drain(HVB_QUARANTINE_SLOTS - 1);
	f = &quarantine.slot[quarantine.head];
	f->h = h;
	f->size = h->size;
	f->alloc_at = h->alloc_at;
	f->alloc_fn = h->alloc_fn;
	f->free_at = at;
	f->free_fn = fn;
	h->quarantine = quarantine.head;
	quarantine.head = (quarantine.head + 1) % HVB_QUARANTINE_SLOTS;
	quarantine.pushes++;
	quarantine.count++;
	quarantine.bytes += h->size;
	quarantine_drain(HVB_QUARANTINE_SLOTS);
}

static void k_kfree(const void *p, const char *fn)
{
	free_at(p, fn, __builtin_return_address(0));
}

void hvb_fail_allocation(long n)
{
	st.fail_countdown = n;
}

long hvb_live_allocations(long *bytes)
{
	if (bytes)
		*bytes = st.live_bytes;
	return st.live_allocations;
}

uint64_t hvb_alloc_mark(void)
{
	return st.alloc_seq;
}

long hvb_allocations_since(uint64_t mark, long *bytes, char *buf, size_t size)
{
	const struct hvb_alloc_header *h;
	long n = 0, b = 0;
	size_t used = 0;

	if (buf && size)
		buf[0] = 0;
	for (h = st.alloc_head; h; h = h->next) {
		char at[160];

		if (h->seq <= mark)
			continue;
		n++;
		b += (long)h->size;
		if (buf && used + 1 < size && n <= 4) {
			int w = snprintf(buf + used, size - used, "%s%zu bytes by %s at %s", n > 1 ? "; " : "", h->size,
					 h->alloc_fn ? h->alloc_fn : "?", site(h->alloc_at, at, sizeof(at)));

			if (w > 0)
				used += (size_t)w < size - used ? (size_t)w : size - used - 1;
		}
	}
	if (bytes)
		*bytes = b;
	return n;
}

/* ---- device-managed resources ---- */

static int devres_push(struct device *dev, void *mem, void (*action)(void *), void *data)
{
	if (st.ndevres == st.capdevres) {
		int cap = st.capdevres ? 2 * st.capdevres : 32;
		struct hvb_devres *d = realloc(st.devres, (size_t)cap * sizeof(*d));

		if (!d)
			return -ENOMEM;
		st.devres = d;
		st.capdevres = cap;
	}
	st.devres[st.ndevres].dev = dev;
	st.devres[st.ndevres].mem = mem;
	st.devres[st.ndevres].action = action;
	st.devres[st.ndevres].data = data;
	st.ndevres++;
	return 0;
}

static void devres_drop(int i)
{
	memmove(&st.devres[i], &st.devres[i + 1], (size_t)(st.ndevres - i - 1) * sizeof(st.devres[0]));
	st.ndevres--;
}

static void *k_devm_kmalloc(struct device *dev, size_t size, gfp_t flags, int zero, const char *fn)
{
	void *p = alloc_at(size, zero, fn, __builtin_return_address(0));

	(void)flags;
	if (p && devres_push(dev, p, NULL, NULL)) {
		free_at(p, fn, __builtin_return_address(0));
		return NULL;
	}
	return p;
}

static void k_devm_kfree(struct device *dev, const void *p)
{
	int i;

	for (i = st.ndevres - 1; i >= 0; i--) {
		if (st.devres[i].dev == dev && st.devres[i].mem == p) {
			devres_drop(i);
			free_at(p, "devm_kfree", __builtin_return_address(0));
			return;
		}
	}
	report("guest.devm-kfree", "devm_kfree(%p) of memory not devm-allocated for this device", p);
}

static int k_devm_add_action(struct device *dev, void (*action)(void *), void *data)
{
	return devres_push(dev, NULL, action, data);
}

static void k_devm_remove_action(struct device *dev, void (*action)(void *), void *data, int run)
{
	int i;

	for (i = st.ndevres - 1; i >= 0; i--) {
		if (st.devres[i].dev == dev && st.devres[i].action == action && st.devres[i].data == data) {
			devres_drop(i);
			if (run)
				action(data);
			return;
		}
	}
	report("guest.warn-on", "devm_remove_action of an action not registered");
}

/* The driver core's devres_release_all(): newest first. */
static void devres_release(struct device *dev)
{
	int i;

	for (i = st.ndevres - 1; i >= 0; i--) {
		struct hvb_devres d = st.devres[i];

		if (d.dev != dev)
			continue;
		devres_drop(i);
		if (d.action)
			d.action(d.data);
		else
			free_at(d.mem, "devres_release", NULL);
		if (i > st.ndevres)
			i = st.ndevres;
	}
}

/* ---- user memory ---- */

static unsigned long k_copy_from_user(void *dst, const void __user *src, unsigned long n)
{
	sched_at("copy_from_user", __builtin_return_address(0));
	return host.copy_from_user(host.host, dst, (uint64_t)(uintptr_t)src, n);
}

static unsigned long k_copy_to_user(void __user *dst, const void *src, unsigned long n)
{
	if (st.kernel_uaccess) {
		memcpy(dst, src, n);
		return 0;
	}
	sched_at("copy_to_user", __builtin_return_address(0));
	return host.copy_to_user(host.host, (uint64_t)(uintptr_t)dst, src, n);
}

static long k_pin_user_pages(unsigned long start, long nr, unsigned int gup_flags, struct page **pages)
{
	/* The host's PFNs of a few pages go on the stack: the shim's own work costs no allocation. */
	uint64_t few[16];
	uint64_t *pfns = few;
	long got, i;
	int write = (gup_flags & FOLL_WRITE) != 0;

	sched_at("pin_user_pages", __builtin_return_address(0));
	if (nr <= 0)
		return 0;
	if ((size_t)nr > sizeof(few) / sizeof(few[0])) {
		pfns = calloc((size_t)nr, sizeof(*pfns));
		if (!pfns)
			return -ENOMEM;
	}
	got = host.pin(host.host, start, nr, write, pfns);
	for (i = 0; i < got; i++)
		pages[i] = HVB_PAGE(pfns[i], write);
	if (pfns != few)
		free(pfns);
	return got;
}

static void k_put_page(struct page *p)
{
	uintptr_t v = (uintptr_t)p;

	if ((v & 0x8) == 0) {
		report("guest.bad-page", "put_page(%p): not a page the shim handed out", (void *)p);
		return;
	}
	host.unpin(host.host, (uint64_t)(v >> 4), (int)(v & 1));
}

static void k_set_page_dirty(struct page *p)
{
	uintptr_t v = (uintptr_t)p;

	if ((v & 0x8) == 0) {
		report("guest.bad-page", "set_page_dirty(%p): not a page the shim handed out", (void *)p);
		return;
	}
	if (host.dirty)
		host.dirty(host.host, (uint64_t)(v >> 4));
}

/* ---- misc devices and debugfs ---- */

/*
 * misc_register() as drivers/char/misc.c (6.1) has it: a static minor already taken is
 * -EBUSY; a name already registered makes device_create() fail on the duplicate
 * /sys/class/misc/<name> with -EEXIST (the driver core's "don't try to register things with
 * the same name"). Dynamic minors count down from 127.
 */
static int k_misc_register(struct miscdevice *m)
{
	int i, minor;

	for (i = 0; i < st.misc.count; i++) {
		const struct hvb_misc_entry *e = &st.misc.reg[i];

		if (e->m == m) {
			/* one static struct miscdevice for every device: the second registration finds
			 * the minor the first one was given taken (-EBUSY), under the same name */
			report("guest.misc-name-clash",
			       "misc_register(%s) of a struct miscdevice already registered%s: one static misc device shared by every device; its minor %d (set by the first registration) is taken: -EBUSY",
			       m->name, st.vmbus.probing ? " (in a second device's probe)" : "", m->minor);
			return -EBUSY;
		}
		if (m->minor != MISC_DYNAMIC_MINOR && e->m->minor == m->minor) {
			report("guest.misc-minor-clash", "misc_register(%s): minor %d is taken by %s", m->name, m->minor,
			       e->m->name);
			return -EBUSY;
		}
		if (!strcmp(e->m->name, m->name)) {
			char by[48] = "module init";

			if (e->device)
				snprintf(by, sizeof(by), "the probe of device %d", e->device);
			report("guest.misc-name-clash",
			       "misc_register(%s)%s: /dev/%s is already registered (by %s); device_create fails with -EEXIST",
			       m->name, st.vmbus.probing ? " in a second device's probe" : "", m->name, by);
			return -EEXIST;
		}
	}
	if (st.misc.count == HVB_MAX_MISC)
		return -EBUSY;
	if (m->minor == MISC_DYNAMIC_MINOR) {
		for (minor = 127; minor >= 0; minor--) {
			for (i = 0; i < st.misc.count && st.misc.reg[i].m->minor != minor; i++)
				;
			if (i == st.misc.count)
				break;
		}
		if (minor < 0)
			return -EBUSY;
		m->minor = minor;
	}
	st.misc.reg[st.misc.count].m = m;
	st.misc.reg[st.misc.count].device = st.vmbus.probing;
	st.misc.count++;
	if (host.misc)
		host.misc(host.host, m->name, 1);
	return 0;
}

static void k_misc_deregister(struct miscdevice *m)
{
	int i;

	for (i = 0; i < st.misc.count && st.misc.reg[i].m != m; i++)
		;
	if (i == st.misc.count) {
		report("guest.misc-deregister", "misc_deregister(%s) of a device not registered", m->name);
		return;
	}
	memmove(&st.misc.reg[i], &st.misc.reg[i + 1], (size_t)(st.misc.count - i - 1) * sizeof(st.misc.reg[0]));
	st.misc.count--;
	if (host.misc)
		host.misc(host.host, m->name, 0);
}

/*
 * debugfs_create_dir/file as fs/debugfs/inode.c's start_creating() has it: an error parent
 * is passed back; an entry of that name under that parent is "already present" and the call
 * returns ERR_PTR(-EEXIST).
 */
static struct dentry *k_debugfs_create(const char *name, struct dentry *parent, void *data,
				       const struct file_operations *fops, int is_dir)
{
	int i;

	if (IS_ERR(parent))
		return parent;
	for (i = 0; i < HVB_MAX_DENTRIES; i++) {
		struct dentry *d = &st.dentries[i];

		if (d->live && d->parent == parent && !strcmp(d->name, name)) {
			report("guest.debugfs-name-clash", "debugfs %s '%s' with parent '%s' already present%s: returns ERR_PTR(-EEXIST)",
			       is_dir ? "directory" : "file", name, parent ? parent->name : "/",
			       st.vmbus.probing > 1 ? " (in a second device's probe)" : "");
			return ERR_PTR(-EEXIST);
		}
	}
	for (i = 0; i < HVB_MAX_DENTRIES; i++) {
		struct dentry *d = &st.dentries[i];

		if (!d->live) {
			memset(d, 0, sizeof(*d));
			snprintf(d->name, sizeof(d->name), "%s", name);
			d->parent = parent;
			d->data = data;
			d->fops = fops;
			d->is_dir = is_dir;
			d->live = 1;
			d->hvb_device = st.vmbus.probing;
			return d;
		}
	}
	return ERR_PTR(-ENOMEM);
}

static struct dentry *k_debugfs_lookup(const char *name, struct dentry *parent)
{
	int i;

	for (i = 0; i < HVB_MAX_DENTRIES; i++) {
		struct dentry *d = &st.dentries[i];

		if (d->live && d->parent == parent && !strcmp(d->name, name)) {
			d->refs++;
			return d;
		}
	}
	return NULL;
}

static void k_debugfs_remove(struct dentry *d)
{
	int i;

	if (IS_ERR_OR_NULL(d) || !d->live)
		return;
	for (i = 0; i < HVB_MAX_DENTRIES; i++)
		if (st.dentries[i].live && st.dentries[i].parent == d)
			k_debugfs_remove(&st.dentries[i]);
	d->live = 0;
}

struct hvb_single {
	struct seq_file m;
	int (*show)(struct seq_file *, void *);
};

static int k_single_open(struct file *f, int (*show)(struct seq_file *, void *), void *data)
{
	struct hvb_single *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->show = show;
	s->m.private = data;
	s->m.size = 65536;
	s->m.buf = calloc(1, s->m.size);
	f->private_data = s;
	return 0;
}

static int k_single_release(struct inode *inode, struct file *f)
{
	struct hvb_single *s = f->private_data;

	(void)inode;
	if (s) {
		free(s->m.buf);
		free(s);
	}
	f->private_data = NULL;
	return 0;
}

static void k_seq_vprintf(struct seq_file *m, const char *fmt, va_list ap)
{
	if (m->count + 1 >= m->size)
		return;
	m->count += (size_t)hvb_format(m->buf + m->count, m->size - m->count, fmt, ap);
}

/*
 * The live debugfs file called `name`, or NULL. `device` >= 0: only one the probe of that
 * offered device created.
 */
static struct dentry *debugfs_file_of(const char *name, int device)
{
	int i;

	for (i = 0; i < HVB_MAX_DENTRIES; i++) {
		struct dentry *d = &st.dentries[i];

		if (d->live && !d->is_dir && d->fops && !strcmp(d->name, name) &&
		    (device < 0 || d->hvb_device == device + 1))
			return d;
	}
	return NULL;
}

static struct dentry *debugfs_file(const char *name)
{
	return debugfs_file_of(name, -1);
}

int hvb_debugfs_count_of(int device, int dirs_only)
{
	int i, n = 0;

	for (i = 0; i < HVB_MAX_DENTRIES; i++) {
		const struct dentry *d = &st.dentries[i];

		n += d->live && d->hvb_device == device + 1 && (!dirs_only || d->is_dir);
	}
	return n;
}

int hvb_debugfs_exists_of(int device, const char *name)
{
	return debugfs_file_of(name, device) != NULL;
}

int hvb_debugfs_exists(const char *name)
{
	return debugfs_file(name) != NULL;
}

int hvb_debugfs_count(void)
{
	int i, n = 0;

	for (i = 0; i < HVB_MAX_DENTRIES; i++)
		n += st.dentries[i].live;
	return n;
}

/* A seq_file-backed debugfs file (single_open + show): its text, NUL-terminated. */
static long debugfs_read_seq(struct dentry *d, char *buf, size_t size);

long hvb_debugfs_read(const char *name, char *buf, size_t size)
{
	return debugfs_read_seq(debugfs_file(name), buf, size);
}

long hvb_debugfs_read_of(int device, const char *name, char *buf, size_t size)
{
	return debugfs_read_seq(debugfs_file_of(name, device), buf, size);
}

static long debugfs_read_seq(struct dentry *d, char *buf, size_t size)
{
	struct inode inode = { 0 };
	struct file file = { 0 };
	struct hvb_single *s;
	long n;

	if (!d || !d->fops->open)
		return -1;
	inode.i_private = d->data;
	file.f_inode = &inode;
	if (d->fops->open(&inode, &file))
		return -1;
	s = file.private_data;
	if (!s || !s->show)
		return -1;
	s->show(&s->m, NULL);
	n = (long)(s->m.count < size ? s->m.count : size - 1);
	memcpy(buf, s->m.buf, (size_t)n);
	buf[n] = 0;
	if (d->fops->release)
		d->fops->release(&inode, &file);
	return n;
}

/* A debugfs file with its own read (not a seq_file): open, read to the end, release. */
long hvb_debugfs_read_raw(const char *name, char *buf, size_t size)
{
	struct dentry *d = debugfs_file(name);
	struct inode inode = { 0 };
	struct file file = { 0 };
	loff_t pos = 0;
	long total = 0;

	if (!d || !d->fops->read)
		return -1;
	inode.i_private = d->data;
	file.f_inode = &inode;
	if (d->fops->open && d->fops->open(&inode, &file))
		return -1;
	st.kernel_uaccess = 1;
	while ((size_t)total < size) {
		ssize_t n = d->fops->read(&file, buf + total, size - (size_t)total, &pos);

		if (n <= 0)
			break;
		total += n;
	}
	st.kernel_uaccess = 0;
	if (d->fops->release)
		d->fops->release(&inode, &file);
	return total;
}

/* ---- RCU ---- */

static void k_rcu_read_lock(void)
{
	struct hvb_task *t = cur_task();
	int was = in_reader(t);

	t->rcu_nesting++;
	reader_enter(t, was);
}

static void k_rcu_read_unlock(void)
{
	struct hvb_task *t = cur_task();

	if (t->rcu_nesting <= 0) {
		report("guest.rcu-unbalanced", "rcu_read_unlock without rcu_read_lock");
		return;
	}
	t->rcu_nesting--;
	reader_exit(t);
	sched_at("rcu_read_unlock", __builtin_return_address(0));
}

/* Waits until every reader that began before now has left its read-side section. */
static void k_synchronize_rcu(void)
{
	struct hvb_task *t = hvb_current_task_of_coro();
	const void *at = __builtin_return_address(0);
	u64 target;

	sleep_check_at("synchronize_rcu", at);
	sched_at("synchronize_rcu", at);
	if (t && t->rcu_nesting > 0) {
		report("guest.deadlock", "synchronize_rcu inside an RCU read-side critical section");
		return;
	}
	target = ++st.rcu_seq;
	while (readers_before(target, t))
		(void)block_at(&st.rcu_gp_key, "synchronize_rcu", 0, 0, 0, at);
}

static void k_call_rcu(struct callback_head *head, void (*func)(struct callback_head *), long kfree_offset)
{
	struct hvb_rcu_cb *cb;
	const void *at = __builtin_return_address(0);
	struct hvb_freed *f;

	sched_at(kfree_offset >= 0 ? "kfree_rcu" : "call_rcu", at);
	if (hvb_poisoned(head, sizeof(*head)) && (f = quarantined(head))) {
		report_uaf("guest.use-after-free", kfree_offset >= 0 ? "kfree_rcu" : "call_rcu", head, f, at);
		return;
	}
	cb = calloc(1, sizeof(*cb));
	if (!cb)
		return;
	head->func = func;
	cb->head = head;
	cb->func = func;
	cb->kfree_offset = kfree_offset;
	cb->seq = ++st.rcu_seq;
	cb->at = at;
	*st.rcu_tail = cb;
	st.rcu_tail = &cb->next;
	st.rcu_pending++;
	kworker_wake();
}

/* Runs the oldest callback whose grace period has ended (on the kworker); 1 if one ran. */
static int rcu_run_one(void)
{
	struct hvb_rcu_cb *cb = st.rcu_head;
	struct hvb_task *t = hvb_current_task_of_coro();
	struct hvb_freed *f;

	if (!cb || readers_before(cb->seq, t))
		return 0;
	st.rcu_head = cb->next;
	if (!st.rcu_head)
		st.rcu_tail = &st.rcu_head;
	st.rcu_pending--;
	if (hvb_poisoned(cb->head, sizeof(*cb->head)) && (f = quarantined(cb->head))) {
		report_uaf("guest.use-after-free", "an RCU callback's rcu_head was freed before the grace period ended; the call_rcu",
			   cb->head, f, cb->at);
	} else if (cb->kfree_offset >= 0) {
		free_at((char *)cb->head - cb->kfree_offset, "kfree_rcu", cb->at);
	} else {
		if (t)
			t->atomic = 1;
		cb->func(cb->head);
		if (t)
			t->atomic = 0;
	}
	free(cb);
	if (hvb_wake_key(&st.rcu_barrier_key) > 0 && host.woke)
		host.woke(host.host);
	return 1;
}

/* Waits until every callback queued before it has run. */
static void k_rcu_barrier(void)
{
	const void *at = __builtin_return_address(0);
	u64 target = st.rcu_seq;

	sleep_check_at("rcu_barrier", at);
	while (st.rcu_head && st.rcu_head->seq <= target) {
		kworker_wake();
		(void)block_at(&st.rcu_barrier_key, "rcu_barrier", 0, 0, 0, at);
	}
}

/* ---- the kworker: work items, timers, RCU callbacks ---- */

static int kworker_is_current(void)
{
	return st.kworker_task && hvb_current_task_of_coro() == st.kworker_task;
}

static void kworker_main(void *arg);

static void kworker_wake(void)
{
	if (!st.kworker) {
		st.kworker = hvb_coro_create(kworker_main, NULL, "kworker/0:1", 0, 0);
		return;
	}
	if (hvb_wake_key(&st.kworker_key) > 0 && host.woke)
		host.woke(host.host);
}

#define WORK_WQ(w) ((struct workqueue_struct *)(uintptr_t)(atomic_long_read(&(w)->data) & ~WORK_STRUCT_PENDING))

static void work_unlink(struct work_struct *w)
{
	w->entry.prev->next = w->entry.next;
	w->entry.next->prev = w->entry.prev;
	w->entry.next = &w->entry;
	w->entry.prev = &w->entry;
}

static bool work_enqueue(struct workqueue_struct *wq, struct work_struct *w)
{
	if (wq->destroying)
		report("guest.queue-on-destroyed-workqueue", "queue_work on workqueue %s while it is destroyed", wq->name);
	atomic_long_set(&w->data, (long)((uintptr_t)wq | WORK_STRUCT_PENDING));
	w->entry.prev = st.work_list.prev;
	w->entry.next = &st.work_list;
	st.work_list.prev->next = &w->entry;
	st.work_list.prev = &w->entry;
	kworker_wake();
	return true;
}

static bool k_queue_work(struct workqueue_struct *wq, struct work_struct *w)
{
	const void *at = __builtin_return_address(0);
	struct hvb_freed *f;

	sched_at("queue_work", at);
	if (hvb_poisoned(w, sizeof(*w)) && (f = quarantined(w))) {
		report_uaf("guest.use-after-free", "queue_work", w, f, at);
		return false;
	}
	if (!w->func) {
		report("guest.work-uninitialized", "queue_work of a work item never initialized (INIT_WORK)");
		return false;
	}
	if (work_pending(w))
		return false;
	return work_enqueue(wq, w);
}

/* Runs one work item (on the kworker, or a flusher acting as another pool worker). */
static void work_run(struct work_struct *w)
{
	struct work_struct *prev_work = st.running_work;
	struct workqueue_struct *prev_wq = st.running_wq;
	struct workqueue_struct *wq = WORK_WQ(w);
	work_func_t fn = w->func;

	work_unlink(w);
	atomic_long_set(&w->data, (long)(uintptr_t)wq); /* not pending: it may be queued again */
	st.running_work = w;
	st.running_wq = wq;
	fn(w); /* w may be freed by now */
	st.running_work = prev_work;
	st.running_wq = prev_wq;
	k_wake(w);
	k_wake(&st.flush_key);
}

static bool k_cancel_work(struct work_struct *w, int sync)
{
	const void *at = __builtin_return_address(0);
	bool was = false;

	sched_at(sync ? "cancel_work_sync" : "cancel_work", at);
	(void)uaf_check(w, sizeof(*(w)), "cancel_work", __builtin_return_address(0));
	if (work_pending(w) && w->entry.next != &w->entry) {
		work_unlink(w);
		atomic_long_set(&w->data, (long)(uintptr_t)WORK_WQ(w));
		was = true;
	}
	if (sync) {
		sleep_check_at("cancel_work_sync", at);
		while (st.running_work == w) {
			if (kworker_is_current()) {
				report("guest.deadlock", "cancel_work_sync of the work item from itself");
				break;
			}
			(void)block_at(w, "cancel_work_sync", 0, 0, 0, at);
		}
	}
	return was;
}

static bool k_flush_work(struct work_struct *w)
{
	const void *at = __builtin_return_address(0);
	bool waited = false;

	sleep_check_at("flush_work", at);
	sched_at("flush_work", at);
	(void)uaf_check(w, sizeof(*(w)), "flush_work", __builtin_return_address(0));
	for (;;) {
		if (st.running_work == w) {
			if (kworker_is_current()) {
				report("guest.deadlock", "flush_work of the work item from itself");
				return waited;
			}
		} else if (work_pending(w) && w->entry.next != &w->entry) {
			if (kworker_is_current()) {
				/* A busy pool starts another worker: run it here. */
				work_run(w);
				return true;
			}
		} else {
			return waited;
		}
		waited = true;
		(void)block_at(w, "flush_work", 0, 0, 0, at);
	}
}

static int wq_busy(struct workqueue_struct *wq)
{
	struct list_head *p;

	if (st.running_work && st.running_wq == wq)
		return 1;
	for (p = st.work_list.next; p != &st.work_list; p = p->next)
		if (WORK_WQ(container_of(p, struct work_struct, entry)) == wq)
			return 2;
	return 0;
}

static void k_flush_workqueue(struct workqueue_struct *wq)
{
	const void *at = __builtin_return_address(0);
	int busy;

	sleep_check_at("flush_workqueue", at);
	sched_at("flush_workqueue", at);
	while ((busy = wq_busy(wq))) {
		if (kworker_is_current()) {
			if (busy == 1 && st.running_wq == wq) {
				report("guest.deadlock", "flush_workqueue of %s from one of its own work items", wq->name);
				return;
			}
		}
		(void)block_at(&st.flush_key, "flush_workqueue", 0, 0, 0, at);
	}
}

static struct workqueue_struct *k_system_workqueue(int which)
{
	return &system_wqs[which >= 0 && which < HVB_SYSTEM_NR_WQ ? which : 0];
}

static struct workqueue_struct *k_alloc_workqueue(const char *name, unsigned int flags, int max_active)
{
	struct workqueue_struct *wq = alloc_at(sizeof(*wq), 1, "alloc_workqueue", __builtin_return_address(0));

	if (!wq)
		return NULL;
	snprintf(wq->name, sizeof(wq->name), "%s", name);
	wq->flags = flags;
	wq->max_active = max_active;
	return wq;
}

static void k_destroy_workqueue(struct workqueue_struct *wq)
{
	struct hlist_node *n;

	if (!wq)
		return;
	if (wq->system) {
		report("guest.destroy-system-workqueue", "destroy_workqueue of the system workqueue %s", wq->name);
		return;
	}
	wq->destroying = 1;
	k_flush_workqueue(wq);
	for (n = st.timers.first; n; n = n->next) {
		struct timer_list *t = container_of(n, struct timer_list, entry);
		struct delayed_work *dw = container_of(t, struct delayed_work, timer);

		if (t->function == NULL && dw->wq == wq)
			report("guest.workqueue-destroyed-busy", "destroy_workqueue(%s) with delayed work still pending on it", wq->name);
	}
	free_at(wq, "destroy_workqueue", __builtin_return_address(0));
}

/* ---- timers (a delayed work's timer has no function: it queues the work when it fires) ---- */

static void timer_unlink(struct timer_list *t)
{
	struct hlist_node *next = t->entry.next;

	*t->entry.pprev = next;
	if (next)
		next->pprev = t->entry.pprev;
	t->entry.next = NULL;
	t->entry.pprev = NULL;
}

static void timer_link(struct timer_list *t)
{
	t->entry.next = st.timers.first;
	if (st.timers.first)
		st.timers.first->pprev = &t->entry.next;
	st.timers.first = &t->entry;
	t->entry.pprev = &st.timers.first;
	kworker_wake();
}

static int k_mod_timer(struct timer_list *t, unsigned long expires, int only_if_pending)
{
	const void *at = __builtin_return_address(0);
	int was = timer_pending(t);

	sched_at("mod_timer", at);
	(void)uaf_check(t, sizeof(*(t)), "mod_timer", __builtin_return_address(0));
	if (only_if_pending && !was)
		return 0;
	if (!t->function && !only_if_pending) {
		/* add_timer/mod_timer on a timer_setup'd timer always has a function. */
		report("guest.timer-uninitialized", "mod_timer of a timer with no function (timer_setup missing)");
		return was;
	}
	if (was)
		timer_unlink(t);
	t->expires = expires;
	timer_link(t);
	return was;
}

static int k_del_timer(struct timer_list *t, int sync)
{
	const void *at = __builtin_return_address(0);
	int was = timer_pending(t);

	(void)uaf_check(t, sizeof(*(t)), "del_timer", __builtin_return_address(0));
	if (was)
		timer_unlink(t);
	if (sync) {
		sleep_check_at("del_timer_sync", at);
		while (st.running_timer == t) {
			if (kworker_is_current()) {
				report("guest.deadlock", "del_timer_sync of a timer from its own function");
				break;
			}
			(void)block_at(t, "del_timer_sync", 0, 0, 0, at);
		}
	}
	return was;
}

static bool k_queue_delayed_work(struct workqueue_struct *wq, struct delayed_work *dw, unsigned long delay, int mod)
{
	const void *at = __builtin_return_address(0);
	bool was = false;

	sched_at(mod ? "mod_delayed_work" : "queue_delayed_work", at);
	(void)uaf_check(&dw->work, sizeof(*(&dw->work)), "queue_delayed_work", __builtin_return_address(0));
	if (work_pending(&dw->work)) {
		if (!mod)
			return false;
		was = true;
		if (timer_pending(&dw->timer))
			timer_unlink(&dw->timer);
		else if (dw->work.entry.next != &dw->work.entry)
			work_unlink(&dw->work);
		atomic_long_set(&dw->work.data, 0);
	}
	dw->wq = wq;
	if (!delay) {
		work_enqueue(wq, &dw->work);
		return mod ? was : true;
	}
	atomic_long_set(&dw->work.data, (long)((uintptr_t)wq | WORK_STRUCT_PENDING));
	dw->timer.function = NULL;
	dw->timer.expires = (unsigned long)k_jiffies() + delay;
	timer_link(&dw->timer);
	return mod ? was : true;
}

static bool k_cancel_delayed_work(struct delayed_work *dw, int sync)
{
	if (timer_pending(&dw->timer)) {
		timer_unlink(&dw->timer);
		atomic_long_set(&dw->work.data, (long)(uintptr_t)dw->wq);
		if (sync)
			(void)k_cancel_work(&dw->work, 1);
		return true;
	}
	return k_cancel_work(&dw->work, sync);
}

static bool k_flush_delayed_work(struct delayed_work *dw)
{
	if (timer_pending(&dw->timer)) {
		timer_unlink(&dw->timer);
		atomic_long_set(&dw->work.data, 0);
		work_enqueue(dw->wq ? dw->wq : &system_wqs[0], &dw->work);
	}
	return k_flush_work(&dw->work);
}

/* The earliest pending timer, or NULL. */
static struct timer_list *timer_next(void)
{
	struct hlist_node *n;
	struct timer_list *best = NULL;

	for (n = st.timers.first; n; n = n->next) {
		struct timer_list *t = container_of(n, struct timer_list, entry);

		if (!best || time_before(t->expires, best->expires))
			best = t;
	}
	return best;
}

static int timer_run_one(void)
{
	struct timer_list *t = timer_next();
	struct hvb_task *me = hvb_current_task_of_coro();

	if (!t || time_before((unsigned long)k_jiffies(), t->expires))
		return 0;
	timer_unlink(t);
	if (!t->function) {
		/* delayed_work_timer_fn: the work goes to its queue now */
		struct delayed_work *dw = container_of(t, struct delayed_work, timer);

		atomic_long_set(&dw->work.data, 0);
		work_enqueue(dw->wq ? dw->wq : &system_wqs[0], &dw->work);
		return 1;
	}
	st.running_timer = t;
	me->atomic = 1;
	t->function(t);
	me->atomic = 0;
	st.running_timer = NULL;
	k_wake(t);
	return 1;
}

static void kworker_main(void *arg)
{
	(void)arg;
	st.kworker_task = hvb_current_task_of_coro();
	for (;;) {
		struct timer_list *t;

		if (timer_run_one() || rcu_run_one())
			continue;
		if (st.work_list.next != &st.work_list) {
			work_run(container_of(st.work_list.next, struct work_struct, entry));
			continue;
		}
		t = timer_next();
		hvb_coro_park(HVB_BLOCKED, &st.kworker_key, "worker_thread", t ? t->expires : 0, t != NULL, 0);
	}
}

int hvb_kworker_deadline(uint64_t *deadline)
{
	struct timer_list *t = timer_next();

	if (!t || !st.kworker)
		return 0;
	*deadline = t->expires;
	return 1;
}

int hvb_kworker_step(void)
{
	struct hvb_coro *c = st.kworker;
	int state;

	if (!c)
		return 0;
	state = hvb_coro_state(c);
	if (state == HVB_RUNNING || state == HVB_DONE)
		return 0;
	if (state == HVB_BLOCKED) {
		int has;
		u64 deadline = hvb_coro_deadline(c, &has);

		if (!has || k_jiffies() < deadline)
			return 0;
		hvb_coro_make_ready(c);
	}
	if (hvb_coro_resume(c) == HVB_DONE) {
		if (hvb_coro_crashed(c))
			report("guest.crash", "%s", hvb_last_fault());
		st.kworker = NULL;
		st.kworker_dead = c;
		st.kworker_task = NULL;
		return 2;
	}
	return 1;
}

/* ---- VMBus ---- */

static int k_driver_register(struct hv_driver *drv)
{
	st.vmbus.driver = drv;
	return 0;
}

static int remove_device(struct hvb_vmbus_device *d);

/* driver_unregister(): every device still bound is removed first, as the driver core does. */
static void k_driver_unregister(struct hv_driver *drv)
{
	int i;

	if (st.vmbus.driver != drv) {
		report("guest.driver-unregister", "vmbus_driver_unregister of a driver not registered");
		return;
	}
	for (i = 0; i < st.vmbus.count; i++)
		if (st.vmbus.dev[i].probed)
			remove_device(&st.vmbus.dev[i]);
	st.vmbus.driver = NULL;
}

/*
 * The offered device whose channel `c` is. A channel the VMBus core freed after rescind and
 * remove is guest.use-after-free (with both sites), and so is a channel pointer read from a
 * freed hv_device (the poison): the call still goes to that device's closed channel, so that
 * the host sees what the driver sent (a send on a closed channel). NULL, reported, for a
 * pointer that was never a channel. `*freed` says the device is gone: touch nothing of it.
 */
static struct hvb_vmbus_device *channel_dev(const struct vmbus_channel *c, const char *what, const void *at, int *freed)
{
	struct hvb_freed *f;
	char here[160];
	int i;

	*freed = 0;
	for (i = 0; i < st.vmbus.count; i++)
		if (!st.vmbus.dev[i].freed && st.vmbus.dev[i].channel == c)
			return &st.vmbus.dev[i];
	*freed = 1;
	for (i = 0; i < st.vmbus.count; i++) {
		if (st.vmbus.dev[i].freed && st.vmbus.dev[i].channel == c) {
			f = quarantined(c);
			if (f)
				report_uaf("guest.use-after-free", what, c, f, at);
			else
				report("guest.use-after-free", "%s at %s on the channel of a device freed after rescind and remove",
				       what, site(at, here, sizeof(here)));
			return &st.vmbus.dev[i];
		}
	}
	if ((uintptr_t)c == 0x6b6b6b6b6b6b6b6bULL) {
		/* the channel pointer itself came out of a freed block: name the freed device */
		for (i = st.vmbus.count - 1; i >= 0; i--) {
			f = st.vmbus.dev[i].freed ? quarantined(st.vmbus.dev[i].hdev) : NULL;
			if (f) {
				char a[160], b[160];

				report("guest.use-after-free",
				       "%s at %s on channel pointer %p, read from freed memory (the hv_device of a rescinded device, a %zu-byte block allocated by %s at %s, freed by %s at %s)",
				       what, site(at, here, sizeof(here)), (const void *)c, f->size, f->alloc_fn,
				       site(f->alloc_at, a, sizeof(a)), f->free_fn, site(f->free_at, b, sizeof(b)));
				return &st.vmbus.dev[i];
			}
		}
		report("guest.use-after-free", "%s at %s on channel pointer %p, read from freed memory", what,
		       site(at, here, sizeof(here)), (const void *)c);
		return NULL;
	}
	report("guest.bad-channel", "%s at %s on %p: not a channel the VMBus core offered", what, site(at, here, sizeof(here)),
	       (const void *)c);
	return NULL;
}

static int dev_index(const struct hvb_vmbus_device *d)
{
	return (int)(d - st.vmbus.dev);
}

static int k_vmbus_open(struct vmbus_channel *c, u32 send_size, u32 recv_size, void *ud, u32 udlen,
			void (*cb)(void *), void *context)
{
	struct hvb_vmbus_device *d;
	int ret, freed;

	(void)ud;
	(void)udlen;
	sched_at("vmbus_open", __builtin_return_address(0));
	d = channel_dev(c, "vmbus_open", __builtin_return_address(0), &freed);
	if (!d || freed)
		return -ENODEV;
	if (send_size != recv_size)
		report("guest.ring-size", "send ring %u and receive ring %u differ", send_size, recv_size);
	ret = host.vmbus_open(host.host, dev_index(d), send_size, c->rqstor_size, c->next_request_id_callback != NULL);
	if (ret)
		return ret;
	c->onchannel_callback = cb;
	c->channel_callback_context = context;
	return 0;
}

static void k_vmbus_close(struct vmbus_channel *c)
{
	struct hvb_vmbus_device *d;
	int freed;

	sched_at("vmbus_close", __builtin_return_address(0));
	d = channel_dev(c, "vmbus_close", __builtin_return_address(0), &freed);
	if (!d)
		return;
	if (!freed)
		c->onchannel_callback = NULL;
	host.vmbus_close(host.host, dev_index(d));
}

static int k_sendpacket_mpb_desc(struct vmbus_channel *c, struct vmbus_packet_mpb_array *desc, u32 desc_size,
				 void *buffer, u32 bufferlen, u64 requestid)
{
	u32 packetlen = desc_size + bufferlen;
	u32 aligned = (packetlen + 7) & ~7u;
	struct hvb_vmbus_device *d;
	uint8_t few[512] __attribute__((aligned(8)));
	uint8_t *pkt;
	int ret, freed;

	sched_at("vmbus_sendpacket_mpb_desc", __builtin_return_address(0));
	d = channel_dev(c, "vmbus_sendpacket_mpb_desc", __builtin_return_address(0), &freed);
	if (!d)
		return -ENODEV;
	/* As vmbus_sendpacket_mpb_desc() fills the header before hv_ringbuffer_write(). */
	desc->type = VM_PKT_DATA_USING_GPA_DIRECT;
	desc->flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
	desc->dataoffset8 = (u16)(desc_size >> 3);
	desc->length8 = (u16)(aligned >> 3);
	desc->transactionid = VMBUS_RQST_ERROR;
	desc->reserved = 0;
	desc->rangecount = 1;
	/* A packet of a few PFNs is put together on the stack (the host copies it into the ring). */
	pkt = aligned <= sizeof(few) ? few : calloc(1, aligned);
	if (!pkt)
		return -ENOMEM;
	memcpy(pkt, desc, desc_size);
	memcpy(pkt + desc_size, buffer, bufferlen);
	memset(pkt + packetlen, 0, aligned - packetlen);
	ret = host.send(host.host, dev_index(d), pkt, aligned, requestid);
	if (pkt != few)
		free(pkt);
	return ret;
}

static struct vmpacket_descriptor *k_pkt_iter_first(struct vmbus_channel *c)
{
	int freed;
	struct hvb_vmbus_device *d = channel_dev(c, "hv_pkt_iter_first", __builtin_return_address(0), &freed);
	u32 len;

	if (!d || freed)
		return NULL;
	len = host.packet_first(host.host, dev_index(d), c->pkt_buffer, sizeof(c->pkt_buffer));
	/*
	 * The bytes after the packet are poison, not what an earlier packet left:
	 * a driver that reads past what the host sent reads HVB_PACKET_POISON,
	 * the same in every build and run, and the harness recognises it.
	 */
	if (len < sizeof(c->pkt_buffer))
		memset(c->pkt_buffer + len, HVB_PACKET_POISON,
		       min_t(size_t, HVB_PACKET_POISON_LEN, sizeof(c->pkt_buffer) - len));
	c->pkt_len = len;
	return len ? (struct vmpacket_descriptor *)c->pkt_buffer : NULL;
}

static void k_pkt_iter_close(struct vmbus_channel *c)
{
	int freed;
	struct hvb_vmbus_device *d = channel_dev(c, "hv_pkt_iter_close", __builtin_return_address(0), &freed);

	if (d && !freed)
		host.packet_close(host.host, dev_index(d));
}

static struct vmpacket_descriptor *k_pkt_iter_next(struct vmbus_channel *c, const struct vmpacket_descriptor *desc)
{
	int freed;
	struct hvb_vmbus_device *d = channel_dev(c, "hv_pkt_iter_next", __builtin_return_address(0), &freed);
	struct vmpacket_descriptor *next;

	if (!d || freed)
		return NULL;
	host.packet_advance(host.host, dev_index(d), (u32)desc->len8 << 3);
	next = k_pkt_iter_first(c);
	if (!next)
		k_pkt_iter_close(c);
	return next;
}

static u64 k_request_addr(struct vmbus_channel *c, u64 id)
{
	int freed;
	struct hvb_vmbus_device *d = channel_dev(c, "vmbus_request_addr", __builtin_return_address(0), &freed);

	return d ? host.request_addr(host.host, dev_index(d), id, 0) : VMBUS_RQST_ERROR;
}

static u64 k_next_request_id(struct vmbus_channel *c, u64 addr)
{
	(void)c;
	(void)addr;
	report("guest.unsupported", "vmbus_next_request_id called directly; the send allocates ids");
	return VMBUS_RQST_ERROR;
}

static struct hvb_kops table = {
	.version = HVB_KOPS_VERSION,
	.report = NULL,
	.dev_log = k_dev_log,
	.sched_point = k_sched_point,
	.get_jiffies = k_jiffies,
	.current_task = k_current_task,
	.kmalloc = k_kmalloc,
	.kfree = k_kfree,
	.lock_acquire = k_spin_lock,
	.lock_release = k_spin_unlock,
	.block = k_block,
	.wake = k_wake,
	.copy_from_user = k_copy_from_user,
	.copy_to_user = k_copy_to_user,
	.pin_user_pages = k_pin_user_pages,
	.put_page = k_put_page,
	.set_page_dirty = k_set_page_dirty,
	.misc_register = k_misc_register,
	.misc_deregister = k_misc_deregister,
	.debugfs_create = k_debugfs_create,
	.debugfs_lookup = k_debugfs_lookup,
	.debugfs_remove = k_debugfs_remove,
	.single_open = k_single_open,
	.single_release = k_single_release,
	.seq_vprintf = k_seq_vprintf,
	.vscnprintf = k_vscnprintf,
	.driver_register = k_driver_register,
	.driver_unregister = k_driver_unregister,
	.vmbus_open = k_vmbus_open,
	.vmbus_close = k_vmbus_close,
	.sendpacket_mpb_desc = k_sendpacket_mpb_desc,
	.pkt_iter_first = k_pkt_iter_first,
	.pkt_iter_next = k_pkt_iter_next,
	.pkt_iter_close = k_pkt_iter_close,
	.request_addr = k_request_addr,
	.next_request_id = k_next_request_id,
	.block_flags = k_block_flags,
	.wake_flags = k_wake_flags,
	.waiters = k_waiters,
	.signal_pending = k_signal_pending,
	.sleep_check = k_sleep_check,
	.context = k_context,
	.preempt_add = k_preempt_add,
	.check_access = k_check_access,
	.rcu_read_lock = k_rcu_read_lock,
	.rcu_read_unlock = k_rcu_read_unlock,
	.synchronize_rcu = k_synchronize_rcu,
	.call_rcu = k_call_rcu,
	.rcu_barrier = k_rcu_barrier,
	.system_workqueue = k_system_workqueue,
	.alloc_workqueue = k_alloc_workqueue,
	.destroy_workqueue = k_destroy_workqueue,
	.queue_work = k_queue_work,
	.queue_delayed_work = k_queue_delayed_work,
	.cancel_work = k_cancel_work,
	.cancel_delayed_work = k_cancel_delayed_work,
	.flush_work = k_flush_work,
	.flush_delayed_work = k_flush_delayed_work,
	.flush_workqueue = k_flush_workqueue,
	.mod_timer = k_mod_timer,
	.del_timer = k_del_timer,
	.devm_kmalloc = k_devm_kmalloc,
	.devm_kfree = k_devm_kfree,
	.devm_add_action = k_devm_add_action,
	.devm_remove_action = k_devm_remove_action,
};

static void k_report(const char *rule, const char *detail)
{
	if (host.report)
		host.report(host.host, rule, detail);
}

void hvb_install(const struct hvb_host_ops *ops)
{
	host = *ops;
	table.report = k_report;
}

void *hvb_kops_table(void)
{
	return &table;
}

void hvb_reset(void)
{
	int i;

	hvb_checkpoint_drop();
	/*
	 * Threads an earlier driver left (blocked calls never finished, a crashed thread's dead
	 * stack) are not this driver's: gone, so that they neither hold up its RCU grace
	 * periods nor count as its live threads. A new coroutine epoch tells their owners.
	 */
	hvb_coro_destroy_all();
	st.kworker = st.kworker_dead = NULL;
	/* Files an earlier driver left open stay its own (never freed here: a handle may remain). */
	files_epoch++;
	open_files = NULL;
	nopen_files = 0;
	for (i = 0; i < st.vmbus.count; i++) {
		if (!st.vmbus.dev[i].freed) {
			shim_release_live(st.vmbus.dev[i].channel);
			shim_release_live(st.vmbus.dev[i].hdev);
		}
	}
	while (st.rcu_head) {
		struct hvb_rcu_cb *cb = st.rcu_head;

		st.rcu_head = cb->next;
		free(cb);
	}
	free(st.devres);
	quarantine_drain(0);
	memset(&st, 0, sizeof(st));
	hvb_task_init(&st.kernel_task, "kworker", 0, 0);
	st.rcu_tail = &st.rcu_head;
	INIT_LIST_HEAD(&st.work_list);
	for (i = 0; i < HVB_SYSTEM_NR_WQ; i++)
		system_wqs[i].destroying = 0;
}

/* ---- driver operations, each run on the current coroutine ---- */

int hvb_run_init(int (*init)(void))
{
	return init ? init() : -ENOENT;
}

/* What module exit leaves behind that would run module code after it is unloaded. */
static void exit_leftovers(void)
{
	struct hvb_rcu_cb *cb;
	struct hlist_node *n;
	int works = 0, rcus = 0, timers = 0;

	for (struct list_head *p = st.work_list.next; p != &st.work_list; p = p->next)
		works++;
	for (n = st.timers.first; n; n = n->next)
		timers++;
	for (cb = st.rcu_head; cb; cb = cb->next)
		if (cb->kfree_offset < 0)
			rcus++;
	if (works || st.running_work)
		report("guest.work-pending-at-exit", "%d work item(s) still queued after module exit (cancel_work_sync / flush missing)",
		       works + (st.running_work != NULL));
	if (timers)
		report("guest.timer-pending-at-exit", "%d timer(s) or delayed work item(s) still pending after module exit", timers);
	if (rcus)
		report("guest.rcu-callback-pending-at-exit",
		       "%d call_rcu callback(s) still pending after module exit (rcu_barrier() missing)", rcus);
}

void hvb_run_exit(void (*exit_fn)(void))
{
	if (exit_fn)
		exit_fn();
	exit_leftovers();
}

/*
 * The host offers a device: the VMBus core allocates its hv_device and channel (each device
 * its own instance GUID, relid and channel). Returns its slot, or -errno.
 */
int hvb_offer(void)
{
	static const guid_t blob = GUID_INIT(0x0590b792, 0xdb64, 0x45cc, 0x81, 0xdb, 0xb8, 0xd7, 0x0c, 0x57, 0x7c, 0x9e);
	struct hvb_vmbus_device *d;
	int i = st.vmbus.count;

	if (i == HVB_MAX_DEVICES)
		return -ENOSPC;
	d = &st.vmbus.dev[i];
	memset(d, 0, sizeof(*d));
	d->hdev = shim_alloc(sizeof(*d->hdev), "vmbus_device_create (the offer)");
	d->channel = shim_alloc(sizeof(*d->channel), "alloc_channel (the offer)");
	if (!d->hdev || !d->channel) {
		shim_release_live(d->hdev);
		shim_release_live(d->channel);
		return -ENOMEM;
	}
	/* the instance GUID: the first device's is the one hvblob always used, then ...bc, ...bd */
	snprintf(d->hdev->device.name, sizeof(d->hdev->device.name), "f8b3781a-1e82-4818-a1c3-63d806ec15%02x", 0xbb + i);
	d->hdev->channel = d->channel;
	d->hdev->dev_type = blob;
	d->channel->device_obj = d->hdev;
	d->channel->offermsg.child_relid = 1 + (u32)i;
	d->offered = 1;
	st.vmbus.count++;
	return i;
}

static struct hvb_vmbus_device *device_at(int i)
{
	return i >= 0 && i < st.vmbus.count && !st.vmbus.dev[i].freed ? &st.vmbus.dev[i] : NULL;
}

int hvb_probe_device(int i)
{
	static const guid_t blob = GUID_INIT(0x0590b792, 0xdb64, 0x45cc, 0x81, 0xdb, 0xb8, 0xd7, 0x0c, 0x57, 0x7c, 0x9e);
	struct hvb_vmbus_device *d = device_at(i);
	const struct hv_vmbus_device_id *id;
	int ret;

	if (!st.vmbus.driver || !d || d->probed)
		return -ENODEV;
	for (id = st.vmbus.driver->id_table; id; id++) {
		static const guid_t zero;

		if (guid_equal(&id->guid, &zero)) {
			id = NULL;
			break;
		}
		if (guid_equal(&id->guid, &blob))
			break;
	}
	if (!id) {
		report("guest.id-table", "the driver's id_table does not name the Azure Blob class GUID");
		return -ENODEV;
	}
	d->probed = 1;
	st.vmbus.probing = i + 1;
	ret = st.vmbus.driver->probe(d->hdev, id);
	st.vmbus.probing = 0;
	/* really_probe(): a failed probe releases what it took with devm_*. */
	if (ret) {
		devres_release(&d->hdev->device);
		d->probed = 0;
	}
	return ret;
}

/*
 * The driver's remove, then devres; after a rescind the VMBus core then frees the channel and
 * the hv_device (vmbus_device_release): into the quarantine, freed "at" the driver's remove.
 */
static int remove_device(struct hvb_vmbus_device *d)
{
	/* hv_driver.remove returns void from 6.3: the value is not used here either way. */
	int (*remove)(struct hv_device *);

	if (!st.vmbus.driver || !d->probed)
		return -ENODEV;
	remove = (int (*)(struct hv_device *))st.vmbus.driver->remove;
	remove(d->hdev);
	devres_release(&d->hdev->device);
	d->probed = 0;
	if (d->channel->rescind) {
		free_at(d->channel, "free_channel (after rescind and remove)", (const void *)remove);
		free_at(d->hdev, "vmbus_device_release (after rescind and remove)", (const void *)remove);
		d->freed = 1;
	}
	return 0;
}

int hvb_remove_device(int i)
{
	struct hvb_vmbus_device *d = device_at(i);

	return d ? remove_device(d) : -ENODEV;
}

void hvb_channel_callback(int i)
{
	struct hvb_task *t = hvb_current_task_of_coro();
	struct hvb_vmbus_device *d = device_at(i);
	void (*cb)(void *) = d ? d->channel->onchannel_callback : NULL;

	if (!cb)
		return;
	if (t)
		t->atomic = 1;
	cb(d->channel->channel_callback_context);
	if (t)
		t->atomic = 0;
}

void hvb_rescind_device(int i)
{
	struct hvb_vmbus_device *d = device_at(i);

	if (!d)
		return;
	d->channel->onchannel_callback = NULL;
	d->channel->rescind = true;
}

int hvb_misc_count(void)
{
	return st.misc.count;
}

const char *hvb_misc_name_at(int i)
{
	return i >= 0 && i < st.misc.count ? st.misc.reg[i].m->name : NULL;
}

int hvb_misc_device_at(int i)
{
	return i >= 0 && i < st.misc.count ? st.misc.reg[i].device - 1 : -1;
}

const char *hvb_misc_name(void)
{
	return hvb_misc_name_at(0);
}

struct hvb_file {
	struct file file;
	struct inode inode;
	struct hvb_file *prev, *next;
	unsigned long epoch;
};

static void file_forget(struct hvb_file *f)
{
	if (f->epoch != files_epoch)
		return;
	if (f->prev)
		f->prev->next = f->next;
	else
		open_files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	nopen_files--;
}

/* open("/dev/<name>"): the misc device of that name (NULL: the first registered). */
void *hvb_open_misc(const char *name, int *err)
{
	struct miscdevice *m = NULL;
	struct hvb_file *f;
	int i, ret;

	for (i = 0; i < st.misc.count && !m; i++)
		if (!name || !strcmp(st.misc.reg[i].m->name, name))
			m = st.misc.reg[i].m;
	if (!m) {
		*err = -ENODEV;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		*err = -ENOMEM;
		return NULL;
	}
	f->file.private_data = m;
	f->file.f_cred = k_current_task()->cred;
	f->file.f_op = m->fops;
	f->file.f_inode = &f->inode;
	ret = f->file.f_op->open ? f->file.f_op->open(&f->inode, &f->file) : 0;
	if (ret) {
		free(f);
		*err = ret;
		return NULL;
	}
	f->epoch = files_epoch;
	f->next = open_files;
	if (open_files)
		open_files->prev = f;
	open_files = f;
	nopen_files++;
	*err = 0;
	return f;
}

void *hvb_open(int *err)
{
	return hvb_open_misc(NULL, err);
}

long hvb_ioctl(void *file, unsigned int cmd, uint64_t arg)
{
	struct hvb_file *f = file;

	if (!f->file.f_op->unlocked_ioctl)
		return -ENOTTY;
	return f->file.f_op->unlocked_ioctl(&f->file, cmd, (unsigned long)arg);
}

int hvb_release(void *file)
{
	struct hvb_file *f = file;
	int ret = f->file.f_op->release ? f->file.f_op->release(&f->inode, &f->file) : 0;

	file_forget(f);
	free(f);
	return ret;
}

/* Dentries looked up and never put: a reference leak in the kernel. */
int hvb_dentry_refs(void)
{
	int i, n = 0;

	for (i = 0; i < HVB_MAX_DENTRIES; i++)
		n += st.dentries[i].refs;
	return n;
}

/* ---- persistent mode: checkpoint and reset ---- */

/*
 * Persistent mode's own loops are left out of libFuzzer's coverage and comparison tracing
 * (-fsanitize=fuzzer-no-link): they are the harness, not the driver, and traced they cost more
 * than the input.
 */
#define HVB_HARNESS __attribute__((no_sanitize("coverage")))

/*
 * Copies of the driver's writable spans, unchecked: under ASan the spans hold the redzones
 * around the driver's globals, which a checked memcpy would report. Word by word where both
 * ends are aligned, volatile so that it stays a loop (not a call to the checked memcpy).
 */
__attribute__((no_sanitize("address"))) HVB_HARNESS static void span_copy(unsigned char *dst, const unsigned char *src, size_t n)
{
	size_t i = 0;

	if ((((uintptr_t)dst | (uintptr_t)src) & 7) == 0) {
		volatile uint64_t *d = (volatile uint64_t *)dst;
		const volatile uint64_t *s = (const volatile uint64_t *)src;

		for (; i + 8 <= n; i += 8)
			d[i / 8] = s[i / 8];
	}
	for (; i < n; i++)
		((volatile unsigned char *)dst)[i] = ((const volatile unsigned char *)src)[i];
}

static int save_block(struct hvb_alloc_header *h)
{
	struct hvb_saved_block *b;

	if (ckpt.nblocks % 64 == 0) {
		struct hvb_saved_block *n = realloc(ckpt.blocks, (size_t)(ckpt.nblocks + 64) * sizeof(*n));

		if (!n)
			return -1;
		ckpt.blocks = n;
	}
	b = &ckpt.blocks[ckpt.nblocks];
	b->h = h;
	b->len = sizeof(*h) + h->size;
	b->copy = malloc(b->len);
	if (!b->copy)
		return -1;
	memcpy(b->copy, h, b->len);
	ckpt.nblocks++;
	ckpt.block_bytes += h->size;
	return 0;
}

void hvb_checkpoint_drop(void)
{
	long i;
	int k;

	if (!ckpt.active)
		return;
	ckpt.active = 0;
	/* Blocks kept only for the checkpoint go back to malloc now. */
	for (i = 0; i < ckpt.nblocks; i++) {
		if (ckpt.blocks[i].h->magic == HVB_KEPT_MAGIC) {
			ckpt.blocks[i].h->magic = 0;
			free(ckpt.blocks[i].h);
		}
		free(ckpt.blocks[i].copy);
	}
	free(ckpt.blocks);
	for (k = 0; k < ckpt.nspans; k++)
		free(ckpt.span_copy[k]);
	free(ckpt.devres_copy);
	free(ckpt.q_slots);
	free(ckpt.wqs_copy);
	memset(&ckpt, 0, sizeof(ckpt));
}

int hvb_checkpoint_active(void)
{
	return ckpt.active;
}

unsigned long hvb_checkpoint_serial(void)
{
	return ckpt.active ? ckpt_serial : 0;
}

static int refuse(char *why, size_t whylen, const char *text)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", text);
	return -1;
}

int hvb_checkpoint(const void *inside, char *why, size_t whylen)
{
	struct hvb_alloc_header *h;
	unsigned int j;
	int i, n;

	hvb_checkpoint_drop();
	if (hvb_in_coro())
		return refuse(why, whylen, "called on a driver thread");
	if (hvb_coro_live())
		return refuse(why, whylen, "a driver thread (an entry point, the kworker) is live");
	if (nopen_files)
		return refuse(why, whylen, "a file is open");
	if (st.rcu_head || st.work_list.next != &st.work_list || st.timers.first || st.running_work)
		return refuse(why, whylen, "work, a timer or an RCU callback is pending");
	n = hvb_writable_spans(inside, ckpt.span, HVB_MAX_SPANS, &ckpt.skipped_bytes);
	if (n < 0)
		return refuse(why, whylen, "no loaded object holds the driver");
	ckpt.nspans = n;
	for (i = 0; i < n; i++) {
		ckpt.span_copy[i] = malloc(ckpt.span[i].len);
		if (!ckpt.span_copy[i])
			goto nomem;
		span_copy(ckpt.span_copy[i], (const unsigned char *)ckpt.span[i].start, ckpt.span[i].len);
		ckpt.span_bytes += ckpt.span[i].len;
	}
	ckpt.st_copy = st;
	if (st.ndevres) {
		ckpt.devres_copy = malloc((size_t)st.ndevres * sizeof(*st.devres));
		if (!ckpt.devres_copy)
			goto nomem;
		memcpy(ckpt.devres_copy, st.devres, (size_t)st.ndevres * sizeof(*st.devres));
	}
	ckpt.wqs_copy = malloc(sizeof(system_wqs));
	if (!ckpt.wqs_copy)
		goto nomem;
	memcpy(ckpt.wqs_copy, system_wqs, sizeof(system_wqs));
	ckpt.q_head = quarantine.head;
	ckpt.q_count = quarantine.count;
	ckpt.q_bytes = quarantine.bytes;
	ckpt.q_pushes = quarantine.pushes;
	ckpt.q_slots = calloc(quarantine.count ? quarantine.count : 1, sizeof(*ckpt.q_slots));
	if (!ckpt.q_slots)
		goto nomem;
	/* The heap of the checkpoint: the driver's live blocks, the VMBus core's, the quarantined. */
	for (h = st.alloc_head; h; h = h->next)
		if (save_block(h))
			goto nomem;
	for (i = 0; i < st.vmbus.count; i++)
		if (!st.vmbus.dev[i].freed &&
		    (save_block((struct hvb_alloc_header *)st.vmbus.dev[i].hdev - 1) ||
		     save_block((struct hvb_alloc_header *)st.vmbus.dev[i].channel - 1)))
			goto nomem;
	for (j = 0; j < quarantine.count; j++) {
		unsigned int s = (quarantine.head + HVB_QUARANTINE_SLOTS - quarantine.count + j) % HVB_QUARANTINE_SLOTS;

		ckpt.q_slots[j] = quarantine.slot[s];
		if (save_block(quarantine.slot[s].h))
			goto nomem;
	}
	ckpt.seq = st.alloc_seq;
	ckpt.active = 1;
	ckpt_serial++;
	return 0;
nomem:
	ckpt.active = 1; /* so that drop frees what was copied */
	hvb_checkpoint_drop();
	return refuse(why, whylen, "out of memory");
}

/* A block the run allocated (after the checkpoint): back to malloc. */
HVB_HARNESS static long free_new(struct hvb_alloc_header *h)
{
	if (h->seq <= ckpt.seq)
		return 0;
	h->magic = 0;
	free(h);
	return 1;
}

HVB_HARNESS void hvb_checkpoint_reset(void)
{
	struct hvb_devres *devres;
	struct hvb_alloc_header *h, *next;
	unsigned long written;
	unsigned int j;
	long freed = 0, i;
	int k, capdevres;
	size_t restored = 0;

	if (!ckpt.active)
		return;
	/* What the run started and left: threads, open files, RCU callbacks. */
	hvb_coro_destroy_all();
	while (open_files) {
		struct hvb_file *f = open_files;

		file_forget(f);
		free(f);
	}
	while (st.rcu_head) {
		struct hvb_rcu_cb *cb = st.rcu_head;

		st.rcu_head = cb->next;
		free(cb);
	}
	/* Blocks the run allocated: live, the VMBus core's, quarantined. */
	for (h = st.alloc_head; h; h = next) {
		next = h->next;
		freed += free_new(h);
	}
	for (k = 0; k < st.vmbus.count; k++) {
		if (!st.vmbus.dev[k].freed) {
			freed += free_new((struct hvb_alloc_header *)st.vmbus.dev[k].hdev - 1);
			freed += free_new((struct hvb_alloc_header *)st.vmbus.dev[k].channel - 1);
		}
	}
	for (j = 0; j < quarantine.count; j++) {
		struct hvb_freed *f = &quarantine.slot[(quarantine.head + HVB_QUARANTINE_SLOTS - quarantine.count + j) % HVB_QUARANTINE_SLOTS];

		freed += free_new(f->h);
	}
	/* The shim's state; the devres array keeps its storage (its address is not the driver's). */
	devres = st.devres;
	capdevres = st.capdevres;
	st = ckpt.st_copy;
	if (capdevres < st.capdevres) {
		struct hvb_devres *d = realloc(devres, (size_t)st.capdevres * sizeof(*d));

		if (d) {
			devres = d;
			capdevres = st.capdevres;
		}
	}
	st.devres = devres;
	st.capdevres = capdevres;
	if (st.ndevres)
		memcpy(st.devres, ckpt.devres_copy, (size_t)st.ndevres * sizeof(*st.devres));
	memcpy(system_wqs, ckpt.wqs_copy, sizeof(system_wqs));
	restored += sizeof(st) + sizeof(system_wqs) + (size_t)st.ndevres * sizeof(*st.devres);
	/* The quarantine: the slots the run wrote, then the checkpoint's live ones. */
	written = quarantine.pushes - ckpt.q_pushes;
	if (written > HVB_QUARANTINE_SLOTS)
		written = HVB_QUARANTINE_SLOTS;
	for (j = 0; j < written; j++)
		memset(&quarantine.slot[(ckpt.q_head + j) % HVB_QUARANTINE_SLOTS], 0, sizeof(quarantine.slot[0]));
	for (j = 0; j < ckpt.q_count; j++)
		quarantine.slot[(ckpt.q_head + HVB_QUARANTINE_SLOTS - ckpt.q_count + j) % HVB_QUARANTINE_SLOTS] = ckpt.q_slots[j];
	quarantine.head = ckpt.q_head;
	quarantine.count = ckpt.q_count;
	quarantine.bytes = ckpt.q_bytes;
	quarantine.pushes = ckpt.q_pushes;
	restored += (written + ckpt.q_count) * sizeof(quarantine.slot[0]);
	/* The checkpoint's blocks, header and bytes, where they were. */
	for (i = 0; i < ckpt.nblocks; i++) {
		memcpy(ckpt.blocks[i].h, ckpt.blocks[i].copy, ckpt.blocks[i].len);
		restored += ckpt.blocks[i].len;
	}
	/* The driver's .data/.bss: a full copy of its writable spans. */
	for (k = 0; k < ckpt.nspans; k++) {
		span_copy((unsigned char *)ckpt.span[k].start, ckpt.span_copy[k], ckpt.span[k].len);
		restored += ckpt.span[k].len;
	}
	ckpt.resets++;
	ckpt.freed_last = freed;
	ckpt.restored_last = restored;
}

void hvb_checkpoint_stats(struct hvb_checkpoint_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->segment_bytes = ckpt.span_bytes;
	out->skipped_bytes = ckpt.skipped_bytes;
	out->blocks = ckpt.nblocks;
	out->block_bytes = ckpt.block_bytes;
	out->state_bytes = sizeof(st) + sizeof(system_wqs);
	out->resets = ckpt.resets;
	out->freed_last = ckpt.freed_last;
	out->restored_last = ckpt.restored_last;
}

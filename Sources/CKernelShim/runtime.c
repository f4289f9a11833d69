// SPDX-License-Identifier: Apache-2.0
/*
 * The kernel API behind hvblob's shim headers: what a loaded driver's `hvb_kops` points at.
 * Memory, locks and waiting live here (on hvblob's coroutines); everything that touches the
 * simulated machine (user memory, pins, the channel, request ids) goes to Swift through
 * `struct hvb_host_ops`. Misuse is reported by rule, never trapped on.
 */
#include <stdlib.h>

#include "shim/hvb_kernel.h"
#include "hvb_kops.h"
#include "hvb_internal.h"

static struct hvb_host_ops host;

#define HVB_ALLOC_MAGIC 0x68766261u /* "hvba" */
#define HVB_FREED_MAGIC 0x64656164u /* "dead" */
struct hvb_alloc_header {
	uint32_t magic;
	uint32_t pad;
	size_t size;
	const char *fn;
	uint64_t pad2;
};

#define HVB_MAX_DENTRIES 128
#define HVB_MAX_CREDS 64

static struct {
	struct hv_driver *driver;
	struct hv_device hdev;
	struct vmbus_channel channel;
	int probed;
	struct miscdevice *misc;
	struct dentry dentries[HVB_MAX_DENTRIES];
	struct cred creds[HVB_MAX_CREDS];
	int ncreds;
	long live_allocations;
	long live_bytes;
	long fail_countdown;
	int reading_packets;
	/* A kernel-side reader (the harness reading a debugfs file): uaccess is memcpy. */
	int kernel_uaccess;
	struct hvb_task kernel_task;
} st;

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
	int i;

	for (i = 0; i < st.ncreds; i++)
		if (st.creds[i].uid == uid)
			return &st.creds[i];
	if (st.ncreds == HVB_MAX_CREDS)
		return &st.creds[0];
	st.creds[st.ncreds].uid = uid;
	return &st.creds[st.ncreds++];
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

static void k_dev_log(const struct device *d, int level, const char *fmt, va_list ap)
{
	char buf[512];
	char line[600];

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
		hvb_coro_park(HVB_READY, NULL, what, 0, 0);
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

static void k_block(const void *key, const char *what, u64 deadline, int has_deadline)
{
	struct hvb_task *t = hvb_current_task_of_coro();

	if (!t) {
		report("guest.block-outside-thread", "%s called with no thread to block", what);
		return;
	}
	if (t->locks_held > 0)
		report("guest.sleep-while-atomic", "%s while holding %d spinlock(s)", what, t->locks_held);
	if (t->atomic)
		report("guest.sleep-while-atomic", "%s in the channel callback (softirq context)", what);
	hvb_coro_park(HVB_BLOCKED, key, what, deadline, has_deadline);
}

static void k_wake(const void *key)
{
	if (hvb_wake_key(key) > 0 && host.woke)
		host.woke(host.host);
}

static void k_spin_lock(spinlock_t *l)
{
	struct hvb_task *t = hvb_current_task_of_coro();

	sched_at("spin_lock", __builtin_return_address(0));
	while (l->locked) {
		if (l->owner == (const void *)t) {
			report("guest.deadlock", "spin_lock(%s) taken again by the thread that holds it", l->name);
			return;
		}
		k_block(l, "spin_lock", 0, 0);
		if (!t)
			break;
	}
	l->locked = 1;
	l->owner = t;
	if (t)
		t->locks_held++;
}

static void k_spin_unlock(spinlock_t *l)
{
	struct hvb_task *t = hvb_current_task_of_coro();

	if (!l->locked)
		report("guest.unlock-unlocked", "spin_unlock(%s) of a lock nobody holds", l->name);
	l->locked = 0;
	l->owner = NULL;
	if (t && t->locks_held > 0)
		t->locks_held--;
	k_wake(l);
	sched_at("spin_unlock", __builtin_return_address(0));
}

/* ---- memory ---- */

static void *k_kmalloc(size_t size, gfp_t flags, int zero, const char *fn)
{
	struct hvb_alloc_header *h;

	(void)flags;
	if (st.fail_countdown > 0 && --st.fail_countdown == 0)
		return NULL;
	h = zero ? calloc(1, sizeof(*h) + size) : malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	h->magic = HVB_ALLOC_MAGIC;
	h->size = size;
	h->fn = fn;
	st.live_allocations++;
	st.live_bytes += (long)size;
	return h + 1;
}

static void k_kfree(const void *p, const char *fn)
{
	struct hvb_alloc_header *h;

	if (!p || IS_ERR(p))
		return;
	h = (struct hvb_alloc_header *)p - 1;
	if (h->magic != HVB_ALLOC_MAGIC) {
		report(h->magic == HVB_FREED_MAGIC ? "guest.double-free" : "guest.bad-free",
		       "%s(%p): %s", fn, p, h->magic == HVB_FREED_MAGIC ? "already freed" : "not from kmalloc");
		return;
	}
	h->magic = HVB_FREED_MAGIC;
	st.live_allocations--;
	st.live_bytes -= (long)h->size;
	free(h);
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
	uint64_t *pfns;
	long got, i;
	int write = (gup_flags & FOLL_WRITE) != 0;

	sched_at("pin_user_pages", __builtin_return_address(0));
	if (nr <= 0)
		return 0;
	pfns = calloc((size_t)nr, sizeof(*pfns));
	if (!pfns)
		return -ENOMEM;
	got = host.pin(host.host, start, nr, write, pfns);
	for (i = 0; i < got; i++)
		pages[i] = HVB_PAGE(pfns[i], write);
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

/* ---- misc devices and debugfs ---- */

static int k_misc_register(struct miscdevice *m)
{
	if (st.misc) {
		report("guest.misc-name-clash", "misc_register(%s) while %s is registered", m->name, st.misc->name);
		return -EBUSY;
	}
	st.misc = m;
	if (host.misc)
		host.misc(host.host, m->name, 1);
	return 0;
}

static void k_misc_deregister(struct miscdevice *m)
{
	if (st.misc != m) {
		report("guest.misc-deregister", "misc_deregister(%s) of a device not registered", m->name);
		return;
	}
	st.misc = NULL;
	if (host.misc)
		host.misc(host.host, m->name, 0);
}

static struct dentry *k_debugfs_create(const char *name, struct dentry *parent, void *data,
				       const struct file_operations *fops, int is_dir)
{
	int i;

	if (IS_ERR(parent))
		return parent;
	for (i = 0; i < HVB_MAX_DENTRIES; i++) {
		struct dentry *d = &st.dentries[i];

		if (d->live && d->parent == parent && !strcmp(d->name, name)) {
			report("guest.debugfs-name-clash", "debugfs entry %s already exists", name);
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

/* The live debugfs file called `name`, or NULL. */
static struct dentry *debugfs_file(const char *name)
{
	int i;

	for (i = 0; i < HVB_MAX_DENTRIES; i++) {
		struct dentry *d = &st.dentries[i];

		if (d->live && !d->is_dir && d->fops && !strcmp(d->name, name))
			return d;
	}
	return NULL;
}

/* A seq_file-backed debugfs file (single_open + show): its text, NUL-terminated. */
long hvb_debugfs_read(const char *name, char *buf, size_t size)
{
	struct dentry *d = debugfs_file(name);
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

/* ---- ids ---- */

static int k_ida_alloc(struct ida *ida)
{
	int i;

	for (i = 0; i < 64; i++) {
		if (!(ida->bits & (1UL << i))) {
			ida->bits |= 1UL << i;
			return i;
		}
	}
	return -ENOSPC;
}

static void k_ida_free(struct ida *ida, int id)
{
	if (id < 0 || id >= 64 || !(ida->bits & (1UL << id))) {
		report("guest.ida-free", "ida_free(%d) of an id not allocated", id);
		return;
	}
	ida->bits &= ~(1UL << id);
}

/* ---- VMBus ---- */

static int k_driver_register(struct hv_driver *drv)
{
	st.driver = drv;
	return 0;
}

static void k_driver_unregister(struct hv_driver *drv)
{
	if (st.driver != drv)
		report("guest.driver-unregister", "vmbus_driver_unregister of a driver not registered");
	st.driver = NULL;
}

static int k_vmbus_open(struct vmbus_channel *c, u32 send_size, u32 recv_size, void *ud, u32 udlen,
			void (*cb)(void *), void *context)
{
	int ret;

	(void)ud;
	(void)udlen;
	sched_at("vmbus_open", __builtin_return_address(0));
	if (send_size != recv_size)
		report("guest.ring-size", "send ring %u and receive ring %u differ", send_size, recv_size);
	ret = host.vmbus_open(host.host, send_size, c->rqstor_size, c->next_request_id_callback != NULL);
	if (ret)
		return ret;
	c->onchannel_callback = cb;
	c->channel_callback_context = context;
	return 0;
}

static void k_vmbus_close(struct vmbus_channel *c)
{
	sched_at("vmbus_close", __builtin_return_address(0));
	c->onchannel_callback = NULL;
	host.vmbus_close(host.host);
}

static int k_sendpacket_mpb_desc(struct vmbus_channel *c, struct vmbus_packet_mpb_array *desc, u32 desc_size,
				 void *buffer, u32 bufferlen, u64 requestid)
{
	u32 packetlen = desc_size + bufferlen;
	u32 aligned = (packetlen + 7) & ~7u;
	uint8_t *pkt;
	int ret;

	(void)c;
	sched_at("vmbus_sendpacket_mpb_desc", __builtin_return_address(0));
	/* As vmbus_sendpacket_mpb_desc() fills the header before hv_ringbuffer_write(). */
	desc->type = VM_PKT_DATA_USING_GPA_DIRECT;
	desc->flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
	desc->dataoffset8 = (u16)(desc_size >> 3);
	desc->length8 = (u16)(aligned >> 3);
	desc->transactionid = VMBUS_RQST_ERROR;
	desc->reserved = 0;
	desc->rangecount = 1;
	pkt = calloc(1, aligned);
	if (!pkt)
		return -ENOMEM;
	memcpy(pkt, desc, desc_size);
	memcpy(pkt + desc_size, buffer, bufferlen);
	ret = host.send(host.host, pkt, aligned, requestid);
	free(pkt);
	return ret;
}

static struct vmpacket_descriptor *k_pkt_iter_first(struct vmbus_channel *c)
{
	u32 len = host.packet_first(host.host, c->pkt_buffer, sizeof(c->pkt_buffer));

	c->pkt_len = len;
	return len ? (struct vmpacket_descriptor *)c->pkt_buffer : NULL;
}

static void k_pkt_iter_close(struct vmbus_channel *c)
{
	(void)c;
	host.packet_close(host.host);
}

static struct vmpacket_descriptor *k_pkt_iter_next(struct vmbus_channel *c, const struct vmpacket_descriptor *d)
{
	struct vmpacket_descriptor *next;

	host.packet_advance(host.host, (u32)d->len8 << 3);
	next = k_pkt_iter_first(c);
	if (!next)
		k_pkt_iter_close(c);
	return next;
}

static u64 k_request_addr(struct vmbus_channel *c, u64 id)
{
	(void)c;
	return host.request_addr(host.host, id, 0);
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
	.ida_alloc = k_ida_alloc,
	.ida_free = k_ida_free,
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
	memset(&st, 0, sizeof(st));
	hvb_task_init(&st.kernel_task, "kworker", 0, 0);
}

/* ---- driver operations, each run on the current coroutine ---- */

int hvb_run_init(int (*init)(void))
{
	return init ? init() : -ENOENT;
}

void hvb_run_exit(void (*exit_fn)(void))
{
	if (exit_fn)
		exit_fn();
}

int hvb_probe(void)
{
	static const guid_t blob = GUID_INIT(0x0590b792, 0xdb64, 0x45cc, 0x81, 0xdb, 0xb8, 0xd7, 0x0c, 0x57, 0x7c, 0x9e);
	const struct hv_vmbus_device_id *id;

	if (!st.driver)
		return -ENODEV;
	for (id = st.driver->id_table; id; id++) {
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
	memset(&st.hdev, 0, sizeof(st.hdev));
	memset(&st.channel, 0, sizeof(st.channel));
	snprintf(st.hdev.device.name, sizeof(st.hdev.device.name), "%s", "f8b3781a-1e82-4818-a1c3-63d806ec15bb");
	st.hdev.channel = &st.channel;
	st.hdev.dev_type = blob;
	st.channel.device_obj = &st.hdev;
	st.channel.offermsg.child_relid = 1;
	st.probed = 1;
	return st.driver->probe(&st.hdev, id);
}

int hvb_remove(void)
{
	/* hv_driver.remove returns void from 6.3: the value is not used here either way. */
	int (*remove)(struct hv_device *) = (int (*)(struct hv_device *))st.driver->remove;

	if (!st.driver || !st.probed)
		return -ENODEV;
	remove(&st.hdev);
	st.probed = 0;
	return 0;
}

void hvb_channel_callback(void)
{
	struct hvb_task *t = hvb_current_task_of_coro();
	void (*cb)(void *) = st.channel.onchannel_callback;

	if (!cb)
		return;
	if (t)
		t->atomic = 1;
	cb(st.channel.channel_callback_context);
	if (t)
		t->atomic = 0;
}

void hvb_rescind(void)
{
	st.channel.onchannel_callback = NULL;
	st.channel.rescind = true;
}

const char *hvb_misc_name(void)
{
	return st.misc ? st.misc->name : NULL;
}

struct hvb_file {
	struct file file;
	struct inode inode;
};

void *hvb_open(int *err)
{
	struct hvb_file *f;
	int ret;

	if (!st.misc) {
		*err = -ENODEV;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		*err = -ENOMEM;
		return NULL;
	}
	f->file.private_data = st.misc;
	f->file.f_cred = k_current_task()->cred;
	f->file.f_op = st.misc->fops;
	f->file.f_inode = &f->inode;
	ret = f->file.f_op->open ? f->file.f_op->open(&f->inode, &f->file) : 0;
	if (ret) {
		free(f);
		*err = ret;
		return NULL;
	}
	*err = 0;
	return f;
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

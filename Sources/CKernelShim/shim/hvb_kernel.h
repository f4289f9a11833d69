/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob's kernel shim: the part of the Linux kernel API that a VMBus driver like the Azure
 * Blob VSC uses, implemented in user space over hvblob's simulated machine. A driver source is
 * compiled unmodified against these headers (every <linux/...> it includes lands here) and
 * loaded into hvblob, which runs its kernel threads as coroutines.
 *
 * The API era follows HVB_KVER (major * 100 + minor, 513 ... 603): what changed between Linux
 * 5.13 and 6.3 for such a driver (PROTOCOL.md section 4) changes here with it.
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
/* As a distribution kernel is configured. */
#define CONFIG_DEBUG_FS 1
#define CONFIG_HYPERV 1
#define CONFIG_X86_64 1

/* ---- types ---- */
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef unsigned long long u64;
typedef int8_t s8;
typedef int16_t s16;
typedef int32_t s32;
typedef long long s64;
typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef unsigned long long __u64;
typedef int32_t __s32;
typedef long long __s64;
typedef uint16_t __le16;
typedef uint32_t __le32;
typedef unsigned long long __le64;
typedef unsigned long long __aligned_u64 __attribute__((aligned(8)));
typedef long ssize_t;
typedef unsigned int gfp_t;
typedef unsigned long kernel_ulong_t;
typedef long loff_t;
typedef unsigned short umode_t;
typedef int pid_t;
typedef struct {
	__u8 b[16];
} guid_t;
typedef guid_t uuid_le;

#define __user
#define u64_to_user_ptr(x) ((void __user *)(uintptr_t)(x))
#define __kernel
#define __iomem
#define __force
#define __rcu
#define __init
#define __exit
#define __must_check
#define __always_unused __attribute__((unused))
#define __maybe_unused __attribute__((unused))
#define __packed __attribute__((packed))
#define __aligned(x) __attribute__((aligned(x)))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define barrier() __asm__ __volatile__("" ::: "memory")
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))
#define smp_mb() __sync_synchronize()
#define smp_rmb() __sync_synchronize()
#define smp_wmb() __sync_synchronize()
#define virt_mb() __sync_synchronize()

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define ALIGN(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define BIT(n) (1UL << (n))
#define U64_MAX UINT64_MAX
#define U32_MAX UINT32_MAX
#define min(a, b) ({ __typeof__(a) _a = (a); __typeof__(b) _b = (b); _a < _b ? _a : _b; })
#define max(a, b) ({ __typeof__(a) _a = (a); __typeof__(b) _b = (b); _a > _b ? _a : _b; })
#define upper_32_bits(n) ((u32)(((u64)(n)) >> 32))
#define lower_32_bits(n) ((u32)((u64)(n) & 0xffffffff))
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b) ((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define struct_size(p, member, n) (sizeof(*(p)) + sizeof((p)->member[0]) * (size_t)(n))
#define static_assert(expr, ...) _Static_assert(expr, #expr)
#define BUILD_BUG_ON(cond) _Static_assert(!(cond), "BUILD_BUG_ON(" #cond ")")
#define BUILD_BUG_ON_MSG(cond, msg) _Static_assert(!(cond), msg)
#define WARN_ON(c) ({ int _c = !!(c); if (_c) hvb_kops->report("guest.warn-on", "WARN_ON(" #c ") fired"); _c; })
#define WARN_ON_ONCE(c) WARN_ON(c)
#define BUG_ON(c) do { if (c) hvb_kops->report("guest.bug-on", "BUG_ON(" #c ") fired"); } while (0)

#define cpu_to_le16(x) ((__le16)(x))
#define cpu_to_le32(x) ((__le32)(x))
#define cpu_to_le64(x) ((__le64)(x))
#define le16_to_cpu(x) ((u16)(x))
#define le32_to_cpu(x) ((u32)(x))
#define le64_to_cpu(x) ((u64)(x))

/* errno, as the kernel spells it */
#define EPERM 1
#define ENOENT 2
#define EIO 5
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define ENODEV 19
#define ENODATA 61
#define EINVAL 22
#define ENOSPC 28
#define ENOTTY 25
#define ENOBUFS 105
#define ETIMEDOUT 110
#define ERESTARTSYS 512
#define MAX_ERRNO 4095
#define IS_ERR_VALUE(x) ((unsigned long)(void *)(x) >= (unsigned long)-MAX_ERRNO)
static inline void *ERR_PTR(long e) { return (void *)e; }
static inline long PTR_ERR(const void *p) { return (long)p; }
static inline bool IS_ERR(const void *p) { return IS_ERR_VALUE((unsigned long)p); }
static inline bool IS_ERR_OR_NULL(const void *p) { return !p || IS_ERR(p); }

/* ---- pages ---- */
#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define offset_in_page(p) ((unsigned long)(p) & ~PAGE_MASK)
#define HV_HYP_PAGE_SHIFT 12
#define HV_HYP_PAGE_SIZE 4096
#define NR_HV_HYP_PAGES_IN_PAGE (PAGE_SIZE / HV_HYP_PAGE_SIZE)
#define HZ 1000

/*
 * A struct page is never dereferenced by a driver: its pointer encodes the PFN and the intent
 * the page was pinned with (bit 0: write), so a release can account for it exactly.
 */
struct page;
#define HVB_PAGE(pfn, write) ((struct page *)(uintptr_t)(((uint64_t)(pfn) << 4) | 0x8 | ((write) ? 1 : 0)))
#define page_to_pfn(p) ((unsigned long)((uintptr_t)(p) >> 4))
#define page_to_hvpfn(p) (page_to_pfn(p) * NR_HV_HYP_PAGES_IN_PAGE)
#define FOLL_WRITE 0x01
#define FOLL_LONGTERM 0x100

/* ---- ioctl encoding (asm-generic) ---- */
#define _IOC_NRBITS 8
#define _IOC_TYPEBITS 8
#define _IOC_SIZEBITS 14
#define _IOC_NRSHIFT 0
#define _IOC_TYPESHIFT 8
#define _IOC_SIZESHIFT 16
#define _IOC_DIRSHIFT 30
#define _IOC_NONE 0U
#define _IOC_WRITE 1U
#define _IOC_READ 2U
#define _IOC(dir, type, nr, size) \
	(((dir) << _IOC_DIRSHIFT) | ((type) << _IOC_TYPESHIFT) | ((nr) << _IOC_NRSHIFT) | ((size) << _IOC_SIZESHIFT))
#define _IO(type, nr) _IOC(_IOC_NONE, (type), (nr), 0)
#define _IOR(type, nr, t) _IOC(_IOC_READ, (type), (nr), sizeof(t))
#define _IOW(type, nr, t) _IOC(_IOC_WRITE, (type), (nr), sizeof(t))
#define _IOWR(type, nr, t) _IOC(_IOC_READ | _IOC_WRITE, (type), (nr), sizeof(t))

#define GUID_INIT(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                                       \
	((guid_t){ { (a) & 0xff, ((a) >> 8) & 0xff, ((a) >> 16) & 0xff, ((a) >> 24) & 0xff,      \
		     (b) & 0xff, ((b) >> 8) & 0xff, (c) & 0xff, ((c) >> 8) & 0xff, (d0), (d1), (d2), \
		     (d3), (d4), (d5), (d6), (d7) } })
static inline void guid_copy(guid_t *dst, const guid_t *src) { memcpy(dst, src, sizeof(*dst)); }
static inline bool guid_equal(const guid_t *a, const guid_t *b) { return !memcmp(a, b, sizeof(*a)); }

/* ---- lists ---- */
struct list_head {
	struct list_head *next, *prev;
};
#define LIST_HEAD_INIT(name) { &(name), &(name) }
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)

/* ---- locks, references, completions, wait queues ---- */
typedef struct {
	int locked;
	const void *owner;
	const char *name;
} spinlock_t;
struct kref {
	int refcount;
};
struct completion {
	unsigned int done;
};
typedef struct {
	int waiters;
} wait_queue_head_t;

/* ---- tasks and credentials ---- */
struct cred {
	u32 uid;
};
struct task_struct {
	pid_t pid;
	char comm[16];
	const struct cred *cred;
};

/* ---- files ---- */
struct inode {
	void *i_private;
};
struct file;
struct module;
struct file_operations {
	struct module *owner;
	int (*open)(struct inode *, struct file *);
	int (*release)(struct inode *, struct file *);
	long (*unlocked_ioctl)(struct file *, unsigned int, unsigned long);
	long (*compat_ioctl)(struct file *, unsigned int, unsigned long);
	ssize_t (*read)(struct file *, char __user *, size_t, loff_t *);
	loff_t (*llseek)(struct file *, loff_t, int);
};
struct file {
	void *private_data;
	const struct cred *f_cred;
	const struct file_operations *f_op;
	struct inode *f_inode;
};
#define THIS_MODULE ((struct module *)0)

struct device_driver {
	const char *name;
	int probe_type;
};
#define PROBE_PREFER_ASYNCHRONOUS 1
struct device {
	char name[64];
	void *driver_data;
};
static inline const char *dev_name(const struct device *d) { return d->name; }

struct miscdevice {
	int minor;
	const char *name;
	const struct file_operations *fops;
	struct device *parent;
	struct device *this_device;
};
#define MISC_DYNAMIC_MINOR 255

struct dentry {
	char name[64];
	struct dentry *parent;
	void *data;
	const struct file_operations *fops;
	int is_dir;
	int live;
	int refs;
};

struct seq_file {
	char *buf;
	size_t size;
	size_t count;
	void *private;
};

struct ida {
	unsigned long bits;
};
#define DEFINE_IDA(name) struct ida name = { 0 }

/* ---- iov_iter (the posted v5 pins through it) ---- */
#define READ 0
#define WRITE 1
struct iovec {
	void __user *iov_base;
	size_t iov_len;
};
struct iov_iter {
	int rw;
	uint64_t base;
	size_t count;
};

/* ---- VMBus ---- */
#define VMBUS_DEFAULT_MAX_PKT_SIZE 4096
#define VMBUS_PKT_TRAILER 8
#define VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED 1
#define VMBUS_NO_RQSTOR U64_MAX
#define VMBUS_RQST_ERROR (U64_MAX - 1)
#define VMBUS_RQST_ADDR_ANY U64_MAX
#define VMBUS_RQST_ID_NO_RESPONSE (U64_MAX - 2)

enum vmbus_packet_type {
	VM_PKT_INVALID = 0x0,
	VM_PKT_SYNCH = 0x1,
	VM_PKT_ADD_XFER_PAGESET = 0x2,
	VM_PKT_RM_XFER_PAGESET = 0x3,
	VM_PKT_ESTABLISH_GPADL = 0x4,
	VM_PKT_TEARDOWN_GPADL = 0x5,
	VM_PKT_DATA_INBAND = 0x6,
	VM_PKT_DATA_USING_XFER_PAGES = 0x7,
	VM_PKT_DATA_USING_GPADL = 0x8,
	VM_PKT_DATA_USING_GPA_DIRECT = 0x9,
	VM_PKT_CANCEL_REQUEST = 0xa,
	VM_PKT_COMP = 0xb,
	VM_PKT_DATA_USING_ADDITIONAL_PKT = 0xc,
	VM_PKT_ADDITIONAL_DATA = 0xd
};

struct vmpacket_descriptor {
	u16 type;
	u16 offset8;
	u16 len8;
	u16 flags;
	u64 trans_id;
} __packed;

struct hv_mpb_array {
	u32 len;
	u32 offset;
	u64 pfn_array[];
};

struct vmbus_packet_mpb_array {
	u16 type;
	u16 dataoffset8;
	u16 length8;
	u16 flags;
	u64 transactionid;
	u32 reserved;
	u32 rangecount;
	struct hv_mpb_array range;
} __packed;

struct vmbus_requestor {
	u32 size;
};

struct hv_device;
struct vmbus_channel_offer_channel {
	u32 child_relid;
};
struct vmbus_channel {
	struct hv_device *device_obj;
	struct vmbus_channel_offer_channel offermsg;
	u32 rqstor_size;
	struct vmbus_requestor requestor;
	u64 (*next_request_id_callback)(struct vmbus_channel *channel, u64 rqst_addr);
	u64 (*request_addr_callback)(struct vmbus_channel *channel, u64 rqst_id);
	bool rescind;
	void (*onchannel_callback)(void *context);
	void *channel_callback_context;
	u32 pkt_len;
	u8 pkt_buffer[VMBUS_DEFAULT_MAX_PKT_SIZE] __aligned(8);
};

struct hv_device {
	struct device device;
	struct vmbus_channel *channel;
	guid_t dev_type;
};

struct hv_vmbus_device_id {
	guid_t guid;
	kernel_ulong_t driver_data;
};

struct hv_driver {
	const char *name;
	bool hvsock;
	guid_t dev_type;
	const struct hv_vmbus_device_id *id_table;
	struct device_driver driver;
	int (*probe)(struct hv_device *, const struct hv_vmbus_device_id *);
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	void (*remove)(struct hv_device *);
#else
	int (*remove)(struct hv_device *);
#endif
};

/* The device class GUID, as the posted series added it to hyperv.h. */
#define HV_AZURE_BLOB_GUID \
	.guid = GUID_INIT(0x0590b792, 0xdb64, 0x45cc, 0x81, 0xdb, 0xb8, 0xd7, 0x0c, 0x57, 0x7c, 0x9e)

/* ---- the table behind every call (filled in by hvblob) ---- */
struct hvb_kops {
	int version;
	/* diagnostics */
	void (*report)(const char *rule, const char *detail);
	void (*dev_log)(const struct device *dev, int level, const char *fmt, va_list ap);
	void (*sched_point)(const char *what);
	u64 (*get_jiffies)(void);
	struct task_struct *(*current_task)(void);
	/* memory */
	void *(*kmalloc)(size_t size, gfp_t flags, int zero, const char *fn);
	void (*kfree)(const void *p, const char *fn);
	/* locks and waiting */
	void (*lock_acquire)(spinlock_t *l);
	void (*lock_release)(spinlock_t *l);
	void (*block)(const void *key, const char *what, u64 deadline, int has_deadline);
	void (*wake)(const void *key);
	/* user memory */
	unsigned long (*copy_from_user)(void *dst, const void __user *src, unsigned long n);
	unsigned long (*copy_to_user)(void __user *dst, const void *src, unsigned long n);
	long (*pin_user_pages)(unsigned long start, long nr, unsigned int gup_flags, struct page **pages);
	void (*put_page)(struct page *p);
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
	/* ids */
	int (*ida_alloc)(struct ida *ida);
	void (*ida_free)(struct ida *ida, int id);
};
extern struct hvb_kops *hvb_kops;

/* ---- memory ---- */
#define GFP_KERNEL 0x1u
#define GFP_ATOMIC 0x2u
#define __GFP_ZERO 0x100u
static inline void *kmalloc(size_t n, gfp_t f) { return hvb_kops->kmalloc(n, f, 0, "kmalloc"); }
static inline void *kzalloc(size_t n, gfp_t f) { return hvb_kops->kmalloc(n, f, 1, "kzalloc"); }
static inline void *kcalloc(size_t n, size_t s, gfp_t f) { return hvb_kops->kmalloc(n * s, f, 1, "kcalloc"); }
static inline void *kvmalloc(size_t n, gfp_t f) { return hvb_kops->kmalloc(n, f, 0, "kvmalloc"); }
static inline void *kvzalloc(size_t n, gfp_t f) { return hvb_kops->kmalloc(n, f, 1, "kvzalloc"); }
static inline void *kvcalloc(size_t n, size_t s, gfp_t f) { return hvb_kops->kmalloc(n * s, f, 1, "kvcalloc"); }
static inline void *kvmalloc_array(size_t n, size_t s, gfp_t f) { return hvb_kops->kmalloc(n * s, f, 0, "kvmalloc_array"); }
static inline void kfree(const void *p) { hvb_kops->kfree(p, "kfree"); }
static inline void kvfree(const void *p) { hvb_kops->kfree(p, "kvfree"); }

/* ---- strings ---- */
static inline ssize_t strscpy(char *dst, const char *src, size_t n)
{
	size_t l = strlen(src);

	if (!n)
		return -7;
	if (l >= n) {
		memcpy(dst, src, n - 1);
		dst[n - 1] = 0;
		return -7;
	}
	memcpy(dst, src, l + 1);
	return (ssize_t)l;
}

/* ---- lists (each change is a scheduling point) ---- */
static inline void INIT_LIST_HEAD(struct list_head *l) { l->next = l; l->prev = l; }
static inline bool list_empty(const struct list_head *h) { return READ_ONCE(h->next) == h; }
static inline void __list_add(struct list_head *n, struct list_head *prev, struct list_head *next)
{
	hvb_kops->sched_point("list_add");
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}
static inline void list_add(struct list_head *n, struct list_head *h) { __list_add(n, h, h->next); }
static inline void list_add_tail(struct list_head *n, struct list_head *h) { __list_add(n, h->prev, h); }
static inline void list_del(struct list_head *e)
{
	hvb_kops->sched_point("list_del");
	if (e->next == (struct list_head *)0x100 || e->prev == (struct list_head *)0x122) {
		hvb_kops->report("guest.list-corruption", "list_del of an entry already deleted");
		return;
	}
	e->next->prev = e->prev;
	e->prev->next = e->next;
	e->next = (struct list_head *)0x100;
	e->prev = (struct list_head *)0x122;
}
#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(ptr, type, member) list_entry((ptr)->next, type, member)
#define list_for_each_entry(pos, head, member)                                     \
	for (pos = list_entry((head)->next, __typeof__(*pos), member); &pos->member != (head); \
	     pos = list_entry(pos->member.next, __typeof__(*pos), member))
#define list_for_each_entry_safe(pos, n, head, member)                                 \
	for (pos = list_entry((head)->next, __typeof__(*pos), member),                   \
	    n = list_entry(pos->member.next, __typeof__(*pos), member);                  \
	     &pos->member != (head); pos = n, n = list_entry(n->member.next, __typeof__(*n), member))

/* ---- locks ---- */
#define spin_lock_init(l) do { (l)->locked = 0; (l)->owner = 0; (l)->name = #l; } while (0)
#define DEFINE_SPINLOCK(x) spinlock_t x = { 0, 0, #x }
#define spin_lock(l) hvb_kops->lock_acquire(l)
#define spin_unlock(l) hvb_kops->lock_release(l)
#define spin_lock_irqsave(l, flags) do { (flags) = 0; hvb_kops->lock_acquire(l); } while (0)
#define spin_unlock_irqrestore(l, flags) do { (void)(flags); hvb_kops->lock_release(l); } while (0)
#define spin_lock_irq(l) hvb_kops->lock_acquire(l)
#define spin_unlock_irq(l) hvb_kops->lock_release(l)
#define spin_lock_bh(l) hvb_kops->lock_acquire(l)
#define spin_unlock_bh(l) hvb_kops->lock_release(l)

/* ---- kref ---- */
static inline void kref_init(struct kref *k) { k->refcount = 1; }
static inline void kref_get(struct kref *k)
{
	hvb_kops->sched_point("kref_get");
	if (k->refcount <= 0)
		hvb_kops->report("guest.use-after-free", "kref_get on an object whose last reference is gone");
	k->refcount++;
}
static inline int kref_put(struct kref *k, void (*release)(struct kref *))
{
	hvb_kops->sched_point("kref_put");
	if (k->refcount <= 0) {
		hvb_kops->report("guest.refcount-negative", "kref_put below zero");
		return 0;
	}
	if (--k->refcount == 0) {
		release(k);
		return 1;
	}
	return 0;
}
static inline unsigned int kref_read(const struct kref *k) { return (unsigned int)k->refcount; }

/* ---- completions and wait queues ---- */
static inline void init_completion(struct completion *c) { c->done = 0; }
static inline void reinit_completion(struct completion *c) { c->done = 0; }
static inline bool completion_done(struct completion *c) { return READ_ONCE(c->done) != 0; }
static inline void complete(struct completion *c)
{
	hvb_kops->sched_point("complete");
	c->done++;
	hvb_kops->wake(c);
}
static inline void wait_for_completion(struct completion *c)
{
	hvb_kops->sched_point("wait_for_completion");
	while (!READ_ONCE(c->done))
		hvb_kops->block(c, "wait_for_completion", 0, 0);
	c->done--;
}
static inline unsigned long wait_for_completion_timeout(struct completion *c, unsigned long timeout)
{
	u64 deadline = hvb_kops->get_jiffies() + timeout;

	hvb_kops->sched_point("wait_for_completion_timeout");
	while (!READ_ONCE(c->done)) {
		if (hvb_kops->get_jiffies() >= deadline)
			return 0;
		hvb_kops->block(c, "wait_for_completion_timeout", deadline, 1);
	}
	c->done--;
	return deadline > hvb_kops->get_jiffies() ? deadline - hvb_kops->get_jiffies() : 1;
}
static inline void init_waitqueue_head(wait_queue_head_t *w) { w->waiters = 0; }
static inline void wake_up(wait_queue_head_t *w)
{
	hvb_kops->sched_point("wake_up");
	hvb_kops->wake(w);
}
#define wake_up_all(w) wake_up(w)
#define wake_up_interruptible(w) wake_up(w)
#define wait_event(wq, cond)                                             \
	do {                                                             \
		hvb_kops->sched_point("wait_event");                    \
		while (!(cond))                                          \
			hvb_kops->block(&(wq), "wait_event(" #cond ")", 0, 0); \
	} while (0)
#define wait_event_timeout(wq, cond, timeout)                                          \
	({                                                                             \
		u64 _deadline = hvb_kops->get_jiffies() + (timeout);                       \
		long _left = 1;                                                        \
		hvb_kops->sched_point("wait_event_timeout");                          \
		while (!(cond)) {                                                      \
			if (hvb_kops->get_jiffies() >= _deadline) {                        \
				_left = (cond) ? 1 : 0;                                \
				break;                                                 \
			}                                                              \
			hvb_kops->block(&(wq), "wait_event_timeout(" #cond ")", _deadline, 1); \
		}                                                                      \
		if (_left && _deadline > hvb_kops->get_jiffies())                          \
			_left = (long)(_deadline - hvb_kops->get_jiffies());               \
		_left;                                                                 \
	})
#define jiffies (hvb_kops->get_jiffies())
/* Jiffies are milliseconds (HZ 1000). */
static inline u64 ktime_get_ns(void) { return hvb_kops->get_jiffies() * 1000000ULL; }
#define msecs_to_jiffies(ms) ((unsigned long)(ms))

/* ---- tasks ---- */
#define current (hvb_kops->current_task())
static inline const struct cred *current_cred(void) { return hvb_kops->current_task()->cred; }
static inline pid_t task_tgid_vnr(struct task_struct *t) { return t->pid; }
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 18, 0)
/* Removed in 5.18 with set_fs(); a user-space caller is never a kernel one. */
static inline bool uaccess_kernel(void) { return false; }
#endif

/* ---- user memory ---- */
static inline unsigned long copy_from_user(void *dst, const void __user *src, unsigned long n)
{
	return hvb_kops->copy_from_user(dst, src, n);
}
static inline unsigned long copy_to_user(void __user *dst, const void *src, unsigned long n)
{
	return hvb_kops->copy_to_user(dst, src, n);
}
static inline int pin_user_pages_fast(unsigned long start, int nr, unsigned int gup_flags, struct page **pages)
{
	return (int)hvb_kops->pin_user_pages(start, nr, gup_flags, pages);
}
static inline int get_user_pages_fast(unsigned long start, int nr, unsigned int gup_flags, struct page **pages)
{
	return (int)hvb_kops->pin_user_pages(start, nr, gup_flags, pages);
}
static inline void put_page(struct page *p) { hvb_kops->put_page(p); }
static inline void unpin_user_page(struct page *p) { hvb_kops->put_page(p); }
static inline void unpin_user_pages(struct page **pages, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		hvb_kops->put_page(pages[i]);
}
static inline void unpin_user_pages_dirty_lock(struct page **pages, unsigned long n, bool dirty)
{
	(void)dirty;
	unpin_user_pages(pages, n);
}

static inline int import_single_range(int rw, void __user *buf, size_t len, struct iovec *iov, struct iov_iter *i)
{
	iov->iov_base = buf;
	iov->iov_len = len;
	i->rw = rw;
	i->base = (uint64_t)(uintptr_t)buf;
	i->count = len;
	return 0;
}
static inline int iov_iter_rw(const struct iov_iter *i) { return i->rw & 1; }
/* Direction READ: data flows into this memory, so pages are pinned for writing. */
static inline ssize_t hvb_iov_iter_get_pages_alloc(struct iov_iter *i, struct page ***pages, size_t maxsize,
						   size_t *start, bool advance)
{
	size_t len = i->count < maxsize ? i->count : maxsize;
	unsigned long first = (unsigned long)(i->base & PAGE_MASK);
	long nr;
	long got;
	struct page **p;

	*start = (size_t)offset_in_page(i->base);
	nr = (long)DIV_ROUND_UP(*start + len, PAGE_SIZE);
	p = hvb_kops->kmalloc(sizeof(*p) * (size_t)(nr ? nr : 1), GFP_KERNEL, 1, "iov_iter_get_pages_alloc");
	if (!p)
		return -ENOMEM;
	got = hvb_kops->pin_user_pages(first, nr, iov_iter_rw(i) == WRITE ? 0 : FOLL_WRITE, p);
	if (got <= 0) {
		hvb_kops->kfree(p, "iov_iter_get_pages_alloc");
		return got < 0 ? got : -EFAULT;
	}
	*pages = p;
	if (got < nr)
		len = (size_t)got * PAGE_SIZE - *start;
	if (advance) {
		i->base += len;
		i->count -= len;
	}
	return (ssize_t)len;
}
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 0, 0)
static inline ssize_t iov_iter_get_pages_alloc(struct iov_iter *i, struct page ***pages, size_t maxsize, size_t *start)
{
	return hvb_iov_iter_get_pages_alloc(i, pages, maxsize, start, false);
}
#else
static inline ssize_t iov_iter_get_pages_alloc2(struct iov_iter *i, struct page ***pages, size_t maxsize, size_t *start)
{
	return hvb_iov_iter_get_pages_alloc(i, pages, maxsize, start, true);
}
#endif

/* ---- logging ---- */
#define HVB_LOG_ERR 3
#define HVB_LOG_WARN 4
#define HVB_LOG_INFO 6
#define HVB_LOG_DBG 7
static inline __printf(3, 4) void hvb_dev_log(const struct device *d, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hvb_kops->dev_log(d, level, fmt, ap);
	va_end(ap);
}
#define dev_err(d, ...) hvb_dev_log(d, HVB_LOG_ERR, __VA_ARGS__)
#define dev_warn(d, ...) hvb_dev_log(d, HVB_LOG_WARN, __VA_ARGS__)
#define dev_info(d, ...) hvb_dev_log(d, HVB_LOG_INFO, __VA_ARGS__)
#define dev_dbg(d, ...) hvb_dev_log(d, HVB_LOG_DBG, __VA_ARGS__)
#define dev_err_ratelimited dev_err
#define dev_warn_ratelimited dev_warn
#define dev_info_ratelimited dev_info
#define pr_err(...) hvb_dev_log(0, HVB_LOG_ERR, __VA_ARGS__)
#define pr_warn(...) hvb_dev_log(0, HVB_LOG_WARN, __VA_ARGS__)
#define pr_info(...) hvb_dev_log(0, HVB_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) hvb_dev_log(0, HVB_LOG_DBG, __VA_ARGS__)

/* ---- misc devices, debugfs, seq_file ---- */
static inline int misc_register(struct miscdevice *m) { return hvb_kops->misc_register(m); }
static inline void misc_deregister(struct miscdevice *m) { hvb_kops->misc_deregister(m); }
static inline struct dentry *debugfs_create_dir(const char *name, struct dentry *parent)
{
	return hvb_kops->debugfs_create(name, parent, 0, 0, 1);
}
static inline struct dentry *debugfs_create_file(const char *name, umode_t mode, struct dentry *parent, void *data,
						 const struct file_operations *fops)
{
	(void)mode;
	return hvb_kops->debugfs_create(name, parent, data, fops, 0);
}
static inline struct dentry *debugfs_lookup(const char *name, struct dentry *parent)
{
	return hvb_kops->debugfs_lookup(name, parent);
}
static inline void debugfs_remove_recursive(struct dentry *d) { hvb_kops->debugfs_remove(d); }
static inline void debugfs_remove(struct dentry *d) { hvb_kops->debugfs_remove(d); }
static inline void dput(struct dentry *d) { if (d && !IS_ERR(d) && d->refs > 0) d->refs--; }
static inline int single_open(struct file *f, int (*show)(struct seq_file *, void *), void *data)
{
	return hvb_kops->single_open(f, show, data);
}
static inline int single_release(struct inode *inode, struct file *f) { return hvb_kops->single_release(inode, f); }
#define seq_release single_release
static inline ssize_t seq_read(struct file *f, char __user *b, size_t n, loff_t *p) { (void)f; (void)b; (void)n; (void)p; return 0; }
static inline loff_t seq_lseek(struct file *f, loff_t o, int w) { (void)f; (void)w; return o; }
static inline loff_t noop_llseek(struct file *f, loff_t o, int w) { (void)f; (void)w; return o; }
static inline loff_t default_llseek(struct file *f, loff_t o, int w) { (void)f; (void)w; return o; }
static inline ssize_t simple_read_from_buffer(void __user *to, size_t count, loff_t *ppos, const void *from,
					      size_t available)
{
	loff_t pos = *ppos;
	size_t n;

	if (pos < 0)
		return -EINVAL;
	if ((size_t)pos >= available || !count)
		return 0;
	n = available - (size_t)pos;
	if (n > count)
		n = count;
	if (copy_to_user(to, (const char *)from + pos, n))
		return -EFAULT;
	*ppos = pos + (loff_t)n;
	return (ssize_t)n;
}
static inline __printf(2, 3) void seq_printf(struct seq_file *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hvb_kops->seq_vprintf(m, fmt, ap);
	va_end(ap);
}
static inline void seq_puts(struct seq_file *m, const char *s) { seq_printf(m, "%s", s); }
#define DEFINE_SHOW_ATTRIBUTE(__name)                                            \
	static int __name##_open(struct inode *inode, struct file *file)          \
	{                                                                         \
		return single_open(file, __name##_show, inode->i_private);        \
	}                                                                         \
	static const struct file_operations __name##_fops = {                     \
		.owner = THIS_MODULE,                                             \
		.open = __name##_open,                                            \
		.read = seq_read,                                                 \
		.llseek = seq_lseek,                                              \
		.release = single_release,                                        \
	}
long compat_ptr_ioctl(struct file *file, unsigned int cmd, unsigned long arg);

static inline int ida_alloc(struct ida *ida, gfp_t f) { (void)f; return hvb_kops->ida_alloc(ida); }
static inline void ida_free(struct ida *ida, int id) { hvb_kops->ida_free(ida, id); }
#define ida_simple_get(ida, s, e, f) ida_alloc(ida, f)
#define ida_simple_remove(ida, id) ida_free(ida, id)

/* ---- VMBus calls ---- */
static inline void *hv_get_drvdata(struct hv_device *d) { return d->device.driver_data; }
static inline void hv_set_drvdata(struct hv_device *d, void *p) { d->device.driver_data = p; }
static inline int vmbus_open(struct vmbus_channel *c, u32 send, u32 recv, void *ud, u32 udlen,
			     void (*cb)(void *), void *ctx)
{
	return hvb_kops->vmbus_open(c, send, recv, ud, udlen, cb, ctx);
}
static inline void vmbus_close(struct vmbus_channel *c) { hvb_kops->vmbus_close(c); }
static inline int vmbus_sendpacket_mpb_desc(struct vmbus_channel *c, struct vmbus_packet_mpb_array *desc,
					    u32 desc_size, void *buffer, u32 bufferlen, u64 requestid)
{
	return hvb_kops->sendpacket_mpb_desc(c, desc, desc_size, buffer, bufferlen, requestid);
}
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 14, 0)
static inline u64 vmbus_request_addr(struct vmbus_requestor *r, u64 id)
{
	return hvb_kops->request_addr((struct vmbus_channel *)container_of(r, struct vmbus_channel, requestor), id);
}
#else
static inline u64 vmbus_request_addr(struct vmbus_channel *c, u64 id) { return hvb_kops->request_addr(c, id); }
static inline u64 vmbus_next_request_id(struct vmbus_channel *c, u64 addr) { return hvb_kops->next_request_id(c, addr); }
#endif
static inline struct vmpacket_descriptor *hv_pkt_iter_first(struct vmbus_channel *c) { return hvb_kops->pkt_iter_first(c); }
static inline struct vmpacket_descriptor *hv_pkt_iter_next(struct vmbus_channel *c, const struct vmpacket_descriptor *d)
{
	return hvb_kops->pkt_iter_next(c, d);
}
static inline void hv_pkt_iter_close(struct vmbus_channel *c) { hvb_kops->pkt_iter_close(c); }
#define foreach_vmbus_pkt(pkt, channel) \
	for (pkt = hv_pkt_iter_first(channel); pkt; pkt = hv_pkt_iter_next(channel, pkt))
static inline void *hv_pkt_data(const struct vmpacket_descriptor *d) { return (void *)((unsigned long)d + (d->offset8 << 3)); }
static inline u32 hv_pkt_len(const struct vmpacket_descriptor *d) { return d->len8 << 3; }
static inline u32 hv_pkt_datalen(const struct vmpacket_descriptor *d) { return (d->len8 << 3) - (d->offset8 << 3); }
#define vmbus_driver_register(drv) hvb_kops->driver_register(drv)
static inline void vmbus_driver_unregister(struct hv_driver *drv) { hvb_kops->driver_unregister(drv); }

/* ---- modules ---- */
#define HVB_EXPORT __attribute__((visibility("default"), used))
#define module_init(fn) HVB_EXPORT int (*hvb_module_init_fn)(void) = fn
#define module_exit(fn) HVB_EXPORT void (*hvb_module_exit_fn)(void) = fn
#define MODULE_LICENSE(x)
/* A parameter is an exported pointer the bridge finds by name (hvb_param_<name>). */
#define module_param(name, type, perm) HVB_EXPORT void *hvb_param_##name = &(name)
#define MODULE_PARM_DESC(name, text)
#define MODULE_DESCRIPTION(x)
#define MODULE_AUTHOR(x)
#define MODULE_VERSION(x)
#define MODULE_DEVICE_TABLE(type, name)
#define EXPORT_SYMBOL(x)
#define EXPORT_SYMBOL_GPL(x)
#ifndef KBUILD_MODNAME
#define KBUILD_MODNAME "hv_azure_blob"
#endif

#endif /* HVB_KERNEL_H */

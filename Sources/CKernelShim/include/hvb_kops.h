/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The table through which a driver compiled against hvblob's shim headers reaches the kernel
 * API. The driver's .so holds `struct hvb_kops *hvb_kops`; hvblob points it at its own table.
 * Types are plain C so that Swift (through this module) and the shim headers agree.
 */
#ifndef HVB_KOPS_H
#define HVB_KOPS_H

#include <stddef.h>
#include <stdint.h>

#define HVB_KOPS_VERSION 2

/* How a blocked coroutine sleeps (hvb_coro_wait_flags); 0 is uninterruptible. */
/*
 * What the bytes after a packet the channel callback reads hold (the first
 * HVB_PACKET_POISON_LEN of them): the same value as SimulatedVSP.poison, so the
 * harness knows a field user space sees was read past what the host sent.
 */
#define HVB_PACKET_POISON 0xA5
#define HVB_PACKET_POISON_LEN 64

#define HVB_WAIT_INTERRUPTIBLE 0x1
#define HVB_WAIT_KILLABLE 0x2
#define HVB_WAIT_SPIN 0x4

/* Coroutine states seen by the scheduler. */
enum hvb_state { HVB_READY = 0, HVB_RUNNING = 1, HVB_BLOCKED = 2, HVB_DONE = 3 };

struct hvb_coro;

/* What Swift provides: the simulated machine. Each takes the opaque `host` pointer first. */
struct hvb_host_ops {
	void *host;
	uint64_t (*now)(void *host);
	/* User memory of the current process: bytes NOT copied (0 = all). */
	size_t (*copy_from_user)(void *host, void *dst, uint64_t uaddr, size_t n);
	size_t (*copy_to_user)(void *host, uint64_t uaddr, const void *src, size_t n);
	/* Pins nr pages from start; returns pages pinned or -errno, PFNs in pfns. */
	long (*pin)(void *host, uint64_t start, long nr, int write, uint64_t *pfns);
	void (*unpin)(void *host, uint64_t pfn, int write);
	/* set_page_dirty_lock() on a pinned page. */
	void (*dirty)(void *host, uint64_t pfn);
	/* The channel of offered device `dev` (the slot hvb_offer returned). */
	int (*vmbus_open)(void *host, int dev, uint32_t ring_size, uint32_t rqstor_size, int callbacks);
	void (*vmbus_close)(void *host, int dev);
	int (*send)(void *host, int dev, const void *packet, uint32_t len, uint64_t cookie);
	/* Copies the next inbound packet (clamped) into buf; returns its length or 0. */
	uint32_t (*packet_first)(void *host, int dev, void *buf, uint32_t buflen);
	void (*packet_advance)(void *host, int dev, uint32_t len);
	void (*packet_close)(void *host, int dev);
	/* Looks a request id up (frees it): the cookie, or UINT64_MAX - 1 (VMBUS_RQST_ERROR). */
	uint64_t (*request_addr)(void *host, int dev, uint64_t id, int zero_is_error);
	/* A finding, by rule id (e.g. "guest.use-after-free"). */
	void (*report)(void *host, const char *rule, const char *detail);
	void (*log)(void *host, int level, const char *text);
	/* Misc device and debugfs registration (names only; the shim keeps the objects). */
	void (*misc)(void *host, const char *name, int registered);
	/* At every scheduling point (what, and the driver's call site): nonzero asks the running
	 * thread to yield. */
	int (*sched_point)(void *host, const char *what, const void *at);
	/* Some blocked thread became ready. */
	void (*woke)(void *host);
};

/* hvblob side: install the host hooks, get the table for a driver's hvb_kops. */
void hvb_install(const struct hvb_host_ops *ops);
void *hvb_kops_table(void);

/* Coroutines: the kernel threads of one run. */
struct hvb_coro *hvb_coro_create(void (*fn)(void *arg), void *arg, const char *name, int pid, uint32_t cred);
int hvb_coro_resume(struct hvb_coro *c);
int hvb_coro_state(const struct hvb_coro *c);
uint64_t hvb_coro_deadline(const struct hvb_coro *c, int *has_deadline);
const char *hvb_coro_wait_what(const struct hvb_coro *c);
/* How it sleeps while blocked: HVB_WAIT_INTERRUPTIBLE (wait_event_interruptible & co, any
 * signal ends it), HVB_WAIT_KILLABLE (a fatal signal ends it), HVB_WAIT_SPIN (spinning for a
 * lock), 0 (uninterruptible). */
int hvb_coro_wait_flags(const struct hvb_coro *c);
/* Delivers a signal (fatal: SIGKILL) to the thread: pending until its call returns; a sleep
 * that admits it ends with -ERESTARTSYS/-EINTR. Returns 1 when that woke the thread. */
int hvb_coro_signal(struct hvb_coro *c, int fatal);
void hvb_coro_destroy(struct hvb_coro *c);
/* Whether the coroutine died of a fault (the kernel's oops), and what the fault was. */
int hvb_coro_crashed(const struct hvb_coro *c);
const char *hvb_last_fault(void);
/* "function+0xoffset" for a code address in a loaded driver, "" when unknown. */
const char *hvb_symbolize(const void *at, char *buf, size_t size);
/* The pid of the thread running now (0 outside a coroutine). */
int hvb_current_pid(void);
/* Every coroutine blocked on key becomes ready; returns how many. */
int hvb_wake_key(const void *key);

/* Entry points into a loaded driver, run on coroutines by hvblob. */
struct hvb_driver_entry {
	int (*init)(void);
	void (*exit)(void);
};
/* The shim's own state, reset between runs. */
void hvb_reset(void);
/* Live allocations (kmalloc & co) and their bytes. */
long hvb_live_allocations(long *bytes);

/* The sequence number of the newest allocation so far (a mark to compare with later). */
uint64_t hvb_alloc_mark(void);
/* Allocations made after `mark` and still live: their number, bytes, and the first few as
 * "N bytes by kmalloc at fn (file:line)" into buf. */
long hvb_allocations_since(uint64_t mark, long *bytes, char *buf, size_t size);
/* Whether a live debugfs file called name exists; how many debugfs entries are live. */
int hvb_debugfs_exists(const char *name);
int hvb_debugfs_count(void);
/* Live debugfs entries the probe of offered device `dev` created (dirs_only: directories);
 * whether it created a live file called name; that file's text (as hvb_debugfs_read). */
int hvb_debugfs_count_of(int dev, int dirs_only);
int hvb_debugfs_exists_of(int dev, const char *name);
long hvb_debugfs_read_of(int dev, const char *name, char *buf, size_t size);

/* Running driver operations (each on the current coroutine). */
int hvb_run_init(int (*init)(void));
void hvb_run_exit(void (*exit)(void));
/*
 * The VMBus core's devices: the host offers one (its own hv_device, channel and instance
 * GUID; returns its slot or -errno), the driver probes it; remove, then after a rescind the
 * device is freed. Each call names the slot.
 */
int hvb_offer(void);
int hvb_probe_device(int dev);
int hvb_remove_device(int dev);
void hvb_channel_callback(int dev);
/* Rescind as the VMBus core does it: reset the callback, set channel->rescind. */
void hvb_rescind_device(int dev);
/* open() of /dev/<name> (NULL: the first misc device registered). */
void *hvb_open_misc(const char *name, int *err);
void *hvb_open(int *err);
long hvb_ioctl(void *file, unsigned int cmd, uint64_t arg);
int hvb_release(void *file);
/* Reads a debugfs file by name into buf; returns bytes or -1. */
long hvb_debugfs_read(const char *name, char *buf, size_t size);
/* Reads a debugfs file that has its own read (the driver's capture); -1 when absent. */
long hvb_debugfs_read_raw(const char *name, char *buf, size_t size);
/* The first misc device's name, or NULL; the registered ones in order, and the slot of the
 * offered device whose probe registered each (-1: none). */
const char *hvb_misc_name(void);
int hvb_misc_count(void);
const char *hvb_misc_name_at(int i);
int hvb_misc_device_at(int i);
/* Dentries looked up and never put (debugfs_lookup without dput). */
int hvb_dentry_refs(void);
/*
 * The kworker: the kernel thread that runs queued work, expired timers and RCU callbacks
 * after a grace period. Steps it if it has something to do now (woken, or its timer
 * deadline passed): 0 nothing ran, 1 it ran until it slept again, 2 it crashed (reported as
 * guest.crash). hvblob calls it after each step of any other thread.
 */
int hvb_kworker_step(void);
/* Whether the kworker sleeps until a timer expires, and when (jiffies). */
int hvb_kworker_deadline(uint64_t *deadline);
/* Fail the Nth allocation from now with NULL (1 = the next); 0 = never. */
void hvb_fail_allocation(long n);

/*
 * Persistent mode: one loaded driver serves input after input. At a quiescent point (no
 * coroutine, no open file, no work, timer or RCU callback pending) hvb_checkpoint keeps a copy
 * of the driver's writable state — the writable segments of the object holding `inside`
 * (.data/.bss), the shim's own state (devices, channels, misc and debugfs registries, counters,
 * the quarantine) and every kmalloc/devm block live or quarantined then — and
 * hvb_checkpoint_reset brings all of it back: blocks allocated since are freed, blocks of the
 * checkpoint get their bytes back at the same addresses (while a checkpoint is active they are
 * never returned to malloc), every coroutine is destroyed. hvb_checkpoint returns 0, or -1 with
 * the reason in `why`. hvb_reset and a new checkpoint drop the old one.
 */
struct hvb_checkpoint_stats {
	size_t segment_bytes;	 /* the library's writable bytes kept (a full copy each reset) */
	size_t skipped_bytes;	 /* left out: RELRO, coverage counters */
	long blocks;		 /* heap blocks of the checkpoint and their bytes */
	size_t block_bytes;
	size_t state_bytes;	 /* the shim's own state copied back each reset */
	long resets;		 /* resets so far; what the last one freed and restored */
	long freed_last;
	size_t restored_last;
};
int hvb_checkpoint(const void *inside, char *why, size_t whylen);
void hvb_checkpoint_reset(void);
void hvb_checkpoint_drop(void);
int hvb_checkpoint_active(void);
/* The active checkpoint's serial number (each hvb_checkpoint takes the next), 0 for none. */
unsigned long hvb_checkpoint_serial(void);
void hvb_checkpoint_stats(struct hvb_checkpoint_stats *out);
/* Coroutines: how many are live; destroy them all (a new epoch: older pointers are gone). */
int hvb_coro_live(void);
unsigned long hvb_coro_epoch(void);
void hvb_coro_destroy_all(void);

#endif /* HVB_KOPS_H */

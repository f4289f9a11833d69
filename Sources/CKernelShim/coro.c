// SPDX-License-Identifier: Apache-2.0
/*
 * Coroutines for the kernel threads of one simulated run (ioctl callers, the channel callback,
 * the rescind work). One runs at a time; it returns control to hvblob's scheduler when it
 * blocks, yields at a scheduling point, or finishes. No real threads decide anything.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "hvb_kops.h"
#include "hvb_internal.h"

/*
 * Under AddressSanitizer every switch between stacks is announced, or ASan takes the
 * coroutine's frames for the caller's and reports nonsense.
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HVB_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define HVB_ASAN 1
#endif
#ifdef HVB_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
#define HVB_FIBER_START(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define HVB_FIBER_FINISH(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
#else
#define HVB_FIBER_START(save, bottom, size) ((void)0)
#define HVB_FIBER_FINISH(save, bottom, size) ((void)0)
#endif

#define HVB_STACK_SIZE (512 * 1024)

/*
 * Switching threads. swapcontext() saves and restores the signal mask with two system calls
 * per switch, which dominated a bridged round trip; the threads here never change their
 * mask, so on x86-64 a switch saves only what the ABI says a callee keeps (rbx, rbp, r12-r15,
 * the stack pointer, and the SSE/x87 control words) and jumps. Elsewhere: ucontext.
 */
#if defined(__x86_64__)
#define HVB_FAST_SWITCH 1
struct hvb_ctx {
	void *sp;
};
/* Saves the current stack pointer in *from and continues on to->sp. */
void hvb_switch(struct hvb_ctx *from, struct hvb_ctx *to);
__asm__(".text\n"
	".globl hvb_switch\n"
	".hidden hvb_switch\n"
	".type hvb_switch,@function\n"
	"hvb_switch:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	subq $16, %rsp\n"
	"	stmxcsr 8(%rsp)\n"
	"	fnstcw (%rsp)\n"
	"	movq %rsp, (%rdi)\n"
	"	movq (%rsi), %rsp\n"
	"	ldmxcsr 8(%rsp)\n"
	"	fldcw (%rsp)\n"
	"	addq $16, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size hvb_switch, .-hvb_switch\n");
#endif

struct hvb_coro {
#ifdef HVB_FAST_SWITCH
	struct hvb_ctx ctx;
	struct hvb_ctx caller;
#else
	ucontext_t ctx;
	ucontext_t caller;
#endif
	void *stack;
	int state;
	void (*fn)(void *);
	void *arg;
	const void *wait_key;
	const char *wait_what;
	int wait_flags; /* HVB_WAIT_* of the sleep it is in */
	uint64_t deadline;
	int has_deadline;
	int slot;
	int crashed;
	sigjmp_buf crash_jmp;
	/* ASan: the resumer's stack, and fake stacks saved across switches. */
	const void *caller_bottom;
	size_t caller_size;
	void *fake_caller;
	void *fake_coro;
	struct hvb_task task;
};

static struct hvb_coro *hvb_current_coro;

/* Stacks are reused: a call's coroutine lives for one ioctl, and allocating 512 KiB each
 * time dominated a round trip. */
#define HVB_STACK_POOL 64
static void *hvb_stack_pool[HVB_STACK_POOL];
static int hvb_stack_pooled;

static void *hvb_stack_get(void)
{
	return hvb_stack_pooled ? hvb_stack_pool[--hvb_stack_pooled] : malloc(HVB_STACK_SIZE);
}

static void hvb_stack_put(void *s)
{
	if (hvb_stack_pooled < HVB_STACK_POOL)
		hvb_stack_pool[hvb_stack_pooled++] = s;
	else
		free(s);
}
/* The coroutines themselves come back the same way: one per call and per callback run. */
static struct hvb_coro *hvb_coro_pool[HVB_STACK_POOL];
static int hvb_coro_pooled;

static struct hvb_coro *hvb_coro_get(void)
{
	struct hvb_coro *c;

	if (!hvb_coro_pooled)
		return calloc(1, sizeof(struct hvb_coro));
	c = hvb_coro_pool[--hvb_coro_pooled];
	memset(c, 0, sizeof(*c));
	return c;
}

static void hvb_coro_put(struct hvb_coro *c)
{
	if (hvb_coro_pooled < HVB_STACK_POOL)
		hvb_coro_pool[hvb_coro_pooled++] = c;
	else
		free(c);
}

/* Live coroutines, dense (slot = index), so waking scans only those that exist. */
static struct hvb_coro **hvb_all;
static int hvb_nall;
static int hvb_cap;
/* How many are blocked: a wake with none blocked (the common spin_unlock) costs nothing. */
static int hvb_nblocked;
static struct hvb_coro *hvb_starting;

static void hvb_trampoline(void)
{
	struct hvb_coro *c = hvb_starting;

	HVB_FIBER_FINISH(NULL, &c->caller_bottom, &c->caller_size);
	c->fn(c->arg);
	c->state = HVB_DONE;
	/* Back to the caller saved by the last resume; this stack is done. */
	HVB_FIBER_START(NULL, c->caller_bottom, c->caller_size);
#ifdef HVB_FAST_SWITCH
	{
		struct hvb_ctx dead;

		hvb_switch(&dead, &c->caller);
	}
	abort(); /* never resumed */
#endif
}

struct hvb_coro *hvb_coro_create(void (*fn)(void *arg), void *arg, const char *name, int pid, uint32_t cred)
{
	struct hvb_coro *c = hvb_coro_get();

	if (!c)
		return NULL;
	c->stack = hvb_stack_get();
	if (!c->stack) {
		hvb_coro_put(c);
		return NULL;
	}
	c->fn = fn;
	c->arg = arg;
	c->state = HVB_READY;
	c->slot = -1;
	hvb_task_init(&c->task, name, pid, cred);
	if (hvb_nall == hvb_cap) {
		int cap = hvb_cap ? 2 * hvb_cap : 256;
		struct hvb_coro **all = realloc(hvb_all, (size_t)cap * sizeof(*all));

		if (!all) {
			hvb_stack_put(c->stack);
			hvb_coro_put(c);
			return NULL;
		}
		hvb_all = all;
		hvb_cap = cap;
	}
	c->slot = hvb_nall;
	hvb_all[hvb_nall++] = c;
#ifdef HVB_FAST_SWITCH
	{
		/*
		 * A fresh stack laid out as hvb_switch() leaves one: control words, six callee-saved
		 * registers, then the address it returns to (the trampoline), 16-byte aligned at entry.
		 */
		uint64_t *top = (uint64_t *)((char *)c->stack + HVB_STACK_SIZE);
		/*
		 * After "ret" pops the trampoline, rsp must be 8 mod 16, as after a call. The
		 * words above are zero: the trampoline's own "return address" is 0 and its saved
		 * rbp is 0, so every unwinder (Swift Testing captures a backtrace on each thrown
		 * error, on whatever stack it is thrown) stops here instead of walking off the top.
		 */
		uint64_t *sp = top - 3;

		top[-1] = 0;
		top[-2] = 0;
		top[-3] = 0;
		uint32_t mxcsr;
		uint16_t fpucw;

		__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
		__asm__ volatile("fnstcw %0" : "=m"(fpucw));
		*--sp = (uint64_t)(uintptr_t)hvb_trampoline;
		sp -= 6; /* rbp rbx r12 r13 r14 r15 */
		memset(sp, 0, 6 * sizeof(*sp));
		sp -= 2;
		((uint16_t *)sp)[0] = fpucw;
		((uint32_t *)sp)[2] = mxcsr;
		c->ctx.sp = sp;
	}
#else
	getcontext(&c->ctx);
	c->ctx.uc_stack.ss_sp = c->stack;
	c->ctx.uc_stack.ss_size = HVB_STACK_SIZE;
	c->ctx.uc_link = &c->caller;
	makecontext(&c->ctx, hvb_trampoline, 0);
#endif
	c->state = -1; /* not started */
	return c;
}

/*
 * A fault (SIGSEGV, SIGBUS) in driver code running on a coroutine is the kernel's oops: the
 * thread dies, the simulation goes on. The handler runs on its own stack and jumps back to the
 * resume that started the faulting stretch; the coroutine's stack is abandoned.
 */
static char hvb_fault_what[256];
static int hvb_handlers_installed;

static void hvb_fault(int sig, siginfo_t *info, void *uctx)
{
	struct hvb_coro *c = hvb_current_coro;

	void *ip = NULL;
	Dl_info where;

	if (!c) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	void *sp = NULL;
#if defined(__x86_64__)
	ip = (void *)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RIP];
	sp = (void *)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RSP];
#endif
	memset(&where, 0, sizeof(where));
	if (ip)
		dladdr(ip, &where);
	snprintf(hvb_fault_what, sizeof(hvb_fault_what), "%s at address %p in thread %s (pid %d), in %s+0x%lx%s",
		 sig == SIGSEGV ? "SIGSEGV" : "SIGBUS", info ? info->si_addr : NULL, c->task.comm, c->task.pid,
		 where.dli_sname ? where.dli_sname : (where.dli_fname ? where.dli_fname : "?"),
		 /* A static function has no dynamic symbol: the offset in its object, for addr2line. */
		 (unsigned long)((char *)ip - (char *)(where.dli_sname ? where.dli_saddr : where.dli_fbase ? where.dli_fbase : ip)),
		 ((char *)sp >= (char *)c->stack && (char *)sp < (char *)c->stack + HVB_STACK_SIZE) ? "" : " (not on its own stack)");
	if (getenv("HVB_DEBUG_FAULT"))
		fprintf(stderr, "hvb fault: ip=%p (%s+0x%lx) sp=%p stack=[%p,%p)\n", ip,
			where.dli_fname ? where.dli_fname : "?",
			(unsigned long)((char *)ip - (char *)where.dli_fbase), sp, c->stack, (char *)c->stack + HVB_STACK_SIZE);
	if (getenv("HVB_DEBUG_FAULT")) {
		void **fp = (void **)((ucontext_t *)uctx)->uc_mcontext.gregs[REG_RBP];
		int depth;

		for (depth = 0; depth < 24 && fp; depth++) {
			Dl_info w;
			void *ret = fp[1];

			memset(&w, 0, sizeof(w));
			dladdr(ret, &w);
			fprintf(stderr, "   #%d %p %s %s\n", depth, ret, w.dli_fname ? w.dli_fname : "?", w.dli_sname ? w.dli_sname : "?");
			if ((void **)fp[0] <= fp)
				break;
			fp = (void **)fp[0];
		}
	}
	c->crashed = 1;
	siglongjmp(c->crash_jmp, 1);
}

static void hvb_install_fault_handlers(void)
{
	stack_t old;
	struct sigaction sa;

	if (hvb_handlers_installed)
		return;
	hvb_handlers_installed = 1;
	/* Keep an alternate stack someone (a sanitizer runtime) set up; else map one. */
	if (sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
		size_t size = 64 * 1024;
		void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (mem != MAP_FAILED) {
			stack_t ss = { .ss_sp = mem, .ss_size = size, .ss_flags = 0 };

			sigaltstack(&ss, NULL);
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = hvb_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

const char *hvb_last_fault(void)
{
	return hvb_fault_what;
}

int hvb_coro_crashed(const struct hvb_coro *c)
{
	return c->crashed;
}

int hvb_coro_resume(struct hvb_coro *c)
{
	struct hvb_coro *volatile prev = hvb_current_coro;

	if (!c || c->state == HVB_DONE)
		return HVB_DONE;
	if (c->state == HVB_BLOCKED)
		hvb_nblocked--;
	hvb_install_fault_handlers();
	if (c->state == -1)
		hvb_starting = c;
	c->state = HVB_RUNNING;
	c->wait_key = NULL;
	c->wait_what = NULL;
	c->wait_flags = 0;
	hvb_current_coro = c;
	/* No mask to save: the handler runs with SA_NODEFER, so nothing stays blocked. */
	if (sigsetjmp(c->crash_jmp, 0)) {
		hvb_current_coro = prev;
		c->state = HVB_DONE;
		return HVB_DONE;
	}
	HVB_FIBER_START(&c->fake_caller, c->stack, HVB_STACK_SIZE);
#ifdef HVB_FAST_SWITCH
	hvb_switch(&c->caller, &c->ctx);
#else
	swapcontext(&c->caller, &c->ctx);
#endif
	HVB_FIBER_FINISH(c->fake_caller, NULL, NULL);
	hvb_current_coro = prev;
	return c->state;
}

/* Called on the coroutine: park it and go back to whoever resumed it. */
void hvb_coro_park(int state, const void *key, const char *what, uint64_t deadline, int has_deadline, int flags)
{
	struct hvb_coro *c = hvb_current_coro;

	if (state == HVB_BLOCKED)
		hvb_nblocked++;
	c->state = state;
	c->wait_key = key;
	c->wait_what = what;
	c->deadline = deadline;
	c->has_deadline = has_deadline;
	c->wait_flags = flags;
	HVB_FIBER_START(&c->fake_coro, c->caller_bottom, c->caller_size);
#ifdef HVB_FAST_SWITCH
	hvb_switch(&c->ctx, &c->caller);
#else
	swapcontext(&c->ctx, &c->caller);
#endif
	HVB_FIBER_FINISH(c->fake_coro, &c->caller_bottom, &c->caller_size);
}

struct hvb_task *hvb_current_task_of_coro(void)
{
	return hvb_current_coro ? &hvb_current_coro->task : NULL;
}

int hvb_current_pid(void)
{
	return hvb_current_coro ? hvb_current_coro->task.pid : 0;
}

int hvb_in_coro(void)
{
	return hvb_current_coro != NULL;
}

int hvb_coro_state(const struct hvb_coro *c)
{
	return c->state == -1 ? HVB_READY : c->state;
}


const char *hvb_coro_wait_what(const struct hvb_coro *c)
{
	return c->wait_what ? c->wait_what : "";
}

uint64_t hvb_coro_deadline(const struct hvb_coro *c, int *has_deadline)
{
	*has_deadline = c->has_deadline;
	return c->deadline;
}

int hvb_wake_key(const void *key)
{
	return hvb_wake_key_flags(key, 0);
}

int hvb_wake_key_flags(const void *key, int interruptible_only)
{
	int i, n = 0;

	if (!hvb_nblocked)
		return 0;
	for (i = 0; i < hvb_nall; i++) {
		struct hvb_coro *c = hvb_all[i];

		if (c->state == HVB_BLOCKED && c->wait_key == key &&
		    (!interruptible_only || (c->wait_flags & HVB_WAIT_INTERRUPTIBLE))) {
			c->state = HVB_READY;
			hvb_nblocked--;
			n++;
		}
	}
	return n;
}

int hvb_waiters_on(const void *key)
{
	int i, n = 0;

	for (i = 0; i < hvb_nall && hvb_nblocked; i++)
		if (hvb_all[i]->state == HVB_BLOCKED && hvb_all[i]->wait_key == key)
			n++;
	return n;
}

void hvb_coro_make_ready(struct hvb_coro *c)
{
	if (c->state == HVB_BLOCKED) {
		c->state = HVB_READY;
		hvb_nblocked--;
	}
}

int hvb_coro_wait_flags(const struct hvb_coro *c)
{
	return c->state == HVB_BLOCKED ? c->wait_flags : 0;
}

/*
 * A signal for the thread (fatal: SIGKILL): it stays pending until the call returns; a
 * sleep that admits it ends (the call sees -ERESTARTSYS / -EINTR). Returns whether the
 * thread was woken.
 */
int hvb_coro_signal(struct hvb_coro *c, int fatal)
{
	c->task.sigpending |= HVB_SIG_PENDING | (fatal ? HVB_SIG_FATAL : 0);
	if (c->state == HVB_BLOCKED &&
	    ((c->wait_flags & HVB_WAIT_INTERRUPTIBLE) || (fatal && (c->wait_flags & HVB_WAIT_KILLABLE)))) {
		hvb_coro_make_ready(c);
		return 1;
	}
	return 0;
}

int hvb_ntasks(void)
{
	return hvb_nall;
}

struct hvb_task *hvb_task_nth(int i)
{
	return i >= 0 && i < hvb_nall ? &hvb_all[i]->task : NULL;
}

/* Bumped by hvb_coro_destroy_all: a coroutine pointer from an earlier epoch is gone. */
static unsigned long hvb_epoch;

unsigned long hvb_coro_epoch(void)
{
	return hvb_epoch;
}

int hvb_coro_live(void)
{
	return hvb_nall;
}

void hvb_coro_destroy_all(void)
{
	hvb_epoch++;
	while (hvb_nall)
		hvb_coro_destroy(hvb_all[hvb_nall - 1]);
	hvb_nblocked = 0;
}

void hvb_coro_destroy(struct hvb_coro *c)
{
	if (!c)
		return;
	if (c->state == HVB_BLOCKED)
		hvb_nblocked--;
	if (c->slot >= 0) {
		/* Swap-remove: the last one takes this slot. */
		struct hvb_coro *last = hvb_all[--hvb_nall];

		hvb_all[c->slot] = last;
		last->slot = c->slot;
	}
	hvb_stack_put(c->stack);
	hvb_coro_put(c);
}

/* "function+0xoffset" for a code address in the driver (for traces); "" when unknown. */
const char *hvb_symbolize(const void *at, char *buf, size_t size)
{
	Dl_info info;

	buf[0] = 0;
	memset(&info, 0, sizeof(info));
	if (at && dladdr(at, &info)) {
		if (info.dli_sname)
			snprintf(buf, size, "%s+0x%lx", info.dli_sname,
				 (unsigned long)((const char *)at - (const char *)info.dli_saddr));
		else if (info.dli_fbase)
			/* A static function: the offset in the object, for addr2line. */
			snprintf(buf, size, "@0x%lx", (unsigned long)((const char *)at - (const char *)info.dli_fbase));
	}
	return buf;
}

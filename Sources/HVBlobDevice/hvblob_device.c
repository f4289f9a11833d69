// SPDX-License-Identifier: Apache-2.0
//
// libhvblob-device.so: LD_PRELOAD it into an unmodified program and its /dev/azure_blob is the
// simulated one `hvblob serve` runs. open/openat/open64 of the device path connect to the
// daemon (the descriptor the program gets is that socket) and hand it a shared-memory channel
// (a memfd); ioctl on such a descriptor posts the command, the argument address and the
// caller's pid in the channel (a futex hand-off, see hvblob_device.h), and the daemon works on
// the program's memory directly. dup/dup2/dup3/fcntl(F_DUPFD*) and close keep the table of
// device descriptors; after fork the child reattaches each one to the same open file with a
// channel of its own.
//
// Environment: HVBLOB_DEVICE (the path to intercept, default /dev/azure_blob), HVBLOB_SOCKET
// (the daemon's socket, default $XDG_RUNTIME_DIR/hvblob.sock, else /tmp/hvblob-<uid>.sock),
// HVBLOB_TRANSPORT=socket (every ioctl as a frame on the socket, no channel).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hvblob_device.h"

#define MAX_FDS 65536

/* One connection to the daemon (one open file of this process): the descriptors dup'ed from
 * it share it. */
struct conn {
	int refs;                 /* device descriptors naming it (under table_lock) */
	pthread_mutex_t lock;     /* one ioctl at a time: two threads never interleave on it */
	struct hvbd_channel *shm; /* NULL: ioctls go as frames on the socket */
	pid_t pid;                /* the process that made it (a child makes its own) */
	double latency_ns;        /* moving average of post-to-reply: how long to spin */
};

struct devfd {
	uint64_t file_id; /* 0: not a device descriptor */
	ino_t ino;        /* the socket's inode: a descriptor closed behind our back is noticed */
	int broken;       /* reattach after fork failed */
	struct conn *conn;
};

static struct devfd table[MAX_FDS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static int max_fd = -1;

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_close)(int);
static int (*real_dup)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);
static int (*real_fcntl)(int, int, ...);
static int (*real_fcntl64)(int, int, ...);

static void child_after_fork(void);

__attribute__((constructor)) static void init(void)
{
	real_open = dlsym(RTLD_NEXT, "open");
	real_open64 = dlsym(RTLD_NEXT, "open64");
	real_openat = dlsym(RTLD_NEXT, "openat");
	real_openat64 = dlsym(RTLD_NEXT, "openat64");
	real_ioctl = dlsym(RTLD_NEXT, "ioctl");
	real_close = dlsym(RTLD_NEXT, "close");
	real_dup = dlsym(RTLD_NEXT, "dup");
	real_dup2 = dlsym(RTLD_NEXT, "dup2");
	real_dup3 = dlsym(RTLD_NEXT, "dup3");
	real_fcntl = dlsym(RTLD_NEXT, "fcntl");
	real_fcntl64 = dlsym(RTLD_NEXT, "fcntl64");
	if (!real_fcntl64)
		real_fcntl64 = real_fcntl;
	if (!real_open64)
		real_open64 = real_open;
	if (!real_openat64)
		real_openat64 = real_openat;
	pthread_atfork(NULL, NULL, child_after_fork);
}

static const char *device_path(void)
{
	const char *p = getenv("HVBLOB_DEVICE");
	return p && *p ? p : "/dev/azure_blob";
}

static void socket_path(char *out, size_t n)
{
	const char *s = getenv("HVBLOB_SOCKET");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (s && *s)
		snprintf(out, n, "%s", s);
	else if (xdg && *xdg)
		snprintf(out, n, "%s/hvblob.sock", xdg);
	else
		snprintf(out, n, "/tmp/hvblob-%u.sock", (unsigned)getuid());
}

static int is_device_path(int dirfd, const char *path)
{
	if (!path)
		return 0;
	if (path[0] != '/' && dirfd != AT_FDCWD)
		return 0;
	return strcmp(path, device_path()) == 0;
}

/* One line on stderr, written with write(2) so it is safe after fork and in any state. */
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	ssize_t w = write(2, buf, n);
	(void)w;
}

static int send_all(int s, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = send(s, c, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* 0, or -1 with errno (0 for end of file: the daemon went away). */
static int recv_all(int s, void *p, size_t n)
{
	char *c = p;
	while (n > 0) {
		ssize_t r = recv(s, c, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			errno = 0;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Sends one frame and reads the reply; on failure sets errno to what the caller returns
 * (EIO: the daemon went away; EPROTO: it does not speak this protocol) and says why. */
static int exchange(int s, struct hvbd_msg *m, const char *what)
{
	uint16_t op = m->op;
	if (send_all(s, m, sizeof(*m)) < 0 || recv_all(s, m, sizeof(*m)) < 0) {
		int e = errno;
		char path[256];
		socket_path(path, sizeof(path));
		say("hvblob-device: %s: the hvblob serve daemon at %s went away (%s)", what, path,
		    e ? strerror(e) : "connection closed");
		errno = EIO;
		return -1;
	}
	if (m->magic != HVBD_MAGIC || m->version != HVBD_VERSION || m->op != op) {
		say("hvblob-device: %s: the daemon speaks protocol version %u (magic 0x%08x), this library %u: rebuild one of them",
		    what, (unsigned)m->version, (unsigned)m->magic, (unsigned)HVBD_VERSION);
		errno = EPROTO;
		return -1;
	}
	return 0;
}

/* Sends one frame with descriptor `fd` attached (SCM_RIGHTS) and reads the reply. */
static int exchange_fd(int s, struct hvbd_msg *m, int fd, const char *what)
{
	char control[CMSG_SPACE(sizeof(int))];
	memset(control, 0, sizeof(control));
	struct iovec iov = { m, sizeof(*m) };
	struct msghdr h;
	memset(&h, 0, sizeof(h));
	h.msg_iov = &iov;
	h.msg_iovlen = 1;
	h.msg_control = control;
	h.msg_controllen = sizeof(control);
	struct cmsghdr *c = CMSG_FIRSTHDR(&h);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	ssize_t w;
	do
		w = sendmsg(s, &h, MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	uint16_t op = m->op;
	if (w != (ssize_t)sizeof(*m) || recv_all(s, m, sizeof(*m)) < 0) {
		say("hvblob-device: %s: the hvblob serve daemon went away while taking the channel", what);
		errno = EIO;
		return -1;
	}
	if (m->magic != HVBD_MAGIC || m->version != HVBD_VERSION || m->op != op) {
		say("hvblob-device: %s: the daemon speaks protocol version %u, this library %u: rebuild one of them",
		    what, (unsigned)m->version, (unsigned)HVBD_VERSION);
		errno = EPROTO;
		return -1;
	}
	return 0;
}

static int socket_only(void)
{
	const char *t = getenv("HVBLOB_TRANSPORT");
	return t && strcmp(t, "socket") == 0;
}

/* The connection state for socket `s` (just opened or attached): a shared-memory channel
 * handed to the daemon, or none (HVBLOB_TRANSPORT=socket). NULL with errno on failure. */
static struct conn *new_conn(int s, const char *what)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->pid = getpid();
	c->latency_ns = 50000;
	if (socket_only())
		return c;
	int fd = (int)syscall(SYS_memfd_create, "hvblob-channel", 1u /* MFD_CLOEXEC */);
	void *p = MAP_FAILED;
	if (fd >= 0 && ftruncate(fd, HVBD_CHANNEL_SIZE) == 0)
		p = mmap(NULL, HVBD_CHANNEL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		if (fd >= 0)
			real_close(fd);
		say("hvblob-device: %s: no shared-memory channel (%s)", what, strerror(e));
		free(c);
		errno = EIO;
		return NULL;
	}
	struct hvbd_msg m = { HVBD_MAGIC, HVBD_VERSION, HVBD_CHANNEL, c->pid, gettid(), HVBD_CHANNEL_SIZE, 0 };
	int r = exchange_fd(s, &m, fd, what);
	real_close(fd);
	if (r < 0 || m.tid_or_result != 0) {
		int e = r < 0 ? errno : m.tid_or_result;
		munmap(p, HVBD_CHANNEL_SIZE);
		free(c);
		if (r == 0)
			say("hvblob-device: %s: the daemon refused the channel (%s)", what, strerror(e));
		errno = r < 0 ? e : EIO;
		return NULL;
	}
	c->shm = p;
	return c;
}

static void put_conn(struct conn *c)
{
	if (!c || --c->refs > 0)
		return;
	if (c->shm)
		munmap(c->shm, HVBD_CHANNEL_SIZE);
	free(c);
}

/* A connected socket to the daemon, or -1 with errno ENXIO (what opening a device node whose
 * driver is absent gives) and a line saying why. */
static int connect_daemon(const char *what)
{
	char path[256];
	socket_path(path, sizeof(path));
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct sockaddr_un a;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	size_t n = strlen(path);
	if (n >= sizeof(a.sun_path)) {
		real_close(s);
		say("hvblob-device: %s: socket path %s is longer than %zu bytes", what, path, sizeof(a.sun_path) - 1);
		errno = ENXIO;
		return -1;
	}
	memcpy(a.sun_path, path, n + 1);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		real_close(s);
		say("hvblob-device: %s: no hvblob serve daemon at %s (%s); start one with 'hvblob serve'", what, path, strerror(e));
		errno = ENXIO;
		return -1;
	}
	return s;
}

static void track(int fd, uint64_t file_id, struct conn *c)
{
	struct stat st;
	if (fd < 0 || fd >= MAX_FDS)
		return;
	pthread_mutex_lock(&table_lock);
	struct conn *old = table[fd].file_id ? table[fd].conn : NULL;
	c->refs++;
	table[fd].conn = c;
	table[fd].broken = 0;
	table[fd].ino = fstat(fd, &st) == 0 ? st.st_ino : 0;
	__atomic_store_n(&table[fd].file_id, file_id, __ATOMIC_RELEASE);
	if (fd > max_fd)
		max_fd = fd;
	put_conn(old);
	pthread_mutex_unlock(&table_lock);
}

static void untrack(int fd)
{
	if (fd < 0 || fd >= MAX_FDS)
		return;
	pthread_mutex_lock(&table_lock);
	if (table[fd].file_id) {
		table[fd].file_id = 0;
		put_conn(table[fd].conn);
		table[fd].conn = NULL;
	}
	pthread_mutex_unlock(&table_lock);
}

static uint64_t device_id(int fd)
{
	if (fd < 0 || fd >= MAX_FDS)
		return 0;
	return __atomic_load_n(&table[fd].file_id, __ATOMIC_ACQUIRE);
}

static int device_open(int flags)
{
	char what[300];
	snprintf(what, sizeof(what), "open(%s)", device_path());
	int s = connect_daemon(what);
	if (s < 0)
		return -1;
	struct hvbd_msg m = { HVBD_MAGIC, HVBD_VERSION, HVBD_OPEN, getpid(), gettid(), (uint64_t)(unsigned)flags, 0 };
	if (exchange(s, &m, what) < 0) {
		int e = errno;
		real_close(s);
		errno = e;
		return -1;
	}
	if (m.tid_or_result != 0) {
		real_close(s);
		errno = m.tid_or_result;
		return -1;
	}
	if (s >= MAX_FDS) {
		real_close(s);
		say("hvblob-device: %s: descriptor %d is beyond the %d this library tracks", what, s, MAX_FDS);
		errno = EMFILE;
		return -1;
	}
	struct conn *c = new_conn(s, what);
	if (!c) {
		int e = errno;
		real_close(s);
		errno = e;
		return -1;
	}
	if (!(flags & O_CLOEXEC))
		real_fcntl(s, F_SETFD, 0);
	track(s, m.a, c);
	return s;
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	if (is_device_path(AT_FDCWD, path))
		return device_open(flags);
	return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	if (is_device_path(AT_FDCWD, path))
		return device_open(flags);
	return real_open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	if (is_device_path(dirfd, path))
		return device_open(flags);
	return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	va_start(ap, flags);
	mode_t mode = mode_arg(flags, ap);
	va_end(ap);
	if (is_device_path(dirfd, path))
		return device_open(flags);
	return real_openat64(dirfd, path, flags, mode);
}

/* _FORTIFY_SOURCE builds call these. */
int __open_2(const char *path, int flags) { return open(path, flags); }
int __open64_2(const char *path, int flags) { return open64(path, flags); }
int __openat_2(int dirfd, const char *path, int flags) { return openat(dirfd, path, flags); }
int __openat64_2(int dirfd, const char *path, int flags) { return openat64(dirfd, path, flags); }

static __thread pid_t my_tid;

static double mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* The daemon is gone when its end of the socket hung up (it never writes to the socket while
 * the channel is in use, so anything readable is the hang-up). */
static int daemon_gone(int s)
{
	struct pollfd p = { s, POLLIN, 0 };
	int n = poll(&p, 1, 0);
	return n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

static void went_away(int fd)
{
	char path[256];
	socket_path(path, sizeof(path));
	say("hvblob-device: ioctl(fd %d): the hvblob serve daemon at %s went away (connection closed)", fd, path);
	errno = EIO;
}

/* One ioctl through the channel: post it, wake the daemon if it sleeps, then spin and
 * FUTEX_WAIT in 20 ms slices, each followed by a check that the daemon is still there. The
 * spin lasts twice the recent reply time (a moving average) when that is short; when replies
 * take long (many clients share the one daemon thread) a spin would only take its CPU, so the
 * client sleeps at once. */
static int channel_ioctl(int s, struct conn *c, unsigned long request, void *arg, uint64_t *value)
{
	struct hvbd_channel *ch = c->shm;
	if (!my_tid)
		my_tid = gettid();
	ch->pid = c->pid;
	ch->tid = my_tid;
	ch->arg = (uint64_t)(uintptr_t)arg;
	ch->cmd = (uint64_t)request;
	ch->serial++;
	__atomic_store_n(&ch->state, HVBD_POSTED, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&ch->daemon_sleeping, __ATOMIC_SEQ_CST)) {
		char kick = 1;
		ssize_t w;
		do
			w = send(s, &kick, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN) {
			went_away(s);
			return -1;
		}
	}
	double start = mono_ns();
	double budget = c->latency_ns > 200000 ? 2000 : 2 * c->latency_ns + 5000;
	while (__atomic_load_n(&ch->state, __ATOMIC_ACQUIRE) != HVBD_REPLIED) {
		for (int i = 0; i < 32; i++)
			__builtin_ia32_pause();
		if (mono_ns() - start > budget)
			break;
		/* A CPU shared with others (the daemon among them) is handed on, not held. */
		sched_yield();
	}
	if (__atomic_load_n(&ch->state, __ATOMIC_ACQUIRE) != HVBD_REPLIED) {
		__atomic_store_n(&ch->client_waiting, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&ch->state, __ATOMIC_SEQ_CST) != HVBD_REPLIED) {
			struct timespec slice = { 0, 20 * 1000 * 1000 };
			long r = syscall(SYS_futex, &ch->state, FUTEX_WAIT, HVBD_POSTED, &slice, NULL, 0);
			if (r < 0 && errno == ETIMEDOUT && daemon_gone(s)) {
				__atomic_store_n(&ch->client_waiting, 0, __ATOMIC_RELAXED);
				went_away(s);
				return -1;
			}
		}
		__atomic_store_n(&ch->client_waiting, 0, __ATOMIC_RELAXED);
	}
	c->latency_ns = (3 * c->latency_ns + (mono_ns() - start)) / 4;
	int result = ch->result;
	*value = ch->value;
	__atomic_store_n(&ch->state, HVBD_IDLE, __ATOMIC_RELEASE);
	if (result != 0) {
		errno = result;
		return -1;
	}
	return 0;
}

static int device_ioctl(int fd, unsigned long request, void *arg)
{
	pthread_mutex_lock(&table_lock);
	struct conn *c = table[fd].conn;
	int broken = table[fd].broken;
	if (c)
		c->refs++; /* a close on another thread does not free it under us */
	pthread_mutex_unlock(&table_lock);
	if (broken || !c) {
		say("hvblob-device: ioctl(fd %d): this descriptor could not be reattached to the daemon after fork", fd);
		errno = EIO;
		pthread_mutex_lock(&table_lock);
		put_conn(c);
		pthread_mutex_unlock(&table_lock);
		return -1;
	}
	pthread_mutex_lock(&c->lock);
	int r;
	uint64_t value = 0;
	if (c->shm) {
		r = channel_ioctl(fd, c, request, arg, &value);
	} else {
		char what[64];
		snprintf(what, sizeof(what), "ioctl(fd %d)", fd);
		if (!my_tid)
			my_tid = gettid();
		struct hvbd_msg m = { HVBD_MAGIC, HVBD_VERSION, HVBD_IOCTL, c->pid, my_tid, (uint64_t)(uintptr_t)arg, (uint64_t)request };
		r = exchange(fd, &m, what);
		if (r == 0 && m.tid_or_result != 0) {
			errno = m.tid_or_result;
			r = -1;
		}
		value = m.a;
	}
	int e = errno;
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&table_lock);
	put_conn(c);
	pthread_mutex_unlock(&table_lock);
	errno = e;
	return r < 0 ? -1 : (int)value;
}

int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (device_id(fd) != 0) {
		struct stat st;
		if (fstat(fd, &st) == 0 && st.st_ino == table[fd].ino)
			return device_ioctl(fd, request, arg);
		untrack(fd); /* closed and reused behind our back (close_range, a raw syscall) */
	}
	return real_ioctl(fd, request, arg);
}

int close(int fd)
{
	if (device_id(fd) != 0)
		untrack(fd);
	return real_close(fd);
}

static int copied(int from, int to)
{
	uint64_t id = device_id(from);
	if (to >= 0 && to != from) {
		pthread_mutex_lock(&table_lock);
		struct conn *c = id != 0 ? table[from].conn : NULL;
		if (c)
			c->refs++;
		pthread_mutex_unlock(&table_lock);
		if (c && to < MAX_FDS)
			track(to, id, c);
		else
			untrack(to);
		pthread_mutex_lock(&table_lock);
		put_conn(c);
		pthread_mutex_unlock(&table_lock);
	}
	return to;
}

int dup(int fd) { return copied(fd, real_dup(fd)); }

int dup2(int fd, int to)
{
	int r = real_dup2(fd, to);
	return r < 0 ? r : copied(fd, r);
}

int dup3(int fd, int to, int flags)
{
	int r = real_dup3(fd, to, flags);
	return r < 0 ? r : copied(fd, r);
}

static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, va_list ap)
{
	unsigned long arg = va_arg(ap, unsigned long);
	int r = real(fd, cmd, arg);
	if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		copied(fd, r);
	return r;
}

int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	int r = fcntl_common(real_fcntl, fd, cmd, ap);
	va_end(ap);
	return r;
}

int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	int r = fcntl_common(real_fcntl64, fd, cmd, ap);
	va_end(ap);
	return r;
}

/* In the child of a fork: the inherited sockets and channels are shared with the parent, and
 * the requests of the two would interleave. Each device descriptor gets a connection (and a
 * channel) of its own attached to the same open file, put at the same descriptor number with
 * the same close-on-exec flag. The parent's channels are unmapped here (it keeps its own). */
static void child_after_fork(void)
{
	const char *what = "fork: reattaching a device descriptor";
	pthread_mutex_init(&table_lock, NULL);
	my_tid = 0;
	for (int fd = 0; fd <= max_fd; fd++) {
		if (table[fd].file_id == 0)
			continue;
		struct conn *old = table[fd].conn;
		table[fd].conn = NULL;
		put_conn(old);
		int flags = real_fcntl(fd, F_GETFD);
		int s = connect_daemon(what);
		struct hvbd_msg m = { HVBD_MAGIC, HVBD_VERSION, HVBD_ATTACH, getpid(), gettid(), table[fd].file_id, 0 };
		struct conn *c = NULL;
		if (s < 0 || exchange(s, &m, what) < 0 || m.tid_or_result != 0 || !(c = new_conn(s, what)) ||
		    real_dup3(s, fd, (flags & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
			table[fd].broken = 1;
			if (c) {
				c->refs = 1;
				put_conn(c);
			}
			if (s >= 0)
				real_close(s);
			continue;
		}
		real_close(s);
		c->refs = 1;
		table[fd].conn = c;
		struct stat st;
		table[fd].ino = fstat(fd, &st) == 0 ? st.st_ino : 0;
	}
}

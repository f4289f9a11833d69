// SPDX-License-Identifier: Apache-2.0
//
// hvblob-fuse: `hvblob serve --fuse PATH`'s helper. It mounts a FUSE file system whose root is
// one regular file at PATH, so a program that cannot take LD_PRELOAD (statically linked) opens
// PATH as its /dev/azure_blob. Each open of the file is one connection to the daemon
// (include/hvblob_device.h, the preload library's wire); each ioctl on it is forwarded with the
// pid of the FUSE request, and the daemon reads and writes that process's memory itself.
//
// FUSE allows regular files only restricted ioctls: the kernel copies in and out the size
// encoded in the command (the request struct), then writes our reply's bytes back over the
// caller's struct. The daemon has already written the struct in the caller's memory, so the reply
// carries what is there now.
//
// usage: hvblob-fuse PATH SOCKET    (stdin: the daemon; end of file unmounts and exits)
#define _GNU_SOURCE
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "../include/hvblob_device.h"

static const char *mountpoint;
static const char *sock_path;

struct open_file {
	int sock;
	pthread_mutex_t lock; /* one ioctl at a time per open file, as the preload library does */
};

static void leave(int sig)
{
	(void)sig;
	umount2(mountpoint, MNT_DETACH);
	_exit(0);
}

/* Ioctls forwarded and not yet answered. */
static int in_flight;

/* The daemon holds our stdin: when it exits (even by SIGKILL) the mount goes with it. The
 * ioctls it was serving see their sockets close at the same time and are answered EIO first
 * (within a second), so the caller gets that and not the aborted connection's error. */
static void *watch_daemon(void *unused)
{
	char b;
	(void)unused;
	while (read(0, &b, 1) > 0)
		;
	for (int i = 0; i < 1000 && __atomic_load_n(&in_flight, __ATOMIC_ACQUIRE) > 0; i++)
		usleep(1000);
	leave(0);
	return NULL;
}

/* The process a thread id belongs to (FUSE requests carry the thread's id). */
static pid_t tgid_of(pid_t tid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return tid;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return tid;
	buf[n] = 0;
	char *t = strstr(buf, "\nTgid:");
	return t ? (pid_t)atoi(t + 6) : tid;
}

static int exchange(int s, struct hvbd_msg *m)
{
	uint16_t op = m->op;
	size_t done = 0;
	while (done < sizeof(*m)) {
		ssize_t w = send(s, (char *)m + done, sizeof(*m) - done, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		done += (size_t)w;
	}
	done = 0;
	while (done < sizeof(*m)) {
		ssize_t r = recv(s, (char *)m + done, sizeof(*m) - done, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "hvblob-fuse: the hvblob serve daemon at %s went away\n", sock_path);
			return -EIO;
		}
		done += (size_t)r;
	}
	if (m->magic != HVBD_MAGIC || m->version != HVBD_VERSION || m->op != op) {
		fprintf(stderr, "hvblob-fuse: the daemon speaks protocol version %u, this helper %u\n",
			(unsigned)m->version, (unsigned)HVBD_VERSION);
		return -EPROTO;
	}
	return 0;
}

static void hv_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_ino = ino;
	st.st_mode = S_IFREG | 0666;
	st.st_nlink = 1;
	st.st_uid = getuid();
	st.st_gid = getgid();
	fuse_reply_attr(req, &st, 1.0);
}

static void hv_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		fprintf(stderr, "hvblob-fuse: no hvblob serve daemon at %s (%s)\n", sock_path, strerror(errno));
		if (s >= 0)
			close(s);
		fuse_reply_err(req, ENXIO);
		return;
	}
	struct hvbd_msg m = { HVBD_MAGIC, HVBD_VERSION, HVBD_OPEN, tgid_of(ctx->pid), ctx->pid,
			      (uint64_t)(unsigned)fi->flags, 0 };
	int r = exchange(s, &m);
	if (r == 0 && m.tid_or_result != 0)
		r = -m.tid_or_result;
	struct open_file *f = r == 0 ? calloc(1, sizeof(*f)) : NULL;
	if (r == 0 && !f)
		r = -ENOMEM;
	if (r < 0) {
		close(s);
		fuse_reply_err(req, -r);
		return;
	}
	f->sock = s;
	pthread_mutex_init(&f->lock, NULL);
	fi->fh = (uint64_t)(uintptr_t)f;
	fi->direct_io = 1;
	fi->nonseekable = 1;
	if (fuse_reply_open(req, fi) != 0) {
		close(s);
		free(f);
	}
}

static void hv_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	struct open_file *f = (struct open_file *)(uintptr_t)fi->fh;
	close(f->sock);
	pthread_mutex_destroy(&f->lock);
	free(f);
	fuse_reply_err(req, 0);
}

static void hv_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg, struct fuse_file_info *fi,
		     unsigned flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	(void)ino;
	(void)in_buf;
	(void)in_bufsz;
	if (flags & FUSE_IOCTL_COMPAT) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	struct open_file *f = (struct open_file *)(uintptr_t)fi->fh;
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	pid_t pid = tgid_of(ctx->pid);
	struct hvbd_msg m = { HVBD_MAGIC, HVBD_VERSION, HVBD_IOCTL, pid, ctx->pid, (uint64_t)(uintptr_t)arg, cmd };
	__atomic_add_fetch(&in_flight, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&f->lock);
	int r = exchange(f->sock, &m);
	pthread_mutex_unlock(&f->lock);
	if (r == 0 && m.tid_or_result != 0)
		r = -m.tid_or_result;
	if (r < 0) {
		fuse_reply_err(req, -r);
		__atomic_sub_fetch(&in_flight, 1, __ATOMIC_ACQ_REL);
		return;
	}
	char out[4096];
	if (out_bufsz > sizeof(out))
		out_bufsz = sizeof(out);
	if (out_bufsz > 0) {
		struct iovec local = { out, out_bufsz }, remote = { arg, out_bufsz };
		if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != (ssize_t)out_bufsz) {
			fuse_reply_err(req, EFAULT);
			__atomic_sub_fetch(&in_flight, 1, __ATOMIC_ACQ_REL);
			return;
		}
	}
	fuse_reply_ioctl(req, (int)m.a, out_bufsz ? out : NULL, out_bufsz);
	__atomic_sub_fetch(&in_flight, 1, __ATOMIC_ACQ_REL);
}

static const struct fuse_lowlevel_ops ops = {
	.getattr = hv_getattr,
	.open = hv_open,
	.release = hv_release,
	.ioctl = hv_ioctl,
};

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: hvblob-fuse PATH SOCKET\n");
		return 2;
	}
	mountpoint = argv[1];
	sock_path = argv[2];
	char *fargv[] = { argv[0], "-o", "allow_other", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(getuid() == 0 ? 3 : 1, fargv);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se) {
		fprintf(stderr, "hvblob-fuse: fuse_session_new failed\n");
		return 1;
	}
	if (fuse_session_mount(se, mountpoint) != 0) {
		fprintf(stderr, "hvblob-fuse: cannot mount a FUSE file at %s (see the line above)\n", mountpoint);
		return 1;
	}
	signal(SIGINT, leave);
	signal(SIGTERM, leave);
	signal(SIGHUP, leave);
	signal(SIGPIPE, SIG_IGN);
	pthread_t t;
	pthread_create(&t, NULL, watch_daemon, NULL);
	printf("mounted %s\n", mountpoint);
	fflush(stdout);
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(cfg, 64);
	int r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return r < 0 ? 1 : 0;
}

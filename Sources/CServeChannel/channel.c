// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hvblob_serve_channel.h"

void hvbd_reply(struct hvbd_channel *c, int32_t result, uint64_t value)
{
	c->result = result;
	c->value = value;
	__atomic_store_n(&c->state, HVBD_REPLIED, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&c->client_waiting, __ATOMIC_SEQ_CST))
		syscall(SYS_futex, &c->state, FUTEX_WAKE, 1, NULL, NULL, 0);
}

ssize_t hvbd_recv(int s, void *buf, size_t n, int *fd)
{
	char control[CMSG_SPACE(4 * sizeof(int))];
	struct iovec iov = { buf, n };
	struct msghdr h;
	memset(&h, 0, sizeof(h));
	h.msg_iov = &iov;
	h.msg_iovlen = 1;
	h.msg_control = control;
	h.msg_controllen = sizeof(control);
	ssize_t r = recvmsg(s, &h, MSG_CMSG_CLOEXEC);
	if (r < 0)
		return r;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*fd < 0)
				*fd = got;
			else
				close(got);
		}
	}
	return r;
}

struct hvbd_channel *hvbd_map(int fd, uint64_t size)
{
	struct stat st;
	if (size != HVBD_CHANNEL_SIZE || fstat(fd, &st) != 0 || (uint64_t)st.st_size < size)
		return NULL;
	void *p = mmap(NULL, HVBD_CHANNEL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

void hvbd_unmap(struct hvbd_channel *c)
{
	munmap(c, HVBD_CHANNEL_SIZE);
}

uint64_t hvbd_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

// SPDX-License-Identifier: Apache-2.0
//
// The daemon's side of the shared-memory channel (Sources/HVBlobDevice/include/hvblob_device.h
// is the layout both sides use): atomic loads and stores of its words, the futex wake, and the
// socket reads that can carry the channel's memfd. Swift has no atomics on foreign memory
// without a package, so these few lines are C.
#ifndef HVBLOB_SERVE_CHANNEL_H
#define HVBLOB_SERVE_CHANNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../HVBlobDevice/include/hvblob_device.h"

static inline uint32_t hvbd_load(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static inline void hvbd_store(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static inline void hvbd_pause(void)
{
	__builtin_ia32_pause();
}

/* The channel's state word (offsets of struct hvbd_channel, for Swift). */
static inline uint32_t *hvbd_state(struct hvbd_channel *c) { return &c->state; }
static inline uint32_t *hvbd_client_waiting(struct hvbd_channel *c) { return &c->client_waiting; }
static inline uint32_t *hvbd_daemon_sleeping(struct hvbd_channel *c) { return &c->daemon_sleeping; }

/* Writes the reply and hands the channel back: state = HVBD_REPLIED, then FUTEX_WAKE when the
 * client said it may be waiting. */
void hvbd_reply(struct hvbd_channel *c, int32_t result, uint64_t value);

/* recvmsg into buf; a descriptor that came along (SCM_RIGHTS) goes to *fd (others are closed),
 * else *fd is left alone. The result is recvmsg's. */
ssize_t hvbd_recv(int s, void *buf, size_t n, int *fd);

/* The channel behind memfd `fd` mapped shared, or NULL (size must be HVBD_CHANNEL_SIZE). */
struct hvbd_channel *hvbd_map(int fd, uint64_t size);
void hvbd_unmap(struct hvbd_channel *c);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t hvbd_now_ns(void);

#endif

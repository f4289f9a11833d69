// SPDX-License-Identifier: Apache-2.0
//
// The wire between libhvblob-device.so (preloaded into an unmodified program) and the
// `hvblob serve` daemon: fixed 32-byte little-endian frames on a Unix stream socket, one socket
// per open file description of /dev/azure_blob. The daemon reads and writes the program's
// memory itself (process_vm_readv/process_vm_writev), so only the ioctl's command and argument
// address cross the socket. Sources/hvblob/Serve.swift speaks the other end.
//
// The fast path (version 2): right after OPEN or ATTACH the preload sends HVBD_CHANNEL with a
// memfd (SCM_RIGHTS) holding one struct hvbd_channel, mapped shared by both sides. From then
// on each ioctl is posted in the channel instead of a frame: the preload fills the request,
// sets state to HVBD_POSTED and, if the daemon said it is going to sleep (daemon_sleeping),
// sends one byte on the socket to wake it; the daemon writes the reply, sets state to
// HVBD_REPLIED and FUTEX_WAKEs the word if client_waiting. Both sides spin briefly before they
// sleep. The socket stays open as the open file's lifeline: the daemon going away is its
// hang-up, which a client asleep in FUTEX_WAIT (with a timeout) checks for; the process going
// away is the daemon's signal to release the file.
#ifndef HVBLOB_DEVICE_H
#define HVBLOB_DEVICE_H

#include <stdint.h>

#define HVBD_MAGIC 0x44425648u /* "HVBD" */
#define HVBD_VERSION 2

enum hvbd_op {
	HVBD_OPEN = 1,   /* a = open flags; reply: a = file id */
	HVBD_ATTACH = 2, /* a = file id (the child of a fork shares the parent's open file) */
	HVBD_IOCTL = 3,  /* a = argument address, b = command; reply: result */
	HVBD_CHANNEL = 4, /* a memfd rides along (SCM_RIGHTS), a = its size; reply: 0, ioctls go there */
};

enum hvbd_state {
	HVBD_IDLE = 0,
	HVBD_POSTED = 1,  /* the preload wrote a request */
	HVBD_REPLIED = 2, /* the daemon wrote the reply */
};

struct hvbd_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t op;
	int32_t pid;
	/* request: the calling thread's id; reply: 0 or a positive errno */
	int32_t tid_or_result;
	uint64_t a;
	uint64_t b;
};

_Static_assert(sizeof(struct hvbd_msg) == 32, "hvbd_msg is 32 bytes on the wire");

/* At offset 0 of the channel memfd; the words are accessed atomically, the rest is ordered by
 * state (written before a sequentially consistent store of state, read after a load of it). */
struct hvbd_channel {
	uint32_t state;           /* enum hvbd_state; the futex word the client waits on */
	uint32_t client_waiting;  /* 1: the client may be in FUTEX_WAIT on state */
	uint32_t daemon_sleeping; /* 1: the daemon may be in poll: post, then kick the socket */
	uint32_t reserved;
	int32_t pid;              /* request: the calling process */
	int32_t tid;              /* request: the calling thread */
	uint64_t arg;             /* request: the ioctl's argument address */
	uint64_t cmd;             /* request: the ioctl's command */
	int32_t result;           /* reply: 0 or a positive errno */
	uint32_t reserved2;
	uint64_t value;           /* reply: the ioctl's return value */
	uint64_t serial;          /* request: bumped by the preload for every ioctl */
};

_Static_assert(sizeof(struct hvbd_channel) == 64, "hvbd_channel is 64 bytes");

#define HVBD_CHANNEL_SIZE 4096

#endif

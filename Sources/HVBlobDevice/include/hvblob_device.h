// SPDX-License-Identifier: Apache-2.0
//
// The wire between libhvblob-device.so (preloaded into an unmodified program) and the
// `hvblob serve` daemon: fixed 32-byte little-endian frames on a Unix stream socket, one socket
// per open file description of /dev/azure_blob. The daemon reads and writes the program's
// memory itself (process_vm_readv/process_vm_writev), so only the ioctl's command and argument
// address cross the socket. Sources/hvblob/Serve.swift speaks the other end.
#ifndef HVBLOB_DEVICE_H
#define HVBLOB_DEVICE_H

#include <stdint.h>

#define HVBD_MAGIC 0x44425648u /* "HVBD" */
#define HVBD_VERSION 1

enum hvbd_op {
	HVBD_OPEN = 1,   /* a = open flags; reply: a = file id */
	HVBD_ATTACH = 2, /* a = file id (the child of a fork shares the parent's open file) */
	HVBD_IOCTL = 3,  /* a = argument address, b = command; reply: result */
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

#endif

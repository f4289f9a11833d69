/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/capability.h>: a task whose effective uid is 0 has every capability, others none. */
#ifndef _HVB_LINUX_CAPABILITY_H
#define _HVB_LINUX_CAPABILITY_H

#include "../hvb_kernel.h"
#include "uidgid.h"

#define CAP_CHOWN 0
#define CAP_DAC_OVERRIDE 1
#define CAP_DAC_READ_SEARCH 2
#define CAP_FOWNER 3
#define CAP_KILL 5
#define CAP_SETUID 7
#define CAP_NET_ADMIN 12
#define CAP_NET_RAW 13
#define CAP_IPC_LOCK 14
#define CAP_SYS_MODULE 16
#define CAP_SYS_RAWIO 17
#define CAP_SYS_PTRACE 19
#define CAP_SYS_ADMIN 21
#define CAP_SYS_BOOT 22
#define CAP_SYS_NICE 23
#define CAP_SYS_RESOURCE 24
#define CAP_SYS_TIME 25
#define CAP_MKNOD 27
#define CAP_AUDIT_WRITE 29
#define CAP_SYSLOG 34
#define CAP_PERFMON 38
#define CAP_BPF 39
#define CAP_LAST_CAP 40
#define cap_valid(x) ((x) >= 0 && (x) <= CAP_LAST_CAP)

struct file;
bool hvb_capable(int cap); /* in hvb_stub.c: needs struct cred */
static inline bool capable(int cap) { return hvb_capable(cap); }
static inline bool ns_capable(struct user_namespace *ns, int cap) { (void)ns; return hvb_capable(cap); }
static inline bool has_capability(void *t, int cap) { (void)t; return hvb_capable(cap); }
#define file_ns_capable(file, ns, cap) ((void)(file), ns_capable(ns, cap))
static inline bool perfmon_capable(void) { return hvb_capable(CAP_PERFMON) || hvb_capable(CAP_SYS_ADMIN); }

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/cred.h>: credentials. The runtime keeps one cred per uid and
 * hands the same object to every thread of that process, so f_cred == current_cred()
 * holds exactly when the caller's credentials are those the file was opened with.
 */
#ifndef _HVB_LINUX_CRED_H
#define _HVB_LINUX_CRED_H

#include "../hvb_kernel.h"
#include "capability.h"
#include "sched.h"
#include "uidgid.h"

struct cred {
	kuid_t uid, euid, suid, fsuid;
	kgid_t gid, egid, sgid, fsgid;
	struct user_namespace *user_ns;
};
static inline const struct cred *current_cred(void) { return hvb_kops->current_task()->cred; }
#define current_real_cred() current_cred()
#define get_current_cred() current_cred()
static inline const struct cred *get_cred(const struct cred *c) { return c; }
static inline void put_cred(const struct cred *c) { (void)c; }
#define current_uid() (current_cred()->uid)
#define current_gid() (current_cred()->gid)
#define current_euid() (current_cred()->euid)
#define current_egid() (current_cred()->egid)
#define current_fsuid() (current_cred()->fsuid)
#define current_fsgid() (current_cred()->fsgid)
#define current_user_ns() (&init_user_ns)
#define task_uid(t) ((t)->cred->uid)
#define task_euid(t) ((t)->cred->euid)

#endif

// SPDX-License-Identifier: Apache-2.0
/*
 * Compiled into every driver .so next to the driver: the pointer hvblob fills in, and the
 * kernel objects and helpers a driver takes the address of.
 */
#include "hvb_kernel.h"
#include "linux/compat.h"
#include "linux/cred.h"
#include "linux/fs.h"
#include "linux/uidgid.h"

HVB_EXPORT struct hvb_kops *hvb_kops;
HVB_EXPORT int hvb_shim_kver = HVB_KVER;
/* The kops layout this driver was built against (hvblob's table must be at least this). */
HVB_EXPORT int hvb_shim_kops_version = HVB_KOPS_VERSION_SHIM;

struct user_namespace init_user_ns;

long compat_ptr_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	return file->f_op->unlocked_ioctl(file, cmd, arg);
}

bool hvb_capable(int cap)
{
	(void)cap;
	return uid_eq(current_cred()->euid, GLOBAL_ROOT_UID);
}

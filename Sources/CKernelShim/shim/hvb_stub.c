// SPDX-License-Identifier: Apache-2.0
/*
 * Compiled into every driver .so next to the driver: the pointer hvblob fills in, and the
 * kernel helpers a driver takes the address of.
 */
#include "hvb_kernel.h"

HVB_EXPORT struct hvb_kops *hvb_kops;
HVB_EXPORT int hvb_shim_kver = HVB_KVER;

long compat_ptr_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	return file->f_op->unlocked_ioctl(file, cmd, arg);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/miscdevice.h>: misc character devices (/dev/<name>); open sets private_data to the miscdevice. */
#ifndef _HVB_LINUX_MISCDEVICE_H
#define _HVB_LINUX_MISCDEVICE_H

#include "../hvb_kernel.h"
#include "device.h"
#include "fs.h"
#include "list.h"

#define MISC_DYNAMIC_MINOR 255
struct attribute_group;
struct miscdevice {
	int minor;
	const char *name;
	const struct file_operations *fops;
	struct list_head list;
	struct device *parent;
	struct device *this_device;
	const struct attribute_group **groups;
	const char *nodename;
	umode_t mode;
};
static inline int misc_register(struct miscdevice *m) { return hvb_kops->misc_register(m); }
static inline void misc_deregister(struct miscdevice *m) { hvb_kops->misc_deregister(m); }
#define module_misc_device(m)                                                   \
	static int __init m##_init(void) { return misc_register(&(m)); }       \
	static void __exit m##_exit(void) { misc_deregister(&(m)); }           \
	module_init(m##_init);                                                 \
	module_exit(m##_exit)

#endif

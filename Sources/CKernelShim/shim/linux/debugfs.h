/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/debugfs.h>: debugfs directories and files (the harness reads them). */
#ifndef _HVB_LINUX_DEBUGFS_H
#define _HVB_LINUX_DEBUGFS_H

#include "../hvb_kernel.h"
#include "err.h"
#include "fs.h"
#include "seq_file.h"

struct dentry {
	char name[64];
	struct dentry *parent;
	void *data;
	const struct file_operations *fops;
	int is_dir;
	int live;
	int refs;
	/* the shim's: which offered device's probe created it (slot + 1), 0 for module init */
	int hvb_device;
};
static inline struct dentry *debugfs_create_dir(const char *name, struct dentry *parent)
{
	return hvb_kops->debugfs_create(name, parent, 0, 0, 1);
}
static inline struct dentry *debugfs_create_file(const char *name, umode_t mode, struct dentry *parent, void *data,
						 const struct file_operations *fops)
{
	(void)mode;
	return hvb_kops->debugfs_create(name, parent, data, fops, 0);
}
#define debugfs_create_file_unsafe debugfs_create_file
static inline struct dentry *debugfs_lookup(const char *name, struct dentry *parent)
{
	return hvb_kops->debugfs_lookup(name, parent);
}
static inline void debugfs_remove_recursive(struct dentry *d) { hvb_kops->debugfs_remove(d); }
static inline void debugfs_remove(struct dentry *d) { hvb_kops->debugfs_remove(d); }
static inline void dput(struct dentry *d) { if (d && !IS_ERR(d) && d->refs > 0) d->refs--; }
static inline bool debugfs_initialized(void) { return true; }

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/fs.h>: files, inodes and file operations, and the simple_* helpers. */
#ifndef _HVB_LINUX_FS_H
#define _HVB_LINUX_FS_H

#include "../hvb_kernel.h"
#include "cred.h"
#include "errno.h"
#include "fcntl.h"
#include "ioctl.h"
#include "kernel.h"
#include "list.h"
#include "mutex.h"
#include "rwsem.h"
#include "slab.h"
#include "stat.h"
#include "uaccess.h"
#include "uidgid.h"
#include "uio.h"
#include "uuid.h"
#include "wait.h"
#include "workqueue.h"

struct module;
struct poll_table_struct;
struct vm_area_struct;
struct kiocb;
struct dir_context;
struct inode {
	void *i_private;
	umode_t i_mode;
	dev_t i_rdev;
	loff_t i_size;
};
struct file_operations {
	struct module *owner;
	loff_t (*llseek)(struct file *, loff_t, int);
	ssize_t (*read)(struct file *, char __user *, size_t, loff_t *);
	ssize_t (*write)(struct file *, const char __user *, size_t, loff_t *);
	ssize_t (*read_iter)(struct kiocb *, struct iov_iter *);
	ssize_t (*write_iter)(struct kiocb *, struct iov_iter *);
	__poll_t (*poll)(struct file *, struct poll_table_struct *);
	long (*unlocked_ioctl)(struct file *, unsigned int, unsigned long);
	long (*compat_ioctl)(struct file *, unsigned int, unsigned long);
	int (*mmap)(struct file *, struct vm_area_struct *);
	int (*open)(struct inode *, struct file *);
	int (*flush)(struct file *, void *id);
	int (*release)(struct inode *, struct file *);
	int (*fsync)(struct file *, loff_t, loff_t, int datasync);
	int (*fasync)(int, struct file *, int);
};
#define FMODE_READ 0x1U
#define FMODE_WRITE 0x2U
#define FMODE_LSEEK 0x4U
#define FMODE_PREAD 0x8U
#define FMODE_PWRITE 0x10U
#define FMODE_STREAM 0x200000U
struct file {
	void *private_data;
	const struct cred *f_cred;
	const struct file_operations *f_op;
	struct inode *f_inode;
	unsigned int f_flags;
	fmode_t f_mode;
	loff_t f_pos;
};
/* compat_ptr_ioctl (5.5+): in hvb_stub.c, as drivers take its address. */
long compat_ptr_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
static inline struct inode *file_inode(const struct file *f) { return f->f_inode; }
static inline unsigned int iminor(const struct inode *i) { return (unsigned int)(i->i_rdev & 0xfffff); }
static inline unsigned int imajor(const struct inode *i) { return (unsigned int)(i->i_rdev >> 20); }
static inline int nonseekable_open(struct inode *i, struct file *f)
{
	(void)i;
	f->f_mode &= ~(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE);
	return 0;
}
static inline int stream_open(struct inode *i, struct file *f)
{
	(void)i;
	f->f_mode &= ~(FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE);
	f->f_mode |= FMODE_STREAM;
	return 0;
}
static inline int simple_open(struct inode *i, struct file *f)
{
	if (i->i_private)
		f->private_data = i->i_private;
	return 0;
}
static inline loff_t noop_llseek(struct file *f, loff_t o, int w) { (void)w; return f ? f->f_pos : o; }
static inline loff_t no_llseek(struct file *f, loff_t o, int w) { (void)f; (void)o; (void)w; return -ESPIPE; }
static inline loff_t default_llseek(struct file *f, loff_t o, int w) { (void)f; (void)w; return o; }
static inline ssize_t simple_read_from_buffer(void __user *to, size_t count, loff_t *ppos, const void *from,
					      size_t available)
{
	loff_t pos = *ppos;
	size_t n;

	if (pos < 0)
		return -EINVAL;
	if ((size_t)pos >= available || !count)
		return 0;
	n = available - (size_t)pos;
	if (n > count)
		n = count;
	if (copy_to_user(to, (const char *)from + pos, n))
		return -EFAULT;
	*ppos = pos + (loff_t)n;
	return (ssize_t)n;
}
static inline ssize_t simple_write_to_buffer(void *to, size_t available, loff_t *ppos, const void __user *from,
					     size_t count)
{
	loff_t pos = *ppos;
	size_t res;

	if (pos < 0)
		return -EINVAL;
	if ((size_t)pos >= available || !count)
		return 0;
	if (count > available - (size_t)pos)
		count = available - (size_t)pos;
	res = copy_from_user((char *)to + pos, from, count);
	if (res == count)
		return -EFAULT;
	count -= res;
	*ppos = pos + (loff_t)count;
	return (ssize_t)count;
}

#endif

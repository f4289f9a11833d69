/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/seq_file.h>: single_open-style seq files (the iterator form is not modelled). */
#ifndef _HVB_LINUX_SEQ_FILE_H
#define _HVB_LINUX_SEQ_FILE_H

#include "../hvb_kernel.h"
#include "fs.h"

struct seq_file {
	char *buf;
	size_t size;
	size_t count;
	void *private;
};
static inline int single_open(struct file *f, int (*show)(struct seq_file *, void *), void *data)
{
	return hvb_kops->single_open(f, show, data);
}
static inline int single_open_size(struct file *f, int (*show)(struct seq_file *, void *), void *data, size_t size)
{
	(void)size;
	return hvb_kops->single_open(f, show, data);
}
static inline int single_release(struct inode *inode, struct file *f) { return hvb_kops->single_release(inode, f); }
#define seq_release single_release
static inline ssize_t seq_read(struct file *f, char __user *b, size_t n, loff_t *p) { (void)f; (void)b; (void)n; (void)p; return 0; }
static inline loff_t seq_lseek(struct file *f, loff_t o, int w) { (void)f; (void)w; return o; }
static inline __printf(2, 3) void seq_printf(struct seq_file *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hvb_kops->seq_vprintf(m, fmt, ap);
	va_end(ap);
}
static inline void seq_vprintf(struct seq_file *m, const char *fmt, va_list ap) { hvb_kops->seq_vprintf(m, fmt, ap); }
static inline void seq_puts(struct seq_file *m, const char *s) { seq_printf(m, "%s", s); }
static inline void seq_putc(struct seq_file *m, char c) { seq_printf(m, "%c", c); }
static inline void seq_write(struct seq_file *m, const void *data, size_t len)
{
	if (m->count + len < m->size) {
		memcpy(m->buf + m->count, data, len);
		m->count += len;
	}
}
static inline bool seq_has_overflowed(struct seq_file *m) { return m->count + 1 >= m->size; }
#define DEFINE_SHOW_ATTRIBUTE(__name)                                            \
	static int __name##_open(struct inode *inode, struct file *file)          \
	{                                                                         \
		return single_open(file, __name##_show, inode->i_private);        \
	}                                                                         \
	static const struct file_operations __name##_fops = {                     \
		.owner = THIS_MODULE,                                             \
		.open = __name##_open,                                            \
		.read = seq_read,                                                 \
		.llseek = seq_lseek,                                              \
		.release = single_release,                                        \
	}

#endif

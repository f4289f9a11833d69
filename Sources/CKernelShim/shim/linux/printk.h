/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/printk.h>: printk and pr_*, into hvblob's log. */
#ifndef _HVB_LINUX_PRINTK_H
#define _HVB_LINUX_PRINTK_H

#include "../hvb_kernel.h"

#define KERN_SOH "\001"
#define KERN_EMERG KERN_SOH "0"
#define KERN_ALERT KERN_SOH "1"
#define KERN_CRIT KERN_SOH "2"
#define KERN_ERR KERN_SOH "3"
#define KERN_WARNING KERN_SOH "4"
#define KERN_NOTICE KERN_SOH "5"
#define KERN_INFO KERN_SOH "6"
#define KERN_DEBUG KERN_SOH "7"
#define KERN_DEFAULT ""
#define KERN_CONT KERN_SOH "c"
#define LOGLEVEL_ERR 3
#define LOGLEVEL_WARNING 4
#define LOGLEVEL_INFO 6
#define LOGLEVEL_DEBUG 7

#define HVB_LOG_ERR 3
#define HVB_LOG_WARN 4
#define HVB_LOG_INFO 6
#define HVB_LOG_DBG 7

static inline __printf(3, 4) void hvb_dev_log(const struct device *d, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hvb_kops->dev_log(d, level, fmt, ap);
	va_end(ap);
}
/* printk(KERN_ERR "..."): the level from the SOH prefix (default: warning). */
static inline __printf(1, 2) int printk(const char *fmt, ...)
{
	va_list ap;
	int level = 4;

	if (fmt[0] == '\001' && fmt[1]) {
		if (fmt[1] >= '0' && fmt[1] <= '7')
			level = fmt[1] - '0';
		fmt += 2;
	}
	va_start(ap, fmt);
	hvb_kops->dev_log(NULL, level, fmt, ap);
	va_end(ap);
	return 0;
}
static inline int vprintk(const char *fmt, va_list ap)
{
	hvb_kops->dev_log(NULL, 4, fmt, ap);
	return 0;
}

#ifndef pr_fmt
#define pr_fmt(fmt) fmt
#endif
#define pr_emerg(fmt, ...) hvb_dev_log(NULL, 0, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_alert(fmt, ...) hvb_dev_log(NULL, 1, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_crit(fmt, ...) hvb_dev_log(NULL, 2, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_err(fmt, ...) hvb_dev_log(NULL, HVB_LOG_ERR, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warn(fmt, ...) hvb_dev_log(NULL, HVB_LOG_WARN, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_warning pr_warn
#define pr_notice(fmt, ...) hvb_dev_log(NULL, 5, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_info(fmt, ...) hvb_dev_log(NULL, HVB_LOG_INFO, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_debug(fmt, ...) hvb_dev_log(NULL, HVB_LOG_DBG, pr_fmt(fmt), ##__VA_ARGS__)
#define pr_devel pr_debug
#define pr_cont(fmt, ...) hvb_dev_log(NULL, HVB_LOG_INFO, fmt, ##__VA_ARGS__)
#define no_printk(fmt, ...) ({ if (0) hvb_dev_log(NULL, HVB_LOG_DBG, fmt, ##__VA_ARGS__); 0; })
#define pr_err_ratelimited pr_err
#define pr_warn_ratelimited pr_warn
#define pr_info_ratelimited pr_info
#define pr_debug_ratelimited pr_debug
#define pr_err_once pr_err
#define pr_warn_once pr_warn
#define pr_info_once pr_info
#define pr_debug_once pr_debug
#define printk_ratelimit() 1
#define dump_stack() hvb_kops->report("guest.dump-stack", "dump_stack() called")

#endif

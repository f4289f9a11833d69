/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/dev_printk.h>: dev_* messages, prefixed with the device name. */
#ifndef _HVB_LINUX_DEV_PRINTK_H
#define _HVB_LINUX_DEV_PRINTK_H

#include "printk.h"

struct device;
/*
 * The device of a dev_* message, checked at the driver's call: one in freed memory (an
 * hv_device the VMBus core freed after rescind and remove) is guest.use-after-free there.
 */
#define hvb_dev_live(d)                                                                          \
	({                                                                                       \
		const struct device *_hvb_d = (d);                                               \
		_hvb_d && hvb_poisoned(_hvb_d, 8) && hvb_kops->check_access(_hvb_d, 8, "dev_printk") ? \
			NULL : _hvb_d;                                                           \
	})
#define dev_emerg(d, ...) hvb_dev_log(hvb_dev_live(d), 0, __VA_ARGS__)
#define dev_crit(d, ...) hvb_dev_log(hvb_dev_live(d), 2, __VA_ARGS__)
#define dev_alert(d, ...) hvb_dev_log(hvb_dev_live(d), 1, __VA_ARGS__)
#define dev_err(d, ...) hvb_dev_log(hvb_dev_live(d), HVB_LOG_ERR, __VA_ARGS__)
#define dev_warn(d, ...) hvb_dev_log(hvb_dev_live(d), HVB_LOG_WARN, __VA_ARGS__)
#define dev_notice(d, ...) hvb_dev_log(hvb_dev_live(d), 5, __VA_ARGS__)
#define dev_info(d, ...) hvb_dev_log(hvb_dev_live(d), HVB_LOG_INFO, __VA_ARGS__)
#define dev_dbg(d, ...) hvb_dev_log(hvb_dev_live(d), HVB_LOG_DBG, __VA_ARGS__)
#define dev_vdbg(d, ...) hvb_dev_log(hvb_dev_live(d), HVB_LOG_DBG, __VA_ARGS__)
#define dev_printk(level, d, ...) hvb_dev_log(hvb_dev_live(d), HVB_LOG_INFO, __VA_ARGS__)
#define dev_err_ratelimited dev_err
#define dev_warn_ratelimited dev_warn
#define dev_info_ratelimited dev_info
#define dev_dbg_ratelimited dev_dbg
#define dev_err_once dev_err
#define dev_warn_once dev_warn
#define dev_info_once dev_info
#define dev_dbg_once dev_dbg
#define dev_WARN(d, ...) ({ hvb_dev_log(hvb_dev_live(d), HVB_LOG_WARN, __VA_ARGS__); hvb_kops->report("guest.warn-on", "dev_WARN fired"); })
#define dev_WARN_ONCE(d, c, ...) ({ int _c = !!(c); if (_c) dev_WARN(d, __VA_ARGS__); _c; })
/* dev_err_probe (5.9+): logs unless -EPROBE_DEFER, returns err. */
#define dev_err_probe(d, err, ...) ({ int _e = (err); if (_e != -517) dev_err(d, __VA_ARGS__); _e; })

#endif

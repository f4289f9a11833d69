/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/device.h>: devices, drivers, driver data and device-managed
 * resources. devm_* memory and actions are released, newest first, when the device goes:
 * after the driver's remove, or when its probe fails, as the driver core does.
 */
#ifndef _HVB_LINUX_DEVICE_H
#define _HVB_LINUX_DEVICE_H

#include "../hvb_kernel.h"
#include "dev_printk.h"
#include "err.h"
#include "gfp.h"
#include "kref.h"
#include "list.h"
#include "mutex.h"
#include "slab.h"
#include "string.h"
#include "types.h"
#include "workqueue.h"

struct module;
struct device_driver {
	const char *name;
	struct module *owner;
	int probe_type;
	bool suppress_bind_attrs;
};
enum probe_type {
	PROBE_DEFAULT_STRATEGY,
	PROBE_PREFER_ASYNCHRONOUS,
	PROBE_FORCE_SYNCHRONOUS,
};
struct device {
	char name[64];
	void *driver_data;
	struct device *parent;
	struct device_driver *driver;
};
static inline const char *dev_name(const struct device *d) { return d->name; }
static inline void *dev_get_drvdata(const struct device *d)
{
	/* a freed hv_device (after rescind and remove) is quarantined memory */
	hvb_check_live(d, "dev_get_drvdata");
	return d->driver_data;
}
static inline void dev_set_drvdata(struct device *d, void *data) { d->driver_data = data; }
static inline struct device *get_device(struct device *d) { return d; }
static inline void put_device(struct device *d) { (void)d; }
static inline int dev_to_node(struct device *d) { (void)d; return -1; }

static inline void *devm_kmalloc(struct device *d, size_t n, gfp_t f)
{
	if (gfpflags_allow_blocking(f))
		hvb_kops->sleep_check("devm_kmalloc");
	return hvb_kops->devm_kmalloc(d, n, f, (f & __GFP_ZERO) != 0, "devm_kmalloc");
}
static inline void *devm_kzalloc(struct device *d, size_t n, gfp_t f) { return devm_kmalloc(d, n, f | __GFP_ZERO); }
static inline void *devm_kmalloc_array(struct device *d, size_t n, size_t s, gfp_t f)
{
	size_t b;

	return __builtin_mul_overflow(n, s, &b) ? NULL : devm_kmalloc(d, b, f);
}
static inline void *devm_kcalloc(struct device *d, size_t n, size_t s, gfp_t f) { return devm_kmalloc_array(d, n, s, f | __GFP_ZERO); }
static inline void devm_kfree(struct device *d, const void *p) { hvb_kops->devm_kfree(d, p); }
static inline char *devm_kstrdup(struct device *d, const char *s, gfp_t f)
{
	size_t l;
	char *p;

	if (!s)
		return NULL;
	l = strlen(s) + 1;
	p = (char *)devm_kmalloc(d, l, f);
	if (p)
		memcpy(p, s, l);
	return p;
}
static inline void *devm_kmemdup(struct device *d, const void *src, size_t len, gfp_t f)
{
	void *p = devm_kmalloc(d, len, f);

	if (p)
		memcpy(p, src, len);
	return p;
}
static inline int devm_add_action(struct device *d, void (*action)(void *), void *data)
{
	return hvb_kops->devm_add_action(d, action, data);
}
/* On failure the action runs at once, as devm_add_action_or_reset() does. */
static inline int devm_add_action_or_reset(struct device *d, void (*action)(void *), void *data)
{
	int ret = hvb_kops->devm_add_action(d, action, data);

	if (ret)
		action(data);
	return ret;
}
static inline void devm_remove_action(struct device *d, void (*action)(void *), void *data)
{
	hvb_kops->devm_remove_action(d, action, data, 0);
}
static inline void devm_release_action(struct device *d, void (*action)(void *), void *data)
{
	hvb_kops->devm_remove_action(d, action, data, 1);
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/module.h>: module entry points and metadata. As the kernel's
 * module.h does, it brings in most of the core API (lists, locks, wait queues, work, RCU,
 * kref, module parameters).
 */
#ifndef _HVB_LINUX_MODULE_H
#define _HVB_LINUX_MODULE_H

#include "../hvb_kernel.h"
#include "compiler.h"
#include "completion.h"
#include "export.h"
#include "init.h"
#include "kernel.h"
#include "kref.h"
#include "list.h"
#include "moduleparam.h"
#include "mutex.h"
#include "rcupdate.h"
#include "rwsem.h"
#include "spinlock.h"
#include "stat.h"
#include "types.h"
#include "wait.h"
#include "workqueue.h"

struct module;
#define module_init(fn) HVB_EXPORT int (*hvb_module_init_fn)(void) = fn
#define module_exit(fn) HVB_EXPORT void (*hvb_module_exit_fn)(void) = fn
#define MODULE_LICENSE(x)
#define MODULE_DESCRIPTION(x)
#define MODULE_AUTHOR(x)
#define MODULE_VERSION(x)
#define MODULE_ALIAS(x)
#define MODULE_SOFTDEP(x)
#define MODULE_INFO(tag, info)
#define MODULE_FIRMWARE(x)
#define MODULE_IMPORT_NS(ns)
#define MODULE_DEVICE_TABLE(type, name)
#define KBUILD_MODFILE KBUILD_MODNAME
#ifndef KBUILD_MODNAME
#define KBUILD_MODNAME "hv_azure_blob"
#endif
static inline bool try_module_get(struct module *m) { (void)m; return true; }
static inline void module_put(struct module *m) { (void)m; }
#define __module_get(m) ((void)(m))

#endif

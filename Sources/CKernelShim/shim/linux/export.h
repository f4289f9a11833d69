/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/export.h>: symbol exports (a loaded driver exports nothing to others). */
#ifndef _HVB_LINUX_EXPORT_H
#define _HVB_LINUX_EXPORT_H

#define EXPORT_SYMBOL(x)
#define EXPORT_SYMBOL_GPL(x)
#define EXPORT_SYMBOL_NS(x, ns)
#define EXPORT_SYMBOL_NS_GPL(x, ns)
#define THIS_MODULE ((struct module *)0)

#endif

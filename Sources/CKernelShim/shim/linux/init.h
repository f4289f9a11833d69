/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/init.h>: section annotations (no-ops; see compiler.h) and the initcall entry points. */
#ifndef _HVB_LINUX_INIT_H
#define _HVB_LINUX_INIT_H

#include "compiler.h"

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/highmem.h>. Mapping a pinned user page into the kernel (kmap)
 * is not modelled: the page's contents live in the simulated guest, not in this process.
 */
#ifndef _HVB_LINUX_HIGHMEM_H
#define _HVB_LINUX_HIGHMEM_H

#include "mm.h"

#endif

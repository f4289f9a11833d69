/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/pagemap.h> (the page cache is not modelled; it brings in mm.h and friends). */
#ifndef _HVB_LINUX_PAGEMAP_H
#define _HVB_LINUX_PAGEMAP_H

#include "fs.h"
#include "highmem.h"
#include "list.h"
#include "mm.h"
#include "uio.h"

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/spinlock.h> */
#include "../hvb_kernel.h"

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/slab.h> */
#include "../hvb_kernel.h"

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/ktime.h> */
#include "../hvb_kernel.h"

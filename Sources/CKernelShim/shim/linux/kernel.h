/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/kernel.h> */
#include "../hvb_kernel.h"

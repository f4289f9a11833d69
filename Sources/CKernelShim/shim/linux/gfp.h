/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/gfp.h> */
#include "../hvb_kernel.h"

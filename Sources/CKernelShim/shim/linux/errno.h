/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/errno.h> */
#include "../hvb_kernel.h"

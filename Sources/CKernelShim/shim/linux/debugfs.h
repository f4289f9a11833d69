/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/debugfs.h> */
#include "../hvb_kernel.h"

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/fs.h> */
#include "../hvb_kernel.h"

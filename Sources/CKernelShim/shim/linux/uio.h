/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/uio.h> */
#include "../hvb_kernel.h"

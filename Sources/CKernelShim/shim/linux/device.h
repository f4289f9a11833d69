/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/device.h> */
#include "../hvb_kernel.h"

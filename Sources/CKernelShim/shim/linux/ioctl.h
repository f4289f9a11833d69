/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/ioctl.h> */
#include "../hvb_kernel.h"

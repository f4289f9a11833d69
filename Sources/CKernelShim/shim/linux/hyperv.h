/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/hyperv.h> */
#include "../hvb_kernel.h"

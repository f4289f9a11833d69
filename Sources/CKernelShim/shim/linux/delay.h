/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/delay.h> */
#include "../hvb_kernel.h"

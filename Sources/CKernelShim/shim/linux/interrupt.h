/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/interrupt.h> */
#include "../hvb_kernel.h"

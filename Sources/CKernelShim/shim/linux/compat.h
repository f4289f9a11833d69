/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/compat.h> */
#include "../hvb_kernel.h"

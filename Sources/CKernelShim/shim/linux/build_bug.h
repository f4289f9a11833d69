/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/build_bug.h> */
#include "../hvb_kernel.h"

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/fcntl.h> */
#include "../hvb_kernel.h"

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/mod_devicetable.h> */
#include "../hvb_kernel.h"

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/cred.h> */
#include "../hvb_kernel.h"

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/version.h>: LINUX_VERSION_CODE follows HVB_KVER (hvb_kernel.h). */
#include "../hvb_kernel.h"

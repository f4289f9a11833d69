/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/seq_file.h> */
#include "../hvb_kernel.h"

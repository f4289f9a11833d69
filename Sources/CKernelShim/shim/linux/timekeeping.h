/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/timekeeping.h> (its clocks are declared with ktime_t in ktime.h). */
#include "ktime.h"

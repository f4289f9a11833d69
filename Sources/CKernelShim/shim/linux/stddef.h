/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/stddef.h> */
#ifndef _HVB_LINUX_STDDEF_H
#define _HVB_LINUX_STDDEF_H

#include <stddef.h>
#include "container_of.h"

#endif

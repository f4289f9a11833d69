/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/ioctl.h> (uapi): the encoding is in <asm/ioctl.h>. */
#ifndef _HVB_LINUX_IOCTL_H
#define _HVB_LINUX_IOCTL_H

#include "../asm/ioctl.h"

#endif

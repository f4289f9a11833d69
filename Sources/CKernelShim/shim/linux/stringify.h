/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/stringify.h> */
#ifndef _HVB_LINUX_STRINGIFY_H
#define _HVB_LINUX_STRINGIFY_H
#define __stringify_1(x...) #x
#define __stringify(x...) __stringify_1(x)
#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/poison.h> (x86-64: CONFIG_ILLEGAL_POINTER_VALUE 0xdead000000000000). */
#ifndef _HVB_LINUX_POISON_H
#define _HVB_LINUX_POISON_H

#define POISON_POINTER_DELTA 0xdead000000000000UL
#define LIST_POISON1 ((void *)(0x100 + POISON_POINTER_DELTA))
#define LIST_POISON2 ((void *)(0x122 + POISON_POINTER_DELTA))
#define TIMER_ENTRY_STATIC ((void *)(0x300 + POISON_POINTER_DELTA))
#define POISON_INUSE 0x5a
#define POISON_FREE 0x6b
#define POISON_END 0xa5

#endif

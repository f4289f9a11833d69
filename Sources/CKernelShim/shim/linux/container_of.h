/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/container_of.h>: container_of, ARRAY_SIZE, sizeof_field. */
#ifndef _HVB_LINUX_CONTAINER_OF_H
#define _HVB_LINUX_CONTAINER_OF_H

#include <stddef.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#define container_of_const(ptr, type, member) container_of(ptr, type, member)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define sizeof_field(t, f) (sizeof(((t *)0)->f))
#define FIELD_SIZEOF(t, f) sizeof_field(t, f)
#define offsetofend(t, f) (offsetof(t, f) + sizeof_field(t, f))

#endif

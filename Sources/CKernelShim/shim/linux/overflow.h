/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/overflow.h>: checked arithmetic, saturating sizes (SIZE_MAX on overflow). */
#ifndef _HVB_LINUX_OVERFLOW_H
#define _HVB_LINUX_OVERFLOW_H

#include "types.h"
#include "limits.h"

#define check_add_overflow(a, b, d) __builtin_add_overflow(a, b, d)
#define check_sub_overflow(a, b, d) __builtin_sub_overflow(a, b, d)
#define check_mul_overflow(a, b, d) __builtin_mul_overflow(a, b, d)

static inline size_t size_mul(size_t a, size_t b)
{
	size_t r;

	return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}
static inline size_t size_add(size_t a, size_t b)
{
	size_t r;

	return __builtin_add_overflow(a, b, &r) ? SIZE_MAX : r;
}
static inline size_t size_sub(size_t a, size_t b)
{
	return (a == SIZE_MAX || b == SIZE_MAX || a < b) ? SIZE_MAX : a - b;
}
#define array_size(a, b) size_mul(a, b)
#define array3_size(a, b, c) size_mul(size_mul(a, b), c)
#define flex_array_size(p, member, count) size_mul(count, sizeof(*(p)->member))
#define struct_size(p, member, count) size_add(sizeof(*(p)), size_mul(sizeof(*(p)->member), (size_t)(count)))
#define struct_size_t(type, member, count) struct_size((type *)NULL, member, count)

#endif

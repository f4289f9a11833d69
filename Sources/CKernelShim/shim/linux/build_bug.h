/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/build_bug.h>: compile-time assertions. */
#ifndef _HVB_LINUX_BUILD_BUG_H
#define _HVB_LINUX_BUILD_BUG_H

#define BUILD_BUG_ON_ZERO(e) ((int)(sizeof(struct { int : (-!!(e)); })))
#define BUILD_BUG_ON(cond) _Static_assert(!(cond), "BUILD_BUG_ON(" #cond ")")
#define BUILD_BUG_ON_MSG(cond, msg) _Static_assert(!(cond), msg)
#define BUILD_BUG_ON_NOT_POWER_OF_2(n) BUILD_BUG_ON((n) == 0 || (((n) & ((n) - 1)) != 0))
#define BUILD_BUG() BUILD_BUG_ON(1)
#define __hvb_static_assert(expr, msg, ...) _Static_assert(expr, msg)
#define static_assert(expr, ...) __hvb_static_assert(expr, ##__VA_ARGS__, #expr)

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/bug.h> (asm-generic/bug.h): WARN and BUG become findings. */
#ifndef _HVB_LINUX_BUG_H
#define _HVB_LINUX_BUG_H

#include "../hvb_kernel.h"
#include "build_bug.h"

#define WARN_ON(c) ({ int _c = !!(c); if (unlikely(_c)) hvb_kops->report("guest.warn-on", "WARN_ON(" #c ") fired"); _c; })
#define WARN_ON_ONCE(c) WARN_ON(c)
#define WARN(c, ...) ({ int _c = !!(c); if (unlikely(_c)) hvb_kops->report("guest.warn-on", "WARN(" #c ") fired"); _c; })
#define WARN_ONCE(c, ...) WARN(c, __VA_ARGS__)
#define BUG_ON(c) do { if (unlikely(c)) hvb_kops->report("guest.bug-on", "BUG_ON(" #c ") fired"); } while (0)
#define BUG() hvb_kops->report("guest.bug-on", "BUG() reached")

#endif

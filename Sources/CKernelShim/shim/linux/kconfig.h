/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/kconfig.h>: IS_ENABLED() and friends, and the configuration. */
#ifndef _HVB_LINUX_KCONFIG_H
#define _HVB_LINUX_KCONFIG_H

/*
 * As a distribution x86-64 kernel is configured. The options a driver may test are each
 * turned off by -DHVB_NO_<option> (hvblob builds a driver once more per option it tests).
 */
#ifndef HVB_NO_CONFIG_DEBUG_FS
#define CONFIG_DEBUG_FS 1
#endif
#define CONFIG_HYPERV 1
#define CONFIG_X86_64 1
#define CONFIG_X86 1
#define CONFIG_64BIT 1
#define CONFIG_SMP 1
#define CONFIG_MMU 1
#ifndef HVB_NO_CONFIG_COMPAT
#define CONFIG_COMPAT 1
#endif
#define CONFIG_PRINTK 1
#define CONFIG_MODULES 1
#define CONFIG_PAGE_SIZE_4KB 1
#define CONFIG_HZ 1000
#define CONFIG_NR_CPUS 1

/* IS_ENABLED(CONFIG_FOO): 1 when CONFIG_FOO (or CONFIG_FOO_MODULE) is defined to 1. */
#define __HVB_ARG_PLACEHOLDER_1 0,
#define __hvb_take_second_arg(ignored, val, ...) val
#define __hvb_is_defined(x) ___hvb_is_defined(x)
#define ___hvb_is_defined(val) ____hvb_is_defined(__HVB_ARG_PLACEHOLDER_##val)
#define ____hvb_is_defined(arg1_or_junk) __hvb_take_second_arg(arg1_or_junk 1, 0)
#define IS_BUILTIN(option) __hvb_is_defined(option)
#define IS_MODULE(option) __hvb_is_defined(option##_MODULE)
#define IS_REACHABLE(option) (IS_BUILTIN(option) || IS_MODULE(option))
#define IS_ENABLED(option) (IS_BUILTIN(option) || IS_MODULE(option))

#endif

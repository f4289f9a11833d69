/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/moduleparam.h>. A parameter is an exported pointer the bridge
 * finds by name (hvb_param_<name>), with its type's name (hvb_paramtype_<name>: "int",
 * "uint", "bool", "charp", ...) so a setter writes the right width.
 */
#ifndef _HVB_LINUX_MODULEPARAM_H
#define _HVB_LINUX_MODULEPARAM_H

#include "../hvb_kernel.h"

#define module_param_named(name, value, type, perm)                     \
	HVB_EXPORT void *hvb_param_##name = &(value);                   \
	HVB_EXPORT const char hvb_paramtype_##name[] = #type
#define module_param(name, type, perm) module_param_named(name, name, type, perm)
#define module_param_unsafe(name, type, perm) module_param(name, type, perm)
#define module_param_named_unsafe(name, value, type, perm) module_param_named(name, value, type, perm)
#define module_param_string(name, string, len, perm) \
	HVB_EXPORT void *hvb_param_##name = (string);   \
	HVB_EXPORT const char hvb_paramtype_##name[] = "string"
#define module_param_array_named(name, array, type, nump, perm) \
	HVB_EXPORT void *hvb_param_##name = (array);            \
	HVB_EXPORT const char hvb_paramtype_##name[] = "array of " #type
#define module_param_array(name, type, nump, perm) module_param_array_named(name, name, type, nump, perm)
#define MODULE_PARM_DESC(name, text)
#define __MODULE_INFO(tag, name, info)

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/mod_devicetable.h>: the VMBus device id. */
#ifndef _HVB_LINUX_MOD_DEVICETABLE_H
#define _HVB_LINUX_MOD_DEVICETABLE_H

#include "types.h"
#include "uuid.h"

struct hv_vmbus_device_id {
	guid_t guid;
	kernel_ulong_t driver_data;
};

#endif

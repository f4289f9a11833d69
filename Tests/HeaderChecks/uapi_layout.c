// SPDX-License-Identifier: Apache-2.0
/*
 * Prints the layout of the uapi and wire structures as the C compiler sees them, against the
 * machine's <linux/ioctl.h>, <linux/types.h> and <linux/uuid.h>. The Swift test suite compares
 * every line with the model. Output: "<struct>.<field> <offset> <size>", "sizeof <struct> <n>",
 * "ioctl <name> <hex>", "guid <name> <hex bytes>".
 */
#include <stddef.h>
#include <stdio.h>
#ifndef __packed
#define __packed __attribute__((packed))
#endif
#include <misc/hv_azure_blob.h>
#include "hv_azure_blob_vsp.h"

#define FIELD(s, f) printf(#s "." #f " %zu %zu\n", offsetof(struct s, f), sizeof(((struct s *)0)->f))

int main(void)
{
	static const guid_t device = GUID_INIT(0x0590b792, 0xdb64, 0x45cc, 0x81, 0xdb,
					       0xb8, 0xd7, 0x0c, 0x57, 0x7c, 0x9e);
	size_t i;

	printf("sizeof az_blob_request_sync %zu\n", sizeof(struct az_blob_request_sync));
	FIELD(az_blob_request_sync, guid);
	FIELD(az_blob_request_sync, timeout);
	FIELD(az_blob_request_sync, request_len);
	FIELD(az_blob_request_sync, response_len);
	FIELD(az_blob_request_sync, data_len);
	FIELD(az_blob_request_sync, data_valid);
	FIELD(az_blob_request_sync, request_buffer);
	FIELD(az_blob_request_sync, response_buffer);
	FIELD(az_blob_request_sync, data_buffer);
	FIELD(az_blob_request_sync, response.status);
	FIELD(az_blob_request_sync, response.response_len);

	printf("sizeof az_blob_vsp_request %zu\n", sizeof(struct az_blob_vsp_request));
	FIELD(az_blob_vsp_request, version);
	FIELD(az_blob_vsp_request, timeout_ms);
	FIELD(az_blob_vsp_request, data_buffer_offset);
	FIELD(az_blob_vsp_request, data_buffer_length);
	FIELD(az_blob_vsp_request, data_buffer_valid);
	FIELD(az_blob_vsp_request, operation_type);
	FIELD(az_blob_vsp_request, request_buffer_offset);
	FIELD(az_blob_vsp_request, request_buffer_length);
	FIELD(az_blob_vsp_request, response_buffer_offset);
	FIELD(az_blob_vsp_request, response_buffer_length);
	FIELD(az_blob_vsp_request, transaction_id);

	printf("sizeof az_blob_vsp_response %zu\n", sizeof(struct az_blob_vsp_response));
	FIELD(az_blob_vsp_response, length);
	FIELD(az_blob_vsp_response, error);
	FIELD(az_blob_vsp_response, response_len);

	printf("ioctl IOCTL_AZ_BLOB_DRIVER_USER_REQUEST %#x\n", (unsigned int)IOCTL_AZ_BLOB_DRIVER_USER_REQUEST);
	printf("const AZ_BLOB_DRIVER_USER_REQUEST %#x\n", AZ_BLOB_DRIVER_USER_REQUEST);
	printf("const AZ_BLOB_DRIVER_REGISTER_BUFFER %#x\n", AZ_BLOB_DRIVER_REGISTER_BUFFER);
	printf("const AZ_BLOB_DRIVER_DEREGISTER_BUFFER %#x\n", AZ_BLOB_DRIVER_DEREGISTER_BUFFER);
	printf("const AZ_BLOB_VSP_PROTOCOL_VERSION_V1 %#x\n", AZ_BLOB_VSP_PROTOCOL_VERSION_V1);
	printf("guid HV_AZURE_BLOB_GUID ");
	for (i = 0; i < sizeof(device.b); i++)
		printf("%02x", device.b[i]);
	printf("\n");
	return 0;
}

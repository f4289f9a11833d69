/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Azure Blob VSC <-> VSP wire messages. Packed, little-endian, shared by the driver and by
 * hvblob's layout checks (which compile it in user space too, hence the __u32/__le32 types).
 */
#ifndef _HV_AZURE_BLOB_VSP_H
#define _HV_AZURE_BLOB_VSP_H

#include <linux/types.h>

/* Operation codes (az_blob_vsp_request.operation_type). */
#define AZ_BLOB_DRIVER_USER_REQUEST		0x100
#define AZ_BLOB_DRIVER_REGISTER_BUFFER		0x101
#define AZ_BLOB_DRIVER_DEREGISTER_BUFFER	0x102

/* The VSP protocol version this driver speaks. */
#define AZ_BLOB_VSP_PROTOCOL_VERSION_V1		0

/* VSC -> VSP: the in-band payload after the one-range MPB descriptor. */
struct az_blob_vsp_request {
	__le32 version;
	__le32 timeout_ms;
	__le32 data_buffer_offset;	/* relative to the start of the range */
	__le32 data_buffer_length;
	__le32 data_buffer_valid;
	__le32 operation_type;
	__le32 request_buffer_offset;
	__le32 request_buffer_length;
	__le32 response_buffer_offset;
	__le32 response_buffer_length;
	__u8 transaction_id[16];	/* the caller's transaction GUID */
} __packed;

/* VSP -> VSC: the completion payload. */
struct az_blob_vsp_response {
	__le32 length;
	__le32 error;
	__le32 response_len;
} __packed;

#endif /* _HV_AZURE_BLOB_VSP_H */

/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * User-space interface of the Azure Blob VSC (/dev/azure_blob).
 *
 * Layout-compatible with the interface posted in "[Patch v5 2/3] Drivers: hv: add Azure Blob
 * driver" (2021): same structure, same ioctl number. hvblob checks every offset against its
 * model in the test suite.
 */
#ifndef _UAPI_MISC_HV_AZURE_BLOB_H
#define _UAPI_MISC_HV_AZURE_BLOB_H

#include <linux/ioctl.h>
#include <linux/uuid.h>
#include <linux/types.h>

/* Written back by the driver when the host has completed the request. */
struct az_blob_request_sync_response {
	__u32 status;		/* the host's status for the request */
	__u32 response_len;	/* valid bytes in the response buffer */
};

struct az_blob_request_sync {
	guid_t guid;		/* transaction GUID, passed to the host verbatim */
	__u32 timeout;		/* milliseconds, passed to the host */
	__u32 request_len;
	__u32 response_len;
	__u32 data_len;		/* 0: no data buffer */
	__u32 data_valid;	/* bytes of the data buffer holding data (uploads) */
	__aligned_u64 request_buffer;
	__aligned_u64 response_buffer;
	__aligned_u64 data_buffer;
	struct az_blob_request_sync_response response;
};

#define AZ_BLOB_MAGIC_NUMBER	'R'
#define IOCTL_AZ_BLOB_DRIVER_USER_REQUEST \
	_IOWR(AZ_BLOB_MAGIC_NUMBER, 0xf0, struct az_blob_request_sync)

#endif /* _UAPI_MISC_HV_AZURE_BLOB_H */

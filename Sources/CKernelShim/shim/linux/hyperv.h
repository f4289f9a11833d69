/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hvblob kernel shim: <linux/hyperv.h>: the VMBus driver API, over hvblob's simulated
 * channel. Era facts (see hvb_kernel.h):
 *   5.10  struct vmbus_requestor, channel->rqstor_size; vmbus_next_request_id() and
 *         vmbus_request_addr() take &channel->requestor
 *   5.14  both take the channel; channel->next_request_id_callback / request_addr_callback
 *   5.18  VMBUS_RQST_ADDR_ANY, VMBUS_RQST_ID_NO_RESPONSE (vmbus_request_addr_match(),
 *         vmbus_sendpacket_getid(): see MISSING)
 *   6.3   hv_driver.remove returns void
 * struct vmbus_channel has the same layout in every era (the runtime allocates it): a member
 * an era lacks is there under a reserved name.
 */
#ifndef _HVB_LINUX_HYPERV_H
#define _HVB_LINUX_HYPERV_H

#include "../hvb_kernel.h"
#include "completion.h"
#include "device.h"
#include "interrupt.h"
#include "limits.h"
#include "list.h"
#include "mm.h"
#include "mod_devicetable.h"
#include "timer.h"
#include "types.h"
#include "uuid.h"

#define HV_HYP_PAGE_SHIFT 12
#define HV_HYP_PAGE_SIZE 4096
#define HV_HYP_PAGE_MASK (~(HV_HYP_PAGE_SIZE - 1))
#define NR_HV_HYP_PAGES_IN_PAGE (PAGE_SIZE / HV_HYP_PAGE_SIZE)
#define page_to_hvpfn(p) (page_to_pfn(p) * NR_HV_HYP_PAGES_IN_PAGE)
#define virt_to_hvpfn(v) ((u64)(uintptr_t)(v) >> HV_HYP_PAGE_SHIFT)

#define VMBUS_DEFAULT_MAX_PKT_SIZE 4096
#define VMBUS_PKT_TRAILER 8
#define VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED 1
#define VMBUS_NO_RQSTOR U64_MAX
#define VMBUS_RQST_ERROR (U64_MAX - 1)
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 18, 0)
#define VMBUS_RQST_ADDR_ANY U64_MAX
#define VMBUS_RQST_ID_NO_RESPONSE (U64_MAX - 2)
#else
#define VMBUS_RQST_INIT (U64_MAX - 2)
#define VMBUS_RQST_RESET (U64_MAX - 3)
#endif

enum vmbus_packet_type {
	VM_PKT_INVALID = 0x0,
	VM_PKT_SYNCH = 0x1,
	VM_PKT_ADD_XFER_PAGESET = 0x2,
	VM_PKT_RM_XFER_PAGESET = 0x3,
	VM_PKT_ESTABLISH_GPADL = 0x4,
	VM_PKT_TEARDOWN_GPADL = 0x5,
	VM_PKT_DATA_INBAND = 0x6,
	VM_PKT_DATA_USING_XFER_PAGES = 0x7,
	VM_PKT_DATA_USING_GPADL = 0x8,
	VM_PKT_DATA_USING_GPA_DIRECT = 0x9,
	VM_PKT_CANCEL_REQUEST = 0xa,
	VM_PKT_COMP = 0xb,
	VM_PKT_DATA_USING_ADDITIONAL_PKT = 0xc,
	VM_PKT_ADDITIONAL_DATA = 0xd
};

struct vmpacket_descriptor {
	u16 type;
	u16 offset8;
	u16 len8;
	u16 flags;
	u64 trans_id;
} __packed;

struct hv_mpb_array {
	u32 len;
	u32 offset;
	u64 pfn_array[];
};

struct vmbus_packet_mpb_array {
	u16 type;
	u16 dataoffset8;
	u16 length8;
	u16 flags;
	u64 transactionid;
	u32 reserved;
	u32 rangecount;
	struct hv_mpb_array range;
} __packed;

struct vmbus_requestor {
	u64 *req_arr;
	unsigned long *req_bitmap;
	u32 size;
	u64 next_request_id;
	spinlock_t req_lock;
};

struct hv_device;
struct vmbus_channel_offer_channel {
	u32 child_relid;
};
struct vmbus_channel {
	struct hv_device *device_obj;
	struct vmbus_channel_offer_channel offermsg;
	u32 rqstor_size;
	struct vmbus_requestor requestor;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 14, 0)
	u64 (*next_request_id_callback)(struct vmbus_channel *channel, u64 rqst_addr);
	u64 (*request_addr_callback)(struct vmbus_channel *channel, u64 rqst_id);
#else
	u64 (*__hvb_reserved_next_request_id_callback)(struct vmbus_channel *channel, u64 rqst_addr);
	u64 (*__hvb_reserved_request_addr_callback)(struct vmbus_channel *channel, u64 rqst_id);
#endif
	bool rescind;
	void (*onchannel_callback)(void *context);
	void *channel_callback_context;
	u32 max_pkt_size;
	u32 pkt_len;
	u8 pkt_buffer[VMBUS_DEFAULT_MAX_PKT_SIZE] __aligned(8);
};

struct hv_device {
	struct device device;
	struct vmbus_channel *channel;
	guid_t dev_type;
	guid_t dev_instance;
	u16 vendor_id;
	u16 device_id;
};
#define device_to_hv_device(d) container_of(d, struct hv_device, device)

struct hv_driver {
	const char *name;
	bool hvsock;
	guid_t dev_type;
	const struct hv_vmbus_device_id *id_table;
	struct device_driver driver;
	int (*probe)(struct hv_device *, const struct hv_vmbus_device_id *);
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	void (*remove)(struct hv_device *);
#else
	int (*remove)(struct hv_device *);
#endif
	void (*shutdown)(struct hv_device *);
	int (*suspend)(struct hv_device *);
	int (*resume)(struct hv_device *);
};
#define drv_to_hv_drv(d) container_of(d, struct hv_driver, driver)

/* The device class GUID, as the posted series added it to hyperv.h. */
#ifndef HV_AZURE_BLOB_GUID
#define HV_AZURE_BLOB_GUID \
	.guid = GUID_INIT(0x0590b792, 0xdb64, 0x45cc, 0x81, 0xdb, 0xb8, 0xd7, 0x0c, 0x57, 0x7c, 0x9e)
#endif

static inline void *hv_get_drvdata(struct hv_device *d) { return dev_get_drvdata(&d->device); }
static inline void hv_set_drvdata(struct hv_device *d, void *p) { dev_set_drvdata(&d->device, p); }
static inline int vmbus_open(struct vmbus_channel *c, u32 send, u32 recv, void *ud, u32 udlen,
			     void (*cb)(void *), void *ctx)
{
	hvb_kops->sleep_check("vmbus_open");
	return hvb_kops->vmbus_open(c, send, recv, ud, udlen, cb, ctx);
}
static inline void vmbus_close(struct vmbus_channel *c)
{
	hvb_kops->sleep_check("vmbus_close");
	hvb_kops->vmbus_close(c);
}
static inline int vmbus_sendpacket_mpb_desc(struct vmbus_channel *c, struct vmbus_packet_mpb_array *desc,
					    u32 desc_size, void *buffer, u32 bufferlen, u64 requestid)
{
	return hvb_kops->sendpacket_mpb_desc(c, desc, desc_size, buffer, bufferlen, requestid);
}
#if LINUX_VERSION_CODE < KERNEL_VERSION(5, 14, 0)
static inline u64 vmbus_request_addr(struct vmbus_requestor *r, u64 id)
{
	return hvb_kops->request_addr(container_of(r, struct vmbus_channel, requestor), id);
}
static inline u64 vmbus_next_request_id(struct vmbus_requestor *r, u64 addr)
{
	return hvb_kops->next_request_id(container_of(r, struct vmbus_channel, requestor), addr);
}
#else
static inline u64 vmbus_request_addr(struct vmbus_channel *c, u64 id) { return hvb_kops->request_addr(c, id); }
static inline u64 vmbus_next_request_id(struct vmbus_channel *c, u64 addr) { return hvb_kops->next_request_id(c, addr); }
#endif
static inline struct vmpacket_descriptor *hv_pkt_iter_first(struct vmbus_channel *c) { return hvb_kops->pkt_iter_first(c); }
static inline struct vmpacket_descriptor *hv_pkt_iter_next(struct vmbus_channel *c, const struct vmpacket_descriptor *d)
{
	return hvb_kops->pkt_iter_next(c, d);
}
static inline void hv_pkt_iter_close(struct vmbus_channel *c) { hvb_kops->pkt_iter_close(c); }
#define foreach_vmbus_pkt(pkt, channel) \
	for (pkt = hv_pkt_iter_first(channel); pkt; pkt = hv_pkt_iter_next(channel, pkt))
static inline void *hv_pkt_data(const struct vmpacket_descriptor *d) { return (void *)((unsigned long)d + (d->offset8 << 3)); }
static inline u32 hv_pkt_len(const struct vmpacket_descriptor *d) { return d->len8 << 3; }
static inline u32 hv_pkt_datalen(const struct vmpacket_descriptor *d) { return (d->len8 << 3) - (d->offset8 << 3); }
#define vmbus_driver_register(drv) hvb_kops->driver_register(drv)
static inline void vmbus_driver_unregister(struct hv_driver *drv) { hvb_kops->driver_unregister(drv); }

#endif

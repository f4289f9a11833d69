// SPDX-License-Identifier: GPL-2.0-only
/*
 * Azure Blob VSC: a fast path from user space to Azure Blob storage through
 * the Hyper-V host.
 *
 * User space hands /dev/azure_blob three buffers (request, response, data) in
 * one ioctl. The driver pins their pages and sends one GPA-direct VMBus packet
 * whose single range lists the data pages, then the request pages, then the
 * response pages; the VSP on the host performs the Blob call, writes the
 * response (and, for a download, the data) into those pages and completes the
 * packet by its request id.
 *
 * Written for hvblob to the protocol of the driver posted in 2021 ("[Patch v5
 * 2/3] Drivers: hv: add Azure Blob driver"), wire- and uapi-compatible with
 * it, with what its review and a careful reading found fixed:
 *
 * - remove() and an ioctl from a file still open after rescind race: the
 *   ioctl checks dev->removing, queues the request and sends it all under
 *   the lock remove() sets the flag under, so nothing is sent once remove()
 *   may close the channel (even after its bounded drain gave up);
 * - completions are checked (packet type, length, request id) before use,
 *   and the host's response_len is bounded by the caller's;
 * - pages are pinned with the intent each buffer needs: the host only reads
 *   the request buffer and writes the response and data buffers;
 * - every device gets its own misc name and debugfs directory;
 * - remove() never waits forever: after a bounded drain it closes the channel
 *   (from then on the host no longer touches the pages of any request) and
 *   fails what is left with -ENODEV; only then are those pages released;
 * - a caller killed while it waits for the host returns at once: its request
 *   context lives on the heap, shared (kref) between the caller and the
 *   channel, and keeps its pages pinned until the host completes the request
 *   or remove() has closed the channel.
 *
 * Capture (off by default): with capture_kib set, each device records what
 * it sends and receives in hvblob's capture format and serves it as a pcapng
 * file at /sys/kernel/debug/azure_blob/<device>/capture, so traffic from a
 * real VM can be replayed against a model or another driver.
 */

#include <linux/build_bug.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/debugfs.h>
#include <linux/hyperv.h>
#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <uapi/misc/hv_azure_blob.h>

#include "hv_azure_blob_vsp.h"

/* Pages one request may hand the host: all three buffers, 32 MiB. */
#define AZ_BLOB_MAX_PAGES	8192
/* Each ring, header page included. */
#define AZ_BLOB_RING_SIZE	(128 * 1024)
/* Requests in flight per device: the request-id table's size. */
#define AZ_BLOB_QUEUE_DEPTH	1024
/* How long remove() waits for the host to complete what is in flight. */
#define AZ_BLOB_DRAIN_TIMEOUT	(10 * HZ)
/* Capture: the largest buffer a device may use, and request bytes kept. */
#define AZ_BLOB_CAPTURE_MAX_KIB	(64 * 1024)
#define AZ_BLOB_CAPTURE_REQUEST	512

static unsigned int capture_kib;
module_param(capture_kib, uint, 0444);
MODULE_PARM_DESC(capture_kib,
		 "Capture buffer per device in KiB (0: capture off, the default)");

static_assert(sizeof(struct az_blob_request_sync) == 72);
static_assert(offsetof(struct az_blob_request_sync, request_buffer) == 40);
static_assert(offsetof(struct az_blob_request_sync, response) == 64);
static_assert(sizeof(struct az_blob_vsp_request) == 56);
static_assert(offsetof(struct az_blob_vsp_request, operation_type) == 20);
static_assert(offsetof(struct az_blob_vsp_request, transaction_id) == 40);
static_assert(sizeof(struct az_blob_vsp_response) == 12);
static_assert(offsetof(struct az_blob_vsp_response, response_len) == 8);
static_assert(sizeof(struct vmbus_packet_mpb_array) == 32);
static_assert(IOCTL_AZ_BLOB_DRIVER_USER_REQUEST == 0xc04852f0);

struct az_blob_device {
	struct kref kref;
	/* Freed by the VMBus core after rescind and remove: not used after remove. */
	struct hv_device *hdev;
	/* The channel's relid, for capture records made after remove. */
	u32 relid;
	struct miscdevice misc;
	char name[24];
	int id;
	struct dentry *debugfs;

	/* Protects pending_requests and removing. */
	spinlock_t request_lock;
	struct list_head pending_requests;
	wait_queue_head_t waiting_to_drain;
	bool removing;
	/* Requests released by the channel callback, freed by reap_work. */
	spinlock_t reap_lock;
	struct list_head reaped;
	struct work_struct reap_work;

	/* Capture records (pcapng Enhanced Packet Blocks), under cap_lock. */
	spinlock_t cap_lock;
	u8 *cap_buf;
	size_t cap_len;
	size_t cap_size;
	u64 cap_dropped;
};

/* hvblob capture record kinds (Sources/HVBlob/Capture/CaptureRecord.swift). */
enum az_blob_cap_kind {
	AZ_BLOB_CAP_RING_PACKET = 1,
	AZ_BLOB_CAP_IOCTL_CALL = 2,
	AZ_BLOB_CAP_IOCTL_RETURN = 3,
	AZ_BLOB_CAP_RESCIND = 5,
	AZ_BLOB_CAP_OPEN = 6,
	AZ_BLOB_CAP_CLOSE = 7,
	AZ_BLOB_CAP_GUEST_READ = 8,
	AZ_BLOB_CAP_RELEASE = 9,
	AZ_BLOB_CAP_REMOVE = 10,
};

#define AZ_BLOB_CAP_GUEST_TO_HOST	0
#define AZ_BLOB_CAP_HOST_TO_GUEST	1
#define AZ_BLOB_CAP_NO_DIRECTION	0xff
/* The request id is assigned inside the send: not known to the driver. */
#define AZ_BLOB_CAP_ID_UNKNOWN		0x02

struct az_blob_cap_record {
	u8 version;
	u8 kind;
	u8 direction;
	u8 flags;
	__le32 channel;
	__le32 ring_before;
	__le32 ring_after;
	__le32 pid;
	__le32 body_len;
} __packed;
static_assert(sizeof(struct az_blob_cap_record) == 24);

struct az_blob_cap_piece {
	const void *data;
	u32 len;
};

/* One buffer of a request, pinned. */
struct az_blob_pinned {
	struct page **pages;
	unsigned int nr_pages;
	unsigned int offset;	/* of the buffer in its first page */
	bool write;		/* pinned for the host to write */
};

enum { AZ_BLOB_DATA, AZ_BLOB_REQUEST, AZ_BLOB_RESPONSE, AZ_BLOB_BUFFERS };

/*
 * One request, from the ioctl to the host's completion. Two references: the
 * caller's, until it stops waiting (the completion, or a fatal signal), and
 * the channel's, from the send until the host completes the request or
 * remove() fails it after closing the channel. The host may touch the pages
 * while the channel's reference is held; the last put unpins them.
 */
struct az_blob_request_ctx {
	struct kref kref;
	/* On dev->pending_requests from the send to the last put. */
	struct list_head list;
	/* On dev->reaped when the channel callback dropped the last reference. */
	struct list_head reap;
	struct az_blob_device *dev;
	struct completion wait_vsp;
	struct az_blob_request_sync request;
	struct az_blob_pinned b[AZ_BLOB_BUFFERS];
	/*
	 * Set by the completion, or by remove() with result -ENODEV once the
	 * channel is closed: the channel's reference is then dropped.
	 */
	bool answered;
	u32 status;
	u32 response_len;
	int result;
};

static DEFINE_IDA(az_blob_ida);
static struct dentry *az_blob_debugfs_root;

static void az_blob_release(struct kref *kref)
{
	struct az_blob_device *dev =
		container_of(kref, struct az_blob_device, kref);

	ida_free(&az_blob_ida, dev->id);
	kvfree(dev->cap_buf);
	kfree(dev);
}

static void az_blob_put(struct az_blob_device *dev)
{
	kref_put(&dev->kref, az_blob_release);
}

static void az_blob_put_le32(u8 **p, u32 v)
{
	__le32 le = cpu_to_le32(v);

	memcpy(*p, &le, sizeof(le));
	*p += sizeof(le);
}

/*
 * Appends one record as a pcapng Enhanced Packet Block: interface 0, a
 * nanosecond timestamp, the 24-byte record header, then the pieces of its
 * body. A record that does not fit is counted and dropped: the buffer is
 * never reallocated, so capture costs a bounded amount of memory.
 */
static void az_blob_cap(struct az_blob_device *dev, u8 kind, u8 direction,
			u8 rflags, const struct az_blob_cap_piece *piece,
			unsigned int n)
{
	struct az_blob_cap_record rec = {
		.version = 1,
		.kind = kind,
		.direction = direction,
		.flags = rflags,
		.channel = cpu_to_le32(dev->relid),
		.pid = cpu_to_le32(task_tgid_vnr(current)),
	};
	u64 now = ktime_get_ns();
	unsigned long flags;
	u32 body = 0, data, total;
	unsigned int i;
	u8 *p;

	if (!dev->cap_buf)
		return;
	for (i = 0; i < n; i++)
		body += piece[i].len;
	rec.body_len = cpu_to_le32(body);
	data = sizeof(rec) + body;
	total = 32 + ALIGN(data, 4);

	spin_lock_irqsave(&dev->cap_lock, flags);
	if (dev->cap_len + total > dev->cap_size) {
		dev->cap_dropped++;
		spin_unlock_irqrestore(&dev->cap_lock, flags);
		return;
	}
	p = dev->cap_buf + dev->cap_len;
	az_blob_put_le32(&p, 6);
	az_blob_put_le32(&p, total);
	az_blob_put_le32(&p, 0);
	az_blob_put_le32(&p, upper_32_bits(now));
	az_blob_put_le32(&p, lower_32_bits(now));
	az_blob_put_le32(&p, data);
	az_blob_put_le32(&p, data);
	memcpy(p, &rec, sizeof(rec));
	p += sizeof(rec);
	for (i = 0; i < n; i++) {
		/* An empty piece may have no buffer at all. */
		if (!piece[i].len)
			continue;
		memcpy(p, piece[i].data, piece[i].len);
		p += piece[i].len;
	}
	memset(p, 0, ALIGN(data, 4) - data);
	p += ALIGN(data, 4) - data;
	az_blob_put_le32(&p, total);
	dev->cap_len += total;
	spin_unlock_irqrestore(&dev->cap_lock, flags);
}

static void az_blob_cap_event(struct az_blob_device *dev, u8 kind)
{
	az_blob_cap(dev, kind, AZ_BLOB_CAP_NO_DIRECTION, 0, NULL, 0);
}

/* The ioctl's argument as user space passed it, and its request bytes. */
static void az_blob_cap_call(struct az_blob_device *dev, unsigned int cmd,
			     const void __user *argp,
			     const struct az_blob_request_sync *r)
{
	struct {
		__le32 cmd;
		__le32 zero;
		__le64 arg;
	} head = {
		.cmd = cpu_to_le32(cmd),
		.arg = cpu_to_le64((uintptr_t)argp),
	};
	u32 n = min_t(u32, r->request_len, AZ_BLOB_CAPTURE_REQUEST);
	struct az_blob_cap_piece piece[3] = {
		{ &head, sizeof(head) }, { r, sizeof(*r) }, { NULL, 0 },
	};
	u8 *text;

	if (!dev->cap_buf)
		return;
	text = kmalloc(n, GFP_KERNEL);
	if (text && !copy_from_user(text, u64_to_user_ptr(r->request_buffer),
				    n)) {
		piece[2].data = text;
		piece[2].len = n;
	}
	az_blob_cap(dev, AZ_BLOB_CAP_IOCTL_CALL, AZ_BLOB_CAP_NO_DIRECTION, 0,
		    piece, 3);
	kfree(text);
}

static void az_blob_cap_return(struct az_blob_device *dev, int ret,
			       u32 status, u32 response_len)
{
	__le32 body[3] = {
		cpu_to_le32((u32)ret), cpu_to_le32(status),
		cpu_to_le32(response_len),
	};
	struct az_blob_cap_piece piece = { body, sizeof(body) };

	az_blob_cap(dev, AZ_BLOB_CAP_IOCTL_RETURN, AZ_BLOB_CAP_NO_DIRECTION, 0,
		    &piece, 1);
}

struct az_blob_cap_snapshot {
	size_t len;
	u8 data[];
};

/* pcapng Section Header and Interface Description (link type 147). */
static size_t az_blob_cap_header(u8 *p)
{
	static const char app[16] = "hv_azure_blob";
	u8 *start = p;

	az_blob_put_le32(&p, 0x0a0d0d0a);
	az_blob_put_le32(&p, 52);
	az_blob_put_le32(&p, 0x1a2b3c4d);
	az_blob_put_le32(&p, 1);		/* version 1.0 */
	az_blob_put_le32(&p, 0xffffffff);	/* section length: unknown */
	az_blob_put_le32(&p, 0xffffffff);
	az_blob_put_le32(&p, 4 | (13 << 16));	/* shb_userappl */
	memcpy(p, app, sizeof(app));
	p += sizeof(app);
	az_blob_put_le32(&p, 0);		/* opt_endofopt */
	az_blob_put_le32(&p, 52);

	az_blob_put_le32(&p, 1);
	az_blob_put_le32(&p, 32);
	az_blob_put_le32(&p, 147);		/* LINKTYPE_USER0 */
	az_blob_put_le32(&p, 0);		/* snaplen: none */
	az_blob_put_le32(&p, 9 | (1 << 16));	/* if_tsresol: 10^-9 */
	az_blob_put_le32(&p, 9);
	az_blob_put_le32(&p, 0);
	az_blob_put_le32(&p, 32);
	return p - start;
}

static int az_blob_cap_open(struct inode *inode, struct file *file)
{
	struct az_blob_device *dev = inode->i_private;
	struct az_blob_cap_snapshot *snap;
	unsigned long flags;
	size_t len;

	if (!dev->cap_buf)
		return -ENODATA;
	snap = kvmalloc(sizeof(*snap) + 84 + dev->cap_size, GFP_KERNEL);
	if (!snap)
		return -ENOMEM;
	len = az_blob_cap_header(snap->data);
	spin_lock_irqsave(&dev->cap_lock, flags);
	memcpy(snap->data + len, dev->cap_buf, dev->cap_len);
	len += dev->cap_len;
	if (dev->cap_dropped)
		dev_warn_ratelimited(&dev->hdev->device,
				     "capture: %llu records dropped (capture_kib %u)\n",
				     dev->cap_dropped, capture_kib);
	spin_unlock_irqrestore(&dev->cap_lock, flags);
	snap->len = len;
	file->private_data = snap;
	return 0;
}

static ssize_t az_blob_cap_read(struct file *file, char __user *buf,
				size_t count, loff_t *ppos)
{
	struct az_blob_cap_snapshot *snap = file->private_data;

	return simple_read_from_buffer(buf, count, ppos, snap->data, snap->len);
}

static int az_blob_cap_release(struct inode *inode, struct file *file)
{
	kvfree(file->private_data);
	return 0;
}

static const struct file_operations az_blob_cap_fops = {
	.owner = THIS_MODULE,
	.open = az_blob_cap_open,
	.read = az_blob_cap_read,
	.release = az_blob_cap_release,
	.llseek = default_llseek,
};

static int az_blob_fop_open(struct inode *inode, struct file *file)
{
	struct az_blob_device *dev =
		container_of(file->private_data, struct az_blob_device, misc);

	kref_get(&dev->kref);
	return 0;
}

static int az_blob_fop_release(struct inode *inode, struct file *file)
{
	struct az_blob_device *dev =
		container_of(file->private_data, struct az_blob_device, misc);

	az_blob_cap_event(dev, AZ_BLOB_CAP_RELEASE);
	az_blob_put(dev);
	return 0;
}

/* Pins [addr, addr + len); -EFAULT unless every page could be pinned. */
static int az_blob_pin(u64 addr, u32 len, bool write, struct az_blob_pinned *p)
{
	unsigned long start = addr & PAGE_MASK;
	int pinned;

	p->offset = offset_in_page(addr);
	p->nr_pages = DIV_ROUND_UP(p->offset + (u64)len, PAGE_SIZE);
	p->write = write;
	p->pages = kvcalloc(p->nr_pages, sizeof(*p->pages), GFP_KERNEL);
	if (!p->pages)
		return -ENOMEM;

	pinned = pin_user_pages_fast(start, p->nr_pages, write ? FOLL_WRITE : 0,
				     p->pages);
	if (pinned == p->nr_pages)
		return 0;

	if (pinned > 0)
		unpin_user_pages(p->pages, pinned);
	kvfree(p->pages);
	p->pages = NULL;
	p->nr_pages = 0;
	return pinned < 0 ? pinned : -EFAULT;
}

static void az_blob_unpin(struct az_blob_pinned *p)
{
	if (!p->pages)
		return;
	if (p->write)
		unpin_user_pages_dirty_lock(p->pages, p->nr_pages, true);
	else
		unpin_user_pages(p->pages, p->nr_pages);
	kvfree(p->pages);
	p->pages = NULL;
}

/*
 * The last reference, dropped in process context: off the pending list (the
 * drain in remove() waits for it to be empty), unpinned and freed.
 */
static void az_blob_ctx_release(struct kref *kref)
{
	struct az_blob_request_ctx *ctx =
		container_of(kref, struct az_blob_request_ctx, kref);
	struct az_blob_device *dev = ctx->dev;
	unsigned long flags;
	unsigned int i;

	spin_lock_irqsave(&dev->request_lock, flags);
	list_del(&ctx->list);
	if (list_empty(&dev->pending_requests))
		wake_up(&dev->waiting_to_drain);
	spin_unlock_irqrestore(&dev->request_lock, flags);
	for (i = 0; i < AZ_BLOB_BUFFERS; i++)
		az_blob_unpin(&ctx->b[i]);
	kfree(ctx);
}

/*
 * The last reference, dropped by the channel callback (the caller was killed
 * and is gone): unpinning dirty pages may sleep, so reap_work releases it.
 */
static void az_blob_ctx_release_atomic(struct kref *kref)
{
	struct az_blob_request_ctx *ctx =
		container_of(kref, struct az_blob_request_ctx, kref);
	struct az_blob_device *dev = ctx->dev;
	unsigned long flags;

	spin_lock_irqsave(&dev->reap_lock, flags);
	list_add_tail(&ctx->reap, &dev->reaped);
	spin_unlock_irqrestore(&dev->reap_lock, flags);
	schedule_work(&dev->reap_work);
}

static void az_blob_reap(struct work_struct *work)
{
	struct az_blob_device *dev =
		container_of(work, struct az_blob_device, reap_work);
	struct az_blob_request_ctx *ctx, *tmp;
	unsigned long flags;
	LIST_HEAD(reaped);

	spin_lock_irqsave(&dev->reap_lock, flags);
	list_splice_init(&dev->reaped, &reaped);
	spin_unlock_irqrestore(&dev->reap_lock, flags);
	list_for_each_entry_safe(ctx, tmp, &reaped, reap)
		az_blob_ctx_release(&ctx->kref);
}

/*
 * Completions from the host. Nothing in the packet is trusted: the type and
 * the request id are checked before the id is used, the length before the
 * payload is read.
 */
static void az_blob_on_channel_callback(void *context)
{
	struct vmbus_channel *channel = context;
	struct device *device = &channel->device_obj->device;
	struct az_blob_device *dev = hv_get_drvdata(channel->device_obj);
	const struct vmpacket_descriptor *desc;
	bool read = false;

	foreach_vmbus_pkt(desc, channel) {
		const struct az_blob_vsp_response *resp;
		struct az_blob_request_ctx *ctx;
		struct az_blob_cap_piece piece = { desc, hv_pkt_len(desc) };
		u64 addr;

		read = true;
		if (dev)
			az_blob_cap(dev, AZ_BLOB_CAP_RING_PACKET,
				    AZ_BLOB_CAP_HOST_TO_GUEST, 0, &piece, 1);

		if (desc->type != VM_PKT_COMP || !desc->trans_id) {
			dev_warn_ratelimited(device,
					     "ignoring packet type %u id %llu\n",
					     desc->type, desc->trans_id);
			continue;
		}

		addr = vmbus_request_addr(channel, desc->trans_id);
		if (addr == VMBUS_RQST_ERROR || !addr) {
			dev_warn_ratelimited(device,
					     "completion for unknown request id %llu\n",
					     desc->trans_id);
			continue;
		}
		ctx = (struct az_blob_request_ctx *)(uintptr_t)addr;

		/*
		 * The id is ours and still live: the channel's reference
		 * keeps ctx until the put below, even when its caller was
		 * killed and is gone.
		 */
		if (hv_pkt_datalen(desc) < sizeof(*resp)) {
			dev_warn_ratelimited(device,
					     "short completion (%u bytes) for request id %llu\n",
					     hv_pkt_datalen(desc), desc->trans_id);
			ctx->result = -EIO;
		} else {
			resp = hv_pkt_data(desc);
			ctx->status = le32_to_cpu(resp->error);
			ctx->response_len = min(le32_to_cpu(resp->response_len),
						ctx->request.response_len);
		}
		ctx->answered = true;
		complete(&ctx->wait_vsp);
		kref_put(&ctx->kref, az_blob_ctx_release_atomic);
	}
	if (read && dev)
		az_blob_cap(dev, AZ_BLOB_CAP_GUEST_READ, AZ_BLOB_CAP_HOST_TO_GUEST,
			    0, NULL, 0);
}

static void az_blob_add_pfns(u64 *pfns, unsigned int *at,
			     const struct az_blob_pinned *p)
{
	unsigned int i;

	for (i = 0; i < p->nr_pages; i++)
		pfns[(*at)++] = page_to_hvpfn(p->pages[i]);
}

/* Checks the lengths (PROTOCOL: rules 3 to 5) before anything is pinned. */
static int az_blob_check_lengths(const struct az_blob_request_sync *r)
{
	const u64 limit = (u64)PAGE_SIZE * AZ_BLOB_MAX_PAGES;

	if (!r->request_len || !r->response_len)
		return -EINVAL;
	if (r->data_len && r->data_len < r->data_valid)
		return -EINVAL;
	if (r->data_len > limit || r->request_len > limit ||
	    r->response_len > limit)
		return -EINVAL;
	return 0;
}

/*
 * Builds the packet: one range of data, request and response pages, then the
 * in-band request with each buffer's offset inside that range.
 */
static struct vmbus_packet_mpb_array *
az_blob_build(const struct az_blob_request_sync *r,
	      const struct az_blob_pinned *b, u32 *desc_size,
	      struct az_blob_vsp_request *vsp)
{
	unsigned int total = b[AZ_BLOB_DATA].nr_pages +
			     b[AZ_BLOB_REQUEST].nr_pages +
			     b[AZ_BLOB_RESPONSE].nr_pages;
	u32 before_request = b[AZ_BLOB_DATA].nr_pages * PAGE_SIZE;
	u32 before_response = before_request +
			      b[AZ_BLOB_REQUEST].nr_pages * PAGE_SIZE;
	struct vmbus_packet_mpb_array *desc;
	unsigned int at = 0;

	*desc_size = struct_size(desc, range.pfn_array, total);
	desc = kvzalloc(*desc_size, GFP_KERNEL);
	if (!desc)
		return NULL;

	/* vmbus_sendpacket_mpb_desc() sets these too; the capture needs them. */
	desc->type = VM_PKT_DATA_USING_GPA_DIRECT;
	desc->dataoffset8 = *desc_size >> 3;
	desc->length8 = (*desc_size + sizeof(*vsp)) >> 3;
	desc->flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
	desc->rangecount = 1;
	desc->range.offset = 0;
	desc->range.len = total * PAGE_SIZE;
	az_blob_add_pfns(desc->range.pfn_array, &at, &b[AZ_BLOB_DATA]);
	az_blob_add_pfns(desc->range.pfn_array, &at, &b[AZ_BLOB_REQUEST]);
	az_blob_add_pfns(desc->range.pfn_array, &at, &b[AZ_BLOB_RESPONSE]);

	memset(vsp, 0, sizeof(*vsp));
	vsp->version = cpu_to_le32(AZ_BLOB_VSP_PROTOCOL_VERSION_V1);
	vsp->timeout_ms = cpu_to_le32(r->timeout);
	vsp->operation_type = cpu_to_le32(AZ_BLOB_DRIVER_USER_REQUEST);
	if (r->data_len) {
		vsp->data_buffer_offset = cpu_to_le32(b[AZ_BLOB_DATA].offset);
		vsp->data_buffer_length = cpu_to_le32(r->data_len);
		vsp->data_buffer_valid = cpu_to_le32(r->data_valid);
	}
	vsp->request_buffer_offset =
		cpu_to_le32(b[AZ_BLOB_REQUEST].offset + before_request);
	vsp->request_buffer_length = cpu_to_le32(r->request_len);
	vsp->response_buffer_offset =
		cpu_to_le32(b[AZ_BLOB_RESPONSE].offset + before_response);
	vsp->response_buffer_length = cpu_to_le32(r->response_len);
	memcpy(vsp->transaction_id, &r->guid, sizeof(vsp->transaction_id));
	return desc;
}

/*
 * Queues ctx and sends its packet, unless remove() has begun. One critical
 * section: remove() sets `removing` under the same lock before it may close
 * the channel, so a request is either sent before that or never. (The send
 * does not sleep.) A request sent holds the channel's reference to ctx,
 * taken before the send: the host may complete it at once.
 */
static int az_blob_queue_and_send(struct az_blob_device *dev,
				  struct az_blob_request_ctx *ctx,
				  struct vmbus_packet_mpb_array *desc,
				  u32 desc_size, struct az_blob_vsp_request *vsp)
{
	unsigned long flags;
	int ret;

	kref_get(&ctx->kref);
	spin_lock_irqsave(&dev->request_lock, flags);
	if (READ_ONCE(dev->removing)) {
		ret = -ENODEV;
	} else {
		struct az_blob_cap_piece piece[2] = {
			{ desc, desc_size }, { vsp, sizeof(*vsp) },
		};

		/* Recorded first: its completion may be recorded before the send returns. */
		az_blob_cap(dev, AZ_BLOB_CAP_RING_PACKET, AZ_BLOB_CAP_GUEST_TO_HOST,
			    AZ_BLOB_CAP_ID_UNKNOWN, piece, 2);
		list_add_tail(&ctx->list, &dev->pending_requests);
		ret = vmbus_sendpacket_mpb_desc(dev->hdev->channel, desc,
						desc_size, vsp, sizeof(*vsp),
						(uintptr_t)ctx);
		if (ret)
			list_del_init(&ctx->list);
	}
	spin_unlock_irqrestore(&dev->request_lock, flags);
	/* Never the last reference: the caller holds its own. */
	if (ret)
		kref_put(&ctx->kref, az_blob_ctx_release);
	return ret;
}

static long az_blob_user_request(struct az_blob_device *dev,
				 struct file *file,
				 struct az_blob_request_sync __user *argp)
{
	struct az_blob_request_sync_response out = {};
	struct vmbus_packet_mpb_array *desc;
	struct az_blob_request_sync request;
	struct az_blob_request_ctx *ctx;
	struct az_blob_vsp_request vsp;
	u32 desc_size;
	int ret;

	if (file->f_cred != current_cred())
		return -EACCES;
	if (copy_from_user(&request, argp, sizeof(request)))
		return -EFAULT;
	az_blob_cap_call(dev, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, argp,
			 &request);
	ret = az_blob_check_lengths(&request);
	if (ret)
		goto out;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx) {
		ret = -ENOMEM;
		goto out;
	}
	kref_init(&ctx->kref);
	INIT_LIST_HEAD(&ctx->list);
	init_completion(&ctx->wait_vsp);
	ctx->dev = dev;
	ctx->request = request;

	ret = az_blob_pin(request.request_buffer, request.request_len, false,
			  &ctx->b[AZ_BLOB_REQUEST]);
	if (!ret)
		ret = az_blob_pin(request.response_buffer,
				  request.response_len, true,
				  &ctx->b[AZ_BLOB_RESPONSE]);
	if (!ret && request.data_len)
		ret = az_blob_pin(request.data_buffer, request.data_len, true,
				  &ctx->b[AZ_BLOB_DATA]);
	if (ret)
		goto put;

	if (ctx->b[AZ_BLOB_DATA].nr_pages + ctx->b[AZ_BLOB_REQUEST].nr_pages +
	    ctx->b[AZ_BLOB_RESPONSE].nr_pages > AZ_BLOB_MAX_PAGES) {
		ret = -EINVAL;
		goto put;
	}

	desc = az_blob_build(&request, ctx->b, &desc_size, &vsp);
	if (!desc) {
		ret = -ENOMEM;
		goto put;
	}
	ret = az_blob_queue_and_send(dev, ctx, desc, desc_size, &vsp);
	kvfree(desc);
	if (ret)
		goto put;

	/*
	 * A fatal signal ends the wait; the request stays with the host, and
	 * the channel's reference keeps its pages pinned until the host
	 * completes it or remove() has closed the channel.
	 */
	ret = wait_for_completion_killable(&ctx->wait_vsp);
	if (!ret)
		ret = ctx->result;
	if (!ret) {
		out.status = ctx->status;
		out.response_len = ctx->response_len;
		if (copy_to_user(&argp->response, &out, sizeof(out)))
			ret = -EFAULT;
	}
put:
	kref_put(&ctx->kref, az_blob_ctx_release);
out:
	az_blob_cap_return(dev, ret, ret ? 0 : out.status,
			   ret ? 0 : out.response_len);
	return ret;
}

static long az_blob_fop_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	struct az_blob_device *dev =
		container_of(file->private_data, struct az_blob_device, misc);

	switch (cmd) {
	case IOCTL_AZ_BLOB_DRIVER_USER_REQUEST:
		return az_blob_user_request(dev, file, (void __user *)arg);
	default:
		return -EINVAL;
	}
}

static const struct file_operations az_blob_fops = {
	.owner = THIS_MODULE,
	.open = az_blob_fop_open,
	.release = az_blob_fop_release,
	.unlocked_ioctl = az_blob_fop_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static int az_blob_pending_show(struct seq_file *m, void *v)
{
	struct az_blob_device *dev = m->private;
	struct az_blob_request_ctx *ctx;
	unsigned long flags;

	seq_puts(m, "List of pending requests\n");
	seq_puts(m, "UUID request_len response_len data_len data_valid request_buffer response_buffer data_buffer\n");
	spin_lock_irqsave(&dev->request_lock, flags);
	list_for_each_entry(ctx, &dev->pending_requests, list) {
		const struct az_blob_request_sync *r = &ctx->request;

		seq_printf(m, "%pUl %u %u %u %u %llx %llx %llx\n", &r->guid,
			   r->request_len, r->response_len, r->data_len,
			   r->data_valid, r->request_buffer, r->response_buffer,
			   r->data_buffer);
	}
	spin_unlock_irqrestore(&dev->request_lock, flags);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(az_blob_pending);

static bool az_blob_drained(struct az_blob_device *dev)
{
	unsigned long flags;
	bool empty;

	spin_lock_irqsave(&dev->request_lock, flags);
	empty = list_empty(&dev->pending_requests);
	spin_unlock_irqrestore(&dev->request_lock, flags);
	return empty;
}

/*
 * Fails every request the host has not answered, dropping the channel's
 * reference to each; only after the channel is closed (no callback runs).
 */
static void az_blob_fail_pending(struct az_blob_device *dev)
{
	struct az_blob_request_ctx *ctx;
	unsigned long flags;

again:
	spin_lock_irqsave(&dev->request_lock, flags);
	list_for_each_entry(ctx, &dev->pending_requests, list) {
		if (ctx->answered)
			continue;
		ctx->answered = true;
		ctx->result = -ENODEV;
		complete(&ctx->wait_vsp);
		spin_unlock_irqrestore(&dev->request_lock, flags);
		/* The release takes request_lock: not under it. */
		kref_put(&ctx->kref, az_blob_ctx_release);
		goto again;
	}
	spin_unlock_irqrestore(&dev->request_lock, flags);
}

static int az_blob_probe(struct hv_device *hdev,
			 const struct hv_vmbus_device_id *dev_id)
{
	struct vmbus_channel *channel = hdev->channel;
	struct az_blob_device *dev;
	int ret;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	kref_init(&dev->kref);
	spin_lock_init(&dev->request_lock);
	INIT_LIST_HEAD(&dev->pending_requests);
	init_waitqueue_head(&dev->waiting_to_drain);
	spin_lock_init(&dev->reap_lock);
	INIT_LIST_HEAD(&dev->reaped);
	INIT_WORK(&dev->reap_work, az_blob_reap);
	spin_lock_init(&dev->cap_lock);
	dev->hdev = hdev;
	dev->relid = channel->offermsg.child_relid;
	if (capture_kib) {
		dev->cap_size = (size_t)min_t(u32, capture_kib,
					      AZ_BLOB_CAPTURE_MAX_KIB) * 1024;
		dev->cap_buf = kvmalloc(dev->cap_size, GFP_KERNEL);
		if (!dev->cap_buf)
			dev->cap_size = 0;
	}

	dev->id = ida_alloc(&az_blob_ida, GFP_KERNEL);
	if (dev->id < 0) {
		ret = dev->id;
		kfree(dev);
		return ret;
	}
	if (dev->id)
		snprintf(dev->name, sizeof(dev->name), "azure_blob%d", dev->id);
	else
		strscpy(dev->name, "azure_blob", sizeof(dev->name));

	channel->rqstor_size = AZ_BLOB_QUEUE_DEPTH;
	channel->next_request_id_callback = vmbus_next_request_id;
	channel->request_addr_callback = vmbus_request_addr;
	ret = vmbus_open(channel, AZ_BLOB_RING_SIZE, AZ_BLOB_RING_SIZE, NULL, 0,
			 az_blob_on_channel_callback, channel);
	if (ret)
		goto err_put;
	hv_set_drvdata(hdev, dev);
	{
		__le32 ring = cpu_to_le32(AZ_BLOB_RING_SIZE);
		struct az_blob_cap_piece piece = { &ring, sizeof(ring) };

		az_blob_cap(dev, AZ_BLOB_CAP_OPEN, AZ_BLOB_CAP_NO_DIRECTION, 0,
			    &piece, 1);
	}

	dev->misc.minor = MISC_DYNAMIC_MINOR;
	dev->misc.name = dev->name;
	dev->misc.fops = &az_blob_fops;
	dev->misc.parent = &hdev->device;
	ret = misc_register(&dev->misc);
	if (ret)
		goto err_close;

	dev->debugfs = debugfs_create_dir(dev_name(&hdev->device),
					  az_blob_debugfs_root);
	debugfs_create_file("pending_requests", 0400, dev->debugfs, dev,
			    &az_blob_pending_fops);
	if (dev->cap_buf)
		debugfs_create_file("capture", 0400, dev->debugfs, dev,
				    &az_blob_cap_fops);
	return 0;

err_close:
	hv_set_drvdata(hdev, NULL);
	vmbus_close(channel);
err_put:
	az_blob_put(dev);
	return ret;
}

static int az_blob_remove(struct hv_device *hdev)
{
	struct az_blob_device *dev = hv_get_drvdata(hdev);
	unsigned long flags;

	if (hdev->channel->rescind)
		az_blob_cap_event(dev, AZ_BLOB_CAP_RESCIND);
	az_blob_cap_event(dev, AZ_BLOB_CAP_REMOVE);
	misc_deregister(&dev->misc);
	debugfs_remove_recursive(dev->debugfs);

	spin_lock_irqsave(&dev->request_lock, flags);
	WRITE_ONCE(dev->removing, true);
	spin_unlock_irqrestore(&dev->request_lock, flags);

	/*
	 * After a rescind the host may still complete what it was sent, but
	 * its completions no longer reach us: wait a bounded time only.
	 */
	if (!wait_event_timeout(dev->waiting_to_drain, az_blob_drained(dev),
				AZ_BLOB_DRAIN_TIMEOUT))
		dev_warn(&hdev->device,
			 "requests still pending at remove, failing them\n");

	vmbus_close(hdev->channel);
	hv_set_drvdata(hdev, NULL);
	az_blob_cap_event(dev, AZ_BLOB_CAP_CLOSE);
	az_blob_fail_pending(dev);
	/* No callback runs now: nothing queues reap_work again. */
	flush_work(&dev->reap_work);
	az_blob_put(dev);
	return 0;
}

static const struct hv_vmbus_device_id az_blob_id_table[] = {
	/* {0590b792-db64-45cc-81db-b8d70c577c9e} */
	{ .guid = GUID_INIT(0x0590b792, 0xdb64, 0x45cc, 0x81, 0xdb,
			    0xb8, 0xd7, 0x0c, 0x57, 0x7c, 0x9e) },
	{ },
};
MODULE_DEVICE_TABLE(vmbus, az_blob_id_table);

static struct hv_driver az_blob_drv = {
	.name = KBUILD_MODNAME,
	.id_table = az_blob_id_table,
	.probe = az_blob_probe,
	.remove = az_blob_remove,
	.driver = {
		.probe_type = PROBE_PREFER_ASYNCHRONOUS,
	},
};

static int __init az_blob_init(void)
{
	int ret;

	az_blob_debugfs_root = debugfs_create_dir("azure_blob", NULL);
	ret = vmbus_driver_register(&az_blob_drv);
	if (ret)
		debugfs_remove_recursive(az_blob_debugfs_root);
	return ret;
}

static void __exit az_blob_exit(void)
{
	vmbus_driver_unregister(&az_blob_drv);
	debugfs_remove_recursive(az_blob_debugfs_root);
}

module_init(az_blob_init);
module_exit(az_blob_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Microsoft Azure Blob fast path (VSC)");

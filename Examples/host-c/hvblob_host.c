// SPDX-License-Identifier: Apache-2.0
/*
 * A reference host (VSP) for the Azure Blob fast path, attached to hvblob's guest through the
 * out-of-process host interface (Docs/host-interface.md). Small on purpose: copy it and put your
 * own service behind az_backend().
 *
 *   cc -O2 -Wall -o hvblob_host hvblob_host.c
 *   hvblob guest --model --host-exec ./hvblob_host
 *
 * What it does: connects to the guest's control socket (argv[1] or $HVBLOB_HOST_SOCKET), sends
 * its OFFER, maps the guest's memory file on ATTACH and the two hv_ring_buffer rings on OPEN.
 * On each SIGNAL it drains the guest->host ring: every GPA-direct packet (type 9) is checked,
 * its az_blob_vsp_request read, the request buffer read through the PFN list, a trivial
 * in-memory blob store run, the response (and data) written back through the PFN list, and a
 * completion (type 11) with the same request id put in the host->guest ring. It publishes its
 * read index, interrupts the guest on empty -> non-empty unless interrupt_mask is set, and
 * honours pending_send_sz. After CLOSE or RESCIND it touches nothing. Every message from the
 * guest gets exactly one DONE, after everything it caused.
 *
 * Single-threaded and synchronous: all the work for a SIGNAL happens before its DONE.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PAGE_SIZE 4096u

/* ---- control messages (little-endian; this host assumes an x86-64/little-endian machine) ---- */
enum {
	MSG_ATTACH = 1, MSG_OPEN = 2, MSG_SIGNAL = 3, MSG_RUN = 4, MSG_CLOSE = 5, MSG_RESCIND = 6, MSG_DETACH = 7,
	MSG_OFFER = 16, MSG_DONE = 17, MSG_INTERRUPT = 18,
};
struct msg_hdr { uint16_t type, reserved; uint32_t length; uint64_t seq, time; };
#define MSG_MAX 4096

/* ---- VMBus ring and packets (layouts of include/linux/hyperv.h) ---- */
struct hv_ring_buffer {
	uint32_t write_index;      /* @0 */
	uint32_t read_index;       /* @4 */
	uint32_t interrupt_mask;   /* @8 */
	uint32_t pending_send_sz;  /* @12 */
	uint32_t reserved1[12];
	uint32_t feature_bits;     /* @64, bit 0: pending-send-size */
	uint8_t reserved2[PAGE_SIZE - 68];
	uint8_t buffer[];          /* @4096: the data area */
};
struct vmpacket_descriptor { uint16_t type, offset8, len8, flags; uint64_t trans_id; };
#define VM_PKT_DATA_USING_GPA_DIRECT 9
#define VM_PKT_COMP 11
struct __attribute__((packed)) mpb_header {          /* vmbus_packet_mpb_array up to the PFNs */
	struct vmpacket_descriptor d;
	uint32_t reserved, rangecount, range_len, range_offset;
};
struct __attribute__((packed)) az_blob_vsp_request {
	uint32_t version, timeout_ms, data_buffer_offset, data_buffer_length, data_buffer_valid, operation_type;
	uint32_t request_buffer_offset, request_buffer_length, response_buffer_offset, response_buffer_length;
	uint8_t transaction_id[16];
};
struct __attribute__((packed)) az_blob_vsp_response { uint32_t length, error, response_len; };
#define AZ_BLOB_USER_REQUEST 0x100
#define STATUS_SUCCESS 0
#define STATUS_UNSUCCESSFUL 0xC0000001u
#define STATUS_INVALID_PARAMETER 0xC000000Du
#define AZ_BLOB_MAX_PAGES 8192

struct ring { struct hv_ring_buffer *hdr; uint32_t dsize; };

static int sock = -1;
static uint8_t *mem;            /* the guest's memory file, mapped */
static uint64_t mem_pages, pfn_base;
static struct ring out_ring, in_ring; /* out: guest->host (we read), in: host->guest (we write) */
static int open_ok;             /* rings mapped and the channel open */

static void *page_of(uint64_t pfn)
{
	if (pfn < pfn_base || pfn - pfn_base >= mem_pages)
		return NULL;
	return mem + (pfn - pfn_base) * PAGE_SIZE;
}

static void send_msg(uint16_t type, uint64_t seq, const void *body, uint32_t n)
{
	uint8_t buf[MSG_MAX];
	struct msg_hdr h = { .type = type, .length = (uint32_t)sizeof(h) + n, .seq = seq };
	memcpy(buf, &h, sizeof(h));
	if (n)
		memcpy(buf + sizeof(h), body, n);
	if (send(sock, buf, h.length, MSG_NOSIGNAL) != (ssize_t)h.length) {
		perror("hvblob_host: send");
		exit(1);
	}
}

/* ---- ring access: copies with wrap-around ---- */
static void ring_read(struct ring *r, uint32_t off, void *dst, uint32_t n)
{
	uint32_t first = n < r->dsize - off ? n : r->dsize - off;
	memcpy(dst, r->hdr->buffer + off, first);
	memcpy((uint8_t *)dst + first, r->hdr->buffer, n - first);
}

static uint32_t ring_write(struct ring *r, uint32_t off, const void *src, uint32_t n)
{
	uint32_t first = n < r->dsize - off ? n : r->dsize - off;
	memcpy(r->hdr->buffer + off, src, first);
	memcpy(r->hdr->buffer, (const uint8_t *)src + first, n - first);
	return (off + n) % r->dsize;
}

static uint32_t bytes_to_read(uint32_t w, uint32_t rd, uint32_t dsize) { return w >= rd ? w - rd : dsize - rd + w; }

/* Puts one packet (len a multiple of 8) and its trailer into the host->guest ring, as
 * hv_ringbuffer_write() does: never fill it completely, publish write_index last, interrupt
 * only on empty -> non-empty and only when interrupt_mask is clear. 0, or -1 when full. */
static int ring_send(const void *pkt, uint32_t len)
{
	struct ring *r = &in_ring;
	uint32_t w = __atomic_load_n(&r->hdr->write_index, __ATOMIC_RELAXED);
	uint32_t rd = __atomic_load_n(&r->hdr->read_index, __ATOMIC_ACQUIRE);
	uint32_t free_bytes = r->dsize - bytes_to_read(w, rd, r->dsize);
	uint64_t trailer = (uint64_t)w << 32;
	if (free_bytes <= len + 8)
		return -1;
	uint32_t next = ring_write(r, w, pkt, len);
	next = ring_write(r, next, &trailer, 8);
	__atomic_store_n(&r->hdr->write_index, next, __ATOMIC_RELEASE);
	if (w == rd && __atomic_load_n(&r->hdr->interrupt_mask, __ATOMIC_ACQUIRE) == 0)
		send_msg(MSG_INTERRUPT, 0, NULL, 0);
	return 0;
}

static void complete(uint64_t request_id, uint32_t status, uint32_t response_len)
{
	struct { struct vmpacket_descriptor d; struct az_blob_vsp_response r; uint32_t pad; } c;
	memset(&c, 0, sizeof(c));
	c.d.type = VM_PKT_COMP;
	c.d.offset8 = sizeof(c.d) / 8;
	c.d.len8 = sizeof(c) / 8;
	c.d.trans_id = request_id;
	c.r.length = sizeof(c.r);
	c.r.error = status;
	c.r.response_len = response_len;
	if (ring_send(&c, sizeof(c)) != 0)
		fprintf(stderr, "hvblob_host: host->guest ring full, completion for request id %llu lost\n",
			(unsigned long long)request_id);
}

/* ---- guest buffers through the PFN list: [off, off + n) of the range ---- */
struct range { const uint64_t *pfn; uint32_t npfn; };

static int copy_range(struct range *g, uint32_t off, uint8_t *buf, uint32_t n, int to_guest)
{
	while (n) {
		uint32_t page = off / PAGE_SIZE, in_page = off % PAGE_SIZE;
		uint32_t k = n < PAGE_SIZE - in_page ? n : PAGE_SIZE - in_page;
		uint8_t *p = page < g->npfn ? page_of(g->pfn[page]) : NULL;
		if (!p)
			return -1;
		if (to_guest)
			memcpy(p + in_page, buf, k);
		else
			memcpy(buf, p + in_page, k);
		off += k; buf += k; n -= k;
	}
	return 0;
}

/* ---- the trivial backend: hvblob's blob-store request language (PUT/GET/DELETE/LIST) ---- */
struct blob { char name[128]; uint8_t *data; uint32_t len; };
static struct blob blobs[4096];
static int nblobs;

static struct blob *find_blob(const char *name)
{
	for (int i = 0; i < nblobs; i++)
		if (strcmp(blobs[i].name, name) == 0)
			return &blobs[i];
	return NULL;
}

/* Runs one request; writes the status line into resp (at most resp_cap bytes), returns its
 * length; *data_written is what went into the data buffer. */
static uint32_t az_backend(char *req, struct range *g, const struct az_blob_vsp_request *r,
			   char *resp, uint32_t resp_cap)
{
	char op[16] = "", name[128] = "", line[160];
	long a = -1, b = -1;
	char *nl = strchr(req, '\n');
	if (nl)
		*nl = 0;
	int n = sscanf(req, "%15s %127s %ld %ld", op, name, &a, &b);
	if (strcmp(op, "PUT") == 0 && n == 2) {
		uint32_t len = r->data_buffer_length ? r->data_buffer_valid : 0;
		struct blob *bl = find_blob(name);
		if (!bl && nblobs < (int)(sizeof(blobs) / sizeof(blobs[0]))) {
			bl = &blobs[nblobs++];
			snprintf(bl->name, sizeof(bl->name), "%s", name);
		}
		if (!bl)
			snprintf(line, sizeof(line), "BADREQUEST store full");
		else {
			uint8_t *d = malloc(len ? len : 1);
			if (!d || copy_range(g, r->data_buffer_offset, d, len, 0) != 0) {
				free(d);
				snprintf(line, sizeof(line), "BADREQUEST data");
			} else {
				free(bl->data);
				bl->data = d;
				bl->len = len;
				snprintf(line, sizeof(line), "OK %u", len);
			}
		}
	} else if (strcmp(op, "GET") == 0 && n == 4 && a >= 0 && b >= 0) {
		struct blob *bl = find_blob(name);
		if (!bl)
			snprintf(line, sizeof(line), "NOTFOUND");
		else {
			uint32_t start = (uint64_t)a < bl->len ? (uint32_t)a : bl->len;
			uint32_t k = bl->len - start;
			if ((uint64_t)b < k) k = (uint32_t)b;
			if (r->data_buffer_length < k) k = r->data_buffer_length;
			if (copy_range(g, r->data_buffer_offset, bl->data + start, k, 1) != 0)
				k = 0;
			snprintf(line, sizeof(line), "OK %u", k);
		}
	} else if (strcmp(op, "DELETE") == 0 && n == 2) {
		struct blob *bl = find_blob(name);
		if (!bl)
			snprintf(line, sizeof(line), "NOTFOUND");
		else {
			snprintf(line, sizeof(line), "OK %u", bl->len);
			free(bl->data);
			*bl = blobs[--nblobs];
		}
	} else if (strcmp(op, "LIST") == 0) {
		const char *prefix = n >= 2 ? name : "";
		uint32_t at = 0;
		for (int i = 0; i < nblobs; i++) {
			if (strncmp(blobs[i].name, prefix, strlen(prefix)) != 0)
				continue;
			uint32_t k = (uint32_t)strlen(blobs[i].name);
			if (at + (at ? 1 : 0) + k > r->data_buffer_length)
				break;
			if (at)
				copy_range(g, r->data_buffer_offset + at++, (uint8_t *)"\n", 1, 1);
			copy_range(g, r->data_buffer_offset + at, (uint8_t *)blobs[i].name, k, 1);
			at += k;
		}
		snprintf(line, sizeof(line), "OK %u", at);
	} else {
		snprintf(line, sizeof(line), "BADREQUEST unknown operation");
	}
	uint32_t len = (uint32_t)strlen(line);
	if (len > resp_cap)
		len = resp_cap;
	memcpy(resp, line, len);
	return len;
}

/* ---- one GPA-direct packet: check, read, run, write back, complete ---- */
static void handle_packet(const uint8_t *pkt, uint32_t len)
{
	const struct mpb_header *h = (const void *)pkt;
	uint64_t id = h->d.trans_id;
	uint32_t off = h->d.offset8 * 8u;
	struct az_blob_vsp_request r;
#ifdef BROKEN_CRASHES_ON_RANGECOUNT
	/* A deliberately broken host (fuzz-host's test): trusts rangecount and dies on a bad one. */
	if (len >= sizeof(*h) && h->rangecount != 1)
		abort();
#endif
	if (h->d.type != VM_PKT_DATA_USING_GPA_DIRECT || !(h->d.flags & 1) || id == 0)
		return; /* not a request this device takes, or no completion wanted: ignore */
	/* Validate in layers: the descriptor, then the range and its PFN list, then the payload. */
	if (len < sizeof(*h) || h->rangecount != 1 || h->range_offset != 0 || h->range_len % PAGE_SIZE) {
		complete(id, STATUS_INVALID_PARAMETER, 0);
		return;
	}
	uint32_t npfn = h->range_len / PAGE_SIZE;
	if (npfn == 0 || npfn > AZ_BLOB_MAX_PAGES || off < sizeof(*h) + 8u * npfn || off + sizeof(r) > len) {
		complete(id, STATUS_INVALID_PARAMETER, 0);
		return;
	}
	memcpy(&r, pkt + off, sizeof(r)); /* read the payload once */
	struct range g = { (const uint64_t *)(pkt + sizeof(*h)), npfn };
	uint64_t range = h->range_len;
	if (r.version != 0 || r.operation_type != AZ_BLOB_USER_REQUEST || r.request_buffer_length == 0 ||
	    r.response_buffer_length == 0 || r.request_buffer_length > 4096 ||
	    (uint64_t)r.request_buffer_offset + r.request_buffer_length > range ||
	    (uint64_t)r.response_buffer_offset + r.response_buffer_length > range ||
	    (uint64_t)r.data_buffer_offset + r.data_buffer_length > range ||
	    r.data_buffer_valid > r.data_buffer_length) {
		complete(id, STATUS_INVALID_PARAMETER, 0);
		return;
	}
	/* Data pages, then request pages, then response pages, no page shared by two of them:
	 * otherwise the response (or data) written back would land in the request buffer. */
	uint64_t data_end = r.data_buffer_length ? ((uint64_t)r.data_buffer_offset + r.data_buffer_length + PAGE_SIZE - 1) / PAGE_SIZE : 0;
	uint64_t req_end = ((uint64_t)r.request_buffer_offset + r.request_buffer_length + PAGE_SIZE - 1) / PAGE_SIZE;
	if ((r.data_buffer_length && r.data_buffer_offset >= PAGE_SIZE) || r.request_buffer_offset / PAGE_SIZE < data_end ||
	    r.response_buffer_offset / PAGE_SIZE < req_end) {
		complete(id, STATUS_INVALID_PARAMETER, 0);
		return;
	}
	for (uint32_t i = 0; i < npfn; i++)
		if (!page_of(g.pfn[i])) {
			complete(id, STATUS_INVALID_PARAMETER, 0);
			return;
		}
	char req[4097], resp[160];
	if (copy_range(&g, r.request_buffer_offset, (uint8_t *)req, r.request_buffer_length, 0) != 0) {
		complete(id, STATUS_INVALID_PARAMETER, 0);
		return;
	}
	req[r.request_buffer_length] = 0;
	uint32_t cap = r.response_buffer_length < sizeof(resp) ? r.response_buffer_length : sizeof(resp);
	uint32_t n = az_backend(req, &g, &r, resp, cap);
#ifdef BROKEN_WRITES_REQUEST
	/* A deliberately broken host (verify-host's test): scribbles over the request buffer. */
	copy_range(&g, r.request_buffer_offset, (uint8_t *)"XX", r.request_buffer_length < 2 ? 1 : 2, 1);
#endif
	copy_range(&g, r.response_buffer_offset, (uint8_t *)resp, n, 1);
	complete(id, STATUS_SUCCESS, n);
#ifdef BROKEN_COMPLETES_TWICE
	/* A deliberately broken host (verify-host's test): completes every request twice. */
	complete(id, STATUS_SUCCESS, n);
#endif
}

/* Drains the guest->host ring (hv_pkt_iter_* as a host does it): a packet is copied out with
 * len8 read once and checked against what the guest wrote; the read index is published once
 * at the end, and the guest is interrupted if it waits for room (pending_send_sz). */
static void drain(void)
{
	static uint8_t pkt[PAGE_SIZE * 17 + 1024]; /* 8192 PFNs + headers */
	struct ring *r = &out_ring;
	uint32_t rd = r->hdr->read_index, start = rd;
	uint32_t w = __atomic_load_n(&r->hdr->write_index, __ATOMIC_ACQUIRE);
	if (rd >= r->dsize || w >= r->dsize)
		return; /* a corrupt header: touch nothing */
	for (;;) {
		uint32_t avail = bytes_to_read(w, rd, r->dsize);
		struct vmpacket_descriptor d;
		if (avail < sizeof(d) + 8)
			break;
		ring_read(r, rd, &d, sizeof(d));
		uint32_t len = d.len8 * 8u;
		if (len < sizeof(d) || len + 8 > avail || len > sizeof(pkt))
			break; /* a len8 that lies: stop here, the rest of the ring cannot be framed */
		ring_read(r, rd, pkt, len);
		((struct vmpacket_descriptor *)pkt)->len8 = d.len8; /* the value checked, not a re-read */
		handle_packet(pkt, len);
		rd = (rd + len + 8) % r->dsize;
	}
	if (rd == start)
		return;
	uint32_t before_free = r->dsize - bytes_to_read(w, start, r->dsize);
	__atomic_store_n(&r->hdr->read_index, rd, __ATOMIC_RELEASE);
	/* pending_send_sz (the guest waits for room): interrupt when room crossed it. */
	uint32_t pending = __atomic_load_n(&r->hdr->pending_send_sz, __ATOMIC_ACQUIRE);
	if ((r->hdr->feature_bits & 1) && pending) {
		uint32_t now_free = r->dsize - bytes_to_read(w, rd, r->dsize);
		if (before_free <= pending && now_free > pending)
			send_msg(MSG_INTERRUPT, 0, NULL, 0);
	}
}

static int32_t on_attach(const uint8_t *b, uint32_t n)
{
	if (n < 48)
		return -EINVAL;
	uint32_t page_size, path_len;
	uint64_t pages;
	memcpy(&page_size, b + 4, 4);
	memcpy(&pfn_base, b + 8, 8);
	memcpy(&pages, b + 16, 8);
	memcpy(&path_len, b + 40, 4);
	if (page_size != PAGE_SIZE || path_len > n - 48 || path_len >= 1024)
		return -EINVAL;
	char path[1024];
	memcpy(path, b + 48, path_len);
	path[path_len] = 0;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	void *p = mmap(NULL, pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	mem = p;
	mem_pages = pages;
	return 0;
}

static int32_t on_open(const uint8_t *b, uint32_t n)
{
	uint32_t ring_size, ring_pages;
	uint64_t out_pfn, in_pfn;
	if (n < 24 || !mem)
		return -EINVAL;
	memcpy(&ring_size, b, 4);
	memcpy(&ring_pages, b + 4, 4);
	memcpy(&out_pfn, b + 8, 8);
	memcpy(&in_pfn, b + 16, 8);
	/* Each ring is ring_pages contiguous pages: the header page, then the data area. */
	if (ring_pages < 2 || ring_size != ring_pages * PAGE_SIZE || !page_of(out_pfn) || !page_of(out_pfn + ring_pages - 1) ||
	    !page_of(in_pfn) || !page_of(in_pfn + ring_pages - 1))
		return -EINVAL;
	out_ring = (struct ring){ page_of(out_pfn), ring_size - PAGE_SIZE };
	in_ring = (struct ring){ page_of(in_pfn), ring_size - PAGE_SIZE };
	open_ok = 1;
	return 0;
}

static void detach(void)
{
	if (mem)
		munmap(mem, mem_pages * PAGE_SIZE);
	mem = NULL;
	open_ok = 0;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : getenv("HVBLOB_HOST_SOCKET");
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (!path || strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "usage: hvblob_host SOCKET (or $HVBLOB_HOST_SOCKET)\n");
		return 2;
	}
	strcpy(a.sun_path, path);
	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&a, sizeof(a)) != 0) {
		fprintf(stderr, "hvblob_host: cannot connect to %s: %s\n", path, strerror(errno));
		return 1;
	}
	/* OFFER: version 1, flags 0 (works in real time), the device class GUID as in memory. */
	uint8_t offer[48 + 13] = { 1, 0, 0, 0, 0, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0,
		0x92, 0xb7, 0x90, 0x05, 0x64, 0xdb, 0xcc, 0x45, 0x81, 0xdb, 0xb8, 0xd7, 0x0c, 0x57, 0x7c, 0x9e };
	memcpy(offer + 48, "hvblob_host.c", 13);
	send_msg(MSG_OFFER, 0, offer, sizeof(offer));

	uint8_t buf[MSG_MAX];
	for (;;) {
		ssize_t n = recv(sock, buf, sizeof(buf), 0);
		if (n <= 0)
			break; /* the guest is gone */
		struct msg_hdr h;
		if ((size_t)n < sizeof(h))
			continue;
		memcpy(&h, buf, sizeof(h));
		const uint8_t *body = buf + sizeof(h);
		uint32_t blen = (uint32_t)n - sizeof(h);
		int32_t status = 0;
		switch (h.type) {
		case MSG_ATTACH: detach(); status = on_attach(body, blen); break;
		case MSG_OPEN: status = on_open(body, blen); break;
		case MSG_SIGNAL: if (open_ok) drain(); break;
		case MSG_RUN: break; /* this host asks for no timers */
		case MSG_CLOSE:
		case MSG_RESCIND: open_ok = 0; break; /* from here on: touch nothing */
		case MSG_DETACH: detach(); break;
		default: status = -EOPNOTSUPP;
		}
		uint32_t done[2] = { (uint32_t)status, 0 };
		send_msg(MSG_DONE, h.seq, done, sizeof(done));
	}
	detach();
	return 0;
}

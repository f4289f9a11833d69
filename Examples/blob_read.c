// SPDX-License-Identifier: Apache-2.0
//
// An unmodified fast-path client: opens /dev/azure_blob, opens a blob through the Blob
// service's JSON (hvblob's format, README "Serving /dev/azure_blob"), reads it in ranges into
// a data buffer with the three-buffer ioctl, and checks every byte against a local copy.
// No hvblob code: run it under LD_PRELOAD=libhvblob-device.so against `hvblob serve`, or
// statically linked (cc -static) against `hvblob serve --fuse PATH` with HVBLOB_DEVICE=PATH.
//
//     blob_read BLOB LOCAL_COPY [RANGE_BYTES [ROUNDS]]
//
// Exit 0: every byte matched; 1: a mismatch or an unexpected answer (printed); 2: usage.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* The reference uapi (PROTOCOL.md section 1). */
struct az_blob_request_sync_response {
	uint32_t status;
	uint32_t response_len;
};

struct az_blob_request_sync {
	uint8_t guid[16];
	uint32_t timeout;
	uint32_t request_len;
	uint32_t response_len;
	uint32_t data_len;
	uint32_t data_valid;
	uint64_t request_buffer __attribute__((aligned(8)));
	uint64_t response_buffer;
	uint64_t data_buffer;
	struct az_blob_request_sync_response response;
};

#define IOCTL_AZ_BLOB_DRIVER_USER_REQUEST _IOWR('R', 0xF0, struct az_blob_request_sync)

static int dev;
static char response[4096];
static uint64_t serial;

/* One request: JSON in, JSON out, `data` the data buffer. Returns the ioctl's result. */
static int request(const char *json, void *data, uint32_t data_len, uint32_t data_valid)
{
	struct az_blob_request_sync r;
	memset(&r, 0, sizeof(r));
	serial++;
	uint64_t pid = (uint64_t)getpid();
	memcpy(r.guid, &pid, 8);
	memcpy(r.guid + 8, &serial, 8);
	r.timeout = 30000;
	r.request_len = (uint32_t)strlen(json);
	r.response_len = sizeof(response) - 1;
	r.data_len = data_len;
	r.data_valid = data_valid;
	r.request_buffer = (uint64_t)(uintptr_t)json;
	r.response_buffer = (uint64_t)(uintptr_t)response;
	r.data_buffer = (uint64_t)(uintptr_t)data;
	memset(response, 0, sizeof(response));
	if (ioctl(dev, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, &r) < 0)
		return -errno;
	if (r.response.status != 0) {
		fprintf(stderr, "blob_read: response.status 0x%x\n", r.response.status);
		return -EIO;
	}
	response[r.response.response_len < sizeof(response) ? r.response.response_len : sizeof(response) - 1] = 0;
	return 0;
}

/* The value of "key" in the response, unescaped. */
static int field(const char *key, char *out, size_t n)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(response, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	if (*p == '"') {
		p++;
		size_t i = 0;
		while (*p && *p != '"' && i + 1 < n) {
			if (*p == '\\' && p[1])
				p++;
			out[i++] = *p++;
		}
		out[i] = 0;
	} else {
		size_t i = 0;
		while (*p && *p != ',' && *p != '}' && i + 1 < n)
			out[i++] = *p++;
		out[i] = 0;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: blob_read BLOB LOCAL_COPY [RANGE_BYTES [ROUNDS]]\n");
		return 2;
	}
	long range = argc > 3 ? atol(argv[3]) : 65536;
	long rounds = argc > 4 ? atol(argv[4]) : 1;
	FILE *f = fopen(argv[2], "rb");
	if (!f) {
		perror(argv[2]);
		return 2;
	}
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *expect = malloc(size > 0 ? size : 1);
	if (fread(expect, 1, size, f) != (size_t)size) {
		perror(argv[2]);
		return 2;
	}
	fclose(f);

	/* The device's path: /dev/azure_blob, or where HVBLOB_DEVICE says (a FUSE file). */
	const char *path = getenv("HVBLOB_DEVICE") && *getenv("HVBLOB_DEVICE") ? getenv("HVBLOB_DEVICE") : "/dev/azure_blob";
	dev = open(path, O_RDWR);
	if (dev < 0) {
		perror(path);
		return 1;
	}
	char json[1024], etag[128], token[128], handle[128], status[16];
	snprintf(json, sizeof(json), "{\"operation\":\"open\",\"path\":\"%s\"}", argv[1]);
	int e = request(json, NULL, 0, 0);
	if (e < 0 || field("status", status, sizeof(status)) < 0 || strcmp(status, "200") != 0) {
		fprintf(stderr, "blob_read: open %s: ioctl %s, response %s\n", argv[1], e < 0 ? strerror(-e) : "0", response);
		return 1;
	}
	field("eTag", etag, sizeof(etag));
	field("fastpathSessionToken", token, sizeof(token));
	field("fastpathFileHandle", handle, sizeof(handle));

	/* The data buffer: its own mapping, so the pages are the program's own. */
	unsigned char *data = mmap(NULL, range, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long reads = 0, bytes = 0;
	for (long round = 0; round < rounds; round++) {
		for (long pos = 0; pos < size; pos += range) {
			long want = size - pos < range ? size - pos : range;
			/* etag holds its quotes: escape them for the JSON string. */
			char qe[160];
			size_t j = 0;
			for (size_t i = 0; etag[i] && j + 2 < sizeof(qe); i++) {
				if (etag[i] == '"' || etag[i] == '\\')
					qe[j++] = '\\';
				qe[j++] = etag[i];
			}
			qe[j] = 0;
			snprintf(json, sizeof(json),
				 "{\"operation\":\"read\",\"fastpathFileHandle\":\"%s\",\"fastpathSessionToken\":\"%s\",\"eTag\":\"%s\","
				 "\"storeFilePosition\":%ld,\"bufferOffset\":0,\"readLength\":%ld}",
				 handle, token, qe, pos, want);
			memset(data, 0xEE, range);
			e = request(json, data, (uint32_t)range, 0);
			if (e < 0) {
				fprintf(stderr, "blob_read: read at %ld: ioctl failed: %s\n", pos, strerror(-e));
				return 1;
			}
			char got[32];
			if (field("status", status, sizeof(status)) < 0 || strcmp(status, "206") != 0 ||
			    field("bytesRead", got, sizeof(got)) < 0 || atol(got) != want) {
				fprintf(stderr, "blob_read: read at %ld: response %s\n", pos, response);
				return 1;
			}
			if (memcmp(data, expect + pos, want) != 0) {
				for (long i = 0; i < want; i++)
					if (data[i] != expect[pos + i]) {
						fprintf(stderr, "blob_read: byte %ld: 0x%02x, expected 0x%02x\n", pos + i, data[i], expect[pos + i]);
						break;
					}
				return 1;
			}
			reads++;
			bytes += want;
		}
	}
	snprintf(json, sizeof(json), "{\"operation\":\"close\",\"fastpathFileHandle\":\"%s\",\"fastpathSessionToken\":\"%s\"}", handle, token);
	e = request(json, NULL, 0, 0);
	if (e < 0 || field("status", status, sizeof(status)) < 0 || strcmp(status, "200") != 0) {
		fprintf(stderr, "blob_read: close: response %s\n", response);
		return 1;
	}
	close(dev);
	printf("blob_read: %s: %ld reads, %ld bytes, every byte matched\n", argv[1], reads, bytes);
	return 0;
}

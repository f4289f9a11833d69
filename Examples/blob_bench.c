// SPDX-License-Identifier: Apache-2.0
//
// `hvblob bench`'s client: N ioctls, timed, printed as "ioctls=N seconds=S".
//
//     blob_bench device N BLOB   N 4 KiB reads of BLOB through /dev/azure_blob (run under the
//                                preload; HVBLOB_DEVICE=PATH opens a FUSE file instead)
//     blob_bench null N          N plain ioctls on /dev/null (the baseline)
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

struct az_blob_request_sync {
	uint8_t guid[16];
	uint32_t timeout, request_len, response_len, data_len, data_valid;
	uint64_t request_buffer __attribute__((aligned(8)));
	uint64_t response_buffer, data_buffer;
	uint32_t status, response_response_len;
};

#define IOCTL_AZ_BLOB_DRIVER_USER_REQUEST _IOWR('R', 0xF0, struct az_blob_request_sync)

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static char response[1024];

static int req(int fd, const char *json, void *data, uint32_t len)
{
	struct az_blob_request_sync r;
	static uint64_t serial;
	uint64_t pid = (uint64_t)getpid();
	memset(&r, 0, sizeof(r));
	serial++;
	memcpy(r.guid, &pid, 8);
	memcpy(r.guid + 8, &serial, 8);
	r.timeout = 30000;
	r.request_len = strlen(json);
	r.response_len = sizeof(response);
	r.data_len = len;
	r.request_buffer = (uintptr_t)json;
	r.response_buffer = (uintptr_t)response;
	r.data_buffer = (uintptr_t)data;
	if (ioctl(fd, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, &r) < 0)
		return -1;
	response[r.response_response_len < sizeof(response) ? r.response_response_len : sizeof(response) - 1] = 0;
	return 0;
}

static void get(const char *key, char *out, size_t n)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	const char *p = strstr(response, pat);
	size_t i = 0;
	if (p)
		for (p += strlen(pat); *p && *p != '"' && i + 1 < n; p++) {
			if (*p == '\\')
				p++;
			out[i++] = *p;
		}
	out[i] = 0;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long n = atol(argv[2]);
	if (strcmp(argv[1], "null") == 0) {
		int fd = open("/dev/null", O_RDWR);
		int v;
		double t = now();
		for (long i = 0; i < n; i++)
			(void)ioctl(fd, FIONREAD, &v);
		printf("ioctls=%ld seconds=%.6f\n", n, now() - t);
		return 0;
	}
	if (argc < 4)
		return 2;
	const char *path = getenv("HVBLOB_DEVICE") && *getenv("HVBLOB_DEVICE") ? getenv("HVBLOB_DEVICE") : "/dev/azure_blob";
	int fd = open(path, O_RDWR);
	if (fd < 0)
		return 1;
	char json[512], h[64], tok[64], etag[64];
	snprintf(json, sizeof(json), "{\"operation\":\"open\",\"path\":\"%s\"}", argv[3]);
	if (req(fd, json, NULL, 0) < 0)
		return 1;
	get("fastpathFileHandle", h, sizeof(h));
	get("fastpathSessionToken", tok, sizeof(tok));
	get("eTag", etag, sizeof(etag));
	snprintf(json, sizeof(json),
		 "{\"operation\":\"read\",\"fastpathFileHandle\":\"%s\",\"fastpathSessionToken\":\"%s\",\"storeFilePosition\":0,\"bufferOffset\":0,\"readLength\":4096}",
		 h, tok);
	static char data[4096];
	double t = now();
	for (long i = 0; i < n; i++)
		if (req(fd, json, data, sizeof(data)) < 0 || strncmp(response, "{\"status\":206", 13) != 0)
			return 1;
	printf("ioctls=%ld seconds=%.6f\n", n, now() - t);
	return 0;
}

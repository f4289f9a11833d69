// SPDX-License-Identifier: Apache-2.0
//
// What a fast-path client sees when things go wrong, as an unmodified program (run under
// LD_PRELOAD=libhvblob-device.so against `hvblob serve`). One line per request on stdout:
//
//     errno=<name> status=0x<response.status> http=<JSON status> code=<JSON errorCode>
//
//     blob_faults loop N BLOB [TIMEOUT_MS]   N getProperties requests
//     blob_faults readonly-response BLOB     the response buffer mapped PROT_READ
//     blob_faults unmapped-data BLOB         a read whose data buffer is not mapped
//     blob_faults fork BLOB N                parent and child share the open file, N each
//     blob_faults reprotect BLOB             the same buffers before and after mprotect/munmap:
//                                            prints each ioctl's result (nothing carried over)
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

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
	uint32_t status;
	uint32_t response_response_len;
};

#define IOCTL_AZ_BLOB_DRIVER_USER_REQUEST _IOWR('R', 0xF0, struct az_blob_request_sync)

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EIO: return "EIO";
	case EFAULT: return "EFAULT";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case EAGAIN: return "EAGAIN";
	case ENXIO: return "ENXIO";
	case EPROTO: return "EPROTO";
	default: return "other";
	}
}

static void value(const char *json, const char *key, char *out, size_t n)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(json, pat);
	out[0] = 0;
	if (!p)
		return;
	p += strlen(pat);
	if (*p == '"')
		p++;
	size_t i = 0;
	while (*p && *p != '"' && *p != ',' && *p != '}' && i + 1 < n)
		out[i++] = *p++;
	out[i] = 0;
}

static int one(int dev, const char *json, char *response, uint32_t response_len, void *data, uint32_t data_len, uint32_t timeout)
{
	static uint64_t serial;
	struct az_blob_request_sync r;
	memset(&r, 0, sizeof(r));
	uint64_t pid = (uint64_t)getpid();
	serial++;
	memcpy(r.guid, &pid, 8);
	memcpy(r.guid + 8, &serial, 8);
	r.timeout = timeout;
	r.request_len = (uint32_t)strlen(json);
	r.response_len = response_len;
	r.data_len = data_len;
	r.request_buffer = (uint64_t)(uintptr_t)json;
	r.response_buffer = (uint64_t)(uintptr_t)response;
	r.data_buffer = (uint64_t)(uintptr_t)data;
	int e = ioctl(dev, IOCTL_AZ_BLOB_DRIVER_USER_REQUEST, &r) < 0 ? errno : 0;
	char http[16] = "", code[64] = "";
	if (e == 0) {
		char text[4096];
		uint32_t n = r.response_response_len < sizeof(text) - 1 ? r.response_response_len : sizeof(text) - 1;
		memcpy(text, response, n);
		text[n] = 0;
		value(text, "status", http, sizeof(http));
		value(text, "errorCode", code, sizeof(code));
	}
	printf("errno=%s status=0x%x http=%s code=%s\n", errname(e), r.status, http, code);
	fflush(stdout);
	return e;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: blob_faults loop N BLOB [TIMEOUT_MS] | readonly-response BLOB | unmapped-data BLOB | fork BLOB N\n");
		return 2;
	}
	/* The device's path: /dev/azure_blob, or where HVBLOB_DEVICE says (a FUSE file). */
	const char *path = getenv("HVBLOB_DEVICE") && *getenv("HVBLOB_DEVICE") ? getenv("HVBLOB_DEVICE") : "/dev/azure_blob";
	int dev = open(path, O_RDWR);
	if (dev < 0) {
		printf("open errno=%s\n", errname(errno));
		return 1;
	}
	static char response[4096];
	char json[512];
	const char *mode = argv[1];
	if (strcmp(mode, "loop") == 0 && argc >= 4) {
		long n = atol(argv[2]);
		uint32_t timeout = argc > 4 ? (uint32_t)atol(argv[4]) : 30000;
		snprintf(json, sizeof(json), "{\"operation\":\"getProperties\",\"path\":\"%s\"}", argv[3]);
		for (long i = 0; i < n; i++)
			one(dev, json, response, sizeof(response), NULL, 0, timeout);
		return 0;
	}
	if (strcmp(mode, "readonly-response") == 0) {
		char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		snprintf(json, sizeof(json), "{\"operation\":\"getProperties\",\"path\":\"%s\"}", argv[2]);
		int e = one(dev, json, ro, 4096, NULL, 0, 30000);
		return e == EFAULT ? 0 : 1;
	}
	if (strcmp(mode, "unmapped-data") == 0) {
		char *gone = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		munmap(gone, 8192);
		snprintf(json, sizeof(json), "{\"operation\":\"getProperties\",\"path\":\"%s\"}", argv[2]);
		int e = one(dev, json, response, sizeof(response), gone, 8192, 30000);
		return e == EFAULT ? 0 : 1;
	}
	if (strcmp(mode, "reprotect") == 0) {
		char *rw = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *data = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		snprintf(json, sizeof(json), "{\"operation\":\"getProperties\",\"path\":\"%s\"}", argv[2]);
		int r[5];
		r[0] = one(dev, json, rw, 4096, data, 4096, 30000);
		mprotect(rw, 4096, PROT_READ);
		r[1] = one(dev, json, rw, 4096, data, 4096, 30000);
		mprotect(rw, 4096, PROT_READ | PROT_WRITE);
		r[2] = one(dev, json, rw, 4096, data, 4096, 30000);
		munmap(data, 4096);
		r[3] = one(dev, json, rw, 4096, data, 4096, 30000);
		r[4] = one(dev, json, rw, 4096, NULL, 0, 30000);
		printf("reprotect:");
		for (int i = 0; i < 5; i++)
			printf(" %s", r[i] ? errname(r[i]) : "0");
		printf("\n");
		return 0;
	}
	if (strcmp(mode, "fork") == 0 && argc >= 4) {
		long n = atol(argv[3]);
		snprintf(json, sizeof(json), "{\"operation\":\"getProperties\",\"path\":\"%s\"}", argv[2]);
		int dupfd = dup(dev);
		pid_t child = fork();
		int bad = 0;
		for (long i = 0; i < n; i++)
			bad |= one(i % 2 ? dupfd : dev, json, response, sizeof(response), NULL, 0, 30000) != 0;
		if (child == 0)
			_exit(bad);
		int st = 0;
		waitpid(child, &st, 0);
		return bad || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	fprintf(stderr, "blob_faults: unknown mode %s\n", mode);
	return 2;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/uuid.h>: guid_t (little-endian fields, as GUID_INIT lays them out) and uuid_t. */
#ifndef _HVB_LINUX_UUID_H
#define _HVB_LINUX_UUID_H

#include <string.h>
#include "types.h"

#define UUID_SIZE 16
typedef struct {
	__u8 b[UUID_SIZE];
} guid_t;
typedef struct {
	__u8 b[UUID_SIZE];
} uuid_t;
typedef guid_t uuid_le;
#define GUID_INIT(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                                       \
	((guid_t){ { (a) & 0xff, ((a) >> 8) & 0xff, ((a) >> 16) & 0xff, ((a) >> 24) & 0xff,      \
		     (b) & 0xff, ((b) >> 8) & 0xff, (c) & 0xff, ((c) >> 8) & 0xff, (d0), (d1), (d2), \
		     (d3), (d4), (d5), (d6), (d7) } })
#define UUID_INIT(a, b, c, d0, d1, d2, d3, d4, d5, d6, d7)                                       \
	((uuid_t){ { ((a) >> 24) & 0xff, ((a) >> 16) & 0xff, ((a) >> 8) & 0xff, (a) & 0xff,      \
		     ((b) >> 8) & 0xff, (b) & 0xff, ((c) >> 8) & 0xff, (c) & 0xff, (d0), (d1), (d2), \
		     (d3), (d4), (d5), (d6), (d7) } })
#define NULL_GUID GUID_INIT(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
static inline void guid_copy(guid_t *dst, const guid_t *src) { memcpy(dst, src, sizeof(*dst)); }
static inline bool guid_equal(const guid_t *a, const guid_t *b) { return !memcmp(a, b, sizeof(*a)); }
static inline bool guid_is_null(const guid_t *g)
{
	static const guid_t z;

	return guid_equal(g, &z);
}
static inline void import_guid(guid_t *dst, const __u8 *src) { memcpy(dst, src, sizeof(*dst)); }
static inline void export_guid(__u8 *dst, const guid_t *src) { memcpy(dst, src, sizeof(*src)); }
static inline void uuid_copy(uuid_t *dst, const uuid_t *src) { memcpy(dst, src, sizeof(*dst)); }
static inline bool uuid_equal(const uuid_t *a, const uuid_t *b) { return !memcmp(a, b, sizeof(*a)); }
static inline bool uuid_is_null(const uuid_t *u)
{
	static const uuid_t z;

	return uuid_equal(u, &z);
}

#endif

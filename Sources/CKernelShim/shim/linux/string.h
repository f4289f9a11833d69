/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/string.h>: the kernel's string helpers (libc's memcpy, strlen... underneath). */
#ifndef _HVB_LINUX_STRING_H
#define _HVB_LINUX_STRING_H

#include <string.h>
#include "errno.h"
#include "slab.h"

#define E2BIG_STRSCPY (-E2BIG)
/* Copies with NUL termination; the length, or -E2BIG when truncated. */
static inline ssize_t strscpy(char *dst, const char *src, size_t n)
{
	size_t l;

	if (!n)
		return -E2BIG;
	l = strnlen(src, n);
	if (l >= n) {
		memcpy(dst, src, n - 1);
		dst[n - 1] = 0;
		return -E2BIG;
	}
	memcpy(dst, src, l + 1);
	return (ssize_t)l;
}
#define strscpy_pad(dst, src, n) ({ ssize_t _r; memset(dst, 0, n); _r = strscpy(dst, src, n); _r; })
static inline size_t hvb_strlcpy(char *dst, const char *src, size_t n)
{
	size_t l = strlen(src);

	if (n) {
		size_t c = l >= n ? n - 1 : l;

		memcpy(dst, src, c);
		dst[c] = 0;
	}
	return l;
}
#define strlcpy hvb_strlcpy
static inline char *kstrdup(const char *s, gfp_t f)
{
	size_t l;
	char *p;

	if (!s)
		return NULL;
	l = strlen(s) + 1;
	p = (char *)hvb_alloc(l, f, 0, "kstrdup");
	if (p)
		memcpy(p, s, l);
	return p;
}
static inline const char *kstrdup_const(const char *s, gfp_t f) { return kstrdup(s, f); }
static inline void kfree_const(const void *p) { kfree(p); }
static inline char *kstrndup(const char *s, size_t max, gfp_t f)
{
	size_t l;
	char *p;

	if (!s)
		return NULL;
	l = strnlen(s, max);
	p = (char *)hvb_alloc(l + 1, f, 0, "kstrndup");
	if (p) {
		memcpy(p, s, l);
		p[l] = 0;
	}
	return p;
}
static inline void *kmemdup_nul(const char *s, size_t len, gfp_t f)
{
	char *p = (char *)hvb_alloc(len + 1, f, 0, "kmemdup_nul");

	if (p) {
		memcpy(p, s, len);
		p[len] = 0;
	}
	return p;
}
static inline void memzero_explicit(void *s, size_t n)
{
	memset(s, 0, n);
	__asm__ __volatile__("" : : "r"(s) : "memory");
}
static inline size_t str_has_prefix(const char *s, const char *prefix)
{
	size_t l = strlen(prefix);

	return strncmp(s, prefix, l) == 0 ? l : 0;
}
static inline bool sysfs_streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	if (*a == *b)
		return true;
	if (*a == '\n' && !a[1] && !*b)
		return true;
	if (*b == '\n' && !b[1] && !*a)
		return true;
	return false;
}
static inline bool mem_is_zero(const void *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}
#define memchr_inv(s, c, n) hvb_memchr_inv(s, c, n)
static inline void *hvb_memchr_inv(const void *s, int c, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != (unsigned char)c)
			return (void *)(p + i);
	return NULL;
}

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* hvblob kernel shim: <linux/kstrtox.h>: string to number conversions. */
#ifndef _HVB_LINUX_KSTRTOX_H
#define _HVB_LINUX_KSTRTOX_H

#include <stdlib.h>
#include "errno.h"
#include "limits.h"
#include "types.h"

/* kstrto*(): the whole string (one trailing newline allowed) or -EINVAL; -ERANGE on overflow. */
static inline int hvb_kstrtoull(const char *s, unsigned int base, unsigned long long *res)
{
	char *end;
	unsigned long long v;

	if (*s == '+')
		s++;
	if (*s == '-' || !*s)
		return -EINVAL;
	v = strtoull(s, &end, (int)base);
	if (end == s || (*end && !(end[0] == '\n' && end[1] == 0)))
		return -EINVAL;
	if (v == ULLONG_MAX)
		return -ERANGE;
	*res = v;
	return 0;
}
static inline int kstrtoull(const char *s, unsigned int base, unsigned long long *res) { return hvb_kstrtoull(s, base, res); }
static inline int kstrtoul(const char *s, unsigned int base, unsigned long *res)
{
	unsigned long long v;
	int r = hvb_kstrtoull(s, base, &v);

	if (!r)
		*res = (unsigned long)v;
	return r;
}
static inline int kstrtouint(const char *s, unsigned int base, unsigned int *res)
{
	unsigned long long v;
	int r = hvb_kstrtoull(s, base, &v);

	if (r)
		return r;
	if (v > UINT_MAX)
		return -ERANGE;
	*res = (unsigned int)v;
	return 0;
}
static inline int kstrtoint(const char *s, unsigned int base, int *res)
{
	unsigned long long v;
	int neg = *s == '-';
	int r = hvb_kstrtoull(s + neg, base, &v);

	if (r)
		return r;
	if (v > (unsigned long long)INT_MAX + (unsigned long long)neg)
		return -ERANGE;
	*res = neg ? (int)-(long long)v : (int)v;
	return 0;
}
static inline int kstrtobool(const char *s, bool *res)
{
	if (!s)
		return -EINVAL;
	switch (s[0]) {
	case 'y': case 'Y': case 't': case 'T': case '1':
		*res = true;
		return 0;
	case 'n': case 'N': case 'f': case 'F': case '0':
		*res = false;
		return 0;
	case 'o': case 'O':
		if (s[1] == 'n' || s[1] == 'N') { *res = true; return 0; }
		if (s[1] == 'f' || s[1] == 'F') { *res = false; return 0; }
		break;
	}
	return -EINVAL;
}

#endif

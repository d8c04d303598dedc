// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tlsaudit/util.h"

void *util_reallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n * size);
}

int util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull accepts a sign and leading blanks; a count never has either. */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	if (*end != '\0')
		return -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int util_parse_duration(const char *s, uint64_t *ns)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{ "ms", NSEC_PER_MSEC },	     { "s", NSEC_PER_SEC },	  { "m", 60000000000ULL },
		{ "h", 3600000000000ULL }, { "d", 86400000000000ULL }, { "", NSEC_PER_SEC },
	};
	unsigned long long v;
	char *end;
	size_t i;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -ERANGE;
	for (i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (v > UINT64_MAX / units[i].mult)
				return -ERANGE;
			*ns = v * units[i].mult;
			return 0;
		}
	}
	return -EINVAL;
}

int util_parse_ports(const char *s, uint16_t *ports, int cap)
{
	char buf[256], *tok, *save = NULL;
	int n = 0;
	uint64_t v;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	util_strlcpy(buf, s, sizeof(buf));
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (n >= cap || util_parse_u64(tok, 1, 65535, &v))
			return -EINVAL;
		ports[n++] = (uint16_t)v;
	}
	return n ? n : -EINVAL;
}

size_t util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t util_now_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

uint64_t util_fnv1a(uint64_t h, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * UTIL_FNV1A_PRIME;
	return h;
}

uint64_t util_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* Two decimal digits of @v (0-99). */
static void dig2(char *p, unsigned int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

void util_format_time(uint64_t ns, char *buf, size_t len)
{
	/*
	 * By hand, with the date from the day count (civil_from_days, H. Hinnant): on the
	 * read --json path every record has one, and gmtime_r() plus snprintf() cost as
	 * much as the rest of the line's numbers together. Unsigned nanoseconds since 1970
	 * end in 2554, so the year has four digits.
	 */
	uint64_t secs = ns / NSEC_PER_SEC, days = secs / 86400, z, era, doe, yoe, doy, mp;
	unsigned int rem = (unsigned int)(secs % 86400);
	unsigned int ms = (unsigned int)(ns % NSEC_PER_SEC / NSEC_PER_MSEC);
	unsigned int y, m, d;

	if (len < 25) {
		if (len)
			buf[0] = '\0';
		return;
	}
	z = days + 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = (unsigned int)(doy - (153 * mp + 2) / 5 + 1);
	m = (unsigned int)(mp < 10 ? mp + 3 : mp - 9);
	y = (unsigned int)(yoe + era * 400 + (m <= 2));
	dig2(buf, y / 100 % 100);
	dig2(buf + 2, y % 100);
	buf[4] = '-';
	dig2(buf + 5, m);
	buf[7] = '-';
	dig2(buf + 8, d);
	buf[10] = 'T';
	dig2(buf + 11, rem / 3600);
	buf[13] = ':';
	dig2(buf + 14, rem / 60 % 60);
	buf[16] = ':';
	dig2(buf + 17, rem % 60);
	buf[19] = '.';
	buf[20] = (char)('0' + ms / 100);
	dig2(buf + 21, ms % 100);
	buf[23] = 'Z';
	buf[24] = '\0';
}

size_t util_fmt_dec(uint64_t v, char out[20])
{
	char tmp[20];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(out, tmp + i, sizeof(tmp) - i);
	return sizeof(tmp) - i;
}

void util_fmt_hex4(uint16_t v, char out[4])
{
	static const char hex[] = "0123456789abcdef";

	out[0] = hex[v >> 12];
	out[1] = hex[(v >> 8) & 0xf];
	out[2] = hex[(v >> 4) & 0xf];
	out[3] = hex[v & 0xf];
}

void util_format_ip(int family, const uint8_t *addr, char *buf, size_t len)
{
	size_t o = 0;
	int i;

	/*
	 * IPv4 by hand: two addresses per record on the read --json path, where
	 * inet_ntop()'s sprintf per octet was 5% of the run.
	 */
	if (family == AF_INET && len >= INET_ADDRSTRLEN) {
		for (i = 0; i < 4; i++) {
			uint8_t v = addr[i];

			if (i)
				buf[o++] = '.';
			if (v >= 100)
				buf[o++] = (char)('0' + v / 100);
			if (v >= 10)
				buf[o++] = (char)('0' + v / 10 % 10);
			buf[o++] = (char)('0' + v % 10);
		}
		buf[o] = '\0';
		return;
	}
	if (!inet_ntop(family, addr, buf, (socklen_t)len))
		util_strlcpy(buf, "?", len);
}

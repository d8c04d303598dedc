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

uint64_t util_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

void util_format_time(uint64_t ns, char *buf, size_t len)
{
	/*
	 * Records come in time order, many per second: format the date part once per
	 * second and only append the milliseconds (this is on the `read --json` path).
	 */
	static __thread time_t cached_sec = -1;
	static __thread char cached[32];
	time_t secs = (time_t)(ns / NSEC_PER_SEC);
	unsigned int ms = (unsigned int)(ns % NSEC_PER_SEC / NSEC_PER_MSEC);
	struct tm tm;
	size_t n;

	if (secs != cached_sec) {
		if (!gmtime_r(&secs, &tm) ||
		    snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d.",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec) >= (int)sizeof(cached)) {
			util_strlcpy(buf, "1970-01-01T00:00:00.000Z", len);
			return;
		}
		cached_sec = secs;
	}
	n = util_strlcpy(buf, cached, len);
	if (n + 5 > len) {
		util_strlcpy(buf, "1970-01-01T00:00:00.000Z", len);
		return;
	}
	buf[n] = (char)('0' + ms / 100);
	buf[n + 1] = (char)('0' + ms / 10 % 10);
	buf[n + 2] = (char)('0' + ms % 10);
	buf[n + 3] = 'Z';
	buf[n + 4] = '\0';
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

// SPDX-License-Identifier: GPL-2.0-only
/*
 * The one JSON string writer: records, aggregation rows and control replies use it.
 *
 * Strings come from peers (SNI, ALPN, mx_host) and from processes (exe, cgroup), and
 * neither is known to be UTF-8. What is valid UTF-8 goes out as it is, so a consumer
 * (Elastic, Loki, jq) shows /opt/café as /opt/café. JSON (RFC 8259, section 7) needs
 * only the quote, the backslash and U+0000..U+001F escaped; U+007F..U+009F (DEL and
 * the C1 controls, which some terminals act on) are escaped too, as `watch --json`
 * goes to terminals. A byte that is not part of valid UTF-8 is written \u00XX, the
 * code point of the same number, so the line stays valid UTF-8 and a Latin-1 name
 * reads as its Latin-1 characters (tlsaudit(8), JSON OUTPUT).
 */
#include <string.h>

#include "tlsaudit/util.h"

/* The bytes that go out as they are: printable ASCII but the quote and the backslash. */
static const unsigned char plain[256] = {
	[0x20] = 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x22 " */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x5c \ */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x7f DEL */
};

size_t util_utf8_len(const unsigned char *p)
{
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0; /* a continuation byte, an overlong lead (C0, C1) or past U+10FFFF */
	/* The NUL that ends the string is no continuation byte: nothing past it is read. */
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* overlong 3- and 4-byte forms, the surrogates, past U+10FFFF (RFC 3629, section 4) */
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

int util_json_string(char *buf, size_t len, size_t *off, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	unsigned int esc;
	size_t o = *off, n;

	if (o >= len)
		return -1;
	buf[o++] = '"';
	/*
	 * Most strings need no escape at all: copy the run of plain characters at once,
	 * with one bounds check for it (a run is at most the whole string).
	 */
	for (n = 0; plain[p[n]]; n++)
		;
	if (n >= len - o)
		return -1;
	memcpy(buf + o, p, n);
	o += n;
	p += n;
	while (*p) {
		/* worst case: \u00XX or a 4-byte character, then the closing quote and the NUL */
		if (len - o < 9)
			return -1;
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p++;
			continue;
		}
		n = util_utf8_len(p);
		if (n == 1 && plain[*p]) {
			buf[o++] = (char)*p++;
			continue;
		}
		if (n == 1)
			esc = *p;		   /* U+0000..U+001F, U+007F */
		else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
			esc = p[1];		   /* U+0080..U+009F: C1 controls */
		else if (!n)
			esc = *p;		   /* not UTF-8: U+00XX for the byte XX */
		else
			esc = 0x100;
		if (esc < 0x100) {
			memcpy(buf + o, "\\u00", 4);
			o += 4;
			buf[o++] = hex[esc >> 4];
			buf[o++] = hex[esc & 0x0f];
			p += n ? n : 1;
		} else {
			memcpy(buf + o, p, n);
			o += n;
			p += n;
		}
	}
	if (len - o < 2)
		return -1;
	buf[o++] = '"';
	buf[o] = '\0';
	*off = o;
	return 0;
}

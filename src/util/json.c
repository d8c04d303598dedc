// SPDX-License-Identifier: GPL-2.0-only
/* The one JSON string writer: records, aggregation rows and control replies use it. */
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

int util_json_string(char *buf, size_t len, size_t *off, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
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
	for (; *p; p++) {
		/* worst case: \u00XX, then the closing quote and the NUL */
		if (len - o < 9)
			return -1;
		if (*p == '"' || *p == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)*p;
		} else if (*p < 0x20 || *p >= 0x7f) {
			/*
			 * Peer bytes are not known to be UTF-8; escaping every non-ASCII byte
			 * keeps the line valid JSON and shows exactly what was on the wire.
			 */
			memcpy(buf + o, "\\u00", 4);
			o += 4;
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 0x0f];
		} else {
			buf[o++] = (char)*p;
		}
	}
	if (len - o < 2)
		return -1;
	buf[o++] = '"';
	buf[o] = '\0';
	*off = o;
	return 0;
}

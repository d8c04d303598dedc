// SPDX-License-Identifier: GPL-2.0-only
/*
 * A small JSON reader and writer for the control socket (RFC 8259).
 *
 * Requests come from any local user in the tlsaudit group and replies from whatever
 * listens on the socket path, so both are untrusted: everything is read through the
 * bounded cursor, nesting and member counts are capped, and strings are cut at a fixed
 * size. Arrays are not part of the protocol and are rejected.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tlsaudit/ctl.h"
#include "tlsaudit/cursor.h"

#define JSON_MAX_DEPTH 3

static void skip_ws(struct tls_cursor *c)
{
	while (cur_left(c)) {
		uint8_t ch = *cur_ptr(c);

		if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
			return;
		cur_skip(c, 1);
	}
}

static bool peek(struct tls_cursor *c, uint8_t *ch)
{
	if (!cur_left(c))
		return false;
	*ch = *cur_ptr(c);
	return true;
}

static bool expect(struct tls_cursor *c, uint8_t want)
{
	skip_ws(c);
	return cur_left(c) && cur_u8(c) == want;
}

static int hex4(struct tls_cursor *c, uint32_t *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		uint8_t ch = cur_u8(c);

		if (!cur_ok(c))
			return -EINVAL;
		*v <<= 4;
		if (ch >= '0' && ch <= '9')
			*v |= ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			*v |= ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			*v |= ch - 'A' + 10;
		else
			return -EINVAL;
	}
	return 0;
}

/* put_byte - append to a bounded output, silently cutting at the cap (keeps a NUL). */
static void put_byte(char *out, size_t cap, size_t *n, uint8_t ch)
{
	if (*n + 1 < cap)
		out[(*n)++] = (char)ch;
}

static void put_utf8(char *out, size_t cap, size_t *n, uint32_t cp)
{
	if (cp < 0x80) {
		put_byte(out, cap, n, (uint8_t)cp);
	} else if (cp < 0x800) {
		put_byte(out, cap, n, (uint8_t)(0xc0 | (cp >> 6)));
		put_byte(out, cap, n, (uint8_t)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		put_byte(out, cap, n, (uint8_t)(0xe0 | (cp >> 12)));
		put_byte(out, cap, n, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
		put_byte(out, cap, n, (uint8_t)(0x80 | (cp & 0x3f)));
	} else {
		put_byte(out, cap, n, (uint8_t)(0xf0 | (cp >> 18)));
		put_byte(out, cap, n, (uint8_t)(0x80 | ((cp >> 12) & 0x3f)));
		put_byte(out, cap, n, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
		put_byte(out, cap, n, (uint8_t)(0x80 | (cp & 0x3f)));
	}
}

/*
 * parse_string - a string literal (RFC 8259 section 7) into @out (cut at @cap - 1 bytes,
 * NUL-terminated). *@cut is set when bytes were dropped.
 */
static int parse_string(struct tls_cursor *c, char *out, size_t cap, bool *cut)
{
	size_t n = 0;
	uint32_t cp, lo;

	if (!expect(c, '"'))
		return -EINVAL;
	for (;;) {
		uint8_t ch = cur_u8(c);

		if (!cur_ok(c) || ch < 0x20)
			return -EINVAL;
		if (ch == '"')
			break;
		if (ch != '\\') {
			put_byte(out, cap, &n, ch);
			continue;
		}
		ch = cur_u8(c);
		switch (ch) {
		case '"':
		case '\\':
		case '/':
			put_byte(out, cap, &n, ch);
			break;
		case 'b':
			put_byte(out, cap, &n, '\b');
			break;
		case 'f':
			put_byte(out, cap, &n, '\f');
			break;
		case 'n':
			put_byte(out, cap, &n, '\n');
			break;
		case 'r':
			put_byte(out, cap, &n, '\r');
			break;
		case 't':
			put_byte(out, cap, &n, '\t');
			break;
		case 'u':
			if (hex4(c, &cp))
				return -EINVAL;
			/* A high surrogate pairs with a following \uDC00..\uDFFF; alone it is '?'. */
			if (cp >= 0xd800 && cp < 0xdc00 && cur_left(c) >= 6 && cur_ptr(c)[0] == '\\' &&
			    cur_ptr(c)[1] == 'u') {
				cur_skip(c, 2);
				if (hex4(c, &lo))
					return -EINVAL;
				if (lo >= 0xdc00 && lo < 0xe000)
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				else
					cp = '?';
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = '?';
			}
			if (cp == 0)
				cp = '?'; /* a NUL would cut the C string */
			put_utf8(out, cap, &n, cp);
			break;
		default:
			return -EINVAL;
		}
	}
	if (cap)
		out[n] = '\0';
	if (cut)
		*cut = n + 1 >= cap;
	return 0;
}

/* parse_number - RFC 8259 section 6; the integer part is kept, fractions dropped. */
static int parse_number(struct tls_cursor *c, int64_t *out)
{
	bool neg = false, digits = false;
	uint64_t v = 0;
	uint8_t ch;

	if (peek(c, &ch) && ch == '-') {
		neg = true;
		cur_skip(c, 1);
	}
	while (peek(c, &ch) && ch >= '0' && ch <= '9') {
		if (v > (uint64_t)INT64_MAX / 10)
			return -EINVAL;
		v = v * 10 + (ch - '0');
		if (v > (uint64_t)INT64_MAX)
			return -EINVAL;
		digits = true;
		cur_skip(c, 1);
	}
	if (!digits)
		return -EINVAL;
	if (peek(c, &ch) && ch == '.') {
		cur_skip(c, 1);
		digits = false;
		while (peek(c, &ch) && ch >= '0' && ch <= '9') {
			digits = true;
			cur_skip(c, 1);
		}
		if (!digits)
			return -EINVAL;
	}
	if (peek(c, &ch) && (ch == 'e' || ch == 'E'))
		return -EINVAL; /* never sent by either side */
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

static bool literal(struct tls_cursor *c, const char *word)
{
	size_t n = strlen(word);

	if (cur_left(c) < n || memcmp(cur_ptr(c), word, n))
		return false;
	cur_skip(c, n);
	return true;
}

static int parse_object(struct tls_cursor *c, const char *prefix, int depth, struct ctl_json *out);

static int parse_member(struct tls_cursor *c, const char *prefix, int depth, struct ctl_json *out)
{
	char name[CTL_JSON_KEY], full[CTL_JSON_KEY];
	struct ctl_json_member *m;
	bool cut;
	uint8_t ch;
	int n;

	skip_ws(c);
	if (parse_string(c, name, sizeof(name), &cut) || cut)
		return -EINVAL;
	n = snprintf(full, sizeof(full), "%s%s%s", prefix, *prefix ? "." : "", name);
	if (n < 0 || (size_t)n >= sizeof(full))
		return -EINVAL;
	if (!expect(c, ':'))
		return -EINVAL;
	skip_ws(c);
	if (!peek(c, &ch))
		return -EINVAL;
	if (ch == '{')
		return parse_object(c, full, depth + 1, out);
	if (out->n >= CTL_JSON_MEMBERS)
		return -EINVAL;
	m = &out->m[out->n];
	memset(m, 0, sizeof(*m));
	memcpy(m->key, full, (size_t)n + 1);
	if (ch == '"') {
		m->type = CTL_JSON_STR;
		if (parse_string(c, m->str, sizeof(m->str), NULL))
			return -EINVAL;
	} else if (ch == '-' || (ch >= '0' && ch <= '9')) {
		m->type = CTL_JSON_NUM;
		if (parse_number(c, &m->num))
			return -EINVAL;
	} else if (literal(c, "true")) {
		m->type = CTL_JSON_BOOL;
		m->b = true;
	} else if (literal(c, "false")) {
		m->type = CTL_JSON_BOOL;
	} else if (literal(c, "null")) {
		m->type = CTL_JSON_NULL;
	} else {
		return -EINVAL; /* arrays and anything else */
	}
	out->n++;
	return 0;
}

static int parse_object(struct tls_cursor *c, const char *prefix, int depth, struct ctl_json *out)
{
	uint8_t ch;

	if (depth > JSON_MAX_DEPTH || !expect(c, '{'))
		return -EINVAL;
	skip_ws(c);
	if (peek(c, &ch) && ch == '}') {
		cur_skip(c, 1);
		return 0;
	}
	/* Each member consumes at least a key, so the loop ends with the input. */
	for (;;) {
		if (parse_member(c, prefix, depth, out))
			return -EINVAL;
		skip_ws(c);
		ch = cur_u8(c);
		if (!cur_ok(c))
			return -EINVAL;
		if (ch == '}')
			return 0;
		if (ch != ',')
			return -EINVAL;
	}
}

int ctl_json_parse(const uint8_t *buf, size_t len, struct ctl_json *out)
{
	struct tls_cursor c;

	out->n = 0;
	cur_init(&c, buf, len);
	if (parse_object(&c, "", 1, out))
		goto bad;
	skip_ws(&c);
	if (cur_left(&c))
		goto bad;
	return 0;
bad:
	out->n = 0;
	return -EINVAL;
}

const struct ctl_json_member *ctl_json_get(const struct ctl_json *j, const char *key)
{
	int i;

	for (i = 0; i < j->n; i++)
		if (!strcmp(j->m[i].key, key))
			return &j->m[i];
	return NULL;
}

const char *ctl_json_str(const struct ctl_json *j, const char *key, const char *def)
{
	const struct ctl_json_member *m = ctl_json_get(j, key);

	return m && m->type == CTL_JSON_STR ? m->str : def;
}

int64_t ctl_json_num(const struct ctl_json *j, const char *key, int64_t def)
{
	const struct ctl_json_member *m = ctl_json_get(j, key);

	return m && m->type == CTL_JSON_NUM ? m->num : def;
}

bool ctl_json_bool(const struct ctl_json *j, const char *key, bool def)
{
	const struct ctl_json_member *m = ctl_json_get(j, key);

	return m && m->type == CTL_JSON_BOOL ? m->b : def;
}

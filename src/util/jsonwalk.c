// SPDX-License-Identifier: GPL-2.0-only
/*
 * A bounded JSON reader, RFC 8259 sections 2-7: recursive descent over the bytes held,
 * read through the project's cursor, nesting capped at UTIL_JSON_DEPTH_MAX, every
 * string decoded into a fixed buffer. The documents it reads are written by container
 * runtimes, but their content comes from whoever started the container (names, image
 * references, annotations): treated as untrusted like any other input.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tlsaudit/cursor.h"
#include "tlsaudit/jsonwalk.h"

struct jw {
	struct tls_cursor c;
	struct util_json_path path;
	char keys[UTIL_JSON_PATH_MAX][UTIL_JSON_KEY_MAX];
	char val[UTIL_JSON_VALUE_MAX];
	util_json_fn fn;
	void *ctx;
	int stop; /* what fn returned to stop, else 0 */
};

static int peek(const struct jw *w)
{
	return cur_left(&w->c) ? *cur_ptr(&w->c) : -1;
}

static void skip_ws(struct jw *w)
{
	int ch;

	while ((ch = peek(w)) == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
		cur_skip(&w->c, 1);
}

static int hex_val(uint8_t ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* put - one byte into @out (holding @cap with its NUL); past that only *cut is set. */
static void put(char *out, size_t cap, size_t *o, bool *cut, uint8_t ch)
{
	if (*o + 1 < cap)
		out[(*o)++] = (char)ch;
	else
		*cut = true;
}

/* put_cp - a \u escape as UTF-8; lone surrogates become U+FFFD. */
static void put_cp(char *out, size_t cap, size_t *o, bool *cut, uint32_t cp)
{
	if (cp >= 0xd800 && cp <= 0xdfff)
		cp = 0xfffd;
	if (cp < 0x80) {
		put(out, cap, o, cut, (uint8_t)cp);
	} else if (cp < 0x800) {
		put(out, cap, o, cut, (uint8_t)(0xc0 | cp >> 6));
		put(out, cap, o, cut, (uint8_t)(0x80 | (cp & 0x3f)));
	} else {
		put(out, cap, o, cut, (uint8_t)(0xe0 | cp >> 12));
		put(out, cap, o, cut, (uint8_t)(0x80 | ((cp >> 6) & 0x3f)));
		put(out, cap, o, cut, (uint8_t)(0x80 | (cp & 0x3f)));
	}
}

/* read_string - after the opening quote, up to and past the closing one (section 7). */
static int read_string(struct jw *w, char *out, size_t cap, size_t *len, bool *cut)
{
	static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
	size_t o = 0;
	uint32_t cp;
	uint8_t ch;
	int i, h;

	*cut = false;
	for (;;) {
		ch = cur_u8(&w->c);
		if (!cur_ok(&w->c) || ch < 0x20)
			return -EINVAL;
		if (ch == '"')
			break;
		if (ch != '\\') {
			put(out, cap, &o, cut, ch);
			continue;
		}
		ch = cur_u8(&w->c);
		if (ch == 'u') {
			for (i = 0, cp = 0; i < 4; i++) {
				h = hex_val(cur_u8(&w->c));
				if (h < 0 || !cur_ok(&w->c))
					return -EINVAL;
				cp = cp << 4 | (uint32_t)h;
			}
			put_cp(out, cap, &o, cut, cp);
			continue;
		}
		if (!ch || !strchr(esc_in, ch))
			return -EINVAL;
		put(out, cap, &o, cut, (uint8_t)esc_out[strchr(esc_in, ch) - esc_in]);
	}
	out[o] = '\0';
	*len = o;
	return 0;
}

static bool is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/* keep - one byte of a number's text, as far as the buffer holds (the rest is read). */
static void keep(struct jw *w, size_t *o, uint8_t ch)
{
	if (*o + 1 < sizeof(w->val))
		w->val[(*o)++] = (char)ch;
}

/* digits - one or more; false when there is none. */
static bool digits(struct jw *w, size_t *o)
{
	bool any = false;

	while (is_digit(peek(w))) {
		keep(w, o, cur_u8(&w->c));
		any = true;
	}
	return any;
}

/* read_number - section 6: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int read_number(struct jw *w, size_t *len)
{
	size_t o = 0;

	if (peek(w) == '-')
		keep(w, &o, cur_u8(&w->c));
	if (peek(w) == '0') {
		keep(w, &o, cur_u8(&w->c));
		if (is_digit(peek(w)))
			return -EINVAL;
	} else if (!digits(w, &o)) {
		return -EINVAL;
	}
	if (peek(w) == '.') {
		keep(w, &o, cur_u8(&w->c));
		if (!digits(w, &o))
			return -EINVAL;
	}
	if (peek(w) == 'e' || peek(w) == 'E') {
		keep(w, &o, cur_u8(&w->c));
		if (peek(w) == '+' || peek(w) == '-')
			keep(w, &o, cur_u8(&w->c));
		if (!digits(w, &o))
			return -EINVAL;
	}
	w->val[o] = '\0';
	*len = o;
	return 0;
}

static int literal(struct jw *w, const char *word)
{
	size_t n = strlen(word);

	if (cur_left(&w->c) < n || memcmp(cur_ptr(&w->c), word, n))
		return -EINVAL;
	cur_skip(&w->c, n);
	return 0;
}

static int emit(struct jw *w, int type, const char *s, size_t len)
{
	if (!w->fn || w->path.depth > UTIL_JSON_PATH_MAX)
		return 0;
	w->stop = w->fn(&w->path, type, s, len, w->ctx);
	return w->stop;
}

/* push - enter a member (@key) or an element (@key NULL, @index) of the container. */
static void push(struct jw *w, const char *key, bool key_cut, size_t index)
{
	int d = w->path.depth++;

	if (d >= UTIL_JSON_PATH_MAX)
		return;
	w->path.seg[d].key = key;
	w->path.seg[d].key_cut = key_cut;
	w->path.seg[d].index = index;
}

static int parse_value(struct jw *w, int depth);

static int parse_members(struct jw *w, int depth)
{
	char spare[UTIL_JSON_KEY_MAX];
	int d = w->path.depth, ret;
	char *key = d < UTIL_JSON_PATH_MAX ? w->keys[d] : spare;
	size_t klen;
	bool cut;

	skip_ws(w);
	if (peek(w) == '}') {
		cur_skip(&w->c, 1);
		return 0;
	}
	for (;;) {
		if (cur_u8(&w->c) != '"' || !cur_ok(&w->c))
			return -EINVAL;
		ret = read_string(w, key, UTIL_JSON_KEY_MAX, &klen, &cut);
		if (ret)
			return ret;
		skip_ws(w);
		if (cur_u8(&w->c) != ':' || !cur_ok(&w->c))
			return -EINVAL;
		push(w, key, cut, 0);
		ret = parse_value(w, depth + 1);
		w->path.depth--;
		if (ret)
			return ret;
		skip_ws(w);
		switch (cur_u8(&w->c)) {
		case ',':
			skip_ws(w);
			continue;
		case '}':
			return cur_ok(&w->c) ? 0 : -EINVAL;
		default:
			return -EINVAL;
		}
	}
}

static int parse_elements(struct jw *w, int depth)
{
	size_t i;
	int ret;

	skip_ws(w);
	if (peek(w) == ']') {
		cur_skip(&w->c, 1);
		return 0;
	}
	for (i = 0;; i++) {
		push(w, NULL, false, i);
		ret = parse_value(w, depth + 1);
		w->path.depth--;
		if (ret)
			return ret;
		skip_ws(w);
		switch (cur_u8(&w->c)) {
		case ',':
			continue;
		case ']':
			return cur_ok(&w->c) ? 0 : -EINVAL;
		default:
			return -EINVAL;
		}
	}
}

/*
 * parse_value - one value at @depth. Every step consumes at least one byte or fails,
 * so the walk ends within the bytes held; the depth cap bounds the recursion.
 */
static int parse_value(struct jw *w, int depth)
{
	size_t len;
	bool cut;
	int ret;

	if (depth > UTIL_JSON_DEPTH_MAX)
		return -EINVAL;
	skip_ws(w);
	switch (peek(w)) {
	case '{':
		cur_skip(&w->c, 1);
		return parse_members(w, depth);
	case '[':
		cur_skip(&w->c, 1);
		return parse_elements(w, depth);
	case '"':
		cur_skip(&w->c, 1);
		ret = read_string(w, w->val, sizeof(w->val), &len, &cut);
		return ret ? ret : emit(w, UTIL_JSON_STRING | (cut ? UTIL_JSON_CUT : 0), w->val, len);
	case 't':
		return literal(w, "true") ?: emit(w, UTIL_JSON_TRUE, "true", 4);
	case 'f':
		return literal(w, "false") ?: emit(w, UTIL_JSON_FALSE, "false", 5);
	case 'n':
		return literal(w, "null") ?: emit(w, UTIL_JSON_NULL, "null", 4);
	default:
		ret = read_number(w, &len);
		return ret ? ret : emit(w, UTIL_JSON_NUMBER, w->val, len);
	}
}

int util_json_walk(const void *buf, size_t len, util_json_fn fn, void *ctx)
{
	struct jw *w;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	cur_init(&w->c, buf, len);
	w->fn = fn;
	w->ctx = ctx;
	ret = parse_value(w, 0);
	if (!ret) {
		skip_ws(w);
		if (cur_left(&w->c))
			ret = -EINVAL;
	}
	/* A callback that stopped the walk wins over what was not read yet. */
	if (w->stop)
		ret = w->stop;
	free(w);
	return ret;
}

bool util_json_path_is(const struct util_json_path *path, ...)
{
	const char *want;
	va_list ap;
	int i = 0;
	bool ok = true;

	va_start(ap, path);
	while ((want = va_arg(ap, const char *))) {
		const struct util_json_seg *s = &path->seg[i];

		if (i >= path->depth || i >= UTIL_JSON_PATH_MAX) {
			ok = false;
			break;
		}
		if (!strcmp(want, "[]") ? s->key != NULL
					 : (!s->key || s->key_cut || strcmp(s->key, want))) {
			ok = false;
			break;
		}
		i++;
	}
	va_end(ap);
	return ok && i == path->depth;
}

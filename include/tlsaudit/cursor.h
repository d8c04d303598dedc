/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Bounded byte cursor: the only way parsers read untrusted bytes.
 *
 * Every read checks the remaining length first and builds big-endian values byte by
 * byte (no casts over payload pointers). The first failed read sets a sticky error, so
 * a parser can read a whole structure and test cur_ok() once at the end.
 */
#ifndef TLSAUDIT_CURSOR_H
#define TLSAUDIT_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct tls_cursor {
	const uint8_t *base;
	size_t len;
	size_t off;
	bool err; /* sticky: a read went past the end */
};

/* cur_init - a cursor over @len bytes at @base. */
static inline void cur_init(struct tls_cursor *c, const uint8_t *base, size_t len)
{
	c->base = base;
	c->len = len;
	c->off = 0;
	c->err = false;
}

/* cur_left - bytes not yet consumed (0 once an error is set). */
static inline size_t cur_left(const struct tls_cursor *c)
{
	return c->err ? 0 : c->len - c->off;
}

/* cur_ok - no read has failed so far. */
static inline bool cur_ok(const struct tls_cursor *c)
{
	return !c->err;
}

/* cur_ptr - pointer to the next unread byte; only valid for cur_left() bytes. */
static inline const uint8_t *cur_ptr(const struct tls_cursor *c)
{
	return c->base + c->off;
}

static inline bool cur_need(struct tls_cursor *c, size_t n)
{
	if (c->err || n > c->len - c->off) {
		c->err = true;
		return false;
	}
	return true;
}

/* cur_u8/u16/u24/u32 - read a big-endian value; 0 and a sticky error when short. */
static inline uint8_t cur_u8(struct tls_cursor *c)
{
	if (!cur_need(c, 1))
		return 0;
	return c->base[c->off++];
}

static inline uint16_t cur_u16(struct tls_cursor *c)
{
	const uint8_t *p;

	if (!cur_need(c, 2))
		return 0;
	p = c->base + c->off;
	c->off += 2;
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t cur_u24(struct tls_cursor *c)
{
	const uint8_t *p;

	if (!cur_need(c, 3))
		return 0;
	p = c->base + c->off;
	c->off += 3;
	return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}

static inline uint32_t cur_u32(struct tls_cursor *c)
{
	const uint8_t *p;

	if (!cur_need(c, 4))
		return 0;
	p = c->base + c->off;
	c->off += 4;
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* cur_bytes - copy @n bytes into @dst; on a short read @dst is zeroed. */
static inline bool cur_bytes(struct tls_cursor *c, void *dst, size_t n)
{
	if (!cur_need(c, n)) {
		memset(dst, 0, n);
		return false;
	}
	memcpy(dst, c->base + c->off, n);
	c->off += n;
	return true;
}

/* cur_skip - step over @n bytes. */
static inline bool cur_skip(struct tls_cursor *c, size_t n)
{
	if (!cur_need(c, n))
		return false;
	c->off += n;
	return true;
}

/*
 * cur_sub - split off the next @n bytes as their own cursor and step the parent past
 * them: the way to parse a length-prefixed vector without trusting its length twice.
 */
static inline bool cur_sub(struct tls_cursor *c, size_t n, struct tls_cursor *sub)
{
	if (!cur_need(c, n)) {
		cur_init(sub, c->base, 0);
		sub->err = true;
		return false;
	}
	cur_init(sub, c->base + c->off, n);
	c->off += n;
	return true;
}

#endif /* TLSAUDIT_CURSOR_H */

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Client fingerprints of a parsed ClientHello.
 *
 * JA3 (Salesforce): MD5 of "SSLVersion,Ciphers,Extensions,EllipticCurves,
 * EcPointFormats", decimal values joined by '-', GREASE (RFC 8701) removed; the
 * value matches Wireshark's tls.handshake.ja3.
 * JA4 (FoxIO, technical_details/JA4.md): "t" + version + d/i + cipher count +
 * extension count + ALPN first/last, then truncated SHA-256 of the sorted cipher list
 * and of the sorted extensions (without SNI and ALPN) "_" signature algorithms.
 *
 * Only the first TLS_MAX_LIST entries of each list are kept by the parser, so a hello
 * with more than 128 suites or extensions is fingerprinted on that prefix.
 *
 * tls_fingerprints() answers from a cache of the hellos already seen: a host's clients
 * are a few programs, each sending the same hello every time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"

/* Room for TLS_MAX_LIST five-digit decimals or 4-hex-digit values plus separators. */
#define LIST_BUF (TLS_MAX_LIST * 6 + 8)

/* A bounded string builder: appends stop at the cap instead of overrunning. */
struct sbuf {
	char *p;
	size_t cap;
	size_t len;
};

static void sb_init(struct sbuf *b, char *p, size_t cap)
{
	b->p = p;
	b->cap = cap;
	b->len = 0;
	p[0] = '\0';
}

/* Decimal and 4-digit hex appends: fingerprints are built for every handshake. */
static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (n >= b->cap - b->len)
		n = b->cap - b->len - 1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_add_dec(struct sbuf *b, unsigned int v)
{
	char tmp[20];
	size_t n = util_fmt_dec(v, tmp);

	/*
	 * n is at most sizeof(tmp), but the compiler cannot see that across files: say it
	 * here, or the copy looks as long as the whole buffer (GCC 12, -Warray-bounds
	 * with _FORTIFY_SOURCE).
	 */
	sb_add(b, tmp, n < sizeof(tmp) ? n : sizeof(tmp));
}

static void sb_add_hex4(struct sbuf *b, unsigned int v)
{
	char tmp[4];

	util_fmt_hex4((uint16_t)v, tmp);
	sb_add(b, tmp, sizeof(tmp));
}

static void sb_addc(struct sbuf *b, char ch)
{
	if (b->len < b->cap - 1) {
		b->p[b->len++] = ch;
		b->p[b->len] = '\0';
	}
}

static void hex_digest(const char *md_name, const char *in, char *out, size_t hex_chars)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	/*
	 * Fetch each algorithm once: with OpenSSL 3 the EVP_md5()/EVP_sha256() shims make
	 * every EVP_Digest() fetch it again, under a lock, once per handshake.
	 */
	static EVP_MD *md5_alg, *sha256_alg;
	const bool is_md5 = strcmp(md_name, "md5") == 0;
	EVP_MD **alg = is_md5 ? &md5_alg : &sha256_alg;
	size_t i;

	if (!*alg)
		*alg = EVP_MD_fetch(NULL, is_md5 ? "MD5" : "SHA256", NULL);
	if (!*alg || !EVP_Digest(in, strlen(in), md, &md_len, *alg, NULL))
		md_len = 0;
	for (i = 0; i < hex_chars; i++) {
		if (i / 2 >= md_len) {
			out[i] = '0';
			continue;
		}
		out[i] = hex[(md[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
	}
	out[hex_chars] = '\0';
}

/* Decimal values joined by '-', GREASE left out. */
static void ja3_list(struct sbuf *b, const uint16_t *v, size_t n)
{
	bool first = true;
	size_t i;

	for (i = 0; i < n; i++) {
		if (tls_is_grease(v[i]))
			continue;
		if (!first)
			sb_addc(b, '-');
		sb_add_dec(b, v[i]);
		first = false;
	}
}

void tls_ja3(const struct tls_client_hello *ch, char out[33])
{
	char buf[LIST_BUF * 3 + 64];
	struct sbuf b;
	size_t i;

	sb_init(&b, buf, sizeof(buf));
	sb_add_dec(&b, ch->legacy_version);
	sb_addc(&b, ',');
	ja3_list(&b, ch->ciphers.v, ch->ciphers.n);
	sb_addc(&b, ',');
	ja3_list(&b, ch->exts.v, ch->exts.n);
	sb_addc(&b, ',');
	ja3_list(&b, ch->groups.v, ch->groups.n);
	sb_addc(&b, ',');
	for (i = 0; i < ch->n_ec_point_formats; i++) {
		if (i)
			sb_addc(&b, '-');
		sb_add_dec(&b, ch->ec_point_formats[i]);
	}
	hex_digest("md5", buf, out, 32);
}

static void sort_u16(uint16_t *v, size_t n)
{
	size_t i, j;

	for (i = 1; i < n; i++) {
		uint16_t x = v[i];

		for (j = i; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* Copy @l without GREASE (and without @skip_a/@skip_b when @skip is set). */
static size_t filter(const struct tls_u16_list *l, uint16_t *out, bool skip, uint16_t skip_a,
		     uint16_t skip_b)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++) {
		if (tls_is_grease(l->v[i]))
			continue;
		if (skip && (l->v[i] == skip_a || l->v[i] == skip_b))
			continue;
		out[n++] = l->v[i];
	}
	return n;
}

static void hex_list(struct sbuf *b, const uint16_t *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i)
			sb_addc(b, ',');
		sb_add_hex4(b, v[i]);
	}
}

static const char *ja4_version(const struct tls_client_hello *ch)
{
	uint16_t v = 0;
	uint16_t i;

	if (ch->sslv2)
		return "s2";
	for (i = 0; i < ch->versions.n; i++)
		if (!tls_is_grease(ch->versions.v[i]) && ch->versions.v[i] > v)
			v = ch->versions.v[i];
	if (v == 0)
		v = ch->legacy_version;
	switch (v) {
	case TLS_V_13:
		return "13";
	case TLS_V_12:
		return "12";
	case TLS_V_11:
		return "11";
	case TLS_V_10:
		return "10";
	case TLS_V_SSL3:
		return "s3";
	case TLS_V_SSL2:
		return "s2";
	default:
		return "00";
	}
}

static bool is_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/*
 * First and last character of the first ALPN value. A first byte above 0x7f gives
 * "99", as in FoxIO's reference implementation that produced the published test
 * values (tls-non-ascii-alpn: 0xbaad -> "99"); any other non-alphanumeric first or
 * last byte gives the first and last hex digit of the value (JA4.md, "ALPN").
 */
static void ja4_alpn(const struct tls_client_hello *ch, char out[3])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t n, first, last;

	out[0] = '0';
	out[1] = '0';
	out[2] = '\0';
	if (!ch->has_alpn || ch->alpn_raw_len < 2)
		return;
	n = ch->alpn_raw[0];
	if (n == 0 || (size_t)n + 1 > ch->alpn_raw_len)
		return;
	first = ch->alpn_raw[1];
	last = ch->alpn_raw[n];
	if (first > 0x7f) {
		out[0] = '9';
		out[1] = '9';
	} else if (is_alnum(first) && is_alnum(last)) {
		out[0] = (char)first;
		out[1] = (char)last;
	} else {
		out[0] = hex[first >> 4];
		out[1] = hex[last & 0xf];
	}
}

static unsigned int count_non_grease(const struct tls_u16_list *l)
{
	unsigned int n = l->total - l->n; /* entries beyond the cap count as real */
	uint16_t i;

	for (i = 0; i < l->n; i++)
		if (!tls_is_grease(l->v[i]))
			n++;
	return n > 99 ? 99 : n;
}

void tls_ja4(const struct tls_client_hello *ch, char out[40])
{
	uint16_t v[TLS_MAX_LIST], s[TLS_MAX_LIST];
	char buf[LIST_BUF * 2 + 8], alpn[3], b_hash[13], c_hash[13];
	bool sni = false;
	struct sbuf b;
	size_t n, ns;
	uint16_t i;

	for (i = 0; i < ch->exts.n; i++)
		if (ch->exts.v[i] == 0)
			sni = true;
	ja4_alpn(ch, alpn);

	n = filter(&ch->ciphers, v, false, 0, 0);
	if (n == 0) {
		memcpy(b_hash, "000000000000", 13);
	} else {
		sort_u16(v, n);
		sb_init(&b, buf, sizeof(buf));
		hex_list(&b, v, n);
		hex_digest("sha256", buf, b_hash, 12);
	}

	n = filter(&ch->exts, v, true, 0x0000, 0x0010);
	ns = filter(&ch->sig_algs, s, false, 0, 0);
	if (n == 0) {
		memcpy(c_hash, "000000000000", 13);
	} else {
		sort_u16(v, n);
		sb_init(&b, buf, sizeof(buf));
		hex_list(&b, v, n);
		if (ns) {
			sb_addc(&b, '_');
			hex_list(&b, s, ns);
		}
		hex_digest("sha256", buf, c_hash, 12);
	}

	snprintf(out, 40, "t%s%c%02u%02u%s_%s_%s", ja4_version(ch), sni ? 'd' : 'i',
		 count_non_grease(&ch->ciphers), count_non_grease(&ch->exts), alpn, b_hash,
		 c_hash);
}

/*
 * The cache. Its key is everything JA3 and JA4 read of a ClientHello, serialised; a
 * slot answers only when its key is equal byte for byte, never on a hash alone, so no
 * peer can give another client's handshake its fingerprints. A hello whose key does not
 * fit (very long lists) is fingerprinted without the cache.
 */
#define FP_KEY_MAX 1024
#define FP_WAYS 4   /* two hellos that pick the same set must not evict each other */
#define FP_SLOTS 256 /* 64 sets; about 280 KiB */

struct fp_slot {
	uint64_t hash;
	uint64_t used;	  /* tick of the last hit or fill, for LRU within the set */
	uint32_t key_len; /* 0: empty */
	char ja3[33];
	char ja4[40];
	uint8_t key[FP_KEY_MAX];
};

struct tls_fp_cache {
	struct tls_fp_cache_stats st;
	uint64_t tick;
	struct fp_slot slot[FP_SLOTS];
};

struct tls_fp_cache *tls_fp_cache_new(void)
{
	return calloc(1, sizeof(struct tls_fp_cache));
}

void tls_fp_cache_free(struct tls_fp_cache *c)
{
	free(c);
}

void tls_fp_cache_stats(const struct tls_fp_cache *c, struct tls_fp_cache_stats *out)
{
	*out = c->st;
}

/* Append @n bytes at *@off; false once the key would not fit. */
static bool key_put(uint8_t *key, size_t *off, const void *p, size_t n)
{
	if (n > FP_KEY_MAX - *off)
		return false;
	memcpy(key + *off, p, n);
	*off += n;
	return true;
}

static bool key_list(uint8_t *key, size_t *off, const struct tls_u16_list *l)
{
	size_t n = l->n < TLS_MAX_LIST ? l->n : TLS_MAX_LIST;

	return key_put(key, off, &l->n, sizeof(l->n)) &&
	       key_put(key, off, &l->total, sizeof(l->total)) &&
	       key_put(key, off, l->v, n * sizeof(l->v[0]));
}

/* The fields of tls_ja3() and tls_ja4(), in a fixed order with their lengths. */
static size_t fp_key(const struct tls_client_hello *ch, uint8_t *key)
{
	uint8_t pf = ch->n_ec_point_formats < sizeof(ch->ec_point_formats) ?
			     ch->n_ec_point_formats :
			     sizeof(ch->ec_point_formats);
	uint8_t head[4];
	char alpn[3];
	size_t off = 0;

	ja4_alpn(ch, alpn);
	head[0] = ch->sslv2;
	head[1] = pf;
	head[2] = (uint8_t)alpn[0];
	head[3] = (uint8_t)alpn[1];
	if (!key_put(key, &off, head, sizeof(head)) ||
	    !key_put(key, &off, &ch->legacy_version, sizeof(ch->legacy_version)) ||
	    !key_put(key, &off, ch->ec_point_formats, pf) || !key_list(key, &off, &ch->ciphers) ||
	    !key_list(key, &off, &ch->exts) || !key_list(key, &off, &ch->groups) ||
	    !key_list(key, &off, &ch->sig_algs) || !key_list(key, &off, &ch->versions))
		return 0;
	return off;
}

/* 64-bit multiply-xorshift over 8-byte words: only picks the slot. */
static uint64_t fp_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, sizeof(w));
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	if (i < n) {
		w = 0;
		memcpy(&w, p + i, n - i);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
		h ^= h >> 29;
	}
	return h;
}

void tls_fingerprints(struct tls_fp_cache *c, const struct tls_client_hello *ch, char ja3[33],
		      char ja4[40])
{
	uint8_t key[FP_KEY_MAX];
	struct fp_slot *set, *s = NULL;
	size_t len, i;
	uint64_t h;

	len = c ? fp_key(ch, key) : 0;
	if (!len) {
		tls_ja3(ch, ja3);
		tls_ja4(ch, ja4);
		return;
	}
	h = fp_hash(key, len);
	set = &c->slot[(h % (FP_SLOTS / FP_WAYS)) * FP_WAYS];
	c->tick++;
	for (i = 0; i < FP_WAYS; i++) {
		if (set[i].key_len == len && set[i].hash == h && !memcmp(set[i].key, key, len)) {
			s = &set[i];
			c->st.hits++;
			break;
		}
		/* The least recently used way (an empty one has tick 0) is the victim. */
		if (!s || set[i].used < s->used)
			s = &set[i];
	}
	if (i == FP_WAYS) {
		c->st.misses++;
		tls_ja3(ch, s->ja3);
		tls_ja4(ch, s->ja4);
		memcpy(s->key, key, len);
		s->key_len = (uint32_t)len;
		s->hash = h;
	}
	s->used = c->tick;
	memcpy(ja3, s->ja3, sizeof(s->ja3));
	memcpy(ja4, s->ja4, sizeof(s->ja4));
}

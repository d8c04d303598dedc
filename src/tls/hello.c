// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hello message parsers: ClientHello and ServerHello (RFC 8446 section 4.1.2-4.1.4,
 * RFC 5246 section 7.4.1), the ECDHE ServerKeyExchange curve (RFC 8422 section 5.4) and
 * the SSLv2-format CLIENT-HELLO (RFC 6101 appendix E.2, the SSLv2 draft section 2.5).
 *
 * Every byte here is peer-controlled. Each vector is split off with cur_sub() so a
 * claimed length is trusted once, and every inner length must fill its container
 * exactly: a length that is off by one is TLS_INVALID, never a misaligned guess.
 */
#include <string.h>

#include "tlsaudit/cursor.h"
#include "tlsaudit/tls.h"

/* Far above any real hello (a 16 KiB body holds at most 4096 empty extensions). */
#define MAX_EXTENSIONS 4096

/* SHA-256("HelloRetryRequest"), the random of every HRR (RFC 8446 section 4.1.3). */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

enum {
	EXT_SERVER_NAME = 0,
	EXT_SUPPORTED_GROUPS = 10,
	EXT_EC_POINT_FORMATS = 11,
	EXT_SIGNATURE_ALGORITHMS = 13,
	EXT_ALPN = 16,
	EXT_KEY_SHARE_DRAFT = 40, /* key_share until draft-ietf-tls-tls13-22 */
	EXT_SUPPORTED_VERSIONS = 43,
	EXT_KEY_SHARE = 51, /* renumbered in draft-ietf-tls-tls13-23 */
};

/*
 * Extension 40 is a key_share only when the version in force says so, and the
 * ServerHello's supported_versions may follow it: its reading waits aside here until
 * the whole block has been walked.
 */
struct draft_share {
	bool seen;		    /* extension 40 was present */
	bool bad;		    /* and malformed as a key_share */
	bool new_seen;		    /* extension 51 was present (ClientHello) */
	uint16_t group;		    /* ServerHello: its group */
	struct tls_u16_list groups; /* ClientHello: its KeyShareEntry groups */
};

static void list_add(struct tls_u16_list *l, uint16_t v)
{
	if (l->n < TLS_MAX_LIST)
		l->v[l->n++] = v;
	if (l->total < UINT16_MAX)
		l->total++;
}

/*
 * Order versions for "highest offered": TLS 1.3's pre-RFC builds (tls_version_is_13())
 * count as TLS 1.3; values outside SSLv3..TLS 1.3 (GREASE, DTLS, private) do not count.
 */
static uint16_t version_rank(uint16_t v)
{
	if (v >= TLS_V_SSL3 && v <= TLS_V_13)
		return v;
	if (tls_version_is_13(v))
		return TLS_V_13;
	return 0;
}

/* BoringSSL's TLS 1.3 experiments 1 to 3 (Chrome's 2017 trials, draft-18 based). */
static bool tls13_experiment(uint16_t v)
{
	return v >= 0x7e01 && v <= 0x7e03;
}

bool tls_version_is_13(uint16_t v)
{
	/*
	 * Drafts send 0x7f00 | draft (the "Draft Version Indicator" of
	 * draft-ietf-tls-tls13-16 to -28); Facebook's Fizz sent 0xfb17 and 0xfb1a for its
	 * builds of drafts 23 and 26.
	 */
	return v == TLS_V_13 || (v >> 8) == 0x7f || tls13_experiment(v) || v == 0xfb17 ||
	       v == 0xfb1a;
}

/*
 * Drafts before -22 put the version in the ServerHello's first field and had neither a
 * session id echo nor a compression method (draft-ietf-tls-tls13-21 section 4.1.3).
 * The experiments had both from the start; draft-22 took them from there.
 */
static bool draft_server_hello(uint16_t v)
{
	return (v >> 8) == 0x7f && (v & 0xff) < 22;
}

/* Versions whose key_share is extension 40: drafts before -23 and the experiments. */
static bool draft_key_share(uint16_t v)
{
	return ((v >> 8) == 0x7f && (v & 0xff) < 23) || tls13_experiment(v);
}

/* A vector of 16-bit values filling @c exactly, with a length of @len_bytes (1 or 2). */
static int parse_u16_vector(struct tls_cursor *c, int len_bytes, struct tls_u16_list *out)
{
	struct tls_cursor v;
	size_t len;

	len = len_bytes == 1 ? cur_u8(c) : cur_u16(c);
	if (!cur_ok(c) || len != cur_left(c) || (len & 1))
		return TLS_INVALID;
	if (!cur_sub(c, len, &v))
		return TLS_INVALID;
	while (cur_left(&v) >= 2)
		list_add(out, cur_u16(&v));
	return TLS_OK;
}

/* server_name (RFC 6066 section 3): keep the first host_name, cut at the cap. */
static int parse_sni(struct tls_cursor *c, struct tls_client_hello *ch)
{
	struct tls_cursor list, name;
	size_t len, n;
	int iter = 0;

	len = cur_u16(c);
	if (!cur_ok(c) || len != cur_left(c) || len == 0 || !cur_sub(c, len, &list))
		return TLS_INVALID;
	while (cur_left(&list) > 0 && iter++ < MAX_EXTENSIONS) {
		uint8_t type = cur_u8(&list);

		len = cur_u16(&list);
		if (!cur_ok(&list) || len > cur_left(&list) || !cur_sub(&list, len, &name))
			return TLS_INVALID;
		if (type != 0 || ch->sni[0] != '\0' || len == 0)
			continue;
		n = len < sizeof(ch->sni) - 1 ? len : sizeof(ch->sni) - 1;
		memcpy(ch->sni, cur_ptr(&name), n);
		ch->sni[n] = '\0';
		ch->sni_truncated = n < len;
	}
	return cur_left(&list) == 0 ? TLS_OK : TLS_INVALID;
}

/*
 * ALPN (RFC 7301 section 3.1): a list of non-empty 8-bit-length strings. The client
 * list is kept raw (JA4 and the "offered" fallback read it).
 */
static int check_alpn_list(struct tls_cursor *c, struct tls_cursor *list)
{
	size_t len;
	int iter = 0;

	len = cur_u16(c);
	if (!cur_ok(c) || len != cur_left(c) || len == 0 || !cur_sub(c, len, list))
		return TLS_INVALID;
	{
		struct tls_cursor walk = *list;

		while (cur_left(&walk) > 0 && iter++ < MAX_EXTENSIONS) {
			len = cur_u8(&walk);
			if (len == 0 || !cur_skip(&walk, len))
				return TLS_INVALID;
		}
		if (cur_left(&walk) != 0)
			return TLS_INVALID;
	}
	return TLS_OK;
}

static int parse_client_alpn(struct tls_cursor *c, struct tls_client_hello *ch)
{
	struct tls_cursor list;
	size_t n;

	if (check_alpn_list(c, &list) != TLS_OK)
		return TLS_INVALID;
	n = cur_left(&list);
	if (n > sizeof(ch->alpn_raw))
		n = sizeof(ch->alpn_raw);
	memcpy(ch->alpn_raw, cur_ptr(&list), n);
	ch->alpn_raw_len = (uint16_t)n;
	ch->has_alpn = true;
	return TLS_OK;
}

/* key_share in a ClientHello (RFC 8446 section 4.2.8): KeyShareEntry list. */
static int parse_client_key_share(struct tls_cursor *c, struct tls_u16_list *out)
{
	struct tls_cursor list;
	size_t len;
	int iter = 0;

	len = cur_u16(c);
	if (!cur_ok(c) || len != cur_left(c) || !cur_sub(c, len, &list))
		return TLS_INVALID;
	while (cur_left(&list) > 0 && iter++ < MAX_EXTENSIONS) {
		uint16_t group = cur_u16(&list);

		len = cur_u16(&list);
		if (!cur_ok(&list) || len > cur_left(&list) || !cur_skip(&list, len))
			return TLS_INVALID;
		list_add(out, group);
	}
	return cur_left(&list) == 0 ? TLS_OK : TLS_INVALID;
}

/* key_share in a ServerHello: one KeyShareEntry; in a HelloRetryRequest only the group. */
static int parse_server_key_share(struct tls_cursor *c, bool hrr, uint16_t *group)
{
	size_t len;

	*group = cur_u16(c);
	if (!cur_ok(c))
		return TLS_INVALID;
	if (hrr)
		return cur_left(c) == 0 ? TLS_OK : TLS_INVALID;
	len = cur_u16(c);
	if (!cur_ok(c) || len != cur_left(c) || len == 0)
		return TLS_INVALID;
	return TLS_OK;
}

static int parse_client_ext(uint16_t type, struct tls_cursor *e, struct tls_client_hello *ch,
			    struct draft_share *d)
{
	size_t len;

	switch (type) {
	case EXT_SERVER_NAME:
		/* An empty server_name is how a server acknowledges SNI; a client sends a list. */
		return cur_left(e) == 0 ? TLS_OK : parse_sni(e, ch);
	case EXT_SUPPORTED_GROUPS:
		return parse_u16_vector(e, 2, &ch->groups);
	case EXT_SIGNATURE_ALGORITHMS:
		return parse_u16_vector(e, 2, &ch->sig_algs);
	case EXT_SUPPORTED_VERSIONS:
		return parse_u16_vector(e, 1, &ch->versions);
	case EXT_KEY_SHARE:
		d->new_seen = true;
		return parse_client_key_share(e, &ch->key_shares);
	case EXT_KEY_SHARE_DRAFT:
		d->seen = true;
		d->bad = parse_client_key_share(e, &d->groups) != TLS_OK;
		return TLS_OK;
	case EXT_ALPN:
		return parse_client_alpn(e, ch);
	case EXT_EC_POINT_FORMATS:
		len = cur_u8(e);
		if (!cur_ok(e) || len != cur_left(e) || len == 0)
			return TLS_INVALID;
		while (cur_left(e) > 0) {
			uint8_t f = cur_u8(e);

			if (ch->n_ec_point_formats < sizeof(ch->ec_point_formats))
				ch->ec_point_formats[ch->n_ec_point_formats++] = f;
		}
		return TLS_OK;
	default:
		return TLS_OK;
	}
}

static int parse_server_ext(uint16_t type, struct tls_cursor *e, struct tls_server_hello *sh,
			    struct draft_share *d)
{
	struct tls_cursor list;
	size_t len;

	switch (type) {
	case EXT_SUPPORTED_VERSIONS:
		/* The server sends the one selected version, no vector. */
		sh->version = cur_u16(e);
		return cur_ok(e) && cur_left(e) == 0 ? TLS_OK : TLS_INVALID;
	case EXT_KEY_SHARE:
		if (parse_server_key_share(e, sh->hrr, &sh->group) != TLS_OK)
			return TLS_INVALID;
		sh->has_group = true;
		return TLS_OK;
	case EXT_KEY_SHARE_DRAFT:
		d->seen = true;
		d->bad = parse_server_key_share(e, sh->hrr, &d->group) != TLS_OK;
		return TLS_OK;
	case EXT_ALPN:
		/* RFC 7301 section 3.1: exactly one protocol name in the server's list. */
		if (check_alpn_list(e, &list) != TLS_OK)
			return TLS_INVALID;
		len = cur_u8(&list);
		if (len != cur_left(&list))
			return TLS_INVALID;
		if (len > sizeof(sh->alpn) - 1)
			len = sizeof(sh->alpn) - 1;
		memcpy(sh->alpn, cur_ptr(&list), len);
		sh->alpn[len] = '\0';
		sh->has_alpn = true;
		return TLS_OK;
	default:
		return TLS_OK;
	}
}

/*
 * The extensions block shared by both hellos: a 2-byte length that must cover the
 * rest of the body exactly, then (type, length, body) entries. @ch or @sh says which
 * hello the bodies belong to.
 */
static int parse_extensions(struct tls_cursor *c, struct tls_u16_list *types,
			    struct tls_client_hello *ch, struct tls_server_hello *sh,
			    struct draft_share *d)
{
	struct tls_cursor block, e;
	size_t len;
	int iter = 0, ret;

	/* Extensions are optional (RFC 5246 section 7.4.1.2): nothing after compression. */
	if (cur_left(c) == 0)
		return TLS_OK;
	len = cur_u16(c);
	if (!cur_ok(c) || len != cur_left(c) || !cur_sub(c, len, &block))
		return TLS_INVALID;
	while (cur_left(&block) > 0) {
		uint16_t type;

		if (iter++ >= MAX_EXTENSIONS)
			return TLS_INVALID;
		type = cur_u16(&block);
		len = cur_u16(&block);
		if (!cur_ok(&block) || len > cur_left(&block) || !cur_sub(&block, len, &e))
			return TLS_INVALID;
		list_add(types, type);
		ret = ch ? parse_client_ext(type, &e, ch, d) : parse_server_ext(type, &e, sh, d);
		if (ret != TLS_OK)
			return ret;
	}
	return TLS_OK;
}

static uint16_t max_offered(const struct tls_client_hello *ch)
{
	uint16_t best = 0, r;
	uint16_t i;

	for (i = 0; i < ch->versions.n; i++) {
		r = version_rank(ch->versions.v[i]);
		if (r > best)
			best = r;
	}
	/* No usable supported_versions: the legacy field is the offer (RFC 8446 4.2.1). */
	return best ? best : ch->legacy_version;
}

static bool offers_draft_key_share(const struct tls_client_hello *ch)
{
	uint16_t i;

	for (i = 0; i < ch->versions.n; i++)
		if (draft_key_share(ch->versions.v[i]))
			return true;
	return false;
}

int tls_parse_client_hello(const uint8_t *body, size_t len, struct tls_client_hello *ch)
{
	struct draft_share d;
	struct tls_cursor c, v;
	size_t n;
	int ret;

	memset(ch, 0, sizeof(*ch));
	memset(&d, 0, sizeof(d));
	cur_init(&c, body, len);
	ch->legacy_version = cur_u16(&c);
	/*
	 * Every SSLv3 and TLS client_version has major 3 (TLS 1.3 freezes it at 0x0303):
	 * anything else is no hello, and would leave the offer at 0, "no ClientHello".
	 */
	if ((ch->legacy_version >> 8) != 3)
		return TLS_INVALID;
	cur_skip(&c, 32); /* random */
	n = cur_u8(&c);
	if (!cur_ok(&c) || n > 32 || !cur_skip(&c, n))
		return TLS_INVALID;
	/* cipher_suites<2..2^16-2>: even and not empty. */
	n = cur_u16(&c);
	if (!cur_ok(&c) || n == 0 || (n & 1) || n > cur_left(&c) || !cur_sub(&c, n, &v))
		return TLS_INVALID;
	while (cur_left(&v) >= 2)
		list_add(&ch->ciphers, cur_u16(&v));
	/* compression_methods<1..2^8-1> */
	n = cur_u8(&c);
	if (!cur_ok(&c) || n == 0 || !cur_skip(&c, n))
		return TLS_INVALID;
	ret = parse_extensions(&c, &ch->exts, ch, NULL, &d);
	if (ret != TLS_OK)
		return ret;
	/*
	 * A client offering a draft before -23 sent its shares as extension 40; one that
	 * also offered a later version sent both, and then 51, the lasting number, is kept.
	 */
	if (d.seen && offers_draft_key_share(ch)) {
		if (d.bad)
			return TLS_INVALID;
		if (!d.new_seen)
			ch->key_shares = d.groups;
	}
	ch->max_version = max_offered(ch);
	return TLS_OK;
}

int tls_parse_server_hello(const uint8_t *body, size_t len, struct tls_server_hello *sh)
{
	struct draft_share d;
	struct tls_cursor c;
	uint8_t random[32];
	size_t n;
	int ret;

	memset(sh, 0, sizeof(*sh));
	memset(&d, 0, sizeof(d));
	cur_init(&c, body, len);
	sh->legacy_version = cur_u16(&c);
	cur_bytes(&c, random, sizeof(random));
	if (draft_server_hello(sh->legacy_version)) {
		sh->cipher = cur_u16(&c);
	} else {
		n = cur_u8(&c);
		if (!cur_ok(&c) || n > 32 || !cur_skip(&c, n))
			return TLS_INVALID;
		sh->cipher = cur_u16(&c);
		cur_u8(&c); /* compression_method */
	}
	if (!cur_ok(&c))
		return TLS_INVALID;
	sh->hrr = memcmp(random, hrr_random, sizeof(random)) == 0;
	ret = parse_extensions(&c, &sh->exts, NULL, sh, &d);
	if (ret != TLS_OK)
		return ret;
	/* supported_versions overrides the frozen 0x0303 legacy field (RFC 8446 4.2.1). */
	if (sh->version == 0)
		sh->version = sh->legacy_version;
	if (version_rank(sh->version) == 0)
		return TLS_INVALID;
	/* For a version before the renumbering, 40 is the key_share and 51 meant nothing. */
	if (draft_key_share(sh->version)) {
		if (d.seen && d.bad)
			return TLS_INVALID;
		sh->group = d.seen ? d.group : 0;
		sh->has_group = d.seen;
	}
	return TLS_OK;
}

int tls_parse_ske_group(const uint8_t *body, size_t len, uint16_t *group)
{
	struct tls_cursor c;
	uint16_t g;
	size_t n;

	cur_init(&c, body, len);
	/* ECParameters: curve_type 3 = named_curve, then NamedCurve; then the point. */
	if (cur_u8(&c) != 3)
		return TLS_INVALID;
	g = cur_u16(&c);
	n = cur_u8(&c);
	if (!cur_ok(&c) || n == 0 || n > cur_left(&c))
		return TLS_INVALID;
	*group = g;
	return TLS_OK;
}

/*
 * SSLv2 CLIENT-HELLO. Cipher specs are 3 bytes. Specs whose first byte is 0 are TLS
 * suites and are kept as their 16-bit id. SSLv2-only kinds (0x010080 RC4_128_WITH_MD5
 * and so on, first byte 0x01..0xff) cannot be told apart in 16 bits by the low bytes
 * (0x0080 is a GOST suite), so they are kept as 0xff00 | first byte in the private-use
 * range: 0xff01 = SSL_CK_RC4_128_WITH_MD5 ... 0xff08 = SSL_CK_RC4_64_WITH_MD5
 * (tls_cipher_name() knows them).
 */
int tls_parse_sslv2_hello(const uint8_t *buf, size_t len, struct tls_client_hello *ch)
{
	struct tls_cursor c, v;
	size_t rec_len, spec_len, sid_len, chal_len;
	uint8_t b0;

	memset(ch, 0, sizeof(*ch));
	cur_init(&c, buf, len);
	b0 = cur_u8(&c);
	rec_len = ((size_t)(b0 & 0x7f) << 8) | cur_u8(&c);
	if (!cur_ok(&c))
		return TLS_TRUNCATED;
	/* Only the 2-byte header form (top bit set) carries a hello without padding. */
	if (!(b0 & 0x80) || rec_len < 9)
		return TLS_INVALID;
	if (rec_len > cur_left(&c)) {
		/* Reject early what cannot become a CLIENT-HELLO even with more bytes. */
		if (cur_left(&c) >= 1 && cur_ptr(&c)[0] != 1)
			return TLS_INVALID;
		return TLS_TRUNCATED;
	}
	cur_sub(&c, rec_len, &v);
	if (cur_u8(&v) != 1) /* SSL2_MT_CLIENT_HELLO */
		return TLS_INVALID;
	ch->sslv2 = true;
	ch->legacy_version = cur_u16(&v);
	spec_len = cur_u16(&v);
	sid_len = cur_u16(&v);
	chal_len = cur_u16(&v);
	if (!cur_ok(&v) || spec_len == 0 || spec_len % 3 != 0)
		return TLS_INVALID;
	/* Session id: 0 or 16 bytes; challenge 16..32 bytes (SSLv2 draft 2.5). */
	if ((sid_len != 0 && sid_len != 16) || chal_len < 16 || chal_len > 32)
		return TLS_INVALID;
	if (spec_len > cur_left(&v) || sid_len + chal_len != cur_left(&v) - spec_len)
		return TLS_INVALID;
	while (spec_len > 0) {
		uint8_t k = cur_u8(&v);
		uint16_t id = cur_u16(&v);

		list_add(&ch->ciphers, k == 0 ? id : (uint16_t)(0xff00 | k));
		spec_len -= 3;
	}
	if (ch->legacy_version == TLS_V_SSL2 || version_rank(ch->legacy_version))
		ch->max_version = ch->legacy_version;
	else
		return TLS_INVALID;
	return TLS_OK;
}

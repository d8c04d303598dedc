// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policies judged on every handshake: "could it still succeed if the peer enforced
 * this?" (DESIGN.md, would_fail). The client is judged by its whole offer, the server
 * by its choice; the rules, the config keys and the built-in profiles are in
 * docs/policies.md.
 *
 * Judging runs per handshake and per active policy, so it allocates nothing and reads
 * only precomputed state: the offer's suites carry their class (TLS 1.3, ECDHE) as
 * bit masks computed once when the offer is built, and a policy's suite and group
 * lists are bit pages indexed by the code's high byte.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tlsaudit/policy.h"
#include "tlsaudit/record.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"
#include "policy_int.h"

#define EXT_SUPPORTED_GROUPS 0x000a
#define EXT_EMS 0x0017
#define EXT_SUPPORTED_VERSIONS 0x002b

#define SUITE_EMPTY_RENEGOTIATION_INFO_SCSV 0x00ff
#define SUITE_FALLBACK_SCSV 0x5600

#define LEGACY_VERSIONS                                                                     \
	(TLS_OFFER_V_SSL2 | TLS_OFFER_V_SSL3 | TLS_OFFER_V_TLS10 | TLS_OFFER_V_TLS11 |     \
	 TLS_OFFER_V_TLS12)

/* A config value is one line of a config file (CFG_LINE_MAX in config.c). */
#define VALUE_MAX 1024

/* ---- code point sets ---------------------------------------------------------- */

static void set_clear(struct tls_u16_set *s)
{
	memset(s, 0, sizeof(*s));
}

static bool set_has(const struct tls_u16_set *s, uint16_t v)
{
	uint8_t hi = (uint8_t)(v >> 8), lo = (uint8_t)v;
	uint8_t i;

	for (i = 0; i < s->n_pages; i++)
		if (s->hi[i] == hi)
			return (s->bits[i][lo >> 6] >> (lo & 63)) & 1;
	return false;
}

/* set_add - 0, or -ENOSPC when @v needs a page beyond TLS_U16_SET_PAGES. */
static int set_add(struct tls_u16_set *s, uint16_t v)
{
	uint8_t hi = (uint8_t)(v >> 8), lo = (uint8_t)v;
	uint8_t i;

	for (i = 0; i < s->n_pages; i++)
		if (s->hi[i] == hi)
			break;
	if (i == s->n_pages) {
		if (s->n_pages == TLS_U16_SET_PAGES)
			return -ENOSPC;
		s->hi[s->n_pages++] = hi;
	}
	s->bits[i][lo >> 6] |= 1ULL << (lo & 63);
	return 0;
}

/* ---- versions ----------------------------------------------------------------- */

static const struct {
	uint16_t code;
	uint8_t bit;
} versions[] = {
	{ TLS_V_SSL2, TLS_OFFER_V_SSL2 },  { TLS_V_SSL3, TLS_OFFER_V_SSL3 },
	{ TLS_V_10, TLS_OFFER_V_TLS10 },   { TLS_V_11, TLS_OFFER_V_TLS11 },
	{ TLS_V_12, TLS_OFFER_V_TLS12 },   { TLS_V_13, TLS_OFFER_V_TLS13 },
};

static uint8_t version_bit(uint16_t v)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(versions); i++)
		if (versions[i].code == v)
			return versions[i].bit;
	return 0;
}

static bool version_in_range(const struct tls_policy *p, uint16_t v)
{
	return (!p->min_version || v >= p->min_version) && (!p->max_version || v <= p->max_version);
}

/* refresh - recompute what is derived from the rules (after every change). */
static void refresh(struct tls_policy *p)
{
	size_t i;

	p->vmask = 0;
	for (i = 0; i < ARRAY_SIZE(versions); i++)
		if (version_in_range(p, versions[i].code))
			p->vmask |= versions[i].bit;
}

/* ---- the offer ---------------------------------------------------------------- */

static bool list_has(const struct tls_u16_list *l, uint16_t v)
{
	uint16_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i] == v)
			return true;
	return false;
}

static void offer_add_group(struct tls_offer *o, uint16_t g)
{
	uint8_t i;

	if (tls_is_grease(g))
		return;
	for (i = 0; i < o->n_groups; i++)
		if (o->groups[i] == g)
			return;
	if (o->n_groups == TLS_OFFER_MAX_GROUPS) {
		o->flags |= TLS_OFFER_GROUPS_CUT;
		return;
	}
	o->groups[o->n_groups++] = g;
}

/*
 * A TLS <= 1.2 suite whose key exchange uses a curve from the client's
 * supported_groups: the ECDHE family (RFC 8422), ECDHE_PSK included. Static ECDH takes
 * the certificate's curve and negotiates nothing.
 */
static bool suite_is_ecdhe_by_name(uint16_t s)
{
	const char *name = tls_cipher_name(s);

	return name && !strncmp(name, "TLS_ECDHE_", 10);
}

/*
 * The name lookup costs a bisection per suite, about 20 ns, and an offer has 30 suites
 * on every handshake: the answers for the pages that hold ECDHE suites are kept as a
 * bitmap, built once from the names (the daemon has one thread; a second builder
 * would write the same bits). tls_policy_ecdhe_pages_ok() lets the tests check that
 * no ECDHE suite lives outside these pages.
 */
static const uint8_t ecdhe_page_hi[] = { 0xc0, 0xcc, 0xd0, 0xe4 };
/* One bit per suite (8 KiB): a load and a shift, not a search of the pages. */
static uint64_t ecdhe_bits[65536 / 64];
static bool ecdhe_ready;

static void ecdhe_build(void)
{
	size_t i;
	unsigned int lo;
	uint16_t s;

	for (i = 0; i < sizeof(ecdhe_page_hi); i++)
		for (lo = 0; lo < 256; lo++) {
			s = (uint16_t)(ecdhe_page_hi[i] << 8 | lo);
			if (suite_is_ecdhe_by_name(s))
				ecdhe_bits[s / 64] |= 1ULL << (s % 64);
		}
	ecdhe_ready = true;
}

static bool suite_uses_ec_group(uint16_t s)
{
	if (!ecdhe_ready)
		ecdhe_build();
	return (ecdhe_bits[s / 64] >> (s % 64)) & 1;
}

bool tls_policy_ecdhe_pages_ok(void)
{
	uint32_t c;

	for (c = 0; c <= UINT16_MAX; c++)
		if (suite_uses_ec_group((uint16_t)c) != suite_is_ecdhe_by_name((uint16_t)c))
			return false;
	return true;
}

static uint8_t legacy_versions(const struct tls_client_hello *ch)
{
	uint16_t lv = ch->legacy_version;
	uint8_t bits = 0;
	uint16_t i;
	size_t k;

	if (ch->sslv2) {
		bool v2_kinds = false;

		for (i = 0; i < ch->ciphers.n; i++)
			if (ch->ciphers.v[i] >= 0xff01 && ch->ciphers.v[i] <= 0xff08)
				v2_kinds = true;
		if (lv == TLS_V_SSL2 || v2_kinds)
			bits |= TLS_OFFER_V_SSL2;
	}
	if (lv == TLS_V_SSL3)
		bits |= TLS_OFFER_V_SSL3;
	/*
	 * The bottom of a legacy offer is not on the wire; count from TLS 1.0. A legacy
	 * field above 0x0303 without supported_versions gets TLS 1.2 (RFC 8446 4.2.1).
	 */
	for (k = 0; k < ARRAY_SIZE(versions); k++)
		if (versions[k].code >= TLS_V_10 && versions[k].code <= TLS_V_12 &&
		    versions[k].code <= lv)
			bits |= versions[k].bit;
	return bits;
}

void tls_offer_from_hello(const struct tls_client_hello *ch, struct tls_offer *o)
{
	uint16_t i;

	memset(o, 0, sizeof(*o));
	o->flags = TLS_OFFER_CLIENT;
	for (i = 0; i < ch->ciphers.n; i++) {
		uint16_t s = ch->ciphers.v[i];

		if (tls_is_grease(s) || s == SUITE_EMPTY_RENEGOTIATION_INFO_SCSV ||
		    s == SUITE_FALLBACK_SCSV)
			continue;
		if (o->n_suites == TLS_OFFER_MAX_SUITES) {
			o->flags |= TLS_OFFER_SUITES_CUT;
			break;
		}
		if ((s >> 8) == 0x13)
			o->suite_tls13 |= 1ULL << o->n_suites;
		else if (suite_uses_ec_group(s))
			o->suite_ecdhe |= 1ULL << o->n_suites;
		o->suites[o->n_suites++] = s;
	}
	/* The parser keeps TLS_MAX_LIST entries of each list and counts the rest. */
	if (ch->ciphers.total > ch->ciphers.n)
		o->flags |= TLS_OFFER_SUITES_CUT;
	if (ch->groups.total > ch->groups.n || ch->key_shares.total > ch->key_shares.n)
		o->flags |= TLS_OFFER_GROUPS_CUT;
	for (i = 0; i < ch->groups.n; i++)
		offer_add_group(o, ch->groups.v[i]);
	for (i = 0; i < ch->key_shares.n; i++)
		offer_add_group(o, ch->key_shares.v[i]);

	if (list_has(&ch->exts, EXT_SUPPORTED_GROUPS))
		o->flags |= TLS_OFFER_GROUPS_EXT;
	if (list_has(&ch->exts, EXT_EMS))
		o->flags |= TLS_OFFER_EMS;
	if (ch->sni[0] != '\0')
		o->flags |= TLS_OFFER_SNI;

	if (!ch->sslv2 && list_has(&ch->exts, EXT_SUPPORTED_VERSIONS)) {
		/* supported_versions replaces the legacy field; drafts cannot meet a peer
		 * speaking final TLS 1.3, so they count for nothing. */
		for (i = 0; i < ch->versions.n; i++)
			if (ch->versions.v[i] != TLS_V_SSL2)
				o->versions |= version_bit(ch->versions.v[i]);
	} else {
		o->versions = legacy_versions(ch);
	}
}

void tls_offer_set_server(struct tls_offer *o, const struct tls_server_hello *sh,
			  const uint16_t *ske_group)
{
	o->flags |= TLS_OFFER_SERVER;
	o->srv_version = sh->version;
	o->srv_suite = sh->cipher;
	if (sh->has_group && !sh->hrr) {
		o->srv_group = sh->group;
		o->flags |= TLS_OFFER_SRV_GROUP;
	} else if (ske_group) {
		o->srv_group = *ske_group;
		o->flags |= TLS_OFFER_SRV_GROUP;
	}
	if (list_has(&sh->exts, EXT_EMS))
		o->flags |= TLS_OFFER_SRV_EMS;
}

void tls_offer_set_cert(struct tls_offer *o, enum tls_offer_key key, uint16_t bits,
			enum tls_sig_key sig_key, enum tls_sig_hash sig_hash)
{
	o->cert_key = key < TLS_OFFER_KEY_COUNT ? (uint8_t)key : TLS_OFFER_KEY_UNKNOWN;
	o->cert_bits = bits;
	o->cert_sig_key = sig_key < TLS_SIG_KEY_COUNT ? (uint8_t)sig_key : TLS_SIG_KEY_UNKNOWN;
	o->cert_sig_hash =
		sig_hash < TLS_SIG_HASH_COUNT ? (uint8_t)sig_hash : TLS_SIG_HASH_UNKNOWN;
}

/* ---- certificate names -------------------------------------------------------- */

/* X.509 signature algorithm names as OpenSSL prints them (OBJ_nid2ln). */
static const struct {
	const char *name;
	uint8_t key;  /* enum tls_sig_key */
	uint8_t hash; /* enum tls_sig_hash */
} sig_names[] = {
	{ "md5WithRSAEncryption", TLS_SIG_KEY_RSA, TLS_SIG_HASH_MD5 },
	{ "sha1WithRSAEncryption", TLS_SIG_KEY_RSA, TLS_SIG_HASH_SHA1 },
	{ "sha224WithRSAEncryption", TLS_SIG_KEY_RSA, TLS_SIG_HASH_SHA224 },
	{ "sha256WithRSAEncryption", TLS_SIG_KEY_RSA, TLS_SIG_HASH_SHA256 },
	{ "sha384WithRSAEncryption", TLS_SIG_KEY_RSA, TLS_SIG_HASH_SHA384 },
	{ "sha512WithRSAEncryption", TLS_SIG_KEY_RSA, TLS_SIG_HASH_SHA512 },
	{ "RSASSA-PSS", TLS_SIG_KEY_RSA_PSS, TLS_SIG_HASH_UNKNOWN },
	{ "rsassaPss", TLS_SIG_KEY_RSA_PSS, TLS_SIG_HASH_UNKNOWN },
	{ "ecdsa-with-SHA1", TLS_SIG_KEY_ECDSA, TLS_SIG_HASH_SHA1 },
	{ "ecdsa-with-SHA224", TLS_SIG_KEY_ECDSA, TLS_SIG_HASH_SHA224 },
	{ "ecdsa-with-SHA256", TLS_SIG_KEY_ECDSA, TLS_SIG_HASH_SHA256 },
	{ "ecdsa-with-SHA384", TLS_SIG_KEY_ECDSA, TLS_SIG_HASH_SHA384 },
	{ "ecdsa-with-SHA512", TLS_SIG_KEY_ECDSA, TLS_SIG_HASH_SHA512 },
	{ "ED25519", TLS_SIG_KEY_ED25519, TLS_SIG_HASH_INTRINSIC },
	{ "ED448", TLS_SIG_KEY_ED448, TLS_SIG_HASH_INTRINSIC },
	{ "dsaWithSHA1", TLS_SIG_KEY_DSA, TLS_SIG_HASH_SHA1 },
	{ "dsa_with_SHA224", TLS_SIG_KEY_DSA, TLS_SIG_HASH_SHA224 },
	{ "dsa_with_SHA256", TLS_SIG_KEY_DSA, TLS_SIG_HASH_SHA256 },
};

static int sig_by_name(const char *s, uint8_t *key, uint8_t *hash)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sig_names); i++) {
		if (!strcasecmp(s, sig_names[i].name)) {
			*key = sig_names[i].key;
			*hash = sig_names[i].hash;
			return 0;
		}
	}
	return -EINVAL;
}

static unsigned int sig_bit(uint8_t key, uint8_t hash)
{
	return (unsigned int)key * 8u + hash;
}

/* Digits after a prefix, as a key size: 1..65535, else 0. */
static uint16_t key_bits(const char *s)
{
	uint64_t v;

	if (util_parse_u64(s, 1, UINT16_MAX, &v))
		return 0;
	return (uint16_t)v;
}

/*
 * curve_bits - the size in a curve's name: its first run of digits (brainpoolP256r1,
 * secp256k1, P-224, sect571r1, prime192v1 all carry it), else 0.
 */
static uint16_t curve_bits(const char *s)
{
	unsigned int v = 0;

	while (*s && (*s < '0' || *s > '9'))
		s++;
	while (*s >= '0' && *s <= '9' && v < UINT16_MAX)
		v = v * 10 + (unsigned int)(*s++ - '0');
	return v <= UINT16_MAX ? (uint16_t)v : 0;
}

static int cert_key_by_name(const char *s, uint8_t *key, uint16_t *bits)
{
	if (!strncasecmp(s, "RSA-PSS-", 8)) {
		*key = TLS_OFFER_KEY_RSA_PSS;
		*bits = key_bits(s + 8);
	} else if (!strncasecmp(s, "RSA-", 4)) {
		*key = TLS_OFFER_KEY_RSA;
		*bits = key_bits(s + 4);
	} else if (!strncasecmp(s, "DSA-", 4)) {
		*key = TLS_OFFER_KEY_DSA;
		*bits = key_bits(s + 4);
	} else if (!strcasecmp(s, "EC-P-256")) {
		*key = TLS_OFFER_KEY_EC_P256;
		*bits = 256;
	} else if (!strcasecmp(s, "EC-P-384")) {
		*key = TLS_OFFER_KEY_EC_P384;
		*bits = 384;
	} else if (!strcasecmp(s, "EC-P-521")) {
		*key = TLS_OFFER_KEY_EC_P521;
		*bits = 521;
	} else if (!strncasecmp(s, "EC-", 3) && s[3]) {
		/* Another named curve, or explicit parameters ("EC-521": the size only). */
		*key = TLS_OFFER_KEY_EC_OTHER;
		*bits = curve_bits(s + 3);
	} else if (!strcasecmp(s, "Ed25519")) {
		*key = TLS_OFFER_KEY_ED25519;
		*bits = 256;
	} else if (!strcasecmp(s, "Ed448")) {
		*key = TLS_OFFER_KEY_ED448;
		*bits = 456;
	} else {
		return -EINVAL;
	}
	return 0;
}

int tls_offer_set_cert_names(struct tls_offer *o, const char *cert_key, const char *cert_sig)
{
	uint8_t key = TLS_OFFER_KEY_UNKNOWN, sk = TLS_SIG_KEY_UNKNOWN, sh = TLS_SIG_HASH_UNKNOWN;
	uint16_t bits = 0;
	int ret = 0;

	if (cert_key && cert_key_by_name(cert_key, &key, &bits)) {
		key = TLS_OFFER_KEY_UNKNOWN;
		bits = 0;
		ret = -EINVAL;
	}
	if (cert_sig && sig_by_name(cert_sig, &sk, &sh)) {
		sk = TLS_SIG_KEY_UNKNOWN;
		sh = TLS_SIG_HASH_UNKNOWN;
		ret = -EINVAL;
	}
	tls_offer_set_cert(o, key, bits, sk, sh);
	return ret;
}

/* ---- judging ------------------------------------------------------------------ */

/* An EC group a TLS <= 1.2 ECDHE key exchange can use (RFC 8422, RFC 7748, GOST). */
static bool group_tls12_curve(uint16_t g)
{
	return (g >= 0x0001 && g <= 0x001e) || (g >= 0x0022 && g <= 0x0028);
}

static bool any_group(const struct tls_policy *p, const struct tls_offer *o, bool tls12_curves)
{
	uint8_t i;

	for (i = 0; i < o->n_groups; i++)
		if ((!tls12_curves || group_tls12_curve(o->groups[i])) &&
		    set_has(&p->groups, o->groups[i]))
			return true;
	return false;
}

/* client_tls13 - how far the TLS 1.3 part of the offer gets: NONE when it passes. */
static uint8_t client_tls13(const struct tls_policy *p, const struct tls_offer *o)
{
	bool ok = false;
	uint8_t i;

	if (!(o->versions & p->vmask & TLS_OFFER_V_TLS13))
		return TLS_REASON_VERSION;
	for (i = 0; i < o->n_suites && !ok; i++)
		ok = ((o->suite_tls13 >> i) & 1) &&
		     (!(p->checks & TLS_PCHK_SUITES13) || set_has(&p->suites13, o->suites[i]));
	if (!ok)
		return TLS_REASON_CIPHER;
	/* A server may answer with HelloRetryRequest for any supported group. */
	if ((p->checks & TLS_PCHK_GROUPS) && !any_group(p, o, false))
		return TLS_REASON_GROUP;
	if ((p->checks & TLS_PCHK_SNI) && !(o->flags & TLS_OFFER_SNI))
		return TLS_REASON_SNI;
	return TLS_REASON_NONE;
}

/* client_legacy - the same for the TLS 1.2-and-older part of the offer. */
/*
 * suite_needs_tls12 - an AEAD suite (GCM, CCM, ChaCha20-Poly1305: RFC 5288, 6655, 7905)
 * or one with a SHA-256/384 MAC and PRF (RFC 5246, 5289): TLS 1.2 and newer only. The
 * PSK families defined their SHA-256/384 CBC suites for TLS 1.0 too (RFC 5487).
 */
static bool suite_needs_tls12(uint16_t s)
{
	const char *name = tls_cipher_name(s);
	size_t n;

	if (!name)
		return false;
	if (strstr(name, "_GCM_") || strstr(name, "_CCM") || strstr(name, "CHACHA20_POLY1305"))
		return true;
	n = strlen(name);
	return n > 7 && !strstr(name, "PSK") &&
	       (!strcmp(name + n - 7, "_SHA256") || !strcmp(name + n - 7, "_SHA384"));
}

static uint8_t client_legacy(const struct tls_policy *p, const struct tls_offer *o)
{
	bool cipher = false, group = false;
	int ec_ok = -1; /* an allowed curve offered: computed on first need */
	/* A policy whose versions stop below TLS 1.2 cannot be met by a 1.2-only suite. */
	bool below12 = !(o->versions & p->vmask & TLS_OFFER_V_TLS12);
	uint8_t i;

	if (!(o->versions & p->vmask & LEGACY_VERSIONS))
		return TLS_REASON_VERSION;
	for (i = 0; i < o->n_suites && !group; i++) {
		if ((o->suite_tls13 >> i) & 1)
			continue;
		if ((p->checks & TLS_PCHK_SUITES12) && !set_has(&p->suites12, o->suites[i]))
			continue;
		if (below12 && suite_needs_tls12(o->suites[i]))
			continue;
		cipher = true;
		/*
		 * Only ECDHE takes a group from the client's list. Without supported_groups
		 * the server may pick any curve (RFC 8422 section 4); finite-field DHE
		 * parameters are the server's own choice and not on the wire we parse.
		 */
		if (!(p->checks & TLS_PCHK_GROUPS) || !((o->suite_ecdhe >> i) & 1) ||
		    !(o->flags & TLS_OFFER_GROUPS_EXT)) {
			group = true;
			continue;
		}
		if (ec_ok < 0)
			ec_ok = any_group(p, o, true);
		group = ec_ok;
	}
	if (!cipher)
		return TLS_REASON_CIPHER;
	if (!group)
		return TLS_REASON_GROUP;
	if ((p->checks & TLS_PCHK_EMS) && !(o->flags & TLS_OFFER_EMS))
		return TLS_REASON_EMS;
	if ((p->checks & TLS_PCHK_SNI) && !(o->flags & TLS_OFFER_SNI))
		return TLS_REASON_SNI;
	return TLS_REASON_NONE;
}

static bool key_is_ec(uint8_t key)
{
	return key == TLS_OFFER_KEY_EC_P256 || key == TLS_OFFER_KEY_EC_P384 ||
	       key == TLS_OFFER_KEY_EC_P521 || key == TLS_OFFER_KEY_EC_OTHER;
}

static uint8_t judge_cert(const struct tls_policy *p, const struct tls_offer *o)
{
	uint8_t key = o->cert_key, sk = o->cert_sig_key, sh = o->cert_sig_hash;

	if (key != TLS_OFFER_KEY_UNKNOWN) {
		if ((p->checks & TLS_PCHK_CERT_KEYS) && !(p->cert_keys & POLICY_BIT(key)))
			return TLS_REASON_CERT_KEY;
		if ((key == TLS_OFFER_KEY_RSA || key == TLS_OFFER_KEY_RSA_PSS) && p->min_rsa_bits &&
		    o->cert_bits && o->cert_bits < p->min_rsa_bits)
			return TLS_REASON_CERT_KEY;
		if (key_is_ec(key) && p->min_ec_bits && o->cert_bits &&
		    o->cert_bits < p->min_ec_bits)
			return TLS_REASON_CERT_KEY;
	}
	if (sh != TLS_SIG_HASH_UNKNOWN && (p->forbid_hash & POLICY_BIT(sh)))
		return TLS_REASON_CERT_SIG;
	/* An allowed signature with an unknown hash (RSASSA-PSS) allows every hash. */
	if ((p->checks & TLS_PCHK_CERT_SIGS) && sk != TLS_SIG_KEY_UNKNOWN &&
	    !((p->cert_sigs >> sig_bit(sk, sh)) & 1) &&
	    !((p->cert_sigs >> sig_bit(sk, TLS_SIG_HASH_UNKNOWN)) & 1))
		return TLS_REASON_CERT_SIG;
	return TLS_REASON_NONE;
}

/* judge_server - the server's choice, once the client is known to pass. */
static uint8_t judge_server(const struct tls_policy *p, const struct tls_offer *o)
{
	uint16_t v = o->srv_version;

	if (!version_in_range(p, v))
		return TLS_REASON_VERSION;
	if (v >= TLS_V_13) {
		if ((p->checks & TLS_PCHK_SUITES13) && !set_has(&p->suites13, o->srv_suite))
			return TLS_REASON_CIPHER;
	} else if ((p->checks & TLS_PCHK_SUITES12) && !set_has(&p->suites12, o->srv_suite)) {
		return TLS_REASON_CIPHER;
	}
	if ((p->checks & TLS_PCHK_GROUPS) && (o->flags & TLS_OFFER_SRV_GROUP) &&
	    !set_has(&p->groups, o->srv_group))
		return TLS_REASON_GROUP;
	if (v < TLS_V_13 && (p->checks & TLS_PCHK_EMS) && !(o->flags & TLS_OFFER_SRV_EMS))
		return TLS_REASON_EMS;
	return judge_cert(p, o);
}

void tls_policy_judge(const struct tls_policy *p, const struct tls_offer *o,
		      struct tls_verdict *v)
{
	uint8_t r13, rleg, r;

	v->by = TLS_POLICY_PASS;
	v->reason = TLS_REASON_NONE;
	if (!(o->flags & TLS_OFFER_CLIENT))
		return;
	r13 = client_tls13(p, o);
	rleg = r13 ? client_legacy(p, o) : TLS_REASON_NONE;
	if (r13 && rleg) {
		/* Neither part passes: blame the rule the more promising part broke. */
		v->by = TLS_POLICY_BY_CLIENT;
		v->reason = r13 > rleg ? r13 : rleg;
		return;
	}
	if (!(o->flags & TLS_OFFER_SERVER))
		return;
	r = judge_server(p, o);
	if (r) {
		v->by = TLS_POLICY_BY_SERVER;
		v->reason = r;
	}
}

void tls_policy_judge_active(const struct tls_policy_set *ps, const struct tls_offer *o,
			     struct tls_verdict *v)
{
	uint8_t i;

	for (i = 0; i < ps->n_active; i++)
		tls_policy_judge(&ps->pol[ps->active[i]], o, &v[i]);
}

void tls_policy_judge_record(const struct tls_policy_set *ps, struct hs_record *r)
{
	memset(r->verdicts, 0, sizeof(r->verdicts));
	r->n_verdicts = 0;
	r->judged = false;
	/*
	 * Without the ClientHello (lost to a full ring, or a capture that began mid-flow)
	 * neither the offer nor the blame can be known: a server's choice alone would read
	 * as a pass and could make "safe to enforce" a lie. Such a record is not judged.
	 */
	if (r->kind != HS_KIND_TLS || !(r->offer.flags & TLS_OFFER_CLIENT))
		return;
	tls_policy_judge_active(ps, &r->offer, r->verdicts);
	r->n_verdicts = ps->n_active;
	r->judged = true;
}

static uint64_t fnv_set(uint64_t h, const struct tls_u16_set *set)
{
	uint8_t i;

	h = util_fnv1a(h, &set->n_pages, sizeof(set->n_pages));
	for (i = 0; i < set->n_pages && i < TLS_U16_SET_PAGES; i++) {
		h = util_fnv1a(h, &set->hi[i], sizeof(set->hi[i]));
		h = util_fnv1a(h, set->bits[i], sizeof(set->bits[i]));
	}
	return h;
}

/* FNV-1a: the digest only tells definitions apart, it guards nothing. */
uint64_t tls_policy_digest(const struct tls_policy *p)
{
	uint64_t h = UTIL_FNV1A_INIT;

	/* Field by field: padding bytes must not make equal rules differ. */
	h = util_fnv1a(h, &p->checks, sizeof(p->checks));
	h = util_fnv1a(h, &p->min_version, sizeof(p->min_version));
	h = util_fnv1a(h, &p->max_version, sizeof(p->max_version));
	h = util_fnv1a(h, &p->min_rsa_bits, sizeof(p->min_rsa_bits));
	h = util_fnv1a(h, &p->min_ec_bits, sizeof(p->min_ec_bits));
	h = util_fnv1a(h, &p->cert_keys, sizeof(p->cert_keys));
	h = util_fnv1a(h, &p->forbid_hash, sizeof(p->forbid_hash));
	h = util_fnv1a(h, &p->cert_sigs, sizeof(p->cert_sigs));
	h = fnv_set(h, &p->suites12);
	h = fnv_set(h, &p->suites13);
	h = fnv_set(h, &p->groups);
	return h ? h : 1;
}

/* ---- names and JSON ----------------------------------------------------------- */

const char *tls_policy_by_name(enum tls_policy_by by)
{
	return hs_end_name(by);
}

const char *tls_policy_reason_name(enum tls_policy_reason r)
{
	switch (r) {
	case TLS_REASON_VERSION:
		return "version";
	case TLS_REASON_CIPHER:
		return "cipher";
	case TLS_REASON_GROUP:
		return "group";
	case TLS_REASON_EMS:
		return "ems";
	case TLS_REASON_SNI:
		return "sni";
	case TLS_REASON_CERT_KEY:
		return "cert_key";
	case TLS_REASON_CERT_SIG:
		return "cert_sig";
	default:
		return NULL;
	}
}

static bool put_n(char *buf, size_t len, size_t *off, const char *s, size_t n)
{
	if (n >= len - *off)
		return false;
	memcpy(buf + *off, s, n);
	buf[*off + n] = '\0';
	*off += n;
	return true;
}

static bool put(char *buf, size_t len, size_t *off, const char *s)
{
	return put_n(buf, len, off, s, strlen(s));
}

/* A string literal: its length is known when the code is built. */
#define PUT_LIT(buf, len, off, lit) put_n(buf, len, off, lit, sizeof(lit) - 1)

int tls_verdicts_json(const struct tls_policy_set *ps, const struct tls_verdict *v, char *buf,
		      size_t len)
{
	size_t off = 0;
	bool first = true;
	uint8_t i;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	if (!PUT_LIT(buf, len, &off, "{"))
		goto overflow;
	for (i = 0; i < ps->n_active; i++) {
		const char *by = tls_policy_by_name(v[i].by);
		const char *why = tls_policy_reason_name(v[i].reason);

		if (!by || !why)
			continue;
		/* Policy names are checked to [a-z0-9._-]: nothing to escape. */
		if (!(first ? PUT_LIT(buf, len, &off, "\"") : PUT_LIT(buf, len, &off, ",\"")) ||
		    !put(buf, len, &off, ps->pol[ps->active[i]].name) ||
		    !PUT_LIT(buf, len, &off, "\":{\"by\":\"") || !put(buf, len, &off, by) ||
		    !PUT_LIT(buf, len, &off, "\",\"reason\":\"") || !put(buf, len, &off, why) ||
		    !PUT_LIT(buf, len, &off, "\"}"))
			goto overflow;
		first = false;
	}
	if (!PUT_LIT(buf, len, &off, "}"))
		goto overflow;
	return (int)off;
overflow:
	buf[0] = '\0';
	return -1;
}

/* ---- configuration ------------------------------------------------------------ */

static bool name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= TLS_POLICY_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '-' && c != '_' && c != '.')))
			return false;
	}
	return true;
}

static int find_index(const struct tls_policy_set *ps, const char *name)
{
	uint8_t i;

	for (i = 0; i < ps->n; i++)
		if (!strcmp(ps->pol[i].name, name))
			return i;
	return -1;
}

const struct tls_policy *tls_policy_find(const struct tls_policy_set *ps, const char *name)
{
	int i = find_index(ps, name);

	return i < 0 ? NULL : &ps->pol[i];
}

const struct tls_policy *tls_policy_active(const struct tls_policy_set *ps, unsigned int i)
{
	return i < ps->n_active ? &ps->pol[ps->active[i]] : NULL;
}

static char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

/*
 * next_item - the next comma-separated item of @*cursor, trimmed, or NULL at the end.
 * An empty item ("a,,b", a trailing comma) comes back as "".
 */
static char *next_item(char **cursor)
{
	char *s = *cursor, *comma;

	if (!s)
		return NULL;
	comma = strchr(s, ',');
	if (comma) {
		*comma = '\0';
		*cursor = comma + 1;
	} else {
		*cursor = NULL;
	}
	return trim(s);
}

/* parse_hex16 - "0xNNNN" (1 to 4 hex digits) as a whole token. */
static bool parse_hex16(const char *s, uint16_t *out)
{
	unsigned int v = 0;
	size_t i;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || !s[2] || strlen(s + 2) > 4)
		return false;
	for (i = 2; s[i]; i++) {
		char c = s[i];
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned int)(c - 'A' + 10);
		else
			return false;
		v = v * 16 + d;
	}
	*out = (uint16_t)v;
	return true;
}

/*
 * Reverse lookups over the name tables: config parsing only, a few milliseconds for a
 * long list, never per handshake.
 */
static bool suite_by_name(const char *s, uint16_t *out)
{
	uint32_t c;

	for (c = 0; c <= UINT16_MAX; c++) {
		const char *n = tls_cipher_name((uint16_t)c);

		if (n && !tls_is_grease((uint16_t)c) && !strcasecmp(n, s)) {
			*out = (uint16_t)c;
			return true;
		}
	}
	return false;
}

static const struct {
	const char *alias;
	uint16_t code;
} group_aliases[] = {
	/* OpenSSL's and Mozilla's names for the NIST curves. */
	{ "prime256v1", 0x0017 }, { "P-256", 0x0017 }, { "P-384", 0x0018 }, { "P-521", 0x0019 },
};

static bool group_by_name(const char *s, uint16_t *out)
{
	uint32_t c;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(group_aliases); i++) {
		if (!strcasecmp(s, group_aliases[i].alias)) {
			*out = group_aliases[i].code;
			return true;
		}
	}
	for (c = 0; c <= UINT16_MAX; c++) {
		const char *n = tls_group_name((uint16_t)c);

		if (n && !tls_is_grease((uint16_t)c) && !strcasecmp(n, s)) {
			*out = (uint16_t)c;
			return true;
		}
	}
	return false;
}

static const struct {
	const char *name;
	uint16_t code;
} version_names[] = {
	{ "SSLv2", TLS_V_SSL2 },   { "SSLv3", TLS_V_SSL3 },	{ "TLSv1.0", TLS_V_10 },
	{ "TLSv1", TLS_V_10 },	   { "TLSv1.1", TLS_V_11 },	{ "TLSv1.2", TLS_V_12 },
	{ "TLSv1.3", TLS_V_13 },
};

static const struct {
	const char *name;
	uint16_t mask;
} cert_key_names[] = {
	{ "rsa", POLICY_BIT(TLS_OFFER_KEY_RSA) },
	{ "rsa-pss", POLICY_BIT(TLS_OFFER_KEY_RSA_PSS) },
	{ "ec", POLICY_BIT(TLS_OFFER_KEY_EC_P256) | POLICY_BIT(TLS_OFFER_KEY_EC_P384) |
			POLICY_BIT(TLS_OFFER_KEY_EC_P521) | POLICY_BIT(TLS_OFFER_KEY_EC_OTHER) },
	{ "ec-p-256", POLICY_BIT(TLS_OFFER_KEY_EC_P256) },
	{ "ec-p-384", POLICY_BIT(TLS_OFFER_KEY_EC_P384) },
	{ "ec-p-521", POLICY_BIT(TLS_OFFER_KEY_EC_P521) },
	{ "ec-other", POLICY_BIT(TLS_OFFER_KEY_EC_OTHER) },
	{ "ed25519", POLICY_BIT(TLS_OFFER_KEY_ED25519) },
	{ "ed448", POLICY_BIT(TLS_OFFER_KEY_ED448) },
	{ "dsa", POLICY_BIT(TLS_OFFER_KEY_DSA) },
};

static const struct {
	const char *name;
	uint8_t hash;
} hash_names[] = {
	{ "md5", TLS_SIG_HASH_MD5 },	   { "sha1", TLS_SIG_HASH_SHA1 },
	{ "sha224", TLS_SIG_HASH_SHA224 }, { "sha256", TLS_SIG_HASH_SHA256 },
	{ "sha384", TLS_SIG_HASH_SHA384 }, { "sha512", TLS_SIG_HASH_SHA512 },
};

static bool is_word(const char *v, const char *w)
{
	return !strcasecmp(v, w);
}

static int parse_bool(const char *v, bool *out)
{
	if (is_word(v, "yes") || is_word(v, "true") || is_word(v, "on") || !strcmp(v, "1"))
		*out = true;
	else if (is_word(v, "no") || is_word(v, "false") || is_word(v, "off") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

/* The context of one `policy.NAME.KEY = value` line, for error messages. */
struct line {
	const char *name;
	const char *key;
	char *err;
	size_t errlen;
};

static int fail(const struct line *l, const char *why, const char *item)
{
	if (item)
		snprintf(l->err, l->errlen, "policy.%s.%s: '%.64s' %s", l->name, l->key, item, why);
	else
		snprintf(l->err, l->errlen, "policy.%s.%s: %s", l->name, l->key, why);
	return -EINVAL;
}

static int set_version(const struct line *l, const char *v, uint16_t *out)
{
	size_t i;

	if (is_word(v, "none")) {
		*out = 0;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(version_names); i++) {
		if (is_word(v, version_names[i].name)) {
			*out = version_names[i].code;
			return 0;
		}
	}
	return fail(l, "is not a version: SSLv2, SSLv3, TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3 or none",
		    v);
}

enum list_kind { LIST_SUITES12, LIST_SUITES13, LIST_GROUPS };

/* set_codes - a list of suites or groups (names or 0xNNNN) into @set, or `any`. */
static int set_codes(const struct line *l, char *value, enum list_kind kind,
		     struct tls_u16_set *set, uint32_t *checks, uint32_t bit)
{
	struct tls_u16_set tmp;
	char *cursor = value, *item;
	uint16_t code;

	if (is_word(value, "any")) {
		set_clear(set);
		*checks &= ~bit;
		return 0;
	}
	set_clear(&tmp);
	while ((item = next_item(&cursor))) {
		bool found;

		if (!*item)
			return fail(l, "has an empty item (a stray comma?)", NULL);
		if (parse_hex16(item, &code))
			found = true;
		else if (kind == LIST_GROUPS)
			found = group_by_name(item, &code);
		else
			found = suite_by_name(item, &code);
		if (!found)
			return fail(l, kind == LIST_GROUPS ?
					       "is not a group name (IANA, e.g. x25519, secp256r1, "
					       "X25519MLKEM768) nor 0xNNNN" :
					       "is not a cipher suite name (IANA, e.g. "
					       "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) nor 0xNNNN",
				    item);
		if (tls_is_grease(code))
			return fail(l, "is a GREASE value", item);
		if (kind != LIST_GROUPS && (code == SUITE_EMPTY_RENEGOTIATION_INFO_SCSV ||
					    code == SUITE_FALLBACK_SCSV))
			return fail(l, "is a signalling value, not a cipher suite", item);
		if (kind == LIST_SUITES12 && (code >> 8) == 0x13)
			return fail(l, "is a TLS 1.3 suite: list it in tls13_ciphers", item);
		if (kind == LIST_SUITES13 && (code >> 8) != 0x13)
			return fail(l, "is not a TLS 1.3 suite: list it in ciphers", item);
		if (set_add(&tmp, code))
			return fail(l, "spans too many code ranges (at most 8 distinct high bytes)",
				    NULL);
	}
	*set = tmp;
	*checks |= bit;
	return 0;
}

static int set_cert_keys(const struct line *l, char *value, struct tls_policy *p)
{
	char *cursor = value, *item;
	uint16_t mask = 0;
	size_t i;

	if (is_word(value, "any")) {
		p->checks &= ~(uint32_t)TLS_PCHK_CERT_KEYS;
		p->cert_keys = 0;
		return 0;
	}
	while ((item = next_item(&cursor))) {
		for (i = 0; i < ARRAY_SIZE(cert_key_names); i++)
			if (is_word(item, cert_key_names[i].name))
				break;
		if (i == ARRAY_SIZE(cert_key_names))
			return fail(l, "is not a key type: rsa, rsa-pss, ec, ec-p-256, ec-p-384, "
				       "ec-p-521, ec-other, ed25519, ed448, dsa or any",
				    item);
		mask |= cert_key_names[i].mask;
	}
	p->cert_keys = mask;
	p->checks |= TLS_PCHK_CERT_KEYS;
	return 0;
}

static int set_cert_sigs(const struct line *l, char *value, struct tls_policy *p)
{
	char *cursor = value, *item;
	uint64_t mask = 0;
	uint8_t key, hash;

	if (is_word(value, "any")) {
		p->checks &= ~(uint32_t)TLS_PCHK_CERT_SIGS;
		p->cert_sigs = 0;
		return 0;
	}
	while ((item = next_item(&cursor))) {
		if (sig_by_name(item, &key, &hash))
			return fail(l, "is not a signature algorithm (e.g. "
				       "sha256WithRSAEncryption, ecdsa-with-SHA384, RSASSA-PSS, "
				       "ED25519) nor any",
				    item);
		mask |= 1ULL << sig_bit(key, hash);
	}
	p->cert_sigs = mask;
	p->checks |= TLS_PCHK_CERT_SIGS;
	return 0;
}

static int set_forbid_sig(const struct line *l, char *value, struct tls_policy *p)
{
	char *cursor = value, *item;
	uint8_t mask = 0;
	size_t i;

	if (is_word(value, "none")) {
		p->forbid_hash = 0;
		return 0;
	}
	while ((item = next_item(&cursor))) {
		for (i = 0; i < ARRAY_SIZE(hash_names); i++)
			if (is_word(item, hash_names[i].name))
				break;
		if (i == ARRAY_SIZE(hash_names))
			return fail(l, "is not a hash: md5, sha1, sha224, sha256, sha384, sha512 "
				       "or none",
				    item);
		mask |= (uint8_t)POLICY_BIT(hash_names[i].hash);
	}
	p->forbid_hash = mask;
	return 0;
}

static int set_bits(const struct line *l, const char *value, uint64_t max, uint16_t *out)
{
	uint64_t v;

	if (util_parse_u64(value, 0, max, &v)) {
		snprintf(l->err, l->errlen, "policy.%s.%s: '%.64s' is not a number of bits from 0 "
			 "(not checked) to %llu", l->name, l->key, value, (unsigned long long)max);
		return -EINVAL;
	}
	*out = (uint16_t)v;
	return 0;
}

/* copy_rules - @dst takes every rule of @src; its name and bookkeeping stay. */
static void copy_rules(struct tls_policy *dst, const struct tls_policy *src)
{
	char name[TLS_POLICY_NAME_MAX];
	uint8_t n_keys = dst->n_keys;

	memcpy(name, dst->name, sizeof(name));
	*dst = *src;
	memcpy(dst->name, name, sizeof(name));
	dst->builtin = false;
	dst->n_keys = n_keys;
}

/* apply - one KEY of policy @p from a writable copy of the value. */
static int apply(struct tls_policy_set *ps, struct tls_policy *p, const struct line *l,
		 char *value)
{
	bool b;
	int i;

	if (!strcmp(l->key, "base")) {
		if (p->n_keys)
			return fail(l, "must be the first key of the policy (it replaces "
				       "every rule)",
				    NULL);
		i = find_index(ps, value);
		if (i < 0 || &ps->pol[i] == p)
			return fail(l, "is neither a built-in profile nor a policy defined above",
				    value);
		copy_rules(p, &ps->pol[i]);
		return 0;
	}
	if (!strcmp(l->key, "min_version"))
		return set_version(l, value, &p->min_version);
	if (!strcmp(l->key, "max_version"))
		return set_version(l, value, &p->max_version);
	if (!strcmp(l->key, "ciphers"))
		return set_codes(l, value, LIST_SUITES12, &p->suites12, &p->checks,
				 TLS_PCHK_SUITES12);
	if (!strcmp(l->key, "tls13_ciphers"))
		return set_codes(l, value, LIST_SUITES13, &p->suites13, &p->checks,
				 TLS_PCHK_SUITES13);
	if (!strcmp(l->key, "groups"))
		return set_codes(l, value, LIST_GROUPS, &p->groups, &p->checks, TLS_PCHK_GROUPS);
	if (!strcmp(l->key, "require_ems") || !strcmp(l->key, "require_sni")) {
		uint32_t bit = !strcmp(l->key, "require_ems") ? TLS_PCHK_EMS : TLS_PCHK_SNI;

		if (parse_bool(value, &b))
			return fail(l, "is not yes or no", value);
		p->checks = b ? (p->checks | bit) : (p->checks & ~bit);
		return 0;
	}
	if (!strcmp(l->key, "min_rsa_bits"))
		return set_bits(l, value, 16384, &p->min_rsa_bits);
	if (!strcmp(l->key, "min_ec_bits"))
		return set_bits(l, value, 1024, &p->min_ec_bits);
	if (!strcmp(l->key, "cert_keys"))
		return set_cert_keys(l, value, p);
	if (!strcmp(l->key, "cert_sigs"))
		return set_cert_sigs(l, value, p);
	if (!strcmp(l->key, "forbid_sig"))
		return set_forbid_sig(l, value, p);
	return fail(l, "unknown key (min_version, max_version, ciphers, tls13_ciphers, groups, "
		       "require_ems, require_sni, min_rsa_bits, min_ec_bits, cert_keys, "
		       "cert_sigs, forbid_sig, base)",
		    NULL);
}

int tls_policy_set(struct tls_policy_set *ps, const char *name, const char *key,
		   const char *value, char *err, size_t errlen)
{
	char keybuf[32], buf[VALUE_MAX];
	struct tls_policy *p, saved;
	bool created = false;
	struct line l;
	size_t i;
	int idx, ret;

	if (!name_ok(name)) {
		snprintf(err, errlen,
			 "policy.%.40s: a policy name is 1 to %d of a-z, 0-9, '.', '-', '_', "
			 "starting with a letter or digit",
			 name, TLS_POLICY_NAME_MAX - 1);
		return -EINVAL;
	}
	if (strlen(key) >= sizeof(keybuf)) {
		snprintf(err, errlen, "policy.%s.%.40s...: unknown key", name, key);
		return -EINVAL;
	}
	for (i = 0; key[i]; i++)
		keybuf[i] = key[i] == '-' ? '_' : key[i];
	keybuf[i] = '\0';
	l = (struct line){ .name = name, .key = keybuf, .err = err, .errlen = errlen };
	if (strlen(value) >= sizeof(buf)) {
		snprintf(err, errlen, "policy.%s.%s: value longer than %d bytes", name, keybuf,
			 VALUE_MAX - 1);
		return -EINVAL;
	}
	util_strlcpy(buf, value, sizeof(buf));

	idx = find_index(ps, name);
	if (idx >= 0 && ps->pol[idx].builtin) {
		snprintf(err, errlen, "policy.%s.%s: '%s' is a built-in profile; define a new "
			 "name with policy.NEW.base = %s", name, keybuf, name, name);
		return -EINVAL;
	}
	if (idx < 0) {
		if (ps->n == TLS_POLICY_MAX) {
			snprintf(err, errlen, "policy.%s.%s: more than %d policies", name, keybuf,
				 TLS_POLICY_MAX);
			return -ENOSPC;
		}
		idx = ps->n++;
		created = true;
		memset(&ps->pol[idx], 0, sizeof(ps->pol[idx]));
		util_strlcpy(ps->pol[idx].name, name, sizeof(ps->pol[idx].name));
		refresh(&ps->pol[idx]);
	}
	p = &ps->pol[idx];
	/* A rejected line leaves the policy as it was, or undefined if it was its first. */
	saved = *p;
	ret = apply(ps, p, &l, trim(buf));
	if (ret) {
		if (created)
			ps->n--;
		else
			*p = saved;
		return ret;
	}
	p->n_keys++;
	refresh(p);
	return 0;
}

int tls_policy_set_list(struct tls_policy_set *ps, const char *value, char *err, size_t errlen)
{
	char names[TLS_POLICY_ACTIVE_MAX][TLS_POLICY_NAME_MAX];
	char buf[VALUE_MAX];
	char *cursor = buf, *item;
	uint8_t n = 0, i;

	if (strlen(value) >= sizeof(buf)) {
		snprintf(err, errlen, "policies: value longer than %d bytes", VALUE_MAX - 1);
		return -EINVAL;
	}
	util_strlcpy(buf, value, sizeof(buf));
	if (is_word(trim(buf), "none")) {
		ps->n_pending = 0;
		ps->have_pending = true;
		return 0;
	}
	while ((item = next_item(&cursor))) {
		if (!name_ok(item)) {
			snprintf(err, errlen, "policies: '%.64s' is not a policy name", item);
			return -EINVAL;
		}
		if (n == TLS_POLICY_ACTIVE_MAX) {
			snprintf(err, errlen, "policies: more than %d policies",
				 TLS_POLICY_ACTIVE_MAX);
			return -EINVAL;
		}
		for (i = 0; i < n; i++) {
			if (!strcmp(names[i], item)) {
				snprintf(err, errlen, "policies: '%s' is listed twice", item);
				return -EINVAL;
			}
		}
		util_strlcpy(names[n++], item, sizeof(names[0]));
	}
	/* Only a whole valid list replaces the previous one. */
	memcpy(ps->pending, names, sizeof(names[0]) * n);
	ps->n_pending = n;
	ps->have_pending = true;
	return 0;
}

bool tls_policy_is_config_key(const char *key)
{
	return !strcmp(key, "policies") || !strncmp(key, "policy.", 7);
}

int tls_policy_config(struct tls_policy_set *ps, const char *key, const char *value, char *err,
		      size_t errlen)
{
	char name[TLS_POLICY_NAME_MAX];
	const char *rest, *dot;
	size_t n;

	if (!strcmp(key, "policies"))
		return tls_policy_set_list(ps, value, err, errlen);
	if (strncmp(key, "policy.", 7))
		return -ENOENT;
	/* NAME may hold dots ("mozilla-intermediate-5.7" as a base): KEY is after the last. */
	rest = key + 7;
	dot = strrchr(rest, '.');
	n = dot ? (size_t)(dot - rest) : 0;
	if (!dot || n == 0 || !dot[1]) {
		snprintf(err, errlen, "%.64s: expected policy.NAME.KEY", key);
		return -EINVAL;
	}
	if (n >= sizeof(name)) {
		snprintf(err, errlen, "policy.%.40s...: policy name longer than %d characters",
			 rest, TLS_POLICY_NAME_MAX - 1);
		return -EINVAL;
	}
	memcpy(name, rest, n);
	name[n] = '\0';
	return tls_policy_set(ps, name, dot + 1, value, err, errlen);
}

int tls_policy_config_fn(void *ps, const char *key, const char *value, char *err, size_t errlen)
{
	return tls_policy_config(ps, key, value, err, errlen);
}

void tls_policy_list_string(const struct tls_policy_set *ps, char *buf, size_t len)
{
	size_t off = 0;
	uint8_t i;

	if (!len)
		return;
	util_strlcpy(buf, ps->n_active ? "" : "none", len);
	for (i = 0; i < ps->n_active; i++) {
		/* Names are at most 31 bytes: a cut list ends on a whole name. */
		if (!put(buf, len, &off, i ? "," : "") ||
		    !put(buf, len, &off, ps->pol[ps->active[i]].name))
			return;
	}
}

int tls_policy_set_finish(struct tls_policy_set *ps, char *err, size_t errlen)
{
	uint8_t active[TLS_POLICY_ACTIVE_MAX];
	char vmin[16], vmax[16];
	uint8_t i;
	int idx;

	for (i = 0; i < ps->n; i++) {
		struct tls_policy *p = &ps->pol[i];

		p->digest = tls_policy_digest(p);
		if (p->min_version && p->max_version && p->min_version > p->max_version) {
			snprintf(vmin, sizeof(vmin), "%s", tls_version_name(p->min_version));
			snprintf(vmax, sizeof(vmax), "%s", tls_version_name(p->max_version));
			snprintf(err, errlen, "policy.%s: min_version %s is above max_version %s",
				 p->name, vmin, vmax);
			return -EINVAL;
		}
	}
	if (!ps->have_pending)
		return 0;
	for (i = 0; i < ps->n_pending; i++) {
		idx = find_index(ps, ps->pending[i]);
		if (idx < 0) {
			snprintf(err, errlen, "policies: '%s' is neither a built-in profile nor "
				 "defined by policy.%s.* keys", ps->pending[i], ps->pending[i]);
			return -EINVAL;
		}
		active[i] = (uint8_t)idx;
	}
	memcpy(ps->active, active, ps->n_pending);
	ps->n_active = ps->n_pending;
	return 0;
}

/* compile - a built-in spec into a policy, as config lines would set it. */
static void compile(const struct policy_spec *s, struct tls_policy *p)
{
	const struct {
		const struct policy_codes *codes;
		struct tls_u16_set *set;
		uint32_t bit;
	} lists[] = {
		{ &s->suites12, &p->suites12, TLS_PCHK_SUITES12 },
		{ &s->suites13, &p->suites13, TLS_PCHK_SUITES13 },
		{ &s->groups, &p->groups, TLS_PCHK_GROUPS },
	};
	uint8_t key, hash;
	size_t i, j;

	memset(p, 0, sizeof(*p));
	util_strlcpy(p->name, s->name, sizeof(p->name));
	p->builtin = true;
	p->min_version = s->min_version;
	p->max_version = s->max_version;
	for (i = 0; i < ARRAY_SIZE(lists); i++) {
		if (!lists[i].codes->v)
			continue;
		p->checks |= lists[i].bit;
		/* The built-in lists fit in a few pages; the tests check every code is in. */
		for (j = 0; j < lists[i].codes->n; j++)
			(void)set_add(lists[i].set, lists[i].codes->v[j]);
	}
	if (s->require_ems)
		p->checks |= TLS_PCHK_EMS;
	p->min_rsa_bits = s->min_rsa_bits;
	p->min_ec_bits = s->min_ec_bits;
	if (s->cert_keys) {
		p->checks |= TLS_PCHK_CERT_KEYS;
		p->cert_keys = s->cert_keys;
	}
	if (s->cert_sigs) {
		p->checks |= TLS_PCHK_CERT_SIGS;
		for (i = 0; s->cert_sigs[i]; i++)
			if (!sig_by_name(s->cert_sigs[i], &key, &hash))
				p->cert_sigs |= 1ULL << sig_bit(key, hash);
	}
	p->forbid_hash = s->forbid_hash;
	refresh(p);
}

void tls_policy_set_init(struct tls_policy_set *ps)
{
	const struct policy_spec *s;
	size_t i;
	int idx;

	memset(ps, 0, sizeof(*ps));
	for (i = 0; (s = policy_builtin_spec(i)) && ps->n < TLS_POLICY_MAX; i++)
		compile(s, &ps->pol[ps->n++]);
	/* DESIGN.md: `policies` defaults to tls12. */
	idx = find_index(ps, "tls12");
	if (idx >= 0) {
		ps->active[0] = (uint8_t)idx;
		ps->n_active = 1;
	}
}

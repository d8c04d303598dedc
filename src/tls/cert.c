// SPDX-License-Identifier: GPL-2.0-only
/*
 * Server certificates in the clear: the TLS <= 1.2 Certificate message (RFC 5246
 * section 7.4.2), the leaf decoded by libcrypto into struct tls_cert_info, the
 * per-handshake problem bits of DESIGN.md, and a cache keyed by the SHA-256 of the DER.
 *
 * The message is walked with the bounded cursor; the DER goes to d2i_X509() with its
 * length, and the public key's bits that libcrypto hands back go to libcrypto's decoder
 * for that key type: nothing here reads DER by hand. What is kept afterwards is plain
 * data (strings, numbers, a bounded name list), so judging a handshake needs no
 * libcrypto call and the X509 object is freed before the decode returns.
 *
 * OpenSSL 3 decodes the public key inside d2i_X509() through its provider decoders,
 * which costs about 90 us a certificate here, nine tenths of the decode: a server's
 * certificate is decoded in a library context without providers (quick_ctx()), and its
 * key decoded and described by the key type's own routine (spki_info(), about 1 us for
 * RSA, a few for EC and EdDSA). A leaf whose subject is its issuer (self-signed, whose
 * signature must be checked with the key) or whose key that does not cover or refuses is
 * decoded the full way, so a key either decode cannot load is "unknown" in both.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tlsaudit/cert.h"
#include "tlsaudit/cursor.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"

#define CACHE_WAYS 4
/* A sane upper bound for the cache size: a bigger request is a configuration mistake. */
#define CACHE_MAX (1u << 16)

static const char *const problem_names[TLS_CERT_N_PROBLEMS] = {
	"expired",	  "not_yet_valid", "self_signed",    "name_mismatch",
	"weak_key",	  "sha1_signature", "md5_signature",
};

int tls_cert_msg_leaf(const uint8_t *body, size_t len, struct tls_cert_chain *out)
{
	struct tls_cursor c, list, cert;
	uint32_t list_len, cert_len;
	int ret = TLS_INVALID;

	memset(out, 0, sizeof(*out));
	cur_init(&c, body, len);
	list_len = cur_u24(&c);
	/*
	 * The list length must be exactly the rest of the body: longer is a lie about bytes
	 * that are not there, shorter leaves bytes no certificate owns.
	 */
	if (!cur_ok(&c) || list_len != cur_left(&c))
		goto cleanup;
	cur_sub(&c, list_len, &list);
	/* Every entry consumes at least 4 bytes, so the walk ends within len / 4 steps. */
	while (cur_left(&list) > 0) {
		cert_len = cur_u24(&list);
		/* RFC 5246 7.4.2: ASN.1Cert<1..2^24-1>, so an empty entry is malformed. */
		if (!cur_ok(&list) || cert_len == 0 || !cur_sub(&list, cert_len, &cert))
			goto cleanup;
		if (out->n_certs == 0) {
			out->leaf = cur_ptr(&cert);
			out->leaf_len = cert_len;
		}
		out->n_certs++;
	}
	out->list_len = list_len;
	ret = TLS_OK;
cleanup:
	if (ret != TLS_OK)
		memset(out, 0, sizeof(*out));
	return ret;
}

int tls_cert_sha256(const uint8_t *der, size_t len, uint8_t out[32])
{
	/*
	 * Fetched once: with OpenSSL 3 EVP_sha256() makes every EVP_Digest() look the
	 * implementation up again, under a lock (as in fingerprint.c).
	 */
	static EVP_MD *md;
	unsigned int md_len = 0;

	if (!md)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!md)
		return -ENOMEM;
	if (!EVP_Digest(der, len, out, &md_len, md, NULL) || md_len != 32) {
		memset(out, 0, 32);
		return -EIO;
	}
	return 0;
}

static void hex32(const uint8_t in[32], char out[65])
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 0xf];
	}
	out[64] = '\0';
}

/*
 * Copy UTF-8 for display: control bytes become '?' (a NUL would cut the string, the
 * others garble text output), and a cut falls on a character boundary.
 */
static void copy_display(char *dst, size_t cap, const unsigned char *src, size_t n)
{
	size_t i;

	if (n > cap - 1) {
		n = cap - 1;
		while (n > 0 && (src[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++)
		dst[i] = (src[i] < 0x20 || src[i] == 0x7f) ? '?' : (char)src[i];
	dst[n] = '\0';
}

/* Bytes of the pool in use: names are stored back to back in the order they came. */
static size_t pool_used(const struct tls_cert_info *info)
{
	const struct tls_cert_name *last;

	if (info->n_names == 0)
		return 0;
	last = &info->names[info->n_names - 1];
	return (size_t)last->off + last->len + (last->type == TLS_CERT_NAME_IP ? 0 : 1);
}

/*
 * Keep one name for the SNI check, when it can ever match a host name and there is
 * room. A DNS name or CN with a NUL, a space or a non-ASCII byte cannot be what an SNI
 * (A-labels only, RFC 6066 section 3) asks for; "good.example\0.evil.example" is the
 * classic attempt to make one look like another.
 */
static void add_name(struct tls_cert_info *info, enum tls_cert_name_type type,
		     const unsigned char *p, size_t n)
{
	struct tls_cert_name *nm;
	size_t used, need, i;

	if (type == TLS_CERT_NAME_IP) {
		if (n != 4 && n != 16)
			goto unusable;
		need = n;
	} else {
		if (n > 0 && p[n - 1] == '.')
			n--;
		if (n == 0 || n > TLS_CERT_DNS_MAX)
			goto unusable;
		for (i = 0; i < n; i++)
			if (p[i] <= 0x20 || p[i] >= 0x7f)
				goto unusable;
		need = n + 1;
	}
	used = pool_used(info);
	if (info->n_names >= TLS_CERT_NAMES_MAX || need > sizeof(info->pool) - used) {
		info->names_over_cap++;
		return;
	}
	nm = &info->names[info->n_names++];
	nm->type = (uint8_t)type;
	nm->len = (uint8_t)n;
	nm->off = (uint16_t)used;
	memcpy(info->pool + used, p, n);
	if (type != TLS_CERT_NAME_IP)
		info->pool[used + n] = '\0';
	return;
unusable:
	info->names_unusable++;
}

static void collect_sans(const X509 *x, struct tls_cert_info *info)
{
	GENERAL_NAMES *gens;
	int crit = -1, i, n;

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	if (!gens) {
		/*
		 * -1: no extension. -2 (twice, which RFC 5280 forbids) or 0/1 (present but
		 * undecodable): the names are unknown, so the SNI check must not guess.
		 */
		if (crit != -1)
			info->san_invalid = true;
		return;
	}
	/* The stack's size is bounded by the DER (TLS_CERT_DER_MAX): at most a few
	 * thousand cheap steps, and only TLS_CERT_NAMES_MAX names are kept. */
	n = sk_GENERAL_NAME_num(gens);
	for (i = 0; i < n; i++) {
		const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);

		if (gen->type == GEN_DNS) {
			info->san_dns_total++;
			add_name(info, TLS_CERT_NAME_DNS, ASN1_STRING_get0_data(gen->d.dNSName),
				 (size_t)ASN1_STRING_length(gen->d.dNSName));
		} else if (gen->type == GEN_IPADD) {
			info->san_ip_total++;
			add_name(info, TLS_CERT_NAME_IP, ASN1_STRING_get0_data(gen->d.iPAddress),
				 (size_t)ASN1_STRING_length(gen->d.iPAddress));
		}
	}
	GENERAL_NAMES_free(gens);
}

/* Index of the last entry of @nid in @name, or -1. */
static int last_index(const X509_NAME *name, int nid)
{
	int idx = -1, next;

	while ((next = X509_NAME_get_index_by_NID(name, nid, idx)) >= 0)
		idx = next;
	return idx;
}

/* One name entry as UTF-8 for display into @dst; "" when it does not convert. */
static void entry_display(const X509_NAME *name, int idx, char *dst, size_t cap)
{
	unsigned char *utf = NULL;
	int n;

	dst[0] = '\0';
	n = ASN1_STRING_to_UTF8(&utf, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
	if (n >= 0)
		copy_display(dst, cap, utf, (size_t)n);
	OPENSSL_free(utf);
}

/*
 * Subject CNs: each one is kept for the CN fallback of the SNI check (RFC 6125 6.4.4;
 * OpenSSL tries them all), and the last, most specific one is what the record shows.
 */
static void collect_cns(const X509 *x, struct tls_cert_info *info)
{
	const X509_NAME *subj = X509_get_subject_name(x);
	unsigned char *utf = NULL;
	int idx = -1, n;

	while ((idx = X509_NAME_get_index_by_NID(subj, NID_commonName, idx)) >= 0) {
		n = ASN1_STRING_to_UTF8(&utf, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx)));
		if (n >= 0) {
			copy_display(info->subject, sizeof(info->subject), utf, (size_t)n);
			add_name(info, TLS_CERT_NAME_CN, utf, (size_t)n);
		} else {
			info->names_unusable++;
		}
		OPENSSL_free(utf);
		utf = NULL;
	}
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/*
 * An ASN1_TIME as Unix seconds. Computed here rather than with timegm(): time_t is
 * 32 bits in the -m32 build and certificates run to 9999-12-31.
 */
static int asn1_secs(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	/* ASN1_TIME_to_tm(NULL) would mean "now": never what a certificate says. */
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return -EBADMSG;
	*out = days_from_civil((int64_t)tm.tm_year + 1900, (int64_t)tm.tm_mon + 1, tm.tm_mday) *
		       86400 +
	       (int64_t)tm.tm_hour * 3600 + tm.tm_min * 60 + tm.tm_sec;
	return 0;
}

/*
 * The name of an EC key on the named curve @group (libcrypto's short name): the NIST
 * name where there is one (prime256v1 is "P-256"), else the short name. One function
 * for both decodes, so they cannot name a curve differently.
 */
static void ec_key_name(struct tls_cert_info *info, const char *group)
{
	const char *nist = EC_curve_nid2nist(OBJ_txt2nid(group));

	memcpy(info->key, "EC-", 3);
	util_strlcpy(info->key + 3, nist ? nist : group, sizeof(info->key) - 3);
}

/* Describe a public key libcrypto loaded: the strings and sizes of the record's cert_key. */
static void key_describe(EVP_PKEY *pk, struct tls_cert_info *info)
{
	const char *type;
	char group[64];
	int bits;

	bits = EVP_PKEY_get_bits(pk);
	info->key_bits = bits > 0 ? (uint32_t)bits : 0;
	if (EVP_PKEY_is_a(pk, "RSA")) {
		info->key_kind = TLS_CERT_KEY_RSA;
		snprintf(info->key, sizeof(info->key), "RSA-%u", info->key_bits);
	} else if (EVP_PKEY_is_a(pk, "RSA-PSS")) {
		info->key_kind = TLS_CERT_KEY_RSA_PSS;
		snprintf(info->key, sizeof(info->key), "RSA-PSS-%u", info->key_bits);
	} else if (EVP_PKEY_is_a(pk, "DSA")) {
		info->key_kind = TLS_CERT_KEY_DSA;
		snprintf(info->key, sizeof(info->key), "DSA-%u", info->key_bits);
	} else if (EVP_PKEY_is_a(pk, "EC")) {
		info->key_kind = TLS_CERT_KEY_EC;
		if (EVP_PKEY_get_group_name(pk, group, sizeof(group), NULL))
			ec_key_name(info, group);
		else
			/* Explicit curve parameters: no name to give, only the size. */
			snprintf(info->key, sizeof(info->key), "EC-%u", info->key_bits);
	} else if (EVP_PKEY_is_a(pk, "ED25519")) {
		info->key_kind = TLS_CERT_KEY_ED25519;
		util_strlcpy(info->key, "Ed25519", sizeof(info->key));
	} else if (EVP_PKEY_is_a(pk, "ED448")) {
		info->key_kind = TLS_CERT_KEY_ED448;
		util_strlcpy(info->key, "Ed448", sizeof(info->key));
	} else {
		type = EVP_PKEY_get0_type_name(pk);
		if (type)
			util_strlcpy(info->key, type, sizeof(info->key));
	}
}

/* The full decode's key: whatever the certificate's EVP_PKEY is, or "unknown". */
static void key_info(const X509 *x, struct tls_cert_info *info)
{
	/* X509_get0_pubkey() takes a non-const X509 in OpenSSL 3.0 but does not change it. */
	EVP_PKEY *pk = X509_get0_pubkey((X509 *)x);

	util_strlcpy(info->key, "unknown", sizeof(info->key));
	if (pk)
		key_describe(pk, info);
	/* Else a key no provider loads (GOST, a malformed one): unknown, never judged. */
}

/*
 * A library context with only the null provider: d2i_X509() there decodes the
 * certificate but finds no decoder for its key, which it would only have made an
 * EVP_PKEY of. Made once; NULL when libcrypto cannot make it (the full decode then).
 */
static OSSL_LIB_CTX *quick_ctx(void)
{
	static OSSL_LIB_CTX *ctx;
	static bool tried;

	if (!tried) {
		tried = true;
		ctx = OSSL_LIB_CTX_new();
		if (ctx && !OSSL_PROVIDER_load(ctx, "null")) {
			OSSL_LIB_CTX_free(ctx);
			ctx = NULL;
		}
	}
	return ctx;
}

/*
 * The named curves the quick decode knows; a leaf on any other curve is decoded in full.
 * Each group is made once (making one is most of the cost of checking a point) and kept
 * for the life of the process, like quick_ctx().
 */
static const int curve_nids[] = {
	NID_X9_62_prime256v1, NID_secp384r1,	 NID_secp521r1,	       NID_secp224r1,
	NID_X9_62_prime192v1, NID_secp256k1,	 NID_brainpoolP256r1, NID_brainpoolP384r1,
	NID_brainpoolP512r1,
};

static const EC_GROUP *curve_group(int nid)
{
	static EC_GROUP *groups[ARRAY_SIZE(curve_nids)];
	static bool tried[ARRAY_SIZE(curve_nids)];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(curve_nids); i++) {
		if (curve_nids[i] != nid)
			continue;
		if (!tried[i]) {
			tried[i] = true;
			groups[i] = EC_GROUP_new_by_curve_name(nid);
		}
		return groups[i];
	}
	return NULL;
}

/*
 * The quick decode's key: the subjectPublicKey bits of the SubjectPublicKeyInfo
 * (RFC 5280 4.1.2.7), decoded by libcrypto with the same routine its own decoder of that
 * key type uses, so a key the full decode cannot load is not described here either:
 * RSA with d2i_PublicKey() (the RSAPublicKey of RFC 8017 A.1.1), a named curve's point
 * with EC_POINT_oct2point() (which checks it is on the curve, RFC 5480 2.2), EdDSA as a
 * raw key of the algorithm's exact length and without parameters (RFC 8410 3).
 * key_describe() then names it, as it does for the full decode. False for what this
 * does not cover (RSA-PSS, whose parameters the full decode checks; DSA; explicit or
 * other curves; unknown types) and for a key libcrypto refuses: the leaf is then decoded
 * in full, which describes it, or says "unknown" for a key it cannot load.
 */
static bool spki_info(X509 *x, struct tls_cert_info *info)
{
	const X509_PUBKEY *xpk = X509_get_X509_PUBKEY(x);
	const unsigned char *kp = NULL, *p;
	const EC_GROUP *group;
	const void *pval = NULL;
	ASN1_OBJECT *alg = NULL;
	X509_ALGOR *pa = NULL;
	EC_POINT *point = NULL;
	EVP_PKEY *pk = NULL;
	int kl = 0, ptype = V_ASN1_UNDEF, nid, cnid, bits;
	bool ok = false;

	if (!xpk || !X509_PUBKEY_get0_param(&alg, &kp, &kl, &pa, xpk) || !alg || !kp || kl <= 0)
		goto cleanup;
	if (pa)
		X509_ALGOR_get0(NULL, &ptype, &pval, pa);
	nid = OBJ_obj2nid(alg);
	switch (nid) {
	case NID_rsaEncryption:
		p = kp;
		pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, kl);
		break;
	case NID_ED25519:
	case NID_ED448:
		if (ptype == V_ASN1_UNDEF)
			pk = EVP_PKEY_new_raw_public_key(nid == NID_ED25519 ? EVP_PKEY_ED25519 :
								      EVP_PKEY_ED448,
							 NULL, kp, (size_t)kl);
		break;
	case NID_X9_62_id_ecPublicKey:
		if (ptype != V_ASN1_OBJECT || !pval)
			goto cleanup;
		cnid = OBJ_obj2nid(pval);
		group = curve_group(cnid);
		if (!group)
			goto cleanup;
		point = EC_POINT_new(group);
		if (!point || !EC_POINT_oct2point(group, point, kp, (size_t)kl, NULL))
			goto cleanup;
		bits = EC_GROUP_order_bits(group);
		info->key_kind = TLS_CERT_KEY_EC;
		info->key_bits = bits > 0 ? (uint32_t)bits : 0;
		ec_key_name(info, OBJ_nid2sn(cnid));
		ok = true;
		goto cleanup;
	default:
		goto cleanup;
	}
	if (pk) {
		key_describe(pk, info);
		ok = true;
	}
cleanup:
	EC_POINT_free(point);
	EVP_PKEY_free(pk);
	return ok;
}

/* DESIGN.md: RSA (and DSA) under 2048 bits, EC under 224. EdDSA keys are never weak. */
static bool weak_key(const struct tls_cert_info *info)
{
	if (info->key_bits == 0)
		return false;
	switch (info->key_kind) {
	case TLS_CERT_KEY_RSA:
	case TLS_CERT_KEY_RSA_PSS:
	case TLS_CERT_KEY_DSA:
		return info->key_bits < 2048;
	case TLS_CERT_KEY_EC:
		return info->key_bits < 224;
	default:
		return false;
	}
}

static void sig_info(X509 *x, struct tls_cert_info *info)
{
	const X509_ALGOR *alg = NULL;
	const ASN1_OBJECT *obj = NULL;
	int mdnid = NID_undef;

	X509_get0_signature(NULL, &alg, x);
	if (alg)
		X509_ALGOR_get0(&obj, NULL, NULL, alg);
	/* The long name, as `openssl x509 -text` prints it; dotted digits when unknown. */
	if (!obj || OBJ_obj2txt(info->sig, sizeof(info->sig), obj, 0) <= 0)
		util_strlcpy(info->sig, "unknown", sizeof(info->sig));
	/*
	 * The digest behind the signature: X509_get_signature_info() also reads RSA-PSS
	 * parameters, where the OID alone names no hash; the OID table is the fallback when
	 * it gives up on the certificate's extensions. MD2 and MD4 have no problem name
	 * in DESIGN.md and are left unflagged (no CA has issued them since the 1990s).
	 */
	X509_get_signature_info(x, &mdnid, NULL, NULL, NULL);
	if (mdnid == NID_undef)
		OBJ_find_sigid_algs(X509_get_signature_nid(x), &mdnid, NULL);
	if (mdnid == NID_sha1)
		info->fixed_problems |= TLS_CERT_SHA1_SIGNATURE;
	else if (mdnid == NID_md5)
		info->fixed_problems |= TLS_CERT_MD5_SIGNATURE;
}

/* See tls_cert_decode() in cert.h for why both the names and the signature count. */
static bool self_signed(X509 *x)
{
	EVP_PKEY *pk;

	if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) != 0)
		return false;
	pk = X509_get0_pubkey(x);
	return pk && X509_verify(x, pk) == 1;
}

/*
 * Decode into @info, whose sha256/sha256_hex the caller has set and which is otherwise
 * zero. On failure everything but those is zeroed again.
 */
static int decode_leaf(const uint8_t *der, size_t len, struct tls_cert_info *info)
{
	const unsigned char *p = der;
	const X509_NAME *issuer;
	OSSL_LIB_CTX *qctx = quick_ctx();
	bool quick = false;
	uint8_t sha[32];
	X509 *x = NULL;
	size_t i;
	int idx, ret = 0;

	/* The quick decode first; a leaf it cannot describe is decoded again in full. */
	if (qctx) {
		x = X509_new_ex(qctx, NULL);
		if (x && d2i_X509(&x, &p, (long)len) && p == der + len &&
		    X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) != 0 &&
		    spki_info(x, info)) {
			quick = true;
		} else {
			X509_free(x);
			x = NULL;
			memset(info->key, 0, sizeof(info->key));
			info->key_kind = 0;
			info->key_bits = 0;
			p = der;
		}
	}
	if (!x)
		x = d2i_X509(NULL, &p, (long)len);
	/*
	 * Bytes after the certificate inside its length: OpenSSL's client refuses that
	 * ("cert length mismatch"), and the fingerprint would cover bytes that are not
	 * the certificate.
	 */
	if (!x || p != der + len) {
		ret = -EBADMSG;
		goto cleanup;
	}
	if (asn1_secs(X509_get0_notBefore(x), &info->not_before) ||
	    asn1_secs(X509_get0_notAfter(x), &info->not_after)) {
		ret = -EBADMSG;
		goto cleanup;
	}
	/* SANs first: they decide the SNI check, so they get the room before the CNs. */
	collect_sans(x, info);
	collect_cns(x, info);
	for (i = 0; !info->subject[0] && i < info->n_names; i++)
		if (info->names[i].type == TLS_CERT_NAME_DNS)
			util_strlcpy(info->subject, info->pool + info->names[i].off,
				     sizeof(info->subject));
	issuer = X509_get_issuer_name(x);
	idx = last_index(issuer, NID_commonName);
	if (idx < 0)
		idx = last_index(issuer, NID_organizationName);
	if (idx >= 0)
		entry_display(issuer, idx, info->issuer, sizeof(info->issuer));
	if (!quick)
		key_info(x, info);
	sig_info(x, info);
	/* A quick one's subject is not its issuer: it is not self-signed. */
	info->self_signed = !quick && self_signed(x);
	if (info->self_signed)
		info->fixed_problems |= TLS_CERT_SELF_SIGNED;
	if (weak_key(info))
		info->fixed_problems |= TLS_CERT_WEAK_KEY;
cleanup:
	X509_free(x);
	/*
	 * libcrypto queues a reason for every refusal (and for lookups that fail on the
	 * way, such as an unknown key type); nothing reads them, so do not let them pile
	 * up on the thread's queue.
	 */
	ERR_clear_error();
	if (ret) {
		memcpy(sha, info->sha256, sizeof(sha));
		memset(info, 0, sizeof(*info));
		memcpy(info->sha256, sha, sizeof(sha));
		hex32(sha, info->sha256_hex);
	}
	return ret;
}

int tls_cert_decode(const uint8_t *der, size_t len, struct tls_cert_info *info)
{
	int ret;

	memset(info, 0, sizeof(*info));
	if (!der || len == 0)
		return -EINVAL;
	if (len > TLS_CERT_DER_MAX)
		return -EMSGSIZE;
	ret = tls_cert_sha256(der, len, info->sha256);
	if (ret)
		return ret;
	hex32(info->sha256, info->sha256_hex);
	return decode_leaf(der, len, info);
}

uint32_t tls_cert_judge(const struct tls_cert_info *info, const char *sni, int64_t now)
{
	uint32_t p = info->fixed_problems;

	/* RFC 5280 4.1.2.5: both ends of the validity period are inclusive. */
	if (now > info->not_after)
		p |= TLS_CERT_EXPIRED;
	if (now < info->not_before)
		p |= TLS_CERT_NOT_YET_VALID;
	if (tls_cert_check_name(info, sni) == TLS_CERT_SNI_MISMATCH)
		p |= TLS_CERT_NAME_MISMATCH;
	return p;
}

const char *tls_cert_problem_name(uint32_t bit)
{
	unsigned int i;

	for (i = 0; i < TLS_CERT_N_PROBLEMS; i++)
		if (bit == 1u << i)
			return problem_names[i];
	return NULL;
}

size_t tls_cert_problem_names(uint32_t problems, const char *out[TLS_CERT_N_PROBLEMS])
{
	unsigned int i;
	size_t n = 0;

	/* The bits are declared in DESIGN.md's order, so bit order is list order. */
	for (i = 0; i < TLS_CERT_N_PROBLEMS; i++)
		if (problems & (1u << i))
			out[n++] = problem_names[i];
	return n;
}

bool tls_cert_verify_problem(uint32_t problems)
{
	return (problems & TLS_CERT_VERIFY_PROBLEMS) != 0;
}

/* @v (0 <= v < 10^n) as exactly @n decimal digits. */
static void put_digits(char *p, int64_t v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void tls_cert_format_time(int64_t secs, char *buf, size_t len)
{
	/*
	 * The records of one server repeat its certificate's expiry: keep the last one
	 * formatted (read --json formats it for every TLS <= 1.2 handshake).
	 */
	static __thread int64_t last_secs = INT64_MIN;
	static __thread char last[64];
	int64_t days, rem, z, era, doe, yoe, doy, mp, y, m, d;

	if (len == 0)
		return;
	if (secs == last_secs) {
		util_strlcpy(buf, last, len);
		return;
	}
	/* Floor division, so that times before 1970 come out right too. */
	days = secs / 86400;
	rem = secs % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	/* civil_from_days (H. Hinnant), the inverse of days_from_civil() above. */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	if (y >= 0 && y <= 9999) {
		/* The decoder's range: digits by hand, snprintf() was most of the cost. */
		put_digits(last, y, 4);
		last[4] = '-';
		put_digits(last + 5, m, 2);
		last[7] = '-';
		put_digits(last + 8, d, 2);
		last[10] = 'T';
		put_digits(last + 11, rem / 3600, 2);
		last[13] = ':';
		put_digits(last + 14, rem / 60 % 60, 2);
		last[16] = ':';
		put_digits(last + 17, rem % 60, 2);
		last[19] = 'Z';
		last[20] = '\0';
	} else {
		snprintf(last, sizeof(last), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
			 (long long)y, (long long)m, (long long)d, (long long)(rem / 3600),
			 (long long)(rem / 60 % 60), (long long)(rem % 60));
	}
	last_secs = secs;
	util_strlcpy(buf, last, len);
}

/*
 * A server sends the same leaf on every handshake, and hashing it to find its entry was
 * the cache's whole cost. So each entry also keeps a copy of its DER (up to
 * CACHE_DER_COPY bytes; longer leaves always take the SHA-256 path), found through
 * by_der by a cheap hash of the DER's length and ends and recognised by comparing every
 * byte: the hash only picks where to look, so a peer that collides it gains nothing but
 * the SHA-256 path.
 */
#define CACHE_DER_COPY 4096

/*
 * The slots hold what a lookup compares; the decoded certificate (10 KiB) lives apart,
 * allocated when the slot is first filled. Inline, the ways of a set were pages apart
 * and every probe, and the walk over the slots at the end, faulted in pages of the
 * 40 MiB a `read` cache reserves: three quarters of the page faults of a run.
 */
struct cache_slot {
	uint64_t used; /* tick of the last lookup that hit or filled it; 0 when empty */
	int err;       /* 0, or the decode's negative errno, cached like a success */
	uint32_t der_len; /* bytes in der; 0: no copy */
	uint8_t *der;	  /* the DER this entry was made from, or NULL */
	uint8_t sha256[32]; /* the key: info->sha256 */
	struct tls_cert_info *info; /* NULL until first filled */
};

struct tls_cert_cache {
	struct cache_slot *slots; /* (set_mask + 1) * CACHE_WAYS */
	uint32_t *by_der;	  /* as many: slot index + 1 by der_hash(), 0 = none */
	uint32_t set_mask;
	uint64_t tick;
	struct tls_cert_cache_stats st;
};

/* The length, the first 16 and the last 32 bytes (the signature's end): len >= 1. */
static uint32_t der_hash(const uint8_t *der, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;
	size_t i, off;

	for (i = 0; i < 6; i++) {
		off = i < 2 ? i * 8 : len - 32 + (i - 2) * 8;
		w = 0;
		if (len >= 48)
			memcpy(&w, der + off, sizeof(w));
		else if (i < len)
			w = der[i];
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return (uint32_t)h;
}

/* Keep @der in @slot for the lookup without hashing. */
static void keep_der(struct tls_cert_cache *cache, struct cache_slot *slot, const uint8_t *der,
		     size_t len, uint32_t dh)
{
	uint32_t n = (cache->set_mask + 1) * CACHE_WAYS;

	if (len > CACHE_DER_COPY) {
		/* The copy of an earlier occupant must not answer for this one. */
		slot->der_len = 0;
		return;
	}
	if (slot->der_len != len || memcmp(slot->der, der, len)) {
		uint8_t *p = slot->der_len >= len ? slot->der : realloc(slot->der, len);

		if (!p) {
			slot->der_len = 0;
			return;
		}
		slot->der = p;
		memcpy(p, der, len);
		slot->der_len = (uint32_t)len;
	}
	cache->by_der[dh & (n - 1)] = (uint32_t)(slot - cache->slots) + 1;
}

struct tls_cert_cache *tls_cert_cache_new(unsigned int capacity)
{
	struct tls_cert_cache *c = NULL;
	unsigned int n = CACHE_WAYS;
	int err = 0;

	if (capacity == 0)
		capacity = TLS_CERT_CACHE_DEFAULT;
	if (capacity > CACHE_MAX) {
		err = EINVAL;
		goto cleanup;
	}
	while (n < capacity)
		n <<= 1;
	c = calloc(1, sizeof(*c));
	if (!c) {
		err = ENOMEM;
		goto cleanup;
	}
	/* calloc checks n * size for overflow; the pages fill only as certificates come. */
	c->slots = calloc(n, sizeof(*c->slots));
	c->by_der = calloc(n, sizeof(*c->by_der));
	if (!c->slots || !c->by_der) {
		err = ENOMEM;
		goto cleanup;
	}
	c->set_mask = n / CACHE_WAYS - 1;
cleanup:
	if (err) {
		if (c) {
			free(c->slots);
			free(c->by_der);
		}
		free(c);
		c = NULL;
		errno = err;
	}
	return c;
}

void tls_cert_cache_free(struct tls_cert_cache *cache)
{
	uint32_t i;

	if (!cache)
		return;
	for (i = 0; i < (cache->set_mask + 1) * CACHE_WAYS; i++) {
		free(cache->slots[i].der);
		free(cache->slots[i].info);
	}
	free(cache->by_der);
	free(cache->slots);
	free(cache);
}

int tls_cert_cache_get(struct tls_cert_cache *cache, const uint8_t *der, size_t len,
		       const struct tls_cert_info **info)
{
	struct cache_slot *set, *slot = NULL;
	uint8_t md[32];
	uint32_t idx, dh, k;
	unsigned int i;
	int ret;

	*info = NULL;
	if (!der || len == 0 || len > TLS_CERT_DER_MAX) {
		/* Refused before hashing: there is nothing to key an entry on. */
		cache->st.misses++;
		cache->st.failures++;
		ret = len > TLS_CERT_DER_MAX ? -EMSGSIZE : -EINVAL;
		goto cleanup;
	}
	cache->tick++;
	dh = der_hash(der, len);
	k = cache->by_der[dh & ((cache->set_mask + 1) * CACHE_WAYS - 1)];
	if (k) {
		slot = &cache->slots[k - 1];
		if (slot->used && slot->der_len == len && !memcmp(slot->der, der, len)) {
			slot->used = cache->tick;
			cache->st.hits++;
			ret = slot->err;
			if (!ret)
				*info = slot->info;
			goto cleanup;
		}
		slot = NULL;
	}
	ret = tls_cert_sha256(der, len, md);
	if (ret)
		goto cleanup;
	/* SHA-256 output is uniform, so its first bytes pick the set directly. */
	idx = (((uint32_t)md[0] << 24) | ((uint32_t)md[1] << 16) | ((uint32_t)md[2] << 8) |
	       md[3]) &
	      cache->set_mask;
	set = cache->slots + (size_t)idx * CACHE_WAYS;
	for (i = 0; i < CACHE_WAYS; i++) {
		if (set[i].used && memcmp(set[i].sha256, md, sizeof(md)) == 0) {
			set[i].used = cache->tick;
			cache->st.hits++;
			keep_der(cache, &set[i], der, len, dh);
			ret = set[i].err;
			if (!ret)
				*info = set[i].info;
			goto cleanup;
		}
		/* The least recently used way (an empty one has tick 0) is the victim. */
		if (!slot || set[i].used < slot->used)
			slot = &set[i];
	}
	cache->st.misses++;
	if (!slot->info) {
		slot->info = malloc(sizeof(*slot->info));
		if (!slot->info) {
			/* Not cached: the slot stays as it was (empty or its old entry). */
			cache->st.failures++;
			ret = -ENOMEM;
			goto cleanup;
		}
	}
	if (slot->used)
		cache->st.evictions++;
	slot->der_len = 0;
	memset(slot->info, 0, sizeof(*slot->info));
	memcpy(slot->sha256, md, sizeof(md));
	memcpy(slot->info->sha256, md, sizeof(md));
	hex32(md, slot->info->sha256_hex);
	ret = decode_leaf(der, len, slot->info);
	slot->err = ret;
	slot->used = cache->tick;
	keep_der(cache, slot, der, len, dh);
	if (ret)
		cache->st.failures++;
	else
		*info = slot->info;
cleanup:
	return ret;
}

int tls_cert_cache_find(struct tls_cert_cache *cache, const uint8_t sha256[32],
			const struct tls_cert_info **info)
{
	struct cache_slot *set;
	uint32_t idx;
	unsigned int i;

	*info = NULL;
	idx = (((uint32_t)sha256[0] << 24) | ((uint32_t)sha256[1] << 16) |
	       ((uint32_t)sha256[2] << 8) | sha256[3]) &
	      cache->set_mask;
	set = cache->slots + (size_t)idx * CACHE_WAYS;
	for (i = 0; i < CACHE_WAYS; i++) {
		if (set[i].used && memcmp(set[i].sha256, sha256, 32) == 0) {
			set[i].used = ++cache->tick;
			cache->st.hits++;
			if (!set[i].err)
				*info = set[i].info;
			return set[i].err;
		}
	}
	return -ENOENT;
}

void tls_cert_cache_stats(const struct tls_cert_cache *cache, struct tls_cert_cache_stats *out)
{
	*out = cache->st;
}

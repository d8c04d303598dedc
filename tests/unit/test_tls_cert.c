// SPDX-License-Identifier: GPL-2.0-only
/*
 * The certificate module on certificates built here with libcrypto (keys generated once
 * per run, fixed validity times around T0 so the verdicts do not depend on the clock):
 * the Certificate message walk, the decoded summary (names, key, signature, times,
 * fingerprint, self-signed), the problem bits, RFC 6125 name matching checked against
 * OpenSSL's own X509_check_host() as an oracle, hostile DER (every prefix, trailing
 * bytes, garbage, huge SAN lists, a NUL inside a SAN, seeded mutations) and the cache.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tlsaudit/cert.h"
#include "tlsaudit/tls.h"

/* 2026-05-28T20:26:40Z: every certificate's validity is placed around it. */
#define T0 INT64_C(1780000000)
#define DAY INT64_C(86400)

static struct {
	EVP_PKEY *rsa2048, *rsa1024, *pss1024, *dsa1024;
	EVP_PKEY *p256, *p384, *p192, *k256, *ed25519, *ed448;
	EVP_PKEY *ca_key;
	X509 *ca;
} K;

static long serial = 1;

struct spec {
	const char *cn;		   /* NULL: no CN */
	const char *const *dns;	   /* NULL-terminated list, or NULL */
	const char *const *ips;	   /* likewise, textual addresses */
	const char *raw_dns;	   /* one more DNS SAN of raw_len bytes (a NUL inside) */
	size_t raw_len;
	EVP_PKEY *key;		   /* the subject's key */
	EVP_PKEY *sign_key;	   /* NULL: self-signed with key */
	const X509 *issuer;	   /* NULL: issuer name = subject name */
	const EVP_MD *md;	   /* NULL: SHA-256, or none for EdDSA */
	bool no_md;		   /* EdDSA signs without a separate digest */
	int64_t nb, na;		   /* validity; both 0: T0 - 1 day .. T0 + 30 days */
	bool dup_san;		   /* a second subjectAltName extension */
	const uint8_t *key_bits;   /* non-NULL: these subjectPublicKey bits instead of key's */
	size_t key_bits_len;
	bool key_null_params;	   /* with key_bits: the algorithm's parameters set to NULL */
};

static EVP_PKEY *keygen_bits(const char *type, unsigned int bits)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL), *kctx = NULL;
	EVP_PKEY *params = NULL, *key = NULL;

	assert_non_null(ctx);
	if (strcmp(type, "DSA") == 0) {
		/* DSA needs domain parameters before a key. */
		assert_int_equal(EVP_PKEY_paramgen_init(ctx), 1);
		assert_int_equal(EVP_PKEY_CTX_set_dsa_paramgen_bits(ctx, (int)bits), 1);
		assert_int_equal(EVP_PKEY_paramgen(ctx, &params), 1);
		kctx = EVP_PKEY_CTX_new_from_pkey(NULL, params, NULL);
		assert_non_null(kctx);
		assert_int_equal(EVP_PKEY_keygen_init(kctx), 1);
		assert_int_equal(EVP_PKEY_generate(kctx, &key), 1);
	} else {
		assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits), 1);
		assert_int_equal(EVP_PKEY_generate(ctx, &key), 1);
	}
	EVP_PKEY_free(params);
	EVP_PKEY_CTX_free(kctx);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static void add_gen(GENERAL_NAMES *gens, int type, ASN1_STRING *value)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();

	assert_non_null(gn);
	assert_non_null(value);
	GENERAL_NAME_set0_value(gn, type, value);
	assert_true(sk_GENERAL_NAME_push(gens, gn) > 0);
}

static ASN1_IA5STRING *ia5(const char *s, size_t n)
{
	ASN1_IA5STRING *v = ASN1_IA5STRING_new();

	assert_non_null(v);
	assert_int_equal(ASN1_STRING_set(v, s, (int)n), 1);
	return v;
}

/*
 * Replace the subjectPublicKey bits of @x (keeping key's algorithm and, unless
 * key_null_params, its parameters): a key as a hostile or broken server may present it.
 */
static void set_key_bits(X509 *x, const struct spec *s)
{
	X509_PUBKEY *xpk = X509_get_X509_PUBKEY(x);
	ASN1_OBJECT *alg = NULL;
	X509_ALGOR *pa = NULL;
	const void *pval = NULL;
	void *param = NULL;
	unsigned char *bits;
	int ptype = V_ASN1_UNDEF;

	assert_non_null(xpk);
	assert_int_equal(X509_PUBKEY_get0_param(&alg, NULL, NULL, &pa, xpk), 1);
	X509_ALGOR_get0(NULL, &ptype, &pval, pa);
	if (s->key_null_params)
		ptype = V_ASN1_NULL;
	else if (ptype == V_ASN1_OBJECT)
		param = OBJ_dup(pval);
	else
		/* Every key this file makes has an OID or no parameter at all. */
		ptype = ptype == V_ASN1_NULL ? V_ASN1_NULL : V_ASN1_UNDEF;
	bits = OPENSSL_malloc(s->key_bits_len ? s->key_bits_len : 1);
	assert_non_null(bits);
	memcpy(bits, s->key_bits, s->key_bits_len);
	assert_int_equal(X509_PUBKEY_set0_param(xpk, OBJ_dup(alg), ptype, param, bits,
						(int)s->key_bits_len),
			 1);
}

static X509 *make_cert(const struct spec *s)
{
	X509 *x = X509_new();
	X509_NAME *name;
	GENERAL_NAMES *gens;
	const EVP_MD *md;
	size_t i;

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(s->nb ? s->nb : T0 - DAY)));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(s->na ? s->na : T0 + 30 * DAY)));
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
						    (const unsigned char *)"tlsaudit test", -1, -1, 0),
			 1);
	if (s->cn)
		assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
							    (const unsigned char *)s->cn, -1, -1, 0),
				 1);
	assert_int_equal(X509_set_issuer_name(x, s->issuer ? X509_get_subject_name(s->issuer) : name), 1);
	assert_int_equal(X509_set_pubkey(x, s->key), 1);
	if (s->key_bits)
		set_key_bits(x, s);
	if (s->dns || s->ips || s->raw_dns) {
		gens = sk_GENERAL_NAME_new_null();
		assert_non_null(gens);
		for (i = 0; s->dns && s->dns[i]; i++)
			add_gen(gens, GEN_DNS, ia5(s->dns[i], strlen(s->dns[i])));
		if (s->raw_dns)
			add_gen(gens, GEN_DNS, ia5(s->raw_dns, s->raw_len));
		for (i = 0; s->ips && s->ips[i]; i++)
			add_gen(gens, GEN_IPADD, a2i_IPADDRESS(s->ips[i]));
		assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT), 1);
		if (s->dup_san)
			assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
							   X509V3_ADD_APPEND),
					 1);
		GENERAL_NAMES_free(gens);
	}
	md = s->no_md ? NULL : s->md ? s->md : EVP_sha256();
	assert_true(X509_sign(x, s->sign_key ? s->sign_key : s->key, md) > 0);
	return x;
}

/* The DER of @x in a malloc'd buffer (so ASan sees exact bounds). */
static uint8_t *der_of(X509 *x, size_t *len)
{
	unsigned char *tmp = NULL;
	uint8_t *out;
	int n = i2d_X509(x, &tmp);

	assert_true(n > 0);
	out = malloc((size_t)n);
	assert_non_null(out);
	memcpy(out, tmp, (size_t)n);
	OPENSSL_free(tmp);
	*len = (size_t)n;
	return out;
}

/* Build a cert from @s and decode it; returns the decode's result. */
static int decode_spec(const struct spec *s, struct tls_cert_info *info)
{
	X509 *x = make_cert(s);
	uint8_t *der;
	size_t len;
	int ret;

	der = der_of(x, &len);
	ret = tls_cert_decode(der, len, info);
	free(der);
	X509_free(x);
	return ret;
}

static int setup(void **state)
{
	(void)state;
	K.rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	K.rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	K.pss1024 = keygen_bits("RSA-PSS", 1024);
	K.dsa1024 = keygen_bits("DSA", 1024);
	K.p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	K.p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	K.p192 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-192");
	K.k256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
	K.ed25519 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	K.ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	K.ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!K.rsa2048 || !K.rsa1024 || !K.pss1024 || !K.dsa1024 || !K.p256 || !K.p384 ||
	    !K.p192 || !K.k256 || !K.ed25519 || !K.ed448 || !K.ca_key)
		return -1;
	K.ca = make_cert(&(struct spec){ .cn = "tlsaudit test CA", .key = K.ca_key,
					 .nb = T0 - 365 * DAY, .na = T0 + 3650 * DAY });
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(K.ca);
	EVP_PKEY_free(K.rsa2048);
	EVP_PKEY_free(K.rsa1024);
	EVP_PKEY_free(K.pss1024);
	EVP_PKEY_free(K.dsa1024);
	EVP_PKEY_free(K.p256);
	EVP_PKEY_free(K.p384);
	EVP_PKEY_free(K.p192);
	EVP_PKEY_free(K.k256);
	EVP_PKEY_free(K.ed25519);
	EVP_PKEY_free(K.ed448);
	EVP_PKEY_free(K.ca_key);
	return 0;
}

/* A leaf for @cn/@dns signed by the test CA. */
static struct spec leaf(const char *cn, const char *const *dns, EVP_PKEY *key)
{
	return (struct spec){ .cn = cn, .dns = dns, .key = key, .sign_key = K.ca_key,
			      .issuer = K.ca };
}

/* ---- the Certificate message ---- */

static size_t put24(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
	return 3;
}

/* A Certificate message body for @n DER blobs; malloc'd, length in *len. */
static uint8_t *cert_msg(uint8_t *const *der, const size_t *dlen, size_t n, size_t *len)
{
	size_t total = 0, off, i;
	uint8_t *m;

	for (i = 0; i < n; i++)
		total += 3 + dlen[i];
	m = malloc(3 + total);
	assert_non_null(m);
	off = put24(m, total);
	for (i = 0; i < n; i++) {
		off += put24(m + off, dlen[i]);
		memcpy(m + off, der[i], dlen[i]);
		off += dlen[i];
	}
	*len = off;
	return m;
}

static void test_msg_chain(void **state)
{
	static const char *const dns[] = { "www.example.com", NULL };
	struct spec s = leaf("www.example.com", dns, K.p256);
	X509 *x[3];
	uint8_t *der[3], *m, *copy;
	size_t dlen[3], len, i, k, pos[3];
	struct tls_cert_chain ch;

	(void)state;
	x[0] = make_cert(&s);
	x[1] = make_cert(&(struct spec){ .cn = "intermediate", .key = K.p384,
					 .sign_key = K.ca_key, .issuer = K.ca });
	x[2] = X509_dup(K.ca);
	for (i = 0; i < 3; i++)
		der[i] = der_of(x[i], &dlen[i]);
	m = cert_msg(der, dlen, 3, &len);

	assert_int_equal(tls_cert_msg_leaf(m, len, &ch), TLS_OK);
	assert_int_equal(ch.n_certs, 3);
	assert_int_equal(ch.list_len, len - 3);
	assert_ptr_equal(ch.leaf, m + 6);
	assert_int_equal(ch.leaf_len, dlen[0]);
	assert_memory_equal(ch.leaf, der[0], dlen[0]);

	/* Every proper prefix: the list length then claims bytes that are not there. */
	for (k = 0; k < len; k++) {
		copy = malloc(k ? k : 1);
		memcpy(copy, m, k);
		assert_int_equal(tls_cert_msg_leaf(copy, k, &ch), TLS_INVALID);
		assert_null(ch.leaf);
		assert_int_equal(ch.n_certs, 0);
		free(copy);
	}
	/* Bytes after the list: the list length is shorter than the body. */
	copy = malloc(len + 1);
	memcpy(copy, m, len);
	copy[len] = 0;
	assert_int_equal(tls_cert_msg_leaf(copy, len + 1, &ch), TLS_INVALID);
	free(copy);

	/* Shift the list length and each entry's length by -4..+4: all lies. */
	pos[0] = 3;
	pos[1] = pos[0] + 3 + dlen[0];
	pos[2] = pos[1] + 3 + dlen[1];
	copy = malloc(len);
	for (k = 1; k <= 4; k++) {
		int sign;

		for (sign = -1; sign <= 1; sign += 2) {
			size_t v = len - 3 + (size_t)(sign * (int)k);

			memcpy(copy, m, len);
			put24(copy, v);
			assert_int_equal(tls_cert_msg_leaf(copy, len, &ch), TLS_INVALID);
			for (i = 0; i < 3; i++) {
				memcpy(copy, m, len);
				put24(copy + pos[i], dlen[i] + (size_t)(sign * (int)k));
				assert_int_equal(tls_cert_msg_leaf(copy, len, &ch), TLS_INVALID);
			}
		}
	}
	free(copy);
	free(m);
	for (i = 0; i < 3; i++) {
		free(der[i]);
		X509_free(x[i]);
	}
}

static void test_msg_edges(void **state)
{
	static const uint8_t empty[] = { 0, 0, 0 };
	static const uint8_t zero_entry[] = { 0, 0, 3, 0, 0, 0 };
	/* One 1-byte entry, then an empty one. */
	static const uint8_t zero_second[] = { 0, 0, 7, 0, 0, 1, 0x30, 0, 0, 0 };
	/* An entry whose length runs past the list (but not past the body). */
	static const uint8_t past_list[] = { 0, 0, 4, 0, 0, 2, 0x30, 0x00 };
	static const uint8_t one[] = { 0, 0, 4, 0, 0, 1, 0x30 };
	/* A list of three 1-byte entries, the smallest legal shape. */
	static const uint8_t three[] = { 0, 0, 12, 0, 0, 1, 1, 0, 0, 1, 2, 0, 0, 1, 3 };
	struct tls_cert_chain ch;

	(void)state;
	assert_int_equal(tls_cert_msg_leaf(NULL, 0, &ch), TLS_INVALID);
	assert_int_equal(tls_cert_msg_leaf(empty, 1, &ch), TLS_INVALID);
	assert_int_equal(tls_cert_msg_leaf(empty, 2, &ch), TLS_INVALID);
	/* An empty list parses (a client without a certificate sends one). */
	assert_int_equal(tls_cert_msg_leaf(empty, sizeof(empty), &ch), TLS_OK);
	assert_int_equal(ch.n_certs, 0);
	assert_null(ch.leaf);
	assert_int_equal(tls_cert_msg_leaf(zero_entry, sizeof(zero_entry), &ch), TLS_INVALID);
	assert_int_equal(tls_cert_msg_leaf(zero_second, sizeof(zero_second), &ch), TLS_INVALID);
	assert_null(ch.leaf);
	assert_int_equal(tls_cert_msg_leaf(past_list, sizeof(past_list), &ch), TLS_INVALID);
	assert_int_equal(tls_cert_msg_leaf(one, sizeof(one), &ch), TLS_OK);
	assert_int_equal(ch.n_certs, 1);
	assert_int_equal(ch.leaf_len, 1);
	assert_ptr_equal(ch.leaf, one + 6);
	assert_int_equal(tls_cert_msg_leaf(three, sizeof(three), &ch), TLS_OK);
	assert_int_equal(ch.n_certs, 3);
	assert_int_equal(ch.leaf[0], 1);
}

/* ---- the decoded summary ---- */

static void test_self_signed_rsa(void **state)
{
	static const char *const dns[] = { "self.example.com", NULL };
	struct tls_cert_info *info = malloc(sizeof(*info));
	const char *names[TLS_CERT_N_PROBLEMS];
	uint32_t p;

	(void)state;
	assert_int_equal(decode_spec(&(struct spec){ .cn = "self.example.com", .dns = dns,
						     .key = K.rsa2048 },
				     info),
			 0);
	assert_string_equal(info->subject, "self.example.com");
	assert_string_equal(info->issuer, "self.example.com");
	assert_string_equal(info->key, "RSA-2048");
	assert_int_equal(info->key_kind, TLS_CERT_KEY_RSA);
	assert_int_equal(info->key_bits, 2048);
	assert_string_equal(info->sig, "sha256WithRSAEncryption");
	assert_true(info->self_signed);
	assert_int_equal(info->not_before, T0 - DAY);
	assert_int_equal(info->not_after, T0 + 30 * DAY);
	p = tls_cert_judge(info, "self.example.com", T0);
	assert_int_equal(p, TLS_CERT_SELF_SIGNED);
	assert_true(tls_cert_verify_problem(p));
	assert_int_equal(tls_cert_problem_names(p, names), 1);
	assert_string_equal(names[0], "self_signed");
	free(info);
}

static void test_leaf_from_ca(void **state)
{
	static const char *const dns[] = { "good.example.com", NULL };
	struct tls_cert_info *info = malloc(sizeof(*info));
	struct spec s = leaf("good.example.com", dns, K.p256);

	(void)state;
	assert_int_equal(decode_spec(&s, info), 0);
	assert_false(info->self_signed);
	assert_string_equal(info->issuer, "tlsaudit test CA");
	assert_string_equal(info->key, "EC-P-256");
	assert_int_equal(info->key_bits, 256);
	assert_string_equal(info->sig, "ecdsa-with-SHA256");
	assert_int_equal(tls_cert_judge(info, "good.example.com", T0), 0);
	assert_false(tls_cert_verify_problem(0));

	/* The CA itself is self-signed. */
	{
		uint8_t *der;
		size_t len;

		der = der_of(K.ca, &len);
		assert_int_equal(tls_cert_decode(der, len, info), 0);
		assert_true(info->self_signed);
		assert_string_equal(info->subject, "tlsaudit test CA");
		free(der);
	}
	/*
	 * Self-issued (subject == issuer name) but signed by another key: the signature
	 * does not verify with its own key, so it is not self-signed.
	 */
	s = (struct spec){ .cn = "tlsaudit test CA", .key = K.p384, .sign_key = K.ca_key };
	assert_int_equal(decode_spec(&s, info), 0);
	assert_string_equal(info->subject, info->issuer);
	assert_false(info->self_signed);
	assert_int_equal(info->fixed_problems & TLS_CERT_SELF_SIGNED, 0);
	free(info);
}

static void test_validity(void **state)
{
	static const char *const dns[] = { "old.example.com", NULL };
	struct tls_cert_info *info = malloc(sizeof(*info));
	struct spec s = leaf("old.example.com", dns, K.p256);
	uint32_t p;

	(void)state;
	/* Expired ten days before T0. */
	s.nb = T0 - 100 * DAY;
	s.na = T0 - 10 * DAY;
	assert_int_equal(decode_spec(&s, info), 0);
	p = tls_cert_judge(info, "old.example.com", T0);
	assert_int_equal(p, TLS_CERT_EXPIRED);
	assert_true(tls_cert_verify_problem(p));
	/* A capture from back then is judged as of then: fine. */
	assert_int_equal(tls_cert_judge(info, "old.example.com", T0 - 20 * DAY), 0);
	/* Both ends of the validity period are inclusive (RFC 5280). */
	assert_int_equal(tls_cert_judge(info, NULL, T0 - 10 * DAY), 0);
	assert_int_equal(tls_cert_judge(info, NULL, T0 - 10 * DAY + 1), TLS_CERT_EXPIRED);
	assert_int_equal(tls_cert_judge(info, NULL, T0 - 100 * DAY), 0);
	assert_int_equal(tls_cert_judge(info, NULL, T0 - 100 * DAY - 1), TLS_CERT_NOT_YET_VALID);

	/* Not yet valid: starts tomorrow. */
	s.nb = T0 + DAY;
	s.na = T0 + 90 * DAY;
	assert_int_equal(decode_spec(&s, info), 0);
	p = tls_cert_judge(info, "old.example.com", T0);
	assert_int_equal(p, TLS_CERT_NOT_YET_VALID);
	assert_true(tls_cert_verify_problem(p));
	free(info);
}

static void test_far_times(void **state)
{
	struct tls_cert_info *info = malloc(sizeof(*info));
	X509 *x = make_cert(&(struct spec){ .cn = "far.example.com", .key = K.p256 });
	char buf[32];
	uint8_t *der;
	size_t len;

	(void)state;
	/* UTCTime before 1970 and the GeneralizedTime end of time; re-signed after. */
	assert_int_equal(ASN1_TIME_set_string(X509_getm_notBefore(x), "600101000000Z"), 1);
	assert_int_equal(ASN1_TIME_set_string(X509_getm_notAfter(x), "99991231235959Z"), 1);
	assert_true(X509_sign(x, K.p256, EVP_sha256()) > 0);
	der = der_of(x, &len);
	assert_int_equal(tls_cert_decode(der, len, info), 0);
	assert_int_equal(info->not_before, INT64_C(-315619200));
	assert_int_equal(info->not_after, INT64_C(253402300799));
	tls_cert_format_time(info->not_before, buf, sizeof(buf));
	assert_string_equal(buf, "1960-01-01T00:00:00Z");
	tls_cert_format_time(info->not_after, buf, sizeof(buf));
	assert_string_equal(buf, "9999-12-31T23:59:59Z");
	tls_cert_format_time(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	tls_cert_format_time(T0, buf, sizeof(buf));
	assert_string_equal(buf, "2026-05-28T20:26:40Z");
	/* Leap day. */
	tls_cert_format_time(INT64_C(1709164800), buf, sizeof(buf));
	assert_string_equal(buf, "2024-02-29T00:00:00Z");
	tls_cert_format_time(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
	/* A short buffer is cut, still terminated. */
	tls_cert_format_time(T0, buf, 5);
	assert_string_equal(buf, "2026");
	assert_int_equal(tls_cert_judge(info, NULL, T0), TLS_CERT_SELF_SIGNED);
	free(der);
	X509_free(x);
	free(info);
}

static void test_keys(void **state)
{
	static const struct {
		EVP_PKEY **key;
		const char *name;
		enum tls_cert_key_kind kind;
		uint32_t bits;
		bool weak;
		bool no_md;
		const char *sig;
	} cases[] = {
		{ &K.rsa2048, "RSA-2048", TLS_CERT_KEY_RSA, 2048, false, false, "sha256WithRSAEncryption" },
		{ &K.rsa1024, "RSA-1024", TLS_CERT_KEY_RSA, 1024, true, false, "sha256WithRSAEncryption" },
		{ &K.pss1024, "RSA-PSS-1024", TLS_CERT_KEY_RSA_PSS, 1024, true, false, "rsassaPss" },
		{ &K.dsa1024, "DSA-1024", TLS_CERT_KEY_DSA, 1024, true, false, "dsa_with_SHA256" },
		{ &K.p256, "EC-P-256", TLS_CERT_KEY_EC, 256, false, false, "ecdsa-with-SHA256" },
		{ &K.p384, "EC-P-384", TLS_CERT_KEY_EC, 384, false, false, "ecdsa-with-SHA256" },
		{ &K.p192, "EC-P-192", TLS_CERT_KEY_EC, 192, true, false, "ecdsa-with-SHA256" },
		{ &K.k256, "EC-secp256k1", TLS_CERT_KEY_EC, 256, false, false, "ecdsa-with-SHA256" },
		{ &K.ed25519, "Ed25519", TLS_CERT_KEY_ED25519, 256, false, true, "ED25519" },
		{ &K.ed448, "Ed448", TLS_CERT_KEY_ED448, 456, false, true, "ED448" },
	};
	struct tls_cert_info *info = malloc(sizeof(*info));
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Self-signed, so the key signs its own certificate: the full decode. */
		struct spec s = { .cn = "k.example.com", .key = *cases[i].key, .no_md = cases[i].no_md };

		print_message("key %s\n", cases[i].name);
		assert_int_equal(decode_spec(&s, info), 0);
		assert_string_equal(info->key, cases[i].name);
		assert_int_equal(info->key_kind, cases[i].kind);
		assert_int_equal(info->key_bits, cases[i].bits);
		assert_string_equal(info->sig, cases[i].sig);
		assert_true(info->self_signed);
		assert_int_equal(!!(info->fixed_problems & TLS_CERT_WEAK_KEY), cases[i].weak);
		assert_int_equal(info->fixed_problems & (TLS_CERT_SHA1_SIGNATURE | TLS_CERT_MD5_SIGNATURE), 0);

		/*
		 * Issued by a CA: the quick decode, which decodes only the key with
		 * libcrypto, must say the same (DSA and RSA-PSS take the full decode).
		 */
		s = leaf("k.example.com", NULL, *cases[i].key);
		assert_int_equal(decode_spec(&s, info), 0);
		assert_string_equal(info->key, cases[i].name);
		assert_int_equal(info->key_kind, cases[i].kind);
		assert_int_equal(info->key_bits, cases[i].bits);
		assert_false(info->self_signed);
		assert_int_equal(!!(info->fixed_problems & TLS_CERT_WEAK_KEY), cases[i].weak);
	}
	free(info);
}

/* The subjectPublicKey bits of @key (an RSAPublicKey, an EC point, a raw EdDSA key). */
static uint8_t *key_bits_of(EVP_PKEY *key, size_t *len)
{
	X509_PUBKEY *xpk = NULL;
	const unsigned char *kp = NULL;
	uint8_t *out;
	int kl = 0;

	assert_int_equal(X509_PUBKEY_set(&xpk, key), 1);
	assert_int_equal(X509_PUBKEY_get0_param(NULL, &kp, &kl, NULL, xpk), 1);
	assert_true(kl > 0);
	out = malloc((size_t)kl);
	assert_non_null(out);
	memcpy(out, kp, (size_t)kl);
	*len = (size_t)kl;
	X509_PUBKEY_free(xpk);
	return out;
}

/*
 * Decode @bits as @key's kind of key twice: in a leaf issued by the CA (the quick decode)
 * and in one whose subject is its issuer (the full decode: its own key does not verify
 * it, so it is not self-signed either). Both must describe the key the same way; the
 * quick one is left in @info.
 */
static void decode_both(EVP_PKEY *key, const uint8_t *bits, size_t len, bool null_params,
			struct tls_cert_info *info)
{
	struct tls_cert_info *full = malloc(sizeof(*full));
	struct spec s = leaf("k.example.com", NULL, key);

	assert_non_null(full);
	s.key_bits = bits;
	s.key_bits_len = len;
	s.key_null_params = null_params;
	assert_int_equal(decode_spec(&s, info), 0);
	s.issuer = NULL;
	assert_int_equal(decode_spec(&s, full), 0);
	assert_string_equal(full->subject, full->issuer);
	assert_false(full->self_signed);
	assert_string_equal(info->key, full->key);
	assert_int_equal(info->key_kind, full->key_kind);
	assert_int_equal(info->key_bits, full->key_bits);
	assert_int_equal(info->fixed_problems, full->fixed_problems);
	free(full);
}

static void assert_unknown_key(const struct tls_cert_info *info)
{
	assert_string_equal(info->key, "unknown");
	assert_int_equal(info->key_kind, TLS_CERT_KEY_UNKNOWN);
	assert_int_equal(info->key_bits, 0);
	assert_int_equal(info->fixed_problems & TLS_CERT_WEAK_KEY, 0);
}

/*
 * A key libcrypto cannot load is "unknown" and never weak, whichever way the leaf is
 * decoded: an RSA key without its exponent used to be read as "RSA-1024" (and weak) when
 * a CA issued it, and as "unknown" when it was self-issued.
 */
static void test_malformed_keys(void **state)
{
	struct tls_cert_info *info = malloc(sizeof(*info));
	unsigned char nbuf[128];
	uint8_t rsa[140], *bits;
	size_t n, len;
	BIGNUM *mod = NULL;

	(void)state;
	assert_non_null(info);
	/* RSAPublicKey ::= SEQUENCE { modulus INTEGER } with the publicExponent left out. */
	assert_int_equal(EVP_PKEY_get_bn_param(K.rsa1024, "n", &mod), 1);
	assert_int_equal(BN_bn2binpad(mod, nbuf, sizeof(nbuf)), 128);
	assert_true(nbuf[0] & 0x80);
	n = 0;
	rsa[n++] = 0x30;
	rsa[n++] = 0x81;
	rsa[n++] = 3 + 1 + 128;
	rsa[n++] = 0x02;
	rsa[n++] = 0x81;
	rsa[n++] = 1 + 128;
	rsa[n++] = 0x00;
	memcpy(rsa + n, nbuf, 128);
	n += 128;
	decode_both(K.rsa1024, rsa, n, false, info);
	assert_unknown_key(info);
	/* The modulus declared one byte longer than the bytes there are. */
	rsa[5]++;
	rsa[2]++;
	decode_both(K.rsa1024, rsa, n, false, info);
	assert_unknown_key(info);
	BN_free(mod);

	/* The well-formed key, for contrast: described and weak either way. */
	bits = key_bits_of(K.rsa1024, &len);
	decode_both(K.rsa1024, bits, len, false, info);
	assert_string_equal(info->key, "RSA-1024");
	assert_true(info->fixed_problems & TLS_CERT_WEAK_KEY);
	free(bits);

	/* A P-256 point moved off the curve. */
	bits = key_bits_of(K.p256, &len);
	assert_int_equal(bits[0], 0x04);
	bits[len - 1] ^= 1;
	decode_both(K.p256, bits, len, false, info);
	assert_unknown_key(info);
	free(bits);

	/* Ed25519: a byte short, and with parameters RFC 8410 says must be absent. */
	bits = key_bits_of(K.ed25519, &len);
	decode_both(K.ed25519, bits, len - 1, false, info);
	assert_unknown_key(info);
	decode_both(K.ed25519, bits, len, true, info);
	assert_unknown_key(info);
	decode_both(K.ed25519, bits, len, false, info);
	assert_string_equal(info->key, "Ed25519");
	free(bits);
	free(info);
}

/* Random damage to the key's bits: both decodes always say the same. */
static void test_mutated_keys_agree(void **state)
{
	EVP_PKEY **keys[] = { &K.rsa1024, &K.p256, &K.k256, &K.ed25519 };
	struct tls_cert_info *info = malloc(sizeof(*info));
	const char *env = getenv("TLS_TEST_SEED");
	unsigned int seed = env ? (unsigned int)strtoul(env, NULL, 0) : (unsigned int)time(NULL);
	uint8_t *orig, *buf;
	size_t k, len, blen;
	int i, described = 0;

	(void)state;
	assert_non_null(info);
	print_message("key mutation seed %u (set TLS_TEST_SEED to replay)\n", seed);
	srand(seed);
	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		orig = key_bits_of(*keys[k], &len);
		buf = malloc(len + 4);
		assert_non_null(buf);
		for (i = 0; i < 150; i++) {
			memcpy(buf, orig, len);
			blen = len;
			switch (rand() % 4) {
			case 0: /* a few bytes anywhere */
				buf[(size_t)rand() % len] = (uint8_t)rand();
				buf[(size_t)rand() % len] = (uint8_t)rand();
				break;
			case 1: /* cut short */
				blen = 1 + (size_t)rand() % (len - 1);
				break;
			case 2: /* bytes after the key */
				blen = len + 1 + (size_t)rand() % 4;
				memset(buf + len, rand(), blen - len);
				break;
			default: /* the first bytes: DER headers, the EC point's form */
				buf[(size_t)rand() % 6] ^= (uint8_t)(1u << (rand() % 8));
				break;
			}
			decode_both(*keys[k], buf, blen, false, info);
			described += strcmp(info->key, "unknown") != 0;
		}
		free(buf);
		free(orig);
	}
	print_message("%d of %zu mutated keys still described\n", described, 150 * k);
	free(info);
}

static void test_weak_signatures(void **state)
{
	static const char *const dns[] = { "sig.example.com", NULL };
	struct tls_cert_info *info = malloc(sizeof(*info));
	const char *names[TLS_CERT_N_PROBLEMS];
	struct spec s = leaf("sig.example.com", dns, K.p256);
	uint32_t p;

	(void)state;
	/* OpenSSL 3.0's default provider still signs with SHA-1 and MD5 (only libssl's
	 * security level refuses them), so no fixture file is needed. */
	s.md = EVP_sha1();
	assert_int_equal(decode_spec(&s, info), 0);
	assert_string_equal(info->sig, "ecdsa-with-SHA1");
	assert_int_equal(tls_cert_judge(info, "sig.example.com", T0), TLS_CERT_SHA1_SIGNATURE);
	assert_false(tls_cert_verify_problem(TLS_CERT_SHA1_SIGNATURE));

	s = (struct spec){ .cn = "sig.example.com", .dns = dns, .key = K.rsa2048, .md = EVP_sha1() };
	assert_int_equal(decode_spec(&s, info), 0);
	assert_string_equal(info->sig, "sha1WithRSAEncryption");
	p = tls_cert_judge(info, "sig.example.com", T0);
	assert_int_equal(p, TLS_CERT_SELF_SIGNED | TLS_CERT_SHA1_SIGNATURE);
	assert_int_equal(tls_cert_problem_names(p, names), 2);
	assert_string_equal(names[0], "self_signed");
	assert_string_equal(names[1], "sha1_signature");

	s.md = EVP_md5();
	assert_int_equal(decode_spec(&s, info), 0);
	assert_string_equal(info->sig, "md5WithRSAEncryption");
	assert_int_equal(info->fixed_problems, TLS_CERT_SELF_SIGNED | TLS_CERT_MD5_SIGNATURE);

	/* RSA-PSS names its hash in the parameters, not in the OID. */
	s = (struct spec){ .cn = "sig.example.com", .dns = dns, .key = K.pss1024, .md = EVP_sha1() };
	assert_int_equal(decode_spec(&s, info), 0);
	assert_string_equal(info->sig, "rsassaPss");
	assert_int_equal(info->fixed_problems,
			 TLS_CERT_SELF_SIGNED | TLS_CERT_WEAK_KEY | TLS_CERT_SHA1_SIGNATURE);
	free(info);
}

static void hex_of_digest(X509 *x, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
	assert_int_equal(n, 32);
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[64] = '\0';
}

static void test_fingerprint(void **state)
{
	static const char *const dns[] = { "fp.example.com", NULL };
	struct tls_cert_info *info = malloc(sizeof(*info));
	struct spec s = leaf("fp.example.com", dns, K.p256);
	char want[65], path[] = "/tmp/test_tls_cert.XXXXXX", cmd[256], line[256], cli[65];
	X509 *x = make_cert(&s);
	uint8_t *der;
	size_t len, i, n = 0;
	FILE *f;
	int fd;

	(void)state;
	der = der_of(x, &len);
	assert_int_equal(tls_cert_decode(der, len, info), 0);
	/* X509_digest is what `openssl x509 -fingerprint -sha256` prints. */
	hex_of_digest(x, want);
	assert_string_equal(info->sha256_hex, want);

	/* And the command itself, where it is installed: its form, lowercased, no colons. */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, der, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "openssl x509 -inform DER -noout -fingerprint -sha256 -in %s 2>/dev/null", path);
	f = popen(cmd, "r");
	if (f && fgets(line, sizeof(line), f) && strchr(line, '=')) {
		for (i = (size_t)(strchr(line, '=') - line) + 1; line[i] && n < 64; i++) {
			if (line[i] == ':' || line[i] == '\n')
				continue;
			cli[n++] = (char)(line[i] >= 'A' && line[i] <= 'F' ? line[i] - 'A' + 'a' : line[i]);
		}
		cli[n] = '\0';
		assert_string_equal(info->sha256_hex, cli);
	} else {
		print_message("openssl command not available: X509_digest comparison only\n");
	}
	if (f)
		pclose(f);
	unlink(path);
	free(der);
	X509_free(x);
	free(info);
}

/* ---- names ---- */

static X509 *unsigned_with_san(const char *pattern)
{
	X509 *x = X509_new();
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();

	assert_non_null(x);
	assert_non_null(gens);
	add_gen(gens, GEN_DNS, ia5(pattern, strlen(pattern)));
	assert_int_equal(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT), 1);
	GENERAL_NAMES_free(gens);
	return x;
}

static void test_wildcards(void **state)
{
	/* oracle: compare with OpenSSL's X509_check_host (no partial wildcards) as well. */
	static const struct {
		const char *pattern, *host;
		bool match, oracle;
	} rows[] = {
		{ "*.example.com", "a.example.com", true, true },
		{ "*.example.com", "A.EXAMPLE.COM", true, true },
		{ "*.EXAMPLE.com", "www.example.COM", true, true },
		{ "*.example.com", "a-b.example.com", true, true },
		{ "*.example.com", "a.b.example.com", false, true },
		{ "*.example.com", "example.com", false, true },
		/* OpenSSL reads a leading dot in the reference as "any subdomain of": no oracle. */
		{ "*.example.com", ".example.com", false, false },
		{ "*.example.com", "a_b.example.com", false, true },
		/* A '*' in the SNI is no host name; OpenSSL compares such a pair literally. */
		{ "*.example.com", "*.example.com", false, false },
		{ "*.example.com", "a.example.org", false, true },
		{ "*.example.com", "a.example.com.evil", false, true },
		{ "*.com", "example.com", false, true },
		{ "*.com", "com", false, true },
		{ "*", "localhost", false, true },
		{ "*.co.uk", "example.co.uk", true, true },
		{ "f*.example.com", "foo.example.com", false, true },
		{ "*o.example.com", "foo.example.com", false, true },
		{ "f*o.example.com", "foo.example.com", false, true },
		{ "a.*.example.com", "a.b.example.com", false, true },
		{ "*.*.example.com", "a.b.example.com", false, true },
		{ "www.*.com", "www.example.com", false, true },
		/* IDNA: a whole-label '*' covers an A-label (RFC 6125 6.4.3 item 3 is about
		 * a wildcard inside an A-label of the certificate, which never matches). */
		{ "*.example.com", "xn--bcher-kva.example.com", true, true },
		{ "xn--*.example.com", "xn--bcher-kva.example.com", false, true },
		{ "xn--bcher*.example.com", "xn--bcher-kva.example.com", false, true },
		{ "xn--bcher-kva.example.com", "XN--BCHER-KVA.EXAMPLE.COM", true, true },
		{ "*.xn--mgbh0fb.xn--kgbechtv", "a.xn--mgbh0fb.xn--kgbechtv", true, true },
		{ "www.example.com", "www.example.com", true, true },
		{ "www.example.com", "WWW.Example.Com", true, true },
		{ "www.example.com", "www.example.co", false, true },
		{ "www.example.com", "ww.example.com", false, true },
		/* One trailing dot on either side is ignored (the SNI should have none). */
		{ "www.example.com", "www.example.com.", true, false },
		{ "www.example.com.", "www.example.com", true, false },
		{ "*.example.com", "a.example.com.", true, false },
		{ "www.example.com", "www.example.com..", false, false },
		{ "", "a", false, false },
		{ "a", "", false, false },
		{ ".", ".", false, false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		bool got = tls_cert_dns_match(rows[i].pattern, strlen(rows[i].pattern),
					      rows[i].host, strlen(rows[i].host));

		if (got != rows[i].match)
			fail_msg("%s vs %s: got %d", rows[i].pattern, rows[i].host, got);
		if (rows[i].oracle) {
			X509 *x = unsigned_with_san(rows[i].pattern);
			int ossl = X509_check_host(x, rows[i].host, strlen(rows[i].host),
						   X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);

			if ((ossl == 1) != got)
				fail_msg("%s vs %s: OpenSSL says %d, we say %d", rows[i].pattern,
					 rows[i].host, ossl, got);
			X509_free(x);
		}
	}
}

static void test_name_check(void **state)
{
	static const char *const dns[] = { "www.example.com", "*.example.net", NULL };
	static const char *const ips[] = { "192.0.2.1", "2001:db8::1", NULL };
	struct tls_cert_info *info = malloc(sizeof(*info));
	struct spec s = leaf("cn.example.org", dns, K.p256);

	(void)state;
	/* DNS SANs present: the CN is not consulted. */
	assert_int_equal(decode_spec(&s, info), 0);
	assert_string_equal(info->subject, "cn.example.org");
	assert_int_equal(tls_cert_check_name(info, "www.example.com"), TLS_CERT_SNI_OK);
	assert_int_equal(tls_cert_check_name(info, "x.example.net"), TLS_CERT_SNI_OK);
	assert_int_equal(tls_cert_check_name(info, "cn.example.org"), TLS_CERT_SNI_MISMATCH);
	assert_int_equal(tls_cert_check_name(info, "example.net"), TLS_CERT_SNI_MISMATCH);
	assert_int_equal(tls_cert_check_name(info, "192.0.2.1"), TLS_CERT_SNI_MISMATCH);
	/* No SNI: no judgement. */
	assert_int_equal(tls_cert_check_name(info, NULL), TLS_CERT_SNI_UNJUDGED);
	assert_int_equal(tls_cert_check_name(info, ""), TLS_CERT_SNI_UNJUDGED);
	assert_int_equal(tls_cert_judge(info, NULL, T0), 0);
	assert_int_equal(tls_cert_judge(info, "other.example.com", T0), TLS_CERT_NAME_MISMATCH);
	assert_true(tls_cert_verify_problem(TLS_CERT_NAME_MISMATCH));

	/* IP SANs only, and a CN: literal SNIs check the IP SANs, host names the CN. */
	s = leaf("host.example.com", NULL, K.p256);
	s.ips = ips;
	assert_int_equal(decode_spec(&s, info), 0);
	assert_int_equal(info->san_ip_total, 2);
	assert_int_equal(tls_cert_check_name(info, "192.0.2.1"), TLS_CERT_SNI_OK);
	assert_int_equal(tls_cert_check_name(info, "2001:db8::1"), TLS_CERT_SNI_OK);
	assert_int_equal(tls_cert_check_name(info, "2001:DB8:0:0::1"), TLS_CERT_SNI_OK);
	assert_int_equal(tls_cert_check_name(info, "192.0.2.2"), TLS_CERT_SNI_MISMATCH);
	assert_int_equal(tls_cert_check_name(info, "2001:db8::2"), TLS_CERT_SNI_MISMATCH);
	assert_int_equal(tls_cert_check_name(info, "::ffff:192.0.2.1"), TLS_CERT_SNI_MISMATCH);
	assert_int_equal(tls_cert_check_name(info, "host.example.com"), TLS_CERT_SNI_OK);
	assert_int_equal(tls_cert_check_name(info, "other.example.com"), TLS_CERT_SNI_MISMATCH);

	/* CN only, with a wildcard. */
	s = leaf("*.example.com", NULL, K.p256);
	assert_int_equal(decode_spec(&s, info), 0);
	assert_int_equal(tls_cert_check_name(info, "a.example.com"), TLS_CERT_SNI_OK);
	assert_int_equal(tls_cert_check_name(info, "example.com"), TLS_CERT_SNI_MISMATCH);
	/* An IP literal never checks the CN (as X509_check_ip). */
	s = leaf("192.0.2.7", NULL, K.p256);
	assert_int_equal(decode_spec(&s, info), 0);
	assert_int_equal(tls_cert_check_name(info, "192.0.2.7"), TLS_CERT_SNI_MISMATCH);
	/* Several CNs: any may match; the last is what is shown. */
	{
		X509 *x = make_cert(&(struct spec){ .cn = "first.example.com", .key = K.p256 });
		uint8_t *der;
		size_t len;

		assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
							    MBSTRING_ASC,
							    (const unsigned char *)"last.example.com",
							    -1, -1, 0),
				 1);
		assert_true(X509_sign(x, K.ca_key, EVP_sha256()) > 0);
		der = der_of(x, &len);
		assert_int_equal(tls_cert_decode(der, len, info), 0);
		assert_string_equal(info->subject, "last.example.com");
		assert_int_equal(tls_cert_check_name(info, "first.example.com"), TLS_CERT_SNI_OK);
		assert_int_equal(tls_cert_check_name(info, "last.example.com"), TLS_CERT_SNI_OK);
		free(der);
		X509_free(x);
	}
	/* No CN: the subject shown is the first DNS SAN. */
	s = leaf(NULL, dns, K.p256);
	assert_int_equal(decode_spec(&s, info), 0);
	assert_string_equal(info->subject, "www.example.com");
	free(info);
}

static void test_hostile_names(void **state)
{
	static const char nul_san[] = "good.example.com\0.evil.example";
	static const char *const dns[] = { "ok.example.com", "bad name.example.com",
					   "caf\xc3\xa9.example.com", NULL };
	struct tls_cert_info *info = malloc(sizeof(*info));
	struct spec s = leaf("x", NULL, K.p256);

	(void)state;
	/* A NUL inside a SAN: never a match, for either half. */
	s.raw_dns = nul_san;
	s.raw_len = sizeof(nul_san) - 1;
	s.cn = "good.example.com";
	assert_int_equal(decode_spec(&s, info), 0);
	assert_int_equal(info->san_dns_total, 1);
	assert_int_equal(info->names_unusable, 1);
	assert_int_equal(tls_cert_check_name(info, "good.example.com"), TLS_CERT_SNI_MISMATCH);
	assert_int_equal(tls_cert_check_name(info, ".evil.example"), TLS_CERT_SNI_MISMATCH);

	/* Spaces and non-ASCII bytes: not kept, counted. */
	s = leaf("c", dns, K.p256);
	assert_int_equal(decode_spec(&s, info), 0);
	assert_int_equal(info->san_dns_total, 3);
	assert_int_equal(info->names_unusable, 2); /* the CN "c" is fine, two SANs are not */
	assert_int_equal(tls_cert_check_name(info, "ok.example.com"), TLS_CERT_SNI_OK);
	assert_int_equal(tls_cert_check_name(info, "bad name.example.com"), TLS_CERT_SNI_MISMATCH);

	/* Two subjectAltName extensions: the names are unknown, so no verdict. */
	s = leaf("d.example.com", dns, K.p256);
	s.dup_san = true;
	assert_int_equal(decode_spec(&s, info), 0);
	assert_true(info->san_invalid);
	assert_int_equal(tls_cert_check_name(info, "elsewhere.example.com"), TLS_CERT_SNI_UNJUDGED);

	/* Control bytes in a CN are shown as '?'. */
	s = leaf("a\001b\177c", NULL, K.p256);
	assert_int_equal(decode_spec(&s, info), 0);
	assert_string_equal(info->subject, "a?b?c");
	free(info);
}

static void test_huge_san_list(void **state)
{
	struct tls_cert_info *info = malloc(sizeof(*info));
	enum { N = 2000, N_BIG = 4000, N_TINY = 21000 };
	char (*names)[32] = malloc(sizeof(*names) * N_BIG);
	const char **list = calloc(N_BIG + 1, sizeof(*list));
	struct spec s;
	struct timespec a, b;
	size_t i;

	(void)state;
	for (i = 0; i < N_BIG; i++) {
		snprintf(names[i], sizeof(names[i]), "h%04zu.example.com", i);
		list[i] = names[i];
	}
	list[N] = NULL;
	s = leaf("many.example.com", list, K.p256);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(decode_spec(&s, info), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	print_message("%d SANs: build and decode %.1f ms\n", N,
		      (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
	assert_int_equal(info->san_dns_total, N);
	assert_int_equal(info->n_names, TLS_CERT_NAMES_MAX);
	assert_int_equal(info->names_over_cap, N - TLS_CERT_NAMES_MAX + 1); /* + the CN */
	assert_int_equal(tls_cert_check_name(info, "h0005.example.com"), TLS_CERT_SNI_OK);
	assert_int_equal(tls_cert_check_name(info, "h0255.example.com"), TLS_CERT_SNI_OK);
	/* Dropped names may match: no verdict rather than a false mismatch. */
	assert_int_equal(tls_cert_check_name(info, "h1999.example.com"), TLS_CERT_SNI_UNJUDGED);
	assert_int_equal(tls_cert_check_name(info, "nowhere.example.org"), TLS_CERT_SNI_UNJUDGED);
	assert_int_equal(tls_cert_judge(info, "nowhere.example.org", T0), 0);

	/* The most names 64 KiB can hold: one-letter SANs, 3 bytes each. */
	{
		const char **tiny = calloc(N_TINY + 1, sizeof(*tiny));
		X509 *x;
		uint8_t *der;
		size_t len;

		for (i = 0; i < N_TINY; i++)
			tiny[i] = "x";
		s = leaf(NULL, tiny, K.p256);
		x = make_cert(&s);
		der = der_of(x, &len);
		assert_true(len <= TLS_CERT_DER_MAX);
		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_int_equal(tls_cert_decode(der, len, info), 0);
		clock_gettime(CLOCK_MONOTONIC, &b);
		print_message("%d one-letter SANs (%zu bytes): decode %.1f ms\n", N_TINY, len,
			      (double)(b.tv_sec - a.tv_sec) * 1e3 +
				      (double)(b.tv_nsec - a.tv_nsec) / 1e6);
		assert_int_equal(info->san_dns_total, N_TINY);
		assert_int_equal(info->n_names, TLS_CERT_NAMES_MAX);
		free(der);
		X509_free(x);
		free(tiny);
	}
	for (i = 0; i < N_BIG; i++)
		list[i] = names[i];

	/* Over TLS_CERT_DER_MAX: refused before libcrypto sees it. */
	list[N] = names[N];
	s = leaf("many.example.com", list, K.p256);
	assert_int_equal(decode_spec(&s, info), -EMSGSIZE);
	free(list);
	free(names);
	free(info);
}

static void check_invariants(const struct tls_cert_info *info)
{
	unsigned int i;

	assert_non_null(memchr(info->subject, 0, sizeof(info->subject)));
	assert_non_null(memchr(info->issuer, 0, sizeof(info->issuer)));
	assert_non_null(memchr(info->key, 0, sizeof(info->key)));
	assert_non_null(memchr(info->sig, 0, sizeof(info->sig)));
	assert_int_equal(strlen(info->sha256_hex), 64);
	assert_true(info->n_names <= TLS_CERT_NAMES_MAX);
	for (i = 0; i < info->n_names; i++) {
		const struct tls_cert_name *nm = &info->names[i];

		assert_true((size_t)nm->off + nm->len < sizeof(info->pool) + 1);
		if (nm->type != TLS_CERT_NAME_IP)
			assert_int_equal(strlen(info->pool + nm->off), nm->len);
		else
			assert_true(nm->len == 4 || nm->len == 16);
	}
}

static void test_hostile_der(void **state)
{
	static const char *const dns[] = { "m.example.com", "*.m.example.com", NULL };
	static const char *const ips[] = { "198.51.100.9", NULL };
	struct tls_cert_info *info = malloc(sizeof(*info));
	struct spec s = { .cn = "m.example.com", .dns = dns, .ips = ips, .key = K.p256 };
	X509 *x = make_cert(&s);
	const char *env = getenv("TLS_TEST_SEED");
	unsigned int seed = env ? (unsigned int)strtoul(env, NULL, 0) : (unsigned int)time(NULL);
	uint8_t *der, *buf, *m;
	size_t len, k, mlen;
	struct tls_cert_chain ch;
	int i, ok = 0;

	(void)state;
	der = der_of(x, &len);
	assert_int_equal(tls_cert_decode(der, len, info), 0);
	check_invariants(info);
	assert_int_equal(tls_cert_decode(der, 0, info), -EINVAL);
	assert_int_equal(tls_cert_decode(NULL, 10, info), -EINVAL);
	/* Every proper prefix, each in a buffer of exactly that size. */
	for (k = 1; k < len; k++) {
		buf = malloc(k);
		memcpy(buf, der, k);
		assert_int_equal(tls_cert_decode(buf, k, info), -EBADMSG);
		/* The key survives the failure, so a cache can remember it. */
		assert_int_equal(strlen(info->sha256_hex), 64);
		assert_int_equal(info->subject[0], '\0');
		free(buf);
	}
	/* A byte after the certificate, inside its length. */
	buf = malloc(len + 1);
	memcpy(buf, der, len);
	buf[len] = 0;
	assert_int_equal(tls_cert_decode(buf, len + 1, info), -EBADMSG);
	free(buf);

	print_message("mutation seed %u (set TLS_TEST_SEED to replay)\n", seed);
	srand(seed);
	buf = malloc(len);
	for (i = 0; i < 3000; i++) {
		int flips = 1 + rand() % 4, f;

		memcpy(buf, der, len);
		for (f = 0; f < flips; f++)
			buf[(size_t)rand() % len] = (uint8_t)rand();
		if (tls_cert_decode(buf, len, info) == 0) {
			ok++;
			check_invariants(info);
			tls_cert_judge(info, "m.example.com", T0);
			tls_cert_judge(info, "198.51.100.9", T0);
		}
		/* The same bytes inside a Certificate message, with a lying length. */
		m = cert_msg(&buf, &len, 1, &mlen);
		m[3 + (size_t)rand() % 3] ^= (uint8_t)(1u << (rand() % 8));
		if (tls_cert_msg_leaf(m, mlen, &ch) == TLS_OK)
			assert_true(ch.leaf_len <= mlen - 6);
		free(m);
	}
	print_message("%d of 3000 mutants still decoded\n", ok);
	/* Pure garbage. */
	for (i = 0; i < 2000; i++) {
		for (k = 0; k < len; k++)
			buf[k] = (uint8_t)rand();
		/* Mostly a SEQUENCE header, so the decoder gets past byte one. */
		if (i % 2)
			buf[0] = 0x30;
		assert_int_not_equal(tls_cert_decode(buf, (size_t)rand() % len + 1, info), 0);
	}
	free(buf);
	free(der);
	X509_free(x);
	free(info);
}

/* ---- problems and the cache ---- */

static void test_problem_names(void **state)
{
	const char *names[TLS_CERT_N_PROBLEMS];
	static const char *const order[] = { "expired",	      "not_yet_valid", "self_signed",
					     "name_mismatch", "weak_key",      "sha1_signature",
					     "md5_signature" };
	size_t i;

	(void)state;
	assert_int_equal(tls_cert_problem_names(0, names), 0);
	assert_int_equal(tls_cert_problem_names(0x7f, names), TLS_CERT_N_PROBLEMS);
	for (i = 0; i < TLS_CERT_N_PROBLEMS; i++) {
		assert_string_equal(names[i], order[i]);
		assert_string_equal(tls_cert_problem_name(1u << i), order[i]);
	}
	assert_null(tls_cert_problem_name(0));
	assert_null(tls_cert_problem_name(3));
	assert_null(tls_cert_problem_name(1u << TLS_CERT_N_PROBLEMS));
	/* Bits beyond the known ones are ignored. */
	assert_int_equal(tls_cert_problem_names(0xffffff80u | TLS_CERT_WEAK_KEY, names), 1);
	assert_string_equal(names[0], "weak_key");
	assert_true(tls_cert_verify_problem(TLS_CERT_EXPIRED | TLS_CERT_WEAK_KEY));
	assert_true(tls_cert_verify_problem(TLS_CERT_NOT_YET_VALID));
	assert_true(tls_cert_verify_problem(TLS_CERT_SELF_SIGNED));
	assert_true(tls_cert_verify_problem(TLS_CERT_NAME_MISMATCH));
	assert_false(tls_cert_verify_problem(TLS_CERT_WEAK_KEY | TLS_CERT_SHA1_SIGNATURE |
					     TLS_CERT_MD5_SIGNATURE));
}

/* The lookup by fingerprint the flow table uses for the record: no DER, no hashing. */
static void test_cache_find(void **state)
{
	static const char *const dns[] = { "f.example.com", NULL };
	struct tls_cert_cache *c = tls_cert_cache_new(4);
	struct tls_cert_cache_stats st;
	const struct tls_cert_info *info, *found;
	uint8_t *der[5], garbage[64], md[32];
	size_t len[5], i;
	X509 *x;

	(void)state;
	assert_non_null(c);
	for (i = 0; i < 5; i++) {
		struct spec s = leaf("f.example.com", dns, K.p256);

		x = make_cert(&s);
		der[i] = der_of(x, &len[i]);
		X509_free(x);
	}
	assert_int_equal(tls_cert_cache_get(c, der[0], len[0], &info), 0);
	memcpy(md, info->sha256, sizeof(md));
	assert_int_equal(tls_cert_cache_find(c, md, &found), 0);
	assert_ptr_equal(found, info);
	tls_cert_cache_stats(c, &st);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.hits, 1);
	/* Not cached: nothing, and not a miss (nothing was decoded). */
	assert_int_equal(tls_cert_sha256(der[1], len[1], md), 0);
	assert_int_equal(tls_cert_cache_find(c, md, &found), -ENOENT);
	assert_null(found);
	/* A failed decode is found as the failure it was. */
	memset(garbage, 0x30, sizeof(garbage));
	assert_int_equal(tls_cert_cache_get(c, garbage, sizeof(garbage), &info), -EBADMSG);
	assert_int_equal(tls_cert_sha256(garbage, sizeof(garbage), md), 0);
	assert_int_equal(tls_cert_cache_find(c, md, &found), -EBADMSG);
	assert_null(found);
	/* A find refreshes the entry: after four more, the one found last survives. */
	assert_int_equal(tls_cert_sha256(der[0], len[0], md), 0);
	for (i = 1; i < 4; i++) {
		assert_int_equal(tls_cert_cache_find(c, md, &found), 0);
		assert_int_equal(tls_cert_cache_get(c, der[i], len[i], &info), 0);
	}
	assert_int_equal(tls_cert_cache_find(c, md, &found), 0);
	assert_int_equal(tls_cert_cache_get(c, der[4], len[4], &info), 0);
	assert_int_equal(tls_cert_cache_find(c, md, &found), 0);
	for (i = 0; i < 5; i++)
		free(der[i]);
	tls_cert_cache_free(c);
}

static void test_cache(void **state)
{
	static const char *const dns[] = { "c.example.com", NULL };
	struct tls_cert_cache *c;
	struct tls_cert_cache_stats st;
	const struct tls_cert_info *info;
	uint8_t *der[6], garbage[64];
	size_t len[6], i;
	X509 *x;
	int h;

	(void)state;
	for (i = 0; i < 6; i++) {
		struct spec s = leaf("c.example.com", dns, K.p256);

		x = make_cert(&s); /* a new serial each time: six distinct certificates */
		der[i] = der_of(x, &len[i]);
		X509_free(x);
	}
	errno = 0;
	assert_null(tls_cert_cache_new(1u << 20));
	assert_int_equal(errno, EINVAL);
	c = tls_cert_cache_new(0);
	assert_non_null(c);
	/* 1000 handshakes over three certificates: three decodes. */
	for (h = 0; h < 1000; h++) {
		i = (size_t)h % 3;
		assert_int_equal(tls_cert_cache_get(c, der[i], len[i], &info), 0);
		assert_string_equal(info->subject, "c.example.com");
		assert_int_equal(tls_cert_judge(info, "c.example.com", T0), 0);
		assert_int_equal(tls_cert_judge(info, "d.example.com", T0), TLS_CERT_NAME_MISMATCH);
	}
	tls_cert_cache_stats(c, &st);
	assert_int_equal(st.misses, 3);
	assert_int_equal(st.hits, 997);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.evictions, 0);
	/* Garbage is remembered too: decoded (and failed) once. */
	memset(garbage, 0x30, sizeof(garbage));
	assert_int_equal(tls_cert_cache_get(c, garbage, sizeof(garbage), &info), -EBADMSG);
	assert_null(info);
	assert_int_equal(tls_cert_cache_get(c, garbage, sizeof(garbage), &info), -EBADMSG);
	assert_null(info);
	assert_int_equal(tls_cert_cache_get(c, garbage, 0, &info), -EINVAL);
	tls_cert_cache_stats(c, &st);
	assert_int_equal(st.misses, 5);
	assert_int_equal(st.hits, 998);
	assert_int_equal(st.failures, 2);
	tls_cert_cache_free(c);

	/* Four entries are one set: the fifth certificate evicts the least recently used. */
	c = tls_cert_cache_new(4);
	assert_non_null(c);
	for (i = 0; i < 4; i++)
		assert_int_equal(tls_cert_cache_get(c, der[i], len[i], &info), 0);
	assert_int_equal(tls_cert_cache_get(c, der[0], len[0], &info), 0); /* 0 is fresh now */
	assert_int_equal(tls_cert_cache_get(c, der[4], len[4], &info), 0); /* evicts 1 */
	tls_cert_cache_stats(c, &st);
	assert_int_equal(st.misses, 5);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(tls_cert_cache_get(c, der[0], len[0], &info), 0);
	assert_int_equal(tls_cert_cache_get(c, der[2], len[2], &info), 0);
	assert_int_equal(tls_cert_cache_get(c, der[3], len[3], &info), 0);
	tls_cert_cache_stats(c, &st);
	assert_int_equal(st.hits, 4);
	assert_int_equal(tls_cert_cache_get(c, der[1], len[1], &info), 0); /* decoded again */
	tls_cert_cache_stats(c, &st);
	assert_int_equal(st.misses, 6);
	assert_int_equal(st.evictions, 2);
	/* The pointer is to the entry that now holds der[1]. */
	{
		uint8_t md[32];

		assert_int_equal(tls_cert_sha256(der[1], len[1], md), 0);
		assert_memory_equal(info->sha256, md, 32);
	}
	tls_cert_cache_free(c);
	tls_cert_cache_free(NULL);
	for (i = 0; i < 6; i++)
		free(der[i]);
}

/*
 * A repeated leaf is recognised by its bytes, not hashed again; the entry a slot held
 * before must never answer for what it holds now, whatever the lengths (a leaf over
 * the copied size takes the SHA-256 path every time).
 */
static void test_cache_der_copy(void **state)
{
	static const char *const dns[] = { "k.example.com", NULL };
	struct tls_cert_cache *c = tls_cert_cache_new(4);
	struct tls_cert_cache_stats st;
	const struct tls_cert_info *info;
	static uint8_t big[4][5000];
	uint8_t *der, md[32];
	size_t len, i;
	X509 *x;

	(void)state;
	assert_non_null(c);
	{
		struct spec s = leaf("k.example.com", dns, K.p256);

		x = make_cert(&s);
		der = der_of(x, &len);
		X509_free(x);
	}
	assert_int_equal(tls_cert_sha256(der, len, md), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(tls_cert_cache_get(c, der, len, &info), 0);
		assert_memory_equal(info->sha256, md, 32);
	}
	tls_cert_cache_stats(c, &st);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.hits, 2);
	/* Four long garbage leaves fill the one set: the short leaf is evicted. */
	for (i = 0; i < 4; i++) {
		memset(big[i], 0x30, sizeof(big[i]));
		big[i][sizeof(big[i]) - 1] = (uint8_t)i;
		assert_int_equal(tls_cert_cache_get(c, big[i], sizeof(big[i]), &info),
				 -EBADMSG);
		assert_int_equal(tls_cert_cache_get(c, big[i], sizeof(big[i]), &info),
				 -EBADMSG);
	}
	tls_cert_cache_stats(c, &st);
	assert_int_equal(st.misses, 5);
	assert_int_equal(st.hits, 6);
	/* Decoded again, not mistaken for the long leaf now in its slot. */
	assert_int_equal(tls_cert_cache_get(c, der, len, &info), 0);
	assert_memory_equal(info->sha256, md, 32);
	tls_cert_cache_stats(c, &st);
	assert_int_equal(st.misses, 6);
	/* A leaf that differs in its last byte only is another certificate. */
	der[len - 1] ^= 1;
	assert_int_equal(tls_cert_sha256(der, len, md), 0);
	(void)tls_cert_cache_get(c, der, len, &info);
	tls_cert_cache_stats(c, &st);
	assert_int_equal(st.misses, 7);
	if (info)
		assert_memory_equal(info->sha256, md, 32);
	free(der);
	tls_cert_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msg_chain),	cmocka_unit_test(test_msg_edges),
		cmocka_unit_test(test_self_signed_rsa), cmocka_unit_test(test_leaf_from_ca),
		cmocka_unit_test(test_validity),	cmocka_unit_test(test_far_times),
		cmocka_unit_test(test_keys),		cmocka_unit_test(test_malformed_keys),
		cmocka_unit_test(test_mutated_keys_agree), cmocka_unit_test(test_weak_signatures),
		cmocka_unit_test(test_fingerprint),	cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_name_check),	cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_huge_san_list),	cmocka_unit_test(test_hostile_der),
		cmocka_unit_test(test_problem_names),	cmocka_unit_test(test_cache),
		cmocka_unit_test(test_cache_find),	cmocka_unit_test(test_cache_der_copy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

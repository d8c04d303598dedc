// SPDX-License-Identifier: GPL-2.0-only
/*
 * Built-in policy profiles, each encoding only what its published source says; a rule
 * the source does not state is not checked. docs/policies.md gives every source with
 * its section and date, and tests/unit/test_policy.c checks the suite lists by name
 * against independent copies of the published lists.
 */
#include <stddef.h>

#include "tlsaudit/record.h"
#include "policy_int.h"

#define CODES(a) { (a), sizeof(a) / sizeof((a)[0]) }

/* A checked rule that allows nothing ("ciphers": [] in Mozilla's Modern). */
static const uint16_t nothing[1];
#define NOTHING { nothing, 0 }

/* Mozilla server-side TLS guidelines 6.0 (2026-04-06), "intermediate" ciphers.iana. */
static const uint16_t moz60_inter_suites[] = {
	0xc02b, /* TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 */
	0xc02f, /* TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 */
	0xc02c, /* TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 */
	0xc030, /* TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 */
	0xcca9, /* TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 */
	0xcca8, /* TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 */
};

/* Guidelines 5.7 (2023-05-15): the same plus three DHE-RSA suites, removed in 5.8. */
static const uint16_t moz57_inter_suites[] = {
	0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
	0x009f, /* TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 */
	0x009e, /* TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 */
	0xccaa, /* TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256 */
};

/* "ciphersuites", the same in every Mozilla level and version since 5.0. */
static const uint16_t moz_tls13_suites[] = {
	0x1301, /* TLS_AES_128_GCM_SHA256 */
	0x1302, /* TLS_AES_256_GCM_SHA384 */
	0x1303, /* TLS_CHACHA20_POLY1305_SHA256 */
};

/* "tls_curves" 6.0: X25519MLKEM768, X25519, prime256v1, secp384r1. */
static const uint16_t moz60_groups[] = { 0x11ec, 0x001d, 0x0017, 0x0018 };
/* "tls_curves" 5.7: X25519, prime256v1, secp384r1. */
static const uint16_t moz57_groups[] = { 0x001d, 0x0017, 0x0018 };

/* "certificate_signatures" of intermediate; modern lists the ECDSA ones only. */
static const char *const moz_inter_sigs[] = {
	"sha256WithRSAEncryption", "ecdsa-with-SHA256", "ecdsa-with-SHA384",
	"ecdsa-with-SHA512",	   NULL,
};
static const char *const moz_modern_sigs[] = {
	"ecdsa-with-SHA256",
	"ecdsa-with-SHA384",
	"ecdsa-with-SHA512",
	NULL,
};

/* "certificate_types" ecdsa (+ rsa) with "certificate_curves" prime256v1, secp384r1. */
#define MOZ_EC_KEYS (POLICY_BIT(TLS_OFFER_KEY_EC_P256) | POLICY_BIT(TLS_OFFER_KEY_EC_P384))
#define MOZ_INTER_KEYS (MOZ_EC_KEYS | POLICY_BIT(TLS_OFFER_KEY_RSA))

/* NIST SP 800-52 Rev. 2 (August 2019), section 3.3.1.1. */
static const uint16_t nist_suites12[] = {
	/* 3.3.1.1.1 Cipher Suites for ECDSA Certificates (TLS 1.2) */
	0xc02b, /* TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 */
	0xc02c, /* TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 */
	0xc0ac, /* TLS_ECDHE_ECDSA_WITH_AES_128_CCM */
	0xc0ad, /* TLS_ECDHE_ECDSA_WITH_AES_256_CCM */
	0xc0ae, /* TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8 */
	0xc0af, /* TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8 */
	0xc023, /* TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256 */
	0xc024, /* TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384 */
	/* ... and with TLS 1.2, 1.1 or 1.0 */
	0xc009, /* TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA */
	0xc00a, /* TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA */
	/* 3.3.1.1.2 Cipher Suites for RSA Certificates (TLS 1.2) */
	0xc02f, /* TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 */
	0xc030, /* TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 */
	0x009e, /* TLS_DHE_RSA_WITH_AES_128_GCM_SHA256 */
	0x009f, /* TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 */
	0xc09e, /* TLS_DHE_RSA_WITH_AES_128_CCM */
	0xc09f, /* TLS_DHE_RSA_WITH_AES_256_CCM */
	0xc0a2, /* TLS_DHE_RSA_WITH_AES_128_CCM_8 */
	0xc0a3, /* TLS_DHE_RSA_WITH_AES_256_CCM_8 */
	0xc027, /* TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 */
	0xc028, /* TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 */
	0x0067, /* TLS_DHE_RSA_WITH_AES_128_CBC_SHA256 */
	0x006b, /* TLS_DHE_RSA_WITH_AES_256_CBC_SHA256 */
	/* ... and with TLS 1.2, 1.1 or 1.0 */
	0xc013, /* TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA */
	0xc014, /* TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA */
	0x0033, /* TLS_DHE_RSA_WITH_AES_128_CBC_SHA */
	0x0039, /* TLS_DHE_RSA_WITH_AES_256_CBC_SHA */
};

/* 3.3.1.2 Cipher Suites for TLS 1.3 */
static const uint16_t nist_suites13[] = {
	0x1301, /* TLS_AES_128_GCM_SHA256 */
	0x1302, /* TLS_AES_256_GCM_SHA384 */
	0x1304, /* TLS_AES_128_CCM_SHA256 */
	0x1305, /* TLS_AES_128_CCM_8_SHA256 */
};

/* IANA TLS Supported Groups: the hybrid ECDHE-MLKEM groups (draft-ietf-tls-ecdhe-mlkem). */
static const uint16_t pq_hybrid_groups[] = {
	0x11ec, /* X25519MLKEM768 */
	0x11eb, /* SecP256r1MLKEM768 */
	0x11ed, /* SecP384r1MLKEM1024 */
};

#define HASH_SHA1_MD5 (POLICY_BIT(TLS_SIG_HASH_SHA1) | POLICY_BIT(TLS_SIG_HASH_MD5))

static const struct policy_spec builtins[] = {
	{
		/* Mailgun 2021-03-08, SparkPost September 2020, browsers March 2020. */
		.name = "tls12",
		.min_version = TLS_V_12,
	},
	{
		/* RFC 8446; the version floor of Mozilla's Modern level. */
		.name = "tls13",
		.min_version = TLS_V_13,
	},
	{
		.name = "mozilla-intermediate",
		.min_version = TLS_V_12,
		.suites12 = CODES(moz60_inter_suites),
		.suites13 = CODES(moz_tls13_suites),
		.groups = CODES(moz60_groups),
		.min_rsa_bits = 2048,
		.cert_keys = MOZ_INTER_KEYS,
		.cert_sigs = moz_inter_sigs,
	},
	{
		.name = "mozilla-modern",
		.min_version = TLS_V_13,
		.suites12 = NOTHING,
		.suites13 = CODES(moz_tls13_suites),
		.groups = CODES(moz60_groups),
		.cert_keys = MOZ_EC_KEYS,
		.cert_sigs = moz_modern_sigs,
	},
	{
		.name = "mozilla-intermediate-5.7",
		.min_version = TLS_V_12,
		.suites12 = CODES(moz57_inter_suites),
		.suites13 = CODES(moz_tls13_suites),
		.groups = CODES(moz57_groups),
		.min_rsa_bits = 2048,
		.cert_keys = MOZ_INTER_KEYS,
		.cert_sigs = moz_inter_sigs,
	},
	{
		.name = "mozilla-modern-5.7",
		.min_version = TLS_V_13,
		.suites12 = NOTHING,
		.suites13 = CODES(moz_tls13_suites),
		.groups = CODES(moz57_groups),
		.cert_keys = MOZ_EC_KEYS,
		.cert_sigs = moz_modern_sigs,
	},
	{
		/* Sections 3.1 (versions), 3.3.1.1, 3.3.1.2 (suites), 3.2.1 (certificate). */
		.name = "nist-sp800-52r2",
		.min_version = TLS_V_12,
		.suites12 = CODES(nist_suites12),
		.suites13 = CODES(nist_suites13),
		.min_rsa_bits = 2048,
		.min_ec_bits = 224,
		.forbid_hash = HASH_SHA1_MD5,
	},
	{
		/* Red Hat: EMS mandatory for TLS 1.2 in FIPS mode since RHEL 9.2 (RFC 7627). */
		.name = "fips-ems",
		.require_ems = true,
	},
	{
		.name = "pq-hybrid",
		.min_version = TLS_V_13,
		.groups = CODES(pq_hybrid_groups),
	},
};

const struct policy_spec *policy_builtin_spec(size_t i)
{
	return i < sizeof(builtins) / sizeof(builtins[0]) ? &builtins[i] : NULL;
}

size_t tls_policy_builtin_count(void)
{
	return sizeof(builtins) / sizeof(builtins[0]);
}

const char *tls_policy_builtin_name(size_t i)
{
	return i < tls_policy_builtin_count() ? builtins[i].name : NULL;
}

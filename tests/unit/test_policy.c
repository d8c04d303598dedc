// SPDX-License-Identifier: GPL-2.0-only
/*
 * Policies: every built-in profile against its published lists (each listed suite
 * passes, unlisted ones fail), the issue's cases (a TLS 1.0-only client, a server held
 * at TLS 1.0, a CBC-only client, EMS missing on either side, OpenSSL 3's TLS 1.3
 * offer, a hybrid ML-KEM offer), certificates, custom policies from config lines and
 * their errors, the would_fail JSON, and the cost of judging.
 *
 * The suite lists below are copied by name from the sources (docs/policies.md), not
 * from policy_builtin.c, so a wrong code there fails here. The real hellos are the
 * openssl s_client/s_server 3.0 captures of test_tls_hello.c (first record only).
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
#include <cmocka.h>

/* cert.h first: the policy header must not clash with the certificate module's names. */
#include "tlsaudit/cert.h"
#include "tlsaudit/policy.h"
#include "tlsaudit/record.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"

/* TLS 1.3 ClientHello, OpenSSL 3.0 s_client default offer: the first record (335 bytes) */
static const uint8_t s13_cli[] = {
	0x16, 0x03, 0x01, 0x01, 0x4a, 0x01, 0x00, 0x01, 0x46, 0x03, 0x03, 0x66,
	0xc9, 0x96, 0xf2, 0xa6, 0xfa, 0xe4, 0xdc, 0xcf, 0x75, 0x4c, 0x2a, 0x03,
	0x6e, 0x3f, 0xcb, 0x23, 0x07, 0xfe, 0x57, 0x6e, 0x93, 0xef, 0x5f, 0x9d,
	0x00, 0x7c, 0x70, 0x77, 0x50, 0x6b, 0x11, 0x20, 0x6b, 0x45, 0x60, 0x6f,
	0x4c, 0x2b, 0xb9, 0x5d, 0xca, 0xd1, 0x81, 0x37, 0x46, 0x91, 0xcd, 0x90,
	0x20, 0x6d, 0x87, 0x5b, 0x4b, 0x69, 0x75, 0xfc, 0xcb, 0x61, 0xdd, 0xd0,
	0x85, 0x0c, 0x87, 0x77, 0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01,
	0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
	0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b,
	0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39,
	0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d,
	0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0xbf,
	0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x00, 0x0b, 0x65, 0x78, 0x61,
	0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x0b, 0x00, 0x04,
	0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00, 0x1d,
	0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01,
	0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x10,
	0x00, 0x0e, 0x00, 0x0c, 0x02, 0x68, 0x32, 0x08, 0x68, 0x74, 0x74, 0x70,
	0x2f, 0x31, 0x2e, 0x31, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00,
	0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03,
	0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04,
	0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03,
	0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02, 0x00, 0x2b,
	0x00, 0x09, 0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01, 0x00,
	0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00,
	0x1d, 0x00, 0x20, 0xdd, 0xc9, 0x86, 0x80, 0x4f, 0x87, 0x67, 0xd2, 0x1b,
	0x79, 0x84, 0x1c, 0x7a, 0xf2, 0x53, 0x98, 0x6a, 0xfa, 0x85, 0x86, 0xd3,
	0x4e, 0x0e, 0x22, 0x1e, 0xb5, 0x0a, 0xba, 0x58, 0x3b, 0x36, 0x5c,
};

/* its ServerHello (TLS 1.3, TLS_AES_256_GCM_SHA384, x25519): the first record (127 bytes) */
static const uint8_t s13_srv[] = {
	0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03, 0x38,
	0xa2, 0xf0, 0x16, 0x66, 0x17, 0x5a, 0x77, 0x0c, 0x21, 0xc8, 0x4a, 0xe7,
	0xb6, 0xbb, 0x52, 0xfc, 0x38, 0x3e, 0x4e, 0x91, 0xe3, 0x05, 0x46, 0x05,
	0xb6, 0xeb, 0xc4, 0xf4, 0xd0, 0xc1, 0x63, 0x20, 0x6b, 0x45, 0x60, 0x6f,
	0x4c, 0x2b, 0xb9, 0x5d, 0xca, 0xd1, 0x81, 0x37, 0x46, 0x91, 0xcd, 0x90,
	0x20, 0x6d, 0x87, 0x5b, 0x4b, 0x69, 0x75, 0xfc, 0xcb, 0x61, 0xdd, 0xd0,
	0x85, 0x0c, 0x87, 0x77, 0x13, 0x02, 0x00, 0x00, 0x2e, 0x00, 0x2b, 0x00,
	0x02, 0x03, 0x04, 0x00, 0x33, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x62,
	0xb0, 0x7e, 0x66, 0x64, 0x62, 0xa3, 0x85, 0x56, 0xbb, 0x9c, 0x2c, 0x0b,
	0xcd, 0x71, 0x8b, 0x21, 0xc6, 0x0c, 0xcf, 0x32, 0xf6, 0xc9, 0x67, 0xc6,
	0x81, 0x2e, 0x82, 0x92, 0xe5, 0xc6, 0x3d,
};

/* TLS 1.2 ClientHello (-tls1_2): the first record (208 bytes) */
static const uint8_t s12_cli[] = {
	0x16, 0x03, 0x01, 0x00, 0xcb, 0x01, 0x00, 0x00, 0xc7, 0x03, 0x03, 0x18,
	0x4e, 0x67, 0x50, 0xf7, 0x27, 0xbe, 0x91, 0xc8, 0x27, 0xa8, 0x77, 0xc0,
	0xd9, 0xe6, 0xfa, 0xc4, 0x54, 0x0b, 0x72, 0xf4, 0x3e, 0x57, 0x2a, 0x34,
	0x8b, 0xd8, 0x69, 0x3b, 0xea, 0xf8, 0x88, 0x00, 0x00, 0x38, 0xc0, 0x2c,
	0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa, 0xc0, 0x2b,
	0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23,
	0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09,
	0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c,
	0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0x66, 0x00, 0x00,
	0x00, 0x10, 0x00, 0x0e, 0x00, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70,
	0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00,
	0x01, 0x02, 0x00, 0x0a, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x1d, 0x00, 0x17,
	0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16,
	0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28,
	0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09,
	0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01,
	0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02,
	0x05, 0x02, 0x06, 0x02,
};

/* its ServerHello (TLS 1.2, ECDHE-RSA-AES128-GCM-SHA256): the first record (70 bytes) */
static const uint8_t s12_srv[] = {
	0x16, 0x03, 0x03, 0x00, 0x41, 0x02, 0x00, 0x00, 0x3d, 0x03, 0x03, 0xd7,
	0x2e, 0x67, 0xc2, 0x1c, 0x95, 0xf6, 0x42, 0xef, 0xb8, 0x4e, 0x4f, 0xb7,
	0xd4, 0x85, 0x8f, 0x8e, 0x82, 0x1c, 0x78, 0x4d, 0xf5, 0x2a, 0xd6, 0x31,
	0x86, 0xe9, 0x4e, 0xef, 0x1a, 0xec, 0x22, 0x00, 0xc0, 0x2f, 0x00, 0x00,
	0x15, 0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00,
	0x01, 0x02, 0x00, 0x23, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00,
};

/* TLS 1.0 ClientHello (-tls1 -cipher DEFAULT:@SECLEVEL=0): the first record (124 bytes) */
static const uint8_t s10_cli[] = {
	0x16, 0x03, 0x01, 0x00, 0x77, 0x01, 0x00, 0x00, 0x73, 0x03, 0x01, 0xaf,
	0xc1, 0xad, 0xca, 0x38, 0xb9, 0x16, 0xd2, 0xd1, 0x6d, 0x8e, 0x9e, 0x73,
	0x69, 0xa7, 0x66, 0xb3, 0x0c, 0x5f, 0x00, 0x2a, 0x37, 0x79, 0x16, 0x2f,
	0x6d, 0xe0, 0x3c, 0x8f, 0x8b, 0x44, 0x0d, 0x00, 0x00, 0x12, 0xc0, 0x0a,
	0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x35,
	0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00, 0x10,
	0x00, 0x0e, 0x00, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
	0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02,
	0x00, 0x0a, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e,
	0x00, 0x19, 0x00, 0x18, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00,
	0x00, 0x17, 0x00, 0x00,
};

/* its ServerHello (TLS 1.0, ECDHE-RSA-AES256-SHA): the first record (74 bytes) */
static const uint8_t s10_srv[] = {
	0x16, 0x03, 0x01, 0x00, 0x45, 0x02, 0x00, 0x00, 0x41, 0x03, 0x01, 0x04,
	0xd2, 0xdf, 0x2d, 0x2a, 0x42, 0xd7, 0x28, 0xe5, 0xbb, 0x6c, 0x1a, 0x8e,
	0xb6, 0xeb, 0xb5, 0x63, 0x78, 0x96, 0xca, 0x63, 0x58, 0xa4, 0x5d, 0x7f,
	0x4c, 0x39, 0xdc, 0xc6, 0x03, 0x39, 0xe5, 0x00, 0xc0, 0x14, 0x00, 0x00,
	0x19, 0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00,
	0x01, 0x02, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17,
	0x00, 0x00,
};

static struct tls_policy_set ps;

/* ---- helpers ------------------------------------------------------------------ */

/* code_of - the IANA code of a suite name, from the name table (fails the test if absent). */
static uint16_t code_of(const char *name)
{
	uint32_t c;

	for (c = 0; c <= UINT16_MAX; c++) {
		const char *n = tls_cipher_name((uint16_t)c);

		if (n && !strcmp(n, name))
			return (uint16_t)c;
	}
	fail_msg("no suite called %s", name);
	return 0;
}

static void list_set(struct tls_u16_list *l, const uint16_t *v, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < TLS_MAX_LIST; i++)
		l->v[i] = v[i];
	l->n = (uint16_t)(n < TLS_MAX_LIST ? n : TLS_MAX_LIST);
	l->total = (uint16_t)n;
}

static void add_ext(struct tls_client_hello *ch, uint16_t ext)
{
	ch->exts.v[ch->exts.n++] = ext;
	ch->exts.total++;
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define U16S(...) ((const uint16_t[]){ __VA_ARGS__ })
#define N16(...) (sizeof(U16S(__VA_ARGS__)) / sizeof(uint16_t))
#define SUITES(ch, ...) list_set(&(ch)->ciphers, U16S(__VA_ARGS__), N16(__VA_ARGS__))
#define VERSIONS(ch, ...)                                                              \
	do {                                                                           \
		list_set(&(ch)->versions, U16S(__VA_ARGS__), N16(__VA_ARGS__));        \
		add_ext((ch), 0x002b);                                                 \
	} while (0)
#define GROUPS(ch, ...)                                                                \
	do {                                                                           \
		list_set(&(ch)->groups, U16S(__VA_ARGS__), N16(__VA_ARGS__));          \
		add_ext((ch), 0x000a);                                                 \
	} while (0)

/* A ClientHello with SNI and EMS, legacy version @legacy, nothing else yet. */
static void hello(struct tls_client_hello *ch, uint16_t legacy)
{
	memset(ch, 0, sizeof(*ch));
	ch->legacy_version = legacy;
	ch->max_version = legacy;
	util_strlcpy(ch->sni, "mx.example.net", sizeof(ch->sni));
	add_ext(ch, 0x0000);
	add_ext(ch, 0x0017);
}

static void drop_ext(struct tls_client_hello *ch, uint16_t ext)
{
	uint16_t i, j = 0;

	for (i = 0; i < ch->exts.n; i++)
		if (ch->exts.v[i] != ext)
			ch->exts.v[j++] = ch->exts.v[i];
	ch->exts.n = j;
	ch->exts.total = j;
	if (ext == 0x0000)
		ch->sni[0] = '\0';
}

static void server(struct tls_offer *o, uint16_t version, uint16_t suite, int group, bool ems)
{
	struct tls_server_hello sh;
	uint16_t g = (uint16_t)group;

	memset(&sh, 0, sizeof(sh));
	sh.version = version;
	sh.legacy_version = version < TLS_V_13 ? version : TLS_V_12;
	sh.cipher = suite;
	if (ems) {
		sh.exts.v[sh.exts.n++] = 0x0017;
		sh.exts.total++;
	}
	if (version >= TLS_V_13 && group >= 0) {
		sh.group = g;
		sh.has_group = true;
	}
	tls_offer_set_server(o, &sh, version < TLS_V_13 && group >= 0 ? &g : NULL);
}

static struct tls_verdict judge(const char *policy, const struct tls_offer *o)
{
	const struct tls_policy *p = tls_policy_find(&ps, policy);
	struct tls_verdict v;

	if (!p)
		fail_msg("no policy %s", policy);
	tls_policy_judge(p, o, &v);
	return v;
}

static void expect(const char *policy, const struct tls_offer *o, enum tls_policy_by by,
		   enum tls_policy_reason reason)
{
	struct tls_verdict v = judge(policy, o);

	if (v.by != by || v.reason != reason)
		fail_msg("%s: by %s reason %s, expected by %s reason %s", policy,
			 tls_policy_by_name(v.by) ?: "pass",
			 tls_policy_reason_name(v.reason) ?: "-",
			 tls_policy_by_name(by) ?: "pass", tls_policy_reason_name(reason) ?: "-");
}

static void expect_pass(const char *policy, const struct tls_offer *o)
{
	expect(policy, o, TLS_POLICY_PASS, TLS_REASON_NONE);
}

static int setup(void **state)
{
	(void)state;
	tls_policy_set_init(&ps);
	return 0;
}

/* Offers of one suite: TLS 1.2 (x25519, secp256r1; EMS, SNI) or TLS 1.3 only. */
static void offer12(struct tls_offer *o, uint16_t suite)
{
	struct tls_client_hello ch;

	hello(&ch, TLS_V_12);
	SUITES(&ch, suite, 0x00ff);
	GROUPS(&ch, 0x001d, 0x0017);
	tls_offer_from_hello(&ch, o);
}

static void offer13(struct tls_offer *o, uint16_t suite)
{
	struct tls_client_hello ch;

	hello(&ch, TLS_V_12);
	SUITES(&ch, suite);
	VERSIONS(&ch, TLS_V_13);
	GROUPS(&ch, 0x001d, 0x0017);
	ch.key_shares.v[0] = 0x001d;
	ch.key_shares.n = ch.key_shares.total = 1;
	tls_offer_from_hello(&ch, o);
}

/*
 * check_list - each named suite passes @policy on its own (TLS 1.2 or 1.3 offer by the
 * name), each of @bad fails it by client with reason cipher.
 */
static void check_list(const char *policy, const char *const *good, const char *const *bad)
{
	struct tls_offer o;
	size_t i;

	for (i = 0; good[i]; i++) {
		uint16_t c = code_of(good[i]);

		if ((c >> 8) == 0x13)
			offer13(&o, c);
		else
			offer12(&o, c);
		if (judge(policy, &o).by != TLS_POLICY_PASS)
			fail_msg("%s: listed suite %s fails", policy, good[i]);
	}
	for (i = 0; bad && bad[i]; i++) {
		uint16_t c = code_of(bad[i]);

		if ((c >> 8) == 0x13)
			offer13(&o, c);
		else
			offer12(&o, c);
		if (judge(policy, &o).by != TLS_POLICY_BY_CLIENT ||
		    judge(policy, &o).reason != TLS_REASON_CIPHER)
			fail_msg("%s: unlisted suite %s passes", policy, bad[i]);
	}
}

/* ---- built-in profiles against their sources ---------------------------------- */

/* ssl-config.mozilla.org guidelines 6.0.json, "intermediate": ciphers.iana, ciphersuites */
static const char *const moz60_intermediate[] = {
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_AES_128_GCM_SHA256",
	"TLS_AES_256_GCM_SHA384",
	"TLS_CHACHA20_POLY1305_SHA256",
	NULL,
};

/* Suites of Mozilla's "old" level and other common ones that intermediate leaves out. */
static const char *const moz60_intermediate_not[] = {
	"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",	   "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
	"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",   "TLS_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_RSA_WITH_AES_256_CBC_SHA",		   "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",	   "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CCM",	   "TLS_AES_128_CCM_SHA256",
	"TLS_AES_128_CCM_8_SHA256",		   NULL,
};

/* guidelines 5.7.json, "intermediate" */
static const char *const moz57_intermediate[] = {
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_AES_128_GCM_SHA256",
	"TLS_AES_256_GCM_SHA384",
	"TLS_CHACHA20_POLY1305_SHA256",
	NULL,
};

static const char *const moz57_intermediate_not[] = {
	"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
	"TLS_RSA_WITH_AES_128_GCM_SHA256",
	NULL,
};

/* "modern": ciphersuites only (ciphers is empty) */
static const char *const moz_modern[] = {
	"TLS_AES_128_GCM_SHA256",
	"TLS_AES_256_GCM_SHA384",
	"TLS_CHACHA20_POLY1305_SHA256",
	NULL,
};

static const char *const moz_modern_not[] = {
	"TLS_AES_128_CCM_SHA256",
	"TLS_AES_128_CCM_8_SHA256",
	NULL,
};

/* NIST SP 800-52r2 3.3.1.1.1, 3.3.1.1.2 (TLS 1.2 and older) and 3.3.1.2 (TLS 1.3) */
static const char *const nist[] = {
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
	"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_DHE_RSA_WITH_AES_128_CCM",
	"TLS_DHE_RSA_WITH_AES_256_CCM",
	"TLS_DHE_RSA_WITH_AES_128_CCM_8",
	"TLS_DHE_RSA_WITH_AES_256_CCM_8",
	"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
	"TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
	"TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	"TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
	"TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
	"TLS_AES_128_GCM_SHA256",
	"TLS_AES_256_GCM_SHA384",
	"TLS_AES_128_CCM_SHA256",
	"TLS_AES_128_CCM_8_SHA256",
	NULL,
};

/* Not approved there: ChaCha20 (not a NIST algorithm), RSA key transport, 3DES, RC4, ARIA. */
static const char *const nist_not[] = {
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"TLS_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_RSA_WITH_AES_256_CBC_SHA",
	"TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	"TLS_ECDHE_RSA_WITH_RC4_128_SHA",
	"TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256",
	"TLS_CHACHA20_POLY1305_SHA256",
	NULL,
};

static void test_builtin_names(void **state)
{
	size_t i;

	(void)state;
	assert_true(tls_policy_builtin_count() >= 9);
	for (i = 0; i < tls_policy_builtin_count(); i++) {
		const struct tls_policy *p = tls_policy_find(&ps, tls_policy_builtin_name(i));

		assert_non_null(p);
		assert_true(p->builtin);
	}
	assert_null(tls_policy_builtin_name(tls_policy_builtin_count()));
	/* DESIGN.md: `policies` defaults to tls12. */
	assert_int_equal(ps.n_active, 1);
	assert_string_equal(tls_policy_active(&ps, 0)->name, "tls12");
	assert_null(tls_policy_active(&ps, 1));
}

static void test_mozilla_lists(void **state)
{
	const struct tls_policy *p;

	(void)state;
	check_list("mozilla-intermediate", moz60_intermediate, moz60_intermediate_not);
	check_list("mozilla-intermediate-5.7", moz57_intermediate, moz57_intermediate_not);
	check_list("mozilla-modern", moz_modern, moz_modern_not);
	check_list("mozilla-modern-5.7", moz_modern, moz_modern_not);
	/* Nothing more is allowed than what is listed: count the bits. */
	p = tls_policy_find(&ps, "mozilla-intermediate");
	assert_int_equal(p->checks & (TLS_PCHK_SUITES12 | TLS_PCHK_SUITES13 | TLS_PCHK_GROUPS),
			 TLS_PCHK_SUITES12 | TLS_PCHK_SUITES13 | TLS_PCHK_GROUPS);
	assert_int_equal(p->min_version, TLS_V_12);
	assert_int_equal(p->max_version, 0);
	assert_int_equal(p->min_rsa_bits, 2048);
	assert_int_equal(__builtin_popcountll(p->cert_sigs), 4);
}

static void test_mozilla_groups_versions(void **state)
{
	struct tls_client_hello ch;
	struct tls_offer o;

	(void)state;
	/* Modern is TLS 1.3 only: a TLS 1.2 offer of an intermediate suite fails by version. */
	offer12(&o, code_of("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"));
	expect("mozilla-modern", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_VERSION);
	expect_pass("mozilla-intermediate", &o);

	/* tls_curves: X25519MLKEM768, X25519, prime256v1, secp384r1; not secp521r1 or x448. */
	hello(&ch, TLS_V_12);
	SUITES(&ch, 0x1301, 0xc02f);
	VERSIONS(&ch, TLS_V_13, TLS_V_12);
	GROUPS(&ch, 0x0019, 0x001e);
	tls_offer_from_hello(&ch, &o);
	expect("mozilla-modern", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_GROUP);
	expect("mozilla-intermediate", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_GROUP);
	expect_pass("nist-sp800-52r2", &o); /* the NIST profile checks no groups */

	GROUPS(&ch, 0x0019, 0x11ec);
	tls_offer_from_hello(&ch, &o);
	expect_pass("mozilla-modern", &o);
	expect_pass("mozilla-intermediate", &o);
	/* 5.7 predates the hybrid group; the TLS 1.2 ECDHE path cannot use it either. */
	expect("mozilla-modern-5.7", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_GROUP);
	expect("mozilla-intermediate-5.7", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_GROUP);

	/* A TLS 1.2 ECDHE offer without supported_groups: the server may pick any curve. */
	hello(&ch, TLS_V_12);
	SUITES(&ch, 0xc02f);
	tls_offer_from_hello(&ch, &o);
	expect_pass("mozilla-intermediate", &o);
}

static void test_nist_list(void **state)
{
	const struct tls_policy *p;
	struct tls_offer o;

	(void)state;
	check_list("nist-sp800-52r2", nist, nist_not);
	p = tls_policy_find(&ps, "nist-sp800-52r2");
	assert_int_equal(p->min_version, TLS_V_12);
	assert_int_equal(p->checks & TLS_PCHK_GROUPS, 0);
	/* 3.3.1.1: the CBC_SHA suites are allowed with TLS 1.2 too, but TLS 1.1 is not. */
	offer12(&o, code_of("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"));
	expect_pass("nist-sp800-52r2", &o);
	o.versions = TLS_OFFER_V_TLS10 | TLS_OFFER_V_TLS11;
	expect("nist-sp800-52r2", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_VERSION);
}

static void test_version_profiles(void **state)
{
	struct tls_offer o;

	(void)state;
	offer12(&o, 0xc02f);
	expect_pass("tls12", &o);
	expect("tls13", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_VERSION);
	offer13(&o, 0x1301);
	expect_pass("tls12", &o);
	expect_pass("tls13", &o);
	/* Versions only: any suite, group, no EMS, no SNI. */
	offer12(&o, code_of("TLS_RSA_WITH_RC4_128_MD5"));
	o.flags &= (uint16_t)~(TLS_OFFER_EMS | TLS_OFFER_SNI);
	expect_pass("tls12", &o);
}

/* ---- the issue's cases, on real hellos ---------------------------------------- */

static void parse_ch(const uint8_t *rec, size_t len, struct tls_client_hello *ch)
{
	assert_true(len > 9);
	assert_int_equal(rec[5], 1);
	assert_int_equal(tls_parse_client_hello(rec + 9, len - 9, ch), TLS_OK);
}

static void parse_sh(const uint8_t *rec, size_t len, struct tls_server_hello *sh)
{
	assert_true(len > 9);
	assert_int_equal(rec[5], 2);
	assert_int_equal(tls_parse_server_hello(rec + 9, len - 9, sh), TLS_OK);
}

static void test_tls10_client_fails_by_client(void **state)
{
	struct tls_client_hello ch;
	struct tls_server_hello sh;
	struct tls_offer o;
	uint16_t ske = 0x001d;

	(void)state;
	parse_ch(s10_cli, sizeof(s10_cli), &ch);
	tls_offer_from_hello(&ch, &o);
	assert_int_equal(o.versions, TLS_OFFER_V_TLS10);
	expect("tls12", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_VERSION);
	parse_sh(s10_srv, sizeof(s10_srv), &sh);
	tls_offer_set_server(&o, &sh, &ske);
	expect("tls12", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_VERSION);
	/* The first rule broken is the version, whatever else is wrong (CBC suites). */
	expect("mozilla-intermediate", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_VERSION);
	/* This OpenSSL 3.0 client sends EMS even at TLS 1.0. */
	expect_pass("fips-ems", &o);
}

static void test_tls10_server_fails_by_server(void **state)
{
	struct tls_client_hello ch;
	struct tls_server_hello sh;
	struct tls_offer o;
	uint16_t ske = 0x001d;

	(void)state;
	parse_ch(s12_cli, sizeof(s12_cli), &ch);
	tls_offer_from_hello(&ch, &o);
	expect_pass("tls12", &o); /* no ServerHello yet: the client alone passes */
	/* The server of s10_srv, held at TLS 1.0, answering this TLS 1.2 offer. */
	parse_sh(s10_srv, sizeof(s10_srv), &sh);
	assert_int_equal(sh.version, TLS_V_10);
	tls_offer_set_server(&o, &sh, &ske);
	expect("tls12", &o, TLS_POLICY_BY_SERVER, TLS_REASON_VERSION);
	/* The real TLS 1.2 answer passes. */
	tls_offer_from_hello(&ch, &o);
	parse_sh(s12_srv, sizeof(s12_srv), &sh);
	tls_offer_set_server(&o, &sh, &ske);
	expect_pass("tls12", &o);
	expect_pass("mozilla-intermediate", &o);
	expect_pass("nist-sp800-52r2", &o);
	expect_pass("fips-ems", &o); /* s12_srv echoes extended_master_secret */
	expect("tls13", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_VERSION);
}

static void test_cbc_only_client(void **state)
{
	struct tls_client_hello ch;
	struct tls_offer o;

	(void)state;
	/* What `openssl s_client -tls1_2 -cipher 'ECDHE+AES+SHA1:AES128-SHA256'` offers. */
	hello(&ch, TLS_V_12);
	SUITES(&ch, 0xc00a, 0xc014, 0xc009, 0xc013, 0x003c, 0x00ff);
	GROUPS(&ch, 0x001d, 0x0017, 0x0018);
	tls_offer_from_hello(&ch, &o);
	expect("mozilla-intermediate", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_CIPHER);
	expect("mozilla-intermediate-5.7", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_CIPHER);
	expect_pass("nist-sp800-52r2", &o); /* ECDHE CBC_SHA is in 3.3.1.1 */
	expect_pass("tls12", &o);
}

static void test_ems(void **state)
{
	struct tls_client_hello ch;
	struct tls_offer o;

	(void)state;
	/* `openssl s_client -tls1_2 -no_ems`: a TLS 1.2 client without EMS. */
	hello(&ch, TLS_V_12);
	drop_ext(&ch, 0x0017);
	SUITES(&ch, 0xc02f, 0xc030);
	GROUPS(&ch, 0x001d);
	tls_offer_from_hello(&ch, &o);
	expect("fips-ems", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_EMS);
	expect_pass("tls12", &o);

	/* It offers EMS; the server (RHEL 7, OpenSSL 1.0.2) does not echo it. */
	hello(&ch, TLS_V_12);
	SUITES(&ch, 0xc02f, 0xc030);
	GROUPS(&ch, 0x001d);
	tls_offer_from_hello(&ch, &o);
	expect_pass("fips-ems", &o);
	server(&o, TLS_V_12, 0xc02f, 0x001d, false);
	expect("fips-ems", &o, TLS_POLICY_BY_SERVER, TLS_REASON_EMS);
	server(&o, TLS_V_12, 0xc02f, 0x001d, true);
	expect_pass("fips-ems", &o);

	/* TLS 1.3 is not affected (Red Hat): no EMS needed on a 1.3 offer... */
	hello(&ch, TLS_V_12);
	drop_ext(&ch, 0x0017);
	SUITES(&ch, 0x1301, 0xc02f);
	VERSIONS(&ch, TLS_V_13, TLS_V_12);
	GROUPS(&ch, 0x001d);
	tls_offer_from_hello(&ch, &o);
	expect_pass("fips-ems", &o);
	server(&o, TLS_V_13, 0x1301, 0x001d, false);
	expect_pass("fips-ems", &o);
	/* ...but a server that picks TLS 1.2 without EMS for it is to blame. */
	tls_offer_from_hello(&ch, &o);
	server(&o, TLS_V_12, 0xc02f, 0x001d, false);
	expect("fips-ems", &o, TLS_POLICY_BY_SERVER, TLS_REASON_EMS);
}

static void test_openssl3_tls13_client(void **state)
{
	static const char *const passes[] = {
		"tls12",	 "tls13",	 "mozilla-intermediate", "mozilla-modern",
		"mozilla-intermediate-5.7", "mozilla-modern-5.7", "nist-sp800-52r2",
		"fips-ems",	 NULL,
	};
	struct tls_client_hello ch;
	struct tls_server_hello sh;
	struct tls_offer o;
	size_t i;

	(void)state;
	parse_ch(s13_cli, sizeof(s13_cli), &ch);
	tls_offer_from_hello(&ch, &o);
	assert_int_equal(o.versions, TLS_OFFER_V_TLS10 | TLS_OFFER_V_TLS11 | TLS_OFFER_V_TLS12 |
					     TLS_OFFER_V_TLS13);
	assert_int_equal(o.n_suites, 30); /* 31 on the wire less the renegotiation SCSV */
	assert_true(o.flags & TLS_OFFER_EMS);
	assert_true(o.flags & TLS_OFFER_SNI);
	assert_int_equal(o.n_groups, 10);
	for (i = 0; passes[i]; i++)
		expect_pass(passes[i], &o);
	/* OpenSSL 3.0 offers no ML-KEM group. */
	expect("pq-hybrid", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_GROUP);

	parse_sh(s13_srv, sizeof(s13_srv), &sh);
	tls_offer_set_server(&o, &sh, NULL);
	assert_int_equal(o.srv_version, TLS_V_13);
	assert_int_equal(o.srv_group, 0x001d);
	for (i = 0; passes[i]; i++)
		expect_pass(passes[i], &o);
	expect("pq-hybrid", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_GROUP);
}

static void test_pq_hybrid(void **state)
{
	struct tls_client_hello ch;
	struct tls_offer o;

	(void)state;
	/* OpenSSL 3.5's default offer: X25519MLKEM768 first, key shares for it and x25519. */
	hello(&ch, TLS_V_12);
	SUITES(&ch, 0x1302, 0x1303, 0x1301, 0xc02c, 0xc030);
	VERSIONS(&ch, TLS_V_13, TLS_V_12);
	GROUPS(&ch, 0x11ec, 0x001d, 0x0017, 0x001e, 0x0018, 0x0019);
	ch.key_shares.v[0] = 0x11ec;
	ch.key_shares.v[1] = 0x001d;
	ch.key_shares.n = ch.key_shares.total = 2;
	tls_offer_from_hello(&ch, &o);
	expect_pass("pq-hybrid", &o);
	expect_pass("mozilla-modern", &o);
	server(&o, TLS_V_13, 0x1302, 0x11ec, false);
	expect_pass("pq-hybrid", &o);
	/* The server settled for classical x25519: the client offered better. */
	tls_offer_from_hello(&ch, &o);
	server(&o, TLS_V_13, 0x1302, 0x001d, false);
	expect("pq-hybrid", &o, TLS_POLICY_BY_SERVER, TLS_REASON_GROUP);
	expect_pass("mozilla-modern", &o);
	/* The other two hybrids count as well; hybrid groups exist for TLS 1.3 only. */
	GROUPS(&ch, 0x11eb);
	tls_offer_from_hello(&ch, &o);
	o.n_groups = 1;
	expect_pass("pq-hybrid", &o);
	o.groups[0] = 0x11ed;
	expect_pass("pq-hybrid", &o);
	o.groups[0] = 0x6399; /* X25519Kyber768Draft00: the pre-standard code point */
	expect("pq-hybrid", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_GROUP);
	o.versions = TLS_OFFER_V_TLS12;
	o.groups[0] = 0x11ec;
	expect("pq-hybrid", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_VERSION);
}

/* A client offering TLS 1.3 and TLS 1.2 passes when either part satisfies the policy. */
static void test_both_parts(void **state)
{
	char err[256];
	struct tls_client_hello ch;
	struct tls_offer o;

	(void)state;
	assert_int_equal(tls_policy_config(&ps, "policy.gcm12.ciphers",
					   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "
					   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
					   err, sizeof(err)),
			 0);
	assert_int_equal(tls_policy_config(&ps, "policy.gcm12.min_version", "TLSv1.2", err,
					   sizeof(err)),
			 0);
	assert_int_equal(tls_policy_config(&ps, "policy.gcm12.tls13-ciphers",
					   "TLS_AES_128_GCM_SHA256", err, sizeof(err)),
			 0);
	assert_int_equal(tls_policy_config(&ps, "policy.gcm12.groups", "x25519, P-256", err,
					   sizeof(err)),
			 0);
	/* TLS 1.3 with an allowed suite and group, TLS 1.2 with CBC only. */
	hello(&ch, TLS_V_12);
	SUITES(&ch, 0x1301, 0xc013, 0xc014);
	VERSIONS(&ch, TLS_V_13, TLS_V_12);
	GROUPS(&ch, 0x001d);
	tls_offer_from_hello(&ch, &o);
	expect_pass("gcm12", &o);
	server(&o, TLS_V_13, 0x1301, 0x001d, false);
	expect_pass("gcm12", &o);
	/* The server chose TLS 1.2 CBC: the client had offered something better. */
	tls_offer_from_hello(&ch, &o);
	server(&o, TLS_V_12, 0xc013, 0x001d, true);
	expect("gcm12", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CIPHER);
	/* Its TLS 1.3 part has no allowed suite, TLS 1.2 has: still a pass. */
	SUITES(&ch, 0x1302, 0xc02f);
	tls_offer_from_hello(&ch, &o);
	expect_pass("gcm12", &o);
	/* Neither part: the TLS 1.3 part reaches further (cipher) than... both fail cipher. */
	SUITES(&ch, 0x1302, 0xc013);
	tls_offer_from_hello(&ch, &o);
	expect("gcm12", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_CIPHER);
	/* TLS 1.3 part good but for its group, TLS 1.2 part CBC: group is the further rule. */
	SUITES(&ch, 0x1301, 0xc013);
	GROUPS(&ch, 0x0018);
	tls_offer_from_hello(&ch, &o);
	expect("gcm12", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_GROUP);
	/* Capped at TLS 1.2, a CBC-only TLS 1.2 part fails by cipher, not by version. */
	assert_int_equal(tls_policy_config(&ps, "policy.gcm12.max_version", "TLSv1.2", err,
					   sizeof(err)),
			 0);
	SUITES(&ch, 0x1301, 0xc013);
	GROUPS(&ch, 0x001d);
	tls_offer_from_hello(&ch, &o);
	expect("gcm12", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_CIPHER);
	server(&o, TLS_V_13, 0x1301, 0x001d, false);
	expect("gcm12", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_CIPHER);
}

/* ---- certificates ------------------------------------------------------------- */

static void test_certificates(void **state)
{
	struct tls_offer o;

	(void)state;
	offer12(&o, 0xc02f);
	server(&o, TLS_V_12, 0xc02f, 0x001d, true);
	assert_int_equal(tls_offer_set_cert_names(&o, "RSA-2048", "sha256WithRSAEncryption"), 0);
	expect_pass("mozilla-intermediate", &o);
	expect_pass("nist-sp800-52r2", &o);

	assert_int_equal(tls_offer_set_cert_names(&o, "RSA-1024", "sha256WithRSAEncryption"), 0);
	expect("mozilla-intermediate", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_KEY);
	expect("nist-sp800-52r2", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_KEY);
	expect_pass("tls12", &o);

	assert_int_equal(tls_offer_set_cert_names(&o, "RSA-4096", "sha1WithRSAEncryption"), 0);
	expect("mozilla-intermediate", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_SIG);
	expect("nist-sp800-52r2", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_SIG);
	assert_int_equal(tls_offer_set_cert_names(&o, "RSA-4096", "md5WithRSAEncryption"), 0);
	expect("nist-sp800-52r2", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_SIG);

	/* Mozilla lists sha256WithRSAEncryption only for RSA: sha384 and PSS are out. */
	assert_int_equal(tls_offer_set_cert_names(&o, "RSA-2048", "sha384WithRSAEncryption"), 0);
	expect("mozilla-intermediate", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_SIG);
	expect_pass("nist-sp800-52r2", &o);
	assert_int_equal(tls_offer_set_cert_names(&o, "RSA-2048", "RSASSA-PSS"), 0);
	expect("mozilla-intermediate", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_SIG);

	/* certificate_curves: prime256v1, secp384r1. */
	assert_int_equal(tls_offer_set_cert_names(&o, "EC-P-384", "ecdsa-with-SHA384"), 0);
	expect_pass("mozilla-intermediate", &o);
	assert_int_equal(tls_offer_set_cert_names(&o, "EC-P-521", "ecdsa-with-SHA512"), 0);
	expect("mozilla-intermediate", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_KEY);
	expect_pass("nist-sp800-52r2", &o);
	assert_int_equal(tls_offer_set_cert_names(&o, "Ed25519", "ED25519"), 0);
	expect("mozilla-intermediate", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_KEY);
	expect_pass("nist-sp800-52r2", &o);

	/* The other strings src/tls/cert.c writes. */
	assert_int_equal(tls_offer_set_cert_names(&o, "RSA-PSS-2048", "rsassaPss"), 0);
	assert_int_equal(o.cert_key, TLS_OFFER_KEY_RSA_PSS);
	assert_int_equal(o.cert_bits, 2048);
	assert_int_equal(o.cert_sig_key, TLS_SIG_KEY_RSA_PSS);
	expect("mozilla-intermediate", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_KEY);
	expect_pass("nist-sp800-52r2", &o);
	assert_int_equal(tls_offer_set_cert_names(&o, "RSA-PSS-1024", "rsassaPss"), 0);
	expect("nist-sp800-52r2", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_KEY);
	assert_int_equal(tls_offer_set_cert_names(&o, "EC-brainpoolP256r1", "ecdsa-with-SHA256"),
			 0);
	assert_int_equal(o.cert_key, TLS_OFFER_KEY_EC_OTHER);
	assert_int_equal(o.cert_bits, 256);
	expect("mozilla-intermediate", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_KEY);
	expect_pass("nist-sp800-52r2", &o);
	assert_int_equal(tls_offer_set_cert_names(&o, "EC-P-224", "ecdsa-with-SHA224"), 0);
	assert_int_equal(o.cert_bits, 224);
	expect_pass("nist-sp800-52r2", &o);
	assert_int_equal(tls_offer_set_cert_names(&o, "EC-P-192", "ecdsa-with-SHA256"), 0);
	expect("nist-sp800-52r2", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_KEY);
	assert_int_equal(tls_offer_set_cert_names(&o, "EC-163", "ecdsa-with-SHA256"), 0);
	assert_int_equal(o.cert_bits, 163);
	expect("nist-sp800-52r2", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_KEY);
	assert_int_equal(tls_offer_set_cert_names(&o, "DSA-2048", "dsa_with_SHA256"), 0);
	expect("mozilla-intermediate", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_KEY);
	expect_pass("nist-sp800-52r2", &o);
	assert_int_equal(tls_offer_set_cert_names(&o, "unknown", "1.2.3.4"), -EINVAL);
	expect_pass("mozilla-intermediate", &o);

	/* Unknown names leave the facts unknown: nothing checked. */
	assert_int_equal(tls_offer_set_cert_names(&o, "GOST-256", "whirlpool"), -EINVAL);
	assert_int_equal(o.cert_key, TLS_OFFER_KEY_UNKNOWN);
	assert_int_equal(o.cert_sig_hash, TLS_SIG_HASH_UNKNOWN);
	expect_pass("mozilla-intermediate", &o);
	tls_offer_set_cert(&o, TLS_OFFER_KEY_EC_P256, 256, TLS_SIG_KEY_ECDSA, TLS_SIG_HASH_SHA1);
	expect("nist-sp800-52r2", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_SIG);

	/* A certificate is the server's; a failing client is still blamed first. */
	offer12(&o, 0x000a);
	server(&o, TLS_V_12, 0x000a, -1, true);
	tls_offer_set_cert_names(&o, "RSA-512", "md5WithRSAEncryption");
	expect("nist-sp800-52r2", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_CIPHER);
}

/* ---- the offer ---------------------------------------------------------------- */

static void test_offer(void **state)
{
	struct tls_client_hello ch;
	struct tls_offer o;
	uint16_t v[100];
	size_t i;

	(void)state;
	assert_true(sizeof(struct tls_offer) < 1024);
	assert_true(tls_policy_ecdhe_pages_ok());
	/* GREASE and signalling suites are dropped; GREASE groups and versions too. */
	hello(&ch, TLS_V_12);
	SUITES(&ch, 0x0a0a, 0x1301, 0x00ff, 0xc02f, 0x5600, 0x009e);
	VERSIONS(&ch, 0x3a3a, TLS_V_13, TLS_V_12, 0x7f1c);
	GROUPS(&ch, 0x2a2a, 0x001d, 0x0017);
	ch.key_shares.v[0] = 0x2a2a;
	ch.key_shares.v[1] = 0x001d;
	ch.key_shares.v[2] = 0x11ec;
	ch.key_shares.n = ch.key_shares.total = 3;
	tls_offer_from_hello(&ch, &o);
	assert_int_equal(o.n_suites, 3);
	assert_int_equal(o.suites[0], 0x1301);
	assert_int_equal(o.suites[1], 0xc02f);
	assert_int_equal(o.suites[2], 0x009e);
	assert_int_equal(o.suite_tls13, 0x1);
	assert_int_equal(o.suite_ecdhe, 0x2);
	assert_int_equal(o.versions, TLS_OFFER_V_TLS12 | TLS_OFFER_V_TLS13);
	assert_int_equal(o.n_groups, 3);
	assert_int_equal(o.groups[2], 0x11ec);
	assert_true(o.flags & TLS_OFFER_GROUPS_EXT);
	assert_false(o.flags & (TLS_OFFER_SUITES_CUT | TLS_OFFER_GROUPS_CUT));

	/* Legacy offers: TLS 1.0 up to the legacy field; SSLv3 and SSLv2 hellos. */
	hello(&ch, TLS_V_11);
	SUITES(&ch, 0x002f);
	tls_offer_from_hello(&ch, &o);
	assert_int_equal(o.versions, TLS_OFFER_V_TLS10 | TLS_OFFER_V_TLS11);
	hello(&ch, TLS_V_SSL3);
	SUITES(&ch, 0x000a);
	tls_offer_from_hello(&ch, &o);
	assert_int_equal(o.versions, TLS_OFFER_V_SSL3);
	expect("tls12", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_VERSION);
	hello(&ch, TLS_V_10);
	ch.sslv2 = true;
	SUITES(&ch, 0xff01, 0x0005);
	tls_offer_from_hello(&ch, &o);
	assert_int_equal(o.versions, TLS_OFFER_V_SSL2 | TLS_OFFER_V_TLS10);
	/* A legacy field of TLS 1.3 without supported_versions is a TLS 1.2 offer. */
	hello(&ch, TLS_V_13);
	SUITES(&ch, 0xc02f);
	tls_offer_from_hello(&ch, &o);
	assert_int_equal(o.versions,
			 TLS_OFFER_V_TLS10 | TLS_OFFER_V_TLS11 | TLS_OFFER_V_TLS12);

	/* More than 64 suites: the rest is cut and flagged. */
	for (i = 0; i < 100; i++)
		v[i] = (uint16_t)(0xc000 + i);
	hello(&ch, TLS_V_12);
	list_set(&ch.ciphers, v, 100);
	tls_offer_from_hello(&ch, &o);
	assert_int_equal(o.n_suites, TLS_OFFER_MAX_SUITES);
	assert_true(o.flags & TLS_OFFER_SUITES_CUT);

	/* No ClientHello: nothing to judge. */
	memset(&o, 0, sizeof(o));
	expect_pass("tls13", &o);
	/* HelloRetryRequest's group is not the final choice. */
	offer13(&o, 0x1301);
	{
		struct tls_server_hello sh;

		memset(&sh, 0, sizeof(sh));
		sh.version = TLS_V_13;
		sh.cipher = 0x1301;
		sh.hrr = true;
		sh.group = 0x0018;
		sh.has_group = true;
		tls_offer_set_server(&o, &sh, NULL);
		assert_false(o.flags & TLS_OFFER_SRV_GROUP);
	}
}

/* ---- custom policies and config errors ---------------------------------------- */

static void cfg_ok(const char *key, const char *value)
{
	char err[256] = "";

	if (tls_policy_config(&ps, key, value, err, sizeof(err)))
		fail_msg("%s = %s: %s", key, value, err);
}

static void cfg_err(const char *key, const char *value, const char *msg)
{
	char err[256] = "";

	assert_int_not_equal(tls_policy_config(&ps, key, value, err, sizeof(err)), 0);
	if (!strstr(err, msg))
		fail_msg("%s = %s: '%s' does not contain '%s'", key, value, err, msg);
}

static void test_custom_policies(void **state)
{
	struct tls_verdict v[TLS_POLICY_ACTIVE_MAX];
	char err[256], json[256];
	struct tls_client_hello ch;
	struct tls_offer o;
	int n;

	(void)state;
	cfg_ok("policy.datadog.min_version", "TLSv1.2");
	cfg_ok("policy.datadog.ciphers",
	       "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,0xc02f , "
	       "tls_ecdhe_rsa_with_aes_256_gcm_sha384");
	cfg_ok("policy.datadog.tls13_ciphers", "TLS_AES_128_GCM_SHA256, 0x1302");
	cfg_ok("policy.datadog.require-sni", "yes");
	cfg_ok("policy.rsa3072.min_rsa_bits", "3072");
	cfg_ok("policy.rsa3072.forbid_sig", "sha1, md5, sha224");
	cfg_ok("policy.moz-sni.base", "mozilla-intermediate");
	cfg_ok("policy.moz-sni.require_sni", "true");
	cfg_ok("policy.v57.base", "mozilla-intermediate-5.7");
	cfg_ok("policies", "tls12, datadog,rsa3072 ,moz-sni");
	assert_int_equal(tls_policy_set_finish(&ps, err, sizeof(err)), 0);
	assert_int_equal(ps.n_active, 4);
	assert_string_equal(tls_policy_active(&ps, 1)->name, "datadog");

	/* A TLS 1.2 CBC client without SNI. */
	hello(&ch, TLS_V_12);
	drop_ext(&ch, 0x0000);
	SUITES(&ch, 0xc013, 0xc014);
	GROUPS(&ch, 0x001d);
	tls_offer_from_hello(&ch, &o);
	tls_policy_judge_active(&ps, &o, v);
	n = tls_verdicts_json(&ps, v, json, sizeof(json));
	assert_int_equal(n, (int)strlen(json));
	assert_string_equal(json, "{\"datadog\":{\"by\":\"client\",\"reason\":\"cipher\"},"
				  "\"moz-sni\":{\"by\":\"client\",\"reason\":\"cipher\"}}");
	/* With a GCM suite only SNI is missing. */
	SUITES(&ch, 0xc02f);
	tls_offer_from_hello(&ch, &o);
	expect("datadog", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_SNI);
	expect("moz-sni", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_SNI);
	expect_pass("mozilla-intermediate", &o);
	server(&o, TLS_V_12, 0xc02f, 0x001d, true);
	tls_offer_set_cert_names(&o, "RSA-2048", "sha256WithRSAEncryption");
	expect("rsa3072", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_KEY);
	tls_offer_set_cert_names(&o, "RSA-3072", "sha224WithRSAEncryption");
	expect("rsa3072", &o, TLS_POLICY_BY_SERVER, TLS_REASON_CERT_SIG);
	tls_offer_set_cert_names(&o, "RSA-3072", "sha256WithRSAEncryption");
	expect_pass("rsa3072", &o);
	/* A copied base keeps the built-in rules: 5.7 allows DHE-RSA-AES128-GCM. */
	offer12(&o, 0x009e);
	expect_pass("v57", &o);
	expect("mozilla-intermediate", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_CIPHER);

	/* `any` and `none` undo a rule. */
	cfg_ok("policy.datadog.ciphers", "any");
	cfg_ok("policy.datadog.require_sni", "no");
	offer12(&o, 0x000a);
	expect_pass("datadog", &o);
	cfg_ok("policy.datadog.min_version", "none");
	cfg_ok("policy.datadog.max_version", "TLSv1.1");
	assert_int_equal(tls_policy_set_finish(&ps, err, sizeof(err)), 0);
	/* A legacy TLS 1.2 offer includes TLS 1.1; a supported_versions 1.3-only one does not. */
	expect_pass("datadog", &o);
	offer13(&o, 0x1301);
	expect("datadog", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_VERSION);
	cfg_ok("policy.datadog.max_version", "none");

	/* `policies = none`: nothing judged, would_fail is {}. */
	cfg_ok("policies", "none");
	assert_int_equal(tls_policy_set_finish(&ps, err, sizeof(err)), 0);
	assert_int_equal(ps.n_active, 0);
	assert_int_equal(tls_verdicts_json(&ps, v, json, sizeof(json)), 2);
	assert_string_equal(json, "{}");
}

static void test_config_errors(void **state)
{
	char err[256];
	const struct tls_policy *p;

	(void)state;
	cfg_err("policy.x.colour", "red", "policy.x.colour: unknown key");
	cfg_err("policy.x.min_version", "TLSv1.4",
		"policy.x.min_version: 'TLSv1.4' is not a version");
	cfg_err("policy.x.max_version", "", "'' is not a version");
	cfg_err("policy.x.ciphers", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_FOO_BAR",
		"policy.x.ciphers: 'TLS_FOO_BAR' is not a cipher suite name");
	cfg_err("policy.x.ciphers", "ECDHE-RSA-AES128-GCM-SHA256", "is not a cipher suite name");
	cfg_err("policy.x.ciphers", "TLS_AES_128_GCM_SHA256", "is a TLS 1.3 suite");
	cfg_err("policy.x.tls13_ciphers", "0xc02f", "is not a TLS 1.3 suite");
	cfg_err("policy.x.ciphers", "0xc02f,,0xc030", "empty item");
	cfg_err("policy.x.ciphers", "0x00ff", "signalling value");
	cfg_err("policy.x.ciphers", "0x0a0a", "GREASE");
	cfg_err("policy.x.ciphers", "0x12345", "is not a cipher suite name");
	cfg_err("policy.x.groups", "curve25519", "policy.x.groups: 'curve25519' is not a group");
	cfg_err("policy.x.require_ems", "maybe", "'maybe' is not yes or no");
	cfg_err("policy.x.min_rsa_bits", "2048bits", "is not a number of bits");
	cfg_err("policy.x.min_rsa_bits", "99999", "is not a number of bits");
	cfg_err("policy.x.cert_keys", "rsa,ecdsa", "'ecdsa' is not a key type");
	cfg_err("policy.x.cert_sigs", "sha256WithRSA", "'sha256WithRSA' is not a signature");
	cfg_err("policy.x.forbid_sig", "sha3", "'sha3' is not a hash");
	cfg_err("policy.tls12.min_version", "TLSv1.3", "'tls12' is a built-in profile");
	cfg_err("policy.Strict.min_version", "TLSv1.2", "a policy name is");
	cfg_err("policy.x", "1", "expected policy.NAME.KEY");
	cfg_err("policy..min_version", "TLSv1.2", "expected policy.NAME.KEY");
	cfg_err("policy.x.base", "no-such-profile", "is neither a built-in profile");
	cfg_err("policy.x.base", "x", "is neither a built-in profile");
	cfg_err("policies", "tls12,tls12", "'tls12' is listed twice");
	cfg_err("policies", "tls12,Bad!", "is not a policy name");
	assert_int_equal(tls_policy_config(&ps, "ports", "443", err, sizeof(err)), -ENOENT);
	assert_true(tls_policy_is_config_key("policies"));
	assert_true(tls_policy_is_config_key("policy.a.min_version"));
	assert_false(tls_policy_is_config_key("ports"));

	/* A rejected line changes nothing; base must come first. */
	cfg_ok("policy.y.min_version", "TLSv1.2");
	cfg_err("policy.y.ciphers", "0xc02f, TLS_NOPE", "'TLS_NOPE'");
	p = tls_policy_find(&ps, "y");
	assert_non_null(p);
	assert_int_equal(p->checks & TLS_PCHK_SUITES12, 0);
	cfg_err("policy.y.base", "tls13", "must be the first key");
	/* A policy whose first line fails is not defined at all. */
	cfg_err("policy.z.min_version", "TLS2", "is not a version");
	assert_null(tls_policy_find(&ps, "z"));
	/* A bad list keeps the previous one. */
	cfg_ok("policies", "tls13");
	cfg_err("policies", "tls12, tls12", "listed twice");
	assert_int_equal(tls_policy_set_finish(&ps, err, sizeof(err)), 0);
	assert_int_equal(ps.n_active, 1);
	assert_string_equal(tls_policy_active(&ps, 0)->name, "tls13");

	/* Resolved after the whole file: unknown names, min above max. */
	cfg_ok("policies", "tls12, later");
	assert_int_not_equal(tls_policy_set_finish(&ps, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "policies: 'later' is neither a built-in profile nor defined"));
	assert_string_equal(tls_policy_active(&ps, 0)->name, "tls13"); /* unchanged */
	cfg_ok("policy.later.min_version", "TLSv1.3");
	cfg_ok("policy.later.max_version", "TLSv1.2");
	assert_int_not_equal(tls_policy_set_finish(&ps, err, sizeof(err)), 0);
	assert_string_equal(err, "policy.later: min_version TLSv1.3 is above max_version TLSv1.2");
	cfg_ok("policy.later.max_version", "TLSv1.3");
	assert_int_equal(tls_policy_set_finish(&ps, err, sizeof(err)), 0);
	assert_string_equal(tls_policy_active(&ps, 1)->name, "later");

	/* Too many policies: a clear error, not an overflow. */
	tls_policy_set_init(&ps);
	{
		char key[64];
		int i, ret = 0;

		for (i = 0; i < TLS_POLICY_MAX && !ret; i++) {
			snprintf(key, sizeof(key), "policy.p%d.min_version", i);
			ret = tls_policy_config(&ps, key, "TLSv1.2", err, sizeof(err));
		}
		assert_int_equal(ret, -ENOSPC);
		assert_non_null(strstr(err, "more than 32 policies"));
	}
	tls_policy_set_init(&ps);
}

/* ---- would_fail JSON ---------------------------------------------------------- */

static void test_json(void **state)
{
	struct tls_verdict v[TLS_POLICY_ACTIVE_MAX];
	char err[256], json[512], tiny[16];
	struct tls_client_hello ch;
	struct tls_offer o;
	int n;

	(void)state;
	parse_ch(s10_cli, sizeof(s10_cli), &ch);
	tls_offer_from_hello(&ch, &o);
	tls_policy_judge_active(&ps, &o, v);
	n = tls_verdicts_json(&ps, v, json, sizeof(json));
	assert_string_equal(json, "{\"tls12\":{\"by\":\"client\",\"reason\":\"version\"}}");
	assert_int_equal(n, (int)strlen(json));
	/* Exactly the size needed, and one byte short. */
	assert_int_equal(tls_verdicts_json(&ps, v, json, (size_t)n + 1), n);
	assert_int_equal(tls_verdicts_json(&ps, v, json, (size_t)n), -1);
	assert_string_equal(json, "");
	assert_int_equal(tls_verdicts_json(&ps, v, tiny, sizeof(tiny)), -1);
	assert_int_equal(tls_verdicts_json(&ps, v, tiny, 0), -1);

	cfg_ok("policies", "tls12,fips-ems,pq-hybrid,mozilla-modern");
	assert_int_equal(tls_policy_set_finish(&ps, err, sizeof(err)), 0);
	parse_ch(s13_cli, sizeof(s13_cli), &ch);
	tls_offer_from_hello(&ch, &o);
	tls_policy_judge_active(&ps, &o, v);
	tls_verdicts_json(&ps, v, json, sizeof(json));
	assert_string_equal(json, "{\"pq-hybrid\":{\"by\":\"client\",\"reason\":\"group\"}}");
	offer12(&o, 0xc02f);
	server(&o, TLS_V_12, 0xc02f, 0x001d, false);
	tls_policy_judge_active(&ps, &o, v);
	tls_verdicts_json(&ps, v, json, sizeof(json));
	assert_string_equal(json, "{\"fips-ems\":{\"by\":\"server\",\"reason\":\"ems\"},"
				  "\"pq-hybrid\":{\"by\":\"client\",\"reason\":\"version\"},"
				  "\"mozilla-modern\":{\"by\":\"client\",\"reason\":\"version\"}}");

	assert_null(tls_policy_by_name(TLS_POLICY_PASS));
	assert_null(tls_policy_reason_name(TLS_REASON_NONE));
	assert_string_equal(tls_policy_reason_name(TLS_REASON_CERT_KEY), "cert_key");
	assert_string_equal(tls_policy_reason_name(TLS_REASON_CERT_SIG), "cert_sig");
	tls_policy_set_init(&ps);
}

/*
 * A policy whose versions stop at TLS 1.1 cannot be met by a suite that exists only
 * from TLS 1.2 on (AEAD, SHA-256 MAC): a TLS 1.2 client offering only those fails it by
 * cipher, one that also offers a CBC-SHA suite passes.
 */
static void test_suites_need_tls12(void **state)
{
	struct tls_offer o;
	char err[256];

	(void)state;
	cfg_ok("policy.old-intake.max_version", "TLSv1.1");
	cfg_ok("policies", "old-intake");
	assert_int_equal(tls_policy_set_finish(&ps, err, sizeof(err)), 0);
	offer12(&o, 0xc02f); /* ECDHE-RSA-AES128-GCM-SHA256 */
	expect("old-intake", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_CIPHER);
	offer12(&o, 0xc027); /* ECDHE-RSA-AES128-SHA256 (CBC, SHA-256 MAC) */
	expect("old-intake", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_CIPHER);
	offer12(&o, 0xcca8); /* ECDHE-RSA-CHACHA20-POLY1305 */
	expect("old-intake", &o, TLS_POLICY_BY_CLIENT, TLS_REASON_CIPHER);
	offer12(&o, 0xc013); /* ECDHE-RSA-AES128-SHA: TLS 1.0 on */
	expect_pass("old-intake", &o);
	offer12(&o, 0x00ae); /* PSK-AES128-CBC-SHA256: defined for TLS 1.0 too */
	expect_pass("old-intake", &o);
	/* With TLS 1.2 allowed the GCM suite is fine. */
	offer12(&o, 0xc02f);
	expect_pass("tls12", &o);
}

/*
 * A record whose ClientHello was never seen (a full ring, a capture begun mid-flow) is
 * not judged: a TLS 1.0 RC4 ServerHello alone must not count as a pass under tls12, or
 * "safe to enforce" could be claimed on no evidence.
 */
static void test_server_only_not_judged(void **state)
{
	struct hs_record r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.kind = HS_KIND_TLS;
	server(&r.offer, TLS_V_10, 0x0005, -1, false);
	assert_false(r.offer.flags & TLS_OFFER_CLIENT);
	tls_policy_judge_record(&ps, &r);
	assert_false(r.judged);
	assert_int_equal(r.n_verdicts, 0);

	/* The same server answering a ClientHello is judged, and blamed. */
	offer12(&r.offer, 0xc02f);
	server(&r.offer, TLS_V_10, 0x0005, -1, false);
	tls_policy_judge_record(&ps, &r);
	assert_true(r.judged);
	assert_int_equal(r.n_verdicts, ps.n_active);
	assert_int_equal(r.verdicts[0].by, TLS_POLICY_BY_SERVER);
	assert_int_equal(r.verdicts[0].reason, TLS_REASON_VERSION);
}

/* ---- randomised ---------------------------------------------------------------- */

static uint16_t pick(const uint16_t *v, size_t n)
{
	return v[(size_t)rand() % n];
}

/*
 * Random offers (suites, groups and versions drawn from pools that mix allowed, refused
 * and GREASE values) against every built-in profile: the client's verdict never depends
 * on the server side, and with a server a passing client gives a pass or "by server".
 * Then random junk as config values: an error or a success, never a crash (ASan).
 */
static void test_random(void **state)
{
	static const uint16_t suites[] = { 0x1301, 0x1302, 0x1303, 0x1304, 0xc02b, 0xc02f,
					   0xc013, 0x009e, 0x002f, 0x000a, 0xcca8, 0x0a0a,
					   0x00ff, 0xc0ac, 0xc024, 0x0005 };
	static const uint16_t groups[] = { 0x001d, 0x0017, 0x0018, 0x0019, 0x001e, 0x0100,
					   0x11ec, 0x11eb, 0x6399, 0x2a2a };
	static const uint16_t vers[] = { TLS_V_10, TLS_V_11, TLS_V_12, TLS_V_13, 0x7f1c, 0x3a3a };
	static const char *const keys[] = { "min_version", "ciphers", "tls13_ciphers",
					    "groups", "require_ems", "min_rsa_bits",
					    "cert_keys", "cert_sigs", "forbid_sig", "base" };
	static const char alphabet[] = "TLS_AES128GCMSHAx0,. -v1.3\"\t#";
	unsigned int seed = (unsigned int)time(NULL);
	struct tls_client_hello ch;
	struct tls_offer o, os;
	char err[256], key[64], value[80];
	size_t i, j, k;

	(void)state;
	print_message("seed %u\n", seed);
	srand(seed);
	for (i = 0; i < 3000; i++) {
		uint16_t s[12], g[6], v[4];
		size_t ns = 1 + (size_t)rand() % 12, ng = (size_t)rand() % 6;
		size_t nv = (size_t)rand() % 4;

		hello(&ch, rand() % 2 ? TLS_V_12 : TLS_V_10);
		for (j = 0; j < ns; j++)
			s[j] = pick(suites, ARRAY_LEN(suites));
		list_set(&ch.ciphers, s, ns);
		for (j = 0; j < ng; j++)
			g[j] = pick(groups, ARRAY_LEN(groups));
		if (ng) {
			list_set(&ch.groups, g, ng);
			add_ext(&ch, 0x000a);
		}
		for (j = 0; j < nv; j++)
			v[j] = pick(vers, ARRAY_LEN(vers));
		if (nv) {
			list_set(&ch.versions, v, nv);
			add_ext(&ch, 0x002b);
		}
		if (rand() % 2)
			drop_ext(&ch, 0x0017);
		tls_offer_from_hello(&ch, &o);
		os = o;
		server(&os, pick(vers, 4), pick(suites, ARRAY_LEN(suites)),
		       rand() % 2 ? pick(groups, ARRAY_LEN(groups)) : -1, rand() % 2);
		tls_offer_set_cert_names(&os, rand() % 2 ? "RSA-1024" : "EC-P-256",
					 rand() % 2 ? "sha1WithRSAEncryption" : "ecdsa-with-SHA256");
		for (k = 0; k < tls_policy_builtin_count(); k++) {
			const char *name = tls_policy_builtin_name(k);
			struct tls_verdict a = judge(name, &o), b = judge(name, &os);

			assert_int_not_equal(a.by, TLS_POLICY_BY_SERVER);
			assert_true((a.by == TLS_POLICY_PASS) == (a.reason == TLS_REASON_NONE));
			if (a.by == TLS_POLICY_BY_CLIENT) {
				assert_int_equal(b.by, TLS_POLICY_BY_CLIENT);
				assert_int_equal(b.reason, a.reason);
				assert_true(a.reason <= TLS_REASON_SNI);
			} else {
				assert_int_not_equal(b.by, TLS_POLICY_BY_CLIENT);
			}
		}
	}
	for (i = 0; i < 3000; i++) {
		size_t n = (size_t)rand() % (sizeof(value) - 1);

		for (j = 0; j < n; j++)
			value[j] = alphabet[(size_t)rand() % (sizeof(alphabet) - 1)];
		value[n] = '\0';
		snprintf(key, sizeof(key), "policy.r%zu.%s", i % 5, keys[(size_t)rand() % 10]);
		err[0] = '\0';
		if (tls_policy_config(&ps, key, value, err, sizeof(err)))
			assert_true(strncmp(err, "policy.r", 8) == 0);
		if (rand() % 50 == 0)
			tls_policy_set_init(&ps);
	}
	tls_policy_set_init(&ps);
}

/* ---- cost --------------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The read benchmark runs about 50k handshakes in 0.3 s; judging every built-in
 * profile must be a small part of that. 100k offers (the real hellos, alternating)
 * against all nine profiles, under the sanitizers this test runs with.
 */
static void test_cost(void **state)
{
	struct tls_verdict v[TLS_POLICY_ACTIVE_MAX];
	struct tls_client_hello ch;
	struct tls_offer offers[3];
	char err[256], list[512] = "";
	unsigned long fails = 0;
	double t0, dt;
	size_t i;
	int k;

	(void)state;
	for (i = 0, k = 0; i < tls_policy_builtin_count(); i++)
		k += snprintf(list + k, sizeof(list) - (size_t)k, "%s%s", i ? "," : "",
			      tls_policy_builtin_name(i));
	assert_true((size_t)k < sizeof(list));
	cfg_ok("policies", list);
	assert_int_equal(tls_policy_set_finish(&ps, err, sizeof(err)), 0);
	parse_ch(s13_cli, sizeof(s13_cli), &ch);
	tls_offer_from_hello(&ch, &offers[0]);
	parse_ch(s12_cli, sizeof(s12_cli), &ch);
	tls_offer_from_hello(&ch, &offers[1]);
	server(&offers[1], TLS_V_12, 0xc02f, 0x001d, true);
	parse_ch(s10_cli, sizeof(s10_cli), &ch);
	tls_offer_from_hello(&ch, &offers[2]);

	t0 = now_s();
	for (i = 0; i < 100000; i++) {
		tls_policy_judge_active(&ps, &offers[i % 3], v);
		for (k = 0; k < ps.n_active; k++)
			fails += v[k].by != TLS_POLICY_PASS;
	}
	dt = now_s() - t0;
	print_message("judged 100000 handshakes x %d policies in %.3f s (%lu failures)\n",
		      ps.n_active, dt, fails);
	assert_true(fails > 0);
	assert_true(dt < 1.0);
	tls_policy_set_init(&ps);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_builtin_names, setup),
		cmocka_unit_test_setup(test_mozilla_lists, setup),
		cmocka_unit_test_setup(test_mozilla_groups_versions, setup),
		cmocka_unit_test_setup(test_nist_list, setup),
		cmocka_unit_test_setup(test_version_profiles, setup),
		cmocka_unit_test_setup(test_tls10_client_fails_by_client, setup),
		cmocka_unit_test_setup(test_tls10_server_fails_by_server, setup),
		cmocka_unit_test_setup(test_cbc_only_client, setup),
		cmocka_unit_test_setup(test_ems, setup),
		cmocka_unit_test_setup(test_openssl3_tls13_client, setup),
		cmocka_unit_test_setup(test_pq_hybrid, setup),
		cmocka_unit_test_setup(test_both_parts, setup),
		cmocka_unit_test_setup(test_certificates, setup),
		cmocka_unit_test_setup(test_offer, setup),
		cmocka_unit_test_setup(test_custom_policies, setup),
		cmocka_unit_test_setup(test_config_errors, setup),
		cmocka_unit_test_setup(test_json, setup),
		cmocka_unit_test_setup(test_server_only_not_judged, setup),
		cmocka_unit_test_setup(test_suites_need_tls12, setup),
		cmocka_unit_test_setup(test_random, setup),
		cmocka_unit_test_setup(test_cost, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Name tables against two independent sources: every suite OpenSSL knows
 * (`openssl ciphers -V -stdname`, with its Enc/Au/Mac columns checking the weak
 * verdict) and every suite and alert Wireshark knows (`tshark -G values`). Without
 * either tool those checks are skipped (exit 249), which CI=true turns into a failure;
 * the checks against the registries written out here run first, always.
 *
 * Known spelling differences from Wireshark, allowed and nothing else:
 * - GREASE values: Wireshark "Reserved (GREASE)", here "GREASE";
 * - 0xcc13..0xcc15 (pre-RFC 7905 ChaCha20): Wireshark reuses the final names of
 *   0xcca8..0xccaa, here they carry an "_OLD" suffix so every name is unique;
 * - alerts: Wireshark writes "Unknown CA" for unknown_ca and names alert 1 ("End of
 *   Early Data", a TLS 1.3 draft's, never registered), which has no name here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tlsaudit/record.h"
#include "tlsaudit/tls.h"

#define SKIP_EXIT 249

static bool have_tool(const char *cmd)
{
	char line[256];

	snprintf(line, sizeof(line), "command -v %s >/dev/null 2>&1", cmd);
	return system(line) == 0;
}

static void test_sorted_and_basics(void **state)
{
	(void)state;
	assert_true(tls_names_sorted());
	assert_string_equal(tls_version_name(TLS_V_SSL2), "SSLv2");
	assert_string_equal(tls_version_name(TLS_V_SSL3), "SSLv3");
	assert_string_equal(tls_version_name(TLS_V_10), "TLSv1.0");
	assert_string_equal(tls_version_name(TLS_V_11), "TLSv1.1");
	assert_string_equal(tls_version_name(TLS_V_12), "TLSv1.2");
	assert_string_equal(tls_version_name(TLS_V_13), "TLSv1.3");
	assert_null(tls_version_name(0x7f1c));

	assert_string_equal(tls_group_name(0x0017), "secp256r1");
	assert_string_equal(tls_group_name(0x001d), "x25519");
	assert_string_equal(tls_group_name(0x001e), "x448");
	assert_string_equal(tls_group_name(0x0100), "ffdhe2048");
	assert_string_equal(tls_group_name(0x0104), "ffdhe8192");
	assert_string_equal(tls_group_name(0x001f), "brainpoolP256r1tls13");
	assert_string_equal(tls_group_name(0x11ec), "X25519MLKEM768");
	assert_string_equal(tls_group_name(0x11eb), "SecP256r1MLKEM768");
	assert_string_equal(tls_group_name(0x11ed), "SecP384r1MLKEM1024");
	assert_string_equal(tls_group_name(0x6399), "X25519Kyber768Draft00");
	assert_string_equal(tls_group_name(0x0200), "MLKEM512");
	assert_string_equal(tls_group_name(0x0201), "MLKEM768");
	assert_string_equal(tls_group_name(0x0202), "MLKEM1024");
	assert_null(tls_group_name(0x1234));

	assert_string_equal(tls_extension_name(0), "server_name");
	assert_string_equal(tls_extension_name(43), "supported_versions");
	assert_string_equal(tls_extension_name(0xfe0d), "encrypted_client_hello");

	assert_string_equal(tls_cipher_name(0x00ff), "TLS_EMPTY_RENEGOTIATION_INFO_SCSV");
	assert_string_equal(tls_cipher_name(0x5600), "TLS_FALLBACK_SCSV");
	assert_string_equal(tls_cipher_name(0x1301), "TLS_AES_128_GCM_SHA256");
	assert_string_equal(tls_cipher_name(0xc0b0), "TLS_ECCPWD_WITH_AES_128_GCM_SHA256");
	assert_string_equal(tls_cipher_name(0x00c6), "TLS_SM4_GCM_SM3");
	assert_string_equal(tls_cipher_name(0xc100), "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC");
	assert_string_equal(tls_cipher_name(0xc03c), "TLS_RSA_WITH_ARIA_128_CBC_SHA256");
	assert_string_equal(tls_cipher_name(0xc09c), "TLS_RSA_WITH_AES_128_CCM");
	assert_null(tls_cipher_name(0x1234));
}

/*
 * The whole IANA "TLS Alerts" registry: RFC 9846 appendix B.2 with the reserved values
 * under the names of the versions that defined them, 52 from RFC 9146, 121 from RFC
 * 9849. Every other value must have no name.
 */
static const struct {
	uint8_t id;
	const char *name;
} iana_alerts[] = {
	{ 0, "close_notify" },
	{ 10, "unexpected_message" },
	{ 20, "bad_record_mac" },
	{ 21, "decryption_failed" },
	{ 22, "record_overflow" },
	{ 30, "decompression_failure" },
	{ 40, "handshake_failure" },
	{ 41, "no_certificate" },
	{ 42, "bad_certificate" },
	{ 43, "unsupported_certificate" },
	{ 44, "certificate_revoked" },
	{ 45, "certificate_expired" },
	{ 46, "certificate_unknown" },
	{ 47, "illegal_parameter" },
	{ 48, "unknown_ca" },
	{ 49, "access_denied" },
	{ 50, "decode_error" },
	{ 51, "decrypt_error" },
	{ 52, "too_many_cids_requested" },
	{ 60, "export_restriction" },
	{ 70, "protocol_version" },
	{ 71, "insufficient_security" },
	{ 80, "internal_error" },
	{ 86, "inappropriate_fallback" },
	{ 90, "user_canceled" },
	{ 100, "no_renegotiation" },
	{ 109, "missing_extension" },
	{ 110, "unsupported_extension" },
	{ 111, "certificate_unobtainable" },
	{ 112, "unrecognized_name" },
	{ 113, "bad_certificate_status_response" },
	{ 114, "bad_certificate_hash_value" },
	{ 115, "unknown_psk_identity" },
	{ 116, "certificate_required" },
	{ 117, "general_error" },
	{ 120, "no_application_protocol" },
	{ 121, "ech_required" },
};

#define N_IANA_ALERTS (sizeof(iana_alerts) / sizeof(iana_alerts[0]))

static void test_alerts(void **state)
{
	unsigned int v;
	size_t k = 0;

	(void)state;
	for (v = 0; v < 256; v++) {
		const char *ours = tls_alert_name((uint8_t)v);

		if (k < N_IANA_ALERTS && iana_alerts[k].id == v) {
			if (!ours || strcmp(ours, iana_alerts[k].name) != 0)
				fail_msg("alert %u: IANA %s, ours %s", v, iana_alerts[k].name,
					 ours ? ours : "(none)");
			k++;
		} else if (ours) {
			fail_msg("alert %u: ours %s, unregistered", v, ours);
		}
	}
	assert_int_equal(k, N_IANA_ALERTS);
	assert_int_equal(N_IANA_ALERTS, 37);
}

/* The weak verdict per DESIGN.md: NULL, EXPORT, anon, RC4, DES/3DES, MD5. */
static void test_weak(void **state)
{
	static const uint16_t weak[] = {
		0x0000, 0x0001, 0x0002, 0x0003, 0x0004, 0x0005, 0x000a, 0x0009, 0x0018,
		0x001b, 0x0034, 0x003b, 0x0062, 0xc006, 0xc011, 0xc012, 0xc018, 0xc0b4,
		0xff01, 0xff08,
	};
	static const uint16_t strong[] = {
		0x002f, 0x0035, 0x009c, 0xc02b, 0xc02f, 0xcca8, 0x1301, 0x1302, 0x1303,
		0x00ff, 0x5600, 0xc09c, 0x0041,
	};
	struct hs_record r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(weak) / sizeof(weak[0]); i++)
		assert_true(tls_cipher_weak(weak[i]));
	for (i = 0; i < sizeof(strong) / sizeof(strong[0]); i++)
		assert_false(tls_cipher_weak(strong[i]));
	/* Unknown suites are not called weak: the report shows their number instead. */
	assert_false(tls_cipher_weak(0x1234));

	memset(&r, 0, sizeof(r));
	r.cipher_id = 0x0004;
	assert_false(hs_weak_cipher(&r)); /* no suite chosen */
	r.has_cipher = true;
	assert_true(hs_weak_cipher(&r));
}

static bool openssl_weak(const char *line)
{
	return strstr(line, "Enc=None") || strstr(line, "Enc=RC4") || strstr(line, "Enc=DES") ||
	       strstr(line, "Enc=3DES") || strstr(line, "Au=None") || strstr(line, "Mac=MD5") ||
	       strstr(line, "export");
}

static void test_openssl(void **state)
{
	FILE *f;
	char line[512];
	int n = 0;

	(void)state;
	f = popen("openssl ciphers -V -stdname 'ALL:COMPLEMENTOFALL:@SECLEVEL=0' 2>/dev/null",
		  "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned int hi, lo;
		char name[128];
		const char *ours;

		if (sscanf(line, " 0x%x,0x%x - %127s", &hi, &lo, name) != 3)
			continue;
		ours = tls_cipher_name((uint16_t)(hi << 8 | lo));
		if (!ours || strcmp(ours, name) != 0)
			fail_msg("0x%02x%02x: openssl %s, ours %s", hi, lo, name,
				 ours ? ours : "(none)");
		if (tls_cipher_weak((uint16_t)(hi << 8 | lo)) != openssl_weak(line))
			fail_msg("0x%02x%02x %s: weak verdict differs from openssl", hi, lo, name);
		n++;
	}
	pclose(f);
	assert_true(n > 100);
}

static bool allowed_difference(unsigned int id, const char *theirs, const char *ours)
{
	size_t lt = strlen(theirs);

	if (tls_is_grease((uint16_t)id))
		return strcmp(theirs, "Reserved (GREASE)") == 0 && strcmp(ours, "GREASE") == 0;
	if (id >= 0xcc13 && id <= 0xcc15)
		return strncmp(ours, theirs, lt) == 0 && strcmp(ours + lt, "_OLD") == 0;
	return false;
}

/* Wireshark's alert title ("Unknown CA", "No application Protocol") as an IANA name. */
static void alert_title_to_name(const char *title, char *out, size_t cap)
{
	size_t i;

	for (i = 0; title[i] && i + 1 < cap; i++)
		out[i] = title[i] == ' ' ? '_' : (char)(title[i] | 0x20);
	out[i] = '\0';
}

static void check_tshark_alert(unsigned long id, const char *title)
{
	char name[128];
	const char *ours;

	assert_true(id <= 0xff);
	ours = tls_alert_name((uint8_t)id);
	if (id == 1) {
		assert_null(ours);
		return;
	}
	alert_title_to_name(title, name, sizeof(name));
	if (!ours || strcmp(ours, name) != 0)
		fail_msg("alert %lu: tshark %s, ours %s", id, title, ours ? ours : "(none)");
}

static void test_tshark(void **state)
{
	static const char suite_key[] = "V\ttls.handshake.ciphersuite\t";
	static const char alert_key[] = "V\ttls.alert_message.desc\t";
	FILE *f;
	char line[512];
	int n = 0, n_alerts = 0;

	(void)state;
	f = popen("tshark -G values 2>/dev/null", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *field, *val, *name, *save = NULL;
		const char *ours;
		unsigned long id;
		bool alert = strncmp(line, alert_key, sizeof(alert_key) - 1) == 0;

		if (!alert && strncmp(line, suite_key, sizeof(suite_key) - 1) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		strtok_r(line, "\t", &save);
		field = strtok_r(NULL, "\t", &save);
		val = strtok_r(NULL, "\t", &save);
		name = strtok_r(NULL, "\t", &save);
		assert_non_null(field);
		assert_non_null(val);
		assert_non_null(name);
		id = strtoul(val, NULL, 0);
		if (alert) {
			check_tshark_alert(id, name);
			n_alerts++;
			continue;
		}
		assert_true(id <= 0xffff);
		ours = tls_cipher_name((uint16_t)id);
		if (!ours)
			fail_msg("0x%04lx %s: missing from our table", id, name);
		if (strcmp(ours, name) != 0 && !allowed_difference((unsigned int)id, name, ours))
			fail_msg("0x%04lx: tshark %s, ours %s", id, name, ours);
		n++;
	}
	pclose(f);
	assert_true(n > 300);
	assert_true(n_alerts > 30);
}

int main(void)
{
	const struct CMUnitTest own[] = {
		cmocka_unit_test(test_sorted_and_basics),
		cmocka_unit_test(test_alerts),
		cmocka_unit_test(test_weak),
	};
	const struct CMUnitTest tools[] = {
		cmocka_unit_test(test_openssl),
		cmocka_unit_test(test_tshark),
	};
	const char *ci = getenv("CI");
	int failed;

	failed = cmocka_run_group_tests(own, NULL, NULL);
	if (failed)
		return failed;
	if (!have_tool("openssl") || !have_tool("tshark")) {
		printf("openssl or tshark not installed: cannot cross-check the name tables\n");
		if (ci && strcmp(ci, "true") == 0)
			return 1;
		return SKIP_EXIT;
	}
	return cmocka_run_group_tests(tools, NULL, NULL);
}

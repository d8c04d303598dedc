// SPDX-License-Identifier: GPL-2.0-only
/*
 * The JSON record is an interface: field names, order, null forms and escaping are
 * compared verbatim; text is valid UTF-8 that python3's json reads back as intended. The text line must carry the marks a person scans for: LEGACY,
 * WEAK, FAILED with the alert or outcome and who, PLAINTEXT with why, FALLBACK, mx=.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "tlsaudit/cert.h"
#include "tlsaudit/export.h"
#include "tlsaudit/policy.h"
#include "tlsaudit/util.h"

/* 2026-11-23T10:00:00.123Z */
#define T0 (1795428000ULL * 1000000000ULL + 123456789ULL)

static void base_record(struct hs_record *r)
{
	memset(r, 0, sizeof(*r));
	r->kind = HS_KIND_TLS;
	r->time_ns = T0;
	r->client.family = AF_INET;
	r->client.addr[0] = 10, r->client.addr[3] = 5;
	r->client.port = 40000;
	r->server.family = AF_INET;
	r->server.addr[0] = 192, r->server.addr[1] = 0, r->server.addr[2] = 2, r->server.addr[3] = 1;
	r->server.port = 443;
}

static void test_json_tls13_offline(void **state)
{
	static const char want[] =
		"{\"time\":\"2026-11-23T10:00:00.123Z\",\"role\":null,\"client_ip\":\"10.0.0.5\","
		"\"client_port\":40000,\"server_ip\":\"192.0.2.1\",\"server_port\":443,"
		"\"sni\":\"example.com\",\"offered_max\":\"TLSv1.3\",\"version\":\"TLSv1.3\","
		"\"cipher\":\"TLS_AES_128_GCM_SHA256\",\"cipher_id\":\"0x1301\",\"legacy\":false,"
		"\"limited_by\":null,\"weak_cipher\":false,\"group\":\"X25519MLKEM768\","
		"\"starttls\":null,\"alpn\":\"h2\",\"ja3\":\"0123456789abcdef0123456789abcdef\","
		"\"ja4\":\"t13d1516h2_8daaf6152771_e5627efa2ab1\",\"pid\":null,\"comm\":null,"
		"\"exe\":null,\"uid\":null,\"cgroup\":null,\"unit\":null,\"container\":null,"
		"\"container_id\":null,\"tls_lib\":null,"
		"\"outcome\":null,\"outcome_by\":null,\"alert\":null,\"smtp_tls\":null,"
		"\"mx_host\":null,\"plaintext_fallback\":null,\"cert_subject\":null,"
		"\"cert_issuer\":null,\"cert_not_after\":null,\"cert_key\":null,"
		"\"cert_sig\":null,\"cert_sha256\":null,\"cert_problems\":null,"
		"\"client_accepted_bad_cert\":null,"
		"\"would_fail\":null}";
	struct hs_record r;
	char buf[4096];
	int n;

	(void)state;
	base_record(&r);
	util_strlcpy(r.sni, "example.com", sizeof(r.sni));
	r.offered_max = TLS_V_13;
	r.version = TLS_V_13;
	r.cipher_id = 0x1301;
	r.has_cipher = true;
	r.group = 0x11ec;
	r.has_group = true;
	util_strlcpy(r.alpn, "h2", sizeof(r.alpn));
	util_strlcpy(r.ja3, "0123456789abcdef0123456789abcdef", sizeof(r.ja3));
	util_strlcpy(r.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1", sizeof(r.ja4));
	n = export_json_record(&r, NULL, buf, sizeof(buf));
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

static void test_json_legacy_with_process(void **state)
{
	static const char want[] =
		"{\"time\":\"2026-11-23T10:00:00.123Z\",\"role\":\"client\","
		"\"client_ip\":\"2001:db8::5\",\"client_port\":40000,\"server_ip\":\"192.0.2.1\","
		"\"server_port\":587,\"sni\":null,\"offered_max\":\"TLSv1.0\","
		"\"version\":\"TLSv1.0\",\"cipher\":\"TLS_RSA_WITH_RC4_128_SHA\","
		"\"cipher_id\":\"0x0005\",\"legacy\":true,\"limited_by\":\"client\","
		"\"weak_cipher\":true,\"group\":null,\"starttls\":\"smtp\",\"alpn\":null,"
		"\"ja3\":null,\"ja4\":null,\"pid\":4242,\"comm\":\"smtp\","
		"\"exe\":\"/usr/lib/postfix/sbin/smtp\",\"uid\":107,"
		"\"cgroup\":\"/system.slice/postfix.service\",\"unit\":\"postfix.service\","
		"\"container\":null,\"container_id\":null,\"tls_lib\":\"libssl.so.1.1\","
		"\"outcome\":null,\"outcome_by\":null,\"alert\":null,\"smtp_tls\":null,"
		"\"mx_host\":null,\"plaintext_fallback\":null,"
		"\"cert_subject\":\"mx.example.net\",\"cert_issuer\":\"Old \\\"CA\\\"\","
		"\"cert_not_after\":\"2026-11-01T00:00:00Z\",\"cert_key\":\"RSA-1024\","
		"\"cert_sig\":\"sha1WithRSAEncryption\",\"cert_sha256\":"
		"\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
		"\"cert_problems\":[\"expired\",\"self_signed\",\"weak_key\",\"sha1_signature\"],"
		"\"client_accepted_bad_cert\":true,"
		"\"would_fail\":null}";
	struct hs_record r;
	char buf[4096];

	(void)state;
	base_record(&r);
	r.role = HS_ROLE_CLIENT;
	r.client.family = AF_INET6;
	memset(r.client.addr, 0, sizeof(r.client.addr));
	r.client.addr[0] = 0x20, r.client.addr[1] = 0x01, r.client.addr[2] = 0x0d;
	r.client.addr[3] = 0xb8, r.client.addr[15] = 5;
	r.server.port = 587;
	r.offered_max = TLS_V_10;
	r.version = TLS_V_10;
	r.cipher_id = 0x0005;
	r.has_cipher = true;
	r.starttls_smtp = true;
	r.proc.known = true;
	r.proc.pid = 4242;
	r.proc.uid = 107;
	util_strlcpy(r.proc.comm, "smtp", sizeof(r.proc.comm));
	util_strlcpy(r.proc.exe, "/usr/lib/postfix/sbin/smtp", sizeof(r.proc.exe));
	util_strlcpy(r.proc.cgroup, "/system.slice/postfix.service", sizeof(r.proc.cgroup));
	util_strlcpy(r.proc.unit, "postfix.service", sizeof(r.proc.unit));
	util_strlcpy(r.proc.tls_lib, "libssl.so.1.1", sizeof(r.proc.tls_lib));
	/* The server's certificate, as the flow layer fills it; names are escaped. */
	r.cert.state = HS_CERT_OK;
	util_strlcpy(r.cert.subject, "mx.example.net", sizeof(r.cert.subject));
	util_strlcpy(r.cert.issuer, "Old \"CA\"", sizeof(r.cert.issuer));
	r.cert.not_after = 1793491200;
	util_strlcpy(r.cert.key, "RSA-1024", sizeof(r.cert.key));
	util_strlcpy(r.cert.sig, "sha1WithRSAEncryption", sizeof(r.cert.sig));
	util_strlcpy(r.cert.sha256, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		     sizeof(r.cert.sha256));
	r.cert.problems = TLS_CERT_EXPIRED | TLS_CERT_SELF_SIGNED | TLS_CERT_WEAK_KEY |
			  TLS_CERT_SHA1_SIGNATURE;
	r.cert.accepted_bad = HS_TRI_TRUE;
	assert_true(export_json_record(&r, NULL, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, want);
}

/* The server chose TLS 1.0 although the client offered 1.3. */
/*
 * would_fail, the record's last field: the verdicts named by the set that judged them,
 * {} when every policy passes, null on a plaintext session or under another set.
 */
static void test_json_would_fail(void **state)
{
	static struct tls_policy_set ps;
	struct hs_record r;
	char buf[4096], err[128];
	const char *wf;

	(void)state;
	tls_policy_set_init(&ps);
	assert_int_equal(tls_policy_set_list(&ps, "tls12,mozilla-intermediate,fips-ems", err,
					     sizeof(err)), 0);
	assert_int_equal(tls_policy_set_finish(&ps, err, sizeof(err)), 0);
	base_record(&r);
	r.judged = true;
	r.n_verdicts = 3;
	assert_true(export_json_record(&r, &ps, buf, sizeof(buf)) > 0);
	wf = strstr(buf, ",\"would_fail\":");
	assert_non_null(wf);
	assert_string_equal(wf, ",\"would_fail\":{}}");
	r.verdicts[0].by = TLS_POLICY_BY_CLIENT;
	r.verdicts[0].reason = TLS_REASON_VERSION;
	r.verdicts[2].by = TLS_POLICY_BY_SERVER;
	r.verdicts[2].reason = TLS_REASON_EMS;
	assert_true(export_json_record(&r, &ps, buf, sizeof(buf)) > 0);
	assert_string_equal(strstr(buf, ",\"would_fail\":"),
			    ",\"would_fail\":{\"tls12\":{\"by\":\"client\",\"reason\":\"version\"},"
			    "\"fips-ems\":{\"by\":\"server\",\"reason\":\"ems\"}}}");
	/* Judged by another set (two policies), or not at all: nothing to name them by. */
	r.n_verdicts = 2;
	assert_true(export_json_record(&r, &ps, buf, sizeof(buf)) > 0);
	assert_string_equal(strstr(buf, ",\"would_fail\":"), ",\"would_fail\":null}");
	r.n_verdicts = 3;
	r.judged = false;
	assert_true(export_json_record(&r, &ps, buf, sizeof(buf)) > 0);
	assert_string_equal(strstr(buf, ",\"would_fail\":"), ",\"would_fail\":null}");
	/* tls_policy_judge_record: a plaintext session is never judged. */
	r.kind = HS_KIND_PLAINTEXT_SMTP;
	tls_policy_judge_record(&ps, &r);
	assert_false(r.judged);
	r.kind = HS_KIND_TLS;
	tls_policy_judge_record(&ps, &r);
	/* No ClientHello in the offer: nothing to judge it by, not a pass. */
	assert_false(r.judged);
	assert_true(export_json_record(&r, &ps, buf, sizeof(buf)) > 0);
	assert_string_equal(strstr(buf, ",\"would_fail\":"), ",\"would_fail\":null}");
	r.offer.flags = TLS_OFFER_CLIENT;
	tls_policy_judge_record(&ps, &r);
	assert_true(r.judged);
	assert_int_equal(r.n_verdicts, 3);
}

static void test_json_limited_by_server(void **state)
{
	struct hs_record r;
	char buf[4096];

	(void)state;
	base_record(&r);
	r.offered_max = TLS_V_13;
	r.version = TLS_V_10;
	r.cipher_id = 0xc014;
	r.has_cipher = true;
	r.group = 0x0017;
	r.has_group = true;
	assert_true(export_json_record(&r, NULL, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"version\":\"TLSv1.0\",\"cipher\":"
				    "\"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA\",\"cipher_id\":\"0xc014\","
				    "\"legacy\":true,\"limited_by\":\"server\",\"weak_cipher\":false,"
				    "\"group\":\"secp256r1\","));
}

/* No ServerHello; numbers without a registry name are still printed, as "0xNNNN". */
static void test_json_nulls_and_unknown_ids(void **state)
{
	struct hs_record r;
	char buf[4096];

	(void)state;
	base_record(&r);
	r.offered_max = TLS_V_12;
	assert_true(export_json_record(&r, NULL, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"sni\":null,\"offered_max\":\"TLSv1.2\",\"version\":null,"
				    "\"cipher\":null,\"cipher_id\":null,\"legacy\":false,"
				    "\"limited_by\":null,\"weak_cipher\":false,\"group\":null,"));

	r.version = 0x7f1c; /* a TLS 1.3 draft number */
	r.cipher_id = 0xabcd;
	r.has_cipher = true;
	r.group = 0x1234;
	r.has_group = true;
	assert_true(export_json_record(&r, NULL, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"version\":\"0x7f1c\",\"cipher\":\"0xabcd\","
				    "\"cipher_id\":\"0xabcd\","));
	assert_non_null(strstr(buf, "\"group\":\"0x1234\","));
}

/* Peer bytes: quotes, backslashes, control and non-ASCII bytes cannot break the line. */
static void test_json_hostile_sni(void **state)
{
	struct hs_record r;
	char buf[4096];

	(void)state;
	base_record(&r);
	util_strlcpy(r.sni, "a\"b\\c\x01\n\x7f\xc3\xa9</script>", sizeof(r.sni));
	util_strlcpy(r.alpn, "h2\",\"x\":\"1", sizeof(r.alpn));
	assert_true(export_json_record(&r, NULL, buf, sizeof(buf)) > 0);
	/* é is valid UTF-8 and goes out as it is; the control characters are escaped. */
	assert_non_null(strstr(buf, "\"sni\":\"a\\\"b\\\\c\\u0001\\u000a\\u007f\xc3\xa9"
				    "</script>\","));
	assert_non_null(strstr(buf, "\"alpn\":\"h2\\\",\\\"x\\\":\\\"1\","));
	assert_null(strchr(buf, '\n'));
}

/* Every buffer size below the need fails cleanly; ASan sees any overrun. */
static void test_json_small_buffers(void **state)
{
	struct hs_record r;
	char full[4096];
	size_t need, len;
	int n;

	(void)state;
	base_record(&r);
	memset(r.sni, 0xff, sizeof(r.sni) - 1);
	r.sni[sizeof(r.sni) - 1] = '\0';
	n = export_json_record(&r, NULL, full, sizeof(full));
	assert_true(n > 0);
	need = (size_t)n + 1;
	for (len = 0; len <= need; len++) {
		char *b = test_malloc(len ? len : 1);

		n = export_json_record(&r, NULL, b, len);
		if (len < need) {
			assert_int_equal(n, -1);
		} else {
			assert_int_equal(n, need - 1);
			assert_string_equal(b, full);
		}
		test_free(b);
	}
}

static void test_json_string_escape(void **state)
{
	char buf[64];
	size_t off = 0;

	(void)state;
	assert_int_equal(util_json_string(buf, sizeof(buf), &off, "x\ty"), 0);
	assert_string_equal(buf, "\"x\\u0009y\"");
	assert_int_equal(off, 10);
	off = 0;
	assert_int_equal(util_json_string(buf, 5, &off, "abcdef"), -1);
}

/*
 * Text a user or a SIEM reads as it was: valid UTF-8 (2, 3 and 4 bytes, the highest
 * code points, the edges of the surrogates) passes; what is not UTF-8 (a Latin-1 byte,
 * a stray continuation byte, a cut sequence, overlong forms, surrogates, past
 * U+10FFFF) is \u00XX per byte; control characters, C1 included, are escaped.
 */
static const struct {
	const char *in, *out;
} utf8_cases[] = {
	{ "/opt/caf\xc3\xa9/bin/app", "\"/opt/caf\xc3\xa9/bin/app\"" },
	{ "\xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac", "\"\xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac\"" },
	{ "\xf0\x9f\x94\x92x", "\"\xf0\x9f\x94\x92x\"" },
	{ "\xc2\xa0\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf",
	  "\"\xc2\xa0\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\"" },
	{ "/opt/caf\xe9/app", "\"/opt/caf\\u00e9/app\"" },
	{ "\x80", "\"\\u0080\"" },
	{ "\xc3", "\"\\u00c3\"" },
	{ "\xc3(", "\"\\u00c3(\"" },
	{ "\xe2\x82", "\"\\u00e2\\u0082\"" },
	{ "\xf0\x9f\x94.", "\"\\u00f0\\u009f\\u0094.\"" },
	{ "\xc0\xaf", "\"\\u00c0\\u00af\"" },
	{ "\xe0\x80\xaf", "\"\\u00e0\\u0080\\u00af\"" },
	{ "\xf0\x80\x80\xaf", "\"\\u00f0\\u0080\\u0080\\u00af\"" },
	{ "\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"" },
	{ "\xed\xbf\xbf", "\"\\u00ed\\u00bf\\u00bf\"" },
	{ "\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"" },
	{ "\xf5\x80\xfe\xff", "\"\\u00f5\\u0080\\u00fe\\u00ff\"" },
	{ "\xc2\x9b[31m\x7f", "\"\\u009b[31m\\u007f\"" },
	{ "\xc3\xa9\\\"\xe9", "\"\xc3\xa9\\\\\\\"\\u00e9\"" },
};

static void test_json_string_utf8(void **state)
{
	char buf[128];
	size_t i, off;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(utf8_cases); i++) {
		off = 0;
		assert_int_equal(util_json_string(buf, sizeof(buf), &off, utf8_cases[i].in), 0);
		if (strcmp(buf, utf8_cases[i].out))
			fail_msg("case %zu: got %s, want %s", i, buf, utf8_cases[i].out);
	}
}

/*
 * Python's json reads each of them back as the text intended: the UTF-8 decoding of
 * the input with every byte that is not UTF-8 taken as U+00XX (Python's own decoder
 * judges validity, an oracle independent of ours), from a file that must itself be
 * valid UTF-8.
 */
static void test_json_string_python(void **state)
{
	static const char script[] =
		"import codecs, json, sys\n"
		"codecs.register_error('u00xx', lambda e: (''.join(chr(b) for b in "
		"e.object[e.start:e.end]), e.end))\n"
		"bad = 0\n"
		"for line in open(sys.argv[1], encoding='utf-8', errors='strict'):\n"
		"    h, j = line.rstrip('\\n').split('\\t', 1)\n"
		"    want = bytes.fromhex(h).decode('utf-8', 'u00xx')\n"
		"    got = json.loads(j)\n"
		"    if got != want:\n"
		"        print('%s: got %r, want %r' % (h, got, want))\n"
		"        bad += 1\n"
		"print('%d lines read back' % (len(open(sys.argv[1]).readlines())))\n"
		"sys.exit(1 if bad else 0)\n";
	char path[64], spath[64], cmd[256], buf[128];
	const unsigned char *p;
	size_t i, off;
	FILE *f;
	int fd, rc;

	(void)state;
	if (system("command -v python3 >/dev/null 2>&1"))
		skip();
	snprintf(path, sizeof(path), "/tmp/tlsaudit-json-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	for (i = 0; i < ARRAY_SIZE(utf8_cases); i++) {
		for (p = (const unsigned char *)utf8_cases[i].in; *p; p++)
			fprintf(f, "%02x", *p);
		off = 0;
		assert_int_equal(util_json_string(buf, sizeof(buf), &off, utf8_cases[i].in), 0);
		fprintf(f, "\t%s\n", buf);
	}
	fclose(f);
	snprintf(spath, sizeof(spath), "/tmp/tlsaudit-json-py-XXXXXX");
	fd = mkstemp(spath);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(script, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 %s %s", spath, path);
	rc = system(cmd);
	unlink(path);
	unlink(spath);
	assert_int_equal(rc, 0);
}

/* Every buffer length around a plain and an escaped string: written whole or refused. */
static void test_json_string_lengths(void **state)
{
	static const char *const in[] = { "plain.example.com", "a\"b\\c\x01" "d\xc3", "",
					  "caf\xc3\xa9\xf0\x9f\x94\x92\xe9" };
	static const char *const out[] = { "\"plain.example.com\"",
					   "\"a\\\"b\\\\c\\u0001d\\u00c3\"", "\"\"",
					   "\"caf\xc3\xa9\xf0\x9f\x94\x92\\u00e9\"" };
	size_t i, len, off;

	(void)state;
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		for (len = 0; len <= strlen(out[i]) + 12; len++) {
			char *b = test_malloc(len ? len : 1);
			int rc;

			off = 0;
			rc = util_json_string(b, len, &off, in[i]);
			if (len > strlen(out[i]) + 8) {
				/* Room for the worst case of the last byte: always written. */
				assert_int_equal(rc, 0);
			}
			if (rc == 0) {
				assert_string_equal(b, out[i]);
				assert_int_equal(off, strlen(out[i]));
			}
			test_free(b);
		}
	}
}

/* RFC 3339 with milliseconds from the day count: leap days, centuries, the last one. */
static void test_format_time(void **state)
{
	static const struct {
		uint64_t ns;
		const char *s;
	} t[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ 951782400999000000ULL, "2000-02-29T00:00:00.999Z" },
		{ 1709164799123000000ULL, "2024-02-28T23:59:59.123Z" },
		{ 4102444800000000000ULL, "2100-01-01T00:00:00.000Z" },
		{ UINT64_MAX, "2554-07-21T23:34:33.709Z" },
	};
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		util_format_time(t[i].ns, buf, sizeof(buf));
		assert_string_equal(buf, t[i].s);
	}
	/* Too small for the whole stamp: nothing rather than a cut one. */
	util_format_time(0, buf, 24);
	assert_string_equal(buf, "");
}

static void test_format_ip(void **state)
{
	static const struct {
		uint8_t a[4];
		const char *s;
	} v4[] = {
		{ { 0, 0, 0, 0 }, "0.0.0.0" },
		{ { 255, 255, 255, 255 }, "255.255.255.255" },
		{ { 10, 0, 100, 9 }, "10.0.100.9" },
		{ { 192, 168, 20, 101 }, "192.168.20.101" },
	};
	uint8_t v6[16] = { 0xfd, 0, [15] = 1 };
	char buf[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		util_format_ip(AF_INET, v4[i].a, buf, sizeof(buf));
		assert_string_equal(buf, v4[i].s);
		util_format_ip(AF_INET, v4[i].a, buf, INET_ADDRSTRLEN);
		assert_string_equal(buf, v4[i].s);
	}
	util_format_ip(AF_INET6, v6, buf, sizeof(buf));
	assert_string_equal(buf, "fd00::1");
	/* Too small for any address: inet_ntop refuses, "?" */
	util_format_ip(AF_INET, v4[1].a, buf, 8);
	assert_string_equal(buf, "?");
}

static void test_text_line(void **state)
{
	struct hs_record r;
	char buf[1024];

	(void)state;
	base_record(&r);
	util_strlcpy(r.sni, "mail.example.net", sizeof(r.sni));
	r.offered_max = TLS_V_10;
	r.version = TLS_V_10;
	r.cipher_id = 0x000a;
	r.has_cipher = true;
	r.role = HS_ROLE_CLIENT;
	r.proc.known = true;
	r.proc.pid = 77;
	util_strlcpy(r.proc.comm, "curl", sizeof(r.proc.comm));
	assert_true(export_text_record(&r, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "2026-11-23T10:00:00.123Z curl[77] client 10.0.0.5:40000 -> "
				 "192.0.2.1:443 sni=mail.example.net TLSv1.0 "
				 "TLS_RSA_WITH_3DES_EDE_CBC_SHA LEGACY WEAK limited_by=client");
}

/* The certificate's problems, and whether the client went on past them. */
static void test_text_cert(void **state)
{
	static const struct {
		uint8_t state;
		uint32_t problems;
		uint8_t accepted;
		const char *tail;
	} cases[] = {
		{ HS_CERT_OK, TLS_CERT_EXPIRED | TLS_CERT_SELF_SIGNED, HS_TRI_TRUE,
		  " cert=expired,self_signed ACCEPTED" },
		{ HS_CERT_OK, TLS_CERT_NAME_MISMATCH, HS_TRI_FALSE, " cert=name_mismatch refused" },
		{ HS_CERT_OK, TLS_CERT_WEAK_KEY | TLS_CERT_SHA1_SIGNATURE, HS_TRI_NULL,
		  " cert=weak_key,sha1_signature" },
		{ HS_CERT_OK, 0, HS_TRI_NULL, "" },
		{ HS_CERT_CUT, 0, HS_TRI_NULL, " cert=cut" },
		{ HS_CERT_BAD, 0, HS_TRI_NULL, " cert=malformed" },
		{ HS_CERT_NONE, 0, HS_TRI_NULL, "" },
	};
	const char *head = "2026-11-23T10:00:00.123Z - - 10.0.0.5:40000 -> 192.0.2.1:443 "
			   "sni=- TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";
	struct hs_record r;
	char buf[1024], want[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		base_record(&r);
		r.offered_max = TLS_V_12;
		r.version = TLS_V_12;
		r.cipher_id = 0xc02f;
		r.has_cipher = true;
		r.outcome = HS_OUTCOME_ESTABLISHED;
		r.cert.state = cases[i].state;
		r.cert.problems = cases[i].problems;
		r.cert.accepted_bad = cases[i].accepted;
		snprintf(want, sizeof(want), "%s%s", head, cases[i].tail);
		assert_true(export_text_record(&r, buf, sizeof(buf)) > 0);
		assert_string_equal(buf, want);
	}
}

static void test_text_hostile_sni_capped(void **state)
{
	struct hs_record r;
	char buf[1024], *sni;
	size_t i;

	(void)state;
	base_record(&r);
	r.version = TLS_V_12;
	r.offered_max = TLS_V_13;
	/* terminal escape sequences first, then far more than the column holds */
	util_strlcpy(r.sni, "\x1b]0;pwned\x07", sizeof(r.sni));
	for (i = strlen(r.sni); i < 200; i++)
		r.sni[i] = 'a';
	r.sni[200] = '\0';
	assert_true(export_text_record(&r, buf, sizeof(buf)) > 0);
	assert_null(strchr(buf, '\x1b'));
	assert_null(strchr(buf, '\x07'));
	sni = strstr(buf, "sni=");
	assert_non_null(sni);
	assert_memory_equal(sni, "sni=\\x1b]0;pwned\\x07aaa", 23);
	/* 64 columns of SNI, then the version */
	assert_string_equal(sni + 4 + 64, " TLSv1.2 -");
	assert_null(strstr(buf, "LEGACY"));
}

static void test_text_plaintext_smtp(void **state)
{
	static const struct {
		enum hs_smtp_tls why;
		enum hs_tri fallback;
		const char *mx, *tail;
	} cases[] = {
		{ HS_SMTP_NOT_OFFERED, HS_TRI_FALSE, "mx.example.net",
		  "192.0.2.1:25 mx=mx.example.net PLAINTEXT not_offered" },
		{ HS_SMTP_NOT_USED, HS_TRI_FALSE, "", "192.0.2.1:25 PLAINTEXT not_used" },
		{ HS_SMTP_REFUSED, HS_TRI_TRUE, "mx.example.net",
		  "192.0.2.1:25 mx=mx.example.net PLAINTEXT refused FALLBACK" },
		{ HS_SMTP_NOT_OFFERED, HS_TRI_TRUE, "",
		  "192.0.2.1:25 PLAINTEXT not_offered FALLBACK" },
		/* a record without a reason (an older producer) */
		{ HS_SMTP_NONE, HS_TRI_NULL, "", "192.0.2.1:25 PLAINTEXT" },
	};
	struct hs_record r;
	char buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		base_record(&r);
		r.kind = HS_KIND_PLAINTEXT_SMTP;
		r.role = HS_ROLE_CLIENT;
		r.server.port = 25;
		r.smtp_tls = (uint8_t)cases[i].why;
		r.plaintext_fallback = (uint8_t)cases[i].fallback;
		util_strlcpy(r.mx_host, cases[i].mx, sizeof(r.mx_host));
		assert_true(export_text_record(&r, buf, sizeof(buf)) > 0);
		assert_memory_equal(buf, "2026-11-23T10:00:00.123Z - client 10.0.0.5:40000 -> ", 52);
		if (strcmp(strstr(buf, "-> ") + 3, cases[i].tail))
			fail_msg("case %zu: got '%s', want tail '%s'", i, buf, cases[i].tail);
	}
}

/* Failed handshakes: the alert's name or how it ended, and who ended it. */
static void test_text_failed(void **state)
{
	static const struct {
		enum hs_outcome o;
		enum hs_side by;
		int alert; /* -1: none in the clear */
		const char *tail;
	} cases[] = {
		{ HS_OUTCOME_ALERT, HS_SIDE_SERVER, 70, " FAILED protocol_version (server)" },
		{ HS_OUTCOME_ALERT, HS_SIDE_SERVER, 40, " FAILED handshake_failure (server)" },
		{ HS_OUTCOME_ALERT, HS_SIDE_CLIENT, 48, " FAILED unknown_ca (client)" },
		{ HS_OUTCOME_ALERT, HS_SIDE_CLIENT, -1, " FAILED alert (client)" },
		{ HS_OUTCOME_ALERT, HS_SIDE_SERVER, 0xfe, " FAILED alert 0xfe (server)" },
		{ HS_OUTCOME_RESET, HS_SIDE_SERVER, -1, " FAILED reset (server)" },
		{ HS_OUTCOME_CLOSED, HS_SIDE_CLIENT, -1, " FAILED closed (client)" },
		{ HS_OUTCOME_CLOSED, HS_SIDE_NONE, -1, " FAILED closed" },
		{ HS_OUTCOME_TIMEOUT, HS_SIDE_NONE, -1, " FAILED timeout" },
		{ HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1, " TLSv1.0 - LEGACY limited_by=client" },
		{ HS_OUTCOME_NONE, HS_SIDE_NONE, -1, " TLSv1.0 - LEGACY limited_by=client" },
	};
	struct hs_record r;
	char buf[1024];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		base_record(&r);
		r.role = HS_ROLE_CLIENT;
		r.offered_max = TLS_V_10;
		r.version = TLS_V_10;
		r.outcome = (uint8_t)cases[i].o;
		r.outcome_by = (uint8_t)cases[i].by;
		r.has_alert = cases[i].alert >= 0;
		r.alert = cases[i].alert >= 0 ? (uint8_t)cases[i].alert : 0;
		assert_true(export_text_record(&r, buf, sizeof(buf)) > 0);
		n = strlen(cases[i].tail);
		if (strlen(buf) < n || strcmp(buf + strlen(buf) - n, cases[i].tail))
			fail_msg("case %zu: got '%s', want tail '%s'", i, buf, cases[i].tail);
	}

	/* The provider's cut-off, whole: refused before any ServerHello. */
	base_record(&r);
	r.role = HS_ROLE_CLIENT;
	r.offered_max = TLS_V_10;
	r.outcome = HS_OUTCOME_ALERT;
	r.outcome_by = HS_SIDE_SERVER;
	r.has_alert = true;
	r.alert = 70;
	util_strlcpy(r.sni, "api.example.net", sizeof(r.sni));
	r.proc.known = true;
	r.proc.pid = 77;
	util_strlcpy(r.proc.comm, "openssl", sizeof(r.proc.comm));
	assert_true(export_text_record(&r, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "2026-11-23T10:00:00.123Z openssl[77] client 10.0.0.5:40000 -> "
				 "192.0.2.1:443 sni=api.example.net no-ServerHello - FAILED "
				 "protocol_version (server)");
}

/* SMTP has no SNI: the server's greeting names it; an SNI, when sent, still wins. */
static void test_text_mx_host(void **state)
{
	struct hs_record r;
	char buf[1024];

	(void)state;
	base_record(&r);
	r.role = HS_ROLE_CLIENT;
	r.server.port = 25;
	r.offered_max = TLS_V_13;
	r.version = TLS_V_13;
	r.starttls_smtp = true;
	r.smtp_tls = HS_SMTP_STARTTLS;
	r.outcome = HS_OUTCOME_ESTABLISHED;
	util_strlcpy(r.mx_host, "mx\x1b[2J.example.net", sizeof(r.mx_host));
	assert_true(export_text_record(&r, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "192.0.2.1:25 mx=mx\\x1b[2J.example.net TLSv1.3 - STARTTLS"));
	assert_null(strchr(buf, '\x1b'));
	util_strlcpy(r.sni, "smtp.example.net", sizeof(r.sni));
	assert_true(export_text_record(&r, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, " sni=smtp.example.net TLSv1.3"));
	assert_null(strstr(buf, "mx="));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_tls13_offline),
		cmocka_unit_test(test_json_legacy_with_process),
		cmocka_unit_test(test_json_would_fail),
		cmocka_unit_test(test_json_limited_by_server),
		cmocka_unit_test(test_json_nulls_and_unknown_ids),
		cmocka_unit_test(test_json_hostile_sni),
		cmocka_unit_test(test_json_small_buffers),
		cmocka_unit_test(test_json_string_escape),
		cmocka_unit_test(test_text_line),
		cmocka_unit_test(test_text_cert),
		cmocka_unit_test(test_text_hostile_sni_capped),
		cmocka_unit_test(test_text_plaintext_smtp),
		cmocka_unit_test(test_text_failed),
		cmocka_unit_test(test_text_mx_host),
		cmocka_unit_test(test_json_string_lengths),
		cmocka_unit_test(test_json_string_utf8),
		cmocka_unit_test(test_json_string_python),
		cmocka_unit_test(test_format_ip),
		cmocka_unit_test(test_format_time),
	};

	setenv("TZ", "GMT0", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

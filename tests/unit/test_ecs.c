// SPDX-License-Identifier: GPL-2.0-only
/*
 * The handshake log in Elastic Common Schema: every line is one valid JSON object (read
 * back with the bounded reader) with the ECS fields where ECS has them (@timestamp,
 * event.*, tls.version "1.2" and version_protocol "tls", tls.next_protocol,
 * tls.client.ja3, server_name, tls.server.x509.* with the key's public_key_*, process.*,
 * user.id, container.*, source.*, destination.*) and the
 * rest under tlsaudit.*; absent values are left out; peer strings stay escaped; a buffer
 * too small is an error, never a cut line.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "tlsaudit/cert.h"
#include "tlsaudit/export.h"
#include "tlsaudit/jsonwalk.h"
#include "tlsaudit/policy.h"
#include "tlsaudit/util.h"

#define SEC 1000000000ULL

/* The fields of one line, as "a.b.c=value" lines (arrays as a.b[]=value). */
struct fields {
	char text[8192];
	size_t off;
};

static int collect(const struct util_json_path *p, int type, const char *s, size_t len,
		   void *ctx)
{
	struct fields *f = ctx;
	int i, n;

	(void)type;
	(void)len;
	for (i = 0; i < p->depth; i++) {
		n = snprintf(f->text + f->off, sizeof(f->text) - f->off, "%s%s",
			     p->seg[i].key && i ? "." : "", p->seg[i].key ? p->seg[i].key : "[]");
		f->off += (size_t)n;
	}
	n = snprintf(f->text + f->off, sizeof(f->text) - f->off, "=%s\n", s);
	f->off += (size_t)n;
	return 0;
}

static void render(const struct hs_record *r, struct fields *f)
{
	char line[8192];
	int n = export_ecs_record(r, NULL, line, sizeof(line));

	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(line));
	assert_null(strchr(line, '\n'));
	memset(f, 0, sizeof(*f));
	if (util_json_walk(line, (size_t)n, collect, f))
		fail_msg("not JSON: %s", line);
}

static void has(const struct fields *f, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	if (!strstr(f->text, want) && strncmp(f->text, want + 1, strlen(want + 1)))
		fail_msg("missing %s in:\n%s", line, f->text);
}

static void lacks(const struct fields *f, const char *prefix)
{
	char want[256];

	snprintf(want, sizeof(want), "\n%s", prefix);
	if (strstr(f->text, want) || !strncmp(f->text, prefix, strlen(prefix)))
		fail_msg("unexpected %s in:\n%s", prefix, f->text);
}

static struct hs_record base(void)
{
	struct hs_record r;

	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * SEC + 123000000ULL;
	r.role = HS_ROLE_CLIENT;
	r.client.family = r.server.family = AF_INET;
	inet_pton(AF_INET, "10.0.0.5", r.client.addr);
	inet_pton(AF_INET, "192.0.2.1", r.server.addr);
	r.client.port = 40000;
	r.server.port = 443;
	return r;
}

static void test_established(void **state)
{
	struct hs_record r = base();
	struct fields f;

	(void)state;
	r.offered_max = TLS_V_13;
	r.version = TLS_V_12;
	r.cipher_id = 0xc02f;
	r.has_cipher = true;
	r.group = 29;
	r.has_group = true;
	r.outcome = HS_OUTCOME_ESTABLISHED;
	util_strlcpy(r.sni, "api.example.com", sizeof(r.sni));
	util_strlcpy(r.ja3, "0123456789abcdef0123456789abcdef", sizeof(r.ja3));
	util_strlcpy(r.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1", sizeof(r.ja4));
	r.proc.known = true;
	r.proc.pid = 4242;
	r.proc.uid = 107;
	util_strlcpy(r.proc.comm, "curl", sizeof(r.proc.comm));
	util_strlcpy(r.proc.exe, "/usr/bin/curl", sizeof(r.proc.exe));
	util_strlcpy(r.proc.unit, "cron.service", sizeof(r.proc.unit));
	util_strlcpy(r.proc.container, "shop/web", sizeof(r.proc.container));
	util_strlcpy(r.proc.container_id, "9a8b7c6d5e4f", sizeof(r.proc.container_id));
	util_strlcpy(r.proc.tls_lib, "libssl.so.3", sizeof(r.proc.tls_lib));
	r.cert.state = HS_CERT_OK;
	r.cert.accepted_bad = HS_TRI_FALSE;
	r.cert.not_after = 1798761600; /* 2027-01-01 */
	util_strlcpy(r.cert.subject, "api.example.com", sizeof(r.cert.subject));
	util_strlcpy(r.cert.issuer, "Example CA", sizeof(r.cert.issuer));
	util_strlcpy(r.cert.key, "RSA-2048", sizeof(r.cert.key));
	util_strlcpy(r.cert.sig, "sha256WithRSAEncryption", sizeof(r.cert.sig));
	util_strlcpy(r.cert.sha256, "00aabbccddeeff00aabbccddeeff00aabbccddeeff00aabbccddeeff00aabbcc",
		     sizeof(r.cert.sha256));
	util_strlcpy(r.alpn, "h2", sizeof(r.alpn));
	r.alpn_chosen = true;
	/* as the flow layer fills the offer: the key's size as the policies read it */
	tls_offer_set_cert_names(&r.offer, r.cert.key, r.cert.sig);
	render(&r, &f);
	has(&f, "@timestamp=2026-11-23T02:13:20.123Z");
	has(&f, "ecs.version=8.11.0");
	has(&f, "event.kind=event");
	has(&f, "event.category[]=network");
	has(&f, "event.type[]=connection");
	has(&f, "event.action=tls-handshake");
	has(&f, "event.outcome=success");
	has(&f, "network.transport=tcp");
	has(&f, "source.ip=10.0.0.5");
	has(&f, "source.port=40000");
	has(&f, "destination.ip=192.0.2.1");
	has(&f, "destination.port=443");
	has(&f, "server.address=api.example.com");
	has(&f, "tls.version=1.2");
	has(&f, "tls.version_protocol=tls");
	has(&f, "tls.cipher=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
	has(&f, "tls.curve=x25519");
	has(&f, "tls.established=true");
	has(&f, "tls.next_protocol=h2");
	has(&f, "tls.client.ja3=0123456789abcdef0123456789abcdef");
	has(&f, "tls.client.server_name=api.example.com");
	has(&f, "tls.server.x509.subject.common_name[]=api.example.com");
	has(&f, "tls.server.x509.issuer.common_name[]=Example CA");
	has(&f, "tls.server.x509.not_after=2027-01-01T00:00:00Z");
	has(&f, "tls.server.x509.public_key_algorithm=RSA");
	has(&f, "tls.server.x509.public_key_size=2048");
	lacks(&f, "tls.server.x509.public_key_curve");
	has(&f, "tls.server.not_after=2027-01-01T00:00:00Z");
	has(&f, "tls.server.hash.sha256="
		"00AABBCCDDEEFF00AABBCCDDEEFF00AABBCCDDEEFF00AABBCCDDEEFF00AABBCC");
	has(&f, "process.pid=4242");
	has(&f, "process.executable=/usr/bin/curl");
	has(&f, "process.name=curl");
	has(&f, "user.id=107");
	has(&f, "container.id=9a8b7c6d5e4f");
	has(&f, "container.name=shop/web");
	has(&f, "tlsaudit.role=client");
	has(&f, "tlsaudit.offered_max=TLSv1.3");
	has(&f, "tlsaudit.legacy=false");
	has(&f, "tlsaudit.ja4=t13d1516h2_8daaf6152771_e5627efa2ab1");
	has(&f, "tlsaudit.unit=cron.service");
	has(&f, "tlsaudit.tls_lib=libssl.so.3");
	has(&f, "tlsaudit.outcome=established");
	has(&f, "tlsaudit.client_accepted_bad_cert=false");
	/* What ECS has a field for is not repeated under tlsaudit.*. */
	lacks(&f, "tlsaudit.cert_key");
	lacks(&f, "tlsaudit.alpn");
	/* Absent values are left out, not null. */
	lacks(&f, "tlsaudit.alert=");
	lacks(&f, "tlsaudit.smtp_tls=");
	lacks(&f, "tlsaudit.would_fail");
}

/*
 * The certificate's key in ECS's x509 public_key_* fields, for each kind of key name
 * the record carries; the client's ALPN offer, which ECS has no field for, stays under
 * tlsaudit.alpn, and tls.next_protocol is only ever the server's choice.
 */
static void test_key_and_alpn(void **state)
{
	static const struct {
		const char *key, *algorithm, *curve, *size;
	} keys[] = {
		{ "EC-P-256", "ECDSA", "P-256", "256" },
		{ "EC-P-521", "ECDSA", "P-521", "521" },
		{ "EC-brainpoolP384r1", "ECDSA", "brainpoolP384r1", "384" },
		{ "EC-521", "ECDSA", NULL, "521" },
		{ "RSA-PSS-3072", "RSA-PSS", NULL, "3072" },
		{ "DSA-1024", "DSA", NULL, "1024" },
		{ "Ed25519", "Ed25519", NULL, "256" },
		{ "Ed448", "Ed448", NULL, "456" },
		{ "SM2", "SM2", NULL, NULL },
		{ "unknown", NULL, NULL, NULL },
	};
	char want[128];
	struct fields f;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		struct hs_record r = base();

		r.version = TLS_V_12;
		r.outcome = HS_OUTCOME_ESTABLISHED;
		r.cert.state = HS_CERT_OK;
		util_strlcpy(r.cert.key, keys[i].key, sizeof(r.cert.key));
		util_strlcpy(r.cert.sig, "ecdsa-with-SHA256", sizeof(r.cert.sig));
		tls_offer_set_cert_names(&r.offer, r.cert.key, r.cert.sig);
		render(&r, &f);
		if (keys[i].algorithm) {
			snprintf(want, sizeof(want), "tls.server.x509.public_key_algorithm=%s",
				 keys[i].algorithm);
			has(&f, want);
		} else {
			lacks(&f, "tls.server.x509.public_key_algorithm");
		}
		if (keys[i].curve) {
			snprintf(want, sizeof(want), "tls.server.x509.public_key_curve=%s",
				 keys[i].curve);
			has(&f, want);
		} else {
			lacks(&f, "tls.server.x509.public_key_curve");
		}
		if (keys[i].size) {
			snprintf(want, sizeof(want), "tls.server.x509.public_key_size=%s",
				 keys[i].size);
			has(&f, want);
		} else {
			lacks(&f, "tls.server.x509.public_key_size");
		}
		lacks(&f, "tlsaudit.cert_key");
	}

	{
		struct hs_record r = base();

		/* The server chose nothing: the client's list is its offer, not a protocol. */
		r.version = TLS_V_13;
		r.outcome = HS_OUTCOME_ESTABLISHED;
		util_strlcpy(r.alpn, "h2,http/1.1", sizeof(r.alpn));
		render(&r, &f);
		has(&f, "tlsaudit.alpn=h2,http/1.1");
		lacks(&f, "tls.next_protocol");
		/* No ServerHello: whatever the record holds is the client's. */
		r.version = 0;
		r.outcome = HS_OUTCOME_RESET;
		util_strlcpy(r.alpn, "h2", sizeof(r.alpn));
		render(&r, &f);
		has(&f, "tlsaudit.alpn=h2");
		lacks(&f, "tls.next_protocol");
		/* A list of one the server did not answer is still the client's offer. */
		r.version = TLS_V_12;
		r.outcome = HS_OUTCOME_ESTABLISHED;
		render(&r, &f);
		has(&f, "tlsaudit.alpn=h2");
		lacks(&f, "tls.next_protocol");
	}
}

/* A TLS 1.0 ClientHello refused with protocol_version; SSLv3's protocol is "ssl". */
static void test_failed_and_ssl(void **state)
{
	struct hs_record r = base();
	struct fields f;

	(void)state;
	r.server.port = 25;
	r.offered_max = TLS_V_10;
	r.starttls_smtp = true;
	r.smtp_tls = HS_SMTP_STARTTLS;
	r.outcome = HS_OUTCOME_ALERT;
	r.outcome_by = HS_SIDE_SERVER;
	r.has_alert = true;
	r.alert = 70;
	util_strlcpy(r.mx_host, "mx.example.net", sizeof(r.mx_host));
	render(&r, &f);
	has(&f, "event.outcome=failure");
	has(&f, "network.protocol=smtp");
	has(&f, "server.address=mx.example.net");
	has(&f, "tls.established=false");
	has(&f, "tlsaudit.alert=protocol_version");
	has(&f, "tlsaudit.outcome=alert");
	has(&f, "tlsaudit.outcome_by=server");
	has(&f, "tlsaudit.smtp_tls=starttls");
	lacks(&f, "tls.version=");
	lacks(&f, "process.");

	r = base();
	r.version = TLS_V_SSL3;
	r.offered_max = TLS_V_SSL3;
	r.outcome = HS_OUTCOME_ESTABLISHED;
	render(&r, &f);
	has(&f, "tls.version=3.0");
	has(&f, "tls.version_protocol=ssl");
	has(&f, "tlsaudit.legacy=true");
	has(&f, "tlsaudit.limited_by=client");
}

/* A plaintext SMTP session: no tls object, the outcome is not TLS's to judge. */
static void test_plaintext(void **state)
{
	struct hs_record r = base();
	struct fields f;

	(void)state;
	r.kind = HS_KIND_PLAINTEXT_SMTP;
	r.server.port = 25;
	r.smtp_tls = HS_SMTP_NOT_OFFERED;
	r.plaintext_fallback = HS_TRI_TRUE;
	render(&r, &f);
	has(&f, "event.action=smtp-plaintext-session");
	has(&f, "event.outcome=unknown");
	has(&f, "tlsaudit.smtp_tls=not_offered");
	has(&f, "tlsaudit.plaintext_fallback=true");
	lacks(&f, "tls.");
}

/* What the peer and the process control is escaped; the line stays one valid object. */
static void test_hostile_and_small(void **state)
{
	struct hs_record r = base();
	struct fields f;
	char small[64];

	(void)state;
	r.version = TLS_V_13;
	util_strlcpy(r.sni, "a\"b\\c\nd\xff", sizeof(r.sni));
	r.proc.known = true;
	r.proc.uid = UINT32_MAX;
	util_strlcpy(r.proc.exe, "/tmp/\"}{", sizeof(r.proc.exe));
	render(&r, &f);
	has(&f, "process.executable=/tmp/\"}{");
	lacks(&f, "user.id");
	assert_int_equal(export_ecs_record(&r, NULL, small, sizeof(small)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_established),
		cmocka_unit_test(test_key_and_alpn),
		cmocka_unit_test(test_failed_and_ssl),
		cmocka_unit_test(test_plaintext),
		cmocka_unit_test(test_hostile_and_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

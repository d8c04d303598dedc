// SPDX-License-Identifier: GPL-2.0-only
/*
 * Aggregation: which records share a row (restarts of a service add up, roles and
 * ports do not mix), what each counter counts, the key cap folding into "other", the
 * recent-records ring, the once-an-hour legacy log limit and the report JSON row.
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

#include "tlsaudit/agg.h"
#include "tlsaudit/ctl.h"
#include "tlsaudit/util.h"

#define SEC 1000000000ULL
#define T0 (1795400000ULL * SEC)

static struct hs_record rec(const char *exe, const char *unit, enum hs_role role, uint16_t port,
			    uint16_t version, uint16_t offered, const char *peer)
{
	struct hs_record r;

	memset(&r, 0, sizeof(r));
	r.kind = HS_KIND_TLS;
	r.time_ns = T0;
	r.role = role;
	r.client.family = r.server.family = AF_INET;
	inet_pton(AF_INET, "192.0.2.10", r.client.addr);
	inet_pton(AF_INET, peer, r.server.addr);
	if (role == HS_ROLE_SERVER) {
		inet_pton(AF_INET, peer, r.client.addr);
		inet_pton(AF_INET, "192.0.2.10", r.server.addr);
	}
	r.client.port = 40000;
	r.server.port = port;
	r.version = version;
	r.offered_max = offered;
	r.cipher_id = 0xc02f;
	r.has_cipher = true;
	util_strlcpy(r.sni, "mail.example.test", sizeof(r.sni));
	r.proc.known = true;
	r.proc.pid = 100;
	util_strlcpy(r.proc.comm, "proc", sizeof(r.proc.comm));
	util_strlcpy(r.proc.exe, exe, sizeof(r.proc.exe));
	util_strlcpy(r.proc.unit, unit, sizeof(r.proc.unit));
	util_strlcpy(r.proc.tls_lib, "libssl.so.1.1", sizeof(r.proc.tls_lib));
	return r;
}

static void test_keys(void **state)
{
	struct agg *a = agg__new(16, 8);
	struct hs_record r;

	(void)state;
	assert_non_null(a);
	r = rec("/usr/sbin/postfix", "postfix.service", HS_ROLE_CLIENT, 25, TLS_V_12, TLS_V_12,
		"198.51.100.1");
	agg__add(a, &r, T0);
	/* The same service after a restart: another pid, still the same row. */
	r.proc.pid = 4242;
	agg__add(a, &r, T0);
	assert_int_equal(agg__n_rows(a), 1);
	assert_int_equal(agg__row(a, 0)->handshakes, 2);
	assert_int_equal(agg__row(a, 0)->last_pid, 4242);

	r.role = HS_ROLE_SERVER; /* roles never mix */
	agg__add(a, &r, T0);
	r.role = HS_ROLE_CLIENT;
	r.server.port = 587; /* neither do ports */
	agg__add(a, &r, T0);
	util_strlcpy(r.proc.unit, "other.service", sizeof(r.proc.unit));
	agg__add(a, &r, T0);
	assert_int_equal(agg__n_rows(a), 4);

	/* No exe: comm identifies the process. */
	r = rec("", "", HS_ROLE_CLIENT, 443, TLS_V_13, TLS_V_13, "198.51.100.1");
	util_strlcpy(r.proc.comm, "curl", sizeof(r.proc.comm));
	agg__add(a, &r, T0);
	util_strlcpy(r.proc.comm, "wget", sizeof(r.proc.comm));
	agg__add(a, &r, T0);
	assert_int_equal(agg__n_rows(a), 6);
	assert_string_equal(agg_row_name(agg__row(a, 4)), "curl");
	assert_string_equal(agg_row_name(agg__row(a, 5)), "wget");
	agg__free(a);
}

static void test_counting(void **state)
{
	struct agg *a = agg__new(16, 8);
	const struct agg_row *row;
	struct hs_record r;

	(void)state;
	r = rec("/usr/bin/openssl", "", HS_ROLE_CLIENT, 443, TLS_V_10, TLS_V_10, "198.51.100.1");
	agg__add(a, &r, T0); /* legacy, the client offered nothing newer */
	r.offered_max = TLS_V_13;
	r.version = TLS_V_11;
	agg__add(a, &r, T0); /* legacy, the server chose older */
	r.version = TLS_V_12;
	r.cipher_id = 0x0005; /* TLS_RSA_WITH_RC4_128_SHA */
	r.time_ns = T0 + 5 * SEC;
	agg__add(a, &r, T0);
	r.version = TLS_V_13;
	r.cipher_id = 0x1301;
	r.time_ns = T0 + 9 * SEC;
	agg__add(a, &r, T0);
	r.time_ns = T0 - 3 * SEC;
	r.version = TLS_V_SSL3;
	r.offered_max = TLS_V_SSL3;
	agg__add(a, &r, T0);
	r.version = 0; /* no ServerHello seen */
	agg__add(a, &r, T0);
	r.kind = HS_KIND_PLAINTEXT_SMTP;
	agg__add(a, &r, T0);

	assert_int_equal(agg__n_rows(a), 1);
	row = agg__row(a, 0);
	assert_int_equal(row->versions[AGG_V_TLS10], 1);
	assert_int_equal(row->versions[AGG_V_TLS11], 1);
	assert_int_equal(row->versions[AGG_V_TLS12], 1);
	assert_int_equal(row->versions[AGG_V_TLS13], 1);
	assert_int_equal(row->versions[AGG_V_SSL3], 1);
	assert_int_equal(row->versions[AGG_V_UNKNOWN], 1);
	assert_int_equal(row->handshakes, 6);
	assert_int_equal(row->legacy, 3);
	assert_int_equal(row->limited_client, 2);
	assert_int_equal(row->limited_server, 1);
	assert_int_equal(row->weak_cipher, 1);
	assert_int_equal(row->plaintext, 1);
	assert_true(row->first_seen_ns == T0 - 3 * SEC);
	assert_true(row->last_seen_ns == T0 + 9 * SEC);
	assert_string_equal(row->tls_lib, "libssl.so.1.1");
	assert_string_equal(row->last_sni, "mail.example.test");
	assert_int_equal(agg__totals(a)->handshakes, 6);
	assert_int_equal(agg__totals(a)->legacy, 3);
	assert_int_equal(agg__totals(a)->plaintext, 1);
	assert_int_equal(agg__totals(a)->records, 7);
	agg__free(a);
}

static void test_cap_folds_into_other(void **state)
{
	struct agg *a = agg__new(4, 0);
	struct hs_record r;
	char exe[32];
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		snprintf(exe, sizeof(exe), "/usr/bin/p%d", i);
		r = rec(exe, "", HS_ROLE_CLIENT, 443, TLS_V_10, TLS_V_10, "198.51.100.1");
		agg__add(a, &r, T0);
	}
	/* A known key keeps counting in its own row after the cap is reached. */
	r = rec("/usr/bin/p0", "", HS_ROLE_CLIENT, 443, TLS_V_12, TLS_V_12, "198.51.100.1");
	agg__add(a, &r, T0);
	assert_int_equal(agg__n_rows(a), 5);
	assert_true(agg__row(a, 4)->key.other);
	assert_string_equal(agg_row_name(agg__row(a, 4)), "other");
	assert_int_equal(agg__row(a, 4)->handshakes, 6);
	assert_int_equal(agg__row(a, 4)->legacy, 6);
	assert_int_equal(agg__row(a, 0)->handshakes, 2);
	assert_int_equal(agg__totals(a)->folded, 6);
	agg__free(a);
}

struct seen {
	char sni[8][HS_SNI_MAX];
	int n;
};

static void collect(const struct hs_record *r, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < 8)
		util_strlcpy(s->sni[s->n++], r->sni, HS_SNI_MAX);
}

static void test_ring(void **state)
{
	struct agg *a = agg__new(16, 3);
	struct seen s = { .n = 0 };
	struct hs_record r;
	int i;

	(void)state;
	r = rec("/usr/bin/curl", "", HS_ROLE_CLIENT, 443, TLS_V_13, TLS_V_13, "198.51.100.1");
	for (i = 0; i < 5; i++) {
		snprintf(r.sni, sizeof(r.sni), "h%d.test", i);
		r.time_ns = T0 + (uint64_t)i * SEC;
		agg__add(a, &r, T0);
	}
	assert_int_equal(agg__ring_foreach(a, 0, collect, &s), 3);
	assert_string_equal(s.sni[0], "h2.test");
	assert_string_equal(s.sni[2], "h4.test");
	s.n = 0;
	assert_int_equal(agg__ring_foreach(a, T0 + 4 * SEC, collect, &s), 1);
	assert_string_equal(s.sni[0], "h4.test");
	agg__free(a);
}

static void test_legacy_log_once_an_hour(void **state)
{
	struct agg *a = agg__new(16, 0);
	struct hs_record r;

	(void)state;
	r = rec("/usr/bin/openssl", "", HS_ROLE_CLIENT, 443, TLS_V_10, TLS_V_10, "198.51.100.1");
	assert_int_equal(agg__add(a, &r, T0), AGG_ADD_LOG);
	assert_int_equal(agg__add(a, &r, T0 + 60 * SEC), 0);
	r.server.port = 443;
	inet_pton(AF_INET, "198.51.100.2", r.server.addr);
	assert_int_equal(agg__add(a, &r, T0 + 61 * SEC), AGG_ADD_LOG);
	inet_pton(AF_INET, "198.51.100.1", r.server.addr);
	assert_int_equal(agg__add(a, &r, T0 + 3599 * SEC), 0);
	assert_int_equal(agg__add(a, &r, T0 + 3600 * SEC), AGG_ADD_LOG);
	r.version = TLS_V_12;
	r.offered_max = TLS_V_12;
	assert_int_equal(agg__add(a, &r, T0 + 9000 * SEC), 0);
	agg__free(a);
}

static void test_row_json(void **state)
{
	struct agg *a = agg__new(16, 0);
	struct hs_record r;
	struct ctl_row row;
	char buf[8192];
	int n;

	(void)state;
	r = rec("/opt/evil\"\n\x1b[31m", "x.service", HS_ROLE_CLIENT, 443, TLS_V_10, TLS_V_12,
		"198.51.100.7");
	util_strlcpy(r.sni, "sni\\\"\x01", sizeof(r.sni));
	agg__add(a, &r, T0);
	agg__add(a, &r, T0);
	n = agg_row_json(agg__row(a, 0), buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(strlen(buf), n);
	assert_null(strchr(buf, '\n'));
	assert_null(strchr(buf, '\x1b'));
	assert_non_null(strstr(buf, "\"exe\":\"/opt/evil\\\"\\u000a\\u001b[31m\""));
	assert_non_null(strstr(buf, "\"versions\":{\"SSLv2\":0,\"SSLv3\":0,\"TLSv1.0\":2,"));
	assert_non_null(strstr(buf, "\"limited_by\":{\"client\":0,\"server\":2}"));
	assert_non_null(strstr(buf, "\"container\":null"));
	assert_non_null(strstr(buf, "\"first_seen\":\"2026-11-23T02:13:20.000Z\""));

	/* The client's decoder reads back exactly what was counted. */
	assert_int_equal(ctl_row_parse(buf, &row), 0);
	assert_string_equal(row.exe, "/opt/evil\"\n\x1b[31m");
	assert_string_equal(row.unit, "x.service");
	assert_string_equal(row.role, "client");
	assert_int_equal(row.port, 443);
	assert_int_equal(row.versions[2], 2);
	assert_int_equal(row.legacy, 2);
	assert_int_equal(row.limited_server, 2);
	assert_string_equal(row.last_peer, "198.51.100.7");
	assert_string_equal(row.legacy_peer, "198.51.100.7");
	assert_string_equal(row.last_sni, "sni\\\"\x01");

	/* Too small a buffer is an error, never an overflow. */
	assert_int_equal(agg_row_json(agg__row(a, 0), buf, 40), -1);
	agg__free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_counting),
		cmocka_unit_test(test_cap_folds_into_other),
		cmocka_unit_test(test_ring),
		cmocka_unit_test(test_legacy_log_once_an_hour),
		cmocka_unit_test(test_row_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

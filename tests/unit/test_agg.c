// SPDX-License-Identifier: GPL-2.0-only
/*
 * Aggregation: which records share a row (restarts of a service add up, roles and
 * ports do not mix), what each counter counts, the key cap folding into "other", the
 * recent-records ring, the once-an-hour legacy log limit and the report JSON row;
 * failed handshakes by outcome, sender and alert (bounded), and SMTP sessions by
 * smtp_tls with their plaintext fallbacks.
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
#include "tlsaudit/cert.h"
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
	r.version = 0; /* no ServerHello seen: not a handshake of any version */
	agg__add(a, &r, T0);
	r.version = 0x7f1c; /* a TLS 1.3 draft: a version, just not one of ours */
	agg__add(a, &r, T0);
	r.kind = HS_KIND_PLAINTEXT_SMTP;
	r.version = 0;
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
	assert_int_equal(agg__totals(a)->records, 8);
	assert_int_equal(row->failures, 0);
	assert_int_equal(agg__totals(a)->failures, 0);
	agg__free(a);
}

/*
 * At the key cap the least recently seen row makes room, so a new program always gets
 * a row of its own; the folded counts add up in "other" and are counted as folded.
 */
static void test_cap_folds_into_other(void **state)
{
	struct agg *a = agg__new(4, 0);
	const struct agg_row *o;
	struct hs_record r;
	char exe[32];
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		snprintf(exe, sizeof(exe), "/usr/bin/p%d", i);
		r = rec(exe, "", HS_ROLE_CLIENT, 443, TLS_V_10, TLS_V_10, "198.51.100.1");
		r.time_ns = T0 + (uint64_t)i * SEC;
		agg__add(a, &r, r.time_ns);
		/* p1 stays busy: it is never the least recently seen. */
		r = rec("/usr/bin/p1", "", HS_ROLE_CLIENT, 443, TLS_V_12, TLS_V_12, "198.51.100.1");
		r.time_ns = T0 + (uint64_t)i * SEC;
		if (i >= 1)
			agg__add(a, &r, r.time_ns);
	}
	assert_int_equal(agg__n_rows(a), 5);
	assert_string_equal(agg__row(a, 0)->key.exe, "/usr/bin/p1");
	assert_int_equal(agg__row(a, 0)->handshakes, 10);
	for (i = 0, o = NULL; i < 5; i++)
		if (agg__row(a, (size_t)i)->key.other)
			o = agg__row(a, (size_t)i);
	assert_non_null(o);
	assert_string_equal(agg_row_name(o), "other");
	/* p0, p2 .. p6 left: six handshakes of TLS 1.0. */
	assert_int_equal(o->handshakes, 6);
	assert_int_equal(o->legacy, 6);
	assert_true(o->last_seen_ns == T0 + 6 * SEC);
	assert_int_equal(agg__totals(a)->rows_folded[AGG_FOLD_MAX_KEYS], 6);
	assert_int_equal(agg__totals(a)->series_folded[AGG_FOLD_MAX_KEYS], 6);
	assert_int_equal(agg__totals(a)->folded, 6);
	assert_int_equal(agg__totals(a)->handshakes, 19);
	/* A folded program seen again gets its own row again. */
	r = rec("/usr/bin/p0", "", HS_ROLE_CLIENT, 443, TLS_V_12, TLS_V_12, "198.51.100.1");
	r.time_ns = T0 + 20 * SEC;
	agg__add(a, &r, r.time_ns);
	for (i = 0; i < (int)agg__n_rows(a); i++)
		if (!strcmp(agg__row(a, (size_t)i)->key.exe, "/usr/bin/p0"))
			break;
	assert_true(i < (int)agg__n_rows(a));
	assert_int_equal(agg__row(a, (size_t)i)->handshakes, 1);
	agg__free(a);
}

static size_t two_series(const struct agg_row *row, void *ctx)
{
	(void)ctx;
	return row->key.other ? 3 : 2;
}

/*
 * agg__bound: rows not seen for the TTL leave, then the least recently seen until the
 * rows' series fit; sums over rows never go down, and what left is counted by reason.
 */
static void test_bound(void **state)
{
	struct agg *a = agg__new(64, 0);
	struct hs_record r;
	uint64_t sum;
	char exe[32];
	size_t i;

	(void)state;
	agg__set_series_fn(a, two_series, NULL);
	for (i = 0; i < 20; i++) {
		snprintf(exe, sizeof(exe), "/usr/bin/p%zu", i);
		r = rec(exe, "", HS_ROLE_CLIENT, 443, TLS_V_12, TLS_V_12, "198.51.100.1");
		/* p0 .. p4 last seen 40 days ago, the rest one second apart from T0 */
		r.time_ns = i < 5 ? T0 - 40 * 86400 * SEC : T0 + i * SEC;
		agg__add(a, &r, r.time_ns);
	}
	assert_int_equal(agg__series(a), 40);
	/* Nothing to do: everything fits and nothing is that old. */
	assert_int_equal(agg__bound(a, T0 + 60 * SEC, 0, 100), 0);
	assert_int_equal(agg__n_rows(a), 20);

	assert_int_equal(agg__bound(a, T0 + 60 * SEC, 30 * 86400 * SEC, 100), 5);
	assert_int_equal(agg__n_rows(a), 16);
	assert_int_equal(agg__totals(a)->rows_folded[AGG_FOLD_ROW_TTL], 5);
	assert_int_equal(agg__totals(a)->series_folded[AGG_FOLD_ROW_TTL], 10);

	/* 15 rows x 2 + other 3 = 33 > 20: the oldest go until 20 at most. */
	assert_int_equal(agg__bound(a, T0 + 60 * SEC, 30 * 86400 * SEC, 20), 7);
	assert_true(agg__series(a) <= 20);
	assert_int_equal(agg__n_rows(a), 9);
	assert_int_equal(agg__totals(a)->rows_folded[AGG_FOLD_MAX_SERIES], 7);
	/* The newest stay, in first-seen order; the others' counts are in "other". */
	for (i = 0, sum = 0; i < agg__n_rows(a); i++) {
		const struct agg_row *row = agg__row(a, i);

		sum += row->handshakes;
		if (!row->key.other)
			assert_true(row->last_seen_ns >= T0 + 12 * SEC);
		else
			assert_int_equal(row->handshakes, 12);
	}
	assert_int_equal(sum, 20);
	assert_int_equal(agg__totals(a)->handshakes, 20);
	/* The lookup table follows: a kept key counts in its row, a folded one anew. */
	r = rec("/usr/bin/p19", "", HS_ROLE_CLIENT, 443, TLS_V_12, TLS_V_12, "198.51.100.1");
	agg__add(a, &r, T0 + 61 * SEC);
	r = rec("/usr/bin/p7", "", HS_ROLE_CLIENT, 443, TLS_V_12, TLS_V_12, "198.51.100.1");
	agg__add(a, &r, T0 + 61 * SEC);
	assert_int_equal(agg__n_rows(a), 10);
	for (i = 0; i < agg__n_rows(a); i++)
		if (!strcmp(agg__row(a, i)->key.exe, "/usr/bin/p19"))
			assert_int_equal(agg__row(a, i)->handshakes, 2);
	agg__free(a);
}

/* ended - how @r ended (outcome, sender, alert or -1). */
static void ended(struct hs_record *r, enum hs_outcome o, enum hs_side by, int alert)
{
	r->outcome = (uint8_t)o;
	r->outcome_by = (uint8_t)by;
	r->has_alert = alert >= 0;
	r->alert = alert >= 0 ? (uint8_t)alert : 0;
}

static void test_failures(void **state)
{
	struct agg *a = agg__new(16, 8);
	const struct agg_row *row;
	struct hs_record r;
	char code[8];

	(void)state;
	/*
	 * The provider's cut-off: a TLS 1.0 ClientHello answered with protocol_version, no
	 * ServerHello. A failure, not a TLS 1.0 handshake, and not "legacy" (nothing was
	 * negotiated), but counted as an offer of nothing newer than TLS 1.1.
	 */
	r = rec("/usr/lib/postfix/sbin/smtp", "postfix.service", HS_ROLE_CLIENT, 25, 0, TLS_V_10,
		"198.51.100.1");
	r.has_cipher = false;
	ended(&r, HS_OUTCOME_ALERT, HS_SIDE_SERVER, 70);
	agg__add(a, &r, T0);
	r.time_ns = T0 + 10 * SEC;
	agg__add(a, &r, T0);
	/* A server that resets after the ClientHello. */
	r.offered_max = TLS_V_13;
	r.time_ns = T0 + 5 * SEC;
	ended(&r, HS_OUTCOME_RESET, HS_SIDE_SERVER, -1);
	agg__add(a, &r, T0);
	/* The client refuses the certificate after a TLS 1.2 ServerHello: both counts. */
	r.version = TLS_V_12;
	r.has_cipher = true;
	ended(&r, HS_OUTCOME_ALERT, HS_SIDE_CLIENT, 48);
	agg__add(a, &r, T0);
	/* TLS 1.3: the client's alert is sealed. */
	r.version = TLS_V_13;
	r.cipher_id = 0x1301;
	ended(&r, HS_OUTCOME_ALERT, HS_SIDE_CLIENT, -1);
	agg__add(a, &r, T0);
	/* Silence until the flow expired; a FIN from the server. */
	r.version = 0;
	r.has_cipher = false;
	ended(&r, HS_OUTCOME_TIMEOUT, HS_SIDE_NONE, -1);
	agg__add(a, &r, T0);
	ended(&r, HS_OUTCOME_CLOSED, HS_SIDE_SERVER, -1);
	agg__add(a, &r, T0);
	/* Controls: established, and the plaintext session of the same process. */
	r.version = TLS_V_13;
	r.has_cipher = true;
	ended(&r, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	agg__add(a, &r, T0);
	r.kind = HS_KIND_PLAINTEXT_SMTP;
	r.version = 0;
	r.outcome = HS_OUTCOME_NONE;
	agg__add(a, &r, T0);

	assert_int_equal(agg__n_rows(a), 1);
	row = agg__row(a, 0);
	assert_int_equal(row->failures, 7);
	assert_int_equal(row->failed[AGG_F_ALERT][HS_SIDE_SERVER], 2);
	assert_int_equal(row->failed[AGG_F_ALERT][HS_SIDE_CLIENT], 2);
	assert_int_equal(row->failed[AGG_F_RESET][HS_SIDE_SERVER], 1);
	assert_int_equal(row->failed[AGG_F_CLOSED][HS_SIDE_SERVER], 1);
	assert_int_equal(row->failed[AGG_F_TIMEOUT][HS_SIDE_NONE], 1);
	assert_int_equal(row->failed_old_offer, 2);
	assert_int_equal(row->failed_early, 5);
	/* Only the records with a ServerHello are handshakes of a version. */
	assert_int_equal(row->handshakes, 3);
	assert_int_equal(row->versions[AGG_V_TLS12], 1);
	assert_int_equal(row->versions[AGG_V_TLS13], 2);
	assert_int_equal(row->versions[AGG_V_UNKNOWN], 0);
	assert_int_equal(row->versions[AGG_V_TLS10], 0);
	assert_int_equal(row->legacy, 0);
	assert_int_equal(row->plaintext, 1);
	/* The alert kinds: protocol_version by the server, unknown_ca and a sealed one. */
	assert_int_equal(row->n_alerts, 3);
	assert_string_equal(agg_alert_label(&row->alerts[0], code, sizeof(code)),
			    "protocol_version");
	assert_int_equal(row->alerts[0].by, HS_SIDE_SERVER);
	assert_int_equal(row->alerts[0].count, 2);
	assert_string_equal(agg_alert_label(&row->alerts[1], code, sizeof(code)), "unknown_ca");
	assert_int_equal(row->alerts[1].by, HS_SIDE_CLIENT);
	assert_string_equal(agg_alert_label(&row->alerts[2], code, sizeof(code)), "encrypted");
	assert_int_equal(agg_alert_other(row, HS_SIDE_SERVER), 0);
	assert_int_equal(agg_alert_other(row, HS_SIDE_CLIENT), 0);
	/* The latest failure by its own time, not by arrival. */
	assert_true(row->last_fail.time_ns == T0 + 10 * SEC);
	assert_int_equal(row->last_fail.outcome, HS_OUTCOME_ALERT);
	assert_int_equal(row->last_fail.by, HS_SIDE_SERVER);
	assert_true(row->last_fail.has_alert);
	assert_int_equal(row->last_fail.alert, 70);
	assert_int_equal(row->last_fail.offered_max, TLS_V_10);
	assert_string_equal(row->last_fail.sni, "mail.example.test");
	assert_int_equal(agg__totals(a)->failures, 7);
	assert_int_equal(agg__totals(a)->failed[AGG_F_ALERT], 4);
	assert_int_equal(agg__totals(a)->failed[AGG_F_TIMEOUT], 1);
	assert_int_equal(agg__totals(a)->handshakes, 3);
	assert_int_equal(agg__totals(a)->records, 9);
	agg__free(a);
}

/* More alert kinds than slots: the rest is "other", the exact counts stay exact. */
static void test_alert_slots_bounded(void **state)
{
	struct agg *a = agg__new(16, 0);
	const struct agg_row *row;
	struct hs_record r;
	char code[8];
	int i;

	(void)state;
	r = rec("/usr/bin/curl", "", HS_ROLE_CLIENT, 443, 0, TLS_V_12, "198.51.100.1");
	for (i = 0; i < AGG_ALERT_SLOTS + 3; i++) {
		ended(&r, HS_OUTCOME_ALERT, HS_SIDE_SERVER, 40 + i);
		agg__add(a, &r, T0);
	}
	ended(&r, HS_OUTCOME_ALERT, HS_SIDE_SERVER, 40); /* a kind with a slot still counts */
	agg__add(a, &r, T0);
	ended(&r, HS_OUTCOME_ALERT, HS_SIDE_SERVER, 0xfe); /* unregistered */
	agg__add(a, &r, T0);
	row = agg__row(a, 0);
	assert_int_equal(row->n_alerts, AGG_ALERT_SLOTS);
	assert_int_equal(row->alerts[0].count, 2);
	assert_int_equal(row->failed[AGG_F_ALERT][HS_SIDE_SERVER], AGG_ALERT_SLOTS + 5);
	assert_int_equal(agg_alert_other(row, HS_SIDE_SERVER), 4);
	assert_int_equal(agg_alert_other(row, HS_SIDE_CLIENT), 0);

	/* An unregistered code is named by its number. */
	a = (agg__free(a), agg__new(16, 0));
	agg__add(a, &r, T0);
	assert_string_equal(agg_alert_label(&agg__row(a, 0)->alerts[0], code, sizeof(code)),
			    "0xfe");
	/* An outcome beyond the known ones (a newer producer) is not counted as anything. */
	r.outcome = 42;
	agg__add(a, &r, T0);
	assert_int_equal(agg__row(a, 0)->failures, 1);
	agg__free(a);
}

static void test_smtp_sessions(void **state)
{
	struct agg *a = agg__new(16, 0);
	const struct agg_row *row;
	struct hs_record r;

	(void)state;
	r = rec("/usr/lib/postfix/sbin/smtp", "", HS_ROLE_CLIENT, 25, TLS_V_12, TLS_V_12,
		"198.51.100.1");
	r.sni[0] = '\0';
	r.smtp_tls = HS_SMTP_STARTTLS;
	r.starttls_smtp = true;
	agg__add(a, &r, T0);
	r.smtp_tls = HS_SMTP_NONE; /* a record from before the field: STARTTLS says it */
	agg__add(a, &r, T0);
	r.kind = HS_KIND_PLAINTEXT_SMTP;
	r.version = 0;
	r.starttls_smtp = false;
	r.smtp_tls = HS_SMTP_NOT_OFFERED;
	r.plaintext_fallback = HS_TRI_FALSE;
	util_strlcpy(r.mx_host, "mx1.example.test", sizeof(r.mx_host));
	agg__add(a, &r, T0);
	r.plaintext_fallback = HS_TRI_TRUE;
	r.time_ns = T0 + SEC;
	util_strlcpy(r.mx_host, "mx2.example.test", sizeof(r.mx_host));
	agg__add(a, &r, T0);
	r.time_ns = T0;
	r.smtp_tls = HS_SMTP_REFUSED;
	agg__add(a, &r, T0);
	r.smtp_tls = HS_SMTP_NOT_USED;
	r.plaintext_fallback = HS_TRI_NULL;
	agg__add(a, &r, T0);
	r.smtp_tls = HS_SMTP_NONE; /* no reason recorded */
	agg__add(a, &r, T0);
	r.smtp_tls = HS_SMTP_STARTTLS; /* contradicts the kind: no reason either */
	r.plaintext_fallback = HS_TRI_TRUE;
	agg__add(a, &r, T0);
	r.kind = HS_KIND_TLS; /* so does an upgraded session that "was not offered" */
	r.version = TLS_V_12;
	r.smtp_tls = HS_SMTP_NOT_OFFERED;
	agg__add(a, &r, T0);

	row = agg__row(a, 0);
	assert_int_equal(row->handshakes, 3);
	assert_int_equal(row->plaintext, 6);
	assert_int_equal(row->smtp[HS_SMTP_STARTTLS], 2);
	assert_int_equal(row->smtp[HS_SMTP_NOT_OFFERED], 2);
	assert_int_equal(row->smtp[HS_SMTP_REFUSED], 1);
	assert_int_equal(row->smtp[HS_SMTP_NOT_USED], 1);
	assert_int_equal(agg_smtp_unknown(row), 2);
	assert_int_equal(row->fallback[HS_SMTP_STARTTLS], 0);
	assert_int_equal(row->fallback[HS_SMTP_NOT_OFFERED], 1);
	assert_int_equal(row->fallback[HS_SMTP_REFUSED], 1);
	assert_int_equal(row->fallback[HS_SMTP_NOT_USED], 0);
	assert_string_equal(row->plain_mx, "mx2.example.test");
	assert_int_equal(agg__totals(a)->fallback, 2);
	assert_int_equal(agg__totals(a)->smtp[HS_SMTP_NOT_OFFERED], 2);
	assert_int_equal(row->failures, 0);
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

	/* No failures yet: zero counts, the last failure null, SMTP counts zero. */
	assert_non_null(strstr(buf, "\"failures\":0,\"failures_by_outcome\":{\"alert\":"
				    "{\"client\":0,\"server\":0},\"reset\":{\"client\":0,"
				    "\"server\":0},\"closed\":{\"client\":0,\"server\":0},"
				    "\"timeout\":0},\"failures_by_alert\":{},"
				    "\"failures_legacy_offer\":0,\"last_failure\":null,"));
	assert_non_null(strstr(buf, "\"smtp_tls\":{\"starttls\":0,\"not_offered\":0,"
				    "\"not_used\":0,\"refused\":0},\"plaintext_fallback\":"
				    "{\"not_offered\":0,\"not_used\":0,\"refused\":0,\"total\":0},"
				    "\"last_plaintext_peer\":null,\"last_mx_host\":null,"));

	/* Too small a buffer is an error, never an overflow. */
	assert_int_equal(agg_row_json(agg__row(a, 0), buf, 40), -1);
	agg__free(a);
}

/* set_of - a policy set with @list active (built-in names and p1..p9 of no rule). */
static void set_of(struct tls_policy_set *ps, const char *list)
{
	char err[256], name[8];
	int i;

	tls_policy_set_init(ps);
	for (i = 1; i <= 9; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(tls_policy_set(ps, name, "min_version", "TLSv1.0", err,
						sizeof(err)), 0);
	}
	assert_int_equal(tls_policy_set_list(ps, list, err, sizeof(err)), 0);
	if (tls_policy_set_finish(ps, err, sizeof(err)))
		fail_msg("%s", err);
}

static void judged(struct hs_record *r, const struct tls_policy_set *ps, ...)
{
	va_list ap;
	uint8_t i;

	va_start(ap, ps);
	r->judged = true;
	r->n_verdicts = ps->n_active;
	for (i = 0; i < ps->n_active; i++) {
		r->verdicts[i].by = (uint8_t)va_arg(ap, int);
		r->verdicts[i].reason = (uint8_t)va_arg(ap, int);
	}
	va_end(ap);
}

static void count_verdict(const struct hs_record *r, void *ctx)
{
	int *n = ctx;

	*n += r->judged && r->n_verdicts == 1;
}

/*
 * Verdicts per process key and policy: passes and failures by (by, reason), the times
 * and the latest failure's sample; records judged by another set are not counted; the
 * report's policy object and what the client decodes of it; a reload that changes the
 * policies keeps each name's counts, judges the ring again, and a new name takes the
 * slot of one no longer active.
 */
/*
 * A policy edited under the same name (tlsaudit.conf, then a reload): the counts made
 * under the old definition are dropped at once, not mixed into "safe to enforce since";
 * the same definition reloaded keeps them, as does another policy's slot.
 */
static void test_policy_redefined(void **state)
{
	static struct tls_policy_set ps, same, edited;
	struct agg *a = agg__new(16, 8);
	struct hs_record r;
	char err[256];

	(void)state;
	set_of(&ps, "p1,p2");
	set_of(&same, "p1,p2");
	set_of(&edited, "p1,p2");
	assert_int_equal(tls_policy_set(&edited, "p1", "min_version", "TLSv1.2", err,
					sizeof(err)), 0);
	assert_int_equal(tls_policy_set_finish(&edited, err, sizeof(err)), 0);
	assert_true(tls_policy_find(&ps, "p1")->digest == tls_policy_find(&same, "p1")->digest);
	assert_true(tls_policy_find(&ps, "p1")->digest != tls_policy_find(&edited, "p1")->digest);
	assert_true(tls_policy_find(&ps, "p2")->digest == tls_policy_find(&edited, "p2")->digest);

	agg__set_policies(a, &ps);
	r = rec("/usr/bin/curl", "", HS_ROLE_CLIENT, 443, TLS_V_10, TLS_V_10, "198.51.100.7");
	judged(&r, &ps, TLS_POLICY_BY_CLIENT, TLS_REASON_VERSION, TLS_POLICY_PASS,
	       TLS_REASON_NONE);
	agg__add(a, &r, T0);
	agg__set_policies(a, &same);
	assert_int_equal(agg_policy_failures(agg_row_policy(agg__row(a, 0), "p1")), 1);
	agg__set_policies(a, &edited);
	assert_int_equal(agg_policy_failures(agg_row_policy(agg__row(a, 0), "p1")), 0);
	assert_int_equal(agg_row_policy(agg__row(a, 0), "p1")->last_fail_ns, 0);
	assert_int_equal(agg_row_policy(agg__row(a, 0), "p2")->passed, 1);
	/* Counting goes on under the new definition. */
	judged(&r, &edited, TLS_POLICY_PASS, TLS_REASON_NONE, TLS_POLICY_PASS, TLS_REASON_NONE);
	agg__add(a, &r, T0);
	assert_int_equal(agg_row_policy(agg__row(a, 0), "p1")->passed, 1);
	assert_int_equal(agg_row_policy(agg__row(a, 0), "p2")->passed, 2);
	agg__free(a);
}

static void test_policies(void **state)
{
	static struct tls_policy_set ps, ps2, many;
	const struct agg_policy *p;
	struct agg *a = agg__new(16, 8);
	struct hs_record r;
	struct ctl_row row;
	char buf[8192], *end;
	int n = 0, i;

	(void)state;
	set_of(&ps, "tls12,fips-ems");
	agg__set_policies(a, &ps);
	r = rec("/usr/bin/curl", "", HS_ROLE_CLIENT, 443, TLS_V_12, TLS_V_12, "198.51.100.7");
	r.offer.flags = TLS_OFFER_CLIENT; /* an (empty) ClientHello: the ring can be judged again */
	judged(&r, &ps, TLS_POLICY_PASS, TLS_REASON_NONE, TLS_POLICY_PASS, TLS_REASON_NONE);
	agg__add(a, &r, T0);
	r.time_ns = T0 + 60 * SEC;
	util_strlcpy(r.sni, "api.example.test", sizeof(r.sni));
	judged(&r, &ps, TLS_POLICY_PASS, TLS_REASON_NONE, TLS_POLICY_BY_CLIENT, TLS_REASON_EMS);
	agg__add(a, &r, T0);
	agg__add(a, &r, T0);
	r.time_ns = T0 + 120 * SEC;
	judged(&r, &ps, TLS_POLICY_BY_SERVER, TLS_REASON_VERSION, TLS_POLICY_PASS,
	       TLS_REASON_NONE);
	util_strlcpy(r.sni, "old.example.test", sizeof(r.sni));
	agg__add(a, &r, T0);
	/* Judged against another set (before a reload): no name to count it under. */
	r.n_verdicts = 3;
	agg__add(a, &r, T0);
	/* A plaintext session is never judged. */
	r.kind = HS_KIND_PLAINTEXT_SMTP;
	r.judged = false;
	agg__add(a, &r, T0);

	assert_int_equal(agg__n_rows(a), 1);
	p = agg_row_policy(agg__row(a, 0), "tls12");
	assert_non_null(p);
	assert_int_equal(p->passed, 3);
	assert_int_equal(agg_policy_failures(p), 1);
	assert_int_equal(p->failed[1][TLS_REASON_VERSION], 1);
	assert_true(p->first_ns == T0 && p->last_pass_ns == T0 + 60 * SEC);
	assert_true(p->last_fail_ns == T0 + 120 * SEC);
	assert_int_equal(p->last_by, TLS_POLICY_BY_SERVER);
	assert_string_equal(p->fail_sni, "old.example.test");
	p = agg_row_policy(agg__row(a, 0), "fips-ems");
	assert_int_equal(p->passed, 2);
	assert_int_equal(p->failed[0][TLS_REASON_EMS], 2);
	assert_string_equal(p->fail_sni, "api.example.test");
	assert_null(agg_row_policy(agg__row(a, 0), "tls13"));

	/* The report's policy object, spliced into the row as the daemon does. */
	n = agg_row_json(agg__row(a, 0), buf, sizeof(buf));
	assert_true(n > 0);
	end = buf + n - 1;
	memcpy(end, ",\"policy\":", 10);
	end += 10;
	i = agg_policy_json(agg__row(a, 0), "fips-ems", end, sizeof(buf) - (size_t)(end - buf) - 2);
	assert_true(i > 0);
	assert_non_null(strstr(end, "\"name\":\"fips-ems\",\"handshakes\":4,\"passes\":2,"
				    "\"failures\":2,\"failures_by\":{\"client_ems\":2},"));
	assert_non_null(strstr(end, "\"by\":\"client\",\"reason\":\"ems\",\"peer\":"
				    "\"198.51.100.7\",\"sni\":\"api.example.test\"}}"));
	memcpy(end + i, "}", 2);
	assert_int_equal(ctl_row_parse(buf, &row), 0);
	assert_true(row.policy.present);
	assert_string_equal(row.policy.name, "fips-ems");
	assert_int_equal(row.policy.handshakes, 4);
	assert_int_equal(row.policy.failures, 2);
	assert_int_equal(row.policy.n_fails, 1);
	assert_string_equal(row.policy.fails[0].kind, "client_ems");
	assert_string_equal(row.policy.last_fail.reason, "ems");
	assert_int_equal(row.policy.last_fail.time_s, T0 / SEC + 60);
	assert_int_equal(row.policy.last_pass_s, T0 / SEC + 120);
	/* Never judged under it: zero counts, null times. */
	assert_true(agg_policy_json(agg__row(a, 0), "tls13", buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"handshakes\":0,\"passes\":0,\"failures\":0,"
				    "\"failures_by\":{},\"first\":null,\"first_s\":null,"));
	assert_non_null(strstr(buf, "\"last_failure\":null}"));
	assert_int_equal(agg_policy_json(agg__row(a, 0), "tls12", buf, 50), -1);

	/* A reload to tls13 alone: the ring is judged again (its empty offers fail it). */
	set_of(&ps2, "tls13");
	agg__set_policies(a, &ps2);
	n = 0;
	agg__ring_foreach(a, 0, count_verdict, &n);
	assert_int_equal(n, 5);
	r.kind = HS_KIND_TLS;
	judged(&r, &ps2, TLS_POLICY_BY_CLIENT, TLS_REASON_VERSION);
	agg__add(a, &r, T0);
	assert_int_equal(agg__row(a, 0)->n_pol, 3);
	assert_int_equal(agg_row_policy(agg__row(a, 0), "tls12")->passed, 3);
	assert_int_equal(agg_policy_failures(agg_row_policy(agg__row(a, 0), "tls13")), 1);

	/* Sixteen active policies fill the slots; a new name takes an inactive one's. */
	set_of(&many, "tls12,tls13,mozilla-intermediate,mozilla-modern,nist-sp800-52r2,"
		      "fips-ems,pq-hybrid,p1,p2,p3,p4,p5,p6,p7,p8,p9");
	agg__set_policies(a, &many);
	judged(&r, &many, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	       0, 0, 0, 0, 0, 0, 0, 0);
	agg__add(a, &r, T0);
	assert_int_equal(agg__row(a, 0)->n_pol, AGG_POLICY_SLOTS);
	set_of(&ps2, "p1,mozilla-intermediate-5.7");
	agg__set_policies(a, &ps2);
	judged(&r, &ps2, TLS_POLICY_BY_SERVER, TLS_REASON_CIPHER, TLS_POLICY_PASS, 0);
	agg__add(a, &r, T0);
	assert_int_equal(agg__row(a, 0)->n_pol, AGG_POLICY_SLOTS);
	assert_int_equal(agg_row_policy(agg__row(a, 0), "p1")->passed, 1);
	assert_int_equal(agg_policy_failures(agg_row_policy(agg__row(a, 0), "p1")), 1);
	assert_int_equal(agg_row_policy(agg__row(a, 0), "mozilla-intermediate-5.7")->passed, 1);
	agg__free(a);
}

/* The failure and SMTP fields, and what `report` and `top` decode from them. */
static void test_row_json_failures(void **state)
{
	struct agg *a = agg__new(16, 0);
	struct hs_record r;
	struct ctl_row row;
	char buf[8192];
	int i;

	(void)state;
	r = rec("/usr/lib/postfix/sbin/smtp", "postfix.service", HS_ROLE_CLIENT, 25, 0, TLS_V_10,
		"198.51.100.7");
	r.sni[0] = '\0';
	util_strlcpy(r.mx_host, "mx.provider.test", sizeof(r.mx_host));
	r.smtp_tls = HS_SMTP_STARTTLS;
	r.starttls_smtp = true;
	ended(&r, HS_OUTCOME_ALERT, HS_SIDE_SERVER, 70);
	for (i = 0; i < 3; i++)
		agg__add(a, &r, T0);
	ended(&r, HS_OUTCOME_RESET, HS_SIDE_SERVER, -1);
	agg__add(a, &r, T0);
	ended(&r, HS_OUTCOME_TIMEOUT, HS_SIDE_NONE, -1);
	agg__add(a, &r, T0);
	ended(&r, HS_OUTCOME_ALERT, HS_SIDE_CLIENT, -1);
	r.time_ns = T0 + 60 * SEC;
	agg__add(a, &r, T0);
	/* Then, on the retry, the same message goes out in plaintext. */
	r.kind = HS_KIND_PLAINTEXT_SMTP;
	r.smtp_tls = HS_SMTP_NOT_OFFERED;
	r.plaintext_fallback = HS_TRI_TRUE;
	r.outcome = HS_OUTCOME_NONE;
	agg__add(a, &r, T0);

	assert_true(agg_row_json(agg__row(a, 0), buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"failures\":6,\"failures_by_outcome\":{\"alert\":"
				    "{\"client\":1,\"server\":3},\"reset\":{\"client\":0,"
				    "\"server\":1},\"closed\":{\"client\":0,\"server\":0},"
				    "\"timeout\":1},\"failures_by_alert\":{\"client\":"
				    "{\"encrypted\":1},\"server\":{\"protocol_version\":3}},"
				    "\"failures_legacy_offer\":6,\"last_failure\":{"
				    "\"time\":\"2026-11-23T02:14:20.000Z\",\"time_s\":1795400060,"
				    "\"outcome\":\"alert\",\"by\":\"client\",\"alert\":null,"
				    "\"offered_max\":\"TLSv1.0\",\"peer\":\"198.51.100.7\","
				    "\"sni\":\"mx.provider.test\"},"));
	assert_non_null(strstr(buf, "\"smtp_tls\":{\"starttls\":6,\"not_offered\":1,"
				    "\"not_used\":0,\"refused\":0},\"plaintext_fallback\":"
				    "{\"not_offered\":1,\"not_used\":0,\"refused\":0,\"total\":1},"
				    "\"last_plaintext_peer\":\"198.51.100.7\","
				    "\"last_mx_host\":\"mx.provider.test\","));

	assert_int_equal(ctl_row_parse(buf, &row), 0);
	assert_int_equal(row.failures, 6);
	assert_int_equal(row.failed[0], 4);
	assert_int_equal(row.failed[1], 1);
	assert_int_equal(row.failed[2], 0);
	assert_int_equal(row.failed[3], 1);
	assert_int_equal(row.failed_by_server, 4);
	assert_int_equal(row.failed_by_client, 1);
	assert_int_equal(row.failures_legacy_offer, 6);
	assert_int_equal(row.n_alerts, 2);
	assert_string_equal(row.alerts[0].by, "client");
	assert_string_equal(row.alerts[0].name, "encrypted");
	assert_string_equal(row.alerts[1].by, "server");
	assert_string_equal(row.alerts[1].name, "protocol_version");
	assert_int_equal(row.alerts[1].count, 3);
	assert_string_equal(row.last_fail.outcome, "alert");
	assert_string_equal(row.last_fail.by, "client");
	assert_string_equal(row.last_fail.alert, "");
	assert_string_equal(row.last_fail.offered_max, "TLSv1.0");
	assert_string_equal(row.last_fail.peer, "198.51.100.7");
	assert_string_equal(row.last_fail.sni, "mx.provider.test");
	assert_int_equal(row.last_fail.time_s, 1795400060);
	assert_int_equal(row.smtp[0], 6);
	assert_int_equal(row.smtp[1], 1);
	assert_int_equal(row.fallback[1], 1);
	assert_int_equal(row.fallback[4], 1);
	assert_string_equal(row.mx_host, "mx.provider.test");
	agg__free(a);
}

/* with_cert - @r's server certificate: @problems, and whether the client went on. */
static void with_cert(struct hs_record *r, const char *subject, uint32_t problems,
		      enum hs_tri accepted, int64_t not_after)
{
	r->cert.state = HS_CERT_OK;
	util_strlcpy(r->cert.subject, subject, sizeof(r->cert.subject));
	r->cert.problems = problems;
	r->cert.accepted_bad = (uint8_t)accepted;
	r->cert.not_after = not_after;
}

/*
 * Certificates: handshakes per problem, bad ones accepted per verify problem with the
 * latest one's peer, a local server's own certificates by subject (renewals replace,
 * slots bounded), folding into "other", the JSON row and its parse.
 */
static void test_certs(void **state)
{
	struct agg *a = agg__new(16, 0);
	const struct agg_row *row;
	struct hs_record r;
	struct ctl_row cr;
	char buf[8192], subj[32];
	int i;

	(void)state;
	r = rec("/usr/bin/curl", "", HS_ROLE_CLIENT, 443, TLS_V_12, TLS_V_13, "198.51.100.9");
	with_cert(&r, "self.example.test", TLS_CERT_SELF_SIGNED | TLS_CERT_NAME_MISMATCH,
		  HS_TRI_TRUE, 1800000000);
	agg__add(a, &r, T0);
	with_cert(&r, "self.example.test", TLS_CERT_SELF_SIGNED, HS_TRI_FALSE, 1800000000);
	agg__add(a, &r, T0);
	with_cert(&r, "ok.example.test", TLS_CERT_WEAK_KEY, HS_TRI_NULL, 1800000000);
	agg__add(a, &r, T0);
	with_cert(&r, "ok.example.test", 0, HS_TRI_NULL, 1800000000);
	agg__add(a, &r, T0);
	r.cert.state = HS_CERT_CUT; /* a cut chain counts nothing */
	r.cert.problems = TLS_CERT_EXPIRED;
	agg__add(a, &r, T0);
	row = agg__row(a, 0);
	assert_int_equal(row->cert_bad, 3);
	assert_int_equal(row->cert_problems[2], 2); /* self_signed */
	assert_int_equal(row->cert_problems[3], 1); /* name_mismatch */
	assert_int_equal(row->cert_problems[4], 1); /* weak_key */
	assert_int_equal(row->cert_problems[0], 0);
	assert_int_equal(row->cert_accepted, 1);
	assert_int_equal(row->bad_cert_accepted[2], 1);
	assert_int_equal(row->bad_cert_accepted[3], 1);
	assert_int_equal(row->n_own, 0); /* a client's peers are not its own */
	assert_string_equal(row->last_bad.sni, "mail.example.test");
	assert_int_equal(agg__totals(a)->cert_bad, 3);
	assert_int_equal(agg__totals(a)->cert_accepted, 1);

	assert_true(agg_row_json(row, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"cert_bad\":3,\"cert_problems\":{\"expired\":0,"
				    "\"not_yet_valid\":0,\"self_signed\":2,\"name_mismatch\":1,"
				    "\"weak_key\":1,\"sha1_signature\":0,\"md5_signature\":0},"
				    "\"cert_accepted\":1,\"bad_cert_accepted\":{\"expired\":0,"
				    "\"not_yet_valid\":0,\"self_signed\":1,\"name_mismatch\":1},"
				    "\"last_bad_cert\":{\"time\":\"2026-11-23T02:13:20.000Z\","
				    "\"time_s\":1795400000,\"problems\":\"self_signed,name_mismatch\","
				    "\"peer\":\"198.51.100.9\",\"sni\":\"mail.example.test\","
				    "\"subject\":\"self.example.test\"},\"server_certs\":{\"n\":0}"));
	assert_int_equal(ctl_row_parse(buf, &cr), 0);
	assert_int_equal(cr.cert_bad, 3);
	assert_int_equal(cr.cert_problems[2], 2);
	assert_int_equal(cr.cert_accepted, 1);
	assert_int_equal(cr.bad_cert_accepted[3], 1);
	assert_string_equal(cr.last_bad.problems, "self_signed,name_mismatch");
	assert_string_equal(cr.last_bad.peer, "198.51.100.9");
	assert_string_equal(cr.last_bad.subject, "self.example.test");
	assert_int_equal(cr.last_bad.time_s, 1795400000);

	/* A local server: its own certificates, by subject; a renewal replaces the expiry. */
	r = rec("/usr/sbin/nginx", "nginx.service", HS_ROLE_SERVER, 443, TLS_V_12, TLS_V_13,
		"203.0.113.5");
	with_cert(&r, "www.example.test", 0, HS_TRI_NULL, 1796000000);
	agg__add(a, &r, T0);
	r.time_ns = T0 + SEC;
	with_cert(&r, "www.example.test", 0, HS_TRI_NULL, 1799000000);
	agg__add(a, &r, T0);
	for (i = 0; i < AGG_OWN_CERTS + 2; i++) {
		snprintf(subj, sizeof(subj), "vhost%d.example.test", i);
		r.time_ns = T0 + (uint64_t)(2 + i) * SEC;
		with_cert(&r, subj, 0, HS_TRI_NULL, 1797000000 + i);
		agg__add(a, &r, T0);
	}
	row = agg__row(a, 1);
	assert_int_equal(row->n_own, AGG_OWN_CERTS);
	/* The least recently seen gave way: www, then vhost0 and vhost1. */
	for (i = 0; i < AGG_OWN_CERTS; i++)
		assert_null(strstr(row->own[i].subject, "www"));
	assert_true(agg_row_json(row, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"server_certs\":{\"n\":4,\"0\":{\"subject\":"));
	assert_int_equal(ctl_row_parse(buf, &cr), 0);
	assert_int_equal(cr.n_own, AGG_OWN_CERTS);
	assert_true(cr.own[0].not_after_s >= 1797000000);
	tls_cert_format_time(cr.own[0].not_after_s, subj, sizeof(subj));
	assert_string_equal(cr.own[0].not_after, subj);
	assert_non_null(strstr(cr.own[0].subject, "vhost"));

	/* Folded into "other", the counters stay whole. */
	assert_true(agg__bound(a, T0 + 400 * 86400 * SEC, 30 * 86400 * SEC, 1000) == 2);
	row = agg__row(a, 0);
	assert_true(row->key.other);
	assert_int_equal(row->cert_bad, 3);
	assert_int_equal(row->cert_accepted, 1);
	assert_int_equal(row->n_own, AGG_OWN_CERTS);
	agg__free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_counting),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_alert_slots_bounded),
		cmocka_unit_test(test_smtp_sessions),
		cmocka_unit_test(test_cap_folds_into_other),
		cmocka_unit_test(test_bound),
		cmocka_unit_test(test_ring),
		cmocka_unit_test(test_legacy_log_once_an_hour),
		cmocka_unit_test(test_row_json),
		cmocka_unit_test(test_row_json_failures),
		cmocka_unit_test(test_policies),
		cmocka_unit_test(test_policy_redefined),
		cmocka_unit_test(test_certs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

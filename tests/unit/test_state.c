// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state file: counters survive a save/load round trip and add up across restarts;
 * the file is replaced atomically; truncated, bit-flipped, garbage and hand-crafted
 * hostile files (valid checksum, lying lengths) are refused with a reason, never crash,
 * and leave the live counters untouched; a bad file is moved aside; the temp files of
 * writes a crash interrupted are gone after the next load. Version 2 adds failures and
 * SMTP sessions by reason; a version 1 file, as the previous release wrote it, still
 * loads, and its counters go on from there.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "tlsaudit/agg.h"
#include "tlsaudit/cert.h"
#include "tlsaudit/util.h"

#define SEC 1000000000ULL

static char dir[64];

static struct agg *filled(void)
{
	struct agg *a = agg__new(16, 4);
	struct hs_record r;
	int i;

	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * SEC;
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", r.server.addr);
	r.server.port = 587;
	r.version = TLS_V_10;
	r.offered_max = TLS_V_10;
	r.proc.known = true;
	r.proc.pid = 77;
	util_strlcpy(r.proc.exe, "/usr/lib/postfix/sbin/smtp", sizeof(r.proc.exe));
	util_strlcpy(r.proc.unit, "postfix@-.service", sizeof(r.proc.unit));
	util_strlcpy(r.proc.comm, "smtp", sizeof(r.proc.comm));
	util_strlcpy(r.proc.tls_lib, "libssl.so.1.1", sizeof(r.proc.tls_lib));
	util_strlcpy(r.sni, "mx.example.test", sizeof(r.sni));
	for (i = 0; i < 3; i++)
		agg__add(a, &r, r.time_ns);
	r.version = TLS_V_13;
	r.offered_max = TLS_V_13;
	r.role = HS_ROLE_SERVER;
	agg__add(a, &r, r.time_ns);
	r.kind = HS_KIND_PLAINTEXT_SMTP;
	agg__add(a, &r, r.time_ns);
	return a;
}

/* add_failures - a refused TLS 1.0 client, sealed and reset failures, SMTP sessions. */
static void add_failures(struct agg *a)
{
	struct hs_record r;

	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400100ULL * SEC;
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET;
	inet_pton(AF_INET, "198.51.100.25", r.server.addr);
	r.server.port = 25;
	r.offered_max = TLS_V_10;
	r.proc.known = true;
	util_strlcpy(r.proc.exe, "/usr/lib/postfix/sbin/smtp", sizeof(r.proc.exe));
	util_strlcpy(r.proc.unit, "postfix@-.service", sizeof(r.proc.unit));
	util_strlcpy(r.mx_host, "mx.provider.test", sizeof(r.mx_host));
	r.starttls_smtp = true;
	r.smtp_tls = HS_SMTP_STARTTLS;
	r.outcome = HS_OUTCOME_ALERT;
	r.outcome_by = HS_SIDE_SERVER;
	r.has_alert = true;
	r.alert = 70;
	agg__add(a, &r, r.time_ns);
	agg__add(a, &r, r.time_ns);
	r.has_alert = false;
	r.outcome_by = HS_SIDE_CLIENT;
	agg__add(a, &r, r.time_ns);
	r.outcome = HS_OUTCOME_RESET;
	r.outcome_by = HS_SIDE_SERVER;
	agg__add(a, &r, r.time_ns);
	r.kind = HS_KIND_PLAINTEXT_SMTP;
	r.starttls_smtp = false;
	r.outcome = HS_OUTCOME_NONE;
	r.outcome_by = HS_SIDE_NONE;
	r.smtp_tls = HS_SMTP_NOT_OFFERED;
	r.plaintext_fallback = HS_TRI_TRUE;
	r.time_ns += SEC;
	agg__add(a, &r, r.time_ns);
	r.smtp_tls = HS_SMTP_REFUSED;
	r.plaintext_fallback = HS_TRI_FALSE;
	agg__add(a, &r, r.time_ns);
}

/* A state file written by the release before failures were counted (format 1). */
static const uint8_t state_v1[] = {
	0x54, 0x4c, 0x53, 0x41, 0x55, 0x44, 0x53, 0x54, 0x00, 0x00, 0x00, 0x01,
	0x00, 0x00, 0x02, 0x65, 0x00, 0x00, 0x00, 0xb2, 0x3a, 0x6d, 0xa3, 0xda,
	0x78, 0x9c, 0x93, 0x78, 0xb3, 0xbd, 0x3f, 0xe4, 0x9d, 0x2d, 0x23, 0x03,
	0x03, 0x03, 0x13, 0x83, 0x94, 0x7e, 0x69, 0x71, 0x91, 0x7e, 0x4e, 0x66,
	0x92, 0x7e, 0x41, 0x7e, 0x71, 0x49, 0x5a, 0x66, 0x85, 0x7e, 0x71, 0x52,
	0x66, 0x9e, 0x7e, 0x71, 0x6e, 0x49, 0x01, 0x50, 0x5e, 0x10, 0x2a, 0xe8,
	0xa0, 0xab, 0x57, 0x9c, 0x5a, 0x54, 0x96, 0x99, 0x9c, 0xca, 0xc0, 0xc0,
	0xc8, 0xc0, 0xe4, 0xcd, 0x80, 0x1d, 0x30, 0xe3, 0x10, 0xc7, 0xa5, 0x0e,
	0x9d, 0xc6, 0x00, 0x12, 0xaf, 0xba, 0x4e, 0xce, 0xdd, 0xd3, 0x00, 0xa7,
	0xb9, 0x14, 0x18, 0x79, 0x77, 0x20, 0xc9, 0x33, 0x02, 0x9d, 0xc2, 0x9f,
	0x5b, 0xa1, 0x97, 0x5a, 0x91, 0x98, 0x5b, 0x90, 0x93, 0xaa, 0x57, 0x92,
	0x5a, 0x5c, 0x42, 0x8c, 0x1a, 0x06, 0x5e, 0xa0, 0x8f, 0x8b, 0x8b, 0x73,
	0xf4, 0x8a, 0xf3, 0xf5, 0x0c, 0xf5, 0x0c, 0x19, 0x58, 0xa0, 0xfe, 0xf5,
	0x65, 0xc4, 0xa2, 0x1b, 0xdd, 0x11, 0x64, 0x84, 0x19, 0x13, 0xee, 0x30,
	0xc3, 0x05, 0x18, 0x09, 0xf0, 0x71, 0xea, 0xc3, 0x70, 0x2e, 0x16, 0x80,
	0x11, 0x1e, 0x58, 0x01, 0xce, 0x40, 0xc2, 0xa2, 0x16, 0x68, 0xdb, 0xa9,
	0xe3, 0x87, 0x8a, 0xe0, 0x7c, 0x00, 0x04, 0xa7, 0x65, 0xfa,
};

static void check_failures(const struct agg_row *r, uint64_t times)
{
	assert_int_equal(r->key.port, 25);
	assert_int_equal(r->failures, 4 * times);
	assert_int_equal(r->failed[AGG_F_ALERT][HS_SIDE_SERVER], 2 * times);
	assert_int_equal(r->failed[AGG_F_ALERT][HS_SIDE_CLIENT], times);
	assert_int_equal(r->failed[AGG_F_RESET][HS_SIDE_SERVER], times);
	assert_int_equal(r->failed_old_offer, 4 * times);
	assert_int_equal(r->failed_early, 4 * times);
	assert_int_equal(r->n_alerts, 2);
	assert_int_equal(r->alerts[0].alert, 70);
	assert_int_equal(r->alerts[0].count, 2 * times);
	assert_true(r->alerts[1].sealed);
	assert_true(r->last_fail.time_ns == 1795400100ULL * SEC);
	assert_int_equal(r->last_fail.outcome, HS_OUTCOME_RESET);
	assert_int_equal(r->last_fail.by, HS_SIDE_SERVER);
	assert_int_equal(r->last_fail.offered_max, TLS_V_10);
	assert_string_equal(r->last_fail.sni, "mx.provider.test");
	assert_int_equal(r->last_fail.peer.family, AF_INET);
	assert_int_equal(r->smtp[HS_SMTP_STARTTLS], 4 * times);
	assert_int_equal(r->smtp[HS_SMTP_NOT_OFFERED], times);
	assert_int_equal(r->smtp[HS_SMTP_REFUSED], times);
	assert_int_equal(r->fallback[HS_SMTP_NOT_OFFERED], times);
	assert_int_equal(r->fallback[HS_SMTP_REFUSED], 0);
	assert_int_equal(r->plaintext, 2 * times);
	assert_string_equal(r->plain_mx, "mx.provider.test");
	assert_true(r->last_plain_ns == 1795400101ULL * SEC);
}

static void test_round_trip_failures(void **state)
{
	struct agg *a = filled(), *b = agg__new(16, 4);
	uint8_t *buf;
	size_t len;
	char err[256];

	(void)state;
	add_failures(a);
	assert_int_equal(agg__save_buf(a, &buf, &len), 0);
	assert_int_equal(buf[11], 6); /* format version */
	assert_int_equal(agg__load_buf(b, buf, len, err, sizeof(err)), 0);
	assert_int_equal(agg__n_rows(b), 3);
	check_failures(agg__row(b, 2), 1);
	assert_int_equal(agg__totals(b)->failures, 4);
	assert_int_equal(agg__totals(b)->failed[AGG_F_ALERT], 3);
	assert_int_equal(agg__totals(b)->smtp[HS_SMTP_NOT_OFFERED], 1);
	assert_int_equal(agg__totals(b)->fallback, 1);
	/* Loading the same state again, as after a restart with counters kept: adds up. */
	assert_int_equal(agg__load_buf(b, buf, len, err, sizeof(err)), 0);
	check_failures(agg__row(b, 2), 2);
	assert_int_equal(agg__totals(b)->failures, 8);
	free(buf);
	agg__free(a);
	agg__free(b);
}

static void test_v1_file_loads(void **state)
{
	struct agg *b = agg__new(16, 4);
	const struct agg_row *r;
	uint8_t *buf;
	size_t len;
	char err[256] = "";

	(void)state;
	assert_int_equal(state_v1[11], 1);
	assert_int_equal(agg__load_buf(b, state_v1, sizeof(state_v1), err, sizeof(err)), 0);
	assert_int_equal(agg__n_rows(b), 2);
	r = agg__row(b, 0);
	assert_string_equal(r->key.exe, "/usr/lib/postfix/sbin/smtp");
	assert_int_equal(r->versions[AGG_V_TLS10], 3);
	assert_int_equal(r->limited_client, 3);
	assert_string_equal(r->last_sni, "mx.example.test");
	assert_int_equal(r->n_peers, 1);
	/* What version 1 did not know starts at zero. */
	assert_int_equal(r->failures, 0);
	assert_int_equal(r->n_alerts, 0);
	assert_int_equal(r->last_fail.time_ns, 0);
	r = agg__row(b, 1);
	assert_int_equal(r->plaintext, 1);
	assert_int_equal(r->smtp[HS_SMTP_NOT_OFFERED], 0);
	assert_int_equal(agg_smtp_unknown(r), 1);
	assert_int_equal(agg__totals(b)->handshakes, 4);

	/* The counters go on and the next save is format 6, which loads back the same. */
	add_failures(b);
	assert_int_equal(agg__save_buf(b, &buf, &len), 0);
	assert_int_equal(buf[11], 6);
	agg__free(b);
	b = agg__new(16, 4);
	assert_int_equal(agg__load_buf(b, buf, len, err, sizeof(err)), 0);
	assert_int_equal(agg__n_rows(b), 3);
	assert_int_equal(agg__row(b, 0)->versions[AGG_V_TLS10], 3);
	assert_int_equal(agg_smtp_unknown(agg__row(b, 1)), 1);
	check_failures(agg__row(b, 2), 1);
	free(buf);
	agg__free(b);
}

static void expect_bad(const uint8_t *buf, size_t len, const char *why);
static size_t craft(const uint8_t *raw, size_t raw_len, uint32_t claim_raw, uint8_t *out,
		    size_t cap);

/*
 * The verdicts per policy (format 3 on): each slot loads back as saved, a second load
 * adds the counts up, and a slot whose bytes lie (a name no policy can have, a reason
 * out of range) makes the whole file bad.
 */
static void test_policies_round_trip(void **state)
{
	static struct tls_policy_set ps;
	struct agg *a = filled(), *b = agg__new(16, 4);
	const struct agg_policy *p;
	struct hs_record r;
	uint8_t *buf, raw[16384], file[32768];
	uLongf rlen = sizeof(raw);
	size_t len, n, at;
	char err[256];

	(void)state;
	tls_policy_set_init(&ps);
	assert_int_equal(tls_policy_set(&ps, "intake-2026", "ciphers",
					"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", err, sizeof(err)), 0);
	assert_int_equal(tls_policy_set_list(&ps, "tls12,intake-2026", err, sizeof(err)), 0);
	assert_int_equal(tls_policy_set_finish(&ps, err, sizeof(err)), 0);
	agg__set_policies(a, &ps);
	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400100ULL * SEC;
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET;
	r.server.port = 443;
	r.proc.known = true;
	util_strlcpy(r.proc.exe, "/usr/bin/curl", sizeof(r.proc.exe));
	util_strlcpy(r.sni, "intake.example.test", sizeof(r.sni));
	r.judged = true;
	r.n_verdicts = 2;
	r.verdicts[1].by = TLS_POLICY_BY_SERVER;
	r.verdicts[1].reason = TLS_REASON_CIPHER;
	agg__add(a, &r, r.time_ns);
	r.verdicts[1].by = TLS_POLICY_PASS;
	r.verdicts[1].reason = 0;
	r.time_ns += SEC;
	agg__add(a, &r, r.time_ns);

	assert_int_equal(agg__save_buf(a, &buf, &len), 0);
	assert_int_equal(agg__load_buf(b, buf, len, err, sizeof(err)), 0);
	assert_int_equal(agg__n_rows(b), 3);
	p = agg_row_policy(agg__row(b, 2), "intake-2026");
	assert_non_null(p);
	assert_int_equal(p->passed, 1);
	assert_int_equal(p->failed[1][TLS_REASON_CIPHER], 1);
	assert_true(p->first_ns == 1795400100ULL * SEC);
	assert_true(p->last_fail_ns == 1795400100ULL * SEC);
	assert_true(p->last_pass_ns == 1795400101ULL * SEC);
	assert_int_equal(p->last_by, TLS_POLICY_BY_SERVER);
	assert_int_equal(p->last_reason, TLS_REASON_CIPHER);
	assert_string_equal(p->fail_sni, "intake.example.test");
	assert_int_equal(agg_row_policy(agg__row(b, 2), "tls12")->passed, 2);
	assert_null(agg_row_policy(agg__row(b, 0), "tls12"));
	/* The definition it was counted under comes back too (format 6). */
	assert_true(p->digest != 0 && p->digest == tls_policy_find(&ps, "intake-2026")->digest);
	{
		/* Restarted without it, then edited and judged again: its counts start again. */
		static struct tls_policy_set other, edited;
		struct agg *c = agg__new(16, 4);

		tls_policy_set_init(&other);
		assert_int_equal(tls_policy_set(&other, "intake-2026", "min_version", "TLSv1.0",
						err, sizeof(err)), 0);
		assert_int_equal(tls_policy_set_list(&other, "tls12", err, sizeof(err)), 0);
		assert_int_equal(tls_policy_set_finish(&other, err, sizeof(err)), 0);
		agg__set_policies(c, &other);
		assert_int_equal(agg__load_buf(c, buf, len, err, sizeof(err)), 0);
		assert_int_equal(agg_policy_failures(agg_row_policy(agg__row(c, 2), "intake-2026")), 1);
		edited = other;
		assert_int_equal(tls_policy_set_list(&edited, "tls12,intake-2026", err,
						     sizeof(err)), 0);
		assert_int_equal(tls_policy_set_finish(&edited, err, sizeof(err)), 0);
		agg__set_policies(c, &edited);
		assert_int_equal(agg_policy_failures(agg_row_policy(agg__row(c, 2), "intake-2026")), 0);
		assert_int_equal(agg_row_policy(agg__row(c, 2), "tls12")->passed, 2);
		agg__free(c);
	}
	/* A restart that loads the same file again adds up, by name. */
	agg__set_policies(b, &ps);
	assert_int_equal(agg__load_buf(b, buf, len, err, sizeof(err)), 0);
	assert_int_equal(agg_row_policy(agg__row(b, 2), "intake-2026")->passed, 2);
	assert_int_equal(agg_policy_failures(agg_row_policy(agg__row(b, 2), "intake-2026")), 2);

	/* Lies in the slot: the name is the last row's first policy string. */
	assert_int_equal(uncompress(raw, &rlen, buf + 24, len - 24), Z_OK);
	at = 0;
	for (n = 0; n + 11 <= rlen; n++)
		if (!memcmp(raw + n, "\0\x05tls12", 7))
			at = n + 2;
	assert_true(at > 0);
	raw[at] = 'T';
	n = craft(raw, rlen, (uint32_t)rlen, file, sizeof(file));
	expect_bad(file, n, "bad policy name");
	raw[at] = 't';
	/* tls12's counts: passed (8 bytes), then the number of (by, reason) kinds. */
	raw[at + 5 + 8] = 2 * AGG_REASONS + 1;
	n = craft(raw, rlen, (uint32_t)rlen, file, sizeof(file));
	expect_bad(file, n, "bad policy verdict");
	free(buf);
	agg__free(a);
	agg__free(b);
}

/*
 * Whatever records arrive (outcomes, senders, alerts, SMTP reasons and kinds in any
 * combination, including ones a sane producer never makes), the counters the daemon
 * saves must load back: a state file its own writer made is never "inconsistent".
 */
static void test_any_records_round_trip(void **state)
{
	struct agg *a = agg__new(8, 0), *b = agg__new(8, 0);
	unsigned int seed = (unsigned int)time(NULL);
	struct hs_record r;
	uint8_t *buf;
	size_t len;
	char err[256] = "";
	int i;

	(void)state;
	print_message("record mix seed %u\n", seed);
	srand(seed);
	memset(&r, 0, sizeof(r));
	r.server.family = AF_INET;
	r.proc.known = true;
	for (i = 0; i < 20000; i++) {
		r.time_ns = (1795400000ULL + (uint64_t)(rand() % 1000)) * SEC;
		r.kind = (enum hs_kind)(rand() % 2);
		r.role = (enum hs_role)(rand() % 3);
		r.server.port = (uint16_t)(rand() % 3 ? 25 : 443);
		snprintf(r.proc.exe, sizeof(r.proc.exe), "/usr/bin/p%d", rand() % 12);
		r.version = (uint16_t[]){ 0, TLS_V_10, TLS_V_12, TLS_V_13, 0x7f1c }[rand() % 5];
		r.offered_max = (uint16_t[]){ 0, TLS_V_10, TLS_V_11, TLS_V_13 }[rand() % 4];
		r.has_cipher = rand() % 2;
		r.cipher_id = rand() % 2 ? 0x0005 : 0x1301;
		r.starttls_smtp = rand() % 2;
		r.outcome = (uint8_t)(rand() % 8);
		r.outcome_by = (uint8_t)(rand() % 4);
		r.has_alert = rand() % 2;
		r.alert = (uint8_t)(rand() % 12 * 10);
		r.smtp_tls = (uint8_t)(rand() % 6);
		r.plaintext_fallback = (uint8_t)(rand() % 4);
		snprintf(r.mx_host, sizeof(r.mx_host), "mx%d.test", rand() % 3);
		r.cert.state = (uint8_t)(rand() % 4);
		r.cert.problems = (uint32_t)rand() & ((1u << TLS_CERT_N_PROBLEMS) - 1);
		r.cert.accepted_bad = (uint8_t)(rand() % 3);
		r.cert.not_after = 1795400000 + rand() % 1000;
		snprintf(r.cert.subject, sizeof(r.cert.subject), "s%d.test", rand() % 6);
		agg__add(a, &r, r.time_ns);
	}
	assert_int_equal(agg__save_buf(a, &buf, &len), 0);
	if (agg__load_buf(b, buf, len, err, sizeof(err)))
		fail_msg("the daemon's own state does not load: %s", err);
	assert_int_equal(agg__totals(b)->failures, agg__totals(a)->failures);
	assert_int_equal(agg__totals(b)->handshakes, agg__totals(a)->handshakes);
	assert_int_equal(agg__totals(b)->fallback, agg__totals(a)->fallback);
	assert_int_equal(agg__totals(b)->cert_bad, agg__totals(a)->cert_bad);
	assert_int_equal(agg__totals(b)->cert_accepted, agg__totals(a)->cert_accepted);
	free(buf);
	agg__free(a);
	agg__free(b);
}

/* save_bad - save @a after @mutate broke its last row; the load must refuse it. */
static void save_bad(void (*mutate)(struct agg_row *r), const char *why)
{
	struct agg *a = filled();
	uint8_t *buf;
	size_t len;

	add_failures(a);
	/* The test reaches into its own aggregation to write what a bad disk would hold. */
	mutate((struct agg_row *)agg__row(a, agg__n_rows(a) - 1));
	assert_int_equal(agg__save_buf(a, &buf, &len), 0);
	expect_bad(buf, len, why);
	free(buf);
	agg__free(a);
}

static void too_many_alerts(struct agg_row *r)
{
	r->n_alerts = AGG_ALERT_SLOTS + 1;
}

static void slots_exceed_count(struct agg_row *r)
{
	r->alerts[0].count = 1000;
}

static void fallback_exceeds_sessions(struct agg_row *r)
{
	r->fallback[HS_SMTP_REFUSED] = 5;
}

static void reasons_exceed_plaintext(struct agg_row *r)
{
	r->smtp[HS_SMTP_NOT_USED] = 5;
}

static void bad_last_outcome(struct agg_row *r)
{
	r->last_fail.outcome = HS_OUTCOME_ESTABLISHED;
}

static void bad_alert_sender(struct agg_row *r)
{
	r->alerts[0].by = 7;
}

/* The fields version 2 adds are range-checked like the others. */
static void test_v2_inconsistent(void **state)
{
	(void)state;
	save_bad(too_many_alerts, "too many alert kinds");
	save_bad(slots_exceed_count, "inconsistent counters");
	save_bad(fallback_exceeds_sessions, "inconsistent counters");
	save_bad(reasons_exceed_plaintext, "inconsistent counters");
	save_bad(bad_last_outcome, "inconsistent counters");
	save_bad(bad_alert_sender, "bad alert kind");
}

/* add_certs - a client that took a self-signed, expired certificate, and a local server's own. */
static void add_certs(struct agg *a)
{
	struct hs_record r;

	memset(&r, 0, sizeof(r));
	r.kind = HS_KIND_TLS;
	r.role = HS_ROLE_CLIENT;
	r.version = TLS_V_12;
	r.outcome = HS_OUTCOME_ESTABLISHED;
	r.time_ns = 1795400200ULL * SEC;
	r.server.family = AF_INET;
	r.server.addr[0] = 192, r.server.addr[1] = 0, r.server.addr[2] = 2, r.server.addr[3] = 7;
	r.server.port = 443;
	r.proc.known = true;
	util_strlcpy(r.proc.exe, "/usr/bin/curl", sizeof(r.proc.exe));
	util_strlcpy(r.sni, "self.example.test", sizeof(r.sni));
	r.cert.state = HS_CERT_OK;
	r.cert.problems = TLS_CERT_EXPIRED | TLS_CERT_SELF_SIGNED | TLS_CERT_WEAK_KEY;
	r.cert.accepted_bad = HS_TRI_TRUE;
	util_strlcpy(r.cert.subject, "self.example.test", sizeof(r.cert.subject));
	agg__add(a, &r, r.time_ns);
	r.cert.problems = TLS_CERT_WEAK_KEY;
	r.cert.accepted_bad = HS_TRI_NULL;
	agg__add(a, &r, r.time_ns);
	r.role = HS_ROLE_SERVER;
	util_strlcpy(r.proc.exe, "/usr/sbin/nginx", sizeof(r.proc.exe));
	r.cert.problems = 0;
	r.cert.not_after = 1796000000;
	util_strlcpy(r.cert.subject, "www.example.test", sizeof(r.cert.subject));
	agg__add(a, &r, r.time_ns);
}

/* Certificate counters, the latest bad one accepted and a server's own survive (format 5). */
static void test_certs_round_trip(void **state)
{
	struct agg *a = agg__new(16, 4), *b = agg__new(16, 4);
	const struct agg_row *r;
	uint8_t *buf;
	size_t len;
	char err[256] = "";

	(void)state;
	add_certs(a);
	assert_int_equal(agg__save_buf(a, &buf, &len), 0);
	assert_int_equal(agg__load_buf(b, buf, len, err, sizeof(err)), 0);
	assert_int_equal(agg__n_rows(b), 2);
	r = agg__row(b, 0);
	assert_int_equal(r->cert_bad, 2);
	assert_int_equal(r->cert_problems[4], 2); /* weak_key */
	assert_int_equal(r->cert_problems[0], 1); /* expired */
	assert_int_equal(r->cert_accepted, 1);
	assert_int_equal(r->bad_cert_accepted[0], 1);
	assert_int_equal(r->bad_cert_accepted[2], 1);
	assert_int_equal(r->bad_cert_accepted[3], 0);
	assert_string_equal(r->last_bad.sni, "self.example.test");
	assert_string_equal(r->last_bad.subject, "self.example.test");
	assert_int_equal(r->last_bad.problems,
			 TLS_CERT_EXPIRED | TLS_CERT_SELF_SIGNED | TLS_CERT_WEAK_KEY);
	assert_int_equal(r->last_bad.peer.addr[3], 7);
	assert_int_equal(r->n_own, 0);
	r = agg__row(b, 1);
	assert_int_equal(r->n_own, 1);
	assert_string_equal(r->own[0].subject, "www.example.test");
	assert_int_equal(r->own[0].not_after, 1796000000);
	assert_int_equal(agg__totals(b)->cert_bad, 2);
	assert_int_equal(agg__totals(b)->cert_accepted, 1);
	free(buf);
	agg__free(a);
	agg__free(b);
}

static void problem_exceeds_bad(struct agg_row *r)
{
	r->cert_problems[1] = r->cert_bad + 1;
}

static void accepted_exceeds_problem(struct agg_row *r)
{
	r->cert_bad = 3;
	r->cert_accepted = 1;
	r->bad_cert_accepted[3] = 1;
	r->last_bad.problems = TLS_CERT_NAME_MISMATCH;
}

static void accepted_without_problem(struct agg_row *r)
{
	r->cert_bad = 3;
	r->cert_problems[3] = 1;
	r->cert_accepted = 1;
	r->bad_cert_accepted[3] = 1;
	r->last_bad.problems = TLS_CERT_WEAK_KEY;
}

static void too_many_own(struct agg_row *r)
{
	r->n_own = AGG_OWN_CERTS + 1;
}

/* The certificate fields are range-checked like the others. */
static void test_certs_inconsistent(void **state)
{
	(void)state;
	save_bad(problem_exceeds_bad, "inconsistent certificate counters");
	save_bad(accepted_exceeds_problem, "inconsistent certificate counters");
	save_bad(accepted_without_problem, "inconsistent certificate counters");
	save_bad(too_many_own, "too many server certificates");
}

/* A format version from the future is refused with a reason, not misread. */
static void test_unknown_version(void **state)
{
	uint8_t copy[sizeof(state_v1)];

	(void)state;
	memcpy(copy, state_v1, sizeof(copy));
	copy[11] = 7;
	expect_bad(copy, sizeof(copy), "unsupported format version");
	copy[11] = 0;
	expect_bad(copy, sizeof(copy), "unsupported format version");
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tlsaudit-state-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_round_trip(void **state)
{
	struct agg *a = filled(), *b = agg__new(16, 4);
	const struct agg_row *r;
	uint8_t *buf;
	size_t len;
	char err[256];

	(void)state;
	assert_int_equal(agg__save_buf(a, &buf, &len), 0);
	assert_memory_equal(buf, "TLSAUDST", 8);
	assert_int_equal(agg__load_buf(b, buf, len, err, sizeof(err)), 0);
	assert_int_equal(agg__n_rows(b), 2);
	r = agg__row(b, 0);
	assert_string_equal(r->key.exe, "/usr/lib/postfix/sbin/smtp");
	assert_string_equal(r->key.unit, "postfix@-.service");
	assert_int_equal(r->key.role, HS_ROLE_CLIENT);
	assert_int_equal(r->key.port, 587);
	assert_int_equal(r->versions[AGG_V_TLS10], 3);
	assert_int_equal(r->legacy, 3);
	assert_int_equal(r->limited_client, 3);
	assert_string_equal(r->tls_lib, "libssl.so.1.1");
	assert_string_equal(r->last_sni, "mx.example.test");
	assert_int_equal(r->last_peer.family, AF_INET6);
	assert_int_equal(r->n_peers, 1);
	assert_int_equal(agg__row(b, 1)->plaintext, 1);
	assert_int_equal(agg__totals(b)->handshakes, 4);
	assert_int_equal(agg__totals(b)->legacy, 3);
	free(buf);
	agg__free(a);
	agg__free(b);
}

static void test_file_atomic_and_restart_adds_up(void **state)
{
	struct agg *a = filled(), *b;
	char path[128], err[256];
	struct stat st;
	struct dirent *de;
	DIR *d;
	int files = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/sub/state", dir);
	assert_int_equal(agg__save(a, path, err, sizeof(err)), 0);
	assert_int_equal(agg__save(a, path, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* No temp files left behind. */
	snprintf(path, sizeof(path), "%s/sub", dir);
	d = opendir(path);
	while ((de = readdir(d)))
		files += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 1);

	/* A restarted daemon loads the counters and keeps counting on top of them. */
	snprintf(path, sizeof(path), "%s/sub/state", dir);
	b = filled();
	assert_int_equal(agg__load(b, path, err, sizeof(err)), 0);
	assert_int_equal(agg__n_rows(b), 2);
	assert_int_equal(agg__row(b, 0)->versions[AGG_V_TLS10], 6);
	assert_int_equal(agg__row(b, 0)->limited_client, 6);
	assert_int_equal(agg__totals(b)->handshakes, 8);

	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(agg__load(b, path, err, sizeof(err)), -ENOENT);
	agg__free(a);
	agg__free(b);
}

static void expect_bad(const uint8_t *buf, size_t len, const char *why)
{
	struct agg *b = agg__new(16, 4);
	char err[256] = "";

	assert_int_equal(agg__load_buf(b, buf, len, err, sizeof(err)), -EBADMSG);
	if (why && !strstr(err, why))
		fail_msg("got '%s', want '%s'", err, why);
	assert_int_equal(agg__n_rows(b), 0);
	agg__free(b);
}

static void test_truncated_and_flipped(void **state)
{
	struct agg *a = filled();
	uint8_t *buf;
	size_t len, i;
	unsigned int seed = (unsigned int)time(NULL);
	int bit;

	(void)state;
	assert_int_equal(agg__save_buf(a, &buf, &len), 0);
	for (i = 0; i < len; i++)
		expect_bad(buf, i, NULL);
	expect_bad(buf, 10, "truncated header");
	expect_bad(buf, len - 1, "truncated");
	/* Every single-bit flip is caught (the CRC covers header and payload). */
	print_message("bit flip seed %u\n", seed);
	srand(seed);
	for (i = 0; i < len; i++) {
		bit = rand() % 8;
		buf[i] ^= (uint8_t)(1u << bit);
		expect_bad(buf, len, NULL);
		buf[i] ^= (uint8_t)(1u << bit);
	}
	buf[0] = 'X';
	expect_bad(buf, len, "bad magic");
	free(buf);
	agg__free(a);
}

static void test_garbage(void **state)
{
	uint8_t junk[4096];
	unsigned int seed = (unsigned int)time(NULL);
	size_t i;
	int round;

	(void)state;
	print_message("garbage seed %u\n", seed);
	srand(seed);
	for (round = 0; round < 200; round++) {
		for (i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)rand();
		if (round % 2)
			memcpy(junk, "TLSAUDST\0\0\0\1", 12);
		expect_bad(junk, (size_t)rand() % sizeof(junk), NULL);
	}
}

/* craft - a file around @raw with a valid header and checksum: only the payload lies. */
static size_t craft_v(uint32_t version, const uint8_t *raw, size_t raw_len, uint32_t claim_raw,
		      uint8_t *out, size_t cap)
{
	uLongf clen = cap - 24;
	uint32_t crc, v;

	assert_int_equal(compress2(out + 24, &clen, raw, raw_len, 6), Z_OK);
	memcpy(out, "TLSAUDST", 8);
	v = htonl(version);
	memcpy(out + 8, &v, 4);
	v = htonl(claim_raw);
	memcpy(out + 12, &v, 4);
	v = htonl((uint32_t)clen);
	memcpy(out + 16, &v, 4);
	crc = (uint32_t)crc32(crc32(0L, out, 20), out + 24, (uInt)clen);
	v = htonl(crc);
	memcpy(out + 20, &v, 4);
	return 24 + clen;
}

static size_t craft(const uint8_t *raw, size_t raw_len, uint32_t claim_raw, uint8_t *out,
		    size_t cap)
{
	return craft_v(6, raw, raw_len, claim_raw, out, cap);
}

static void test_hostile_payloads(void **state)
{
	struct agg *a = filled();
	uint8_t raw[8192], file[16384], *good;
	size_t n, glen;
	uLongf rlen = sizeof(raw);

	(void)state;
	/* Recover a genuine payload to mutate. */
	assert_int_equal(agg__save_buf(a, &good, &glen), 0);
	assert_int_equal(uncompress(raw, &rlen, good + 24, glen - 24), Z_OK);

	/* A row count far beyond what the payload can hold. */
	raw[8] = 0x7f;
	n = craft(raw, rlen, (uint32_t)rlen, file, sizeof(file));
	expect_bad(file, n, "row count larger than the payload");
	raw[8] = 0;

	/* The first string (exe) claims 0xffff bytes. */
	raw[12] = 0xff;
	raw[13] = 0xff;
	n = craft(raw, rlen, (uint32_t)rlen, file, sizeof(file));
	expect_bad(file, n, "bad string field");
	raw[12] = 0;
	raw[13] = 26;

	/* The stated length disagrees with what inflates. */
	n = craft(raw, rlen, (uint32_t)rlen + 1, file, sizeof(file));
	expect_bad(file, n, "does not inflate to its stated length");
	n = craft(raw, rlen, 0x7fffffff, file, sizeof(file));
	expect_bad(file, n, "implausible payload length");

	/* Trailing bytes after the rows. */
	raw[rlen] = 0;
	n = craft(raw, rlen + 1, (uint32_t)rlen + 1, file, sizeof(file));
	expect_bad(file, n, "trailing bytes after the rows");

	/* The untouched payload still loads: the mutations were the only problem. */
	n = craft(raw, rlen, (uint32_t)rlen, file, sizeof(file));
	{
		struct agg *b = agg__new(16, 4);
		char err[256];

		if (agg__load_buf(b, file, n, err, sizeof(err)))
			fail_msg("%s", err);
		assert_int_equal(agg__n_rows(b), 2);
		agg__free(b);
	}
	/* Counters after the rows (format 4): a count beyond the payload is refused. */
	memcpy(raw + rlen - 52, "\x7f\xff\xff\xff", 4);
	n = craft(raw, rlen, (uint32_t)rlen, file, sizeof(file));
	expect_bad(file, n, "counter count larger than the payload");
	free(good);
	agg__free(a);
}

/*
 * The folded rows and series survive a restart (format 4 on, after the rows); a format 3
 * file, which has no such counters, still loads with them at zero; counters a later
 * build adds after ours are skipped.
 */
static void test_fold_counters_round_trip(void **state)
{
	struct agg *a = filled(), *b;
	uint8_t raw[8192], file[16384], *buf;
	uLongf rlen = sizeof(raw);
	size_t len, n;
	char err[256];

	(void)state;
	/* Both rows of filled() last seen long ago: row_ttl folds them. */
	assert_int_equal(agg__bound(a, 1795400000ULL * SEC + 31 * 86400 * SEC,
				    30 * 86400 * SEC, 100), 2);
	assert_int_equal(agg__save_buf(a, &buf, &len), 0);
	b = agg__new(16, 4);
	assert_int_equal(agg__load_buf(b, buf, len, err, sizeof(err)), 0);
	assert_int_equal(agg__n_rows(b), 1);
	assert_true(agg__row(b, 0)->key.other);
	assert_int_equal(agg__row(b, 0)->handshakes, 4);
	assert_int_equal(agg__row(b, 0)->plaintext, 1);
	assert_int_equal(agg__totals(b)->rows_folded[AGG_FOLD_ROW_TTL], 2);
	assert_int_equal(agg__totals(b)->series_folded[AGG_FOLD_ROW_TTL], 2);
	agg__free(b);

	assert_int_equal(uncompress(raw, &rlen, buf + 24, len - 24), Z_OK);
	/*
	 * Format 3: the same row without the counters (52 bytes) and without its format 5
	 * certificate fields and format 6 policy digests, which end it: 142 + 1 bytes when
	 * it saw no certificate and no policy.
	 */
	assert_int_equal(agg__row(a, 0)->cert_bad + agg__row(a, 0)->n_own, 0);
	assert_int_equal(agg__row(a, 0)->n_pol, 0);
	n = craft_v(3, raw, rlen - 52 - 143, (uint32_t)rlen - 52 - 143, file, sizeof(file));
	b = agg__new(16, 4);
	assert_int_equal(agg__load_buf(b, file, n, err, sizeof(err)), 0);
	assert_int_equal(agg__row(b, 0)->handshakes, 4);
	assert_int_equal(agg__totals(b)->rows_folded[AGG_FOLD_ROW_TTL], 0);
	agg__free(b);
	/* One more counter from a later build: read past, ours kept. */
	raw[rlen - 49] = 7;
	memset(raw + rlen, 0x11, 8);
	n = craft(raw, rlen + 8, (uint32_t)rlen + 8, file, sizeof(file));
	b = agg__new(16, 4);
	if (agg__load_buf(b, file, n, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(agg__totals(b)->rows_folded[AGG_FOLD_ROW_TTL], 2);
	agg__free(b);
	free(buf);
	agg__free(a);
}

static void test_quarantine(void **state)
{
	struct agg *b = agg__new(16, 4);
	char path[128], moved[256], err[256], want[256];
	struct stat st;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/state", dir);
	f = fopen(path, "w");
	fputs("this is not a state file\n", f);
	fclose(f);
	assert_int_equal(agg__load(b, path, err, sizeof(err)), -EBADMSG);
	snprintf(want, sizeof(want), "%s: not a tlsaudit state file (bad magic)", path);
	assert_string_equal(err, want);
	assert_int_equal(agg_state_quarantine(path, 1795400000ULL * SEC, moved, sizeof(moved)), 0);
	snprintf(want, sizeof(want), "%s/state.corrupt-1795400000", dir);
	assert_string_equal(moved, want);
	assert_int_equal(stat(moved, &st), 0);
	assert_int_not_equal(stat(path, &st), 0);
	agg__free(b);
}

/* count_temps - entries in @d whose name starts with "state.tmp". */
static int count_temps(const char *d)
{
	struct dirent *de;
	DIR *dp = opendir(d);
	int n = 0;

	assert_non_null(dp);
	while ((de = readdir(dp)))
		n += !strncmp(de->d_name, "state.tmp", 9);
	closedir(dp);
	return n;
}

static void touch(const char *d, const char *name)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", d, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

/*
 * A daemon killed while it writes its state leaves PATH.tmpXXXXXX behind, one per crash
 * (4 after 30 kills under systemd). The next start's load removes exactly those: not the
 * state itself, not look-alikes with another length or alphabet, not directories or
 * links, not the temp files of another path in the same directory.
 */
static void test_stale_temps_removed(void **state)
{
	struct agg *a = agg__new(65536, 4), *b = agg__new(65536, 4);
	char path[128], link_path[160], err[256];
	struct hs_record r;
	struct stat st;
	unsigned int i;
	pid_t pid;
	int kills, status;

	(void)state;
	snprintf(path, sizeof(path), "%s/state", dir);
	/* Enough rows that a save takes a while, so the kills land inside writes. */
	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * SEC;
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET;
	r.version = TLS_V_12;
	r.offered_max = TLS_V_13;
	r.proc.known = true;
	for (i = 0; i < 20000; i++) {
		snprintf(r.proc.exe, sizeof(r.proc.exe), "/usr/bin/client-%u", i);
		r.server.port = (uint16_t)(1 + i % 60000);
		agg__add(a, &r, r.time_ns);
	}
	assert_int_equal(agg__save(a, path, err, sizeof(err)), 0);
	srand((unsigned int)time(NULL));
	for (kills = 0; kills < 30; kills++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			for (;;)
				agg__save(a, path, err, sizeof(err));
		}
		usleep((useconds_t)(rand() % 20000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
	}
	/* And the look-alikes of a crash's leftovers, so none of this rests on timing. */
	touch(dir, "state.tmpAb12Cd");
	touch(dir, "state.tmp000000");
	touch(dir, "state.tmpAb12C");
	touch(dir, "state.tmpAb12Cde");
	touch(dir, "state.tmpAb-2Cd");
	touch(dir, "other.tmpAb12Cd");
	snprintf(link_path, sizeof(link_path), "%s/state.tmpDir123", dir);
	assert_int_equal(mkdir(link_path, 0700), 0);
	snprintf(link_path, sizeof(link_path), "%s/state.tmpLnk123", dir);
	assert_int_equal(symlink("state", link_path), 0);
	print_message("temp files after 30 kills during saves: %d (plus 2 made by hand)\n",
		      count_temps(dir) - 7);

	assert_int_equal(agg__load(b, path, err, sizeof(err)), 0);
	assert_int_equal(agg__n_rows(b), 20000);
	/* Left: the wrong length (2), the wrong alphabet, the directory and the link. */
	assert_int_equal(count_temps(dir), 5);
	snprintf(link_path, sizeof(link_path), "%s/state.tmpAb12Cd", dir);
	assert_int_not_equal(stat(link_path, &st), 0);
	snprintf(link_path, sizeof(link_path), "%s/other.tmpAb12Cd", dir);
	assert_int_equal(stat(link_path, &st), 0);
	snprintf(link_path, sizeof(link_path), "%s/state.tmpLnk123", dir);
	assert_int_equal(lstat(link_path, &st), 0);
	assert_int_equal(stat(path, &st), 0);

	/* No state file yet, or no directory at all: nothing to clean, no error. */
	snprintf(path, sizeof(path), "%s/none/state", dir);
	assert_int_equal(agg__load(b, path, err, sizeof(err)), -ENOENT);
	agg__free(a);
	agg__free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_failures),
		cmocka_unit_test(test_v1_file_loads),
		cmocka_unit_test(test_unknown_version),
		cmocka_unit_test(test_policies_round_trip),
		cmocka_unit_test(test_v2_inconsistent),
		cmocka_unit_test(test_certs_round_trip),
		cmocka_unit_test(test_certs_inconsistent),
		cmocka_unit_test(test_any_records_round_trip),
		cmocka_unit_test_setup_teardown(test_file_atomic_and_restart_adds_up, setup,
						teardown),
		cmocka_unit_test(test_truncated_and_flipped),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_hostile_payloads),
		cmocka_unit_test(test_fold_counters_round_trip),
		cmocka_unit_test_setup_teardown(test_quarantine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_temps_removed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

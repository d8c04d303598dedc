// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prometheus textfile: the metric names the alert rules use, HELP/TYPE before every
 * family, label escaping of hostile exe names, and that every sample line has the
 * exposition format's shape (name{labels} value); failures and SMTP sessions keep one
 * label set per family and a bounded number of series; promtool, where installed,
 * accepts the whole file.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tlsaudit/config.h"
#include "tlsaudit/export.h"
#include "tlsaudit/prom.h"
#include "tlsaudit/util.h"

/* The daemon's handshake log line (src/daemon/output.c), a writer of the same records. */
#include "../../src/daemon/daemon_int.h"

#define SEC 1000000000ULL

/* Which build a printed timing comes from: `make unit` builds with ASan and UBSan. */
#ifdef __SANITIZE_ADDRESS__
#define BUILD_KIND "ASan+UBSan"
#else
#define BUILD_KIND "unsanitized"
#endif

/*
 * add_failures - Postfix's smtp client refused by a TLS 1.2-only MX (protocol_version),
 * reset once, then sending the message in plaintext; a verifying curl (unknown_ca, and a
 * sealed TLS 1.3 alert); a timeout.
 */
static void add_failures(struct agg *a)
{
	struct hs_record r;

	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * SEC;
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET;
	r.server.port = 25;
	r.offered_max = TLS_V_10;
	r.proc.known = true;
	util_strlcpy(r.proc.exe, "/usr/lib/postfix/sbin/smtp", sizeof(r.proc.exe));
	util_strlcpy(r.proc.unit, "postfix@-.service", sizeof(r.proc.unit));
	r.starttls_smtp = true;
	r.smtp_tls = HS_SMTP_STARTTLS;
	r.outcome = HS_OUTCOME_ALERT;
	r.outcome_by = HS_SIDE_SERVER;
	r.has_alert = true;
	r.alert = 70;
	agg__add(a, &r, r.time_ns);
	agg__add(a, &r, r.time_ns);
	r.outcome = HS_OUTCOME_RESET;
	r.has_alert = false;
	agg__add(a, &r, r.time_ns);
	r.kind = HS_KIND_PLAINTEXT_SMTP;
	r.starttls_smtp = false;
	r.outcome = HS_OUTCOME_NONE;
	r.outcome_by = HS_SIDE_NONE;
	r.smtp_tls = HS_SMTP_NOT_OFFERED;
	r.plaintext_fallback = HS_TRI_TRUE;
	agg__add(a, &r, r.time_ns);
	r.plaintext_fallback = HS_TRI_FALSE;
	agg__add(a, &r, r.time_ns);
	agg__add(a, &r, r.time_ns);

	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * SEC;
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET;
	r.server.port = 443;
	r.offered_max = TLS_V_13;
	r.version = TLS_V_12;
	r.proc.known = true;
	util_strlcpy(r.proc.exe, "/usr/bin/curl", sizeof(r.proc.exe));
	r.outcome = HS_OUTCOME_ALERT;
	r.outcome_by = HS_SIDE_CLIENT;
	r.has_alert = true;
	r.alert = 48;
	agg__add(a, &r, r.time_ns);
	r.version = TLS_V_13;
	r.has_alert = false;
	agg__add(a, &r, r.time_ns);
	r.version = 0;
	r.outcome = HS_OUTCOME_TIMEOUT;
	r.outcome_by = HS_SIDE_NONE;
	agg__add(a, &r, r.time_ns);
}

static struct tls_policy_set policies;

/*
 * add_verdicts - the openssl client judged under tls12 and fips-ems: its TLS 1.0 offer
 * fails tls12 by client three times; once the server also leaves out EMS.
 */
static void add_verdicts(struct agg *a)
{
	struct hs_record r;
	char err[128];

	tls_policy_set_init(&policies);
	assert_int_equal(tls_policy_set_list(&policies, "tls12,fips-ems", err, sizeof(err)), 0);
	assert_int_equal(tls_policy_set_finish(&policies, err, sizeof(err)), 0);
	agg__set_policies(a, &policies);
	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * SEC;
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET;
	r.server.port = 443;
	r.offered_max = TLS_V_10; /* no version: the other families stay as they were */
	r.proc.known = true;
	util_strlcpy(r.proc.exe, "/usr/bin/openssl", sizeof(r.proc.exe));
	r.judged = true;
	r.n_verdicts = 2;
	r.verdicts[0].by = TLS_POLICY_BY_CLIENT;
	r.verdicts[0].reason = TLS_REASON_VERSION;
	agg__add(a, &r, r.time_ns);
	agg__add(a, &r, r.time_ns);
	r.verdicts[1].by = TLS_POLICY_BY_SERVER;
	r.verdicts[1].reason = TLS_REASON_EMS;
	agg__add(a, &r, r.time_ns);
}

/* tls12_client - a TLS 1.2 handshake of a known local client to port 443, no name yet. */
static struct hs_record tls12_client(void)
{
	struct hs_record r;

	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * SEC;
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET;
	r.server.port = 443;
	r.version = TLS_V_12;
	r.offered_max = TLS_V_13;
	r.proc.known = true;
	return r;
}

/*
 * add_certs - curl -k past a self-signed, wrong-name certificate, then a weak key it
 * needs no verdict on; nginx presenting its own certificate, with a quote in the subject.
 */
static void add_certs(struct agg *a)
{
	struct hs_record r = tls12_client();

	util_strlcpy(r.proc.exe, "/usr/bin/curl", sizeof(r.proc.exe));
	r.cert.state = HS_CERT_OK;
	r.cert.problems = TLS_CERT_SELF_SIGNED | TLS_CERT_NAME_MISMATCH;
	r.cert.accepted_bad = HS_TRI_TRUE;
	util_strlcpy(r.cert.subject, "self.example.test", sizeof(r.cert.subject));
	agg__add(a, &r, r.time_ns);
	r.cert.problems = TLS_CERT_WEAK_KEY;
	r.cert.accepted_bad = HS_TRI_NULL;
	agg__add(a, &r, r.time_ns);
	r.role = HS_ROLE_SERVER;
	util_strlcpy(r.proc.exe, "/usr/sbin/nginx", sizeof(r.proc.exe));
	util_strlcpy(r.proc.unit, "nginx.service", sizeof(r.proc.unit));
	r.cert.problems = 0;
	r.cert.not_after = 1797000000;
	util_strlcpy(r.cert.subject, "www.\"example\".test", sizeof(r.cert.subject));
	agg__add(a, &r, r.time_ns);
}

/*
 * add_comm_rows - processes whose executable could not be read, so their comm names
 * them: one whose comm is the path of a real program in the file (/usr/bin/curl, a
 * client on 443 with the same certificate problems), one named "other" like the row of
 * folded keys, one named like a bracketed comm already.
 */
static void add_comm_rows(struct agg *a)
{
	struct hs_record r = tls12_client();

	util_strlcpy(r.proc.comm, "/usr/bin/curl", sizeof(r.proc.comm));
	r.cert.state = HS_CERT_OK;
	r.cert.problems = TLS_CERT_SELF_SIGNED;
	r.cert.accepted_bad = HS_TRI_TRUE;
	agg__add(a, &r, r.time_ns);
	r.cert.problems = 0;
	r.cert.accepted_bad = HS_TRI_NULL;
	util_strlcpy(r.proc.comm, "other", sizeof(r.proc.comm));
	agg__add(a, &r, r.time_ns);
	util_strlcpy(r.proc.comm, "[curl]", sizeof(r.proc.comm));
	agg__add(a, &r, r.time_ns);
	util_strlcpy(r.proc.comm, "curl", sizeof(r.proc.comm));
	agg__add(a, &r, r.time_ns);
}

static struct agg *filled(void)
{
	struct agg *a = agg__new(16, 0);
	struct hs_record r;

	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * SEC;
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET;
	r.server.port = 443;
	r.version = TLS_V_10;
	r.offered_max = TLS_V_10;
	r.proc.known = true;
	util_strlcpy(r.proc.exe, "/usr/bin/openssl", sizeof(r.proc.exe));
	agg__add(a, &r, r.time_ns);
	agg__add(a, &r, r.time_ns);
	r.offered_max = TLS_V_12;
	agg__add(a, &r, r.time_ns);
	util_strlcpy(r.proc.exe, "/tmp/a\"b\\c\nd\xff", sizeof(r.proc.exe));
	util_strlcpy(r.proc.unit, "x.service", sizeof(r.proc.unit));
	r.role = HS_ROLE_SERVER;
	r.server.port = 587;
	r.version = TLS_V_12;
	r.cipher_id = 0x000a; /* TLS_RSA_WITH_3DES_EDE_CBC_SHA */
	r.has_cipher = true;
	agg__add(a, &r, r.time_ns);
	r.kind = HS_KIND_PLAINTEXT_SMTP;
	agg__add(a, &r, r.time_ns);
	add_failures(a);
	add_verdicts(a);
	add_certs(a);
	add_comm_rows(a);
	return a;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * assert_no_duplicate_series - no two samples of @out have the same name and label set:
 * node_exporter keeps one of them and drops the other without a word.
 */
static void assert_no_duplicate_series(const char *out)
{
	char *copy = strdup(out), *line, *save = NULL, **ser = NULL;
	size_t n = 0, cap = 0, i;

	assert_non_null(copy);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		/* The series is everything before the value. */
		*strrchr(line, ' ') = '\0';
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ser = realloc(ser, cap * sizeof(*ser));
			assert_non_null(ser);
		}
		ser[n++] = line;
	}
	qsort(ser, n, sizeof(*ser), cmp_str);
	for (i = 1; i < n; i++)
		if (!strcmp(ser[i - 1], ser[i]))
			fail_msg("two samples of the series %s", ser[i]);
	free(ser);
	free(copy);
}

static char *render(struct agg *a)
{
	struct prom_info info = {
		.version = "0.1.0",
		.backend = "bpf",
		.start_time_ns = 1795390000ULL * SEC,
		.export_time_ns = 1795400100ULL * SEC,
		.ringbuf_drops = 3,
		.drops = { [PROM_DROP_RINGBUF_DATA] = 2, [PROM_DROP_RINGBUF_OWNER] = 1,
			   [PROM_DROP_FLOW_TABLE] = 4, [PROM_DROP_BUDGET] = 6 },
		.flow_evictions = 4,
		.malformed = 5,
		.certs_unread = { [PROM_CERT_CUT] = 7, [PROM_CERT_MALFORMED] = 8 },
	};
	char *data = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&data, &len);

	assert_int_equal(prom_render(a, &info, f), 0);
	fclose(f);
	/* Whatever the test: a file with a series twice loses one of them. */
	assert_no_duplicate_series(data);
	return data;
}

static void test_samples(void **state)
{
	struct agg *a = filled();
	char *out = render(a);
	const char *want[] = {
		"tlsaudit_handshakes_total{exe=\"/usr/bin/openssl\",unit=\"\",container=\"\","
		"role=\"client\",port=\"443\",version=\"TLSv1.0\"} 3\n",
		"tlsaudit_legacy_handshakes_total{exe=\"/usr/bin/openssl\",unit=\"\",container=\"\","
		"role=\"client\",port=\"443\",limited_by=\"client\"} 2\n",
		"tlsaudit_legacy_handshakes_total{exe=\"/usr/bin/openssl\",unit=\"\",container=\"\","
		"role=\"client\",port=\"443\",limited_by=\"server\"} 1\n",
		"tlsaudit_weak_cipher_handshakes_total{exe=\"/tmp/a\\\"b\\\\\\\\c\\nd\\\\xff\",unit=\"x.service\","
		"container=\"\",role=\"server\",port=\"587\"} 1\n",
		"tlsaudit_plaintext_smtp_sessions_total{exe=\"/tmp/a\\\"b\\\\\\\\c\\nd\\\\xff\",unit=\"x.service\","
		"container=\"\",role=\"server\",port=\"587\"} 1\n",
		"tlsaudit_last_seen_timestamp_seconds{exe=\"/usr/bin/openssl\",unit=\"\",container=\"\","
		"role=\"client\",port=\"443\"} 1795400000\n",
		"tlsaudit_policy_failures_total{exe=\"/usr/bin/openssl\",unit=\"\",container=\"\","
		"role=\"client\",policy=\"tls12\",by=\"client\",reason=\"version\"} 3\n",
		"tlsaudit_policy_failures_total{exe=\"/usr/bin/openssl\",unit=\"\",container=\"\","
		"role=\"client\",policy=\"fips-ems\",by=\"server\",reason=\"ems\"} 1\n",
		"tlsaudit_info{version=\"0.1.0\",backend=\"bpf\"} 1\n",
		"tlsaudit_start_time_seconds 1795390000\n",
		"tlsaudit_ringbuf_drops_total 3\n",
		"tlsaudit_capture_drops_total{backend=\"bpf\",reason=\"ringbuf_full_data\"} 2\n",
		"tlsaudit_capture_drops_total{backend=\"bpf\",reason=\"ringbuf_full_owner\"} 1\n",
		"tlsaudit_capture_drops_total{backend=\"bpf\",reason=\"ringbuf_full_close\"} 0\n",
		"tlsaudit_capture_drops_total{backend=\"bpf\",reason=\"packet_unreadable\"} 0\n",
		"tlsaudit_capture_drops_total{backend=\"bpf\",reason=\"flow_table_full\"} 4\n",
		"tlsaudit_capture_drops_total{backend=\"bpf\",reason=\"budget_spent\"} 6\n",
		"tlsaudit_flow_evictions_total 4\n",
		"tlsaudit_malformed_handshakes_total 5\n",
		"# TYPE tlsaudit_certificates_unread_total counter\n",
		"tlsaudit_certificates_unread_total{reason=\"cut\"} 7\n",
		"tlsaudit_certificates_unread_total{reason=\"malformed\"} 8\n",
		"tlsaudit_export_timestamp_seconds 1795400100\n",
		"tlsaudit_handshake_failures_total{exe=\"/usr/lib/postfix/sbin/smtp\","
		"unit=\"postfix@-.service\",container=\"\",role=\"client\",port=\"25\","
		"outcome=\"alert\",alert=\"protocol_version\",by=\"server\"} 2\n",
		"tlsaudit_handshake_failures_total{exe=\"/usr/lib/postfix/sbin/smtp\","
		"unit=\"postfix@-.service\",container=\"\",role=\"client\",port=\"25\","
		"outcome=\"reset\",alert=\"\",by=\"server\"} 1\n",
		"tlsaudit_handshake_failures_total{exe=\"/usr/bin/curl\",unit=\"\",container=\"\","
		"role=\"client\",port=\"443\",outcome=\"alert\",alert=\"unknown_ca\","
		"by=\"client\"} 1\n",
		"tlsaudit_handshake_failures_total{exe=\"/usr/bin/curl\",unit=\"\",container=\"\","
		"role=\"client\",port=\"443\",outcome=\"alert\",alert=\"encrypted\","
		"by=\"client\"} 1\n",
		"tlsaudit_handshake_failures_total{exe=\"/usr/bin/curl\",unit=\"\",container=\"\","
		"role=\"client\",port=\"443\",outcome=\"timeout\",alert=\"\",by=\"\"} 1\n",
		"tlsaudit_smtp_sessions_total{exe=\"/usr/lib/postfix/sbin/smtp\","
		"unit=\"postfix@-.service\",container=\"\",role=\"client\",port=\"25\","
		"smtp_tls=\"starttls\",plaintext_fallback=\"false\"} 3\n",
		"tlsaudit_smtp_sessions_total{exe=\"/usr/lib/postfix/sbin/smtp\","
		"unit=\"postfix@-.service\",container=\"\",role=\"client\",port=\"25\","
		"smtp_tls=\"not_offered\",plaintext_fallback=\"false\"} 2\n",
		"tlsaudit_smtp_sessions_total{exe=\"/usr/lib/postfix/sbin/smtp\","
		"unit=\"postfix@-.service\",container=\"\",role=\"client\",port=\"25\","
		"smtp_tls=\"not_offered\",plaintext_fallback=\"true\"} 1\n",
		/* the plaintext session of the filled() row has no recorded reason */
		"tlsaudit_smtp_sessions_total{exe=\"/tmp/a\\\"b\\\\\\\\c\\nd\\\\xff\",unit=\"x.service\","
		"container=\"\",role=\"server\",port=\"587\",smtp_tls=\"unknown\","
		"plaintext_fallback=\"false\"} 1\n",
		"tlsaudit_certificate_problems_total{exe=\"/usr/bin/curl\",unit=\"\",container=\"\","
		"role=\"client\",problem=\"self_signed\"} 1\n",
		"tlsaudit_certificate_problems_total{exe=\"/usr/bin/curl\",unit=\"\",container=\"\","
		"role=\"client\",problem=\"name_mismatch\"} 1\n",
		"tlsaudit_certificate_problems_total{exe=\"/usr/bin/curl\",unit=\"\",container=\"\","
		"role=\"client\",problem=\"weak_key\"} 1\n",
		"tlsaudit_bad_certificate_accepted_total{exe=\"/usr/bin/curl\",unit=\"\","
		"container=\"\",role=\"client\",problem=\"self_signed\"} 1\n",
		"tlsaudit_bad_certificate_accepted_total{exe=\"/usr/bin/curl\",unit=\"\","
		"container=\"\",role=\"client\",problem=\"name_mismatch\"} 1\n",
		"tlsaudit_server_certificate_expiry_timestamp_seconds{exe=\"/usr/sbin/nginx\","
		"unit=\"nginx.service\",container=\"\",port=\"443\","
		"subject=\"www.\\\"example\\\".test\"} 1797000000\n",
		/* Named by their comm: in brackets, never like a path or the folded row. */
		"tlsaudit_handshakes_total{exe=\"[/usr/bin/curl]\",unit=\"\",container=\"\","
		"role=\"client\",port=\"443\",version=\"TLSv1.2\"} 1\n",
		"tlsaudit_bad_certificate_accepted_total{exe=\"[/usr/bin/curl]\",unit=\"\","
		"container=\"\",role=\"client\",problem=\"self_signed\"} 1\n",
		"tlsaudit_handshakes_total{exe=\"[other]\",unit=\"\",container=\"\","
		"role=\"client\",port=\"443\",version=\"TLSv1.2\"} 1\n",
		"tlsaudit_handshakes_total{exe=\"[[curl]]\",unit=\"\",container=\"\","
		"role=\"client\",port=\"443\",version=\"TLSv1.2\"} 1\n",
		"tlsaudit_handshakes_total{exe=\"[curl]\",unit=\"\",container=\"\","
		"role=\"client\",port=\"443\",version=\"TLSv1.2\"} 1\n",
		"# TYPE tlsaudit_certificate_problems_total counter\n",
		"# TYPE tlsaudit_bad_certificate_accepted_total counter\n",
		"# TYPE tlsaudit_server_certificate_expiry_timestamp_seconds gauge\n",
		"# TYPE tlsaudit_handshake_failures_total counter\n",
		"# TYPE tlsaudit_smtp_sessions_total counter\n",
		"# TYPE tlsaudit_handshakes_total counter\n",
		"# TYPE tlsaudit_last_seen_timestamp_seconds gauge\n",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(out, want[i]))
			fail_msg("missing: %s\nin:\n%s", want[i], out);
	/* A refused ClientHello is a failure, not a handshake of a version. */
	assert_null(strstr(out, "tlsaudit_handshakes_total{exe=\"/usr/lib/postfix/sbin/smtp\""));
	assert_null(strstr(out, "version=\"unknown\""));
	/* The other backend's reasons are not written. */
	assert_null(strstr(out, "reason=\"pcap_kernel\""));
	/* A weak key is a problem, not one a verifying client refuses; a client has no own. */
	assert_null(strstr(out, "tlsaudit_bad_certificate_accepted_total{exe=\"/usr/bin/curl\","
				"unit=\"\",container=\"\",role=\"client\",problem=\"weak_key\"}"));
	assert_null(strstr(out, "expiry_timestamp_seconds{exe=\"/usr/bin/curl\""));
	free(out);
	agg__free(a);
}

/* Every line: a comment, or name, optional {labels}, one space, a number. */
static void test_line_shape(void **state)
{
	struct agg *a = filled();
	char *out = render(a), *line, *save = NULL, last_help[128] = "";

	(void)state;
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp, *end;

		if (!strncmp(line, "# HELP ", 7)) {
			sscanf(line + 7, "%127s", last_help);
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			assert_int_equal(strncmp(line + 7, last_help, strlen(last_help)), 0);
			continue;
		}
		assert_int_equal(strncmp(line, "tlsaudit_", 9), 0);
		/* The sample belongs to the family announced last. */
		assert_int_equal(strncmp(line, last_help, strlen(last_help)), 0);
		sp = strrchr(line, ' ');
		assert_non_null(sp);
		strtoull(sp + 1, &end, 10);
		assert_true(*end == '\0' && end > sp + 1);
		if (strchr(line, '{'))
			assert_true(sp[-1] == '}');
	}
	free(out);
	agg__free(a);
}

/*
 * Every sample of a family carries the same label names (a rule's sum by (...) must not
 * lose series), and a row's failure and SMTP series stay few however many kinds arrive.
 */
static void test_label_sets_bounded(void **state)
{
	struct agg *a = agg__new(16, 0);
	struct hs_record r;
	char *out, *line, *save = NULL;
	int i, failures = 0, smtp = 0;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * SEC;
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET;
	r.server.port = 25;
	r.proc.known = true;
	util_strlcpy(r.proc.exe, "/usr/sbin/exim4", sizeof(r.proc.exe));
	for (i = 0; i < 256; i++) {
		r.kind = HS_KIND_TLS;
		r.outcome = (uint8_t)(HS_OUTCOME_ALERT + i % 4);
		r.outcome_by = (uint8_t)(i % 3);
		r.has_alert = i % 5 != 0;
		r.alert = (uint8_t)i;
		r.smtp_tls = HS_SMTP_STARTTLS;
		agg__add(a, &r, r.time_ns);
		r.kind = HS_KIND_PLAINTEXT_SMTP;
		r.outcome = HS_OUTCOME_NONE;
		r.smtp_tls = (uint8_t)(i % 5);
		r.plaintext_fallback = (uint8_t)(i % 3);
		agg__add(a, &r, r.time_ns);
	}
	out = render(a);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "tlsaudit_handshake_failures_total{", 34)) {
			failures++;
			assert_non_null(strstr(line, ",port=\"25\",outcome=\""));
			assert_non_null(strstr(line, "\",alert=\""));
			assert_non_null(strstr(line, "\",by=\""));
		} else if (!strncmp(line, "tlsaudit_smtp_sessions_total{", 29)) {
			smtp++;
			assert_non_null(strstr(line, ",port=\"25\",smtp_tls=\""));
			assert_non_null(strstr(line, "\",plaintext_fallback=\""));
		}
	}
	/* alert: the slots and "other" per sender; reset and closed per sender; timeout */
	assert_true(failures <= AGG_ALERT_SLOTS + 3 + 2 * 3 + 3);
	assert_true(failures >= AGG_ALERT_SLOTS);
	/* starttls, 3 reasons with and without fallback, unknown */
	assert_true(smtp <= 8);
	free(out);
	agg__free(a);
}

static size_t count_samples(const char *out)
{
	const char *p;
	size_t n = 0;

	for (p = out; *p; p = strchr(p, '\n') + 1) {
		if (*p != '#')
			n++;
		if (!strchr(p, '\n'))
			break;
	}
	return n;
}

/*
 * prom_row_series and prom_fixed_series are what max_series is enforced with: they
 * must count exactly the samples the file has, whatever a row holds.
 */
static void test_series_count(void **state)
{
	struct agg *a = filled();
	char *out = render(a);
	size_t i, rows = 0;

	(void)state;
	for (i = 0; i < agg__n_rows(a); i++)
		rows += prom_row_series(agg__row(a, i), NULL);
	assert_int_equal(rows, agg__series(a) ? rows : 0);
	assert_int_equal(count_samples(out), rows + prom_fixed_series("bpf"));
	assert_non_null(strstr(out, "tlsaudit_series_folded_total{reason=\"max_series\"} 0\n"));
	free(out);
	/* With the exporter's weights, agg__bound keeps the rows' series under the bound. */
	agg__set_series_fn(a, prom_row_series, NULL);
	assert_true(agg__bound(a, 1795400000ULL * SEC, 0, rows - 1) > 0);
	assert_true(agg__series(a) <= rows - 1);
	out = render(a);
	assert_int_equal(count_samples(out), agg__series(a) + prom_fixed_series("bpf"));
	assert_null(strstr(out, "tlsaudit_series_folded_total{reason=\"max_series\"} 0\n"));
	assert_non_null(strstr(out, "exe=\"other\""));
	free(out);
	agg__free(a);
}

/*
 * The label sets docs/metrics.md promises: the certificate and policy families name
 * the program and role but no port, so one program's rows on several ports are one
 * series with their counts summed (a server role with the same exe stays apart); the
 * expiry gauge names exe, unit, container, port and subject; every other per-program
 * family keeps the port.
 */
static void test_port_folded(void **state)
{
	struct agg *a = agg__new(16, 0);
	struct hs_record r;
	char *out, *p;
	int n;

	(void)state;
	tls_policy_set_init(&policies);
	{
		char err[128];

		assert_int_equal(tls_policy_set_list(&policies, "tls12", err, sizeof(err)), 0);
		assert_int_equal(tls_policy_set_finish(&policies, err, sizeof(err)), 0);
	}
	agg__set_policies(a, &policies);
	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * SEC;
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET;
	r.version = TLS_V_10;
	r.offered_max = TLS_V_10;
	r.proc.known = true;
	util_strlcpy(r.proc.exe, "/usr/lib/postfix/sbin/smtp", sizeof(r.proc.exe));
	r.cert.state = HS_CERT_OK;
	r.cert.problems = TLS_CERT_SELF_SIGNED;
	r.cert.accepted_bad = HS_TRI_TRUE;
	r.judged = true;
	r.n_verdicts = 1;
	r.verdicts[0].by = TLS_POLICY_BY_CLIENT;
	r.verdicts[0].reason = TLS_REASON_VERSION;
	r.server.port = 25;
	agg__add(a, &r, r.time_ns);
	agg__add(a, &r, r.time_ns);
	r.server.port = 587;
	agg__add(a, &r, r.time_ns);
	r.server.port = 465;
	agg__add(a, &r, r.time_ns);
	/* The same program as a server: its own series. */
	r.role = HS_ROLE_SERVER;
	r.server.port = 25;
	r.cert.not_after = 1797000000;
	util_strlcpy(r.cert.subject, "mx.example.test", sizeof(r.cert.subject));
	agg__add(a, &r, r.time_ns);
	assert_int_equal(agg__n_rows(a), 4);
	out = render(a);
	/* Per port where the spec keeps it. */
	assert_non_null(strstr(out, "tlsaudit_handshakes_total{exe=\"/usr/lib/postfix/sbin/smtp\","
				    "unit=\"\",container=\"\",role=\"client\",port=\"25\","
				    "version=\"TLSv1.0\"} 2\n"));
	assert_non_null(strstr(out, "tlsaudit_handshakes_total{exe=\"/usr/lib/postfix/sbin/smtp\","
				    "unit=\"\",container=\"\",role=\"client\",port=\"587\","
				    "version=\"TLSv1.0\"} 1\n"));
	/* Summed over the ports where it does not. */
	assert_non_null(strstr(out, "tlsaudit_certificate_problems_total{exe=\"/usr/lib/postfix/"
				    "sbin/smtp\",unit=\"\",container=\"\",role=\"client\","
				    "problem=\"self_signed\"} 4\n"));
	assert_non_null(strstr(out, "tlsaudit_certificate_problems_total{exe=\"/usr/lib/postfix/"
				    "sbin/smtp\",unit=\"\",container=\"\",role=\"server\","
				    "problem=\"self_signed\"} 1\n"));
	assert_non_null(strstr(out, "tlsaudit_bad_certificate_accepted_total{exe=\"/usr/lib/"
				    "postfix/sbin/smtp\",unit=\"\",container=\"\",role=\"client\","
				    "problem=\"self_signed\"} 4\n"));
	assert_non_null(strstr(out, "tlsaudit_policy_failures_total{exe=\"/usr/lib/postfix/sbin/"
				    "smtp\",unit=\"\",container=\"\",role=\"client\",policy=\"tls12\","
				    "by=\"client\",reason=\"version\"} 4\n"));
	assert_non_null(strstr(out, "tlsaudit_server_certificate_expiry_timestamp_seconds{exe=\""
				    "/usr/lib/postfix/sbin/smtp\",unit=\"\",container=\"\","
				    "port=\"25\",subject=\"mx.example.test\"} 1797000000\n"));
	for (n = 0, p = out; (p = strstr(p, "\ntlsaudit_certificate_problems_total{")); p++)
		n++;
	assert_int_equal(n, 2);
	for (n = 0, p = out; (p = strstr(p, "\ntlsaudit_policy_failures_total{")); p++)
		n++;
	assert_int_equal(n, 2); /* client and server */
	/* None of the folded families names a port, and the gauge names no role. */
	for (p = out; (p = strstr(p, "\ntlsaudit_")); p++) {
		if (!strncmp(p + 1, "tlsaudit_certificate_problems_total{", 36) ||
		    !strncmp(p + 1, "tlsaudit_bad_certificate_accepted_total{", 40) ||
		    !strncmp(p + 1, "tlsaudit_policy_failures_total{", 31))
			assert_null(memmem(p, (size_t)(strchr(p + 1, '\n') - p), "port=", 5));
		if (!strncmp(p + 1, "tlsaudit_server_certificate_expiry", 34))
			assert_null(memmem(p, (size_t)(strchr(p + 1, '\n') - p), "role=", 5));
	}
	/* The file may hold fewer samples than the rows' weights, never more. */
	{
		size_t i, rows = 0;

		for (i = 0; i < agg__n_rows(a); i++)
			rows += prom_row_series(agg__row(a, i), NULL);
		assert_true(count_samples(out) < rows + prom_fixed_series("bpf"));
	}
	free(out);
	agg__free(a);
}

/*
 * max_series has a floor the file can always keep: the daemon's own series plus the
 * exe="other" row at its fullest, since every other row may fold into it. The
 * configuration refuses anything below that sum, and a row with every kind of sample
 * stays within prom_row_series_max().
 */
static void test_max_series_floor(void **state)
{
	size_t floor = prom_fixed_series("bpf") + prom_row_series_max(false);
	struct agg *a = filled();
	struct cfg c;
	char opt[64], err[256];
	size_t i;

	(void)state;
	print_message("max_series floor: %zu own series + %zu for exe=\"other\" = %zu\n",
		      prom_fixed_series("bpf"), prom_row_series_max(false), floor);
	assert_true(prom_fixed_series("pcap") <= prom_fixed_series("bpf"));
	assert_true(prom_fixed_series("none") <= prom_fixed_series("bpf"));
	cfg_defaults(&c);
	snprintf(opt, sizeof(opt), "max_series=%zu", floor - 1);
	assert_int_not_equal(cfg_parse_option(&c, opt, err, sizeof(err)), 0);
	snprintf(opt, sizeof(opt), "max_series=%zu", floor);
	assert_int_equal(cfg_parse_option(&c, opt, err, sizeof(err)), 0);
	assert_int_equal(c.max_series, floor);
	for (i = 0; i < agg__n_rows(a); i++)
		assert_true(prom_row_series(agg__row(a, i), NULL) <=
			    prom_row_series_max(agg__row(a, i)->key.role == HS_ROLE_SERVER));
	agg__free(a);
}

/*
 * The file at max_series (2000, the default): size and write time with rows as a busy
 * container host has them (realistic paths, units, container names; two versions,
 * legacy, a failure kind and SMTP for some). Measured, printed, and bounded loosely.
 */
static void test_max_series_measure(void **state)
{
	struct agg *a = agg__new(AGG_MAX_KEYS_DEFAULT, 0);
	struct prom_info info = { .version = "0.1.0", .backend = "bpf" };
	struct hs_record r;
	struct timespec t0, t1;
	uint64_t best = UINT64_MAX, ns;
	char path[64], err[256];
	struct stat st;
	int i, k;

	(void)state;
	agg__set_series_fn(a, prom_row_series, NULL);
	memset(&r, 0, sizeof(r));
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET;
	r.proc.known = true;
	for (i = 0; i < 1500; i++) {
		r.time_ns = (1795400000ULL + (uint64_t)i) * SEC;
		r.server.port = (uint16_t)(i % 3 ? 443 : 25);
		snprintf(r.proc.exe, sizeof(r.proc.exe), "/usr/local/lib/service-%04d/bin/worker", i);
		snprintf(r.proc.unit, sizeof(r.proc.unit), "app-%d.service", i % 40);
		snprintf(r.proc.container, sizeof(r.proc.container), "team-%d/api-%d", i % 17, i);
		for (k = 0; k < 4; k++) {
			r.kind = HS_KIND_TLS;
			r.version = k ? TLS_V_13 : TLS_V_12;
			r.offered_max = r.version;
			r.outcome = HS_OUTCOME_ESTABLISHED;
			if (i % 5 == 0 && k == 3) {
				r.version = TLS_V_10;
				r.offered_max = TLS_V_10;
			}
			if (i % 7 == 0 && k == 2) {
				r.version = 0;
				r.outcome = HS_OUTCOME_ALERT;
				r.outcome_by = HS_SIDE_SERVER;
				r.has_alert = true;
				r.alert = 70;
			}
			agg__add(a, &r, r.time_ns);
			r.has_alert = false;
			r.outcome_by = HS_SIDE_NONE;
		}
	}
	agg__bound(a, 1795400000ULL * SEC + 2000 * SEC, 0, 2000 - prom_fixed_series("bpf"));
	assert_true(agg__series(a) + prom_fixed_series("bpf") <= 2000);
	snprintf(path, sizeof(path), "/tmp/tlsaudit-prom-measure-%d.prom", (int)getpid());
	for (i = 0; i < 20; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		info.export_time_ns = util_now_ns();
		assert_int_equal(prom_write(a, &info, path, err, sizeof(err)), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * SEC + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
		if (ns < best)
			best = ns;
	}
	assert_int_equal(stat(path, &st), 0);
	print_message("max_series 2000: %zu rows, %zu series, %lld bytes, written in %.2f ms "
		      "(best of 20, %s build)\n", agg__n_rows(a),
		      agg__series(a) + prom_fixed_series("bpf"), (long long)st.st_size,
		      (double)best / 1e6, BUILD_KIND);
	assert_true(st.st_size < (1 << 20));
	assert_true(best < 500ULL * 1000000ULL);
	unlink(path);
	agg__free(a);
}

/* promtool check metrics, when installed (package prometheus), on the whole file. */
static void test_promtool(void **state)
{
	struct agg *a = filled();
	char *out = render(a), path[64], cmd[160];
	FILE *f;
	int ret;

	(void)state;
	if (system("command -v promtool >/dev/null 2>&1")) {
		print_message("promtool not installed (package prometheus): not checked\n");
		goto cleanup;
	}
	snprintf(path, sizeof(path), "/tmp/tlsaudit-promtool-%d.prom", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(out, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics <%s", path);
	ret = system(cmd);
	unlink(path);
	assert_int_equal(ret, 0);
cleanup:
	free(out);
	agg__free(a);
}

static void test_write_file(void **state)
{
	struct agg *a = filled();
	struct prom_info info = { .version = "0.1.0", .backend = "pcap" };
	char path[64], err[256], buf[16384];
	struct stat st;
	FILE *f;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/tlsaudit-prom-%d/t.prom", (int)getpid());
	assert_int_equal(prom_write(a, &info, path, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	f = fopen(path, "r");
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, "tlsaudit_info{version=\"0.1.0\",backend=\"pcap\"} 1\n"));
	assert_non_null(strstr(buf, "tlsaudit_capture_drops_total{backend=\"pcap\","
				    "reason=\"pcap_kernel\"} 0\n"));
	/* The perf rings' lost socket owners, and none of the BPF ring buffer's reasons. */
	assert_non_null(strstr(buf, "tlsaudit_capture_drops_total{backend=\"pcap\","
				    "reason=\"ringbuf_full_owner\"} 0\n"));
	assert_null(strstr(buf, "reason=\"ringbuf_full_data"));
	assert_null(strstr(buf, "reason=\"ringbuf_full_close"));
	/* Chains that could not be read are counted from zero on, whatever the backend. */
	assert_non_null(strstr(buf, "tlsaudit_certificates_unread_total{reason=\"cut\"} 0\n"));
	assert_non_null(strstr(buf, "tlsaudit_certificates_unread_total{reason=\"malformed\"} 0\n"));
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
	assert_int_not_equal(prom_write(a, &info, "/proc/nope/t.prom", err, sizeof(err)), 0);
	assert_non_null(strstr(err, "/proc/nope/t.prom: "));
	agg__free(a);
}

static void test_escape(void **state)
{
	char out[PROM_ESCAPED_MAX(16)], small[7];

	(void)state;
	prom_escape("a\"b\\c\nd", out, sizeof(out));
	assert_string_equal(out, "a\\\"b\\\\\\\\c\\nd");
	/* Valid UTF-8 passes as it is; invalid bytes and controls are \xNN in the value. */
	prom_escape("/opt/caf\xc3\xa9/\xe2\x82\xac", out, sizeof(out));
	assert_string_equal(out, "/opt/caf\xc3\xa9/\xe2\x82\xac");
	prom_escape("a\xff\x01\x7f", out, sizeof(out));
	assert_string_equal(out, "a\\\\xff\\\\x01\\\\x7f");
	/* Overlong, surrogate, above U+10FFFF, cut sequences: byte by byte. */
	prom_escape("\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82", out, sizeof(out));
	assert_string_equal(out, "\\\\xc0\\\\xaf\\\\xed\\\\xa0\\\\x80\\\\xf4\\\\x90\\\\x80\\\\x80"
				 "\\\\xe2\\\\x82");
	/* The text \xff and the byte 0xff stay apart: the backslash is doubled first. */
	prom_escape("\\xff", out, sizeof(out));
	assert_string_equal(out, "\\\\\\\\xff");
	/* Cut whole: never half an escape or half a character. */
	prom_escape("ab\xff", small, sizeof(small));
	assert_string_equal(small, "ab");
	prom_escape("abcde\xc3\xa9", small, sizeof(small));
	assert_string_equal(small, "abcde");
	prom_escape("\"\"\"\"\"\"\"\"\"\"", small, sizeof(small));
	assert_string_equal(small, "\\\"\\\"\\\"");
}

/*
 * Two programs whose paths differ in one byte that is not UTF-8 (Latin-1 file names)
 * are two series, and promtool accepts the file (node_exporter rejects a whole file
 * with a duplicate series).
 */
static void test_escape_distinct(void **state)
{
	struct agg *a = agg__new(16, 0);
	struct hs_record r;
	char *out, *p, path[64], cmd[160];
	int n = 0;
	FILE *f;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * SEC;
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET;
	r.server.port = 443;
	r.version = TLS_V_12;
	r.proc.known = true;
	util_strlcpy(r.proc.exe, "/opt/caf\xe9/bin/app", sizeof(r.proc.exe));
	agg__add(a, &r, r.time_ns);
	util_strlcpy(r.proc.exe, "/opt/caf\xe8/bin/app", sizeof(r.proc.exe));
	agg__add(a, &r, r.time_ns);
	util_strlcpy(r.proc.exe, "/opt/caf\xc3\xa9/bin/app", sizeof(r.proc.exe));
	agg__add(a, &r, r.time_ns);
	util_strlcpy(r.proc.exe, "/opt/caf\\xe9/bin/app", sizeof(r.proc.exe));
	agg__add(a, &r, r.time_ns);
	out = render(a);
	for (p = out; (p = strstr(p, "tlsaudit_handshakes_total{")); p++)
		n++;
	assert_int_equal(n, 4);
	assert_non_null(strstr(out, "exe=\"/opt/caf\\\\xe9/bin/app\""));
	assert_non_null(strstr(out, "exe=\"/opt/caf\\\\xe8/bin/app\""));
	assert_non_null(strstr(out, "exe=\"/opt/caf\xc3\xa9/bin/app\""));
	assert_non_null(strstr(out, "exe=\"/opt/caf\\\\\\\\xe9/bin/app\""));
	if (system("command -v promtool >/dev/null 2>&1")) {
		print_message("promtool not installed (package prometheus): not checked\n");
		goto cleanup;
	}
	snprintf(path, sizeof(path), "/tmp/tlsaudit-promtool-u8-%d.prom", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(out, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "promtool check metrics <%s", path);
	n = system(cmd);
	unlink(path);
	assert_int_equal(n, 0);
cleanup:
	free(out);
	agg__free(a);
}

/* fill - @n - 1 bytes of @c and a NUL: a string field at its size. */
static void fill(char *dst, size_t n, char c)
{
	memset(dst, c, n - 1);
	dst[n - 1] = '\0';
}

/*
 * The largest record either log format can be asked to write: every string at its
 * size in bytes that the writers escape to six characters (\u0001) or that are not
 * UTF-8, an IPv6 pair, every flag and time at its widest, and 16 policies with
 * 31-character names all failed. The daemon's first buffer must hold it (a record that
 * does not fit is rendered again, larger: the second half), and the line it writes is
 * the writer's output and a newline.
 */
static void test_record_line_worst_case(void **state)
{
	static struct tls_policy_set ps;
	static struct hs_record r;
	char list[16 * 33] = "", name[32], err[256], *line = NULL, *big;
	const char bytes[] = { '\x01', '\xff', '"' };
	size_t b, i, worst[2] = { 0, 0 };
	int n, fmt;

	(void)state;
	tls_policy_set_init(&ps);
	for (i = 0; i < TLS_POLICY_ACTIVE_MAX; i++) {
		snprintf(name, sizeof(name), "worst-case-policy-%02zu-abcdefghij", i);
		assert_int_equal(strlen(name), TLS_POLICY_NAME_MAX - 1);
		assert_int_equal(tls_policy_set(&ps, name, "min_version", "TLSv1.3", err,
						sizeof(err)),
				 0);
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? "," : "",
			 name);
	}
	assert_int_equal(tls_policy_set_list(&ps, list, err, sizeof(err)), 0);
	assert_int_equal(tls_policy_set_finish(&ps, err, sizeof(err)), 0);
	for (b = 0; b < sizeof(bytes); b++) {
		memset(&r, 0, sizeof(r));
		r.kind = HS_KIND_TLS;
		r.time_ns = UINT64_MAX / 2;
		r.role = HS_ROLE_SERVER;
		r.cookie = UINT64_MAX;
		r.client.family = r.server.family = AF_INET6;
		memset(r.client.addr, 0xfe, 16);
		memset(r.server.addr, 0xfd, 16);
		r.client.port = r.server.port = 65535;
		fill(r.sni, sizeof(r.sni), bytes[b]);
		r.offered_max = TLS_V_13;
		r.version = TLS_V_10;
		r.cipher_id = 0xc02c;
		r.has_cipher = true;
		r.group = 0x11ec;
		r.has_group = true;
		r.starttls_smtp = true;
		fill(r.alpn, sizeof(r.alpn), bytes[b]);
		fill(r.ja3, sizeof(r.ja3), 'f');
		fill(r.ja4, sizeof(r.ja4), bytes[b]);
		r.outcome = HS_OUTCOME_ALERT;
		r.outcome_by = HS_SIDE_CLIENT;
		r.has_alert = true;
		r.alert = 0xfe; /* no IANA name: written as a code */
		r.smtp_tls = HS_SMTP_STARTTLS;
		r.plaintext_fallback = HS_TRI_FALSE;
		fill(r.mx_host, sizeof(r.mx_host), bytes[b]);
		r.cert.state = HS_CERT_OK;
		r.cert.accepted_bad = HS_TRI_TRUE;
		r.cert.problems = (1u << TLS_CERT_N_PROBLEMS) - 1;
		r.cert.not_after = INT64_C(253402300799);
		fill(r.cert.subject, sizeof(r.cert.subject), bytes[b]);
		fill(r.cert.issuer, sizeof(r.cert.issuer), bytes[b]);
		fill(r.cert.key, sizeof(r.cert.key), bytes[b]);
		fill(r.cert.sig, sizeof(r.cert.sig), bytes[b]);
		fill(r.cert.sha256, sizeof(r.cert.sha256), 'f');
		r.proc.known = true;
		r.proc.pid = r.proc.uid = UINT32_MAX;
		fill(r.proc.comm, sizeof(r.proc.comm), bytes[b]);
		fill(r.proc.exe, sizeof(r.proc.exe), bytes[b]);
		fill(r.proc.cgroup, sizeof(r.proc.cgroup), bytes[b]);
		fill(r.proc.unit, sizeof(r.proc.unit), bytes[b]);
		fill(r.proc.container, sizeof(r.proc.container), bytes[b]);
		fill(r.proc.container_id, sizeof(r.proc.container_id), 'f');
		fill(r.proc.tls_lib, sizeof(r.proc.tls_lib), bytes[b]);
		r.judged = true;
		r.n_verdicts = TLS_POLICY_ACTIVE_MAX;
		for (i = 0; i < TLS_POLICY_ACTIVE_MAX; i++) {
			r.verdicts[i].by = TLS_POLICY_BY_SERVER;
			r.verdicts[i].reason = TLS_REASON_CERT_SIG;
		}
		for (fmt = 0; fmt < 2; fmt++) {
			big = malloc(1 << 20);
			assert_non_null(big);
			n = fmt ? export_ecs_record(&r, &ps, big, 1 << 20) :
				  export_json_record(&r, &ps, big, 1 << 20);
			assert_true(n > 0);
			if ((size_t)n > worst[fmt])
				worst[fmt] = (size_t)n;
			/* The first buffer holds it, the newline included. */
			assert_true((size_t)n + 1 < DAEMON_RECORD_LINE_START);
			assert_int_equal(daemon_record_line(&r, &ps, fmt, &line), n + 1);
			assert_memory_equal(line, big, (size_t)n);
			assert_int_equal(line[n], '\n');
			free(line);
			line = NULL;
			free(big);
		}
	}
	print_message("largest record: %zu bytes flat, %zu in ECS (the log's first buffer: %d)\n",
		      worst[0], worst[1], DAEMON_RECORD_LINE_START);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_line_shape),
		cmocka_unit_test(test_label_sets_bounded),
		cmocka_unit_test(test_series_count),
		cmocka_unit_test(test_port_folded),
		cmocka_unit_test(test_max_series_floor),
		cmocka_unit_test(test_record_line_worst_case),
		cmocka_unit_test(test_promtool),
		cmocka_unit_test(test_max_series_measure),
		cmocka_unit_test(test_write_file),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_escape_distinct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

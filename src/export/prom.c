// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prometheus text exposition format 0.0.4 for the node_exporter textfile collector.
 * One file per host; every per-process series carries exe, unit and container, and as
 * docs/metrics.md lists them role and port, so fleet queries can group by any of them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsaudit/cert.h"
#include "tlsaudit/prom.h"
#include "tlsaudit/util.h"

/*
 * prom_escape - two layers. The value itself is made valid UTF-8 without losing any
 * distinction: a backslash becomes two backslashes, a byte that is not part of valid
 * UTF-8 (or a control character other than newline) becomes the text \xNN; everything
 * else passes. Because the backslash is doubled first, \xNN can only come from an
 * encoded byte, so two different byte strings never give the same value. Then the
 * exposition format's own escapes (backslash, double quote, newline) apply on top.
 */
void prom_escape(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = (const uint8_t *)s;
	const char *esc;
	char byte[6] = "\\\\x";
	size_t o = 0, n, elen;

	if (!len)
		return;
	for (; *p; p += n) {
		/* Prometheus checks label values with Go's utf8.ValidString: this rule. */
		n = util_utf8_len(p);
		byte[3] = hex[*p >> 4];
		byte[4] = hex[*p & 0xf];
		if (*p == '\\')
			esc = "\\\\\\\\"; /* doubled in the value, then escaped */
		else if (*p == '"')
			esc = "\\\"";
		else if (*p == '\n')
			esc = "\\n";
		else if (!n || *p < 0x20 || *p == 0x7f)
			esc = byte;
		else
			esc = NULL;
		if (esc) {
			n = 1;
			elen = strlen(esc);
		} else {
			elen = n;
		}
		/* Written whole or not at all: a cut escape or character would change the value. */
		if (elen >= len - o)
			break;
		memcpy(out + o, esc ? esc : (const char *)p, elen);
		o += elen;
	}
	out[o] = '\0';
}

/* One row's identity labels, exe to container, each value escaped (see prom_escape). */
#define ID_MAX (PROM_ESCAPED_MAX(sizeof(((struct agg_key *)0)->exe)) + \
		PROM_ESCAPED_MAX(sizeof(((struct agg_key *)0)->unit)) + \
		PROM_ESCAPED_MAX(sizeof(((struct agg_key *)0)->container)) + 32)

/*
 * row_exe - the exe label's value before escaping. A key whose executable could not be
 * read is named by its comm, which a process sets to anything: shown as is, the comm
 * "/usr/bin/curl" gave the same label set as the real /usr/bin/curl, and node_exporter
 * drops one of two identical series without a word. So a comm is shown in brackets, as
 * ps(1) shows processes without a command line: "[curl]". A path read from /proc
 * always starts with '/', so no path, nor "other", nor "?", ever looks like that.
 */
static const char *row_exe(const struct agg_row *r, char *buf, size_t len)
{
	if (r->key.other || r->key.exe[0] || !r->key.comm[0])
		return agg_row_name(r);
	snprintf(buf, len, "[%s]", r->key.comm);
	return buf;
}

/* row_id - a malloc'd exe="...",unit="...",container="..." for the row, or NULL. */
static char *row_id(const struct agg_row *r)
{
	char comm[sizeof(r->key.comm) + 2];
	char exe[PROM_ESCAPED_MAX(sizeof(r->key.exe))];
	char unit[PROM_ESCAPED_MAX(sizeof(r->key.unit))];
	char cont[PROM_ESCAPED_MAX(sizeof(r->key.container))];
	char *l = malloc(ID_MAX);

	if (!l)
		return NULL;
	prom_escape(row_exe(r, comm, sizeof(comm)), exe, sizeof(exe));
	prom_escape(r->key.unit, unit, sizeof(unit));
	prom_escape(r->key.container, cont, sizeof(cont));
	snprintf(l, ID_MAX, "exe=\"%s\",unit=\"%s\",container=\"%s\"", exe, unit, cont);
	return l;
}

/*
 * The label sets of one render. Most families carry a row's whole key (lab: id, role,
 * port); the certificate and policy families leave the port out, so the rows that
 * differ only in port are summed into one series, and @order lists the rows by (id,
 * role) to make those rows neighbours.
 */
struct labels {
	char **id;	/* per row: exe, unit, container */
	char **lab;	/* per row: id, role, port */
	size_t *order;	/* row indexes sorted by (id, role, index) */
	size_t n;
};

struct order_ent {
	const char *id;
	int role;
	size_t idx;
};

static int order_cmp(const void *pa, const void *pb)
{
	const struct order_ent *a = pa, *b = pb;
	int c = strcmp(a->id, b->id);

	if (c)
		return c;
	if (a->role != b->role)
		return a->role < b->role ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static void labels_free(struct labels *L)
{
	size_t i;

	for (i = 0; i < L->n; i++) {
		if (L->id)
			free(L->id[i]);
		if (L->lab)
			free(L->lab[i]);
	}
	free(L->id);
	free(L->lab);
	free(L->order);
}

/* labels_make - every row's label sets and the grouping order; 0 or -ENOMEM. */
static int labels_make(const struct agg *a, struct labels *L)
{
	struct order_ent *ent = NULL;
	size_t i, n = agg__n_rows(a), len;
	int ret = -ENOMEM;

	memset(L, 0, sizeof(*L));
	L->n = n;
	L->id = calloc(n ? n : 1, sizeof(*L->id));
	L->lab = calloc(n ? n : 1, sizeof(*L->lab));
	L->order = calloc(n ? n : 1, sizeof(*L->order));
	ent = calloc(n ? n : 1, sizeof(*ent));
	if (!L->id || !L->lab || !L->order || !ent)
		goto cleanup;
	for (i = 0; i < n; i++) {
		const struct agg_row *r = agg__row(a, i);

		L->id[i] = row_id(r);
		if (!L->id[i])
			goto cleanup;
		len = strlen(L->id[i]) + 48;
		L->lab[i] = malloc(len);
		if (!L->lab[i])
			goto cleanup;
		snprintf(L->lab[i], len, "%s,role=\"%s\",port=\"%u\"", L->id[i],
			 agg_role_name(r->key.role), r->key.port);
		ent[i] = (struct order_ent){ .id = L->id[i], .role = (int)r->key.role, .idx = i };
	}
	qsort(ent, n, sizeof(*ent), order_cmp);
	for (i = 0; i < n; i++)
		L->order[i] = ent[i].idx;
	ret = 0;
cleanup:
	free(ent);
	if (ret)
		labels_free(L);
	return ret;
}

/* group_end - past the last of the rows from order[@k] on that share its id and role. */
static size_t group_end(const struct agg *a, const struct labels *L, size_t k)
{
	const struct agg_row *first = agg__row(a, L->order[k]);
	size_t e;

	for (e = k + 1; e < L->n; e++)
		if (agg__row(a, L->order[e])->key.role != first->key.role ||
		    strcmp(L->id[L->order[e]], L->id[L->order[k]]))
			break;
	return e;
}

/* Counts summed over rows never wrap: a state file's counts may be near the top. */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* by_reason - a counter family with one series per reason, every one written from 0. */
static void by_reason(FILE *f, const char *name, const char *help,
		      const char *const *why, const uint64_t *v, int n)
{
	int i;

	header(f, name, "counter", help);
	for (i = 0; i < n; i++)
		fprintf(f, "%s{reason=\"%s\"} %llu\n", name, why[i], (unsigned long long)v[i]);
}

static void failure_sample(FILE *f, const char *labels, const char *outcome, const char *alert,
			   uint8_t by, uint64_t v)
{
	const char *side = hs_side_name((enum hs_side)by);

	if (v)
		fprintf(f, "tlsaudit_handshake_failures_total{%s,outcome=\"%s\",alert=\"%s\","
			   "by=\"%s\"} %llu\n",
			labels, outcome, alert, side ? side : "", (unsigned long long)v);
}

/*
 * render_failures - one series per (outcome, alert, by) that happened. Every series has
 * all three labels, empty where they do not apply, so sum by any of them adds up. A row
 * has at most AGG_ALERT_SLOTS + 3 alert series and 6 others: bounded.
 */
static void render_failures(FILE *f, const struct agg_row *r, const char *labels)
{
	char code[8], alert[64];
	size_t i;
	int o;
	uint8_t s;

	if (!r->failures)
		return;
	for (i = 0; i < r->n_alerts && i < AGG_ALERT_SLOTS; i++) {
		prom_escape(agg_alert_label(&r->alerts[i], code, sizeof(code)), alert, sizeof(alert));
		failure_sample(f, labels, "alert", alert, r->alerts[i].by, r->alerts[i].count);
	}
	for (s = 0; s < AGG_SIDES; s++)
		failure_sample(f, labels, "alert", "other", s, agg_alert_other(r, (enum hs_side)s));
	for (o = AGG_F_RESET; o < AGG_FAIL_OUTCOMES; o++)
		for (s = 0; s < AGG_SIDES; s++)
			failure_sample(f, labels,
				       hs_outcome_name((enum hs_outcome)(o + HS_OUTCOME_ALERT)), "",
				       s, r->failed[o][s]);
}

static void smtp_sample(FILE *f, const char *labels, const char *why, bool fallback, uint64_t v)
{
	if (v)
		fprintf(f, "tlsaudit_smtp_sessions_total{%s,smtp_tls=\"%s\",plaintext_fallback=\"%s\"} "
			   "%llu\n",
			labels, why, fallback ? "true" : "false", (unsigned long long)v);
}

/* render_smtp - sessions by reason, split by plaintext_fallback (at most 7 series). */
static void render_smtp(FILE *f, const struct agg_row *r, const char *labels)
{
	int i;

	for (i = HS_SMTP_STARTTLS; i <= HS_SMTP_REFUSED; i++) {
		const char *why = hs_smtp_tls_name((enum hs_smtp_tls)i);
		uint64_t fb = r->fallback[i] <= r->smtp[i] ? r->fallback[i] : r->smtp[i];

		smtp_sample(f, labels, why, false, r->smtp[i] - fb);
		smtp_sample(f, labels, why, true, fb);
	}
	smtp_sample(f, labels, "unknown", false, agg_smtp_unknown(r));
}

/*
 * render_drops - capture losses by backend and reason: the same family whichever
 * backend runs, so one alert rule covers hosts on eBPF and on libpcap. Every reason of
 * the running backend is written from zero on, so increase() sees the first loss.
 */
static void render_drops(FILE *f, const struct prom_info *info)
{
	static const char *const reasons[PROM_DROP_N] = {
		[PROM_DROP_RINGBUF_DATA] = "ringbuf_full_data",
		[PROM_DROP_RINGBUF_OWNER] = "ringbuf_full_owner",
		[PROM_DROP_RINGBUF_CLOSE] = "ringbuf_full_close",
		[PROM_DROP_SKB_LOAD] = "packet_unreadable",
		[PROM_DROP_PCAP_KERNEL] = "pcap_kernel",
		[PROM_DROP_FLOW_TABLE] = "flow_table_full",
		[PROM_DROP_BUDGET] = "budget_spent",
	};
	const char *backend = info->backend ? info->backend : "none";
	bool bpf = !strcmp(backend, "bpf"), pcap = !strcmp(backend, "pcap");
	int i;

	header(f, "tlsaudit_capture_drops_total", "counter",
	       "What the capture lost, by backend (bpf, pcap) and reason: ringbuf_full_data, "
	       "ringbuf_full_owner (both), ringbuf_full_close, packet_unreadable (bpf), "
	       "pcap_kernel (pcap), flow_table_full (flows evicted), budget_spent (hellos past the bytes kept).");
	if (!bpf && !pcap)
		return;
	for (i = 0; i < PROM_DROP_N; i++) {
		if (bpf && i == PROM_DROP_PCAP_KERNEL)
			continue;
		/* pcap's perf rings carry socket owners too (src/capture/perf_owner.c). */
		if (pcap && i <= PROM_DROP_SKB_LOAD && i != PROM_DROP_RINGBUF_OWNER)
			continue;
		fprintf(f, "tlsaudit_capture_drops_total{backend=\"%s\",reason=\"%s\"} %llu\n",
			backend, reasons[i], (unsigned long long)info->drops[i]);
	}
}

/*
 * policy_seen - an earlier row of the group (order[@g0] up to order[@k]) was judged under
 * @name, so its series are written already.
 */
static bool policy_seen(const struct agg *a, const struct labels *L, size_t g0, size_t k,
			const char *name)
{
	for (; g0 < k; g0++)
		if (agg_row_policy(agg__row(a, L->order[g0]), name))
			return true;
	return false;
}

/*
 * render_policies - the failures under each policy the rows of one group (one program
 * and role, any port) were judged against, one series per (policy, by, reason) that
 * happened: at most 11 kinds per policy. Policy names are [a-z0-9._-]: nothing to
 * escape.
 */
static void render_policies(FILE *f, const struct agg *a, const struct labels *L, size_t g0,
			    size_t g1)
{
	const struct agg_row *r0 = agg__row(a, L->order[g0]);
	const struct agg_policy *p;
	size_t k, m, i;
	uint64_t sum;
	int by, why;

	for (k = g0; k < g1; k++) {
		const struct agg_row *r = agg__row(a, L->order[k]);

		for (i = 0; i < r->n_pol && i < AGG_POLICY_SLOTS; i++) {
			if (policy_seen(a, L, g0, k, r->pol[i].name))
				continue;
			for (by = TLS_POLICY_BY_CLIENT; by <= TLS_POLICY_BY_SERVER; by++)
				for (why = TLS_REASON_VERSION; why < AGG_REASONS; why++) {
					sum = 0;
					for (m = k; m < g1; m++) {
						p = agg_row_policy(agg__row(a, L->order[m]),
								   r->pol[i].name);
						if (p)
							sum = sat_add(sum, p->failed[by - 1][why]);
					}
					if (sum)
						fprintf(f, "tlsaudit_policy_failures_total{%s,role=\"%s\","
							   "policy=\"%s\",by=\"%s\",reason=\"%s\"} %llu\n",
							L->id[L->order[g0]], agg_role_name(r0->key.role),
							r->pol[i].name,
							tls_policy_by_name((enum tls_policy_by)by),
							tls_policy_reason_name((enum tls_policy_reason)why),
							(unsigned long long)sum);
				}
		}
	}
}

/*
 * render_problems - the certificates the rows of one group met, as @family: one series
 * per problem counted in the u64 array at @field of each row (@n problems, cert.h bit
 * order): every problem that happened (at most 7), or per problem a verifying client
 * refuses, the handshakes whose client went on regardless (at most 4).
 */
static void render_problems(FILE *f, const struct agg *a, const struct labels *L, size_t g0,
			    size_t g1, const char *family, size_t field, int n)
{
	const struct agg_row *r0 = agg__row(a, L->order[g0]);
	const uint64_t *v;
	uint64_t sum;
	size_t k;
	int i;

	for (i = 0; i < n; i++) {
		for (sum = 0, k = g0; k < g1; k++) {
			v = (const uint64_t *)((const char *)agg__row(a, L->order[k]) + field);
			sum = sat_add(sum, v[i]);
		}
		if (sum)
			fprintf(f, "%s{%s,role=\"%s\",problem=\"%s\"} %llu\n", family,
				L->id[L->order[g0]], agg_role_name(r0->key.role),
				tls_cert_problem_name(1u << i), (unsigned long long)sum);
	}
}

/*
 * render_expiry - a local server's own certificates, by subject (at most AGG_OWN_CERTS
 * per row): the subject is the operator's own name, bounded, never a peer's. Only
 * server rows have them, so role is no label; one row per (id, port) among those.
 */
static void render_expiry(FILE *f, const struct agg_row *r, const char *id)
{
	char subj[PROM_ESCAPED_MAX(HS_CERT_NAME_MAX)];
	size_t i;

	if (r->key.role != HS_ROLE_SERVER)
		return;
	for (i = 0; i < r->n_own && i < AGG_OWN_CERTS; i++) {
		prom_escape(r->own[i].subject, subj, sizeof(subj));
		fprintf(f, "tlsaudit_server_certificate_expiry_timestamp_seconds{%s,port=\"%u\","
			   "subject=\"%s\"} %lld\n",
			id, r->key.port, subj, (long long)r->own[i].not_after);
	}
}

/* The number of series the three certificate families write for @r. */
static size_t cert_series(const struct agg_row *r)
{
	size_t n = 0;
	int i;

	for (i = 0; i < TLS_CERT_N_PROBLEMS; i++)
		n += r->cert_problems[i] != 0;
	for (i = 0; i < AGG_VERIFY_PROBLEMS; i++)
		n += r->bad_cert_accepted[i] != 0;
	if (r->key.role == HS_ROLE_SERVER)
		n += r->n_own < AGG_OWN_CERTS ? r->n_own : AGG_OWN_CERTS;
	return n;
}

/* The number of series render_policies writes for @r. */
static size_t policy_series(const struct agg_row *r)
{
	size_t i, n = 0;
	int by, why;

	for (i = 0; i < r->n_pol && i < AGG_POLICY_SLOTS; i++)
		for (by = 0; by < 2; by++)
			for (why = TLS_REASON_VERSION; why < AGG_REASONS; why++)
				n += r->pol[i].failed[by][why] != 0;
	return n;
}

/* The number of failure series render_failures writes for @r. */
static size_t failure_series(const struct agg_row *r)
{
	size_t i, n = 0;
	int o, s;

	if (!r->failures)
		return 0;
	for (i = 0; i < r->n_alerts && i < AGG_ALERT_SLOTS; i++)
		n += r->alerts[i].count != 0;
	for (s = 0; s < AGG_SIDES; s++)
		n += agg_alert_other(r, (enum hs_side)s) != 0;
	for (o = AGG_F_RESET; o < AGG_FAIL_OUTCOMES; o++)
		for (s = 0; s < AGG_SIDES; s++)
			n += r->failed[o][s] != 0;
	return n;
}

size_t prom_row_series(const struct agg_row *r, void *ctx)
{
	size_t n = 1; /* tlsaudit_last_seen_timestamp_seconds */
	uint64_t rest = r->legacy - r->limited_client - r->limited_server;
	int i;

	(void)ctx;
	for (i = 0; i < AGG_V_COUNT; i++)
		n += r->versions[i] != 0;
	n += (r->limited_client != 0) + (r->limited_server != 0);
	n += r->legacy >= r->limited_client + r->limited_server && rest;
	n += (r->weak_cipher != 0) + (r->plaintext != 0);
	n += failure_series(r);
	n += policy_series(r);
	n += cert_series(r);
	for (i = HS_SMTP_STARTTLS; i <= HS_SMTP_REFUSED; i++) {
		uint64_t fb = r->fallback[i] <= r->smtp[i] ? r->fallback[i] : r->smtp[i];

		n += (r->smtp[i] - fb != 0) + (fb != 0);
	}
	n += agg_smtp_unknown(r) != 0;
	return n;
}

size_t prom_row_series_max(bool server)
{
	/* The bounds of the loops that render a row, family by family. */
	size_t n = AGG_V_COUNT				   /* versions */
		   + 3					   /* legacy: client, server, unknown */
		   + 1 + 1				   /* weak cipher, plaintext */
		   + AGG_ALERT_SLOTS + AGG_SIDES		   /* alerts kept, "other" per side */
		   + (AGG_FAIL_OUTCOMES - AGG_F_RESET) * AGG_SIDES /* reset, closed, timeout */
		   + (HS_SMTP_REFUSED - HS_SMTP_STARTTLS + 1) * 2 + 1 /* smtp_tls x fallback, unknown */
		   + (size_t)AGG_POLICY_SLOTS * 2 * (AGG_REASONS - TLS_REASON_VERSION)
		   + TLS_CERT_N_PROBLEMS + AGG_VERIFY_PROBLEMS
		   + 1;					   /* last seen */

	return n + (server ? AGG_OWN_CERTS : 0);
}

size_t prom_fixed_series(const char *backend)
{
	/* info, start time, ringbuf drops, flow evictions, malformed, export time */
	size_t n = 6 + AGG_FOLD_N + PROM_CERT_UNREAD_N;

	if (backend && !strcmp(backend, "bpf"))
		n += PROM_DROP_N - 1;
	else if (backend && !strcmp(backend, "pcap"))
		n += PROM_DROP_N - 3; /* not the BPF ring's data, close and load reasons */
	return n;
}

/*
 * render_certs_unread - chains whose certificate fields stayed null: the certificate
 * families cannot count what they never saw, so say how much that was.
 */
static void render_certs_unread(FILE *f, const struct prom_info *info)
{
	static const char *const why[PROM_CERT_UNREAD_N] = {
		[PROM_CERT_CUT] = "cut",
		[PROM_CERT_MALFORMED] = "malformed",
	};

	by_reason(f, "tlsaudit_certificates_unread_total",
		  "Server certificate chains in the clear (TLS 1.2 and older) whose leaf could not "
		  "be read, so its problems went uncounted, by reason: cut (the bytes ended inside "
		  "it: the bytes kept per direction, a lost segment, the connection's end), "
		  "malformed (a Certificate message or leaf that does not parse).",
		  why, info->certs_unread, PROM_CERT_UNREAD_N);
}

/* render_folded - what max_series, the key cap and row_ttl moved into "other". */
static void render_folded(FILE *f, const struct agg *a)
{
	static const char *const why[AGG_FOLD_N] = {
		[AGG_FOLD_MAX_SERIES] = "max_series",
		[AGG_FOLD_MAX_KEYS] = "max_keys",
		[AGG_FOLD_ROW_TTL] = "row_ttl",
	};

	by_reason(f, "tlsaudit_series_folded_total",
		  "Series that left the file because their process key was folded into "
		  "exe=\"other\" (its counts go on there), by reason: max_series, max_keys "
		  "(the aggregation's key cap), row_ttl (not seen for row_ttl).",
		  why, agg__totals(a)->series_folded, AGG_FOLD_N);
}

int prom_render(const struct agg *a, const struct prom_info *info, FILE *f)
{
	size_t i, k, g1, n = agg__n_rows(a);
	char ver[64], backend[64], **lab;
	struct labels L;
	int v, ret;

	ret = labels_make(a, &L);
	if (ret)
		return ret;
	lab = L.lab;

	header(f, "tlsaudit_handshakes_total", "counter",
	       "TLS handshakes seen, by local process, role, service port and negotiated version.");
	for (i = 0; i < n; i++) {
		const struct agg_row *r = agg__row(a, i);

		for (v = 0; v < AGG_V_COUNT; v++)
			if (r->versions[v])
				fprintf(f, "tlsaudit_handshakes_total{%s,version=\"%s\"} %llu\n",
					lab[i], agg_version_label((enum agg_ver)v),
					(unsigned long long)r->versions[v]);
	}
	header(f, "tlsaudit_legacy_handshakes_total", "counter",
	       "Handshakes below TLS 1.2, by who held the version down (client or server).");
	for (i = 0; i < n; i++) {
		const struct agg_row *r = agg__row(a, i);
		uint64_t rest = r->legacy - r->limited_client - r->limited_server;

		if (r->limited_client)
			fprintf(f, "tlsaudit_legacy_handshakes_total{%s,limited_by=\"client\"} %llu\n",
				lab[i], (unsigned long long)r->limited_client);
		if (r->limited_server)
			fprintf(f, "tlsaudit_legacy_handshakes_total{%s,limited_by=\"server\"} %llu\n",
				lab[i], (unsigned long long)r->limited_server);
		if (r->legacy >= r->limited_client + r->limited_server && rest)
			fprintf(f, "tlsaudit_legacy_handshakes_total{%s,limited_by=\"unknown\"} %llu\n",
				lab[i], (unsigned long long)rest);
	}
	header(f, "tlsaudit_weak_cipher_handshakes_total", "counter",
	       "Handshakes that chose a NULL, EXPORT, anon, RC4, DES/3DES or MD5 suite.");
	for (i = 0; i < n; i++)
		if (agg__row(a, i)->weak_cipher)
			fprintf(f, "tlsaudit_weak_cipher_handshakes_total{%s} %llu\n", lab[i],
				(unsigned long long)agg__row(a, i)->weak_cipher);
	header(f, "tlsaudit_plaintext_smtp_sessions_total", "counter",
	       "SMTP sessions on a STARTTLS port that never upgraded to TLS.");
	for (i = 0; i < n; i++)
		if (agg__row(a, i)->plaintext)
			fprintf(f, "tlsaudit_plaintext_smtp_sessions_total{%s} %llu\n", lab[i],
				(unsigned long long)agg__row(a, i)->plaintext);
	header(f, "tlsaudit_handshake_failures_total", "counter",
	       "TLS handshakes that did not complete, by outcome (alert, reset, closed, timeout), "
	       "alert (IANA name; encrypted when sealed; other past the kinds kept per process; "
	       "empty without an alert) and by (the side that sent it; empty when unknown).");
	for (i = 0; i < n; i++)
		render_failures(f, agg__row(a, i), lab[i]);
	header(f, "tlsaudit_smtp_sessions_total", "counter",
	       "SMTP sessions on 25/587 by smtp_tls (starttls, not_offered, not_used, refused; "
	       "unknown when not recorded) and plaintext_fallback (a plaintext session after a "
	       "failed TLS handshake of the same client with the same server).");
	for (i = 0; i < n; i++)
		render_smtp(f, agg__row(a, i), lab[i]);
	header(f, "tlsaudit_policy_failures_total", "counter",
	       "Handshakes that would fail if the peer enforced policy (the policies judged: "
	       "tlsaudit.conf policies), by whose offer or choice fails it (client or server) "
	       "and reason (version, cipher, group, ems, sni, cert_key, cert_sig).");
	for (k = 0; k < n; k = g1) {
		g1 = group_end(a, &L, k);
		render_policies(f, a, &L, k, g1);
	}
	header(f, "tlsaudit_certificate_problems_total", "counter",
	       "TLS 1.2 and older handshakes whose server certificate had a problem, by problem "
	       "(expired, not_yet_valid, self_signed, name_mismatch, weak_key, sha1_signature, "
	       "md5_signature); a handshake with several counts once for each.");
	for (k = 0; k < n; k = g1) {
		g1 = group_end(a, &L, k);
		render_problems(f, a, &L, k, g1, "tlsaudit_certificate_problems_total",
					offsetof(struct agg_row, cert_problems), TLS_CERT_N_PROBLEMS);
	}
	header(f, "tlsaudit_bad_certificate_accepted_total", "counter",
	       "Handshakes whose client went on past a certificate problem a verifying client "
	       "refuses (expired, not_yet_valid, self_signed, name_mismatch): a program that "
	       "does not verify certificates.");
	for (k = 0; k < n; k = g1) {
		g1 = group_end(a, &L, k);
		render_problems(f, a, &L, k, g1, "tlsaudit_bad_certificate_accepted_total",
					offsetof(struct agg_row, bad_cert_accepted),
					AGG_VERIFY_PROBLEMS);
	}
	header(f, "tlsaudit_server_certificate_expiry_timestamp_seconds", "gauge",
	       "Unix time the certificate a local server presents expires, by its subject (the "
	       "latest seen for that subject).");
	for (i = 0; i < n; i++)
		render_expiry(f, agg__row(a, i), L.id[i]);
	header(f, "tlsaudit_last_seen_timestamp_seconds", "gauge",
	       "Unix time of the latest handshake or session of this process key.");
	for (i = 0; i < n; i++)
		fprintf(f, "tlsaudit_last_seen_timestamp_seconds{%s} %llu\n", lab[i],
			(unsigned long long)(agg__row(a, i)->last_seen_ns / NSEC_PER_SEC));

	prom_escape(info->version ? info->version : "", ver, sizeof(ver));
	prom_escape(info->backend ? info->backend : "none", backend, sizeof(backend));
	header(f, "tlsaudit_info", "gauge", "Version and capture backend of the daemon.");
	fprintf(f, "tlsaudit_info{version=\"%s\",backend=\"%s\"} 1\n", ver, backend);
	header(f, "tlsaudit_start_time_seconds", "gauge", "Unix time the daemon started.");
	fprintf(f, "tlsaudit_start_time_seconds %llu\n",
		(unsigned long long)(info->start_time_ns / NSEC_PER_SEC));
	render_drops(f, info);
	render_certs_unread(f, info);
	header(f, "tlsaudit_ringbuf_drops_total", "counter",
	       "Deprecated: use tlsaudit_capture_drops_total. Capture events lost because the "
	       "kernel ring buffer was full (with libpcap: the kernel's packet drops).");
	fprintf(f, "tlsaudit_ringbuf_drops_total %llu\n", (unsigned long long)info->ringbuf_drops);
	render_folded(f, a);
	header(f, "tlsaudit_flow_evictions_total", "counter",
	       "Flows dropped before their handshake completed (flow cap or memory budget).");
	fprintf(f, "tlsaudit_flow_evictions_total %llu\n",
		(unsigned long long)info->flow_evictions);
	header(f, "tlsaudit_malformed_handshakes_total", "counter",
	       "Handshakes that could not be parsed.");
	fprintf(f, "tlsaudit_malformed_handshakes_total %llu\n",
		(unsigned long long)info->malformed);
	header(f, "tlsaudit_export_timestamp_seconds", "gauge", "Unix time this file was written.");
	fprintf(f, "tlsaudit_export_timestamp_seconds %llu\n",
		(unsigned long long)(info->export_time_ns / NSEC_PER_SEC));
	ret = ferror(f) ? -EIO : 0;
	labels_free(&L);
	return ret;
}

int prom_write(const struct agg *a, const struct prom_info *info, const char *path, char *err,
	       size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	f = open_memstream(&data, &len);
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	ret = prom_render(a, info, f);
	if (fclose(f) && !ret)
		ret = -EIO;
	if (ret) {
		snprintf(err, errlen, "%s: cannot render metrics: %s", path, strerror(-ret));
		goto cleanup;
	}
	/* World-readable: node_exporter usually runs as its own user. */
	ret = util_write_atomic(path, data, len, 0644, err, errlen);
cleanup:
	free(data);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prometheus text exposition format 0.0.4 for the node_exporter textfile collector.
 * One file per host; every per-process series carries exe, unit, container, role and
 * port, so fleet queries can group by any of them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsaudit/prom.h"
#include "tlsaudit/util.h"

void prom_escape(const char *s, char *out, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t o = 0;

	if (!len)
		return;
	for (; *p; p++) {
		const char *esc = NULL;

		if (*p == '\\')
			esc = "\\\\";
		else if (*p == '"')
			esc = "\\\"";
		else if (*p == '\n')
			esc = "\\n";
		if (esc) {
			if (len - o < 3)
				break;
			out[o++] = esc[0];
			out[o++] = esc[1];
			continue;
		}
		if (len - o < 2)
			break;
		/* Label values must be UTF-8; peer and path bytes are not guaranteed to be. */
		out[o++] = (*p < 0x20 || *p >= 0x7f) ? '?' : (char)*p;
	}
	out[o] = '\0';
}

struct labels {
	char s[1200];
};

static void row_labels(const struct agg_row *r, struct labels *l)
{
	char exe[600], unit[300], cont[200];

	prom_escape(agg_row_name(r), exe, sizeof(exe));
	prom_escape(r->key.unit, unit, sizeof(unit));
	prom_escape(r->key.container, cont, sizeof(cont));
	snprintf(l->s, sizeof(l->s), "exe=\"%s\",unit=\"%s\",container=\"%s\",role=\"%s\",port=\"%u\"",
		 exe, unit, cont, agg_role_name(r->key.role), r->key.port);
}

static void header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
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

int prom_render(const struct agg *a, const struct prom_info *info, FILE *f)
{
	size_t i, n = agg__n_rows(a);
	struct labels *lab;
	char ver[64], backend[64];
	int v;

	lab = calloc(n ? n : 1, sizeof(*lab));
	if (!lab)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		row_labels(agg__row(a, i), &lab[i]);

	header(f, "tlsaudit_handshakes_total", "counter",
	       "TLS handshakes seen, by local process, role, service port and negotiated version.");
	for (i = 0; i < n; i++) {
		const struct agg_row *r = agg__row(a, i);

		for (v = 0; v < AGG_V_COUNT; v++)
			if (r->versions[v])
				fprintf(f, "tlsaudit_handshakes_total{%s,version=\"%s\"} %llu\n",
					lab[i].s, agg_version_label((enum agg_ver)v),
					(unsigned long long)r->versions[v]);
	}
	header(f, "tlsaudit_legacy_handshakes_total", "counter",
	       "Handshakes below TLS 1.2, by who held the version down (client or server).");
	for (i = 0; i < n; i++) {
		const struct agg_row *r = agg__row(a, i);
		uint64_t rest = r->legacy - r->limited_client - r->limited_server;

		if (r->limited_client)
			fprintf(f, "tlsaudit_legacy_handshakes_total{%s,limited_by=\"client\"} %llu\n",
				lab[i].s, (unsigned long long)r->limited_client);
		if (r->limited_server)
			fprintf(f, "tlsaudit_legacy_handshakes_total{%s,limited_by=\"server\"} %llu\n",
				lab[i].s, (unsigned long long)r->limited_server);
		if (r->legacy >= r->limited_client + r->limited_server && rest)
			fprintf(f, "tlsaudit_legacy_handshakes_total{%s,limited_by=\"unknown\"} %llu\n",
				lab[i].s, (unsigned long long)rest);
	}
	header(f, "tlsaudit_weak_cipher_handshakes_total", "counter",
	       "Handshakes that chose a NULL, EXPORT, anon, RC4, DES/3DES or MD5 suite.");
	for (i = 0; i < n; i++)
		if (agg__row(a, i)->weak_cipher)
			fprintf(f, "tlsaudit_weak_cipher_handshakes_total{%s} %llu\n", lab[i].s,
				(unsigned long long)agg__row(a, i)->weak_cipher);
	header(f, "tlsaudit_plaintext_smtp_sessions_total", "counter",
	       "SMTP sessions on a STARTTLS port that never upgraded to TLS.");
	for (i = 0; i < n; i++)
		if (agg__row(a, i)->plaintext)
			fprintf(f, "tlsaudit_plaintext_smtp_sessions_total{%s} %llu\n", lab[i].s,
				(unsigned long long)agg__row(a, i)->plaintext);
	header(f, "tlsaudit_handshake_failures_total", "counter",
	       "TLS handshakes that did not complete, by outcome (alert, reset, closed, timeout), "
	       "alert (IANA name; encrypted when sealed; other past the kinds kept per process; "
	       "empty without an alert) and by (the side that sent it; empty when unknown).");
	for (i = 0; i < n; i++)
		render_failures(f, agg__row(a, i), lab[i].s);
	header(f, "tlsaudit_smtp_sessions_total", "counter",
	       "SMTP sessions on 25/587 by smtp_tls (starttls, not_offered, not_used, refused; "
	       "unknown when not recorded) and plaintext_fallback (a plaintext session after a "
	       "failed TLS handshake of the same client with the same server).");
	for (i = 0; i < n; i++)
		render_smtp(f, agg__row(a, i), lab[i].s);
	header(f, "tlsaudit_last_seen_timestamp_seconds", "gauge",
	       "Unix time of the latest handshake or session of this process key.");
	for (i = 0; i < n; i++)
		fprintf(f, "tlsaudit_last_seen_timestamp_seconds{%s} %llu\n", lab[i].s,
			(unsigned long long)(agg__row(a, i)->last_seen_ns / NSEC_PER_SEC));

	prom_escape(info->version ? info->version : "", ver, sizeof(ver));
	prom_escape(info->backend ? info->backend : "none", backend, sizeof(backend));
	header(f, "tlsaudit_info", "gauge", "Version and capture backend of the daemon.");
	fprintf(f, "tlsaudit_info{version=\"%s\",backend=\"%s\"} 1\n", ver, backend);
	header(f, "tlsaudit_start_time_seconds", "gauge", "Unix time the daemon started.");
	fprintf(f, "tlsaudit_start_time_seconds %llu\n",
		(unsigned long long)(info->start_time_ns / NSEC_PER_SEC));
	header(f, "tlsaudit_ringbuf_drops_total", "counter",
	       "Capture events lost because the kernel ring buffer was full.");
	fprintf(f, "tlsaudit_ringbuf_drops_total %llu\n", (unsigned long long)info->ringbuf_drops);
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
	free(lab);
	return ferror(f) ? -EIO : 0;
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

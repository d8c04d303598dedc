// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control protocol's requests, server side: `status` (the service's own state),
 * `top` and `report` (aggregation rows, optionally the recent handshake records).
 * One JSON header line, then the rows and records, each on its own line.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsaudit/agg.h"
#include "tlsaudit/ctl.h"
#include "tlsaudit/export.h"
#include "tlsaudit/policy.h"
#include "tlsaudit/util.h"

/*
 * One row or handshake record: the largest record the flat writer makes is 12.6 KiB
 * (every string at its size escaped, 16 long policy names; test_prom's
 * test_record_line_worst_case), so 8 KiB left such records out of `report --handshakes`.
 */
#define LINE_MAX_JSON 16384

static void put_str_field(struct ctl_buf *out, const char *name, const char *val)
{
	char line[4096];
	size_t off = 0;

	if (!util_json_string(line, sizeof(line), &off, val ? val : ""))
		ctl_buf_printf(out, "\"%s\":%s,", name, line);
}

static void put_status_fields(const struct ctl_service *svc, struct ctl_buf *out)
{
	const struct agg_totals *t = agg__totals(svc->agg);
	char pols[TLS_POLICY_ACTIVE_MAX * TLS_POLICY_NAME_MAX] = "none";
	struct ctl_status st;

	memset(&st, 0, sizeof(st));
	svc->status(&st, svc->ctx);
	ctl_buf_printf(out,
		       "\"version\":\"%s\",\"pid\":%d,\"start_time_s\":%llu,\"now_s\":%llu,"
		       "\"uptime_s\":%llu,\"export_interval_s\":%llu,\"last_export_s\":%llu,",
		       TLSAUDIT_VERSION, (int)getpid(),
		       (unsigned long long)(st.start_ns / NSEC_PER_SEC),
		       (unsigned long long)(util_now_ns() / NSEC_PER_SEC),
		       (unsigned long long)(st.uptime_ns / NSEC_PER_SEC),
		       (unsigned long long)(st.export_interval_ns / NSEC_PER_SEC),
		       (unsigned long long)(st.last_export_ns / NSEC_PER_SEC));
	put_str_field(out, "ports", st.ports);
	put_str_field(out, "backend", st.backend);
	put_str_field(out, "backend_why", st.backend_why);
	put_str_field(out, "socket", st.socket);
	put_str_field(out, "state_file", st.state_file);
	put_str_field(out, "textfile", st.textfile);
	put_str_field(out, "handshake_log", st.handshake_log);
	put_str_field(out, "last_export_error", st.last_export_error);
	if (svc->policies)
		tls_policy_list_string(svc->policies, pols, sizeof(pols));
	put_str_field(out, "policies", pols);
	ctl_buf_printf(out,
		       "\"keys\":%zu,\"records\":%llu,\"handshakes\":%llu,\"legacy\":%llu,"
		       "\"weak_cipher\":%llu,\"plaintext_sessions\":%llu,\"folded\":%llu,"
		       "\"events\":%llu,\"ringbuf_drops\":%llu,\"flow_evictions\":%llu,"
		       "\"malformed\":%llu,\"unattributed\":%llu,\"flows\":%llu,"
		       "\"not_tls\":%llu,\"clients\":%zu",
		       agg__n_rows(svc->agg), (unsigned long long)t->records,
		       (unsigned long long)t->handshakes, (unsigned long long)t->legacy,
		       (unsigned long long)t->weak_cipher, (unsigned long long)t->plaintext,
		       (unsigned long long)t->folded, (unsigned long long)st.events,
		       (unsigned long long)st.ringbuf_drops, (unsigned long long)st.flow_evictions,
		       (unsigned long long)st.malformed, (unsigned long long)st.unattributed,
		       (unsigned long long)st.flows, (unsigned long long)st.not_tls, st.clients);
	ctl_buf_printf(out,
		       ",\"failures\":%llu,\"failures_by_outcome\":{\"alert\":%llu,\"reset\":%llu,"
		       "\"closed\":%llu,\"timeout\":%llu},\"smtp_tls\":{\"starttls\":%llu,"
		       "\"not_offered\":%llu,\"not_used\":%llu,\"refused\":%llu},"
		       "\"plaintext_fallback\":%llu,"
		       "\"certificates_unread\":{\"cut\":%llu,\"malformed\":%llu}",
		       (unsigned long long)t->failures, (unsigned long long)t->failed[AGG_F_ALERT],
		       (unsigned long long)t->failed[AGG_F_RESET],
		       (unsigned long long)t->failed[AGG_F_CLOSED],
		       (unsigned long long)t->failed[AGG_F_TIMEOUT],
		       (unsigned long long)t->smtp[HS_SMTP_STARTTLS],
		       (unsigned long long)t->smtp[HS_SMTP_NOT_OFFERED],
		       (unsigned long long)t->smtp[HS_SMTP_NOT_USED],
		       (unsigned long long)t->smtp[HS_SMTP_REFUSED], (unsigned long long)t->fallback,
		       (unsigned long long)st.cert_cut, (unsigned long long)st.cert_malformed);
}

/* policy_name_safe - a name as policies have them, so it can go in a reply as it is. */
static bool policy_name_safe(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '.' || s[i] == '-' || s[i] == '_'))
			return false;
	return i > 0 && i < TLS_POLICY_NAME_MAX;
}

/*
 * policy_known - verdicts under @name exist: it is active, or a row still holds counts
 * from when it was (before a reload or restart).
 */
static bool policy_known(const struct ctl_service *svc, const char *name)
{
	size_t i;

	if (!policy_name_safe(name))
		return false;
	for (i = 0; svc->policies && i < svc->policies->n_active; i++)
		if (!strcmp(tls_policy_active(svc->policies, i)->name, name))
			return true;
	for (i = 0; i < agg__n_rows(svc->agg); i++)
		if (agg_row_policy(agg__row(svc->agg, i), name))
			return true;
	return false;
}

/* put_policies - "policies judged: tls12,fips-ems" (no quotes: inside an error string). */
static void put_policies(const struct ctl_service *svc, struct ctl_buf *out)
{
	char list[TLS_POLICY_ACTIVE_MAX * TLS_POLICY_NAME_MAX] = "none";

	if (svc->policies)
		tls_policy_list_string(svc->policies, list, sizeof(list));
	ctl_buf_printf(out, "the daemon judges %s (policies = in tlsaudit.conf)", list);
}

/*
 * add_policy - the row's verdicts under @name as its "policy" member: @line holds the
 * row object (@len bytes); its closing brace moves after the new member.
 */
static int add_policy(const struct agg_row *row, const char *name, char *line, size_t len,
		      int *n)
{
	static const char key[] = ",\"policy\":";
	int m;

	if (len < 2 || line[len - 1] != '}' || LINE_MAX_JSON - len < sizeof(key) + 2)
		return -1;
	memcpy(line + len - 1, key, sizeof(key) - 1);
	len += sizeof(key) - 2;
	m = agg_policy_json(row, name, line + len, LINE_MAX_JSON - 2 - len);
	if (m < 0)
		return -1;
	len += (size_t)m;
	line[len++] = '}';
	*n = (int)len;
	return 0;
}

/*
 * old_offer_refused - a ClientHello that offered nothing newer than TLS 1.1 and was
 * refused: nothing was negotiated, so it is not "legacy", yet it is exactly what
 * switching TLS < 1.2 off breaks (already broken), so --legacy shows it.
 */
static bool old_offer_refused(const struct hs_record *r)
{
	return hs_failed(r) && r->offered_max && r->offered_max < TLS_V_12;
}

struct hs_collect {
	struct ctl_buf *buf;
	const struct tls_policy_set *policies;
	bool legacy_only;
	size_t n;
	size_t unrendered; /* records that did not fit a line: said in the header */
	char *line;
};

static void collect_record(const struct hs_record *r, void *ctx)
{
	struct hs_collect *hc = ctx;
	int n;

	if (hc->legacy_only && !hs_legacy(r) && !old_offer_refused(r))
		return;
	n = export_json_record(r, hc->policies, hc->line, LINE_MAX_JSON - 1);
	if (n <= 0) {
		hc->unrendered++;
		return;
	}
	hc->line[n++] = '\n';
	ctl_buf_append(hc->buf, hc->line, (size_t)n);
	hc->n++;
}

void ctl_handle_request(const struct ctl_json *req, struct ctl_buf *out, void *ctx)
{
	const struct ctl_service *svc = ctx;
	const char *cmd = ctl_json_str(req, "cmd", "");
	bool legacy = ctl_json_bool(req, "legacy", false);
	bool want_hs = ctl_json_bool(req, "handshakes", false);
	int64_t since_s = ctl_json_num(req, "since_s", 0);
	struct ctl_buf body = { 0 };
	struct hs_collect hc = { .buf = &body, .legacy_only = legacy, .policies = svc->policies };
	const char *policy = ctl_json_str(req, "policy", "");
	uint64_t since_ns = 0, now = util_now_ns();
	size_t i, n_rows = 0;
	char *line = NULL;
	int n;

	if (!strcmp(cmd, "status")) {
		ctl_buf_printf(out, "{\"ok\":true,\"cmd\":\"status\",\"n_rows\":0,"
				    "\"n_handshakes\":0,");
		put_status_fields(svc, out);
		ctl_buf_printf(out, "}\n");
		return;
	}
	if (strcmp(cmd, "report") && strcmp(cmd, "top")) {
		ctl_buf_printf(out, "{\"ok\":false,\"error\":\"unknown cmd (status, report, "
				    "top)\"}\n");
		return;
	}
	if (since_s < 0 || (uint64_t)since_s > now / NSEC_PER_SEC) {
		ctl_buf_printf(out, "{\"ok\":false,\"error\":\"since_s out of range\"}\n");
		return;
	}
	if (since_s)
		since_ns = now - (uint64_t)since_s * NSEC_PER_SEC;
	if (*policy && !policy_known(svc, policy)) {
		ctl_buf_printf(out, "{\"ok\":false,\"error\":\"no verdicts under policy '%s': ",
			       policy_name_safe(policy) ? policy : "?");
		put_policies(svc, out);
		ctl_buf_printf(out, "\"}\n");
		return;
	}
	line = malloc(LINE_MAX_JSON);
	if (!line) {
		out->oom = true;
		return;
	}
	for (i = 0; i < agg__n_rows(svc->agg); i++) {
		const struct agg_row *row = agg__row(svc->agg, i);

		if (legacy && !row->legacy && !row->failed_old_offer)
			continue;
		if (row->last_seen_ns < since_ns)
			continue;
		n = agg_row_json(row, line, LINE_MAX_JSON - 1);
		if (n <= 0)
			continue;
		if (*policy && add_policy(row, policy, line, (size_t)n, &n))
			continue;
		line[n++] = '\n';
		ctl_buf_append(&body, line, (size_t)n);
		n_rows++;
	}
	hc.line = line;
	if (want_hs && !strcmp(cmd, "report"))
		agg__ring_foreach(svc->agg, since_ns, collect_record, &hc);
	if (body.oom) {
		out->oom = true;
		goto cleanup;
	}
	ctl_buf_printf(out, "{\"ok\":true,\"cmd\":\"%s\",\"n_rows\":%zu,\"n_handshakes\":%zu,"
			    "\"n_handshakes_unrendered\":%zu,",
		       cmd, n_rows, hc.n, hc.unrendered);
	put_status_fields(svc, out);
	ctl_buf_printf(out, "}\n");
	if (body.len)
		ctl_buf_append(out, body.data, body.len);
cleanup:
	free(body.data);
	free(line);
}

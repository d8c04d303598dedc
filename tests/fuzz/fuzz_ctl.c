// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer entry for the control protocol, both ends. Any member of group tlsaudit
 * writes the requests; whatever listens on the socket path writes the replies.
 *
 * Input: request lines (newline-separated, a CR before the newline dropped, each cut at
 * CTL_REQ_MAX as src/ctl/server.c cuts them), optionally followed by a NUL and bytes
 * that name one more process in the counters (its exe, comm, SNI and container, split
 * at further NULs), so the replies carry peer-chosen strings too.
 *
 * Each line goes through ctl_json_parse() and, when it has a "cmd" string, through
 * ctl_handle_request() with a service of a few rows, recent records and the built-in
 * policies, as the daemon answers it. The reply must be what `top`, `report` and
 * `status` expect: a header line that parses, then exactly n_rows rows that
 * ctl_row_parse() reads and n_handshakes JSON records. The same line is also fed to the
 * client's row parser and to the JSON walker of the container metadata (jsonwalk.h).
 * Build with `make fuzz`; run build/fuzz/fuzz_ctl tests/fuzz/corpus/ctl.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tlsaudit/agg.h"
#include "tlsaudit/ctl.h"
#include "tlsaudit/jsonwalk.h"
#include "tlsaudit/policy.h"
#include "tlsaudit/record.h"
#include "tlsaudit/tls_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 16

static struct tls_policy_set ps;
static struct ctl_json req, hdr;
static struct ctl_row row;
static struct hs_record rec;

static void fake_status(struct ctl_status *st, void *ctx)
{
	(void)ctx;
	st->backend = "pcap";
	st->backend_why = "fuzz";
	st->socket = "/run/tlsaudit/tlsaudit.sock";
	st->state_file = "/var/lib/tlsaudit/state";
	st->textfile = "";
	st->handshake_log = "";
	st->last_export_error = "";
	st->ports = "443,25,587";
	st->start_ns = 1;
	st->uptime_ns = 2000000000ULL;
	st->export_interval_ns = 15000000000ULL;
}

static void add(struct agg *a, uint16_t version, uint8_t outcome, const char *exe,
		const char *comm, const char *sni, const char *container)
{
	memset(&rec, 0, sizeof(rec));
	rec.kind = HS_KIND_TLS;
	rec.time_ns = 1780000000ULL * 1000000000ULL;
	rec.role = HS_ROLE_CLIENT;
	rec.client.family = rec.server.family = AF_INET;
	rec.client.addr[0] = rec.server.addr[0] = 10;
	rec.client.addr[3] = 2;
	rec.server.addr[3] = 1;
	rec.client.port = 40000;
	rec.server.port = 443;
	util_strlcpy(rec.sni, sni, sizeof(rec.sni));
	rec.offered_max = version;
	rec.version = outcome == HS_OUTCOME_ESTABLISHED ? version : 0;
	rec.cipher_id = 0xc02f;
	rec.has_cipher = true;
	rec.outcome = outcome;
	rec.outcome_by = outcome == HS_OUTCOME_ESTABLISHED ? HS_SIDE_NONE : HS_SIDE_SERVER;
	rec.has_alert = outcome == HS_OUTCOME_ALERT;
	rec.alert = 70;
	rec.offer.flags = TLS_OFFER_CLIENT | TLS_OFFER_SERVER;
	rec.offer.versions = version >= TLS_V_12 ? TLS_OFFER_V_TLS12 : TLS_OFFER_V_TLS10;
	rec.offer.srv_version = rec.version;
	rec.offer.srv_suite = 0xc02f;
	rec.proc.known = true;
	rec.proc.pid = 4242;
	util_strlcpy(rec.proc.exe, exe, sizeof(rec.proc.exe));
	util_strlcpy(rec.proc.comm, comm, sizeof(rec.proc.comm));
	util_strlcpy(rec.proc.container, container, sizeof(rec.proc.container));
	util_strlcpy(rec.proc.unit, "fuzz.service", sizeof(rec.proc.unit));
	tls_policy_judge_record(&ps, &rec);
	agg__add(a, &rec, rec.time_ns);
}

/* check_reply - the framing the client side relies on (ctl.h). */
static void check_reply(const struct ctl_buf *out)
{
	int64_t n_rows, n_hs, lines = 0;
	size_t off, end;

	if (out->oom || !out->len || out->data[out->len - 1] != '\n')
		abort();
	end = (size_t)((const char *)memchr(out->data, '\n', out->len) - out->data);
	if (ctl_json_parse((const uint8_t *)out->data, end, &hdr) ||
	    !ctl_json_get(&hdr, "ok"))
		abort();
	if (!ctl_json_bool(&hdr, "ok", false)) {
		if (end + 1 != out->len || !ctl_json_str(&hdr, "error", NULL))
			abort();
		return;
	}
	n_rows = ctl_json_num(&hdr, "n_rows", -1);
	n_hs = ctl_json_num(&hdr, "n_handshakes", -1);
	if (n_rows < 0 || n_hs < 0)
		abort();
	for (off = end + 1; off < out->len; off = end + 1, lines++) {
		char *line = out->data + off;

		end = (size_t)((char *)memchr(line, '\n', out->len - off) - out->data);
		out->data[end] = '\0';
		if (lines < n_rows ? ctl_row_parse(line, &row) :
				     util_json_walk(line, end - off, NULL, NULL))
			abort();
		out->data[end] = '\n';
	}
	if (lines != n_rows + n_hs)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ctl_service proto = { .status = fake_status };
	struct ctl_service svc = proto;
	const char *extra[4] = { "/usr/bin/fuzz", "fuzz", "", "" };
	char *copy = NULL, *p;
	const uint8_t *nul = memchr(data, 0, size);
	size_t reqlen = nul ? (size_t)(nul - data) : size, off, end;
	int i, lines = 0;

	if (!ps.n)
		tls_policy_set_init(&ps);
	svc.policies = &ps;
	svc.agg = agg__new(64, 16);
	if (!svc.agg)
		return 0;
	agg__set_policies(svc.agg, &ps);
	add(svc.agg, TLS_V_10, HS_OUTCOME_ESTABLISHED, "/usr/bin/curl", "curl", "a.test", "");
	add(svc.agg, TLS_V_12, HS_OUTCOME_ESTABLISHED, "/usr/sbin/postfix", "smtp", "mx.test",
	    "");
	add(svc.agg, TLS_V_11, HS_OUTCOME_ALERT, "/usr/bin/python3", "python3", "b\"\\.test",
	    "web");
	if (nul) {
		/* The tail, NUL-separated, names one more process. */
		copy = malloc(size - reqlen);
		if (!copy)
			goto out;
		memcpy(copy, nul + 1, size - reqlen - 1);
		copy[size - reqlen - 1] = '\0';
		for (p = copy, i = 0; i < 4 && p; i++) {
			extra[i] = p;
			p = memchr(p, 0, (size_t)(copy + size - reqlen - 1 - p));
			if (p)
				p++;
		}
		add(svc.agg, TLS_V_12, HS_OUTCOME_RESET, extra[0], extra[1], extra[2], extra[3]);
	}

	for (off = 0; off < reqlen && lines < MAX_LINES; off = end + 1, lines++) {
		const uint8_t *nl = memchr(data + off, '\n', reqlen - off);
		struct ctl_buf out = { 0 };
		char line[CTL_REQ_MAX + 1];
		size_t n;

		end = nl ? (size_t)(nl - data) : reqlen;
		n = end - off < CTL_REQ_MAX ? end - off : CTL_REQ_MAX;
		if (n && data[off + n - 1] == '\r')
			n--;
		memcpy(line, data + off, n);
		line[n] = '\0';
		util_json_walk(line, n, NULL, NULL);
		ctl_row_parse(line, &row);
		if (ctl_json_parse((const uint8_t *)line, n, &req) ||
		    !ctl_json_str(&req, "cmd", NULL))
			continue;
		ctl_handle_request(&req, &out, &svc);
		check_reply(&out);
		free(out.data);
	}
out:
	free(copy);
	agg__free(svc.agg);
	return 0;
}

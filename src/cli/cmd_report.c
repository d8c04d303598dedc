// SPDX-License-Identifier: GPL-2.0-only
/*
 * tlsaudit report: one-shot tables from the running daemon. It opens with what is
 * already broken (handshakes refused or cut off, with the alert, who sent it, a peer and
 * when), then answers "what breaks if TLS < 1.2 is switched off" (for each process,
 * whether the process itself must be upgraded or only its peer), then the SMTP sessions
 * that stayed plaintext and why, then every process key. --legacy keeps the first two,
 * then the tls12 policy's report; --policy LIST is that report for each policy the
 * daemon judges: which process keys would break if peers enforced it, and since when
 * nothing has.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsaudit/cli.h"
#include "tlsaudit/config.h"
#include "tlsaudit/ctl.h"
#include "tlsaudit/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tlsaudit report [--json] [--legacy | --policy LIST] [--handshakes]\n"
		"                       [--since DUR] [-S PATH]\n"
		"\n"
		"Counters of the running daemon, one row per process (exe, unit, container),\n"
		"role and service port, in sections: already failing (handshakes refused or cut\n"
		"off: alert or outcome, by whom, a peer, when), what breaks if TLS < 1.2 is\n"
		"switched off, plaintext SMTP by reason (not_offered, not_used, refused; FALLBACK\n"
		"after a failed TLS handshake), programs that accept bad certificates, the local\n"
		"servers' certificates that expire within 30 days, each policy the daemon judges\n"
		"(how many process keys would fail, or since when enforcing it is safe), then\n"
		"every process key.\n"
		"\n"
		"Options:\n"
		"  --legacy           only the first two sections: processes that negotiated below\n"
		"                     TLS 1.2 or had an offer of nothing newer refused, and whether\n"
		"                     the process or its peer must be upgraded; then the tls12\n"
		"                     policy's report\n"
		"  --policy LIST      what breaks if peers enforced each policy of the comma-\n"
		"                     separated LIST (ones the daemon judges: policies in\n"
		"                     tlsaudit.conf): every process key FAILS (by whom, why, a\n"
		"                     peer, when last), passes or was not seen, and since when\n"
		"                     enforcing it is safe\n"
		"  --handshakes       the recent handshakes (the last 1000) instead of counters\n"
		"  --since DUR        only what was seen in the last DUR (30s, 15m, 1h, 2d)\n"
		"  --json             one JSON object per line (rows, or handshake records)\n"
		"  -S, --socket PATH  control socket (default $%s, else %s)\n"
		"  -h, --help         this help\n"
		"\n"
		"Examples:\n"
		"  tlsaudit report --legacy              what breaks if TLS < 1.2 is switched off\n"
		"  tlsaudit report --policy fips-ems     what breaks if peers require EMS\n"
		"  tlsaudit report --policy tls13,pq-hybrid\n"
		"  tlsaudit report --policy tls12 --since 7d --json\n"
		"  tlsaudit report --handshakes --since 1h --json\n"
		"\n"
		"Exit status: 0 ok, 1 no daemon or an error, 2 usage error.\n",
		CFG_SOCKET_ENV, CFG_DEFAULT_SOCKET);
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct ctl_row *a = pa, *b = pb;

	if (a->legacy != b->legacy)
		return a->legacy > b->legacy ? -1 : 1;
	if (a->weak_cipher != b->weak_cipher)
		return a->weak_cipher > b->weak_cipher ? -1 : 1;
	if (a->handshakes != b->handshakes)
		return a->handshakes > b->handshakes ? -1 : 1;
	return strcmp(ctl_row_name(a), ctl_row_name(b));
}

static void print_rows(const struct ctl_row *rows, size_t n)
{
	char name[40], unit[24];
	size_t i;

	if (!n) {
		printf("No handshakes recorded yet.\n");
		return;
	}
	printf("%-32s %-20s %-6s %5s %6s %6s %6s %6s %6s %5s %5s %5s %5s  %s\n", "PROCESS",
	       "UNIT", "ROLE", "PORT", "TOTAL", "TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3", "OTHER",
	       "FAIL", "WEAK", "PLAIN", "LAST SEEN");
	for (i = 0; i < n; i++) {
		const struct ctl_row *r = &rows[i];

		printf("%-32s %-20s %-6s %5u %6lld %6lld %6lld %6lld %6lld %5lld %5lld %5lld %5lld  "
		       "%s\n",
		       ctl_term_safe(ctl_row_name(r), 32, name, sizeof(name)),
		       ctl_term_safe(r->unit[0] ? r->unit : "-", 20, unit, sizeof(unit)), r->role,
		       r->port, (long long)r->handshakes, (long long)r->versions[2],
		       (long long)r->versions[3], (long long)r->versions[4],
		       (long long)r->versions[5],
		       (long long)(r->versions[0] + r->versions[1] + r->versions[6]),
		       (long long)r->failures, (long long)r->weak_cipher, (long long)r->plaintext,
		       r->last_seen);
	}
}

/* old_version - a version name below TLS 1.2 ("SSLv3", "TLSv1.0", ...). */
static bool old_version(const char *v)
{
	return !strncmp(v, "SSL", 3) || !strcmp(v, "TLSv1.0") || !strcmp(v, "TLSv1.1");
}

/*
 * cause - the latest failure in words: what ended it and who, whether that was this
 * process or its peer, what the client offered when that was too old, the other kinds
 * of failure of the row, and a peer. "protocol_version alert from the server (the
 * peer); this process offered TLSv1.0 at most: it must be upgraded; e.g. ..."
 */
static void cause(const struct ctl_row *r, char *buf, size_t len)
{
	static const char *const outcomes[4] = { "alert", "reset", "closed", "timeout" };
	const char *by = r->last_fail.by, *o = r->last_fail.outcome;
	bool self = *by && !strcmp(by, r->role), client = !strcmp(r->role, "client");
	char what[64], who[48] = "", offer[96] = "", also[160] = "", peer[72], sni[72];
	size_t off = 0;
	int i, n;

	if (!strcmp(o, "alert"))
		snprintf(what, sizeof(what), "%s alert", r->last_fail.alert[0] ? r->last_fail.alert
									: "encrypted");
	else if (!strcmp(o, "timeout"))
		snprintf(what, sizeof(what), "no answer (timeout)");
	else
		snprintf(what, sizeof(what), "%s", *o ? o : "failed");
	if (*by && strcmp(o, "timeout"))
		snprintf(who, sizeof(who), " %s the %s%s", !strcmp(o, "alert") ? "from" : "by", by,
			 strcmp(r->role, "client") && strcmp(r->role, "server") ? ""
			 : self ? " (this process)" : " (the peer)");
	if (old_version(r->last_fail.offered_max))
		snprintf(offer, sizeof(offer), "; %s offered %s at most%s",
			 client ? "this process" : strcmp(r->role, "server") ? "the client"
									: "the peer",
			 r->last_fail.offered_max, client ? ": it must be upgraded" : "");
	/* The row's other kinds, when it has more than one. */
	for (i = 0; i < r->n_alerts && off < sizeof(also); i++) {
		if (!strcmp(r->alerts[i].name, r->last_fail.alert[0] ? r->last_fail.alert
								      : "encrypted") &&
		    !strcmp(r->alerts[i].by, by))
			continue;
		n = snprintf(also + off, sizeof(also) - off, "%s%s %lld", off ? ", " : "",
			     r->alerts[i].name, (long long)r->alerts[i].count);
		if (n > 0)
			off += (size_t)n;
	}
	for (i = 1; i < 4 && off < sizeof(also); i++) {
		if (!r->failed[i] || !strcmp(o, outcomes[i]))
			continue;
		n = snprintf(also + off, sizeof(also) - off, "%s%s %lld", off ? ", " : "",
			     outcomes[i], (long long)r->failed[i]);
		if (n > 0)
			off += (size_t)n;
	}
	ctl_term_safe(r->last_fail.peer[0] ? r->last_fail.peer : "?", 46, peer, sizeof(peer));
	ctl_term_safe(r->last_fail.sni, 64, sni, sizeof(sni));
	snprintf(buf, len, "%s%s%s%s%s; e.g. %s%s%s", what, who, offer, off ? "; also " : "",
		 also, peer, sni[0] ? " " : "", sni);
}

static int cmp_last_fail(const void *pa, const void *pb)
{
	const struct ctl_row *a = *(const struct ctl_row *const *)pa;
	const struct ctl_row *b = *(const struct ctl_row *const *)pb;

	if (a->last_fail.time_s != b->last_fail.time_s)
		return a->last_fail.time_s > b->last_fail.time_s ? -1 : 1;
	return strcmp(ctl_row_name(a), ctl_row_name(b));
}

/*
 * print_failing - "Already failing": process keys whose handshakes did not complete,
 * latest first. With @legacy only those whose refused offer was older than TLS 1.2;
 * with @since_s (--since) only those whose latest failure is that recent: a key seen
 * lately whose failures are old is not failing now.
 */
static void print_failing(const struct ctl_row *rows, size_t n, bool legacy, int64_t since_s)
{
	const struct ctl_row **fr;
	char name[40], why[640];
	size_t i, k = 0;

	fr = calloc(n ? n : 1, sizeof(*fr));
	if (!fr)
		return;
	for (i = 0; i < n; i++)
		if ((legacy ? rows[i].failures_legacy_offer > 0 : rows[i].failures > 0) &&
		    rows[i].last_fail.time_s >= since_s)
			fr[k++] = &rows[i];
	if (!k) {
		printf("Already failing: nothing: every handshake seen%s %s.\n",
		       since_s ? " in the window" : "",
		       legacy ? "that offered only TLS < 1.2 completed" : "completed");
		goto cleanup;
	}
	qsort(fr, k, sizeof(*fr), cmp_last_fail);
	printf("Already failing: %zu process key%s had handshakes refused or cut off%s.\n\n", k,
	       k == 1 ? "" : "s", legacy ? " while offering only TLS < 1.2" : "");
	printf("%-32s %-6s %5s %6s  %-24s  %s\n", "PROCESS", "ROLE", "PORT", "FAILED",
	       "LAST FAILURE", "WHY (the latest)");
	for (i = 0; i < k; i++) {
		const struct ctl_row *r = fr[i];

		cause(r, why, sizeof(why));
		printf("%-32s %-6s %5u %6lld  %-24s  %s\n",
		       ctl_term_safe(ctl_row_name(r), 32, name, sizeof(name)), r->role, r->port,
		       (long long)(legacy ? r->failures_legacy_offer : r->failures),
		       r->last_fail.time[0] ? r->last_fail.time : "-", why);
	}
cleanup:
	free(fr);
}

/* print_smtp - SMTP sessions that stayed plaintext, by smtp_tls, with their fallbacks. */
static void print_smtp(const struct ctl_row *rows, size_t n)
{
	char name[40], peer[72], mx[72];
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += rows[i].plaintext > 0;
	if (!k) {
		printf("Plaintext SMTP: none: every SMTP session seen upgraded with STARTTLS.\n");
		return;
	}
	printf("Plaintext SMTP: %zu process key%s had SMTP sessions that never upgraded to TLS.\n"
	       "FALLBACK: plaintext right after a failed TLS handshake with the same server.\n\n",
	       k, k == 1 ? "" : "s");
	printf("%-32s %-6s %5s %5s %11s %8s %7s %7s %8s %8s  %s\n", "PROCESS", "ROLE", "PORT",
	       "PLAIN", "NOT_OFFERED", "NOT_USED", "REFUSED", "UNKNOWN", "FALLBACK", "STARTTLS",
	       "LAST PEER");
	for (i = 0; i < n; i++) {
		const struct ctl_row *r = &rows[i];

		if (!r->plaintext)
			continue;
		ctl_term_safe(r->plain_peer[0] ? r->plain_peer : "?", 46, peer, sizeof(peer));
		ctl_term_safe(r->mx_host, 64, mx, sizeof(mx));
		printf("%-32s %-6s %5u %5lld %11lld %8lld %7lld %7lld %8lld %8lld  %s%s%s\n",
		       ctl_term_safe(ctl_row_name(r), 32, name, sizeof(name)), r->role, r->port,
		       (long long)r->plaintext, (long long)r->smtp[1], (long long)r->smtp[2],
		       (long long)r->smtp[3], (long long)r->smtp[4], (long long)r->fallback[4],
		       (long long)r->smtp[0], peer, mx[0] ? " mx=" : "", mx);
	}
}

static int cmp_last_bad(const void *pa, const void *pb)
{
	const struct ctl_row *a = *(const struct ctl_row *const *)pa;
	const struct ctl_row *b = *(const struct ctl_row *const *)pb;

	if (a->last_bad.time_s != b->last_bad.time_s)
		return a->last_bad.time_s > b->last_bad.time_s ? -1 : 1;
	return strcmp(ctl_row_name(a), ctl_row_name(b));
}

/*
 * print_bad_certs - "Programs that accept bad certificates": local clients that went on
 * past a server certificate a verifying client refuses (TLS 1.2 and older, where the
 * certificate is in the clear), latest first, with the problems and the latest server.
 */
static void print_bad_certs(const struct ctl_row *rows, size_t n, int64_t since_s)
{
	static const char *const names[CTL_CERT_VERIFY_PROBLEMS] = {
		"expired", "not_yet_valid", "self_signed", "name_mismatch",
	};
	const struct ctl_row **br;
	char name[40], probs[128], peer[72], sni[72];
	size_t i, k = 0, o;
	int j, w;

	br = calloc(n ? n : 1, sizeof(*br));
	if (!br)
		return;
	for (i = 0; i < n; i++)
		if (rows[i].cert_accepted > 0 && strcmp(rows[i].role, "server") &&
		    rows[i].last_bad.time_s >= since_s)
			br[k++] = &rows[i];
	if (!k) {
		printf("Programs that accept bad certificates: none seen%s (TLS 1.2 and older "
		       "show the certificate; TLS 1.3 hides it).\n",
		       since_s ? " in the window" : "");
		goto cleanup;
	}
	qsort(br, k, sizeof(*br), cmp_last_bad);
	printf("Programs that accept bad certificates: %zu process key%s went on past a server\n"
	       "certificate a verifying client refuses: they do not check certificates.\n\n",
	       k, k == 1 ? "" : "s");
	printf("%-32s %5s %8s  %-34s  %-24s  %s\n", "PROCESS", "PORT", "ACCEPTED",
	       "PROBLEMS (handshakes)", "LAST SEEN", "SERVER (the latest)");
	for (i = 0; i < k; i++) {
		const struct ctl_row *r = br[i];

		probs[0] = '\0';
		for (j = 0, o = 0; j < CTL_CERT_VERIFY_PROBLEMS; j++) {
			if (!r->bad_cert_accepted[j])
				continue;
			w = snprintf(probs + o, sizeof(probs) - o, "%s%s=%lld", o ? "," : "",
				     names[j], (long long)r->bad_cert_accepted[j]);
			if (w < 0 || (size_t)w >= sizeof(probs) - o)
				break;
			o += (size_t)w;
		}
		ctl_term_safe(r->last_bad.peer[0] ? r->last_bad.peer : "?", 46, peer, sizeof(peer));
		ctl_term_safe(r->last_bad.sni, 64, sni, sizeof(sni));
		printf("%-32s %5u %8lld  %-34s  %-24s  %s%s%s\n",
		       ctl_term_safe(ctl_row_name(r), 32, name, sizeof(name)), r->port,
		       (long long)r->cert_accepted, probs,
		       r->last_bad.time[0] ? r->last_bad.time : "-", peer, sni[0] ? " sni=" : "",
		       sni);
	}
cleanup:
	free(br);
}

/* A local server's certificate within this many seconds of its expiry is listed. */
#define EXPIRY_HORIZON_S (30 * 86400)

struct own_ref {
	const struct ctl_row *row;
	int idx;
};

static int cmp_expiry(const void *pa, const void *pb)
{
	const struct own_ref *a = pa, *b = pb;
	int64_t x = a->row->own[a->idx].not_after_s, y = b->row->own[b->idx].not_after_s;

	if (x != y)
		return x < y ? -1 : 1;
	return strcmp(ctl_row_name(a->row), ctl_row_name(b->row));
}

/*
 * print_expiring - "Certificates that expire within 30 days": the certificates the
 * local servers present (Postfix smtpd's, a local nginx's), soonest first, those already
 * expired included.
 */
static void print_expiring(const struct ctl_row *rows, size_t n, int64_t now_s)
{
	struct own_ref *refs;
	char name[40], subj[72], left[32];
	size_t i, k = 0, cap = 0;
	int j;

	for (i = 0; i < n; i++)
		cap += (size_t)rows[i].n_own;
	refs = calloc(cap ? cap : 1, sizeof(*refs));
	if (!refs)
		return;
	for (i = 0; i < n; i++) {
		if (strcmp(rows[i].role, "server"))
			continue;
		for (j = 0; j < rows[i].n_own && j < CTL_ROW_OWN_CERTS && k < cap; j++)
			if (rows[i].own[j].not_after_s - now_s < EXPIRY_HORIZON_S)
				refs[k++] = (struct own_ref){ &rows[i], j };
	}
	if (!k) {
		printf("Certificates that expire within 30 days: none among the local servers' "
		       "certificates seen.\n");
		goto cleanup;
	}
	qsort(refs, k, sizeof(*refs), cmp_expiry);
	printf("Certificates that expire within 30 days: %zu presented by local servers.\n\n", k);
	printf("%-32s %5s  %-40s  %-20s  %s\n", "PROCESS", "PORT", "SUBJECT", "NOT AFTER",
	       "EXPIRES");
	for (i = 0; i < k; i++) {
		const struct ctl_row *r = refs[i].row;
		int64_t d = r->own[refs[i].idx].not_after_s - now_s;
		char age[24];

		ctl_fmt_age(d < 0 ? -d : d, age, sizeof(age));
		snprintf(left, sizeof(left), d < 0 ? "EXPIRED %s ago" : "in %s", age);
		printf("%-32s %5u  %-40s  %-20s  %s\n",
		       ctl_term_safe(ctl_row_name(r), 32, name, sizeof(name)), r->port,
		       ctl_term_safe(r->own[refs[i].idx].subject, 40, subj, sizeof(subj)),
		       r->own[refs[i].idx].not_after, left);
	}
cleanup:
	free(refs);
}

/*
 * verdict - who must change for this row to work with TLS 1.2+ only. A local client
 * limited by itself, or a local server limited by itself, is this host's problem.
 */
static void verdict(const struct ctl_row *r, char *buf, size_t len)
{
	bool client = !strcmp(r->role, "client"), server = !strcmp(r->role, "server");
	int64_t own = client ? r->limited_client : server ? r->limited_server : 0;
	int64_t peer = client ? r->limited_server : server ? r->limited_client : 0;
	char lib[80], peer_s[64], sni[72];
	int n = 0;

	ctl_term_safe(r->legacy_peer[0] ? r->legacy_peer : "?", 46, peer_s, sizeof(peer_s));
	ctl_term_safe(r->legacy_sni, 64, sni, sizeof(sni));
	if (r->tls_lib[0])
		snprintf(lib, sizeof(lib), " (TLS library %.60s)", r->tls_lib);
	else
		lib[0] = '\0';
	if (!client && !server) {
		snprintf(buf, len, "role unknown: %lld limited by the client, %lld by the server",
			 (long long)r->limited_client, (long long)r->limited_server);
		return;
	}
	if (own)
		n = snprintf(buf, len, "MUST BE UPGRADED: %s nothing newer in %lld%s",
			     client ? "offered" : "accepts", (long long)own, lib);
	if (n < 0 || (size_t)n >= len)
		return;
	if (peer)
		snprintf(buf + n, len - (size_t)n, "%speer is the problem in %lld (%s, e.g. %s%s%s)",
			 own ? "; " : "could do better: ", (long long)peer,
			 client ? "offered TLS 1.2+, the server chose older"
				: "the client offered nothing newer",
			 peer_s, sni[0] ? " " : "", sni);
	else if (!own)
		snprintf(buf, len, "unknown (no ClientHello seen)");
}

static void print_legacy(const struct ctl_row *rows, size_t n)
{
	char name[40], why[512];
	size_t i, k = 0, refused = 0;

	for (i = 0; i < n; i++) {
		k += rows[i].legacy > 0;
		refused += rows[i].failures_legacy_offer > 0;
	}
	if (!k && refused) {
		printf("No process negotiated TLS below 1.2; the ones whose TLS < 1.2 offers are "
		       "refused already are listed above.\n");
		return;
	}
	if (!k) {
		printf("No process negotiated TLS below 1.2: switching TLS 1.0/1.1 off breaks "
		       "nothing seen so far.\n");
		return;
	}
	printf("What breaks if TLS < 1.2 is switched off: %zu process key%s negotiated "
	       "SSL/TLS below 1.2.\n\n",
	       k, k == 1 ? "" : "s");
	printf("%-32s %-6s %5s %6s %6s %6s %6s  %s\n", "PROCESS", "ROLE", "PORT", "LEGACY", "SSL",
	       "TLS1.0", "TLS1.1", "VERDICT");
	for (i = 0; i < n; i++) {
		const struct ctl_row *r = &rows[i];

		if (!r->legacy)
			continue;
		verdict(r, why, sizeof(why));
		printf("%-32s %-6s %5u %6lld %6lld %6lld %6lld  %s\n",
		       ctl_term_safe(ctl_row_name(r), 32, name, sizeof(name)), r->role, r->port,
		       (long long)r->legacy, (long long)(r->versions[0] + r->versions[1]),
		       (long long)r->versions[2], (long long)r->versions[3], why);
	}
}

/*
 * record_outcome - how a record ended, as the watch line says it: "established",
 * "protocol_version (server)", "alert (client)" (sealed), "reset (server)", "timeout",
 * or for a plaintext SMTP session "PLAINTEXT not_offered" (+ " FALLBACK").
 */
static void record_outcome(const struct ctl_json *j, char *buf, size_t len)
{
	const char *o = ctl_json_str(j, "outcome", ""), *by = ctl_json_str(j, "outcome_by", "");
	const char *why = ctl_json_str(j, "smtp_tls", "");

	if (!*o && *why && strcmp(why, "starttls")) {
		snprintf(buf, len, "PLAINTEXT %s%s", why,
			 ctl_json_bool(j, "plaintext_fallback", false) ? " FALLBACK" : "");
		return;
	}
	if (!strcmp(o, "alert") && *ctl_json_str(j, "alert", ""))
		o = ctl_json_str(j, "alert", "");
	snprintf(buf, len, "%s%s%s%s", *o ? o : "-", *by ? " (" : "", by, *by ? ")" : "");
}

static void print_handshakes(char **lines, size_t n)
{
	struct ctl_json *j;
	char proc[40], sni[40], peer[72], cipher[48], how[64];
	size_t i;

	if (!n) {
		printf("No handshakes in the window.\n");
		return;
	}
	j = malloc(sizeof(*j));
	if (!j)
		return;
	printf("%-24s %-6s %-28s %-7s %-26s %-24s %-7s %-8s %-28s %s\n", "TIME", "ROLE",
	       "PROCESS", "PID", "PEER", "SNI/MX", "VERSION", "LIMITED", "OUTCOME", "CIPHER");
	for (i = 0; i < n; i++) {
		bool server;
		char pport[80];
		const char *name;

		if (ctl_json_parse((const uint8_t *)lines[i], strlen(lines[i]), j))
			continue;
		server = !strcmp(ctl_json_str(j, "role", ""), "server");
		snprintf(pport, sizeof(pport), "%s:%lld",
			 ctl_json_str(j, server ? "client_ip" : "server_ip", "?"),
			 (long long)ctl_json_num(j, server ? "client_port" : "server_port", 0));
		ctl_term_safe(ctl_json_str(j, "exe", ctl_json_str(j, "comm", "?")), 28, proc,
			      sizeof(proc));
		ctl_term_safe(pport, 26, peer, sizeof(peer));
		/* SMTP has no SNI: the server's greeting names it. */
		name = ctl_json_str(j, "sni", "");
		if (!*name)
			name = ctl_json_str(j, "mx_host", "-");
		ctl_term_safe(name, 24, sni, sizeof(sni));
		ctl_term_safe(ctl_json_str(j, "cipher", "-"), 46, cipher, sizeof(cipher));
		record_outcome(j, how, sizeof(how));
		printf("%-24s %-6s %-28s %-7lld %-26s %-24s %-7s %-8s %-28s %s\n",
		       ctl_json_str(j, "time", "?"), ctl_json_str(j, "role", "-"), proc,
		       (long long)ctl_json_num(j, "pid", 0), peer, sni,
		       ctl_json_str(j, "version", "-"), ctl_json_str(j, "limited_by", "-"), how,
		       cipher);
	}
	free(j);
}

enum pol_verdict { PV_FAILS = 0, PV_PASSES, PV_NOT_SEEN };

static const char *const pv_names[] = { "FAILS", "passes", "not seen" };
static const char *const pv_json[] = { "fails", "passes", "not_seen" };

/*
 * pol_verdict - a row under the policy: FAILS when a handshake failed it in the window
 * (@since_s, 0 for all the daemon remembers), passes when handshakes were judged there
 * and none failed, else not seen.
 */
static enum pol_verdict pol_verdict(const struct ctl_row *r, int64_t since_s)
{
	const struct ctl_row_policy *p = &r->policy;

	if (p->failures && p->last_fail.time_s >= since_s)
		return PV_FAILS;
	if (p->passes && p->last_pass_s >= since_s)
		return PV_PASSES;
	return PV_NOT_SEEN;
}

static int64_t cur_since;

static int cmp_policy(const void *pa, const void *pb)
{
	const struct ctl_row *a = pa, *b = pb;
	enum pol_verdict va = pol_verdict(a, cur_since), vb = pol_verdict(b, cur_since);

	if (va != vb)
		return va < vb ? -1 : 1;
	if (va == PV_FAILS && a->policy.last_fail.time_s != b->policy.last_fail.time_s)
		return a->policy.last_fail.time_s > b->policy.last_fail.time_s ? -1 : 1;
	if (a->policy.handshakes != b->policy.handshakes)
		return a->policy.handshakes > b->policy.handshakes ? -1 : 1;
	return strcmp(ctl_row_name(a), ctl_row_name(b));
}

/* What the whole table says: how many keys fail, the last failure, since when it is safe. */
struct pol_summary {
	size_t n[3];
	int64_t last_fail_s, first_s; /* 0: none */
	char last_fail[40], first[40];
};

static void pol_summarise(const struct ctl_row *rows, size_t n, int64_t since_s,
			  struct pol_summary *s)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < n; i++) {
		const struct ctl_row_policy *p = &rows[i].policy;

		s->n[pol_verdict(&rows[i], since_s)]++;
		/* The same second: the text (RFC 3339 with milliseconds) still orders them. */
		if (p->failures && (p->last_fail.time_s > s->last_fail_s ||
				    (p->last_fail.time_s == s->last_fail_s &&
				     strcmp(p->last_fail.time, s->last_fail) > 0))) {
			s->last_fail_s = p->last_fail.time_s;
			util_strlcpy(s->last_fail, p->last_fail.time, sizeof(s->last_fail));
		}
		if (p->first_s && (!s->first_s || p->first_s < s->first_s)) {
			s->first_s = p->first_s;
			util_strlcpy(s->first, p->first, sizeof(s->first));
		}
	}
}

/*
 * safe_since - nothing failed the policy since this time: the latest failure, or the
 * first handshake judged when none ever failed; NULL while something fails in the window.
 */
static const char *safe_since(const struct pol_summary *s)
{
	if (s->n[PV_FAILS] || (!s->n[PV_PASSES] && !s->last_fail_s))
		return NULL;
	return s->last_fail_s ? s->last_fail : s->first;
}

/* reason_words - "version", "cert_key", ... as the report says them. */
static const char *reason_words(const char *r)
{
	static const struct {
		const char *name, *words;
	} map[] = {
		{ "version", "version" },	{ "cipher", "cipher suites" },
		{ "group", "key exchange groups" }, { "ems", "no extended master secret" },
		{ "sni", "no SNI" },		{ "cert_key", "certificate key" },
		{ "cert_sig", "certificate signature" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(map); i++)
		if (!strcmp(r, map[i].name))
			return map[i].words;
	return *r ? r : "?";
}

/*
 * pol_why - the latest failure in words: "version, by the client (this process: it
 * offers nothing the policy allows); also server_cipher 2; e.g. 192.0.2.1 example.com".
 */
static void pol_why(const struct ctl_row *r, char *buf, size_t len)
{
	const struct ctl_row_policy *p = &r->policy;
	const char *by = p->last_fail.by;
	bool self = *by && !strcmp(by, r->role), known = !strcmp(r->role, "client") ||
							  !strcmp(r->role, "server");
	char last[40], also[160] = "", peer[72], sni[72];
	size_t off = 0;
	int i, n;

	snprintf(last, sizeof(last), "%s_%s", by, p->last_fail.reason);
	for (i = 0; i < p->n_fails && off < sizeof(also); i++) {
		if (!strcmp(p->fails[i].kind, last))
			continue;
		n = snprintf(also + off, sizeof(also) - off, "%s%s %lld", off ? ", " : "",
			     p->fails[i].kind, (long long)p->fails[i].count);
		if (n > 0)
			off += (size_t)n;
	}
	ctl_term_safe(p->last_fail.peer[0] ? p->last_fail.peer : "?", 46, peer, sizeof(peer));
	ctl_term_safe(p->last_fail.sni, 64, sni, sizeof(sni));
	snprintf(buf, len, "%s, by the %s%s%s; %s%s%se.g. %s%s%s", reason_words(p->last_fail.reason),
		 *by ? by : "?", !known ? "" : self ? " (this process)" : " (the peer)",
		 !strcmp(by, "client") ? ": it offers nothing the policy allows"
				       : ": it chose what the policy forbids",
		 off ? "also " : "", also, off ? "; " : "", peer, sni[0] ? " " : "", sni);
}

static void print_policy(const char *name, struct ctl_row *rows, size_t n, int64_t since_s)
{
	char proc[40], why[640], pname[40];
	struct pol_summary s;
	const char *safe;
	size_t i;

	ctl_term_safe(name, 31, pname, sizeof(pname));
	pol_summarise(rows, n, since_s, &s);
	cur_since = since_s;
	if (n > 1)
		qsort(rows, n, sizeof(*rows), cmp_policy);
	printf("Policy %s: what breaks if peers enforced it: %zu of %zu process key%s would "
	       "fail%s.\n\n",
	       pname, s.n[PV_FAILS], n, n == 1 ? "" : "s", since_s ? " (in the window)" : "");
	if (n) {
		printf("%-32s %-6s %5s %-8s %10s %6s  %-24s  %s\n", "PROCESS", "ROLE", "PORT",
		       "VERDICT", "HANDSHAKES", "FAILED", "LAST FAILURE", "WHY (the latest)");
	}
	for (i = 0; i < n; i++) {
		const struct ctl_row *r = &rows[i];
		enum pol_verdict v = pol_verdict(r, since_s);

		printf("%-32s %-6s %5u %-8s %10lld %6lld",
		       ctl_term_safe(ctl_row_name(r), 32, proc, sizeof(proc)), r->role, r->port,
		       pv_names[v], (long long)r->policy.handshakes, (long long)r->policy.failures);
		if (r->policy.failures) {
			pol_why(r, why, sizeof(why));
			printf("  %-24s  %s", r->policy.last_fail.time, why);
		} else {
			printf("  -");
		}
		putchar('\n');
	}
	if (n)
		putchar('\n');
	safe = safe_since(&s);
	if (safe)
		printf("Safe to enforce %s since %s: no handshake failed it since then.\n", pname,
		       safe);
	else if (s.n[PV_FAILS])
		printf("Not safe to enforce %s: %zu process key%s would fail; the last failure was "
		       "%s.\n",
		       pname, s.n[PV_FAILS], s.n[PV_FAILS] == 1 ? "" : "s", s.last_fail);
	else
		printf("Nothing judged under %s%s yet: no handshake to go by.\n", pname,
		       since_s ? " in the window" : "");
}

/* One JSON line built member by member; a line that does not fit is not printed. */
struct jline {
	char buf[4096];
	size_t off;
	bool cut;
};

static void jl_raw(struct jline *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void jl_raw(struct jline *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->cut)
		return;
	va_start(ap, fmt);
	n = vsnprintf(j->buf + j->off, sizeof(j->buf) - j->off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(j->buf) - j->off)
		j->cut = true;
	else
		j->off += (size_t)n;
}

/* jl_key - "key": after a comma unless it is the object's first member. */
static void jl_key(struct jline *j, const char *key)
{
	jl_raw(j, "%s\"%s\":", j->off > 1 ? "," : "", key);
}

/* jl_str - "key":"value" (escaped), or null for NULL or "". */
static void jl_str(struct jline *j, const char *key, const char *s)
{
	jl_key(j, key);
	if (!s || !*s)
		jl_raw(j, "null");
	else if (!j->cut && util_json_string(j->buf, sizeof(j->buf), &j->off, s))
		j->cut = true;
}

static void jl_int(struct jline *j, const char *key, long long v)
{
	jl_key(j, key);
	jl_raw(j, "%lld", v);
}

static void jl_end(struct jline *j)
{
	jl_raw(j, "}");
	if (!j->cut)
		printf("%s\n", j->buf);
}

/*
 * print_policy_json - one object per process key (the table's columns), then one
 * summary object: counts by verdict, the last failure, safe_to_enforce_since.
 */
static void print_policy_json(const char *name, struct ctl_row *rows, size_t n, int64_t since_s)
{
	struct pol_summary s;
	struct jline *j;
	size_t i;
	int k;

	j = malloc(sizeof(*j));
	if (!j)
		return;
	pol_summarise(rows, n, since_s, &s);
	cur_since = since_s;
	if (n > 1)
		qsort(rows, n, sizeof(*rows), cmp_policy);
	for (i = 0; i < n; i++) {
		const struct ctl_row *r = &rows[i];
		const struct ctl_row_policy *p = &r->policy;
		bool failed = p->failures > 0;

		memset(j, 0, sizeof(*j));
		jl_raw(j, "{");
		jl_str(j, "exe", r->exe);
		jl_str(j, "comm", r->comm);
		jl_str(j, "unit", r->unit);
		jl_str(j, "container", r->container);
		jl_str(j, "role", r->role);
		jl_int(j, "port", r->port);
		jl_str(j, "policy", name);
		jl_str(j, "verdict", pv_json[pol_verdict(r, since_s)]);
		jl_int(j, "handshakes", p->handshakes);
		jl_int(j, "passes", p->passes);
		jl_int(j, "failures", p->failures);
		jl_key(j, "failures_by");
		jl_raw(j, "{");
		for (k = 0; k < p->n_fails; k++)
			jl_raw(j, "%s\"%s\":%lld", k ? "," : "", p->fails[k].kind,
			       (long long)p->fails[k].count);
		jl_raw(j, "}");
		jl_str(j, "last_pass", p->last_pass);
		jl_str(j, "last_failure", failed ? p->last_fail.time : NULL);
		jl_str(j, "by", failed ? p->last_fail.by : NULL);
		jl_str(j, "reason", failed ? p->last_fail.reason : NULL);
		jl_str(j, "peer", failed ? p->last_fail.peer : NULL);
		jl_str(j, "sni", failed ? p->last_fail.sni : NULL);
		jl_end(j);
	}
	memset(j, 0, sizeof(*j));
	jl_raw(j, "{");
	jl_str(j, "policy", name);
	jl_raw(j, ",\"summary\":true");
	jl_int(j, "process_keys", (long long)n);
	jl_int(j, "fails", (long long)s.n[PV_FAILS]);
	jl_int(j, "passes", (long long)s.n[PV_PASSES]);
	jl_int(j, "not_seen", (long long)s.n[PV_NOT_SEEN]);
	jl_str(j, "last_failure", s.last_fail_s ? s.last_fail : NULL);
	jl_str(j, "safe_to_enforce_since", safe_since(&s));
	jl_end(j);
	free(j);
}

/*
 * report_policy - the rows with their verdicts under @name (all keys: passes and not
 * seen count as much as failures) and the table or JSON of them.
 */
/* print_policy_line - the overview's line: how many keys fail, or since when it is safe. */
static void print_policy_line(const char *name, const struct ctl_row *rows, size_t n,
			      int64_t since_s)
{
	struct pol_summary s;
	const char *safe;
	char pname[40];

	ctl_term_safe(name, 31, pname, sizeof(pname));
	pol_summarise(rows, n, since_s, &s);
	safe = safe_since(&s);
	if (s.n[PV_FAILS])
		printf("  %-24s FAILS for %zu process key%s, the last at %s\n", pname, s.n[PV_FAILS],
		       s.n[PV_FAILS] == 1 ? "" : "s", s.last_fail);
	else if (safe)
		printf("  %-24s safe to enforce since %s\n", pname, safe);
	else
		printf("  %-24s nothing judged yet\n", pname);
}

enum pol_out { POL_TABLE, POL_JSON, POL_LINE };

static int report_policy(struct ctl_conn *c, const char *sock, const char *name,
			 enum pol_out how, uint64_t since_ns)
{
	struct ctl_reply rep = { 0 };
	struct ctl_row *rows = NULL;
	char req[256], err[512];
	int64_t since_s = 0;
	size_t i, n = 0;
	int ret = CLI_FAIL;

	/* Names are [a-z0-9._-]: safe inside the request as they are (the daemon checks). */
	snprintf(req, sizeof(req), "{\"cmd\":\"report\",\"policy\":\"%.40s\",\"since_s\":%llu}",
		 name, (unsigned long long)(since_ns / NSEC_PER_SEC));
	if (ctl_query(c, req, &rep, 30000, err, sizeof(err))) {
		fprintf(stderr, "tlsaudit: %s: %s\n", sock, err);
		return CLI_FAIL;
	}
	rows = calloc(rep.n_rows ? rep.n_rows : 1, sizeof(*rows));
	if (!rows) {
		fprintf(stderr, "tlsaudit: out of memory\n");
		goto cleanup;
	}
	for (i = 0; i < rep.n_rows; i++)
		if (!ctl_row_parse(rep.rows[i], &rows[n]))
			n++;
	if (since_ns)
		since_s = ctl_json_num(rep.header, "now_s", 0) - (int64_t)(since_ns / NSEC_PER_SEC);
	if (how == POL_JSON)
		print_policy_json(name, rows, n, since_s);
	else if (how == POL_LINE)
		print_policy_line(name, rows, n, since_s);
	else
		print_policy(name, rows, n, since_s);
	ret = CLI_OK;
cleanup:
	free(rows);
	ctl_reply_free(&rep);
	return ret;
}

/*
 * print_policies - "Policies": one line per policy the daemon judges, what
 * `report --policy NAME` would conclude. 0, or CLI_FAIL when a query failed.
 */
static int print_policies(struct ctl_conn *c, const char *sock, const struct ctl_json *h,
			  uint64_t since_ns)
{
	char list[600], *save = NULL, *tok;
	int ret = CLI_OK;

	util_strlcpy(list, ctl_json_str(h, "policies", "none"), sizeof(list));
	if (!strcmp(list, "none") || !*list)
		return CLI_OK;
	printf("\nPolicies: what breaks if peers enforced them (report --policy NAME for the "
	       "process keys):\n\n");
	for (tok = strtok_r(list, ",", &save); tok && ret == CLI_OK;
	     tok = strtok_r(NULL, ",", &save))
		ret = report_policy(c, sock, tok, POL_LINE, since_ns);
	return ret;
}

/*
 * report_policies - `--policy LIST`: the report of each policy in turn, tables apart by
 * a blank line; JSON lines name their policy. Stops at the first policy that fails.
 */
static int report_policies(struct ctl_conn *c, const char *sock, const char *list,
			   bool json, uint64_t since_ns)
{
	char names[600], *save = NULL, *tok;
	int ret = CLI_OK, k = 0;

	util_strlcpy(names, list, sizeof(names));
	for (tok = strtok_r(names, ",", &save); tok && ret == CLI_OK;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!json && k++)
			putchar('\n');
		ret = report_policy(c, sock, tok, json ? POL_JSON : POL_TABLE, since_ns);
	}
	return ret;
}

/* policy_judged - the daemon's header lists @name among the policies it judges. */
static bool policy_judged(const struct ctl_json *h, const char *name)
{
	char list[600], *save = NULL, *tok;

	util_strlcpy(list, ctl_json_str(h, "policies", ""), sizeof(list));
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!strcmp(tok, name))
			return true;
	return false;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "legacy", no_argument, NULL, 'l' },
		{ "handshakes", no_argument, NULL, 'H' },
		{ "since", required_argument, NULL, 's' },
		{ "policy", required_argument, NULL, 'P' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false, legacy = false, hs = false;
	const char *sock = NULL, *policy = NULL;
	struct ctl_row *rows = NULL;
	struct ctl_conn *c = NULL;
	struct ctl_reply rep = { 0 };
	uint64_t since_ns = 0;
	char req[256], err[512];
	size_t i, n = 0;
	int opt, ret = CLI_FAIL;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "S:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
			break;
		case 'l':
			legacy = true;
			break;
		case 'H':
			hs = true;
			break;
		case 's':
			if (util_parse_duration(optarg, &since_ns) || since_ns < NSEC_PER_SEC) {
				fprintf(stderr, "tlsaudit report: --since: '%s' is not a duration "
						"of at least 1s (e.g. 15m, 1h, 2d)\n", optarg);
				return CLI_USAGE;
			}
			break;
		case 'P':
			policy = optarg;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (policy && (legacy || hs)) {
		fprintf(stderr, "tlsaudit report: --policy: not with %s (the policy's report is a "
				"table of its own)\n", legacy ? "--legacy" : "--handshakes");
		return CLI_USAGE;
	}
	sock = cfg_client_socket(sock); /* named again in later errors */
	c = cli_connect("report", argc, argv, optind, sock, &ret);
	if (!c)
		return ret;
	if (policy) {
		ret = report_policies(c, sock, policy, json, since_ns);
		goto cleanup;
	}
	snprintf(req, sizeof(req),
		 "{\"cmd\":\"report\",\"legacy\":%s,\"handshakes\":%s,\"since_s\":%llu}",
		 legacy ? "true" : "false", hs ? "true" : "false",
		 (unsigned long long)(since_ns / NSEC_PER_SEC));
	if (ctl_query(c, req, &rep, 30000, err, sizeof(err))) {
		fprintf(stderr, "tlsaudit: %s: %s\n", sock, err);
		goto cleanup;
	}
	if (hs) {
		for (i = 0; json && i < rep.n_hs; i++)
			printf("%s\n", rep.hs[i]);
		if (!json)
			print_handshakes(rep.hs, rep.n_hs);
		ret = CLI_OK;
		goto cleanup;
	}
	if (json) {
		for (i = 0; i < rep.n_rows; i++)
			printf("%s\n", rep.rows[i]);
		ret = CLI_OK;
		goto cleanup;
	}
	rows = calloc(rep.n_rows ? rep.n_rows : 1, sizeof(*rows));
	if (!rows) {
		fprintf(stderr, "tlsaudit: out of memory\n");
		goto cleanup;
	}
	for (i = 0; i < rep.n_rows; i++)
		if (!ctl_row_parse(rep.rows[i], &rows[n]))
			n++;
	if (n > 1)
		qsort(rows, n, sizeof(*rows), cmp_rows);
	print_failing(rows, n, legacy,
		      since_ns ? ctl_json_num(rep.header, "now_s", 0) -
					 (int64_t)(since_ns / NSEC_PER_SEC)
			       : 0);
	putchar('\n');
	print_legacy(rows, n);
	/* What TLS < 1.2 switched off breaks, judged on whole offers: the tls12 policy. */
	if (legacy && policy_judged(rep.header, "tls12")) {
		putchar('\n');
		ret = report_policy(c, sock, "tls12", POL_TABLE, since_ns);
		goto cleanup;
	}
	if (legacy)
		printf("\nThe daemon does not judge the tls12 policy (policies = %s): add tls12 to "
		       "`policies` in tlsaudit.conf to see which whole offers would fail it.\n",
		       ctl_json_str(rep.header, "policies", "none"));
	if (!legacy) {
		putchar('\n');
		print_smtp(rows, n);
		putchar('\n');
		print_bad_certs(rows, n,
				since_ns ? ctl_json_num(rep.header, "now_s", 0) -
						   (int64_t)(since_ns / NSEC_PER_SEC)
					 : 0);
		putchar('\n');
		print_expiring(rows, n, ctl_json_num(rep.header, "now_s", 0));
		if (print_policies(c, sock, rep.header, since_ns))
			goto cleanup;
		printf("\nAll process keys:\n\n");
		print_rows(rows, n);
	}
	ret = CLI_OK;
cleanup:
	free(rows);
	ctl_reply_free(&rep);
	ctl_close(c);
	return ret;
}

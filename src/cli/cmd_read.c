// SPDX-License-Identifier: GPL-2.0-only
/*
 * tlsaudit read: the daemon's analysis on capture files. Several files are read in the
 * order given into one flow table, so a connection split across rotated capture files
 * is still one handshake. Output is a summary table, or JSON lines with --json.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "read_summary.h"
#include "tlsaudit/capture.h"
#include "tlsaudit/cli.h"
#include "tlsaudit/config.h"
#include "tlsaudit/export.h"
#include "tlsaudit/fallback.h"
#include "tlsaudit/flow.h"
#include "tlsaudit/policy.h"
#include "tlsaudit/util.h"

#define STDOUT_BUF_SIZE (1U << 20)
/*
 * --json lines are formatted straight into this buffer, not one by one into a line
 * and copied again by stdio; a line longer than JSON_LINE_MAX is not printed, counted.
 */
#define OUT_BUF_SIZE (1U << 20)
#define JSON_LINE_MAX 16384
/*
 * Certificates kept decoded: a busy capture holds more servers than the daemon's 256,
 * and a decode costs far more than the 10 KiB an entry takes once it is used (the
 * realistic mix of bench/read.sh: 367 certificates, 2,300 decodes with 256 entries).
 */
#define READ_CERT_CACHE 4096

/* One table drives both getopt_long() and --help. */
static const struct read_opt {
	struct option lo;
	const char *arg;
	const char *help;
} read_opts[] = {
	{ { "json", no_argument, NULL, 'j' }, NULL,
	  "one JSON handshake record per line instead of the summary" },
	{ { "fallback-window", required_argument, NULL, 'w' }, "DUR",
	  "a plaintext SMTP session this soon after a failed TLS\n"
	  "                     handshake of the same client and server is a fallback\n"
	  "                     (default: --config's fallback_window, else 1h;\n"
	  "                     's', 'm', 'h', 'd')" },
	{ { "ports", required_argument, NULL, 'p' }, "LIST",
	  "server ports to analyse, comma-separated (default 443,25,587;\n"
	  "                     25 and 587 are followed through SMTP STARTTLS)" },
	{ { "policy", required_argument, NULL, 'P' }, "LIST",
	  "judge every handshake against these policies (would_fail):\n"
	  "                     built-in profiles or policy.NAME.* of --config,\n"
	  "                     comma-separated, or none (default: the --config\n"
	  "                     file's policies, else tls12)" },
	{ { "config", required_argument, NULL, 'c' }, "FILE",
	  "take policies and policy.NAME.* definitions from FILE\n"
	  "                     (tlsaudit.conf(5))" },
	{ { "help", no_argument, NULL, 'h' }, NULL, "this help" },
};

static void usage(void)
{
	FILE *f = stdout;
	size_t i;

	fprintf(f, "Usage: tlsaudit read [OPTIONS] FILE...\n"
		   "\n"
		   "Reads pcap or pcapng capture files (gzip-compressed or not; '-' is stdin)\n"
		   "and reports every TLS handshake on the watched ports: the version the client\n"
		   "offered, the version and cipher the server chose, and who held the version\n"
		   "down. Files are read in the order given, as one capture.\n"
		   "\n"
		   "Options:\n");
	for (i = 0; i < ARRAY_SIZE(read_opts); i++) {
		char lhs[40];

		snprintf(lhs, sizeof(lhs), "-%c, --%s%s%s", read_opts[i].lo.val,
			 read_opts[i].lo.name, read_opts[i].arg ? " " : "",
			 read_opts[i].arg ? read_opts[i].arg : "");
		fprintf(f, "  %-18s %s\n", lhs, read_opts[i].help);
	}
	fprintf(f, "\n"
		   "Output:\n"
		   "  The summary has one row per server, SNI (SMTP: the greeting's host name)\n"
		   "  and client, with handshakes counted by negotiated version (OTHER: SSLv2,\n"
		   "  unanswered or unknown), LEGACY (below\n"
		   "  TLS 1.2), WEAK cipher, LIMITED_BY (client: it offered nothing newer; server:\n"
		   "  the client offered TLS 1.2+ and the server chose older), FAILED (refused by\n"
		   "  an alert, reset, closed or unanswered), PLAIN (SMTP sessions that never\n"
		   "  upgraded) and CERT (the problems of the server certificates seen in the\n"
		   "  clear; ACCEPTED: a client went on past an expired, not yet valid,\n"
		   "  self-signed or wrong-name one). Failing rows come first, then legacy ones;\n"
		   "  a totals line follows. --json prints one record per line (fields in\n"
		   "  tlsaudit(8)): every ClientHello, whatever followed it (outcome:\n"
		   "  established, alert, reset, closed, timeout), and every plaintext SMTP\n"
		   "  session (version null, smtp_tls says why, plaintext_fallback whether it\n"
		   "  followed a failed TLS attempt).\n"
		   "  would_fail names the --policy policies a handshake fails, by whom (client:\n"
		   "  nothing it offered meets the policy; server: its choice did not) and why;\n"
		   "  the summary ends with their counts per policy.\n"
		   "\n"
		   "Examples:\n"
		   "  tlsaudit read relay.pcap                  who still speaks TLS 1.0/1.1\n"
		   "  tlsaudit read --json a.pcapng b.pcap.gz   handshake records as JSON lines\n"
		   "  tcpdump -w - port 587 | tlsaudit read -    from a live tcpdump\n"
		   "  tlsaudit read --json day.pcap.gz | jq -r 'select(.legacy) | .sni'\n"
		   "  tlsaudit read --ports 443,8443,465 app.pcap\n"
		   "  tlsaudit read --json --policy tls12,mozilla-intermediate,fips-ems relay.pcap\n"
		   "\n"
		   "Exit status: 0 ok, 1 a file could not be read (what was read before is still\n"
		   "reported), 2 usage error.\n");
}

/* The summary's verdicts per active policy: handshakes judged, failures by who and why. */
struct policy_count {
	uint64_t judged;
	uint64_t failed[2][TLS_REASON_CERT_SIG + 1]; /* by client, by server; by reason */
};

struct read_ctx {
	bool json;
	const char *policy_list, *config; /* --policy, --config */
	struct tls_policy_set policies;
	struct policy_count pcount[TLS_POLICY_ACTIVE_MAX];
	struct agg_fallback *fallback;
	struct read_summary *sum;
	char *out; /* --json: OUT_BUF_SIZE bytes, out_len of them not yet written */
	size_t out_len;
	uint64_t json_errors;
};

static void count_verdicts(struct read_ctx *ctx, const struct hs_record *r)
{
	uint8_t i;

	if (!r->judged)
		return;
	for (i = 0; i < r->n_verdicts && i < TLS_POLICY_ACTIVE_MAX; i++) {
		const struct tls_verdict *v = &r->verdicts[i];

		ctx->pcount[i].judged++;
		if ((v->by == TLS_POLICY_BY_CLIENT || v->by == TLS_POLICY_BY_SERVER) &&
		    v->reason <= TLS_REASON_CERT_SIG)
			ctx->pcount[i].failed[v->by - 1][v->reason]++;
	}
}

/* appendf - printf at @off in @buf; a line that does not fit is cut, never overrun. */
static void appendf(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void appendf(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	*off = n < 0 ? len : *off + (size_t)n;
}

/*
 * print_policies - after the summary, one line per policy: how many handshakes would
 * fail if the peer enforced it, by whom and why ("tls12  3 of 17 handshakes: by client
 * 2 (version 2), by server 1 (version 1)").
 */
static void print_policies(const struct read_ctx *ctx)
{
	const struct tls_policy_set *ps = &ctx->policies;
	char line[512];
	uint64_t n, side;
	size_t off;
	bool first;
	uint8_t i;
	int by, r;

	if (!ps->n_active)
		return;
	printf("\nWould fail if the peer enforced (--policy; per handshake with --json):\n");
	for (i = 0; i < ps->n_active; i++) {
		const struct policy_count *c = &ctx->pcount[i];

		n = 0;
		off = 0;
		line[0] = '\0';
		for (by = 0; by < 2; by++) {
			for (side = 0, r = 0; r <= TLS_REASON_CERT_SIG; r++)
				side += c->failed[by][r];
			if (!side)
				continue;
			n += side;
			appendf(line, sizeof(line), &off, "%sby %s %llu (", off ? ", " : "",
				by ? "server" : "client", (unsigned long long)side);
			for (first = true, r = TLS_REASON_VERSION; r <= TLS_REASON_CERT_SIG; r++) {
				if (!c->failed[by][r])
					continue;
				appendf(line, sizeof(line), &off, "%s%s %llu", first ? "" : ", ",
					tls_policy_reason_name((enum tls_policy_reason)r),
					(unsigned long long)c->failed[by][r]);
				first = false;
			}
			appendf(line, sizeof(line), &off, ")");
		}
		if (n)
			printf("  %-24s %llu of %llu handshakes: %s\n", tls_policy_active(ps, i)->name,
			       (unsigned long long)n, (unsigned long long)c->judged, line);
		else
			printf("  %-24s none of %llu handshakes\n", tls_policy_active(ps, i)->name,
			       (unsigned long long)c->judged);
	}
}

static void out_flush(struct read_ctx *ctx)
{
	fwrite(ctx->out, 1, ctx->out_len, stdout);
	ctx->out_len = 0;
}

static void on_record(const struct hs_record *r, void *arg)
{
	struct read_ctx *ctx = arg;
	struct hs_record rec;
	int n;

	memcpy(&rec, r, sizeof(rec));
	/* Offline there is no process: a fallback is judged by the client's address. */
	agg_fallback__apply(ctx->fallback, &rec);
	tls_policy_judge_record(&ctx->policies, &rec);
	if (!ctx->json) {
		read_summary__add(ctx->sum, &rec);
		count_verdicts(ctx, &rec);
		return;
	}
	if (OUT_BUF_SIZE - ctx->out_len < JSON_LINE_MAX)
		out_flush(ctx);
	n = export_json_record(&rec, &ctx->policies, ctx->out + ctx->out_len, JSON_LINE_MAX - 1);
	if (n < 0) {
		ctx->json_errors++;
		return;
	}
	ctx->out[ctx->out_len + (size_t)n] = '\n';
	ctx->out_len += (size_t)n + 1;
}

static int parse_args(int argc, char **argv, struct read_ctx *ctx, struct flow_config *cfg,
		      uint64_t *window_ns)
{
	struct option longopts[ARRAY_SIZE(read_opts) + 1];
	char shortopts[2 * ARRAY_SIZE(read_opts) + 2];
	size_t i, o = 0;
	int c, n;

	shortopts[o++] = ':'; /* a missing argument is reported apart from an unknown option */
	for (i = 0; i < ARRAY_SIZE(read_opts); i++) {
		longopts[i] = read_opts[i].lo;
		shortopts[o++] = (char)read_opts[i].lo.val;
		if (read_opts[i].lo.has_arg == required_argument)
			shortopts[o++] = ':';
	}
	shortopts[o] = '\0';
	memset(&longopts[i], 0, sizeof(longopts[i]));

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			ctx->json = true;
			break;
		case 'w':
			if (util_parse_duration(optarg, window_ns) || *window_ns < NSEC_PER_SEC) {
				fprintf(stderr,
					"tlsaudit read: --fallback-window: '%s' is not a duration "
					"of 1s or more (e.g. 1h)\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'p':
			n = util_parse_ports(optarg, cfg->ports, (int)ARRAY_SIZE(cfg->ports));
			if (n < 0) {
				fprintf(stderr,
					"tlsaudit read: --ports: '%s' is not a list of ports 1-65535 "
					"(at most %zu, comma-separated)\n",
					optarg, ARRAY_SIZE(cfg->ports));
				return -EINVAL;
			}
			cfg->n_ports = n;
			break;
		case 'P':
			ctx->policy_list = optarg;
			break;
		case 'c':
			ctx->config = optarg;
			break;
		case 'h':
			usage();
			return 1;
		case ':':
			fprintf(stderr, "tlsaudit read: option '%s' needs an argument\n",
				argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "tlsaudit read: unknown option '%s'\n", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "tlsaudit read: no capture file given\n");
		return -EINVAL;
	}
	if (cli_policies("read", ctx->config, ctx->policy_list, &ctx->policies, window_ns))
		return -EINVAL;
	return 0;
}

int cmd_read(int argc, char **argv)
{
	struct cap_file_stats cs = { 0 };
	struct read_ctx *ctx = NULL;
	struct flow_table *ft = NULL;
	struct flow_config cfg;
	uint64_t window_ns = 0; /* --fallback-window, else --config's, else the default */
	char err[512];
	int ret = CLI_FAIL, i;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		fprintf(stderr, "tlsaudit: %s\n", strerror(errno));
		return CLI_FAIL;
	}
	flow_config_default(&cfg);
	switch (parse_args(argc, argv, ctx, &cfg, &window_ns)) {
	case 0:
		break;
	case 1:
		ret = CLI_OK;
		goto out;
	default:
		fprintf(stderr, "Usage: tlsaudit read [OPTIONS] FILE...\n"
				"Try 'tlsaudit read --help' for more information.\n");
		ret = CLI_USAGE;
		goto out;
	}

	if (ctx->json) {
		setvbuf(stdout, NULL, _IOFBF, STDOUT_BUF_SIZE);
		ctx->out = malloc(OUT_BUF_SIZE);
	} else {
		ctx->sum = read_summary__new();
	}
	/* The summary shows no fingerprints: work only for what is printed. */
	cfg.skip_fingerprints = !ctx->json;
	cfg.cert_cache = READ_CERT_CACHE;
	ctx->fallback = agg_fallback__new(window_ns);
	if ((ctx->sum || ctx->out) && ctx->fallback)
		ft = flow_table__new(&cfg, on_record, NULL, ctx);
	if (!ft) {
		fprintf(stderr, "tlsaudit: %s\n", strerror(errno));
		goto out;
	}

	ret = CLI_OK;
	for (i = optind; i < argc; i++) {
		if (cap_file_read(argv[i], ft, &cs, err, sizeof(err))) {
			/* stop here, but still report what the earlier packets showed */
			fprintf(stderr, "tlsaudit: %s\n", err);
			ret = CLI_FAIL;
			break;
		}
	}
	flow_table__flush(ft);
	if (ctx->out)
		out_flush(ctx);

	/* a file that could not be opened at all gets its error, not an empty table */
	if (ctx->sum && (ret == CLI_OK || cs.packets)) {
		if (read_summary__print(ctx->sum, stdout, flow_table__stats(ft), &cs))
			ret = CLI_FAIL;
		else
			print_policies(ctx);
	}
	if (ctx->json_errors)
		fprintf(stderr, "tlsaudit: %llu records too large to print\n",
			(unsigned long long)ctx->json_errors);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "tlsaudit: writing output: %s\n", strerror(errno));
		ret = CLI_FAIL;
	}
out:
	if (ft)
		flow_table__free(ft);
	read_summary__free(ctx->sum);
	agg_fallback__free(ctx->fallback);
	free(ctx->out);
	free(ctx);
	return ret;
}

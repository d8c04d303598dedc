// SPDX-License-Identifier: GPL-2.0-only
/* tlsaudit status: what the running daemon does and how it is doing. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tlsaudit/cli.h"
#include "tlsaudit/config.h"
#include "tlsaudit/ctl.h"
#include "tlsaudit/util.h"

static void usage(FILE *f)
{
	fprintf(f, "Usage: tlsaudit status [--json] [-S PATH]\n"
		   "\n"
		   "Backend and why it was chosen, uptime, counters (handshakes, failures by\n"
		   "outcome, SMTP sessions by STARTTLS outcome), drops, the state file and\n"
		   "textfile paths and the last export of the running daemon.\n"
		   "\n"
		   "Options:\n"
		   "  --json             the daemon's status object as one JSON line\n"
		   "  -S, --socket PATH  control socket (default $%s, else %s)\n"
		   "  -h, --help         this help\n"
		   "\n"
		   "Exit status: 0 ok, 1 no daemon or an error, 2 usage error.\n",
		CFG_SOCKET_ENV, CFG_DEFAULT_SOCKET);
}

static long long num(const struct ctl_json *j, const char *key)
{
	return (long long)ctl_json_num(j, key, 0);
}

static void print_status(const struct ctl_json *h)
{
	char up[32], when[40], age[16];
	int64_t last = ctl_json_num(h, "last_export_s", 0);
	const char *eerr = ctl_json_str(h, "last_export_error", "");

	ctl_fmt_uptime(ctl_json_num(h, "uptime_s", 0), up, sizeof(up));
	util_format_time((uint64_t)ctl_json_num(h, "start_time_s", 0) * NSEC_PER_SEC, when,
			 sizeof(when));
	printf("tlsaudit %s, pid %lld, up %s (since %s)\n", ctl_json_str(h, "version", "?"),
	       num(h, "pid"), up, when);
	printf("backend:         %s (%s)\n", ctl_json_str(h, "backend", "?"),
	       ctl_json_str(h, "backend_why", ""));
	printf("ports:           %s\n", ctl_json_str(h, "ports", "?"));
	printf("handshakes:      %lld (legacy %lld, weak cipher %lld)\n", num(h, "handshakes"),
	       num(h, "legacy"), num(h, "weak_cipher"));
	printf("failed:          %lld (alert %lld, reset %lld, closed %lld, timeout %lld)\n",
	       num(h, "failures"), num(h, "failures_by_outcome.alert"),
	       num(h, "failures_by_outcome.reset"), num(h, "failures_by_outcome.closed"),
	       num(h, "failures_by_outcome.timeout"));
	printf("SMTP sessions:   %lld STARTTLS; plaintext %lld (not offered %lld, not used %lld, "
	       "refused %lld), fallback %lld\n",
	       num(h, "smtp_tls.starttls"), num(h, "plaintext_sessions"),
	       num(h, "smtp_tls.not_offered"), num(h, "smtp_tls.not_used"),
	       num(h, "smtp_tls.refused"), num(h, "plaintext_fallback"));
	printf("process keys:    %lld (records folded into \"other\": %lld)\n", num(h, "keys"),
	       num(h, "folded"));
	printf("capture:         %lld events, %lld flows, %lld not TLS, %lld unattributed\n",
	       num(h, "events"), num(h, "flows"), num(h, "not_tls"), num(h, "unattributed"));
	printf("drops:           ring buffer %lld, flow evictions %lld, malformed %lld\n",
	       num(h, "ringbuf_drops"), num(h, "flow_evictions"), num(h, "malformed"));
	/* A daemon before this member did not count them: no line rather than zeros. */
	if (ctl_json_get(h, "certificates_unread.cut"))
		printf("certificates:    %lld server chains unread (cut short %lld, malformed "
		       "%lld)\n",
		       num(h, "certificates_unread.cut") + num(h, "certificates_unread.malformed"),
		       num(h, "certificates_unread.cut"), num(h, "certificates_unread.malformed"));
	printf("state file:      %s\n", ctl_json_str(h, "state_file", "?"));
	printf("textfile:        %s\n", ctl_json_str(h, "textfile", "?"));
	printf("handshake log:   %s\n", ctl_json_str(h, "handshake_log", "none"));
	if (last) {
		util_format_time((uint64_t)last * NSEC_PER_SEC, when, sizeof(when));
		ctl_fmt_age(ctl_json_num(h, "now_s", last) - last, age, sizeof(age));
		printf("last export:     %s (%s ago), every %llds\n", when, age,
		       num(h, "export_interval_s"));
	} else {
		printf("last export:     not yet, every %llds\n", num(h, "export_interval_s"));
	}
	if (*eerr)
		printf("export error:    %s\n", eerr);
	printf("control clients: %lld\n", num(h, "clients"));
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	struct ctl_reply rep;
	struct ctl_conn *c;
	bool json = false;
	char err[512];
	int opt, ret = CLI_FAIL;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "S:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = true;
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
	sock = cfg_client_socket(sock); /* named again in later errors */
	c = cli_connect("status", argc, argv, optind, sock, &ret);
	if (!c)
		return ret;
	if (ctl_query(c, "{\"cmd\":\"status\"}", &rep, 10000, err, sizeof(err))) {
		fprintf(stderr, "tlsaudit: %s: %s\n", sock, err);
		goto cleanup;
	}
	if (json)
		printf("%s\n", rep.header_line);
	else
		print_status(rep.header);
	ctl_reply_free(&rep);
	ret = CLI_OK;
cleanup:
	ctl_close(c);
	return ret;
}

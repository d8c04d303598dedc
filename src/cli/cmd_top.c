// SPDX-License-Identifier: GPL-2.0-only
/*
 * tlsaudit top: a live view of the running daemon, like top(1). Plain ANSI escapes and
 * termios, no curses: failing rows, then legacy rows first and in bold, the column header
 * in reverse video. Keys: q quit, s cycle the sort, l legacy rows only, f failing rows
 * only, p pause, P cycle the policy whose verdict a column shows. -b prints plain text.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "tlsaudit/cli.h"
#include "tlsaudit/config.h"
#include "tlsaudit/ctl.h"
#include "tlsaudit/util.h"

#define HEADER_LINES 6

enum sort_mode { SORT_HANDSHAKES = 0, SORT_RECENT, SORT_NAME, SORT_COUNT };

static const char *const sort_names[SORT_COUNT] = { "handshakes", "recent", "name" };

struct top {
	bool batch, json, interactive;
	bool legacy_only, failing_only, paused;
	enum sort_mode sort;
	char policy[32];      /* the POLICY column's policy; "" for no column */
	int width, height;
	uint64_t delay_ns;
	long iterations; /* -1: until quit */
	struct ctl_reply rep;
	bool have_rep;
	struct ctl_row *rows;
	size_t n_rows;
	int64_t prev_handshakes;
	uint64_t prev_mono_ns;
	double rate;
	bool have_rate;
};

static struct termios saved_tio;
static bool tio_saved;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tlsaudit top [-b] [-n N] [-d SECS] [--policy NAME] [--json] [-S PATH]\n"
		"\n"
		"Live view of the running daemon: one row per process key (exe or comm, unit,\n"
		"role, service port) with its TLS 1.0/1.1/1.2/1.3 counts, failed handshakes\n"
		"(FAIL: refused by an alert, reset, closed or timed out), weak ciphers, bad\n"
		"certificates it went on past (BADC: expired, self-signed, wrong name), who held\n"
		"the version down (C client, S server), the last peer or SNI and when it was last\n"
		"seen. Failing rows come first, then legacy rows, in bold.\n"
		"\n"
		"Options:\n"
		"  -b, --batch        plain text, one screen per interval (for logs and pipes)\n"
		"  -n, --iterations N stop after N screens\n"
		"  -d, --delay SECS   refresh interval (default 2; 500ms, 5s, 1m also work)\n"
		"  --policy NAME      a column with each row's verdict under policy NAME (one\n"
		"                     the daemon judges): FAIL and who (c client, s server) and\n"
		"                     why, pass, or - when not seen\n"
		"  --json             the daemon's reply as JSON lines, each interval\n"
		"  -S, --socket PATH  control socket (default $%s, else %s)\n"
		"  -h, --help         this help\n"
		"\n"
		"Keys: q quit, s cycle sort (handshakes, recent, name), l legacy only,\n"
		"f failing only, p pause, P next policy column (the daemon's policies, then none).\n"
		"\n"
		"Exit status: 0 ok, 1 no daemon or an error, 2 usage error.\n",
		CFG_SOCKET_ENV, CFG_DEFAULT_SOCKET);
}

static void restore_terminal(void)
{
	if (!tio_saved)
		return;
	/* Show the cursor, leave the alternate screen, restore the line discipline. */
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	tio_saved = false;
}

static int raw_terminal(void)
{
	struct termios tio;

	if (tcgetattr(STDIN_FILENO, &saved_tio))
		return -errno;
	tio = saved_tio;
	tio.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	tio.c_cc[VMIN] = 0;
	tio.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio))
		return -errno;
	tio_saved = true;
	atexit(restore_terminal);
	fputs("\033[?1049h\033[?25l", stdout);
	return 0;
}

static void window_size(struct top *t)
{
	struct winsize ws;

	t->width = 80;
	t->height = 24;
	if (t->interactive && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_col && ws.ws_row) {
		t->width = ws.ws_col;
		t->height = ws.ws_row;
	}
	if (t->width > 400)
		t->width = 400;
	if (t->width < 40)
		t->width = 40;
}

/* count - a counter in at most 4 columns: 9999, 12k, 3M. */
static const char *count(int64_t v, char *buf, size_t len)
{
	if (v < 10000)
		snprintf(buf, len, "%lld", (long long)v);
	else if (v < 10000000)
		snprintf(buf, len, "%lldk", (long long)(v / 1000));
	else
		snprintf(buf, len, "%lldM", (long long)(v / 1000000));
	return buf;
}

static int cmp_common(const struct ctl_row *a, const struct ctl_row *b, enum sort_mode m)
{
	/*
	 * Failing rows lead, then legacy rows: a program refused now is already broken, a
	 * legacy one breaks at the next cut-off. They are what the operator is looking for.
	 */
	if ((a->failures > 0) != (b->failures > 0))
		return a->failures > 0 ? -1 : 1;
	if ((a->legacy > 0) != (b->legacy > 0))
		return a->legacy > 0 ? -1 : 1;
	switch (m) {
	case SORT_RECENT:
		if (a->last_seen_s != b->last_seen_s)
			return a->last_seen_s > b->last_seen_s ? -1 : 1;
		break;
	case SORT_NAME:
		return strcmp(ctl_row_name(a), ctl_row_name(b));
	default:
		if (a->legacy != b->legacy)
			return a->legacy > b->legacy ? -1 : 1;
		if (a->handshakes != b->handshakes)
			return a->handshakes > b->handshakes ? -1 : 1;
		break;
	}
	return strcmp(ctl_row_name(a), ctl_row_name(b));
}

static enum sort_mode cur_sort;

static int cmp_rows(const void *pa, const void *pb)
{
	return cmp_common(pa, pb, cur_sort);
}

/* Reasons in 4 columns, for the POLICY cell. */
static const char *reason_short(const char *r)
{
	static const char *const map[][2] = {
		{ "version", "ver" }, { "cipher", "ciph" }, { "group", "grp" }, { "ems", "ems" },
		{ "sni", "sni" },     { "cert_key", "ckey" }, { "cert_sig", "csig" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(map); i++)
		if (!strcmp(r, map[i][0]))
			return map[i][1];
	return "?";
}

/*
 * policy_cell - "FAIL c ver", "FAIL s ckey" (11 at most), "pass" or "-": FAIL when any
 * handshake of the row failed the policy (who and why of the latest failure), as
 * `report --policy` says FAILS; pass when every one judged passed; "-" when none was.
 */
static void policy_cell(const struct ctl_row *r, char *buf, size_t len)
{
	const struct ctl_row_policy *p = &r->policy;

	if (!p->present || !p->handshakes)
		snprintf(buf, len, "-");
	else if (p->failures)
		snprintf(buf, len, "FAIL %c %s", p->last_fail.by[0] ? p->last_fail.by[0] : '?',
			 reason_short(p->last_fail.reason));
	else
		snprintf(buf, len, "pass");
}

/*
 * next_policy - the policy after the current one in the daemon's list (the header's
 * "policies"), then none; the P key.
 */
static void next_policy(struct top *t)
{
	char list[600], *save = NULL, *tok;
	bool take = !t->policy[0];

	util_strlcpy(list, t->have_rep ? ctl_json_str(t->rep.header, "policies", "") : "",
		     sizeof(list));
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (take && strcmp(tok, "none")) {
			util_strlcpy(t->policy, tok, sizeof(t->policy));
			return;
		}
		take = !strcmp(tok, t->policy);
	}
	t->policy[0] = '\0';
}

/* fit_name - the exe path, or its base name when the path does not fit. */
static void fit_name(const struct ctl_row *r, int w, char *out, size_t len)
{
	const char *name = ctl_row_name(r), *base = strrchr(name, '/');

	if ((int)strlen(name) > w && base && base[1])
		name = base + 1;
	ctl_term_safe(name, (size_t)w, out, len);
}

/* line_out - one screen line, cut to the width; interactive lines clear their tail. */
static void line_out(const struct top *t, const char *attr, const char *text)
{
	char buf[512];

	ctl_term_safe(text, (size_t)t->width, buf, sizeof(buf));
	if (t->interactive)
		printf("%s%s\033[m\033[K\r\n", attr ? attr : "", buf);
	else
		printf("%s\n", buf);
}

static void render(struct top *t)
{
	const struct ctl_json *h = t->rep.header;
	char line[1024], up[32], clock[16], n1[24], n2[24], n3[24], n4[24], n5[24], n6[24];
	char n7[24];
	char name[128], unit[128], peer[300], seen[16], pcol[16], pcell[16];
	int64_t hs = ctl_json_num(h, "handshakes", 0), legacy = ctl_json_num(h, "legacy", 0);
	int64_t now_s = ctl_json_num(h, "now_s", 0);
	int name_w, unit_w = 6, peer_w, extra, max_rows, shown = 0, pol_w = t->policy[0] ? 12 : 0;
	time_t now = time(NULL);
	struct tm tm;
	size_t i, hidden = 0;
	bool bold;

	localtime_r(&now, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	ctl_fmt_uptime(ctl_json_num(h, "uptime_s", 0), up, sizeof(up));
	if (t->interactive)
		fputs("\033[H", stdout);

	snprintf(line, sizeof(line), "tlsaudit top - %s up %s, backend %s, %lld keys%s", clock, up,
		 ctl_json_str(h, "backend", "?"), (long long)ctl_json_num(h, "keys", 0),
		 t->paused ? "  [PAUSED]" : "");
	line_out(t, NULL, line);
	snprintf(line, sizeof(line),
		 "Handshakes: %lld total, %.1f/s, legacy %.1f%% (%lld), weak %lld", (long long)hs,
		 t->rate, hs ? 100.0 * (double)legacy / (double)hs : 0.0, (long long)legacy,
		 (long long)ctl_json_num(h, "weak_cipher", 0));
	line_out(t, NULL, line);
	snprintf(line, sizeof(line),
		 "Failed: %lld (alert %lld, reset %lld, closed %lld, timeout %lld), "
		 "plaintext SMTP %lld (fallback %lld)",
		 (long long)ctl_json_num(h, "failures", 0),
		 (long long)ctl_json_num(h, "failures_by_outcome.alert", 0),
		 (long long)ctl_json_num(h, "failures_by_outcome.reset", 0),
		 (long long)ctl_json_num(h, "failures_by_outcome.closed", 0),
		 (long long)ctl_json_num(h, "failures_by_outcome.timeout", 0),
		 (long long)ctl_json_num(h, "plaintext_sessions", 0),
		 (long long)ctl_json_num(h, "plaintext_fallback", 0));
	line_out(t, NULL, line);
	snprintf(line, sizeof(line),
		 "Drops: ringbuf %lld, evicted flows %lld, malformed %lld   sort %s%s%s",
		 (long long)ctl_json_num(h, "ringbuf_drops", 0),
		 (long long)ctl_json_num(h, "flow_evictions", 0),
		 (long long)ctl_json_num(h, "malformed", 0), sort_names[t->sort],
		 t->legacy_only ? ", legacy only" : "", t->failing_only ? ", failing only" : "");
	line_out(t, NULL, line);
	snprintf(line, sizeof(line), "%s%s%s%s",
		 t->interactive ? "Keys: q quit  s sort  l legacy only  f failing only  p pause  "
				  "P policy" : "",
		 t->interactive && t->policy[0] ? "   " : "", t->policy[0] ? "policy " : "",
		 t->policy);
	line_out(t, NULL, line);

	/* Fixed columns take 72 characters at 80; wider terminals widen name and peer. */
	extra = t->width - 80;
	name_w = 10 + (extra > 0 ? extra / 3 : 0);
	if (name_w > 60)
		name_w = 60;
	if (extra > 0)
		unit_w += extra / 6 > 24 ? 24 : extra / 6;
	/* Below 92 columns the policy column's room comes out of the name and the unit. */
	if (pol_w && extra < pol_w) {
		name_w -= 7;
		unit_w -= 2;
	}
	peer_w = t->width - (name_w + 1 + unit_w + 1 + 3 + 1 + 5 + 1 + 20 + 5 + 5 + 5 + 4 + 5) -
		 1 - pol_w;
	if (peer_w < 4)
		peer_w = 4;
	/* The column is named after its policy, cut to fit: the line above names it whole. */
	ctl_term_safe(t->policy, 11, pcol, sizeof(pcol));
	snprintf(line, sizeof(line),
		 "%-*s %-*s %-3s %5s %4s %4s %4s %4s %4s %4s %4s %-3s %4s %-*s%-*s", name_w,
		 "PROCESS", unit_w, "UNIT", "ROL", "PORT", "1.0", "1.1", "1.2", "1.3", "FAIL",
		 "WEAK", "BADC", "LIM", "SEEN", pol_w, pcol, peer_w, "PEER/SNI");
	line_out(t, "\033[7m", line);

	max_rows = t->interactive ? t->height - HEADER_LINES : (int)t->n_rows;
	for (i = 0; i < t->n_rows; i++) {
		const struct ctl_row *r = &t->rows[i];
		const char *lim = r->limited_client && r->limited_server ? "C+S" :
				  r->limited_client ? "C" : r->limited_server ? "S" : "-";
		/* The server's name (SNI, else its SMTP greeting's), else the peer's address. */
		const char *pv = r->last_sni[0] ? r->last_sni : r->mx_host[0] ? r->mx_host :
				 r->last_peer[0] ? r->last_peer : "-";

		/* A refused offer of TLS < 1.2 is the legacy problem too, already broken. */
		if (t->legacy_only && !r->legacy && !r->failures_legacy_offer)
			continue;
		if (t->failing_only && !r->failures)
			continue;
		if (shown >= max_rows - (i + 1 < t->n_rows ? 1 : 0) && t->interactive) {
			hidden++;
			continue;
		}
		fit_name(r, name_w, name, sizeof(name));
		ctl_term_safe(r->unit[0] ? r->unit : "-", (size_t)unit_w, unit, sizeof(unit));
		ctl_term_safe(pv, (size_t)peer_w, peer, sizeof(peer));
		ctl_fmt_age(now_s - r->last_seen_s, seen, sizeof(seen));
		pcell[0] = '\0';
		if (pol_w)
			policy_cell(r, pcell, sizeof(pcell));
		snprintf(line, sizeof(line),
			 "%-*s %-*s %-3.3s %5u %4s %4s %4s %4s %4s %4s %4s %-3s %4s %-*s%s", name_w,
			 name, unit_w, unit, !strcmp(r->role, "client") ? "cli" :
			 !strcmp(r->role, "server") ? "srv" : "?",
			 r->port, count(r->versions[2], n1, sizeof(n1)),
			 count(r->versions[3], n2, sizeof(n2)), count(r->versions[4], n3, sizeof(n3)),
			 count(r->versions[5], n4, sizeof(n4)), count(r->failures, n6, sizeof(n6)),
			 count(r->weak_cipher, n5, sizeof(n5)),
			 count(r->cert_accepted, n7, sizeof(n7)), lim, seen, pol_w, pcell, peer);
		bold = r->legacy || r->weak_cipher || r->failures || r->cert_accepted;
		line_out(t, bold ? "\033[1m" : NULL, line);
		shown++;
	}
	if (hidden) {
		snprintf(line, sizeof(line), "... %zu more (widen the window or press l or f)",
			 hidden);
		line_out(t, NULL, line);
		shown++;
	}
	if (!t->n_rows) {
		line_out(t, NULL, "(no handshakes recorded yet)");
		shown++;
	}
	if (t->interactive) {
		fputs("\033[J", stdout); /* clear what an earlier, longer screen left */
	} else {
		putchar('\n');
	}
	fflush(stdout);
}

static void sort_rows(struct top *t)
{
	cur_sort = t->sort;
	if (t->n_rows > 1)
		qsort(t->rows, t->n_rows, sizeof(*t->rows), cmp_rows);
}

static int refresh(struct top *t, struct ctl_conn *c, char *err, size_t errlen)
{
	uint64_t now = util_mono_ns();
	char req[128];
	int64_t hs;
	size_t i;
	int ret;

	if (t->have_rep)
		ctl_reply_free(&t->rep);
	t->have_rep = false;
	/* Policy names are [a-z0-9._-]: the daemon refuses anything else. */
	if (t->policy[0])
		snprintf(req, sizeof(req), "{\"cmd\":\"top\",\"policy\":\"%s\"}", t->policy);
	else
		snprintf(req, sizeof(req), "{\"cmd\":\"top\"}");
	ret = ctl_query(c, req, &t->rep, 10000, err, errlen);
	if (ret)
		return ret;
	t->have_rep = true;
	if (t->json) {
		printf("%s\n", t->rep.header_line);
		for (i = 0; i < t->rep.n_rows; i++)
			printf("%s\n", t->rep.rows[i]);
		fflush(stdout);
		return 0;
	}
	free(t->rows);
	t->n_rows = 0;
	t->rows = calloc(t->rep.n_rows ? t->rep.n_rows : 1, sizeof(*t->rows));
	if (!t->rows)
		return -ENOMEM;
	for (i = 0; i < t->rep.n_rows; i++)
		if (!ctl_row_parse(t->rep.rows[i], &t->rows[t->n_rows]))
			t->n_rows++;
	hs = ctl_json_num(t->rep.header, "handshakes", 0);
	if (t->have_rate && now > t->prev_mono_ns) {
		t->rate = (double)(hs - t->prev_handshakes) * (double)NSEC_PER_SEC / (double)(now - t->prev_mono_ns);
	} else {
		int64_t up = ctl_json_num(t->rep.header, "uptime_s", 0);

		t->rate = up > 0 ? (double)hs / (double)up : 0.0;
	}
	if (t->rate < 0)
		t->rate = 0;
	t->prev_handshakes = hs;
	t->prev_mono_ns = now;
	t->have_rate = true;
	sort_rows(t);
	return 0;
}

/*
 * wait_keys - sleep until the next refresh, handling keys and resizes. Returns 1 to
 * quit, 0 to refresh.
 */
static int wait_keys(struct top *t, int sfd)
{
	uint64_t deadline = util_mono_ns() + t->delay_ns;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = t->interactive ? STDIN_FILENO : -1, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};
		uint64_t now = util_mono_ns();
		int timeout = now >= deadline ? 0 : (int)((deadline - now) / NSEC_PER_MSEC);
		struct signalfd_siginfo si;
		char ch;
		int n;

		if (t->paused)
			timeout = -1;
		else if (now >= deadline)
			return 0;
		n = poll(pfd, 2, timeout);
		if (n < 0 && errno != EINTR)
			return 1;
		if (n <= 0)
			continue;
		if (pfd[1].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo != SIGWINCH)
					return 1;
				window_size(t);
				if (t->have_rep)
					render(t);
			}
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		if (read(STDIN_FILENO, &ch, 1) != 1)
			return 1;
		switch (ch) {
		case 'q':
		case 'Q':
			return 1;
		case 's':
		case 'S':
			t->sort = (enum sort_mode)((t->sort + 1) % SORT_COUNT);
			sort_rows(t);
			break;
		case 'l':
		case 'L':
			t->legacy_only = !t->legacy_only;
			break;
		case 'f':
		case 'F':
			t->failing_only = !t->failing_only;
			break;
		case 'p':
			t->paused = !t->paused;
			break;
		case 'P':
			next_policy(t);
			if (!t->paused)
				return 0; /* the rows have no verdicts under it yet: ask */
			break;
		case ' ':
			if (!t->paused)
				return 0;
			break;
		default:
			continue;
		}
		if (t->have_rep)
			render(t);
	}
}

int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "batch", no_argument, NULL, 'b' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "delay", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "policy", required_argument, NULL, 'P' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct top t = { .iterations = -1, .delay_ns = 2000000000ULL };
	const char *sock = NULL;
	struct ctl_conn *c = NULL;
	char err[512];
	sigset_t mask;
	uint64_t v;
	int opt, sfd = -1, ret = CLI_FAIL;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "bn:d:S:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			t.batch = true;
			break;
		case 'n':
			if (util_parse_u64(optarg, 1, 1000000000, &v)) {
				fprintf(stderr, "tlsaudit top: -n: '%s' is not a count from 1\n",
					optarg);
				return CLI_USAGE;
			}
			t.iterations = (long)v;
			break;
		case 'd':
			if (util_parse_duration(optarg, &v) || v < 100000000ULL ||
			    v > 86400ULL * NSEC_PER_SEC) {
				fprintf(stderr, "tlsaudit top: -d: '%s' is not a delay from 100ms "
						"to 1d (e.g. 2, 5s, 500ms)\n", optarg);
				return CLI_USAGE;
			}
			t.delay_ns = v;
			break;
		case 'j':
			t.json = true;
			break;
		case 'P':
			if (strlen(optarg) >= sizeof(t.policy)) {
				fprintf(stderr, "tlsaudit top: --policy: '%.40s...' is not a policy "
						"name\n", optarg);
				return CLI_USAGE;
			}
			util_strlcpy(t.policy, optarg, sizeof(t.policy));
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
	/* Like top(1) without a terminal: plain screens, as with -b. */
	t.interactive = !t.batch && !t.json && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	sock = cfg_client_socket(sock); /* named again in later errors */
	c = cli_connect("top", argc, argv, optind, sock, &ret);
	if (!c)
		return ret;
	sigemptyset(&mask);
	sigaddset(&mask, SIGWINCH);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	window_size(&t);
	if (t.interactive && raw_terminal()) {
		fprintf(stderr, "tlsaudit top: cannot set up the terminal: %s\n", strerror(errno));
		goto cleanup;
	}
	for (;;) {
		if (!t.paused) {
			if (refresh(&t, c, err, sizeof(err))) {
				restore_terminal();
				fprintf(stderr, "tlsaudit: %s: %s\n", sock, err);
				goto cleanup;
			}
			if (!t.json)
				render(&t);
		}
		if (t.iterations > 0 && --t.iterations == 0)
			break;
		if (wait_keys(&t, sfd))
			break;
	}
	ret = CLI_OK;
cleanup:
	restore_terminal();
	if (t.have_rep)
		ctl_reply_free(&t.rep);
	free(t.rows);
	if (sfd >= 0)
		close(sfd);
	ctl_close(c);
	return ret;
}

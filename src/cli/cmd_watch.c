// SPDX-License-Identifier: GPL-2.0-only
/*
 * tlsaudit watch: stream live handshake records of this host, one line each, as they
 * complete; standalone (no daemon), until SIGINT or SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "tlsaudit/cli.h"
#include "tlsaudit/config.h"
#include "tlsaudit/daemon.h"
#include "tlsaudit/export.h"
#include "tlsaudit/log.h"
#include "tlsaudit/policy.h"
#include "tlsaudit/util.h"

struct watch_ctx {
	bool json;
	bool legacy_only;
	const char *policy_list, *config; /* --policy, --config */
	struct tls_policy_set policies;
	uint64_t window_ns; /* --fallback-window, else --config's, else the default */
	uint64_t printed;
	bool write_failed;
};

/* One table drives getopt_long and --help. */
static const struct watch_opt {
	struct option opt;
	const char *arg;
	const char *help;
} watch_opts[] = {
	{ { "json", no_argument, NULL, 'j' }, NULL,
	  "one JSON object per line (the handshake record fields)" },
	{ { "legacy", no_argument, NULL, 'l' }, NULL,
	  "only handshakes below TLS 1.2 or with a weak cipher suite" },
	{ { "backend", required_argument, NULL, 'b' }, "auto|bpf|pcap",
	  "capture backend (default auto: eBPF, else libpcap)" },
	{ { "ports", required_argument, NULL, 'p' }, "LIST",
	  "watched server ports (default 443,25,587; 25 and 587 get STARTTLS)" },
	{ { "interface", required_argument, NULL, 'i' }, "IFACE",
	  "libpcap backend: capture interface (default any)" },
	{ { "policy", required_argument, NULL, 'P' }, "LIST",
	  "judge each handshake against these policies (would_fail;\n"
	  "                               none, or default: --config's, else tls12)" },
	{ { "config", required_argument, NULL, 'c' }, "FILE",
	  "policy.NAME.* definitions, policies and fallback_window\n"
	  "                               from FILE" },
	{ { "fallback-window", required_argument, NULL, 'w' }, "DUR",
	  "a plaintext SMTP session this soon after a failed TLS\n"
	  "                               handshake of the same process and server is a\n"
	  "                               FALLBACK (default: --config's, else 1h)" },
	{ { "verbose", no_argument, NULL, 'v' }, NULL,
	  "more diagnostics on stderr (twice: debug, with libbpf's messages)" },
	{ { "help", no_argument, NULL, 'h' }, NULL, "this help" },
};

static void usage(FILE *f)
{
	char left[40];
	size_t i;

	fprintf(f, "Usage: tlsaudit watch [OPTIONS]\n"
		   "\n"
		   "Streams the TLS handshakes of this host as they complete, one line each,\n"
		   "naming the local process on each side. Needs root (eBPF: CAP_BPF,\n"
		   "CAP_PERFMON, CAP_NET_ADMIN; libpcap: CAP_NET_RAW). Stops on Ctrl-C.\n"
		   "\n"
		   "Options:\n");
	for (i = 0; i < ARRAY_SIZE(watch_opts); i++) {
		const struct watch_opt *o = &watch_opts[i];

		snprintf(left, sizeof(left), "-%c, --%s%s%s", o->opt.val, o->opt.name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-28s %s\n", left, o->help);
	}
	fprintf(f, "\n"
		   "Examples:\n"
		   "  tlsaudit watch                      every handshake, as text\n"
		   "  tlsaudit watch --legacy             only TLS 1.0/1.1 and weak suites\n"
		   "  tlsaudit watch --json | jq -c 'select(.version == \"TLSv1.0\")'\n"
		   "  tlsaudit watch --ports 443,8443     watch other TLS ports\n"
		   "  tlsaudit watch --backend pcap -i eth0   libpcap on one interface\n"
		   "  tlsaudit watch --json --policy tls12,fips-ems | jq -c 'select(.would_fail != {})'\n"
		   "\n"
		   "Exit status: 0 on SIGINT/SIGTERM, 1 when capture cannot start, "
		   "2 usage error.\n");
}

/*
 * The text line's tail: the policies the handshake would fail, " FAILS tls12 (client
 * version), fips-ems (server ems)"; nothing when it passes them all.
 */
static void text_verdicts(const struct watch_ctx *w, const struct hs_record *rec, char *buf,
			  size_t len)
{
	size_t off = 0;
	uint8_t i;
	int n;

	buf[0] = '\0';
	if (!rec->judged || rec->n_verdicts != w->policies.n_active)
		return;
	for (i = 0; i < rec->n_verdicts; i++) {
		const char *by = tls_policy_by_name((enum tls_policy_by)rec->verdicts[i].by);

		if (!by)
			continue;
		n = snprintf(buf + off, len - off, "%s%s (%s %s)", off ? ", " : " FAILS ",
			     tls_policy_active(&w->policies, i)->name, by,
			     tls_policy_reason_name((enum tls_policy_reason)rec->verdicts[i].reason));
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
	}
}

/* A client that offered nothing newer than TLS 1.1 and was refused: legacy, failing. */
static bool refused_legacy(const struct hs_record *r)
{
	return hs_failed(r) && r->offered_max && r->offered_max < TLS_V_12;
}

static void on_record(const struct hs_record *rec, void *ctx)
{
	struct watch_ctx *w = ctx;
	char line[8192], fails[1024];
	int n;

	if (w->legacy_only && !hs_legacy(rec) && !hs_weak_cipher(rec) && !refused_legacy(rec))
		return;
	n = w->json ? export_json_record(rec, &w->policies, line, sizeof(line))
		    : export_text_record(rec, line, sizeof(line));
	if (n < 0 || n >= (int)sizeof(line))
		return;
	if (!w->json) {
		text_verdicts(w, rec, fails, sizeof(fails));
		if (util_strlcpy(line + n, fails, sizeof(line) - (size_t)n) >=
		    sizeof(line) - (size_t)n)
			return;
		n += (int)strlen(fails);
	}
	/*
	 * The terminating NUL becomes the newline. Lines are flushed once per poll (see the
	 * event loop), not one write each: a pipe reader (jq, grep, a test) still sees every
	 * record within one poll interval, and a storm costs one system call per batch.
	 */
	line[n] = '\n';
	if (fwrite(line, 1, (size_t)n + 1, stdout) != (size_t)n + 1)
		w->write_failed = true;
	w->printed++;
}

static int parse_args(int argc, char **argv, struct cap_live_opts *opts, struct watch_ctx *w,
		      int *verbose)
{
	struct option longopts[ARRAY_SIZE(watch_opts) + 1];
	char shortopts[32];
	size_t i, s = 0;
	int c, n;

	for (i = 0; i < ARRAY_SIZE(watch_opts); i++) {
		longopts[i] = watch_opts[i].opt;
		shortopts[s++] = (char)watch_opts[i].opt.val;
		if (watch_opts[i].opt.has_arg == required_argument)
			shortopts[s++] = ':';
	}
	memset(&longopts[i], 0, sizeof(longopts[i]));
	shortopts[s] = '\0';

	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			w->json = true;
			break;
		case 'l':
			w->legacy_only = true;
			break;
		case 'b':
			if (!strcmp(optarg, "auto"))
				opts->backend = CAP_BACKEND_AUTO;
			else if (!strcmp(optarg, "bpf"))
				opts->backend = CAP_BACKEND_BPF;
			else if (!strcmp(optarg, "pcap"))
				opts->backend = CAP_BACKEND_PCAP;
			else {
				fprintf(stderr, "tlsaudit watch: --backend '%s': want auto, bpf "
						"or pcap\n", optarg);
				return -EINVAL;
			}
			break;
		case 'p':
			n = util_parse_ports(optarg, opts->flow.ports,
					     (int)ARRAY_SIZE(opts->flow.ports));
			if (n < 0) {
				fprintf(stderr, "tlsaudit watch: --ports '%s': want a comma-"
						"separated list of 1-65535 (at most %zu)\n",
					optarg, ARRAY_SIZE(opts->flow.ports));
				return -EINVAL;
			}
			opts->flow.n_ports = n;
			break;
		case 'i':
			opts->pcap_iface = optarg;
			break;
		case 'P':
			w->policy_list = optarg;
			break;
		case 'c':
			w->config = optarg;
			break;
		case 'w':
			if (util_parse_duration(optarg, &w->window_ns) ||
			    w->window_ns < NSEC_PER_SEC) {
				fprintf(stderr, "tlsaudit watch: --fallback-window: '%s' is not a "
						"duration of 1s or more (e.g. 1h)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'v':
			(*verbose)++;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tlsaudit watch: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (cli_policies("watch", w->config, w->policy_list, &w->policies, &w->window_ns))
		return -EINVAL;
	return 0;
}

static void log_summary(struct live_source *cl, const struct watch_ctx *w)
{
	struct live_stats st;

	live_source__stats(cl, &st);
	log_info("%llu records shown, %llu handshakes, %llu events, %llu dropped samples, "
		 "%llu unattributed, %llu server certificate chains unread (%llu cut short, "
		 "%llu malformed)",
		 (unsigned long long)w->printed, (unsigned long long)st.cap.flow.records,
		 (unsigned long long)st.cap.events, (unsigned long long)st.cap.ringbuf_drops,
		 (unsigned long long)st.unattributed,
		 (unsigned long long)(st.cap.flow.cert_truncated + st.cap.flow.cert_invalid),
		 (unsigned long long)st.cap.flow.cert_truncated,
		 (unsigned long long)st.cap.flow.cert_invalid);
}

int cmd_watch(int argc, char **argv)
{
	struct watch_ctx w = { 0 };
	struct cap_live_opts opts;
	struct epoll_event ev, evs[4];
	struct live_source *cl = NULL;
	uint64_t last_tick;
	char err[512] = "";
	int verbose = 0, ret = CLI_FAIL, rc, efd = -1, sfd = -1, n, i;
	bool running = true;
	sigset_t mask;

	memset(&opts, 0, sizeof(opts));
	opts.backend = CAP_BACKEND_AUTO;
	flow_config_default(&opts.flow);
	rc = parse_args(argc, argv, &opts, &w, &verbose);
	if (rc > 0)
		return CLI_OK;
	if (rc < 0) {
		usage(stderr);
		return CLI_USAGE;
	}
	log_set_level(verbose >= 2 ? LOG_LVL_DEBUG : verbose ? LOG_LVL_INFO : LOG_LVL_WARN);

	/* Signals arrive through the event loop, never in the middle of a record. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	efd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || efd < 0) {
		fprintf(stderr, "tlsaudit watch: %s\n", strerror(errno));
		goto cleanup;
	}

	cl = live_source__new(&opts, w.window_ns, on_record, &w, err, sizeof(err));
	if (!cl) {
		fprintf(stderr, "tlsaudit watch: %s\n", err);
		goto cleanup;
	}
	live_source__set_policies(cl, &w.policies);
	/* Whole batches of lines, flushed after each poll (no line waits longer). */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	/* Always said: a test or an operator knows capture is live from here on. */
	fprintf(stderr, "tlsaudit watch: capturing with %s (%s)\n", live_source__backend(cl),
		live_source__why(cl));

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.fd = sfd;
	if (epoll_ctl(efd, EPOLL_CTL_ADD, sfd, &ev))
		goto sys_fail;
	ev.data.fd = live_source__fd(cl);
	if (epoll_ctl(efd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		goto sys_fail;

	last_tick = util_mono_ns();
	while (running && !w.write_failed) {
		n = epoll_wait(efd, evs, (int)ARRAY_SIZE(evs), 1000);
		if (n < 0 && errno != EINTR)
			goto sys_fail;
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == sfd) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si))
					running = false;
			}
		}
		rc = live_source__process(cl);
		if (rc < 0) {
			fprintf(stderr, "tlsaudit watch: capture failed: %s\n", strerror(-rc));
			goto cleanup;
		}
		if (fflush(stdout))
			w.write_failed = true;
		if (util_mono_ns() - last_tick >= NSEC_PER_SEC) {
			last_tick = util_mono_ns();
			live_source__tick(cl, util_now_ns());
		}
	}
	/* A closed stdout (| head) is a normal way to stop. */
	log_summary(cl, &w);
	ret = CLI_OK;
	goto cleanup;

sys_fail:
	fprintf(stderr, "tlsaudit watch: %s\n", strerror(errno));
cleanup:
	live_source__free(cl);
	if (efd >= 0)
		close(efd);
	if (sfd >= 0)
		close(sfd);
	return ret;
}

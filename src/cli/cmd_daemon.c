// SPDX-License-Identifier: GPL-2.0-only
/*
 * tlsaudit daemon: one event loop (epoll) over the capture backend, the control socket,
 * a signalfd, the export timer and a one-second housekeeping tick.
 *
 * It never forks: run it under systemd as Type=simple, or Type=notify (READY=1 is sent
 * to $NOTIFY_SOCKET once the socket and capture are up). --foreground is accepted for
 * symmetry with other daemons and changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tlsaudit/agg.h"
#include "tlsaudit/capture_live.h"
#include "tlsaudit/cli.h"
#include "tlsaudit/config.h"
#include "tlsaudit/ctl.h"
#include "tlsaudit/export.h"
#include "tlsaudit/log.h"
#include "tlsaudit/prom.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"

#define MAX_OVERRIDES 64
#define RECORD_JSON_MAX 8192
#define ROW_JSON_MAX 8192

enum { TAG_SIGNAL = 1, TAG_CAPTURE, TAG_CTL, TAG_EXPORT, TAG_TICK };

struct daemon {
	struct cfg cfg;
	const char *config_path; /* NULL: none */
	const char *overrides[MAX_OVERRIDES]; /* "key=value", re-applied on SIGHUP */
	int n_overrides;
	struct agg *agg;
	struct ctl_server *ctl;
	struct cap_live *cap;
	int efd, sfd, export_fd, tick_fd;
	int log_fd;
	uint64_t start_ns, start_mono_ns;
	uint64_t last_export_ns;
	char last_export_err[512];
	char why[256];
	bool running;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tlsaudit daemon [-c FILE] [--backend auto|bpf|pcap] [--foreground] [-v]\n"
		"                       [--KEY=VALUE ...]\n"
		"\n"
		"The service: watches TLS handshakes of this host, counts them per process, keeps\n"
		"the counters in a state file, exports them for Prometheus and answers\n"
		"'tlsaudit top', 'report' and 'status' on its control socket.\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE     config file (default %s, if it exists)\n"
		"  --backend MODE        auto (bpf, else pcap), bpf or pcap\n"
		"  --foreground          accepted; the daemon never forks (systemd Type=simple/notify)\n"
		"  -v, --verbose         debug messages\n"
		"  -h, --help            this help\n"
		"\n"
		"Every config key can be given as --key=value, with dashes for underscores:\n"
		"  --ports=443,25,587  --socket=PATH  --state-file=PATH  --textfile=PATH|none\n"
		"  --export-interval=15s  --handshake-log=PATH|none\n"
		"The command line wins over the file. SIGHUP re-reads the file and reopens the\n"
		"handshake log; SIGTERM/SIGINT write the state file and exit 0.\n"
		"\n"
		"Example:\n"
		"  tlsaudit daemon --socket=/tmp/t.sock --state-file=/tmp/state --textfile=none\n"
		"\n"
		"Exit status: 0 stopped by a signal, 1 runtime error, 2 usage error.\n",
		CFG_DEFAULT_FILE);
}

/* load_config - defaults, the file, then the command line; 0 or -EINVAL with @err. */
static int load_config(struct daemon *d, struct cfg *out, char *err, size_t errlen)
{
	int i, ret;

	cfg_defaults(out);
	if (d->config_path) {
		ret = cfg_load_file(out, d->config_path, err, errlen);
		if (ret)
			return ret;
	}
	for (i = 0; i < d->n_overrides; i++) {
		ret = cfg_parse_option(out, d->overrides[i], err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static void notify_systemd(const char *msg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = getenv("NOTIFY_SOCKET");
	socklen_t salen;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return;
	util_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
		log_debug("sd_notify: %s", strerror(errno));
	close(fd);
}

/* printable - @s with bytes outside printable ASCII as '?', for log lines. */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = (s[i] > 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

static void log_legacy(const struct hs_record *r)
{
	const struct hs_endpoint *peer = r->role == HS_ROLE_SERVER ? &r->client : &r->server;
	const char *ver = tls_version_name(r->version);
	enum hs_limited lim = hs_limited_by(r);
	char ip[64], exe[128], sni[80], unit[80], lib[64];

	util_format_ip(peer->family, peer->addr, ip, sizeof(ip));
	printable(r->proc.exe[0] ? r->proc.exe : (r->proc.comm[0] ? r->proc.comm : "?"), exe,
		  sizeof(exe));
	printable(r->sni, sni, sizeof(sni));
	printable(r->proc.unit, unit, sizeof(unit));
	printable(r->proc.tls_lib, lib, sizeof(lib));
	log_warn("legacy %s handshake: %s %s[%u]%s%s %s %s port %u%s%s, limited by %s%s%s",
		 ver ? ver : "?", agg_role_name(r->role), exe, r->proc.pid, unit[0] ? " unit " : "",
		 unit, r->role == HS_ROLE_SERVER ? "from" : "to", ip, peer->port,
		 sni[0] ? " sni " : "", sni,
		 lim == HS_LIMITED_CLIENT ? "the client" :
		 lim == HS_LIMITED_SERVER ? "the server" : "unknown",
		 lib[0] ? ", library " : "", lib);
}

static void on_record(const struct hs_record *r, void *ctx)
{
	struct daemon *d = ctx;
	char *line;
	int n;

	if (agg__add(d->agg, r, util_now_ns()) & AGG_ADD_LOG)
		log_legacy(r);
	if (d->log_fd < 0)
		return;
	line = malloc(RECORD_JSON_MAX);
	if (!line)
		return;
	n = export_json_record(r, line, RECORD_JSON_MAX - 1);
	if (n > 0) {
		line[n++] = '\n';
		/* One write per line with O_APPEND: readers never see half a record. */
		if (write(d->log_fd, line, (size_t)n) != n)
			log_warn("handshake log %s: write failed: %s", d->cfg.handshake_log,
				 strerror(errno));
	}
	free(line);
}

static int open_handshake_log(struct daemon *d)
{
	int fd;

	if (d->log_fd >= 0) {
		close(d->log_fd);
		d->log_fd = -1;
	}
	if (!d->cfg.handshake_log[0])
		return 0;
	cfg_mkdir_parent(d->cfg.handshake_log, 0755);
	fd = open(d->cfg.handshake_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_err("handshake log %s: %s", d->cfg.handshake_log, strerror(errno));
		return -errno;
	}
	d->log_fd = fd;
	return 0;
}

static void cap_stats(const struct daemon *d, struct cap_live_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (d->cap)
		cap_live__stats(d->cap, st);
}

static void do_export(struct daemon *d)
{
	struct cap_live_stats st;
	struct prom_info info;
	char err[512] = "";
	int ret;

	ret = agg__save(d->agg, d->cfg.state_file, err, sizeof(err));
	if (!ret && d->cfg.textfile[0]) {
		cap_stats(d, &st);
		memset(&info, 0, sizeof(info));
		info.version = TLSAUDIT_VERSION;
		info.backend = d->cap ? cap_live__backend(d->cap) : "none";
		info.start_time_ns = d->start_ns;
		info.export_time_ns = util_now_ns();
		info.ringbuf_drops = st.ringbuf_drops;
		info.flow_evictions = st.flow.evicted_flows;
		info.malformed = st.flow.invalid_tls;
		ret = prom_write(d->agg, &info, d->cfg.textfile, err, sizeof(err));
	}
	if (ret) {
		/* Once per distinct failure: a full disk must not flood the journal. */
		if (strcmp(err, d->last_export_err))
			log_err("export failed: %s", err);
		util_strlcpy(d->last_export_err, err, sizeof(d->last_export_err));
		return;
	}
	if (d->last_export_err[0])
		log_info("export works again");
	d->last_export_err[0] = '\0';
	d->last_export_ns = util_now_ns();
}

static int arm_timer(int fd, uint64_t interval_ns)
{
	struct itimerspec its = {
		.it_interval = { (time_t)(interval_ns / 1000000000ULL),
				 (long)(interval_ns % 1000000000ULL) },
	};

	its.it_value = its.it_interval;
	return timerfd_settime(fd, 0, &its, NULL) ? -errno : 0;
}

static struct cap_live *open_capture(struct daemon *d, const struct cfg *c)
{
	struct cap_live_opts opts;

	memset(&opts, 0, sizeof(opts));
	opts.backend = c->backend;
	flow_config_default(&opts.flow);
	memcpy(opts.flow.ports, c->ports, sizeof(c->ports[0]) * (size_t)c->n_ports);
	opts.flow.n_ports = c->n_ports;
	opts.pcap_iface = "any";
	return cap_live__new(&opts, on_record, d, d->why, sizeof(d->why));
}

static int epoll_add(int efd, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static void reload(struct daemon *d)
{
	struct cfg nc;
	struct cap_live *ncap;
	char err[512];
	bool recapture;

	if (load_config(d, &nc, err, sizeof(err))) {
		log_err("reload: %s; keeping the running configuration", err);
		return;
	}
	recapture = nc.n_ports != d->cfg.n_ports || nc.backend != d->cfg.backend ||
		    memcmp(nc.ports, d->cfg.ports, sizeof(nc.ports[0]) * (size_t)nc.n_ports);
	if (recapture) {
		ncap = open_capture(d, &nc);
		if (!ncap) {
			log_err("reload: capture with the new ports/backend failed: %s; keeping "
				"the old one", d->why);
			nc.n_ports = d->cfg.n_ports;
			memcpy(nc.ports, d->cfg.ports, sizeof(nc.ports));
			nc.backend = d->cfg.backend;
		} else {
			epoll_ctl(d->efd, EPOLL_CTL_DEL, cap_live__fd(d->cap), NULL);
			cap_live__free(d->cap);
			d->cap = ncap;
			if (epoll_add(d->efd, cap_live__fd(d->cap), TAG_CAPTURE))
				log_err("reload: cannot watch the capture fd: %s", strerror(errno));
		}
	}
	if (strcmp(nc.socket, d->cfg.socket)) {
		log_warn("reload: socket path change needs a restart; still on %s", d->cfg.socket);
		util_strlcpy(nc.socket, d->cfg.socket, sizeof(nc.socket));
	}
	if (nc.export_interval_ns != d->cfg.export_interval_ns)
		arm_timer(d->export_fd, nc.export_interval_ns);
	d->cfg = nc;
	open_handshake_log(d);
	{
		char ports[160];

		cfg_ports_string(&d->cfg, ports, sizeof(ports));
		log_info("configuration reloaded: backend %s, ports %s, export every %llus",
			 cap_live__backend(d->cap), ports,
			 (unsigned long long)(d->cfg.export_interval_ns / 1000000000ULL));
	}
}

/* --- control requests --- */

static void put_status_fields(struct daemon *d, struct ctl_buf *out)
{
	const struct agg_totals *t = agg__totals(d->agg);
	struct cap_live_stats st;
	char ports[160], line[4096];
	size_t off = 0;
	uint64_t now = util_now_ns();

	cap_stats(d, &st);
	cfg_ports_string(&d->cfg, ports, sizeof(ports));
	ctl_buf_printf(out,
		       "\"version\":\"%s\",\"pid\":%d,\"start_time_s\":%llu,\"now_s\":%llu,"
		       "\"uptime_s\":%llu,\"ports\":\"%s\",\"export_interval_s\":%llu,"
		       "\"last_export_s\":%llu,",
		       TLSAUDIT_VERSION, (int)getpid(),
		       (unsigned long long)(d->start_ns / 1000000000ULL),
		       (unsigned long long)(now / 1000000000ULL),
		       (unsigned long long)((mono_ns() - d->start_mono_ns) / 1000000000ULL), ports,
		       (unsigned long long)(d->cfg.export_interval_ns / 1000000000ULL),
		       (unsigned long long)(d->last_export_ns / 1000000000ULL));
	line[0] = '\0';
#define PUT_STR(name, val)                                                                 \
	do {                                                                               \
		off = 0;                                                                   \
		if (!ctl_json_put_str(line, sizeof(line), &off, (val)))                    \
			ctl_buf_printf(out, "\"%s\":%s,", (name), line);                   \
	} while (0)
	PUT_STR("backend", d->cap ? cap_live__backend(d->cap) : "none");
	PUT_STR("backend_why", d->cap ? cap_live__why(d->cap) : d->why);
	PUT_STR("socket", d->cfg.socket);
	PUT_STR("state_file", d->cfg.state_file);
	PUT_STR("textfile", d->cfg.textfile[0] ? d->cfg.textfile : "none");
	PUT_STR("handshake_log", d->cfg.handshake_log[0] ? d->cfg.handshake_log : "none");
	PUT_STR("last_export_error", d->last_export_err);
#undef PUT_STR
	ctl_buf_printf(out,
		       "\"keys\":%zu,\"records\":%llu,\"handshakes\":%llu,\"legacy\":%llu,"
		       "\"weak_cipher\":%llu,\"plaintext_sessions\":%llu,\"folded\":%llu,"
		       "\"events\":%llu,\"ringbuf_drops\":%llu,\"flow_evictions\":%llu,"
		       "\"malformed\":%llu,\"unattributed\":%llu,\"flows\":%llu,"
		       "\"not_tls\":%llu,\"clients\":%zu",
		       agg__n_rows(d->agg), (unsigned long long)t->records,
		       (unsigned long long)t->handshakes, (unsigned long long)t->legacy,
		       (unsigned long long)t->weak_cipher, (unsigned long long)t->plaintext,
		       (unsigned long long)t->folded, (unsigned long long)st.events,
		       (unsigned long long)st.ringbuf_drops,
		       (unsigned long long)st.flow.evicted_flows,
		       (unsigned long long)st.flow.invalid_tls, (unsigned long long)st.unattributed,
		       (unsigned long long)st.flow.flows, (unsigned long long)st.flow.not_tls,
		       ctl_server__clients(d->ctl));
}

struct hs_collect {
	struct ctl_buf *buf;
	bool legacy_only;
	size_t n;
	char *line;
};

static void collect_record(const struct hs_record *r, void *ctx)
{
	struct hs_collect *hc = ctx;
	int n;

	if (hc->legacy_only && !hs_legacy(r))
		return;
	n = export_json_record(r, hc->line, RECORD_JSON_MAX - 1);
	if (n <= 0)
		return;
	hc->line[n++] = '\n';
	ctl_buf_append(hc->buf, hc->line, (size_t)n);
	hc->n++;
}

static void handle_request(const struct ctl_json *req, struct ctl_buf *out, void *ctx)
{
	struct daemon *d = ctx;
	const char *cmd = ctl_json_str(req, "cmd", "");
	bool legacy = ctl_json_bool(req, "legacy", false);
	bool want_hs = ctl_json_bool(req, "handshakes", false);
	int64_t since_s = ctl_json_num(req, "since_s", 0);
	struct ctl_buf body = { 0 };
	struct hs_collect hc = { .buf = &body, .legacy_only = legacy };
	uint64_t since_ns = 0, now = util_now_ns();
	size_t i, n_rows = 0;
	char *line = NULL;
	int n;

	if (!strcmp(cmd, "status")) {
		ctl_buf_printf(out, "{\"ok\":true,\"cmd\":\"status\",\"n_rows\":0,"
				    "\"n_handshakes\":0,");
		put_status_fields(d, out);
		ctl_buf_printf(out, "}\n");
		return;
	}
	if (strcmp(cmd, "report") && strcmp(cmd, "top")) {
		ctl_buf_printf(out, "{\"ok\":false,\"error\":\"unknown cmd (status, report, "
				    "top)\"}\n");
		return;
	}
	if (since_s < 0 || (uint64_t)since_s > now / 1000000000ULL) {
		ctl_buf_printf(out, "{\"ok\":false,\"error\":\"since_s out of range\"}\n");
		return;
	}
	if (since_s)
		since_ns = now - (uint64_t)since_s * 1000000000ULL;
	line = malloc(ROW_JSON_MAX > RECORD_JSON_MAX ? ROW_JSON_MAX : RECORD_JSON_MAX);
	if (!line) {
		out->oom = true;
		return;
	}
	for (i = 0; i < agg__n_rows(d->agg); i++) {
		const struct agg_row *row = agg__row(d->agg, i);

		if (legacy && !row->legacy)
			continue;
		if (row->last_seen_ns < since_ns)
			continue;
		n = agg_row_json(row, line, ROW_JSON_MAX - 1);
		if (n <= 0)
			continue;
		line[n++] = '\n';
		ctl_buf_append(&body, line, (size_t)n);
		n_rows++;
	}
	hc.line = line;
	if (want_hs && !strcmp(cmd, "report"))
		agg__ring_foreach(d->agg, since_ns, collect_record, &hc);
	if (body.oom) {
		out->oom = true;
		goto cleanup;
	}
	ctl_buf_printf(out, "{\"ok\":true,\"cmd\":\"%s\",\"n_rows\":%zu,\"n_handshakes\":%zu,",
		       cmd, n_rows, hc.n);
	put_status_fields(d, out);
	ctl_buf_printf(out, "}\n");
	if (body.len)
		ctl_buf_append(out, body.data, body.len);
cleanup:
	free(body.data);
	free(line);
}

/* --- setup and loop --- */

static int parse_args(struct daemon *d, int argc, char **argv)
{
	char err[512];
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return -1;
		}
		if (!strcmp(a, "--foreground"))
			continue;
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			log_set_level(LOG_LVL_DEBUG);
			continue;
		}
		if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "tlsaudit daemon: %s needs a FILE\n", a);
				return 2;
			}
			d->config_path = argv[++i];
			continue;
		}
		if (!strncmp(a, "--config=", 9)) {
			d->config_path = a + 9;
			continue;
		}
		if (strncmp(a, "--", 2) || !a[2]) {
			fprintf(stderr, "tlsaudit daemon: unexpected argument '%s' (see --help)\n",
				a);
			return 2;
		}
		if (d->n_overrides == MAX_OVERRIDES) {
			fprintf(stderr, "tlsaudit daemon: too many options\n");
			return 2;
		}
		if (!strchr(a, '=')) {
			/* "--backend pcap": the value is the next argument. */
			static char joined[MAX_OVERRIDES][512];
			struct cfg scratch;

			if (i + 1 >= argc) {
				fprintf(stderr, "tlsaudit daemon: %s: needs a value (%s=VALUE)\n",
					a, a);
				return 2;
			}
			snprintf(joined[d->n_overrides], sizeof(joined[0]), "%s=%s", a + 2,
				 argv[++i]);
			d->overrides[d->n_overrides] = joined[d->n_overrides];
			cfg_defaults(&scratch);
			if (cfg_parse_option(&scratch, joined[d->n_overrides], err, sizeof(err))) {
				fprintf(stderr, "tlsaudit daemon: %s\n", err);
				return 2;
			}
		} else {
			d->overrides[d->n_overrides] = a + 2;
		}
		d->n_overrides++;
	}
	return 0;
}

static int setup(struct daemon *d)
{
	char err[512], moved[CFG_PATH_MAX + 40], ports[160];
	sigset_t mask;
	int ret;

	d->agg = agg__new(AGG_MAX_KEYS_DEFAULT, AGG_RING_DEFAULT);
	if (!d->agg) {
		log_err("out of memory");
		return -ENOMEM;
	}
	ret = agg__load(d->agg, d->cfg.state_file, err, sizeof(err));
	if (ret == -EBADMSG) {
		if (agg_state_quarantine(d->cfg.state_file, util_now_ns(), moved, sizeof(moved)))
			log_warn("state file %s; could not move it aside (%s), starting fresh", err,
				 strerror(errno));
		else
			log_warn("state file %s; moved to %s, starting fresh", err, moved);
	} else if (ret && ret != -ENOENT) {
		log_err("state file %s", err);
		return ret;
	} else if (!ret) {
		log_info("state restored from %s: %zu keys, %llu handshakes", d->cfg.state_file,
			 agg__n_rows(d->agg),
			 (unsigned long long)agg__totals(d->agg)->handshakes);
	}

	d->ctl = ctl_server__new(d->cfg.socket, handle_request, d, err, sizeof(err));
	if (!d->ctl) {
		log_err("control socket: %s", err);
		return -EIO;
	}
	d->cap = open_capture(d, &d->cfg);
	if (!d->cap) {
		log_err("capture: %s", d->why);
		return -EIO;
	}
	if (open_handshake_log(d))
		return -EIO;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->export_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	d->efd = epoll_create1(EPOLL_CLOEXEC);
	if (d->sfd < 0 || d->export_fd < 0 || d->tick_fd < 0 || d->efd < 0 ||
	    arm_timer(d->export_fd, d->cfg.export_interval_ns) ||
	    arm_timer(d->tick_fd, 1000000000ULL) || epoll_add(d->efd, d->sfd, TAG_SIGNAL) ||
	    epoll_add(d->efd, d->export_fd, TAG_EXPORT) ||
	    epoll_add(d->efd, d->tick_fd, TAG_TICK) ||
	    epoll_add(d->efd, ctl_server__fd(d->ctl), TAG_CTL) ||
	    epoll_add(d->efd, cap_live__fd(d->cap), TAG_CAPTURE)) {
		log_err("event loop setup: %s", strerror(errno));
		return -EIO;
	}
	cfg_ports_string(&d->cfg, ports, sizeof(ports));
	log_info("tlsaudit %s started: backend %s (%s), ports %s, socket %s, state %s, "
		 "textfile %s, export every %llus, handshake log %s",
		 TLSAUDIT_VERSION, cap_live__backend(d->cap), cap_live__why(d->cap), ports,
		 d->cfg.socket, d->cfg.state_file, d->cfg.textfile[0] ? d->cfg.textfile : "none",
		 (unsigned long long)(d->cfg.export_interval_ns / 1000000000ULL),
		 d->cfg.handshake_log[0] ? d->cfg.handshake_log : "none");
	return 0;
}

static void drain_fd(int fd)
{
	uint8_t buf[128];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void handle_signals(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP: reloading %s", d->config_path ? d->config_path :
					  "the command line configuration");
			reload(d);
		} else {
			log_info("signal %u: writing state and exiting", si.ssi_signo);
			d->running = false;
		}
	}
}

static void loop(struct daemon *d)
{
	struct epoll_event evs[16];
	int n, i, ret;

	d->running = true;
	while (d->running) {
		n = epoll_wait(d->efd, evs, ARRAY_SIZE(evs), -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("epoll_wait: %s", strerror(errno));
			return;
		}
		for (i = 0; i < n; i++) {
			switch (evs[i].data.u64) {
			case TAG_SIGNAL:
				handle_signals(d);
				break;
			case TAG_CAPTURE:
				ret = cap_live__process(d->cap);
				if (ret && ret != -EAGAIN && ret != -EINTR)
					log_debug("capture: %s", strerror(-ret));
				break;
			case TAG_CTL:
				ctl_server__process(d->ctl);
				break;
			case TAG_EXPORT:
				drain_fd(d->export_fd);
				do_export(d);
				break;
			case TAG_TICK:
				drain_fd(d->tick_fd);
				cap_live__tick(d->cap, util_now_ns());
				ctl_server__tick(d->ctl, mono_ns());
				break;
			}
		}
	}
}

int cmd_daemon(int argc, char **argv)
{
	struct daemon d;
	char err[512];
	int ret = CLI_FAIL;

	memset(&d, 0, sizeof(d));
	d.efd = d.sfd = d.export_fd = d.tick_fd = d.log_fd = -1;
	d.start_ns = util_now_ns();
	d.start_mono_ns = mono_ns();
	ret = parse_args(&d, argc, argv);
	if (ret)
		return ret < 0 ? CLI_OK : CLI_USAGE;
	if (!d.config_path && access(CFG_DEFAULT_FILE, F_OK) == 0)
		d.config_path = CFG_DEFAULT_FILE;
	if (load_config(&d, &d.cfg, err, sizeof(err))) {
		fprintf(stderr, "tlsaudit daemon: %s\n", err);
		return CLI_USAGE;
	}
	ret = CLI_FAIL;
	if (setup(&d))
		goto cleanup;
	notify_systemd("READY=1");
	loop(&d);
	notify_systemd("STOPPING=1");
	do_export(&d);
	ret = d.last_export_err[0] ? CLI_FAIL : CLI_OK;
cleanup:
	if (d.efd >= 0)
		close(d.efd);
	if (d.sfd >= 0)
		close(d.sfd);
	if (d.export_fd >= 0)
		close(d.export_fd);
	if (d.tick_fd >= 0)
		close(d.tick_fd);
	if (d.log_fd >= 0)
		close(d.log_fd);
	cap_live__free(d.cap);
	ctl_server__free(d.ctl);
	agg__free(d.agg);
	return ret;
}

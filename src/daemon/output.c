// SPDX-License-Identifier: GPL-2.0-only
/*
 * Where the daemon's records go: the counters (with a warning line for each new legacy
 * process key), the optional handshake log, and on the export schedule the state file
 * and the Prometheus textfile. Also the status the control socket reports.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_int.h"
#include "tlsaudit/bpf_shared.h"
#include "tlsaudit/export.h"
#include "tlsaudit/log.h"
#include "tlsaudit/prom.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"

/* What the journal says of a record worth a warning: legacy, refused, or a fallback. */
static void log_record(const struct hs_record *r)
{
	const struct hs_endpoint *peer = r->role == HS_ROLE_SERVER ? &r->client : &r->server;
	const char *ver = tls_version_name(hs_failed(r) ? r->offered_max : r->version);
	const char *lim = hs_limited_name(hs_limited_by(r));
	char ip[64], exe[128], sni[80], unit[80], lib[64], what[160], why[64] = "";
	const char *alert = r->has_alert ? tls_alert_name(r->alert) : NULL;

	util_format_ip(peer->family, peer->addr, ip, sizeof(ip));
	export_text_escape(r->proc.exe[0] ? r->proc.exe : (r->proc.comm[0] ? r->proc.comm : "?"),
			   exe, sizeof(exe));
	export_text_escape(r->sni[0] ? r->sni : r->mx_host, sni, sizeof(sni));
	export_text_escape(r->proc.unit, unit, sizeof(unit));
	export_text_escape(r->proc.tls_lib, lib, sizeof(lib));
	if (r->kind == HS_KIND_PLAINTEXT_SMTP)
		snprintf(what, sizeof(what), "SMTP fell back to plaintext after a failed TLS "
					     "handshake");
	else if (hs_failed(r))
		snprintf(what, sizeof(what), "handshake failed: %s%s%s by the %s, %s offered",
			 hs_outcome_name(r->outcome), alert ? " " : "", alert ? alert : "",
			 hs_side_name(r->outcome_by) ? hs_side_name(r->outcome_by) : "network",
			 ver ? ver : "?");
	else
		snprintf(what, sizeof(what), "legacy %s handshake", ver ? ver : "?");
	if (hs_legacy(r))
		snprintf(why, sizeof(why), ", limited by %s",
			 lim ? (strcmp(lim, "client") ? "the server" : "the client") : "unknown");
	log_warn("%s: %s %s[%u]%s%s %s %s port %u%s%s%s%s%s", what, agg_role_name(r->role), exe,
		 r->proc.pid, unit[0] ? " unit " : "", unit,
		 r->role == HS_ROLE_SERVER ? "from" : "to", ip, peer->port,
		 !sni[0] ? "" : r->sni[0] ? " sni " : " mx ", sni, why, lib[0] ? ", library " : "",
		 lib);
}

int daemon_record_line(const struct hs_record *r, const struct tls_policy_set *ps, bool ecs,
		       char **line)
{
	size_t cap = DAEMON_RECORD_LINE_START;
	char *buf = NULL, *p;
	int n = -1, ret;

	/*
	 * The writers say only "too small" (-1): double until it fits. Every string of a
	 * record is bounded, so the cap is never reached by a record the writers make
	 * today; it stops a future writer's bug from taking the daemon's memory.
	 */
	for (; cap <= DAEMON_RECORD_LINE_CAP; cap *= 2) {
		p = realloc(buf, cap);
		if (!p) {
			ret = -ENOMEM;
			goto cleanup;
		}
		buf = p;
		n = ecs ? export_ecs_record(r, ps, buf, cap - 1) :
			  export_json_record(r, ps, buf, cap - 1);
		if (n > 0)
			break;
	}
	if (n <= 0) {
		ret = -EMSGSIZE;
		goto cleanup;
	}
	buf[n++] = '\n';
	*line = buf;
	buf = NULL;
	ret = n;
cleanup:
	free(buf);
	return ret;
}

/*
 * A record the log could not take is still counted in the aggregation; the log's
 * readers are told how many they miss, at the first and then at each doubling, so a
 * steady failure cannot flood the journal.
 */
static void note_unrendered(struct daemon *d, int err)
{
	d->log_unrendered++;
	if (d->log_unrendered & (d->log_unrendered - 1))
		return;
	log_warn("handshake log %s: a record could not be rendered (%s); %llu so far, the "
		 "counters still have them", d->cfg.handshake_log, strerror(-err),
		 (unsigned long long)d->log_unrendered);
}

void daemon_on_record(const struct hs_record *r, void *ctx)
{
	struct daemon *d = ctx;
	char *line = NULL;
	int n;

	if (agg__add(d->agg, r, util_now_ns()) & AGG_ADD_LOG)
		log_record(r);
	if (d->log_fd < 0)
		return;
	n = daemon_record_line(r, d->policies, d->cfg.handshake_log_format == CFG_LOG_ECS, &line);
	if (n < 0) {
		note_unrendered(d, n);
		return;
	}
	/* One write per line with O_APPEND: readers never see half a record. */
	if (write(d->log_fd, line, (size_t)n) != n) {
		/* A full disk fails every record: say so once, and when it heals. */
		if (!d->log_failing)
			log_warn("handshake log %s: write failed: %s; records go on being "
				 "counted", d->cfg.handshake_log, strerror(errno));
		d->log_failing = true;
	} else if (d->log_failing) {
		log_info("handshake log %s: writes work again", d->cfg.handshake_log);
		d->log_failing = false;
	}
	free(line);
}

/*
 * The handshake log is optional: a directory that is missing or read-only (the unit's
 * sandbox) costs the log, never the start or a reload. Said once per path and error.
 */
void daemon_open_handshake_log(struct daemon *d)
{
	char why[UTIL_PATH_MAX + 64];
	int fd, ret;

	if (d->log_fd >= 0) {
		close(d->log_fd);
		d->log_fd = -1;
	}
	d->log_failing = false;
	if (!d->cfg.handshake_log[0])
		return;
	ret = util_mkdir_parent(d->cfg.handshake_log, 0755);
	fd = open(d->cfg.handshake_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd >= 0) {
		d->log_fd = fd;
		d->log_open_err[0] = '\0';
		return;
	}
	snprintf(why, sizeof(why), "%s: %s", d->cfg.handshake_log,
		 strerror(ret && errno == ENOENT ? -ret : errno));
	if (strcmp(why, d->log_open_err))
		log_warn("handshake log %s; running without it (records are still counted)",
			 why);
	util_strlcpy(d->log_open_err, why, sizeof(d->log_open_err));
}

/* note_failure - log @err once while it stays the same; @last keeps what was logged. */
static void note_failure(enum log_level lvl, const char *what, const char *err, char *last,
			 size_t lastlen)
{
	if (strcmp(err, last))
		log_msg(lvl, "%s: %s", what, err);
	util_strlcpy(last, err, lastlen);
}

static void note_success(const char *what, char *last)
{
	if (last[0])
		log_info("%s works again", what);
	last[0] = '\0';
}

static void write_textfile(struct daemon *d)
{
	struct live_stats st;
	struct prom_info info;
	char err[512] = "";

	memset(&st, 0, sizeof(st));
	if (d->src)
		live_source__stats(d->src, &st);
	memset(&info, 0, sizeof(info));
	info.version = TLSAUDIT_VERSION;
	info.backend = d->src ? live_source__backend(d->src) : "none";
	info.start_time_ns = d->start_ns;
	info.export_time_ns = util_now_ns();
	info.ringbuf_drops = st.cap.ringbuf_drops;
	if (d->src && !strcmp(info.backend, "pcap")) {
		info.drops[PROM_DROP_PCAP_KERNEL] = st.cap.ringbuf_drops;
		info.drops[PROM_DROP_RINGBUF_OWNER] = st.cap.owner_lost;
	} else {
		info.drops[PROM_DROP_RINGBUF_DATA] = st.cap.ringbuf_drops_by_reason[TA_DROP_DATA];
		info.drops[PROM_DROP_RINGBUF_OWNER] = st.cap.ringbuf_drops_by_reason[TA_DROP_OWNER];
		info.drops[PROM_DROP_RINGBUF_CLOSE] = st.cap.ringbuf_drops_by_reason[TA_DROP_CLOSE];
		info.drops[PROM_DROP_SKB_LOAD] = st.cap.ringbuf_drops_by_reason[TA_DROP_LOAD];
	}
	info.drops[PROM_DROP_FLOW_TABLE] = st.cap.flow.evicted_flows;
	info.drops[PROM_DROP_BUDGET] = st.cap.flow.cap_reached;
	info.flow_evictions = st.cap.flow.evicted_flows;
	info.malformed = st.cap.flow.invalid_tls;
	info.certs_unread[PROM_CERT_CUT] = st.cap.flow.cert_truncated;
	info.certs_unread[PROM_CERT_MALFORMED] = st.cap.flow.cert_invalid;
	if (prom_write(d->agg, &info, d->cfg.textfile, err, sizeof(err)))
		note_failure(LOG_LVL_WARN, "textfile export failed (optional: the counters "
			     "are still kept)", err, d->textfile_err, sizeof(d->textfile_err));
	else
		note_success("textfile export", d->textfile_err);
}

/*
 * The state file is the one output that is not optional: it is what survives a
 * restart. The textfile is written whether or not the state write worked, and its
 * failure (no node_exporter, a read-only /var) is a warning that changes nothing else.
 */
int daemon_export(struct daemon *d)
{
	size_t fixed = prom_fixed_series(d->src ? live_source__backend(d->src) : "none");
	char err[512] = "";
	int ret;

	/*
	 * The bounds first, so the state file and the textfile hold the same rows: what
	 * row_ttl and max_series fold is gone from both, its counts kept in "other".
	 */
	agg__bound(d->agg, util_now_ns(), d->cfg.row_ttl_ns,
		   d->cfg.max_series > fixed ? d->cfg.max_series - fixed : 1);
	ret = agg__save(d->agg, d->cfg.state_file, err, sizeof(err));
	if (ret) {
		/* Once per distinct failure: a full disk must not flood the journal. */
		note_failure(LOG_LVL_ERR, "state write failed", err, d->state_err,
			     sizeof(d->state_err));
	} else {
		note_success("state write", d->state_err);
		d->last_export_ns = util_now_ns();
	}
	if (d->cfg.textfile[0])
		write_textfile(d);
	snprintf(d->last_export_err, sizeof(d->last_export_err), "%s%s%s", d->state_err,
		 d->state_err[0] && d->textfile_err[0] ? "; " : "", d->textfile_err);
	return ret;
}

void daemon_status(struct ctl_status *st, void *ctx)
{
	struct daemon *d = ctx;
	struct live_stats ls;

	memset(&ls, 0, sizeof(ls));
	if (d->src)
		live_source__stats(d->src, &ls);
	cfg_ports_string(&d->cfg, d->ports, sizeof(d->ports));
	st->ports = d->ports;
	st->backend = d->src ? live_source__backend(d->src) : "none";
	st->backend_why = d->src ? live_source__why(d->src) : d->why;
	st->socket = d->cfg.socket;
	st->state_file = d->cfg.state_file;
	st->textfile = d->cfg.textfile[0] ? d->cfg.textfile : "none";
	st->handshake_log = d->cfg.handshake_log[0] ? d->cfg.handshake_log : "none";
	st->last_export_error = d->last_export_err;
	st->start_ns = d->start_ns;
	st->uptime_ns = util_mono_ns() - d->start_mono_ns;
	st->export_interval_ns = d->cfg.export_interval_ns;
	st->last_export_ns = d->last_export_ns;
	st->events = ls.cap.events;
	st->ringbuf_drops = ls.cap.ringbuf_drops;
	st->flow_evictions = ls.cap.flow.evicted_flows;
	st->malformed = ls.cap.flow.invalid_tls;
	st->unattributed = ls.unattributed;
	st->flows = ls.cap.flow.flows;
	st->not_tls = ls.cap.flow.not_tls;
	st->cert_cut = ls.cap.flow.cert_truncated;
	st->cert_malformed = ls.cap.flow.cert_invalid;
	st->clients = d->ctl ? ctl_server__clients(d->ctl) : 0;
}

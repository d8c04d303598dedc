// SPDX-License-Identifier: GPL-2.0-only
/*
 * Where the daemon's records go: the counters (with a warning line for each new legacy
 * process key), the optional handshake log, and on the export schedule the state file
 * and the Prometheus textfile. Also the status the control socket reports.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_int.h"
#include "tlsaudit/export.h"
#include "tlsaudit/log.h"
#include "tlsaudit/prom.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"

#define RECORD_JSON_MAX 8192

static void log_legacy(const struct hs_record *r)
{
	const struct hs_endpoint *peer = r->role == HS_ROLE_SERVER ? &r->client : &r->server;
	const char *ver = tls_version_name(r->version);
	const char *lim = hs_limited_name(hs_limited_by(r));
	char ip[64], exe[128], sni[80], unit[80], lib[64];

	util_format_ip(peer->family, peer->addr, ip, sizeof(ip));
	export_text_escape(r->proc.exe[0] ? r->proc.exe : (r->proc.comm[0] ? r->proc.comm : "?"),
			   exe, sizeof(exe));
	export_text_escape(r->sni, sni, sizeof(sni));
	export_text_escape(r->proc.unit, unit, sizeof(unit));
	export_text_escape(r->proc.tls_lib, lib, sizeof(lib));
	log_warn("legacy %s handshake: %s %s[%u]%s%s %s %s port %u%s%s, limited by %s%s%s",
		 ver ? ver : "?", agg_role_name(r->role), exe, r->proc.pid, unit[0] ? " unit " : "",
		 unit, r->role == HS_ROLE_SERVER ? "from" : "to", ip, peer->port,
		 sni[0] ? " sni " : "", sni, lim ? lim : "unknown", lib[0] ? ", library " : "",
		 lib);
}

void daemon_on_record(const struct hs_record *r, void *ctx)
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

int daemon_open_handshake_log(struct daemon *d)
{
	int fd;

	if (d->log_fd >= 0) {
		close(d->log_fd);
		d->log_fd = -1;
	}
	if (!d->cfg.handshake_log[0])
		return 0;
	util_mkdir_parent(d->cfg.handshake_log, 0755);
	fd = open(d->cfg.handshake_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_err("handshake log %s: %s", d->cfg.handshake_log, strerror(errno));
		return -errno;
	}
	d->log_fd = fd;
	return 0;
}

void daemon_export(struct daemon *d)
{
	struct live_stats st;
	struct prom_info info;
	char err[512] = "";
	int ret;

	ret = agg__save(d->agg, d->cfg.state_file, err, sizeof(err));
	if (!ret && d->cfg.textfile[0]) {
		memset(&st, 0, sizeof(st));
		if (d->src)
			live_source__stats(d->src, &st);
		memset(&info, 0, sizeof(info));
		info.version = TLSAUDIT_VERSION;
		info.backend = d->src ? live_source__backend(d->src) : "none";
		info.start_time_ns = d->start_ns;
		info.export_time_ns = util_now_ns();
		info.ringbuf_drops = st.cap.ringbuf_drops;
		info.flow_evictions = st.cap.flow.evicted_flows;
		info.malformed = st.cap.flow.invalid_tls;
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
	st->clients = d->ctl ? ctl_server__clients(d->ctl) : 0;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's configuration: embedded defaults, then the file, then the command line
 * (which wins); SIGHUP reads them all again and applies what can change while running:
 * the export interval, the state and textfile paths, the handshake log. The socket,
 * ports and backend take effect on restart.
 */
#include <string.h>

#include "daemon_int.h"
#include "tlsaudit/log.h"
#include "tlsaudit/util.h"

int daemon_load_config(const struct daemon *d, struct cfg *out, char *err, size_t errlen)
{
	const struct daemon_args *a = d->args;
	int i, ret;

	cfg_defaults(out);
	if (a->config_path) {
		ret = cfg_load_file(out, a->config_path, err, errlen);
		if (ret)
			return ret;
	}
	for (i = 0; i < a->n_overrides; i++) {
		ret = cfg_parse_option(out, a->overrides[i], err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

struct live_source *daemon_open_capture(struct daemon *d, const struct cfg *c)
{
	struct cap_live_opts opts;

	memset(&opts, 0, sizeof(opts));
	opts.backend = c->backend;
	flow_config_default(&opts.flow);
	memcpy(opts.flow.ports, c->ports, sizeof(c->ports[0]) * (size_t)c->n_ports);
	opts.flow.n_ports = c->n_ports;
	opts.pcap_iface = "any";
	return live_source__new(&opts, c->fallback_window_ns, daemon_on_record, d, d->why,
				sizeof(d->why));
}

/*
 * Ports and backend are the capture's, opened with capabilities the daemon gave up once
 * it ran (privs.c): they keep their running values until a restart, and the log says so.
 */
static void keep_capture(struct daemon *d, struct cfg *nc)
{
	char want[160], have[160];

	if (nc->n_ports == d->cfg.n_ports && nc->backend == d->cfg.backend &&
	    !memcmp(nc->ports, d->cfg.ports, sizeof(nc->ports[0]) * (size_t)nc->n_ports))
		return;
	cfg_ports_string(nc, want, sizeof(want));
	cfg_ports_string(&d->cfg, have, sizeof(have));
	log_warn("reload: ports %s, backend %s: needs a restart (the capture was opened with "
		 "capabilities dropped since); still on ports %s, backend %s", want,
		 cfg_backend_name(nc->backend), have, live_source__backend(d->src));
	nc->n_ports = d->cfg.n_ports;
	memcpy(nc->ports, d->cfg.ports, sizeof(nc->ports));
	nc->backend = d->cfg.backend;
}

void daemon_reload(struct daemon *d, struct daemon_change *ch)
{
	char err[512], ports[160];
	struct cfg nc;

	memset(ch, 0, sizeof(*ch));
	if (daemon_load_config(d, &nc, err, sizeof(err))) {
		log_err("reload: %s; keeping the running configuration", err);
		return;
	}
	keep_capture(d, &nc);
	if (strcmp(nc.socket, d->cfg.socket)) {
		log_warn("reload: socket path change needs a restart; still on %s", d->cfg.socket);
		util_strlcpy(nc.socket, d->cfg.socket, sizeof(nc.socket));
	}
	ch->export_interval = nc.export_interval_ns != d->cfg.export_interval_ns;
	d->cfg = nc;
	daemon_open_handshake_log(d);
	cfg_ports_string(&d->cfg, ports, sizeof(ports));
	log_info("configuration reloaded: backend %s, ports %s, export every %llus",
		 live_source__backend(d->src), ports,
		 (unsigned long long)(d->cfg.export_interval_ns / NSEC_PER_SEC));
}

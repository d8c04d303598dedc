// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's configuration: embedded defaults, then the file, then the command line
 * (which wins); SIGHUP reads them all again and applies what can change while running:
 * the export interval, the state and textfile paths, the handshake log, the policies.
 * The socket, ports and backend take effect on restart.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon_int.h"
#include "tlsaudit/log.h"
#include "tlsaudit/util.h"

int daemon_load_config(const struct daemon *d, struct cfg *out, struct tls_policy_set *ps,
		       char *err, size_t errlen)
{
	const struct daemon_args *a = d->args;
	int i, ret = 0;

	cfg_defaults(out);
	tls_policy_set_init(ps);
	out->module_key = tls_policy_config_fn;
	out->module_ctx = ps;
	if (a->config_path) {
		ret = cfg_load_file(out, a->config_path, err, errlen);
		if (ret)
			goto cleanup;
	}
	for (i = 0; i < a->n_overrides; i++) {
		ret = cfg_parse_option(out, a->overrides[i], err, errlen);
		if (ret)
			goto cleanup;
	}
	/* Only now: `policies` may name a policy defined further down, or on the command line. */
	ret = tls_policy_set_finish(ps, err, errlen);
cleanup:
	out->module_key = NULL;
	out->module_ctx = NULL;
	return ret;
}

struct live_source *daemon_open_capture(struct daemon *d, const struct cfg *c)
{
	struct cap_live_opts opts;
	struct live_source *src;

	memset(&opts, 0, sizeof(opts));
	opts.backend = c->backend;
	flow_config_default(&opts.flow);
	memcpy(opts.flow.ports, c->ports, sizeof(c->ports[0]) * (size_t)c->n_ports);
	opts.flow.n_ports = c->n_ports;
	opts.pcap_iface = "any";
	src = live_source__new(&opts, c->fallback_window_ns, daemon_on_record, d, d->why,
			       sizeof(d->why));
	if (src)
		live_source__set_policies(src, d->policies);
	return src;
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

/*
 * The new policy set replaces the old one everywhere that holds it; the records kept
 * for `report --handshakes` are judged again, so their would_fail names stay right.
 */
static void swap_policies(struct daemon *d, struct tls_policy_set *ps)
{
	char was[TLS_POLICY_ACTIVE_MAX * TLS_POLICY_NAME_MAX], now[sizeof(was)];

	tls_policy_list_string(d->policies, was, sizeof(was));
	tls_policy_list_string(ps, now, sizeof(now));
	live_source__set_policies(d->src, ps);
	agg__set_policies(d->agg, ps);
	d->svc.policies = ps;
	free(d->policies);
	d->policies = ps;
	if (strcmp(was, now))
		log_info("reload: policies %s (were %s)", now, was);
}

void daemon_reload(struct daemon *d, struct daemon_change *ch)
{
	char err[512], ports[160];
	struct tls_policy_set *ps;
	struct cfg nc;

	memset(ch, 0, sizeof(*ch));
	ps = malloc(sizeof(*ps));
	if (!ps) {
		log_err("reload: out of memory; keeping the running configuration");
		return;
	}
	if (daemon_load_config(d, &nc, ps, err, sizeof(err))) {
		log_err("reload: %s; keeping the running configuration", err);
		free(ps);
		return;
	}
	swap_policies(d, ps);
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

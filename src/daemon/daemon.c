// SPDX-License-Identifier: GPL-2.0-only
/*
 * The daemon's start-up and shutdown, in order: configuration, counters (restored from
 * the state file), control socket, capture, privilege drop, handshake log, event loop;
 * on a signal, a final export. Each step lives in its own file; this one only orders
 * them. Everything that needs a capability comes before the drop; everything after it
 * (the handshake log included) is done the same way at start and on SIGHUP.
 *
 * It never forks: run it under systemd as Type=simple, or Type=notify (READY=1 is sent
 * to $NOTIFY_SOCKET once the socket and capture are up).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon_int.h"
#include "tlsaudit/log.h"
#include "tlsaudit/prom.h"
#include "tlsaudit/util.h"

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

/* The counters as the last run left them; a damaged state file is moved aside. */
static int restore_state(struct daemon *d)
{
	char err[512], moved[UTIL_PATH_MAX + 40];
	int ret;

	ret = agg__load(d->agg, d->cfg.state_file, err, sizeof(err));
	if (ret == -EBADMSG) {
		if (agg_state_quarantine(d->cfg.state_file, util_now_ns(), moved, sizeof(moved)))
			log_warn("state file %s; could not move it aside (%s), starting fresh", err,
				 strerror(errno));
		else
			log_warn("state file %s; moved to %s, starting fresh", err, moved);
		return 0;
	}
	if (ret && ret != -ENOENT) {
		log_err("state file %s", err);
		return ret;
	}
	if (!ret)
		log_info("state restored from %s: %zu keys, %llu handshakes", d->cfg.state_file,
			 agg__n_rows(d->agg),
			 (unsigned long long)agg__totals(d->agg)->handshakes);
	return 0;
}

/*
 * A textfile write interrupted by a crash leaves TEXTFILE.tmpXXXXXX next to it, in a
 * directory node_exporter reads: removed before the first write, as the state file's
 * are (agg__load). The directory is optional; failing here changes nothing.
 */
static void clean_textfile_temps(const struct daemon *d)
{
	unsigned int removed;

	if (!d->cfg.textfile[0])
		return;
	util_remove_stale_temps(d->cfg.textfile, &removed);
	if (removed)
		log_info("textfile %s: removed %u temporary file%s an interrupted write left",
			 d->cfg.textfile, removed, removed == 1 ? "" : "s");
}

static int start(struct daemon *d)
{
	char err[512], ports[160], pols[TLS_POLICY_ACTIVE_MAX * TLS_POLICY_NAME_MAX];

	d->agg = agg__new(AGG_MAX_KEYS_DEFAULT, AGG_RING_DEFAULT);
	if (!d->agg) {
		log_err("out of memory");
		return -ENOMEM;
	}
	agg__set_policies(d->agg, d->policies);
	/* Rows are weighed by the series they put in the textfile (max_series). */
	agg__set_series_fn(d->agg, prom_row_series, NULL);
	if (restore_state(d))
		return -EIO;
	clean_textfile_temps(d);
	d->svc.agg = d->agg;
	d->svc.policies = d->policies;
	d->svc.status = daemon_status;
	d->svc.ctx = d;
	d->ctl = ctl_server__new(d->cfg.socket, ctl_handle_request, &d->svc, err, sizeof(err));
	if (!d->ctl) {
		log_err("control socket: %s", err);
		return -EIO;
	}
	d->src = daemon_open_capture(d, &d->cfg);
	if (!d->src) {
		log_err("capture: %s", d->why);
		return -EIO;
	}
	if (daemon_drop_privs(d))
		return -EPERM;
	daemon_open_handshake_log(d);
	if (daemon_sched_setup(d))
		return -EIO;
	cfg_ports_string(&d->cfg, ports, sizeof(ports));
	tls_policy_list_string(d->policies, pols, sizeof(pols));
	log_info("tlsaudit %s started: backend %s (%s), ports %s, socket %s, state %s, "
		 "textfile %s, export every %llus, handshake log %s, policies %s",
		 TLSAUDIT_VERSION, live_source__backend(d->src), live_source__why(d->src), ports,
		 d->cfg.socket, d->cfg.state_file, d->cfg.textfile[0] ? d->cfg.textfile : "none",
		 (unsigned long long)(d->cfg.export_interval_ns / NSEC_PER_SEC),
		 d->cfg.handshake_log[0] ? d->cfg.handshake_log : "none", pols);
	return 0;
}

static void stop(struct daemon *d)
{
	int *fds[] = { &d->efd, &d->sfd, &d->export_fd, &d->tick_fd, &d->log_fd };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	live_source__free(d->src);
	ctl_server__free(d->ctl);
	agg__free(d->agg);
	free(d->policies);
}

int daemon_run(const struct daemon_args *args)
{
	struct daemon *d;
	char err[512];
	int ret = 1;

	/* Large (the configuration alone is several KiB): not on the stack. */
	d = calloc(1, sizeof(*d));
	if (!d) {
		log_err("out of memory");
		return 1;
	}
	d->args = args;
	d->efd = d->sfd = d->export_fd = d->tick_fd = d->log_fd = -1;
	d->start_ns = util_now_ns();
	d->start_mono_ns = util_mono_ns();
	d->policies = malloc(sizeof(*d->policies));
	if (!d->policies) {
		log_err("out of memory");
		goto cleanup;
	}
	if (daemon_load_config(d, &d->cfg, d->policies, err, sizeof(err))) {
		fprintf(stderr, "tlsaudit daemon: %s\n", err);
		ret = 2;
		goto cleanup;
	}
	if (start(d))
		goto cleanup;
	notify_systemd("READY=1");
	daemon_loop(d);
	notify_systemd("STOPPING=1");
	/*
	 * A signal means exit 0 (--help), whatever happened to the optional outputs. The
	 * state file is not optional: if the final write fails, the counters since the
	 * last one are lost, and exit 1 is how systemd shows that (the unit "failed").
	 */
	if (daemon_export(d)) {
		log_err("final state write failed: counters since the last write are lost");
		ret = 1;
	} else {
		ret = 0;
	}
cleanup:
	stop(d);
	free(d);
	return ret;
}

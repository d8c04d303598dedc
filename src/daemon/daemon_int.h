/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The daemon's state, shared by its files: daemon.c (start-up and shutdown order),
 * sched.c (the event loop: signals, timers, capture, control socket), reload.c (the
 * configuration and SIGHUP), output.c (counters, handshake log, export schedule).
 */
#ifndef TLSAUDIT_DAEMON_INT_H
#define TLSAUDIT_DAEMON_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "tlsaudit/agg.h"
#include "tlsaudit/config.h"
#include "tlsaudit/ctl.h"
#include "tlsaudit/daemon.h"

struct daemon {
	const struct daemon_args *args;
	struct cfg cfg;
	struct agg *agg;
	struct ctl_server *ctl;
	struct ctl_service svc;
	struct live_source *src;
	int efd, sfd, export_fd, tick_fd;
	int log_fd;
	uint64_t start_ns, start_mono_ns;
	uint64_t last_export_ns;
	char last_export_err[512];
	char why[256];	 /* why the capture could not start */
	char ports[160]; /* the port list as the status shows it */
	bool running;
};

/* What a reload changed that the event loop has to apply. */
struct daemon_change {
	struct live_source *src; /* a new capture to swap in, or NULL */
	bool export_interval;	 /* re-arm the export timer */
};

/* reload.c */
int daemon_load_config(const struct daemon *d, struct cfg *out, char *err, size_t errlen);
struct live_source *daemon_open_capture(struct daemon *d, const struct cfg *c);
void daemon_reload(struct daemon *d, struct daemon_change *ch);

/* output.c */
void daemon_on_record(const struct hs_record *r, void *ctx);
int daemon_open_handshake_log(struct daemon *d);
void daemon_export(struct daemon *d);
void daemon_status(struct ctl_status *st, void *ctx);

/* sched.c */
int daemon_sched_setup(struct daemon *d);
void daemon_loop(struct daemon *d);

#endif /* TLSAUDIT_DAEMON_INT_H */

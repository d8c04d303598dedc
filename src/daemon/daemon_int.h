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
#include "tlsaudit/policy.h"
#include "tlsaudit/util.h"

struct daemon {
	const struct daemon_args *args;
	struct cfg cfg;
	/* `policies` and `policy.*`: every record is judged against them (28 KiB: heap). */
	struct tls_policy_set *policies;
	struct agg *agg;
	struct ctl_server *ctl;
	struct ctl_service svc;
	struct live_source *src;
	int efd, sfd, export_fd, tick_fd;
	int log_fd;
	uint64_t start_ns, start_mono_ns;
	uint64_t last_export_ns;
	/* The last failure of each output, logged once until it changes or heals. */
	char state_err[512];
	char textfile_err[512];
	char log_open_err[UTIL_PATH_MAX + 64];
	char last_export_err[1040]; /* both, for `tlsaudit status` */
	bool log_failing;	    /* handshake log writes fail: said once */
	uint64_t log_unrendered;    /* records the handshake log could not render (logged) */
	char why[256];	 /* why the capture could not start */
	char ports[160]; /* the port list as the status shows it */
	bool running;
};

/* What a reload changed that the event loop has to apply. */
struct daemon_change {
	bool export_interval; /* re-arm the export timer */
};

/* reload.c */
/*
 * daemon_load_config - defaults, the file, the command line into @out, and the policies
 * they define into @ps. 0, or -errno with @err naming the file and line or the option.
 */
int daemon_load_config(const struct daemon *d, struct cfg *out, struct tls_policy_set *ps,
		       char *err, size_t errlen);
struct live_source *daemon_open_capture(struct daemon *d, const struct cfg *c);
void daemon_reload(struct daemon *d, struct daemon_change *ch);

/* output.c */
void daemon_on_record(const struct hs_record *r, void *ctx);
/*
 * daemon_record_line - @r as one line of the handshake log (flat JSON, or ECS with @ecs),
 * newline included, in a malloc'd *@line: its length, or -ENOMEM, or -EMSGSIZE past
 * DAEMON_RECORD_LINE_CAP. The buffer starts at DAEMON_RECORD_LINE_START, which holds
 * the largest record either writer makes (test_prom's test_record_line_worst_case), and
 * doubles when a writer says it is too small.
 */
#define DAEMON_RECORD_LINE_START 16384
#define DAEMON_RECORD_LINE_CAP (1024 * 1024)
int daemon_record_line(const struct hs_record *r, const struct tls_policy_set *ps, bool ecs,
		       char **line);
/* daemon_open_handshake_log - (re)open the optional log; a failure is logged, never fatal. */
void daemon_open_handshake_log(struct daemon *d);
/* daemon_export - state file, then the optional textfile; 0 or the state write's -errno. */
int daemon_export(struct daemon *d);
void daemon_status(struct ctl_status *st, void *ctx);

/* privs.c */
/*
 * daemon_drop_privs - keep only the capabilities attribution needs (one log line says
 * which and why), no_new_privs; 0 or -errno (the daemon then refuses to run).
 */
int daemon_drop_privs(struct daemon *d);

/* sched.c */
int daemon_sched_setup(struct daemon *d);
void daemon_loop(struct daemon *d);

#endif /* TLSAUDIT_DAEMON_INT_H */

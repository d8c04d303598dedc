/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The service layer: the live source (capture joined with attribution) that both the
 * daemon and `tlsaudit watch` read, and the daemon itself (event loop, timers, reload,
 * export schedule). The command line only parses options and calls in here.
 */
#ifndef TLSAUDIT_DAEMON_H
#define TLSAUDIT_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "tlsaudit/capture_live.h"
#include "tlsaudit/record.h"

/* --- live source: capture -> attribution -> policies -> @cb --- */

struct live_source;
struct tls_policy_set;

struct live_stats {
	struct cap_live_stats cap;
	uint64_t unattributed; /* records whose process could not be named */
};

/* Records arrive complete, with role and process fields filled where known. */
typedef void (*live_record_fn)(const struct hs_record *rec, void *ctx);

/*
 * live_source__new - open and attach the capture backend and the process attribution;
 * plaintext SMTP sessions within @fallback_window_ns of a failed TLS handshake are
 * fallbacks. NULL on failure with one line in @err saying why (see cap_live__new()).
 */
struct live_source *live_source__new(const struct cap_live_opts *opts,
				     uint64_t fallback_window_ns, live_record_fn cb, void *ctx,
				     char *err, size_t errlen);
void live_source__free(struct live_source *ls);
/*
 * live_source__set_policies - judge every record against @ps (would_fail) before it is
 * handed on; NULL: not judged. @ps is the caller's and must outlive its use here.
 */
void live_source__set_policies(struct live_source *ls, const struct tls_policy_set *ps);
/* live_source__fd - pollable fd; live_source__process - consume without blocking. */
int live_source__fd(const struct live_source *ls);
int live_source__process(struct live_source *ls);
/* live_source__tick - housekeeping, about once a second. */
void live_source__tick(struct live_source *ls, uint64_t now_ns);
const char *live_source__backend(const struct live_source *ls);
const char *live_source__why(const struct live_source *ls);
void live_source__stats(const struct live_source *ls, struct live_stats *st);

/* What a running live source still asks of the kernel, for the privilege drop. */
enum live_need {
	LIVE_NEED_PROC_FDS = 1 << 0, /* socket owners looked up in /proc/PID/fd */
	LIVE_NEED_BPF_MAPS = 1 << 1, /* bpf() calls on the maps it holds (done marks) */
};

/*
 * live_source__needs - enum live_need bits. Every source also reads /proc/PID (exe,
 * maps, cgroup) of the processes it names.
 */
unsigned int live_source__needs(const struct live_source *ls);

/* --- the daemon --- */

#define DAEMON_MAX_OVERRIDES 64

struct daemon_args {
	const char *config_path;			 /* NULL: none */
	const char *overrides[DAEMON_MAX_OVERRIDES]; /* "key=value", re-applied on SIGHUP */
	int n_overrides;
};

/*
 * daemon_run - run the service until SIGTERM/SIGINT. Returns the process exit status:
 * 0 stopped by a signal, 1 runtime error, 2 configuration error.
 */
int daemon_run(const struct daemon_args *args);

#endif /* TLSAUDIT_DAEMON_H */

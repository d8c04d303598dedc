// SPDX-License-Identifier: GPL-2.0-only
/*
 * The live source: wires live capture to process attribution. Capture hands on records
 * with their socket's identity and the owner events; attribution joins them; the
 * consumer (the daemon's counters, `watch`'s output) gets finished records, judged
 * against the policies (would_fail) once the process is known. Neither
 * capture nor attribution knows the other: this file is where they meet.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsaudit/attrib.h"
#include "tlsaudit/daemon.h"
#include "tlsaudit/fallback.h"
#include "tlsaudit/policy.h"

struct live_source {
	struct cap_live *cap;
	struct attrib_join *join;
	struct agg_fallback *fallback;
	const struct tls_policy_set *policies;
	live_record_fn cb;
	void *ctx;
};

static void on_record(struct hs_record *rec, const struct hs_owner *hint, void *ctx)
{
	struct live_source *ls = ctx;

	attrib_join__record(ls->join, rec, hint);
	/* After attribution: a fallback is judged per client process. */
	agg_fallback__apply(ls->fallback, rec);
	if (ls->policies)
		tls_policy_judge_record(ls->policies, rec);
	ls->cb(rec, ls->ctx);
}

static void on_owner(uint64_t cookie, const struct hs_owner *o, void *ctx)
{
	struct live_source *ls = ctx;

	attrib_join__owner(ls->join, cookie, o);
}

static void on_close(uint64_t cookie, void *ctx)
{
	struct live_source *ls = ctx;

	attrib_join__close(ls->join, cookie);
}

static void on_local_end(const struct hs_endpoint *client, const struct hs_endpoint *server,
			 enum hs_role local, void *ctx)
{
	struct live_source *ls = ctx;

	attrib_join__local_end(ls->join, client, server, local);
}

static void on_kernel_owner(const struct hs_endpoint *client, const struct hs_endpoint *server,
			    enum hs_role local, const struct hs_owner *o, void *ctx)
{
	struct live_source *ls = ctx;

	attrib_join__kernel_owner(ls->join, client, server, local, o);
}

struct live_source *live_source__new(const struct cap_live_opts *opts,
				     uint64_t fallback_window_ns, live_record_fn cb, void *ctx,
				     char *err, size_t errlen)
{
	struct cap_live_ops ops = {
		.record = on_record,
		.owner = on_owner,
		.close = on_close,
		.local_end = on_local_end,
		.kernel_owner = on_kernel_owner,
	};
	struct live_source *ls;

	ls = calloc(1, sizeof(*ls));
	if (!ls) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ls->cb = cb;
	ls->ctx = ctx;
	ops.ctx = ls;
	ls->fallback = agg_fallback__new(fallback_window_ns);
	ls->join = attrib_join__new("/proc");
	if (!ls->join || !ls->fallback) {
		snprintf(err, errlen, "process attribution: %s", strerror(errno));
		goto cleanup;
	}
	ls->cap = cap_live__new(opts, &ops, err, errlen);
	if (!ls->cap)
		goto cleanup;
	return ls;

cleanup:
	live_source__free(ls);
	return NULL;
}

void live_source__free(struct live_source *ls)
{
	if (!ls)
		return;
	/* Capture first: it may still hand on records while it shuts down. */
	cap_live__free(ls->cap);
	attrib_join__free(ls->join);
	agg_fallback__free(ls->fallback);
	free(ls);
}

void live_source__set_policies(struct live_source *ls, const struct tls_policy_set *ps)
{
	ls->policies = ps;
}

int live_source__fd(const struct live_source *ls)
{
	return cap_live__fd(ls->cap);
}

int live_source__process(struct live_source *ls)
{
	return cap_live__process(ls->cap);
}

void live_source__tick(struct live_source *ls, uint64_t now_ns)
{
	cap_live__tick(ls->cap, now_ns);
}

const char *live_source__backend(const struct live_source *ls)
{
	return cap_live__backend(ls->cap);
}

const char *live_source__why(const struct live_source *ls)
{
	return cap_live__why(ls->cap);
}

unsigned int live_source__needs(const struct live_source *ls)
{
	unsigned int needs = 0;

	if (!cap_live__kernel_owners(ls->cap))
		needs |= LIVE_NEED_PROC_FDS;
	if (!strcmp(cap_live__backend(ls->cap), "bpf"))
		needs |= LIVE_NEED_BPF_MAPS;
	return needs;
}

void live_source__stats(const struct live_source *ls, struct live_stats *st)
{
	memset(st, 0, sizeof(*st));
	cap_live__stats(ls->cap, &st->cap);
	st->unattributed = attrib_join__unattributed(ls->join);
}

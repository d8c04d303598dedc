/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Live capture: the eBPF backend (cgroup_skb + socket-owner tracepoints), or libpcap as
 * the fallback, feeding a flow table and attributing each record to its local process.
 * Used by `tlsaudit watch` and by the daemon; both only see completed records.
 */
#ifndef TLSAUDIT_CAPTURE_LIVE_H
#define TLSAUDIT_CAPTURE_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "tlsaudit/flow.h"
#include "tlsaudit/record.h"

enum cap_backend { CAP_BACKEND_AUTO = 0, CAP_BACKEND_BPF, CAP_BACKEND_PCAP };

struct cap_live_opts {
	enum cap_backend backend;
	struct flow_config flow; /* ports, per-direction cap, limits */
	const char *pcap_iface;  /* libpcap backend: interface, default "any" */
};

struct cap_live_stats {
	uint64_t events;	       /* ring-buffer samples (or packets) consumed */
	uint64_t ringbuf_drops;	       /* samples the kernel could not reserve */
	uint64_t ringbuf_drops_by_reason[4];
	uint64_t owner_events;	       /* socket-owner updates */
	uint64_t unattributed;	       /* records whose process could not be named */
	struct flow_stats flow;
};

struct cap_live;

/* Records arrive complete, with role and process fields filled where known. */
typedef void (*cap_record_fn)(const struct hs_record *rec, void *ctx);

/*
 * cap_live__new - open and attach the backend. On failure NULL, and @err holds one line
 * saying why (not root / no CAP_BPF, no BTF, no cgroup v2, kernel too old, ...).
 * With CAP_BACKEND_AUTO a BPF failure falls back to libpcap; cap_live__why() says so.
 */
struct cap_live *cap_live__new(const struct cap_live_opts *opts, cap_record_fn cb, void *ctx,
			       char *err, size_t errlen);
void cap_live__free(struct cap_live *cl);

/* cap_live__fd - a pollable fd (epoll-ready) that becomes readable when events wait. */
int cap_live__fd(const struct cap_live *cl);

/* cap_live__process - consume what is pending without blocking; 0 or -errno. */
int cap_live__process(struct cap_live *cl);

/* cap_live__tick - housekeeping (flow timeouts, stats); call about once a second. */
void cap_live__tick(struct cap_live *cl, uint64_t now_ns);

/* cap_live__backend - "bpf" or "pcap"; cap_live__why - why that one was chosen. */
const char *cap_live__backend(const struct cap_live *cl);
const char *cap_live__why(const struct cap_live *cl);

/* cap_live__stats - counters so far. */
void cap_live__stats(const struct cap_live *cl, struct cap_live_stats *st);

#endif /* TLSAUDIT_CAPTURE_LIVE_H */

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Live capture: the eBPF backend (cgroup_skb + socket-owner tracepoints), or libpcap as
 * the fallback, feeding a flow table. It hands on completed records with their socket's
 * identity and role, and the events attribution needs to name the process
 * (src/attrib/join.c); the daemon layer (src/daemon/source.c) wires the two.
 */
#ifndef TLSAUDIT_CAPTURE_LIVE_H
#define TLSAUDIT_CAPTURE_LIVE_H

#include <stdbool.h>
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
	uint64_t owner_lost;	       /* libpcap: owner events the perf rings lost or garbled */
	struct flow_stats flow;
};

struct cap_live;

/* What live capture hands on. Each pointer but @record may be NULL. */
struct cap_live_ops {
	/*
	 * A completed record, role set (local end of the socket); @hint is the owner the
	 * kernel's map held when no owner event had named it, else NULL. The callee may
	 * fill @rec->proc; @rec is only valid during the call.
	 */
	void (*record)(struct hs_record *rec, const struct hs_owner *hint, void *ctx);
	/* eBPF: the owner tracepoints saw @o use socket @cookie. */
	void (*owner)(uint64_t cookie, const struct hs_owner *o, void *ctx);
	/* eBPF: socket @cookie closed (after its last record). */
	void (*close)(uint64_t cookie, void *ctx);
	/* libpcap: payload left the @local end of @client -> @server. */
	void (*local_end)(const struct hs_endpoint *client, const struct hs_endpoint *server,
			  enum hs_role local, void *ctx);
	/*
	 * libpcap: the kernel saw @o own the @local end of @client -> @server (connect()
	 * for a client's end, the first read for a server's or an inheriting reader's).
	 */
	void (*kernel_owner)(const struct hs_endpoint *client, const struct hs_endpoint *server,
			     enum hs_role local, const struct hs_owner *o, void *ctx);
	void *ctx;
};

/*
 * cap_live__new - open and attach the backend. On failure NULL, and @err holds one line
 * saying why (not root / no CAP_BPF, no BTF, no cgroup v2, kernel too old, ...).
 * With CAP_BACKEND_AUTO a BPF failure falls back to libpcap; cap_live__why() says so.
 */
struct cap_live *cap_live__new(const struct cap_live_opts *opts, const struct cap_live_ops *ops,
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

/*
 * cap_live__kernel_owners - the kernel names every socket's owner (eBPF with both owner
 * tracepoints); false when attribution must look owners up in /proc/PID/fd.
 */
bool cap_live__kernel_owners(const struct cap_live *cl);

/* cap_live__stats - counters so far. */
void cap_live__stats(const struct cap_live *cl, struct cap_live_stats *st);

/*
 * Backends behind cap_live. Each turns its input into struct flow_segment for the
 * flow table; the eBPF one also reports socket owners and closes by cookie.
 */

struct cap_bpf_ops {
	void (*segment)(const struct flow_segment *seg, void *ctx); /* payload valid in call */
	void (*owner)(uint64_t cookie, const struct hs_owner *o, void *ctx);
	void (*close)(uint64_t cookie, uint64_t ts_ns, void *ctx);
	void *ctx;
};

struct cap_bpf;

/*
 * cap_bpf__new - load and attach the programs (cgroup_skb on the cgroup v2 root, socket
 * owner tracepoints). NULL on failure with one line in @err. Links are fd-owned:
 * nothing stays attached once the process exits.
 */
struct cap_bpf *cap_bpf__new(const struct flow_config *cfg, const struct cap_bpf_ops *ops,
			     char *err, size_t errlen);
void cap_bpf__free(struct cap_bpf *b);
/* cap_bpf__fd - epoll fd of the ring buffer. */
int cap_bpf__fd(const struct cap_bpf *b);
/* cap_bpf__poll - consume pending samples without blocking; count or -errno. */
int cap_bpf__poll(struct cap_bpf *b);
/* cap_bpf__flow_done - the kernel stops forwarding @cookie's packets (from the next poll). */
int cap_bpf__flow_done(struct cap_bpf *b, uint64_t cookie);
/* cap_bpf__owner - the owner map entry of @cookie; 0 or -ENOENT. */
int cap_bpf__owner(struct cap_bpf *b, uint64_t cookie, struct hs_owner *o);
/* cap_bpf__drops - ring-buffer reservation failures summed over CPUs, by reason. */
void cap_bpf__drops(struct cap_bpf *b, uint64_t by_reason[4], uint64_t *total);
/* cap_bpf__owner_tracepoints - both owner tracepoints are loaded (see bpf.c). */
bool cap_bpf__owner_tracepoints(const struct cap_bpf *b);
/* cap_bpf__tick - refresh the monotonic to wall-clock offset. */
void cap_bpf__tick(struct cap_bpf *b);

struct cap_pcap;

/*
 * cap_pcap__new - libpcap live capture on @iface ("any" when NULL) filtered on the
 * watched ports; every decoded TCP segment goes to @segment (cookie 0). NULL and @err.
 */
struct cap_pcap *cap_pcap__new(const struct flow_config *cfg, const char *iface,
			       void (*segment)(const struct flow_segment *seg, void *ctx),
			       void *ctx, char *err, size_t errlen);
void cap_pcap__free(struct cap_pcap *p);
/* cap_pcap__fd - selectable fd of the capture. */
int cap_pcap__fd(const struct cap_pcap *p);
/* cap_pcap__poll - dispatch what is buffered without blocking; packets or -errno. */
int cap_pcap__poll(struct cap_pcap *p);
/* cap_pcap__drops - packets the kernel dropped for the capture. */
uint64_t cap_pcap__drops(struct cap_pcap *p);
/*
 * The owners of watched connections' local ends for the libpcap backend, from the
 * connect and read tracepoints as perf events (no eBPF): see perf_owner.c.
 */
typedef void (*cap_perf_owner_fn)(const struct hs_endpoint *client,
				  const struct hs_endpoint *server, enum hs_role local,
				  const struct hs_owner *o, void *ctx);

struct cap_perf;

/* cap_perf__new - open the tracepoint on every CPU; NULL and one line in @err. */
struct cap_perf *cap_perf__new(const struct flow_config *cfg, cap_perf_owner_fn owner,
			       void *ctx, char *err, size_t errlen);
void cap_perf__free(struct cap_perf *p);
/* cap_perf__watch - add the rings to epoll @efd: readable when one is half full. */
int cap_perf__watch(struct cap_perf *p, int efd);
/* cap_perf__poll - hand on the owners the rings hold; never blocks, no syscall. */
void cap_perf__poll(struct cap_perf *p);
/* cap_perf__stats - events the kernel lost (ring full), records that did not parse. */
void cap_perf__stats(const struct cap_perf *p, uint64_t *lost, uint64_t *bad);

/*
 * cap_addr_is_local - @addr (network order) is configured on an interface here, in the
 * caller's network namespace: any number of addresses, changes seen at once through the
 * kernel's rtnetlink announcements (see pcap_live.c).
 */
int cap_addr_is_local(int family, const uint8_t *addr);

#endif /* TLSAUDIT_CAPTURE_LIVE_H */

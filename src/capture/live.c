// SPDX-License-Identifier: GPL-2.0-only
/*
 * Live capture: joins a backend (eBPF, else libpcap) to the flow table and hands on
 * each completed record with its socket's identity: the cookie and local end (eBPF),
 * or one record per local end (libpcap), plus the owner events and local ends that
 * attribution needs. Naming the process is not done here (see attrib_join).
 *
 * eBPF: every socket is its own flow (keyed by cookie), so both local ends of a loopback
 * connection give their own record. libpcap: one flow per 4-tuple, fanned out here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "tlsaudit/capture_live.h"
#include "tlsaudit/log.h"
#include "tlsaudit/util.h"

/*
 * The BPF side batches samples without waking the reader (see rb_flags there): this
 * timer bounds how long a record can wait in the ring buffer.
 */
#define BPF_POLL_NS (20 * NSEC_PER_MSEC)

/* Direct-mapped per-socket state; a collision only costs an owner-map lookup. */
#define SOCK_SLOTS 65536

struct sock_slot {
	uint64_t cookie; /* 0: empty */
	bool have_owner; /* an owner event went by: attribution has it */
	bool have_local;
	bool unnumbered; /* the owner had no pid in /proc's namespace (tgid 0) */
	bool looked_up;	 /* ...and attribution was given the local end to look up */
	struct hs_endpoint local;
};

/* Socket closes held back for one poll (see on_bpf_close). */
#define CLOSE_BATCH 1024

struct pending_close {
	uint64_t cookie;
	uint64_t ts_ns;
};

struct cap_live {
	enum cap_backend backend;
	struct flow_config cfg;
	char why[256];
	struct cap_bpf *bpf;
	struct cap_pcap *pcap;
	struct cap_perf *perf; /* libpcap: socket owners from the kernel, when it allows */
	int efd;   /* bpf: ring buffer + poll timer; libpcap with perf: capture + rings */
	int tfd;
	struct flow_table *ft;
	struct sock_slot *slots;
	struct pending_close closes[2][CLOSE_BATCH];
	unsigned int n_closes[2];
	unsigned int close_gen; /* closes[close_gen] fills during this poll */
	struct cap_live_ops ops;
	struct cap_live_stats st;
};

static struct sock_slot *slot_of(struct cap_live *cl, uint64_t cookie)
{
	return &cl->slots[(cookie ^ (cookie >> 16)) & (SOCK_SLOTS - 1)];
}

/* The slot for @cookie, claimed (and reset) if another socket held it. */
static struct sock_slot *slot_claim(struct cap_live *cl, uint64_t cookie)
{
	struct sock_slot *s = slot_of(cl, cookie);

	if (s->cookie != cookie) {
		memset(s, 0, sizeof(*s));
		s->cookie = cookie;
	}
	return s;
}

static bool endpoint_eq(const struct hs_endpoint *a, const struct hs_endpoint *b)
{
	size_t alen = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, alen);
}

static void endpoints_of(const struct flow_segment *seg, struct hs_endpoint *src,
			 struct hs_endpoint *dst)
{
	size_t alen = seg->family == AF_INET ? 4 : 16;

	memset(src, 0, sizeof(*src));
	memset(dst, 0, sizeof(*dst));
	src->family = dst->family = seg->family;
	memcpy(src->addr, seg->saddr, alen);
	memcpy(dst->addr, seg->daddr, alen);
	src->port = seg->sport;
	dst->port = seg->dport;
}

/* eBPF: the role from the socket's local end; the kernel's owner if no event named it. */
static void record_bpf(struct cap_live *cl, struct hs_record *rec)
{
	struct sock_slot *s = slot_of(cl, rec->cookie);
	struct hs_owner o;
	const struct hs_owner *hint = NULL;

	if (s->cookie == rec->cookie && s->have_local)
		rec->role = endpoint_eq(&s->local, &rec->client) ? HS_ROLE_CLIENT
								  : HS_ROLE_SERVER;
	if (!(s->cookie == rec->cookie && s->have_owner) &&
	    cap_bpf__owner(cl->bpf, rec->cookie, &o) == 0)
		hint = &o;
	cl->ops.record(rec, hint, cl->ops.ctx);
}

/* libpcap: one record per local end (both, on loopback), each with its role. */
static void record_pcap(struct cap_live *cl, struct hs_record *rec)
{
	bool client_local = cap_addr_is_local(rec->client.family, rec->client.addr);
	bool server_local = cap_addr_is_local(rec->server.family, rec->server.addr);

	if (!client_local && !server_local) {
		rec->role = HS_ROLE_UNKNOWN;
		cl->ops.record(rec, NULL, cl->ops.ctx);
		return;
	}
	if (client_local) {
		rec->role = HS_ROLE_CLIENT;
		cl->ops.record(rec, NULL, cl->ops.ctx);
	}
	if (server_local) {
		rec->role = HS_ROLE_SERVER;
		cl->ops.record(rec, NULL, cl->ops.ctx);
	}
}

static void on_record(const struct hs_record *r, void *ctx)
{
	struct cap_live *cl = ctx;
	struct hs_record rec;

	memcpy(&rec, r, sizeof(rec));
	if (cl->bpf)
		record_bpf(cl, &rec);
	else
		record_pcap(cl, &rec);
}

static void on_done(uint64_t cookie, void *ctx)
{
	struct cap_live *cl = ctx;

	if (cl->bpf && cookie)
		cap_bpf__flow_done(cl->bpf, cookie);
}

/*
 * local_end_of - hand attribution the local end that sent @seg, as a connection to a
 * watched port (client) or from one (server), for a lookup in /proc while its process
 * surely lives.
 */
static void local_end_of(struct cap_live *cl, const struct flow_segment *seg)
{
	struct hs_endpoint src, dst;

	endpoints_of(seg, &src, &dst);
	if (flow_port_watched(&cl->cfg, seg->dport))
		cl->ops.local_end(&src, &dst, HS_ROLE_CLIENT, cl->ops.ctx);
	else if (flow_port_watched(&cl->cfg, seg->sport))
		cl->ops.local_end(&dst, &src, HS_ROLE_SERVER, cl->ops.ctx);
}

static void on_bpf_segment(const struct flow_segment *seg, void *ctx)
{
	struct cap_live *cl = ctx;
	struct sock_slot *s;

	cl->st.events++;
	s = slot_claim(cl, seg->cookie);
	if (!s->have_local) {
		size_t alen = seg->family == AF_INET ? 4 : 16;

		s->local.family = seg->family;
		memcpy(s->local.addr, seg->egress ? seg->saddr : seg->daddr, alen);
		s->local.port = seg->egress ? seg->sport : seg->dport;
		s->have_local = true;
	}
	/* An owner without a pid here: its first segment out has the 4-tuple to look up. */
	if (s->unnumbered && !s->looked_up && seg->egress && cl->ops.local_end) {
		s->looked_up = true;
		local_end_of(cl, seg);
	}
	flow_table__segment(cl->ft, seg);
}

static void on_bpf_owner(uint64_t cookie, const struct hs_owner *o, void *ctx)
{
	struct cap_live *cl = ctx;
	struct sock_slot *s;

	cl->st.events++;
	cl->st.owner_events++;
	s = slot_claim(cl, cookie);
	s->have_owner = true;
	s->unnumbered = o->tgid == 0;
	if (cl->ops.owner)
		cl->ops.owner(cookie, o, cl->ops.ctx);
}

static void close_now(struct cap_live *cl, const struct pending_close *pc)
{
	struct sock_slot *s;

	/* The flow's last record still needs the owner: close it before forgetting. */
	flow_table__close(cl->ft, pc->cookie, pc->ts_ns);
	if (cl->ops.close)
		cl->ops.close(pc->cookie, cl->ops.ctx);
	s = slot_of(cl, pc->cookie);
	if (s->cookie == pc->cookie)
		memset(s, 0, sizeof(*s));
}

/* The closes held back a whole poll: their last segments have arrived by now. */
static void close_pending(struct cap_live *cl)
{
	struct pending_close *old = cl->closes[cl->close_gen ^ 1];
	unsigned int i, n = cl->n_closes[cl->close_gen ^ 1];

	for (i = 0; i < n; i++)
		close_now(cl, &old[i]);
	cl->n_closes[cl->close_gen ^ 1] = 0;
	cl->close_gen ^= 1;
}

/*
 * A socket closed. The kernel may still be sending its last segment: a close with
 * SO_LINGER 0 sets TCP_CLOSE before it sends the RST, so that RST is in the ring buffer
 * after this event. The flow ends one poll later (20 ms), with what the wire showed.
 */
static void on_bpf_close(uint64_t cookie, uint64_t ts_ns, void *ctx)
{
	struct cap_live *cl = ctx;
	struct pending_close pc = { .cookie = cookie, .ts_ns = ts_ns };
	unsigned int *n = &cl->n_closes[cl->close_gen];

	cl->st.events++;
	if (*n == CLOSE_BATCH) {
		close_now(cl, &pc);
		return;
	}
	cl->closes[cl->close_gen][(*n)++] = pc;
}

/*
 * libpcap: the moment to find a local end's process, which may live a few milliseconds.
 * A client is looked up at its SYN, the first sign of it on the wire: its socket and fd
 * exist from connect() on, and the daemon, scheduled late on a busy host, has the whole
 * handshake's time to catch it. A server's accepted socket has no fd before accept():
 * its first payload is the first moment. A SYN's lookup that finds nothing is made once
 * more at the first payload.
 */
static void on_pcap_segment(const struct flow_segment *seg, void *ctx)
{
	struct cap_live *cl = ctx;
	bool syn = (seg->tcp_flags & (FLOW_TCP_SYN | FLOW_TCP_ACK)) == FLOW_TCP_SYN;

	cl->st.events++;
	if (cl->ops.local_end && (seg->len || syn) && cap_addr_is_local(seg->family, seg->saddr)) {
		/*
		 * With the kernel's owners, a client's SYN needs no lookup: its 4-tuple is
		 * in the perf rings once the handshake moves on, read here before its first
		 * payload asks (and a server's read of the hello, before its answer).
		 */
		if (cl->perf)
			cap_perf__poll(cl->perf);
		if (!(cl->perf && syn))
			local_end_of(cl, seg);
	}
	flow_table__segment(cl->ft, seg);
}

static void on_kernel_owner(const struct hs_endpoint *client, const struct hs_endpoint *server,
			    enum hs_role local, const struct hs_owner *o, void *ctx)
{
	struct cap_live *cl = ctx;

	cl->st.owner_events++;
	cl->ops.kernel_owner(client, server, local, o, cl->ops.ctx);
}

static int bpf_poll_setup(struct cap_live *cl)
{
	struct itimerspec its = {
		.it_interval = { 0, BPF_POLL_NS },
		.it_value = { 0, BPF_POLL_NS },
	};
	struct epoll_event ev = { .events = EPOLLIN };

	cl->efd = epoll_create1(EPOLL_CLOEXEC);
	cl->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (cl->efd < 0 || cl->tfd < 0 || timerfd_settime(cl->tfd, 0, &its, NULL))
		return -errno;
	ev.data.fd = cl->tfd;
	if (epoll_ctl(cl->efd, EPOLL_CTL_ADD, cl->tfd, &ev))
		return -errno;
	ev.data.fd = cap_bpf__fd(cl->bpf);
	if (epoll_ctl(cl->efd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		return -errno;
	return 0;
}

/*
 * libpcap with the perf rings: one fd for callers to wait on, readable when packets wait
 * or a ring is half full (a host forking fast fills it with exec and fork records while
 * no watched packet comes to have it read).
 */
static int pcap_perf_poll_setup(struct cap_live *cl)
{
	struct epoll_event ev = { .events = EPOLLIN };

	cl->efd = epoll_create1(EPOLL_CLOEXEC);
	if (cl->efd < 0)
		return -1;
	ev.data.fd = cap_pcap__fd(cl->pcap);
	if (epoll_ctl(cl->efd, EPOLL_CTL_ADD, ev.data.fd, &ev) || cap_perf__watch(cl->perf, cl->efd)) {
		int err = errno;

		close(cl->efd);
		cl->efd = -1;
		errno = err;
		return -1;
	}
	return 0;
}

struct cap_live *cap_live__new(const struct cap_live_opts *opts, const struct cap_live_ops *lops,
			       char *err, size_t errlen)
{
	struct cap_bpf_ops ops = { 0 };
	char bpf_err[256] = "";
	struct cap_live *cl;

	cl = calloc(1, sizeof(*cl));
	if (!cl) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cl->backend = opts->backend;
	cl->efd = -1;
	cl->tfd = -1;
	cl->cfg = opts->flow;
	cl->ops = *lops;
	cl->slots = calloc(SOCK_SLOTS, sizeof(*cl->slots));
	cl->ft = flow_table__new(&opts->flow, on_record, on_done, cl);
	if (!cl->slots || !cl->ft) {
		snprintf(err, errlen, "cannot allocate the flow table: %s", strerror(errno));
		goto cleanup;
	}
	if (opts->backend != CAP_BACKEND_PCAP) {
		ops.segment = on_bpf_segment;
		ops.owner = on_bpf_owner;
		ops.close = on_bpf_close;
		ops.ctx = cl;
		cl->bpf = cap_bpf__new(&opts->flow, &ops, bpf_err, sizeof(bpf_err));
		if (cl->bpf && bpf_poll_setup(cl)) {
			snprintf(err, errlen, "cannot set up the ring buffer poll: %s",
				 strerror(errno));
			goto cleanup;
		}
		if (cl->bpf) {
			cl->backend = CAP_BACKEND_BPF;
			snprintf(cl->why, sizeof(cl->why), "%s",
				 opts->backend == CAP_BACKEND_BPF ? "requested"
								  : "eBPF available");
			return cl;
		}
		if (opts->backend == CAP_BACKEND_BPF) {
			snprintf(err, errlen, "%s", bpf_err);
			goto cleanup;
		}
	}
	cl->pcap = cap_pcap__new(&opts->flow, opts->pcap_iface, on_pcap_segment, cl, err, errlen);
	if (!cl->pcap) {
		if (bpf_err[0]) {
			char pcap_err[256];

			util_strlcpy(pcap_err, err, sizeof(pcap_err));
			snprintf(err, errlen, "%s; libpcap fallback: %s", bpf_err, pcap_err);
		}
		goto cleanup;
	}
	cl->backend = CAP_BACKEND_PCAP;
	if (bpf_err[0])
		snprintf(cl->why, sizeof(cl->why), "eBPF unavailable: %s", bpf_err);
	else
		snprintf(cl->why, sizeof(cl->why), "requested");
	if (cl->ops.kernel_owner) {
		char perf_err[200];
		size_t used = strlen(cl->why);

		cl->perf = cap_perf__new(&opts->flow, on_kernel_owner, cl, perf_err, sizeof(perf_err));
		if (!cl->perf)
			log_info("socket owners from /proc only: %s", perf_err);
		else if (pcap_perf_poll_setup(cl))
			log_warn("perf rings read only with packets: %s", strerror(errno));
		snprintf(cl->why + used, sizeof(cl->why) - used, "; socket owners: %s",
			 cl->perf ? "kernel perf events" : "/proc scan");
	}
	return cl;

cleanup:
	cap_live__free(cl);
	return NULL;
}

void cap_live__free(struct cap_live *cl)
{
	if (!cl)
		return;
	/* Backends first: nothing may call into the flow table once it is gone. */
	cap_bpf__free(cl->bpf);
	cap_pcap__free(cl->pcap);
	cap_perf__free(cl->perf);
	flow_table__free(cl->ft);
	if (cl->efd >= 0)
		close(cl->efd);
	if (cl->tfd >= 0)
		close(cl->tfd);
	free(cl->slots);
	free(cl);
}

int cap_live__fd(const struct cap_live *cl)
{
	return cl->efd >= 0 ? cl->efd : cap_pcap__fd(cl->pcap);
}

int cap_live__process(struct cap_live *cl)
{
	uint64_t expirations;
	int n;

	if (cl->bpf) {
		/* Re-arms the level-triggered timer; nothing to do when it did not fire. */
		if (read(cl->tfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
			return -errno;
		n = cap_bpf__poll(cl->bpf);
		close_pending(cl);
	} else {
		if (cl->perf)
			cap_perf__poll(cl->perf);
		n = cap_pcap__poll(cl->pcap);
	}
	return n < 0 ? n : 0;
}

void cap_live__tick(struct cap_live *cl, uint64_t now_ns)
{
	if (cl->bpf)
		cap_bpf__tick(cl->bpf);
	/* Connects with no packet seen since (unwatched netns, a quiet capture) still drain. */
	if (cl->perf)
		cap_perf__poll(cl->perf);
	flow_table__expire(cl->ft, now_ns);
}

const char *cap_live__backend(const struct cap_live *cl)
{
	return cl->backend == CAP_BACKEND_BPF ? "bpf" : "pcap";
}

const char *cap_live__why(const struct cap_live *cl)
{
	return cl->why;
}

bool cap_live__kernel_owners(const struct cap_live *cl)
{
	return cl->bpf && cap_bpf__owner_tracepoints(cl->bpf);
}

void cap_live__stats(const struct cap_live *cl, struct cap_live_stats *st)
{
	*st = cl->st;
	if (cl->bpf)
		cap_bpf__drops(cl->bpf, st->ringbuf_drops_by_reason, &st->ringbuf_drops);
	else if (cl->pcap)
		st->ringbuf_drops = cap_pcap__drops(cl->pcap);
	if (cl->perf) {
		uint64_t lost, bad;

		/* Either way an owner the kernel told is not known here. */
		cap_perf__stats(cl->perf, &lost, &bad);
		st->owner_lost = lost + bad;
	}
	st->flow = *flow_table__stats(cl->ft);
}

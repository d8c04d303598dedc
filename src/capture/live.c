// SPDX-License-Identifier: GPL-2.0-only
/*
 * Live capture: joins a backend (eBPF, else libpcap) to the flow table and attributes
 * each completed record to its local process before handing it on.
 *
 * eBPF: every socket is its own flow (keyed by cookie), so both local ends of a loopback
 * connection give their own record; the owner comes from the tracepoints, resolved in
 * /proc as soon as it is seen (the process may be gone once the handshake completes).
 * libpcap: one flow per 4-tuple; each local end is found through sock_diag.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "tlsaudit/attrib.h"
#include "tlsaudit/capture_live.h"
#include "tlsaudit/log.h"
#include "tlsaudit/util.h"

/*
 * The BPF side batches samples without waking the reader (see rb_flags there): this
 * timer bounds how long a record can wait in the ring buffer.
 */
#define BPF_POLL_NS (20 * 1000000L)

/* Direct-mapped per-socket state; a collision only loses a hint the owner map still has. */
#define SOCK_SLOTS 65536

struct sock_slot {
	uint64_t cookie; /* 0: empty */
	bool have_owner;
	bool have_local;
	struct cap_owner owner;
	struct hs_endpoint local;
};

/*
 * libpcap: the owner of each local end, looked up at that end's first payload. By the
 * time the record completes, a short-lived client (or a server that answered and
 * closed) may no longer hold its socket.
 */
#define TUPLE_SLOTS 4096

struct tuple_slot {
	struct hs_endpoint client, server;
	uint32_t pid[2]; /* [0] client end, [1] server end; 0: not found */
	bool looked[2];
	bool used;
};

struct cap_live {
	enum cap_backend backend;
	struct flow_config cfg;
	struct tuple_slot *tuples;
	char why[256];
	struct cap_bpf *bpf;
	struct cap_pcap *pcap;
	int efd;   /* bpf: ring buffer + poll timer, the fd callers wait on */
	int tfd;
	struct flow_table *ft;
	struct attrib_cache *ac;
	struct sock_slot *slots;
	cap_record_fn cb;
	void *cb_ctx;
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

static void proc_from_owner(struct hs_proc *p, const struct cap_owner *o)
{
	memset(p, 0, sizeof(*p));
	p->known = true;
	p->pid = o->tgid;
	p->uid = o->uid;
	util_strlcpy(p->comm, o->comm, sizeof(p->comm));
}

static void resolve_pid(struct cap_live *cl, uint32_t pid, const struct cap_owner *o,
			struct hs_proc *out)
{
	/*
	 * The cached entry, without touching /proc, when the tracepoint saw the same command
	 * name: a handshake storm from one process then costs no file reads at all.
	 */
	if (cl->ac && o && attrib_cache__lookup(cl->ac, pid, out) == 0 && out->known &&
	    !strncmp(out->comm, o->comm, sizeof(o->comm)))
		return;
	if (cl->ac && attrib_cache__resolve(cl->ac, pid, out) == 0 && out->known)
		return;
	/* Gone before /proc could be read: what the tracepoint saw is still right. */
	if (o)
		proc_from_owner(out, o);
	else
		memset(out, 0, sizeof(*out));
}

static void owner_by_tuple(struct cap_live *cl, const struct hs_endpoint *local,
			   const struct hs_endpoint *remote, struct hs_proc *out)
{
	uint32_t pid;

	memset(out, 0, sizeof(*out));
	if (attrib_owner_of_tuple(local->family, local->addr, local->port, remote->addr,
				  remote->port, &pid) == 0)
		resolve_pid(cl, pid, NULL, out);
}

static void deliver(struct cap_live *cl, struct hs_record *rec)
{
	if (!rec->proc.known)
		cl->st.unattributed++;
	cl->cb(rec, cl->cb_ctx);
}

static void record_bpf(struct cap_live *cl, struct hs_record *rec)
{
	struct sock_slot *s = slot_of(cl, rec->cookie);
	struct cap_owner o;
	bool have_owner = false;

	if (s->cookie == rec->cookie && s->have_local)
		rec->role = endpoint_eq(&s->local, &rec->client) ? HS_ROLE_CLIENT
								  : HS_ROLE_SERVER;
	if (s->cookie == rec->cookie && s->have_owner) {
		o = s->owner;
		have_owner = true;
	} else if (cap_bpf__owner(cl->bpf, rec->cookie, &o) == 0) {
		have_owner = true;
	}
	if (have_owner) {
		resolve_pid(cl, o.tgid, &o, &rec->proc);
	} else if (rec->role == HS_ROLE_CLIENT) {
		owner_by_tuple(cl, &rec->client, &rec->server, &rec->proc);
	} else if (rec->role == HS_ROLE_SERVER) {
		owner_by_tuple(cl, &rec->server, &rec->client, &rec->proc);
	}
	deliver(cl, rec);
}

static struct tuple_slot *tuple_slot_of(struct cap_live *cl, const struct hs_endpoint *client,
					 const struct hs_endpoint *server)
{
	uint32_t h = 2166136261u;
	size_t i;

	/* FNV-1a over the fields that tell connections apart. */
	for (i = 0; i < sizeof(client->addr); i++)
		h = (h ^ client->addr[i] ^ server->addr[i]) * 16777619u;
	h = (h ^ client->port) * 16777619u;
	h = (h ^ server->port) * 16777619u;
	return &cl->tuples[h & (TUPLE_SLOTS - 1)];
}

/* The tuple's slot, claimed (and reset) if another connection held it. */
static struct tuple_slot *tuple_claim(struct cap_live *cl, const struct hs_endpoint *client,
				      const struct hs_endpoint *server)
{
	struct tuple_slot *t = tuple_slot_of(cl, client, server);

	if (!t->used || !endpoint_eq(&t->client, client) || !endpoint_eq(&t->server, server)) {
		memset(t, 0, sizeof(*t));
		t->used = true;
		t->client = *client;
		t->server = *server;
	}
	return t;
}

/* @seg leaves a local end (side 0 client, 1 server): find its owner once. */
static void remember_end(struct cap_live *cl, const struct flow_segment *seg, int side)
{
	struct hs_endpoint src = { 0 }, dst = { 0 };
	size_t alen = seg->family == AF_INET ? 4 : 16;
	struct tuple_slot *t;
	struct hs_proc p;

	src.family = dst.family = seg->family;
	memcpy(src.addr, seg->saddr, alen);
	memcpy(dst.addr, seg->daddr, alen);
	src.port = seg->sport;
	dst.port = seg->dport;
	t = side == 0 ? tuple_claim(cl, &src, &dst) : tuple_claim(cl, &dst, &src);
	if (t->looked[side])
		return;
	t->looked[side] = true;
	if (attrib_owner_of_tuple(seg->family, src.addr, src.port, dst.addr, dst.port,
				  &t->pid[side]))
		t->pid[side] = 0;
	else if (cl->ac)
		attrib_cache__resolve(cl->ac, t->pid[side], &p);
}

/* One local end of a libpcap record: the owner remembered early, else found now. */
static void pcap_end(struct cap_live *cl, struct hs_record *rec, int side)
{
	const struct hs_endpoint *local = side == 0 ? &rec->client : &rec->server;
	const struct hs_endpoint *remote = side == 0 ? &rec->server : &rec->client;
	struct tuple_slot *t = tuple_slot_of(cl, &rec->client, &rec->server);

	rec->role = side == 0 ? HS_ROLE_CLIENT : HS_ROLE_SERVER;
	memset(&rec->proc, 0, sizeof(rec->proc));
	if (t->used && t->pid[side] && endpoint_eq(&t->client, &rec->client) &&
	    endpoint_eq(&t->server, &rec->server))
		resolve_pid(cl, t->pid[side], NULL, &rec->proc);
	else
		owner_by_tuple(cl, local, remote, &rec->proc);
	deliver(cl, rec);
}

/* libpcap: one record per local end (both, on loopback), each with its own process. */
static void record_pcap(struct cap_live *cl, struct hs_record *rec)
{
	bool client_local = cap_addr_is_local(rec->client.family, rec->client.addr);
	bool server_local = cap_addr_is_local(rec->server.family, rec->server.addr);

	if (!client_local && !server_local) {
		rec->role = HS_ROLE_UNKNOWN;
		deliver(cl, rec);
		return;
	}
	if (client_local)
		pcap_end(cl, rec, 0);
	if (server_local)
		pcap_end(cl, rec, 1);
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
	flow_table__segment(cl->ft, seg);
}

static void on_bpf_owner(uint64_t cookie, const struct cap_owner *o, void *ctx)
{
	struct cap_live *cl = ctx;
	struct sock_slot *s;
	struct hs_proc p;

	cl->st.events++;
	cl->st.owner_events++;
	s = slot_claim(cl, cookie);
	s->owner = *o;
	s->have_owner = true;
	/* Read /proc now, while the process surely lives; the record finds it cached. */
	resolve_pid(cl, o->tgid, o, &p);
}

static void on_bpf_close(uint64_t cookie, uint64_t ts_ns, void *ctx)
{
	struct cap_live *cl = ctx;
	struct sock_slot *s;

	cl->st.events++;
	flow_table__close(cl->ft, cookie, ts_ns);
	s = slot_of(cl, cookie);
	if (s->cookie == cookie)
		memset(s, 0, sizeof(*s));
}

static void on_pcap_segment(const struct flow_segment *seg, void *ctx)
{
	struct cap_live *cl = ctx;

	cl->st.events++;
	if (seg->len && cap_addr_is_local(seg->family, seg->saddr)) {
		if (flow_port_watched(&cl->cfg, seg->dport))
			remember_end(cl, seg, 0);
		else if (flow_port_watched(&cl->cfg, seg->sport))
			remember_end(cl, seg, 1);
	}
	flow_table__segment(cl->ft, seg);
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

struct cap_live *cap_live__new(const struct cap_live_opts *opts, cap_record_fn cb, void *ctx,
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
	cl->cb = cb;
	cl->cb_ctx = ctx;
	cl->slots = calloc(SOCK_SLOTS, sizeof(*cl->slots));
	cl->ft = flow_table__new(&opts->flow, on_record, on_done, cl);
	if (!cl->slots || !cl->ft) {
		snprintf(err, errlen, "cannot allocate the flow table: %s", strerror(errno));
		goto cleanup;
	}
	/* Without /proc there is still a record, only no process name. */
	cl->ac = attrib_cache__new("/proc", 4096);
	if (!cl->ac)
		log_warn("process attribution disabled: %s", strerror(errno));

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
	cl->tuples = calloc(TUPLE_SLOTS, sizeof(*cl->tuples));
	if (!cl->tuples) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
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
	flow_table__free(cl->ft);
	attrib_cache__free(cl->ac);
	if (cl->efd >= 0)
		close(cl->efd);
	if (cl->tfd >= 0)
		close(cl->tfd);
	free(cl->slots);
	free(cl->tuples);
	free(cl);
}

int cap_live__fd(const struct cap_live *cl)
{
	return cl->bpf ? cl->efd : cap_pcap__fd(cl->pcap);
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
	} else {
		n = cap_pcap__poll(cl->pcap);
	}
	return n < 0 ? n : 0;
}

void cap_live__tick(struct cap_live *cl, uint64_t now_ns)
{
	if (cl->bpf)
		cap_bpf__tick(cl->bpf);
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

void cap_live__stats(const struct cap_live *cl, struct cap_live_stats *st)
{
	*st = cl->st;
	if (cl->bpf)
		cap_bpf__drops(cl->bpf, st->ringbuf_drops_by_reason, &st->ringbuf_drops);
	else if (cl->pcap)
		st->ringbuf_drops = cap_pcap__drops(cl->pcap);
	st->flow = *flow_table__stats(cl->ft);
}

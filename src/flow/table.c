// SPDX-License-Identifier: GPL-2.0-only
/*
 * Flow table: chained hash over a preallocated entry array, keyed by the socket cookie
 * (live) or by the ordered 4-tuple and family (offline), with two LRU lists (flows
 * still wanting bytes, and done tombstones). Every bound is enforced here: the flow
 * count, the global buffer budget and the idle timeout, each with its counter.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "flow_int.h"
#include "tlsaudit/util.h"

/* Largest table we agree to preallocate; configurations above it are clamped. */
#define FLOW_MAX_ENTRIES (1u << 24)
/*
 * Buckets to start with; they double while entries outnumber them. An array sized
 * for the largest table (1 MiB by default) missed the cache on nearly every packet of
 * a capture that holds a few thousand flows at once.
 */
#define FLOW_MIN_BUCKETS 1024

const struct flow_stats *flow_table__stats(const struct flow_table *ft)
{
	return &ft->stats;
}

void flow_table__cert_stats(const struct flow_table *ft, struct tls_cert_cache_stats *out)
{
	tls_cert_cache_stats(ft->certs, out);
}

static inline uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

static inline uint32_t load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* A key in canonical form: endpoint 0 is the lower (offline) or the local one (live). */
struct flow_key {
	uint64_t cookie;
	uint8_t family;
	uint16_t port[2];
	uint8_t addr[2][16];
};

/*
 * The offline 4-tuple as ten 32-bit words through NH (the UMAC hash, RFC 4418 section
 * 5.2.2): a sum of products that do not depend on one another, so they run side by
 * side rather than in a chain; its keys are secret, so peers cannot aim at one bucket.
 * The high half of the sum is the well-mixed one.
 */
static uint32_t key_hash(const struct flow_table *ft, const struct flow_key *k)
{
	const uint8_t *a = k->addr[0], *b = k->addr[1];
	const uint32_t *hk = ft->hkey;
	uint64_t h;

	if (k->cookie)
		return (uint32_t)mix(mix(ft->seed, k->cookie), 0x5bd1e995);
	h = (uint64_t)(load32(a) + hk[0]) * (load32(a + 4) + hk[1]);
	h += (uint64_t)(load32(a + 8) + hk[2]) * (load32(a + 12) + hk[3]);
	h += (uint64_t)(load32(b) + hk[4]) * (load32(b + 4) + hk[5]);
	h += (uint64_t)(load32(b + 8) + hk[6]) * (load32(b + 12) + hk[7]);
	h += (uint64_t)((((uint32_t)k->port[0] << 16) | k->port[1]) + hk[8]) * (k->family + hk[9]);
	return (uint32_t)(h >> 32);
}

static bool key_eq(const struct flow_entry *e, const struct flow_key *k)
{
	if (k->cookie)
		return (e->flags & ENT_COOKIE) && e->cookie == k->cookie;
	return !(e->flags & ENT_COOKIE) && e->family == k->family &&
	       e->port[0] == k->port[0] && e->port[1] == k->port[1] &&
	       !memcmp(e->addr, k->addr, sizeof(e->addr));
}

static struct flow_list *list_of(struct flow_table *ft, const struct flow_entry *e)
{
	return e->st ? &ft->active : &ft->done;
}

static void list_unlink(struct flow_table *ft, struct flow_list *l, uint32_t i)
{
	struct flow_entry *e = &ft->ent[i];

	if (e->prev != FLOW_NIL)
		ft->ent[e->prev].next = e->next;
	else
		l->head = e->next;
	if (e->next != FLOW_NIL)
		ft->ent[e->next].prev = e->prev;
	else
		l->tail = e->prev;
	e->prev = e->next = FLOW_NIL;
}

static void list_append(struct flow_table *ft, struct flow_list *l, uint32_t i)
{
	struct flow_entry *e = &ft->ent[i];

	e->next = FLOW_NIL;
	e->prev = l->tail;
	if (l->tail != FLOW_NIL)
		ft->ent[l->tail].next = i;
	else
		l->head = i;
	l->tail = i;
}

static void touch(struct flow_table *ft, struct flow_entry *e, uint64_t now_ns)
{
	struct flow_list *l = list_of(ft, e);
	uint32_t i = (uint32_t)(e - ft->ent);

	e->last_ns = now_ns;
	if (l->tail == i)
		return;
	list_unlink(ft, l, i);
	list_append(ft, l, i);
}

struct flow_table *flow_table__new(const struct flow_config *cfg, flow_record_fn record_cb,
				   flow_done_fn done_cb, void *ctx)
{
	struct flow_table *ft;
	uint32_t nb = FLOW_MIN_BUCKETS, i;
	uint64_t x;

	if (!cfg || !record_cb || !cfg->dir_cap || !cfg->max_flows) {
		errno = EINVAL;
		return NULL;
	}
	ft = calloc(1, sizeof(*ft));
	if (!ft)
		return NULL;
	ft->cfg = *cfg;
	if (ft->cfg.n_ports < 0 || ft->cfg.n_ports > (int)ARRAY_SIZE(ft->cfg.ports))
		ft->cfg.n_ports = ARRAY_SIZE(ft->cfg.ports);
	if (ft->cfg.max_flows > FLOW_MAX_ENTRIES)
		ft->cfg.max_flows = FLOW_MAX_ENTRIES;
	ft->record_cb = record_cb;
	ft->done_cb = done_cb;
	ft->ctx = ctx;
	ft->mem.budget = ft->cfg.mem_budget;
	ft->cur = FLOW_NIL;
	ft->active.head = ft->active.tail = FLOW_NIL;
	ft->done.head = ft->done.tail = FLOW_NIL;

	/* A keyed hash: peers choose ports and addresses, so chains must not be steerable. */
	if (getrandom(&ft->seed, sizeof(ft->seed), GRND_NONBLOCK) != sizeof(ft->seed))
		ft->seed = util_now_ns() ^ (uint64_t)(uintptr_t)ft;
	for (i = 0, x = ft->seed; i < ARRAY_SIZE(ft->hkey); i++) {
		x = mix(x, i + 1);
		ft->hkey[i] = (uint32_t)(x >> 32);
	}
	for (i = 0; i < (uint32_t)ft->cfg.n_ports; i++)
		ft->watched[ft->cfg.ports[i] / 64] |= 1ULL << (ft->cfg.ports[i] % 64);

	ft->bucket_max = 16;
	while (ft->bucket_max < ft->cfg.max_flows * 2 && ft->bucket_max < (FLOW_MAX_ENTRIES << 1))
		ft->bucket_max <<= 1;
	if (nb > ft->bucket_max)
		nb = ft->bucket_max;
	ft->buckets = util_reallocarray(NULL, nb, sizeof(*ft->buckets));
	ft->ent = calloc(ft->cfg.max_flows, sizeof(*ft->ent));
	ft->scratch_cap = ft->cfg.dir_cap;
	ft->scratch = malloc(ft->scratch_cap);
	ft->certs = tls_cert_cache_new(ft->cfg.cert_cache);
	if (!ft->cfg.skip_fingerprints)
		ft->fps = tls_fp_cache_new();
	if (!ft->buckets || !ft->ent || !ft->scratch || !ft->certs ||
	    (!ft->cfg.skip_fingerprints && !ft->fps) || flow_sess_init(ft))
		goto err;
	ft->bucket_mask = nb - 1;
	memset(ft->buckets, 0xff, (size_t)nb * sizeof(*ft->buckets));
	/*
	 * Entries never used are taken in order (n_fresh) rather than chained on the free
	 * list up front: chaining 131072 of them wrote every page of the array, 10 MiB of
	 * RSS before the first packet.
	 */
	ft->free_ent = FLOW_NIL;
	ft->n_fresh = 0;
	return ft;

err:
	flow_table__free(ft);
	errno = ENOMEM;
	return NULL;
}

static void call_done(struct flow_table *ft, struct flow_entry *e)
{
	if (e->flags & ENT_DONECB)
		return;
	e->flags |= ENT_DONECB;
	if (ft->done_cb)
		ft->done_cb(e->cookie, ft->ctx);
}

static void free_state(struct flow_table *ft, struct flow_entry *e)
{
	if (!e->st)
		return;
	flow_reasm_free(&e->st->dir[0].r, &ft->mem);
	flow_reasm_free(&e->st->dir[1].r, &ft->mem);
	flow_sess_release(ft, e->st);
	free(e->st);
	e->st = NULL;
}

/* No more bytes needed: free the state, keep a tombstone, tell done_cb. */
static void entry_done(struct flow_table *ft, struct flow_entry *e)
{
	uint32_t i = (uint32_t)(e - ft->ent);

	if (e->st) {
		list_unlink(ft, &ft->active, i);
		free_state(ft, e);
		list_append(ft, &ft->done, i);
	}
	e->flags |= ENT_DONE;
	call_done(ft, e);
}

/* The record @e owes, if any, to the consumer. */
static void finish(struct flow_table *ft, struct flow_entry *e)
{
	struct hs_record rec;

	if (e->st && flow_sess_record(ft, e, &rec)) {
		ft->stats.records++;
		ft->record_cb(&rec, ft->ctx);
	}
}

/* Drop an entry entirely, after finish() has emitted what it owed. */
static void remove_entry(struct flow_table *ft, struct flow_entry *e)
{
	uint32_t i = (uint32_t)(e - ft->ent);
	uint32_t *pp = &ft->buckets[e->hash & ft->bucket_mask];

	while (*pp != FLOW_NIL && *pp != i)
		pp = &ft->ent[*pp].hnext;
	if (*pp == i)
		*pp = e->hnext;
	list_unlink(ft, list_of(ft, e), i);
	call_done(ft, e);
	free_state(ft, e);
	memset(e, 0, sizeof(*e));
	e->prev = e->next = FLOW_NIL;
	e->hnext = ft->free_ent;
	ft->free_ent = i;
	ft->n_ent--;
}

/* The flow ends (FIN/RST/close/timeout/flush/eviction): report, then forget it. */
static void end_flow(struct flow_table *ft, struct flow_entry *e)
{
	finish(ft, e);
	remove_entry(ft, e);
}

/* Make room for @bytes more buffer memory, evicting other flows (never the current one). */
static int mem_reserve(struct flow_table *ft, uint64_t bytes)
{
	uint32_t i = ft->active.head;

	while (ft->mem.used + bytes > ft->mem.budget && i != FLOW_NIL) {
		struct flow_entry *e = &ft->ent[i];

		i = e->next;
		if ((uint32_t)(e - ft->ent) == ft->cur || !e->st ||
		    !(e->st->dir[0].r.alloc + e->st->dir[1].r.alloc))
			continue;
		/* Keep a tombstone so its later packets stay cheap and are not re-parsed. */
		ft->stats.evicted_flows++;
		finish(ft, e);
		entry_done(ft, e);
	}
	return ft->mem.used + bytes > ft->mem.budget ? -ENOBUFS : 0;
}

/* Evict the least recently used flow, active or done, to free one entry. */
static void evict_one(struct flow_table *ft)
{
	uint32_t a = ft->active.head, d = ft->done.head, v;

	if (a == ft->cur && a != FLOW_NIL)
		a = ft->ent[a].next;
	if (a == FLOW_NIL)
		v = d;
	else if (d == FLOW_NIL)
		v = a;
	else
		v = ft->ent[d].last_ns <= ft->ent[a].last_ns ? d : a;
	if (v == FLOW_NIL)
		return;
	ft->stats.evicted_flows++;
	end_flow(ft, &ft->ent[v]);
}

static struct flow_entry *lookup(struct flow_table *ft, const struct flow_key *k, uint32_t h)
{
	uint32_t i = ft->buckets[h & ft->bucket_mask];

	while (i != FLOW_NIL) {
		struct flow_entry *e = &ft->ent[i];

		if (e->hash == h && key_eq(e, k))
			return e;
		i = e->hnext;
	}
	return NULL;
}

/*
 * Double the buckets once the entries outnumber them. Without the memory the chains
 * just get longer: every lookup still finds its entry.
 */
static void grow_buckets(struct flow_table *ft)
{
	uint32_t nb = ft->bucket_mask + 1, i, *b;

	if (ft->n_ent < nb || nb >= ft->bucket_max)
		return;
	nb *= 2;
	b = util_reallocarray(NULL, nb, sizeof(*b));
	if (!b)
		return;
	memset(b, 0xff, (size_t)nb * sizeof(*b));
	/* Free entries carry the free list in hnext and no ENT_USED: left alone. */
	for (i = 0; i < ft->n_fresh; i++) {
		struct flow_entry *e = &ft->ent[i];

		if (!(e->flags & ENT_USED))
			continue;
		e->hnext = b[e->hash & (nb - 1)];
		b[e->hash & (nb - 1)] = i;
	}
	free(ft->buckets);
	ft->buckets = b;
	ft->bucket_mask = nb - 1;
}

static struct flow_entry *create(struct flow_table *ft, const struct flow_key *k, uint32_t h,
				 uint64_t now_ns)
{
	struct flow_entry *e;
	struct flow_state *st;
	uint32_t i;

	if (ft->free_ent == FLOW_NIL && ft->n_fresh < ft->cfg.max_flows) {
		/* Put a never-used entry on the free list: the one path below takes it. */
		ft->ent[ft->n_fresh].hnext = FLOW_NIL;
		ft->free_ent = ft->n_fresh++;
	}
	if (ft->free_ent == FLOW_NIL)
		evict_one(ft);
	if (ft->free_ent == FLOW_NIL)
		return NULL;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	i = ft->free_ent;
	e = &ft->ent[i];
	ft->free_ent = e->hnext;
	ft->n_ent++;

	e->cookie = k->cookie;
	e->family = k->family;
	memcpy(e->port, k->port, sizeof(e->port));
	memcpy(e->addr, k->addr, sizeof(e->addr));
	e->flags = ENT_USED | (k->cookie ? ENT_COOKIE : 0);
	e->hash = h;
	e->last_ns = now_ns;
	st->client = -1;
	st->starttls_cmd = -1;
	st->ehlo_cmd = -1;
	st->first_fin = -1;
	e->st = st;
	e->hnext = ft->buckets[h & ft->bucket_mask];
	ft->buckets[h & ft->bucket_mask] = i;
	list_append(ft, &ft->active, i);
	ft->stats.flows++;
	grow_buckets(ft);
	return e;
}

static int addr_len(uint8_t family)
{
	return family == AF_INET ? 4 : 16;
}

static inline uint64_t load_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return __builtin_bswap64(v);
}

/* The sign of memcmp() over the two addresses, without a library call per packet. */
static int addr_cmp(const uint8_t *a, const uint8_t *b, uint8_t family)
{
	uint64_t x, y;

	if (family == AF_INET) {
		x = __builtin_bswap32(load32(a));
		y = __builtin_bswap32(load32(b));
	} else {
		x = load_be64(a);
		y = load_be64(b);
		if (x == y) {
			x = load_be64(a + 8);
			y = load_be64(b + 8);
		}
	}
	return (x > y) - (x < y);
}

/* Canonical key and the direction index of @seg within it. */
static int make_key(const struct flow_segment *seg, struct flow_key *k)
{
	int alen = addr_len(seg->family), c;
	bool src_first;

	memset(k, 0, sizeof(*k));
	k->family = seg->family;
	if (seg->cookie) {
		/* Live: endpoint 0 is the local socket, direction 0 what it sends. */
		k->cookie = seg->cookie;
		src_first = seg->egress;
	} else {
		c = addr_cmp(seg->saddr, seg->daddr, seg->family);
		src_first = c < 0 || (c == 0 && seg->sport <= seg->dport);
	}
	if (src_first) {
		memcpy(k->addr[0], seg->saddr, (size_t)alen);
		memcpy(k->addr[1], seg->daddr, (size_t)alen);
		k->port[0] = seg->sport;
		k->port[1] = seg->dport;
	} else {
		memcpy(k->addr[0], seg->daddr, (size_t)alen);
		memcpy(k->addr[1], seg->saddr, (size_t)alen);
		k->port[0] = seg->dport;
		k->port[1] = seg->sport;
	}
	return src_first ? 0 : 1;
}

/*
 * A SYN on a flow still in progress: the same connection (a retransmission, or a SYN
 * the capture delivered late) unless its sequence number is far from the stream start
 * we hold, which means a new connection reusing the 4-tuple.
 */
static bool syn_restarts(const struct flow_table *ft, const struct flow_entry *e, int d,
			 const struct flow_segment *seg)
{
	const struct reasm *r = &e->st->dir[d].r;
	uint32_t back;

	if (seg->cookie || (seg->tcp_flags & (FLOW_TCP_SYN | FLOW_TCP_ACK)) != FLOW_TCP_SYN ||
	    !r->have_isn)
		return false;
	back = r->isn - (seg->seq + 1);
	return back > ft->cfg.dir_cap;
}

static inline bool port_watched(const struct flow_table *ft, uint16_t port)
{
	return ft->watched[port / 64] >> (port % 64) & 1;
}

/* Retries of one segment that wants buffer memory; each may evict older flows. */
#define NEED_MEM_TRIES 8

/* Feed @seg to the session and do what it asks. */
static void feed(struct flow_table *ft, struct flow_entry *e, int d,
		 const struct flow_segment *seg)
{
	enum flow_act act;
	int tries = 0;

	act = flow_sess_segment(ft, e, d, seg);
	while (act == FLOW_ACT_NEED_MEM) {
		if (++tries > NEED_MEM_TRIES || mem_reserve(ft, e->st->need_mem)) {
			/* Even alone this flow does not fit: report what it has, counted. */
			ft->stats.evicted_flows++;
			act = FLOW_ACT_EMIT;
			break;
		}
		act = flow_sess_segment(ft, e, d, seg);
	}
	switch (act) {
	case FLOW_ACT_EMIT:
		finish(ft, e);
		entry_done(ft, e);
		break;
	case FLOW_ACT_DONE:
		entry_done(ft, e);
		break;
	default:
		break;
	}
}

void flow_table__segment(struct flow_table *ft, const struct flow_segment *seg)
{
	struct flow_key k;
	struct flow_entry *e;
	uint32_t h;
	int d;

	if (!seg->cookie && !port_watched(ft, seg->sport) && !port_watched(ft, seg->dport))
		return;
	ft->stats.segments++;
	d = make_key(seg, &k);
	/*
	 * For the offline 4-tuple the hash is computed over the key; the cookie path
	 * hashes one word, which is the live fast path for done flows.
	 */
	h = key_hash(ft, &k);
	e = lookup(ft, &k, h);

	if (e && !e->st) {
		/* A tombstone: a new connection reusing the tuple starts over. */
		if ((seg->tcp_flags & (FLOW_TCP_SYN | FLOW_TCP_ACK)) == FLOW_TCP_SYN &&
		    !seg->cookie) {
			remove_entry(ft, e);
			e = NULL;
		} else {
			if (seg->tcp_flags & FLOW_TCP_FIN)
				e->flags |= d ? ENT_FIN1 : ENT_FIN0;
			if ((seg->tcp_flags & FLOW_TCP_RST) ||
			    (e->flags & (ENT_FIN0 | ENT_FIN1)) == (ENT_FIN0 | ENT_FIN1))
				remove_entry(ft, e);
			else
				touch(ft, e, seg->ts_ns);
			return;
		}
	}
	if (!e) {
		/* Bare ACKs, FINs and RSTs of unknown flows carry nothing worth a flow. */
		if (!seg->len && !(seg->tcp_flags & FLOW_TCP_SYN))
			return;
		if (seg->tcp_flags & FLOW_TCP_RST)
			return;
		e = create(ft, &k, h, seg->ts_ns);
		if (!e)
			return;
	} else if (syn_restarts(ft, e, d, seg)) {
		end_flow(ft, e);
		e = create(ft, &k, h, seg->ts_ns);
		if (!e)
			return;
	} else {
		touch(ft, e, seg->ts_ns);
	}

	ft->cur = (uint32_t)(e - ft->ent);
	feed(ft, e, d, seg);
	ft->cur = FLOW_NIL;

	if (!e->st) {
		/* Done during this segment; a FIN/RST on it still ends the tombstone. */
		if (seg->tcp_flags & FLOW_TCP_FIN)
			e->flags |= d ? ENT_FIN1 : ENT_FIN0;
		if ((seg->tcp_flags & FLOW_TCP_RST) ||
		    (e->flags & (ENT_FIN0 | ENT_FIN1)) == (ENT_FIN0 | ENT_FIN1))
			remove_entry(ft, e);
		return;
	}
	if (seg->tcp_flags & FLOW_TCP_FIN)
		e->flags |= d ? ENT_FIN1 : ENT_FIN0;
	if ((seg->tcp_flags & FLOW_TCP_RST) ||
	    (e->flags & (ENT_FIN0 | ENT_FIN1)) == (ENT_FIN0 | ENT_FIN1))
		end_flow(ft, e);
}

void flow_table__close(struct flow_table *ft, uint64_t cookie, uint64_t now_ns)
{
	struct flow_key k;
	struct flow_entry *e;

	(void)now_ns;
	if (!cookie)
		return;
	memset(&k, 0, sizeof(k));
	k.cookie = cookie;
	e = lookup(ft, &k, key_hash(ft, &k));
	if (e)
		end_flow(ft, e);
}

void flow_table__expire(struct flow_table *ft, uint64_t now_ns)
{
	uint64_t cutoff;

	if (now_ns < ft->cfg.timeout_ns)
		return;
	cutoff = now_ns - ft->cfg.timeout_ns;
	while (ft->active.head != FLOW_NIL && ft->ent[ft->active.head].last_ns <= cutoff) {
		ft->stats.timeouts++;
		end_flow(ft, &ft->ent[ft->active.head]);
	}
	while (ft->done.head != FLOW_NIL && ft->ent[ft->done.head].last_ns <= cutoff)
		remove_entry(ft, &ft->ent[ft->done.head]);
}

void flow_table__flush(struct flow_table *ft)
{
	while (ft->active.head != FLOW_NIL)
		end_flow(ft, &ft->ent[ft->active.head]);
	while (ft->done.head != FLOW_NIL)
		remove_entry(ft, &ft->ent[ft->done.head]);
}

void flow_table__free(struct flow_table *ft)
{
	uint32_t i;

	if (!ft)
		return;
	/* Free without reporting: the caller flushes first when it wants the records. */
	if (ft->ent) {
		for (i = 0; i < ft->n_fresh; i++)
			if (ft->ent[i].st)
				free_state(ft, &ft->ent[i]);
	}
	free(ft->ent);
	free(ft->buckets);
	free(ft->scratch);
	flow_sess_fini(ft);
	flow_reasm_pool_free(&ft->mem);
	tls_cert_cache_free(ft->certs);
	tls_fp_cache_free(ft->fps);
	free(ft);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-connection session logic: which side is the client, SMTP or TLS, the hand-off
 * of each direction's TLS bytes to the stream parser, and the handshake record.
 *
 * It never acts on the table: each segment returns what should happen next (more,
 * done, emit, need memory; enum flow_act) and table.c does it, so a record is never
 * emitted, and no other flow evicted, in the middle of this flow's segment.
 *
 * All stream bytes are peer-controlled; they are read through struct tls_cursor.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flow_int.h"
#include "tlsaudit/cursor.h"
#include "tlsaudit/util.h"

/* Offline roles without a SYN: the ClientHello's sender, else the watched port serves. */
static void infer_roles(struct flow_table *ft, struct flow_state *st, int d, const uint8_t *p,
			uint32_t len, uint16_t sport, uint16_t dport)
{
	switch (tls_sniff_hello(p, len)) {
	case TLS_SNIFF_CLIENT_HELLO:
		st->client = (int8_t)d;
		return;
	case TLS_SNIFF_SERVER_HELLO:
		st->client = (int8_t)(1 - d);
		return;
	default:
		break;
	}
	if (flow_port_watched(&ft->cfg, dport))
		st->client = (int8_t)d;
	else if (flow_port_watched(&ft->cfg, sport))
		st->client = (int8_t)(1 - d);
	else if (flow_smtp_port(sport))
		st->client = (int8_t)(1 - d);
	else
		st->client = (int8_t)d;
}

static uint16_t server_port(const struct flow_entry *e, const struct flow_state *st)
{
	return e->port[st->client == 0 ? 1 : 0];
}

static void set_endpoint(struct hs_endpoint *ep, const struct flow_entry *e, int i)
{
	ep->family = e->family;
	memcpy(ep->addr, e->addr[i], sizeof(ep->addr));
	ep->port = e->port[i];
}

static void record_base(const struct flow_entry *e, const struct flow_state *st,
			struct hs_record *rec)
{
	int c = st->client < 0 ? 0 : st->client;

	memset(rec, 0, sizeof(*rec));
	rec->cookie = e->cookie;
	/* Live: endpoint 0 is the local socket, so the local side is the client when c == 0. */
	if (e->flags & ENT_COOKIE)
		rec->role = c == 0 ? HS_ROLE_CLIENT : HS_ROLE_SERVER;
	else
		rec->role = HS_ROLE_UNKNOWN;
	set_endpoint(&rec->client, e, c);
	set_endpoint(&rec->server, e, 1 - c);
}

/* What the SMTP exchange said about TLS, on both kinds of record of a 25/587 session. */
static void smtp_fields(const struct flow_state *st, struct hs_record *rec)
{
	if (st->mode == MODE_STARTTLS)
		rec->smtp_tls = HS_SMTP_STARTTLS;
	else if (st->starttls_refused)
		rec->smtp_tls = HS_SMTP_REFUSED;
	else if (st->starttls_offered)
		rec->smtp_tls = HS_SMTP_NOT_USED;
	else
		rec->smtp_tls = HS_SMTP_NOT_OFFERED;
	util_strlcpy(rec->mx_host, st->mx_host, sizeof(rec->mx_host));
}

static bool plaintext_record(struct flow_table *ft, struct flow_entry *e, struct hs_record *rec)
{
	record_base(e, e->st, rec);
	rec->kind = HS_KIND_PLAINTEXT_SMTP;
	rec->time_ns = e->st->smtp_ns ? e->st->smtp_ns : e->last_ns;
	smtp_fields(e->st, rec);
	ft->stats.plaintext_smtp++;
	return true;
}

/* The offered ALPN list (RFC 7301 section 3.1), peer-controlled, joined by ','. */
static void join_alpn(const struct tls_client_hello *ch, char *out, size_t cap)
{
	struct tls_cursor c, name;
	size_t n = 0;
	uint8_t b;

	out[0] = '\0';
	cur_init(&c, ch->alpn_raw, ch->alpn_raw_len < sizeof(ch->alpn_raw) ?
					   ch->alpn_raw_len : sizeof(ch->alpn_raw));
	while (cur_left(&c) && n + 1 < cap) {
		if (!cur_sub(&c, cur_u8(&c), &name))
			break;
		if (n && n + 1 < cap)
			out[n++] = ',';
		while (cur_left(&name) && n + 1 < cap) {
			b = cur_u8(&name);
			/* Keep the list splittable and printable whatever the peer sent. */
			out[n++] = (b > 0x20 && b < 0x7f && b != ',') ? (char)b : '?';
		}
	}
	out[n] = '\0';
}

int flow_sess_init(struct flow_table *ft)
{
	uint32_t i;

	ft->slots = calloc(WALK_SLOTS_MAX, sizeof(*ft->slots));
	if (!ft->slots)
		return -ENOMEM;
	for (i = 0; i < 2; i++) {
		ft->slots[i] = calloc(1, sizeof(*ft->slots[i]));
		if (!ft->slots[i])
			return -ENOMEM;
	}
	ft->n_slots = 2;
	ft->free_slot = FLOW_NIL;
	return 0;
}

void flow_sess_fini(struct flow_table *ft)
{
	uint32_t i;

	if (!ft->slots)
		return;
	for (i = 0; i < WALK_SLOTS_MAX; i++)
		free(ft->slots[i]);
	free(ft->slots);
	ft->slots = NULL;
}

/* The slot that still holds the last walk of @dir, or NULL. */
static struct walk_slot *own_slot(const struct flow_table *ft, const struct flow_dir *dir)
{
	struct walk_slot *ws;

	if (!dir->walk_gen)
		return NULL;
	ws = ft->slots[dir->slot];
	return ws->gen == dir->walk_gen ? ws : NULL;
}

void flow_sess_release(struct flow_table *ft, struct flow_state *st)
{
	struct walk_slot *ws;
	int i;

	for (i = 0; i < 2; i++) {
		ws = own_slot(ft, &st->dir[i]);
		/* The two shared slots are never on the free list. */
		if (!ws || st->dir[i].slot < 2)
			continue;
		ws->gen = 0;
		ws->next_free = ft->free_slot;
		ft->free_slot = st->dir[i].slot;
	}
}

/*
 * A slot for a new walk of @dir: a free one of the pool, a new one while the pool may
 * grow, else the shared slot @shared (0: the client's side, 1: the server's).
 */
static uint32_t take_slot(struct flow_table *ft, int shared)
{
	uint32_t i = ft->free_slot;

	if (i != FLOW_NIL) {
		ft->free_slot = ft->slots[i]->next_free;
		return i;
	}
	if (ft->n_slots < WALK_SLOTS_MAX) {
		/* The hellos need no clearing: a walk reads them as far as it filled them. */
		ft->slots[ft->n_slots] = malloc(sizeof(*ft->slots[0]));
		if (ft->slots[ft->n_slots]) {
			ft->slots[ft->n_slots]->gen = 0;
			return ft->n_slots++;
		}
	}
	return (uint32_t)shared;
}

/* Note that slot @i now holds a walk of @dir over its bytes so far. */
static void note_walk(struct flow_table *ft, struct flow_dir *dir, uint32_t i, int rc,
		      bool certs)
{
	ft->slots[i]->gen = ++ft->walk_gen;
	dir->slot = i;
	dir->walk_gen = ft->walk_gen;
	dir->walk_contig = dir->r.contig;
	dir->walk_rc = (int8_t)rc;
	dir->walk_certs = certs;
}

/*
 * Walk direction @i from its first TLS byte into its slot; with @certs, the server's
 * Certificate message too (kept in scratch, its leaf looked up in the cache by
 * SHA-256). The walks while bytes arrive leave it alone, so a leaf is not hashed once
 * per segment. A walk in the same mode that stopped short goes on where it stopped.
 */
static struct tls_stream *walk_dir(struct flow_table *ft, struct flow_state *st, int i,
				   int shared, bool certs, int *rc)
{
	struct flow_dir *dir = &st->dir[i];
	struct walk_slot *ws = own_slot(ft, dir);
	struct tls_cert_cache *cache = certs ? ft->certs : NULL;
	bool from_client = i == st->client;
	const uint8_t *p = dir->r.buf + dir->tls_off;
	uint32_t len = dir->r.contig - dir->tls_off, slot;

	if (ws && dir->walk_certs == certs && dir->walk_rc == TLS_TRUNCATED) {
		slot = dir->slot;
		*rc = tls_stream_resume(p, len, from_client, &ws->ts, ft->scratch, ft->scratch_cap,
					cache);
	} else {
		slot = ws ? dir->slot : take_slot(ft, shared);
		ws = ft->slots[slot];
		tls_stream_reset(&ws->ts);
		if (!certs)
			*rc = tls_stream_parse(p, len, from_client, &ws->ts, ft->scratch,
					       ft->scratch_cap);
		else
			*rc = tls_stream_parse_cert(p, len, &ws->ts, ft->scratch, ft->scratch_cap,
						    cache);
	}
	note_walk(ft, dir, slot, *rc, certs);
	return &ws->ts;
}

/*
 * The answer a walk of direction @i would give now, in *@out: the last walk when
 * nothing arrived since or it was done already (a longer prefix cannot change a done
 * walk), else a new one. A walk without the Certificate message answers for one with it
 * only where there is none to read (TLS 1.3: the walk ends at the ServerHello). A
 * walk's cert_info may point into a cache entry evicted since: parse_server() looks the
 * leaf up again.
 */
static int parse_dir(struct flow_table *ft, struct flow_state *st, int i, int shared, bool certs,
		     struct tls_stream **out)
{
	struct flow_dir *dir = &st->dir[i];
	struct walk_slot *ws;
	int rc;

	if (i == st->client)
		certs = false;
	ws = own_slot(ft, dir);
	if (ws && (dir->walk_contig == dir->r.contig || dir->walk_rc == TLS_OK) &&
	    (dir->walk_certs || !certs ||
	     (dir->walk_rc == TLS_OK && ws->ts.have_server_hello &&
	      tls_version_is_13(ws->ts.sh.version)))) {
		*out = &ws->ts;
		return dir->walk_rc;
	}
	/* No bytes yet (and maybe no buffer): nothing to walk, an empty state says so. */
	if (dir->r.contig <= dir->tls_off) {
		ws = ft->slots[shared];
		ws->gen = 0;
		tls_stream_reset(&ws->ts);
		*out = &ws->ts;
		return TLS_TRUNCATED;
	}
	*out = walk_dir(ft, st, i, shared, certs, &rc);
	return rc;
}

/*
 * The server's direction for the record. A leaf judged while the flow ran is found in
 * the cache by its fingerprint, without walking the message or hashing it again; only
 * when the cache has let it go since is the message read once more.
 */
static int parse_server(struct flow_table *ft, struct flow_state *st, struct tls_stream **ss)
{
	int s = st->client == 0 ? 1 : 0, rc;

	if (!st->cert_judged)
		return parse_dir(ft, st, s, 1, true, ss);
	rc = parse_dir(ft, st, s, 1, false, ss);
	if (tls_cert_cache_find(ft->certs, st->cert_sha256, &(*ss)->cert_info) == 0) {
		(*ss)->cert = TLS_SCERT_OK;
	} else {
		/* A walk kept from before points into the entry that is gone: walk again. */
		st->dir[s].walk_gen = 0;
		rc = parse_dir(ft, st, s, 1, true, ss);
	}
	return rc;
}

/*
 * The problems every common TLS stack (OpenSSL, GnuTLS, Go, Java, Python, curl) checks
 * while it verifies the chain, inside the handshake: a client that then sends its
 * ChangeCipherSpec and Finished took the certificate (DESIGN.md). The host name is
 * different: curl (7.x with OpenSSL) checks it only after the handshake, then closes
 * with a sealed alert and no request.
 */
#define CHAIN_PROBLEMS (TLS_CERT_EXPIRED | TLS_CERT_NOT_YET_VALID | TLS_CERT_SELF_SIGNED)

/*
 * client_accepted_bad_cert, for a certificate with one of the verify problems. A fatal
 * alert of the client's own in the clear is a refusal; its Finished after a chain
 * problem is acceptance. With only a name mismatch its next move decides:
 * application data is acceptance; a sealed alert, FIN or RST with no data before it
 * is refusal. A client that finished its handshake and then kept silent until the
 * flow ended took the certificate as well.
 */
static uint8_t accepted_bad(const struct flow_state *st, int c, uint32_t problems)
{
	const struct flow_dir *cd = &st->dir[c];

	if (!tls_cert_verify_problem(problems))
		return HS_TRI_NULL;
	if (st->oc.outcome == HS_OUTCOME_ALERT && st->oc.by == HS_SIDE_CLIENT && st->oc.has_alert)
		return HS_TRI_FALSE;
	if (!cd->tail.ccs)
		return HS_TRI_NULL;
	if (cd->tail.app_records || (problems & CHAIN_PROBLEMS))
		return HS_TRI_TRUE;
	if (cd->tail.alert || cd->fin || cd->rst)
		return HS_TRI_FALSE;
	return HS_TRI_TRUE;
}

/*
 * Hold the record of a handshake whose certificate only a client that checks names
 * after the handshake refuses, until the client's next move shows whether it went on
 * (accepted_bad()). Only while the
 * flow lives: its end reports what was seen.
 */
static bool cert_wait(const struct flow_state *st)
{
	int c = st->client < 0 ? 0 : st->client;
	const struct flow_dir *cd = &st->dir[c];

	/* Only a name mismatch leaves the answer to after the handshake. */
	if (!st->cert_judged || !tls_cert_verify_problem(st->cert_problems) ||
	    (st->cert_problems & CHAIN_PROBLEMS))
		return false;
	if (st->oc.outcome != HS_OUTCOME_ESTABLISHED || !cd->tail.ccs)
		return false;
	return !cd->tail.app_records && !cd->tail.alert && !cd->fin && !cd->rst;
}

/*
 * Both first flights are whole (TLS <= 1.2): judge the certificate now, once, so that
 * progress() knows whether to wait for the client's next move, and keep its
 * fingerprint for the record. @ch is the ClientHello when the caller has just parsed
 * it (the client's flight came second, the common order), else it is parsed here.
 */
static void cert_verdict(struct flow_table *ft, struct flow_state *st,
			 const struct tls_client_hello *ch)
{
	struct tls_stream *ss, *cs;
	int c = st->client < 0 ? 0 : st->client;
	const char *sni = NULL;

	if (parse_dir(ft, st, 1 - c, 1, true, &ss) == TLS_INVALID || ss->cert != TLS_SCERT_OK)
		return;
	if (!ch && parse_dir(ft, st, c, 0, false, &cs) != TLS_INVALID && cs->n_client_hellos > 0)
		ch = &cs->first;
	if (ch && ch->sni[0] && !ch->sni_truncated)
		sni = ch->sni;
	/* The cache keeps the entry from the walk above until its next lookup. */
	st->cert_problems = tls_cert_judge(ss->cert_info, sni, (int64_t)(st->sh_ns / NSEC_PER_SEC));
	memcpy(st->cert_sha256, ss->cert_info->sha256, sizeof(st->cert_sha256));
	st->cert_judged = true;
}

/* The record can never hold more than the decoder keeps of these. */
_Static_assert(HS_CERT_KEY_MAX >= TLS_CERT_KEY_MAX && HS_CERT_SIG_MAX >= TLS_CERT_SIG_MAX,
	       "hs_cert key/sig shorter than tls_cert_info's");

/*
 * The cert_* fields: the server's leaf as the last walk found it (@ss), judged against
 * this handshake's SNI and time. A chain that was cut or malformed leaves them null,
 * with the reason counted.
 */
static void cert_fields(struct flow_table *ft, const struct flow_state *st, int c,
			const struct tls_client_hello *ch, const struct tls_stream *ss,
			struct hs_record *rec)
{
	const struct tls_cert_info *ci = ss->cert_info;
	const char *sni = NULL;

	switch (ss->cert) {
	case TLS_SCERT_OK:
		break;
	case TLS_SCERT_CUT:
		rec->cert.state = HS_CERT_CUT;
		ft->stats.cert_truncated++;
		return;
	case TLS_SCERT_BAD:
		rec->cert.state = HS_CERT_BAD;
		ft->stats.cert_invalid++;
		return;
	default:
		return;
	}
	/* A name the hello parser cut is no name to judge the certificate against. */
	if (ch && ch->sni[0] && !ch->sni_truncated)
		sni = ch->sni;
	rec->cert.state = HS_CERT_OK;
	rec->cert.problems = tls_cert_judge(ci, sni, (int64_t)(rec->time_ns / NSEC_PER_SEC));
	rec->cert.accepted_bad = accepted_bad(st, c, rec->cert.problems);
	rec->cert.not_after = ci->not_after;
	util_strlcpy(rec->cert.subject, ci->subject, sizeof(rec->cert.subject));
	util_strlcpy(rec->cert.issuer, ci->issuer, sizeof(rec->cert.issuer));
	util_strlcpy(rec->cert.key, ci->key, sizeof(rec->cert.key));
	util_strlcpy(rec->cert.sig, ci->sig, sizeof(rec->cert.sig));
	util_strlcpy(rec->cert.sha256, ci->sha256_hex, sizeof(rec->cert.sha256));
}

/*
 * The offer policies judge: the ClientHello the server answered (the second after a
 * HelloRetryRequest), the server's choice and the certificate's key and signature.
 * Without a ClientHello the offer stays empty and every policy passes it.
 */
static void offer_fields(const struct tls_client_hello *ch, const struct tls_stream *ss,
			 struct hs_record *rec)
{
	if (!ch)
		return;
	tls_offer_from_hello(ch, &rec->offer);
	if (!ss)
		return;
	tls_offer_set_server(&rec->offer, &ss->sh, ss->have_ske_group ? &ss->ske_group : NULL);
	/* A name cert.c does not produce leaves that fact unknown: it is not judged. */
	if (rec->cert.state == HS_CERT_OK)
		tls_offer_set_cert_names(&rec->offer, rec->cert.key, rec->cert.sig);
}

/* One record for the TLS session, from whatever both directions hold now. */
static bool tls_record(struct flow_table *ft, struct flow_entry *e, struct hs_record *out)
{
	struct flow_state *st = e->st;
	struct tls_stream *cs, *ss;
	const struct tls_client_hello *last = NULL;
	bool have_ch, have_sh;
	struct hs_record *const rec = out;
	int c = st->client < 0 ? 0 : st->client;

	have_ch = parse_dir(ft, st, c, 0, false, &cs) != TLS_INVALID && cs->n_client_hellos > 0;
	have_sh = parse_server(ft, st, &ss) != TLS_INVALID && ss->have_server_hello;
	/*
	 * A STARTTLS the server said 220 to is a TLS session even when no hello followed
	 * (the client closed, reset or went quiet): a failed one, which a plaintext retry
	 * then falls back from.
	 */
	if (!have_ch && !have_sh && st->mode != MODE_STARTTLS)
		return false;

	record_base(e, st, rec);
	rec->kind = HS_KIND_TLS;
	/* Reported now: whatever the wire has not shown yet, it will not show. */
	flow_outcome_decide(st, true);
	rec->outcome = st->oc.outcome;
	rec->outcome_by = st->oc.by;
	rec->has_alert = st->oc.has_alert;
	rec->alert = st->oc.alert;
	if (st->mode == MODE_STARTTLS)
		smtp_fields(st, rec);
	rec->time_ns = st->sh_ns ? st->sh_ns : st->ch_ns ? st->ch_ns : e->last_ns;
	rec->starttls_smtp = st->mode == MODE_STARTTLS;
	if (have_ch) {
		/* After a HelloRetryRequest the second hello holds the versions in force. */
		last = cs->n_client_hellos > 1 ? &cs->last : &cs->first;
		util_strlcpy(rec->sni, cs->first.sni, sizeof(rec->sni));
		rec->offered_max = last->max_version;
		if (!ft->cfg.skip_fingerprints)
			tls_fingerprints(ft->fps, &cs->first, rec->ja3, rec->ja4);
	}
	if (have_sh) {
		rec->version = ss->sh.version;
		rec->cipher_id = ss->sh.cipher;
		rec->has_cipher = true;
		if (tls_version_is_13(ss->sh.version) && ss->sh.has_group) {
			rec->group = ss->sh.group;
			rec->has_group = true;
		} else if (ss->have_ske_group) {
			rec->group = ss->ske_group;
			rec->has_group = true;
		}
		if (ss->sh.has_alpn) {
			util_strlcpy(rec->alpn, ss->sh.alpn, sizeof(rec->alpn));
			rec->alpn_chosen = true;
		}
	}
	if (!rec->alpn[0] && have_ch && last->has_alpn)
		join_alpn(last, rec->alpn, sizeof(rec->alpn));
	if (have_sh)
		cert_fields(ft, st, c, have_ch ? &cs->first : NULL, ss, rec);
	offer_fields(have_ch ? last : NULL, have_sh ? ss : NULL, rec);
	return true;
}

bool flow_sess_record(struct flow_table *ft, struct flow_entry *e, struct hs_record *rec)
{
	struct flow_state *st = e->st;

	if (!st)
		return false;
	switch (st->mode) {
	case MODE_SMTP:
		return st->smtp_seen && plaintext_record(ft, e, rec);
	case MODE_TLS:
	case MODE_STARTTLS:
		return tls_record(ft, e, rec);
	default:
		return false;
	}
}

static bool dir_final(const struct flow_dir *dir)
{
	return dir->status != DIR_PENDING || dir->fin;
}

/* Walk direction @i's TLS bytes again when they grew; settle its status. */
/* The records after the hellos: scanned as they arrive, headers only. */
static void tail_dir(struct flow_state *st, struct flow_dir *dir)
{
	uint32_t start = dir->tls_off + dir->tail_off;

	if (dir->invalid || dir->r.contig <= start || dir->parsed == dir->r.contig)
		return;
	dir->parsed = dir->r.contig;
	/* Bytes that stop being TLS after a handshake end the evidence, nothing more. */
	if (tls_tail_scan(dir->r.buf + start, dir->r.contig - start, &dir->tail) == TLS_INVALID)
		dir->invalid = st->have_ch;
}

/* Walk direction @i's TLS bytes again when they grew; settle its status. */
static void tls_dir(struct flow_table *ft, struct flow_state *st, int i, uint64_t ts_ns)
{
	struct flow_dir *dir = &st->dir[i];
	bool from_client = i == st->client;
	struct tls_stream *ts;
	const uint8_t *p;
	uint32_t len;
	int rc;

	if (dir->status == DIR_DONE) {
		tail_dir(st, dir);
		return;
	}
	if (dir->status != DIR_PENDING || dir->r.contig <= dir->tls_off ||
	    dir->parsed == dir->r.contig)
		return;
	p = dir->r.buf + dir->tls_off;
	len = dir->r.contig - dir->tls_off;
	if (dir->parsed <= dir->tls_off) {
		/* First look: a record header tells TLS from anything else on the port. */
		if (len < 5 && dir->r.contig < ft->cfg.dir_cap && !dir->fin)
			return;
		if (!tls_looks_like_start(p, len)) {
			/*
			 * CCS, alert or application data: a session that began before
			 * the capture did. It is TLS, just not a handshake we can see.
			 * An alert from a server that never sent a hello is read as
			 * the tail, though: it answers the ClientHello.
			 */
			if (!from_client && st->have_ch && tls_looks_like_record(p, len)) {
				dir->status = DIR_DONE;
				tail_dir(st, dir);
				return;
			}
			if (!tls_looks_like_record(p, len))
				ft->stats.not_tls++;
			flow_sess_end(st, FLOW_ACT_DONE);
			return;
		}
	}
	/*
	 * Nothing but a malformed record could change the last walk's answer before
	 * @need bytes: a hello in 1-byte records is walked O(log n) times, not n. The last
	 * bytes the direction will get (cap, FIN) are always walked.
	 */
	if (len < dir->need && dir->r.contig < ft->cfg.dir_cap && !dir->fin)
		return;
	dir->parsed = dir->r.contig;
	ts = walk_dir(ft, st, i, from_client ? 0 : 1, false, &rc);
	dir->need = rc == TLS_TRUNCATED && ts->need <= UINT32_MAX ? (uint32_t)ts->need : 0;
	if (rc == TLS_INVALID) {
		ft->stats.invalid_tls++;
		/*
		 * A ClientHello never disappears: when the server's bytes are what the
		 * parser cannot read, the record keeps the client's side.
		 */
		if (!from_client && st->have_ch) {
			dir->invalid = true;
			dir->status = DIR_DONE;
			return;
		}
		flow_sess_end(st, FLOW_ACT_DONE);
		return;
	}
	if (from_client && ts->n_client_hellos > 0) {
		st->have_ch = true;
		if (!st->ch_ns)
			st->ch_ns = ts_ns;
	}
	if (!from_client && ts->have_server_hello) {
		st->have_sh = true;
		st->version = ts->sh.version;
		if (!st->sh_ns)
			st->sh_ns = ts_ns;
	}
	if (rc == TLS_OK) {
		dir->status = DIR_DONE;
		/*
		 * The client's walk may have gone past its ChangeCipherSpec (the hello
		 * parser reads on until the second flight): its tail starts at the end
		 * of its last ClientHello.
		 */
		dir->tail_off = (uint32_t)(from_client && ts->hello_end ? ts->hello_end
									 : ts->consumed);
		dir->parsed = 0;
		tail_dir(st, dir);
		if (st->have_sh && !tls_version_is_13(st->version) &&
		    st->dir[1 - i].status == DIR_DONE && !st->dir[1 - i].invalid)
			cert_verdict(ft, st,
				     from_client && ts->n_client_hellos ? &ts->first : NULL);
	} else if (dir->r.contig >= ft->cfg.dir_cap) {
		ft->stats.cap_reached++;
		dir->status = DIR_CAPPED;
	}
}

/* 25/587: SMTP text, or implicit TLS (a TLS or SSLv2 record byte first)? */
static void decide_mode(struct flow_entry *e, int d)
{
	struct flow_state *st = e->st;
	struct tls_cursor c;
	uint8_t b;

	if (!flow_smtp_port(server_port(e, st))) {
		st->mode = MODE_TLS;
		return;
	}
	cur_init(&c, st->dir[d].r.buf, st->dir[d].r.contig);
	b = cur_u8(&c);
	if (!cur_ok(&c))
		return;
	st->mode = tls_first_byte(b) ? MODE_TLS : MODE_SMTP;
}

static void progress(struct flow_table *ft, struct flow_entry *e, int d, uint64_t ts_ns)
{
	struct flow_state *st = e->st;

	if (st->mode == MODE_UNKNOWN)
		decide_mode(e, d);
	if (st->mode == MODE_SMTP)
		flow_smtp_run(ft, st, ts_ns);
	if (st->act != FLOW_ACT_MORE || (st->mode != MODE_TLS && st->mode != MODE_STARTTLS))
		return;
	tls_dir(ft, st, d, ts_ns);
	if (st->act == FLOW_ACT_MORE)
		tls_dir(ft, st, 1 - d, ts_ns);
	if (st->act != FLOW_ACT_MORE)
		return;
	/*
	 * A handshake (or a STARTTLS waiting for one) is followed until the wire shows how
	 * it ended (established, an alert, RST, FIN); then it is reported and nothing else
	 * interests us.
	 */
	if (st->have_ch || st->have_sh || st->mode == MODE_STARTTLS) {
		if (flow_outcome_decide(st, false) && !cert_wait(st))
			flow_sess_end(st, FLOW_ACT_EMIT);
	} else if (dir_final(&st->dir[0]) && dir_final(&st->dir[1])) {
		flow_sess_end(st, FLOW_ACT_EMIT);
	}
}

/*
 * Store the payload. When the buffer budget is spent the table has to make room
 * (evicting older flows) and feed the segment again: say how much is missing.
 */
static int store(struct flow_table *ft, struct flow_state *st, struct reasm *r, uint32_t seq,
		 const uint8_t *p, uint32_t len)
{
	int64_t rc;

	rc = flow_reasm_insert(r, &ft->mem, ft->cfg.dir_cap, seq, p, len);
	if (rc == -ENOBUFS) {
		/* Room for the whole segment: one doubling may not be enough. */
		st->need_mem = flow_reasm_need(r, ft->cfg.dir_cap,
					       r->want > r->alloc ? r->want : r->alloc + 1) - r->alloc;
		return -ENOBUFS;
	}
	if (rc == -ENOSPC) {
		ft->stats.ooo_dropped += len;
		return 0;
	}
	return rc < 0 ? (int)rc : 0;
}

enum flow_act flow_sess_segment(struct flow_table *ft, struct flow_entry *e, int d,
				const struct flow_segment *seg)
{
	struct flow_state *st = e->st;
	struct flow_dir *dir = &st->dir[d];
	uint32_t seq = seg->seq, before;
	uint32_t len = seg->payload ? seg->len : 0;
	bool syn = seg->tcp_flags & FLOW_TCP_SYN;

	if (syn) {
		/* The SYN takes one sequence number: data starts at seq + 1 (RFC 9293 3.4). */
		seq++;
		flow_reasm_set_isn(&dir->r, seq);
		st->syn_seen = true;
		if (st->client < 0)
			st->client = (int8_t)((seg->tcp_flags & FLOW_TCP_ACK) ? 1 - d : d);
	}
	if ((seg->tcp_flags & FLOW_TCP_ACK) && !syn)
		flow_reasm_ack(&st->dir[1 - d].r, seg->ack);
	if (len && st->client < 0)
		infer_roles(ft, st, d, seg->payload, len, seg->sport, seg->dport);
	before = dir->r.contig;
	/* Nothing below has run yet, so the table may feed this segment again. */
	if (len && store(ft, st, &dir->r, seq, seg->payload, len) == -ENOBUFS)
		return FLOW_ACT_NEED_MEM;
	/* Past the cap nothing more of this direction is seen (the outcome knows). */
	if (dir->r.contig >= ft->cfg.dir_cap)
		dir->full = true;
	if (seg->tcp_flags & (FLOW_TCP_FIN | FLOW_TCP_RST))
		dir->fin = true;
	if (seg->tcp_flags & FLOW_TCP_RST)
		dir->rst = true;
	else if ((seg->tcp_flags & FLOW_TCP_FIN) && st->first_fin < 0)
		st->first_fin = (int8_t)d;
	if (dir->r.contig > before || (dir->fin && st->mode != MODE_SMTP && st->client >= 0))
		progress(ft, e, d, seg->ts_ns);
	return st->act;
}

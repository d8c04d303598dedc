// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-connection session logic: which side is the client, the SMTP STARTTLS exchange
 * (RFC 3207 section 4, reply syntax RFC 5321 section 4.2), the hand-off of each
 * direction's TLS bytes to the stream parser, and the handshake record.
 *
 * All stream bytes are peer-controlled; they are read through struct tls_cursor.
 */
#include <errno.h>
#include <string.h>

#include "flow_int.h"
#include "tlsaudit/cursor.h"
#include "tlsaudit/util.h"

/* Longest SMTP line we wait for (RFC 5321 4.5.3.1.4 allows 1000 with CRLF). */
#define SMTP_LINE_MAX 2048

enum sniff { SNIFF_NONE, SNIFF_CH, SNIFF_SH };

static bool smtp_port(uint16_t port)
{
	return port == 25 || port == 587;
}

/*
 * Is this the start of a ClientHello or a ServerHello (RFC 8446 section 5.1 record
 * header, then the handshake type; RFC 6101 appendix E.2 for SSLv2 CLIENT-HELLO)?
 */
static enum sniff sniff_hello(const uint8_t *p, uint32_t len)
{
	struct tls_cursor c;
	uint8_t type, hs;

	cur_init(&c, p, len);
	type = cur_u8(&c);
	if (type == 0x16) {
		if (cur_u8(&c) != 3)
			return SNIFF_NONE;
		cur_skip(&c, 3);
		hs = cur_u8(&c);
		if (!cur_ok(&c))
			return SNIFF_NONE;
		return hs == 1 ? SNIFF_CH : hs == 2 ? SNIFF_SH : SNIFF_NONE;
	}
	if (type & 0x80) {
		cur_skip(&c, 1);
		if (cur_u8(&c) == 1 && cur_ok(&c))
			return SNIFF_CH;
	}
	return SNIFF_NONE;
}

/* Offline roles without a SYN: the ClientHello's sender, else the watched port serves. */
static void infer_roles(struct flow_table *ft, struct flow_state *st, int d, const uint8_t *p,
			uint32_t len, uint16_t sport, uint16_t dport)
{
	switch (sniff_hello(p, len)) {
	case SNIFF_CH:
		st->client = (int8_t)d;
		return;
	case SNIFF_SH:
		st->client = (int8_t)(1 - d);
		return;
	default:
		break;
	}
	if (flow_port_watched(&ft->cfg, dport))
		st->client = (int8_t)d;
	else if (flow_port_watched(&ft->cfg, sport))
		st->client = (int8_t)(1 - d);
	else if (smtp_port(sport))
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

static void emit(struct flow_table *ft, const struct hs_record *rec)
{
	ft->stats.records++;
	ft->record_cb(rec, ft->ctx);
}

static void emit_plaintext(struct flow_table *ft, struct flow_entry *e)
{
	struct hs_record rec;

	record_base(e, e->st, &rec);
	rec.kind = HS_KIND_PLAINTEXT_SMTP;
	rec.time_ns = e->st->smtp_ns ? e->st->smtp_ns : e->last_ns;
	ft->stats.plaintext_smtp++;
	emit(ft, &rec);
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

/* Parse direction @i from its first TLS byte into the table's parser state. */
static int parse_dir(struct flow_table *ft, struct flow_state *st, int i, struct tls_stream *ts)
{
	struct flow_dir *dir = &st->dir[i];

	memset(ts, 0, sizeof(*ts));
	if (dir->r.contig <= dir->tls_off)
		return TLS_TRUNCATED;
	return tls_stream_parse(dir->r.buf + dir->tls_off, dir->r.contig - dir->tls_off,
				i == st->client, ts, ft->scratch, ft->scratch_cap);
}

/* One record for the TLS session, from whatever both directions hold now. */
static void emit_tls(struct flow_table *ft, struct flow_entry *e)
{
	struct flow_state *st = e->st;
	struct tls_stream *cs = &ft->ts[0], *ss = &ft->ts[1];
	const struct tls_client_hello *last = NULL;
	bool have_ch, have_sh;
	struct hs_record rec;
	int c = st->client < 0 ? 0 : st->client;

	have_ch = parse_dir(ft, st, c, cs) != TLS_INVALID && cs->n_client_hellos > 0;
	have_sh = parse_dir(ft, st, 1 - c, ss) != TLS_INVALID && ss->have_server_hello;
	if (!have_ch && !have_sh)
		return;

	record_base(e, st, &rec);
	rec.kind = HS_KIND_TLS;
	rec.time_ns = st->sh_ns ? st->sh_ns : st->ch_ns ? st->ch_ns : e->last_ns;
	rec.starttls_smtp = st->mode == MODE_STARTTLS;
	if (have_ch) {
		/* After a HelloRetryRequest the second hello holds the versions in force. */
		last = cs->n_client_hellos > 1 ? &cs->last : &cs->first;
		util_strlcpy(rec.sni, cs->first.sni, sizeof(rec.sni));
		rec.offered_max = last->max_version;
		tls_ja3(&cs->first, rec.ja3);
		tls_ja4(&cs->first, rec.ja4);
	}
	if (have_sh) {
		rec.version = ss->sh.version;
		rec.cipher_id = ss->sh.cipher;
		rec.has_cipher = true;
		if (ss->sh.version == TLS_V_13 && ss->sh.has_group) {
			rec.group = ss->sh.group;
			rec.has_group = true;
		} else if (ss->have_ske_group) {
			rec.group = ss->ske_group;
			rec.has_group = true;
		}
		if (ss->sh.has_alpn)
			util_strlcpy(rec.alpn, ss->sh.alpn, sizeof(rec.alpn));
	}
	if (!rec.alpn[0] && have_ch && last->has_alpn)
		join_alpn(last, rec.alpn, sizeof(rec.alpn));
	emit(ft, &rec);
}

void flow_sess_finish(struct flow_table *ft, struct flow_entry *e)
{
	struct flow_state *st = e->st;

	if (!st)
		return;
	switch (st->mode) {
	case MODE_SMTP:
		if (st->smtp_seen)
			emit_plaintext(ft, e);
		break;
	case MODE_TLS:
	case MODE_STARTTLS:
		emit_tls(ft, e);
		break;
	default:
		break;
	}
}

/* Emit now and stop: nothing else in this connection interests us. */
static void complete(struct flow_table *ft, struct flow_entry *e)
{
	flow_sess_finish(ft, e);
	flow_entry_done(ft, e);
}

static bool dir_final(const struct flow_dir *dir)
{
	return dir->status != DIR_PENDING || dir->fin;
}

/* Walk direction @i's TLS bytes again when they grew; settle its status. */
static void tls_dir(struct flow_table *ft, struct flow_entry *e, int i, uint64_t ts_ns)
{
	struct flow_state *st = e->st;
	struct flow_dir *dir = &st->dir[i];
	bool from_client = i == st->client;
	struct tls_stream *ts = &ft->ts[from_client ? 0 : 1];
	const uint8_t *p;
	uint32_t len;
	int rc;

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
			struct tls_cursor c;
			uint8_t type;

			cur_init(&c, p, len);
			type = cur_u8(&c);
			/*
			 * CCS, alert or application data: a session that began before
			 * the capture did. It is TLS, just not a handshake we can see.
			 */
			if (!((type >= 0x14 && type <= 0x17) && cur_u8(&c) == 3 && cur_ok(&c)))
				ft->stats.not_tls++;
			flow_entry_done(ft, e);
			return;
		}
	}
	dir->parsed = dir->r.contig;
	memset(ts, 0, sizeof(*ts));
	rc = tls_stream_parse(p, len, from_client, ts, ft->scratch, ft->scratch_cap);
	if (rc == TLS_INVALID) {
		ft->stats.invalid_tls++;
		flow_entry_done(ft, e);
		return;
	}
	if (from_client && ts->n_client_hellos > 0 && !st->ch_ns)
		st->ch_ns = ts_ns;
	if (!from_client && ts->have_server_hello && !st->sh_ns)
		st->sh_ns = ts_ns;
	if (rc == TLS_OK) {
		dir->status = DIR_DONE;
	} else if (dir->r.contig >= ft->cfg.dir_cap) {
		ft->stats.cap_reached++;
		dir->status = DIR_CAPPED;
	}
}

/* The next complete line at *@off, as a cursor; false while the line is incomplete. */
static bool next_line(const struct reasm *r, uint32_t *off, struct tls_cursor *line)
{
	struct tls_cursor c;
	const uint8_t *nl;
	size_t n;

	if (*off >= r->contig)
		return false;
	cur_init(&c, r->buf + *off, r->contig - *off);
	nl = memchr(cur_ptr(&c), '\n', cur_left(&c));
	if (!nl)
		return false;
	n = (size_t)(nl - cur_ptr(&c)) + 1;
	cur_sub(&c, n, line);
	*off += (uint32_t)n;
	return true;
}

/* No newline in sight: wait, unless the line can never end within our bytes. */
static bool line_stuck(const struct flow_table *ft, const struct flow_dir *dir)
{
	uint32_t pending = dir->r.contig - dir->line_off;

	return pending > SMTP_LINE_MAX || dir->r.contig >= ft->cfg.dir_cap;
}

/* The stream is not the SMTP we expected: report it once and stop. */
static void smtp_give_up(struct flow_table *ft, struct flow_entry *e)
{
	if (e->st->smtp_seen)
		complete(ft, e);
	else {
		ft->stats.not_tls++;
		flow_entry_done(ft, e);
	}
}

static void smtp_saw(struct flow_state *st, uint64_t ts_ns)
{
	if (!st->smtp_seen) {
		st->smtp_seen = true;
		st->smtp_ns = ts_ns;
	}
}

/*
 * Server replies (RFC 5321 section 4.2): "NNN-text" continues a reply, "NNN text" or
 * "NNN" ends it. Reply k + 1 answers client command k (reply 0 is the greeting), so
 * the reply to STARTTLS is known by counting; a server cannot be ahead of the
 * commands it has seen, which keeps TLS bytes after the 220 from being read as lines.
 */
static bool smtp_server(struct flow_table *ft, struct flow_entry *e, uint64_t ts_ns)
{
	struct flow_state *st = e->st;
	int s = 1 - st->client;
	struct flow_dir *dir = &st->dir[s];
	struct tls_cursor line;
	uint8_t code[4];
	bool moved = false, last;
	uint32_t idx;

	while (st->mode == MODE_SMTP) {
		if (!st->in_reply && st->replies > st->cmds)
			break;
		if (!next_line(&dir->r, &dir->line_off, &line)) {
			if (line_stuck(ft, dir))
				smtp_give_up(ft, e);
			break;
		}
		moved = true;
		/* "NNN\n" is the shortest reply line; anything shorter zeroes @code. */
		cur_bytes(&line, code, 4);
		if (code[0] < '1' || code[0] > '5' || code[1] < '0' || code[1] > '9' ||
		    code[2] < '0' || code[2] > '9') {
			smtp_give_up(ft, e);
			return moved;
		}
		smtp_saw(st, ts_ns);
		last = code[3] != '-';
		st->in_reply = !last;
		if (!last)
			continue;
		idx = st->replies++;
		if (st->starttls_cmd < 0 || idx != (uint32_t)st->starttls_cmd + 1)
			continue;
		if (code[0] == '2') {
			/* RFC 3207 section 4: TLS starts right after the 220 reply. */
			st->mode = MODE_STARTTLS;
			dir->tls_off = dir->line_off;
			st->dir[st->client].tls_off = st->starttls_end;
			return true;
		}
		/* Refused (454, 501...): the client goes on in plaintext. */
		st->starttls_cmd = -1;
	}
	return moved;
}

/* The verb of a command line, upper-cased, at most @cap - 1 characters. */
static void smtp_verb(struct tls_cursor *line, char *verb, size_t cap)
{
	size_t n = 0;
	uint8_t b;

	while (cur_left(line) && n + 1 < cap) {
		b = cur_u8(line);
		if (b == ' ' || b == '\r' || b == '\n' || b == '\t')
			break;
		verb[n++] = (char)(b >= 'a' && b <= 'z' ? b - 'a' + 'A' : b);
	}
	verb[n] = '\0';
}

/* Client commands (RFC 5321 section 4.1); stops at STARTTLS until its reply is known. */
static bool smtp_client(struct flow_table *ft, struct flow_entry *e, uint64_t ts_ns)
{
	static const char *const mail_verbs[] = { "MAIL", "RCPT", "DATA", "BDAT", "QUIT" };
	struct flow_state *st = e->st;
	struct flow_dir *dir = &st->dir[st->client];
	struct tls_cursor line;
	bool moved = false;
	char verb[16];
	size_t i;

	while (st->mode == MODE_SMTP && st->starttls_cmd < 0) {
		if (!next_line(&dir->r, &dir->line_off, &line)) {
			if (line_stuck(ft, dir))
				smtp_give_up(ft, e);
			break;
		}
		moved = true;
		smtp_saw(st, ts_ns);
		st->cmds++;
		smtp_verb(&line, verb, sizeof(verb));
		if (!strcmp(verb, "STARTTLS")) {
			st->starttls_cmd = (int32_t)(st->cmds - 1);
			st->starttls_end = dir->line_off;
			break;
		}
		/*
		 * A mail transaction or QUIT without STARTTLS: this session stays in
		 * plaintext (RFC 3207 section 4.2 allows STARTTLS only before it).
		 */
		for (i = 0; i < ARRAY_SIZE(mail_verbs); i++) {
			if (!strcmp(verb, mail_verbs[i])) {
				complete(ft, e);
				return moved;
			}
		}
	}
	return moved;
}

static void smtp_run(struct flow_table *ft, struct flow_entry *e, uint64_t ts_ns)
{
	bool moved = true;

	while (moved && e->st && e->st->mode == MODE_SMTP) {
		moved = smtp_server(ft, e, ts_ns);
		if (e->st && e->st->mode == MODE_SMTP)
			moved |= smtp_client(ft, e, ts_ns);
	}
}

/* 25/587: SMTP text, or implicit TLS (a TLS or SSLv2 record byte first)? */
static void decide_mode(struct flow_entry *e, int d)
{
	struct flow_state *st = e->st;
	struct tls_cursor c;
	uint8_t b;

	if (!smtp_port(server_port(e, st))) {
		st->mode = MODE_TLS;
		return;
	}
	cur_init(&c, st->dir[d].r.buf, st->dir[d].r.contig);
	b = cur_u8(&c);
	if (!cur_ok(&c))
		return;
	st->mode = ((b >= 0x14 && b <= 0x17) || (b & 0x80)) ? MODE_TLS : MODE_SMTP;
}

static void progress(struct flow_table *ft, struct flow_entry *e, int d, uint64_t ts_ns)
{
	struct flow_state *st = e->st;

	if (st->mode == MODE_UNKNOWN)
		decide_mode(e, d);
	if (st->mode == MODE_SMTP)
		smtp_run(ft, e, ts_ns);
	if (!e->st || (st->mode != MODE_TLS && st->mode != MODE_STARTTLS))
		return;
	tls_dir(ft, e, d, ts_ns);
	if (e->st)
		tls_dir(ft, e, 1 - d, ts_ns);
	if (e->st && dir_final(&st->dir[0]) && dir_final(&st->dir[1]))
		complete(ft, e);
}

/* Store the payload; when the buffer budget is spent, older flows make room. */
static int store(struct flow_table *ft, struct flow_entry *e, struct reasm *r, uint32_t seq,
		 const uint8_t *p, uint32_t len)
{
	int64_t rc;
	int tries;

	for (tries = 0; tries < 8; tries++) {
		rc = flow_reasm_insert(r, &ft->mem, ft->cfg.dir_cap, seq, p, len);
		if (rc != -ENOBUFS)
			break;
		if (flow_mem_reserve(ft, flow_reasm_need(r, ft->cfg.dir_cap, r->alloc + 1) -
						 r->alloc)) {
			/* Even alone this flow does not fit: give it up, counted. */
			ft->stats.evicted_flows++;
			complete(ft, e);
			return -ENOBUFS;
		}
	}
	if (rc == -ENOSPC) {
		ft->stats.ooo_dropped += len;
		return 0;
	}
	return rc < 0 ? (int)rc : 0;
}

void flow_sess_segment(struct flow_table *ft, struct flow_entry *e, int d,
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
	if (len && st->client < 0)
		infer_roles(ft, st, d, seg->payload, len, seg->sport, seg->dport);
	before = dir->r.contig;
	if (len && store(ft, e, &dir->r, seq, seg->payload, len) == -ENOBUFS)
		return;
	if (seg->tcp_flags & (FLOW_TCP_FIN | FLOW_TCP_RST))
		dir->fin = true;
	if (dir->r.contig > before || (dir->fin && st->mode != MODE_SMTP && st->client >= 0))
		progress(ft, e, d, seg->ts_ns);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * TLS record layer walk for one direction of a connection (RFC 8446 section 5.1,
 * RFC 5246 section 6.2.1): reassembles handshake messages across records and hands
 * the hellos, the ServerKeyExchange and ServerHelloDone to the hello parsers, and,
 * when the caller asks for it, the server's Certificate message to cert.c.
 *
 * The caller re-runs the walk over the whole contiguous prefix as it grows, so this
 * file allocates nothing, stops as soon as the direction is done and decides "not
 * TLS" from the first bytes that prove it (plain HTTP on 443 fails on byte 0).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "tlsaudit/cert.h"
#include "tlsaudit/cursor.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/tls_wire.h"

#define HS_HDR 4
/* Far more records than any hello flight needs; bounds the walk on hostile input. */
#define TLS_MAX_RECORDS 4096

/* What a handshake message did to the direction. */
enum step {
	STEP_MORE,    /* keep walking */
	STEP_DONE,    /* nothing else of interest follows */
	STEP_INVALID, /* malformed or out of order */
};

/* One handshake message being gathered across records. */
struct hs_asm {
	uint8_t hdr[HS_HDR];
	unsigned int hdr_n;
	uint32_t mlen; /* body length from the header */
	uint32_t got;  /* body bytes seen so far */
	bool store;    /* body is parsed, so it is kept in scratch */
};

struct walk {
	struct tls_stream *st;
	bool from_client;
	bool after_ccs; /* a ChangeCipherSpec was seen: later handshake records may be sealed */
	uint8_t *scratch;
	size_t scratch_cap;
	struct tls_cert_cache *certs; /* NULL: the Certificate message is only walked past */
	struct hs_asm a;
};

static enum step client_msg(struct walk *w, uint8_t type, const uint8_t *body, size_t len)
{
	struct tls_stream *st = w->st;
	struct tls_client_hello *ch;

	if (type != HT_CLIENT_HELLO)
		/* The client's second flight (ClientKeyExchange, Certificate, ...) began. */
		return st->n_client_hellos ? STEP_DONE : STEP_INVALID;
	if (st->n_client_hellos >= 2)
		/* No third ClientHello in the clear exists; stop rather than guess. */
		return STEP_DONE;
	ch = st->n_client_hellos == 0 ? &st->first : &st->last;
	if (tls_parse_client_hello(body, len, ch) != TLS_OK)
		/*
		 * After a ChangeCipherSpec a TLS 1.2 Finished is sealed and may start with
		 * a byte that looks like a ClientHello: that ends the direction, it is no
		 * proof of garbage.
		 */
		return w->after_ccs ? STEP_DONE : STEP_INVALID;
	if (st->n_client_hellos == 0)
		memcpy(&st->last, &st->first, sizeof(st->last));
	st->n_client_hellos++;
	return STEP_MORE;
}

/*
 * The server's Certificate (RFC 5246 7.4.2), whole in @body: its leaf, decoded through
 * the cache while the body is still at hand (scratch holds the next message next).
 * A malformed list or an undecodable leaf leaves no certificate, only the reason.
 */
static void read_cert(struct walk *w, const uint8_t *body, size_t len)
{
	struct tls_stream *st = w->st;
	struct tls_cert_chain chain;

	st->cert = TLS_SCERT_BAD;
	if (tls_cert_msg_leaf(body, len, &chain) != TLS_OK || !chain.n_certs) {
		/* An empty list is only for a client without a certificate (7.4.6). */
		st->cert_err = -EBADMSG;
		return;
	}
	st->cert_n = chain.n_certs;
	st->cert_list_len = (uint32_t)chain.list_len;
	st->cert_err = tls_cert_cache_get(w->certs, chain.leaf, chain.leaf_len, &st->cert_info);
	if (!st->cert_err)
		st->cert = TLS_SCERT_OK;
}

static enum step server_msg(struct walk *w, uint8_t type, const uint8_t *body, size_t len)
{
	struct tls_stream *st = w->st;
	uint16_t group;

	if (!st->have_server_hello) {
		if (type != HT_SERVER_HELLO)
			return STEP_INVALID;
		if (tls_parse_server_hello(body, len, &st->sh) != TLS_OK)
			return STEP_INVALID;
		if (st->sh.hrr) {
			/* RFC 8446 4.1.4: a real ServerHello follows the client's retry. */
			if (st->hrr)
				return STEP_INVALID;
			st->hrr = true;
			return STEP_MORE;
		}
		st->have_server_hello = true;
		/* From TLS 1.3 on, everything after the ServerHello is encrypted. */
		return st->sh.version >= TLS_V_13 ? STEP_DONE : STEP_MORE;
	}
	switch (type) {
	case HT_SERVER_KEY_EXCHANGE:
		if (tls_cipher_ecdhe(st->sh.cipher) &&
		    tls_parse_ske_group(body, len, &group) == TLS_OK) {
			st->ske_group = group;
			st->have_ske_group = true;
		}
		return STEP_DONE;
	case HT_SERVER_HELLO_DONE:
		return STEP_DONE;
	case HT_SERVER_HELLO:
		return STEP_INVALID;
	case HT_CERTIFICATE:
		/* Only one per handshake; @body is NULL when it was not kept. */
		if (w->certs && body && st->cert == TLS_SCERT_NONE)
			read_cert(w, body, len);
		return STEP_MORE;
	default:
		/* CertificateStatus, CertificateRequest: walk past. */
		return STEP_MORE;
	}
}

static enum step handle_msg(struct walk *w, uint8_t type, const uint8_t *body, size_t len)
{
	return w->from_client ? client_msg(w, type, body, len) : server_msg(w, type, body, len);
}

/*
 * The hellos and the ServerKeyExchange are always read; the server's Certificate only
 * when a cache is given (the session asks once, for the record, not on every re-walk).
 */
static bool want_body(const struct walk *w, uint8_t type)
{
	if (type == HT_CERTIFICATE)
		return w->certs && !w->from_client && w->st->have_server_hello;
	return type == HT_CLIENT_HELLO || type == HT_SERVER_HELLO ||
	       type == HT_SERVER_KEY_EXCHANGE;
}

/* Feed one handshake record's fragment into the message assembler. */
static enum step feed(struct walk *w, const uint8_t *p, size_t n)
{
	struct hs_asm *a = &w->a;
	enum step s;
	size_t k;

	while (n > 0) {
		if (a->hdr_n < HS_HDR) {
			/* The common case: a whole message inside this fragment, no copy. */
			if (a->hdr_n == 0 && n >= HS_HDR) {
				size_t mlen = ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];

				if (mlen <= n - HS_HDR) {
					s = handle_msg(w, p[0], p + HS_HDR, mlen);
					if (s != STEP_MORE)
						return s;
					p += HS_HDR + mlen;
					n -= HS_HDR + mlen;
					continue;
				}
			}
			a->hdr[a->hdr_n++] = *p++;
			n--;
			if (a->hdr_n < HS_HDR)
				continue;
			a->mlen = ((uint32_t)a->hdr[1] << 16) | ((uint32_t)a->hdr[2] << 8) | a->hdr[3];
			a->got = 0;
			a->store = want_body(w, a->hdr[0]);
			if (a->store && a->mlen > w->scratch_cap) {
				/*
				 * A chain longer than the bytes kept per direction can
				 * never be whole: say it was cut, and walk on.
				 */
				if (a->hdr[0] == HT_CERTIFICATE) {
					a->store = false;
					/* Only the first Certificate counts. */
					if (w->st->cert == TLS_SCERT_NONE)
						w->st->cert = TLS_SCERT_CUT;
				} else {
					/* Bigger than any hello the caller is prepared to hold. */
					return STEP_INVALID;
				}
			}
		} else {
			k = a->mlen - a->got;
			if (k > n)
				k = n;
			if (a->store)
				memcpy(w->scratch + a->got, p, k);
			a->got += (uint32_t)k;
			p += k;
			n -= k;
		}
		if (a->got == a->mlen) {
			s = handle_msg(w, a->hdr[0], a->store ? w->scratch : NULL, a->mlen);
			a->hdr_n = 0;
			if (s != STEP_MORE)
				return s;
		}
	}
	return STEP_MORE;
}

/* A non-handshake record: what it means depends on what came before. */
static int other_record(struct walk *w, uint8_t type)
{
	struct tls_stream *st = w->st;
	bool started = w->from_client ? st->n_client_hellos > 0 : st->have_server_hello;

	if (type == CT_CHANGE_CIPHER_SPEC) {
		/* Middlebox-compatible TLS 1.3 sends one after a hello or an HRR (D.4). */
		if (!started && !st->hrr)
			return TLS_INVALID;
		if (!w->from_client && st->have_server_hello)
			return TLS_OK;
		w->after_ccs = true;
		return TLS_TRUNCATED;
	}
	if (w->a.hdr_n != 0)
		/* A handshake message may not be interleaved with other records (5.1). */
		return TLS_INVALID;
	if (type == CT_ALERT && !w->from_client)
		/* A server refusing the hello: done, with or without a ServerHello. */
		return TLS_OK;
	return started || st->hrr ? TLS_OK : TLS_INVALID;
}

/*
 * After a client's ChangeCipherSpec only a retried ClientHello (RFC 8446 D.4) is still
 * in the clear; a TLS 1.2 Finished is sealed. A record that does not open with a whole
 * ClientHello is taken as sealed, which ends the direction.
 */
static bool sealed_after_ccs(const struct walk *w, const uint8_t *p, size_t n)
{
	size_t mlen;

	if (!w->from_client || !w->after_ccs || w->a.hdr_n != 0)
		return false;
	if (n < HS_HDR || p[0] != HT_CLIENT_HELLO)
		return true;
	mlen = ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
	return mlen > n - HS_HDR;
}

/*
 * message_left - the fewest bytes still to come of the handshake message being
 * gathered (its header's rest, then its body), 0 between messages.
 */
static size_t message_left(const struct hs_asm *a)
{
	if (a->hdr_n == 0)
		return 0;
	if (a->hdr_n < HS_HDR)
		return HS_HDR - a->hdr_n;
	return a->mlen - a->got;
}

/*
 * The walk stops for want of bytes at @off, the first record not walked whole: keep
 * what it knew there (@after_ccs as it was before that record) for tls_stream_resume().
 * A message cut there whose body went to scratch cannot be resumed: the caller's
 * scratch may hold another walk's bytes by then.
 */
static int stop_truncated(struct walk *w, size_t need, bool after_ccs, int nrec)
{
	struct tls_stream *st = w->st;
	const struct hs_asm *a = &w->a;

	st->need = need;
	st->resume.ok = !(a->store && a->got > 0);
	st->resume.after_ccs = after_ccs;
	st->resume.hdr_n = (uint8_t)a->hdr_n;
	memcpy(st->resume.hdr, a->hdr, sizeof(st->resume.hdr));
	st->resume.store = a->store;
	st->resume.mlen = a->mlen;
	st->resume.got = a->got;
	st->resume.nrec = (uint32_t)nrec;
	return TLS_TRUNCATED;
}

/*
 * Walk the records of @buf from @off, a record boundary (0, or where an earlier walk of
 * a shorter prefix stopped, with @w and *w->st as it left them and @nrec records
 * walked): the same answer as a walk from 0, as each record is read alone, in order.
 */
static int walk_records(struct walk *w, const uint8_t *buf, size_t len, size_t off, int nrec)
{
	struct tls_stream *st = w->st;
	struct tls_cursor c, frag;
	int ret;

	cur_init(&c, buf, len);
	cur_skip(&c, off);
	while (cur_left(&c) > 0) {
		const uint8_t *h = cur_ptr(&c);
		size_t left = cur_left(&c), rlen;
		bool ccs_before = w->after_ccs;
		uint8_t type;

		if (nrec++ >= TLS_MAX_RECORDS)
			return TLS_INVALID;
		if (tls_record_header_bad(h, left))
			return TLS_INVALID;
		if (left < TLS_RECORD_HDR)
			return stop_truncated(w, c.off + TLS_RECORD_HDR, ccs_before, nrec - 1);
		type = cur_u8(&c);
		cur_skip(&c, 2);
		rlen = cur_u16(&c);
		if (type != CT_HANDSHAKE) {
			/* The header alone decides; the body is never read. */
			ret = other_record(w, type);
			if (ret != TLS_TRUNCATED)
				return ret;
		} else if (rlen == 0) {
			/* RFC 8446 5.1: no zero-length handshake fragments. */
			return TLS_INVALID;
		}
		if (rlen > cur_left(&c))
			return stop_truncated(w, c.off + rlen, ccs_before, nrec - 1);
		cur_sub(&c, rlen, &frag);
		if (type == CT_HANDSHAKE && sealed_after_ccs(w, cur_ptr(&frag), rlen)) {
			st->consumed = c.off;
			return TLS_OK;
		}
		if (type == CT_HANDSHAKE) {
			int hellos = st->n_client_hellos;
			enum step s = feed(w, cur_ptr(&frag), rlen);

			if (st->n_client_hellos != hellos)
				st->hello_end = c.off;
			switch (s) {
			case STEP_DONE:
				st->consumed = c.off;
				return TLS_OK;
			case STEP_INVALID:
				return TLS_INVALID;
			case STEP_MORE:
				break;
			}
		}
		st->consumed = c.off;
	}
	return stop_truncated(w, len + TLS_RECORD_HDR + message_left(&w->a), w->after_ccs, nrec);
}

/*
 * The walk stopped for want of bytes: inside the server's Certificate message? Then the
 * chain was cut (the per-direction cap, a lost segment, the end of the connection), and
 * the record says so rather than pass it off as "no certificate".
 */
static void note_cut(const struct walk *w, const uint8_t *buf, size_t len)
{
	struct tls_stream *st = w->st;
	const uint8_t *p = buf + st->consumed; /* the first record not walked whole */
	size_t n = len - st->consumed;
	uint8_t next;

	if (st->cert != TLS_SCERT_NONE || !st->have_server_hello)
		return;
	if (w->a.hdr_n > 0)
		next = w->a.hdr[0];
	else if (n > TLS_RECORD_HDR && p[0] == CT_HANDSHAKE)
		next = p[TLS_RECORD_HDR];
	else
		return;
	if (next == HT_CERTIFICATE)
		st->cert = TLS_SCERT_CUT;
}

/* The walk after @buf[0] said it is not SSLv2: from @off with what @w holds. */
static int walk(struct walk *w, const uint8_t *buf, size_t len, size_t off, int nrec)
{
	struct tls_stream *st = w->st;
	int ret;

	st->resume.ok = false;
	ret = walk_records(w, buf, len, off, nrec);
	if (ret == TLS_OK)
		st->done = true;
	else if (ret == TLS_TRUNCATED && w->certs)
		note_cut(w, buf, len);
	return ret;
}

static void walk_init(struct walk *w, bool from_client, struct tls_stream *st, uint8_t *scratch,
		      size_t scratch_cap, struct tls_cert_cache *certs)
{
	memset(w, 0, sizeof(*w));
	w->st = st;
	w->from_client = from_client;
	w->scratch = scratch;
	w->scratch_cap = scratch ? scratch_cap : 0;
	w->certs = from_client ? NULL : certs;
}

static int parse(const uint8_t *buf, size_t len, bool from_client, struct tls_stream *st,
		 uint8_t *scratch, size_t scratch_cap, struct tls_cert_cache *certs)
{
	struct walk w;
	int ret;

	/* Once done, a longer prefix cannot change the answer: the re-run is free. */
	if (st->done)
		return TLS_OK;
	tls_stream_reset(st);
	if (len == 0)
		return TLS_TRUNCATED;
	if (buf[0] & 0x80) {
		/* SSLv2-format hello (RFC 6101 E.2): only a client opens with one. */
		if (!from_client)
			return TLS_INVALID;
		ret = tls_parse_sslv2_hello(buf, len, &st->first);
		if (ret != TLS_OK)
			return ret;
		memcpy(&st->last, &st->first, sizeof(st->last));
		st->n_client_hellos = 1;
		st->consumed = 2 + ((((size_t)buf[0] & 0x7f) << 8) | buf[1]);
		st->hello_end = st->consumed;
		st->done = true;
		return TLS_OK;
	}
	walk_init(&w, from_client, st, scratch, scratch_cap, certs);
	return walk(&w, buf, len, 0, 0);
}

int tls_stream_resume(const uint8_t *buf, size_t len, bool from_client, struct tls_stream *st,
		      uint8_t *scratch, size_t scratch_cap, struct tls_cert_cache *certs)
{
	struct walk w;

	if (st->done)
		return TLS_OK;
	if (!st->resume.ok || st->consumed > len)
		return parse(buf, len, from_client, st, scratch, scratch_cap, certs);
	walk_init(&w, from_client, st, scratch, scratch_cap, certs);
	w.after_ccs = st->resume.after_ccs;
	w.a.hdr_n = st->resume.hdr_n;
	memcpy(w.a.hdr, st->resume.hdr, sizeof(w.a.hdr));
	w.a.store = st->resume.store;
	w.a.mlen = st->resume.mlen;
	w.a.got = st->resume.got;
	return walk(&w, buf, len, st->consumed, (int)st->resume.nrec);
}

void tls_stream_reset(struct tls_stream *st)
{
	memset(st, 0, offsetof(struct tls_stream, first));
}

int tls_stream_parse(const uint8_t *buf, size_t len, bool from_client, struct tls_stream *st,
		     uint8_t *scratch, size_t scratch_cap)
{
	return parse(buf, len, from_client, st, scratch, scratch_cap, NULL);
}

int tls_stream_parse_cert(const uint8_t *buf, size_t len, struct tls_stream *st, uint8_t *scratch,
			  size_t scratch_cap, struct tls_cert_cache *certs)
{
	return parse(buf, len, false, st, scratch, scratch_cap, certs);
}

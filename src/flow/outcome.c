// SPDX-License-Identifier: GPL-2.0-only
/*
 * How a TLS handshake ended, from what crossed the wire after the hellos: an alert, the
 * second flight and ChangeCipherSpec of both sides, a RST, a FIN, or nothing at all.
 * "established" is only said on evidence that both sides finished; short of that,
 * the wire's last word (an alert, RST, FIN, silence) is the outcome.
 *
 * TLS 1.2 and older: in a full handshake the client finishes first and the server's
 * ChangeCipherSpec answers it, so the record waits for the server's: an alert in the
 * clear (a server refusing the client's certificate), RST or FIN before it is the
 * outcome (tls12() lists what else shows the server finished). In an abbreviated
 * handshake (resumption) the server finishes first and the client's ChangeCipherSpec
 * ends it.
 *
 * TLS 1.3 seals everything after the ServerHello: records are told apart by their
 * order and length only. A sealed alert is 2 bytes, the inner content type and the
 * AEAD tag: 19 bytes with AES-GCM or ChaCha20-Poly1305, 11 with AES-CCM_8; a record of
 * at most SEALED_ALERT_MAX bytes is alert-sized. The client's application_data records
 * count from the ServerHello on (0-RTT early data, sent before it, does not):
 *   - a client record alert-sized, its only one, with nothing after it before the
 *     client's FIN or RST or the end of the flow: the client's alert;
 *   - no client record yet, and the server's only record after its hello alert-sized,
 *     then its FIN or RST or the end of the flow: the server's alert;
 *   - the client's flight (a record longer than an alert, or two records) that opens
 *     with a Finished (FINISHED_MIN to FINISHED_MAX bytes): established, as the server
 *     asked for no certificate and has nothing left to refuse;
 *   - any other flight (a Certificate first: the server asked for one and may refuse
 *     it): the server's first record after it, alert-sized and alone, then a FIN or RST
 *     from either side or the end of the flow with no client record after it, is the
 *     server's alert; anything else from the server, or nothing before a FIN, RST or
 *     the end, is established.
 * The description of a sealed alert stays unknown. An alert is always a side's last
 * record, which is why a short record followed by more is none.
 */
#include "flow_int.h"
#include "tlsaudit/cursor.h"
#include "tlsaudit/tls_wire.h"

/* 2 + 1 + 16 and a few bytes of record padding; a Finished is never this short. */
#define SEALED_ALERT_MAX 24
/*
 * A sealed Finished: 4 + 32 or 48 bytes of verify_data + 1 + a tag of 8 or 16 (45, 53
 * or 69 with the TLS 1.3 suites), and a little record padding. A client Certificate
 * holding a certificate is far longer; an empty one (8 + 1 + tag) is shorter.
 */
#define FINISHED_MIN 45
#define FINISHED_MAX 96
#define ALERT_CLOSE_NOTIFY 0
#define ALERT_LEVEL_WARNING 1

static void decide(struct flow_state *st, enum hs_outcome o, enum hs_side by)
{
	st->oc.decided = true;
	st->oc.outcome = (uint8_t)o;
	st->oc.by = (uint8_t)by;
}

static enum hs_side side_of(const struct flow_state *st, int d)
{
	return d == st->client ? HS_SIDE_CLIENT : HS_SIDE_SERVER;
}

/* Records begun at stream offset @off or later count under @s; the first mark holds. */
static void mark_at(struct flow_since *s, uint32_t off)
{
	if (s->set)
		return;
	s->set = true;
	s->mark = off;
}

/* Records of @dir from now on count under @s. */
static void mark(struct flow_since *s, const struct flow_dir *dir)
{
	mark_at(s, dir->r.contig);
}

/*
 * A record header at stream offset @pos: count it under every mark it is past. The
 * rules only tell none, one and more apart, so the count stops at UINT8_MAX.
 */
static void count(struct flow_dir *dir, uint32_t pos, uint16_t len)
{
	struct flow_since *s;
	int k;

	for (k = 0; k < 2; k++) {
		s = &dir->since[k];
		if (!s->set || pos < s->mark)
			continue;
		if (!s->n)
			s->first_len = len;
		if (s->n < UINT8_MAX)
			s->n++;
	}
}

/*
 * Walk the record headers of @dir's tail that arrived since the last walk (headers
 * only: the bodies are peer bytes we never need). A record counts from its header, as
 * a length is evidence enough; the walk stops at bytes that are no record.
 */
static void walk(struct flow_dir *dir)
{
	uint32_t start = dir->tls_off + dir->tail_off;
	struct tls_cursor c;
	uint16_t len;
	uint8_t type;

	if (dir->status != DIR_DONE || dir->invalid)
		return;
	if (dir->rec_pos < start)
		dir->rec_pos = start;
	while (dir->rec_pos < dir->r.contig) {
		cur_init(&c, dir->r.buf + dir->rec_pos, dir->r.contig - dir->rec_pos);
		if (tls_record_header_bad(cur_ptr(&c), cur_left(&c)))
			return;
		type = cur_u8(&c);
		cur_skip(&c, 2);
		len = cur_u16(&c);
		if (!cur_ok(&c))
			return;
		if (type == CT_APPLICATION_DATA && !dir->rec_open)
			count(dir, dir->rec_pos, len);
		if (len > cur_left(&c)) {
			dir->rec_open = true;
			return;
		}
		dir->rec_open = false;
		dir->rec_pos += TLS_RECORD_HDR + len;
	}
}

/* Nothing of @dir after its last whole record: no record begun, no stray byte. */
static bool quiet(const struct flow_dir *dir)
{
	return !dir->rec_open && dir->rec_pos >= dir->r.contig;
}

/* An alert in the clear from direction @d: the end, unless it is only a warning. */
static bool clear_alert(struct flow_state *st, int d)
{
	const struct tls_tail *t = &st->dir[d].tail;

	if (!t->alert || t->alert_sealed)
		return false;
	if (t->alert_desc == ALERT_CLOSE_NOTIFY) {
		decide(st, HS_OUTCOME_CLOSED, side_of(st, d));
		return true;
	}
	/* Warnings (unrecognized_name, no_renegotiation) do not end a handshake. */
	if (t->alert_level == ALERT_LEVEL_WARNING)
		return false;
	decide(st, HS_OUTCOME_ALERT, side_of(st, d));
	st->oc.has_alert = true;
	st->oc.alert = t->alert_desc;
	return true;
}

enum move {
	MOVE_NONE,  /* no sealed record from the client after the ServerHello yet */
	MOVE_SHORT, /* one, alert-sized */
	MOVE_ON,    /* its flight: a record longer than an alert, or more than one */
};

static enum move client_move(const struct flow_dir *cd)
{
	const struct flow_since *h = &cd->since[SINCE_HELLO];

	if (!h->n)
		return MOVE_NONE;
	if (h->n > 1 || h->first_len > SEALED_ALERT_MAX)
		return MOVE_ON;
	return MOVE_SHORT;
}

/* The client's one short sealed record, its last before its FIN or RST or the end. */
static bool client_sealed_alert(struct flow_state *st, const struct flow_dir *cd, bool final)
{
	if (client_move(cd) != MOVE_SHORT || !quiet(cd) || !(cd->fin || final))
		return false;
	decide(st, HS_OUTCOME_ALERT, HS_SIDE_CLIENT);
	return true;
}

/* What a rule says: decided, or let the transport's end decide, or wait for more. */
enum rule {
	RULE_DECIDED,
	RULE_PASS,
	RULE_WAIT,
};

/* TLS 1.3: the sealed records of both sides, in order (see the top of this file). */
static enum rule tls13(struct flow_state *st, int c, int s, bool final)
{
	struct flow_dir *cd = &st->dir[c], *sd = &st->dir[s];
	const struct flow_since *h = &sd->since[SINCE_HELLO], *after = &sd->since[SINCE_PEER];
	const struct flow_since *h_c = &cd->since[SINCE_HELLO];
	bool ended = final || cd->fin || sd->fin;

	switch (client_move(cd)) {
	case MOVE_NONE:
		if (h->n == 1 && h->first_len <= SEALED_ALERT_MAX && quiet(sd) &&
		    (sd->fin || final)) {
			decide(st, HS_OUTCOME_ALERT, HS_SIDE_SERVER);
			return RULE_DECIDED;
		}
		return RULE_PASS;
	case MOVE_SHORT:
		return client_sealed_alert(st, cd, final) ? RULE_DECIDED : RULE_PASS;
	case MOVE_ON:
		break;
	}
	/*
	 * A flight that opens with a Finished: the server asked for no certificate (the
	 * client's Certificate, empty or not, would come first, RFC 8446 4.4.2), so nothing
	 * is left for it to refuse. Otherwise the server's answer decides: its records
	 * from here on.
	 */
	if (h_c->first_len >= FINISHED_MIN && h_c->first_len <= FINISHED_MAX) {
		decide(st, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE);
		return RULE_DECIDED;
	}
	mark(&sd->since[SINCE_PEER], sd);
	if (after->n > 1 || (after->n == 1 && after->first_len > SEALED_ALERT_MAX)) {
		decide(st, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE);
		return RULE_DECIDED;
	}
	if (after->n == 1) {
		/* One short record: an alert only if it is the last word. */
		mark(&cd->since[SINCE_PEER], cd);
		if (cd->since[SINCE_PEER].n) {
			/* The client answered it: no alert. */
			decide(st, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE);
			return RULE_DECIDED;
		}
		if (!quiet(sd)) {
			/* More began after it, if only a byte: it was not the last word. */
			decide(st, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE);
			return RULE_DECIDED;
		}
		if (!ended)
			return RULE_WAIT;
		decide(st, HS_OUTCOME_ALERT, HS_SIDE_SERVER);
		return RULE_DECIDED;
	}
	/* The server said nothing more: it had finished, and refused nothing. */
	if (!ended)
		return RULE_WAIT;
	decide(st, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE);
	return RULE_DECIDED;
}

/*
 * TLS 1.2 and older. The client's ChangeCipherSpec is established once the server has
 * finished too: its own ChangeCipherSpec (after the client's in a full handshake,
 * before it in an abbreviated one); or the client's records after its Finished, which
 * it sends only once the server's Finished arrived (TLS False Start aside):
 * application data, or a sealed alert (a client that checks the host name after the
 * handshake); or the server's bytes are past what is kept, where its ChangeCipherSpec
 * cannot be seen; or the flow ends with nothing after the client's Finished from
 * either side (no refusal; a RST or FIN would have decided already). Until then an
 * alert in the clear, a RST or a FIN is the outcome.
 */
static enum rule tls12(struct flow_state *st, int c, int s, bool final)
{
	const struct flow_dir *cd = &st->dir[c], *sd = &st->dir[s];
	const struct tls_tail *ct = &cd->tail, *stl = &sd->tail;
	bool finished = ct->ccs && ct->sealed_handshakes;
	bool sealed_alert = ct->alert && ct->alert_sealed;

	if (ct->ccs && (stl->ccs || ct->app_records ||
			(finished && (sealed_alert || sd->full || final)))) {
		decide(st, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE);
		return RULE_DECIDED;
	}
	/* Alerts sealed after a side's own ChangeCipherSpec: their text is unknown. */
	if (stl->alert && stl->alert_sealed) {
		decide(st, HS_OUTCOME_ALERT, HS_SIDE_SERVER);
		return RULE_DECIDED;
	}
	if (ct->alert && ct->alert_sealed) {
		decide(st, HS_OUTCOME_ALERT, HS_SIDE_CLIENT);
		return RULE_DECIDED;
	}
	return RULE_PASS;
}

/* The wire's last word when nothing in the records decided it. */
static bool transport_end(struct flow_state *st, bool final)
{
	int d;

	for (d = 0; d < 2; d++) {
		if (st->dir[d].rst) {
			decide(st, HS_OUTCOME_RESET, side_of(st, d));
			return true;
		}
	}
	if (st->first_fin >= 0) {
		decide(st, HS_OUTCOME_CLOSED, side_of(st, st->first_fin));
		return true;
	}
	if (final)
		decide(st, HS_OUTCOME_TIMEOUT, HS_SIDE_NONE);
	return final;
}

bool flow_outcome_decide(struct flow_state *st, bool final)
{
	int c = st->client < 0 ? 0 : st->client, s = 1 - c;
	struct flow_dir *cd = &st->dir[c], *sd = &st->dir[s];
	enum rule r = RULE_PASS;

	if (st->oc.decided)
		return true;
	/*
	 * The client's records count from the server's first answer on: what it sent
	 * before (0-RTT early data) was sent before it knew the server's choice.
	 */
	if (st->have_sh || sd->invalid)
		mark(&cd->since[SINCE_HELLO], cd);
	mark_at(&sd->since[SINCE_HELLO], 0);
	walk(cd);
	walk(sd);
	/* The server's refusal comes first: a client alert after it only echoes it. */
	if (clear_alert(st, s) || clear_alert(st, c))
		return true;
	if (st->have_sh && tls_version_is_13(st->version)) {
		r = tls13(st, c, s, final);
	} else if (st->have_sh) {
		r = tls12(st, c, s, final);
	} else if (sd->invalid) {
		/* A ServerHello we cannot read: the client's flight (or alert) says it. */
		if (client_move(cd) == MOVE_ON) {
			decide(st, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE);
			return true;
		}
		if (client_sealed_alert(st, cd, final))
			return true;
	}
	if (r == RULE_DECIDED)
		return true;
	if (r == RULE_WAIT)
		return false;
	return transport_end(st, final);
}

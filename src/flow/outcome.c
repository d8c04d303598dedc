// SPDX-License-Identifier: GPL-2.0-only
/*
 * How a TLS handshake ended, from what crossed the wire after the hellos: an alert, the
 * second flight and ChangeCipherSpec of both sides, a RST, a FIN, or nothing at all.
 * "established" is only said on positive evidence; without it, the wire's last word
 * (RST, FIN, silence) is the outcome.
 *
 * TLS 1.3 seals everything after the ServerHello. The client's first sealed record is
 * its Finished (at least 32 + 4 + 1 bytes plus a 16-byte tag: 53) unless the client
 * refuses the server, when it is an alert: 2 bytes, the inner content type and the tag
 * (19 with AES-GCM or ChaCha20-Poly1305, 11 with CCM_8). A first record of at most
 * SEALED_ALERT_MAX bytes is taken as that alert (its description stays unknown).
 */
#include "flow_int.h"
#include "tlsaudit/tls_wire.h"

/* 2 + 1 + 16 and a few bytes of record padding; a Finished is never this short. */
#define SEALED_ALERT_MAX 24
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

/* TLS 1.3: the client's first sealed record says Finished (established) or alert. */
static bool tls13_client(struct flow_state *st, int c)
{
	const struct tls_tail *t = &st->dir[c].tail;

	if (!t->app_records)
		return false;
	if (t->first_app_len <= SEALED_ALERT_MAX)
		decide(st, HS_OUTCOME_ALERT, HS_SIDE_CLIENT);
	else
		decide(st, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE);
	return true;
}

/*
 * TLS 1.2 and older: the client's ChangeCipherSpec and sealed Finished mean it took the
 * server's first flight, certificate included, and finished its side; in an abbreviated
 * handshake (resumption) the server finished first. A server that then refuses the
 * client's Finished is too rare to wait a round trip for.
 */
static bool tls12(struct flow_state *st, int c, int s)
{
	const struct flow_dir *cd = &st->dir[c], *sd = &st->dir[s];

	if (cd->tail.ccs && (cd->tail.sealed_handshakes || cd->tail.app_records || sd->tail.ccs)) {
		decide(st, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE);
		return true;
	}
	/* Alerts sealed after a side's own ChangeCipherSpec: their text is unknown. */
	if (sd->tail.alert && sd->tail.alert_sealed) {
		decide(st, HS_OUTCOME_ALERT, HS_SIDE_SERVER);
		return true;
	}
	if (cd->tail.alert && cd->tail.alert_sealed) {
		decide(st, HS_OUTCOME_ALERT, HS_SIDE_CLIENT);
		return true;
	}
	return false;
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
	const struct tls_tail *ts = &st->dir[s].tail;

	if (st->oc.decided)
		return true;
	/* The server's refusal comes first: a client alert after it only echoes it. */
	if (clear_alert(st, s) || clear_alert(st, c))
		return true;
	if (st->have_sh && tls_version_is_13(st->version)) {
		if (tls13_client(st, c))
			return true;
		/* A server that seals one short record and ends: its alert, text unknown. */
		if ((final || st->dir[s].fin || st->dir[s].rst) && ts->app_records == 1 &&
		    ts->first_app_len <= SEALED_ALERT_MAX) {
			decide(st, HS_OUTCOME_ALERT, HS_SIDE_SERVER);
			return true;
		}
	} else if (st->have_sh) {
		if (tls12(st, c, s))
			return true;
	} else if (st->dir[s].invalid && st->dir[c].tail.app_records) {
		/* A ServerHello we cannot read, and the client went on regardless. */
		if (tls13_client(st, c))
			return true;
	}
	return transport_end(st, final);
}

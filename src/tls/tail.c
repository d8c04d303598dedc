// SPDX-License-Identifier: GPL-2.0-only
/*
 * What follows the hellos in one direction, read from record headers only (RFC 8446
 * section 5.1, RFC 5246 section 6.2.1): ChangeCipherSpec, alerts (their level and
 * description while they are in the clear), handshake records of the second flight
 * and application data records with their lengths. This is the evidence for how the
 * handshake ended; no record body other than an alert's two bytes is ever read.
 *
 * The scan is incremental: it resumes at the first record it has not walked whole.
 */
#include "tlsaudit/cursor.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/tls_wire.h"

/* Bounds the walk on hostile input, like the hello walk. */
#define TAIL_MAX_RECORDS 4096

/* The first alert that can end a handshake: a fatal one, or close_notify. */
static void saw_alert(struct tls_tail *t, const uint8_t *body, size_t len)
{
	/* A warning (unrecognized_name, no_renegotiation) gives way to what follows it. */
	if (t->alert && (t->alert_sealed || t->alert_level != 1 || t->alert_desc == 0))
		return;
	t->alert = true;
	t->alert_sealed = t->ccs || len != 2;
	if (!t->alert_sealed) {
		t->alert_level = body[0];
		t->alert_desc = body[1];
	}
}

int tls_tail_scan(const uint8_t *buf, size_t len, struct tls_tail *t)
{
	struct tls_cursor c, body;
	uint8_t type;
	size_t rlen;

	if (t->scanned > len)
		return TLS_INVALID;
	cur_init(&c, buf + t->scanned, len - t->scanned);
	while (cur_left(&c) > 0) {
		if (t->records >= TAIL_MAX_RECORDS)
			return TLS_OK;
		if (tls_record_header_bad(cur_ptr(&c), cur_left(&c)))
			return TLS_INVALID;
		if (cur_left(&c) < TLS_RECORD_HDR)
			return TLS_TRUNCATED;
		type = cur_u8(&c);
		cur_skip(&c, 2);
		rlen = cur_u16(&c);
		if (rlen > cur_left(&c)) {
			/* A record's header is evidence enough for its type and length. */
			if (type == CT_APPLICATION_DATA && !t->app_records) {
				t->first_app_len = (uint32_t)rlen;
				t->app_records = 1;
				t->app_partial = true;
			}
			return TLS_TRUNCATED;
		}
		cur_sub(&c, rlen, &body);
		switch (type) {
		case CT_CHANGE_CIPHER_SPEC:
			t->ccs = true;
			break;
		case CT_ALERT:
			saw_alert(t, cur_ptr(&body), rlen);
			break;
		case CT_HANDSHAKE:
			t->handshakes++;
			if (t->ccs)
				t->sealed_handshakes++;
			break;
		case CT_APPLICATION_DATA:
			if (t->app_partial)
				t->app_partial = false;
			else if (!t->app_records++)
				t->first_app_len = (uint32_t)rlen;
			break;
		}
		t->records++;
		t->scanned += TLS_RECORD_HDR + rlen;
	}
	return TLS_TRUNCATED;
}

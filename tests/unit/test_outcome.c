// SPDX-License-Identifier: GPL-2.0-only
/*
 * How a handshake ended (DESIGN.md `outcome`, `outcome_by`, `alert`): every transition
 * the flow layer knows, driven through the flow table with TLS bytes built here, and
 * the SMTP lifecycle (`smtp_tls`, `mx_host`) and the fallback to plaintext.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "tlsaudit/fallback.h"
#include "tlsaudit/flow.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"

#define MAX_RECS 8
#define T0 (1700000000ULL * NSEC_PER_SEC)

struct sink {
	struct hs_record rec[MAX_RECS];
	int n;
};

static void on_record(const struct hs_record *rec, void *ctx)
{
	struct sink *s = ctx;

	assert_true(s->n < MAX_RECS);
	s->rec[s->n++] = *rec;
}

/* A byte buffer the TLS builders append to. */
struct buf {
	uint8_t b[4096];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put8(struct buf *b, unsigned int v)
{
	uint8_t x = (uint8_t)v;

	put(b, &x, 1);
}

static void put16(struct buf *b, unsigned int v)
{
	put8(b, v >> 8);
	put8(b, v);
}

static void put24(struct buf *b, unsigned int v)
{
	put8(b, v >> 16);
	put16(b, v);
}

/* One TLS record of @type around @body. */
static void record(struct buf *out, uint8_t type, const struct buf *body)
{
	put8(out, type);
	put16(out, 0x0303);
	put16(out, (unsigned int)body->n);
	put(out, body->b, body->n);
}

/* A ClientHello record offering @max (TLS 1.3 through supported_versions), SNI a.test. */
static void client_hello(struct buf *out, uint16_t max)
{
	struct buf hs = { 0 }, body = { 0 }, ext = { 0 };
	uint8_t random[32] = { 1 };

	put16(&body, max >= TLS_V_13 ? TLS_V_12 : max);
	put(&body, random, sizeof(random));
	put8(&body, 0);
	put16(&body, 4);
	put16(&body, max >= TLS_V_13 ? 0x1301 : 0xc02f);
	put16(&body, 0xc013);
	put8(&body, 1);
	put8(&body, 0);
	/* server_name "a.test" */
	put16(&ext, 0);
	put16(&ext, 11);
	put16(&ext, 9);
	put8(&ext, 0);
	put16(&ext, 6);
	put(&ext, "a.test", 6);
	if (max >= TLS_V_13) {
		put16(&ext, 43); /* supported_versions */
		put16(&ext, 5);
		put8(&ext, 4);
		put16(&ext, TLS_V_13);
		put16(&ext, TLS_V_12);
	}
	put16(&body, (unsigned int)ext.n);
	put(&body, ext.b, ext.n);
	put8(&hs, 1);
	put24(&hs, (unsigned int)body.n);
	put(&hs, body.b, body.n);
	record(out, 22, &hs);
}

/* The ServerHello record alone, choosing @version (TLS 1.3 through supported_versions). */
static void server_hello_only(struct buf *out, uint16_t version)
{
	struct buf hs = { 0 }, body = { 0 };
	uint8_t random[32] = { 2 };

	put16(&body, version >= TLS_V_13 ? TLS_V_12 : version);
	put(&body, random, sizeof(random));
	put8(&body, 0);
	put16(&body, version >= TLS_V_13 ? 0x1301 : 0xc02f);
	put8(&body, 0);
	if (version >= TLS_V_13) {
		put16(&body, 6);
		put16(&body, 43);
		put16(&body, 2);
		put16(&body, TLS_V_13);
	}
	put8(&hs, 2);
	put24(&hs, (unsigned int)body.n);
	put(&hs, body.b, body.n);
	record(out, 22, &hs);
}

/* A ServerHello choosing @version; before TLS 1.3 with the end of the first flight. */
static void server_hello(struct buf *out, uint16_t version)
{
	server_hello_only(out, version);
	if (version < TLS_V_13) {
		/* ServerHelloDone ends the server's first flight. */
		struct buf done = { 0 };

		put8(&done, 14);
		put24(&done, 0);
		record(out, 22, &done);
	}
}

static void alert(struct buf *out, uint8_t level, uint8_t desc)
{
	struct buf a = { 0 };

	put8(&a, level);
	put8(&a, desc);
	record(out, 21, &a);
}

static void ccs(struct buf *out)
{
	struct buf c = { 0 };

	put8(&c, 1);
	record(out, 20, &c);
}

/* A sealed record of @type and @len bytes (Finished, application data). */
static void sealed(struct buf *out, uint8_t type, size_t len)
{
	struct buf s = { 0 };

	memset(s.b, 0x5a, len);
	s.n = len;
	record(out, type, &s);
}

/* One TCP connection: client 10.0.0.1:40000 -> server 10.0.0.2:@port, offline. */
struct conn {
	struct flow_table *ft;
	uint16_t port;
	uint32_t off[2]; /* [0] client, [1] server: bytes sent */
	uint64_t ts;
};

/* A raw segment: @seq and @ack as given (TCP Fast Open tests). */
static void raw(struct conn *c, bool from_client, uint32_t seq, uint32_t ack, uint8_t flags,
		const struct buf *data)
{
	struct flow_segment s;

	memset(&s, 0, sizeof(s));
	c->ts += NSEC_PER_MSEC;
	s.ts_ns = c->ts;
	s.family = AF_INET;
	memcpy(from_client ? s.saddr : s.daddr, (uint8_t[]){ 10, 0, 0, 1 }, 4);
	memcpy(from_client ? s.daddr : s.saddr, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	s.sport = from_client ? 40000 : c->port;
	s.dport = from_client ? c->port : 40000;
	s.seq = seq;
	s.ack = ack;
	s.tcp_flags = flags;
	s.payload = data ? data->b : NULL;
	s.len = data ? (uint32_t)data->n : 0;
	flow_table__segment(c->ft, &s);
}

static void seg(struct conn *c, bool from_client, const struct buf *data, uint8_t flags)
{
	int i = from_client ? 0 : 1;
	uint32_t seq = (from_client ? 1001 : 5001) + c->off[i];

	c->off[i] += (data ? (uint32_t)data->n : 0) + ((flags & FLOW_TCP_FIN) ? 1 : 0);
	raw(c, from_client, seq, 0, flags | FLOW_TCP_ACK, data);
}

/* A connection whose directions keep @cap bytes each (0: the default). */
static void open_conn_cap(struct conn *c, struct sink *s, uint16_t port, uint32_t cap)
{
	struct flow_config cfg;

	memset(c, 0, sizeof(*c));
	memset(s, 0, sizeof(*s));
	flow_config_default(&cfg);
	cfg.max_flows = 64;
	if (cap)
		cfg.dir_cap = cap;
	c->ft = flow_table__new(&cfg, on_record, NULL, s);
	assert_non_null(c->ft);
	c->port = port;
	c->ts = T0;
	raw(c, true, 1000, 0, FLOW_TCP_SYN, NULL);
	raw(c, false, 5000, 1001, FLOW_TCP_SYN | FLOW_TCP_ACK, NULL);
}

static void open_conn(struct conn *c, struct sink *s, uint16_t port)
{
	open_conn_cap(c, s, port, 0);
}

static void send_tls(struct conn *c, bool from_client, void (*build)(struct buf *))
{
	struct buf b = { 0 };

	build(&b);
	seg(c, from_client, &b, 0);
}

static void ch12(struct buf *b)
{
	client_hello(b, TLS_V_12);
}

static void ch10(struct buf *b)
{
	client_hello(b, TLS_V_10);
}

static void ch13(struct buf *b)
{
	client_hello(b, TLS_V_13);
}

static void sh12(struct buf *b)
{
	server_hello(b, TLS_V_12);
}

static void sh13(struct buf *b)
{
	server_hello(b, TLS_V_13);
}

/* The client's second flight: ClientKeyExchange, ChangeCipherSpec, sealed Finished. */
static void client_finish12(struct buf *b)
{
	struct buf cke = { 0 };

	put8(&cke, 16);
	put24(&cke, 33);
	memset(cke.b + cke.n, 0x20, 33);
	cke.n += 33;
	record(b, 22, &cke);
	ccs(b);
	sealed(b, 22, 40);
}

/* The server's answer to it in a full handshake: ChangeCipherSpec, sealed Finished. */
static void server_finish12(struct buf *b)
{
	ccs(b);
	sealed(b, 22, 40);
}

/*
 * The client's second flight when the server asked for its certificate: Certificate,
 * ClientKeyExchange, CertificateVerify, ChangeCipherSpec, sealed Finished.
 */
static void client_cert_finish12(struct buf *b)
{
	struct buf hs = { 0 };

	put8(&hs, 11);
	put24(&hs, 300);
	memset(hs.b + hs.n, 0x30, 300);
	hs.n += 300;
	put8(&hs, 16);
	put24(&hs, 33);
	memset(hs.b + hs.n, 0x20, 33);
	hs.n += 33;
	put8(&hs, 15);
	put24(&hs, 72);
	memset(hs.b + hs.n, 0x40, 72);
	hs.n += 72;
	record(b, 22, &hs);
	ccs(b);
	sealed(b, 22, 40);
}

/* A TLS 1.3 server's sealed flight after its hello: EncryptedExtensions to Finished. */
static void server_flight13(struct buf *b)
{
	ccs(b);
	sealed(b, 23, 30);
	sealed(b, 23, 900);
	sealed(b, 23, 280);
	sealed(b, 23, 69);
}

/* A TLS 1.3 client's flight with its certificate: Certificate, CertificateVerify, Finished. */
static void client_cert_flight13(struct buf *b)
{
	ccs(b);
	sealed(b, 23, 700);
	sealed(b, 23, 280);
	sealed(b, 23, 53);
}

static void expect(const struct sink *s, enum hs_outcome o, enum hs_side by, int alert_desc)
{
	assert_int_equal(s->n, 1);
	assert_int_equal(s->rec[0].kind, HS_KIND_TLS);
	assert_string_equal(s->rec[0].sni, "a.test");
	assert_int_equal(s->rec[0].outcome, o);
	assert_int_equal(s->rec[0].outcome_by, by);
	assert_int_equal(s->rec[0].has_alert, alert_desc >= 0);
	if (alert_desc >= 0)
		assert_int_equal(s->rec[0].alert, alert_desc);
}

static void finish_conn(struct conn *c)
{
	flow_table__flush(c->ft);
	flow_table__free(c->ft);
}

/* The provider's cut-off: a TLS 1.0 hello answered by protocol_version, no ServerHello. */
static void test_refused_by_server(void **state)
{
	struct sink s;
	struct conn c;
	struct buf a = { 0 };

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch10);
	alert(&a, 2, 70);
	seg(&c, false, &a, 0);
	/* Reported at once: nothing later can change it. */
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_SERVER, 70);
	assert_int_equal(s.rec[0].offered_max, TLS_V_10);
	assert_int_equal(s.rec[0].version, 0);
	assert_false(hs_legacy(&s.rec[0]));
	assert_true(hs_failed(&s.rec[0]));
	finish_conn(&c);
}

/* A client that verifies certificates refuses the server's (TLS 1.2: in the clear). */
static void test_refused_by_client(void **state)
{
	struct sink s;
	struct conn c;
	struct buf a = { 0 };

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	send_tls(&c, false, sh12);
	assert_int_equal(s.n, 0);
	alert(&a, 2, 48);
	seg(&c, true, &a, 0);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_CLIENT, 48);
	assert_int_equal(s.rec[0].version, TLS_V_12);
	finish_conn(&c);
}

/*
 * TLS 1.2, full handshake: the client finishes first; only the server's ChangeCipherSpec
 * and Finished after it say the server took the client's flight.
 */
static void test_established_tls12(void **state)
{
	struct sink s;
	struct conn c;

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	send_tls(&c, false, sh12);
	send_tls(&c, true, client_finish12);
	assert_int_equal(s.n, 0);
	send_tls(&c, false, server_finish12);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	assert_false(hs_failed(&s.rec[0]));
	finish_conn(&c);
}

/* Resumption: the server finishes first, the client's ChangeCipherSpec ends it. */
static void test_established_tls12_abbreviated(void **state)
{
	struct sink s;
	struct conn c;
	struct buf b = { 0 };

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	server_hello_only(&b, TLS_V_12);
	server_finish12(&b);
	seg(&c, false, &b, 0);
	assert_int_equal(s.n, 0);
	b.n = 0;
	server_finish12(&b); /* the client's ChangeCipherSpec and Finished look the same */
	seg(&c, true, &b, 0);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	finish_conn(&c);
}

/*
 * A server that asks for a client certificate and refuses the one it got (openssl
 * s_server -Verify 1 -verify_return_error): unknown_ca in the clear after the client's
 * ChangeCipherSpec and Finished. Or it resets, or closes, instead.
 */
static void test_refused_after_client_finished_tls12(void **state)
{
	struct sink s;
	struct conn c;
	struct buf a = { 0 };

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	send_tls(&c, false, sh12);
	send_tls(&c, true, client_cert_finish12);
	assert_int_equal(s.n, 0);
	alert(&a, 2, 48);
	seg(&c, false, &a, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_SERVER, 48);
	assert_true(hs_failed(&s.rec[0]));
	finish_conn(&c);

	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	send_tls(&c, false, sh12);
	send_tls(&c, true, client_cert_finish12);
	seg(&c, false, NULL, FLOW_TCP_RST);
	expect(&s, HS_OUTCOME_RESET, HS_SIDE_SERVER, -1);
	finish_conn(&c);

	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	send_tls(&c, false, sh12);
	send_tls(&c, true, client_cert_finish12);
	seg(&c, false, NULL, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_CLOSED, HS_SIDE_SERVER, -1);
	finish_conn(&c);

	/* The client gives up waiting for the server's Finished. */
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	send_tls(&c, false, sh12);
	send_tls(&c, true, client_cert_finish12);
	seg(&c, true, NULL, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_CLOSED, HS_SIDE_CLIENT, -1);
	finish_conn(&c);
}

/*
 * What else shows the server finished: the client's data after its Finished (it sends
 * it only once the server's Finished arrived), or silence from both sides to the end.
 */
static void test_tls12_server_finished_unseen(void **state)
{
	struct sink s;
	struct conn c;
	struct buf b = { 0 };

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	send_tls(&c, false, sh12);
	client_finish12(&b);
	sealed(&b, 23, 100);
	seg(&c, true, &b, 0);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	finish_conn(&c);

	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	send_tls(&c, false, sh12);
	send_tls(&c, true, client_finish12);
	assert_int_equal(s.n, 0);
	flow_table__flush(c.ft);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	flow_table__free(c.ft);
}

/* TLS 1.3: the client's first sealed record is its Finished (>= 53 bytes) ... */
static void test_established_tls13(void **state)
{
	struct sink s;
	struct conn c;
	struct buf b = { 0 };

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch13);
	send_tls(&c, false, sh13);
	ccs(&b);
	sealed(&b, 23, 53);
	seg(&c, true, &b, 0);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	assert_int_equal(s.rec[0].version, TLS_V_13);
	finish_conn(&c);
}

/* ... or a sealed alert (2 + 1 + 16 bytes): refused, the description unknown. */
static void test_sealed_alert_tls13(void **state)
{
	struct sink s;
	struct conn c;
	struct buf b = { 0 };

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch13);
	send_tls(&c, false, sh13);
	ccs(&b);
	sealed(&b, 23, 19);
	seg(&c, true, &b, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_CLIENT, -1);
	finish_conn(&c);
}

/* One sealed record of @len bytes from one side, with @flags. */
static void send_sealed(struct conn *c, bool from_client, size_t len, uint8_t flags)
{
	struct buf b = { 0 };

	sealed(&b, 23, len);
	seg(c, from_client, &b, flags);
}

/* A TLS 1.3 handshake up to the client's flight with a certificate. */
static void tls13_to_client_cert(struct conn *c, struct sink *s)
{
	struct buf b = { 0 };

	open_conn(c, s, 443);
	send_tls(c, true, ch13);
	server_hello(&b, TLS_V_13);
	server_flight13(&b);
	seg(c, false, &b, 0);
	send_tls(c, true, client_cert_flight13);
	/* The server may still refuse the certificate: nothing is reported yet. */
	assert_int_equal(s->n, 0);
}

/*
 * TLS 1.3 with a client certificate the server refuses (s_server -Verify 1
 * -verify_return_error): the server's sealed alert, alone, then its FIN or RST.
 */
static void test_refused_after_client_flight_tls13(void **state)
{
	struct sink s;
	struct conn c;

	(void)state;
	tls13_to_client_cert(&c, &s);
	send_sealed(&c, false, 19, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_SERVER, -1);
	assert_int_equal(s.rec[0].version, TLS_V_13);
	assert_true(hs_failed(&s.rec[0]));
	finish_conn(&c);

	/* AES-CCM_8: an 11-byte alert; the RST comes in a segment of its own. */
	tls13_to_client_cert(&c, &s);
	send_sealed(&c, false, 11, 0);
	assert_int_equal(s.n, 0);
	seg(&c, false, NULL, FLOW_TCP_RST);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_SERVER, -1);
	finish_conn(&c);

	/* The client reads the alert and closes first. */
	tls13_to_client_cert(&c, &s);
	send_sealed(&c, false, 19, 0);
	seg(&c, true, NULL, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_SERVER, -1);
	finish_conn(&c);

	/* The flow ends (capture, idle timeout) after it. */
	tls13_to_client_cert(&c, &s);
	send_sealed(&c, false, 19, 0);
	assert_int_equal(s.n, 0);
	flow_table__flush(c.ft);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_SERVER, -1);
	flow_table__free(c.ft);
}

/* The server took the client's certificate: anything but a lone short last record. */
static void test_accepted_client_flight_tls13(void **state)
{
	struct sink s;
	struct conn c;

	(void)state;
	/* Its session tickets. */
	tls13_to_client_cert(&c, &s);
	send_sealed(&c, false, 250, 0);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	finish_conn(&c);

	/* A short record, then more from the server. */
	tls13_to_client_cert(&c, &s);
	send_sealed(&c, false, 19, 0);
	send_sealed(&c, false, 19, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	finish_conn(&c);

	/* A short record with the next one begun (two bytes of its header). */
	tls13_to_client_cert(&c, &s);
	{
		struct buf b = { 0 };

		sealed(&b, 23, 19);
		put(&b, "\x17\x03", 2);
		seg(&c, false, &b, 0);
	}
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	finish_conn(&c);

	/* A short record the client answers: no alert. */
	tls13_to_client_cert(&c, &s);
	send_sealed(&c, false, 19, 0);
	send_sealed(&c, true, 40, 0);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	finish_conn(&c);

	/* Nothing from the server before the client closes: nothing was refused. */
	tls13_to_client_cert(&c, &s);
	seg(&c, true, NULL, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	finish_conn(&c);
}

/* TLS 1.3: a server that seals one short record right after its hello and closes. */
static void test_server_sealed_alert_tls13(void **state)
{
	struct sink s;
	struct conn c;
	struct buf b = { 0 };

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch13);
	server_hello(&b, TLS_V_13);
	ccs(&b);
	sealed(&b, 23, 19);
	seg(&c, false, &b, 0);
	assert_int_equal(s.n, 0);
	seg(&c, false, NULL, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_SERVER, -1);
	finish_conn(&c);

	/* The flow ends right after it: the same. */
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch13);
	b.n = 0;
	server_hello(&b, TLS_V_13);
	sealed(&b, 23, 19);
	seg(&c, false, &b, 0);
	assert_int_equal(s.n, 0);
	flow_table__flush(c.ft);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_SERVER, -1);
	flow_table__free(c.ft);

	/* One long record is no alert; nor a short one with more begun after it. */
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch13);
	b.n = 0;
	server_hello(&b, TLS_V_13);
	sealed(&b, 23, 900);
	seg(&c, false, &b, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_CLOSED, HS_SIDE_SERVER, -1);
	finish_conn(&c);
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch13);
	b.n = 0;
	server_hello(&b, TLS_V_13);
	sealed(&b, 23, 19);
	put(&b, "\x17\x03", 2);
	seg(&c, false, &b, FLOW_TCP_RST);
	expect(&s, HS_OUTCOME_RESET, HS_SIDE_SERVER, -1);
	finish_conn(&c);

	/* A short first record followed by the rest of its flight is no alert. */
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch13);
	b.n = 0;
	server_hello(&b, TLS_V_13);
	sealed(&b, 23, 23); /* EncryptedExtensions, empty */
	sealed(&b, 23, 900);
	seg(&c, false, &b, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_CLOSED, HS_SIDE_SERVER, -1);
	finish_conn(&c);
}

/*
 * 0-RTT: a resumed client sends early data (3 bytes: a 20-byte record) before the
 * ServerHello. It is no alert, and does not stand for the client's flight.
 */
static void test_early_data_tls13(void **state)
{
	struct sink s;
	struct conn c;
	struct buf b = { 0 };

	(void)state;
	open_conn(&c, &s, 443);
	client_hello(&b, TLS_V_13);
	ccs(&b);
	sealed(&b, 23, 20);
	seg(&c, true, &b, 0);
	b.n = 0;
	server_hello(&b, TLS_V_13);
	sealed(&b, 23, 30);
	sealed(&b, 23, 69);
	seg(&c, false, &b, 0);
	assert_int_equal(s.n, 0);
	/* The server took no early data: the client's Finished alone, then it closes. */
	send_sealed(&c, true, 53, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	finish_conn(&c);

	/* Early data taken: EndOfEarlyData (21 bytes), Finished; then session tickets. */
	open_conn(&c, &s, 443);
	b.n = 0;
	client_hello(&b, TLS_V_13);
	ccs(&b);
	sealed(&b, 23, 20);
	seg(&c, true, &b, 0);
	b.n = 0;
	server_hello(&b, TLS_V_13);
	sealed(&b, 23, 30);
	sealed(&b, 23, 69);
	seg(&c, false, &b, 0);
	b.n = 0;
	sealed(&b, 23, 21);
	sealed(&b, 23, 53);
	seg(&c, true, &b, 0);
	assert_int_equal(s.n, 0);
	send_sealed(&c, false, 250, 0);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	finish_conn(&c);

	/*
	 * Early data whose record header was cut by the segment before the ServerHello:
	 * it began before it, and still does not count.
	 */
	open_conn(&c, &s, 443);
	b.n = 0;
	client_hello(&b, TLS_V_13);
	put(&b, "\x17\x03", 2);
	seg(&c, true, &b, 0);
	send_tls(&c, false, sh13);
	b.n = 0;
	put(&b, "\x03\x00\x10", 3);
	memset(b.b + b.n, 0x5a, 16);
	b.n += 16;
	seg(&c, true, &b, 0);
	assert_int_equal(s.n, 0);
	send_sealed(&c, true, 19, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_CLIENT, -1);
	finish_conn(&c);

	/* Early data, then the client's sealed alert and FIN: the alert counts. */
	open_conn(&c, &s, 443);
	b.n = 0;
	client_hello(&b, TLS_V_13);
	sealed(&b, 23, 200);
	seg(&c, true, &b, 0);
	send_tls(&c, false, sh13);
	send_sealed(&c, true, 19, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_CLIENT, -1);
	finish_conn(&c);
}

/*
 * An empty client Certificate under AES-CCM_8 is 17 bytes: alert-sized, but the
 * client's Finished follows. Only a short record that is the client's last is an alert.
 */
static void test_short_client_record_not_last(void **state)
{
	struct sink s;
	struct conn c;
	struct buf b = { 0 };

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch13);
	server_hello(&b, TLS_V_13);
	server_flight13(&b);
	seg(&c, false, &b, 0);
	b.n = 0;
	ccs(&b);
	sealed(&b, 23, 17);
	seg(&c, true, &b, 0);
	assert_int_equal(s.n, 0);
	send_sealed(&c, true, 45, 0);
	/* A flight with a Certificate: the server's answer decides. */
	assert_int_equal(s.n, 0);
	send_sealed(&c, false, 250, 0);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	finish_conn(&c);

	/* The same short record left last when the flow ends: the client's alert. */
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch13);
	send_tls(&c, false, sh13);
	send_sealed(&c, true, 17, 0);
	assert_int_equal(s.n, 0);
	flow_table__flush(c.ft);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_CLIENT, -1);
	flow_table__free(c.ft);

	/* A short record with two bytes of another after it: no alert, the FIN decides. */
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch13);
	send_tls(&c, false, sh13);
	b.n = 0;
	sealed(&b, 23, 19);
	put(&b, "\x17\x03", 2);
	seg(&c, true, &b, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_CLOSED, HS_SIDE_CLIENT, -1);
	finish_conn(&c);

	/*
	 * A short record with another begun after it (its header is evidence enough) is
	 * no alert: a flight the server did not answer before the client closed.
	 */
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch13);
	send_tls(&c, false, sh13);
	b.n = 0;
	sealed(&b, 23, 17);
	put(&b, "\x17\x03\x03\x00\x35\x5a", 6);
	seg(&c, true, &b, 0);
	assert_int_equal(s.n, 0);
	seg(&c, true, NULL, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	finish_conn(&c);
}

/* TLS 1.2: alerts sealed after a side's own ChangeCipherSpec, their text unknown. */
static void test_sealed_alerts_tls12(void **state)
{
	struct sink s;
	struct conn c;
	struct buf b = { 0 }, cke = { 0 };

	(void)state;
	/* The server finished first (resumption) and then refuses: sealed, by server. */
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	server_hello_only(&b, TLS_V_12);
	server_finish12(&b);
	sealed(&b, 21, 26);
	seg(&c, false, &b, 0);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_SERVER, -1);
	finish_conn(&c);

	/*
	 * A sealed alert after the client's Finished: it had the server's Finished (a
	 * client that checks the host name after the handshake). Established.
	 */
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	send_tls(&c, false, sh12);
	b.n = 0;
	client_finish12(&b);
	sealed(&b, 21, 26);
	seg(&c, true, &b, 0);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	finish_conn(&c);

	/* Warnings in the clear from either side end nothing. */
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	b.n = 0;
	server_hello(&b, TLS_V_12);
	alert(&b, 1, 112);
	seg(&c, false, &b, 0);
	b.n = 0;
	alert(&b, 1, 41); /* no_certificate (SSLv3) */
	client_finish12(&b);
	seg(&c, true, &b, 0);
	assert_int_equal(s.n, 0);
	send_tls(&c, false, server_finish12);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	finish_conn(&c);

	/* The client's ChangeCipherSpec, then an alert instead of its Finished. */
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	send_tls(&c, false, sh12);
	b.n = 0;
	put8(&cke, 16);
	put24(&cke, 33);
	memset(cke.b + cke.n, 0x20, 33);
	cke.n += 33;
	record(&b, 22, &cke);
	ccs(&b);
	sealed(&b, 21, 26);
	seg(&c, true, &b, 0);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_CLIENT, -1);
	finish_conn(&c);
}

/*
 * The server's first flight is longer than what is kept of a direction: its
 * ChangeCipherSpec can never be seen, and the client's Finished decides.
 */
static void test_tls12_server_past_cap(void **state)
{
	struct sink s;
	struct conn c;
	struct buf b = { 0 }, cert = { 0 };

	(void)state;
	open_conn_cap(&c, &s, 443, 512);
	send_tls(&c, true, ch12);
	server_hello_only(&b, TLS_V_12);
	put8(&cert, 11);
	put24(&cert, 2000);
	memset(cert.b + cert.n, 0x30, 2000);
	cert.n += 2000;
	record(&b, 22, &cert);
	seg(&c, false, &b, 0);
	assert_int_equal(s.n, 0);
	send_tls(&c, true, client_finish12);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	assert_int_equal(s.rec[0].version, TLS_V_12);
	finish_conn(&c);
}

static void test_reset_by_client(void **state)
{
	struct sink s;
	struct conn c;

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch13);
	send_tls(&c, false, sh13);
	seg(&c, true, NULL, FLOW_TCP_RST);
	expect(&s, HS_OUTCOME_RESET, HS_SIDE_CLIENT, -1);
	assert_int_equal(s.rec[0].version, TLS_V_13);
	finish_conn(&c);
}

/* A ServerHello, then nothing until the flow expires. */
static void test_timeout_after_server_hello(void **state)
{
	struct sink s;
	struct conn c;

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	send_tls(&c, false, sh12);
	assert_int_equal(s.n, 0);
	flow_table__expire(c.ft, T0 + 200 * NSEC_PER_SEC);
	expect(&s, HS_OUTCOME_TIMEOUT, HS_SIDE_NONE, -1);
	assert_int_equal(s.rec[0].version, TLS_V_12);
	assert_true(hs_failed(&s.rec[0]));
	finish_conn(&c);
}

static void test_reset_by_server(void **state)
{
	struct sink s;
	struct conn c;

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	seg(&c, false, NULL, FLOW_TCP_RST);
	expect(&s, HS_OUTCOME_RESET, HS_SIDE_SERVER, -1);
	finish_conn(&c);
}

static void test_closed_by_client(void **state)
{
	struct sink s;
	struct conn c;

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	seg(&c, true, NULL, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_CLOSED, HS_SIDE_CLIENT, -1);
	finish_conn(&c);
}

/* A server that never answers: the flow ends with the capture (or its idle timeout). */
static void test_timeout(void **state)
{
	struct sink s;
	struct conn c;

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	assert_int_equal(s.n, 0);
	flow_table__expire(c.ft, T0 + 200 * NSEC_PER_SEC);
	expect(&s, HS_OUTCOME_TIMEOUT, HS_SIDE_NONE, -1);
	finish_conn(&c);
}

/* close_notify ends the handshake politely; a warning alert does not end it at all. */
static void test_close_notify_and_warnings(void **state)
{
	struct sink s;
	struct conn c;
	struct buf a = { 0 }, w = { 0 };

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	alert(&w, 1, 112); /* unrecognized_name, warning */
	seg(&c, false, &w, 0);
	assert_int_equal(s.n, 0);
	alert(&a, 1, 0);
	seg(&c, false, &a, 0);
	expect(&s, HS_OUTCOME_CLOSED, HS_SIDE_SERVER, -1);
	finish_conn(&c);
}

/* A ServerHello the parser rejects: the record keeps the client's side, counted. */
static void bad_server_hello(struct buf *b)
{
	struct buf hs = { 0 };

	put8(&hs, 2);
	put24(&hs, 3);
	put(&hs, "\x03\x03\x00", 3);
	record(b, 22, &hs);
}

static void test_bad_server_hello_keeps_client(void **state)
{
	struct sink s;
	struct conn c;

	(void)state;
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch12);
	send_tls(&c, false, bad_server_hello);
	seg(&c, false, NULL, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_CLOSED, HS_SIDE_SERVER, -1);
	assert_int_equal(s.rec[0].version, 0);
	assert_int_equal(s.rec[0].offered_max, TLS_V_12);
	assert_int_equal(strlen(s.rec[0].ja3), 32);
	assert_int_equal(flow_table__stats(c.ft)->invalid_tls, 1);
	finish_conn(&c);

	/* The client went on regardless: its flight says the handshake went through. */
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch13);
	send_tls(&c, false, bad_server_hello);
	assert_int_equal(s.n, 0);
	send_sealed(&c, true, 53, 0);
	expect(&s, HS_OUTCOME_ESTABLISHED, HS_SIDE_NONE, -1);
	assert_int_equal(s.rec[0].version, 0);
	finish_conn(&c);

	/* Or it sealed one short record and closed: its alert. */
	open_conn(&c, &s, 443);
	send_tls(&c, true, ch13);
	send_tls(&c, false, bad_server_hello);
	send_sealed(&c, true, 19, FLOW_TCP_FIN);
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_CLIENT, -1);
	finish_conn(&c);
}

/*
 * TCP Fast Open: the ClientHello rides in the SYN; the SYN-ACK is retransmitted with a
 * stale ISN. The server's bytes follow the ISN the client acknowledged.
 */
/* A table and a connection to 443 with no segment yet. */
static void open_conn_raw(struct conn *c, struct sink *s)
{
	struct flow_config cfg;

	memset(c, 0, sizeof(*c));
	memset(s, 0, sizeof(*s));
	flow_config_default(&cfg);
	cfg.max_flows = 16;
	c->ft = flow_table__new(&cfg, on_record, NULL, s);
	assert_non_null(c->ft);
	c->port = 443;
	c->ts = T0;
}

static void test_tfo_stale_synack(void **state)
{
	struct buf chb = { 0 }, shb = { 0 };
	struct sink s;
	struct conn c;

	(void)state;
	open_conn_raw(&c, &s);
	ch12(&chb);
	sh12(&shb);
	raw(&c, true, 1000, 0, FLOW_TCP_SYN, &chb);
	raw(&c, false, 7000, 1001 + (uint32_t)chb.n, FLOW_TCP_SYN | FLOW_TCP_ACK, NULL);
	raw(&c, false, 90000, 1001 + (uint32_t)chb.n, FLOW_TCP_SYN | FLOW_TCP_ACK, NULL);
	raw(&c, true, 1001 + (uint32_t)chb.n, 7001, FLOW_TCP_ACK, NULL);
	raw(&c, false, 7001, 1001 + (uint32_t)chb.n, FLOW_TCP_ACK, &shb);
	raw(&c, true, 1001 + (uint32_t)chb.n, 7001 + (uint32_t)shb.n, FLOW_TCP_FIN | FLOW_TCP_ACK,
	    NULL);
	expect(&s, HS_OUTCOME_CLOSED, HS_SIDE_CLIENT, -1);
	assert_int_equal(s.rec[0].version, TLS_V_12);
	assert_int_equal(s.rec[0].offered_max, TLS_V_12);
	finish_conn(&c);
}

/*
 * The same with the stale SYN-ACK first and the right one second, and the server's
 * bytes before the client's ACK: the data that starts at the second ISN settles it.
 */
static void test_tfo_stale_first_data_before_ack(void **state)
{
	struct buf chb = { 0 }, shb = { 0 };
	uint32_t ce;
	struct sink s;
	struct conn c;

	(void)state;
	open_conn_raw(&c, &s);
	ch12(&chb);
	sh12(&shb);
	ce = 1001 + (uint32_t)chb.n;
	raw(&c, true, 1000, 0, FLOW_TCP_SYN, &chb);
	raw(&c, false, 90000, ce, FLOW_TCP_SYN | FLOW_TCP_ACK, NULL);
	raw(&c, false, 7000, ce, FLOW_TCP_SYN | FLOW_TCP_ACK, NULL);
	raw(&c, false, 7001, ce, FLOW_TCP_ACK, &shb);
	raw(&c, true, ce, 7001, FLOW_TCP_ACK, NULL);
	raw(&c, true, ce, 7001 + (uint32_t)shb.n, FLOW_TCP_FIN | FLOW_TCP_ACK, NULL);
	expect(&s, HS_OUTCOME_CLOSED, HS_SIDE_CLIENT, -1);
	assert_int_equal(s.rec[0].version, TLS_V_12);
	finish_conn(&c);
}

/*
 * With the bpf backend pure ACKs never arrive: the ack of the client's first data
 * segment (past the server's first bytes already) says which ISN it took, here before
 * the server's bytes, which come in the wrong order.
 */
static void test_tfo_ack_on_client_data(void **state)
{
	struct buf chb = { 0 }, shb = { 0 }, part = { 0 }, more = { 0 };
	uint32_t ce, cut;
	struct sink s;
	struct conn c;

	(void)state;
	open_conn_raw(&c, &s);
	ch12(&chb);
	sh12(&shb);
	cut = (uint32_t)shb.n / 2;
	put(&part, shb.b, cut);
	put(&more, shb.b + cut, shb.n - cut);
	ce = 1001 + (uint32_t)chb.n;
	raw(&c, true, 1000, 0, FLOW_TCP_SYN, &chb);
	raw(&c, false, 90000, ce, FLOW_TCP_SYN | FLOW_TCP_ACK, NULL);
	raw(&c, false, 7000, ce, FLOW_TCP_SYN | FLOW_TCP_ACK, NULL);
	/* The client's second flight acknowledges the server's whole hello already. */
	chb.n = 0;
	client_finish12(&chb);
	raw(&c, true, ce, 7001 + (uint32_t)shb.n, FLOW_TCP_ACK, &chb);
	raw(&c, false, 7001 + cut, ce, FLOW_TCP_ACK, &more);
	raw(&c, false, 7001, ce, FLOW_TCP_ACK, &part);
	assert_int_equal(s.n, 0);
	raw(&c, false, 7001 + (uint32_t)shb.n, ce + (uint32_t)chb.n, FLOW_TCP_RST, NULL);
	expect(&s, HS_OUTCOME_RESET, HS_SIDE_SERVER, -1);
	assert_int_equal(s.rec[0].version, TLS_V_12);
	finish_conn(&c);
}

static void smtp(struct conn *c, bool from_client, const char *text)
{
	struct buf b = { 0 };

	put(&b, text, strlen(text));
	seg(c, from_client, &b, 0);
}

/* Each SMTP ending: not offered, not used, refused, upgraded. */
static void test_smtp_lifecycle(void **state)
{
	static const struct {
		const char *ehlo_reply, *client2, *reply2;
		enum hs_smtp_tls want;
	} cases[] = {
		{ "250-mx.example.test\r\n250 SIZE 1000\r\n", "MAIL FROM:<a@b>\r\n", NULL,
		  HS_SMTP_NOT_OFFERED },
		{ "250-mx.example.test\r\n250 STARTTLS\r\n", "MAIL FROM:<a@b>\r\n", NULL,
		  HS_SMTP_NOT_USED },
		{ "250-mx.example.test\r\n250 STARTTLS\r\n", "STARTTLS\r\n",
		  "454 4.7.0 TLS not available\r\n", HS_SMTP_REFUSED },
		/* Only 220 lets TLS start: a 250 is no go-ahead. */
		{ "250-mx.example.test\r\n250 STARTTLS\r\n", "STARTTLS\r\n",
		  "250 2.0.0 fine\r\n", HS_SMTP_REFUSED },
	};
	struct sink s;
	struct conn c;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		open_conn(&c, &s, 25);
		smtp(&c, false, "220 mx.example.test ESMTP ready\r\n");
		smtp(&c, true, "EHLO client.test\r\n");
		smtp(&c, false, cases[i].ehlo_reply);
		smtp(&c, true, cases[i].client2);
		if (cases[i].reply2) {
			smtp(&c, false, cases[i].reply2);
			smtp(&c, true, "MAIL FROM:<a@b>\r\n");
		}
		flow_table__flush(c.ft);
		assert_int_equal(s.n, 1);
		assert_int_equal(s.rec[0].kind, HS_KIND_PLAINTEXT_SMTP);
		assert_int_equal(s.rec[0].smtp_tls, cases[i].want);
		assert_string_equal(s.rec[0].mx_host, "mx.example.test");
		assert_int_equal(s.rec[0].outcome, HS_OUTCOME_NONE);
		flow_table__free(c.ft);
	}

	/* Upgraded: the TLS record says starttls, and how the handshake ended. */
	open_conn(&c, &s, 25);
	smtp(&c, false, "220 mx.example.test ESMTP\r\n");
	smtp(&c, true, "EHLO client.test\r\n");
	smtp(&c, false, "250-mx.example.test\r\n250 STARTTLS\r\n");
	smtp(&c, true, "STARTTLS\r\n");
	smtp(&c, false, "220 2.0.0 go ahead\r\n");
	send_tls(&c, true, ch10);
	{
		struct buf a = { 0 };

		alert(&a, 2, 70);
		seg(&c, false, &a, 0);
	}
	expect(&s, HS_OUTCOME_ALERT, HS_SIDE_SERVER, 70);
	assert_int_equal(s.rec[0].smtp_tls, HS_SMTP_STARTTLS);
	assert_true(s.rec[0].starttls_smtp);
	assert_string_equal(s.rec[0].mx_host, "mx.example.test");
	finish_conn(&c);
}

/* The SMTP exchange up to the server's 220 to STARTTLS. */
static void smtp_to_220(struct conn *c, struct sink *s)
{
	open_conn(c, s, 25);
	smtp(c, false, "220 mx.example.test ESMTP\r\n");
	smtp(c, true, "EHLO client.test\r\n");
	smtp(c, false, "250-mx.example.test\r\n250 STARTTLS\r\n");
	smtp(c, true, "STARTTLS\r\n");
	smtp(c, false, "220 2.0.0 go ahead\r\n");
}

static void expect_no_hello(const struct sink *s, enum hs_outcome o, enum hs_side by)
{
	assert_int_equal(s->n, 1);
	assert_int_equal(s->rec[0].kind, HS_KIND_TLS);
	assert_int_equal(s->rec[0].smtp_tls, HS_SMTP_STARTTLS);
	assert_true(s->rec[0].starttls_smtp);
	assert_string_equal(s->rec[0].mx_host, "mx.example.test");
	assert_int_equal(s->rec[0].outcome, o);
	assert_int_equal(s->rec[0].outcome_by, by);
	assert_false(s->rec[0].has_alert);
	assert_int_equal(s->rec[0].version, 0);
	assert_int_equal(s->rec[0].offered_max, 0);
	assert_string_equal(s->rec[0].sni, "");
	assert_true(hs_failed(&s->rec[0]));
}

/*
 * The server said 220 to STARTTLS and no ClientHello came: a failed TLS session all the
 * same (closed, reset or timed out), so that a plaintext retry is seen as a fallback.
 */
static void test_starttls_without_hello(void **state)
{
	struct agg_fallback *f = agg_fallback__new(3600 * NSEC_PER_SEC);
	struct hs_record plain;
	struct sink s;
	struct conn c;

	(void)state;
	assert_non_null(f);
	smtp_to_220(&c, &s);
	assert_int_equal(s.n, 0);
	seg(&c, true, NULL, FLOW_TCP_FIN);
	expect_no_hello(&s, HS_OUTCOME_CLOSED, HS_SIDE_CLIENT);
	agg_fallback__apply(f, &s.rec[0]);
	assert_int_equal(s.rec[0].plaintext_fallback, HS_TRI_FALSE);
	plain = s.rec[0];
	finish_conn(&c);

	smtp_to_220(&c, &s);
	seg(&c, true, NULL, FLOW_TCP_RST);
	expect_no_hello(&s, HS_OUTCOME_RESET, HS_SIDE_CLIENT);
	finish_conn(&c);

	smtp_to_220(&c, &s);
	flow_table__expire(c.ft, T0 + 200 * NSEC_PER_SEC);
	expect_no_hello(&s, HS_OUTCOME_TIMEOUT, HS_SIDE_NONE);
	finish_conn(&c);

	/* The same client's plaintext session to that server next: a fallback. */
	plain.kind = HS_KIND_PLAINTEXT_SMTP;
	plain.outcome = HS_OUTCOME_NONE;
	plain.outcome_by = HS_SIDE_NONE;
	plain.smtp_tls = HS_SMTP_NOT_USED;
	plain.time_ns += 300 * NSEC_PER_SEC;
	agg_fallback__apply(f, &plain);
	assert_int_equal(plain.plaintext_fallback, HS_TRI_TRUE);
	agg_fallback__free(f);
}

/* A failed STARTTLS handshake, then plaintext from the same client: a fallback. */
static void test_fallback(void **state)
{
	struct agg_fallback *f = agg_fallback__new(3600 * NSEC_PER_SEC);
	struct hs_record tls, plain;

	(void)state;
	assert_non_null(f);
	memset(&tls, 0, sizeof(tls));
	tls.kind = HS_KIND_TLS;
	tls.time_ns = T0;
	tls.client.family = tls.server.family = AF_INET;
	memcpy(tls.client.addr, (uint8_t[]){ 10, 0, 0, 1 }, 4);
	memcpy(tls.server.addr, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	tls.server.port = 25;
	tls.smtp_tls = HS_SMTP_STARTTLS;
	tls.outcome = HS_OUTCOME_ALERT;
	plain = tls;
	plain.kind = HS_KIND_PLAINTEXT_SMTP;
	plain.outcome = HS_OUTCOME_NONE;
	plain.smtp_tls = HS_SMTP_NOT_USED;

	/* Plaintext before any failure: no fallback. */
	plain.time_ns = T0 - NSEC_PER_SEC;
	agg_fallback__apply(f, &plain);
	assert_int_equal(plain.plaintext_fallback, HS_TRI_FALSE);
	agg_fallback__apply(f, &tls);
	assert_int_equal(tls.plaintext_fallback, HS_TRI_FALSE);
	/* Postfix's retry after minimal_backoff_time (300 s) is within the hour. */
	plain.time_ns = T0 + 300 * NSEC_PER_SEC;
	agg_fallback__apply(f, &plain);
	assert_int_equal(plain.plaintext_fallback, HS_TRI_TRUE);
	/* Past the window, or another server: no. */
	plain.time_ns = T0 + 3601 * NSEC_PER_SEC;
	agg_fallback__apply(f, &plain);
	assert_int_equal(plain.plaintext_fallback, HS_TRI_FALSE);
	plain.time_ns = T0 + 10 * NSEC_PER_SEC;
	plain.server.addr[3] = 3;
	agg_fallback__apply(f, &plain);
	assert_int_equal(plain.plaintext_fallback, HS_TRI_FALSE);
	/* Off SMTP the field is null. */
	tls.smtp_tls = HS_SMTP_NONE;
	tls.server.port = 443;
	agg_fallback__apply(f, &tls);
	assert_int_equal(tls.plaintext_fallback, HS_TRI_NULL);
	agg_fallback__free(f);
}

/* Every IANA alert description has its name; unknown ones have none. */
static void test_alert_names(void **state)
{
	static const struct {
		uint8_t v;
		const char *name;
	} names[] = {
		{ 0, "close_notify" },	       { 10, "unexpected_message" },
		{ 20, "bad_record_mac" },      { 21, "decryption_failed" },
		{ 22, "record_overflow" },     { 30, "decompression_failure" },
		{ 40, "handshake_failure" },   { 41, "no_certificate" },
		{ 42, "bad_certificate" },     { 43, "unsupported_certificate" },
		{ 44, "certificate_revoked" }, { 45, "certificate_expired" },
		{ 46, "certificate_unknown" }, { 47, "illegal_parameter" },
		{ 48, "unknown_ca" },	       { 49, "access_denied" },
		{ 50, "decode_error" },	       { 51, "decrypt_error" }, { 52, "too_many_cids_requested" },
		{ 60, "export_restriction" },  { 70, "protocol_version" },
		{ 71, "insufficient_security" }, { 80, "internal_error" },
		{ 86, "inappropriate_fallback" }, { 90, "user_canceled" },
		{ 100, "no_renegotiation" },   { 109, "missing_extension" },
		{ 110, "unsupported_extension" }, { 111, "certificate_unobtainable" },
		{ 112, "unrecognized_name" },  { 113, "bad_certificate_status_response" },
		{ 114, "bad_certificate_hash_value" }, { 115, "unknown_psk_identity" },
		{ 116, "certificate_required" }, { 117, "general_error" },
		{ 120, "no_application_protocol" }, { 121, "ech_required" },
	};
	size_t i;
	unsigned int v;
	int named = 0;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(names); i++)
		assert_string_equal(tls_alert_name(names[i].v), names[i].name);
	for (v = 0; v < 256; v++)
		named += tls_alert_name((uint8_t)v) != NULL;
	assert_int_equal(named, (int)ARRAY_SIZE(names));
	assert_true(tls_names_sorted());
	assert_string_equal(hs_outcome_name(HS_OUTCOME_TIMEOUT), "timeout");
	assert_null(hs_outcome_name(HS_OUTCOME_NONE));
	assert_string_equal(hs_smtp_tls_name(HS_SMTP_NOT_OFFERED), "not_offered");
	assert_null(hs_side_name(HS_SIDE_NONE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused_by_server),
		cmocka_unit_test(test_refused_by_client),
		cmocka_unit_test(test_established_tls12),
		cmocka_unit_test(test_established_tls12_abbreviated),
		cmocka_unit_test(test_refused_after_client_finished_tls12),
		cmocka_unit_test(test_tls12_server_finished_unseen),
		cmocka_unit_test(test_established_tls13),
		cmocka_unit_test(test_sealed_alert_tls13),
		cmocka_unit_test(test_refused_after_client_flight_tls13),
		cmocka_unit_test(test_accepted_client_flight_tls13),
		cmocka_unit_test(test_server_sealed_alert_tls13),
		cmocka_unit_test(test_early_data_tls13),
		cmocka_unit_test(test_short_client_record_not_last),
		cmocka_unit_test(test_sealed_alerts_tls12),
		cmocka_unit_test(test_tls12_server_past_cap),
		cmocka_unit_test(test_reset_by_client),
		cmocka_unit_test(test_timeout_after_server_hello),
		cmocka_unit_test(test_reset_by_server),
		cmocka_unit_test(test_closed_by_client),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_close_notify_and_warnings),
		cmocka_unit_test(test_bad_server_hello_keeps_client),
		cmocka_unit_test(test_tfo_stale_synack),
		cmocka_unit_test(test_tfo_stale_first_data_before_ack),
		cmocka_unit_test(test_tfo_ack_on_client_data),
		cmocka_unit_test(test_smtp_lifecycle),
		cmocka_unit_test(test_starttls_without_hello),
		cmocka_unit_test(test_fallback),
		cmocka_unit_test(test_alert_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * The server's Certificate message through the flow table: TLS 1.2 server flights built
 * here around certificates made with libcrypto at run time, cut into records and TCP
 * segments of every size, and the record's cert_* fields and client_accepted_bad_cert
 * that come out. Chains that span many records and segments, one larger than a TLS
 * record, chains cut by the per-direction cap or by the end of the connection, a
 * malformed message, TLS 1.3 and resumption (no certificate in the clear), and the
 * cache: one decode per distinct certificate, one lookup per handshake.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tlsaudit/cert.h"
#include "tlsaudit/export.h"
#include "tlsaudit/flow.h"
#include "tlsaudit/record.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"
/* The internals: the table's certificate cache, made small to force an eviction. */
#include "../../src/flow/flow_int.h"

/* 2026-05-28T20:26:40Z: the handshakes happen here, certificates are valid around it. */
#define T0 INT64_C(1780000000)
#define DAY INT64_C(86400)
#define SEC 1000000000ULL
#define MAX_RECS 8
#define WIRE_MAX (96 * 1024)

static struct {
	EVP_PKEY *ca_key, *leaf_key, *rsa_key;
	X509 *ca;
} K;

static long serial = 1;

/* A certificate for @cn (and a DNS SAN of the same name unless @no_san). */
static X509 *make_cert(const char *cn, EVP_PKEY *key, EVP_PKEY *sign_key, X509 *issuer,
		       int64_t nb, int64_t na, bool no_san)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *ext;
	char san[300];

	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na));
	name = X509_get_subject_name(x);
	assert_int_equal(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)cn, -1, -1, 0),
			 1);
	assert_int_equal(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	if (!no_san) {
		snprintf(san, sizeof(san), "DNS:%s", cn);
		ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, sign_key ? sign_key : key, EVP_sha256()) > 0);
	return x;
}

static size_t der_of(X509 *x, uint8_t *out, size_t cap)
{
	unsigned char *tmp = NULL;
	int n = i2d_X509(x, &tmp);

	assert_true(n > 0 && (size_t)n <= cap);
	memcpy(out, tmp, (size_t)n);
	OPENSSL_free(tmp);
	return (size_t)n;
}

static int setup(void **state)
{
	(void)state;
	K.ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	K.leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	K.rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (!K.ca_key || !K.leaf_key || !K.rsa_key)
		return -1;
	K.ca = make_cert("Flow Test CA", K.ca_key, NULL, NULL, T0 - 365 * DAY, T0 + 3650 * DAY,
			 true);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(K.ca);
	EVP_PKEY_free(K.ca_key);
	EVP_PKEY_free(K.leaf_key);
	EVP_PKEY_free(K.rsa_key);
	return 0;
}

/* Byte builder over a fixed buffer. */
struct wire {
	uint8_t b[WIRE_MAX];
	size_t n;
};

static void w8(struct wire *w, unsigned int v)
{
	assert_true(w->n < sizeof(w->b));
	w->b[w->n++] = (uint8_t)v;
}

static void w16(struct wire *w, unsigned int v)
{
	w8(w, v >> 8);
	w8(w, v);
}

static void w24(struct wire *w, size_t v)
{
	w8(w, (unsigned int)(v >> 16));
	w16(w, (unsigned int)(v & 0xffff));
}

static void wbytes(struct wire *w, const void *p, size_t n)
{
	assert_true(n <= sizeof(w->b) - w->n);
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

/* A 3-byte length at @at, for what was written since. */
static void patch24(struct wire *w, size_t at)
{
	size_t len = w->n - at - 3;

	w->b[at] = (uint8_t)(len >> 16);
	w->b[at + 1] = (uint8_t)(len >> 8);
	w->b[at + 2] = (uint8_t)len;
}

static void patch16(struct wire *w, size_t at)
{
	size_t len = w->n - at - 2;

	w->b[at] = (uint8_t)(len >> 8);
	w->b[at + 1] = (uint8_t)len;
}

/* Wrap handshake messages @hs into records of at most @frag bytes each. */
static void records(struct wire *out, uint8_t type, const struct wire *hs, size_t frag)
{
	size_t i, k;

	for (i = 0; i < hs->n; i += k) {
		k = hs->n - i < frag ? hs->n - i : frag;
		w8(out, type);
		w16(out, 0x0303);
		w16(out, (unsigned int)k);
		wbytes(out, hs->b + i, k);
	}
}

/* A TLS 1.2 ClientHello (offering 1.3 too when @tls13) with @sni, in one record. */
static void client_hello(struct wire *out, const char *sni, bool tls13)
{
	static struct wire hs;
	uint8_t random[32] = { 1 };
	size_t m, e, x, l;

	hs.n = 0;
	w8(&hs, 1);
	m = hs.n;
	w24(&hs, 0);
	w16(&hs, 0x0303);
	wbytes(&hs, random, sizeof(random));
	w8(&hs, 0);
	w16(&hs, 6);
	w16(&hs, 0x1301);
	w16(&hs, 0xc02f);
	w16(&hs, 0xc02b);
	w8(&hs, 1);
	w8(&hs, 0);
	e = hs.n;
	w16(&hs, 0);
	if (sni) {
		w16(&hs, 0); /* server_name */
		x = hs.n;
		w16(&hs, 0);
		l = hs.n;
		w16(&hs, 0);
		w8(&hs, 0);
		w16(&hs, (unsigned int)strlen(sni));
		wbytes(&hs, sni, strlen(sni));
		patch16(&hs, l);
		patch16(&hs, x);
	}
	if (tls13) {
		w16(&hs, 0x002b); /* supported_versions */
		w16(&hs, 5);
		w8(&hs, 4);
		w16(&hs, 0x0304);
		w16(&hs, 0x0303);
	}
	patch16(&hs, e);
	patch24(&hs, m);
	records(out, 22, &hs, 16384);
}

static void server_hello(struct wire *hs, bool tls13)
{
	uint8_t random[32] = { 2 }, share[32] = { 3 };
	size_t m, e;

	w8(hs, 2);
	m = hs->n;
	w24(hs, 0);
	w16(hs, 0x0303);
	wbytes(hs, random, sizeof(random));
	w8(hs, 0);
	w16(hs, tls13 ? 0x1301 : 0xc02b);
	w8(hs, 0);
	e = hs->n;
	w16(hs, 0);
	if (tls13) {
		w16(hs, 0x002b);
		w16(hs, 2);
		w16(hs, 0x0304);
		w16(hs, 0x0033); /* key_share: x25519 */
		w16(hs, 36);
		w16(hs, 0x001d);
		w16(hs, 32);
		wbytes(hs, share, sizeof(share));
	}
	patch16(hs, e);
	patch24(hs, m);
}

/* A Certificate message: @leaf, then @extra copies of the CA (to make a long chain). */
static void certificate(struct wire *hs, X509 *leaf, int extra)
{
	static uint8_t der[8192];
	size_t m, l, n;
	int i;

	w8(hs, 11);
	m = hs->n;
	w24(hs, 0);
	l = hs->n;
	w24(hs, 0);
	n = der_of(leaf, der, sizeof(der));
	w24(hs, n);
	wbytes(hs, der, n);
	for (i = 0; i < extra; i++) {
		n = der_of(K.ca, der, sizeof(der));
		w24(hs, n);
		wbytes(hs, der, n);
	}
	patch24(hs, l);
	patch24(hs, m);
}

static void hello_done(struct wire *hs)
{
	w8(hs, 14);
	w24(hs, 0);
}

/*
 * The server's first flight of a full TLS 1.2 handshake: the ServerHello in a record of
 * its own (as OpenSSL sends it), the rest in records of @frag bytes.
 */
static void server_flight(struct wire *out, X509 *leaf, int extra, size_t frag)
{
	static struct wire hs;

	hs.n = 0;
	server_hello(&hs, false);
	records(out, 22, &hs, 16384);
	hs.n = 0;
	certificate(&hs, leaf, extra);
	hello_done(&hs);
	records(out, 22, &hs, frag);
}

/* ClientKeyExchange, ChangeCipherSpec, a sealed Finished. */
static void client_finished(struct wire *out)
{
	static const uint8_t cke[] = { 16, 0, 0, 33, 32, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
				       9,  9, 9, 9, 9,	9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
				       9,  9, 9, 9, 9 };
	uint8_t sealed[40];

	memset(sealed, 0x5a, sizeof(sealed));
	w8(out, 22);
	w16(out, 0x0303);
	w16(out, sizeof(cke));
	wbytes(out, cke, sizeof(cke));
	wbytes(out, "\x14\x03\x03\x00\x01\x01", 6);
	w8(out, 22);
	w16(out, 0x0303);
	w16(out, sizeof(sealed));
	wbytes(out, sealed, sizeof(sealed));
}

/* A sealed record of @type: application data (23), or an alert after the CCS (21). */
static void sealed(struct wire *out, uint8_t type, size_t len)
{
	uint8_t b[128];

	memset(b, 0x6b, sizeof(b));
	assert_true(len <= sizeof(b));
	w8(out, type);
	w16(out, 0x0303);
	w16(out, (unsigned int)len);
	wbytes(out, b, len);
}

/* The client went on: its Finished, then its request. */
static void client_second_flight(struct wire *out)
{
	client_finished(out);
	sealed(out, 23, 100);
}

/* A fatal alert in the clear: @desc 48 is unknown_ca, 42 bad_certificate. */
static void alert(struct wire *out, uint8_t desc)
{
	wbytes(out, "\x15\x03\x03\x00\x02\x02", 6);
	w8(out, desc);
}

/* The flow table side, as in test_flow.c. */
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

struct conn {
	uint16_t cport;
	uint32_t coff, soff; /* stream bytes sent so far */
	uint64_t ts;
};

static void send_seg(struct flow_table *ft, struct conn *c, bool from_client, const uint8_t *p,
		     uint32_t len, uint8_t flags)
{
	struct flow_segment seg;
	uint32_t *off = from_client ? &c->coff : &c->soff;

	memset(&seg, 0, sizeof(seg));
	c->ts += 1000000;
	seg.ts_ns = c->ts;
	seg.family = AF_INET;
	memcpy(from_client ? seg.saddr : seg.daddr, (uint8_t[]){ 10, 0, 0, 1 }, 4);
	memcpy(from_client ? seg.daddr : seg.saddr, (uint8_t[]){ 10, 0, 0, 2 }, 4);
	seg.sport = from_client ? c->cport : 443;
	seg.dport = from_client ? 443 : c->cport;
	seg.tcp_flags = flags;
	if (flags & FLOW_TCP_SYN) {
		seg.seq = from_client ? 1000 : 500000;
	} else {
		seg.seq = (from_client ? 1000 : 500000) + 1 + *off;
		seg.payload = p;
		seg.len = len;
		*off += len;
	}
	flow_table__segment(ft, &seg);
}

static void open_conn(struct flow_table *ft, struct conn *c, uint16_t cport)
{
	memset(c, 0, sizeof(*c));
	c->cport = cport;
	c->ts = (uint64_t)T0 * SEC;
	send_seg(ft, c, true, NULL, 0, FLOW_TCP_SYN);
	send_seg(ft, c, false, NULL, 0, FLOW_TCP_SYN | FLOW_TCP_ACK);
	send_seg(ft, c, true, NULL, 0, FLOW_TCP_ACK);
}

/* @w cut into segments of at most @mss bytes. */
static void send_wire(struct flow_table *ft, struct conn *c, bool from_client,
		      const struct wire *w, uint32_t mss)
{
	uint32_t i, k;

	for (i = 0; i < w->n; i += k) {
		k = (uint32_t)w->n - i < mss ? (uint32_t)w->n - i : mss;
		send_seg(ft, c, from_client, w->b + i, k, FLOW_TCP_ACK);
	}
}

static struct flow_table *new_table(struct sink *s, uint32_t dir_cap)
{
	struct flow_config cfg;
	struct flow_table *ft;

	flow_config_default(&cfg);
	cfg.max_flows = 64;
	if (dir_cap)
		cfg.dir_cap = dir_cap;
	memset(s, 0, sizeof(*s));
	ft = flow_table__new(&cfg, on_record, NULL, s);
	assert_non_null(ft);
	return ft;
}

static struct wire cw, sw, cw2;

/*
 * One TLS 1.2 handshake: ClientHello with @sni, the server's flight around @leaf (plus
 * @extra CA copies) in @frag-byte records and @mss-byte segments, then the client goes
 * on (@client_alert 0) or refuses with that alert.
 */
static void run_tls12(struct flow_table *ft, uint16_t cport, const char *sni, X509 *leaf,
		      int extra, size_t frag, uint32_t mss, uint8_t client_alert)
{
	struct conn c;

	cw.n = sw.n = cw2.n = 0;
	client_hello(&cw, sni, false);
	server_flight(&sw, leaf, extra, frag);
	if (client_alert)
		alert(&cw2, client_alert);
	else
		client_second_flight(&cw2);
	open_conn(ft, &c, cport);
	send_wire(ft, &c, true, &cw, mss);
	send_wire(ft, &c, false, &sw, mss);
	send_wire(ft, &c, true, &cw2, mss);
}

static void sha256_hex(X509 *x, char out[65])
{
	static uint8_t der[8192];
	uint8_t md[32];
	size_t n = der_of(x, der, sizeof(der)), i;

	assert_int_equal(tls_cert_sha256(der, n, md), 0);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void json_of(const struct hs_record *r, char *buf, size_t len)
{
	assert_true(export_json_record(r, NULL, buf, len) > 0);
}

/* A good leaf from the CA, the SNI it names, the client goes on: no problems. */
static void test_good_leaf(void **state)
{
	X509 *leaf = make_cert("www.example.test", K.leaf_key, K.ca_key, K.ca, T0 - DAY,
			       T0 + 90 * DAY, false);
	struct tls_cert_cache_stats cs;
	struct sink s;
	struct flow_table *ft = new_table(&s, 0);
	const struct hs_cert *c;
	char hex[65], json[8192];

	(void)state;
	run_tls12(ft, 40000, "www.example.test", leaf, 1, 16384, 1448, 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.rec[0].outcome, HS_OUTCOME_ESTABLISHED);
	c = &s.rec[0].cert;
	assert_int_equal(c->state, HS_CERT_OK);
	assert_string_equal(c->subject, "www.example.test");
	assert_string_equal(c->issuer, "Flow Test CA");
	assert_string_equal(c->key, "EC-P-256");
	assert_string_equal(c->sig, "ecdsa-with-SHA256");
	assert_int_equal(c->not_after, T0 + 90 * DAY);
	sha256_hex(leaf, hex);
	assert_string_equal(c->sha256, hex);
	assert_int_equal(c->problems, 0);
	assert_int_equal(c->accepted_bad, HS_TRI_NULL);

	/* JSON: DESIGN.md's order, after plaintext_fallback; [] for no problems. */
	json_of(&s.rec[0], json, sizeof(json));
	assert_non_null(strstr(json, "\"plaintext_fallback\":null,\"cert_subject\":"
				     "\"www.example.test\",\"cert_issuer\":\"Flow Test CA\","
				     "\"cert_not_after\":\"2026-08-26T20:26:40Z\","
				     "\"cert_key\":\"EC-P-256\",\"cert_sig\":\"ecdsa-with-SHA256\","
				     "\"cert_sha256\":\""));
	assert_non_null(strstr(json, hex));
	assert_non_null(strstr(json, "\"cert_problems\":[],\"client_accepted_bad_cert\":null,"));

	/*
	 * One decode. Two lookups a handshake (the verdict when the server's flight is
	 * whole, the record), none for each segment that arrived.
	 */
	flow_table__cert_stats(ft, &cs);
	assert_int_equal(cs.misses, 1);
	assert_int_equal(cs.hits, 1);
	run_tls12(ft, 40001, "www.example.test", leaf, 1, 16384, 1448, 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.rec[1].cert.state, HS_CERT_OK);
	flow_table__cert_stats(ft, &cs);
	assert_int_equal(cs.misses, 1);
	assert_int_equal(cs.hits, 3);
	flow_table__free(ft);
	X509_free(leaf);
}

/* A self-signed, expired, wrong-name RSA leaf: accepted by one client, refused by another. */
static void test_bad_leaf_accepted_refused(void **state)
{
	X509 *leaf = make_cert("self.example.test", K.rsa_key, NULL, NULL, T0 - 60 * DAY,
			       T0 - DAY, false);
	const uint32_t want = TLS_CERT_EXPIRED | TLS_CERT_SELF_SIGNED | TLS_CERT_NAME_MISMATCH;
	struct sink s;
	struct flow_table *ft = new_table(&s, 0);
	char json[8192];

	(void)state;
	run_tls12(ft, 40010, "www.example.test", leaf, 0, 16384, 1448, 0);
	run_tls12(ft, 40011, "www.example.test", leaf, 0, 16384, 1448, 48);
	assert_int_equal(s.n, 2);

	assert_int_equal(s.rec[0].outcome, HS_OUTCOME_ESTABLISHED);
	assert_int_equal(s.rec[0].cert.state, HS_CERT_OK);
	assert_string_equal(s.rec[0].cert.key, "RSA-2048");
	assert_string_equal(s.rec[0].cert.sig, "sha256WithRSAEncryption");
	assert_string_equal(s.rec[0].cert.issuer, "self.example.test");
	assert_int_equal(s.rec[0].cert.problems, want);
	assert_int_equal(s.rec[0].cert.accepted_bad, HS_TRI_TRUE);
	json_of(&s.rec[0], json, sizeof(json));
	assert_non_null(strstr(json, "\"cert_problems\":[\"expired\",\"self_signed\","
				     "\"name_mismatch\"],\"client_accepted_bad_cert\":true,"));

	assert_int_equal(s.rec[1].outcome, HS_OUTCOME_ALERT);
	assert_int_equal(s.rec[1].outcome_by, HS_SIDE_CLIENT);
	assert_true(s.rec[1].has_alert);
	assert_int_equal(s.rec[1].alert, 48);
	assert_int_equal(s.rec[1].cert.problems, want);
	assert_int_equal(s.rec[1].cert.accepted_bad, HS_TRI_FALSE);
	json_of(&s.rec[1], json, sizeof(json));
	assert_non_null(strstr(json, "\"client_accepted_bad_cert\":false,"));
	flow_table__free(ft);
	X509_free(leaf);
}

/*
 * A client that finishes the handshake and only then checks the host name (curl 7.x):
 * a sealed alert and a RST with no request is a refusal. One that finishes and keeps
 * the connection until the flow ends took the certificate. Both records wait for that
 * move; a certificate without a verify problem never waits.
 */
static void test_refused_after_handshake(void **state)
{
	X509 *other = make_cert("other.example.test", K.leaf_key, K.ca_key, K.ca, T0 - DAY,
				T0 + 90 * DAY, false);
	struct sink s;
	struct flow_table *ft = new_table(&s, 0);
	struct conn c;

	(void)state;
	cw.n = sw.n = cw2.n = 0;
	client_hello(&cw, "www.example.test", false);
	server_flight(&sw, other, 1, 16384);
	client_finished(&cw2);
	open_conn(ft, &c, 40090);
	send_wire(ft, &c, true, &cw, 1448);
	send_wire(ft, &c, false, &sw, 1448);
	send_wire(ft, &c, true, &cw2, 1448);
	assert_int_equal(s.n, 0);
	cw2.n = 0;
	sealed(&cw2, 21, 26);
	send_wire(ft, &c, true, &cw2, 1448);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.rec[0].outcome, HS_OUTCOME_ESTABLISHED);
	assert_int_equal(s.rec[0].cert.problems, TLS_CERT_NAME_MISMATCH);
	assert_int_equal(s.rec[0].cert.accepted_bad, HS_TRI_FALSE);

	/* The same, silent after its Finished until the end. */
	cw2.n = 0;
	client_finished(&cw2);
	open_conn(ft, &c, 40091);
	send_wire(ft, &c, true, &cw, 1448);
	send_wire(ft, &c, false, &sw, 1448);
	send_wire(ft, &c, true, &cw2, 1448);
	assert_int_equal(s.n, 1);
	flow_table__flush(ft);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.rec[1].outcome, HS_OUTCOME_ESTABLISHED);
	assert_int_equal(s.rec[1].cert.accepted_bad, HS_TRI_TRUE);

	/* A RST right after the Finished: refused too. */
	open_conn(ft, &c, 40092);
	send_wire(ft, &c, true, &cw, 1448);
	send_wire(ft, &c, false, &sw, 1448);
	send_wire(ft, &c, true, &cw2, 1448);
	send_seg(ft, &c, true, NULL, 0, FLOW_TCP_RST);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.rec[2].cert.accepted_bad, HS_TRI_FALSE);
	flow_table__free(ft);
	X509_free(other);
}

/*
 * The record finds the leaf judged while the flow ran by its fingerprint; when the
 * cache let it go in between, the message is read again and the record is the same.
 */
static void test_record_after_eviction(void **state)
{
	X509 *leaf = make_cert("www.example.test", K.leaf_key, K.ca_key, K.ca, T0 - DAY,
			       T0 + 90 * DAY, false);
	static uint8_t der[8192];
	const struct tls_cert_info *info;
	struct tls_cert_cache_stats cs;
	struct sink s;
	struct flow_table *ft = new_table(&s, 0);
	struct conn c;
	char hex[65];
	size_t n;
	int i;

	(void)state;
	/* One set of four ways, so that four other certificates push the leaf out. */
	tls_cert_cache_free(ft->certs);
	ft->certs = tls_cert_cache_new(4);
	assert_non_null(ft->certs);
	sha256_hex(leaf, hex);
	cw.n = sw.n = cw2.n = 0;
	client_hello(&cw, "www.example.test", false);
	server_flight(&sw, leaf, 0, 16384);
	/* The ClientKeyExchange alone: both flights whole, the outcome still open. */
	client_finished(&cw2);
	cw2.n = 5 + 37;
	open_conn(ft, &c, 40100);
	send_wire(ft, &c, true, &cw, 1448);
	send_wire(ft, &c, false, &sw, 1448);
	send_wire(ft, &c, true, &cw2, 1448);
	assert_int_equal(s.n, 0);
	for (i = 0; i < 4; i++) {
		X509 *other = make_cert("other.example.test", K.leaf_key, K.ca_key, K.ca,
					T0 - DAY, T0 + DAY, false);

		n = der_of(other, der, sizeof(der));
		assert_int_equal(tls_cert_cache_get(ft->certs, der, n, &info), 0);
		X509_free(other);
	}
	flow_table__flush(ft);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.rec[0].cert.state, HS_CERT_OK);
	assert_string_equal(s.rec[0].cert.sha256, hex);
	assert_int_equal(s.rec[0].cert.problems, 0);
	flow_table__cert_stats(ft, &cs);
	assert_int_equal(cs.misses, 6); /* the leaf, four others, the leaf again */
	assert_int_equal(cs.evictions, 2);
	flow_table__free(ft);
	X509_free(leaf);
}

/* Judged as of the handshake, and without an SNI there is no name verdict. */
static void test_judged_at_handshake_time(void **state)
{
	X509 *later = make_cert("www.example.test", K.leaf_key, K.ca_key, K.ca, T0 + DAY,
				T0 + 90 * DAY, false);
	struct sink s;
	struct flow_table *ft = new_table(&s, 0);

	(void)state;
	run_tls12(ft, 40020, NULL, later, 0, 16384, 1448, 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.rec[0].cert.problems, TLS_CERT_NOT_YET_VALID);
	assert_int_equal(s.rec[0].cert.accepted_bad, HS_TRI_TRUE);
	flow_table__free(ft);
	X509_free(later);
}

/*
 * The chain across many records and segments, and a Certificate message longer than a
 * TLS record (20 certificates, over 16 KiB): every record size and segment size gives
 * the same leaf.
 */
static void test_chain_spans_records_and_segments(void **state)
{
	X509 *leaf = make_cert("www.example.test", K.leaf_key, K.ca_key, K.ca, T0 - DAY,
			       T0 + 90 * DAY, false);
	static const size_t frags[] = { 1, 7, 300, 1000, 4096, 16384 };
	static const uint32_t mss[] = { 1, 13, 536, 1448, 9000, 65000 };
	struct sink s;
	struct flow_table *ft;
	char hex[65];
	size_t i, j;
	int extra;

	(void)state;
	sha256_hex(leaf, hex);
	for (extra = 1; extra <= 80; extra += 79) {
		for (i = 0; i < ARRAY_SIZE(frags); i++) {
			for (j = 0; j < ARRAY_SIZE(mss); j++) {
				/*
				 * One-byte records of a 20 KB chain are past the walk's
				 * record bound (TLS_MAX_RECORDS), which no server nears.
				 */
				if (frags[i] < 300 && extra > 1)
					continue;
				ft = new_table(&s, 0);
				run_tls12(ft, 40030, "www.example.test", leaf, extra, frags[i],
					  mss[j], 0);
				if (extra > 1)
					assert_true(sw.n > 16384 + 1000);
				assert_int_equal(s.n, 1);
				assert_int_equal(s.rec[0].outcome, HS_OUTCOME_ESTABLISHED);
				assert_int_equal(s.rec[0].cert.state, HS_CERT_OK);
				assert_string_equal(s.rec[0].cert.sha256, hex);
				assert_int_equal(s.rec[0].cert.problems, 0);
				assert_int_equal(flow_table__stats(ft)->cert_truncated, 0);
				flow_table__free(ft);
			}
		}
	}
	X509_free(leaf);
}

/*
 * A chain longer than the per-direction cap: no certificate fields, never a guess, and
 * counted. Both ways the walk meets it: the first record of the chain incomplete
 * (large records), and a message declared longer than what can be held (small ones).
 */
static void test_chain_cut_by_cap(void **state)
{
	X509 *leaf = make_cert("www.example.test", K.leaf_key, K.ca_key, K.ca, T0 - DAY,
			       T0 - 1, false);
	static const size_t frags[] = { 500, 16384 };
	struct sink s;
	struct flow_table *ft;
	char json[8192];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(frags); i++) {
		ft = new_table(&s, 4096);
		run_tls12(ft, 40040, "www.example.test", leaf, 40, frags[i], 1448, 0);
		assert_true(sw.n > 8192);
		flow_table__flush(ft);
		assert_int_equal(s.n, 1);
		assert_int_equal(s.rec[0].version, 0x0303);
		assert_int_equal(s.rec[0].cert.state, HS_CERT_CUT);
		assert_int_equal(s.rec[0].cert.problems, 0);
		assert_int_equal(flow_table__stats(ft)->cert_truncated, 1);
		assert_int_equal(flow_table__stats(ft)->cap_reached, 1);
		json_of(&s.rec[0], json, sizeof(json));
		assert_non_null(strstr(json, "\"cert_subject\":null,"));
		assert_non_null(strstr(json, "\"cert_problems\":null,"
					     "\"client_accepted_bad_cert\":null,"));
		flow_table__free(ft);
	}
	X509_free(leaf);
}

/* The connection ends inside the chain: cut as well, whatever byte it ends on. */
static void test_chain_cut_by_end(void **state)
{
	X509 *leaf = make_cert("www.example.test", K.leaf_key, K.ca_key, K.ca, T0 - DAY,
			       T0 + DAY, false);
	struct sink s;
	struct flow_table *ft;
	struct conn c;
	size_t sh_end, cut;

	(void)state;
	cw.n = sw.n = 0;
	client_hello(&cw, "www.example.test", false);
	server_flight(&sw, leaf, 2, 700);
	sh_end = 5 + 44; /* the ServerHello's record */
	/* From the Certificate's type byte on, until before the ServerHelloDone record. */
	for (cut = sh_end + 6; cut < sw.n - 9; cut += 37) {
		ft = new_table(&s, 0);
		open_conn(ft, &c, 40050);
		send_wire(ft, &c, true, &cw, 1448);
		send_seg(ft, &c, false, sw.b, (uint32_t)cut, FLOW_TCP_ACK);
		send_seg(ft, &c, false, NULL, 0, FLOW_TCP_RST);
		assert_int_equal(s.n, 1);
		assert_int_equal(s.rec[0].outcome, HS_OUTCOME_RESET);
		assert_int_equal(s.rec[0].cert.state, HS_CERT_CUT);
		assert_int_equal(flow_table__stats(ft)->cert_truncated, 1);
		flow_table__free(ft);
	}
	X509_free(leaf);
}

/* A certificate_list whose length lies: the record stays, its cert fields are null. */
static void test_malformed_certificate(void **state)
{
	X509 *leaf = make_cert("www.example.test", K.leaf_key, K.ca_key, K.ca, T0 - DAY,
			       T0 + DAY, false);
	static struct wire hs;
	struct sink s;
	struct flow_table *ft = new_table(&s, 0);
	struct conn c;
	size_t at;

	(void)state;
	cw.n = sw.n = cw2.n = hs.n = 0;
	client_hello(&cw, "www.example.test", false);
	server_hello(&hs, false);
	at = hs.n;
	certificate(&hs, leaf, 0);
	hs.b[at + 6]++; /* the list length's low byte, one more than the message holds */
	hello_done(&hs);
	records(&sw, 22, &hs, 16384);
	alert(&cw2, 42);
	open_conn(ft, &c, 40060);
	send_wire(ft, &c, true, &cw, 1448);
	send_wire(ft, &c, false, &sw, 1448);
	send_wire(ft, &c, true, &cw2, 1448);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.rec[0].version, 0x0303);
	assert_int_equal(s.rec[0].outcome, HS_OUTCOME_ALERT);
	assert_int_equal(s.rec[0].cert.state, HS_CERT_BAD);
	assert_int_equal(flow_table__stats(ft)->cert_invalid, 1);
	flow_table__free(ft);
	X509_free(leaf);
}

/*
 * The stream walk alone: only the first Certificate counts; a second one too long to
 * hold (hostile, or a renegotiation's) leaves the first leaf in place.
 */
static void test_second_certificate_ignored(void **state)
{
	X509 *leaf = make_cert("www.example.test", K.leaf_key, K.ca_key, K.ca, T0 - DAY,
			       T0 + DAY, false);
	static struct wire hs;
	static uint8_t scratch[4096];
	struct tls_cert_cache *cache = tls_cert_cache_new(4);
	struct tls_stream st;

	(void)state;
	assert_non_null(cache);
	sw.n = hs.n = 0;
	server_hello(&hs, false);
	certificate(&hs, leaf, 0);
	w8(&hs, 11);
	w24(&hs, 60000);
	w24(&hs, 59997);
	records(&sw, 22, &hs, 1000);
	memset(&st, 0, sizeof(st));
	assert_int_equal(tls_stream_parse_cert(sw.b, sw.n, &st, scratch, sizeof(scratch), cache),
			 TLS_TRUNCATED);
	assert_int_equal(st.cert, TLS_SCERT_OK);
	assert_non_null(st.cert_info);
	assert_string_equal(st.cert_info->subject, "www.example.test");
	assert_int_equal(st.cert_n, 1);

	/* Without a cache the message is walked past, never kept. */
	memset(&st, 0, sizeof(st));
	assert_int_equal(tls_stream_parse(sw.b, sw.n, false, &st, scratch, sizeof(scratch)),
			 TLS_TRUNCATED);
	assert_int_equal(st.cert, TLS_SCERT_NONE);
	assert_null(st.cert_info);
	tls_cert_cache_free(cache);
	X509_free(leaf);
}

/* TLS 1.3 and an abbreviated TLS 1.2 handshake: no certificate in the clear, null. */
static void test_no_certificate_in_clear(void **state)
{
	static struct wire hs;
	uint8_t fin[60];
	struct sink s;
	struct flow_table *ft = new_table(&s, 0);
	struct tls_cert_cache_stats cs;
	struct conn c;
	char json[8192];

	(void)state;
	memset(fin, 0x33, sizeof(fin));
	/* TLS 1.3: ServerHello, then sealed records; the client's Finished. */
	cw.n = sw.n = cw2.n = hs.n = 0;
	client_hello(&cw, "www.example.test", true);
	server_hello(&hs, true);
	records(&sw, 22, &hs, 16384);
	wbytes(&sw, "\x14\x03\x03\x00\x01\x01", 6);
	w8(&sw, 23);
	w16(&sw, 0x0303);
	w16(&sw, sizeof(fin));
	wbytes(&sw, fin, sizeof(fin));
	w8(&cw2, 23);
	w16(&cw2, 0x0303);
	w16(&cw2, sizeof(fin));
	wbytes(&cw2, fin, sizeof(fin));
	open_conn(ft, &c, 40070);
	send_wire(ft, &c, true, &cw, 1448);
	send_wire(ft, &c, false, &sw, 1448);
	send_wire(ft, &c, true, &cw2, 1448);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.rec[0].version, 0x0304);
	assert_int_equal(s.rec[0].outcome, HS_OUTCOME_ESTABLISHED);
	assert_int_equal(s.rec[0].cert.state, HS_CERT_NONE);
	json_of(&s.rec[0], json, sizeof(json));
	assert_non_null(strstr(json, "\"cert_subject\":null,\"cert_issuer\":null,"
				     "\"cert_not_after\":null,\"cert_key\":null,\"cert_sig\":null,"
				     "\"cert_sha256\":null,\"cert_problems\":null,"
				     "\"client_accepted_bad_cert\":null,"));

	/* Resumption: ServerHello, ChangeCipherSpec, Finished; then the client's. */
	cw.n = sw.n = cw2.n = hs.n = 0;
	client_hello(&cw, "www.example.test", false);
	server_hello(&hs, false);
	records(&sw, 22, &hs, 16384);
	wbytes(&sw, "\x14\x03\x03\x00\x01\x01", 6);
	w8(&sw, 22);
	w16(&sw, 0x0303);
	w16(&sw, 40);
	wbytes(&sw, fin, 40);
	wbytes(&cw2, "\x14\x03\x03\x00\x01\x01", 6);
	w8(&cw2, 22);
	w16(&cw2, 0x0303);
	w16(&cw2, 40);
	wbytes(&cw2, fin, 40);
	open_conn(ft, &c, 40071);
	send_wire(ft, &c, true, &cw, 1448);
	send_wire(ft, &c, false, &sw, 1448);
	send_wire(ft, &c, true, &cw2, 1448);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.rec[1].version, 0x0303);
	assert_int_equal(s.rec[1].outcome, HS_OUTCOME_ESTABLISHED);
	assert_int_equal(s.rec[1].cert.state, HS_CERT_NONE);
	flow_table__cert_stats(ft, &cs);
	assert_int_equal(cs.misses + cs.hits, 0);
	assert_int_equal(flow_table__stats(ft)->cert_truncated, 0);
	flow_table__free(ft);
}

/* Random cuts, segment sizes and record sizes never change the verdict. */
static void test_random_delivery(void **state)
{
	X509 *leaf = make_cert("www.example.test", K.leaf_key, K.ca_key, K.ca, T0 - DAY,
			       T0 + DAY, false);
	unsigned int seed = (unsigned int)time(NULL), i;
	struct sink s;
	struct flow_table *ft;
	struct conn c;
	uint32_t off, k;

	(void)state;
	printf("seed %u\n", seed);
	srand(seed);
	for (i = 0; i < 60; i++) {
		cw.n = sw.n = cw2.n = 0;
		client_hello(&cw, "www.example.test", false);
		server_flight(&sw, leaf, rand() % 6, 1 + (size_t)(rand() % 5000));
		client_second_flight(&cw2);
		ft = new_table(&s, 0);
		open_conn(ft, &c, 40080);
		send_wire(ft, &c, true, &cw, 1448);
		for (off = 0; off < sw.n; off += k) {
			k = 1 + (uint32_t)(rand() % 3000);
			if (k > sw.n - off)
				k = (uint32_t)sw.n - off;
			send_seg(ft, &c, false, sw.b + off, k, FLOW_TCP_ACK);
		}
		send_wire(ft, &c, true, &cw2, 1448);
		assert_int_equal(s.n, 1);
		assert_int_equal(s.rec[0].cert.state, HS_CERT_OK);
		assert_int_equal(s.rec[0].cert.problems, 0);
		flow_table__free(ft);
	}
	X509_free(leaf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_leaf),
		cmocka_unit_test(test_bad_leaf_accepted_refused),
		cmocka_unit_test(test_judged_at_handshake_time),
		cmocka_unit_test(test_refused_after_handshake),
		cmocka_unit_test(test_record_after_eviction),
		cmocka_unit_test(test_chain_spans_records_and_segments),
		cmocka_unit_test(test_chain_cut_by_cap),
		cmocka_unit_test(test_chain_cut_by_end),
		cmocka_unit_test(test_malformed_certificate),
		cmocka_unit_test(test_second_certificate_ignored),
		cmocka_unit_test(test_no_certificate_in_clear),
		cmocka_unit_test(test_random_delivery),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hostile inputs from the bug history of TLS dissectors (nDPI, Wireshark, Suricata,
 * tcpdump) and of this project's fuzz entries, each through the public interface that
 * meets it first: the TLS parser, the flow table, the frame decoder, the capture file
 * reader, the certificate walk and the state file loader. Each test says what a user
 * would see afterwards (the handshake still reported, a counted drop, an error with a
 * reason) and that memory stays bounded. Built with ASan and UBSan like every unit
 * test, so an out-of-bounds read or undefined behaviour on any path here fails it.
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "tlsaudit/agg.h"
#include "tlsaudit/capture.h"
#include "tlsaudit/cert.h"
#include "tlsaudit/ctl.h"
#include "tlsaudit/flow.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"

/* --- a byte builder for hostile messages ---------------------------------------------- */

struct bb {
	uint8_t *p;
	size_t n, cap;
};

static void bb_need(struct bb *b, size_t n)
{
	if (b->cap - b->n >= n)
		return;
	while (b->cap - b->n < n)
		b->cap = b->cap ? b->cap * 2 : 4096;
	b->p = realloc(b->p, b->cap);
	assert_non_null(b->p);
}

static void b8(struct bb *b, uint32_t v)
{
	bb_need(b, 1);
	b->p[b->n++] = (uint8_t)v;
}

static void b16(struct bb *b, uint32_t v)
{
	b8(b, v >> 8);
	b8(b, v);
}

static void b24(struct bb *b, uint32_t v)
{
	b8(b, v >> 16);
	b16(b, v);
}

static void bmem(struct bb *b, const void *d, size_t n)
{
	bb_need(b, n);
	memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void bfill(struct bb *b, uint8_t v, size_t n)
{
	bb_need(b, n);
	memset(b->p + b->n, v, n);
	b->n += n;
}

/* A length field opened now and written by bb_close (width 1, 2 or 3), plus @lie. */
static size_t bb_open(struct bb *b, int width)
{
	size_t at = b->n;

	bfill(b, 0, (size_t)width);
	return at;
}

static void bb_close(struct bb *b, size_t at, int width, long lie)
{
	size_t v = (size_t)((long)(b->n - at - (size_t)width) + lie);
	int i;

	for (i = width - 1; i >= 0; i--, v >>= 8)
		b->p[at + (size_t)i] = (uint8_t)v;
}

/* What a ClientHello carries; zero fields leave the part out. */
struct hello {
	unsigned int n_suites;	  /* 0: one, 0xc02f */
	bool grease;		  /* GREASE in suites, extensions, groups, versions, shares */
	const char *sni;	  /* host_name */
	size_t sni_len;		  /* with sni: its length (may exceed strlen: 'x' fill) */
	bool sni_empty_list;	  /* server_name with an empty list */
	const uint8_t *alpn;	  /* ALPN protocol_name_list body */
	size_t alpn_len;
	size_t key_share;	  /* x25519 share of this many bytes */
	unsigned int n_exts;	  /* extra empty extensions (type 0xfa00 + i) */
	long ext_lie;		  /* added to the extensions block length */
	bool tls13;		  /* supported_versions 1.3, 1.2 */
};

/* hello_body - a ClientHello body (RFC 8446 4.1.2) after the 4-byte header. */
static void hello_body(struct bb *b, const struct hello *h)
{
	size_t at, ext, e, l;
	unsigned int i;

	b16(b, 0x0303);
	bfill(b, 0x5a, 32);
	b8(b, 0);
	at = bb_open(b, 2);
	if (h->grease)
		b16(b, 0x0a0a);
	if (!h->n_suites)
		b16(b, 0xc02f);
	for (i = 0; i < h->n_suites; i++)
		b16(b, i < 2 ? 0xc02f - i : 0x0100 + (i % 0xfe00));
	bb_close(b, at, 2, 0);
	b8(b, 1);
	b8(b, 0);
	ext = bb_open(b, 2);
	if (h->grease) {
		b16(b, 0x1a1a);
		b16(b, 0);
	}
	if (h->sni || h->sni_empty_list) {
		b16(b, 0);
		e = bb_open(b, 2);
		l = bb_open(b, 2);
		if (h->sni) {
			size_t n = strlen(h->sni);

			b8(b, 0);
			b16(b, (uint32_t)h->sni_len);
			bmem(b, h->sni, n < h->sni_len ? n : h->sni_len);
			if (h->sni_len > n)
				bfill(b, 'x', h->sni_len - n);
		}
		bb_close(b, l, 2, 0);
		bb_close(b, e, 2, 0);
	}
	if (h->alpn) {
		b16(b, 16);
		e = bb_open(b, 2);
		l = bb_open(b, 2);
		bmem(b, h->alpn, h->alpn_len);
		bb_close(b, l, 2, 0);
		bb_close(b, e, 2, 0);
	}
	/* supported_groups */
	b16(b, 10);
	e = bb_open(b, 2);
	l = bb_open(b, 2);
	if (h->grease)
		b16(b, 0x2a2a);
	b16(b, 0x001d);
	b16(b, 0x0017);
	bb_close(b, l, 2, 0);
	bb_close(b, e, 2, 0);
	if (h->tls13) {
		b16(b, 43);
		e = bb_open(b, 2);
		l = bb_open(b, 1);
		if (h->grease)
			b16(b, 0x3a3a);
		b16(b, 0x0304);
		b16(b, 0x0303);
		bb_close(b, l, 1, 0);
		bb_close(b, e, 2, 0);
	}
	if (h->key_share) {
		b16(b, 51);
		e = bb_open(b, 2);
		l = bb_open(b, 2);
		if (h->grease) {
			b16(b, 0x4a4a);
			b16(b, 1);
			b8(b, 0);
		}
		b16(b, 0x001d);
		b16(b, (uint32_t)h->key_share);
		bfill(b, 0x42, h->key_share);
		bb_close(b, l, 2, 0);
		bb_close(b, e, 2, 0);
	}
	for (i = 0; i < h->n_exts; i++) {
		b16(b, 0xfa00 + (i & 0xff));
		b16(b, 0);
	}
	bb_close(b, ext, 2, h->ext_lie);
}

/* handshake - a handshake message (type, 3-byte length) around @body. */
static void handshake(struct bb *out, uint8_t type, const struct bb *body)
{
	b8(out, type);
	b24(out, (uint32_t)body->n);
	bmem(out, body->p, body->n);
}

/* records - @msg cut into handshake records of at most @chunk bytes. */
static void records(struct bb *out, const struct bb *msg, size_t chunk)
{
	size_t off, n;

	for (off = 0; off < msg->n; off += n) {
		n = msg->n - off < chunk ? msg->n - off : chunk;
		b8(out, 22);
		b16(out, 0x0301);
		b16(out, (uint32_t)n);
		bmem(out, msg->p + off, n);
	}
}

/* client_flight - the hello as records of @chunk bytes. */
static void client_flight(struct bb *out, const struct hello *h, size_t chunk)
{
	struct bb body = { 0 }, msg = { 0 };

	hello_body(&body, h);
	handshake(&msg, 1, &body);
	records(out, &msg, chunk);
	free(body.p);
	free(msg.p);
}

/* A TLS 1.2 ServerHello choosing 0xc02f. */
static const uint8_t server_hello[] = {
	0x16, 0x03, 0x03, 0x00, 0x2a, 0x02, 0x00, 0x00, 0x26, 0x03, 0x03,
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
	25, 26, 27, 28, 29, 30, 31, 32, 0x00, 0xc0, 0x2f, 0x00,
};

/* --- the flow table as the daemon drives it -------------------------------------------- */

struct seen {
	int n;
	struct hs_record last;
};

static void on_record(const struct hs_record *rec, void *ctx)
{
	struct seen *s = ctx;

	s->n++;
	s->last = *rec;
}

static void seg_init(struct flow_segment *seg, bool to_server, uint32_t seq, uint8_t flags,
		     const uint8_t *payload, size_t len)
{
	memset(seg, 0, sizeof(*seg));
	seg->ts_ns = 1795400000ULL * NSEC_PER_SEC;
	seg->family = AF_INET;
	seg->saddr[0] = seg->daddr[0] = 10;
	seg->saddr[3] = to_server ? 2 : 1;
	seg->daddr[3] = to_server ? 1 : 2;
	seg->sport = to_server ? 40000 : 443;
	seg->dport = to_server ? 443 : 40000;
	seg->seq = seq;
	seg->tcp_flags = flags;
	seg->payload = payload;
	seg->len = (uint32_t)len;
}

/*
 * connection - one TCP connection through a fresh flow table: the client's bytes in
 * segments of @seg_len, then the server's; the table's stats into @stats. Returns the
 * records seen (@s).
 */
static void connection(const struct bb *client, size_t seg_len, const uint8_t *srv,
		       size_t srv_len, struct seen *s, struct flow_stats *stats)
{
	struct flow_config cfg;
	struct flow_segment seg;
	struct flow_table *ft;
	size_t off, n;

	memset(s, 0, sizeof(*s));
	flow_config_default(&cfg);
	ft = flow_table__new(&cfg, on_record, NULL, s);
	assert_non_null(ft);
	seg_init(&seg, true, 1000, FLOW_TCP_SYN, NULL, 0);
	flow_table__segment(ft, &seg);
	seg_init(&seg, false, 5000, FLOW_TCP_SYN | FLOW_TCP_ACK, NULL, 0);
	flow_table__segment(ft, &seg);
	for (off = 0; off < client->n; off += n) {
		n = client->n - off < seg_len ? client->n - off : seg_len;
		seg_init(&seg, true, 1001 + (uint32_t)off, FLOW_TCP_ACK, client->p + off, n);
		flow_table__segment(ft, &seg);
	}
	if (srv_len) {
		seg_init(&seg, false, 5001, FLOW_TCP_ACK, srv, srv_len);
		flow_table__segment(ft, &seg);
	}
	flow_table__flush(ft);
	*stats = *flow_table__stats(ft);
	flow_table__free(ft);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t scratch[1 << 16];
static struct tls_stream st;

/* --- TLS: records, extensions, names, counts ------------------------------------------ */

/*
 * A ClientHello over 1-byte records (the record layer allows any fragmentation; IDS
 * evasion and old TLS stacks both do it): the stream walk reassembles it, and the flow
 * table reports the handshake whether each record rides in its own segment or not.
 */
static void test_hello_one_byte_records(void **unused)
{
	static const uint8_t h2[] = { 2, 'h', '2' };
	const struct hello h = { .sni = "one-byte.test", .sni_len = 13, .alpn = h2,
				 .alpn_len = sizeof(h2), .key_share = 32, .tls13 = true };
	struct flow_stats fs;
	struct bb cli = { 0 };
	struct seen s;
	double t0;

	(void)unused;
	client_flight(&cli, &h, 1);
	memset(&st, 0, sizeof(st));
	assert_int_not_equal(tls_stream_parse(cli.p, cli.n, true, &st, scratch, sizeof(scratch)),
			     TLS_INVALID);
	assert_int_equal(st.n_client_hellos, 1);
	assert_string_equal(st.first.sni, "one-byte.test");

	/* One record a segment (6 bytes), then arbitrary cuts across record boundaries. */
	t0 = now_s();
	connection(&cli, 6, server_hello, sizeof(server_hello), &s, &fs);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.last.sni, "one-byte.test");
	assert_int_equal(s.last.version, TLS_V_12);
	assert_int_equal(s.last.offered_max, TLS_V_13);
	assert_string_equal(s.last.alpn, "h2");
	connection(&cli, 7, server_hello, sizeof(server_hello), &s, &fs);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.last.sni, "one-byte.test");
	print_message("%zu-byte flight in 1-byte records, 6- and 7-byte segments: %.3f s\n",
		      cli.n, now_s() - t0);
	free(cli.p);
}

/*
 * The most records a walk takes (4096): a hello padded so that its 1-byte records
 * exceed it is refused as invalid and counted, never walked for ever. The cost of the
 * re-walks is printed: the prefix is walked again only once it could complete the
 * message (tls_stream.need), so 1-byte records in 6-byte segments up to the cap cost
 * O(n log n), not the O(n^2) of a walk per segment.
 */
static void test_hello_record_cap(void **unused)
{
	const struct hello h = { .sni = "pad.test", .sni_len = 8, .n_exts = 1100 };
	struct flow_stats fs;
	struct bb cli = { 0 };
	struct seen s;
	double t0;

	(void)unused;
	client_flight(&cli, &h, 1);
	assert_true(cli.n / 6 > 4096);
	memset(&st, 0, sizeof(st));
	assert_int_equal(tls_stream_parse(cli.p, cli.n, true, &st, scratch, sizeof(scratch)),
			 TLS_INVALID);
	t0 = now_s();
	connection(&cli, 6, server_hello, sizeof(server_hello), &s, &fs);
	print_message("%zu records in 6-byte segments: %.3f s, invalid_tls %llu, records %d\n",
		      cli.n / 6, now_s() - t0, (unsigned long long)fs.invalid_tls, s.n);
	assert_true(fs.invalid_tls >= 1 || s.n == 1);
	free(cli.p);
}

/*
 * An extensions block whose length says more or less than the hello holds: the hello
 * is malformed (RFC 8446 4.1.2: the block ends the message), refused, never read past.
 * Through the flow table such a flow is counted as invalid TLS, not reported as a
 * handshake of some other shape.
 */
static void test_extension_block_lies(void **unused)
{
	static const long lies[] = { -4, -3, -2, -1, 1, 2, 3, 4, 1000, -1000, 65535 };
	struct tls_client_hello ch;
	struct flow_stats fs;
	struct seen s;
	size_t i;

	(void)unused;
	for (i = 0; i < ARRAY_SIZE(lies); i++) {
		const struct hello h = { .sni = "lie.test", .sni_len = 8, .ext_lie = lies[i] };
		struct bb body = { 0 }, cli = { 0 };
		uint8_t *exact;

		hello_body(&body, &h);
		/* Exactly the body's bytes: a read past them is an ASan report. */
		exact = malloc(body.n);
		assert_non_null(exact);
		memcpy(exact, body.p, body.n);
		assert_int_equal(tls_parse_client_hello(exact, body.n, &ch), TLS_INVALID);
		free(exact);

		client_flight(&cli, &h, 16384);
		connection(&cli, 1400, server_hello, sizeof(server_hello), &s, &fs);
		assert_int_equal(s.n, 0);
		assert_int_equal(fs.invalid_tls, 1);
		free(cli.p);
		free(body.p);
	}
}

/*
 * server_name and ALPN entries of length zero, one byte and longer than the record
 * keeps (RFC 6066 3: HostName is 1 to 2^16-1 bytes; RFC 7301 3.1: protocol names are
 * 1 to 255 bytes, none empty). A name too long for the record is cut at its cap and
 * flagged; the handshake is still reported.
 */
static void test_sni_alpn_lengths(void **unused)
{
	static const uint8_t alpn_empty_entry[] = { 0 };
	static const uint8_t alpn_one[] = { 1, 'h' };
	uint8_t alpn_long[1 + 255 + 1 + 255];
	struct tls_client_hello ch;
	struct flow_stats fs;
	struct bb body, cli;
	struct seen s;
	char longname[1001];

	(void)unused;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';

	/* server_name with an empty list: no SNI, the hello is fine. */
	{
		const struct hello h = { .sni_empty_list = true };

		memset(&body, 0, sizeof(body));
		hello_body(&body, &h);
		tls_parse_client_hello(body.p, body.n, &ch);
		assert_string_equal(ch.sni, "");
		free(body.p);
	}
	/* A zero-length host name, then a one-byte one. */
	{
		const struct hello h0 = { .sni = "", .sni_len = 0 };
		const struct hello h1 = { .sni = "a", .sni_len = 1 };

		memset(&body, 0, sizeof(body));
		hello_body(&body, &h0);
		tls_parse_client_hello(body.p, body.n, &ch);
		assert_string_equal(ch.sni, "");
		free(body.p);
		memset(&body, 0, sizeof(body));
		hello_body(&body, &h1);
		assert_int_equal(tls_parse_client_hello(body.p, body.n, &ch), TLS_OK);
		assert_string_equal(ch.sni, "a");
		free(body.p);
	}
	/* 1000 bytes: cut at the record's 255, flagged, the handshake reported with it. */
	{
		const struct hello h = { .sni = longname, .sni_len = 1000 };

		memset(&body, 0, sizeof(body));
		hello_body(&body, &h);
		assert_int_equal(tls_parse_client_hello(body.p, body.n, &ch), TLS_OK);
		assert_true(ch.sni_truncated);
		assert_int_equal(strlen(ch.sni), HS_SNI_MAX - 1);
		free(body.p);
		memset(&cli, 0, sizeof(cli));
		client_flight(&cli, &h, 16384);
		connection(&cli, 1400, server_hello, sizeof(server_hello), &s, &fs);
		assert_int_equal(s.n, 1);
		assert_int_equal(strlen(s.last.sni), HS_SNI_MAX - 1);
		free(cli.p);
	}
	/* A host name longer than its extension: a lie, refused. */
	{
		struct hello h = { .sni = "liar.test", .sni_len = 9 };

		memset(&body, 0, sizeof(body));
		hello_body(&body, &h);
		/* The name's length field sits 11 bytes before its end (extension header,
		 * list length, type, length): point it past the extension. */
		{
			uint8_t *p = memmem(body.p, body.n, "liar.test", 9);

			assert_non_null(p);
			p[-2] = 0x01;
			p[-1] = 0x00;
		}
		assert_int_equal(tls_parse_client_hello(body.p, body.n, &ch), TLS_INVALID);
		free(body.p);
	}
	/* ALPN: an empty protocol name, one of one byte, two of 255 bytes (cut in the record). */
	{
		const struct hello h0 = { .alpn = alpn_empty_entry, .alpn_len = 1 };
		const struct hello h1 = { .alpn = alpn_one, .alpn_len = sizeof(alpn_one) };
		const struct hello hl = { .alpn = alpn_long, .alpn_len = sizeof(alpn_long) };

		memset(&body, 0, sizeof(body));
		hello_body(&body, &h0);
		tls_parse_client_hello(body.p, body.n, &ch);
		free(body.p);

		memset(&cli, 0, sizeof(cli));
		client_flight(&cli, &h1, 16384);
		connection(&cli, 1400, server_hello, sizeof(server_hello), &s, &fs);
		assert_int_equal(s.n, 1);
		assert_string_equal(s.last.alpn, "h");
		free(cli.p);

		alpn_long[0] = 255;
		memset(alpn_long + 1, 'p', 255);
		alpn_long[256] = 255;
		memset(alpn_long + 257, 'q', 255);
		memset(&cli, 0, sizeof(cli));
		client_flight(&cli, &hl, 16384);
		connection(&cli, 1400, server_hello, sizeof(server_hello), &s, &fs);
		assert_int_equal(s.n, 1);
		assert_true(memchr(s.last.alpn, 0, sizeof(s.last.alpn)) != NULL);
		assert_true(strlen(s.last.alpn) < HS_ALPN_MAX);
		free(cli.p);
	}
}

/*
 * 32,000 cipher suites (a 64 KB list, the most a 2-byte length allows) and 4,000
 * extensions: the lists keep their first 128 entries and count the rest, JA3 and JA4
 * are computed. 5,000 extensions pass the walk's iteration cap (4096): refused, and
 * counted as invalid through the flow table. The 64 KB hello is larger than the 32 KiB
 * kept per direction: a counted cap, not a crash or a record of garbage.
 */
static void test_huge_counts(void **unused)
{
	const struct hello hs = { .n_suites = 32000, .sni = "many.test", .sni_len = 9 };
	const struct hello he = { .n_exts = 4000, .sni = "exts.test", .sni_len = 9 };
	const struct hello hx = { .n_exts = 5000, .sni = "exts.test", .sni_len = 9 };
	struct tls_client_hello ch;
	struct flow_stats fs;
	struct bb body = { 0 }, cli = { 0 };
	struct seen s;
	char ja3[33], ja4[40];

	(void)unused;
	hello_body(&body, &hs);
	assert_int_equal(tls_parse_client_hello(body.p, body.n, &ch), TLS_OK);
	assert_int_equal(ch.ciphers.n, TLS_MAX_LIST);
	assert_int_equal(ch.ciphers.total, 32000);
	assert_string_equal(ch.sni, "many.test");
	tls_ja3(&ch, ja3);
	tls_ja4(&ch, ja4);
	assert_int_equal(strlen(ja3), 32);
	free(body.p);

	memset(&body, 0, sizeof(body));
	hello_body(&body, &he);
	assert_int_equal(tls_parse_client_hello(body.p, body.n, &ch), TLS_OK);
	assert_int_equal(ch.exts.n, TLS_MAX_LIST);
	assert_true(ch.exts.total >= 4000);
	assert_string_equal(ch.sni, "exts.test");
	free(body.p);
	memset(&body, 0, sizeof(body));
	hello_body(&body, &hx);
	assert_int_equal(tls_parse_client_hello(body.p, body.n, &ch), TLS_INVALID);
	free(body.p);
	client_flight(&cli, &hx, 16384);
	connection(&cli, 1400, server_hello, sizeof(server_hello), &s, &fs);
	assert_int_equal(s.n, 0);
	assert_int_equal(fs.invalid_tls, 1);
	free(cli.p);
	memset(&cli, 0, sizeof(cli));

	client_flight(&cli, &hs, 16384);
	connection(&cli, 1400, server_hello, sizeof(server_hello), &s, &fs);
	print_message("64 KB hello through the flow table: %d record(s), cap_reached %llu, "
		      "invalid %llu\n", s.n, (unsigned long long)fs.cap_reached,
		      (unsigned long long)fs.invalid_tls);
	assert_true(fs.cap_reached + fs.invalid_tls >= 1);
	free(cli.p);
}

/*
 * GREASE (RFC 8701) everywhere a client may put it, and key shares of 8 KB (a
 * post-quantum share is 1.2 KB; nothing stops a client sending more): GREASE never
 * counts as a version, suite or group; the hello spans records and segments and is
 * reported with its SNI.
 */
static void test_grease_and_giant_key_share(void **unused)
{
	const struct hello h = { .grease = true, .tls13 = true, .key_share = 8192,
				 .sni = "grease.test", .sni_len = 11 };
	struct tls_client_hello ch;
	struct flow_stats fs;
	struct bb body = { 0 }, cli = { 0 };
	struct seen s;

	(void)unused;
	hello_body(&body, &h);
	assert_int_equal(tls_parse_client_hello(body.p, body.n, &ch), TLS_OK);
	assert_int_equal(ch.max_version, TLS_V_13);
	assert_string_equal(ch.sni, "grease.test");
	free(body.p);

	client_flight(&cli, &h, 16384);
	connection(&cli, 1400, server_hello, sizeof(server_hello), &s, &fs);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.last.sni, "grease.test");
	assert_int_equal(s.last.offered_max, TLS_V_13);
	free(cli.p);

	/* 40 KB of key share: more than the 32 KiB kept; counted, not a crash. */
	{
		const struct hello big = { .tls13 = true, .key_share = 40000, .sni = "big.test",
					   .sni_len = 8 };

		memset(&cli, 0, sizeof(cli));
		client_flight(&cli, &big, 16384);
		connection(&cli, 1400, server_hello, sizeof(server_hello), &s, &fs);
		assert_true(fs.cap_reached + fs.invalid_tls >= 1);
		free(cli.p);
	}
}

/* --- IP and TCP headers that lie ------------------------------------------------------- */

/*
 * Every IPv4 header length (IHL 0-15), TCP data offset (0-15) and total length that
 * is short, exact or longer than the frame, on a frame of exactly its captured size: the
 * decoder refuses what cannot be (IHL < 5, offset < 5, headers past the frame), never
 * reads past the frame, and any payload it hands on lies inside it.
 */
static void test_ip_tcp_header_lies(void **unused)
{
	static const uint16_t totals[] = { 0, 19, 20, 39, 40, 60, 100, 1500, 65535 };
	unsigned int ihl, doff, ti, ok = 0, refused = 0;

	(void)unused;
	for (ihl = 0; ihl < 16; ihl++) {
		for (doff = 0; doff < 16; doff++) {
			for (ti = 0; ti < ARRAY_SIZE(totals); ti++) {
				size_t len = 14 + 60 + 60 + 20, iplen = 60 + 60 + 20;
				struct flow_segment seg;
				uint8_t *f = calloc(1, len);
				uint8_t *ip = f + 14, *tcp;
				int ret;

				assert_non_null(f);
				f[12] = 0x08; /* IPv4 */
				ip[0] = (uint8_t)(0x40 | ihl);
				ip[2] = (uint8_t)(totals[ti] >> 8);
				ip[3] = (uint8_t)totals[ti];
				ip[8] = 64;
				ip[9] = 6;
				ip[12] = 10;
				ip[15] = 2;
				ip[16] = 10;
				ip[19] = 1;
				tcp = ip + (ihl >= 5 ? ihl * 4 : 20);
				tcp[0] = 0x9c;
				tcp[2] = 0x01;
				tcp[3] = 0xbb; /* 443 */
				tcp[12] = (uint8_t)(doff << 4);
				tcp[13] = 0x18;
				memset(tcp + 20, 0x16, (size_t)(ip + iplen - tcp) - 20);
				/* Cut the frame at every length around the headers too. */
				ret = cap_decode(1, f, len, 1, &seg);
				if (ret == CAP_DECODE_OK) {
					ok++;
					assert_true(ihl >= 5 && doff >= 5);
					assert_true(seg.len == 0 ||
						    (seg.payload >= f && seg.payload + seg.len <= f + len));
				} else {
					refused++;
				}
				free(f);
			}
		}
	}
	print_message("IPv4/TCP header lies: %u decoded, %u refused\n", ok, refused);
	assert_true(ok > 0 && refused > 0);
}

/* --- capture files whose lengths lie --------------------------------------------------- */

static char tmpdir[64];

static int setup_tmp(void **unused)
{
	(void)unused;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tlsaudit-hostile-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **unused)
{
	char cmd[128];

	(void)unused;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void le32(struct bb *b, uint32_t v)
{
	b8(b, v);
	b8(b, v >> 8);
	b8(b, v >> 16);
	b8(b, v >> 24);
}

static void le16(struct bb *b, uint32_t v)
{
	b8(b, v);
	b8(b, v >> 8);
}

/* An Ethernet/IPv4/TCP frame to 443 carrying @payload (checksums are not checked). */
static void frame(struct bb *b, const uint8_t *payload, size_t n, bool to_server)
{
	static const uint8_t cli[4] = { 10, 0, 0, 2 }, srv[4] = { 10, 0, 0, 1 };

	bfill(b, 0, 12);
	b16(b, 0x0800);
	b8(b, 0x45);
	b8(b, 0);
	b16(b, (uint32_t)(40 + n));
	bfill(b, 0, 4);
	b8(b, 64);
	b8(b, 6);
	b16(b, 0);
	bmem(b, to_server ? cli : srv, 4);
	bmem(b, to_server ? srv : cli, 4);
	b16(b, to_server ? 40000 : 443);
	b16(b, to_server ? 443 : 40000);
	b16(b, 0);
	b16(b, to_server ? 1001 : 5001);
	bfill(b, 0, 4);
	b8(b, 0x50);
	b8(b, 0x18);
	b16(b, 0xffff);
	bfill(b, 0, 4);
	bmem(b, payload, n);
}

/* read_file - cap_file_read of @bytes written to a file; its result and stats. */
static int read_file(const struct bb *bytes, struct seen *s, struct cap_file_stats *cs,
		     char *err, size_t errlen)
{
	struct flow_config cfg;
	struct flow_table *ft;
	char path[128];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s/f", tmpdir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(bytes->p, 1, bytes->n, f), bytes->n);
	fclose(f);
	memset(s, 0, sizeof(*s));
	memset(cs, 0, sizeof(*cs));
	flow_config_default(&cfg);
	ft = flow_table__new(&cfg, on_record, NULL, s);
	assert_non_null(ft);
	err[0] = '\0';
	ret = cap_file_read(path, ft, cs, err, errlen);
	flow_table__flush(ft);
	flow_table__free(ft);
	if (ret)
		assert_true(err[0] != '\0');
	return ret;
}

/* pcap_file - a classic pcap (LINKTYPE_ETHERNET) with the client hello and server hello. */
static void pcap_file(struct bb *b, uint32_t snaplen, uint32_t caplen_lie, uint32_t len_lie)
{
	struct bb ch = { 0 }, fr = { 0 };
	const struct hello h = { .sni = "pcap.test", .sni_len = 9 };
	int i;

	client_flight(&ch, &h, 16384);
	le32(b, 0xa1b2c3d4);
	le16(b, 2);
	le16(b, 4);
	le32(b, 0);
	le32(b, 0);
	le32(b, snaplen);
	le32(b, 1);
	for (i = 0; i < 2; i++) {
		fr.n = 0;
		if (i == 0)
			frame(&fr, ch.p, ch.n, true);
		else
			frame(&fr, server_hello, sizeof(server_hello), false);
		le32(b, 1795400000);
		le32(b, (uint32_t)i);
		le32(b, (uint32_t)fr.n + (i ? 0 : caplen_lie));
		le32(b, (uint32_t)fr.n + (i ? 0 : len_lie));
		bmem(b, fr.p, fr.n);
	}
	free(ch.p);
	free(fr.p);
}

/*
 * caplen larger than the packet's len, than the snaplen, than what the file holds, and
 * len smaller than caplen: the reader stops with a reason or reads on, the frames it
 * hands the decoder are what the file holds, and a well-formed file next to the lies
 * gives its handshake.
 */
static void test_pcap_caplen_lies(void **unused)
{
	static const struct {
		uint32_t snaplen, caplen_lie, len_lie;
	} cases[] = {
		{ 65535, 0, 0 },	  /* the honest file */
		{ 65535, 0, (uint32_t)-20 }, /* caplen > len */
		{ 100, 0, 0 },		  /* caplen > snaplen */
		{ 65535, 8, 8 },	  /* caplen past the record: eats the next header */
		{ 65535, 100000, 100000 }, /* caplen past the end of the file */
		{ 65535, 0xffffff00u, 0 }, /* caplen near 4 GiB */
		{ 0, 0, 0 },		  /* snaplen 0 */
	};
	struct cap_file_stats cs;
	struct seen s;
	char err[256];
	size_t i;

	(void)unused;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct bb b = { 0 };
		int ret;

		pcap_file(&b, cases[i].snaplen, cases[i].caplen_lie, cases[i].len_lie);
		ret = read_file(&b, &s, &cs, err, sizeof(err));
		print_message("pcap snaplen %u caplen%+d len%+d: ret %d, %llu packets, %d record(s)"
			      "%s%s\n", cases[i].snaplen, (int)cases[i].caplen_lie,
			      (int)cases[i].len_lie, ret, (unsigned long long)cs.packets, s.n,
			      ret ? ": " : "", ret ? err : "");
		if (i == 0) {
			assert_int_equal(ret, 0);
			assert_int_equal(s.n, 1);
			assert_string_equal(s.last.sni, "pcap.test");
		}
		assert_true(cs.bytes <= b.n);
		free(b.p);
	}
}

/* pcapng_file - SHB, IDB, two EPBs; @lie is added to one block's length (@which). */
static void pcapng_file(struct bb *b, int which, long lie, bool trailer_only)
{
	struct bb ch = { 0 }, fr = { 0 };
	const struct hello h = { .sni = "ng.test", .sni_len = 7 };
	size_t at;
	int i;

	client_flight(&ch, &h, 16384);
	/* Section Header Block */
	at = b->n;
	le32(b, 0x0a0d0d0a);
	le32(b, 28);
	le32(b, 0x1a2b3c4d);
	le16(b, 1);
	le16(b, 0);
	le32(b, 0xffffffff);
	le32(b, 0xffffffff);
	le32(b, 28);
	if (which == 0) {
		uint32_t v = (uint32_t)(28 + lie);

		if (!trailer_only)
			memcpy(b->p + at + 4, &v, 4);
		memcpy(b->p + b->n - 4, &v, 4);
	}
	/* Interface Description Block: Ethernet, snaplen 65535 */
	at = b->n;
	le32(b, 1);
	le32(b, 20);
	le16(b, 1);
	le16(b, 0);
	le32(b, 65535);
	le32(b, 20);
	if (which == 1) {
		uint32_t v = (uint32_t)(20 + lie);

		if (!trailer_only)
			memcpy(b->p + at + 4, &v, 4);
		memcpy(b->p + b->n - 4, &v, 4);
	}
	for (i = 0; i < 2; i++) {
		size_t pad, total;
		uint32_t v;

		fr.n = 0;
		if (i == 0)
			frame(&fr, ch.p, ch.n, true);
		else
			frame(&fr, server_hello, sizeof(server_hello), false);
		pad = (4 - fr.n % 4) % 4;
		total = 32 + fr.n + pad;
		at = b->n;
		le32(b, 6);
		le32(b, (uint32_t)total);
		le32(b, 0);
		le32(b, 0);
		le32(b, (uint32_t)i);
		le32(b, (uint32_t)fr.n);
		le32(b, (uint32_t)fr.n);
		bmem(b, fr.p, fr.n);
		bfill(b, 0, pad);
		le32(b, (uint32_t)total);
		if (which == 2 + i) {
			v = (uint32_t)((long)total + lie);
			if (!trailer_only)
				memcpy(b->p + at + 4, &v, 4);
			memcpy(b->p + b->n - 4, &v, 4);
		}
		if (which == 4 + i) {
			/* The captured length inside the EPB lies instead. */
			v = (uint32_t)((long)fr.n + lie);
			memcpy(b->p + at + 20, &v, 4);
		}
	}
	free(ch.p);
	free(fr.p);
}

/*
 * pcapng blocks whose total length is short, long, unaligned, past the file, or whose
 * two copies disagree, and EPBs whose captured length exceeds their block: libpcap's
 * reader refuses them with a reason (tlsaudit says which file and after how many
 * packets), never hands the decoder bytes outside the block.
 */
static void test_pcapng_block_lies(void **unused)
{
	static const long lies[] = { -8, -4, -1, 1, 3, 4, 8, 4096, 0x7ffffff0 };
	struct cap_file_stats cs;
	struct seen s;
	char err[256];
	int which, trailer, refused = 0, runs = 0;
	size_t i;

	(void)unused;
	{
		struct bb b = { 0 };

		pcapng_file(&b, -1, 0, false);
		assert_int_equal(read_file(&b, &s, &cs, err, sizeof(err)), 0);
		assert_int_equal(s.n, 1);
		assert_string_equal(s.last.sni, "ng.test");
		free(b.p);
	}
	for (which = 0; which < 6; which++) {
		for (trailer = 0; trailer < 2; trailer++) {
			for (i = 0; i < ARRAY_SIZE(lies); i++) {
				struct bb b = { 0 };

				pcapng_file(&b, which, lies[i], trailer);
				if (read_file(&b, &s, &cs, err, sizeof(err)))
					refused++;
				assert_true(cs.bytes <= b.n);
				runs++;
				free(b.p);
			}
		}
	}
	print_message("pcapng length lies: %d files, %d refused with a reason\n", runs, refused);
	assert_true(refused > 0);
}

/* --- certificates --------------------------------------------------------------------- */

/*
 * Certificate messages and DER whose lengths lie: the list length against the body,
 * an entry against the list, 3-byte lengths at their maximum, DER lengths in the long
 * form up to 2^32 and indefinite (BER, not DER). Every one is refused, none read past.
 */
static void test_cert_lying_lengths(void **unused)
{
	static const uint8_t der_heads[][6] = {
		{ 0x30, 0x84, 0xff, 0xff, 0xff, 0xff }, /* SEQUENCE of 4 GiB */
		{ 0x30, 0x80, 0x30, 0x80, 0x00, 0x00 }, /* indefinite length */
		{ 0x30, 0x83, 0x01, 0x00, 0x00, 0x30 }, /* 64 KiB, more than held */
		{ 0x30, 0x89, 0x01, 0x00, 0x00, 0x00 }, /* 9 length bytes */
		{ 0x30, 0x00, 0x00, 0x00, 0x00, 0x00 }, /* empty, then trailing bytes */
		{ 0x02, 0x01, 0x00, 0x00, 0x00, 0x00 }, /* not a SEQUENCE */
	};
	static const uint32_t list_lies[] = { 0, 1, 2, 3, 7, 0xffffff };
	struct tls_cert_chain chain;
	struct tls_cert_info *info = malloc(sizeof(*info));
	uint8_t body[64], *exact;
	size_t i, j;

	(void)unused;
	assert_non_null(info);
	for (i = 0; i < ARRAY_SIZE(der_heads); i++) {
		for (j = 2; j <= sizeof(der_heads[i]); j++) {
			exact = malloc(j);
			assert_non_null(exact);
			memcpy(exact, der_heads[i], j);
			assert_int_not_equal(tls_cert_decode(exact, j, info), 0);
			free(exact);
		}
	}
	/* A message: list length L, one entry of length E, 6 bytes of DER head. */
	for (i = 0; i < ARRAY_SIZE(list_lies); i++) {
		for (j = 0; j < ARRAY_SIZE(list_lies); j++) {
			size_t n = 3 + 3 + 6;

			body[0] = (uint8_t)(list_lies[i] >> 16);
			body[1] = (uint8_t)(list_lies[i] >> 8);
			body[2] = (uint8_t)list_lies[i];
			body[3] = (uint8_t)(list_lies[j] >> 16);
			body[4] = (uint8_t)(list_lies[j] >> 8);
			body[5] = (uint8_t)list_lies[j];
			memcpy(body + 6, der_heads[0], 6);
			exact = malloc(n);
			assert_non_null(exact);
			memcpy(exact, body, n);
			if (tls_cert_msg_leaf(exact, n, &chain) == TLS_OK && chain.n_certs) {
				/* Only an honest list gets here: its leaf inside the body. */
				assert_true(chain.leaf >= exact && chain.leaf + chain.leaf_len <= exact + n);
				assert_int_not_equal(tls_cert_decode(chain.leaf, chain.leaf_len, info), 0);
			}
			free(exact);
		}
	}
	free(info);
}

/* --- control socket ------------------------------------------------------------------ */

struct calls {
	int n;
	size_t reply; /* bytes of each reply */
};

static void counting_handler(const struct ctl_json *req, struct ctl_buf *out, void *ctx)
{
	struct calls *c = ctx;
	static char pad[1 << 16];
	size_t left;

	(void)req;
	c->n++;
	ctl_buf_printf(out, "{\"ok\":true,\"n_rows\":0,\"n_handshakes\":0}\n");
	memset(pad, ' ', sizeof(pad));
	for (left = c->reply; left; left -= left < sizeof(pad) ? left : sizeof(pad))
		ctl_buf_append(out, pad, left < sizeof(pad) ? left : sizeof(pad));
}

static int ctl_connect_raw(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	util_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/*
 * A member of group tlsaudit pipelines 4 KiB of requests and never reads. Each request
 * was answered in the same turn of the loop (a hundred `report` replies of a thousand
 * records: seconds in which capture waited, tests/e2e/faults_ctl.sh). Now a client gets
 * one request answered per turn, and none while its last reply is not taken; a client
 * that reads gets all of its requests answered, over as many turns.
 */
static void test_ctl_pipelined_requests(void **unused)
{
	static const char req[] = "{\"cmd\":\"x\"}\n";
	struct calls calls = { 0 };
	struct ctl_server *srv;
	char path[128], err[256], buf[4096], line[CTL_REQ_MAX];
	size_t i, got = 0;
	int fd, turns;
	ssize_t n;

	(void)unused;
	snprintf(path, sizeof(path), "%s/sock", tmpdir);
	srv = ctl_server__new(path, counting_handler, &calls, err, sizeof(err));
	assert_non_null(srv);

	/* A reader: 200 requests in one write, every reply arrives, a few per turn. */
	fd = ctl_connect_raw(path);
	for (i = 0; i + sizeof(req) - 1 <= sizeof(line); i += sizeof(req) - 1)
		memcpy(line + i, req, sizeof(req) - 1);
	assert_int_equal(write(fd, line, i), (ssize_t)i);
	for (turns = 0; turns < 10000 && got < i / (sizeof(req) - 1); turns++) {
		int before = calls.n;

		ctl_server__process(srv);
		assert_true(calls.n - before <= 8);
		while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			for (ssize_t k = 0; k < n; k++)
				got += buf[k] == '\n';
	}
	assert_int_equal(got, i / (sizeof(req) - 1));
	assert_int_equal(calls.n, (int)got);
	close(fd);
	ctl_server__process(srv);

	/* A client that never reads, with replies bigger than its socket buffer. */
	calls.n = 0;
	calls.reply = 4u << 20;
	fd = ctl_connect_raw(path);
	assert_int_equal(write(fd, line, i), (ssize_t)i);
	for (turns = 0; turns < 50; turns++)
		ctl_server__process(srv);
	print_message("a client that does not read: %d of %zu requests answered in 50 turns\n",
		      calls.n, i / (sizeof(req) - 1));
	assert_int_equal(calls.n, 1);
	close(fd);
	ctl_server__process(srv);
	ctl_server__free(srv);
}

/* --- state file ---------------------------------------------------------------------- */

static long maxrss_mb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * A state file whose row count is as large as the payload allows, every row valid: the
 * loader sized an array by that count (9.6 KiB per row in memory against about 200
 * bytes on disk), so 16 MiB of payload, 16 KiB of zlib, took over 700 MB before the
 * fix. Now it loads in one row's memory, the rows merged into their one key.
 */
static void test_state_row_count_bomb(void **unused)
{
	struct agg *a = agg__new(16, 4), *b = agg__new(16, 4);
	uint8_t *file = NULL, *raw, *big, *out;
	size_t len, row_len, n_rows, i, off;
	struct hs_record r;
	uLongf raw_len, clen;
	long before;
	char err[256];

	(void)unused;
	assert_non_null(a);
	assert_non_null(b);
	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * NSEC_PER_SEC;
	r.version = TLS_V_12;
	r.offered_max = TLS_V_12;
	r.server.family = AF_INET;
	r.server.port = 443;
	agg__add(a, &r, r.time_ns);
	assert_int_equal(agg__save_buf(a, &file, &len), 0);

	/* Inflate, take the one row (after u64 time and u32 count, before the counters). */
	raw_len = 1 << 20;
	raw = malloc(raw_len);
	assert_non_null(raw);
	assert_int_equal(uncompress(raw, &raw_len, file + 24, len - 24), Z_OK);
	/* The counters: u32 N then N u64; find N from the end rather than trust a size. */
	row_len = 0;
	for (i = 1; i < 64; i++) {
		uint32_t n = (uint32_t)raw[raw_len - 8 * i - 4] << 24 |
			     (uint32_t)raw[raw_len - 8 * i - 3] << 16 |
			     (uint32_t)raw[raw_len - 8 * i - 2] << 8 | raw[raw_len - 8 * i - 1];

		if (n == i) {
			row_len = raw_len - 12 - 4 - 8 * i;
			break;
		}
	}
	assert_true(i < 64);

	n_rows = (16u << 20) / row_len;
	big = malloc(12 + n_rows * row_len + (raw_len - 12 - row_len));
	assert_non_null(big);
	memcpy(big, raw, 8);
	be32(big + 8, (uint32_t)n_rows);
	for (i = 0, off = 12; i < n_rows; i++, off += row_len)
		memcpy(big + off, raw + 12, row_len);
	memcpy(big + off, raw + 12 + row_len, raw_len - 12 - row_len);
	off += raw_len - 12 - row_len;

	clen = compressBound(off);
	out = malloc(24 + clen);
	assert_non_null(out);
	assert_int_equal(compress2(out + 24, &clen, big, off, 1), Z_OK);
	memcpy(out, file, 12);
	be32(out + 12, (uint32_t)off);
	be32(out + 16, (uint32_t)clen);
	be32(out + 20, (uint32_t)crc32(crc32(0L, out, 20), out + 24, (uInt)clen));
	free(big);

	before = maxrss_mb();
	assert_int_equal(agg__load_buf(b, out, 24 + clen, err, sizeof(err)), 0);
	/* One key: every row merged into it, every handshake counted. */
	assert_int_equal(agg__n_rows(b), 1);
	assert_int_equal(agg__totals(b)->handshakes, n_rows);
	print_message("%zu rows of %zu bytes from a %lu-byte file: peak RSS +%ld MB\n", n_rows,
		      row_len, (unsigned long)(24 + clen), maxrss_mb() - before);
	assert_true(maxrss_mb() - before < 64);

	free(out);
	free(raw);
	free(file);
	agg__free(b);
	agg__free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* First: it measures the peak RSS, which only ever grows. */
		cmocka_unit_test(test_state_row_count_bomb),
		cmocka_unit_test(test_hello_one_byte_records),
		cmocka_unit_test(test_hello_record_cap),
		cmocka_unit_test(test_extension_block_lies),
		cmocka_unit_test(test_sni_alpn_lengths),
		cmocka_unit_test(test_huge_counts),
		cmocka_unit_test(test_grease_and_giant_key_share),
		cmocka_unit_test(test_ip_tcp_header_lies),
		cmocka_unit_test_setup_teardown(test_pcap_caplen_lies, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_pcapng_block_lies, setup_tmp, teardown_tmp),
		cmocka_unit_test(test_cert_lying_lengths),
		cmocka_unit_test_setup_teardown(test_ctl_pipelined_requests, setup_tmp, teardown_tmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

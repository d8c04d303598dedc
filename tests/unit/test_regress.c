// SPDX-License-Identifier: GPL-2.0-only
/*
 * Regressions found by the fuzz entries in tests/fuzz/: each test replays the smallest
 * input that broke a module, through its public interface, and checks what a user
 * would see afterwards (the handshake is still reported with its version and SNI).
 * The unit tests are built with UBSan and -fno-sanitize-recover, so undefined
 * behaviour on the replayed path fails the test as a crash would.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tlsaudit/capture.h"
#include "tlsaudit/flow.h"
#include "tlsaudit/record.h"

/*
 * A minimal TLS 1.2 ClientHello (RFC 5246 section 7.4.1.2) offering one suite and SNI
 * "r.test", and the ServerHello choosing that suite, as two records.
 */
static const uint8_t client_hello[] = {
	0x16, 0x03, 0x01, 0x00, 0x3e,			  /* record: handshake, 62 bytes */
	0x01, 0x00, 0x00, 0x3a, 0x03, 0x03,		  /* ClientHello, 58 bytes, TLS 1.2 */
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, /* random */
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
	0x00,				/* session id */
	0x00, 0x02, 0xc0, 0x2f,		/* ECDHE-RSA-AES128-GCM-SHA256 */
	0x01, 0x00,			/* null compression */
	0x00, 0x0f,			/* extensions */
	0x00, 0x00, 0x00, 0x0b, 0x00, 0x09, 0x00, 0x00, 0x06, 'r', '.', 't', 'e', 's', 't',
};

static const uint8_t server_hello[] = {
	0x16, 0x03, 0x03, 0x00, 0x2a,		/* record: handshake, 42 bytes */
	0x02, 0x00, 0x00, 0x26, 0x03, 0x03, /* ServerHello, 38 bytes, TLS 1.2 */
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
	25, 26, 27, 28, 29, 30, 31, 32, 0x00, /* random, session id */
	0xc0, 0x2f, 0x00,		      /* suite, compression */
};

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
		     const uint8_t *payload, uint32_t len)
{
	memset(seg, 0, sizeof(*seg));
	seg->ts_ns = 1000000000ULL;
	seg->family = AF_INET;
	seg->saddr[0] = seg->daddr[0] = 10;
	seg->saddr[3] = to_server ? 2 : 1;
	seg->daddr[3] = to_server ? 1 : 2;
	seg->sport = to_server ? 40000 : 443;
	seg->dport = to_server ? 443 : 40000;
	seg->seq = seq;
	seg->tcp_flags = flags;
	seg->payload = payload;
	seg->len = len;
}

/*
 * fuzz_flow: a segment exactly 2^31 bytes before the start of the stream.
 * src/flow/reasm.c negated (int32_t)(seq - isn) == INT32_MIN, which is undefined.
 * The segment must be ignored and the handshake after it reported as usual.
 */
static void test_reasm_seq_half_space(void **state)
{
	static const uint8_t junk[] = { 0x16, 0x03, 0x01, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o' };
	struct flow_config cfg;
	struct flow_segment seg;
	struct flow_table *ft;
	struct seen s = { 0 };
	const uint32_t isn = 1000, sisn = 5000;

	(void)state;
	flow_config_default(&cfg);
	ft = flow_table__new(&cfg, on_record, NULL, &s);
	assert_non_null(ft);

	seg_init(&seg, true, isn, FLOW_TCP_SYN, NULL, 0);
	flow_table__segment(ft, &seg);
	seg_init(&seg, false, sisn, FLOW_TCP_SYN | FLOW_TCP_ACK, NULL, 0);
	flow_table__segment(ft, &seg);
	seg_init(&seg, true, isn + 1 + 0x80000000u, FLOW_TCP_ACK, junk, sizeof(junk));
	flow_table__segment(ft, &seg);
	seg_init(&seg, true, isn + 1, FLOW_TCP_ACK, client_hello, sizeof(client_hello));
	flow_table__segment(ft, &seg);
	seg_init(&seg, false, sisn + 1, FLOW_TCP_ACK, server_hello, sizeof(server_hello));
	flow_table__segment(ft, &seg);
	flow_table__flush(ft);

	assert_int_equal(s.n, 1);
	assert_int_equal(s.last.version, TLS_V_12);
	assert_int_equal(s.last.offered_max, TLS_V_12);
	assert_true(s.last.has_cipher);
	assert_int_equal(s.last.cipher_id, 0xc02f);
	assert_string_equal(s.last.sni, "r.test");
	assert_int_equal(s.last.server.port, 443);
	flow_table__free(ft);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reasm_seq_half_space),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * cap_decode on crafted frames: every link type, VLAN stacks, IPv6 extension headers,
 * fragments, truncation at every length, and payloads bounded by the IP length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "tlsaudit/capture.h"

static const uint8_t PAYLOAD[] = { 0x16, 0x03, 0x01, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o' };

/* 20-byte TCP header (+ @opt_words of NOP options), then @plen payload bytes. */
static size_t put_tcp(uint8_t *p, const uint8_t *payload, size_t plen, int opt_words)
{
	size_t hlen = 20 + 4 * (size_t)opt_words;

	memset(p, 0, hlen);
	p[0] = 0xc3, p[1] = 0x50; /* 50000 */
	p[2] = 0x01, p[3] = 0xbb; /* 443 */
	p[4] = 0x11, p[5] = 0x22, p[6] = 0x33, p[7] = 0x44;
	p[12] = (uint8_t)((hlen / 4) << 4);
	p[13] = 0x18; /* PSH|ACK */
	memset(p + 20, 1, hlen - 20);
	memcpy(p + hlen, payload, plen);
	return hlen + plen;
}

static size_t put_ipv4(uint8_t *p, uint8_t l4_proto, size_t l4_len, uint16_t frag)
{
	size_t total = 20 + l4_len;

	memset(p, 0, 20);
	p[0] = 0x45;
	p[2] = (uint8_t)(total >> 8), p[3] = (uint8_t)total;
	p[6] = (uint8_t)(frag >> 8), p[7] = (uint8_t)frag;
	p[8] = 64;
	p[9] = l4_proto;
	p[12] = 10, p[13] = 0, p[14] = 0, p[15] = 1;
	p[16] = 192, p[17] = 0, p[18] = 2, p[19] = 7;
	return 20;
}

/* IPv4 + TCP + PAYLOAD at @p; returns the datagram length. */
static size_t put_v4_packet(uint8_t *p)
{
	size_t n = put_tcp(p + 20, PAYLOAD, sizeof(PAYLOAD), 0);

	put_ipv4(p, 6, n, 0);
	return 20 + n;
}

static size_t put_ipv6(uint8_t *p, uint8_t nh, size_t plen)
{
	memset(p, 0, 40);
	p[0] = 0x60;
	p[4] = (uint8_t)(plen >> 8), p[5] = (uint8_t)plen;
	p[6] = nh;
	p[7] = 64;
	p[8] = 0x20, p[9] = 0x01, p[10] = 0x0d, p[11] = 0xb8, p[23] = 1;
	p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8, p[39] = 2;
	return 40;
}

static size_t put_v6_packet(uint8_t *p)
{
	size_t n = put_tcp(p + 40, PAYLOAD, sizeof(PAYLOAD), 0);

	put_ipv6(p, 6, n);
	return 40 + n;
}

static size_t put_ether(uint8_t *p, uint16_t ethertype)
{
	memset(p, 0xaa, 12);
	p[12] = (uint8_t)(ethertype >> 8), p[13] = (uint8_t)ethertype;
	return 14;
}

static void expect_v4_segment(const struct flow_segment *seg)
{
	static const uint8_t src[4] = { 10, 0, 0, 1 }, dst[4] = { 192, 0, 2, 7 };

	assert_int_equal(seg->family, AF_INET);
	assert_memory_equal(seg->saddr, src, 4);
	assert_memory_equal(seg->daddr, dst, 4);
	assert_int_equal(seg->sport, 50000);
	assert_int_equal(seg->dport, 443);
	assert_int_equal(seg->seq, 0x11223344);
	assert_int_equal(seg->tcp_flags, FLOW_TCP_ACK);
	assert_int_equal(seg->len, sizeof(PAYLOAD));
	assert_memory_equal(seg->payload, PAYLOAD, sizeof(PAYLOAD));
	assert_int_equal(seg->ts_ns, 1234);
}

static void expect_v6_segment(const struct flow_segment *seg)
{
	assert_int_equal(seg->family, AF_INET6);
	assert_int_equal(seg->saddr[0], 0x20);
	assert_int_equal(seg->saddr[15], 1);
	assert_int_equal(seg->daddr[15], 2);
	assert_int_equal(seg->dport, 443);
	assert_int_equal(seg->len, sizeof(PAYLOAD));
	assert_memory_equal(seg->payload, PAYLOAD, sizeof(PAYLOAD));
}

static void test_ethernet_ipv4(void **state)
{
	uint8_t f[128];
	struct flow_segment seg;
	size_t n;

	(void)state;
	n = put_ether(f, 0x0800);
	n += put_v4_packet(f + n);
	assert_int_equal(cap_decode(1, f, n, 1234, &seg), CAP_DECODE_OK);
	expect_v4_segment(&seg);
}

/* Ethernet pads frames to 60 bytes: the padding is not payload. */
static void test_ethernet_padding(void **state)
{
	static const uint8_t one[1] = { 'x' };
	uint8_t f[128];
	struct flow_segment seg;
	size_t n;

	(void)state;
	n = put_ether(f, 0x0800);
	n += put_ipv4(f + n, 6, put_tcp(f + n + 20, one, 1, 0), 0) + 21;
	assert_int_equal(n, 55);
	memset(f + n, 0xee, 60 - n);
	assert_int_equal(cap_decode(1, f, 60, 0, &seg), CAP_DECODE_OK);
	assert_int_equal(seg.len, 1);
	assert_int_equal(seg.payload[0], 'x');
}

static void test_vlan_stacks(void **state)
{
	static const uint16_t tpids[] = { 0x88a8, 0x8100, 0x9100, 0x8100, 0x8100 };
	uint8_t f[160];
	struct flow_segment seg;
	size_t n, i, tags;

	(void)state;
	for (tags = 1; tags <= 5; tags++) {
		n = put_ether(f, tpids[0]);
		for (i = 0; i < tags; i++) {
			uint16_t next = i + 1 < tags ? tpids[i + 1] : 0x0800;

			f[n] = 0x00, f[n + 1] = (uint8_t)(10 + i);
			f[n + 2] = (uint8_t)(next >> 8), f[n + 3] = (uint8_t)next;
			n += 4;
		}
		n += put_v4_packet(f + n);
		if (tags <= 4) {
			assert_int_equal(cap_decode(1, f, n, 1234, &seg), CAP_DECODE_OK);
			expect_v4_segment(&seg);
		} else {
			/* beyond the tag cap: not decoded, but not called malformed either */
			assert_int_equal(cap_decode(1, f, n, 1234, &seg), CAP_DECODE_SKIP);
		}
	}
}

static void test_linux_sll(void **state)
{
	uint8_t f[128];
	struct flow_segment seg;
	size_t n;

	(void)state;
	memset(f, 0, 16);
	f[1] = 4;		/* outgoing */
	f[3] = 1;		/* ARPHRD_ETHER */
	f[5] = 6;		/* address length */
	f[14] = 0x08, f[15] = 0x00;
	n = 16 + put_v4_packet(f + 16);
	assert_int_equal(cap_decode(113, f, n, 1234, &seg), CAP_DECODE_OK);
	expect_v4_segment(&seg);
	assert_true(cap_dlt_supported(113));
}

static void test_linux_sll2(void **state)
{
	uint8_t f[160];
	struct flow_segment seg;
	size_t n;

	(void)state;
	memset(f, 0, 20);
	f[0] = 0x86, f[1] = 0xdd;
	f[7] = 2;		/* ifindex */
	f[9] = 1;		/* ARPHRD_ETHER */
	f[11] = 6;
	n = 20 + put_v6_packet(f + 20);
	assert_int_equal(cap_decode(276, f, n, 0, &seg), CAP_DECODE_OK);
	expect_v6_segment(&seg);
	/* an SLL2 ARP frame is skipped */
	f[0] = 0x08, f[1] = 0x06;
	assert_int_equal(cap_decode(276, f, n, 0, &seg), CAP_DECODE_SKIP);
}

static void test_raw_ip(void **state)
{
	static const int raw_dlts[] = { 12, 14, 101 };
	uint8_t f[128];
	struct flow_segment seg;
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(raw_dlts) / sizeof(raw_dlts[0]); i++) {
		n = put_v4_packet(f);
		assert_int_equal(cap_decode(raw_dlts[i], f, n, 1234, &seg), CAP_DECODE_OK);
		expect_v4_segment(&seg);
		n = put_v6_packet(f);
		assert_int_equal(cap_decode(raw_dlts[i], f, n, 1234, &seg), CAP_DECODE_OK);
		expect_v6_segment(&seg);
		f[0] = 0x50; /* neither version */
		assert_int_equal(cap_decode(raw_dlts[i], f, n, 1234, &seg), CAP_DECODE_INVALID);
		assert_int_equal(cap_decode(raw_dlts[i], f, 0, 1234, &seg), CAP_DECODE_INVALID);
	}
	n = put_v4_packet(f);
	assert_int_equal(cap_decode(228, f, n, 1234, &seg), CAP_DECODE_OK);
	expect_v4_segment(&seg);
	/* LINKTYPE_IPV6 holding an IPv4 packet is malformed */
	assert_int_equal(cap_decode(229, f, n, 1234, &seg), CAP_DECODE_INVALID);
	n = put_v6_packet(f);
	assert_int_equal(cap_decode(229, f, n, 1234, &seg), CAP_DECODE_OK);
	expect_v6_segment(&seg);
}

static void test_null_loop(void **state)
{
	/* address family values in both byte orders; AF_INET6 of Linux, BSDs, macOS */
	static const struct {
		int dlt;
		uint8_t af[4];
		int v6;
	} cases[] = {
		{ 0, { 2, 0, 0, 0 }, 0 },    { 0, { 0, 0, 0, 2 }, 0 },	{ 108, { 0, 0, 0, 2 }, 0 },
		{ 0, { 30, 0, 0, 0 }, 1 },   { 108, { 0, 0, 0, 24 }, 1 }, { 0, { 0, 0, 0, 28 }, 1 },
		{ 108, { 10, 0, 0, 0 }, 1 },
	};
	uint8_t f[128];
	struct flow_segment seg;
	size_t n, i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(f, cases[i].af, 4);
		n = 4 + (cases[i].v6 ? put_v6_packet(f + 4) : put_v4_packet(f + 4));
		assert_int_equal(cap_decode(cases[i].dlt, f, n, 1234, &seg), CAP_DECODE_OK);
		if (cases[i].v6)
			expect_v6_segment(&seg);
		else
			expect_v4_segment(&seg);
	}
	memcpy(f, (uint8_t[]){ 7, 0, 0, 0 }, 4);
	assert_int_equal(cap_decode(0, f, n, 0, &seg), CAP_DECODE_SKIP);
	assert_int_equal(cap_decode(0, f, 3, 0, &seg), CAP_DECODE_INVALID);
}

static void test_ipv6_extension_headers(void **state)
{
	uint8_t f[256];
	struct flow_segment seg;
	size_t n, tcp_len, i;

	(void)state;
	/* hop-by-hop (8 bytes) -> destination options (16 bytes) -> TCP */
	tcp_len = put_tcp(f + 40 + 24, PAYLOAD, sizeof(PAYLOAD), 0);
	put_ipv6(f, 0, 24 + tcp_len);
	memset(f + 40, 0, 24);
	f[40] = 60, f[41] = 0;
	f[48] = 6, f[49] = 1;
	n = 40 + 24 + tcp_len;
	assert_int_equal(cap_decode(229, f, n, 0, &seg), CAP_DECODE_OK);
	expect_v6_segment(&seg);

	/* a destination-options length running past the datagram */
	f[49] = 200;
	assert_int_equal(cap_decode(229, f, n, 0, &seg), CAP_DECODE_INVALID);

	/* a fragment header: skipped */
	f[48] = 6, f[49] = 1;
	f[40] = 44;
	assert_int_equal(cap_decode(229, f, n, 0, &seg), CAP_DECODE_SKIP);

	/* a chain of 9 routing headers, more than anyone sends: skipped, not walked */
	put_ipv6(f, 43, 9 * 8 + 20);
	for (i = 0; i < 9; i++) {
		memset(f + 40 + 8 * i, 0, 8);
		f[40 + 8 * i] = i < 8 ? 43 : 6;
	}
	put_tcp(f + 40 + 72, PAYLOAD, 0, 0);
	assert_int_equal(cap_decode(229, f, 40 + 72 + 20, 0, &seg), CAP_DECODE_SKIP);

	/* No Next Header, and UDP */
	n = put_v6_packet(f);
	f[6] = 59;
	assert_int_equal(cap_decode(229, f, n, 0, &seg), CAP_DECODE_SKIP);
	f[6] = 17;
	assert_int_equal(cap_decode(229, f, n, 0, &seg), CAP_DECODE_SKIP);
}

static void test_ipv4_fragments_and_protocols(void **state)
{
	uint8_t f[128];
	struct flow_segment seg;
	size_t n;

	(void)state;
	n = put_v4_packet(f);
	f[6] = 0x20; /* MF, offset 0: the first fragment still has the TCP header */
	assert_int_equal(cap_decode(228, f, n, 1234, &seg), CAP_DECODE_OK);
	expect_v4_segment(&seg);
	f[6] = 0x00, f[7] = 0xb9; /* offset 185 */
	assert_int_equal(cap_decode(228, f, n, 1234, &seg), CAP_DECODE_SKIP);
	f[6] = 0x40, f[7] = 0x00; /* DF only */
	assert_int_equal(cap_decode(228, f, n, 1234, &seg), CAP_DECODE_OK);
	f[9] = 17; /* UDP */
	assert_int_equal(cap_decode(228, f, n, 1234, &seg), CAP_DECODE_SKIP);

	/* ARP on Ethernet */
	n = put_ether(f, 0x0806);
	memset(f + n, 0, 28);
	assert_int_equal(cap_decode(1, f, n + 28, 0, &seg), CAP_DECODE_SKIP);
}

static void test_bad_header_fields(void **state)
{
	uint8_t f[128];
	struct flow_segment seg;
	size_t n;

	(void)state;
	n = put_v4_packet(f);
	f[0] = 0x44; /* IHL 4 */
	assert_int_equal(cap_decode(228, f, n, 0, &seg), CAP_DECODE_INVALID);
	f[0] = 0x4f; /* IHL 15: 60 bytes, more than the total length */
	assert_int_equal(cap_decode(228, f, n, 0, &seg), CAP_DECODE_INVALID);
	f[0] = 0x45;
	f[2] = 0, f[3] = 19; /* total length below the header */
	assert_int_equal(cap_decode(228, f, n, 0, &seg), CAP_DECODE_INVALID);

	n = put_v4_packet(f);
	f[20 + 12] = 0x40; /* TCP data offset 4 */
	assert_int_equal(cap_decode(228, f, n, 0, &seg), CAP_DECODE_INVALID);
	f[20 + 12] = 0xf0; /* 60 bytes of TCP header, only 30 in the datagram */
	assert_int_equal(cap_decode(228, f, n, 0, &seg), CAP_DECODE_INVALID);
}

/* Every prefix of a frame: headers cut short are INVALID, never a crash or an over-read. */
static void test_truncation_walk(void **state)
{
	uint8_t f[128];
	struct flow_segment seg;
	uint32_t snapped;
	size_t n, len;

	(void)state;
	n = put_ether(f, 0x0800);
	n += put_v4_packet(f + n);
	for (len = 0; len <= n; len++) {
		/* a copy of exactly @len bytes, so ASan sees any over-read */
		uint8_t *copy = test_malloc(len ? len : 1);
		int ret;

		memcpy(copy, f, len);
		ret = cap_decode_ex(1, copy, len, 0, &seg, &snapped);
		if (len < 14 + 20 + 20) {
			assert_int_equal(ret, CAP_DECODE_INVALID);
		} else {
			/* snaplen cut: a shorter payload, and the cut is reported */
			assert_int_equal(ret, CAP_DECODE_OK);
			assert_int_equal(seg.len, len - 54);
			assert_int_equal(snapped, n - len);
		}
		test_free(copy);
	}
}

static void test_tcp_options_and_flags(void **state)
{
	uint8_t f[128];
	struct flow_segment seg;
	size_t n;

	(void)state;
	n = put_tcp(f + 20, PAYLOAD, sizeof(PAYLOAD), 3);
	put_ipv4(f, 6, n, 0);
	f[20 + 13] = 0x02; /* SYN */
	assert_int_equal(cap_decode(228, f, 20 + n, 0, &seg), CAP_DECODE_OK);
	assert_int_equal(seg.tcp_flags, FLOW_TCP_SYN);
	assert_int_equal(seg.len, sizeof(PAYLOAD));
	assert_memory_equal(seg.payload, PAYLOAD, sizeof(PAYLOAD));
	f[20 + 13] = 0x15; /* FIN|RST|ACK */
	assert_int_equal(cap_decode(228, f, 20 + n, 0, &seg), CAP_DECODE_OK);
	assert_int_equal(seg.tcp_flags, FLOW_TCP_FIN | FLOW_TCP_RST | FLOW_TCP_ACK);
}

static void test_unsupported_dlt(void **state)
{
	uint8_t f[64] = { 0 };
	struct flow_segment seg;

	(void)state;
	assert_false(cap_dlt_supported(105)); /* 802.11 */
	assert_false(cap_dlt_supported(-1));
	assert_int_equal(cap_decode(105, f, sizeof(f), 0, &seg), CAP_DECODE_SKIP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ethernet_ipv4),
		cmocka_unit_test(test_ethernet_padding),
		cmocka_unit_test(test_vlan_stacks),
		cmocka_unit_test(test_linux_sll),
		cmocka_unit_test(test_linux_sll2),
		cmocka_unit_test(test_raw_ip),
		cmocka_unit_test(test_null_loop),
		cmocka_unit_test(test_ipv6_extension_headers),
		cmocka_unit_test(test_ipv4_fragments_and_protocols),
		cmocka_unit_test(test_bad_header_fields),
		cmocka_unit_test(test_truncation_walk),
		cmocka_unit_test(test_tcp_options_and_flags),
		cmocka_unit_test(test_unsupported_dlt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * The real cgroup_skb programs of bpf/tlsaudit.bpf.c, driven with bpf_prog_test_run on
 * crafted packets: what reaches the ring buffer for watched and unwatched ports, how a
 * segment is cut into chunks, where the per-direction budget stops forwarding (but not
 * the FIN and RST that end the flow) and that a socket marked done costs nothing more.
 *
 * Needs root and kernel BTF; otherwise exits 249 (skipped).
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tlsaudit.skel.h"
#include "tlsaudit/bpf_shared.h"
#include "bpf_test.h"

#define TEST_BUDGET 3000
#define MAX_SAMPLES 64

struct sample {
	struct ta_data d;
	uint8_t payload[TA_CHUNK];
};

static struct tlsaudit_bpf *skel;
static struct ring_buffer *rb;
static struct sample samples[MAX_SAMPLES];
static int n_samples;

static int on_sample(void *ctx, void *data, size_t size)
{
	struct ta_hdr hdr;

	(void)ctx;
	assert_true(size >= sizeof(hdr));
	memcpy(&hdr, data, sizeof(hdr));
	if (hdr.type != TA_EV_DATA || n_samples >= MAX_SAMPLES)
		return 0;
	assert_true(size >= sizeof(struct ta_data));
	memcpy(&samples[n_samples].d, data, sizeof(struct ta_data));
	assert_true(samples[n_samples].d.len <= TA_CHUNK);
	assert_int_equal(size, sizeof(struct ta_data) + samples[n_samples].d.len);
	memcpy(samples[n_samples].payload, (uint8_t *)data + sizeof(struct ta_data),
	       samples[n_samples].d.len);
	n_samples++;
	return 0;
}

static int drain(void)
{
	n_samples = 0;
	ring_buffer__consume(rb);
	return n_samples;
}

struct pkt_spec {
	int v6;
	uint16_t sport, dport;
	uint32_t seq;
	uint8_t flags;
	uint32_t payload_len;
	/* IPv6 only: extension headers between the fixed header and TCP */
	const uint8_t *ext;
	size_t ext_len;
	uint8_t first_nh; /* the fixed header's next header when ext is set */
};

/* Ethernet + IPv4/IPv6 + TCP (no options) + payload bytes 0, 1, 2, ... */
static size_t build_pkt(const struct pkt_spec *s, uint8_t *buf, size_t cap)
{
	size_t l3 = s->v6 ? 40 + s->ext_len : 20, len = 14 + l3 + 20 + s->payload_len, i;
	uint8_t *ip = buf + 14, *tcp = ip + l3;

	assert_true(len <= cap);
	memset(buf, 0, len);
	memset(buf, 0x02, 12);
	buf[12] = s->v6 ? 0x86 : 0x08;
	buf[13] = s->v6 ? 0xdd : 0x00;
	if (s->v6) {
		uint32_t plen = (uint32_t)s->ext_len + 20 + s->payload_len;

		ip[0] = 0x60;
		ip[4] = (uint8_t)(plen >> 8);
		ip[5] = (uint8_t)plen;
		ip[6] = s->ext ? s->first_nh : 6;
		ip[7] = 64;
		if (s->ext)
			memcpy(ip + 40, s->ext, s->ext_len);
		ip[8] = 0xfd;
		ip[23] = 1;
		ip[24] = 0xfd;
		ip[39] = 2;
	} else {
		uint32_t tot = 20 + 20 + s->payload_len;

		ip[0] = 0x45;
		ip[2] = (uint8_t)(tot >> 8);
		ip[3] = (uint8_t)tot;
		ip[8] = 64;
		ip[9] = 6;
		ip[12] = 10, ip[15] = 1;
		ip[16] = 10, ip[19] = 2;
	}
	tcp[0] = (uint8_t)(s->sport >> 8);
	tcp[1] = (uint8_t)s->sport;
	tcp[2] = (uint8_t)(s->dport >> 8);
	tcp[3] = (uint8_t)s->dport;
	tcp[4] = (uint8_t)(s->seq >> 24);
	tcp[5] = (uint8_t)(s->seq >> 16);
	tcp[6] = (uint8_t)(s->seq >> 8);
	tcp[7] = (uint8_t)s->seq;
	tcp[12] = 5 << 4;
	tcp[13] = s->flags;
	for (i = 0; i < s->payload_len; i++)
		tcp[20 + i] = (uint8_t)i;
	return len;
}

static void run(struct bpf_program *prog, const struct pkt_spec *s, int repeat)
{
	static uint8_t buf[14 + 40 + 64 + 20 + 8192];
	size_t len = build_pkt(s, buf, sizeof(buf));
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = buf, .data_size_in = (uint32_t)len,
		    .repeat = repeat);
	int err;

	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
	assert_int_equal(err, 0);
	/* Never drop or alter traffic. */
	assert_int_equal(opts.retval, 1);
}

static void check_payload(const struct sample *sm, uint32_t stream_off)
{
	uint32_t i;

	for (i = 0; i < sm->d.len; i++)
		assert_int_equal(sm->payload[i], (uint8_t)(stream_off + i));
}

static void test_watched_port_forwards_payload(void **state)
{
	struct pkt_spec s = { .sport = 40000, .dport = 443, .seq = 1000, .flags = 0x18,
			      .payload_len = 300 };
	static const uint8_t src[4] = { 10, 0, 0, 1 }, dst[4] = { 10, 0, 0, 2 };

	(void)state;
	run(skel->progs.tlsaudit_egress, &s, 1);
	assert_int_equal(drain(), 1);
	assert_int_equal(samples[0].d.hdr.type, TA_EV_DATA);
	assert_int_not_equal(samples[0].d.hdr.cookie, 0);
	assert_int_equal(samples[0].d.family, 4);
	assert_int_equal(samples[0].d.egress, 1);
	assert_int_equal(samples[0].d.sport, 40000);
	assert_int_equal(samples[0].d.dport, 443);
	assert_int_equal(samples[0].d.seq, 1000);
	assert_int_equal(samples[0].d.len, 300);
	assert_int_equal(samples[0].d.tcp_flags, 0x18);
	assert_memory_equal(samples[0].d.saddr, src, 4);
	assert_memory_equal(samples[0].d.daddr, dst, 4);
	check_payload(&samples[0], 0);
}

static void test_unwatched_port_forwards_nothing(void **state)
{
	struct pkt_spec s = { .sport = 40000, .dport = 8443, .seq = 1, .flags = 0x18,
			      .payload_len = 300 };

	(void)state;
	run(skel->progs.tlsaudit_egress, &s, 1);
	run(skel->progs.tlsaudit_ingress, &s, 1);
	assert_int_equal(drain(), 0);
}

static void test_ingress_ipv6_server_side(void **state)
{
	struct pkt_spec s = { .v6 = 1, .sport = 443, .dport = 51000, .seq = 0xfffffff0,
			      .flags = 0x18, .payload_len = 100 };

	(void)state;
	run(skel->progs.tlsaudit_ingress, &s, 1);
	assert_int_equal(drain(), 1);
	assert_int_equal(samples[0].d.family, 6);
	assert_int_equal(samples[0].d.egress, 0);
	assert_int_equal(samples[0].d.sport, 443);
	assert_int_equal(samples[0].d.dport, 51000);
	assert_int_equal(samples[0].d.seq, 0xfffffff0);
	assert_int_equal(samples[0].d.len, 100);
	assert_int_equal(samples[0].d.saddr[0], 0xfd);
	assert_int_equal(samples[0].d.daddr[15], 2);
	check_payload(&samples[0], 0);
}

/* Hop-by-hop (8 bytes), destination options (16) and an atomic fragment header (8). */
static const uint8_t ext_chain[] = {
	60, 0, 1, 4, 0, 0, 0, 0,
	44, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	6, 0, 0, 0, 0, 0, 0, 42,
};

static void test_ipv6_extension_headers_are_followed(void **state)
{
	struct pkt_spec s = { .v6 = 1, .sport = 51001, .dport = 443, .seq = 77, .flags = 0x18,
			      .payload_len = 64, .ext = ext_chain, .ext_len = sizeof(ext_chain),
			      .first_nh = 0 };

	(void)state;
	run(skel->progs.tlsaudit_egress, &s, 1);
	assert_int_equal(drain(), 1);
	assert_int_equal(samples[0].d.family, 6);
	assert_int_equal(samples[0].d.sport, 51001);
	assert_int_equal(samples[0].d.dport, 443);
	assert_int_equal(samples[0].d.seq, 77);
	assert_int_equal(samples[0].d.len, 64);
	check_payload(&samples[0], 0);
}

static void test_ipv6_fragments_and_esp_are_skipped(void **state)
{
	/* A later fragment (offset 8) has no TCP header; ESP hides it. */
	static const uint8_t frag[] = { 6, 0, 0, 8 << 3, 0, 0, 0, 1 };
	static const uint8_t esp[8] = { 0 };
	/* Seven hop-by-hop headers: past the walk's bound, so not followed. */
	uint8_t chain[7 * 8] = { 0 };
	struct pkt_spec s = { .v6 = 1, .sport = 51002, .dport = 443, .seq = 1, .flags = 0x18,
			      .payload_len = 64 };
	int i;

	(void)state;
	s.ext = frag, s.ext_len = sizeof(frag), s.first_nh = 44;
	run(skel->progs.tlsaudit_egress, &s, 1);
	s.ext = esp, s.ext_len = sizeof(esp), s.first_nh = 50;
	run(skel->progs.tlsaudit_egress, &s, 1);
	for (i = 0; i < 7; i++)
		chain[i * 8] = i == 6 ? 6 : 0;
	s.ext = chain, s.ext_len = sizeof(chain), s.first_nh = 0;
	run(skel->progs.tlsaudit_egress, &s, 1);
	assert_int_equal(drain(), 0);
}

static void test_large_segment_is_chunked(void **state)
{
	/* PSH|ACK|FIN: the FIN belongs to the last byte, so only to the last chunk. */
	struct pkt_spec s = { .sport = 40001, .dport = 443, .seq = 5000, .flags = 0x19,
			      .payload_len = 2500 };

	(void)state;
	run(skel->progs.tlsaudit_egress, &s, 1);
	assert_int_equal(drain(), 2);
	assert_int_equal(samples[0].d.seq, 5000);
	assert_int_equal(samples[0].d.len, TA_CHUNK);
	assert_int_equal(samples[0].d.tcp_flags, 0x18);
	assert_int_equal(samples[1].d.seq, 5000 + TA_CHUNK);
	assert_int_equal(samples[1].d.len, 2500 - TA_CHUNK);
	assert_int_equal(samples[1].d.tcp_flags, 0x19);
	assert_int_equal(samples[0].d.hdr.cookie, samples[1].d.hdr.cookie);
	check_payload(&samples[0], 0);
	check_payload(&samples[1], TA_CHUNK);
}

static void test_syn_with_data_is_chunked(void **state)
{
	/* TCP Fast Open: a ClientHello in the SYN; its data starts at ISN + 1. */
	struct pkt_spec s = { .sport = 40005, .dport = 443, .seq = 9000, .flags = 0x02,
			      .payload_len = 2500 };

	(void)state;
	run(skel->progs.tlsaudit_egress, &s, 1);
	assert_int_equal(drain(), 2);
	assert_int_equal(samples[0].d.seq, 9000);
	assert_int_equal(samples[0].d.tcp_flags, 0x02);
	assert_int_equal(samples[1].d.seq, 9000 + 1 + TA_CHUNK);
	assert_int_equal(samples[1].d.tcp_flags, 0x00);
	check_payload(&samples[1], TA_CHUNK);
}

static void test_budget_stops_forwarding(void **state)
{
	/* repeat runs the program on the same skb and socket: one direction of one flow. */
	struct pkt_spec s = { .sport = 40002, .dport = 443, .seq = 7, .flags = 0x18,
			      .payload_len = 1200 };
	uint32_t total = 0;
	int i, n;

	(void)state;
	run(skel->progs.tlsaudit_egress, &s, 4);
	n = drain();
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++)
		total += samples[i].d.len;
	assert_int_equal(samples[0].d.len, 1200);
	assert_int_equal(samples[1].d.len, 1200);
	assert_int_equal(samples[2].d.len, TEST_BUDGET - 2400);
	assert_int_equal(total, TEST_BUDGET);
}

/*
 * A flow whose budget is spent still sends its FIN and RST, without payload: they say
 * how the handshake ended (outcome closed or reset) however long the stream ran.
 * Within one socket (repeat): three copies of a FIN carrying 1200 bytes spend the 3000
 * bytes; the fourth comes through as a bare FIN. Likewise a RST.
 */
static void spend_then_flag(uint8_t flags)
{
	struct pkt_spec s = { .sport = 40006, .dport = 443, .seq = 11, .flags = flags,
			      .payload_len = 1200 };
	uint32_t total = 0;
	int i;

	run(skel->progs.tlsaudit_egress, &s, 4);
	assert_int_equal(drain(), 4);
	for (i = 0; i < 3; i++)
		total += samples[i].d.len;
	assert_int_equal(total, TEST_BUDGET);
	assert_int_equal(samples[3].d.len, 0);
	assert_int_equal(samples[3].d.tcp_flags, flags);
	assert_int_equal(samples[3].d.hdr.cookie, samples[0].d.hdr.cookie);
}

/* The next runs' sockets (see test_done_flow_forwards_nothing) with the budget spent. */
static void spend_next_cookies(uint64_t *first, uint64_t *last)
{
	struct pkt_spec s = { .sport = 40007, .dport = 443, .seq = 1, .flags = 0x18,
			      .payload_len = 10 };
	struct ta_flow_val spent = { .sent = { TEST_BUDGET, TEST_BUDGET } };
	int fd = bpf_map__fd(skel->maps.flows);
	uint64_t c, c1;

	run(skel->progs.tlsaudit_egress, &s, 1);
	assert_int_equal(drain(), 1);
	c1 = samples[0].d.hdr.cookie;
	run(skel->progs.tlsaudit_egress, &s, 1);
	assert_int_equal(drain(), 1);
	/* The range assumption itself, so a failure below means what it says. */
	assert_true(samples[0].d.hdr.cookie > c1 && samples[0].d.hdr.cookie - c1 < 64);
	*first = samples[0].d.hdr.cookie + 1;
	*last = *first + 255;
	for (c = *first; c <= *last; c++)
		assert_int_equal(bpf_map_update_elem(fd, &c, &spent, BPF_ANY), 0);
}

/* One sample, of a socket whose budget was spent, with @flags and no payload. */
static void expect_bare(uint64_t first, uint64_t last, uint8_t flags, uint8_t egress)
{
	struct ta_flow_val v;

	assert_int_equal(drain(), 1);
	assert_true(samples[0].d.hdr.cookie >= first && samples[0].d.hdr.cookie <= last);
	assert_int_equal(samples[0].d.len, 0);
	assert_int_equal(samples[0].d.tcp_flags, flags);
	assert_int_equal(samples[0].d.egress, egress);
	/* Nothing more was counted as sent either. */
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.flows),
					     &samples[0].d.hdr.cookie, &v), 0);
	assert_int_equal(v.sent[0], TEST_BUDGET);
	assert_int_equal(v.sent[1], TEST_BUDGET);
}

static void test_spent_budget_still_forwards_fin_and_rst(void **state)
{
	struct pkt_spec data = { .sport = 40008, .dport = 443, .seq = 5000, .flags = 0x18,
				 .payload_len = 500 };
	struct pkt_spec ctl = { .sport = 40008, .dport = 443, .seq = 5500 };
	int fd = bpf_map__fd(skel->maps.flows);
	uint64_t first, last, c;

	(void)state;
	spend_then_flag(0x19); /* FIN|PSH|ACK */
	spend_then_flag(0x14); /* RST|ACK */

	spend_next_cookies(&first, &last);
	/* More data, either way: nothing. */
	run(skel->progs.tlsaudit_egress, &data, 1);
	run(skel->progs.tlsaudit_ingress, &data, 1);
	assert_int_equal(drain(), 0);
	/* A bare FIN, and a FIN on data: the flag without the bytes. */
	ctl.flags = 0x11;
	run(skel->progs.tlsaudit_egress, &ctl, 1);
	expect_bare(first, last, 0x11, 1);
	assert_int_equal(samples[0].d.seq, 5500);
	data.flags = 0x19;
	run(skel->progs.tlsaudit_egress, &data, 1);
	expect_bare(first, last, 0x19, 1);
	/* The peer's FIN and RST (ingress), and a RST of our own. */
	ctl.sport = 443, ctl.dport = 40008;
	run(skel->progs.tlsaudit_ingress, &ctl, 1);
	expect_bare(first, last, 0x11, 0);
	ctl.flags = 0x14;
	run(skel->progs.tlsaudit_ingress, &ctl, 1);
	expect_bare(first, last, 0x14, 0);
	ctl.flags = 0x04;
	ctl.sport = 40008, ctl.dport = 443;
	run(skel->progs.tlsaudit_egress, &ctl, 1);
	expect_bare(first, last, 0x04, 1);
	for (c = first; c <= last; c++)
		bpf_map_delete_elem(fd, &c);
}

static void test_control_segments(void **state)
{
	struct pkt_spec syn = { .sport = 40003, .dport = 443, .seq = 99, .flags = 0x02 };
	struct pkt_spec ack = { .sport = 40003, .dport = 443, .seq = 100, .flags = 0x10 };

	(void)state;
	/* A bare SYN is forwarded (userspace learns the initial sequence number)... */
	run(skel->progs.tlsaudit_egress, &syn, 1);
	assert_int_equal(drain(), 1);
	assert_int_equal(samples[0].d.len, 0);
	assert_int_equal(samples[0].d.tcp_flags, 0x02);
	assert_int_equal(samples[0].d.seq, 99);
	/* ...a bare ACK is not. */
	run(skel->progs.tlsaudit_egress, &ack, 1);
	assert_int_equal(drain(), 0);
}

/*
 * Each test run gets a fresh dummy socket, so its cookie is only known afterwards.
 * Cookies come from a per-CPU batch (net/core/sock_diag.c, gen_cookie_next): on one CPU
 * the next ones follow the last, so marking a range done covers the next run's socket.
 */
static void test_done_flow_forwards_nothing(void **state)
{
	struct pkt_spec s = { .sport = 40004, .dport = 443, .seq = 1, .flags = 0x18,
			      .payload_len = 50 };
	struct ta_flow_val done = { .done = 1 };
	int fd = bpf_map__fd(skel->maps.flows);
	uint64_t c1, c2, c;

	(void)state;
	run(skel->progs.tlsaudit_egress, &s, 1);
	assert_int_equal(drain(), 1);
	c1 = samples[0].d.hdr.cookie;
	run(skel->progs.tlsaudit_egress, &s, 1);
	assert_int_equal(drain(), 1);
	c2 = samples[0].d.hdr.cookie;
	/* The range assumption itself, so a failure below means what it says. */
	assert_true(c2 > c1 && c2 - c1 < 64);
	for (c = c2 + 1; c <= c2 + 256; c++)
		assert_int_equal(bpf_map_update_elem(fd, &c, &done, BPF_ANY), 0);
	run(skel->progs.tlsaudit_egress, &s, 1);
	run(skel->progs.tlsaudit_ingress, &s, 1);
	assert_int_equal(drain(), 0);
	/* And the flag is what stopped it: a socket not marked done still forwards. */
	for (c = c2 + 1; c <= c2 + 256; c++)
		bpf_map_delete_elem(fd, &c);
	run(skel->progs.tlsaudit_egress, &s, 1);
	assert_int_equal(drain(), 1);
}

static void test_no_drops(void **state)
{
	uint64_t vals[1024];
	uint32_t r;
	int c, ncpus = libbpf_num_possible_cpus();

	(void)state;
	assert_true(ncpus > 0 && ncpus <= 1024);
	for (r = 0; r < TA_DROP_NR; r++) {
		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.drops), &r, vals), 0);
		for (c = 0; c < ncpus; c++)
			assert_int_equal(vals[c], 0);
	}
}

static int setup(void **state)
{
	uint32_t port = 443;
	uint8_t on = 1;
	cpu_set_t set;

	(void)state;
	/* Stay on one CPU so socket cookies are consecutive (see the done test). */
	CPU_ZERO(&set);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &set);
	sched_setaffinity(0, sizeof(set), &set);

	skel = tlsaudit_bpf__open();
	if (!skel)
		return -1;
	skel->rodata->budget = TEST_BUDGET;
	if (tlsaudit_bpf__load(skel))
		return -1;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.ports), &port, &on, BPF_ANY))
		return -1;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_sample, NULL, NULL);
	return rb ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	ring_buffer__free(rb);
	tlsaudit_bpf__destroy(skel);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watched_port_forwards_payload),
		cmocka_unit_test(test_unwatched_port_forwards_nothing),
		cmocka_unit_test(test_ingress_ipv6_server_side),
		cmocka_unit_test(test_ipv6_extension_headers_are_followed),
		cmocka_unit_test(test_ipv6_fragments_and_esp_are_skipped),
		cmocka_unit_test(test_large_segment_is_chunked),
		cmocka_unit_test(test_syn_with_data_is_chunked),
		cmocka_unit_test(test_budget_stops_forwarding),
		cmocka_unit_test(test_spent_budget_still_forwards_fin_and_rst),
		cmocka_unit_test(test_control_segments),
		cmocka_unit_test(test_done_flow_forwards_nothing),
		cmocka_unit_test(test_no_drops),
	};

	if (bpf_test_unable()) {
		printf("skip: %s\n", bpf_test_unable());
		return SKIP_CODE;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer entry for the flow table: the input is a small script of TCP segments that
 * the fuzzer writes itself, so reassembly, the SMTP STARTTLS machine, the TLS hand-off
 * and every bound (dir_cap, mem_budget, max_flows, timeout) see peer-chosen sequence
 * numbers, flags, ports and directions. Build with `make fuzz`; run
 * build/fuzz/fuzz_flow tests/fuzz/corpus/flow.
 *
 * Input layout (all peer-controlled):
 *   4 config bytes: dir_cap selector, mem_budget selector, max_flows, mode bits
 *   then ops, each a 6-byte header and, for segments, its payload:
 *     h[0] bits 0-3  TCP flags: FIN, SYN, RST, ACK
 *          bit  4    direction: 0 client to server, 1 server to client
 *          bits 5-6  which of four client endpoints (two IPv4, two IPv6)
 *          bit  7    seq is "expected + h[2..3]" (signed) instead of "expected"
 *     h[1] bits 0-1  server port: 443, 25, 587, or 8443 (not watched)
 *          bit  5    with bit 7 of h[0]: the delta is shifted left 16 bits, so any
 *                    distance over the 32-bit sequence space is reachable
 *          bits 6-7  3: run the idle timeout instead of sending a segment;
 *                    2 with live mode: close the socket of this endpoint
 *     h[2..3]        signed sequence delta
 *     h[4..5]        payload length (clipped to what is left)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tlsaudit/flow.h"
#include "flow_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_ENDPOINTS 4
#define MAX_OPS 64

static const uint32_t dir_caps[] = { 1, 16, 64, 300, 1024, 4096, 16384, 65536 };
static const uint64_t budgets[] = { 0, 100, 2048, 4096, 10000, 65536, 1 << 20, 64ULL << 20 };
static const uint16_t server_ports[] = { 443, 25, 587, 8443 };

/*
 * The outcome fields as DESIGN.md defines them, whatever the segments were: outcome
 * null exactly on a plaintext SMTP session; outcome_by set exactly for alert, reset and
 * closed; an alert's name only with outcome alert (so never with established); the
 * SMTP fields only where an SMTP exchange was seen.
 */
static bool outcome_consistent(const struct hs_record *rec)
{
	bool by_needed = rec->outcome == HS_OUTCOME_ALERT || rec->outcome == HS_OUTCOME_RESET ||
			 rec->outcome == HS_OUTCOME_CLOSED;

	if (rec->outcome > HS_OUTCOME_TIMEOUT || rec->outcome_by > HS_SIDE_SERVER)
		return false;
	if ((rec->outcome_by != HS_SIDE_NONE) != by_needed)
		return false;
	if (rec->has_alert && rec->outcome != HS_OUTCOME_ALERT)
		return false;
	if (rec->kind == HS_KIND_PLAINTEXT_SMTP)
		return rec->outcome == HS_OUTCOME_NONE && !rec->has_alert && !rec->version &&
		       !rec->has_cipher && !rec->starttls_smtp &&
		       (rec->smtp_tls == HS_SMTP_NOT_OFFERED || rec->smtp_tls == HS_SMTP_NOT_USED ||
			rec->smtp_tls == HS_SMTP_REFUSED);
	if (rec->outcome == HS_OUTCOME_NONE)
		return false;
	/*
	 * A TLS record holds a ClientHello or a ServerHello, and SMTP only after STARTTLS;
	 * but a STARTTLS accepted with 220 and then ended (an alert, a close, a reset,
	 * silence) before any ClientHello could be read is a failed TLS attempt of its own
	 * (a plaintext retry is a fallback): never an established one.
	 */
	if (!rec->offered_max && !rec->version &&
	    !(rec->starttls_smtp && rec->outcome != HS_OUTCOME_ESTABLISHED))
		return false;
	if (rec->starttls_smtp != (rec->smtp_tls == HS_SMTP_STARTTLS))
		return false;
	if (!rec->starttls_smtp && (rec->smtp_tls != HS_SMTP_NONE || rec->mx_host[0]))
		return false;
	/* What only a ServerHello gives. */
	if (!rec->version && (rec->has_cipher || rec->has_group || rec->cert.state != HS_CERT_NONE))
		return false;
	return true;
}

/* A record outlives nothing: check that every string is terminated and sized. */
static void on_record(const struct hs_record *rec, void *ctx)
{
	size_t *n = ctx;

	if (!memchr(rec->sni, 0, sizeof(rec->sni)) || !memchr(rec->alpn, 0, sizeof(rec->alpn)) ||
	    !memchr(rec->ja3, 0, sizeof(rec->ja3)) || !memchr(rec->ja4, 0, sizeof(rec->ja4)))
		abort();
	if (rec->ja3[0] && strlen(rec->ja3) != 32)
		abort();
	if (rec->kind != HS_KIND_TLS && rec->kind != HS_KIND_PLAINTEXT_SMTP)
		abort();
	if (rec->client.family != AF_INET && rec->client.family != AF_INET6)
		abort();
	if (!memchr(rec->mx_host, 0, sizeof(rec->mx_host)) || !outcome_consistent(rec))
		abort();
	(*n)++;
}

static void on_done(uint64_t cookie, void *ctx)
{
	(void)cookie;
	(void)ctx;
}

static void endpoint(struct flow_segment *seg, int ep, uint16_t sport, bool to_server)
{
	uint8_t cli[16] = { 0 }, srv[16] = { 0 };
	uint16_t cport = (uint16_t)(40000 + ep);

	if (ep & 2) {
		seg->family = AF_INET6;
		cli[15] = (uint8_t)(1 + (ep & 1));
		srv[15] = 1;
		/* One endpoint sorts below the server, so both key orders are reached. */
		srv[0] = (ep & 1) ? 0x20 : 0;
	} else {
		seg->family = AF_INET;
		cli[0] = 10;
		cli[3] = (uint8_t)(2 + (ep & 1) * 200);
		srv[0] = 10;
		srv[3] = 100;
	}
	if (to_server) {
		memcpy(seg->saddr, cli, 16);
		memcpy(seg->daddr, srv, 16);
		seg->sport = cport;
		seg->dport = sport;
	} else {
		memcpy(seg->saddr, srv, 16);
		memcpy(seg->daddr, cli, 16);
		seg->sport = sport;
		seg->dport = cport;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t next_seq[N_ENDPOINTS][2];
	struct flow_config cfg;
	struct flow_table *ft;
	uint64_t now = 1000000000ULL;
	size_t off = 4, records = 0;
	bool live;
	int ops = 0, ep, d;

	if (size < 4)
		return 0;
	flow_config_default(&cfg);
	cfg.dir_cap = dir_caps[data[0] & 7];
	cfg.mem_budget = budgets[data[1] & 7];
	cfg.max_flows = 1 + (data[2] & 3);
	cfg.timeout_ns = 1000000000ULL;
	live = data[3] & 1;

	/* Initial sequence numbers near the 32-bit wrap when asked, to walk over it. */
	for (ep = 0; ep < N_ENDPOINTS; ep++)
		for (d = 0; d < 2; d++)
			next_seq[ep][d] = (data[3] & 2) ? 0xfffffff0u - (uint32_t)(ep * 7 + d)
							: 1000u * (uint32_t)(ep * 2 + d + 1);

	ft = flow_table__new(&cfg, on_record, on_done, &records);
	if (!ft)
		return 0;

	while (size - off >= 6 && ops++ < MAX_OPS) {
		const uint8_t *h = data + off;
		struct flow_segment seg;
		uint32_t len = (uint32_t)((h[4] << 8) | h[5]);
		int16_t delta = (int16_t)((h[2] << 8) | h[3]);
		bool to_server = !(h[0] & 0x10);
		uint64_t cookie;

		off += 6;
		ep = (h[0] >> 5) & 3;
		d = to_server ? 0 : 1;
		cookie = live ? 0x1000u + (uint64_t)ep : 0;
		now += 1000;

		if ((h[1] >> 6) == 3) {
			now += cfg.timeout_ns * (1 + (h[2] & 1));
			flow_table__expire(ft, now);
			continue;
		}
		if ((h[1] >> 6) == 2 && live) {
			flow_table__close(ft, cookie, now);
			continue;
		}
		if (len > size - off)
			len = (uint32_t)(size - off);

		memset(&seg, 0, sizeof(seg));
		endpoint(&seg, ep, server_ports[h[1] & 3], to_server);
		seg.ts_ns = now;
		seg.tcp_flags = (uint8_t)(((h[0] & 1) ? FLOW_TCP_FIN : 0) |
					  ((h[0] & 2) ? FLOW_TCP_SYN : 0) |
					  ((h[0] & 4) ? FLOW_TCP_RST : 0) |
					  ((h[0] & 8) ? FLOW_TCP_ACK : 0));
		seg.seq = next_seq[ep][d];
		if (h[0] & 0x80)
			seg.seq += (h[1] & 0x20) ? (uint32_t)(uint16_t)delta << 16
						 : (uint32_t)(int32_t)delta;
		seg.cookie = cookie;
		/* Live: endpoint 0 of the key is the local client socket. */
		seg.egress = to_server;

		/* The payload is copied so ASan sees the exact extent the table may read. */
		if (len) {
			uint8_t *p = malloc(len);

			if (!p)
				break;
			memcpy(p, data + off, len);
			seg.payload = p;
			seg.len = len;
			flow_table__segment(ft, &seg);
			free(p);
		} else {
			flow_table__segment(ft, &seg);
		}
		off += len;
		next_seq[ep][d] = seg.seq + len + ((seg.tcp_flags & FLOW_TCP_SYN) ? 1 : 0);
	}

	flow_table__flush(ft);
	/* Every flow ended: no entry and no buffer byte may still be accounted. */
	if (ft->n_ent || ft->mem.used)
		abort();
	if (ft->stats.records != records)
		abort();
	flow_table__free(ft);
	return 0;
}

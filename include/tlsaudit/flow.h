/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Flow table: per-connection, per-direction TCP reassembly of the first bytes of each
 * stream, the SMTP STARTTLS state machine, and the hand-off to the TLS parser. Emits
 * one struct hs_record per TLS session (and one per plaintext SMTP session).
 *
 * Memory is bounded: a per-direction byte cap, a flow count cap and a global byte
 * budget; evictions are counted in struct flow_stats.
 */
#ifndef TLSAUDIT_FLOW_H
#define TLSAUDIT_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "tlsaudit/cert.h"
#include "tlsaudit/record.h"

/* One TCP segment. Addresses in network byte order, ports in host order. */
struct flow_segment {
	uint64_t ts_ns; /* wall clock of the packet */
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t saddr[16], daddr[16];
	uint16_t sport, dport;
	uint32_t seq;
	uint32_t ack;	   /* with FLOW_TCP_ACK: the next byte the sender expects */
	uint8_t tcp_flags; /* FLOW_TCP_* */
	const uint8_t *payload;
	uint32_t len;
	/*
	 * Live eBPF backend: the socket cookie (flows are keyed by it, so both local ends of
	 * a loopback connection are separate flows) and whether the segment leaves the
	 * local socket. Offline: cookie 0, direction inferred (SYN, ClientHello, port).
	 */
	uint64_t cookie;
	bool egress;
};

#define FLOW_TCP_FIN 0x01
#define FLOW_TCP_SYN 0x02
#define FLOW_TCP_RST 0x04
#define FLOW_TCP_ACK 0x10

struct flow_config {
	uint16_t ports[32]; /* watched server ports; 25 and 587 get SMTP STARTTLS handling */
	int n_ports;
	uint32_t dir_cap;     /* bytes kept per direction (default TA_DEFAULT_BUDGET, 32768) */
	uint32_t max_flows;   /* flows tracked at once (default 131072) */
	uint64_t mem_budget;  /* bytes of buffers over all flows (default 64 MiB) */
	uint64_t timeout_ns;  /* idle flows are finished after this (default 120 s) */
	/*
	 * Leave ja3/ja4 empty: for a consumer that prints neither (read's summary), they
	 * were a third of its work (bench/README.md).
	 */
	bool skip_fingerprints;
	/*
	 * Server certificates kept decoded (0: TLS_CERT_CACHE_DEFAULT). `read` keeps more:
	 * a capture of a gateway shows thousands of servers, and memory grows only with
	 * the certificates seen.
	 */
	unsigned int cert_cache;
};

struct flow_stats {
	uint64_t segments;	   /* TCP segments seen on watched ports */
	uint64_t flows;		   /* flows created */
	uint64_t records;	   /* handshake records emitted */
	uint64_t plaintext_smtp;   /* SMTP sessions that never upgraded */
	uint64_t not_tls;	   /* streams on a watched port that were not TLS */
	uint64_t invalid_tls;	   /* malformed TLS handshakes (dropped) */
	uint64_t evicted_flows;	   /* flows dropped for the flow cap or memory budget */
	uint64_t timeouts;	   /* flows finished by the idle timeout */
	uint64_t cap_reached;	   /* directions that hit dir_cap before both hellos */
	uint64_t ooo_dropped;	   /* out-of-order bytes that could not be kept */
	uint64_t cert_truncated;   /* records whose server chain was cut: cert_* null */
	uint64_t cert_invalid;	   /* records whose Certificate or leaf was malformed */
};

struct flow_table;

/* Called for every record; @rec is only valid during the call. */
typedef void (*flow_record_fn)(const struct hs_record *rec, void *ctx);
/* Called once a flow needs no more bytes (live backends stop forwarding it). */
typedef void (*flow_done_fn)(uint64_t cookie, void *ctx);

/*
 * flow_config_default - the embedded defaults (ports 443,25,587, TA_DEFAULT_BUDGET bytes
 * per direction: the kernel's forwarding budget is the same number).
 */
void flow_config_default(struct flow_config *cfg);

/* flow_table__new - NULL and errno on failure. @done_cb may be NULL. */
struct flow_table *flow_table__new(const struct flow_config *cfg, flow_record_fn record_cb,
				   flow_done_fn done_cb, void *ctx);
void flow_table__free(struct flow_table *ft);

/* flow_table__segment - feed one TCP segment (any port; unwatched ones are ignored). */
void flow_table__segment(struct flow_table *ft, const struct flow_segment *seg);

/* flow_table__close - a live socket closed: finish its flow now. */
void flow_table__close(struct flow_table *ft, uint64_t cookie, uint64_t now_ns);

/* flow_table__expire - finish flows idle since before @now_ns - timeout. */
void flow_table__expire(struct flow_table *ft, uint64_t now_ns);

/* flow_table__flush - end of input: finish every flow (records for pending hellos). */
void flow_table__flush(struct flow_table *ft);

/* flow_table__stats - counters so far. */
const struct flow_stats *flow_table__stats(const struct flow_table *ft);

/* flow_table__cert_stats - the certificate cache's hits, decodes, failures, evictions. */
void flow_table__cert_stats(const struct flow_table *ft, struct tls_cert_cache_stats *out);

/* flow_port_watched - @port is in the configured set. */
bool flow_port_watched(const struct flow_config *cfg, uint16_t port);

#endif /* TLSAUDIT_FLOW_H */

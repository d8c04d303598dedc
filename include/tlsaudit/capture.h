/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Capture sources that turn packets into struct flow_segment: capture files (pcap,
 * pcapng, gzip-compressed or not, stdin), libpcap live capture, and link-layer decoding
 * shared by both. The eBPF source is in capture_bpf.h.
 */
#ifndef TLSAUDIT_CAPTURE_H
#define TLSAUDIT_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "tlsaudit/flow.h"

enum cap_decode_status {
	CAP_DECODE_OK = 0,   /* *seg filled: a TCP segment */
	CAP_DECODE_SKIP,     /* not TCP over IPv4/IPv6 (ARP, UDP, fragments, ...) */
	CAP_DECODE_INVALID,  /* truncated or malformed headers: counted by the caller */
};

/*
 * cap_decode - parse one captured frame of libpcap link type @dlt (Ethernet with 802.1Q,
 * Linux cooked v1/v2, raw IPv4/IPv6, NULL/loopback) down to the TCP payload.
 * seg->payload points into @pkt; @caplen bytes are all that may be read.
 */
int cap_decode(int dlt, const uint8_t *pkt, size_t caplen, uint64_t ts_ns,
	       struct flow_segment *seg);

/*
 * cap_decode_ex - cap_decode, and *@snapped (may be NULL) says how many bytes of the IP
 * datagram the capture cut off (snaplen): the payload is then shorter than sent.
 */
int cap_decode_ex(int dlt, const uint8_t *pkt, size_t caplen, uint64_t ts_ns,
		  struct flow_segment *seg, uint32_t *snapped);

/* cap_dlt_supported - cap_decode knows this link type. */
int cap_dlt_supported(int dlt);

struct cap_file_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t decode_skipped;
	uint64_t decode_invalid;
	uint64_t snapped; /* TCP packets cut short by the capture's snaplen */
};

/*
 * cap_file_read - read every packet of @path ("-" for stdin) into @ft. On failure
 * returns -1 and writes "PATH: reason" into @err (not a capture file, unreadable,
 * truncated mid-record, unsupported link type).
 */
int cap_file_read(const char *path, struct flow_table *ft, struct cap_file_stats *stats,
		  char *err, size_t errlen);

#endif /* TLSAUDIT_CAPTURE_H */

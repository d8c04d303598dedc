/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Types shared by bpf/tlsaudit.bpf.c and src/capture/bpf.c: the ring-buffer samples and
 * the map values. Only fixed-width types, fixed arrays and explicit padding, so both
 * compilers lay them out identically (tests/unit/test_bpf_shared.c checks every offset).
 * Multi-byte fields are in host order unless the name ends in _be; addresses are
 * network order as on the wire.
 */
#ifndef TLSAUDIT_BPF_SHARED_H
#define TLSAUDIT_BPF_SHARED_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Payload bytes per data sample; a segment larger than this becomes several samples. */
#define TA_CHUNK 2048
/* Samples per packet at most: bounds the BPF loop (TA_CHUNK * TA_MAX_CHUNKS >= 64 KiB GSO). */
#define TA_MAX_CHUNKS 32
/*
 * Default bytes forwarded per direction of a socket (rodata, set from the flow config,
 * whose dir_cap defaults to it). It must let a TLS 1.2 server's whole first flight
 * through, certificate chain included: 5.3 KB with a 3-certificate RSA-4096 chain,
 * 13.4 KB with 4 certificates, 100 SANs and a stapled OCSP response (measured, see
 * docs/architecture.md); 32 KiB also holds a Certificate message that spans two records.
 */
#define TA_DEFAULT_BUDGET 32768

enum ta_event_type {
	TA_EV_DATA = 1,	 /* payload chunk (or a bare SYN/FIN/RST) of a watched socket */
	TA_EV_OWNER = 2, /* the process owning a socket cookie was first seen or changed */
	TA_EV_CLOSE = 3, /* the socket went to TCP_CLOSE: userspace finishes the flow */
};

/* Reasons a sample was lost; index into the per-CPU drops map. */
enum ta_drop_reason {
	TA_DROP_DATA = 0,  /* ring buffer full for a data sample */
	TA_DROP_OWNER = 1, /* ring buffer full for an owner sample */
	TA_DROP_CLOSE = 2, /* ring buffer full for a close sample */
	TA_DROP_LOAD = 3,  /* bpf_skb_load_bytes failed (should not happen) */
	TA_DROP_NR = 4,
};

/* First bytes of every sample. */
struct ta_hdr {
	__u32 type; /* enum ta_event_type */
	__u32 pad;
	__u64 cookie;	/* socket cookie: the join key between packets and owners */
	__u64 ktime_ns; /* CLOCK_MONOTONIC; userspace adds the wall-clock offset */
};

struct ta_data {
	struct ta_hdr hdr;
	__u8 family;	/* 4 or 6 (not AF_*: the BPF side has no libc) */
	__u8 egress;	/* 1: leaving the local socket */
	__u8 tcp_flags; /* FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10 (the wire bits) */
	__u8 pad0;
	__u16 sport; /* host order */
	__u16 dport;
	__u32 seq; /* TCP sequence number of payload[0] */
	__u32 len; /* payload bytes following this struct in the sample */
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 ack; /* acknowledgment number: which SYN-ACK the client took (TCP Fast Open) */
	__u32 pad1;
	/* followed by len bytes of payload (peer-controlled) */
};

struct ta_owner {
	struct ta_hdr hdr;
	__u32 tgid;
	__u32 pid; /* thread id */
	__u32 uid;
	__u32 pad0;
	__u64 cgroup_id;
	char comm[16];
};

/* Value of the owner map (cookie -> the process that last used the socket). */
struct ta_owner_val {
	__u32 tgid;
	__u32 pid;
	__u32 uid;
	__u32 pad0;
	__u64 cgroup_id;
	char comm[16];
};

/* Value of the flow map (cookie -> forwarding state). */
struct ta_flow_val {
	__u32 sent[2]; /* payload bytes forwarded: [0] ingress, [1] egress */
	__u8 done;     /* userspace has what it needs: forward nothing more */
	__u8 pad0[7];
};

/* Largest sample: a header plus one chunk. */
#define TA_DATA_MAX (sizeof(struct ta_data) + TA_CHUNK)

#endif /* TLSAUDIT_BPF_SHARED_H */

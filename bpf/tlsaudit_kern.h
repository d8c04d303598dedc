/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The few kernel types tlsaudit.bpf.c reads, declared by hand with
 * preserve_access_index: libbpf relocates each field access against the running
 * kernel's BTF by name, so only the fields named here must exist there, not this
 * layout. Reviewable, and the build needs no vmlinux.h from the build host.
 */
#ifndef TLSAUDIT_KERN_H
#define TLSAUDIT_KERN_H

#include <linux/types.h>

/*
 * In the kernel these sit inside anonymous unions/structs (skc_portpair, skc_addrpair);
 * libbpf matches a named member through anonymous ones, so they can be flat here.
 */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	/*
	 * A plain u16 since kernel commit bf9765145b85 ("sock: Make sk_protocol a 16-bit
	 * value", v5.6); older kernels keep it in a bitfield and are not supported.
	 */
	__u16 sk_protocol;
} __attribute__((preserve_access_index));

/* TCP states (include/net/tcp_states.h); stable values, part of the tracepoint ABI. */
enum {
	TA_TCP_ESTABLISHED = 1,
	TA_TCP_SYN_SENT = 2,
	TA_TCP_CLOSE = 7,
	TA_TCP_LISTEN = 10,
};

#endif /* TLSAUDIT_KERN_H */

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Kernel side of the live capture.
 *
 * cgroup_skb egress/ingress on the cgroup v2 root see every TCP segment of every local
 * socket. For sockets on a watched port they forward the first bytes of each direction
 * (a budget, TA_DEFAULT_BUDGET = 32 KiB by default) with the TCP sequence number through a ring buffer, so
 * userspace can reassemble both hellos. Once userspace marks a socket done, a packet
 * costs one map lookup. The programs never drop or alter traffic: they return 1.
 *
 * Tracepoints in process context record who owns a socket cookie (the join key: the
 * same number for the skb and the struct sock): connect() (SYN_SENT) and the process
 * that actually reads or writes the socket, which names a forked or pre-forked server's
 * child rather than the listening parent. TCP_CLOSE tells userspace to finish the flow.
 */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "tlsaudit_kern.h"
#include "tlsaudit/bpf_shared.h"

#define TA_ETH_P_IP 0x0800
#define TA_ETH_P_IPV6 0x86DD
#define TA_IPPROTO_TCP 6
#define TA_NEXTHDR_HOP 0
#define TA_NEXTHDR_ROUTING 43
#define TA_NEXTHDR_FRAGMENT 44
#define TA_NEXTHDR_AUTH 51
#define TA_NEXTHDR_DEST 60
#define TA_AF_INET 2
#define TA_AF_INET6 10
#define TA_TCP_FLAGS_CTRL 0x07 /* FIN | SYN | RST */

char LICENSE[] SEC("license") = "GPL";

/* Bytes forwarded per direction of a socket; userspace sets it before load. */
const volatile __u32 budget = TA_DEFAULT_BUDGET;

/*
 * The pid namespace of the /proc the reader resolves owners in (device and inode of
 * /proc/1/ns/pid), set before load. 0 for the initial one, whose numbers
 * bpf_get_current_pid_tgid() already gives; else the pids sent are the ones that /proc
 * shows, or 0 (see current_ids).
 */
const volatile __u64 pidns_dev = 0;
const volatile __u64 pidns_ino = 0;

/* Watched ports: index = port, value 1 when watched. An array lookup is the cheapest test. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct ta_flow_val);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct ta_owner_val);
} owners SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TA_DROP_NR);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* A data sample is built here: header plus one chunk is far over the 512-byte stack. */
struct scratch {
	struct ta_data d;
	__u8 payload[TA_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/*
 * Wake the reader only once a batch has built up: a wakeup per sample costs the reader a
 * context switch per packet under a handshake storm. Userspace polls on a short timer,
 * so a lone record still shows within milliseconds.
 */
#define TA_WAKEUP_BYTES (1 << 20)

static __always_inline __u64 rb_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > TA_WAKEUP_BYTES
		       ? BPF_RB_FORCE_WAKEUP
		       : BPF_RB_NO_WAKEUP;
}

static __always_inline void count_drop(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&drops, &reason);

	if (n)
		*n += 1;
}

static __always_inline int port_on(__u32 port)
{
	__u8 *on = bpf_map_lookup_elem(&ports, &port);

	return on && *on;
}

/*
 * Parsed headers of one packet. cgroup_skb data starts at the IP header. Headers are
 * read in place where they lie in the skb's linear part (direct packet access, checked
 * against data_end), else copied out by bpf_skb_load_bytes, which checks the bounds
 * against the skb itself: a helper call per header was a tenth of a run.
 */
struct pkt {
	struct ta_data d;
	__u32 payload_off;
	__u32 payload_len;
};

/*
 * ipv6_skip_ext - move *off past the extension headers (RFC 8200 section 4) that may
 * precede TCP: hop-by-hop, routing, destination options, AH, and a fragment header that
 * holds the whole packet. Real fragments never reach a socket (the stack reassembles
 * them first) and are left alone, as in the IPv4 path. Returns 0 when TCP follows.
 */
#define TA_IPV6_MAX_EXT 6

static __always_inline int ipv6_skip_ext(struct __sk_buff *skb, __u8 nh, __u32 *off)
{
	__u8 h[4];
	int i;

	for (i = 0; i < TA_IPV6_MAX_EXT; i++) {
		if (nh == TA_IPPROTO_TCP)
			return 0;
		if (bpf_skb_load_bytes(skb, *off, h, sizeof(h)))
			return -1;
		switch (nh) {
		case TA_NEXTHDR_HOP:
		case TA_NEXTHDR_ROUTING:
		case TA_NEXTHDR_DEST:
			*off += ((__u32)h[1] + 1) * 8;
			break;
		case TA_NEXTHDR_AUTH:
			*off += ((__u32)h[1] + 2) * 4;
			break;
		case TA_NEXTHDR_FRAGMENT:
			/* Offset (13 bits) and the More flag: both zero for an atomic fragment. */
			if (((h[2] << 8) | h[3]) & 0xfff9)
				return -1;
			*off += 8;
			break;
		default:
			return -1; /* ESP, no next header, or another protocol */
		}
		nh = h[0];
	}
	return nh == TA_IPPROTO_TCP ? 0 : -1;
}

/* The IP and TCP headers lie within this many bytes of the start (IPv6 extensions: less). */
#define TA_HDR_WINDOW 512

/*
 * hdr_at - @len bytes at @off: in place when the linear part holds them, else copied
 * into @buf. NULL when the packet is shorter.
 */
static __always_inline const __u8 *hdr_at(struct __sk_buff *skb, __u32 off, __u32 len,
					  __u8 *buf)
{
	const __u8 *data = (const __u8 *)(long)skb->data;
	const __u8 *end = (const __u8 *)(long)skb->data_end;
	const __u8 *h;

	if (off < TA_HDR_WINDOW) {
		h = data + off;
		if (h + len <= end)
			return h;
	}
	if (bpf_skb_load_bytes(skb, off, buf, len))
		return NULL;
	return buf;
}

static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	__u8 tcp_buf[20];
	const __u8 *tcp;
	__u32 l4_off, end, doff;

	if (skb->protocol == bpf_htons(TA_ETH_P_IP)) {
		__u8 ip_buf[20];
		const __u8 *ip;
		__u32 ihl, tot_len;

		ip = hdr_at(skb, 0, sizeof(ip_buf), ip_buf);
		if (!ip)
			return -1;
		ihl = (ip[0] & 0x0f) * 4;
		if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != TA_IPPROTO_TCP)
			return -1;
		/* Fragments carry no usable TCP header or a partial payload: not ours. */
		if (((ip[6] << 8) | ip[7]) & 0x3fff)
			return -1;
		tot_len = (ip[2] << 8) | ip[3];
		p->d.family = 4;
		__builtin_memcpy(p->d.saddr, &ip[12], 4);
		__builtin_memcpy(p->d.daddr, &ip[16], 4);
		l4_off = ihl;
		/* tot_len 0 is a BIG TCP packet: the skb length is the bound. */
		end = tot_len ? tot_len : skb->len;
	} else if (skb->protocol == bpf_htons(TA_ETH_P_IPV6)) {
		__u8 ip6_buf[40];
		const __u8 *ip6;
		__u32 plen;

		ip6 = hdr_at(skb, 0, sizeof(ip6_buf), ip6_buf);
		if (!ip6)
			return -1;
		if ((ip6[0] >> 4) != 6)
			return -1;
		l4_off = 40;
		if (ipv6_skip_ext(skb, ip6[6], &l4_off))
			return -1;
		plen = (ip6[4] << 8) | ip6[5];
		p->d.family = 6;
		__builtin_memcpy(p->d.saddr, &ip6[8], 16);
		__builtin_memcpy(p->d.daddr, &ip6[24], 16);
		end = plen ? 40 + plen : skb->len;
	} else {
		return -1;
	}
	/* Ethernet padding after a short IP packet is not payload. */
	if (end > skb->len)
		end = skb->len;
	tcp = hdr_at(skb, l4_off, sizeof(tcp_buf), tcp_buf);
	if (!tcp)
		return -1;
	doff = (tcp[12] >> 4) * 4;
	if (doff < 20)
		return -1;
	p->d.sport = (tcp[0] << 8) | tcp[1];
	p->d.dport = (tcp[2] << 8) | tcp[3];
	p->d.seq = ((__u32)tcp[4] << 24) | ((__u32)tcp[5] << 16) | ((__u32)tcp[6] << 8) | tcp[7];
	p->d.ack = ((__u32)tcp[8] << 24) | ((__u32)tcp[9] << 16) | ((__u32)tcp[10] << 8) | tcp[11];
	p->d.tcp_flags = tcp[13] & 0x1f;
	p->payload_off = l4_off + doff;
	p->payload_len = end > p->payload_off ? end - p->payload_off : 0;
	return 0;
}

static __always_inline void emit_chunks(struct __sk_buff *skb, struct pkt *p, __u32 total)
{
	__u32 zero = 0, i;

	for (i = 0; i < TA_MAX_CHUNKS; i++) {
		__u32 done = i * TA_CHUNK;
		struct scratch *s;
		__u64 n;

		if (i > 0 && done >= total)
			break;
		n = total - done;
		if (n > TA_CHUNK)
			n = TA_CHUNK;
		/*
		 * Keep clang from folding the clamp into 32-bit signed arithmetic, which the
		 * verifier cannot bound for bpf_skb_load_bytes' length.
		 */
		asm volatile("" : "+r"(n));
		s = bpf_map_lookup_elem(&scratch, &zero);
		if (!s)
			return;
		s->d = p->d;
		s->d.seq = p->d.seq + done;
		s->d.len = (__u32)n;
		/*
		 * Each chunk reads as a segment of its own: SYN only on the first (data in a
		 * SYN starts one sequence number later), FIN and RST only on the last.
		 */
		if (i > 0 && (p->d.tcp_flags & 0x02)) {
			s->d.tcp_flags &= ~0x02;
			s->d.seq += 1;
		}
		if (done + n < total)
			s->d.tcp_flags &= ~0x05;
		if (n > 0) {
			if (n > TA_CHUNK ||
			    bpf_skb_load_bytes(skb, p->payload_off + done, s->payload, n)) {
				count_drop(TA_DROP_LOAD);
				return;
			}
		}
		if (bpf_ringbuf_output(&events, s, sizeof(struct ta_data) + n, rb_flags()))
			count_drop(TA_DROP_DATA);
	}
}

static __always_inline int handle_skb(struct __sk_buff *skb, __u8 egress)
{
	struct ta_flow_val *fv;
	struct bpf_sock *sk;
	struct pkt p = {};
	__u64 cookie;
	__u32 total, sent, dir = egress, lport, rport;

	sk = skb->sk;
	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	/*
	 * SYN, SYN-ACK and the handshake's last ACK run on the listener; the connection's
	 * own socket carries everything after, under its own cookie.
	 */
	if (!sk || sk->state == BPF_TCP_LISTEN)
		return 1;
	/*
	 * Traffic on other ports leaves after two array lookups, before any packet byte is
	 * read. A socket without ports yet (bpf_prog_test_run's) is judged by its packet.
	 */
	lport = sk->src_port;
	rport = bpf_ntohs(sk->dst_port);
	if (lport && rport && !port_on(lport) && !port_on(rport))
		return 1;
	if (parse(skb, &p))
		return 1;
	/*
	 * Pure ACKs carry nothing a record needs, for any flow: they leave before the
	 * cookie and the flow lookup (about a third of a handshake's segments).
	 */
	if (!p.payload_len && !(p.d.tcp_flags & TA_TCP_FLAGS_CTRL))
		return 1;
	cookie = bpf_get_socket_cookie(skb);
	fv = bpf_map_lookup_elem(&flows, &cookie);
	if (fv && fv->done)
		return 1;
	if (!fv) {
		struct ta_flow_val nv = {};

		if (!port_on(p.d.dport) && !port_on(p.d.sport))
			return 1;
		bpf_map_update_elem(&flows, &cookie, &nv, BPF_NOEXIST);
		fv = bpf_map_lookup_elem(&flows, &cookie);
		if (!fv)
			return 1;
	}
	p.d.hdr.type = TA_EV_DATA;
	p.d.hdr.cookie = cookie;
	p.d.hdr.ktime_ns = bpf_ktime_get_ns();
	p.d.egress = egress;

	total = 0;
	if (p.payload_len) {
		sent = fv->sent[dir & 1];
		if (sent >= budget) {
			/* Still tell userspace the stream ended, without payload. */
			if (!(p.d.tcp_flags & TA_TCP_FLAGS_CTRL))
				return 1;
		} else {
			total = budget - sent;
			if (total > p.payload_len)
				total = p.payload_len;
			__sync_fetch_and_add(&fv->sent[dir & 1], total);
		}
	}
	emit_chunks(skb, &p, total);
	return 1;
}

SEC("cgroup_skb/egress")
int tlsaudit_egress(struct __sk_buff *skb)
{
	return handle_skb(skb, 1);
}

SEC("cgroup_skb/ingress")
int tlsaudit_ingress(struct __sk_buff *skb)
{
	return handle_skb(skb, 0);
}

static __always_inline int sk_is_watched_tcp(const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;

	if (sk->sk_protocol != TA_IPPROTO_TCP)
		return 0;
	if (family != TA_AF_INET && family != TA_AF_INET6)
		return 0;
	return port_on(sk->__sk_common.skc_num) ||
	       port_on(bpf_ntohs(sk->__sk_common.skc_dport));
}

/*
 * Wake the reader at once for a process it has not heard of lately: it reads /proc for
 * it, and a short-lived client may exit within milliseconds. Further sockets of the
 * same process (a storm from one client or server) wait for the next batch.
 */
#define TA_OWNER_FRESH_NS 1000000000ULL

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} recent_tgids SEC(".maps");

static __always_inline __u64 owner_flags(__u32 tgid, __u64 now)
{
	__u64 *last = bpf_map_lookup_elem(&recent_tgids, &tgid);

	if (last && now - *last < TA_OWNER_FRESH_NS)
		return rb_flags();
	bpf_map_update_elem(&recent_tgids, &tgid, &now, BPF_ANY);
	return BPF_RB_FORCE_WAKEUP;
}

/*
 * current_ids - tgid << 32 | pid of the current task as the reader numbers it. With a
 * namespace set, bpf_get_ns_current_pid_tgid() (Linux 5.7; every kernel with a BPF ring
 * buffer has it) answers only for tasks whose own pid namespace is that one: a task in
 * an ancestor or sibling namespace, which the reader cannot see, and one in a namespace
 * below it, which it can, get -EINVAL and zeros alike. 0 then, and userspace looks the
 * socket up in its /proc, which names the second kind.
 */
static __always_inline __u64 current_ids(void)
{
	struct bpf_pidns_info ns = {};

	if (!pidns_ino)
		return bpf_get_current_pid_tgid();
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)))
		return 0;
	return (__u64)ns.tgid << 32 | ns.pid;
}

/*
 * The owner last reported for a socket, kept with the socket itself: every read of a
 * watched socket runs note_owner(), and this answers "nothing new" without the cookie
 * and a hash lookup (the socket's storage goes with it). Tracing programs have socket
 * storage from Linux 5.11 on: userspace sets owner_sk_storage where the load succeeds,
 * and the verifier does not look at the branches it leaves out.
 */
const volatile __u8 owner_sk_storage = 0;

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} owner_seen SEC(".maps");

/* Record the current process as the owner of @sk; tell userspace when it is new. */
static __always_inline void note_owner(struct sock *sk)
{
	__u64 id = current_ids();
	__u32 tgid = (__u32)(id >> 32), *seen;
	struct ta_owner_val v = {}, *cur;
	struct ta_owner *e;
	__u64 cookie;

	cookie = bpf_get_socket_cookie(sk);
	if (owner_sk_storage) {
		/*
		 * The storage is the owner map's entry for this socket: the same tgid is
		 * nothing new, and none or another means the map has no such entry either.
		 */
		seen = bpf_sk_storage_get(&owner_seen, sk, 0, 0);
		if (seen && *seen == tgid)
			return;
		cur = NULL;
	} else {
		cur = bpf_map_lookup_elem(&owners, &cookie);
	}
	if (cur && cur->tgid == tgid) {
		if (owner_sk_storage) {
			seen = bpf_sk_storage_get(&owner_seen, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
			if (seen)
				*seen = tgid;
		}
		return;
	}
	v.tgid = tgid;
	v.pid = (__u32)id;
	v.uid = (__u32)bpf_get_current_uid_gid();
	v.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(v.comm, sizeof(v.comm));
	bpf_map_update_elem(&owners, &cookie, &v, BPF_ANY);
	if (owner_sk_storage) {
		seen = bpf_sk_storage_get(&owner_seen, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (seen)
			*seen = tgid;
	}

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(TA_DROP_OWNER);
		return;
	}
	e->hdr.type = TA_EV_OWNER;
	e->hdr.pad = 0;
	e->hdr.cookie = cookie;
	e->hdr.ktime_ns = bpf_ktime_get_ns();
	e->tgid = v.tgid;
	e->pid = v.pid;
	e->uid = v.uid;
	e->pad0 = 0;
	e->cgroup_id = v.cgroup_id;
	__builtin_memcpy(e->comm, v.comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, owner_flags(v.tgid, e->hdr.ktime_ns));
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tlsaudit_set_state, struct sock *sk, int oldstate, int newstate)
{
	__u64 cookie;
	struct ta_hdr *e;
	int known;

	if (sk->sk_protocol != TA_IPPROTO_TCP)
		return 0;
	if (newstate == TA_TCP_SYN_SENT) {
		/* connect(): the local port is still 0 here, the remote one is set. */
		if (port_on(bpf_ntohs(sk->__sk_common.skc_dport)))
			note_owner(sk);
		return 0;
	}
	if (newstate != TA_TCP_CLOSE)
		return 0;
	cookie = bpf_get_socket_cookie(sk);
	/* A delete says whether the entry was there: no lookup before it. */
	known = bpf_map_delete_elem(&flows, &cookie) == 0;
	if (bpf_map_delete_elem(&owners, &cookie) == 0)
		known = 1;
	if (!known)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(TA_DROP_CLOSE);
		return 0;
	}
	e->type = TA_EV_CLOSE;
	e->pad = 0;
	e->cookie = cookie;
	e->ktime_ns = bpf_ktime_get_ns();
	bpf_ringbuf_submit(e, rb_flags());
	return 0;
}

/*
 * The process that reads a socket owns it: a pre-fork server's child that accepted the
 * connection, or a client's child that inherited it after connect(). tcp_recvmsg() calls
 * tcp_rcv_space_adjust() in the reader's context for every skb it copies, and only for
 * TCP. sock_recv_length/sock_send_length would also name the reader, but fire for every
 * send and receive of every socket on the host (unix sockets and pipes of busy servers
 * included): measured at about 4.5% of a bulk transfer's CPU, against a fraction of that
 * here. No TLS handshake completes without its owner reading the peer's hello first.
 */
SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(tlsaudit_rcv, struct sock *sk)
{
	if (sk_is_watched_tcp(sk))
		note_owner(sk);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Link-layer, IP and TCP decoding of captured frames, down to the TCP payload.
 *
 * Ethernet II with 802.1Q/802.1ad tags (IEEE 802.1Q section 9), Linux cooked capture v1
 * and v2 (the libpcap LINKTYPE_LINUX_SLL/SLL2 definitions), raw IP, and the BSD
 * loopback header; then IPv4 (RFC 791 section 3.1), IPv6 (RFC 8200 sections 3-4) and
 * TCP (RFC 9293 section 3.1). Every byte is peer-controlled and read through the
 * bounded cursor. This runs once per packet, so it copies nothing and allocates nothing.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "tlsaudit/capture.h"
#include "tlsaudit/cursor.h"

/*
 * Link-type numbers as pcap_datalink() reports them on Linux, plus the LINKTYPE_ values
 * written in file headers and the OpenBSD/other-platform values of DLT_RAW, so a frame
 * decodes the same whichever number the caller has.
 */
#define LT_NULL 0
#define LT_EN10MB 1
#define LT_RAW_A 12
#define LT_RAW_B 14
#define LT_RAW 101
#define LT_LOOP 108
#define LT_LINUX_SLL 113
#define LT_IPV4 228
#define LT_IPV6 229
#define LT_LINUX_SLL2 276

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100

/*
 * Fixed headers are taken whole as a sub-cursor first: one bounds check, and the
 * compiler folds the checks of each read from it, whose offsets it then knows.
 */
#define ETHER_HDR 14
#define IPV4_HDR 20
#define IPV6_HDR 40
#define TCP_HDR_READ 14 /* ports, sequence and ack numbers, data offset, flags */

/* More tags than this is not a frame any switch forwards: give up on it. */
#define MAX_VLAN_TAGS 4
/* Extension headers before TCP; real packets carry one or two. */
#define MAX_IPV6_EXT 8

#define IPV6_NH_HOPOPTS 0
#define IPV6_NH_ROUTING 43
#define IPV6_NH_FRAGMENT 44
#define IPV6_NH_AH 51
#define IPV6_NH_NONE 59
#define IPV6_NH_DSTOPTS 60

/* What the link layer says the network layer is; distinct from IP protocol numbers. */
enum net_proto { NET_OTHER = 0, NET_IPV4, NET_IPV6, NET_BY_VERSION };

int cap_dlt_supported(int dlt)
{
	switch (dlt) {
	case LT_NULL:
	case LT_EN10MB:
	case LT_RAW_A:
	case LT_RAW_B:
	case LT_RAW:
	case LT_LOOP:
	case LT_LINUX_SLL:
	case LT_IPV4:
	case LT_IPV6:
	case LT_LINUX_SLL2:
		return 1;
	default:
		return 0;
	}
}

static enum net_proto from_ethertype(uint16_t ethertype)
{
	if (ethertype == ETHERTYPE_IPV4)
		return NET_IPV4;
	if (ethertype == ETHERTYPE_IPV6)
		return NET_IPV6;
	return NET_OTHER;
}

/* Ethernet II: dst, src, then an ethertype, possibly behind a bounded stack of tags. */
static int link_ether(struct tls_cursor *c, enum net_proto *net)
{
	struct tls_cursor h;
	uint16_t ethertype;
	int tags = 0;

	if (!cur_sub(c, ETHER_HDR, &h))
		return CAP_DECODE_INVALID;
	cur_skip(&h, 12);
	ethertype = cur_u16(&h);
	while (ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ ||
	       ethertype == ETHERTYPE_QINQ_OLD) {
		if (++tags > MAX_VLAN_TAGS)
			return CAP_DECODE_SKIP;
		cur_skip(c, 2); /* TCI: priority, DEI, VLAN id */
		ethertype = cur_u16(c);
	}
	if (!cur_ok(c))
		return CAP_DECODE_INVALID;
	*net = from_ethertype(ethertype);
	return CAP_DECODE_OK;
}

/*
 * BSD loopback: a 4-byte address family in the byte order of the machine that wrote it
 * (DLT_NULL) or in network order (DLT_LOOP); accept either. AF_INET6 differs per OS.
 */
static int link_null(struct tls_cursor *c, enum net_proto *net)
{
	uint32_t af = cur_u32(c);

	if (!cur_ok(c))
		return CAP_DECODE_INVALID;
	if (af > 0xffff)
		af = __builtin_bswap32(af);
	switch (af) {
	case 2:
		*net = NET_IPV4;
		break;
	case 10: /* Linux */
	case 24: /* NetBSD, OpenBSD */
	case 28: /* FreeBSD */
	case 30: /* macOS */
		*net = NET_IPV6;
		break;
	default:
		*net = NET_OTHER;
	}
	return CAP_DECODE_OK;
}

static int link_decode(int dlt, struct tls_cursor *c, enum net_proto *net)
{
	switch (dlt) {
	case LT_EN10MB:
		return link_ether(c, net);
	case LT_LINUX_SLL:
		/* packet type, ARPHRD type, address length, 8 address bytes, protocol */
		cur_skip(c, 14);
		*net = from_ethertype(cur_u16(c));
		break;
	case LT_LINUX_SLL2:
		/* protocol, reserved, ifindex, ARPHRD type, packet type, addr len, addr */
		*net = from_ethertype(cur_u16(c));
		cur_skip(c, 18);
		break;
	case LT_RAW_A:
	case LT_RAW_B:
	case LT_RAW:
		*net = NET_BY_VERSION;
		break;
	case LT_IPV4:
		*net = NET_IPV4;
		break;
	case LT_IPV6:
		*net = NET_IPV6;
		break;
	case LT_NULL:
	case LT_LOOP:
		return link_null(c, net);
	default:
		return CAP_DECODE_SKIP;
	}
	return cur_ok(c) ? CAP_DECODE_OK : CAP_DECODE_INVALID;
}

/*
 * IPv4 (RFC 791 section 3.1). On success @l4 covers the IP payload, bounded by both the
 * total length (Ethernet pads short frames) and what was captured (snaplen).
 */
static int ipv4_decode(struct tls_cursor *c, struct flow_segment *seg, struct tls_cursor *l4,
		       uint32_t *snapped)
{
	const uint8_t *start = cur_ptr(c);
	size_t avail = cur_left(c);
	struct tls_cursor h;
	uint8_t vihl, l4_proto;
	uint16_t total, frag;
	size_t hlen;

	if (!cur_sub(c, IPV4_HDR, &h))
		return CAP_DECODE_INVALID;
	vihl = cur_u8(&h);
	cur_skip(&h, 1); /* DSCP/ECN */
	total = cur_u16(&h);
	cur_skip(&h, 2); /* identification */
	frag = cur_u16(&h);
	cur_skip(&h, 1); /* TTL */
	l4_proto = cur_u8(&h);
	cur_skip(&h, 2); /* header checksum */
	cur_bytes(&h, seg->saddr, 4);
	cur_bytes(&h, seg->daddr, 4);
	if (vihl >> 4 != 4)
		return CAP_DECODE_INVALID;
	hlen = (size_t)(vihl & 0x0f) * 4;
	/* A total length of 0 is what segmentation offload leaves in captured packets. */
	if (total == 0)
		total = avail > 0xffff ? 0xffff : (uint16_t)avail;
	if (hlen < 20 || total < hlen || hlen > avail)
		return CAP_DECODE_INVALID;
	/* Later fragments carry no TCP header; a first fragment's payload is still usable. */
	if (frag & 0x1fff)
		return CAP_DECODE_SKIP;
	if (l4_proto != IPPROTO_TCP)
		return CAP_DECODE_SKIP;
	if (total > avail) {
		*snapped = (uint32_t)(total - avail);
		total = (uint16_t)avail;
	}
	seg->family = AF_INET;
	memset(seg->saddr + 4, 0, 12);
	memset(seg->daddr + 4, 0, 12);
	cur_init(l4, start + hlen, total - hlen);
	return CAP_DECODE_OK;
}

/*
 * IPv6 (RFC 8200 sections 3 and 4): the fixed header, then hop-by-hop, routing,
 * destination-options and AH headers up to a cap. Fragments are skipped: reassembling
 * IP is not worth it for the first bytes of a handshake.
 */
static int ipv6_decode(struct tls_cursor *c, struct flow_segment *seg, struct tls_cursor *l4,
		       uint32_t *snapped)
{
	struct tls_cursor pl, h;
	uint8_t vtc, nh, hdr_len;
	uint16_t plen;
	size_t avail, ext_len;
	int i;

	if (!cur_sub(c, IPV6_HDR, &h))
		return CAP_DECODE_INVALID;
	vtc = cur_u8(&h);
	cur_skip(&h, 3); /* traffic class, flow label */
	plen = cur_u16(&h);
	nh = cur_u8(&h);
	cur_skip(&h, 1); /* hop limit */
	cur_bytes(&h, seg->saddr, 16);
	cur_bytes(&h, seg->daddr, 16);
	if (vtc >> 4 != 6)
		return CAP_DECODE_INVALID;
	avail = cur_left(c);
	/* Zero means a jumbogram or segmentation offload: the capture decides. */
	if (plen == 0)
		plen = avail > 0xffff ? 0xffff : (uint16_t)avail;
	if (plen > avail) {
		*snapped = (uint32_t)(plen - avail);
		plen = (uint16_t)avail;
	}
	cur_init(&pl, cur_ptr(c), plen);

	for (i = 0; i < MAX_IPV6_EXT; i++) {
		switch (nh) {
		case IPPROTO_TCP:
			seg->family = AF_INET6;
			cur_init(l4, cur_ptr(&pl), cur_left(&pl));
			return CAP_DECODE_OK;
		case IPV6_NH_HOPOPTS:
		case IPV6_NH_ROUTING:
		case IPV6_NH_DSTOPTS:
			nh = cur_u8(&pl);
			hdr_len = cur_u8(&pl);
			ext_len = ((size_t)hdr_len + 1) * 8;
			break;
		case IPV6_NH_AH:
			/* RFC 4302 section 2.2: length in 4-byte units, minus 2 */
			nh = cur_u8(&pl);
			hdr_len = cur_u8(&pl);
			ext_len = ((size_t)hdr_len + 2) * 4;
			break;
		case IPV6_NH_FRAGMENT:
		case IPV6_NH_NONE:
		default:
			return CAP_DECODE_SKIP;
		}
		/* both bytes just read belong to the header */
		if (!cur_skip(&pl, ext_len - 2))
			return CAP_DECODE_INVALID;
	}
	return CAP_DECODE_SKIP;
}

/* TCP (RFC 9293 section 3.1): ports, sequence number, data offset, flags; then payload. */
static int tcp_decode(struct tls_cursor *c, struct flow_segment *seg)
{
	struct tls_cursor h;
	uint8_t doff, flags;
	size_t hlen;

	if (!cur_sub(c, TCP_HDR_READ, &h))
		return CAP_DECODE_INVALID;
	seg->sport = cur_u16(&h);
	seg->dport = cur_u16(&h);
	seg->seq = cur_u32(&h);
	seg->ack = cur_u32(&h);
	doff = cur_u8(&h);
	flags = cur_u8(&h);
	hlen = (size_t)(doff >> 4) * 4;
	if (hlen < 20)
		return CAP_DECODE_INVALID;
	/* window, checksum, urgent pointer, options: 14 bytes already read */
	if (!cur_skip(c, hlen - 14))
		return CAP_DECODE_INVALID;
	seg->tcp_flags = flags & (FLOW_TCP_FIN | FLOW_TCP_SYN | FLOW_TCP_RST | FLOW_TCP_ACK);
	seg->payload = cur_ptr(c);
	seg->len = (uint32_t)cur_left(c);
	return CAP_DECODE_OK;
}

int cap_decode_ex(int dlt, const uint8_t *pkt, size_t caplen, uint64_t ts_ns,
		  struct flow_segment *seg, uint32_t *snapped)
{
	struct tls_cursor c, l4;
	enum net_proto net = NET_OTHER;
	uint32_t missing = 0;
	int ret;

	if (snapped)
		*snapped = 0;
	cur_init(&c, pkt, caplen);
	ret = link_decode(dlt, &c, &net);
	if (ret != CAP_DECODE_OK)
		return ret;
	if (net == NET_BY_VERSION) {
		if (!cur_left(&c))
			return CAP_DECODE_INVALID;
		switch (cur_ptr(&c)[0] >> 4) {
		case 4:
			net = NET_IPV4;
			break;
		case 6:
			net = NET_IPV6;
			break;
		default:
			return CAP_DECODE_INVALID;
		}
	}

	memset(seg, 0, sizeof(*seg));
	if (net == NET_IPV4)
		ret = ipv4_decode(&c, seg, &l4, &missing);
	else if (net == NET_IPV6)
		ret = ipv6_decode(&c, seg, &l4, &missing);
	else
		return CAP_DECODE_SKIP;
	if (ret != CAP_DECODE_OK)
		return ret;
	ret = tcp_decode(&l4, seg);
	if (ret != CAP_DECODE_OK)
		return ret;
	seg->ts_ns = ts_ns;
	if (snapped)
		*snapped = missing;
	return CAP_DECODE_OK;
}

int cap_decode(int dlt, const uint8_t *pkt, size_t caplen, uint64_t ts_ns,
	       struct flow_segment *seg)
{
	return cap_decode_ex(dlt, pkt, caplen, ts_ns, seg, NULL);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * libpcap live capture: the fallback where eBPF cannot be loaded. Captures on "any"
 * (Linux cooked v2, which keeps the interface index and direction) with a kernel filter
 * on the watched ports, and decodes each frame with cap_decode. Flows are keyed by
 * 4-tuple (cookie 0); live.c names the local process through sock_diag.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "tlsaudit/capture.h"
#include "tlsaudit/capture_live.h"
#include "tlsaudit/log.h"
#include "tlsaudit/util.h"

#define SNAPLEN 65535
#define PCAP_BUFFER (8 << 20)
/* Packets handled per poll, so one busy capture cannot starve the event loop. */
#define POLL_BATCH 512

struct cap_pcap {
	pcap_t *pc;
	int dlt;
	void (*segment)(const struct flow_segment *seg, void *ctx);
	void *ctx;
};

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct cap_pcap *p = (struct cap_pcap *)user;
	struct flow_segment seg;
	uint64_t ts_ns;

	/* Nanosecond precision was requested; tv_usec then holds nanoseconds. */
	ts_ns = (uint64_t)h->ts.tv_sec * NSEC_PER_SEC + (uint64_t)h->ts.tv_usec;
	memset(&seg, 0, sizeof(seg));
	if (cap_decode(p->dlt, bytes, h->caplen, ts_ns, &seg) != CAP_DECODE_OK)
		return;
	p->segment(&seg, p->ctx);
}

static int build_filter(const struct flow_config *cfg, char *buf, size_t len)
{
	size_t off;
	int i, n;

	n = snprintf(buf, len, "tcp and (");
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	off = (size_t)n;
	for (i = 0; i < cfg->n_ports && i < (int)ARRAY_SIZE(cfg->ports); i++) {
		n = snprintf(buf + off, len - off, "%sport %u", i ? " or " : "",
			     (unsigned int)cfg->ports[i]);
		if (n < 0 || (size_t)n >= len - off)
			return -ENOSPC;
		off += (size_t)n;
	}
	n = snprintf(buf + off, len - off, ")");
	if (n < 0 || (size_t)n >= len - off)
		return -ENOSPC;
	return 0;
}

struct cap_pcap *cap_pcap__new(const struct flow_config *cfg, const char *iface,
			       void (*segment)(const struct flow_segment *seg, void *ctx),
			       void *ctx, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "", filter[1024];
	struct bpf_program prog;
	struct cap_pcap *p;
	int rc;

	if (!iface)
		iface = "any";
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->segment = segment;
	p->ctx = ctx;
	if (build_filter(cfg, filter, sizeof(filter))) {
		snprintf(err, errlen, "too many ports for a capture filter");
		goto cleanup;
	}
	p->pc = pcap_create(iface, ebuf);
	if (!p->pc) {
		snprintf(err, errlen, "libpcap on %s: %s", iface, ebuf);
		goto cleanup;
	}
	pcap_set_snaplen(p->pc, SNAPLEN);
	pcap_set_immediate_mode(p->pc, 1);
	pcap_set_buffer_size(p->pc, PCAP_BUFFER);
	pcap_set_tstamp_precision(p->pc, PCAP_TSTAMP_PRECISION_NANO);
	rc = pcap_activate(p->pc);
	if (rc < 0) {
		snprintf(err, errlen, "libpcap on %s: %s%s", iface, pcap_geterr(p->pc),
			 rc == PCAP_ERROR_PERM_DENIED ? " (needs root or CAP_NET_RAW)" : "");
		goto cleanup;
	}
	/* Cooked v2 keeps the interface; older libpcap stays on v1, which decodes as well. */
	if (!strcmp(iface, "any"))
		pcap_set_datalink(p->pc, DLT_LINUX_SLL2);
	p->dlt = pcap_datalink(p->pc);
	if (!cap_dlt_supported(p->dlt)) {
		snprintf(err, errlen, "libpcap on %s: link type %s is not supported", iface,
			 pcap_datalink_val_to_name(p->dlt) ?: "unknown");
		goto cleanup;
	}
	if (pcap_compile(p->pc, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) ||
	    pcap_setfilter(p->pc, &prog)) {
		snprintf(err, errlen, "libpcap filter '%s': %s", filter, pcap_geterr(p->pc));
		goto cleanup;
	}
	pcap_freecode(&prog);
	if (pcap_setnonblock(p->pc, 1, ebuf)) {
		snprintf(err, errlen, "libpcap on %s: %s", iface, ebuf);
		goto cleanup;
	}
	log_debug("libpcap on %s, link type %d, filter '%s'", iface, p->dlt, filter);
	return p;

cleanup:
	cap_pcap__free(p);
	return NULL;
}

void cap_pcap__free(struct cap_pcap *p)
{
	if (!p)
		return;
	if (p->pc)
		pcap_close(p->pc);
	free(p);
}

int cap_pcap__fd(const struct cap_pcap *p)
{
	return pcap_get_selectable_fd(p->pc);
}

int cap_pcap__poll(struct cap_pcap *p)
{
	int n = pcap_dispatch(p->pc, POLL_BATCH, on_packet, (u_char *)p);

	return n == PCAP_ERROR ? -EIO : n;
}

uint64_t cap_pcap__drops(struct cap_pcap *p)
{
	struct pcap_stat ps;

	if (pcap_stats(p->pc, &ps))
		return 0;
	return ps.ps_drop;
}

/*
 * Local addresses: which end of a captured connection is this host's. A host running
 * containers has one or more addresses per container, hundreds or thousands, coming and
 * going all the time, so they are a set (open addressing, linear probing) of every
 * (address, interface) pair configured here, with no limit below LOCAL_ADDRS_MAX:
 *  - loaded with an RTM_GETADDR dump (rtnetlink(7)) at the first lookup;
 *  - kept current from the kernel's own announcements: an rtnetlink socket subscribed
 *    to the IPv4 and IPv6 address groups, drained without blocking by the lookups, at
 *    most every LOCAL_DRAIN_NS, so a new container's address counts at once;
 *  - dumped again when announcements were lost (ENOBUFS), and every LOCAL_RELOAD_NS in
 *    any case (every LOCAL_POLL_NS where the subscription could not be made).
 * A pair, not an address, is the key: the same address may sit on two interfaces, and
 * the kernel announces changes (IPv6 lifetimes, DAD done) as RTM_NEWADDR again, so
 * counting announcements would drift. Deleted entries stay as tombstones until the
 * next rebuild, so probe chains stay intact.
 */
#define LOCAL_ADDRS_MAX 65536
#define LOCAL_DRAIN_NS (10 * NSEC_PER_MSEC)
#define LOCAL_RELOAD_NS (60 * NSEC_PER_SEC)
#define LOCAL_POLL_NS (5 * NSEC_PER_SEC)
#define LOCAL_NL_BUF 32768
/*
 * Datagrams (one announcement each, a few microseconds) read per drain; the rest of a
 * burst (a hundred containers starting) is read by the next lookup, without waiting
 * for LOCAL_DRAIN_NS.
 */
#define LOCAL_DRAIN_MAX 256

struct local_addr {
	uint8_t addr[16];
	uint32_t ifindex;
	uint8_t family; /* 0: never used */
	bool dead;	/* removed; kept so that later entries of its chain are found */
};

static struct {
	struct local_addr *slots;
	size_t cap;  /* power of two, or 0 */
	size_t used; /* live and dead */
	size_t live;
	int nl_fd;   /* the subscription; -1: none yet, -2: could not be made */
	uint64_t loaded_ns, drained_ns;
	bool tried, loaded, stale;
	bool behind; /* the last drain stopped at LOCAL_DRAIN_MAX */
	uint64_t dropped; /* pairs not held: LOCAL_ADDRS_MAX reached */
	uint8_t *buf;
} local = { .nl_fd = -1 };

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static size_t local_hash(int family, const uint8_t *addr)
{
	uint32_t h = 2166136261u ^ (uint32_t)family;
	size_t i;

	/* FNV-1a over the address only: every pair of one address shares a chain. */
	for (i = 0; i < addr_len(family); i++)
		h = (h ^ addr[i]) * 16777619u;
	return h;
}

/* local_slot - the entry of this pair, or the empty slot where it would go. */
static struct local_addr *local_slot(int family, const uint8_t *addr, uint32_t ifindex)
{
	size_t i = local_hash(family, addr) & (local.cap - 1);
	struct local_addr *e;

	for (;; i = (i + 1) & (local.cap - 1)) {
		e = &local.slots[i];
		if (!e->family || (e->family == family && e->ifindex == ifindex &&
				   !memcmp(e->addr, addr, addr_len(family))))
			return e;
	}
}

/* local_rebuild - a table of @cap slots with the live entries only. */
static int local_rebuild(size_t cap)
{
	struct local_addr *old = local.slots, *e;
	size_t old_cap = local.cap, i;

	local.slots = calloc(cap, sizeof(*local.slots));
	if (!local.slots) {
		local.slots = old;
		return -ENOMEM;
	}
	local.cap = cap;
	local.used = local.live = 0;
	for (i = 0; i < old_cap; i++) {
		if (!old[i].family || old[i].dead)
			continue;
		e = local_slot(old[i].family, old[i].addr, old[i].ifindex);
		*e = old[i];
		local.used++;
		local.live++;
	}
	free(old);
	return 0;
}

static void local_add(int family, const uint8_t *addr, uint32_t ifindex)
{
	struct local_addr *e;
	size_t cap;

	/* At most half full, tombstones included, so probes stay short and end. */
	if ((local.used + 1) * 2 > local.cap) {
		/* Rebuilt (and grown as needed) to a third full: tombstones go too. */
		for (cap = 256; (local.live + 1) * 3 > cap; cap *= 2)
			;
		if (local_rebuild(cap))
			return;
	}
	e = local_slot(family, addr, ifindex);
	if (e->family && !e->dead)
		return;
	if (local.live >= LOCAL_ADDRS_MAX) {
		local.dropped++;
		return;
	}
	if (!e->family) {
		local.used++;
		memcpy(e->addr, addr, addr_len(family));
		e->family = (uint8_t)family;
		e->ifindex = ifindex;
	}
	e->dead = false;
	local.live++;
}

static void local_del(int family, const uint8_t *addr, uint32_t ifindex)
{
	struct local_addr *e;

	if (!local.cap)
		return;
	e = local_slot(family, addr, ifindex);
	if (!e->family || e->dead)
		return;
	e->dead = true;
	local.live--;
}

/*
 * local_parse - apply the RTM_NEWADDR/RTM_DELADDR messages in @len bytes (a dump reply
 * or announcements). 1 when NLMSG_DONE ended a dump, 0 for more, -errno for an error.
 * The kernel builds these, but every length is still checked against what was received;
 * headers are read in place because netlink aligns every message and attribute to 4
 * bytes in a buffer malloc aligned.
 */
static int local_parse(const uint8_t *buf, size_t len)
{
	const struct nlmsghdr *nh;
	const struct ifaddrmsg *ifa;
	const struct rtattr *rta;
	const uint8_t *addr, *local_attr;
	size_t off = 0, aoff, alen;
	int nlerr;

	while (len - off >= sizeof(*nh)) {
		nh = (const struct nlmsghdr *)(buf + off);
		if (nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > len - off)
			return -EBADMSG;
		if (nh->nlmsg_type == NLMSG_DONE)
			return 1;
		if (nh->nlmsg_type == NLMSG_ERROR) {
			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(nlerr)))
				return -EBADMSG;
			memcpy(&nlerr, NLMSG_DATA(nh), sizeof(nlerr));
			return nlerr < 0 ? nlerr : -EBADMSG;
		}
		if ((nh->nlmsg_type == RTM_NEWADDR || nh->nlmsg_type == RTM_DELADDR) &&
		    nh->nlmsg_len >= NLMSG_LENGTH(sizeof(*ifa))) {
			ifa = NLMSG_DATA(nh);
			addr = local_attr = NULL;
			alen = ifa->ifa_family == AF_INET ? 4 : 16;
			aoff = NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*ifa)));
			while (nh->nlmsg_len - aoff >= sizeof(*rta)) {
				rta = (const struct rtattr *)((const uint8_t *)nh + aoff);
				if (rta->rta_len < sizeof(*rta) ||
				    rta->rta_len > nh->nlmsg_len - aoff)
					break;
				if (rta->rta_len == RTA_LENGTH(alen) &&
				    rta->rta_type == IFA_ADDRESS)
					addr = RTA_DATA(rta);
				if (rta->rta_len == RTA_LENGTH(alen) && rta->rta_type == IFA_LOCAL)
					local_attr = RTA_DATA(rta);
				aoff += RTA_ALIGN(rta->rta_len);
			}
			/* IFA_LOCAL is this end of a point-to-point link; IFA_ADDRESS its peer. */
			if (local_attr)
				addr = local_attr;
			if (addr && (ifa->ifa_family == AF_INET || ifa->ifa_family == AF_INET6)) {
				if (nh->nlmsg_type == RTM_NEWADDR)
					local_add(ifa->ifa_family, addr, ifa->ifa_index);
				else
					local_del(ifa->ifa_family, addr, ifa->ifa_index);
			}
		}
		off += NLMSG_ALIGN(nh->nlmsg_len);
		if (off > len)
			break;
	}
	return 0;
}

/* local_subscribe - the announcement socket, or -errno. */
static int local_subscribe(void)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
	};
	int fd, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/*
 * local_dump - every address configured now into a fresh table. The kernel answers a
 * dump from inside the request, so the receive timeout only guards a lost reply.
 */
static int local_dump(void)
{
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
	} req = {
		.nh = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = RTM_GETADDR,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 1,
		},
		.ifa = { .ifa_family = AF_UNSPEC },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 0, .tv_usec = 500000 };
	int fd, ret = 0;
	ssize_t n;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		ret = -errno;
		goto out;
	}
	free(local.slots);
	local.slots = NULL;
	local.cap = local.used = local.live = 0;
	while (!ret) {
		n = recv(fd, local.buf, LOCAL_NL_BUF, MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0 || n > LOCAL_NL_BUF) {
			ret = -EMSGSIZE;
			break;
		}
		ret = local_parse(local.buf, (size_t)n);
	}
	ret = ret == 1 ? 0 : ret;
out:
	close(fd);
	return ret;
}

/* local_reload_due - a dump is due at @now: first use, lost announcements, or age. */
static bool local_reload_due(uint64_t now)
{
	uint64_t age = now - local.loaded_ns;

	if (!local.tried)
		return true;
	/* A failed dump, or announcements lost in a storm of changes: once a second. */
	if (!local.loaded || local.stale)
		return age >= NSEC_PER_SEC;
	return age >= (local.nl_fd >= 0 ? LOCAL_RELOAD_NS : LOCAL_POLL_NS);
}

/* local_refresh - load, reload or follow the announcements, as due at @now. */
static void local_refresh(uint64_t now)
{
	static bool warned_dump, warned_full;
	ssize_t n;
	int i, ret;

	if (!local.buf) {
		local.buf = malloc(LOCAL_NL_BUF);
		if (!local.buf)
			return;
	}
	/* The subscription comes first: a change made during a dump is read after it. */
	if (local.nl_fd == -1) {
		local.nl_fd = local_subscribe();
		if (local.nl_fd < 0) {
			log_warn("local addresses: no rtnetlink announcements (%s); reloading "
				 "every %llu s", strerror(-local.nl_fd),
				 (unsigned long long)(LOCAL_POLL_NS / NSEC_PER_SEC));
			local.nl_fd = -2;
		}
	}
	if (local.nl_fd >= 0 && (local.behind || now - local.drained_ns >= LOCAL_DRAIN_NS)) {
		local.drained_ns = now;
		local.behind = false;
		for (i = 0; i < LOCAL_DRAIN_MAX; i++) {
			n = recv(local.nl_fd, local.buf, LOCAL_NL_BUF, MSG_DONTWAIT | MSG_TRUNC);
			if (n < 0 && errno == ENOBUFS) {
				local.stale = true;
				continue;
			}
			if (n <= 0)
				break;
			if (n > LOCAL_NL_BUF || local_parse(local.buf, (size_t)n) < 0)
				local.stale = true;
		}
		local.behind = i == LOCAL_DRAIN_MAX;
	}
	if (!local_reload_due(now))
		return;
	local.tried = true;
	local.loaded_ns = now;
	local.stale = false;
	ret = local_dump();
	local.loaded = !ret;
	if (ret && !warned_dump) {
		log_warn("local addresses: RTM_GETADDR: %s", strerror(-ret));
		warned_dump = true;
	}
	if (local.dropped && !warned_full) {
		log_warn("local addresses: more than %u; the rest are not known as local",
			 LOCAL_ADDRS_MAX);
		warned_full = true;
	}
}

int cap_addr_is_local(int family, const uint8_t *addr)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };
	size_t i;

	/* All of 127/8 is loopback, not only the configured 127.0.0.1. */
	if (family == AF_INET && addr[0] == 127)
		return 1;
	if (family == AF_INET6 && !memcmp(addr, v6_loopback, 16))
		return 1;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	local_refresh(util_mono_ns());
	if (!local.cap)
		return 0;
	/* Any interface: every pair of this address sits on its chain. */
	for (i = local_hash(family, addr) & (local.cap - 1); local.slots[i].family;
	     i = (i + 1) & (local.cap - 1)) {
		if (local.slots[i].family == family && !local.slots[i].dead &&
		    !memcmp(local.slots[i].addr, addr, addr_len(family)))
			return 1;
	}
	return 0;
}

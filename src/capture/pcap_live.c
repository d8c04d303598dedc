// SPDX-License-Identifier: GPL-2.0-only
/*
 * libpcap live capture: the fallback where eBPF cannot be loaded. Captures on "any"
 * (Linux cooked v2, which keeps the interface index and direction) with a kernel filter
 * on the watched ports, and decodes each frame with cap_decode. Flows are keyed by
 * 4-tuple (cookie 0); live.c names the local process through sock_diag.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

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

/* Local addresses, refreshed at most every few seconds (DHCP, hotplug). */
static struct {
	uint8_t family[64];
	uint8_t addr[64][16];
	int n;
	time_t loaded;
} local_addrs;

static void load_local_addrs(void)
{
	struct ifaddrs *ifa, *i;
	int n = 0;

	local_addrs.loaded = time(NULL);
	if (getifaddrs(&ifa))
		return;
	for (i = ifa; i && n < (int)ARRAY_SIZE(local_addrs.family); i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)i->ifa_addr;

			local_addrs.family[n] = AF_INET;
			memcpy(local_addrs.addr[n++], &sin->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)i->ifa_addr;

			local_addrs.family[n] = AF_INET6;
			memcpy(local_addrs.addr[n++], &s6->sin6_addr, 16);
		}
	}
	local_addrs.n = n;
	freeifaddrs(ifa);
}

int cap_addr_is_local(int family, const uint8_t *addr)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };
	int i;

	/* All of 127/8 is loopback, not only the configured 127.0.0.1. */
	if (family == AF_INET && addr[0] == 127)
		return 1;
	if (family == AF_INET6 && !memcmp(addr, v6_loopback, 16))
		return 1;
	if (time(NULL) - local_addrs.loaded > 5)
		load_local_addrs();
	for (i = 0; i < local_addrs.n; i++) {
		if (local_addrs.family[i] != family)
			continue;
		if (!memcmp(local_addrs.addr[i], addr, family == AF_INET ? 4 : 16))
			return 1;
	}
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Prometheus textfile export (the node_exporter textfile collector reads it). The metric
 * names are an interface: packaging/ alert rules and the dashboard use exactly these.
 */
#ifndef TLSAUDIT_PROM_H
#define TLSAUDIT_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tlsaudit/agg.h"

/*
 * What the capture lost, by reason (tlsaudit_capture_drops_total{backend,reason}); the
 * reasons of the running backend are written, zeros included, the others not.
 */
enum prom_drop {
	PROM_DROP_RINGBUF_DATA = 0, /* bpf: ring buffer full for a payload sample */
	PROM_DROP_RINGBUF_OWNER,    /* socket-owner samples lost: BPF ring buffer, pcap's perf rings */
	PROM_DROP_RINGBUF_CLOSE,    /* bpf: ring buffer full for a close sample */
	PROM_DROP_SKB_LOAD,	    /* bpf: the payload could not be read from the packet */
	PROM_DROP_PCAP_KERNEL,	    /* pcap: packets the kernel dropped (pcap_stats) */
	PROM_DROP_FLOW_TABLE,	    /* both: flows evicted (flow cap or memory budget) */
	PROM_DROP_BUDGET,	    /* both: directions that hit the byte budget before both hellos */
	PROM_DROP_N,
};

/*
 * Server certificate chains in the clear that could not be read, so their problems went
 * unseen (tlsaudit_certificates_unread_total{reason}); both reasons are always written.
 */
enum prom_cert_unread {
	PROM_CERT_CUT = 0,   /* the bytes ended inside it: the per-direction budget, the connection */
	PROM_CERT_MALFORMED, /* a Certificate message or leaf that does not parse */
	PROM_CERT_UNREAD_N,
};

/* Daemon-wide values that are not per row. */
struct prom_info {
	const char *version;   /* tlsaudit version */
	const char *backend;   /* "bpf", "pcap" or "none" */
	uint64_t start_time_ns;
	uint64_t export_time_ns;
	uint64_t ringbuf_drops; /* the deprecated tlsaudit_ringbuf_drops_total */
	uint64_t drops[PROM_DROP_N];
	uint64_t flow_evictions;
	uint64_t malformed;
	uint64_t certs_unread[PROM_CERT_UNREAD_N];
};

/*
 * prom_row_series - the samples prom_render writes for @row when no other row shares
 * its program and role (an agg_series_fn, so the aggregation can bound the file's
 * series): the families without a port sum such rows into one series, so the file's
 * samples are at most the sum over its rows. prom_fixed_series - the samples that are
 * not per row, for a daemon on @backend ("bpf", "pcap" or "none").
 */
size_t prom_row_series(const struct agg_row *row, void *ctx);
size_t prom_fixed_series(const char *backend);

/*
 * prom_row_series_max - the most samples one row can ever write, whatever it holds (a
 * server row's own certificates with @server). The exe="other" row is not a server's,
 * so prom_fixed_series("bpf") + prom_row_series_max(false) is the smallest max_series
 * the file can always keep: every other row folds into "other", which must still fit.
 */
size_t prom_row_series_max(bool server);

/* prom_render - the whole exposition (HELP, TYPE, samples) into @f; 0 or -EIO. */
int prom_render(const struct agg *a, const struct prom_info *info, FILE *f);

/* prom_write - render to @path atomically (temp file, rename); 0 or -errno with @err. */
int prom_write(const struct agg *a, const struct prom_info *info, const char *path, char *err,
	       size_t errlen);

/*
 * prom_escape - a label value as it goes between the quotes: valid UTF-8 passes, a
 * backslash is doubled, bytes that are not valid UTF-8 and control characters other
 * than newline become the text \xNN (\\xNN in the file), so distinct inputs stay
 * distinct values; then the exposition format's escapes (backslash, double quote, newline). Cut to fit @len,
 * never inside an escape or a character; PROM_ESCAPED_MAX(n) never cuts a string of
 * an n-byte buffer.
 */
#define PROM_ESCAPED_MAX(n) ((n) * 5 + 1)
void prom_escape(const char *s, char *out, size_t len);

#endif /* TLSAUDIT_PROM_H */

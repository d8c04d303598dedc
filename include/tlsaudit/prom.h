/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Prometheus textfile export (the node_exporter textfile collector reads it). The metric
 * names are an interface: packaging/ alert rules and the dashboard use exactly these.
 */
#ifndef TLSAUDIT_PROM_H
#define TLSAUDIT_PROM_H

#include <stdint.h>
#include <stdio.h>

#include "tlsaudit/agg.h"

/* Daemon-wide values that are not per row. */
struct prom_info {
	const char *version;   /* tlsaudit version */
	const char *backend;   /* "bpf", "pcap" or "none" */
	uint64_t start_time_ns;
	uint64_t export_time_ns;
	uint64_t ringbuf_drops;
	uint64_t flow_evictions;
	uint64_t malformed;
};

/* prom_render - the whole exposition (HELP, TYPE, samples) into @f; 0 or -EIO. */
int prom_render(const struct agg *a, const struct prom_info *info, FILE *f);

/* prom_write - render to @path atomically (temp file, rename); 0 or -errno with @err. */
int prom_write(const struct agg *a, const struct prom_info *info, const char *path, char *err,
	       size_t errlen);

/*
 * prom_escape - a label value escaped per the exposition format (backslash, double
 * quote, newline), other control and non-ASCII bytes as '?'; cut to fit @len.
 */
void prom_escape(const char *s, char *out, size_t len);

#endif /* TLSAUDIT_PROM_H */

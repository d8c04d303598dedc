// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer entry for capture files: the input is a whole file (pcap, pcapng, either
 * gzip-compressed), written to a memfd and read by cap_file_read() through
 * /proc/self/fd as `tlsaudit read FILE` reads it: libpcap's file reader, the gzip
 * wrapper, the frame decoder and the flow table to the records. A file is whatever
 * someone hands the operator, so its block lengths, caplen and link type are hostile.
 * A small flow table (dir_cap and memory budget) is used, so the bounds are reached.
 * Build with `make fuzz`; run build/fuzz/fuzz_pcap tests/fuzz/corpus/pcap.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tlsaudit/capture.h"
#include "tlsaudit/flow.h"
#include "tlsaudit/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char path[64];

static void on_record(const struct hs_record *rec, void *ctx)
{
	size_t *n = ctx;

	if (!memchr(rec->sni, 0, sizeof(rec->sni)) || !memchr(rec->alpn, 0, sizeof(rec->alpn)) ||
	    !memchr(rec->ja3, 0, sizeof(rec->ja3)) || !memchr(rec->ja4, 0, sizeof(rec->ja4)) ||
	    !memchr(rec->mx_host, 0, sizeof(rec->mx_host)))
		abort();
	if (rec->client.family != AF_INET && rec->client.family != AF_INET6)
		abort();
	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cap_file_stats stats;
	struct flow_config cfg;
	struct flow_table *ft;
	char err[512];
	size_t records = 0;
	int ret;

	if (memfd < 0) {
		memfd = memfd_create("fuzz-pcap", MFD_CLOEXEC);
		if (memfd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) || (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();

	flow_config_default(&cfg);
	cfg.dir_cap = 4096;
	cfg.mem_budget = 64 * 1024;
	cfg.max_flows = 8;
	ft = flow_table__new(&cfg, on_record, NULL, &records);
	if (!ft)
		return 0;
	memset(&stats, 0, sizeof(stats));
	err[0] = '\0';
	ret = cap_file_read(path, ft, &stats, err, sizeof(err));
	if (ret && (!err[0] || !memchr(err, 0, sizeof(err))))
		abort();
	if (stats.decode_skipped + stats.decode_invalid > stats.packets ||
	    stats.snapped > stats.packets)
		abort();
	flow_table__flush(ft);
	flow_table__free(ft);
	return 0;
}

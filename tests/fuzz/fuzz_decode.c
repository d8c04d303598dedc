// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer entry for link-layer, IP and TCP decoding: the first input byte picks the
 * link type (every one cap_decode supports, plus unsupported ones), the rest is the
 * captured frame. The frame is copied into a buffer of exactly its size, so any read
 * past the captured length is an ASan report. Build with `make fuzz`; run
 * build/fuzz/fuzz_decode tests/fuzz/corpus/decode.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tlsaudit/capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Linux DLT_ and LINKTYPE_ numbers cap_decode knows, and two it must refuse. */
static const int dlts[] = { 0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 105, 127 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flow_segment seg;
	uint32_t snapped;
	uint8_t *pkt;
	size_t len;
	int dlt, ret;

	if (!size)
		return 0;
	dlt = dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))];
	len = size - 1;
	pkt = malloc(len ? len : 1);
	if (!pkt)
		return 0;
	memcpy(pkt, data + 1, len);

	ret = cap_decode_ex(dlt, pkt, len, 42, &seg, &snapped);
	if (ret == CAP_DECODE_OK) {
		/* The payload must lie inside the captured bytes, after the headers. */
		if (!cap_dlt_supported(dlt))
			abort();
		if (seg.len && (seg.payload < pkt || seg.payload > pkt + len ||
				seg.len > (size_t)(pkt + len - seg.payload)))
			abort();
		if (!seg.len && seg.payload && (seg.payload < pkt || seg.payload > pkt + len))
			abort();
		if (seg.family != AF_INET && seg.family != AF_INET6)
			abort();
		if (seg.ts_ns != 42 || seg.cookie)
			abort();
		if (seg.tcp_flags & ~0x17)
			abort();
	} else if (ret != CAP_DECODE_SKIP && ret != CAP_DECODE_INVALID) {
		abort();
	}
	/* The short form must agree with the long one. */
	if (cap_decode(dlt, pkt, len, 42, &seg) != ret)
		abort();
	free(pkt);
	return 0;
}

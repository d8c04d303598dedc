// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer entry for the TLS parser: the raw input is fed to the record walk in both
 * directions, to every prefix-free hello parser, and the fingerprints of whatever
 * ClientHello came out. Build with `make fuzz`; run build/fuzz/fuzz_tls CORPUS_DIR.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tlsaudit/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t scratch[1 << 16];
static struct tls_stream st;
static struct tls_client_hello ch;
static struct tls_server_hello sh;

static void fingerprints(const struct tls_client_hello *c)
{
	char ja3[33], ja4[40];

	tls_ja3(c, ja3);
	tls_ja4(c, ja4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t group;
	size_t cap;

	/* The first byte picks a scratch size, so the "no room" path is reached too. */
	cap = size ? (size_t)data[0] * 64 : 0;

	memset(&st, 0, sizeof(st));
	if (tls_stream_parse(data, size, true, &st, scratch, cap) != TLS_INVALID &&
	    st.n_client_hellos) {
		fingerprints(&st.first);
		fingerprints(&st.last);
	}
	memset(&st, 0, sizeof(st));
	tls_stream_parse(data, size, false, &st, scratch, sizeof(scratch));

	if (tls_parse_client_hello(data, size, &ch) == TLS_OK)
		fingerprints(&ch);
	tls_parse_server_hello(data, size, &sh);
	tls_parse_ske_group(data, size, &group);
	if (tls_parse_sslv2_hello(data, size, &ch) == TLS_OK)
		fingerprints(&ch);
	tls_looks_like_start(data, size);
	return 0;
}

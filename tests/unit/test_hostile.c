// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hostile inputs from the bug history of TLS dissectors (nDPI, Wireshark, Suricata,
 * tcpdump) and of this project's fuzz entries, each through the public interface that
 * meets it first: the TLS parser, the flow table, the frame decoder, the capture file
 * reader, the certificate walk and the state file loader. Each test says what a user
 * would see afterwards (the handshake still reported, a counted drop, an error with a
 * reason) and that memory stays bounded. Built with ASan and UBSan like every unit
 * test, so an out-of-bounds read or undefined behaviour on any path here fails it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <zlib.h>

#include "tlsaudit/agg.h"
#include "tlsaudit/util.h"

/* --- state file ---------------------------------------------------------------------- */

static long maxrss_mb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * A state file whose row count is as large as the payload allows, every row valid: the
 * loader sized an array by that count (9.6 KiB per row in memory against about 200
 * bytes on disk), so 16 MiB of payload, 16 KiB of zlib, took over 700 MB before the
 * fix. Now it loads in one row's memory, the rows merged into their one key.
 */
static void test_state_row_count_bomb(void **unused)
{
	struct agg *a = agg__new(16, 4), *b = agg__new(16, 4);
	uint8_t *file = NULL, *raw, *big, *out;
	size_t len, row_len, n_rows, i, off;
	struct hs_record r;
	uLongf raw_len, clen;
	long before;
	char err[256];

	(void)unused;
	assert_non_null(a);
	assert_non_null(b);
	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * NSEC_PER_SEC;
	r.version = TLS_V_12;
	r.offered_max = TLS_V_12;
	r.server.family = AF_INET;
	r.server.port = 443;
	agg__add(a, &r, r.time_ns);
	assert_int_equal(agg__save_buf(a, &file, &len), 0);

	/* Inflate, take the one row (after u64 time and u32 count, before the counters). */
	raw_len = 1 << 20;
	raw = malloc(raw_len);
	assert_non_null(raw);
	assert_int_equal(uncompress(raw, &raw_len, file + 24, len - 24), Z_OK);
	/* The counters: u32 N then N u64; find N from the end rather than trust a size. */
	row_len = 0;
	for (i = 1; i < 64; i++) {
		uint32_t n = (uint32_t)raw[raw_len - 8 * i - 4] << 24 |
			     (uint32_t)raw[raw_len - 8 * i - 3] << 16 |
			     (uint32_t)raw[raw_len - 8 * i - 2] << 8 | raw[raw_len - 8 * i - 1];

		if (n == i) {
			row_len = raw_len - 12 - 4 - 8 * i;
			break;
		}
	}
	assert_true(i < 64);

	n_rows = (16u << 20) / row_len;
	big = malloc(12 + n_rows * row_len + (raw_len - 12 - row_len));
	assert_non_null(big);
	memcpy(big, raw, 8);
	be32(big + 8, (uint32_t)n_rows);
	for (i = 0, off = 12; i < n_rows; i++, off += row_len)
		memcpy(big + off, raw + 12, row_len);
	memcpy(big + off, raw + 12 + row_len, raw_len - 12 - row_len);
	off += raw_len - 12 - row_len;

	clen = compressBound(off);
	out = malloc(24 + clen);
	assert_non_null(out);
	assert_int_equal(compress2(out + 24, &clen, big, off, 1), Z_OK);
	memcpy(out, file, 12);
	be32(out + 12, (uint32_t)off);
	be32(out + 16, (uint32_t)clen);
	be32(out + 20, (uint32_t)crc32(crc32(0L, out, 20), out + 24, (uInt)clen));
	free(big);

	before = maxrss_mb();
	assert_int_equal(agg__load_buf(b, out, 24 + clen, err, sizeof(err)), 0);
	/* One key: every row merged into it, every handshake counted. */
	assert_int_equal(agg__n_rows(b), 1);
	assert_int_equal(agg__totals(b)->handshakes, n_rows);
	print_message("%zu rows of %zu bytes from a %lu-byte file: peak RSS +%ld MB\n", n_rows,
		      row_len, (unsigned long)(24 + clen), maxrss_mb() - before);
	assert_true(maxrss_mb() - before < 64);

	free(out);
	free(raw);
	free(file);
	agg__free(b);
	agg__free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_row_count_bomb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

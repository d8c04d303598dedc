// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer entry for the state file loader (agg__load_buf). The first input byte picks
 * the form of the rest:
 *   even: the rest is a whole state file, header, checksum and zlib stream included
 *         (what a disk error or a hand edit gives);
 *   odd:  the rest is the payload only; the entry compresses it and writes a header with
 *         the right lengths and CRC for format version (byte >> 1) % 5 (0 to 4: 0 and
 *         out-of-range ones must be refused), so mutations reach the row parser instead
 *         of dying at the checksum.
 * A file that loads must save and load again with the same rows, give rows that the
 * report's JSON and its client parser agree on, and a Prometheus textfile whose every
 * line is well formed (label values from the file escaped). Build with `make fuzz`; run
 * build/fuzz/fuzz_state tests/fuzz/corpus/state (seeds: mkcorpus_state.sh).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tlsaudit/agg.h"
#include "tlsaudit/ctl.h"
#include "tlsaudit/prom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR_LEN 24
#define ROW_JSON_MAX 16384

static struct ctl_row crow;

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* wrap - a state file around @payload, as agg__save_buf lays it out. */
static uint8_t *wrap(const uint8_t *payload, size_t len, uint32_t version, size_t *outlen)
{
	uLongf clen = compressBound((uLong)len);
	uint8_t *f = malloc(HDR_LEN + clen);
	uint32_t crc;

	if (!f)
		return NULL;
	if (compress2(f + HDR_LEN, &clen, payload, (uLong)len, 1) != Z_OK) {
		free(f);
		return NULL;
	}
	memcpy(f, "TLSAUDST", 8);
	put_be32(f + 8, version);
	put_be32(f + 12, (uint32_t)len);
	put_be32(f + 16, (uint32_t)clen);
	crc = (uint32_t)crc32(0L, f, 20);
	crc = (uint32_t)crc32(crc, f + HDR_LEN, (uInt)clen);
	put_be32(f + 20, crc);
	*outlen = HDR_LEN + clen;
	return f;
}

/* A sample line of the exposition format: name{label="value",...} number. */
static void check_prom_line(const char *s, size_t n)
{
	size_t i = 0;

	if (!n || s[0] == '#')
		return;
	while (i < n && (s[i] == '_' || s[i] == ':' || (s[i] >= 'a' && s[i] <= 'z') ||
			 (s[i] >= 'A' && s[i] <= 'Z') || (i && s[i] >= '0' && s[i] <= '9')))
		i++;
	if (!i)
		abort();
	if (i < n && s[i] == '{') {
		i++;
		while (i < n && s[i] != '}') {
			while (i < n && s[i] != '=')
				i++;
			if (i + 1 >= n || s[i + 1] != '"')
				abort();
			for (i += 2; i < n && s[i] != '"'; i++)
				if (s[i] == '\\' && ++i < n && s[i] != '\\' && s[i] != '"' && s[i] != 'n')
					abort();
			if (i >= n)
				abort();
			i++;
			if (i < n && s[i] == ',')
				i++;
		}
		if (i >= n)
			abort();
		i++;
	}
	if (i >= n || s[i] != ' ' || i + 1 >= n)
		abort();
}

static void check_prom(const struct agg *a)
{
	struct prom_info info = { .version = "0", .backend = "pcap" };
	char *buf = NULL;
	size_t len = 0, off, end;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return;
	if (prom_render(a, &info, f)) {
		fclose(f);
		free(buf);
		return;
	}
	fclose(f);
	for (off = 0; off < len; off = end + 1) {
		const char *nl = memchr(buf + off, '\n', len - off);

		end = nl ? (size_t)(nl - buf) : len;
		check_prom_line(buf + off, end - off);
	}
	free(buf);
}

/*
 * huge_number - @s holds a number over INT64_MAX. The file's counters are u64 and the
 * client reads int64: only a file edited by hand (with its CRC fixed) gets there.
 */
static bool huge_number(const char *s)
{
	size_t n;

	for (; *s; s += n ? n : 1) {
		n = strspn(s, "0123456789");
		if (n > 19 || (n == 19 && strncmp(s, "9223372036854775807", 19) > 0))
			return true;
	}
	return false;
}

static void check_rows(const struct agg *a)
{
	char *line = malloc(ROW_JSON_MAX);
	size_t i;
	int n;

	if (!line)
		return;
	for (i = 0; i < agg__n_rows(a); i++) {
		n = agg_row_json(agg__row(a, i), line, ROW_JSON_MAX);
		if (n < 0)
			continue;
		/* What the daemon writes, `report` must read back. */
		if ((size_t)n != strlen(line) || (ctl_row_parse(line, &crow) && !huge_number(line)))
			abort();
	}
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agg *a = NULL, *b = NULL;
	uint8_t *file = NULL, *saved = NULL;
	size_t len, saved_len;
	char err[256];

	if (!size)
		return 0;
	if (data[0] & 1) {
		file = wrap(data + 1, size - 1, (uint32_t)(data[0] >> 1) % 5, &len);
		if (!file)
			return 0;
	} else {
		len = size - 1;
		file = malloc(len ? len : 1);
		if (!file)
			return 0;
		memcpy(file, data + 1, len);
	}
	a = agg__new(64, 16);
	b = agg__new(64, 16);
	if (!a || !b)
		goto out;
	err[0] = '\0';
	if (agg__load_buf(a, file, len, err, sizeof(err))) {
		/* A refusal says why, and leaves the aggregation as it was. */
		if (!err[0] || !memchr(err, 0, sizeof(err)) || agg__n_rows(a))
			abort();
		goto out;
	}
	check_rows(a);
	check_prom(a);
	if (agg__save_buf(a, &saved, &saved_len))
		goto out;
	if (agg__load_buf(b, saved, saved_len, err, sizeof(err)) ||
	    agg__n_rows(b) != agg__n_rows(a) ||
	    agg__totals(b)->handshakes != agg__totals(a)->handshakes)
		abort();
out:
	free(saved);
	free(file);
	agg__free(b);
	agg__free(a);
	return 0;
}

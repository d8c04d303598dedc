// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer entry for the TLS parser: the raw input is fed to the record walk in both
 * directions (the server's also with its Certificate message read and the leaf decoded
 * through a cache), to every prefix-free hello parser, and the fingerprints of whatever
 * ClientHello came out. Build with `make fuzz`; run build/fuzz/fuzz_tls CORPUS_DIR.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsaudit/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t scratch[1 << 16];
static struct tls_stream st, st_cert;
static struct tls_cert_cache *cache;
static struct tls_client_hello ch;
static struct tls_server_hello sh;

static void check_list(const struct tls_u16_list *l)
{
	if (l->n > TLS_MAX_LIST || l->n > l->total)
		abort();
}

/* What every consumer relies on: bounded lists, terminated strings, fixed-width hashes. */
static void fingerprints(const struct tls_client_hello *c)
{
	char ja3[33], ja4[40];

	check_list(&c->ciphers);
	check_list(&c->exts);
	check_list(&c->groups);
	check_list(&c->sig_algs);
	check_list(&c->versions);
	check_list(&c->key_shares);
	if (!memchr(c->sni, 0, sizeof(c->sni)) ||
	    c->n_ec_point_formats > sizeof(c->ec_point_formats))
		abort();
	tls_ja3(c, ja3);
	tls_ja4(c, ja4);
	if (strnlen(ja3, sizeof(ja3)) != 32 || strnlen(ja4, sizeof(ja4)) >= sizeof(ja4))
		abort();
	tls_version_name(c->max_version);
}

static void server_checks(const struct tls_server_hello *s)
{
	check_list(&s->exts);
	if (!memchr(s->alpn, 0, sizeof(s->alpn)))
		abort();
	tls_version_name(s->version);
	tls_cipher_name(s->cipher);
	tls_cipher_weak(s->cipher);
	tls_group_name(s->group);
}

/*
 * The records after the hellos: scanned whole and in two growing pieces (as the flow
 * layer feeds them), which must agree.
 */
static void tail_checks(const uint8_t *data, size_t size)
{
	struct tls_tail whole, parts;
	size_t cut = size / 2;

	memset(&whole, 0, sizeof(whole));
	memset(&parts, 0, sizeof(parts));
	if (tls_tail_scan(data, size, &whole) == TLS_INVALID)
		return;
	if (tls_tail_scan(data, cut, &parts) != TLS_INVALID)
		tls_tail_scan(data, size, &parts);
	if (whole.scanned > size || parts.scanned != whole.scanned || parts.ccs != whole.ccs ||
	    parts.alert != whole.alert || parts.app_records != whole.app_records)
		abort();
}

/*
 * The server walk with the Certificate message kept (scratch of @cap bytes, so the
 * "longer than what can be held" path is reached): the walk must end as the plain one
 * does, and a certificate is OK only with a decoded leaf, whose strings are terminated.
 */
static void cert_checks(const uint8_t *data, size_t size, size_t cap)
{
	const struct tls_cert_info *ci;
	const char *names[TLS_CERT_N_PROBLEMS];
	char when[32];
	int rc, rc_cert;

	if (!cache && !(cache = tls_cert_cache_new(8)))
		abort();
	memset(&st, 0, sizeof(st));
	memset(&st_cert, 0, sizeof(st_cert));
	rc = tls_stream_parse(data, size, false, &st, scratch, cap);
	rc_cert = tls_stream_parse_cert(data, size, &st_cert, scratch, cap, cache);
	if (rc != rc_cert || st.consumed != st_cert.consumed ||
	    st.have_server_hello != st_cert.have_server_hello || st.done != st_cert.done)
		abort();
	if (st_cert.cert != TLS_SCERT_OK) {
		if (st_cert.cert_info)
			abort();
		return;
	}
	ci = st_cert.cert_info;
	if (!ci || !memchr(ci->subject, 0, sizeof(ci->subject)) ||
	    !memchr(ci->issuer, 0, sizeof(ci->issuer)) || !memchr(ci->key, 0, sizeof(ci->key)) ||
	    !memchr(ci->sig, 0, sizeof(ci->sig)) || strlen(ci->sha256_hex) != 64 ||
	    st_cert.cert_n == 0 || st_cert.cert_list_len > size)
		abort();
	if (tls_cert_problem_names(tls_cert_judge(ci, "www.tlsaudit.test", 1780000000), names) >
	    TLS_CERT_N_PROBLEMS)
		abort();
	tls_cert_format_time(ci->not_after, when, sizeof(when));
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
	if (st.consumed > size || st.n_client_hellos < 0 || st.n_client_hellos > 2)
		abort();
	memset(&st, 0, sizeof(st));
	if (tls_stream_parse(data, size, false, &st, scratch, sizeof(scratch)) != TLS_INVALID &&
	    st.have_server_hello)
		server_checks(&st.sh);
	if (st.consumed > size)
		abort();
	cert_checks(data, size, cap);
	tail_checks(data, size);

	if (tls_parse_client_hello(data, size, &ch) == TLS_OK)
		fingerprints(&ch);
	if (tls_parse_server_hello(data, size, &sh) == TLS_OK)
		server_checks(&sh);
	tls_parse_ske_group(data, size, &group);
	if (tls_parse_sslv2_hello(data, size, &ch) == TLS_OK)
		fingerprints(&ch);
	tls_looks_like_start(data, size);
	return 0;
}

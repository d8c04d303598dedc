// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer entry for the certificate module: the raw input is a Certificate message
 * body (as the stream parser will hand it over), walked and its leaf decoded through
 * a small cache; the same bytes are also decoded as bare DER, so mutations reach
 * libcrypto's decoder without having to keep the message lengths right. Every decoded
 * certificate is judged against fixed SNIs, its own names and a name cut from the
 * input. Build with `make fuzz`; run build/fuzz/fuzz_cert CORPUS_DIR
 * (seeds: tests/fuzz/corpus/mkcorpus_cert.py).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsaudit/cert.h"
#include "tlsaudit/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tls_cert_cache *cache;
static struct tls_cert_info info;

static void check_info(const struct tls_cert_info *in)
{
	const char *names[TLS_CERT_N_PROBLEMS];
	static const char *const snis[] = { "www.example.com", "a.b.example.com", "example.com",
					    "192.0.2.1",	  "2001:db8::1",     "xn--bcher-kva.example",
					    "trailing.example.com." };
	char sni[TLS_CERT_DNS_MAX + 2], when[32];
	unsigned int i;

	if (!memchr(in->subject, 0, sizeof(in->subject)) ||
	    !memchr(in->issuer, 0, sizeof(in->issuer)) || !memchr(in->key, 0, sizeof(in->key)) ||
	    !memchr(in->sig, 0, sizeof(in->sig)) || strlen(in->sha256_hex) != 64 ||
	    in->n_names > TLS_CERT_NAMES_MAX)
		abort();
	for (i = 0; i < in->n_names; i++) {
		const struct tls_cert_name *nm = &in->names[i];

		if ((size_t)nm->off + nm->len > sizeof(in->pool))
			abort();
		if (nm->type == TLS_CERT_NAME_IP)
			continue;
		if (strnlen(in->pool + nm->off, sizeof(in->pool) - nm->off) != nm->len)
			abort();
		/* A certificate's own name, as the SNI, must be covered (unless a wildcard
		 * pattern or an IP-looking CN, which the host-name rules treat apart). */
		memcpy(sni, in->pool + nm->off, nm->len);
		sni[nm->len] = '\0';
		if (nm->type == TLS_CERT_NAME_DNS && !memchr(sni, '*', nm->len) && !in->san_invalid &&
		    tls_cert_check_name(in, sni) == TLS_CERT_SNI_MISMATCH) {
			/* An IP literal written as a DNS SAN checks IP SANs instead. */
			if (!strchr(sni, ':') && strspn(sni, "0123456789.") != nm->len)
				abort();
		}
	}
	for (i = 0; i < sizeof(snis) / sizeof(snis[0]); i++)
		if (tls_cert_problem_names(tls_cert_judge(in, snis[i], 1780000000), names) >
		    TLS_CERT_N_PROBLEMS)
			abort();
	tls_cert_judge(in, NULL, in->not_after);
	tls_cert_format_time(in->not_before, when, sizeof(when));
	tls_cert_format_time(in->not_after, when, sizeof(when));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tls_cert_info *ci;
	struct tls_cert_chain ch;
	char sni[64];
	size_t n;

	if (!cache) {
		/* Small, so eviction runs too. */
		cache = tls_cert_cache_new(8);
		if (!cache)
			abort();
	}
	if (tls_cert_msg_leaf(data, size, &ch) == TLS_OK) {
		if (ch.list_len + 3 != size ||
		    (ch.n_certs && (ch.leaf != data + 6 || ch.leaf_len > size - 6)))
			abort();
		if (ch.n_certs && tls_cert_cache_get(cache, ch.leaf, ch.leaf_len, &ci) == 0)
			check_info(ci);
	}
	if (tls_cert_decode(data, size, &info) == 0) {
		check_info(&info);
		/* The input's last bytes as an SNI: whatever the peer may send. */
		n = size < sizeof(sni) - 1 ? size : sizeof(sni) - 1;
		memcpy(sni, data + size - n, n);
		sni[n] = '\0';
		tls_cert_check_name(&info, sni);
	}
	n = size < sizeof(sni) - 1 ? size : sizeof(sni) - 1;
	if (n > 1)
		tls_cert_dns_match((const char *)data, n / 2, (const char *)data + n / 2, n - n / 2);
	return 0;
}

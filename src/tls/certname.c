// SPDX-License-Identifier: GPL-2.0-only
/*
 * The SNI against a certificate's names (RFC 6125 section 6.4; IP literals as
 * OpenSSL's X509_check_ip). It works on the names tls_cert_decode() kept, allocates
 * nothing and calls no libcrypto, so it runs once per handshake from a cached decode.
 *
 * The rules follow what OpenSSL's X509_check_host() does with
 * X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, which is how curl, Python's ssl and Postfix
 * verify: name_mismatch feeds client_accepted_bad_cert, so a rule stricter than the
 * verifiers would accuse clients that do check.
 */
#include <arpa/inet.h>
#include <string.h>

#include "tlsaudit/cert.h"

/* An SNI longer than this is no host name; the SNI is HS_SNI_MAX bytes at most anyway. */
#define SNI_SCAN_MAX 1024

static char ascii_lower(char ch)
{
	return (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
}

static bool ascii_eq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

/* Letters, digits and '-': what a wildcard may stand for (as OpenSSL's wildcard_match). */
static bool ldh(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-';
}

/*
 * The part after "*.": two labels or more, none empty. "*.com" would cover a whole top-
 * level domain; without a public suffix list, two labels is the line OpenSSL draws too.
 */
static bool wildcard_base_ok(const char *s, size_t n)
{
	size_t i, labels = 1, cur = 0;

	for (i = 0; i < n; i++) {
		if (s[i] != '.') {
			cur++;
			continue;
		}
		if (cur == 0)
			return false;
		labels++;
		cur = 0;
	}
	return cur > 0 && labels >= 2;
}

bool tls_cert_dns_match(const char *pattern, size_t plen, const char *host, size_t hlen)
{
	const char *dot;
	size_t i, first;

	if (plen > 0 && pattern[plen - 1] == '.')
		plen--;
	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (plen == 0 || hlen == 0)
		return false;
	if (!memchr(pattern, '*', plen))
		return plen == hlen && ascii_eq(pattern, host, plen);
	/*
	 * RFC 6125 6.4.3: only "*." and a wildcard-free base. Anything else with a '*'
	 * (a partial wildcard such as "f*.example.com", which also covers a wildcard
	 * embedded in an A-label, or one in a later label) matches nothing, not even itself.
	 */
	if (plen < 2 || pattern[0] != '*' || pattern[1] != '.' ||
	    memchr(pattern + 1, '*', plen - 1) || !wildcard_base_ok(pattern + 2, plen - 2))
		return false;
	/* The '*' stands for exactly the host's first label, which must not be empty. */
	dot = memchr(host, '.', hlen);
	if (!dot || dot == host)
		return false;
	first = (size_t)(dot - host);
	for (i = 0; i < first; i++)
		if (!ldh(host[i]))
			return false;
	return hlen - first - 1 == plen - 2 && ascii_eq(dot + 1, pattern + 2, plen - 2);
}

/* @sni as an IPv4 or IPv6 literal: its length in @ip (4 or 16), or 0. */
static size_t ip_literal(const char *sni, size_t len, uint8_t ip[16])
{
	char buf[64];

	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, sni, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, ip) == 1)
		return 4;
	if (inet_pton(AF_INET6, buf, ip) == 1)
		return 16;
	return 0;
}

enum tls_cert_name_check tls_cert_check_name(const struct tls_cert_info *info, const char *sni)
{
	const struct tls_cert_name *nm;
	enum tls_cert_name_type want;
	uint8_t ip[16];
	size_t hlen, iplen;
	unsigned int i;

	if (!sni || !sni[0] || info->san_invalid)
		return TLS_CERT_SNI_UNJUDGED;
	hlen = strnlen(sni, SNI_SCAN_MAX);
	iplen = ip_literal(sni, hlen, ip);
	/*
	 * RFC 6066 forbids literal addresses in server_name, but clients send them; a
	 * verifier then checks IP SANs only. A host name checks DNS SANs, and the CNs only
	 * when the certificate has no DNS SAN at all, kept or not (RFC 6125 6.4.4).
	 */
	if (iplen)
		want = TLS_CERT_NAME_IP;
	else
		want = info->san_dns_total ? TLS_CERT_NAME_DNS : TLS_CERT_NAME_CN;
	for (i = 0; i < info->n_names; i++) {
		nm = &info->names[i];
		if (nm->type != want)
			continue;
		if (iplen ? nm->len == iplen && memcmp(info->pool + nm->off, ip, iplen) == 0
			  : tls_cert_dns_match(info->pool + nm->off, nm->len, sni, hlen))
			return TLS_CERT_SNI_OK;
	}
	/* A name left out over the caps might have matched: say nothing rather than guess. */
	return info->names_over_cap ? TLS_CERT_SNI_UNJUDGED : TLS_CERT_SNI_MISMATCH;
}

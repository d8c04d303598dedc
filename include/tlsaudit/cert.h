/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Server certificates in the clear (TLS 1.2 and older): the Certificate handshake
 * message (RFC 5246 section 7.4.2), a summary of its leaf certificate decoded by
 * libcrypto, the problems DESIGN.md lists for the record's cert_problems, and a cache
 * keyed by the SHA-256 of the DER so that each distinct certificate is decoded once.
 *
 * The message is walked with the bounded cursor (cursor.h); the DER itself goes only
 * to libcrypto: the certificate to d2i_X509() with its length, and, for a leaf a CA
 * issued, the subjectPublicKey bits d2i_X509() hands back to the decoder of that key
 * type (d2i_PublicKey() for RSA, EC_POINT_oct2point() for a named curve's point, the raw
 * EdDSA key), the same routines libcrypto's full key decode uses, so both describe a
 * key alike and one neither can load is "unknown". Nothing in this module parses
 * ASN.1 by hand.
 *
 * How the stream and session layers use it:
 *
 *   1. src/tls/stream.c, server direction, tls_stream_parse_cert(): the Certificate
 *      message (type 11) of a TLS <= 1.2 handshake is kept whole in scratch (its
 *      capacity is the per-direction cap, so any message that can be whole fits) and
 *          tls_cert_msg_leaf(body, len, &chain)
 *      finds the leaf. TLS_INVALID or an empty list: no certificate, reason counted.
 *   2. Still while the body is at hand (scratch is reused by the next message):
 *          tls_cert_cache_get(cache, chain.leaf, chain.leaf_len, &info)
 *      with the one cache the flow table owns. The X.509 decode happens on a miss
 *      only. A negative return (-EBADMSG, -EMSGSIZE) leaves the fields null, counted.
 *   3. src/flow/session.c, at once, while @info is valid (the next get may evict it):
 *          problems = tls_cert_judge(info, sni, time_ns / 1000000000)
 *      with the SNI of the same connection's ClientHello (NULL when absent or cut by
 *      the hello parser) and the handshake's own time, so that `read` of an old
 *      capture judges as of then. The record copies what it shows (subject, issuer,
 *      not_after, key, sig, sha256_hex: a few hundred bytes) and the problem bits; the
 *      SAN list stays in the cache, flows never hold a struct tls_cert_info.
 *   4. The record's cert_problems is tls_cert_problem_names(problems, ...) in that
 *      order; client_accepted_bad_cert tests tls_cert_verify_problem(problems).
 *      cert_not_after is tls_cert_format_time(info->not_after, ...): validity dates
 *      run to 9999-12-31, past what a uint64_t of nanoseconds holds.
 */
#ifndef TLSAUDIT_CERT_H
#define TLSAUDIT_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A leaf certificate larger than this is refused before libcrypto sees it: real leaves
 * are 1-8 KiB (a few hundred SANs stay under 16 KiB), and the bound caps the work a
 * hostile server can ask of the decoder.
 */
#define TLS_CERT_DER_MAX 65536
#define TLS_CERT_STR_MAX 256  /* subject, issuer: bytes kept, NUL included */
#define TLS_CERT_KEY_MAX 32   /* "RSA-2048", "EC-P-256", "EC-brainpoolP512r1" */
#define TLS_CERT_SIG_MAX 64   /* "sha256WithRSAEncryption", or a dotted OID */
#define TLS_CERT_NAMES_MAX 256 /* DNS, IP and CN names kept for the SNI check */
#define TLS_CERT_NAMES_POOL 8192 /* bytes holding those names */
#define TLS_CERT_DNS_MAX 253  /* longest host name (RFC 1035), trailing dot excluded */
#define TLS_CERT_CACHE_DEFAULT 256

/* Problem bits, in the order of DESIGN.md's cert_problems list (which is JSON order). */
enum tls_cert_problem {
	TLS_CERT_EXPIRED = 1u << 0,
	TLS_CERT_NOT_YET_VALID = 1u << 1,
	TLS_CERT_SELF_SIGNED = 1u << 2,
	TLS_CERT_NAME_MISMATCH = 1u << 3,
	TLS_CERT_WEAK_KEY = 1u << 4,
	TLS_CERT_SHA1_SIGNATURE = 1u << 5,
	TLS_CERT_MD5_SIGNATURE = 1u << 6,
};
#define TLS_CERT_N_PROBLEMS 7
/* The problems a verifying client refuses: the ones client_accepted_bad_cert is about. */
#define TLS_CERT_VERIFY_PROBLEMS                                                        \
	(TLS_CERT_EXPIRED | TLS_CERT_NOT_YET_VALID | TLS_CERT_SELF_SIGNED |              \
	 TLS_CERT_NAME_MISMATCH)

enum tls_cert_key_kind {
	TLS_CERT_KEY_UNKNOWN = 0, /* a key type libcrypto cannot load: never judged weak */
	TLS_CERT_KEY_RSA,
	TLS_CERT_KEY_RSA_PSS,
	TLS_CERT_KEY_DSA,
	TLS_CERT_KEY_EC,
	TLS_CERT_KEY_ED25519,
	TLS_CERT_KEY_ED448,
};

enum tls_cert_name_type {
	TLS_CERT_NAME_DNS = 1, /* subjectAltName dNSName: printable ASCII, no NUL */
	TLS_CERT_NAME_IP,      /* subjectAltName iPAddress: 4 or 16 raw bytes */
	TLS_CERT_NAME_CN,      /* subject commonName: checked only without DNS SANs */
};

struct tls_cert_name {
	uint8_t type; /* enum tls_cert_name_type */
	uint8_t len;  /* DNS/CN: characters (NUL-terminated in the pool); IP: 4 or 16 */
	uint16_t off; /* start in tls_cert_info.pool */
};

/* The decoded leaf: everything later judgements need, no libcrypto object kept. */
struct tls_cert_info {
	/* What the record shows (DESIGN.md cert_*). Control bytes are shown as '?'. */
	char subject[TLS_CERT_STR_MAX]; /* most specific (last) CN, else the first DNS SAN */
	char issuer[TLS_CERT_STR_MAX];	/* issuer's last CN, else its last O; "" if neither */
	int64_t not_before, not_after;	/* Unix seconds, UTC (years 0000-9999) */
	char key[TLS_CERT_KEY_MAX];	/* "RSA-2048", "EC-P-256", "Ed25519", "DSA-1024" */
	enum tls_cert_key_kind key_kind;
	uint32_t key_bits;		/* 0 when unknown */
	char sig[TLS_CERT_SIG_MAX];	/* signature algorithm, as `openssl x509 -text` names it */
	uint8_t sha256[32];		/* of the DER exactly as it crossed the wire */
	char sha256_hex[65];		/* lowercase, no colons */
	bool self_signed;
	/* Problems known from the certificate alone: self_signed, weak_key, sha1, md5. */
	uint32_t fixed_problems;

	/* Names for the SNI check. */
	uint32_t san_dns_total; /* dNSName entries in the certificate, kept or not */
	uint32_t san_ip_total;	/* iPAddress entries, kept or not */
	uint32_t names_unusable; /* names that can never match (NUL, non-ASCII, odd length) */
	uint32_t names_over_cap; /* usable names not kept: over TLS_CERT_NAMES_MAX or the pool */
	bool san_invalid;	 /* a subjectAltName extension libcrypto could not decode */
	uint16_t n_names;
	struct tls_cert_name names[TLS_CERT_NAMES_MAX];
	char pool[TLS_CERT_NAMES_POOL];
};

/* The Certificate message: the leaf points into the caller's body. */
struct tls_cert_chain {
	const uint8_t *leaf; /* first certificate's DER (NULL when the list is empty) */
	size_t leaf_len;
	uint32_t n_certs;     /* certificates in the list */
	size_t list_len;      /* certificate_list length: the chain's bytes on the wire */
};

/*
 * tls_cert_msg_leaf - walk a TLS <= 1.2 Certificate message body (after the 4-byte
 * handshake header): a 3-byte list length, then 3-byte-length-prefixed certificates.
 * TLS_OK with @out filled (n_certs 0 for an empty list, which only a client may send);
 * TLS_INVALID when the list length is not exactly the rest of the body, an entry is
 * empty or runs past the list. The body is complete by construction, so a short one is
 * invalid, never truncated. (TLS 1.3 adds a context and per-entry extensions, but its
 * Certificate is encrypted and never reaches this function.)
 */
int tls_cert_msg_leaf(const uint8_t *body, size_t len, struct tls_cert_chain *out);

/* tls_cert_sha256 - SHA-256 of @len bytes; 0 or -ENOMEM/-EIO from libcrypto. */
int tls_cert_sha256(const uint8_t *der, size_t len, uint8_t out[32]);

/*
 * tls_cert_decode - decode one DER certificate into @info (zeroed first). Returns 0,
 * -EINVAL (no bytes), -EMSGSIZE (over TLS_CERT_DER_MAX), -EBADMSG (libcrypto refused
 * it, bytes follow the certificate inside its length, or its validity times do not
 * parse) or -ENOMEM. On error only @info->sha256/sha256_hex may be set.
 *
 * self_signed: the subject and issuer names are equal (X509_NAME_cmp) AND the signature
 * verifies with the certificate's own public key. A name match alone is not enough (a
 * CA re-keying issues "self-issued" certificates signed by its old key), and the
 * AKID/SKID heuristics of X509_check_issued() are left out on purpose: the question is
 * whether anything but the certificate itself vouches for it.
 */
int tls_cert_decode(const uint8_t *der, size_t len, struct tls_cert_info *info);

/* Result of the SNI check. */
enum tls_cert_name_check {
	TLS_CERT_SNI_UNJUDGED = 0, /* no SNI, or the answer is not in what was kept */
	TLS_CERT_SNI_OK,
	TLS_CERT_SNI_MISMATCH,
};

/*
 * tls_cert_check_name - is @sni (the ClientHello's host_name, NUL-terminated) covered by
 * the certificate? A literal IPv4/IPv6 SNI is compared with the IP SANs only (as
 * OpenSSL's X509_check_ip: never the CN). A host name is compared with the DNS SANs,
 * and with the subject CNs only when the certificate has no DNS SAN at all (RFC 6125
 * 6.4.4; an IP SAN does not stop the CN fallback, as in OpenSSL). One trailing dot on
 * either side is ignored, the comparison is ASCII case-insensitive, and wildcards
 * follow tls_cert_dns_match(). UNJUDGED for an empty SNI, for an undecodable SAN
 * extension, and when nothing kept matched but names were dropped over the caps.
 */
enum tls_cert_name_check tls_cert_check_name(const struct tls_cert_info *info, const char *sni);

/*
 * tls_cert_dns_match - does the presented identifier @pattern (from the certificate)
 * match the reference host @host? RFC 6125 6.4.3, as OpenSSL does it with
 * X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS (what curl, Python and Postfix verify with):
 *  - '*' only as the whole left-most label ("*.example.com"); a wildcard in any other
 *    label ("a.*.example.com") or a partial one ("f*.example.com", "*x.example.com")
 *    matches nothing: CA/Browser Forum certificates never carry them, and a
 *    client that accepts them is not this module's business;
 *  - the '*' stands for exactly one non-empty label of letters, digits and '-':
 *    "*.example.com" matches "a.example.com", not "a.b.example.com" or "example.com";
 *  - at least two labels after "*." ("*.com" matches nothing); there is no public
 *    suffix list, so "*.co.uk" is accepted as OpenSSL accepts it;
 *  - A-labels ("xn--...") compare as ASCII. RFC 6125 6.4.3 item 3 forbids a wildcard
 *    *embedded within* an A-label of the presented identifier ("xn--*.example.com"),
 *    which the no-partial-wildcard rule already refuses; a whole-label '*' does match
 *    an A-label of the reference host, as in OpenSSL and the browsers, so that a
 *    client which verifies is never reported as accepting a name mismatch.
 * One trailing dot on either side is ignored; the compare is ASCII case-insensitive.
 */
bool tls_cert_dns_match(const char *pattern, size_t plen, const char *host, size_t hlen);

/*
 * tls_cert_judge - every problem bit for one handshake: the certificate's fixed
 * problems, expired (@now after not_after) and not_yet_valid (@now before not_before),
 * with @now in Unix seconds of the handshake; name_mismatch only when
 * tls_cert_check_name() says TLS_CERT_SNI_MISMATCH (so never without an SNI).
 */
uint32_t tls_cert_judge(const struct tls_cert_info *info, const char *sni, int64_t now);

/* tls_cert_problem_name - "expired", ... for one bit; NULL for anything else. */
const char *tls_cert_problem_name(uint32_t bit);

/*
 * tls_cert_problem_names - the names of the bits set in @problems, in DESIGN.md order,
 * into @out; returns how many (at most TLS_CERT_N_PROBLEMS).
 */
size_t tls_cert_problem_names(uint32_t problems, const char *out[TLS_CERT_N_PROBLEMS]);

/* tls_cert_verify_problem - @problems holds one a verifying client must refuse. */
bool tls_cert_verify_problem(uint32_t problems);

/* tls_cert_format_time - RFC 3339 UTC, "2026-05-01T12:00:00Z" (needs 21 bytes). */
void tls_cert_format_time(int64_t secs, char *buf, size_t len);

/*
 * The cache: set-associative (4 ways, LRU within a set), keyed by the SHA-256 of the
 * DER. Failed decodes are cached too. Each entry also keeps its DER (up to 4 KiB), so a
 * leaf seen before is recognised by comparing bytes, without hashing it again. Memory:
 * capacity * sizeof(struct tls_cert_info) fixed at creation (about 10 KiB each, so
 * 2.6 MiB for the default 256; pages are touched only as entries fill), plus the DER
 * copies (at most 1 MiB for 256).
 */
struct tls_cert_cache;

struct tls_cert_cache_stats {
	uint64_t hits;	    /* lookups answered from the cache (failed decodes included) */
	uint64_t misses;    /* lookups that ran the decoder (or were refused for size) */
	uint64_t failures;  /* decodes that failed (each distinct bad DER once) */
	uint64_t evictions; /* entries replaced while still holding a certificate */
};

/*
 * tls_cert_cache_new - room for @capacity certificates (rounded up to a power of two,
 * at least 4; 0 gives TLS_CERT_CACHE_DEFAULT). NULL and errno on failure.
 */
struct tls_cert_cache *tls_cert_cache_new(unsigned int capacity);
void tls_cert_cache_free(struct tls_cert_cache *cache);

/*
 * tls_cert_cache_get - the decoded certificate for @der: 0 and *@info, or the decode's
 * negative errno (cached as well) and *@info NULL. *@info stays valid until the next
 * tls_cert_cache_get() or tls_cert_cache_free() on this cache.
 */
int tls_cert_cache_get(struct tls_cert_cache *cache, const uint8_t *der, size_t len,
		       const struct tls_cert_info **info);

/*
 * tls_cert_cache_find - the entry for a certificate already looked up by its SHA-256,
 * without the DER: 0 and *@info, the decode's negative errno, or -ENOENT when it is not
 * (or no longer) cached. Validity of *@info as with tls_cert_cache_get().
 */
int tls_cert_cache_find(struct tls_cert_cache *cache, const uint8_t sha256[32],
			const struct tls_cert_info **info);

void tls_cert_cache_stats(const struct tls_cert_cache *cache, struct tls_cert_cache_stats *out);

#endif /* TLSAUDIT_CERT_H */

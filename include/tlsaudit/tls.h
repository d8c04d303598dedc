/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TLS handshake parser (RFC 8446 section 4, RFC 5246 section 7.4, RFC 6101 appendix E
 * for SSLv2-format hellos). Input is peer-controlled: everything goes through
 * struct tls_cursor (cursor.h).
 */
#ifndef TLSAUDIT_TLS_H
#define TLSAUDIT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tlsaudit/cert.h"
#include "tlsaudit/record.h"

/* Parser results: wait for more bytes is not the same as malformed. */
enum tls_status {
	TLS_OK = 0,
	TLS_TRUNCATED = 1, /* a valid prefix: need more bytes */
	TLS_INVALID = -1,  /* not TLS, or a length/field that cannot be right */
};

#define TLS_MAX_LIST 128 /* entries kept per list; the rest is counted, not kept */

struct tls_u16_list {
	uint16_t v[TLS_MAX_LIST];
	uint16_t n;	 /* entries stored */
	uint16_t total; /* entries on the wire (may exceed n) */
};

struct tls_client_hello {
	bool sslv2;		 /* SSLv2-format CLIENT-HELLO (0x80 header) */
	uint16_t legacy_version; /* client_version field */
	uint16_t max_version;	 /* highest non-GREASE version offered, supported_versions aware */
	struct tls_u16_list ciphers;	   /* as on the wire, GREASE included (SSLv2: 3-byte
					      specs with a zero first byte, as 16 bits) */
	struct tls_u16_list exts;	   /* extension types in wire order, GREASE included */
	struct tls_u16_list groups;	   /* supported_groups */
	struct tls_u16_list sig_algs;	   /* signature_algorithms */
	struct tls_u16_list versions;	   /* supported_versions */
	struct tls_u16_list key_shares;   /* key_share groups */
	uint8_t ec_point_formats[16];
	uint8_t n_ec_point_formats;
	char sni[HS_SNI_MAX]; /* host_name, NUL-terminated, cut at the cap */
	bool sni_truncated;
	uint8_t alpn_raw[256]; /* ALPN extension body after its 2-byte list length */
	uint16_t alpn_raw_len;
	bool has_alpn;
};

struct tls_server_hello {
	uint16_t legacy_version;
	uint16_t version; /* supported_versions aware (TLS 1.3 sends 0x0303 here) */
	uint16_t cipher;
	bool hrr;	/* HelloRetryRequest: the SHA-256("HelloRetryRequest") random */
	uint16_t group; /* key_share (TLS 1.3, HRR: selected_group) */
	bool has_group;
	char alpn[HS_ALPN_MAX]; /* the selected protocol, NUL-terminated */
	bool has_alpn;
	struct tls_u16_list exts;
};

/*
 * tls_parse_client_hello - parse a ClientHello body (after the 4-byte handshake header).
 * Returns TLS_OK or TLS_INVALID (a body is complete by construction).
 */
int tls_parse_client_hello(const uint8_t *body, size_t len, struct tls_client_hello *ch);

/* tls_parse_server_hello - parse a ServerHello body (after the 4-byte header). */
int tls_parse_server_hello(const uint8_t *body, size_t len, struct tls_server_hello *sh);

/*
 * tls_parse_ske_group - the named curve of an ECDHE ServerKeyExchange body
 * (RFC 8422 section 5.4): *group set and TLS_OK, or TLS_INVALID when it is not one.
 */
int tls_parse_ske_group(const uint8_t *body, size_t len, uint16_t *group);

/*
 * tls_parse_sslv2_hello - an SSLv2-format CLIENT-HELLO record at the start of @buf
 * (2-byte header with the top bit set). TLS_TRUNCATED while the record is incomplete.
 */
int tls_parse_sslv2_hello(const uint8_t *buf, size_t len, struct tls_client_hello *ch);

/* What the server direction showed of its Certificate message (tls_stream_parse_cert). */
enum tls_stream_cert {
	TLS_SCERT_NONE = 0, /* none: TLS 1.3, a resumption, or not asked for */
	TLS_SCERT_OK,	    /* cert_info is the decoded leaf */
	TLS_SCERT_CUT,	    /* it began, but the bytes held end before it does */
	TLS_SCERT_BAD,	    /* a malformed or empty list, or a leaf libcrypto refused */
};

/*
 * Stream level: one direction of a TCP connection, from the first TLS byte. The caller
 * re-runs tls_stream_parse() with the whole contiguous prefix each time it grows; the
 * result says what has been seen so far. Handshake messages may span records and
 * records may hold several messages; ChangeCipherSpec records are skipped.
 */
struct tls_stream {
	/* client direction; the hellos themselves are at the end */
	int n_client_hellos;		/* 0, 1 or 2 (after a HelloRetryRequest) */
	/* server direction */
	bool hrr;			/* a HelloRetryRequest was seen */
	bool have_server_hello;		/* a (non-HRR) ServerHello was seen */
	struct tls_server_hello sh;
	bool have_ske_group;
	uint16_t ske_group;
	/* The Certificate message, with tls_stream_parse_cert() only. */
	uint8_t cert;			/* enum tls_stream_cert */
	int cert_err;			/* BAD: -EBADMSG for the message, else the decoder's */
	uint32_t cert_n;		/* certificates in the chain */
	uint32_t cert_list_len;		/* the chain's bytes */
	const struct tls_cert_info *cert_info; /* OK: valid until the cache's next lookup */
	/*
	 * done: nothing more of interest can follow in this direction (client: a record
	 * that is neither handshake nor CCS, or a handshake message other than
	 * ClientHello; server: final ServerHello and, for TLS <= 1.2, the
	 * ServerKeyExchange or ServerHelloDone, or any encrypted record).
	 */
	bool done;
	size_t consumed; /* bytes of complete records walked */
	/*
	 * TLS_TRUNCATED: the length the prefix must reach before another walk can say
	 * more than this one (the end of a record begun, or of the handshake message
	 * being gathered, at the fewest bytes it could take). A caller walking again on
	 * every segment may wait for it: 1-byte records then cost O(n log n), not O(n^2).
	 * Only a malformed record inside a message is seen later, at that length or at
	 * the last walk.
	 */
	size_t need;
	size_t hello_end; /* client: the end of the record that completed the last hello */
	/*
	 * Where a walk that ended TLS_TRUNCATED stopped: the first record not walked whole
	 * (consumed) and what the walk knew there, so that tls_stream_resume() goes on
	 * from it rather than from byte 0. Not set when a handshake message kept in the
	 * caller's scratch was cut there: another walk may have used that scratch since.
	 */
	struct {
		bool ok;
		bool after_ccs;
		uint8_t hdr_n; /* bytes of a handshake message header gathered */
		uint8_t hdr[4];
		bool store;
		uint32_t mlen, got;
		uint32_t nrec; /* records walked (TLS_MAX_RECORDS) */
	} resume;
	/*
	 * Last, so that tls_stream_reset() need not clear them: they are read only as far
	 * as n_client_hellos says they were filled.
	 */
	struct tls_client_hello first;	/* the first ClientHello: fingerprints, SNI */
	struct tls_client_hello last;	/* the last one: offered versions */
};

/*
 * tls_stream_reset - empty @st for a new walk: every field but the hellos, which are
 * 4 KiB that each walk would clear again (a walk runs each time a direction grows).
 */
void tls_stream_reset(struct tls_stream *st);

/*
 * tls_stream_parse - walk the records in @buf (one direction, starting at a record
 * boundary). @scratch (at least @scratch_cap bytes) holds handshake messages that span
 * records. Returns TLS_OK when done, TLS_TRUNCATED when more bytes may add something,
 * TLS_INVALID when the bytes are not TLS (plain HTTP on 443, say) or malformed.
 */
int tls_stream_parse(const uint8_t *buf, size_t len, bool from_client, struct tls_stream *st,
		     uint8_t *scratch, size_t scratch_cap);

/*
 * tls_stream_parse_cert - tls_stream_parse() of the server direction that also reads the
 * Certificate message of a TLS <= 1.2 handshake: its leaf goes through @certs (decoded
 * on a miss only), st->cert says what was found. @scratch must hold the whole message;
 * one longer than @scratch_cap is TLS_SCERT_CUT, as is one the bytes end inside.
 */
int tls_stream_parse_cert(const uint8_t *buf, size_t len, struct tls_stream *st, uint8_t *scratch,
			  size_t scratch_cap, struct tls_cert_cache *certs);

/*
 * tls_stream_resume - the answer tls_stream_parse() (@certs NULL) or
 * tls_stream_parse_cert() would give on @buf, when @st holds the last walk of the same
 * direction, in the same mode, over a shorter prefix of @buf: the walk goes on from
 * where that one stopped (st->resume), else starts over from byte 0. A ClientHello is
 * then parsed once, not once per walk.
 */
int tls_stream_resume(const uint8_t *buf, size_t len, bool from_client, struct tls_stream *st,
		      uint8_t *scratch, size_t scratch_cap, struct tls_cert_cache *certs);

/*
 * The records of one direction after its hellos (tls_stream.consumed): the evidence of
 * how the handshake ended. Zero it, then call tls_tail_scan() with the direction's
 * bytes from that offset each time they grow; it resumes where it stopped.
 */
struct tls_tail {
	bool ccs;		/* a ChangeCipherSpec record */
	bool alert;		/* an alert record (the first one is kept) */
	bool alert_sealed;	/* its body is encrypted: level and description unknown */
	uint8_t alert_level;	/* 1 warning, 2 fatal */
	uint8_t alert_desc;
	uint32_t handshakes;	/* handshake records (a second flight, or sealed Finished) */
	uint32_t sealed_handshakes; /* those after the ChangeCipherSpec: Finished */
	uint32_t app_records;	/* application_data records */
	uint32_t first_app_len; /* length of the first one (TLS 1.3: Finished or alert?) */
	bool app_partial;	/* the first one's header was seen, its body not yet whole */
	uint32_t records;
	size_t scanned;		/* bytes of whole records walked */
};

/* tls_tail_scan - walk record headers of @buf from t->scanned; TLS_TRUNCATED or INVALID. */
int tls_tail_scan(const uint8_t *buf, size_t len, struct tls_tail *t);

/*
 * tls_version_is_13 - TLS 1.3 or a pre-RFC build of it: drafts 0x7fNN, BoringSSL's
 * experiments 0x7e01..0x7e03, Facebook's 0xfb17 and 0xfb1a.
 */
bool tls_version_is_13(uint16_t v);

/* tls_looks_like_start - the first bytes could begin a TLS or SSLv2 hello (for sniffing). */
bool tls_looks_like_start(const uint8_t *buf, size_t len);
/* tls_looks_like_record - a TLS record header of any content type (a session seen late). */
bool tls_looks_like_record(const uint8_t *buf, size_t len);
/* tls_record_header_bad - the first @n bytes of a record header cannot be TLS. */
bool tls_record_header_bad(const uint8_t *p, size_t n);
/* tls_first_byte - @b can begin a TLS record or an SSLv2 hello (implicit TLS on 25/587). */
bool tls_first_byte(uint8_t b);

enum tls_sniff {
	TLS_SNIFF_NONE = 0,
	TLS_SNIFF_CLIENT_HELLO,
	TLS_SNIFF_SERVER_HELLO,
};
/* tls_sniff_hello - the bytes start a ClientHello (TLS or SSLv2) or a ServerHello. */
enum tls_sniff tls_sniff_hello(const uint8_t *p, size_t len);

/*
 * tls_is_grease - RFC 8701 reserved value (0x?A?A with equal bytes). Inline: it is
 * asked of every suite, group and extension of every hello, a million calls a capture.
 */
static inline bool tls_is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* Names (IANA registries). Unknown values give NULL. */
const char *tls_version_name(uint16_t v);	/* "TLSv1.2", "SSLv3", ... */
const char *tls_cipher_name(uint16_t id);	/* "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" */
const char *tls_group_name(uint16_t id);	/* "x25519", "secp256r1", "X25519MLKEM768" */
const char *tls_extension_name(uint16_t id); /* "server_name", ... */
const char *tls_alert_name(uint8_t desc);	/* "protocol_version", "unknown_ca", ... */
/* tls_cipher_weak - NULL, EXPORT, anon, RC4, DES/3DES, MD5 suites (and SSLv2 kinds). */
bool tls_cipher_weak(uint16_t id);
/*
 * tls_cipher_ecdhe - the suite's ServerKeyExchange starts with ECParameters (ECDHE,
 * not ECDHE_PSK); true for unknown suites too, so their curve is still tried.
 */
bool tls_cipher_ecdhe(uint16_t id);
/* tls_names_sorted - every name table is in strictly increasing id order (tests). */
bool tls_names_sorted(void);

/* Client fingerprints of a ClientHello: JA3 (lowercase MD5 hex) and JA4 (a_b_c). */
void tls_ja3(const struct tls_client_hello *ch, char out[33]);
void tls_ja4(const struct tls_client_hello *ch, char out[40]);

/*
 * A cache of both fingerprints by everything they read of a hello (compared in full,
 * not by hash), so each distinct hello is fingerprinted once.
 */
struct tls_fp_cache;
struct tls_fp_cache_stats {
	uint64_t hits;
	uint64_t misses;
};
/* tls_fp_cache_new - NULL and errno on failure. */
struct tls_fp_cache *tls_fp_cache_new(void);
void tls_fp_cache_free(struct tls_fp_cache *c);
void tls_fp_cache_stats(const struct tls_fp_cache *c, struct tls_fp_cache_stats *out);
/* tls_fingerprints - tls_ja3() and tls_ja4() of @ch through @c (NULL: no cache). */
void tls_fingerprints(struct tls_fp_cache *c, const struct tls_client_hello *ch, char ja3[33],
		      char ja4[40]);

#endif /* TLSAUDIT_TLS_H */

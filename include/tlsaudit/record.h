/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The handshake record: what every capture source produces and everything after it
 * (attribution, aggregation, export) consumes. Its JSON form is an interface; see
 * export.h and docs/tlsaudit.8.rst for the field names.
 */
#ifndef TLSAUDIT_RECORD_H
#define TLSAUDIT_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "tlsaudit/policy.h"

/* Wire version numbers; SSLv2 has no 16-bit code on the wire, we use 0x0002. */
#define TLS_V_SSL2 0x0002
#define TLS_V_SSL3 0x0300
#define TLS_V_10 0x0301
#define TLS_V_11 0x0302
#define TLS_V_12 0x0303
#define TLS_V_13 0x0304

enum hs_role {
	HS_ROLE_UNKNOWN = 0, /* offline captures: JSON null */
	HS_ROLE_CLIENT,
	HS_ROLE_SERVER,
};

enum hs_kind {
	HS_KIND_TLS = 0,	   /* a TLS (or SSL) handshake */
	HS_KIND_PLAINTEXT_SMTP, /* an SMTP session on 25/587 that never upgraded */
};

enum hs_limited {
	HS_LIMITED_NONE = 0,
	HS_LIMITED_CLIENT, /* the client offered nothing newer than what was chosen */
	HS_LIMITED_SERVER, /* the client offered TLS 1.2+, the server chose older */
};

/* How a TLS handshake ended, as far as the wire shows (DESIGN.md, `outcome`). */
enum hs_outcome {
	HS_OUTCOME_NONE = 0,	 /* plaintext SMTP session: JSON null */
	HS_OUTCOME_ESTABLISHED,	 /* both sides went on past the handshake */
	HS_OUTCOME_ALERT,	 /* a fatal alert ended it (in the clear, or sealed) */
	HS_OUTCOME_RESET,	 /* RST before it completed */
	HS_OUTCOME_CLOSED,	 /* FIN (or close_notify) before it completed */
	HS_OUTCOME_TIMEOUT,	 /* no answer before the flow expired */
};

/* Which side did something (sent the alert, RST or FIN); NONE is JSON null. */
enum hs_side {
	HS_SIDE_NONE = 0,
	HS_SIDE_CLIENT,
	HS_SIDE_SERVER,
};

/* The SMTP TLS lifecycle on 25/587 (DESIGN.md, `smtp_tls`); NONE elsewhere (null). */
enum hs_smtp_tls {
	HS_SMTP_NONE = 0,
	HS_SMTP_STARTTLS,    /* the client asked, the server said 220 */
	HS_SMTP_NOT_OFFERED, /* the server's EHLO reply had no STARTTLS */
	HS_SMTP_NOT_USED,    /* offered, the client never asked */
	HS_SMTP_REFUSED,     /* the client asked, the server did not answer 220 */
};

/* A yes/no the wire may not answer (JSON true, false or null). */
enum hs_tri {
	HS_TRI_NULL = 0,
	HS_TRI_FALSE,
	HS_TRI_TRUE,
};

struct hs_endpoint {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
};

/* Kubernetes NAMESPACE/CONTAINER (63 + 1 + 63) or an image reference, cut to fit. */
#define HS_CONTAINER_MAX 128

/* The local process that owns the socket; filled by attrib, empty offline. */
struct hs_proc {
	bool known;
	uint32_t pid;
	uint32_t uid;
	char comm[16];
	char exe[256];
	char cgroup[256];
	char unit[128];
	char container[HS_CONTAINER_MAX]; /* the name or image a restart keeps (attrib) */
	char container_id[16];		  /* the runtime's short id: per run, never a label */
	char tls_lib[64];
};

/*
 * The process the kernel saw using a socket (the socket-owner tracepoints), handed
 * from live capture to attribution, which turns it into struct hs_proc.
 */
struct hs_owner {
	uint32_t tgid;
	uint32_t pid; /* thread id */
	uint32_t uid;
	uint64_t cgroup_id;
	char comm[16]; /* NUL-terminated */
};

#define HS_SNI_MAX 256
#define HS_ALPN_MAX 128
#define HS_MX_HOST_MAX 128
/*
 * Certificate names kept in a record: X.520 bounds a CN at 64 characters, so only a
 * long DNS name standing in for a missing CN is ever cut. The agg ring holds 1000
 * records, so these stay well under the decoder's 256.
 */
#define HS_CERT_NAME_MAX 128
#define HS_CERT_KEY_MAX 32
#define HS_CERT_SIG_MAX 64

/* What the record holds of the server's certificate (DESIGN.md, cert_*). */
enum hs_cert_state {
	HS_CERT_NONE = 0, /* not in the clear (TLS 1.3, resumption) or no ServerHello: null */
	HS_CERT_OK,	  /* the leaf was decoded: the fields below */
	HS_CERT_CUT,	  /* the chain began but was not whole in the bytes kept: null */
	HS_CERT_BAD,	  /* a malformed Certificate message or undecodable leaf: null */
};

struct hs_cert {
	uint8_t state;	      /* enum hs_cert_state; the rest only with HS_CERT_OK */
	uint8_t accepted_bad; /* enum hs_tri: client_accepted_bad_cert */
	uint32_t problems;    /* enum tls_cert_problem bits (cert.h), judged for this handshake */
	int64_t not_after;    /* Unix seconds, UTC */
	char subject[HS_CERT_NAME_MAX];
	char issuer[HS_CERT_NAME_MAX];
	char key[HS_CERT_KEY_MAX];    /* "RSA-2048", "EC-P-256", "Ed25519" */
	char sig[HS_CERT_SIG_MAX];    /* "sha256WithRSAEncryption" */
	char sha256[65];	      /* lowercase hex of the leaf's DER */
};

struct hs_record {
	enum hs_kind kind;
	uint64_t time_ns; /* wall clock (ns since the epoch) of the ServerHello, else ClientHello */
	enum hs_role role;
	uint64_t cookie; /* socket cookie (live eBPF backend), 0 otherwise */
	struct hs_endpoint client, server;
	char sni[HS_SNI_MAX]; /* empty when absent */
	uint16_t offered_max; /* 0 when no ClientHello was seen */
	uint16_t version;     /* 0 when no ServerHello was seen */
	uint16_t cipher_id;
	bool has_cipher;
	uint16_t group; /* key-exchange group */
	bool has_group;
	bool starttls_smtp;
	char alpn[HS_ALPN_MAX]; /* chosen ALPN, else the offered list joined by ',' */
	bool alpn_chosen;	/* alpn is the server's choice, not the client's offer */
	char ja3[33];		/* lowercase hex MD5, empty when no ClientHello */
	char ja4[40];
	uint8_t outcome;	/* enum hs_outcome */
	uint8_t outcome_by;	/* enum hs_side */
	bool has_alert;		/* the alert's description crossed in the clear */
	uint8_t alert;		/* its description (IANA TLS Alerts) */
	uint8_t smtp_tls;	/* enum hs_smtp_tls */
	uint8_t plaintext_fallback; /* enum hs_tri; set after attribution (agg/fallback.c) */
	char mx_host[HS_MX_HOST_MAX]; /* 25/587: the host in the server's 220 greeting */
	struct hs_cert cert;	/* the server's leaf, where it crossed in the clear */
	/*
	 * What policies judge, kept so a record can be judged where it is consumed and
	 * judged again against another set (a reload) without the hellos: the client's
	 * offer, the server's choice and the certificate's key and signature.
	 */
	struct tls_offer offer;
	/* would_fail: one verdict per active policy of the set that judged the record */
	bool judged; /* false: null (plaintext SMTP, or no policy set at hand) */
	uint8_t n_verdicts;
	struct tls_verdict verdicts[TLS_POLICY_ACTIVE_MAX];
	struct hs_proc proc;
};

/* hs_legacy - the negotiated version is below TLS 1.2 (false when none was seen). */
bool hs_legacy(const struct hs_record *r);

/* hs_limited_by - who held the version down, for legacy handshakes (DESIGN.md). */
enum hs_limited hs_limited_by(const struct hs_record *r);

/* hs_weak_cipher - the chosen suite is NULL, EXPORT, anon, RC4, DES/3DES or MD5. */
bool hs_weak_cipher(const struct hs_record *r);

/* hs_failed - a TLS handshake that did not get established (alert, reset, closed, timeout). */
bool hs_failed(const struct hs_record *r);

/* hs_outcome_name - "established", "alert", ...; NULL for HS_OUTCOME_NONE. */
const char *hs_outcome_name(enum hs_outcome o);

/* hs_end_name - 1 "client", 2 "server", else NULL: the value of every enum below naming an end. */
const char *hs_end_name(unsigned int end);

/* hs_side_name - "client", "server"; NULL for HS_SIDE_NONE. */
const char *hs_side_name(enum hs_side s);

/* hs_smtp_tls_name - "starttls", "not_offered", "not_used", "refused"; NULL for NONE. */
const char *hs_smtp_tls_name(enum hs_smtp_tls t);

/* hs_role_name - "client", "server", or NULL for HS_ROLE_UNKNOWN (JSON null). */
const char *hs_role_name(enum hs_role role);

/* hs_limited_name - "client", "server", or NULL for HS_LIMITED_NONE. */
const char *hs_limited_name(enum hs_limited l);

#endif /* TLSAUDIT_RECORD_H */

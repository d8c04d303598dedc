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

struct hs_endpoint {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
};

/* The local process that owns the socket; filled by attrib, empty offline. */
struct hs_proc {
	bool known;
	uint32_t pid;
	uint32_t uid;
	char comm[16];
	char exe[256];
	char cgroup[256];
	char unit[128];
	char container[80];
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
	char ja3[33];		/* lowercase hex MD5, empty when no ClientHello */
	char ja4[40];
	struct hs_proc proc;
};

/* hs_legacy - the negotiated version is below TLS 1.2 (false when none was seen). */
bool hs_legacy(const struct hs_record *r);

/* hs_limited_by - who held the version down, for legacy handshakes (DESIGN.md). */
enum hs_limited hs_limited_by(const struct hs_record *r);

/* hs_weak_cipher - the chosen suite is NULL, EXPORT, anon, RC4, DES/3DES or MD5. */
bool hs_weak_cipher(const struct hs_record *r);

/* hs_role_name - "client", "server", or NULL for HS_ROLE_UNKNOWN (JSON null). */
const char *hs_role_name(enum hs_role role);

/* hs_limited_name - "client", "server", or NULL for HS_LIMITED_NONE. */
const char *hs_limited_name(enum hs_limited l);

#endif /* TLSAUDIT_RECORD_H */

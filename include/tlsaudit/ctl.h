/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Control socket: the daemon's Unix stream socket and the client side used by `top`,
 * `report` and `status`.
 *
 * Framing: a request is one JSON object on one line ({"cmd":"report","legacy":true,
 * "handshakes":false,"since_s":3600}, {"cmd":"status"}, {"cmd":"top"}), at most
 * CTL_REQ_MAX bytes. The reply is a header line, a JSON object with "ok" and, for
 * report and top, "n_rows" and "n_handshakes" counts; then exactly that many lines, one
 * JSON object each (rows first, then handshake records). Errors are a single
 * {"ok":false,"error":"..."} line. A connection may carry several requests in turn.
 */
#ifndef TLSAUDIT_CTL_H
#define TLSAUDIT_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tlsaudit/util.h"

#define CTL_REQ_MAX 4096	  /* request line limit; longer: error reply and close */
#define CTL_MAX_CLIENTS 256	  /* connections at once; more are refused with an error */
#define CTL_OUT_MAX (64u << 20)	  /* reply bytes queued per client before it is dropped */
#define CTL_IDLE_NS (60ULL * NSEC_PER_SEC) /* a client silent this long is closed */
#define CTL_GROUP "tlsaudit"

/* --- JSON: a tiny reader for flat objects (nested objects flattened as "a.b") --- */

enum ctl_json_type { CTL_JSON_NULL, CTL_JSON_BOOL, CTL_JSON_NUM, CTL_JSON_STR };

/* A report row with every failure kind and its verdicts under one policy is about 100. */
#define CTL_JSON_MEMBERS 160
#define CTL_JSON_KEY 64
#define CTL_JSON_STR 512

struct ctl_json_member {
	char key[CTL_JSON_KEY];
	enum ctl_json_type type;
	bool b;
	int64_t num; /* integer part of a number */
	char str[CTL_JSON_STR]; /* strings: decoded (UTF-8), cut at the cap */
};

struct ctl_json {
	struct ctl_json_member m[CTL_JSON_MEMBERS];
	int n;
};

/*
 * ctl_json_parse - one JSON object (objects nest up to 3 deep, no arrays) from @len
 * untrusted bytes; trailing blanks allowed. 0, or -EINVAL for anything else.
 */
int ctl_json_parse(const uint8_t *buf, size_t len, struct ctl_json *out);

/* ctl_json_get - the member named @key, or NULL. */
const struct ctl_json_member *ctl_json_get(const struct ctl_json *j, const char *key);
/* ctl_json_str - string member or @def; ctl_json_num - number member or @def. */
const char *ctl_json_str(const struct ctl_json *j, const char *key, const char *def);
int64_t ctl_json_num(const struct ctl_json *j, const char *key, int64_t def);
bool ctl_json_bool(const struct ctl_json *j, const char *key, bool def);

/* --- request handlers (the server side of the protocol) --- */

struct agg;
struct ctl_buf;
struct tls_policy_set;

/* What the service says about itself in every status, top and report reply. */
struct ctl_status {
	const char *backend, *backend_why;
	const char *socket, *state_file, *textfile, *handshake_log;
	const char *last_export_error; /* "" when the last export worked */
	const char *ports;	       /* "443,25,587" */
	uint64_t start_ns, uptime_ns, export_interval_ns, last_export_ns;
	uint64_t events, ringbuf_drops, flow_evictions, malformed, unattributed, flows, not_tls;
	uint64_t cert_cut, cert_malformed; /* server chains not read: cut short, malformed */
	size_t clients;
};

/* The service behind the requests: its counters and a way to ask for its status. */
struct ctl_service {
	struct agg *agg;
	const struct tls_policy_set *policies; /* the active ones, judged on every record */
	void (*status)(struct ctl_status *st, void *ctx); /* filled afresh for each reply */
	void *ctx;
};

/*
 * ctl_handle_request - answer `status`, `top` and `report` (a ctl_handler_fn; @ctx is a
 * struct ctl_service).
 */
void ctl_handle_request(const struct ctl_json *req, struct ctl_buf *out, void *ctx);

/* --- server --- */

struct ctl_buf {
	char *data;
	size_t len, cap;
	bool oom; /* an append failed: the reply is dropped */
};

/* ctl_buf_append / ctl_buf_printf - add bytes to a reply. */
void ctl_buf_append(struct ctl_buf *b, const void *data, size_t len);
void ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The daemon's request handler: @req is the parsed request; append the whole reply
 * (header and lines, each ending in '\n') to @out.
 */
typedef void (*ctl_handler_fn)(const struct ctl_json *req, struct ctl_buf *out, void *ctx);

struct ctl_server;

/*
 * ctl_server__new - create the socket at @path: its directory is made if missing, a
 * stale socket is removed only when no daemon answers on it, mode 0660, group tlsaudit
 * when that group exists. NULL with @err saying why.
 */
struct ctl_server *ctl_server__new(const char *path, ctl_handler_fn fn, void *ctx, char *err,
				   size_t errlen);
/*
 * ctl_server__reload_group - look the tlsaudit group up again (an NSS call: for reload,
 * never per client; ctl_server__new does it at start) and, when it appeared or changed,
 * give the socket to it. Clients are admitted by SO_PEERCRED and SO_PEERGROUPS against
 * the gid found here. 0, -ENOENT when there is no such group (root only), or -errno.
 */
int ctl_server__reload_group(struct ctl_server *s);
/* ctl_server__free - close every client, remove the socket file. */
void ctl_server__free(struct ctl_server *s);
/* ctl_server__fd - an epoll fd that becomes readable when the socket or a client is ready. */
int ctl_server__fd(const struct ctl_server *s);
/* ctl_server__process - accept, read, answer and write what is ready, never blocking. */
void ctl_server__process(struct ctl_server *s);
/* ctl_server__tick - close clients idle for CTL_IDLE_NS. */
void ctl_server__tick(struct ctl_server *s, uint64_t mono_ns);
/* ctl_server__clients - connections open now. */
size_t ctl_server__clients(const struct ctl_server *s);

/* --- client --- */

struct ctl_conn;

/*
 * ctl_connect - connect to the daemon at @path. NULL with @err holding the user-facing
 * line "no daemon at PATH: connection refused (is tlsaudit.service running?)".
 */
struct ctl_conn *ctl_connect(const char *path, char *err, size_t errlen);
void ctl_close(struct ctl_conn *c);

/* ctl_send - send one request line (a newline is added). 0 or -errno. */
int ctl_send(struct ctl_conn *c, const char *req);

/*
 * ctl_read_line - the next reply line (without its newline) into *@line, valid until the
 * next call; waits up to @timeout_ms. 0, -ETIMEDOUT, -EPIPE when the daemon closed, -EMSGSIZE.
 */
int ctl_read_line(struct ctl_conn *c, const char **line, size_t *len, int timeout_ms);

/* ctl_conn_fd - the socket, to poll it together with a terminal. */
int ctl_conn_fd(const struct ctl_conn *c);

/* A whole reply: the parsed header and the raw lines that follow it. */
struct ctl_reply {
	struct ctl_json *header;
	char **rows;	/* n_rows JSON lines, NUL-terminated */
	size_t n_rows;
	char **hs;	/* n_hs handshake record lines */
	size_t n_hs;
	char *header_line; /* the header as received */
};

/*
 * ctl_query - send @req and read the whole reply into @rep (free with ctl_reply_free).
 * 0, or -errno with @err: a daemon error ("daemon: ..."), a timeout, a malformed reply.
 */
int ctl_query(struct ctl_conn *c, const char *req, struct ctl_reply *rep, int timeout_ms,
	      char *err, size_t errlen);
void ctl_reply_free(struct ctl_reply *rep);

#define CTL_ROW_ALERTS 8
#define CTL_CERT_PROBLEMS 7	   /* cert.h's problems, in its order */
#define CTL_CERT_VERIFY_PROBLEMS 4 /* the ones a verifying client refuses */
#define CTL_ROW_OWN_CERTS 4	   /* a local server's certificates per row */
#define CTL_ROW_POLICY_FAILS 14 /* (by, reason) kinds: 5 client reasons, 6 server ones */

/* A row's verdicts under the policy a report or top request named (agg_policy_json). */
struct ctl_row_policy {
	bool present; /* the reply carried them */
	char name[32];
	int64_t handshakes, passes, failures;
	struct {
		char kind[24]; /* "client_version", "server_cert_key", ... */
		int64_t count;
	} fails[CTL_ROW_POLICY_FAILS];
	int n_fails;
	char first[40], last_pass[40];
	int64_t first_s, last_pass_s; /* 0: never */
	struct {
		char time[40];
		int64_t time_s;
		char by[8], reason[16], peer[64], sni[256];
	} last_fail; /* meaningful when failures > 0 */
};

/* One row of a report/top reply, decoded (see agg_row_json for the fields). */
struct ctl_row {
	char exe[256]; /* "" when unknown */
	char comm[32];
	char name[256]; /* ctl_row_name() */
	char unit[128];
	char container[128]; /* HS_CONTAINER_MAX: namespace/container or an image */
	char role[16];
	unsigned int port;
	int64_t versions[7]; /* SSLv2, SSLv3, TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3, unknown */
	int64_t handshakes, legacy, limited_client, limited_server, weak_cipher, plaintext;
	char tls_lib[64];
	char last_peer[64];
	char last_sni[256];
	char legacy_peer[64];
	char legacy_sni[256];
	char first_seen[40], last_seen[40];
	int64_t last_seen_s;
	int64_t pid;
	/* Failed handshakes: total, by outcome (alert, reset, closed, timeout), by sender. */
	int64_t failures, failed[4], failed_by_client, failed_by_server, failures_legacy_offer;
	struct ctl_row_alert {
		char by[8];	/* "client", "server", "unknown" */
		char name[40];	/* IANA name, "encrypted", "other", "0xNN" */
		int64_t count;
	} alerts[CTL_ROW_ALERTS];
	int n_alerts;
	struct {
		char time[40];
		int64_t time_s;
		char outcome[16], by[16], alert[40], offered_max[16], peer[64], sni[256];
	} last_fail; /* meaningful when failures > 0 */
	/* SMTP sessions by smtp_tls: starttls, not_offered, not_used, refused, unknown. */
	int64_t smtp[5], fallback[5]; /* fallback: plaintext_fallback per reason, [4] total */
	char plain_peer[64], mx_host[128];
	struct ctl_row_policy policy;
	/*
	 * Server certificates in the clear: handshakes per problem (expired, not_yet_valid,
	 * self_signed, name_mismatch, weak_key, sha1_signature, md5_signature), bad ones the
	 * client went on past per the first four, the latest of those, and a local server's
	 * own certificates.
	 */
	int64_t cert_bad, cert_problems[CTL_CERT_PROBLEMS];
	int64_t cert_accepted, bad_cert_accepted[CTL_CERT_VERIFY_PROBLEMS];
	struct {
		char time[40];
		int64_t time_s;
		char problems[96], peer[64], sni[256], subject[128];
	} last_bad; /* meaningful when cert_accepted > 0 */
	struct {
		char subject[128], not_after[32];
		int64_t not_after_s;
	} own[CTL_ROW_OWN_CERTS];
	int n_own;
};

/* ctl_row_parse - decode one row line; 0 or -EINVAL. */
int ctl_row_parse(const char *line, struct ctl_row *row);
/*
 * ctl_row_name - exe, else "[comm]" (as the textfile's exe label has it: a command
 * name can never be taken for a path), else "?".
 */
const char *ctl_row_name(const struct ctl_row *row);

/*
 * ctl_term_safe - @s for a terminal: bytes outside printable ASCII become '?' (an SNI or
 * exe name must not carry escape sequences), cut at @width characters ('~' marks a cut).
 */
const char *ctl_term_safe(const char *s, size_t width, char *out, size_t len);

/* ctl_fmt_age - "42s", "5m", "3h", "2d" for a number of seconds. */
void ctl_fmt_age(int64_t secs, char *buf, size_t len);
/* ctl_fmt_uptime - "1d 02:03:04" / "02:03:04". */
void ctl_fmt_uptime(int64_t secs, char *buf, size_t len);

#endif /* TLSAUDIT_CTL_H */

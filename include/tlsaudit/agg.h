/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Aggregation: handshake records folded into counters per (process identity, role,
 * service port), plus a bounded ring of the most recent records, and the persistent,
 * checksummed state file that lets counters survive restarts.
 *
 * The process identity is exe + systemd unit + container (comm when the exe is unknown),
 * never the pid, so the restarts of a service add up in one row. Memory is bounded: at
 * most max_keys rows; past that, and past the textfile's series bound or a row's time
 * to live, the least recently seen rows are folded into one "other" row.
 */
#ifndef TLSAUDIT_AGG_H
#define TLSAUDIT_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tlsaudit/cert.h"
#include "tlsaudit/policy.h"
#include "tlsaudit/record.h"

/* Version buckets, in the order they are shown and exported. */
enum agg_ver {
	AGG_V_SSL2 = 0,
	AGG_V_SSL3,
	AGG_V_TLS10,
	AGG_V_TLS11,
	AGG_V_TLS12,
	AGG_V_TLS13,
	AGG_V_UNKNOWN, /* no ServerHello seen, or a code we do not know */
	AGG_V_COUNT,
};

#define AGG_MAX_KEYS_DEFAULT 4096
#define AGG_RING_DEFAULT 1000
#define AGG_PEERS 4 /* distinct recent peers kept per row */

/*
 * Failed handshakes are counted exactly per (outcome, who): alert, reset, closed and
 * timeout by client, server or nobody. Alerts are also counted by their description, in
 * a few slots per row: a row sees one or two kinds in practice (protocol_version from a
 * provider, unknown_ca from a verifying client), and the Prometheus series of a row must
 * stay few. Alerts past the slots are the difference between the exact per-side count
 * and the slots' sum, shown as "other".
 */
enum agg_fail {
	AGG_F_ALERT = 0, /* HS_OUTCOME_ALERT */
	AGG_F_RESET,
	AGG_F_CLOSED,
	AGG_F_TIMEOUT,
	AGG_FAIL_OUTCOMES,
};
#define AGG_SIDES 3	    /* enum hs_side: none, client, server */
#define AGG_ALERT_SLOTS 6

/* agg_fail_idx - the index of a failed outcome (0..3), or -1 for anything else. */
static inline int agg_fail_idx(uint8_t outcome)
{
	return outcome >= HS_OUTCOME_ALERT && outcome <= HS_OUTCOME_TIMEOUT
		       ? outcome - HS_OUTCOME_ALERT
		       : -1;
}

/* One kind of alert that ended handshakes of a row. */
struct agg_alert {
	uint64_t count;
	uint8_t by;	/* enum hs_side: who sent it */
	bool sealed;	/* encrypted (TLS 1.3 after the ServerHello): no description */
	uint8_t alert;	/* IANA description, when not sealed */
};

/* The latest failed handshake of a row: what the operator looks at first. */
struct agg_last_fail {
	uint64_t time_ns;
	uint8_t outcome;  /* enum hs_outcome */
	uint8_t by;	  /* enum hs_side */
	bool has_alert;
	uint8_t alert;
	uint16_t offered_max;
	struct hs_endpoint peer;
	char sni[HS_SNI_MAX]; /* the SNI, else the SMTP server's mx_host */
};

/* A remote peer and when it was last seen / last logged for a legacy handshake. */
struct agg_peer {
	struct hs_endpoint ep;
	uint64_t last_seen_ns;
	uint64_t last_logged_ns;
};

/*
 * A row's verdicts under one policy (`policies`): "would this process break if its
 * peer enforced the policy?" Slots are keyed by the policy's name, so counters survive a
 * reload or restart that keeps the name. A row has one slot per policy that can be
 * active at once; a new name takes the slot of a policy no longer active that was
 * judged the longest ago.
 */
#define AGG_POLICY_SLOTS TLS_POLICY_ACTIVE_MAX
#define AGG_REASONS (TLS_REASON_CERT_SIG + 1) /* enum tls_policy_reason */

struct agg_policy {
	char name[TLS_POLICY_NAME_MAX]; /* "" for a free slot */
	/* tls_policy_digest() of the definition counted; 0: unknown (older state file) */
	uint64_t digest;
	uint64_t passed;
	uint64_t failed[2][AGG_REASONS]; /* [0] by client, [1] by server; by reason */
	uint64_t first_ns;		 /* the first handshake judged under it */
	uint64_t last_pass_ns, last_fail_ns;
	/* The latest failure: who and why, and the peer as a sample to look at. */
	uint8_t last_by;     /* enum tls_policy_by */
	uint8_t last_reason; /* enum tls_policy_reason */
	struct hs_endpoint fail_peer;
	char fail_sni[HS_SNI_MAX]; /* the SNI, else the SMTP server's mx_host */
};

/*
 * Server certificates in the clear (TLS 1.2 and older). The problems a verifying client
 * refuses are the first AGG_VERIFY_PROBLEMS bits of cert.h (expired, not_yet_valid,
 * self_signed, name_mismatch); bad certificates accepted are counted per such problem.
 */
#define AGG_VERIFY_PROBLEMS 4
/* A local server's own certificates kept per row (virtual hosts serve several). */
#define AGG_OWN_CERTS 4

/* The latest handshake of a row whose client went on past a verify problem. */
struct agg_bad_cert {
	uint64_t time_ns; /* 0: never */
	uint32_t problems; /* enum tls_cert_problem bits of that certificate */
	struct hs_endpoint peer;
	char sni[HS_SNI_MAX];
	char subject[HS_CERT_NAME_MAX];
};

/* A certificate a local server presented (role server): its expiry, for the operator. */
struct agg_own_cert {
	char subject[HS_CERT_NAME_MAX]; /* the key of the slot */
	int64_t not_after;		 /* Unix seconds */
	uint64_t last_seen_ns;
};

/* agg_policy_failures - every failure the slot counted. */
uint64_t agg_policy_failures(const struct agg_policy *p);

struct agg_key {
	char exe[256];	     /* empty when unknown */
	char comm[16];	     /* the identity only when exe is empty */
	char unit[128];
	char container[HS_CONTAINER_MAX]; /* its name or image, never a per-run id */
	enum hs_role role;
	uint16_t port;	     /* the service (server) port */
	bool other;	     /* the row that collects records past the key cap */
};

struct agg_row {
	struct agg_key key;
	uint64_t versions[AGG_V_COUNT];
	uint64_t handshakes;	    /* TLS handshakes that negotiated a version */
	uint64_t legacy;	    /* negotiated below TLS 1.2 */
	uint64_t limited_client;    /* legacy, the client offered nothing newer */
	uint64_t limited_server;    /* legacy, the client offered 1.2+ and the server chose older */
	uint64_t weak_cipher;
	uint64_t plaintext;	    /* SMTP sessions that never upgraded */
	uint64_t failures;	    /* TLS handshakes that did not complete (hs_failed) */
	uint64_t failed[AGG_FAIL_OUTCOMES][AGG_SIDES]; /* by outcome and by whom */
	uint64_t failed_old_offer;  /* failures whose ClientHello offered nothing >= TLS 1.2 */
	uint64_t failed_early;	    /* failures before any ServerHello (no version) */
	struct agg_alert alerts[AGG_ALERT_SLOTS];
	uint8_t n_alerts;
	struct agg_last_fail last_fail;
	/*
	 * SMTP sessions by enum hs_smtp_tls (index 0 unused); the plaintext reasons add up
	 * to at most `plaintext` (sessions recorded before reasons were known have none).
	 */
	uint64_t smtp[HS_SMTP_REFUSED + 1];
	uint64_t fallback[HS_SMTP_REFUSED + 1]; /* plaintext_fallback true, by reason */
	uint64_t last_plain_ns;
	struct hs_endpoint plain_peer; /* the peer of the latest plaintext session */
	char plain_mx[HS_MX_HOST_MAX];
	uint64_t first_seen_ns, last_seen_ns;
	struct hs_endpoint last_peer;
	char last_sni[HS_SNI_MAX];
	struct hs_endpoint legacy_peer; /* the peer of the latest legacy handshake */
	char legacy_sni[HS_SNI_MAX];
	char tls_lib[64];
	char last_comm[16];
	uint32_t last_pid;
	struct agg_peer peers[AGG_PEERS];
	uint8_t n_peers;
	struct agg_policy pol[AGG_POLICY_SLOTS];
	uint8_t n_pol;
	/* Server certificates in the clear: handshakes per problem (cert.h bit order). */
	uint64_t cert_problems[TLS_CERT_N_PROBLEMS];
	uint64_t cert_bad;		/* handshakes whose certificate had any problem */
	uint64_t bad_cert_accepted[AGG_VERIFY_PROBLEMS]; /* the client went on, per problem */
	uint64_t cert_accepted;		/* handshakes whose client went on past any of them */
	struct agg_bad_cert last_bad;
	struct agg_own_cert own[AGG_OWN_CERTS]; /* role server: the certificates it presents */
	uint8_t n_own;
};

/*
 * Why a row left for the "other" row (tlsaudit_series_folded_total{reason}): the
 * textfile's series bound, the key cap of the aggregation itself, or row_ttl.
 */
enum agg_fold {
	AGG_FOLD_MAX_SERIES = 0,
	AGG_FOLD_MAX_KEYS,
	AGG_FOLD_ROW_TTL,
	AGG_FOLD_N,
};

struct agg_totals {
	uint64_t records;    /* every record added (TLS and plaintext) */
	uint64_t handshakes; /* TLS handshakes */
	uint64_t legacy;
	uint64_t weak_cipher;
	uint64_t plaintext;
	uint64_t failures;
	uint64_t failed[AGG_FAIL_OUTCOMES]; /* by outcome */
	uint64_t smtp[HS_SMTP_REFUSED + 1]; /* SMTP sessions by enum hs_smtp_tls */
	uint64_t fallback;		    /* plaintext sessions with plaintext_fallback */
	uint64_t cert_bad;		    /* handshakes whose certificate had a problem */
	uint64_t cert_accepted;		    /* ... and whose client went on past a verify one */
	uint64_t folded;     /* records that went to the "other" row */
	/* Rows folded into "other", and the series they had, by enum agg_fold (persisted). */
	uint64_t rows_folded[AGG_FOLD_N];
	uint64_t series_folded[AGG_FOLD_N];
};

struct agg;

/* agg__new - @max_keys rows at most (plus "other"), @ring_size recent records; NULL+errno. */
struct agg *agg__new(size_t max_keys, size_t ring_size);
void agg__free(struct agg *a);

/*
 * agg__set_policies - the set that judges the records agg__add gets (it names their
 * verdicts); NULL: verdicts are not counted. The recent records are judged again
 * against @ps, so the ones `report --handshakes` shows name the policies in force.
 * @ps is the caller's and must outlive its use here.
 */
void agg__set_policies(struct agg *a, const struct tls_policy_set *ps);

/* agg_row_policy - the row's slot for the policy @name, or NULL when never judged. */
const struct agg_policy *agg_row_policy(const struct agg_row *row, const char *name);

/*
 * agg_policy_json - a row's verdicts under policy @name as the members of
 * `report --policy` (a JSON object: name, handshakes, passes, failures,
 * failures_by {"client_version":N}, last_pass, last_failure {time, by, reason, peer,
 * sni}; the counts 0 and the times null when the row was never judged under it).
 * Returns the length, or -1 when @len is too small.
 */
int agg_policy_json(const struct agg_row *row, const char *name, char *buf, size_t len);

/*
 * agg_series_fn - how many series a row puts in the textfile (the exporter knows);
 * agg__set_series_fn - use it to weigh rows (without one a row weighs 1).
 */
typedef size_t (*agg_series_fn)(const struct agg_row *row, void *ctx);
void agg__set_series_fn(struct agg *a, agg_series_fn fn, void *ctx);

/* agg__series - the series of every row, "other" included. */
size_t agg__series(const struct agg *a);

/*
 * agg__bound - fold rows into "other": those not seen for @ttl_ns (0: never), then the
 * least recently seen until the rows weigh at most @max_series. Counts move, so sums
 * over rows never go down; rows_folded and series_folded in the totals count what left.
 * Returns the rows folded. A row at the key cap is folded the same way by agg__add, so
 * a new program always gets a row of its own.
 */
size_t agg__bound(struct agg *a, uint64_t now_ns, uint64_t ttl_ns, size_t max_series);

/* Flags returned by agg__add. */
#define AGG_ADD_LOG 0x1 /* legacy, failed or fallback: not logged for (key, peer) in the hour */

/*
 * agg__add - count one record at wall-clock @now_ns (rate limit of AGG_ADD_LOG).
 * Returns AGG_ADD_* flags (0 when nothing to log).
 */
int agg__add(struct agg *a, const struct hs_record *r, uint64_t now_ns);

/* agg__n_rows / agg__row - the rows, in first-seen order ("other" included when used). */
size_t agg__n_rows(const struct agg *a);
const struct agg_row *agg__row(const struct agg *a, size_t i);

/* agg__totals - sums over every row. */
const struct agg_totals *agg__totals(const struct agg *a);

/*
 * agg__ring_foreach - the recent records, oldest first, with time_ns >= @since_ns.
 * Returns how many were passed to @fn.
 */
size_t agg__ring_foreach(const struct agg *a, uint64_t since_ns,
			 void (*fn)(const struct hs_record *r, void *ctx), void *ctx);

/* agg_key_from_record - the row key a record belongs to. */
void agg_key_from_record(const struct hs_record *r, struct agg_key *k);

/* agg_version_bucket / agg_version_label - bucket of a wire version, and its label. */
enum agg_ver agg_version_bucket(uint16_t version);
const char *agg_version_label(enum agg_ver v);

/* agg_role_name - "client", "server" or "unknown". */
const char *agg_role_name(enum hs_role role);

/*
 * agg_alert_label - the name an alert slot is shown and exported with: the IANA name,
 * "0xNN" for an unregistered code, "encrypted" for a sealed alert. @buf holds 8 bytes.
 */
const char *agg_alert_label(const struct agg_alert *al, char *buf, size_t len);

/*
 * agg_alert_other - alerts sent by @side that found no slot (the "other" bucket): the
 * exact count minus the slots' sum.
 */
uint64_t agg_alert_other(const struct agg_row *row, enum hs_side side);

/*
 * agg_smtp_unknown - plaintext sessions without a recorded reason (recorded by a build
 * that did not know them, or before the SMTP phase was classified).
 */
uint64_t agg_smtp_unknown(const struct agg_row *row);

/* agg_row_name - exe, else comm, else "?" ("other" for the fold row). */
const char *agg_row_name(const struct agg_row *row);

/*
 * agg_row_json - the row as one JSON object (no newline) with the fields of
 * `tlsaudit report --json`. Returns the length, or -1 when @len is too small.
 */
int agg_row_json(const struct agg_row *row, char *buf, size_t len);

/*
 * agg__save - write the state file atomically (temp file in the same directory, fsync,
 * rename, fsync of the directory). 0, or -errno with @err saying why.
 */
int agg__save(const struct agg *a, const char *path, char *err, size_t errlen);

/*
 * agg__load - merge the counters of a state file into @a (normally empty). 0; -ENOENT
 * when there is no file; -EBADMSG (corrupt, truncated, wrong magic or checksum) or
 * another -errno with @err saying why. On failure @a is left unchanged. First it removes
 * the temp files a save interrupted by a crash left next to @path (see
 * util_remove_stale_temps): call it once at start, before the first agg__save.
 */
int agg__load(struct agg *a, const char *path, char *err, size_t errlen);

/*
 * agg_state_quarantine - rename a bad state file to PATH.corrupt-<unix time>, so the
 * evidence is kept and the daemon can start fresh. The new name is put in @moved.
 */
int agg_state_quarantine(const char *path, uint64_t now_ns, char *moved, size_t movedlen);

/* Parsing a state image in memory (agg__load after reading the file); for tests too. */
int agg__load_buf(struct agg *a, const uint8_t *buf, size_t len, char *err, size_t errlen);
/* agg__save_buf - the state image in a malloc'd buffer (*out, *outlen); 0 or -errno. */
int agg__save_buf(const struct agg *a, uint8_t **out, size_t *outlen);

#endif /* TLSAUDIT_AGG_H */

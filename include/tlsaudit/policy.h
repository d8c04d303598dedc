/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Policies: "could this handshake still succeed if the peer enforced POLICY?"
 *
 * A handshake is reduced to a compact offer (struct tls_offer: what the client offered,
 * what the server chose, the certificate facts when they crossed in the clear). Each
 * configured policy judges it: the client by its whole offer (does anything it offered
 * satisfy the policy?), the server by its choice (the client offered something that
 * satisfies the policy, did the server pick it?). docs/policies.md has the rules, the
 * config keys and the built-in profiles with their sources.
 *
 * Judging allocates nothing; a policy is a few precomputed bit sets.
 */
#ifndef TLSAUDIT_POLICY_H
#define TLSAUDIT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Only pointers to the parsed hellos: record.h holds a struct tls_offer, and tls.h
 * includes record.h.
 */
struct hs_record;
struct tls_client_hello;
struct tls_server_hello;

/*
 * The compact offer. 64 suites cover every client seen in practice (OpenSSL's default
 * offer is 31, browsers send 15-20); scanners and "ALL" cipher strings send more, and
 * then TLS_OFFER_SUITES_CUT says that suites past the 64th were not kept, so a verdict
 * "by client: cipher" on such an offer may be wrong. GREASE values and the signalling
 * suites (0x00ff, 0x5600) are never kept.
 */
#define TLS_OFFER_MAX_SUITES 64
#define TLS_OFFER_MAX_GROUPS 24

/* Bits of tls_offer.versions. */
#define TLS_OFFER_V_SSL2 0x01
#define TLS_OFFER_V_SSL3 0x02
#define TLS_OFFER_V_TLS10 0x04
#define TLS_OFFER_V_TLS11 0x08
#define TLS_OFFER_V_TLS12 0x10
#define TLS_OFFER_V_TLS13 0x20

/* Bits of tls_offer.flags. */
#define TLS_OFFER_CLIENT 0x0001	     /* a ClientHello was seen: the client side is valid */
#define TLS_OFFER_EMS 0x0002	     /* extended_master_secret offered (RFC 7627) */
#define TLS_OFFER_SNI 0x0004	     /* server_name with a host name */
#define TLS_OFFER_GROUPS_EXT 0x0008 /* supported_groups sent */
#define TLS_OFFER_SUITES_CUT 0x0010 /* more than TLS_OFFER_MAX_SUITES suites offered */
#define TLS_OFFER_GROUPS_CUT 0x0020 /* more than TLS_OFFER_MAX_GROUPS groups offered */
#define TLS_OFFER_SERVER 0x0100     /* a ServerHello was seen: srv_version, srv_suite */
#define TLS_OFFER_SRV_GROUP 0x0200  /* srv_group is known */
#define TLS_OFFER_SRV_EMS 0x0400    /* the ServerHello echoed extended_master_secret */

/*
 * The certificate's public key, as far as it is known. Finer than cert.h's key kinds:
 * a policy may allow some EC curves and not others (Mozilla: P-256 and P-384).
 */
enum tls_offer_key {
	TLS_OFFER_KEY_UNKNOWN = 0, /* not visible (TLS 1.3, resumption) or not parsed */
	TLS_OFFER_KEY_RSA,
	TLS_OFFER_KEY_RSA_PSS, /* an id-RSASSA-PSS key */
	TLS_OFFER_KEY_EC_P256,
	TLS_OFFER_KEY_EC_P384,
	TLS_OFFER_KEY_EC_P521,
	TLS_OFFER_KEY_EC_OTHER, /* another curve (brainpool, secp256k1, P-224, explicit) */
	TLS_OFFER_KEY_ED25519,
	TLS_OFFER_KEY_ED448,
	TLS_OFFER_KEY_DSA,
	TLS_OFFER_KEY_COUNT,
};

/* The hash of the certificate's signature algorithm. */
enum tls_sig_hash {
	TLS_SIG_HASH_UNKNOWN = 0,
	TLS_SIG_HASH_MD5,
	TLS_SIG_HASH_SHA1,
	TLS_SIG_HASH_SHA224,
	TLS_SIG_HASH_SHA256,
	TLS_SIG_HASH_SHA384,
	TLS_SIG_HASH_SHA512,
	TLS_SIG_HASH_INTRINSIC, /* Ed25519, Ed448: the hash is part of the scheme */
	TLS_SIG_HASH_COUNT,
};

/* The key type of the certificate's signature algorithm (the issuer's key). */
enum tls_sig_key {
	TLS_SIG_KEY_UNKNOWN = 0,
	TLS_SIG_KEY_RSA, /* PKCS #1 v1.5 */
	TLS_SIG_KEY_RSA_PSS,
	TLS_SIG_KEY_ECDSA,
	TLS_SIG_KEY_ED25519,
	TLS_SIG_KEY_ED448,
	TLS_SIG_KEY_DSA,
	TLS_SIG_KEY_COUNT,
};

struct tls_offer {
	uint16_t suites[TLS_OFFER_MAX_SUITES]; /* client order, no GREASE, no SCSV */
	uint16_t groups[TLS_OFFER_MAX_GROUPS]; /* supported_groups then key_share, no GREASE */
	/* Bit i describes suites[i]; computed once from the name tables. */
	uint64_t suite_tls13; /* a TLS 1.3 suite (0x13xx) */
	uint64_t suite_ecdhe; /* TLS <= 1.2 suite keyed by an EC group the client offers */
	uint64_t suite_dhe;   /* TLS <= 1.2 suite keyed by finite-field DH */
	uint16_t flags;	      /* TLS_OFFER_* */
	uint8_t n_suites;
	uint8_t n_groups;
	uint8_t versions; /* TLS_OFFER_V_* the client offered */
	/* server side, valid with TLS_OFFER_SERVER */
	uint8_t cert_key;      /* enum tls_offer_key */
	uint8_t cert_sig_key;  /* enum tls_sig_key */
	uint8_t cert_sig_hash; /* enum tls_sig_hash */
	uint16_t cert_bits;    /* key size in bits, 0 when unknown */
	uint16_t srv_version;
	uint16_t srv_suite;
	uint16_t srv_group; /* valid with TLS_OFFER_SRV_GROUP */
};

/*
 * tls_offer_from_hello - the client side of @o from a parsed ClientHello (the last one
 * after a HelloRetryRequest: it is the offer the server answered). Clears @o first.
 * Offered versions come from supported_versions when present (TLS 1.3 drafts do not
 * count); otherwise from the legacy version field, counted from TLS 1.0 up to it
 * (an SSLv3 hello offers SSLv3; an SSLv2-format hello also offers SSLv2 when it
 * carries SSLv2 cipher kinds or version 0x0002).
 */
void tls_offer_from_hello(const struct tls_client_hello *ch, struct tls_offer *o);

/*
 * tls_offer_set_server - the server's choice from a (non-HRR) ServerHello; @ske_group
 * is the ECDHE ServerKeyExchange curve of TLS <= 1.2, NULL when none was seen. The
 * TLS 1.3 key_share group comes from @sh itself.
 */
void tls_offer_set_server(struct tls_offer *o, const struct tls_server_hello *sh,
			  const uint16_t *ske_group);

/* tls_offer_set_cert - the leaf certificate's key (type, bits) and signature. */
void tls_offer_set_cert(struct tls_offer *o, enum tls_offer_key key, uint16_t bits,
			enum tls_sig_key sig_key, enum tls_sig_hash sig_hash);

/*
 * tls_offer_set_cert_names - the same from the strings of struct tls_cert_info (cert.h)
 * and the record: @cert_key "RSA-2048", "RSA-PSS-2048", "EC-P-256", "EC-brainpoolP256r1"
 * (the size taken from the curve name), "EC-521" (explicit parameters), "Ed25519",
 * "Ed448", "DSA-1024"; @cert_sig an OpenSSL signature algorithm name
 * ("sha256WithRSAEncryption", "ecdsa-with-SHA384", "rsassaPss", "ED25519"). Either may
 * be NULL; unrecognised names ("unknown", a dotted OID) leave that fact unknown (not
 * checked) and make the return -EINVAL, 0 otherwise. The hash of an RSASSA-PSS
 * signature is not in its name: it stays unknown.
 */
int tls_offer_set_cert_names(struct tls_offer *o, const char *cert_key, const char *cert_sig);

/* A set of 16-bit code points (suites, groups) as bit pages per high byte. */
#define TLS_U16_SET_PAGES 8

struct tls_u16_set {
	uint8_t hi[TLS_U16_SET_PAGES]; /* high byte of each page */
	uint8_t n_pages;
	uint64_t bits[TLS_U16_SET_PAGES][4];
};

#define TLS_POLICY_NAME_MAX 32 /* name length + NUL: [a-z0-9_-], 1 to 31 characters */
#define TLS_POLICY_MAX 32      /* built-in and defined policies together */
#define TLS_POLICY_ACTIVE_MAX 16

/* Bits of tls_policy.checks: which rules the policy has. */
#define TLS_PCHK_SUITES12 0x01 /* ciphers */
#define TLS_PCHK_SUITES13 0x02 /* tls13_ciphers */
#define TLS_PCHK_GROUPS 0x04
#define TLS_PCHK_EMS 0x08
#define TLS_PCHK_SNI 0x10
#define TLS_PCHK_CERT_KEYS 0x20
#define TLS_PCHK_CERT_SIGS 0x40

struct tls_policy {
	char name[TLS_POLICY_NAME_MAX];
	uint32_t checks;      /* TLS_PCHK_* */
	uint16_t min_version; /* 0: no minimum */
	uint16_t max_version; /* 0: no maximum */
	uint16_t min_rsa_bits; /* 0: not checked */
	uint16_t min_ec_bits;  /* 0: not checked */
	uint16_t cert_keys;    /* allowed enum tls_offer_key bits (TLS_PCHK_CERT_KEYS) */
	uint8_t forbid_hash;   /* forbidden enum tls_sig_hash bits */
	uint8_t vmask;	       /* TLS_OFFER_V_* inside [min_version, max_version] */
	bool builtin;
	uint8_t n_keys; /* keys set so far from the config (base must come first) */
	uint64_t cert_sigs; /* allowed (sig_key * 8 + sig_hash) bits (TLS_PCHK_CERT_SIGS) */
	struct tls_u16_set suites12; /* TLS_PCHK_SUITES12 */
	struct tls_u16_set suites13; /* TLS_PCHK_SUITES13 */
	struct tls_u16_set groups;   /* TLS_PCHK_GROUPS */
	uint64_t digest; /* tls_policy_digest(), kept by tls_policy_set_finish(); 0 before */
};

/*
 * The policies known to the daemon (built-in profiles, then `policy.NAME.*` ones) and
 * the active list (`policies`, `--policy`) that every handshake is judged against.
 * A plain struct (about 28 KiB), no allocation: embed it or allocate it once.
 */
struct tls_policy_set {
	struct tls_policy pol[TLS_POLICY_MAX];
	uint8_t n;
	uint8_t active[TLS_POLICY_ACTIVE_MAX]; /* indexes into pol[] */
	uint8_t n_active;
	/* `policies` names, resolved by tls_policy_set_finish() (they may be defined later) */
	char pending[TLS_POLICY_ACTIVE_MAX][TLS_POLICY_NAME_MAX];
	uint8_t n_pending;
	bool have_pending;
};

enum tls_policy_by {
	TLS_POLICY_PASS = 0,
	TLS_POLICY_BY_CLIENT, /* nothing the client offered satisfies the policy */
	/* the client offered something that satisfies it; the server chose otherwise */
	TLS_POLICY_BY_SERVER,
};

/*
 * Reasons, in the order a client offer is checked: the client's reason is the first
 * rule that its most promising offer (TLS 1.3, or TLS 1.2 and older) breaks. `sni` is
 * only ever given for a policy with require_sni; cert_key and cert_sig only by: server.
 */
enum tls_policy_reason {
	TLS_REASON_NONE = 0,
	TLS_REASON_VERSION,
	TLS_REASON_CIPHER,
	TLS_REASON_GROUP,
	TLS_REASON_EMS,
	TLS_REASON_SNI,
	TLS_REASON_CERT_KEY,
	TLS_REASON_CERT_SIG,
};

struct tls_verdict {
	uint8_t by;	/* enum tls_policy_by */
	uint8_t reason; /* enum tls_policy_reason */
};

/* tls_policy_set_init - the built-in profiles, active list `tls12` (DESIGN.md default). */
void tls_policy_set_init(struct tls_policy_set *ps);

/*
 * tls_policy_set - one `policy.NAME.KEY = value` line: creates policy NAME on first
 * use (with no rules, or a copy of `base`), then applies KEY (min_version, max_version,
 * ciphers, tls13_ciphers, groups, require_ems, require_sni, min_rsa_bits, min_ec_bits,
 * cert_keys, cert_sigs, forbid_sig, base). Dashes in KEY count as underscores.
 * 0, or -EINVAL/-ENOSPC with @err naming "policy.NAME.KEY" and the reason.
 */
int tls_policy_set(struct tls_policy_set *ps, const char *name, const char *key,
		   const char *value, char *err, size_t errlen);

/*
 * tls_policy_set_list - `policies = a,b,c` (or `none`); the names are resolved by
 * tls_policy_set_finish(), so the list may name policies defined further down.
 */
int tls_policy_set_list(struct tls_policy_set *ps, const char *value, char *err,
			size_t errlen);

/*
 * tls_policy_config - a whole config key: "policies" or "policy.NAME.KEY" (the key as
 * written, NAME keeps its dashes). -ENOENT when @key is neither, else as above.
 */
int tls_policy_config(struct tls_policy_set *ps, const char *key, const char *value, char *err,
		      size_t errlen);

/* tls_policy_is_config_key - @key is "policies" or starts with "policy.". */
bool tls_policy_is_config_key(const char *key);

/*
 * tls_policy_set_finish - after the whole configuration: resolve the `policies` list
 * and check each defined policy is consistent (min_version <= max_version). 0 or
 * -EINVAL with @err ("policies: 'foo' is neither a built-in profile nor defined").
 */
int tls_policy_set_finish(struct tls_policy_set *ps, char *err, size_t errlen);

/*
 * tls_policy_config_fn - tls_policy_config() for a struct tls_policy_set passed as @ps:
 * the configuration's hook for the keys it does not own (config.h, cfg_key_fn).
 */
int tls_policy_config_fn(void *ps, const char *key, const char *value, char *err,
			 size_t errlen);

/*
 * tls_policy_digest - a non-zero 64-bit digest of what @p checks (not its name): two
 * definitions with the same digest judge every handshake alike, so counts kept under a
 * name can be told apart from counts of an edited policy of the same name.
 */
uint64_t tls_policy_digest(const struct tls_policy *p);

/* tls_policy_list_string - the active names "tls12,fips-ems" ("none") into @buf. */
void tls_policy_list_string(const struct tls_policy_set *ps, char *buf, size_t len);

/* tls_policy_find - the policy called @name, or NULL. */
const struct tls_policy *tls_policy_find(const struct tls_policy_set *ps, const char *name);

/* tls_policy_active - the i-th active policy (i < ps->n_active). */
const struct tls_policy *tls_policy_active(const struct tls_policy_set *ps, unsigned int i);

/*
 * tls_policy_judge - the verdict of @p on @o. An offer without a ClientHello passes
 * (there is nothing to judge); without a ServerHello only the client is judged.
 */
void tls_policy_judge(const struct tls_policy *p, const struct tls_offer *o,
		      struct tls_verdict *v);

/* tls_policy_judge_active - one verdict per active policy into @v[0..n_active). */
void tls_policy_judge_active(const struct tls_policy_set *ps, const struct tls_offer *o,
			     struct tls_verdict *v);

/*
 * tls_policy_judge_record - would_fail of @r against the active policies of @ps, from
 * the offer the record keeps; a plaintext SMTP session is not judged (would_fail null).
 */
void tls_policy_judge_record(const struct tls_policy_set *ps, struct hs_record *r);

/*
 * tls_verdicts_json - the record's would_fail object for the active policies:
 * {"tls12":{"by":"client","reason":"version"}}, or {} when all pass. NUL-terminated;
 * returns the length, or -1 (and an empty @buf) when @len is too small.
 */
int tls_verdicts_json(const struct tls_policy_set *ps, const struct tls_verdict *v, char *buf,
		      size_t len);

/* Names: "client"/"server" (NULL for a pass), "version", "cipher", ... (NULL for none). */
const char *tls_policy_by_name(enum tls_policy_by by);
const char *tls_policy_reason_name(enum tls_policy_reason r);

/* tls_policy_ecdhe_pages_ok - the fast ECDHE suite test agrees with the names (tests). */
bool tls_policy_ecdhe_pages_ok(void);

/* Built-in profiles, in docs/policies.md order: names for --help and the docs. */
size_t tls_policy_builtin_count(void);
const char *tls_policy_builtin_name(size_t i);

#endif /* TLSAUDIT_POLICY_H */

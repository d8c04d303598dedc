// SPDX-License-Identifier: GPL-2.0-only
/*
 * The handshake record in Elastic Common Schema (ECS 8.x field reference: event, tls,
 * process, user, container, source, destination, client, server, network), one JSON
 * object per line, nested objects as ECS documents are, for SIEM pipelines (Elastic,
 * Loki, Splunk) that take ECS as it is. What ECS has no field for sits under tlsaudit.*
 * with the names of tlsaudit's own record. Absent values are left out, as ECS producers
 * do, rather than written as null. The mapping is in docs/metrics.md, "Handshake log in
 * ECS".
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "tlsaudit/cert.h"
#include "tlsaudit/export.h"
#include "tlsaudit/policy.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"

#define ECS_VERSION "8.11.0"
#define ECS_DEPTH 6

/* A JSON writer that knows, per open object, whether a member was written yet. */
struct eb {
	char *buf;
	size_t len, off;
	bool err;
	int depth;
	bool any[ECS_DEPTH];
};

static void raw(struct eb *b, const char *s)
{
	size_t n = strlen(s);

	if (b->err || b->off >= b->len || n >= b->len - b->off) {
		b->err = true;
		return;
	}
	memcpy(b->buf + b->off, s, n + 1);
	b->off += n;
}

/* key - ,"name": (the comma only after a first member); names are ours: no escaping. */
static void key(struct eb *b, const char *name)
{
	if (b->any[b->depth])
		raw(b, ",");
	b->any[b->depth] = true;
	raw(b, "\"");
	raw(b, name);
	raw(b, "\":");
}

static void open_obj(struct eb *b, const char *name)
{
	if (name)
		key(b, name);
	raw(b, "{");
	if (b->depth + 1 >= ECS_DEPTH) {
		b->err = true;
		return;
	}
	b->any[++b->depth] = false;
}

static void close_obj(struct eb *b)
{
	raw(b, "}");
	if (b->depth > 0)
		b->depth--;
}

/* str - "name":"value", escaped; left out when @s is NULL or empty. */
static void str(struct eb *b, const char *name, const char *s)
{
	if (!s || !*s)
		return;
	key(b, name);
	if (!b->err && util_json_string(b->buf, b->len, &b->off, s))
		b->err = true;
}

/* str_list - "name":["value"]: ECS keeps some single values as arrays. */
static void str_list(struct eb *b, const char *name, const char *s)
{
	if (!s || !*s)
		return;
	key(b, name);
	raw(b, "[");
	if (!b->err && util_json_string(b->buf, b->len, &b->off, s))
		b->err = true;
	raw(b, "]");
}

static void num(struct eb *b, const char *name, uint64_t v)
{
	char tmp[21];

	tmp[util_fmt_dec(v, tmp)] = '\0';
	key(b, name);
	raw(b, tmp);
}

static void boolean(struct eb *b, const char *name, bool v)
{
	key(b, name);
	raw(b, v ? "true" : "false");
}

static void tri(struct eb *b, const char *name, enum hs_tri v)
{
	if (v != HS_TRI_NULL)
		boolean(b, name, v == HS_TRI_TRUE);
}

/*
 * ecs_version - ECS tls.version is the number alone ("1.2") and version_protocol the
 * lowercase protocol ("tls", "ssl"); false for a code with no name.
 */
static bool ecs_version(uint16_t v, const char **num_out, const char **proto)
{
	static const struct {
		uint16_t code;
		const char *num, *proto;
	} map[] = {
		{ TLS_V_SSL2, "2.0", "ssl" }, { TLS_V_SSL3, "3.0", "ssl" }, { TLS_V_10, "1.0", "tls" },
		{ TLS_V_11, "1.1", "tls" },   { TLS_V_12, "1.2", "tls" },   { TLS_V_13, "1.3", "tls" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(map); i++) {
		if (map[i].code == v) {
			*num_out = map[i].num;
			*proto = map[i].proto;
			return true;
		}
	}
	return false;
}

static void endpoint(struct eb *b, const char *name, const struct hs_endpoint *ep,
		     const char *address)
{
	char ip[64];

	if (!ep->family)
		return;
	util_format_ip(ep->family, ep->addr, ip, sizeof(ip));
	open_obj(b, name);
	str(b, "address", address ? address : ip);
	str(b, "ip", ip);
	num(b, "port", ep->port);
	close_obj(b);
}

/* event.outcome: success (established), failure (did not complete), unknown (plaintext). */
static void event(struct eb *b, const struct hs_record *r)
{
	bool plain = r->kind == HS_KIND_PLAINTEXT_SMTP;

	open_obj(b, "event");
	str(b, "kind", "event");
	key(b, "category");
	raw(b, "[\"network\"]");
	key(b, "type");
	raw(b, "[\"connection\",\"protocol\"]");
	str(b, "action", plain ? "smtp-plaintext-session" : "tls-handshake");
	str(b, "outcome", plain ? "unknown"
			  : r->outcome == HS_OUTCOME_ESTABLISHED ? "success"
			  : hs_failed(r) ? "failure" : "unknown");
	str(b, "module", "tlsaudit");
	str(b, "dataset", "tlsaudit.handshake");
	close_obj(b);
}

/*
 * public_key - the record's key name ("RSA-2048", "RSA-PSS-3072", "DSA-1024",
 * "EC-P-256", "EC-brainpoolP512r1", "EC-521" for explicit parameters, "Ed25519") as
 * x509.public_key_algorithm and _curve; the algorithm's names are those of Go's
 * crypto/x509 ("ECDSA" for an EC key), which ECS names as its reference for
 * signature_algorithm. The size in bits is the one the policies read from the same
 * name (struct tls_offer): 256 for Ed25519, 521 for P-521; left out when unknown (a
 * record without its ClientHello has no offer).
 */
static void public_key(struct eb *b, const char *key, const struct tls_offer *o)
{
	static const struct {
		const char *prefix, *algorithm;
		bool curve;
	} map[] = {
		{ "RSA-PSS-", "RSA-PSS", false }, { "RSA-", "RSA", false },
		{ "DSA-", "DSA", false },	  { "EC-", "ECDSA", true },
		{ "Ed25519", "Ed25519", false },  { "Ed448", "Ed448", false },
	};
	const char *rest;
	size_t i, n;

	for (i = 0; i < ARRAY_SIZE(map); i++) {
		n = strlen(map[i].prefix);
		if (!strncmp(key, map[i].prefix, n))
			break;
	}
	if (i == ARRAY_SIZE(map)) {
		/* a type cert.c names by libcrypto's name only; "unknown" is no name */
		if (strcmp(key, "unknown"))
			str(b, "public_key_algorithm", key);
		return;
	}
	str(b, "public_key_algorithm", map[i].algorithm);
	rest = key + n;
	/* "EC-521": explicit curve parameters, no name to give */
	if (map[i].curve && rest[strspn(rest, "0123456789")])
		str(b, "public_key_curve", rest);
	if (o->cert_key != TLS_OFFER_KEY_UNKNOWN && o->cert_bits)
		num(b, "public_key_size", o->cert_bits);
}

/* tls.server.*: the leaf certificate where it crossed in the clear and was decoded. */
static void server_cert(struct eb *b, const struct hs_cert *c, const struct tls_offer *o)
{
	char when[32], hash[65];
	size_t i;

	if (c->state != HS_CERT_OK)
		return;
	tls_cert_format_time(c->not_after, when, sizeof(when));
	/* ECS writes certificate hashes in uppercase. */
	for (i = 0; c->sha256[i] && i < sizeof(hash) - 1; i++)
		hash[i] = c->sha256[i] >= 'a' && c->sha256[i] <= 'f' ? c->sha256[i] - 32
								     : c->sha256[i];
	hash[i] = '\0';
	open_obj(b, "server");
	open_obj(b, "hash");
	str(b, "sha256", hash);
	close_obj(b);
	str(b, "not_after", when);
	open_obj(b, "x509");
	open_obj(b, "subject");
	str_list(b, "common_name", c->subject);
	close_obj(b);
	open_obj(b, "issuer");
	str_list(b, "common_name", c->issuer);
	close_obj(b);
	str(b, "not_after", when);
	str(b, "signature_algorithm", c->sig);
	public_key(b, c->key, o);
	close_obj(b);
	close_obj(b);
}

static void tls_fields(struct eb *b, const struct hs_record *r)
{
	const char *vnum, *proto;
	char id[7] = "0x";

	if (r->kind == HS_KIND_PLAINTEXT_SMTP)
		return;
	util_fmt_hex4(r->cipher_id, id + 2);
	id[6] = '\0';
	open_obj(b, "tls");
	if (r->version && ecs_version(r->version, &vnum, &proto)) {
		str(b, "version", vnum);
		str(b, "version_protocol", proto);
	}
	if (r->has_cipher)
		str(b, "cipher", tls_cipher_name(r->cipher_id) ?: id);
	if (r->has_group)
		str(b, "curve", tls_group_name(r->group));
	boolean(b, "established", r->outcome == HS_OUTCOME_ESTABLISHED);
	if (r->alpn_chosen)
		str(b, "next_protocol", r->alpn);
	open_obj(b, "client");
	str(b, "ja3", r->ja3);
	str(b, "server_name", r->sni);
	close_obj(b);
	server_cert(b, &r->cert, &r->offer);
	close_obj(b);
}

static void process(struct eb *b, const struct hs_proc *p)
{
	char uid[21];

	if (!p->known)
		return;
	open_obj(b, "process");
	num(b, "pid", p->pid);
	str(b, "executable", p->exe);
	str(b, "name", p->comm);
	close_obj(b);
	if (p->uid != UINT32_MAX) {
		uid[util_fmt_dec(p->uid, uid)] = '\0';
		open_obj(b, "user");
		str(b, "id", uid);
		close_obj(b);
	}
	if (p->container[0] || p->container_id[0]) {
		open_obj(b, "container");
		str(b, "id", p->container_id);
		str(b, "name", p->container);
		close_obj(b);
	}
}

/* tlsaudit.*: what ECS has no field for, named as in tlsaudit's own record. */
static void own(struct eb *b, const struct hs_record *r, const struct tls_policy_set *ps)
{
	const char *names[TLS_CERT_N_PROBLEMS];
	char v[TLS_POLICY_ACTIVE_MAX * (TLS_POLICY_NAME_MAX + 40) + 8], id[7] = "0x";
	size_t i, n;

	open_obj(b, "tlsaudit");
	str(b, "role", hs_role_name(r->role));
	str(b, "offered_max", r->offered_max ? tls_version_name(r->offered_max) : NULL);
	str(b, "version", r->version ? tls_version_name(r->version) : NULL);
	if (r->has_cipher) {
		util_fmt_hex4(r->cipher_id, id + 2);
		id[6] = '\0';
		str(b, "cipher_id", id);
	}
	if (r->kind == HS_KIND_TLS) {
		boolean(b, "legacy", hs_legacy(r));
		str(b, "limited_by", hs_limited_name(hs_limited_by(r)));
		boolean(b, "weak_cipher", hs_weak_cipher(r));
	}
	if (r->has_group)
		str(b, "group", tls_group_name(r->group));
	str(b, "starttls", r->starttls_smtp ? "smtp" : NULL);
	/* the client's offer, which no ECS field holds */
	if (!r->alpn_chosen)
		str(b, "alpn", r->alpn);
	str(b, "ja4", r->ja4);
	if (r->proc.known) {
		str(b, "unit", r->proc.unit);
		str(b, "cgroup", r->proc.cgroup);
		str(b, "tls_lib", r->proc.tls_lib);
	}
	str(b, "outcome", hs_outcome_name(r->outcome));
	str(b, "outcome_by", hs_side_name(r->outcome_by));
	if (r->has_alert)
		str(b, "alert", tls_alert_name(r->alert));
	str(b, "smtp_tls", hs_smtp_tls_name(r->smtp_tls));
	str(b, "mx_host", r->mx_host);
	tri(b, "plaintext_fallback", r->plaintext_fallback);
	if (r->cert.state == HS_CERT_OK) {
		key(b, "cert_problems");
		raw(b, "[");
		n = tls_cert_problem_names(r->cert.problems, names);
		for (i = 0; i < n; i++) {
			if (i)
				raw(b, ",");
			if (!b->err && util_json_string(b->buf, b->len, &b->off, names[i]))
				b->err = true;
		}
		raw(b, "]");
		tri(b, "client_accepted_bad_cert", r->cert.accepted_bad);
	}
	if (ps && r->judged && r->n_verdicts == ps->n_active &&
	    tls_verdicts_json(ps, r->verdicts, v, sizeof(v)) >= 0) {
		key(b, "would_fail");
		raw(b, v);
	}
	close_obj(b);
}

int export_ecs_record(const struct hs_record *r, const struct tls_policy_set *ps, char *buf,
		      size_t len)
{
	struct eb b = { .buf = buf, .len = len };
	const char *server_name = r->sni[0] ? r->sni : r->mx_host[0] ? r->mx_host : NULL;
	char when[40];

	util_format_time(r->time_ns, when, sizeof(when));
	open_obj(&b, NULL);
	str(&b, "@timestamp", when);
	open_obj(&b, "ecs");
	str(&b, "version", ECS_VERSION);
	close_obj(&b);
	event(&b, r);
	open_obj(&b, "network");
	str(&b, "transport", "tcp");
	str(&b, "type", r->server.family == AF_INET6 ? "ipv6" : "ipv4");
	str(&b, "protocol", r->kind == HS_KIND_PLAINTEXT_SMTP || r->starttls_smtp ? "smtp" : "tls");
	close_obj(&b);
	/* A handshake goes from its client to its server, whichever end is local. */
	endpoint(&b, "source", &r->client, NULL);
	endpoint(&b, "destination", &r->server, NULL);
	endpoint(&b, "client", &r->client, NULL);
	endpoint(&b, "server", &r->server, server_name);
	tls_fields(&b, r);
	process(&b, &r->proc);
	own(&b, r, ps);
	close_obj(&b);
	return b.err ? -1 : (int)b.off;
}

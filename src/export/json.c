// SPDX-License-Identifier: GPL-2.0-only
/*
 * The handshake record as one JSON object (RFC 8259), fields in DESIGN.md's order.
 * Field names and value forms are an interface: scripts and the daemon's handshake log
 * depend on them, so a change here is a change of the format.
 */
#include <stdio.h>
#include <string.h>

#include "tlsaudit/cert.h"
#include "tlsaudit/export.h"
#include "tlsaudit/policy.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"

/*
 * Appenders without printf: `read --json` writes one line per handshake, and format
 * parsing was a quarter of its run time. Each returns -1 once the buffer is full.
 * The ones that take a key are always inlined: every key is a literal, whose strlen()
 * the compiler then folds.
 */
#define PUT_INLINE static inline __attribute__((always_inline))

PUT_INLINE int put(char *buf, size_t len, size_t *off, const char *s)
{
	size_t n = strlen(s);

	if (*off >= len || n >= len - *off)
		return -1;
	memcpy(buf + *off, s, n + 1);
	*off += n;
	return 0;
}

static int put_uint(char *buf, size_t len, size_t *off, uint64_t v)
{
	char tmp[21];

	tmp[util_fmt_dec(v, tmp)] = '\0';
	return put(buf, len, off, tmp);
}

/* ,"key": */
PUT_INLINE int put_key(char *buf, size_t len, size_t *off, const char *key)
{
	size_t n = strlen(key);

	if (*off >= len || n + 5 > len - *off)
		return -1;
	buf[*off] = ',';
	buf[*off + 1] = '"';
	memcpy(buf + *off + 2, key, n);
	memcpy(buf + *off + 2 + n, "\":", 3);
	*off += n + 4;
	return 0;
}

/* "0xNNNN", the form of cipher_id and of unnamed registry values. */
static void hex4(uint16_t v, char out[7])
{
	out[0] = '0';
	out[1] = 'x';
	util_fmt_hex4(v, out + 2);
	out[6] = '\0';
}

/* "name": then a string, or null when @s is NULL or empty. */
PUT_INLINE int put_str(char *buf, size_t len, size_t *off, const char *key, const char *s)
{
	if (put_key(buf, len, off, key))
		return -1;
	if (!s || !*s)
		return put(buf, len, off, "null");
	return util_json_string(buf, len, off, s);
}

/* A registry name, else the number as "0xNNNN" so the value is still groupable. */
static int put_named(char *buf, size_t len, size_t *off, const char *key, const char *name,
		     uint16_t v)
{
	char num[7];

	if (name)
		return put_str(buf, len, off, key, name);
	hex4(v, num);
	return put_str(buf, len, off, key, num);
}

static int put_version(char *buf, size_t len, size_t *off, const char *key, uint16_t v)
{
	if (!v)
		return put_str(buf, len, off, key, NULL);
	return put_named(buf, len, off, key, tls_version_name(v), v);
}

static int put_endpoints(char *buf, size_t len, size_t *off, const struct hs_record *r)
{
	char ip[64];

	util_format_ip(r->client.family, r->client.addr, ip, sizeof(ip));
	if (put_str(buf, len, off, "client_ip", ip) ||
	    put_key(buf, len, off, "client_port") || put_uint(buf, len, off, r->client.port))
		return -1;
	util_format_ip(r->server.family, r->server.addr, ip, sizeof(ip));
	if (put_str(buf, len, off, "server_ip", ip) ||
	    put_key(buf, len, off, "server_port") || put_uint(buf, len, off, r->server.port))
		return -1;
	return 0;
}

static int put_proc(char *buf, size_t len, size_t *off, const struct hs_proc *p)
{
	if (!p->known)
		return put(buf, len, off,
			   ",\"pid\":null,\"comm\":null,\"exe\":null,\"uid\":null,\"cgroup\":null"
			   ",\"unit\":null,\"container\":null,\"container_id\":null"
			   ",\"tls_lib\":null");
	if (put_key(buf, len, off, "pid") || put_uint(buf, len, off, p->pid) ||
	    put_str(buf, len, off, "comm", p->comm) || put_str(buf, len, off, "exe", p->exe) ||
	    put_key(buf, len, off, "uid") || put_uint(buf, len, off, p->uid) ||
	    put_str(buf, len, off, "cgroup", p->cgroup) || put_str(buf, len, off, "unit", p->unit) ||
	    put_str(buf, len, off, "container", p->container) ||
	    put_str(buf, len, off, "container_id", p->container_id) ||
	    put_str(buf, len, off, "tls_lib", p->tls_lib))
		return -1;
	return 0;
}

static int put_tri(char *buf, size_t len, size_t *off, const char *key, enum hs_tri v)
{
	return put_key(buf, len, off, key) ||
	       put(buf, len, off, v == HS_TRI_TRUE ? "true" : v == HS_TRI_FALSE ? "false" : "null");
}

/* outcome, outcome_by, alert, smtp_tls, mx_host, plaintext_fallback (DESIGN.md order). */
static int put_outcome(char *buf, size_t len, size_t *off, const struct hs_record *r)
{
	if (put_str(buf, len, off, "outcome", hs_outcome_name(r->outcome)) ||
	    put_str(buf, len, off, "outcome_by", hs_side_name(r->outcome_by)))
		return -1;
	if (r->has_alert) {
		if (put_named(buf, len, off, "alert", tls_alert_name(r->alert), r->alert))
			return -1;
	} else if (put_str(buf, len, off, "alert", NULL)) {
		return -1;
	}
	return put_str(buf, len, off, "smtp_tls", hs_smtp_tls_name(r->smtp_tls)) ||
	       put_str(buf, len, off, "mx_host", r->mx_host) ||
	       put_tri(buf, len, off, "plaintext_fallback", r->plaintext_fallback);
}

/*
 * cert_subject ... cert_problems, client_accepted_bad_cert (DESIGN.md order): all null
 * unless the leaf crossed in the clear and was decoded; cert_problems is then a list,
 * [] when the certificate has none.
 */
static int put_cert(char *buf, size_t len, size_t *off, const struct hs_record *r)
{
	const struct hs_cert *c = &r->cert;
	const char *names[TLS_CERT_N_PROBLEMS];
	char when[32];
	size_t i, n;

	if (c->state != HS_CERT_OK)
		return put(buf, len, off,
			   ",\"cert_subject\":null,\"cert_issuer\":null,\"cert_not_after\":null"
			   ",\"cert_key\":null,\"cert_sig\":null,\"cert_sha256\":null"
			   ",\"cert_problems\":null,\"client_accepted_bad_cert\":null");
	tls_cert_format_time(c->not_after, when, sizeof(when));
	if (put_str(buf, len, off, "cert_subject", c->subject) ||
	    put_str(buf, len, off, "cert_issuer", c->issuer) ||
	    put_str(buf, len, off, "cert_not_after", when) ||
	    put_str(buf, len, off, "cert_key", c->key) || put_str(buf, len, off, "cert_sig", c->sig) ||
	    put_str(buf, len, off, "cert_sha256", c->sha256) ||
	    put_key(buf, len, off, "cert_problems") || put(buf, len, off, "["))
		return -1;
	n = tls_cert_problem_names(c->problems, names);
	for (i = 0; i < n; i++) {
		if ((i && put(buf, len, off, ",")) || util_json_string(buf, len, off, names[i]))
			return -1;
	}
	return put(buf, len, off, "]") ||
	       put_tri(buf, len, off, "client_accepted_bad_cert", c->accepted_bad);
}

/*
 * would_fail: the verdicts the record carries, named by the set that judged it; null on
 * a plaintext session or when no set judged it (or another one did: the counts differ).
 */
static int put_would_fail(char *buf, size_t len, size_t *off, const struct hs_record *r,
			  const struct tls_policy_set *ps)
{
	int n;

	if (put_key(buf, len, off, "would_fail"))
		return -1;
	if (!ps || !r->judged || r->n_verdicts != ps->n_active)
		return put(buf, len, off, "null");
	/* Written in place: put_key() left room for at least its NUL. */
	n = tls_verdicts_json(ps, r->verdicts, buf + *off, len - *off);
	if (n < 0)
		return -1;
	*off += (size_t)n;
	return 0;
}

int export_json_record(const struct hs_record *r, const struct tls_policy_set *ps, char *buf,
		       size_t len)
{
	char tbuf[40], id[7];
	size_t off = 0;

	util_format_time(r->time_ns, tbuf, sizeof(tbuf));
	hex4(r->cipher_id, id);
	if (put(buf, len, &off, "{\"time\":\"") || put(buf, len, &off, tbuf) ||
	    put(buf, len, &off, "\"") ||
	    put_str(buf, len, &off, "role", hs_role_name(r->role)) || put_endpoints(buf, len, &off, r) ||
	    put_str(buf, len, &off, "sni", r->sni) ||
	    put_version(buf, len, &off, "offered_max", r->offered_max) ||
	    put_version(buf, len, &off, "version", r->version) ||
	    put_str(buf, len, &off, "cipher",
		    r->has_cipher ? (tls_cipher_name(r->cipher_id) ?: id) : NULL) ||
	    put_str(buf, len, &off, "cipher_id", r->has_cipher ? id : NULL) ||
	    put_key(buf, len, &off, "legacy") ||
	    put(buf, len, &off, hs_legacy(r) ? "true" : "false") ||
	    put_str(buf, len, &off, "limited_by", hs_limited_name(hs_limited_by(r))) ||
	    put_key(buf, len, &off, "weak_cipher") ||
	    put(buf, len, &off, hs_weak_cipher(r) ? "true" : "false"))
		return -1;
	if (r->has_group) {
		if (put_named(buf, len, &off, "group", tls_group_name(r->group), r->group))
			return -1;
	} else if (put_str(buf, len, &off, "group", NULL)) {
		return -1;
	}
	if (put_str(buf, len, &off, "starttls", r->starttls_smtp ? "smtp" : NULL) ||
	    put_str(buf, len, &off, "alpn", r->alpn) || put_str(buf, len, &off, "ja3", r->ja3) ||
	    put_str(buf, len, &off, "ja4", r->ja4) || put_proc(buf, len, &off, &r->proc) ||
	    put_outcome(buf, len, &off, r) || put_cert(buf, len, &off, r) ||
	    put_would_fail(buf, len, &off, r, ps) || put(buf, len, &off, "}"))
		return -1;
	return (int)off;
}

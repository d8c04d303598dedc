// SPDX-License-Identifier: GPL-2.0-only
/*
 * Aggregation of handshake records into per-process rows and a ring of recent records.
 * Rows live in one array (first-seen order); an open-addressing table of row indexes
 * finds them. Rows leave only by folding into "other" (agg__bound, the key cap), a
 * batch operation after which the array is compacted and the table rebuilt, so no
 * tombstones are needed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsaudit/agg.h"
#include "tlsaudit/attrib.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"

#define NS_PER_HOUR (3600ULL * NSEC_PER_SEC)

struct agg {
	struct agg_row *rows;
	size_t n_rows, cap_rows;
	size_t max_keys;
	int64_t other_idx;	/* row index of "other", -1 until needed */
	uint32_t *slots;	/* row index + 1, 0 = empty */
	size_t n_slots;		/* power of two, at least twice max_keys */
	struct hs_record *ring;
	size_t ring_size, ring_head, ring_count;
	struct agg_totals totals;
	const struct tls_policy_set *policies; /* names the records' verdicts */
	agg_series_fn series_fn; /* a row's weight in series; NULL: 1 */
	void *series_ctx;
};

enum agg_ver agg_version_bucket(uint16_t version)
{
	switch (version) {
	case TLS_V_SSL2:
		return AGG_V_SSL2;
	case TLS_V_SSL3:
		return AGG_V_SSL3;
	case TLS_V_10:
		return AGG_V_TLS10;
	case TLS_V_11:
		return AGG_V_TLS11;
	case TLS_V_12:
		return AGG_V_TLS12;
	case TLS_V_13:
		return AGG_V_TLS13;
	default:
		return AGG_V_UNKNOWN;
	}
}

const char *agg_version_label(enum agg_ver v)
{
	static const char *const names[AGG_V_COUNT] = {
		"SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3", "unknown",
	};

	return (unsigned int)v < AGG_V_COUNT ? names[v] : "unknown";
}

const char *agg_role_name(enum hs_role role)
{
	const char *name = hs_role_name(role);

	return name ? name : "unknown";
}

const char *agg_row_name(const struct agg_row *row)
{
	if (row->key.other)
		return "other";
	if (row->key.exe[0])
		return row->key.exe;
	if (row->key.comm[0])
		return row->key.comm;
	return "?";
}

void agg_key_from_record(const struct hs_record *r, struct agg_key *k)
{
	memset(k, 0, sizeof(*k));
	if (r->proc.known) {
		util_strlcpy(k->exe, r->proc.exe, sizeof(k->exe));
		/* comm only identifies a process when the exe could not be read. */
		if (!k->exe[0])
			util_strlcpy(k->comm, r->proc.comm, sizeof(k->comm));
		/* Per-run scopes (a container's, a login's) would make a key per run. */
		attrib_unit_label(r->proc.unit, k->unit, sizeof(k->unit));
		util_strlcpy(k->container, r->proc.container, sizeof(k->container));
	}
	k->role = r->role;
	k->port = r->server.port;
}

static bool key_eq(const struct agg_key *a, const struct agg_key *b)
{
	return a->role == b->role && a->port == b->port && a->other == b->other &&
	       !strcmp(a->exe, b->exe) && !strcmp(a->comm, b->comm) &&
	       !strcmp(a->unit, b->unit) && !strcmp(a->container, b->container);
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	/* With its NUL, so ("ab","c") and ("a","bc") hash apart. */
	return util_fnv1a(h, s, strlen(s) + 1);
}

static uint64_t key_hash(const struct agg_key *k)
{
	uint64_t h = UTIL_FNV1A_INIT;

	h = fnv_str(h, k->exe);
	h = fnv_str(h, k->comm);
	h = fnv_str(h, k->unit);
	h = fnv_str(h, k->container);
	h ^= ((uint64_t)k->role << 17) ^ ((uint64_t)k->port << 1) ^ (uint64_t)k->other;
	return h * UTIL_FNV1A_PRIME;
}

struct agg *agg__new(size_t max_keys, size_t ring_size)
{
	struct agg *a;
	size_t slots = 16;

	if (!max_keys || max_keys > (1u << 24) || ring_size > (1u << 20)) {
		errno = EINVAL;
		return NULL;
	}
	while (slots < max_keys * 2)
		slots <<= 1;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->max_keys = max_keys;
	a->other_idx = -1;
	a->n_slots = slots;
	a->slots = calloc(slots, sizeof(*a->slots));
	a->ring_size = ring_size;
	if (ring_size)
		a->ring = util_reallocarray(NULL, ring_size, sizeof(*a->ring));
	if (!a->slots || (ring_size && !a->ring)) {
		agg__free(a);
		errno = ENOMEM;
		return NULL;
	}
	return a;
}

void agg__free(struct agg *a)
{
	if (!a)
		return;
	free(a->rows);
	free(a->slots);
	free(a->ring);
	free(a);
}

static struct agg_row *append_row(struct agg *a, const struct agg_key *k)
{
	struct agg_row *row;

	if (a->n_rows == a->cap_rows) {
		size_t ncap = a->cap_rows ? a->cap_rows * 2 : 64;
		struct agg_row *tmp = util_reallocarray(a->rows, ncap, sizeof(*a->rows));

		if (!tmp)
			return NULL;
		a->rows = tmp;
		a->cap_rows = ncap;
	}
	row = &a->rows[a->n_rows++];
	memset(row, 0, sizeof(*row));
	row->key = *k;
	return row;
}

static size_t fold_lru(struct agg *a);

/*
 * find_row - the row for @k, created when new. At the key cap the least recently seen
 * row is folded into "other" to make room: the new program is the one the operator is
 * looking for. Only when that fails (no memory) does @k itself go to "other"; *folded
 * says so.
 */
static struct agg_row *find_row(struct agg *a, const struct agg_key *k, bool *folded)
{
	size_t mask = a->n_slots - 1, i;
	struct agg_row *row;
	struct agg_key other;

	*folded = false;
	if (k->other)
		goto fold;
again:
	for (i = key_hash(k) & mask;; i = (i + 1) & mask) {
		uint32_t s = a->slots[i];

		if (!s)
			break;
		if (key_eq(&a->rows[s - 1].key, k))
			return &a->rows[s - 1];
	}
	if (a->n_rows - (a->other_idx >= 0) >= a->max_keys) {
		/* The fold rebuilds the table: probe again. */
		if (fold_lru(a))
			goto again;
		goto fold;
	}
	row = append_row(a, k);
	if (!row)
		goto fold;
	a->slots[i] = (uint32_t)a->n_rows;
	return row;
fold:
	*folded = !k->other;
	if (a->other_idx >= 0)
		return &a->rows[a->other_idx];
	memset(&other, 0, sizeof(other));
	other.other = true;
	row = append_row(a, &other);
	if (!row)
		return NULL;
	a->other_idx = (int64_t)(a->n_rows - 1);
	return row;
}

static bool ep_eq_addr(const struct hs_endpoint *a, const struct hs_endpoint *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/*
 * note_peer - remember @peer among the row's recent distinct peers; returns true when a
 * legacy handshake with it should be logged (not logged in the last hour).
 */
static bool note_peer(struct agg_row *row, const struct hs_endpoint *peer, bool legacy,
		      uint64_t now_ns)
{
	struct agg_peer *p = NULL;
	size_t i, oldest = 0;
	bool log = false;

	for (i = 0; i < row->n_peers; i++) {
		if (ep_eq_addr(&row->peers[i].ep, peer)) {
			p = &row->peers[i];
			break;
		}
		if (row->peers[i].last_seen_ns < row->peers[oldest].last_seen_ns)
			oldest = i;
	}
	if (!p) {
		if (row->n_peers < AGG_PEERS)
			p = &row->peers[row->n_peers++];
		else
			p = &row->peers[oldest];
		memset(p, 0, sizeof(*p));
		p->ep = *peer;
	}
	p->ep.port = peer->port;
	p->last_seen_ns = now_ns;
	if (legacy && (!p->last_logged_ns || now_ns - p->last_logged_ns >= NS_PER_HOUR ||
		       now_ns < p->last_logged_ns)) {
		p->last_logged_ns = now_ns;
		log = true;
	}
	return log;
}

/* alert_slot - the slot for this alert kind; a new one while there is room, else NULL. */
static struct agg_alert *alert_slot(struct agg_row *row, uint8_t by, bool sealed, uint8_t alert)
{
	struct agg_alert *al;
	size_t i;

	for (i = 0; i < row->n_alerts; i++) {
		al = &row->alerts[i];
		if (al->by == by && al->sealed == sealed && (sealed || al->alert == alert))
			return al;
	}
	if (row->n_alerts >= AGG_ALERT_SLOTS)
		return NULL;
	al = &row->alerts[row->n_alerts++];
	memset(al, 0, sizeof(*al));
	al->by = by;
	al->sealed = sealed;
	al->alert = sealed ? 0 : alert;
	return al;
}

/*
 * count_failure - a handshake that did not complete. One that never saw a ServerHello is
 * counted here only, not as a handshake of some version: a TLS 1.0 ClientHello refused
 * with protocol_version is the program already failing, not a TLS 1.0 handshake.
 */
static void count_failure(struct agg *a, struct agg_row *row, const struct hs_record *r,
			  const struct hs_endpoint *peer, uint64_t t)
{
	int o = agg_fail_idx(r->outcome);
	uint8_t by = r->outcome_by < AGG_SIDES ? r->outcome_by : HS_SIDE_NONE;
	struct agg_alert *al;

	if (o < 0)
		return;
	row->failures++;
	row->failed[o][by]++;
	a->totals.failures++;
	a->totals.failed[o]++;
	if (r->offered_max && r->offered_max < TLS_V_12)
		row->failed_old_offer++;
	if (!r->version)
		row->failed_early++;
	if (r->outcome == HS_OUTCOME_ALERT) {
		al = alert_slot(row, by, !r->has_alert, r->alert);
		if (al)
			al->count++;
	}
	if (t >= row->last_fail.time_ns) {
		struct agg_last_fail *lf = &row->last_fail;

		lf->time_ns = t;
		lf->outcome = r->outcome;
		lf->by = by;
		lf->has_alert = r->outcome == HS_OUTCOME_ALERT && r->has_alert;
		lf->alert = lf->has_alert ? r->alert : 0;
		lf->offered_max = r->offered_max;
		lf->peer = *peer;
		util_strlcpy(lf->sni, r->sni[0] ? r->sni : r->mx_host, sizeof(lf->sni));
	}
}

uint64_t agg_policy_failures(const struct agg_policy *p)
{
	uint64_t n = 0;
	size_t i, j;

	for (i = 0; i < 2; i++)
		for (j = 0; j < AGG_REASONS; j++)
			n += p->failed[i][j];
	return n;
}

static bool policy_active(const struct agg *a, const char *name)
{
	uint8_t i;

	for (i = 0; a->policies && i < a->policies->n_active; i++)
		if (!strcmp(tls_policy_active(a->policies, i)->name, name))
			return true;
	return false;
}

static uint64_t policy_last_ns(const struct agg_policy *p)
{
	return p->last_pass_ns > p->last_fail_ns ? p->last_pass_ns : p->last_fail_ns;
}

/*
 * policy_slot - the row's slot for @pol: its own, a free one, else the one of a policy
 * no longer active that was judged the longest ago (its counts are dropped: they
 * describe a policy nobody asks about any more). A slot of the same name whose counts
 * were made under another definition starts again: "safe to enforce since" must speak
 * of the policy as it is now. NULL only when every slot holds an active policy, which
 * cannot happen while slots >= active policies.
 */
static struct agg_policy *policy_slot(const struct agg *a, struct agg_row *row,
				      const char *name, uint64_t digest)
{
	struct agg_policy *p = NULL;
	size_t i;

	for (i = 0; i < row->n_pol; i++) {
		if (strcmp(row->pol[i].name, name))
			continue;
		p = &row->pol[i];
		if (p->digest && digest && p->digest != digest)
			break;
		/* A digest of 0 (a state file from before digests) is taken as the other's. */
		if (!p->digest)
			p->digest = digest;
		return p;
	}
	if (p) {
		/* Redefined: reuse the slot with fresh counts. */
	} else if (row->n_pol < AGG_POLICY_SLOTS) {
		p = &row->pol[row->n_pol++];
	} else {
		for (i = 0; i < row->n_pol; i++) {
			if (policy_active(a, row->pol[i].name))
				continue;
			if (!p || policy_last_ns(&row->pol[i]) < policy_last_ns(p))
				p = &row->pol[i];
		}
		if (!p)
			return NULL;
	}
	memset(p, 0, sizeof(*p));
	util_strlcpy(p->name, name, sizeof(p->name));
	p->digest = digest;
	return p;
}

/* count_policies - the record's verdicts, one per active policy of the set that judged it. */
static void count_policies(struct agg *a, struct agg_row *row, const struct hs_record *r,
			   const struct hs_endpoint *peer, uint64_t t)
{
	const struct tls_policy_set *ps = a->policies;
	const struct tls_policy *pol;
	struct agg_policy *p;
	uint8_t i;

	/* Judged by another set than the one in force (or not at all): nothing to name. */
	if (!ps || !r->judged || r->n_verdicts != ps->n_active)
		return;
	for (i = 0; i < ps->n_active; i++) {
		const struct tls_verdict *v = &r->verdicts[i];

		pol = tls_policy_active(ps, i);
		p = policy_slot(a, row, pol->name, pol->digest);
		if (!p)
			continue;
		if (!p->first_ns || t < p->first_ns)
			p->first_ns = t;
		if (v->by != TLS_POLICY_BY_CLIENT && v->by != TLS_POLICY_BY_SERVER) {
			p->passed++;
			if (t > p->last_pass_ns)
				p->last_pass_ns = t;
			continue;
		}
		p->failed[v->by - 1][v->reason < AGG_REASONS ? v->reason : 0]++;
		if (t >= p->last_fail_ns) {
			p->last_fail_ns = t;
			p->last_by = v->by;
			p->last_reason = v->reason;
			p->fail_peer = *peer;
			util_strlcpy(p->fail_sni, r->sni[0] ? r->sni : r->mx_host,
				     sizeof(p->fail_sni));
		}
	}
}

/*
 * smtp_reason - the record's SMTP TLS lifecycle, also for records from before the field
 * existed. A TLS session can only have upgraded, a plaintext one only not: a reason that
 * contradicts the kind counts as none, so the per-reason counts never exceed the kind's.
 */
static enum hs_smtp_tls smtp_reason(const struct hs_record *r)
{
	if (r->kind == HS_KIND_TLS)
		return r->smtp_tls == HS_SMTP_STARTTLS || r->starttls_smtp ? HS_SMTP_STARTTLS
									   : HS_SMTP_NONE;
	if (r->smtp_tls >= HS_SMTP_NOT_OFFERED && r->smtp_tls <= HS_SMTP_REFUSED)
		return (enum hs_smtp_tls)r->smtp_tls;
	return HS_SMTP_NONE;
}

_Static_assert(TLS_CERT_VERIFY_PROBLEMS == (1u << AGG_VERIFY_PROBLEMS) - 1,
	       "the verify problems are the first AGG_VERIFY_PROBLEMS bits");

/*
 * own_cert - the slot for a certificate a local server presented, by subject; a new
 * subject takes a free slot or the one seen the longest ago.
 */
static struct agg_own_cert *own_cert(struct agg_row *row, const char *subject)
{
	struct agg_own_cert *oc = NULL;
	size_t i;

	for (i = 0; i < row->n_own && i < AGG_OWN_CERTS; i++) {
		if (!strcmp(row->own[i].subject, subject))
			return &row->own[i];
		if (!oc || row->own[i].last_seen_ns < oc->last_seen_ns)
			oc = &row->own[i];
	}
	if (row->n_own < AGG_OWN_CERTS)
		oc = &row->own[row->n_own++];
	memset(oc, 0, sizeof(*oc));
	util_strlcpy(oc->subject, subject, sizeof(oc->subject));
	return oc;
}

static void note_own_cert(struct agg_row *row, const char *subject, int64_t not_after,
			  uint64_t t)
{
	struct agg_own_cert *oc = own_cert(row, subject);

	/* A renewed certificate keeps its subject: the newest one seen is the one served. */
	if (t >= oc->last_seen_ns) {
		oc->not_after = not_after;
		oc->last_seen_ns = t;
	}
}

/*
 * count_cert - a certificate that crossed in the clear: its problems, whether the client
 * went on past one it should have refused (with the peer and SNI of the latest), and,
 * for a local server, the certificate it presents.
 */
static void count_cert(struct agg *a, struct agg_row *row, const struct hs_record *r,
		       const struct hs_endpoint *peer, uint64_t t)
{
	const struct hs_cert *c = &r->cert;
	int i;

	for (i = 0; i < TLS_CERT_N_PROBLEMS; i++)
		row->cert_problems[i] += (c->problems >> i) & 1;
	if (c->problems) {
		row->cert_bad++;
		a->totals.cert_bad++;
	}
	if (c->accepted_bad == HS_TRI_TRUE && tls_cert_verify_problem(c->problems)) {
		for (i = 0; i < AGG_VERIFY_PROBLEMS; i++)
			row->bad_cert_accepted[i] += (c->problems >> i) & 1;
		row->cert_accepted++;
		a->totals.cert_accepted++;
		if (t >= row->last_bad.time_ns) {
			row->last_bad.time_ns = t;
			row->last_bad.problems = c->problems;
			row->last_bad.peer = *peer;
			util_strlcpy(row->last_bad.sni, r->sni[0] ? r->sni : r->mx_host,
				     sizeof(row->last_bad.sni));
			util_strlcpy(row->last_bad.subject, c->subject, sizeof(row->last_bad.subject));
		}
	}
	if (r->role == HS_ROLE_SERVER && c->subject[0])
		note_own_cert(row, c->subject, c->not_after, t);
}

int agg__add(struct agg *a, const struct hs_record *r, uint64_t now_ns)
{
	const struct hs_endpoint *peer;
	struct agg_row *row;
	struct agg_key k;
	enum hs_smtp_tls smtp = smtp_reason(r);
	bool folded, legacy = false, log;
	uint64_t t = r->time_ns ? r->time_ns : now_ns;

	agg_key_from_record(r, &k);
	row = find_row(a, &k, &folded);
	if (!row)
		return 0;
	a->totals.records++;
	if (folded)
		a->totals.folded++;
	/* The peer is the far end: the server for a local client, else the client. */
	peer = r->role == HS_ROLE_SERVER ? &r->client : &r->server;

	if (smtp != HS_SMTP_NONE) {
		row->smtp[smtp]++;
		a->totals.smtp[smtp]++;
	}
	if (r->kind == HS_KIND_PLAINTEXT_SMTP) {
		row->plaintext++;
		a->totals.plaintext++;
		if (r->plaintext_fallback == HS_TRI_TRUE && smtp != HS_SMTP_NONE) {
			row->fallback[smtp]++;
			a->totals.fallback++;
		}
		if (t >= row->last_plain_ns) {
			row->last_plain_ns = t;
			row->plain_peer = *peer;
			util_strlcpy(row->plain_mx, r->mx_host, sizeof(row->plain_mx));
		}
	} else {
		if (r->version) {
			row->handshakes++;
			a->totals.handshakes++;
			row->versions[agg_version_bucket(r->version)]++;
		}
		legacy = hs_legacy(r);
		if (legacy) {
			enum hs_limited lim = hs_limited_by(r);

			row->legacy++;
			a->totals.legacy++;
			if (lim == HS_LIMITED_CLIENT)
				row->limited_client++;
			else if (lim == HS_LIMITED_SERVER)
				row->limited_server++;
		}
		/* A suite without a negotiated version is no handshake to count it in. */
		if (r->version && hs_weak_cipher(r)) {
			row->weak_cipher++;
			a->totals.weak_cipher++;
		}
		if (hs_failed(r))
			count_failure(a, row, r, peer, t);
		count_policies(a, row, r, peer, t);
		if (r->cert.state == HS_CERT_OK)
			count_cert(a, row, r, peer, t);
		/* SMTP has no SNI: the greeting's host name stands for it. */
		if (r->sni[0] || r->mx_host[0])
			util_strlcpy(row->last_sni, r->sni[0] ? r->sni : r->mx_host,
				     sizeof(row->last_sni));
	}
	if (!row->first_seen_ns || t < row->first_seen_ns)
		row->first_seen_ns = t;
	if (t > row->last_seen_ns)
		row->last_seen_ns = t;
	row->last_peer = *peer;
	if (legacy) {
		row->legacy_peer = *peer;
		util_strlcpy(row->legacy_sni, r->sni, sizeof(row->legacy_sni));
	}
	if (r->proc.known) {
		if (r->proc.tls_lib[0])
			util_strlcpy(row->tls_lib, r->proc.tls_lib, sizeof(row->tls_lib));
		util_strlcpy(row->last_comm, r->proc.comm, sizeof(row->last_comm));
		row->last_pid = r->proc.pid;
	}
	/* The journal hears of each legacy, failing or fallen-back peer once an hour. */
	log = note_peer(row, peer,
			legacy || hs_failed(r) || r->plaintext_fallback == HS_TRI_TRUE, now_ns);

	if (a->ring_size) {
		a->ring[a->ring_head] = *r;
		a->ring_head = (a->ring_head + 1) % a->ring_size;
		if (a->ring_count < a->ring_size)
			a->ring_count++;
	}
	return log ? AGG_ADD_LOG : 0;
}

const char *agg_alert_label(const struct agg_alert *al, char *buf, size_t len)
{
	const char *name;

	if (al->sealed)
		return "encrypted";
	name = tls_alert_name(al->alert);
	if (name)
		return name;
	snprintf(buf, len, "0x%02x", al->alert);
	return buf;
}

uint64_t agg_alert_other(const struct agg_row *row, enum hs_side side)
{
	uint64_t n = row->failed[AGG_F_ALERT][side], in_slots = 0;
	size_t i;

	for (i = 0; i < row->n_alerts && i < AGG_ALERT_SLOTS; i++)
		if (row->alerts[i].by == side)
			in_slots += row->alerts[i].count;
	return n > in_slots ? n - in_slots : 0;
}

uint64_t agg_smtp_unknown(const struct agg_row *row)
{
	uint64_t known = row->smtp[HS_SMTP_NOT_OFFERED] + row->smtp[HS_SMTP_NOT_USED] +
			 row->smtp[HS_SMTP_REFUSED];

	return row->plaintext > known ? row->plaintext - known : 0;
}

/*
 * forget_redefined - clear every row's counts for an active policy whose definition
 * changed under the same name (edited in tlsaudit.conf, then reloaded), now rather than
 * at the row's next handshake, so that report and the textfile never mix definitions.
 */
static void forget_redefined(struct agg *a)
{
	const struct tls_policy_set *ps = a->policies;
	size_t r, i;
	uint8_t k;

	for (k = 0; ps && k < ps->n_active; k++) {
		const struct tls_policy *pol = tls_policy_active(ps, k);
		uint64_t digest = pol->digest;

		for (r = 0; r < a->n_rows; r++) {
			struct agg_row *row = &a->rows[r];

			for (i = 0; i < row->n_pol && i < AGG_POLICY_SLOTS; i++) {
				struct agg_policy *p = &row->pol[i];

				if (strcmp(p->name, pol->name) || !p->digest || !digest ||
				    p->digest == digest)
					continue;
				memset(p, 0, sizeof(*p));
				util_strlcpy(p->name, pol->name, sizeof(p->name));
				p->digest = digest;
			}
		}
	}
}

void agg__set_policies(struct agg *a, const struct tls_policy_set *ps)
{
	size_t i;

	a->policies = ps;
	forget_redefined(a);
	/* The ring fills slots 0..count-1 first and then wraps: those are the records. */
	for (i = 0; ps && i < a->ring_count; i++)
		tls_policy_judge_record(ps, &a->ring[i]);
}

const struct agg_policy *agg_row_policy(const struct agg_row *row, const char *name)
{
	size_t i;

	for (i = 0; i < row->n_pol && i < AGG_POLICY_SLOTS; i++)
		if (!strcmp(row->pol[i].name, name))
			return &row->pol[i];
	return NULL;
}

size_t agg__n_rows(const struct agg *a)
{
	return a->n_rows;
}

const struct agg_row *agg__row(const struct agg *a, size_t i)
{
	return i < a->n_rows ? &a->rows[i] : NULL;
}

const struct agg_totals *agg__totals(const struct agg *a)
{
	return &a->totals;
}

size_t agg__ring_foreach(const struct agg *a, uint64_t since_ns,
			 void (*fn)(const struct hs_record *r, void *ctx), void *ctx)
{
	size_t i, start, n = 0;

	if (!a->ring_size)
		return 0;
	start = (a->ring_head + a->ring_size - a->ring_count) % a->ring_size;
	for (i = 0; i < a->ring_count; i++) {
		const struct hs_record *r = &a->ring[(start + i) % a->ring_size];

		if (r->time_ns < since_ns)
			continue;
		fn(r, ctx);
		n++;
	}
	return n;
}

/* Internal to the state loader: a row restored from disk, merged by key. */
int agg_restore_row(struct agg *a, const struct agg_row *src);

/* merge_fail - add the failure counters of @src into @row; the newest details win. */
static void merge_fail(struct agg_row *row, const struct agg_row *src)
{
	struct agg_alert *al;
	size_t i, j;

	row->failures += src->failures;
	for (i = 0; i < AGG_FAIL_OUTCOMES; i++)
		for (j = 0; j < AGG_SIDES; j++)
			row->failed[i][j] += src->failed[i][j];
	row->failed_old_offer += src->failed_old_offer;
	row->failed_early += src->failed_early;
	/* Kinds that find no slot stay in the exact counts: they show as "other". */
	for (i = 0; i < src->n_alerts && i < AGG_ALERT_SLOTS; i++) {
		const struct agg_alert *s = &src->alerts[i];

		al = alert_slot(row, s->by, s->sealed, s->alert);
		if (al)
			al->count += s->count;
	}
	if (src->failures && src->last_fail.time_ns >= row->last_fail.time_ns)
		row->last_fail = src->last_fail;
	for (i = 0; i <= HS_SMTP_REFUSED; i++) {
		row->smtp[i] += src->smtp[i];
		row->fallback[i] += src->fallback[i];
	}
	if (src->last_plain_ns && src->last_plain_ns >= row->last_plain_ns) {
		row->last_plain_ns = src->last_plain_ns;
		row->plain_peer = src->plain_peer;
		util_strlcpy(row->plain_mx, src->plain_mx, sizeof(row->plain_mx));
	}
}

/* merge_policies - add the policy slots of @src into @row by name; the newest details win. */
static void merge_policies(struct agg *a, struct agg_row *row, const struct agg_row *src)
{
	struct agg_policy *p;
	size_t i, j, k;

	for (i = 0; i < src->n_pol && i < AGG_POLICY_SLOTS; i++) {
		const struct agg_policy *s = &src->pol[i];

		p = policy_slot(a, row, s->name, s->digest);
		if (!p)
			continue;
		p->passed += s->passed;
		for (j = 0; j < 2; j++)
			for (k = 0; k < AGG_REASONS; k++)
				p->failed[j][k] += s->failed[j][k];
		if (s->first_ns && (!p->first_ns || s->first_ns < p->first_ns))
			p->first_ns = s->first_ns;
		if (s->last_pass_ns > p->last_pass_ns)
			p->last_pass_ns = s->last_pass_ns;
		if (agg_policy_failures(s) && s->last_fail_ns >= p->last_fail_ns) {
			p->last_fail_ns = s->last_fail_ns;
			p->last_by = s->last_by;
			p->last_reason = s->last_reason;
			p->fail_peer = s->fail_peer;
			util_strlcpy(p->fail_sni, s->fail_sni, sizeof(p->fail_sni));
		}
	}
}

/* merge_certs - add the certificate counters of @src into @row; the newest details win. */
static void merge_certs(struct agg_row *row, const struct agg_row *src)
{
	size_t i;

	for (i = 0; i < TLS_CERT_N_PROBLEMS; i++)
		row->cert_problems[i] += src->cert_problems[i];
	for (i = 0; i < AGG_VERIFY_PROBLEMS; i++)
		row->bad_cert_accepted[i] += src->bad_cert_accepted[i];
	row->cert_bad += src->cert_bad;
	row->cert_accepted += src->cert_accepted;
	if (src->cert_accepted && src->last_bad.time_ns >= row->last_bad.time_ns)
		row->last_bad = src->last_bad;
	for (i = 0; i < src->n_own && i < AGG_OWN_CERTS; i++)
		note_own_cert(row, src->own[i].subject, src->own[i].not_after,
			      src->own[i].last_seen_ns);
}

int agg_restore_row(struct agg *a, const struct agg_row *src)
{
	struct agg_row *row;
	bool folded;
	size_t i;

	row = find_row(a, &src->key, &folded);
	if (!row)
		return -ENOMEM;
	if (folded || row->handshakes || row->plaintext || row->failures || row->last_seen_ns) {
		/* Merge into an existing or fold row: add counters, keep the newest details. */
		for (i = 0; i < AGG_V_COUNT; i++)
			row->versions[i] += src->versions[i];
		row->handshakes += src->handshakes;
		row->legacy += src->legacy;
		row->limited_client += src->limited_client;
		row->limited_server += src->limited_server;
		row->weak_cipher += src->weak_cipher;
		row->plaintext += src->plaintext;
		merge_fail(row, src);
		merge_policies(a, row, src);
		merge_certs(row, src);
		if (src->first_seen_ns && (!row->first_seen_ns ||
					   src->first_seen_ns < row->first_seen_ns))
			row->first_seen_ns = src->first_seen_ns;
		if (src->last_seen_ns > row->last_seen_ns)
			row->last_seen_ns = src->last_seen_ns;
	} else {
		struct agg_key key = row->key;

		*row = *src;
		row->key = key;
	}
	a->totals.handshakes += src->handshakes;
	a->totals.legacy += src->legacy;
	a->totals.weak_cipher += src->weak_cipher;
	a->totals.plaintext += src->plaintext;
	a->totals.failures += src->failures;
	a->totals.cert_bad += src->cert_bad;
	a->totals.cert_accepted += src->cert_accepted;
	for (i = 0; i < AGG_FAIL_OUTCOMES; i++)
		a->totals.failed[i] += src->failed[i][0] + src->failed[i][1] + src->failed[i][2];
	for (i = 0; i <= HS_SMTP_REFUSED; i++) {
		a->totals.smtp[i] += src->smtp[i];
		a->totals.fallback += src->fallback[i];
	}
	/* A failure after a ServerHello is also a handshake: count only the early ones. */
	a->totals.records += src->handshakes + src->plaintext + src->failed_early;
	if (folded)
		a->totals.folded += src->handshakes + src->plaintext + src->failed_early;
	return 0;
}

/* Internal to the state loader: the counters after the rows, in put_counters() order. */
void agg_restore_counters(struct agg *a, const uint64_t *v, size_t n);

void agg_restore_counters(struct agg *a, const uint64_t *v, size_t n)
{
	size_t i;

	for (i = 0; i < AGG_FOLD_N && i < n; i++)
		a->totals.rows_folded[i] += v[i];
	for (i = 0; i < AGG_FOLD_N && AGG_FOLD_N + i < n; i++)
		a->totals.series_folded[i] += v[AGG_FOLD_N + i];
}

void agg__set_series_fn(struct agg *a, agg_series_fn fn, void *ctx)
{
	a->series_fn = fn;
	a->series_ctx = ctx;
}

static size_t row_series(const struct agg *a, const struct agg_row *row)
{
	return a->series_fn ? a->series_fn(row, a->series_ctx) : 1;
}

size_t agg__series(const struct agg *a)
{
	size_t i, n = 0;

	for (i = 0; i < a->n_rows; i++)
		n += row_series(a, &a->rows[i]);
	return n;
}

/* rebuild_index - the lookup table and other_idx, after rows moved. */
static void rebuild_index(struct agg *a)
{
	size_t mask = a->n_slots - 1, i, j;

	memset(a->slots, 0, a->n_slots * sizeof(*a->slots));
	a->other_idx = -1;
	for (i = 0; i < a->n_rows; i++) {
		if (a->rows[i].key.other) {
			a->other_idx = (int64_t)i;
			continue;
		}
		for (j = key_hash(&a->rows[i].key) & mask; a->slots[j]; j = (j + 1) & mask)
			;
		a->slots[j] = (uint32_t)(i + 1);
	}
}

/*
 * fold_rows - merge the rows flagged in @drop into "other" and remove them. Merging is
 * what loading a row that folds does (agg_restore_row), except that the totals already
 * count these records. 0 or -ENOMEM (nothing changed).
 */
static int fold_rows(struct agg *a, const bool *drop, enum agg_fold why)
{
	struct agg_totals keep;
	struct agg_row *src;
	struct agg_key other;
	bool folded;
	size_t i, j, n = a->n_rows;
	int ret = 0;

	/* "other" first: creating it may move the rows, never renumber them. */
	memset(&other, 0, sizeof(other));
	other.other = true;
	if (!find_row(a, &other, &folded))
		return -ENOMEM;
	src = malloc(sizeof(*src));
	if (!src)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!drop[i] || a->rows[i].key.other)
			continue;
		a->totals.rows_folded[why]++;
		a->totals.series_folded[why] += row_series(a, &a->rows[i]);
		*src = a->rows[i];
		src->key = other;
		keep = a->totals;
		ret = agg_restore_row(a, src);
		a->totals = keep;
		a->totals.folded += src->handshakes + src->plaintext + src->failed_early;
		if (ret)
			break;
	}
	free(src);
	for (i = 0, j = 0; i < a->n_rows; i++) {
		if (i < n && drop[i] && !a->rows[i].key.other)
			continue;
		if (i != j)
			a->rows[j] = a->rows[i];
		j++;
	}
	a->n_rows = j;
	rebuild_index(a);
	return ret;
}

/* fold_lru - fold the least recently seen row (the first seen of equals); 1 or 0. */
static size_t fold_lru(struct agg *a)
{
	size_t i, victim = SIZE_MAX;
	bool *drop;

	for (i = 0; i < a->n_rows; i++) {
		if (a->rows[i].key.other)
			continue;
		if (victim == SIZE_MAX || a->rows[i].last_seen_ns < a->rows[victim].last_seen_ns)
			victim = i;
	}
	if (victim == SIZE_MAX)
		return 0;
	drop = calloc(a->n_rows, sizeof(*drop));
	if (!drop)
		return 0;
	drop[victim] = true;
	i = fold_rows(a, drop, AGG_FOLD_MAX_KEYS) ? 0 : 1;
	free(drop);
	return i;
}

struct lru_ent {
	uint64_t last_seen_ns;
	size_t idx;
};

static int lru_cmp(const void *x, const void *y)
{
	const struct lru_ent *a = x, *b = y;

	if (a->last_seen_ns != b->last_seen_ns)
		return a->last_seen_ns < b->last_seen_ns ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/*
 * bound_series - fold the least recently seen rows until the rows weigh @max_series at
 * most. "other" grows as rows join it, so the weight is measured again after each
 * batch; it grows by at most one row's worth, so this ends within a few rounds.
 */
static size_t bound_series(struct agg *a, size_t max_series)
{
	struct lru_ent *ent = NULL;
	bool *drop = NULL;
	size_t total, n, i, freed, folded = 0;

	while ((total = agg__series(a)) > max_series && a->n_rows > (a->other_idx >= 0)) {
		ent = util_reallocarray(NULL, a->n_rows, sizeof(*ent));
		drop = calloc(a->n_rows, sizeof(*drop));
		if (!ent || !drop)
			break;
		for (i = 0, n = 0; i < a->n_rows; i++)
			if (!a->rows[i].key.other)
				ent[n++] = (struct lru_ent){ a->rows[i].last_seen_ns, i };
		qsort(ent, n, sizeof(*ent), lru_cmp);
		for (i = 0, freed = 0; i < n && total - freed > max_series; i++) {
			drop[ent[i].idx] = true;
			freed += row_series(a, &a->rows[ent[i].idx]);
		}
		if (fold_rows(a, drop, AGG_FOLD_MAX_SERIES))
			break;
		folded += i;
		free(ent);
		free(drop);
		ent = NULL;
		drop = NULL;
	}
	free(ent);
	free(drop);
	return folded;
}

size_t agg__bound(struct agg *a, uint64_t now_ns, uint64_t ttl_ns, size_t max_series)
{
	size_t i, folded = 0;
	bool *drop, any = false;

	if (ttl_ns && now_ns > ttl_ns && a->n_rows) {
		drop = calloc(a->n_rows, sizeof(*drop));
		if (drop) {
			for (i = 0; i < a->n_rows; i++) {
				const struct agg_row *r = &a->rows[i];

				drop[i] = !r->key.other && r->last_seen_ns < now_ns - ttl_ns;
				any |= drop[i];
				folded += drop[i];
			}
			if (any && fold_rows(a, drop, AGG_FOLD_ROW_TTL))
				folded = 0;
			free(drop);
		}
	}
	return folded + bound_series(a, max_series);
}

static int put_str(char *buf, size_t len, size_t *off, const char *s)
{
	if (!s || !*s) {
		int n = snprintf(buf + *off, len - *off, "null");

		if (n < 0 || (size_t)n >= len - *off)
			return -1;
		*off += (size_t)n;
		return 0;
	}
	return util_json_string(buf, len, off, s);
}

static int put_fmt(char *buf, size_t len, size_t *off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int put_fmt(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *off)
		return -1;
	*off += (size_t)n;
	return 0;
}

static int put_ep(char *buf, size_t len, size_t *off, const struct hs_endpoint *ep)
{
	char ip[64] = "";

	if (ep->family)
		util_format_ip(ep->family, ep->addr, ip, sizeof(ip));
	return put_str(buf, len, off, ip);
}

/*
 * put_failures - failures, failures_by_outcome ({"alert":{"client":N,"server":N},...,
 * "timeout":N}), failures_by_alert ({"server":{"protocol_version":N}}), failures_legacy_offer
 * and last_failure (an object, or null). Objects, not arrays: the control protocol's
 * reader takes no arrays.
 */
static int put_failures(const struct agg_row *row, char *buf, size_t len, size_t *off)
{
	const struct agg_last_fail *lf = &row->last_fail;
	char when[32], code[8];
	bool any = false;
	int o, s, err = 0;
	size_t i;

	err |= put_fmt(buf, len, off, ",\"failures\":%llu,\"failures_by_outcome\":{",
		       (unsigned long long)row->failures);
	for (o = 0; o < AGG_FAIL_OUTCOMES; o++) {
		const uint64_t *by = row->failed[o];

		err |= put_fmt(buf, len, off, "%s\"%s\":", o ? "," : "",
			       hs_outcome_name((enum hs_outcome)(o + HS_OUTCOME_ALERT)));
		if (o == AGG_F_TIMEOUT) {
			/* Nobody sends a timeout. */
			err |= put_fmt(buf, len, off, "%llu",
				       (unsigned long long)(by[0] + by[1] + by[2]));
			continue;
		}
		err |= put_fmt(buf, len, off, "{\"client\":%llu,\"server\":%llu",
			       (unsigned long long)by[HS_SIDE_CLIENT],
			       (unsigned long long)by[HS_SIDE_SERVER]);
		if (by[HS_SIDE_NONE])
			err |= put_fmt(buf, len, off, ",\"unknown\":%llu",
				       (unsigned long long)by[HS_SIDE_NONE]);
		err |= put_fmt(buf, len, off, "}");
	}
	err |= put_fmt(buf, len, off, "},\"failures_by_alert\":{");
	for (s = 0; s < AGG_SIDES; s++) {
		uint64_t other = agg_alert_other(row, (enum hs_side)s);
		bool first = true;

		if (!row->failed[AGG_F_ALERT][s])
			continue;
		err |= put_fmt(buf, len, off, "%s\"%s\":{", any ? "," : "",
			       hs_side_name((enum hs_side)s) ?: "unknown");
		any = true;
		for (i = 0; i < row->n_alerts && i < AGG_ALERT_SLOTS; i++) {
			const struct agg_alert *al = &row->alerts[i];

			if (al->by != s || !al->count)
				continue;
			err |= put_fmt(buf, len, off, "%s\"%s\":%llu", first ? "" : ",",
				       agg_alert_label(al, code, sizeof(code)),
				       (unsigned long long)al->count);
			first = false;
		}
		if (other)
			err |= put_fmt(buf, len, off, "%s\"other\":%llu", first ? "" : ",",
				       (unsigned long long)other);
		err |= put_fmt(buf, len, off, "}");
	}
	err |= put_fmt(buf, len, off, "},\"failures_legacy_offer\":%llu,\"last_failure\":",
		       (unsigned long long)row->failed_old_offer);
	if (!row->failures)
		return err | put_fmt(buf, len, off, "null");
	util_format_time(lf->time_ns, when, sizeof(when));
	err |= put_fmt(buf, len, off, "{\"time\":\"%s\",\"time_s\":%llu,\"outcome\":", when,
		       (unsigned long long)(lf->time_ns / NSEC_PER_SEC));
	err |= put_str(buf, len, off, hs_outcome_name((enum hs_outcome)lf->outcome));
	err |= put_fmt(buf, len, off, ",\"by\":");
	err |= put_str(buf, len, off, hs_side_name((enum hs_side)lf->by));
	err |= put_fmt(buf, len, off, ",\"alert\":");
	if (lf->has_alert) {
		struct agg_alert al = { .alert = lf->alert };

		err |= put_str(buf, len, off, agg_alert_label(&al, code, sizeof(code)));
	} else {
		err |= put_str(buf, len, off, NULL);
	}
	err |= put_fmt(buf, len, off, ",\"offered_max\":");
	err |= put_str(buf, len, off, lf->offered_max ? agg_version_label(
						  agg_version_bucket(lf->offered_max)) : NULL);
	err |= put_fmt(buf, len, off, ",\"peer\":");
	err |= put_ep(buf, len, off, &lf->peer);
	err |= put_fmt(buf, len, off, ",\"sni\":");
	err |= put_str(buf, len, off, lf->sni);
	return err | put_fmt(buf, len, off, "}");
}

/* put_smtp - smtp_tls (sessions by reason), plaintext_fallback, the last plaintext peer. */
static int put_smtp(const struct agg_row *row, char *buf, size_t len, size_t *off)
{
	uint64_t fb = 0;
	int i, err = 0;

	err |= put_fmt(buf, len, off, ",\"smtp_tls\":{");
	for (i = HS_SMTP_STARTTLS; i <= HS_SMTP_REFUSED; i++) {
		err |= put_fmt(buf, len, off, "%s\"%s\":%llu", i > HS_SMTP_STARTTLS ? "," : "",
			       hs_smtp_tls_name((enum hs_smtp_tls)i),
			       (unsigned long long)row->smtp[i]);
		fb += row->fallback[i];
	}
	if (agg_smtp_unknown(row))
		err |= put_fmt(buf, len, off, ",\"unknown\":%llu",
			       (unsigned long long)agg_smtp_unknown(row));
	err |= put_fmt(buf, len, off, "},\"plaintext_fallback\":{");
	for (i = HS_SMTP_NOT_OFFERED; i <= HS_SMTP_REFUSED; i++)
		err |= put_fmt(buf, len, off, "%s\"%s\":%llu", i > HS_SMTP_NOT_OFFERED ? "," : "",
			       hs_smtp_tls_name((enum hs_smtp_tls)i),
			       (unsigned long long)row->fallback[i]);
	err |= put_fmt(buf, len, off, ",\"total\":%llu},\"last_plaintext_peer\":",
		       (unsigned long long)fb);
	err |= put_ep(buf, len, off, &row->plain_peer);
	err |= put_fmt(buf, len, off, ",\"last_mx_host\":");
	err |= put_str(buf, len, off, row->plain_mx);
	return err;
}

/* put_time - "key":"RFC 3339","key_s":N, or both null for 0 (never). */
static int put_time(char *buf, size_t len, size_t *off, const char *key, uint64_t ns)
{
	char when[32];

	if (!ns)
		return put_fmt(buf, len, off, "\"%s\":null,\"%s_s\":null", key, key);
	util_format_time(ns, when, sizeof(when));
	return put_fmt(buf, len, off, "\"%s\":\"%s\",\"%s_s\":%llu", key, when, key,
		       (unsigned long long)(ns / NSEC_PER_SEC));
}

/*
 * put_certs - cert_bad, cert_problems ({"expired":N,...}), cert_accepted,
 * bad_cert_accepted (by verify problem), last_bad_cert (time, problems joined by ',',
 * peer, sni, subject; null when none) and server_certs ({"n":N,"0":{subject, not_after,
 * not_after_s},...}: the control protocol's reader takes no arrays).
 */
static int put_certs(const struct agg_row *row, char *buf, size_t len, size_t *off)
{
	const char *names[TLS_CERT_N_PROBLEMS];
	char when[32], list[128] = "";
	size_t i, n, o = 0;
	int err = 0, k;

	err |= put_fmt(buf, len, off, ",\"cert_bad\":%llu,\"cert_problems\":{",
		       (unsigned long long)row->cert_bad);
	for (i = 0; i < TLS_CERT_N_PROBLEMS; i++)
		err |= put_fmt(buf, len, off, "%s\"%s\":%llu", i ? "," : "",
			       tls_cert_problem_name(1u << i),
			       (unsigned long long)row->cert_problems[i]);
	err |= put_fmt(buf, len, off, "},\"cert_accepted\":%llu,\"bad_cert_accepted\":{",
		       (unsigned long long)row->cert_accepted);
	for (i = 0; i < AGG_VERIFY_PROBLEMS; i++)
		err |= put_fmt(buf, len, off, "%s\"%s\":%llu", i ? "," : "",
			       tls_cert_problem_name(1u << i),
			       (unsigned long long)row->bad_cert_accepted[i]);
	err |= put_fmt(buf, len, off, "},\"last_bad_cert\":");
	if (!row->cert_accepted) {
		err |= put_fmt(buf, len, off, "null");
	} else {
		/* Seven names and their commas fit the list: 84 bytes. */
		n = tls_cert_problem_names(row->last_bad.problems, names);
		for (i = 0; i < n; i++) {
			k = snprintf(list + o, sizeof(list) - o, "%s%s", i ? "," : "", names[i]);
			if (k < 0 || (size_t)k >= sizeof(list) - o)
				break;
			o += (size_t)k;
		}
		err |= put_fmt(buf, len, off, "{");
		err |= put_time(buf, len, off, "time", row->last_bad.time_ns);
		err |= put_fmt(buf, len, off, ",\"problems\":");
		err |= put_str(buf, len, off, list);
		err |= put_fmt(buf, len, off, ",\"peer\":");
		err |= put_ep(buf, len, off, &row->last_bad.peer);
		err |= put_fmt(buf, len, off, ",\"sni\":");
		err |= put_str(buf, len, off, row->last_bad.sni);
		err |= put_fmt(buf, len, off, ",\"subject\":");
		err |= put_str(buf, len, off, row->last_bad.subject);
		err |= put_fmt(buf, len, off, "}");
	}
	err |= put_fmt(buf, len, off, ",\"server_certs\":{\"n\":%u", row->n_own);
	for (i = 0; i < row->n_own && i < AGG_OWN_CERTS; i++) {
		tls_cert_format_time(row->own[i].not_after, when, sizeof(when));
		err |= put_fmt(buf, len, off, ",\"%zu\":{\"subject\":", i);
		err |= put_str(buf, len, off, row->own[i].subject);
		err |= put_fmt(buf, len, off, ",\"not_after\":\"%s\",\"not_after_s\":%lld}", when,
			       (long long)row->own[i].not_after);
	}
	return err | put_fmt(buf, len, off, "}");
}

int agg_policy_json(const struct agg_row *row, const char *name, char *buf, size_t len)
{
	static const struct agg_policy never;
	const struct agg_policy *p = agg_row_policy(row, name);
	uint64_t failures;
	size_t off = 0;
	bool first = true;
	int by, r, err = 0;

	if (!p)
		p = &never;
	failures = agg_policy_failures(p);
	err |= put_fmt(buf, len, &off, "{\"name\":");
	err |= put_str(buf, len, &off, name);
	err |= put_fmt(buf, len, &off,
		       ",\"handshakes\":%llu,\"passes\":%llu,\"failures\":%llu,\"failures_by\":{",
		       (unsigned long long)(p->passed + failures), (unsigned long long)p->passed,
		       (unsigned long long)failures);
	for (by = TLS_POLICY_BY_CLIENT; by <= TLS_POLICY_BY_SERVER; by++) {
		for (r = TLS_REASON_VERSION; r < AGG_REASONS; r++) {
			if (!p->failed[by - 1][r])
				continue;
			err |= put_fmt(buf, len, &off, "%s\"%s_%s\":%llu", first ? "" : ",",
				       tls_policy_by_name((enum tls_policy_by)by),
				       tls_policy_reason_name((enum tls_policy_reason)r),
				       (unsigned long long)p->failed[by - 1][r]);
			first = false;
		}
	}
	err |= put_fmt(buf, len, &off, "},");
	err |= put_time(buf, len, &off, "first", p->first_ns);
	err |= put_fmt(buf, len, &off, ",");
	err |= put_time(buf, len, &off, "last_pass", p->last_pass_ns);
	err |= put_fmt(buf, len, &off, ",\"last_failure\":");
	if (!failures)
		return err | put_fmt(buf, len, &off, "null}") ? -1 : (int)off;
	err |= put_fmt(buf, len, &off, "{");
	err |= put_time(buf, len, &off, "time", p->last_fail_ns);
	err |= put_fmt(buf, len, &off, ",\"by\":");
	err |= put_str(buf, len, &off, tls_policy_by_name((enum tls_policy_by)p->last_by));
	err |= put_fmt(buf, len, &off, ",\"reason\":");
	err |= put_str(buf, len, &off,
		       tls_policy_reason_name((enum tls_policy_reason)p->last_reason));
	err |= put_fmt(buf, len, &off, ",\"peer\":");
	err |= put_ep(buf, len, &off, &p->fail_peer);
	err |= put_fmt(buf, len, &off, ",\"sni\":");
	err |= put_str(buf, len, &off, p->fail_sni);
	err |= put_fmt(buf, len, &off, "}}");
	return err ? -1 : (int)off;
}

int agg_row_json(const struct agg_row *row, char *buf, size_t len)
{
	char ip[64], first[32], last[32];
	size_t off = 0;
	int i, err = 0;

	err |= put_fmt(buf, len, &off, "{\"exe\":");
	err |= put_str(buf, len, &off, row->key.other ? "other" : row->key.exe);
	err |= put_fmt(buf, len, &off, ",\"comm\":");
	err |= put_str(buf, len, &off, row->key.comm[0] ? row->key.comm : row->last_comm);
	err |= put_fmt(buf, len, &off, ",\"unit\":");
	err |= put_str(buf, len, &off, row->key.unit);
	err |= put_fmt(buf, len, &off, ",\"container\":");
	err |= put_str(buf, len, &off, row->key.container);
	err |= put_fmt(buf, len, &off, ",\"role\":\"%s\",\"port\":%u,\"versions\":{",
		       agg_role_name(row->key.role), row->key.port);
	for (i = 0; i < AGG_V_COUNT; i++)
		err |= put_fmt(buf, len, &off, "%s\"%s\":%llu", i ? "," : "",
			       agg_version_label((enum agg_ver)i),
			       (unsigned long long)row->versions[i]);
	err |= put_fmt(buf, len, &off,
		       "},\"handshakes\":%llu,\"legacy\":%llu,"
		       "\"limited_by\":{\"client\":%llu,\"server\":%llu},"
		       "\"weak_cipher\":%llu,\"plaintext_sessions\":%llu,\"tls_lib\":",
		       (unsigned long long)row->handshakes, (unsigned long long)row->legacy,
		       (unsigned long long)row->limited_client,
		       (unsigned long long)row->limited_server,
		       (unsigned long long)row->weak_cipher, (unsigned long long)row->plaintext);
	err |= put_str(buf, len, &off, row->tls_lib);
	ip[0] = '\0';
	if (row->last_peer.family)
		util_format_ip(row->last_peer.family, row->last_peer.addr, ip, sizeof(ip));
	err |= put_fmt(buf, len, &off, ",\"last_peer\":");
	err |= put_str(buf, len, &off, ip);
	err |= put_fmt(buf, len, &off, ",\"last_sni\":");
	err |= put_str(buf, len, &off, row->last_sni);
	ip[0] = '\0';
	if (row->legacy_peer.family)
		util_format_ip(row->legacy_peer.family, row->legacy_peer.addr, ip, sizeof(ip));
	err |= put_fmt(buf, len, &off, ",\"last_legacy_peer\":");
	err |= put_str(buf, len, &off, ip);
	err |= put_fmt(buf, len, &off, ",\"last_legacy_sni\":");
	err |= put_str(buf, len, &off, row->legacy_sni);
	err |= put_failures(row, buf, len, &off);
	err |= put_smtp(row, buf, len, &off);
	err |= put_certs(row, buf, len, &off);
	util_format_time(row->first_seen_ns, first, sizeof(first));
	util_format_time(row->last_seen_ns, last, sizeof(last));
	err |= put_fmt(buf, len, &off, ",\"first_seen\":\"%s\",\"last_seen\":\"%s\"", first, last);
	err |= put_fmt(buf, len, &off, ",\"last_seen_s\":%llu,\"pid\":%u}",
		       (unsigned long long)(row->last_seen_ns / NSEC_PER_SEC), row->last_pid);
	return err ? -1 : (int)off;
}

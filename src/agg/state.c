// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state file: counters that survive restarts.
 *
 * Layout (all integers big-endian):
 *   "TLSAUDST"  magic, 8 bytes
 *   u32         format version (6; versions 1 to 5 still load)
 *   u32         payload length before compression
 *   u32         compressed length
 *   u32         CRC-32 of the 20 bytes above and the compressed payload
 *   ...         zlib stream (RFC 1950) of the payload
 * Payload: u64 save time, u32 row count, then the rows (see put_row()). Version 2 adds
 * to each row the failed handshakes and the SMTP sessions by reason (put_row_v2());
 * version 3 the verdicts per policy (put_row_v3()). An older row loads with what it
 * lacks at zero. Version 4 adds after the rows the aggregation's own counters: u32
 * count, then that many u64 (put_counters()); a reader takes the ones it knows and
 * skips the rest, so later builds may add more. Version 5 adds to each row the server
 * certificates: problems, bad ones accepted, a local server's own (put_row_v5()).
 * Version 6 adds to each row the digest of each policy slot's definition (put_row_v6()):
 * slots loaded from older files take the definition in force as theirs.
 *
 * The file is untrusted on the way in (a disk error, an older build, an edit by hand):
 * the checksum is tested before inflating, inflation is bounded by the stated length,
 * and every field is read through the cursor and range-checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "tlsaudit/agg.h"
#include "tlsaudit/cert.h"
#include "tlsaudit/cursor.h"
#include "tlsaudit/log.h"
#include "tlsaudit/util.h"

#define STATE_MAGIC "TLSAUDST"
#define STATE_VERSION 6
#define STATE_VERSION_MIN 1
#define STATE_HDR_LEN 24
#define STATE_RAW_MAX (64u << 20)
#define STATE_FILE_MAX (64u << 20)
/* The smallest row on disk (version 1): empty strings, no peers. */
#define STATE_ROW_MIN (4 * 2 + 4 + 8 * (AGG_V_COUNT + 8) + 2 * 19 + 4 * 2 + 4 + 1)
/* Counters after the rows (version 3): far more than any build writes. */
#define STATE_COUNTERS_MAX 1024

int agg_restore_row(struct agg *a, const struct agg_row *src);
void agg_restore_counters(struct agg *a, const uint64_t *v, size_t n);

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void put(struct wbuf *w, const void *data, size_t n)
{
	if (w->oom)
		return;
	if (n > w->cap - w->len) {
		size_t ncap = w->cap ? w->cap : 4096;
		uint8_t *tmp;

		while (ncap - w->len < n && ncap < SIZE_MAX / 2)
			ncap *= 2;
		tmp = realloc(w->p, ncap);
		if (!tmp) {
			w->oom = true;
			return;
		}
		w->p = tmp;
		w->cap = ncap;
	}
	memcpy(w->p + w->len, data, n);
	w->len += n;
}

static void put_u8(struct wbuf *w, uint8_t v)
{
	put(w, &v, 1);
}

static void put_u16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(w, b, 2);
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	put(w, b, 4);
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	put_u32(w, (uint32_t)(v >> 32));
	put_u32(w, (uint32_t)v);
}

static void put_str(struct wbuf *w, const char *s, size_t cap)
{
	size_t n = strnlen(s, cap - 1);

	put_u16(w, (uint16_t)n);
	put(w, s, n);
}

static void put_ep(struct wbuf *w, const struct hs_endpoint *ep)
{
	put_u8(w, ep->family);
	put(w, ep->addr, sizeof(ep->addr));
	put_u16(w, ep->port);
}

/* put_row_v2 - what version 2 appends to a row: failures and SMTP sessions by reason. */
static void put_row_v2(struct wbuf *w, const struct agg_row *r)
{
	const struct agg_last_fail *lf = &r->last_fail;
	int i, j;

	for (i = 0; i < AGG_FAIL_OUTCOMES; i++)
		for (j = 0; j < AGG_SIDES; j++)
			put_u64(w, r->failed[i][j]);
	put_u64(w, r->failed_old_offer);
	put_u64(w, r->failed_early);
	put_u8(w, r->n_alerts);
	for (i = 0; i < r->n_alerts && i < AGG_ALERT_SLOTS; i++) {
		put_u8(w, r->alerts[i].by);
		put_u8(w, r->alerts[i].sealed);
		put_u8(w, r->alerts[i].alert);
		put_u64(w, r->alerts[i].count);
	}
	put_u64(w, lf->time_ns);
	put_u8(w, lf->outcome);
	put_u8(w, lf->by);
	put_u8(w, lf->has_alert);
	put_u8(w, lf->alert);
	put_u16(w, lf->offered_max);
	put_ep(w, &lf->peer);
	put_str(w, lf->sni, sizeof(lf->sni));
	for (i = HS_SMTP_STARTTLS; i <= HS_SMTP_REFUSED; i++) {
		put_u64(w, r->smtp[i]);
		put_u64(w, r->fallback[i]);
	}
	put_u64(w, r->last_plain_ns);
	put_ep(w, &r->plain_peer);
	put_str(w, r->plain_mx, sizeof(r->plain_mx));
}

/*
 * put_row_v3 - the policy slots: name, passes, the failures that happened as (by,
 * reason, count) triples, the times and the latest failure's sample.
 */
static void put_row_v3(struct wbuf *w, const struct agg_row *r)
{
	int i, by, why;
	uint8_t n;

	put_u8(w, r->n_pol);
	for (i = 0; i < r->n_pol && i < AGG_POLICY_SLOTS; i++) {
		const struct agg_policy *p = &r->pol[i];

		put_str(w, p->name, sizeof(p->name));
		put_u64(w, p->passed);
		for (n = 0, by = 0; by < 2; by++)
			for (why = 0; why < AGG_REASONS; why++)
				n += p->failed[by][why] != 0;
		put_u8(w, n);
		for (by = 0; by < 2; by++) {
			for (why = 0; why < AGG_REASONS; why++) {
				if (!p->failed[by][why])
					continue;
				put_u8(w, (uint8_t)(by + TLS_POLICY_BY_CLIENT));
				put_u8(w, (uint8_t)why);
				put_u64(w, p->failed[by][why]);
			}
		}
		put_u64(w, p->first_ns);
		put_u64(w, p->last_pass_ns);
		put_u64(w, p->last_fail_ns);
		put_u8(w, p->last_by);
		put_u8(w, p->last_reason);
		put_ep(w, &p->fail_peer);
		put_str(w, p->fail_sni, sizeof(p->fail_sni));
	}
}

/*
 * put_row_v5 - the certificates: u8 count then that many u64 per problem (cert.h bit
 * order), the same for the bad ones accepted, the latest of those (time, problem bits,
 * peer, SNI, subject), then a local server's own certificates (subject, not_after, last
 * seen). Counts lead so that a later build may add problems.
 */
static void put_row_v5(struct wbuf *w, const struct agg_row *r)
{
	int i;

	put_u8(w, TLS_CERT_N_PROBLEMS);
	for (i = 0; i < TLS_CERT_N_PROBLEMS; i++)
		put_u64(w, r->cert_problems[i]);
	put_u64(w, r->cert_bad);
	put_u8(w, AGG_VERIFY_PROBLEMS);
	for (i = 0; i < AGG_VERIFY_PROBLEMS; i++)
		put_u64(w, r->bad_cert_accepted[i]);
	put_u64(w, r->cert_accepted);
	put_u64(w, r->last_bad.time_ns);
	put_u32(w, r->last_bad.problems);
	put_ep(w, &r->last_bad.peer);
	put_str(w, r->last_bad.sni, sizeof(r->last_bad.sni));
	put_str(w, r->last_bad.subject, sizeof(r->last_bad.subject));
	put_u8(w, r->n_own);
	for (i = 0; i < r->n_own && i < AGG_OWN_CERTS; i++) {
		put_str(w, r->own[i].subject, sizeof(r->own[i].subject));
		put_u64(w, (uint64_t)r->own[i].not_after);
		put_u64(w, r->own[i].last_seen_ns);
	}
}

/* put_row_v6 - u8 count, then the digest of each policy slot's definition, in slot order. */
static void put_row_v6(struct wbuf *w, const struct agg_row *r)
{
	int i;

	put_u8(w, r->n_pol);
	for (i = 0; i < r->n_pol && i < AGG_POLICY_SLOTS; i++)
		put_u64(w, r->pol[i].digest);
}

static void put_row(struct wbuf *w, const struct agg_row *r)
{
	int i;

	put_str(w, r->key.exe, sizeof(r->key.exe));
	put_str(w, r->key.comm, sizeof(r->key.comm));
	put_str(w, r->key.unit, sizeof(r->key.unit));
	put_str(w, r->key.container, sizeof(r->key.container));
	put_u8(w, (uint8_t)r->key.role);
	put_u8(w, r->key.other);
	put_u16(w, r->key.port);
	for (i = 0; i < AGG_V_COUNT; i++)
		put_u64(w, r->versions[i]);
	put_u64(w, r->handshakes);
	put_u64(w, r->legacy);
	put_u64(w, r->limited_client);
	put_u64(w, r->limited_server);
	put_u64(w, r->weak_cipher);
	put_u64(w, r->plaintext);
	put_u64(w, r->first_seen_ns);
	put_u64(w, r->last_seen_ns);
	put_ep(w, &r->last_peer);
	put_str(w, r->last_sni, sizeof(r->last_sni));
	put_ep(w, &r->legacy_peer);
	put_str(w, r->legacy_sni, sizeof(r->legacy_sni));
	put_str(w, r->tls_lib, sizeof(r->tls_lib));
	put_str(w, r->last_comm, sizeof(r->last_comm));
	put_u32(w, r->last_pid);
	put_u8(w, r->n_peers);
	for (i = 0; i < r->n_peers && i < AGG_PEERS; i++) {
		put_ep(w, &r->peers[i].ep);
		put_u64(w, r->peers[i].last_seen_ns);
		put_u64(w, r->peers[i].last_logged_ns);
	}
	put_row_v2(w, r);
	put_row_v3(w, r);
	put_row_v5(w, r);
	put_row_v6(w, r);
}

/*
 * put_counters - the aggregation's own counters (version 3), in this order: rows folded
 * by enum agg_fold, then the series they had. Append new ones at the end only.
 */
static void put_counters(struct wbuf *w, const struct agg_totals *t)
{
	int i;

	put_u32(w, 2 * AGG_FOLD_N);
	for (i = 0; i < AGG_FOLD_N; i++)
		put_u64(w, t->rows_folded[i]);
	for (i = 0; i < AGG_FOLD_N; i++)
		put_u64(w, t->series_folded[i]);
}

int agg__save_buf(const struct agg *a, uint8_t **out, size_t *outlen)
{
	struct wbuf raw = { 0 }, file = { 0 };
	uLongf clen;
	uint32_t crc;
	size_t i, n = agg__n_rows(a);
	int ret = -ENOMEM;

	put_u64(&raw, util_now_ns());
	put_u32(&raw, (uint32_t)n);
	for (i = 0; i < n; i++)
		put_row(&raw, agg__row(a, i));
	put_counters(&raw, agg__totals(a));
	if (raw.oom)
		goto cleanup;
	if (raw.len > STATE_RAW_MAX) {
		ret = -EFBIG;
		goto cleanup;
	}
	clen = compressBound((uLong)raw.len);
	file.cap = STATE_HDR_LEN + clen;
	file.p = malloc(file.cap);
	if (!file.p)
		goto cleanup;
	if (compress2(file.p + STATE_HDR_LEN, &clen, raw.p, (uLong)raw.len, 6) != Z_OK) {
		ret = -EIO;
		goto cleanup;
	}
	memcpy(file.p, STATE_MAGIC, 8);
	file.len = 8;
	put_u32(&file, STATE_VERSION);
	put_u32(&file, (uint32_t)raw.len);
	put_u32(&file, (uint32_t)clen);
	crc = (uint32_t)crc32(0L, file.p, 20);
	crc = (uint32_t)crc32(crc, file.p + STATE_HDR_LEN, (uInt)clen);
	put_u32(&file, crc);
	*out = file.p;
	*outlen = STATE_HDR_LEN + clen;
	file.p = NULL;
	ret = 0;
cleanup:
	free(raw.p);
	free(file.p);
	return ret;
}

int agg__save(const struct agg *a, const char *path, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	ret = agg__save_buf(a, &buf, &len);
	if (ret) {
		snprintf(err, errlen, "%s: cannot encode state: %s", path, strerror(-ret));
		return ret;
	}
	ret = util_write_atomic(path, buf, len, 0640, err, errlen);
	free(buf);
	return ret;
}

/* get_str - a u16-length string that must fit @cap with its NUL and hold no NUL itself. */
static bool get_str(struct tls_cursor *c, char *dst, size_t cap)
{
	uint16_t n = cur_u16(c);

	if (!cur_ok(c) || n >= cap || !cur_bytes(c, dst, n))
		return false;
	dst[n] = '\0';
	return strlen(dst) == n;
}

static bool get_ep(struct tls_cursor *c, struct hs_endpoint *ep)
{
	ep->family = cur_u8(c);
	cur_bytes(c, ep->addr, sizeof(ep->addr));
	ep->port = cur_u16(c);
	return cur_ok(c) && (ep->family == 0 || ep->family == AF_INET || ep->family == AF_INET6);
}

static uint64_t get_u64(struct tls_cursor *c)
{
	uint64_t hi = cur_u32(c);

	return (hi << 32) | cur_u32(c);
}

/* get_row_v2 - what version 2 appends to a row (see put_row_v2()). */
static bool get_row_v2(struct tls_cursor *c, struct agg_row *r, const char **why)
{
	struct agg_last_fail *lf = &r->last_fail;
	uint64_t sum = 0, in_slots[AGG_SIDES] = { 0 };
	uint8_t has_alert;
	int i, j;

	for (i = 0; i < AGG_FAIL_OUTCOMES; i++)
		for (j = 0; j < AGG_SIDES; j++) {
			r->failed[i][j] = get_u64(c);
			sum += r->failed[i][j];
		}
	r->failures = sum;
	r->failed_old_offer = get_u64(c);
	r->failed_early = get_u64(c);
	r->n_alerts = cur_u8(c);
	*why = "too many alert kinds";
	if (r->n_alerts > AGG_ALERT_SLOTS)
		return false;
	for (i = 0; i < r->n_alerts; i++) {
		struct agg_alert *al = &r->alerts[i];
		uint8_t sealed;

		al->by = cur_u8(c);
		sealed = cur_u8(c);
		al->alert = cur_u8(c);
		al->count = get_u64(c);
		*why = "bad alert kind";
		if (al->by >= AGG_SIDES || sealed > 1 || (sealed && al->alert))
			return false;
		al->sealed = sealed;
		in_slots[al->by] += al->count;
	}
	lf->time_ns = get_u64(c);
	lf->outcome = cur_u8(c);
	lf->by = cur_u8(c);
	has_alert = cur_u8(c);
	lf->alert = cur_u8(c);
	lf->offered_max = cur_u16(c);
	*why = "bad address";
	if (!get_ep(c, &lf->peer))
		return false;
	*why = "bad string field";
	if (!get_str(c, lf->sni, sizeof(lf->sni)))
		return false;
	for (i = HS_SMTP_STARTTLS; i <= HS_SMTP_REFUSED; i++) {
		r->smtp[i] = get_u64(c);
		r->fallback[i] = get_u64(c);
	}
	r->last_plain_ns = get_u64(c);
	*why = "bad address";
	if (!get_ep(c, &r->plain_peer))
		return false;
	*why = "bad string field";
	if (!get_str(c, r->plain_mx, sizeof(r->plain_mx)))
		return false;
	*why = "truncated row";
	if (!cur_ok(c))
		return false;
	/* Counters that contradict each other mean the bytes are not what we wrote. */
	*why = "inconsistent counters";
	if (r->failed_old_offer > sum || r->failed_early > sum ||
	    (sum && (agg_fail_idx(lf->outcome) < 0 || lf->by >= AGG_SIDES)) || has_alert > 1)
		return false;
	lf->has_alert = has_alert;
	for (j = 0; j < AGG_SIDES; j++)
		if (in_slots[j] > r->failed[AGG_F_ALERT][j])
			return false;
	for (i = HS_SMTP_STARTTLS; i <= HS_SMTP_REFUSED; i++)
		if (r->fallback[i] > r->smtp[i] || (i == HS_SMTP_STARTTLS && r->fallback[i]))
			return false;
	if (r->smtp[HS_SMTP_NOT_OFFERED] + r->smtp[HS_SMTP_NOT_USED] + r->smtp[HS_SMTP_REFUSED] >
	    r->plaintext)
		return false;
	return true;
}

/* policy_name_ok - what tls_policy_set() accepts: [a-z0-9._-], a letter or digit first. */
static bool policy_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		bool alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');

		if (!alnum && (i == 0 || (s[i] != '.' && s[i] != '-' && s[i] != '_')))
			return false;
	}
	return i > 0;
}

/* get_row_v3 - the policy slots (see put_row_v3()). */
static bool get_row_v3(struct tls_cursor *c, struct agg_row *r, const char **why)
{
	uint8_t n, k, by, reason;
	uint64_t count;
	int i, j;

	r->n_pol = cur_u8(c);
	*why = "too many policies";
	if (r->n_pol > AGG_POLICY_SLOTS)
		return false;
	for (i = 0; i < r->n_pol; i++) {
		struct agg_policy *p = &r->pol[i];

		*why = "bad policy name";
		if (!get_str(c, p->name, sizeof(p->name)) || !policy_name_ok(p->name))
			return false;
		for (j = 0; j < i; j++)
			if (!strcmp(r->pol[j].name, p->name))
				return false;
		p->passed = get_u64(c);
		n = cur_u8(c);
		*why = "bad policy verdict";
		if (n > 2 * AGG_REASONS)
			return false;
		for (k = 0; k < n; k++) {
			by = cur_u8(c);
			reason = cur_u8(c);
			count = get_u64(c);
			if ((by != TLS_POLICY_BY_CLIENT && by != TLS_POLICY_BY_SERVER) ||
			    reason >= AGG_REASONS || !count || p->failed[by - 1][reason])
				return false;
			p->failed[by - 1][reason] = count;
		}
		p->first_ns = get_u64(c);
		p->last_pass_ns = get_u64(c);
		p->last_fail_ns = get_u64(c);
		p->last_by = cur_u8(c);
		p->last_reason = cur_u8(c);
		*why = "bad address";
		if (!get_ep(c, &p->fail_peer))
			return false;
		*why = "bad string field";
		if (!get_str(c, p->fail_sni, sizeof(p->fail_sni)))
			return false;
		*why = "truncated row";
		if (!cur_ok(c))
			return false;
		*why = "inconsistent policy verdicts";
		if (agg_policy_failures(p) && ((p->last_by != TLS_POLICY_BY_CLIENT &&
						p->last_by != TLS_POLICY_BY_SERVER) ||
					       !p->last_reason || p->last_reason >= AGG_REASONS))
			return false;
	}
	return true;
}

/* get_row_v6 - the policy slots' digests (see put_row_v6()); one per slot of v3. */
static bool get_row_v6(struct tls_cursor *c, struct agg_row *r, const char **why)
{
	uint8_t n = cur_u8(c);
	int i;

	*why = "policy digests do not match the policy slots";
	if (n != r->n_pol)
		return false;
	for (i = 0; i < n; i++)
		r->pol[i].digest = get_u64(c);
	*why = "truncated row";
	return cur_ok(c);
}

/*
 * get_row_v5 - the certificates (see put_row_v5()). Problems this build does not know
 * are skipped; counts that contradict each other refuse the row.
 */
static bool get_row_v5(struct tls_cursor *c, struct agg_row *r, const char **why)
{
	/* Far more than cert.h will ever name; bounds the skip loops. */
	const uint8_t max_kinds = 32;
	uint64_t v, sum_acc = 0;
	uint8_t n;
	int i;

	n = cur_u8(c);
	*why = "bad certificate counters";
	if (n > max_kinds)
		return false;
	for (i = 0; i < n; i++) {
		v = get_u64(c);
		if (i < TLS_CERT_N_PROBLEMS)
			r->cert_problems[i] = v;
	}
	r->cert_bad = get_u64(c);
	n = cur_u8(c);
	if (n > max_kinds)
		return false;
	for (i = 0; i < n; i++) {
		v = get_u64(c);
		if (i < AGG_VERIFY_PROBLEMS)
			r->bad_cert_accepted[i] = v;
	}
	r->cert_accepted = get_u64(c);
	r->last_bad.time_ns = get_u64(c);
	r->last_bad.problems = cur_u32(c);
	*why = "bad address";
	if (!get_ep(c, &r->last_bad.peer))
		return false;
	*why = "bad string field";
	if (!get_str(c, r->last_bad.sni, sizeof(r->last_bad.sni)) ||
	    !get_str(c, r->last_bad.subject, sizeof(r->last_bad.subject)))
		return false;
	r->n_own = cur_u8(c);
	*why = "too many server certificates";
	if (r->n_own > AGG_OWN_CERTS)
		return false;
	for (i = 0; i < r->n_own; i++) {
		*why = "bad string field";
		if (!get_str(c, r->own[i].subject, sizeof(r->own[i].subject)))
			return false;
		r->own[i].not_after = (int64_t)get_u64(c);
		r->own[i].last_seen_ns = get_u64(c);
	}
	*why = "truncated row";
	if (!cur_ok(c))
		return false;
	/* Handshakes with a problem bound each problem's count, and so on down. */
	*why = "inconsistent certificate counters";
	for (i = 0; i < TLS_CERT_N_PROBLEMS; i++)
		if (r->cert_problems[i] > r->cert_bad)
			return false;
	for (i = 0; i < AGG_VERIFY_PROBLEMS; i++) {
		if (r->bad_cert_accepted[i] > r->cert_problems[i] ||
		    r->bad_cert_accepted[i] > r->cert_accepted)
			return false;
		sum_acc += r->bad_cert_accepted[i];
	}
	if (r->cert_accepted > r->cert_bad || sum_acc < r->cert_accepted ||
	    (r->cert_accepted && !(r->last_bad.problems & TLS_CERT_VERIFY_PROBLEMS)))
		return false;
	return true;
}

/* get_row - one row (see put_row()); false and @why on anything out of range. */
static bool get_row(struct tls_cursor *c, struct agg_row *r, uint32_t version, const char **why)
{
	uint8_t role, other;
	int i;

	memset(r, 0, sizeof(*r));
	*why = "bad string field";
	if (!get_str(c, r->key.exe, sizeof(r->key.exe)) ||
	    !get_str(c, r->key.comm, sizeof(r->key.comm)) ||
	    !get_str(c, r->key.unit, sizeof(r->key.unit)) ||
	    !get_str(c, r->key.container, sizeof(r->key.container)))
		return false;
	role = cur_u8(c);
	other = cur_u8(c);
	r->key.port = cur_u16(c);
	*why = "bad role or flag";
	if (role > HS_ROLE_SERVER || other > 1)
		return false;
	r->key.role = (enum hs_role)role;
	r->key.other = other;
	for (i = 0; i < AGG_V_COUNT; i++)
		r->versions[i] = get_u64(c);
	r->handshakes = get_u64(c);
	r->legacy = get_u64(c);
	r->limited_client = get_u64(c);
	r->limited_server = get_u64(c);
	r->weak_cipher = get_u64(c);
	r->plaintext = get_u64(c);
	r->first_seen_ns = get_u64(c);
	r->last_seen_ns = get_u64(c);
	*why = "bad address";
	if (!get_ep(c, &r->last_peer))
		return false;
	*why = "bad string field";
	if (!get_str(c, r->last_sni, sizeof(r->last_sni)) || !get_ep(c, &r->legacy_peer) ||
	    !get_str(c, r->legacy_sni, sizeof(r->legacy_sni)) ||
	    !get_str(c, r->tls_lib, sizeof(r->tls_lib)) ||
	    !get_str(c, r->last_comm, sizeof(r->last_comm)))
		return false;
	r->last_pid = cur_u32(c);
	r->n_peers = cur_u8(c);
	*why = "too many peers";
	if (r->n_peers > AGG_PEERS)
		return false;
	for (i = 0; i < r->n_peers; i++) {
		*why = "bad address";
		if (!get_ep(c, &r->peers[i].ep))
			return false;
		r->peers[i].last_seen_ns = get_u64(c);
		r->peers[i].last_logged_ns = get_u64(c);
	}
	*why = "truncated row";
	if (!cur_ok(c))
		return false;
	/* Counters that contradict each other mean the bytes are not what we wrote. */
	*why = "inconsistent counters";
	if (r->legacy > r->handshakes || r->limited_client + r->limited_server > r->legacy ||
	    r->limited_client > r->legacy || r->weak_cipher > r->handshakes)
		return false;
	if (version < 2)
		return true;
	if (!get_row_v2(c, r, why))
		return false;
	if (version >= 3 && !get_row_v3(c, r, why))
		return false;
	if (version >= 5 && !get_row_v5(c, r, why))
		return false;
	return version < 6 || get_row_v6(c, r, why);
}

int agg__load_buf(struct agg *a, const uint8_t *buf, size_t len, char *err, size_t errlen)
{
	struct tls_cursor c, pc, rows_at;
	struct agg_row *row = NULL;
	uint8_t magic[8], *raw = NULL;
	uint32_t version, raw_len, comp_len, crc, n_rows, n_counters, i;
	uint64_t counters[2 * AGG_FOLD_N] = { 0 };
	const char *why = NULL;
	uLongf got;
	int ret = -EBADMSG;

	cur_init(&c, buf, len);
	cur_bytes(&c, magic, sizeof(magic));
	version = cur_u32(&c);
	raw_len = cur_u32(&c);
	comp_len = cur_u32(&c);
	crc = cur_u32(&c);
	if (!cur_ok(&c)) {
		why = "truncated header";
		goto cleanup;
	}
	if (memcmp(magic, STATE_MAGIC, sizeof(magic))) {
		why = "not a tlsaudit state file (bad magic)";
		goto cleanup;
	}
	if (version < STATE_VERSION_MIN || version > STATE_VERSION) {
		why = "unsupported format version";
		goto cleanup;
	}
	if (comp_len != cur_left(&c)) {
		why = comp_len > cur_left(&c) ? "truncated (shorter than its header says)"
					       : "trailing bytes after the payload";
		goto cleanup;
	}
	if (crc != (uint32_t)crc32(crc32(0L, buf, 20), cur_ptr(&c), comp_len)) {
		why = "checksum mismatch";
		goto cleanup;
	}
	if (raw_len > STATE_RAW_MAX || raw_len < 12) {
		why = "implausible payload length";
		goto cleanup;
	}
	raw = malloc(raw_len);
	if (!raw) {
		ret = -ENOMEM;
		why = "out of memory";
		goto cleanup;
	}
	got = raw_len;
	if (uncompress(raw, &got, cur_ptr(&c), comp_len) != Z_OK || got != raw_len) {
		why = "payload does not inflate to its stated length";
		goto cleanup;
	}

	cur_init(&pc, raw, raw_len);
	get_u64(&pc); /* save time: informational */
	n_rows = cur_u32(&pc);
	if (!cur_ok(&pc) || n_rows > cur_left(&pc) / STATE_ROW_MIN) {
		why = "row count larger than the payload";
		goto cleanup;
	}
	/*
	 * Two passes over the rows, one row in memory: the first checks every row, the
	 * second restores them. An array of n_rows would be sized by the file: a row is
	 * 183 bytes on disk at least and 9.6 KiB in memory, so 64 KiB of zlib (64 MiB of
	 * zeros) asked for 3.5 GB before a single row was read.
	 */
	row = malloc(sizeof(*row));
	if (!row) {
		ret = -ENOMEM;
		why = "out of memory";
		goto cleanup;
	}
	rows_at = pc;
	for (i = 0; i < n_rows; i++) {
		if (!get_row(&pc, row, version, &why))
			goto cleanup;
	}
	n_counters = version >= 4 ? cur_u32(&pc) : 0;
	if (!cur_ok(&pc) || n_counters > STATE_COUNTERS_MAX ||
	    n_counters > cur_left(&pc) / 8) {
		why = "counter count larger than the payload";
		goto cleanup;
	}
	for (i = 0; i < n_counters; i++) {
		uint64_t v = get_u64(&pc);

		if (i < ARRAY_SIZE(counters))
			counters[i] = v;
	}
	if (cur_left(&pc)) {
		why = "trailing bytes after the rows";
		goto cleanup;
	}
	/* Only now, with every row valid, touch the live aggregation. */
	for (i = 0; i < n_rows; i++) {
		get_row(&rows_at, row, version, &why);
		ret = agg_restore_row(a, row);
		if (ret) {
			why = "out of memory";
			goto cleanup;
		}
	}
	agg_restore_counters(a, counters, ARRAY_SIZE(counters));
	ret = 0;
cleanup:
	if (ret && why)
		snprintf(err, errlen, "%s", why);
	free(row);
	free(raw);
	return ret;
}

/*
 * clean_temps - a daemon killed during agg__save leaves its temp file behind; one per
 * crash, for ever, next to the state file. Loading is the first thing a start does with
 * the state file, before the first save, so what is there now is stale.
 */
static void clean_temps(const char *path)
{
	unsigned int removed;
	int ret;

	ret = util_remove_stale_temps(path, &removed);
	if (removed)
		log_info("state file %s: removed %u temporary file%s an interrupted write left",
			 path, removed, removed == 1 ? "" : "s");
	if (ret)
		log_warn("state file %s: cannot remove stale temporary files: %s", path,
			 strerror(-ret));
}

int agg__load(struct agg *a, const char *path, char *err, size_t errlen)
{
	char why[256];
	uint8_t *buf = NULL;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	clean_temps(path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		ret = -EBADMSG;
		snprintf(err, errlen, "%s: not a regular file", path);
		goto cleanup;
	}
	if (st.st_size > STATE_FILE_MAX) {
		ret = -EBADMSG;
		snprintf(err, errlen, "%s: larger than %u MiB", path, STATE_FILE_MAX >> 20);
		goto cleanup;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto cleanup;
	}
	/* Read to EOF rather than trusting st_size: the file may change under us. */
	while (len <= (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto cleanup;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	ret = agg__load_buf(a, buf, len, why, sizeof(why));
	if (ret)
		snprintf(err, errlen, "%s: %s", path, why);
cleanup:
	free(buf);
	close(fd);
	return ret;
}

int agg_state_quarantine(const char *path, uint64_t now_ns, char *moved, size_t movedlen)
{
	int n = snprintf(moved, movedlen, "%s.corrupt-%llu", path,
			 (unsigned long long)(now_ns / NSEC_PER_SEC));

	if (n < 0 || (size_t)n >= movedlen)
		return -ENAMETOOLONG;
	if (rename(path, moved))
		return -errno;
	return 0;
}

/* Keep the header layout honest: the CRC covers exactly the 20 bytes before it. */
_Static_assert(STATE_HDR_LEN == 8 + 4 * 4, "state header layout");

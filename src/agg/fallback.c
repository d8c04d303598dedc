// SPDX-License-Identifier: GPL-2.0-only
/*
 * Opportunistic TLS giving up: a plaintext SMTP session is a fallback when the same
 * client failed a TLS handshake with the same server shortly before (DESIGN.md,
 * `plaintext_fallback`). Postfix with smtp_tls_security_level = may does exactly this,
 * on the retry after minimal_backoff_time, from the same smtp process.
 *
 * The client is its process key (exe, unit, container) where the local end is the
 * client and its process is known; otherwise (offline, or the server's end of a local
 * connection) its address. Failures are remembered under both, in a direct-mapped
 * table: a collision forgets an older failure, it never invents one.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tlsaudit/fallback.h"
#include "tlsaudit/util.h"

#define FALLBACK_SLOTS 4096

struct fb_slot {
	uint64_t key; /* 0: empty */
	uint64_t fail_ns;
};

struct agg_fallback {
	uint64_t window_ns;
	struct fb_slot slot[FALLBACK_SLOTS];
};

struct agg_fallback *agg_fallback__new(uint64_t window_ns)
{
	struct agg_fallback *f = calloc(1, sizeof(*f));

	if (f)
		f->window_ns = window_ns;
	return f;
}

void agg_fallback__free(struct agg_fallback *f)
{
	free(f);
}


static uint64_t key_of(const struct hs_record *r, bool by_process)
{
	size_t alen = r->server.family == AF_INET ? 4 : 16;
	uint64_t h = UTIL_FNV1A_INIT; /* keys are local identities, not chosen by a peer */

	if (by_process) {
		h = util_fnv1a(h, "p", 1);
		h = util_fnv1a(h, r->proc.exe, strnlen(r->proc.exe, sizeof(r->proc.exe)) + 1);
		h = util_fnv1a(h, r->proc.unit, strnlen(r->proc.unit, sizeof(r->proc.unit)) + 1);
		h = util_fnv1a(h, r->proc.container,
			strnlen(r->proc.container, sizeof(r->proc.container)) + 1);
	} else {
		h = util_fnv1a(h, "a", 1);
		h = util_fnv1a(h, &r->client.family, 1);
		h = util_fnv1a(h, r->client.addr, alen);
	}
	h = util_fnv1a(h, &r->server.family, 1);
	h = util_fnv1a(h, r->server.addr, alen);
	return h ? h : 1;
}

static struct fb_slot *slot_of(struct agg_fallback *f, uint64_t key)
{
	return &f->slot[(key ^ (key >> 32)) & (FALLBACK_SLOTS - 1)];
}

static void remember(struct agg_fallback *f, uint64_t key, uint64_t t)
{
	struct fb_slot *s = slot_of(f, key);

	s->key = key;
	s->fail_ns = t;
}

static bool failed_before(struct agg_fallback *f, uint64_t key, uint64_t t)
{
	struct fb_slot *s = slot_of(f, key);

	return s->key == key && s->fail_ns <= t && t - s->fail_ns <= f->window_ns;
}

static bool by_process(const struct hs_record *r)
{
	return r->role == HS_ROLE_CLIENT && r->proc.known && r->proc.exe[0];
}

void agg_fallback__apply(struct agg_fallback *f, struct hs_record *r)
{
	bool smtp = r->kind == HS_KIND_PLAINTEXT_SMTP || r->smtp_tls != HS_SMTP_NONE;

	if (!smtp) {
		r->plaintext_fallback = HS_TRI_NULL;
		return;
	}
	if (r->kind == HS_KIND_TLS) {
		r->plaintext_fallback = HS_TRI_FALSE;
		if (hs_failed(r)) {
			if (by_process(r))
				remember(f, key_of(r, true), r->time_ns);
			remember(f, key_of(r, false), r->time_ns);
		}
		return;
	}
	r->plaintext_fallback = failed_before(f, key_of(r, by_process(r)), r->time_ns) ?
					HS_TRI_TRUE : HS_TRI_FALSE;
}

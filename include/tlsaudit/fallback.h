/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * plaintext_fallback (DESIGN.md): a plaintext SMTP session after a failed TLS handshake
 * of the same client with the same server within a window (`fallback_window`, 1 h by
 * default). Applied to every record, in order, after attribution (src/agg/fallback.c).
 */
#ifndef TLSAUDIT_FALLBACK_H
#define TLSAUDIT_FALLBACK_H

#include <stdint.h>

#include "tlsaudit/record.h"

struct agg_fallback;

/* agg_fallback__new - NULL when out of memory. */
struct agg_fallback *agg_fallback__new(uint64_t window_ns);
void agg_fallback__free(struct agg_fallback *f);

/*
 * agg_fallback__apply - set @r->plaintext_fallback (true/false on SMTP sessions, null
 * elsewhere) and remember @r when it is a failed TLS handshake on an SMTP port.
 */
void agg_fallback__apply(struct agg_fallback *f, struct hs_record *r);

#endif /* TLSAUDIT_FALLBACK_H */

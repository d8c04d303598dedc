/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Output of handshake records: the JSON line (field names are an interface: DESIGN.md's
 * table, in that order) and the one-line text form used by `watch`.
 */
#ifndef TLSAUDIT_EXPORT_H
#define TLSAUDIT_EXPORT_H

#include <stddef.h>
#include <stdio.h>

#include "tlsaudit/record.h"

/*
 * export_json_record - one JSON object, no trailing newline, into @buf. Strings the peer
 * controls (SNI, ALPN) are escaped. would_fail names the verdicts after @ps, the set
 * that judged the record (tls_policy_judge_record); null when @ps is NULL. Returns the
 * length, or -1 if @len is too small.
 */
int export_json_record(const struct hs_record *r, const struct tls_policy_set *ps, char *buf,
		       size_t len);

/*
 * export_ecs_record - the same record in Elastic Common Schema (handshake_log_format =
 * ecs): @timestamp, event.*, tls.*, process.*, user.id, container.*, source.*,
 * destination.*, client.*, server.*, network.*, and tlsaudit.* for the rest; one JSON
 * object, no newline. Returns the length, or -1 if @len is too small.
 */
int export_ecs_record(const struct hs_record *r, const struct tls_policy_set *ps, char *buf,
		      size_t len);

/* export_text_record - one human-readable line (no newline), peer strings escaped. */
int export_text_record(const struct hs_record *r, char *buf, size_t len);

/*
 * export_text_escape - @s as printable ASCII for a terminal: other bytes and the
 * backslash become \xNN / \\; cut (not overrun) when @len is too small.
 */
void export_text_escape(const char *s, char *out, size_t len);

#endif /* TLSAUDIT_EXPORT_H */

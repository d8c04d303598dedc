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
 * controls (SNI, ALPN) are escaped. Returns the length, or -1 if @len is too small.
 */
int export_json_record(const struct hs_record *r, char *buf, size_t len);

/* export_text_record - one human-readable line (no newline), peer strings escaped. */
int export_text_record(const struct hs_record *r, char *buf, size_t len);

/*
 * export_json_string - append @s as a JSON string literal (quotes included) to @buf at
 * *@off; non-ASCII and control bytes become \u00XX. Returns -1 when out of room.
 */
int export_json_string(char *buf, size_t len, size_t *off, const char *s);

/*
 * export_text_escape - @s as printable ASCII for a terminal: other bytes and the
 * backslash become \xNN / \\; cut (not overrun) when @len is too small.
 */
void export_text_escape(const char *s, char *out, size_t len);

#endif /* TLSAUDIT_EXPORT_H */

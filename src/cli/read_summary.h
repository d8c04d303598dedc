/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The table `tlsaudit read` prints without --json: handshakes grouped by server, SNI
 * and client, counted by version, legacy rows first. Private to src/cli.
 */
#ifndef TLSAUDIT_READ_SUMMARY_H
#define TLSAUDIT_READ_SUMMARY_H

#include <stdint.h>
#include <stdio.h>

#include "tlsaudit/capture.h"
#include "tlsaudit/flow.h"
#include "tlsaudit/record.h"

struct read_summary;

/* read_summary__new - NULL and errno on failure. */
struct read_summary *read_summary__new(void);
void read_summary__free(struct read_summary *rs);

/* read_summary__add - count one record (TLS handshake or plaintext SMTP session). */
void read_summary__add(struct read_summary *rs, const struct hs_record *rec);

/* read_summary__print - the table and the totals line; 0 or -errno on a write error. */
int read_summary__print(struct read_summary *rs, FILE *out, const struct flow_stats *fs,
			const struct cap_file_stats *cs);

#endif /* TLSAUDIT_READ_SUMMARY_H */

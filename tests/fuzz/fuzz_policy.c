// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer entry for policy definitions and the judge. Input layout:
 *   text up to the first NUL: `key = value` lines as tlsaudit.conf holds them
 *     (`policies = ...`, `policy.NAME.KEY = ...`), each handed to tls_policy_config();
 *   after the NUL, 12 bytes of the server's side: version (2), suite (2), group (2),
 *     flags (1: bit 0 a ServerHello, bit 1 a key_share group, bit 2 an SKE group,
 *     bit 3 HRR), certificate key, signature key, signature hash (1 each), key bits (2);
 *   then a ClientHello body (after the 4-byte handshake header), as the flow layer
 *     hands it to tls_parse_client_hello().
 * Every active policy judges the offer; the verdicts and their JSON must stay in range.
 * The certificate's key and signature names are also read from the text's last line,
 * as records from a state file or another version carry them. Build with `make fuzz`;
 * run build/fuzz/fuzz_policy tests/fuzz/corpus/policy.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsaudit/policy.h"
#include "tlsaudit/record.h"
#include "tlsaudit/tls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SRV_BYTES 12

/* The built-in profiles, resolved once: their suite names are looked up by name. */
static struct tls_policy_set ps, builtin;
static struct tls_client_hello ch;
static struct hs_record rec;

static char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

static void apply_lines(char *text)
{
	char err[512], *line, *next, *eq;

	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		memset(err, 0, sizeof(err));
		if (tls_policy_config(&ps, trim(line), trim(eq + 1), err, sizeof(err)) < 0 &&
		    (!memchr(err, 0, sizeof(err)) || (!err[0] && tls_policy_is_config_key(trim(line)))))
			abort();
	}
}

static void check_verdicts(const struct tls_verdict *v, unsigned int n)
{
	char json[TLS_POLICY_ACTIVE_MAX * 96 + 2];
	unsigned int i;
	int len;

	for (i = 0; i < n; i++) {
		if (v[i].by > TLS_POLICY_BY_SERVER || v[i].reason > TLS_REASON_CERT_SIG)
			abort();
		if ((v[i].by == TLS_POLICY_PASS) != (v[i].reason == TLS_REASON_NONE))
			abort();
		if (v[i].by == TLS_POLICY_BY_CLIENT &&
		    (v[i].reason == TLS_REASON_CERT_KEY || v[i].reason == TLS_REASON_CERT_SIG))
			abort();
	}
	len = tls_verdicts_json(&ps, v, json, sizeof(json));
	if (len < 0 || (size_t)len != strlen(json))
		abort();
	/* Too small a buffer is refused whole, never cut into broken JSON. */
	if (tls_verdicts_json(&ps, v, json, (size_t)len) != -1 || json[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_verdict v[TLS_POLICY_ACTIVE_MAX];
	struct tls_server_hello sh;
	const uint8_t *nul, *srv, *hello;
	char err[512], *text, *last;
	size_t tlen, hlen;
	uint16_t ske;

	nul = memchr(data, 0, size);
	tlen = nul ? (size_t)(nul - data) : size;
	text = malloc(tlen + 1);
	if (!text)
		return 0;
	memcpy(text, data, tlen);
	text[tlen] = '\0';
	last = strrchr(text, '\n');
	last = last ? last + 1 : text;

	if (!builtin.n)
		tls_policy_set_init(&builtin);
	ps = builtin;
	memset(&rec, 0, sizeof(rec));
	tls_offer_set_cert_names(&rec.offer, last, last + strlen(last) / 2);
	apply_lines(text);
	if (tls_policy_set_finish(&ps, err, sizeof(err)))
		goto out;
	if (ps.n_active > TLS_POLICY_ACTIVE_MAX || ps.n > TLS_POLICY_MAX)
		abort();

	if (!nul || size - tlen - 1 < SRV_BYTES)
		goto out;
	srv = nul + 1;
	hello = srv + SRV_BYTES;
	hlen = size - tlen - 1 - SRV_BYTES;
	if (tls_parse_client_hello(hello, hlen, &ch) == TLS_OK)
		tls_offer_from_hello(&ch, &rec.offer);
	memset(&sh, 0, sizeof(sh));
	sh.version = (uint16_t)(srv[0] << 8 | srv[1]);
	sh.cipher = (uint16_t)(srv[2] << 8 | srv[3]);
	sh.group = (uint16_t)(srv[4] << 8 | srv[5]);
	sh.has_group = srv[6] & 2;
	sh.hrr = srv[6] & 8;
	ske = sh.group ^ 0x0101;
	if (srv[6] & 1)
		tls_offer_set_server(&rec.offer, &sh, (srv[6] & 4) ? &ske : NULL);
	tls_offer_set_cert(&rec.offer, (enum tls_offer_key)srv[7], (uint16_t)(srv[10] << 8 | srv[11]),
			   (enum tls_sig_key)srv[8], (enum tls_sig_hash)srv[9]);

	tls_policy_judge_active(&ps, &rec.offer, v);
	check_verdicts(v, ps.n_active);
	rec.kind = HS_KIND_TLS;
	tls_policy_judge_record(&ps, &rec);
	if (rec.judged && rec.n_verdicts != ps.n_active)
		abort();
	if (rec.judged)
		check_verdicts(rec.verdicts, rec.n_verdicts);
out:
	free(text);
	return 0;
}

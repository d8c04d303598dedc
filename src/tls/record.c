// SPDX-License-Identifier: GPL-2.0-only
/*
 * Verdicts on a finished handshake record (DESIGN.md, "The handshake record"): is the
 * negotiated version legacy, which side held it down, is the chosen suite weak.
 */
#include "tlsaudit/record.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"

bool hs_legacy(const struct hs_record *r)
{
	/* SSLv2 (0x0002) and SSLv3 sort below TLS 1.2 numerically, as they should. */
	return r->version != 0 && r->version < TLS_V_12;
}

enum hs_limited hs_limited_by(const struct hs_record *r)
{
	if (!hs_legacy(r))
		return HS_LIMITED_NONE;
	/* The client offered nothing newer than what was chosen. */
	if (r->offered_max <= r->version)
		return HS_LIMITED_CLIENT;
	/* The client could do TLS 1.2 or better and the server still picked older. */
	if (r->offered_max >= TLS_V_12)
		return HS_LIMITED_SERVER;
	return HS_LIMITED_NONE;
}

bool hs_weak_cipher(const struct hs_record *r)
{
	return r->has_cipher && tls_cipher_weak(r->cipher_id);
}

/*
 * One table for every "which end" enum (role, limited_by, outcome_by, policy blame): each
 * numbers none/unknown 0, client 1, server 2, so the JSON, the control protocol and the
 * textfile can never spell an end two ways.
 */
const char *hs_end_name(unsigned int end)
{
	static const char *const names[] = { NULL, "client", "server" };

	return end < ARRAY_SIZE(names) ? names[end] : NULL;
}

const char *hs_role_name(enum hs_role role)
{
	return hs_end_name(role);
}

const char *hs_limited_name(enum hs_limited l)
{
	return hs_end_name(l);
}

bool hs_failed(const struct hs_record *r)
{
	return r->kind == HS_KIND_TLS && r->outcome != HS_OUTCOME_NONE &&
	       r->outcome != HS_OUTCOME_ESTABLISHED;
}

const char *hs_outcome_name(enum hs_outcome o)
{
	static const char *const names[] = {
		[HS_OUTCOME_ESTABLISHED] = "established", [HS_OUTCOME_ALERT] = "alert",
		[HS_OUTCOME_RESET] = "reset",		  [HS_OUTCOME_CLOSED] = "closed",
		[HS_OUTCOME_TIMEOUT] = "timeout",
	};

	return (unsigned int)o < ARRAY_SIZE(names) ? names[o] : NULL;
}

const char *hs_side_name(enum hs_side s)
{
	return hs_end_name(s);
}

const char *hs_smtp_tls_name(enum hs_smtp_tls t)
{
	static const char *const names[] = {
		[HS_SMTP_STARTTLS] = "starttls",
		[HS_SMTP_NOT_OFFERED] = "not_offered",
		[HS_SMTP_NOT_USED] = "not_used",
		[HS_SMTP_REFUSED] = "refused",
	};

	return (unsigned int)t < ARRAY_SIZE(names) ? names[t] : NULL;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Verdicts on a finished handshake record (DESIGN.md, "The handshake record"): is the
 * negotiated version legacy, which side held it down, is the chosen suite weak.
 */
#include "tlsaudit/record.h"
#include "tlsaudit/tls.h"

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

const char *hs_role_name(enum hs_role role)
{
	switch (role) {
	case HS_ROLE_CLIENT:
		return "client";
	case HS_ROLE_SERVER:
		return "server";
	default:
		return NULL;
	}
}

const char *hs_limited_name(enum hs_limited l)
{
	switch (l) {
	case HS_LIMITED_CLIENT:
		return "client";
	case HS_LIMITED_SERVER:
		return "server";
	default:
		return NULL;
	}
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * The handshake record as one line a person reads (tlsaudit watch). Peer-controlled
 * strings are escaped to printable ASCII and cut at a fixed width, so a hostile SNI can
 * neither drive the terminal nor push the interesting columns off the screen. The marks
 * a person scans for are upper case: LEGACY, WEAK, FAILED (with the alert or how the
 * handshake ended, and who ended it), PLAINTEXT (with why), FALLBACK, and ACCEPTED
 * after the certificate's problems when the client went on regardless.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "tlsaudit/cert.h"
#include "tlsaudit/export.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/util.h"

#define PEER_WIDTH 64

void export_text_escape(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	for (; *p && len - o > 4; p++) {
		if (*p >= 0x20 && *p < 0x7f && *p != '\\') {
			out[o++] = (char)*p;
			continue;
		}
		out[o++] = '\\';
		if (*p == '\\') {
			out[o++] = '\\';
			continue;
		}
		out[o++] = 'x';
		out[o++] = hex[*p >> 4];
		out[o++] = hex[*p & 0x0f];
	}
	out[o] = '\0';
}

static void endpoint(const struct hs_endpoint *ep, char *buf, size_t len)
{
	char ip[64];

	util_format_ip(ep->family, ep->addr, ip, sizeof(ip));
	if (ep->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", ip, ep->port);
	else
		snprintf(buf, len, "%s:%u", ip, ep->port);
}

/*
 * failed - " FAILED protocol_version (server)", " FAILED alert (client)" for a sealed
 * alert, " FAILED reset (server)", " FAILED timeout"; "" when the handshake completed.
 */
static void failed(const struct hs_record *r, char *buf, size_t len)
{
	const char *by = hs_side_name((enum hs_side)r->outcome_by), *what;
	char code[24];

	buf[0] = '\0';
	if (!hs_failed(r) || !(what = hs_outcome_name((enum hs_outcome)r->outcome)))
		return;
	if (r->outcome == HS_OUTCOME_ALERT && r->has_alert) {
		what = tls_alert_name(r->alert);
		if (!what) {
			snprintf(code, sizeof(code), "alert 0x%02x", r->alert);
			what = code;
		}
	}
	if (r->outcome == HS_OUTCOME_TIMEOUT || !by)
		snprintf(buf, len, " FAILED %s", what);
	else
		snprintf(buf, len, " FAILED %s (%s)", what, by);
}

/*
 * cert_mark - " cert=expired,self_signed ACCEPTED" (the client went on past a problem a
 * verifying client refuses), " cert=name_mismatch refused", " cert=weak_key"; " cert=cut"
 * or " cert=malformed" when the chain could not be read; "" for a certificate without
 * problems or none in the clear.
 */
static void cert_mark(const struct hs_record *r, char *buf, size_t len)
{
	const char *names[TLS_CERT_N_PROBLEMS];
	size_t i, n, o;
	int k;

	buf[0] = '\0';
	if (r->cert.state == HS_CERT_CUT || r->cert.state == HS_CERT_BAD) {
		snprintf(buf, len, " cert=%s", r->cert.state == HS_CERT_CUT ? "cut" : "malformed");
		return;
	}
	if (r->cert.state != HS_CERT_OK || !r->cert.problems)
		return;
	n = tls_cert_problem_names(r->cert.problems, names);
	o = 0;
	for (i = 0; i < n; i++) {
		k = snprintf(buf + o, len - o, "%s%s", i ? "," : " cert=", names[i]);
		if (k < 0 || (size_t)k >= len - o)
			return;
		o += (size_t)k;
	}
	if (r->cert.accepted_bad == HS_TRI_TRUE)
		snprintf(buf + o, len - o, " ACCEPTED");
	else if (r->cert.accepted_bad == HS_TRI_FALSE)
		snprintf(buf + o, len - o, " refused");
}

/* server_name - "sni=NAME", else "mx=HOST" (SMTP has no SNI), else "sni=-". */
static void server_name(const struct hs_record *r, char *buf, size_t len)
{
	char esc[PEER_WIDTH * 4 + 8];

	if (r->sni[0] || !r->mx_host[0]) {
		export_text_escape(r->sni, esc, sizeof(esc));
		snprintf(buf, len, "sni=%.*s", PEER_WIDTH, r->sni[0] ? esc : "-");
	} else {
		export_text_escape(r->mx_host, esc, sizeof(esc));
		snprintf(buf, len, "mx=%.*s", PEER_WIDTH, esc);
	}
}

int export_text_record(const struct hs_record *r, char *buf, size_t len)
{
	char tbuf[40], who[64] = "", cli[80], srv[80], sni[PEER_WIDTH + 8];
	char comm[sizeof(r->proc.comm) * 4 + 1], ver[16], ciph[64], fail[64], cert[128];
	const char *role = hs_role_name(r->role) ? hs_role_name(r->role) : "-";
	enum hs_limited lim = hs_limited_by(r);
	const char *name;
	int n;

	util_format_time(r->time_ns, tbuf, sizeof(tbuf));
	if (r->proc.known) {
		export_text_escape(r->proc.comm, comm, sizeof(comm));
		snprintf(who, sizeof(who), "%.16s[%u]", comm, r->proc.pid);
	} else {
		util_strlcpy(who, "-", sizeof(who));
	}
	endpoint(&r->client, cli, sizeof(cli));
	endpoint(&r->server, srv, sizeof(srv));
	server_name(r, sni, sizeof(sni));

	if (r->kind == HS_KIND_PLAINTEXT_SMTP) {
		/* mx=, then why it stayed plaintext, and whether TLS had just failed. */
		name = hs_smtp_tls_name((enum hs_smtp_tls)r->smtp_tls);
		n = snprintf(buf, len, "%s %s %s %s -> %s%s%s PLAINTEXT%s%s%s", tbuf, who, role, cli,
			     srv, r->mx_host[0] ? " " : "", r->mx_host[0] ? sni : "",
			     name ? " " : "", name ? name : "",
			     r->plaintext_fallback == HS_TRI_TRUE ? " FALLBACK" : "");
		return n < 0 || (size_t)n >= len ? -1 : n;
	}

	name = r->version ? tls_version_name(r->version) : "no-ServerHello";
	if (name)
		util_strlcpy(ver, name, sizeof(ver));
	else
		snprintf(ver, sizeof(ver), "0x%04x", r->version);
	if (!r->has_cipher)
		util_strlcpy(ciph, "-", sizeof(ciph));
	else if ((name = tls_cipher_name(r->cipher_id)))
		util_strlcpy(ciph, name, sizeof(ciph));
	else
		snprintf(ciph, sizeof(ciph), "0x%04x", r->cipher_id);

	failed(r, fail, sizeof(fail));
	cert_mark(r, cert, sizeof(cert));
	n = snprintf(buf, len, "%s %s %s %s -> %s %s %s %s%s%s%s%s%s%s%s", tbuf, who, role, cli,
		     srv, sni, ver, ciph, r->starttls_smtp ? " STARTTLS" : "",
		     hs_legacy(r) ? " LEGACY" : "", hs_weak_cipher(r) ? " WEAK" : "",
		     lim == HS_LIMITED_CLIENT ? " limited_by=client" : "",
		     lim == HS_LIMITED_SERVER ? " limited_by=server" : "", fail, cert);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

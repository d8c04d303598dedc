// SPDX-License-Identifier: GPL-2.0-only
/*
 * The handshake record as one line a person reads (tlsaudit watch). Peer-controlled
 * strings are escaped to printable ASCII and cut at a fixed width, so a hostile SNI can
 * neither drive the terminal nor push the interesting columns off the screen.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

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

int export_text_record(const struct hs_record *r, char *buf, size_t len)
{
	char tbuf[40], who[64] = "", cli[80], srv[80], sni[PEER_WIDTH * 4 + 8];
	char comm[sizeof(r->proc.comm) * 4 + 1], ver[16], ciph[64];
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
	export_text_escape(r->sni, sni, sizeof(sni));

	if (r->kind == HS_KIND_PLAINTEXT_SMTP) {
		n = snprintf(buf, len, "%s %s %s %s -> %s plaintext SMTP (no STARTTLS)", tbuf, who,
			     role, cli, srv);
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

	n = snprintf(buf, len, "%s %s %s %s -> %s sni=%.*s %s %s%s%s%s%s%s", tbuf, who, role, cli,
		     srv, PEER_WIDTH, r->sni[0] ? sni : "-", ver, ciph,
		     r->starttls_smtp ? " STARTTLS" : "", hs_legacy(r) ? " LEGACY" : "",
		     hs_weak_cipher(r) ? " WEAK" : "",
		     lim == HS_LIMITED_CLIENT ? " limited_by=client" : "",
		     lim == HS_LIMITED_SERVER ? " limited_by=server" : "");
	return n < 0 || (size_t)n >= len ? -1 : n;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * First-bytes tests: does a stream start with TLS at all, and with which hello? The
 * flow layer asks these before it commits a connection to the TLS parser, so "not
 * TLS" (plain HTTP on 443, SMTP on 25) is decided from the bytes that prove it.
 */
#include "tlsaudit/cursor.h"
#include "tlsaudit/tls.h"
#include "tlsaudit/tls_wire.h"

bool tls_record_header_bad(const uint8_t *p, size_t n)
{
	if (n >= 1 && (p[0] < CT_CHANGE_CIPHER_SPEC || p[0] > CT_APPLICATION_DATA))
		return true;
	if (n >= 2 && p[1] != 3)
		return true;
	if (n >= 3 && p[2] > 4)
		return true;
	if (n >= 5 && (((size_t)p[3] << 8) | p[4]) > TLS_MAX_RECORD)
		return true;
	return false;
}

bool tls_looks_like_start(const uint8_t *buf, size_t len)
{
	if (len == 0)
		return false;
	if (buf[0] & SSL2_HEADER_BIT)
		/* SSLv2 header: the message type after the 2-byte length is CLIENT-HELLO. */
		return len < 3 || buf[2] == SSL2_MT_CLIENT_HELLO;
	if (buf[0] != CT_HANDSHAKE || tls_record_header_bad(buf, len))
		return false;
	return len < 6 || buf[5] == HT_CLIENT_HELLO || buf[5] == HT_SERVER_HELLO;
}

bool tls_looks_like_record(const uint8_t *buf, size_t len)
{
	struct tls_cursor c;
	uint8_t type;

	cur_init(&c, buf, len);
	type = cur_u8(&c);
	return type >= CT_CHANGE_CIPHER_SPEC && type <= CT_APPLICATION_DATA && cur_u8(&c) == 3 &&
	       cur_ok(&c);
}

bool tls_first_byte(uint8_t b)
{
	return (b >= CT_CHANGE_CIPHER_SPEC && b <= CT_APPLICATION_DATA) || (b & SSL2_HEADER_BIT);
}

enum tls_sniff tls_sniff_hello(const uint8_t *p, size_t len)
{
	struct tls_cursor c;
	uint8_t type, hs;

	cur_init(&c, p, len);
	type = cur_u8(&c);
	if (type == CT_HANDSHAKE) {
		if (cur_u8(&c) != 3)
			return TLS_SNIFF_NONE;
		cur_skip(&c, 3);
		hs = cur_u8(&c);
		if (!cur_ok(&c))
			return TLS_SNIFF_NONE;
		return hs == HT_CLIENT_HELLO ? TLS_SNIFF_CLIENT_HELLO :
		       hs == HT_SERVER_HELLO ? TLS_SNIFF_SERVER_HELLO : TLS_SNIFF_NONE;
	}
	if (type & SSL2_HEADER_BIT) {
		cur_skip(&c, 1);
		if (cur_u8(&c) == SSL2_MT_CLIENT_HELLO && cur_ok(&c))
			return TLS_SNIFF_CLIENT_HELLO;
	}
	return TLS_SNIFF_NONE;
}

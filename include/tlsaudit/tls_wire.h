/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TLS wire constants: record content types (RFC 8446 section 5.1, RFC 5246 section
 * 6.2.1) and the handshake message types tlsaudit reads (RFC 8446 section 4). Every
 * file that looks at raw TLS bytes names them from here, never as bare numbers.
 */
#ifndef TLSAUDIT_TLS_WIRE_H
#define TLSAUDIT_TLS_WIRE_H

enum tls_content_type {
	CT_CHANGE_CIPHER_SPEC = 20,
	CT_ALERT = 21,
	CT_HANDSHAKE = 22,
	CT_APPLICATION_DATA = 23,
};

enum tls_handshake_type {
	HT_CLIENT_HELLO = 1,
	HT_SERVER_HELLO = 2,
	HT_CERTIFICATE = 11,
	HT_SERVER_KEY_EXCHANGE = 12,
	HT_SERVER_HELLO_DONE = 14,
};

/* SSLv2 record header: the top bit of the first byte marks a 2-byte length. */
#define SSL2_HEADER_BIT 0x80
#define SSL2_MT_CLIENT_HELLO 1

#define TLS_RECORD_HDR 5
/* RFC 5246 section 6.2.3: a TLSCiphertext fragment is at most 2^14 + 2048 bytes. */
#define TLS_MAX_RECORD (16384 + 2048)

#endif /* TLSAUDIT_TLS_WIRE_H */

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Writes the fuzz seed corpus from real handshakes made by the local OpenSSL.

    tests/fuzz/corpus/mkcorpus.py [CORPUS_DIR]

Each handshake runs between two in-memory SSL objects (no network), so the bytes are
what a real client and server send. The seeds go to CORPUS_DIR/tls (raw byte streams
for fuzz_tls), CORPUS_DIR/flow (segment scripts in the fuzz_flow.c input layout) and
CORPUS_DIR/decode (link type byte plus a captured frame, for fuzz_decode.c).
"""
import os
import ssl
import struct
import subprocess
import sys
import tempfile

SMTP_BEFORE = [
    (1, b"220 mail.tlsaudit.test ESMTP\r\n"),
    (0, b"EHLO client.tlsaudit.test\r\n"),
    (1, b"250-mail.tlsaudit.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n"),
    (0, b"STARTTLS\r\n"),
    (1, b"220 2.0.0 Ready to start TLS\r\n"),
]
SMTP_MAIL = [(0, b"MAIL FROM:<a@b>\r\n"), (1, b"250 OK\r\n"), (0, b"QUIT\r\n"),
             (1, b"221 Bye\r\n")]
SMTP_PLAIN = SMTP_BEFORE[:3] + SMTP_MAIL
# The server answers STARTTLS with 454 (RFC 3207 section 4) and the client goes on in clear.
SMTP_REFUSED = SMTP_BEFORE[:4] + [(1, b"454 4.7.0 TLS not available due to local problem\r\n")] \
    + SMTP_MAIL
# An EHLO reply without STARTTLS: nothing to upgrade to.
SMTP_NOT_OFFERED = SMTP_BEFORE[:2] + [(1, b"250-mail.tlsaudit.test\r\n250 8BITMIME\r\n")] \
    + SMTP_MAIL
# Fatal alerts (level 2) a server sends in the clear in answer to a ClientHello.
ALERT_PROTOCOL_VERSION = b"\x15\x03\x01\x00\x02\x02\x46"
ALERT_HANDSHAKE_FAILURE = b"\x15\x03\x03\x00\x02\x02\x28"
# TCP flags in fuzz_flow.c's op header.
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x08
BOTH_FIN = ((FIN | ACK, 0), (FIN | ACK, 1))


def make_cert(tmp):
    key, crt = os.path.join(tmp, "k.pem"), os.path.join(tmp, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=tlsaudit.test", "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    return key, crt


def handshake(key, crt, version, ciphers=None, alpn=None):
    """Returns [(direction, bytes)]: 0 client to server, 1 server to client."""
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(crt, key)
    for ctx in (cctx, sctx):
        ctx.minimum_version = version
        ctx.maximum_version = version
        ctx.set_ciphers(ciphers or "DEFAULT:@SECLEVEL=0")
    if alpn:
        cctx.set_alpn_protocols(alpn)
        sctx.set_alpn_protocols(alpn)
    cin, cout, sin, sout = (ssl.MemoryBIO() for _ in range(4))
    cli = cctx.wrap_bio(cin, cout, server_hostname="www.tlsaudit.test")
    srv = sctx.wrap_bio(sin, sout, server_side=True)
    out = []
    for _ in range(10):
        for end, bio_out, peer_in, d in ((cli, cout, sin, 0), (srv, sout, cin, 1)):
            try:
                end.do_handshake()
            except ssl.SSLWantReadError:
                pass
            data = bio_out.read()
            if data:
                out.append((d, data))
                peer_in.write(data)
    return out


def flow_script(exchange, port_sel, cfg=(6, 7, 3, 0), chunk=1400, ep=0, end=BOTH_FIN,
                tfo=False):
    """Segments in fuzz_flow.c's layout: SYN, SYN-ACK, the data in chunks, then @end, a
    list of (flags, direction). With @tfo the client's first flight rides on its SYN
    (TCP Fast Open, RFC 7413)."""
    def op(flags, d, payload=b"", seq_delta=0):
        h0 = flags | (d << 4) | (ep << 5) | (0x80 if seq_delta else 0)
        return struct.pack("!BBhH", h0, port_sel, seq_delta, len(payload)) + payload

    if tfo:
        s = bytes(cfg) + op(SYN, 0, exchange[0][1]) + op(SYN | ACK, 1)
        exchange = exchange[1:]
    else:
        s = bytes(cfg) + op(SYN, 0) + op(SYN | ACK, 1)
    for d, data in exchange:
        for i in range(0, len(data), chunk):
            s += op(ACK, d, data[i:i + chunk])
    for flags, d in end:
        s += op(flags, d)
    return s


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def tcp(sport, dport, payload, flags=0x18, seq=1000):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 5 << 4, flags, 65535, 0, 0) + payload


def ipv4(l4):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0x4000, 64, 6, 0,
                      bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1]))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + l4


def ipv6(l4, ext=False):
    nh, body = 6, l4
    if ext:
        # A hop-by-hop header with PadN filling its 8 bytes.
        body = struct.pack("!BBBB4s", 6, 0, 1, 4, b"\0" * 4) + l4
        nh = 0
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), nh, 64, b"\0" * 15 + b"\2",
                       b"\0" * 15 + b"\1") + body


def decode_seeds(hello):
    seg = tcp(40000, 443, hello)
    eth4 = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ipv4(seg)
    vlan6 = b"\x02" * 6 + b"\x04" * 6 + b"\x81\x00\x00\x05\x86\xdd" + ipv6(seg, ext=True)
    sll = struct.pack("!HHH8sH", 4, 1, 6, b"\x02" * 8, 0x0800) + ipv4(seg)
    sll2 = struct.pack("!HHIHBB8s", 0x86dd, 0, 1, 1, 4, 6, b"\x02" * 8) + ipv6(seg)
    null = struct.pack("<I", 2) + ipv4(seg)
    loop = struct.pack("!I", 10) + ipv6(seg)
    syn = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ipv4(tcp(40000, 25, b"", 0x02))
    # Index into fuzz_decode.c's dlts[]: 1 EN10MB, 4 RAW, 5 LOOP, 6 SLL, 7 IPV4, 9 SLL2, 0 NULL
    return {"eth_ipv4": bytes([1]) + eth4, "eth_vlan_ipv6": bytes([1]) + vlan6,
            "sll_ipv4": bytes([6]) + sll, "sll2_ipv6": bytes([9]) + sll2,
            "null_ipv4": bytes([0]) + null, "loop_ipv6": bytes([5]) + loop,
            "raw_ipv6": bytes([4]) + ipv6(seg), "ipv4_dlt": bytes([7]) + ipv4(seg),
            "eth_syn": bytes([1]) + syn}


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for sub in ("tls", "flow", "decode"):
        os.makedirs(os.path.join(top, sub), exist_ok=True)

    def put(sub, name, data):
        with open(os.path.join(top, sub, name), "wb") as f:
            f.write(data)

    with tempfile.TemporaryDirectory() as tmp:
        key, crt = make_cert(tmp)
        cases = {
            "tls10": handshake(key, crt, ssl.TLSVersion.TLSv1),
            "tls11_3des": handshake(key, crt, ssl.TLSVersion.TLSv1_1,
                                   "AES128-SHA:DES-CBC3-SHA:@SECLEVEL=0"),
            "tls12": handshake(key, crt, ssl.TLSVersion.TLSv1_2, alpn=["h2", "http/1.1"]),
            "tls13": handshake(key, crt, ssl.TLSVersion.TLSv1_3),
        }
    for name, ex in cases.items():
        put("tls", name + "_client", b"".join(b for d, b in ex if d == 0))
        put("tls", name + "_server", b"".join(b for d, b in ex if d == 1))
        put("flow", name + "_443", flow_script(ex, 0))
    put("flow", "tls12_587_starttls", flow_script(SMTP_BEFORE + cases["tls12"], 2))
    put("flow", "tls10_25_starttls_small",
        flow_script(SMTP_BEFORE + cases["tls10"], 1, cfg=(3, 2, 0, 2), chunk=200, ep=2))
    put("flow", "smtp_plain_25", flow_script(SMTP_PLAIN, 1))
    put("flow", "tls13_live_cap", flow_script(cases["tls13"], 0, cfg=(2, 3, 1, 1), chunk=50))
    # How handshakes end: refused by an alert, cut by a RST or a FIN right after the
    # ClientHello (the record's outcome, outcome_by and alert).
    ch10, ch12 = cases["tls10"][:1], cases["tls12"][:1]
    put("flow", "alert_after_ch_443",
        flow_script(ch10 + [(1, ALERT_PROTOCOL_VERSION)], 0, end=((FIN | ACK, 1), (FIN | ACK, 0))))
    put("flow", "alert_after_ch_live_587",
        flow_script(SMTP_BEFORE + ch12 + [(1, ALERT_HANDSHAKE_FAILURE)], 2, cfg=(6, 7, 3, 1),
                    end=((RST, 1),)))
    put("flow", "rst_after_ch_443", flow_script(ch12, 0, end=((RST | ACK, 1),)))
    put("flow", "fin_after_ch_443", flow_script(ch12, 0, end=((FIN | ACK, 1),)))
    put("flow", "smtp_starttls_refused_25", flow_script(SMTP_REFUSED, 1))
    put("flow", "smtp_not_offered_25", flow_script(SMTP_NOT_OFFERED, 1, cfg=(6, 7, 3, 1)))
    put("flow", "smtp_plain_587_small", flow_script(SMTP_PLAIN, 2, chunk=7, ep=3))
    put("flow", "tfo_syn_data_443", flow_script(cases["tls13"], 0, tfo=True))
    for name, frame in decode_seeds(cases["tls12"][0][1]).items():
        put("decode", name, frame)


if __name__ == "__main__":
    main()

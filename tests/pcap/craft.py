#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Writes crafted capture files for what real TLS peers will not produce.

    tests/pcap/craft.py OUTDIR

Every file is described in CASES below (name, what it holds); tests/e2e/read_crafted.sh
holds the expected results. Only the standard library is used, so the captures can be
regenerated anywhere; nothing here is random (fixed randoms, fixed timestamps).
"""
import gzip
import os
import struct
import sys

T0 = 1795428000  # 2026-11-23T10:00:00Z

# --- TLS messages (RFC 8446 section 4, RFC 5246 section 7.4) --------------------------


def u8(v):
    return struct.pack("!B", v)


def u16(v):
    return struct.pack("!H", v)


def u24(v):
    return struct.pack("!I", v)[1:]


def vec8(b):
    return u8(len(b)) + b


def vec16(b):
    return u16(len(b)) + b


def ext(etype, body):
    return u16(etype) + vec16(body)


def ext_sni(name):
    entry = u8(0) + vec16(name.encode())
    return ext(0, vec16(entry))


def ext_groups(groups):
    return ext(10, vec16(b"".join(u16(g) for g in groups)))


def ext_versions(versions):
    return ext(43, vec8(b"".join(u16(v) for v in versions)))


def ext_key_share(shares):
    body = b"".join(u16(g) + vec16(b"\x42" * n) for g, n in shares)
    return ext(51, vec16(body))


def ext_alpn(protos):
    return ext(16, vec16(b"".join(vec8(p.encode()) for p in protos)))


def ext_sig_algs():
    return ext(13, vec16(b"".join(u16(s) for s in (0x0403, 0x0804, 0x0401, 0x0201))))


def handshake(htype, body):
    return u8(htype) + u24(len(body)) + body


def record(ctype, body, version=0x0301):
    return u8(ctype) + u16(version) + vec16(body)


def client_hello(version, ciphers, exts, sid=b"\x11" * 32):
    body = (u16(version) + b"\x01" * 32 + vec8(sid) + vec16(b"".join(u16(c) for c in ciphers))
            + vec8(b"\x00") + vec16(b"".join(exts)))
    return handshake(1, body)


def server_hello(version, cipher, exts=(), sid=b"\x11" * 32):
    body = u16(version) + b"\x02" * 32 + vec8(sid) + u16(cipher) + u8(0)
    if exts:
        body += vec16(b"".join(exts))
    return handshake(2, body)


def ske_ecdhe(group):
    # RFC 8422 section 5.4: curve_type named_curve, the group, the point, a signature
    return handshake(12, u8(3) + u16(group) + vec8(b"\x04" * 32) + u16(0x0401)
                     + vec16(b"\x55" * 64))


def certificate():
    return handshake(11, u24(3 + 40) + u24(40) + b"\x30" * 40)


SERVER_HELLO_DONE = handshake(14, b"")
CCS = record(20, b"\x01", 0x0303)
APP_DATA = record(23, b"\x99" * 40, 0x0303)
# A sealed Finished: after ChangeCipherSpec, a handshake record nobody can read.
SEALED_FINISHED = record(22, b"\x77" * 40, 0x0303)


def finish(c):
    """Both sides finish a TLS 1.2-or-older handshake: the outcome is 'established'."""
    c.c2s(CCS + SEALED_FINISHED)
    c.s2c(CCS + SEALED_FINISHED)
    return c

# --- Frames: Ethernet / VLAN / Linux cooked v2 / raw, IPv4 / IPv6, TCP -----------------


def csum(data):
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def ipv4(src, dst, payload, proto=6):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                      bytes(src), bytes(dst))
    hdr = hdr[:10] + u16(csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, payload, nh=6):
    return (struct.pack("!IHBB", 0x60000000, len(payload), nh, 64) + bytes(src) + bytes(dst)
            + payload)


def tcp(sport, dport, seq, ack, flags, payload):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0,
                       0) + payload


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class Conn:
    """One TCP connection; every method appends frames (timestamp, bytes) to self.pkts."""

    def __init__(self, cli, srv, cport, sport, link="eth", t=T0 * 10**9, v6=False):
        self.cli, self.srv, self.cport, self.sport = cli, srv, cport, sport
        self.link, self.t, self.v6 = link, t, v6
        self.cseq, self.sseq = 1000, 5000000
        self.pkts = []

    def frame(self, from_client, seq, ack, flags, data):
        src, dst = (self.cli, self.srv) if from_client else (self.srv, self.cli)
        sp, dp = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        seg = tcp(sp, dp, seq & 0xffffffff, ack & 0xffffffff, flags, data)
        ip = ipv6(src, dst, seg) if self.v6 else ipv4(src, dst, seg)
        ethertype = 0x86dd if self.v6 else 0x0800
        if self.link == "eth":
            l2 = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01" + u16(ethertype)
        elif self.link == "qinq":
            l2 = (b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01" + u16(0x88a8) + u16(100)
                  + u16(0x8100) + u16(200) + u16(ethertype))
        elif self.link == "sll2":
            l2 = u16(ethertype) + u16(0) + struct.pack("!I", 2) + u16(1) + u8(
                4 if from_client else 0) + u8(6) + b"\x02\x00\x00\x00\x00\x01\x00\x00"
        else:
            l2 = b""
        self.t += 1000000  # 1 ms, in ns
        self.pkts.append((self.t, l2 + ip))

    def open(self):
        self.frame(True, self.cseq, 0, SYN, b"")
        self.frame(False, self.sseq, self.cseq + 1, SYN | ACK, b"")
        self.cseq += 1
        self.sseq += 1
        self.frame(True, self.cseq, self.sseq, ACK, b"")
        return self

    def c2s(self, data, at=None):
        """Client data at the current sequence, or at offset @at into it (reordering)."""
        seq = self.cseq + (at or 0)
        self.frame(True, seq, self.sseq, PSH | ACK, data)
        if at is None:
            self.cseq += len(data)

    def s2c(self, data):
        self.frame(False, self.sseq, self.cseq, PSH | ACK, data)
        self.sseq += len(data)

    def close(self):
        self.frame(True, self.cseq, self.sseq, FIN | ACK, b"")
        self.frame(False, self.sseq, self.cseq + 1, FIN | ACK, b"")
        self.frame(True, self.cseq + 1, self.sseq + 1, ACK, b"")
        return self


LINKTYPE = {"eth": 1, "qinq": 1, "sll2": 276, "raw": 101}


def write_pcap(path, pkts, linktype, snaplen=262144):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, snaplen, linktype))
        for t, data in pkts:
            sec, nsec = divmod(t, 10**9)
            cap = data[:snaplen]
            f.write(struct.pack("<IIII", sec, nsec, len(cap), len(data)) + cap)


def write_pcapng(path, pkts, linktype):
    def block(btype, body):
        body += b"\x00" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    with open(path, "wb") as f:
        f.write(block(0x0a0d0d0a, struct.pack("<IHHq", 0x1a2b3c4d, 1, 0, -1)))
        # if_tsresol = 9 (nanoseconds)
        opts = struct.pack("<HHB3x", 9, 1, 9) + struct.pack("<HH", 0, 0)
        f.write(block(1, struct.pack("<HHI", linktype, 0, 262144) + opts))
        for t, data in pkts:
            ts = t
            f.write(block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xffffffff, len(data),
                                         len(data)) + data))


# --- The cases ------------------------------------------------------------------------

CLI4, SRV4 = (10, 0, 0, 5), (192, 0, 2, 10)
CLI6 = (0x20, 0x01, 0x0d, 0xb8) + (0,) * 11 + (5,)
SRV6 = (0x20, 0x01, 0x0d, 0xb8) + (0,) * 11 + (0x10,)
GREASE = 0x3a3a


def tls13_pq():
    """~1.8 KB ClientHello with an X25519MLKEM768 key share over two segments;
    TLS 1.3 ServerHello choosing 0x11ec."""
    ch = client_hello(0x0303, [0x1301, 0x1302, 0x1303, 0xc02f], [
        ext_sni("pq.example"),
        ext_groups([0x11ec, 0x001d, 0x0017]),
        ext_sig_algs(),
        ext_alpn(["h2", "http/1.1"]),
        ext_versions([0x0304, 0x0303]),
        ext(45, vec8(b"\x01")),
        ext_key_share([(0x11ec, 1216), (0x001d, 32)]),
        ext(21, b"\x00" * 280),
    ])
    rec = record(22, ch)
    assert 1700 < len(rec) < 1900, len(rec)
    sh = server_hello(0x0303, 0x1301, [ext_versions_sh(0x0304), ext_key_share_sh(0x11ec, 1120)])
    c = Conn(CLI4, SRV4, 40001, 443).open()
    c.c2s(rec[:1200])
    c.c2s(rec[1200:])
    c.s2c(record(22, sh, 0x0303) + CCS + APP_DATA)
    c.c2s(CCS + APP_DATA)
    return c.close().pkts


def ext_versions_sh(v):
    return ext(43, u16(v))


def ext_key_share_sh(group, n):
    return ext(51, u16(group) + vec16(b"\x43" * n))


def sslv2_hello():
    """SSLv2-format CLIENT-HELLO offering TLS 1.0 (RFC 5246 appendix E.2); the server
    answers with a TLS 1.0 ServerHello choosing RC4."""
    specs = b"".join(bytes(s) for s in ((0, 0, 0x05), (0, 0, 0x2f), (0x01, 0x00, 0x80)))
    body = u8(1) + u16(0x0301) + u16(len(specs)) + u16(0) + u16(16) + specs + b"\x07" * 16
    hello = u16(0x8000 | len(body)) + body
    c = Conn(CLI4, SRV4, 40002, 443).open()
    c.c2s(hello)
    c.s2c(record(22, server_hello(0x0301, 0x0005, sid=b"") + certificate() + SERVER_HELLO_DONE,
                 0x0301))
    c.c2s(record(22, handshake(16, vec16(b"\x66" * 64)), 0x0301))
    return finish(c).close().pkts


def grease():
    """GREASE in every list (RFC 8701); TLS 1.2 chosen, x25519 in the ServerKeyExchange."""
    ch = client_hello(0x0303, [GREASE, 0x1301, 0xc02f, 0xc030], [
        ext(0x0a0a, b""),
        ext_sni("grease.example"),
        ext_groups([0x2a2a, 0x001d, 0x0017]),
        ext_sig_algs(),
        ext(11, vec8(b"\x00")),
        ext_versions([0x6a6a, 0x0304, 0x0303]),
        ext_key_share([(0x2a2a, 1), (0x001d, 32)]),
        ext(0xfafa, b"\x00"),
    ])
    c = Conn(CLI4, SRV4, 40003, 443, link="raw").open()
    c.c2s(record(22, ch))
    c.s2c(record(22, server_hello(0x0303, 0xc02f) + certificate() + ske_ecdhe(0x001d)
                 + SERVER_HELLO_DONE, 0x0303))
    return finish(c).close().pkts


def legacy_client_hello(sni, max_version, ciphers):
    return client_hello(max_version, ciphers, [ext_sni(sni), ext_groups([0x0017])])


def reorder():
    """TLS 1.0-only client; its ClientHello in three segments sent 2, 1, 1 (a
    retransmission), 3; the ServerHello is retransmitted too."""
    rec = record(22, legacy_client_hello("old.example", 0x0301, [0x002f, 0x000a]))
    a, b = 60, 120
    c = Conn(CLI4, SRV4, 40004, 443).open()
    c.c2s(rec[a:b], at=a)
    c.c2s(rec[:a], at=0)
    c.c2s(rec[:a], at=0)
    c.c2s(rec[b:], at=b)
    c.cseq += len(rec)
    sh = record(22, server_hello(0x0301, 0x002f) + certificate() + SERVER_HELLO_DONE, 0x0301)
    seq = c.sseq
    c.s2c(sh)
    c.sseq = seq
    c.s2c(sh)
    return finish(c).close().pkts


def malformed_ext():
    """An extension length that runs past the end of the ClientHello."""
    ch = bytearray(client_hello(0x0303, [0xc02f], [ext_sni("bad.example"),
                                                  ext_groups([0x001d])]))
    # the last extension (supported_groups) claims 200 bytes
    ch[-6:-4] = u16(200)
    c = Conn(CLI4, SRV4, 40005, 443).open()
    c.c2s(record(22, bytes(ch)))
    c.s2c(record(21, b"\x02\x32", 0x0303))  # decode_error alert
    return c.close().pkts


def http_443():
    """Plain HTTP spoken on port 443."""
    c = Conn(CLI4, SRV4, 40006, 443).open()
    c.c2s(b"GET / HTTP/1.1\r\nHost: plain.example\r\n\r\n")
    c.s2c(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    return c.close().pkts


def smtp_plain():
    """Submission on 587 that never sends STARTTLS."""
    c = Conn(CLI4, SRV4, 40007, 587).open()
    c.s2c(b"220 mx.example ESMTP\r\n")
    c.c2s(b"EHLO client.example\r\n")
    c.s2c(b"250-mx.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
    c.c2s(b"MAIL FROM:<a@client.example>\r\n")
    c.s2c(b"250 2.1.0 Ok\r\n")
    c.c2s(b"QUIT\r\n")
    c.s2c(b"221 2.0.0 Bye\r\n")
    return c.close().pkts


def smtp_starttls():
    """Port 25 with STARTTLS, then a TLS 1.2 handshake."""
    c = Conn(CLI4, SRV4, 40008, 25).open()
    c.s2c(b"220 mx.example ESMTP\r\n")
    c.c2s(b"EHLO client.example\r\n")
    c.s2c(b"250-mx.example\r\n250 STARTTLS\r\n")
    c.c2s(b"STARTTLS\r\n")
    c.s2c(b"220 2.0.0 Ready to start TLS\r\n")
    c.c2s(record(22, client_hello(0x0303, [0xc030, 0xc02f], [ext_sni("mx.example"),
                                                            ext_groups([0x0017])])))
    c.s2c(record(22, server_hello(0x0303, 0xc030) + certificate() + ske_ecdhe(0x0017)
                 + SERVER_HELLO_DONE, 0x0303))
    return finish(c).close().pkts


def vlan_server_limited():
    """QinQ-tagged frames; the client offers TLS 1.2, the server picks TLS 1.0."""
    c = Conn(CLI4, SRV4, 40009, 443, link="qinq").open()
    c.c2s(record(22, legacy_client_hello("vlan.example", 0x0303, [0xc013, 0x002f])))
    c.s2c(record(22, server_hello(0x0301, 0xc013) + certificate() + ske_ecdhe(0x0017)
                 + SERVER_HELLO_DONE, 0x0301))
    return finish(c).close().pkts


def sll2_v6():
    """Linux cooked v2, IPv6, TLS 1.3 with x25519 and ALPN h2 chosen."""
    ch = client_hello(0x0303, [0x1302, 0x1301], [
        ext_sni("v6.example"), ext_groups([0x001d]), ext_sig_algs(), ext_alpn(["h2"]),
        ext_versions([0x0304]), ext_key_share([(0x001d, 32)])])
    sh = server_hello(0x0303, 0x1302, [ext_versions_sh(0x0304), ext_key_share_sh(0x001d, 32)])
    c = Conn(CLI6, SRV6, 40010, 443, link="sll2", v6=True).open()
    c.c2s(record(22, ch))
    c.s2c(record(22, sh, 0x0303) + CCS + APP_DATA)
    c.c2s(CCS + APP_DATA)
    return c.close().pkts


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    cases = {
        "tls13_pq.pcap": (tls13_pq(), "eth"),
        "sslv2_hello.pcap": (sslv2_hello(), "eth"),
        "grease.pcap": (grease(), "raw"),
        "reorder.pcap": (reorder(), "eth"),
        "malformed_ext.pcap": (malformed_ext(), "eth"),
        "http_443.pcap": (http_443(), "eth"),
        "smtp_plain.pcap": (smtp_plain(), "eth"),
        "smtp_starttls.pcap": (smtp_starttls(), "eth"),
        "vlan.pcap": (vlan_server_limited(), "qinq"),
    }
    for name, (pkts, link) in cases.items():
        write_pcap(os.path.join(out, name), pkts, LINKTYPE[link])
    write_pcapng(os.path.join(out, "sll2_v6.pcapng"), sll2_v6(), LINKTYPE["sll2"])

    with open(os.path.join(out, "tls13_pq.pcap"), "rb") as f:
        whole = f.read()
    with open(os.path.join(out, "tls13_pq.pcap.gz"), "wb") as f:
        f.write(gzip.compress(whole, mtime=0))
    # cut inside the ClientHello's second segment: a truncated mid-record file
    with open(os.path.join(out, "truncated.pcap"), "wb") as f:
        f.write(whole[:24 + 3 * (16 + 54) + 16 + 1254 + 16 + 100])
    # a capture cut to 100 bytes per packet: the handshake cannot be seen
    write_pcap(os.path.join(out, "snap100.pcap"), tls13_pq(), 1, snaplen=100)
    # 802.11 link type: not something tlsaudit decodes
    write_pcap(os.path.join(out, "wifi.pcap"), [(T0 * 10**9, b"\x00" * 40)], 105)


if __name__ == "__main__":
    main()

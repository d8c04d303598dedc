#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Build a large capture for the read benchmark from real flows.

    mkcapture.py SEED.pcap OUT.pcap [--handshakes N] [--ports 443,25,587]
    mkcapture.py --mix SEED.pcap [SEED2.pcap ...] OUT.pcap [--handshakes N] [--clients N]
                 [--servers N] [--rate N] [--stretch N] [--random-seed N]

SEED.pcap is a classic pcap (Ethernet link type, as tcpdump writes on lo) holding complete
TCP sessions, e.g. the capture tests/e2e/read_peers.sh makes with PEERS_CAPTURE_ONLY. The
seed is written again and again, each copy shifted in time and with every client address
moved to a fresh one (10.0.0.0/8 for IPv4, fd00::/96 for IPv6), so every copy of a session
is a distinct TCP 4-tuple. Server addresses and ports, and every payload byte, are kept.
The seed's TCP checksums (partial on loopback, where the checksum is offloaded) are computed
once; in each copy the IPv4 header checksum is recomputed and the TCP checksum adjusted
incrementally (RFC 1624), so every packet of the output carries valid checksums.

With --mix the output is a realistic mix instead of copies: every TCP session of the
seeds is a template, and the output is N sessions drawn from them the way a busy network
shows them. There are --servers servers, each with its own address (198.18.0.0/15,
fd01::/96), a template of its own (a server keeps one configuration: its version, cipher,
certificate and failure mode), its own name (the SNI's first label replaced by one of the
same length, in every ClientHello that carries it) and its own certificate: the leaf's
last 16 bytes, inside its signature, replaced (another SHA-256, so another cache entry)
and its issuer's CN replaced by that of one of eight CAs, of the same length, so that it
reads as the CA-issued leaf a server has (its signature no longer verifies: tlsaudit
checks no CA's signature, only a self-signed leaf's own). Servers are picked
by a Zipf law (a few are busy, most are seen a few times); clients uniformly from
--clients addresses (10.0.0.0/8, fd00::/96), each with its own run of ports. Sessions start
at random (Poisson, --rate a second) and overlap, their packets interleaved by time,
after the seed's gaps are stretched --stretch times (loopback round trips are 50 us,
the Internet's some ms). Checksums stay valid (RFC 1624 for every changed word).

Prints the number of packets, sessions (SYNs to a server port) and bytes written, and
with --mix the distinct servers, clients and certificates used and the most sessions
open at once.
"""
import argparse
import hashlib
import heapq
import random
import struct
import sys

LINKTYPE_ETHERNET = 1
ETH_LEN = 14


def csum_fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def words_sum(b):
    s = 0
    for i in range(0, len(b), 2):
        s += (b[i] << 8) | b[i + 1]
    return s


def csum_adjust(old, old_bytes, new_bytes):
    """RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') over the changed 16-bit words."""
    s = (~old & 0xFFFF) + (~csum_fold(words_sum(old_bytes)) & 0xFFFF) + words_sum(new_bytes)
    return ~csum_fold(s) & 0xFFFF


def ipv4_header_csum(hdr):
    h = bytearray(hdr)
    h[10:12] = b"\0\0"
    return ~csum_fold(words_sum(h)) & 0xFFFF


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        sys.exit("mkcapture: %s: too short for a pcap file" % path)
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        sys.exit("mkcapture: %s: not a classic pcap file (pcapng is not supported)" % path)
    nanos = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(end + "I", data[20:24])[0] & 0x0FFFFFFF
    if linktype != LINKTYPE_ETHERNET:
        sys.exit("mkcapture: %s: link type %d, only Ethernet (1) is supported" % (path, linktype))
    pkts = []
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            break
        usec = frac // 1000 if nanos else frac
        pkts.append((sec * 1000000 + usec, orig, bytes(data[off:off + incl])))
        off += incl
    return pkts


class Template:
    """One seed packet and where its client address and checksums sit."""

    def __init__(self, ts, orig, frame, ports):
        self.ts, self.orig, self.frame = ts, orig, frame
        self.ok = False
        if len(frame) < ETH_LEN + 20:
            return
        ethertype = struct.unpack("!H", frame[12:14])[0]
        l3 = ETH_LEN
        if ethertype == 0x0800:
            ihl = (frame[l3] & 0x0F) * 4
            if frame[l3 + 9] != 6 or len(frame) < l3 + ihl + 20:
                return
            self.v6 = False
            l4 = l3 + ihl
            src_off, dst_off, alen = l3 + 12, l3 + 16, 4
        elif ethertype == 0x86DD:
            if frame[l3 + 6] != 6 or len(frame) < l3 + 40 + 20:
                return
            self.v6 = True
            l4 = l3 + 40
            src_off, dst_off, alen = l3 + 8, l3 + 24, 16
        else:
            return
        sport, dport = struct.unpack("!HH", frame[l4:l4 + 4])
        flags = frame[l4 + 13]
        # The client is the side not on a server port.
        if dport in ports:
            self.addr_off, self.saddr_off, self.from_client = src_off, dst_off, True
        elif sport in ports:
            self.addr_off, self.saddr_off, self.from_client = dst_off, src_off, False
        else:
            return
        self.l3, self.l4, self.alen = l3, l4, alen
        self.flags = flags
        self.syn = (flags & 0x12) == 0x02 and dport in ports
        self.old_addr = frame[self.addr_off:self.addr_off + alen]
        self.old_saddr = frame[self.saddr_off:self.saddr_off + alen]
        self.cport_off = l4 if self.from_client else l4 + 2
        self.key = (self.v6, bytes(self.old_addr), sport if self.from_client else dport,
                    bytes(self.old_saddr), dport if self.from_client else sport)
        self.seq = struct.unpack("!I", frame[l4 + 4:l4 + 8])[0]
        doff = (frame[l4 + 12] >> 4) * 4
        if self.v6:
            ip_end = l3 + 40 + struct.unpack("!H", frame[l3 + 4:l3 + 6])[0]
        else:
            ip_end = l3 + struct.unpack("!H", frame[l3 + 2:l3 + 4])[0]
        self.pay_off = l4 + doff
        self.pay_len = max(0, min(len(frame), ip_end) - self.pay_off)
        self.frame = self.fix_tcp_csum(bytearray(frame), src_off, dst_off, alen, l4)
        self.ok = True

    def fix_tcp_csum(self, f, src_off, dst_off, alen, l4):
        """Loopback captures carry partial TCP checksums (offload): compute the real one."""
        if self.v6:
            seg_len = struct.unpack("!H", f[self.l3 + 4:self.l3 + 6])[0]
        else:
            seg_len = struct.unpack("!H", f[self.l3 + 2:self.l3 + 4])[0] - (l4 - self.l3)
        if seg_len < 20 or l4 + seg_len > len(f):
            return bytes(f)  # truncated by the snap length: leave it alone
        f[l4 + 16:l4 + 18] = b"\0\0"
        pseudo = f[src_off:src_off + alen] + f[dst_off:dst_off + alen]
        pseudo += struct.pack("!HH", 6, seg_len) if not self.v6 else struct.pack("!IxxxB", seg_len, 6)
        seg = bytes(f[l4:l4 + seg_len]) + (b"\0" if seg_len & 1 else b"")
        f[l4 + 16:l4 + 18] = struct.pack("!H", ~csum_fold(words_sum(pseudo) + words_sum(seg)) & 0xFFFF)
        return bytes(f)

    def copy(self, new_addr):
        f = bytearray(self.frame)
        a = self.addr_off
        f[a:a + self.alen] = new_addr
        tcsum_off = self.l4 + 16
        if len(f) >= tcsum_off + 2:
            old = struct.unpack("!H", f[tcsum_off:tcsum_off + 2])[0]
            f[tcsum_off:tcsum_off + 2] = struct.pack(
                "!H", csum_adjust(old, self.old_addr, new_addr))
        if not self.v6:
            ihl = (f[self.l3] & 0x0F) * 4
            f[self.l3 + 10:self.l3 + 12] = struct.pack(
                "!H", ipv4_header_csum(f[self.l3:self.l3 + ihl]))
        return f


def adjust_tcp(f, t, off, new):
    """Write @new at frame offset @off (inside the TCP segment), fixing the checksum."""
    rel = off - t.l4
    a = t.l4 + (rel & ~1)
    b = off + len(new)
    b = t.l4 + ((b - t.l4 + 1) & ~1)
    pad = b"\0" if b > len(f) else b""
    old_words = bytes(f[a:b]) + pad
    f[off:off + len(new)] = new
    new_words = bytes(f[a:b]) + pad
    c = t.l4 + 16
    if len(f) >= c + 2:
        old = struct.unpack("!H", f[c:c + 2])[0]
        f[c:c + 2] = struct.pack("!H", csum_adjust(old, old_words, new_words))


def copy_mix(t, caddr, saddr, cport, patches):
    """One packet of a session instance: new addresses, client port and payload bytes."""
    f = bytearray(t.frame)
    c = t.l4 + 16
    if len(f) >= c + 2:
        # The addresses are in the pseudo-header: the same adjustment as for a TCP word.
        old = struct.unpack("!H", f[c:c + 2])[0]
        new = csum_adjust(old, t.old_addr + t.old_saddr, caddr + saddr)
        f[c:c + 2] = struct.pack("!H", new)
    f[t.addr_off:t.addr_off + t.alen] = caddr
    f[t.saddr_off:t.saddr_off + t.alen] = saddr
    adjust_tcp(f, t, t.cport_off, struct.pack("!H", cport))
    for off, data in patches:
        adjust_tcp(f, t, off, data)
    if not t.v6:
        ihl = (f[t.l3] & 0x0F) * 4
        f[t.l3 + 10:t.l3 + 12] = struct.pack("!H", ipv4_header_csum(f[t.l3:t.l3 + ihl]))
    return f


class Stream:
    """One direction's bytes by stream offset, and where each byte sits in the packets."""

    def __init__(self, pkts, from_client):
        self.data = bytearray()
        self.where = {}  # stream offset -> [(packet index, frame offset)]
        isn = None
        for i, t in enumerate(pkts):
            if t.from_client == from_client and (t.flags & 0x02):
                isn = (t.seq + 1) & 0xFFFFFFFF
        if isn is None:
            return
        chunks = []
        for i, t in enumerate(pkts):
            if t.from_client != from_client or t.pay_len == 0:
                continue
            rel = (t.seq - isn) & 0xFFFFFFFF
            if rel > 1 << 20:
                continue
            chunks.append((rel, i, t))
        end = max((rel + t.pay_len for rel, _, t in chunks), default=0)
        self.data = bytearray(end)
        have = bytearray(end)
        for rel, i, t in chunks:
            for k in range(t.pay_len):
                self.where.setdefault(rel + k, []).append((i, t.pay_off + k))
                if not have[rel + k]:
                    self.data[rel + k] = t.frame[t.pay_off + k]
                    have[rel + k] = 1

    def tls_start(self):
        """The first TLS handshake record at the stream's start or after a CRLF."""
        d = self.data
        for o in range(len(d) - 5):
            if d[o] == 0x16 and d[o + 1] == 3 and (o == 0 or d[o - 1] == 0x0A):
                return o
        return None

    def handshake_runs(self, start):
        """Runs of consecutive handshake records: (bytes, stream offset of each byte)."""
        d, o, runs, cur, offs = self.data, start, [], bytearray(), []
        while o + 5 <= len(d):
            ctype, rlen = d[o], struct.unpack("!H", d[o + 3:o + 5])[0]
            if ctype not in (0x14, 0x15, 0x16, 0x17) or o + 5 + rlen > len(d):
                break
            if ctype == 0x16:
                cur += d[o + 5:o + 5 + rlen]
                offs.extend(range(o + 5, o + 5 + rlen))
            elif cur:
                runs.append((cur, offs))
                cur, offs = bytearray(), []
            o += 5 + rlen
        if cur:
            runs.append((cur, offs))
        return runs


def hello_sni(body):
    """(offset, length) of the host name in a ClientHello body, or None."""
    try:
        o = 2 + 32
        o += 1 + body[o]
        o += 2 + struct.unpack("!H", body[o:o + 2])[0]
        o += 1 + body[o]
        end = o + 2 + struct.unpack("!H", body[o:o + 2])[0]
        o += 2
        while o + 4 <= end:
            etype, elen = struct.unpack("!HH", body[o:o + 4])
            if etype == 0 and elen >= 5 and body[o + 6] == 0:
                nlen = struct.unpack("!H", body[o + 7:o + 9])[0]
                return o + 9, nlen
            o += 4 + elen
    except (IndexError, struct.error):
        pass
    return None


HRR_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()


def server_version(body):
    """The version a ServerHello chose (supported_versions aware); None for an HRR."""
    try:
        if bytes(body[2:34]) == HRR_RANDOM:
            return None
        ver = struct.unpack("!H", body[0:2])[0]
        o = 34
        o += 1 + body[o] + 3
        end = o + 2 + struct.unpack("!H", body[o:o + 2])[0]
        o += 2
        while o + 4 <= end:
            etype, elen = struct.unpack("!HH", body[o:o + 4])
            if etype == 43 and elen == 2:
                ver = struct.unpack("!H", body[o + 4:o + 6])[0]
            o += 4 + elen
        return ver
    except (IndexError, struct.error):
        return None


def der_item(b, o):
    """(tag, content offset, content length) of the DER element at @o."""
    tag, n = b[o], b[o + 1]
    if n < 0x80:
        return tag, o + 2, n
    k = n & 0x7F
    return tag, o + 2 + k, int.from_bytes(b[o + 2:o + 2 + k], "big")


CN_OID = b"\x06\x03\x55\x04\x03"


def issuer_cn(der):
    """(offset, length) of the issuer's commonName value in a certificate, or None."""
    try:
        _, o, _ = der_item(der, 0)          # Certificate
        _, o, _ = der_item(der, o)          # TBSCertificate
        if der[o] == 0xA0:                  # [0] version
            _, c, n = der_item(der, o)
            o = c + n
        for _ in range(2):                  # serialNumber, signature
            _, c, n = der_item(der, o)
            o = c + n
        _, c, n = der_item(der, o)          # issuer Name
        end = c + n
        while c < end:
            _, sc, sn = der_item(der, c)    # RelativeDistinguishedName (SET)
            _, ac, _ = der_item(der, sc)    # AttributeTypeAndValue
            if bytes(der[ac:ac + 5]) == CN_OID:
                _, vc, vn = der_item(der, ac + 5)
                return vc, vn
            c = sc + sn
    except IndexError:
        pass
    return None


def messages(run):
    """(type, body offset, body length) of the whole handshake messages in a run."""
    data, o = run, 0
    while o + 4 <= len(data):
        mlen = (data[o + 1] << 16) | (data[o + 2] << 8) | data[o + 3]
        if o + 4 + mlen > len(data):
            return
        yield data[o], o + 4, mlen
        o += 4 + mlen


class Session:
    """A TCP session of a seed and where its SNI and its certificate's tail lie."""

    def __init__(self, pkts):
        self.pkts = pkts
        t0 = pkts[0].ts
        self.rel = [t.ts - t0 for t in pkts]
        self.v6 = pkts[0].v6
        self.sni = None
        self.sni_at = []   # [[(packet index, frame offset) per name byte] per hello]
        self.cert_at = []  # (packet index, frame offset) per byte of the leaf's tail
        self.issuer_at = []  # the same per byte of its issuer's CN
        cs, ss = Stream(pkts, True), Stream(pkts, False)
        start = cs.tls_start()
        if start is not None:
            for run, offs in cs.handshake_runs(start):
                for mtype, body, mlen in messages(run):
                    if mtype != 1:
                        continue
                    at = hello_sni(run[body:body + mlen])
                    if not at:
                        continue
                    o, n = at
                    name = bytes(run[body + o:body + o + n])
                    if self.sni is None:
                        self.sni = name
                    if name == self.sni:
                        self.sni_at.append([cs.where.get(offs[body + o + k], [])
                                            for k in range(n)])
        start = ss.tls_start()
        if start is not None:
            for run, offs in ss.handshake_runs(start):
                for mtype, body, mlen in messages(run):
                    if mtype != 11 or mlen < 7:
                        continue
                    clen = (run[body + 3] << 16) | (run[body + 4] << 8) | run[body + 5]
                    end = body + 6 + clen
                    if clen < 64 or end > body + mlen:
                        continue
                    self.cert_at = [ss.where.get(offs[k], []) for k in range(end - 16, end)]
                    cn = issuer_cn(run[body + 6:end])
                    if cn:
                        a, n = cn
                        self.issuer_at = [ss.where.get(offs[body + 6 + a + k], [])
                                          for k in range(n)]
                    break
                if self.cert_at:
                    break
        self.port = pkts[0].key[4]
        # What kind of server this is, for the mix's weights.
        version = None
        for run, _ in (ss.handshake_runs(start) if start is not None else ()):
            for mtype, body, mlen in messages(run):
                if mtype == 2:
                    version = server_version(run[body:body + mlen]) or version
        if cs.tls_start() is None:
            self.kind = "plain"
        elif version is None:
            self.kind = "failed"
        elif version >= 0x0304:
            self.kind = "tls13"
        elif version == 0x0303:
            self.kind = "tls12"
        else:
            self.kind = "legacy"

    def new_name(self, sid):
        """The SNI with its first label replaced by one of the same length for server @sid."""
        first, dot, rest = self.sni.partition(b".")
        label = ("%x" % (sid * 2654435761 & 0xFFFFFFFF)).encode() * 8
        label = (b"s" + label)[:len(first)]
        return label + dot + rest

    def patches(self, sid):
        """Frame patches per packet index for server @sid: its name and certificate."""
        out = {}
        if self.sni and self.sni_at:
            name = self.new_name(sid)
            for places in self.sni_at:
                for k, where in enumerate(places):
                    for i, off in where:
                        out.setdefault(i, []).append((off, name[k:k + 1]))
        if self.cert_at:
            tail = hashlib.sha256(b"tlsaudit-bench-cert-%d" % sid).digest()[:16]
            for k, where in enumerate(self.cert_at):
                for i, off in where:
                    out.setdefault(i, []).append((off, tail[k:k + 1]))
        if self.issuer_at:
            ca = (b"Bench-CA-%d-" % (sid % 8) + b"x" * 64)[:len(self.issuer_at)]
            for k, where in enumerate(self.issuer_at):
                for i, off in where:
                    out.setdefault(i, []).append((off, ca[k:k + 1]))
        return out


def sessions_of(templates):
    by_key = {}
    for t in templates:
        by_key.setdefault(t.key, []).append(t)
    # Only whole sessions: the client's SYN is in the seed.
    return [Session(p) for p in by_key.values() if any(t.syn for t in p)]


# Shares of the servers by what their template shows: most speak TLS 1.3 or 1.2, a few
# are still legacy, some refuse or fail, some SMTP sessions never upgrade.
MIX_WEIGHTS = {"tls13": 55, "tls12": 30, "legacy": 6, "failed": 5, "plain": 4}


def mix(args, ports):
    rng = random.Random(args.random_seed)
    templates, t_seed = [], 0
    for path in args.seed:
        some = [t for t in (Template(ts, orig, fr, ports) for ts, orig, fr in
                            read_pcap(path)) if t.ok]
        templates += some
        t_seed = max([t_seed] + [t.ts for t in some[:1]])
    sess = sessions_of(templates)
    if not sess:
        sys.exit("mkcapture: the seeds hold no TCP session to ports %s" % args.ports)
    # Each server: an address, a template, a name and a certificate of its own. The
    # template's kind is drawn with MIX_WEIGHTS, then one of that kind uniformly.
    kinds = {}
    for x in sess:
        kinds.setdefault(x.kind, []).append(x)
    names = sorted(k for k in kinds if MIX_WEIGHTS.get(k))
    kind_cum, acc = [], 0.0
    for k in names:
        acc += MIX_WEIGHTS[k]
        kind_cum.append(acc)
    servers = []
    for sid in range(args.servers):
        k = names[min(len(names) - 1, next_index(kind_cum, rng.random() * acc))]
        servers.append((rng.choice(kinds[k]), sid))
    # Zipf popularity (s = 1): server k is picked in proportion to 1 / (k + 1).
    weights = [1.0 / (k + 1) for k in range(args.servers)]
    cum, acc = [], 0.0
    for w in weights:
        acc += w
        cum.append(acc)
    client_port = [32768 + rng.randrange(28000) for _ in range(args.clients)]

    def v4(base, n):
        return bytes((base[0], base[1] + ((n >> 16) & 0xFF), (n >> 8) & 0xFF, n & 0xFF))

    def addr(v6, kind, n):
        if v6:
            return (b"\xfd\x00" if kind == "c" else b"\xfd\x01") + b"\0" * 10 + struct.pack("!I", n)
        return v4((10, 0), n + 1) if kind == "c" else v4((198, 18), n + 1)

    heap, t_us, used_servers, used_clients, certs = [], 0.0, set(), set(), set()
    inst = 0

    def start(i, t_start):
        k = min(args.servers - 1, next_index(cum, rng.random() * acc))
        s, sid = servers[k]
        c = rng.randrange(args.clients)
        used_servers.add(sid)
        used_clients.add(c)
        if s.cert_at:
            certs.add(sid)
        client_port[c] = 32768 + (client_port[c] - 32768 + 1) % 28000
        state = (s, addr(s.v6, "c", c), addr(s.v6, "s", sid), client_port[c], s.patches(sid),
                 t_start)
        heapq.heappush(heap, (t_start, i, 0, state))

    npkts = nbytes = peak = 0
    open_now = {}
    with open(args.out, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        # The latest seed's time, so that the certificates are as valid as they were.
        next_start = float(t_seed)
        t_first = next_start
        chunk = []
        while inst < args.handshakes or heap:
            # Start every session due before the next packet.
            while inst < args.handshakes and (not heap or next_start <= heap[0][0]):
                start(inst, next_start)
                inst += 1
                next_start += rng.expovariate(args.rate) * 1e6
            ts, i, k, st = heapq.heappop(heap)
            s, caddr, saddr, cport, patches, t_start = st
            t = s.pkts[k]
            f = copy_mix(t, caddr, saddr, cport, patches.get(k, ()))
            tsi = int(ts)
            chunk.append(struct.pack("<IIII", tsi // 1000000, tsi % 1000000, len(f), t.orig))
            chunk.append(f)
            npkts += 1
            nbytes += len(f)
            open_now[i] = True
            if k + 1 < len(s.pkts):
                heapq.heappush(heap, (t_start + s.rel[k + 1] * args.stretch, i, k + 1, st))
            else:
                del open_now[i]
            peak = max(peak, len(open_now))
            if len(chunk) >= 8192:
                out.write(b"".join(chunk))
                chunk = []
        out.write(b"".join(chunk))
    print("packets %d sessions %d bytes %d servers %d clients %d certificates %d "
          "concurrent %d span %.0fs templates %s" % (
              npkts, inst, nbytes, len(used_servers), len(used_clients), len(certs), peak,
              (next_start - t_first) / 1e6, ",".join("%s:%d" % (k, len(v)) for k, v in sorted(kinds.items()))))


def next_index(cum, x):
    lo, hi = 0, len(cum)
    while lo < hi:
        mid = (lo + hi) // 2
        if cum[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def main():
    ap = argparse.ArgumentParser(description="build a large capture from real flows")
    ap.add_argument("seed", nargs="+", help="seed capture(s), then the output file")
    ap.add_argument("--handshakes", type=int, default=52000,
                    help="at least this many TCP sessions in the output (default 52000)")
    ap.add_argument("--ports", default="443,25,587")
    ap.add_argument("--mix", action="store_true", help="a realistic mix instead of copies")
    ap.add_argument("--clients", type=int, default=5000)
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=200.0, help="sessions started a second")
    ap.add_argument("--stretch", type=float, default=20.0, help="times the seed's gaps")
    ap.add_argument("--random-seed", type=int, default=1)
    args = ap.parse_args()
    if len(args.seed) < 2:
        ap.error("a seed and an output file are needed")
    args.seed, args.out = args.seed[:-1], args.seed[-1]
    ports = {int(p) for p in args.ports.split(",") if p}
    if args.mix:
        if not 0 < args.clients < 1 << 20 or not 0 < args.servers < 1 << 16:
            ap.error("--clients must be 1 to 2^20-1, --servers 1 to 65535")
        mix(args, ports)
        return
    if len(args.seed) != 1:
        ap.error("without --mix, one seed")
    args.seed = args.seed[0]

    seed = [Template(ts, orig, fr, ports) for ts, orig, fr in read_pcap(args.seed)]
    seed = [t for t in seed if t.ok]
    sessions = sum(1 for t in seed if t.syn)
    if not seed or sessions == 0:
        sys.exit("mkcapture: %s holds no TCP session to ports %s" % (args.seed, args.ports))
    copies = -(-args.handshakes // sessions)
    if copies > (1 << 24) - 2:
        sys.exit("mkcapture: too many copies for the client address space")
    t0 = seed[0].ts
    span = seed[-1].ts - t0 + 1000

    npkts = nbytes = 0
    with open(args.out, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET))
        for i in range(copies):
            n = i + 1
            v4 = bytes((10, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF))
            v6 = b"\xfd" + b"\0" * 11 + struct.pack("!I", n)
            base = i * span
            chunk = []
            for t in seed:
                ts = t.ts - t0 + base
                f = t.copy(v6 if t.v6 else v4)
                chunk.append(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(f), t.orig))
                chunk.append(f)
                nbytes += len(f)
            npkts += len(seed)
            out.write(b"".join(chunk))
    print("packets %d sessions %d bytes %d copies %d" % (npkts, sessions * copies, nbytes, copies))


if __name__ == "__main__":
    main()

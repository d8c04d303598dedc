#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Build a large capture for the read benchmark by replicating real flows.

    mkcapture.py SEED.pcap OUT.pcap [--handshakes N] [--ports 443,25,587]

SEED.pcap is a classic pcap (Ethernet link type, as tcpdump writes on lo) holding complete
TCP sessions, e.g. the capture tests/e2e/read_peers.sh makes with PEERS_CAPTURE_ONLY. The
seed is written again and again, each copy shifted in time and with every client address
moved to a fresh one (10.0.0.0/8 for IPv4, fd00::/96 for IPv6), so every copy of a session
is a distinct TCP 4-tuple. Server addresses and ports, and every payload byte, are kept.
The seed's TCP checksums (partial on loopback, where the checksum is offloaded) are computed
once; in each copy the IPv4 header checksum is recomputed and the TCP checksum adjusted
incrementally (RFC 1624), so every packet of the output carries valid checksums.

Prints the number of packets, sessions (SYNs to a server port) and bytes written.
"""
import argparse
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
            self.addr_off = src_off
        elif sport in ports:
            self.addr_off = dst_off
        else:
            return
        self.l3, self.l4, self.alen = l3, l4, alen
        self.syn = (flags & 0x12) == 0x02 and dport in ports
        self.old_addr = frame[self.addr_off:self.addr_off + alen]
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


def main():
    ap = argparse.ArgumentParser(description="replicate a seed capture into a large one")
    ap.add_argument("seed")
    ap.add_argument("out")
    ap.add_argument("--handshakes", type=int, default=52000,
                    help="at least this many TCP sessions in the output (default 52000)")
    ap.add_argument("--ports", default="443,25,587")
    args = ap.parse_args()
    ports = {int(p) for p in args.ports.split(",") if p}

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

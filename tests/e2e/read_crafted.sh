#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tlsaudit read on crafted captures (tests/pcap/craft.py): what real peers cannot
# produce. Each case asserts what a user reads off the record: version, cipher, SNI,
# offered_max, limited_by, group; and the summary's counts for the non-TLS cases.
source "$(dirname "$0")/../lib/common.sh"

[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built"
command -v python3 >/dev/null || skip "python3 not installed"
export TZ=GMT0
P=$TEST_TMP/pcap
python3 "$TOP/tests/pcap/craft.py" "$P" || fail "craft.py could not write the captures"

# check FILE KEY=VALUE...: exactly one JSON record, with these fields (null/true/false as
# JSON spells them).
check() {
	local file=$1 out rc
	shift
	out=$("$TLSAUDIT" read --json "$P/$file")
	rc=$?
	expect_eq "$file: exit status" "$rc" 0
	python3 - "$file" "$out" "$@" <<'EOF' || exit 1
import json, sys
name, out, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
lines = [l for l in out.splitlines() if l]
if len(lines) != 1:
    sys.exit("FAIL: %s: want 1 record, got %d:\n%s" % (name, len(lines), out))
rec = json.loads(lines[0])
for p in pairs:
    key, want = p.split("=", 1)
    got = rec.get(key, "<missing>")
    got = "null" if got is None else ("true" if got is True else
                                      ("false" if got is False else str(got)))
    if got != want:
        sys.exit("FAIL: %s: %s is %r, want %r" % (name, key, got, want))
EOF
}

# ~1.8 KB post-quantum ClientHello over two segments, TLS 1.3 with X25519MLKEM768
check tls13_pq.pcap version=TLSv1.3 cipher=TLS_AES_128_GCM_SHA256 cipher_id=0x1301 \
	sni=pq.example offered_max=TLSv1.3 group=X25519MLKEM768 legacy=false limited_by=null \
	alpn=h2,http/1.1 time=2026-11-23T10:00:00.006Z client_port=40001 server_port=443 \
	role=null pid=null
# the same bytes, gzip-compressed
check tls13_pq.pcap.gz version=TLSv1.3 group=X25519MLKEM768 sni=pq.example
# SSLv2-format CLIENT-HELLO offering TLS 1.0, answered with RC4
check sslv2_hello.pcap version=TLSv1.0 offered_max=TLSv1.0 cipher=TLS_RSA_WITH_RC4_128_SHA \
	legacy=true limited_by=client weak_cipher=true sni=null
# GREASE everywhere: ignored for offered_max; the TLS 1.2 curve from ServerKeyExchange
check grease.pcap version=TLSv1.2 offered_max=TLSv1.3 sni=grease.example \
	cipher=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 group=x25519 legacy=false
# ClientHello segments out of order and retransmitted, ServerHello retransmitted
check reorder.pcap version=TLSv1.0 offered_max=TLSv1.0 sni=old.example \
	cipher=TLS_RSA_WITH_AES_128_CBC_SHA legacy=true limited_by=client weak_cipher=false
# double VLAN tags; the client could do TLS 1.2, the server chose 1.0
check vlan.pcap version=TLSv1.0 offered_max=TLSv1.2 limited_by=server legacy=true \
	sni=vlan.example group=secp256r1
# Linux cooked v2 in pcapng, IPv6
check sll2_v6.pcapng version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 group=x25519 alpn=h2 \
	client_ip=2001:db8::5 server_ip=2001:db8::10 sni=v6.example
# SMTP STARTTLS on 25
check smtp_starttls.pcap starttls=smtp version=TLSv1.2 server_port=25 sni=mx.example \
	cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 group=secp256r1

# no handshake records from these, and exit 0
for f in malformed_ext.pcap http_443.pcap snap100.pcap; do
	out=$("$TLSAUDIT" read --json "$P/$f") || fail "$f: exit status $?"
	expect_eq "$f: JSON records" "$out" ""
done
# a plaintext SMTP session is a record of its own: version null, smtp_tls says why
check smtp_plain.pcap server_port=587 version=null outcome=null starttls=null \
	smtp_tls=not_used mx_host=mx.example plaintext_fallback=false

# summary(FILE...) -> the text output
summary() { "$TLSAUDIT" read "$@" || fail "read $*: exit status $?"; }

out=$(summary "$P/malformed_ext.pcap")
grep -q ' 1 malformed' <<<"$out" || fail "malformed_ext: not counted: $out"
grep -q '^total: 0 handshakes' <<<"$out" || fail "malformed_ext: a record was made: $out"

out=$(summary "$P/http_443.pcap")
grep -q ' 1 not TLS' <<<"$out" || fail "http_443: not counted as not TLS: $out"

out=$(summary "$P/smtp_plain.pcap")
grep -q ' 1 plaintext SMTP' <<<"$out" || fail "smtp_plain: no plaintext session: $out"
row=$(grep '^192.0.2.10:587 ' <<<"$out") || fail "smtp_plain: no row for the server: $out"
expect_eq "smtp_plain: PLAIN column" "$(awk '{print $(NF - 1)}' <<<"$row")" 1

out=$(summary "$P/snap100.pcap")
grep -q '4 cut short by the capture.s snaplen' <<<"$out" || fail "snap100: cut not reported: $out"

# everything at once: one flow table, legacy rows first, totals over all files
out=$("$TLSAUDIT" read "$P/tls13_pq.pcap" "$P/sslv2_hello.pcap" "$P/grease.pcap" \
	"$P/reorder.pcap" "$P/malformed_ext.pcap" "$P/http_443.pcap" "$P/smtp_plain.pcap" \
	"$P/smtp_starttls.pcap" "$P/vlan.pcap" "$P/sll2_v6.pcapng") || fail "all: exit status $?"
grep -q '^total: 7 handshakes, 3 legacy (below TLS 1.2), 1 weak cipher, 0 failed, 1 plaintext SMTP, 1 not TLS, 1 malformed, 0 evictions$' <<<"$out" ||
	fail "all: totals wrong: $out"
head -n 4 <<<"$out" | tail -n 3 | awk '$10 < 1 { exit 1 }' ||
	fail "all: the three legacy rows do not come first: $out"
# the SSLv2-format hello: no SNI, one TLS 1.0 handshake, legacy, weak, client-limited
grep -Eq '^192\.0\.2\.10:443 +- +10\.0\.0\.5 +0 +1 +0 +0 +0 +0 +1 +1 client +0 +0 +-$' <<<"$out" ||
	fail "all: no SSLv2 row with a weak cipher: $out"
grep -q '^192.0.2.10:443 *vlan.example .* server ' <<<"$out" ||
	fail "all: the VLAN row is not limited by the server: $out"
echo "ok"

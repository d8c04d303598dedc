#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# JA4 of `tlsaudit read` against the values published with the JA4 reference captures
# (tests/pcap/peer-ja4/README.md): for every expected entry there must be a record for the
# same 4-tuple whose ja4 is the stream's first ClientHello fingerprint (JA4.1) and whose
# sni is the entry's domain.
source "$(dirname "$0")/../lib/common.sh"

DIR=$TOP/tests/pcap/peer-ja4
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
command -v python3 >/dev/null || skip "python3 not installed"
ls "$DIR"/*.expected.json >/dev/null 2>&1 || fail "no JA4 reference captures in $DIR"

total=0
for exp in "$DIR"/*.expected.json; do
	cap=${exp%.expected.json}
	[ -f "$cap" ] || fail "$exp has no capture $cap"
	# The captures hold streams on other ports too (5228: Google's push service).
	ports=$(python3 -c 'import json, sys
print(",".join(sorted({e["dstport"] for e in json.load(open(sys.argv[1]))} | {"443"}, key=int)))' "$exp")
	out=$TEST_TMP/${cap##*/}.json
	"$TLSAUDIT" read --json --ports "$ports" "$cap" >"$out" 2>"$out.err" ||
		fail "tlsaudit read --ports $ports ${cap##*/}: $(cat "$out.err")"
	n=$(python3 - "$exp" "$out" "${cap##*/}" <<'PY'
import ipaddress, json, sys

exp_path, got_path, name = sys.argv[1:4]


def addr(a):
    return str(ipaddress.ip_address(a))


recs = {}
for line in open(got_path):
    if line.strip():
        r = json.loads(line)
        k = (addr(r["client_ip"]), int(r["client_port"]), addr(r["server_ip"]),
             int(r["server_port"]))
        recs.setdefault(k, []).append(r)
bad = 0
entries = json.load(open(exp_path))
for e in entries:
    k = (addr(e["src"]), int(e["srcport"]), addr(e["dst"]), int(e["dstport"]))
    got = recs.get(k, [])
    if not got:
        print("%s stream %s %s: no record" % (name, e["stream"], k), file=sys.stderr)
        bad += 1
        continue
    if not any(r.get("ja4") == e["JA4.1"] and r.get("sni") == e["domain"] for r in got):
        print("%s stream %s %s: ja4/sni %s, want %s %s" % (
            name, e["stream"], k, [(r.get("ja4"), r.get("sni")) for r in got],
            e["JA4.1"], e["domain"]), file=sys.stderr)
        bad += 1
if bad:
    sys.exit(1)
print(len(entries))
PY
	) || fail "${cap##*/}: JA4 or SNI differs from the published values"
	echo "ok   ${cap##*/}: $n streams match JA4.1 and SNI"
	total=$((total + n))
done
[ "$total" -gt 0 ] || fail "no JA4 expectation was checked"
echo "$total streams checked"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Policies judged on real handshakes ("what breaks if the peer enforced POLICY?"): the
# same exchanges live (`watch --json --policy`, eBPF, the client's pid named) and offline
# (`read --json --policy` of a tcpdump capture of them) must give the same would_fail:
#   openssl s_client -tls1 -> a 1.0-1.3 server       tls12: by client, version
#   openssl s_client (1.0-1.3) -> s_server -tls1     tls12: by server, version (the
#                                                    client's offer passes)
#   python3 ssl, TLS 1.2, CBC suites only            mozilla-intermediate: by client, cipher;
#                                                    tls12 passes
#   gnutls-cli, TLS 1.2 without EMS                  fips-ems: by client, ems
#   openssl s_client -tls1_2 -> gnutls-serv w/o EMS  fips-ems: by server, ems
#   curl --tlsv1.3                                   passes every profile but pq-hybrid
#                                                    (OpenSSL 3.0 offers no ML-KEM group):
#                                                    by client, group
# A config file's policy on the certificate key (read --config): RSA-2048 fails a 3072-bit
# minimum by server in TLS 1.2, is not judged in TLS 1.3.
# Then a policy of the config file's own through the daemon: its verdicts per process in
# `report --policy` (text and JSON, "safe to enforce since" for one nothing fails), in
# the textfile (promtool check metrics where installed), after a SIGHUP that changes the
# policies and after a restart.
source "$(dirname "$0")/../lib/common.sh"

require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
for t in openssl curl gnutls-cli gnutls-serv python3 tcpdump; do
	command -v "$t" >/dev/null || skip "$t not installed (./configure --test-deps)"
done
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"

LEGACY=(-cipher 'DEFAULT@SECLEVEL=0')
ALL=tls12,tls13,mozilla-intermediate,mozilla-modern,mozilla-intermediate-5.7,mozilla-modern-5.7,nist-sp800-52r2,fips-ems,pq-hybrid
source "$(dirname "$0")/../lib/watch.sh"
source "$(dirname "$0")/../lib/peers.sh"

netns_new policies
make_cert "$TEST_TMP"
KEY=$TEST_TMP/server.key
CRT=$TEST_TMP/server.crt
# This test's own ports: other tests may run TLS on this host at the same time.
P_ANY=$((20000 + $$ % 20000)) # TLS 1.0 to 1.3
P_TLS1=$((P_ANY + 1))         # TLS 1.0 only
P_NOEMS=$((P_ANY + 2))        # TLS 1.2 without extended master secret
P_DAEMON=$((P_ANY + 3))
PORTS=$P_ANY,$P_TLS1,$P_NOEMS

watch_start --ports "$PORTS" --policy "$ALL"
peers_capture_start "$TEST_TMP/policies.pcap" \
	"tcp port $P_ANY or tcp port $P_TLS1 or tcp port $P_NOEMS"

bg openssl s_server -accept "127.0.0.1:$P_ANY" -www -key "$KEY" -cert "$CRT" "${LEGACY[@]}"
wait_port "$P_ANY"
bg openssl s_server -accept "127.0.0.1:$P_TLS1" -www -key "$KEY" -cert "$CRT" -tls1 \
	"${LEGACY[@]}"
wait_port "$P_TLS1"
bg gnutls-serv --x509keyfile "$KEY" --x509certfile "$CRT" -p "$P_NOEMS" \
	--priority 'NORMAL:-VERS-TLS1.3:%NO_SESSION_HASH'
wait_port "$P_NOEMS"

# case NAME SNI - the client just run (FG_PID) as one case: its SNI names its records.
declare -A CASE_SNI CASE_PID
case_done() {
	CASE_SNI[$1]=$2
	CASE_PID[$1]=$FG_PID
}

sni() { echo "$1-$$.policies.test"; }

fg openssl s_client -connect "127.0.0.1:$P_ANY" -servername "$(sni tls10)" -tls1 "${LEGACY[@]}"
case_done tls10 "$(sni tls10)"
fg openssl s_client -connect "127.0.0.1:$P_TLS1" -servername "$(sni srv10)" "${LEGACY[@]}"
case_done srv10 "$(sni srv10)"
fg "$PY" -c '
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.set_ciphers("ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-SHA:AES256-SHA")
with socket.create_connection(("127.0.0.1", int(sys.argv[2]))) as s:
    with ctx.wrap_socket(s, server_hostname=sys.argv[1]) as t:
        t.sendall(b"GET / HTTP/1.0\r\n\r\n")
        t.recv(100)
' "$(sni cbc)" "$P_ANY"
case_done cbc "$(sni cbc)"
fg gnutls-cli --insecure --sni-hostname "$(sni noems)" --port "$P_ANY" \
	--priority 'NORMAL:-VERS-TLS1.3:%NO_SESSION_HASH' 127.0.0.1
case_done noems "$(sni noems)"
fg openssl s_client -connect "127.0.0.1:$P_NOEMS" -servername "$(sni srvnoems)" -tls1_2
case_done srvnoems "$(sni srvnoems)"
fg curl -sS -k -o /dev/null --tlsv1.3 --resolve "$(sni tls13):$P_ANY:127.0.0.1" \
	"https://$(sni tls13):$P_ANY/"
case_done tls13 "$(sni tls13)"

# What each case must fail (policy:by:reason), every other policy of $ALL passing.
declare -A WANT=(
	[tls10]="tls12:client:version tls13:client:version mozilla-intermediate:client:version mozilla-modern:client:version mozilla-intermediate-5.7:client:version mozilla-modern-5.7:client:version nist-sp800-52r2:client:version pq-hybrid:client:version"
	[srv10]="tls12:server:version tls13:server:version mozilla-intermediate:server:version mozilla-modern:server:version mozilla-intermediate-5.7:server:version mozilla-modern-5.7:server:version nist-sp800-52r2:server:version pq-hybrid:client:group"
	[cbc]="tls13:client:version mozilla-intermediate:client:cipher mozilla-modern:client:version mozilla-intermediate-5.7:client:cipher mozilla-modern-5.7:client:version pq-hybrid:client:version"
	[noems]="tls13:client:version mozilla-modern:client:version mozilla-modern-5.7:client:version fips-ems:client:ems pq-hybrid:client:version"
	[srvnoems]="tls13:client:version mozilla-modern:client:version mozilla-modern-5.7:client:version fips-ems:server:ems pq-hybrid:client:version"
	[tls13]="pq-hybrid:client:group"
)

# verdicts FILE PYEXPR - the would_fail of the one record matching, as sorted
# "policy:by:reason" words.
verdicts() {
	$PY - "$1" "$2" <<'EOF'
import json, sys
path, expr = sys.argv[1:]
recs = [json.loads(l) for l in open(path) if l.strip()]
hits = [r for r in recs if eval(expr, {}, {"r": r})]
if len(hits) != 1:
    sys.stderr.write("%d records match %s in %s:\n" % (len(hits), expr, path))
    for r in recs:
        sys.stderr.write("  %s\n" % json.dumps(r))
    sys.exit(1)
wf = hits[0]["would_fail"]
print(" ".join(sorted("%s:%s:%s" % (p, v["by"], v["reason"]) for p, v in wf.items())))
EOF
}

sorted_words() { tr ' ' '\n' <<<"$1" | grep . | sort | tr '\n' ' ' | sed 's/ $//'; }

# --- live ---------------------------------------------------------------------------
for c in "${!CASE_SNI[@]}"; do
	q="r['sni'] == '${CASE_SNI[$c]}' and r['role'] == 'client'"
	wait_records 2 "r['sni'] == '${CASE_SNI[$c]}'"
	expect_eq "$c: client pid" "$(rec pid "$q")" "${CASE_PID[$c]}"
	expect_eq "$c: would_fail (live, client)" "$(verdicts "$WATCH_OUT" "$q")" \
		"$(sorted_words "${WANT[$c]}")"
	# The local server's record of the same handshake says the same.
	expect_eq "$c: would_fail (live, server)" \
		"$(verdicts "$WATCH_OUT" "r['sni'] == '${CASE_SNI[$c]}' and r['role'] == 'server'")" \
		"$(sorted_words "${WANT[$c]}")"
done
expect_eq "srv10: the client offered TLS 1.3" \
	"$(rec offered_max "r['sni'] == '${CASE_SNI[srv10]}' and r['role'] == 'client'")" TLSv1.3
expect_eq "srv10: the server chose TLS 1.0" \
	"$(rec version "r['sni'] == '${CASE_SNI[srv10]}' and r['role'] == 'client'")" TLSv1.0
expect_eq "tls13: TLS 1.3" \
	"$(rec version "r['sni'] == '${CASE_SNI[tls13]}' and r['role'] == 'client'")" TLSv1.3
expect_eq "cbc: TLS 1.2" \
	"$(rec version "r['sni'] == '${CASE_SNI[cbc]}' and r['role'] == 'client'")" TLSv1.2
kill -INT "$WATCH_PID"
wait "$WATCH_PID"
peers_capture_stop

# --- offline: the same exchanges from the capture -----------------------------------
"$TLSAUDIT" read --json --policy "$ALL" --ports "$PORTS" "$TEST_TMP/policies.pcap" \
	>"$TEST_TMP/read.json" || fail "read --json --policy exited $?"
for c in "${!CASE_SNI[@]}"; do
	expect_eq "$c: would_fail (offline)" \
		"$(verdicts "$TEST_TMP/read.json" "r['sni'] == '${CASE_SNI[$c]}'")" \
		"$(sorted_words "${WANT[$c]}")"
done
# A policy from a config file (read --config), on the certificate: RHEL FUTURE's RSA key
# size on top of Mozilla's rules. The test certificate's RSA-2048 key crosses in the
# clear in TLS 1.2 and fails it by server; under TLS 1.3 it is not visible, not judged.
cat >"$TEST_TMP/certs.conf" <<EOF
policies = future-certs
policy.future-certs.base = mozilla-intermediate
policy.future-certs.min_rsa_bits = 3072
EOF
"$TLSAUDIT" read --json --config "$TEST_TMP/certs.conf" --ports "$PORTS" \
	"$TEST_TMP/policies.pcap" >"$TEST_TMP/certs.json" || fail "read --config exited $?"
expect_eq "future-certs: TLS 1.2 with an RSA-2048 certificate" \
	"$(verdicts "$TEST_TMP/certs.json" "r['sni'] == '${CASE_SNI[noems]}'")" \
	"future-certs:server:cert_key"
expect_eq "future-certs: the same key under TLS 1.3" \
	"$(verdicts "$TEST_TMP/certs.json" "r['sni'] == '${CASE_SNI[tls13]}'")" ""
expect_eq "future-certs: the record's key" \
	"$($PY -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["sni"] == sys.argv[2]:
        print(r["cert_key"])' "$TEST_TMP/certs.json" "${CASE_SNI[noems]}")" RSA-2048

# The text summary ends with the counts per policy.
out=$("$TLSAUDIT" read --policy "$ALL" --ports "$PORTS" "$TEST_TMP/policies.pcap") ||
	fail "read --policy exited $?"
grep -Eq "^  tls12 +2 of 6 handshakes: by client 1 \(version 1\), by server 1 \(version 1\)$" \
	<<<"$out" || fail "read --policy summary: tls12 line: $out"
grep -Eq "^  pq-hybrid +6 of 6 handshakes: by client 6 \(version 4, group 2\)$" <<<"$out" ||
	fail "read --policy summary: pq-hybrid line: $out"
grep -Eq "^  fips-ems +2 of 6 handshakes: by client 1 \(ems 1\), by server 1 \(ems 1\)$" \
	<<<"$out" || fail "read --policy summary: fips-ems line: $out"
# --policy none: nothing judged, would_fail {} everywhere.
"$TLSAUDIT" read --json --policy none --ports "$PORTS" "$TEST_TMP/policies.pcap" \
	>"$TEST_TMP/none.json" || fail "read --policy none exited $?"
expect_eq "--policy none: would_fail" "$(verdicts "$TEST_TMP/none.json" \
	"r['sni'] == '${CASE_SNI[tls10]}'")" ""
# The default is tls12.
"$TLSAUDIT" read --json --ports "$PORTS" "$TEST_TMP/policies.pcap" >"$TEST_TMP/def.json" ||
	fail "read --json exited $?"
expect_eq "default policies: would_fail" "$(verdicts "$TEST_TMP/def.json" \
	"r['sni'] == '${CASE_SNI[tls10]}'")" "tls12:client:version"

# --- a policy of one's own, through the daemon ----------------------------------------
# An intake taking TLS 1.2 with two ECDHE-RSA AES-GCM suites, TLS 1.3 with AES-128-GCM:
# the CBC-only client fails it by its offer; OpenSSL's server answers curl's TLS 1.3
# offer with AES-256-GCM although curl offered AES-128-GCM too: by server.
cat >"$TEST_TMP/tlsaudit.conf" <<EOF
policies = tls12, intake-gcm, anything-goes
policy.intake-gcm.min_version = TLSv1.2
policy.intake-gcm.ciphers = TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
policy.intake-gcm.tls13-ciphers = TLS_AES_128_GCM_SHA256
# Nothing fails it: report --policy says since when it is safe to enforce.
policy.anything-goes.min_version = SSLv3
EOF
S=$TEST_TMP/s
daemon_start() {
	"$TLSAUDIT" daemon -c "$TEST_TMP/tlsaudit.conf" --socket="$S" \
		--state-file="$TEST_TMP/state" --textfile="$TEST_TMP/t.prom" \
		--export-interval=1s --ports="$P_DAEMON" >>"$TEST_TMP/daemon.log" 2>&1 &
	DPID=$!
	on_exit "kill $DPID"
	daemon_wait_up "$S" "$DPID" "$TEST_TMP/daemon.log"
}
daemon_start
grep -q "policies tls12,intake-gcm,anything-goes" "$TEST_TMP/daemon.log" ||
	fail "the start line does not name the policies: $(cat "$TEST_TMP/daemon.log")"
bg openssl s_server -accept "127.0.0.1:$P_DAEMON" -www -key "$KEY" -cert "$CRT" \
	"${LEGACY[@]}"
wait_port "$P_DAEMON"
fg "$PY" -c '
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.set_ciphers("ECDHE-RSA-AES128-SHA:AES128-SHA")
with socket.create_connection(("127.0.0.1", int(sys.argv[2]))) as s:
    with ctx.wrap_socket(s, server_hostname=sys.argv[1]) as t:
        t.sendall(b"GET / HTTP/1.0\r\n\r\n")
        t.recv(100)
' "$(sni intake-cbc)" "$P_DAEMON"
fg curl -sS -k -o /dev/null --tlsv1.3 --resolve "$(sni intake-13):$P_DAEMON:127.0.0.1" \
	"https://$(sni intake-13):$P_DAEMON/"
fg gnutls-cli --insecure --sni-hostname "$(sni intake-gnutls)" --port "$P_DAEMON" \
	--priority 'NORMAL:-VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM' 127.0.0.1

# pol_row JSONFILE PYEXPR FIELD - FIELD of the one `report --policy --json` row matching.
pol_row() {
	$PY - "$1" "$2" "$3" <<'EOF'
import json, sys
path, expr, field = sys.argv[1:]
rows = [json.loads(l) for l in open(path) if l.strip()]
hits = [r for r in rows if not r.get("summary") and eval(expr, {}, {"r": r})]
if len(hits) != 1:
    sys.stderr.write("%d rows match %s:\n%s" % (len(hits), expr, open(path).read()))
    sys.exit(1)
v = hits[0][field]
print("null" if v is None else v)
EOF
}
report_json() { # POLICY - report --policy POLICY --json into $TEST_TMP/POLICY.json
	"$TLSAUDIT" report --policy "$1" --json -S "$S" >"$TEST_TMP/$1.json" ||
		fail "report --policy $1 --json exited $?"
}
summary() { # POLICY FIELD
	$PY -c 'import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert s.get("summary") is True, s
v = s[sys.argv[2]]
print("null" if v is None else v)' "$TEST_TMP/$1.json" "$2"
}

PYQ="r['role'] == 'client' and r['comm'].startswith('python3')"
CURLQ="r['role'] == 'client' and r['exe'] == '$(command -v curl | xargs readlink -f)'"
GNUQ="r['role'] == 'client' and r['comm'] == 'gnutls-cli'"
SRVQ="r['role'] == 'server' and r['port'] == $P_DAEMON"
for ((i = 0; i < 50; i++)); do
	report_json intake-gcm
	[ "$(summary intake-gcm process_keys)" -ge 4 ] 2>/dev/null && break
	sleep 0.1
done
expect_eq "intake-gcm: python3 verdict" "$(pol_row "$TEST_TMP/intake-gcm.json" "$PYQ" verdict)" fails
expect_eq "intake-gcm: python3 by" "$(pol_row "$TEST_TMP/intake-gcm.json" "$PYQ" by)" client
expect_eq "intake-gcm: python3 reason" "$(pol_row "$TEST_TMP/intake-gcm.json" "$PYQ" reason)" cipher
expect_eq "intake-gcm: python3 sni" "$(pol_row "$TEST_TMP/intake-gcm.json" "$PYQ" sni)" \
	"$(sni intake-cbc)"
expect_eq "intake-gcm: curl verdict" "$(pol_row "$TEST_TMP/intake-gcm.json" "$CURLQ" verdict)" fails
expect_eq "intake-gcm: curl by" "$(pol_row "$TEST_TMP/intake-gcm.json" "$CURLQ" by)" server
expect_eq "intake-gcm: curl reason" "$(pol_row "$TEST_TMP/intake-gcm.json" "$CURLQ" reason)" cipher
expect_eq "intake-gcm: gnutls verdict" "$(pol_row "$TEST_TMP/intake-gcm.json" "$GNUQ" verdict)" passes
expect_eq "intake-gcm: server handshakes" \
	"$(pol_row "$TEST_TMP/intake-gcm.json" "$SRVQ" handshakes)" 3
expect_eq "intake-gcm: server failures" \
	"$(pol_row "$TEST_TMP/intake-gcm.json" "$SRVQ" failures)" 2
expect_eq "intake-gcm: keys failing" "$(summary intake-gcm fails)" 3
expect_eq "intake-gcm: not safe" "$(summary intake-gcm safe_to_enforce_since)" null
report_json tls12
expect_eq "tls12: nothing fails" "$(summary tls12 fails)" 0
report_json anything-goes
[ "$(summary anything-goes safe_to_enforce_since)" != null ] ||
	fail "anything-goes: no safe_to_enforce_since in $(cat "$TEST_TMP/anything-goes.json")"

out=$("$TLSAUDIT" report --policy intake-gcm -S "$S") || fail "report --policy exited $?"
grep -q "^Policy intake-gcm: what breaks if peers enforced it: 3 of 4 process keys would fail" \
	<<<"$out" || fail "report --policy: no summary line: $out"
grep -Eq "python3.* client +$P_DAEMON FAILS .*cipher suites, by the client \(this process\)" \
	<<<"$out" || fail "report --policy: no FAILS row for the python3 client: $out"
grep -Eq "gnutls-cli +client +$P_DAEMON passes" <<<"$out" ||
	fail "report --policy: gnutls-cli does not pass: $out"
grep -q "^Not safe to enforce intake-gcm: 3 process keys would fail" <<<"$out" ||
	fail "report --policy: no closing line: $out"
out=$("$TLSAUDIT" report --policy anything-goes -S "$S") || fail "report --policy exited $?"
grep -q "^Safe to enforce anything-goes since 20" <<<"$out" ||
	fail "report --policy anything-goes: not safe to enforce: $out"
# The full report has a line per policy.
out=$("$TLSAUDIT" report -S "$S") || fail "report exited $?"
grep -Eq "^  intake-gcm +FAILS for 3 process keys, the last at 20" <<<"$out" ||
	fail "report: no Policies line for intake-gcm: $out"
grep -Eq "^  anything-goes +safe to enforce since 20" <<<"$out" ||
	fail "report: no Policies line for anything-goes: $out"
# A policy the daemon does not judge is an error naming what it judges.
err=$("$TLSAUDIT" report --policy fips-ems -S "$S" 2>&1 >/dev/null)
expect_eq "report --policy fips-ems exit status" $? 1
grep -q "judges tls12,intake-gcm,anything-goes" <<<"$err" || fail "report --policy error: $err"
# --legacy ends with the tls12 policy's report.
"$TLSAUDIT" report --legacy -S "$S" | grep -q "^Policy tls12: what breaks" ||
	fail "report --legacy does not end with the tls12 policy's report"
# top's policy column.
out=$("$TLSAUDIT" top -b -n 1 --policy intake-gcm -S "$S") || fail "top --policy exited $?"
grep -Eq "FAIL c ciph" <<<"$out" || fail "top --policy: no 'FAIL c ciph' cell: $out"

# The textfile.
for ((i = 0; i < 50; i++)); do
	grep -q 'policy="intake-gcm",by="client",reason="cipher"' "$TEST_TMP/t.prom" 2>/dev/null &&
		break
	sleep 0.1
done
grep -Eq '^tlsaudit_policy_failures_total\{exe="[^"]*python3[^"]*",.*role="client",policy="intake-gcm",by="client",reason="cipher"\} 1$' \
	"$TEST_TMP/t.prom" || fail "textfile: no python3 intake-gcm failure: $(grep policy_ "$TEST_TMP/t.prom")"
grep -Eq '^tlsaudit_policy_failures_total\{exe="[^"]*curl",.*policy="intake-gcm",by="server",reason="cipher"\} 1$' \
	"$TEST_TMP/t.prom" || fail "textfile: no curl intake-gcm failure: $(grep policy_ "$TEST_TMP/t.prom")"
grep -q 'policy="anything-goes"' "$TEST_TMP/t.prom" && fail "textfile: a series for a policy nothing failed"
if command -v promtool >/dev/null; then
	promtool check metrics <"$TEST_TMP/t.prom" || fail "promtool check metrics on the textfile"
else
	echo "note: promtool missing (package prometheus), textfile not linted"
fi

# A reload that drops intake-gcm: its counts stay (report still answers), new records
# are judged under the new list only.
sed -i 's/^policies = .*/policies = tls12, anything-goes, fips-ems/' "$TEST_TMP/tlsaudit.conf"
kill -HUP "$DPID"
wait_line "$TEST_TMP/daemon.log" "reload: policies tls12,anything-goes,fips-ems" "$DPID" ||
	fail "reload: no policies line: $(cat "$TEST_TMP/daemon.log")"
fg gnutls-cli --insecure --sni-hostname "$(sni reload-noems)" --port "$P_DAEMON" \
	--priority 'NORMAL:-VERS-TLS1.3:%NO_SESSION_HASH' 127.0.0.1
for ((i = 0; i < 50; i++)); do
	report_json fips-ems 2>/dev/null && [ "$(summary fips-ems fails)" = 2 ] && break
	sleep 0.1
done
# The failing client's row by its sample SNI: the verdict, whoever the process was.
RLQ="r['role'] == 'client' and r['sni'] == '$(sni reload-noems)'"
expect_eq "after reload: fips-ems by" "$(pol_row "$TEST_TMP/fips-ems.json" "$RLQ" by)" client
expect_eq "after reload: fips-ems reason" "$(pol_row "$TEST_TMP/fips-ems.json" "$RLQ" reason)" ems
report_json intake-gcm
expect_eq "after reload: intake-gcm counts kept" \
	"$(pol_row "$TEST_TMP/intake-gcm.json" "$PYQ" failures)" 1
"$TLSAUDIT" report --handshakes --json -S "$S" | grep -q '"intake-gcm"' &&
	fail "report --handshakes: a policy no longer judged is named"

# A restart keeps the verdicts (state file).
kill -TERM "$DPID"
wait "$DPID"
expect_eq "daemon exit status after SIGTERM" "$?" 0
daemon_start
report_json intake-gcm
expect_eq "after restart: python3 intake-gcm failures" \
	"$(pol_row "$TEST_TMP/intake-gcm.json" "$PYQ" failures)" 1
report_json fips-ems
expect_eq "after restart: fips-ems keys failing (client and server)" "$(summary fips-ems fails)" 2

# intake-gcm judged again, but edited under the same name: its old counts would speak of
# another policy, so they start again; fips-ems, unchanged, keeps its own.
sed -i 's/^policies = .*/policies = tls12, intake-gcm, fips-ems/
	s/^policy.intake-gcm.min_version = .*/policy.intake-gcm.min_version = TLSv1.0/' \
	"$TEST_TMP/tlsaudit.conf"
kill -HUP "$DPID"
wait_line "$TEST_TMP/daemon.log" "reload: policies tls12,intake-gcm,fips-ems" "$DPID" ||
	fail "second reload: no policies line: $(cat "$TEST_TMP/daemon.log")"
report_json intake-gcm
expect_eq "redefined intake-gcm: keys failing" "$(summary intake-gcm fails)" 0
report_json fips-ems
expect_eq "unchanged fips-ems: keys failing" "$(summary fips-ems fails)" 2
# A list: one report per policy, in the order asked.
out=$("$TLSAUDIT" report --policy fips-ems,tls12 -S "$S") || fail "report --policy LIST exited $?"
expect_eq "report --policy LIST: the policies reported" \
	"$(grep -o '^Policy [a-z0-9-]*:' <<<"$out" | tr '\n' ' ')" "Policy fips-ems: Policy tls12: "
kill -TERM "$DPID"
wait "$DPID"
echo "policies ok"

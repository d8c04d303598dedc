#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The daemon against real peers: openssl s_client -tls1 (held down by itself), curl
# (TLS 1.3), a TLS 1.0 client refused by a TLS 1.2-only server (the provider's cut-off:
# already failing) and a plaintext SMTP session on 587, all in a namespace, while the
# daemon runs outside it (cgroup_skb on the root cgroup). Checks `report --json` rows
# (failures and SMTP fields too), `report --handshakes --json`, `report` (Already failing
# first) and `report --legacy`, `top -b -n 1`, `status`, the textfile (promtool check
# metrics where installed), the handshake log and the socket mode; then SIGTERM and a
# restart keep the counters, failures included, and a garbage state file is moved aside
# while the daemon starts fresh.
#
# Other tests may run TLS on this host at the same time, so the TLS port is this test's
# own (--ports) and the shared SMTP port is only checked for "at least".
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/peers.sh"

require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
command -v openssl >/dev/null || skip "openssl not installed (./configure --test-deps)"
command -v curl >/dev/null || skip "curl not installed (./configure --test-deps)"
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

PORT=$((20000 + $$ % 20000))
PORT2=$((PORT + 1)) # a TLS 1.2-only server
S=$TEST_TMP/s
LEGACY=(-cipher 'DEFAULT@SECLEVEL=0')

daemon_start() {
	"$TLSAUDIT" daemon --foreground --socket="$S" --state-file="$TEST_TMP/state" \
		--textfile="$TEST_TMP/t.prom" --export-interval=1s --ports="$PORT,$PORT2,587" \
		--handshake-log="$TEST_TMP/hs.jsonl" >>"$TEST_TMP/daemon.log" 2>&1 &
	DPID=$!
	on_exit "kill $DPID"
	daemon_wait_up "$S" "$DPID" "$TEST_TMP/daemon.log"
}

# row FIELD PYEXPR - FIELD of the one `report --json` row matching the expression on r.
# FIELD is "key", "key.subkey" (versions.TLSv1.0) or a path "a/b/c".
row() {
	"$TLSAUDIT" report --json -S "$S" >"$TEST_TMP/rows.json" || fail "report --json failed"
	$PY - "$TEST_TMP/rows.json" "$1" "$2" <<'PYEOF'
import json, sys
path, field, expr = sys.argv[1:]
rows = [json.loads(l) for l in open(path) if l.strip()]
hits = [r for r in rows if eval(expr, {}, {"r": r})]
if len(hits) != 1:
    sys.stderr.write("%d rows match %s:\n%s\n" % (len(hits), expr, open(path).read()))
    sys.exit(1)
v = hits[0]
for k in field.split("/") if "/" in field else field.split(".", 1):
    v = v[k]
print(v)
PYEOF
}

# wait_for FIELD PYEXPR WANT - poll until the row field has the wanted value.
wait_for() {
	local i got
	for ((i = 0; i < 60; i++)); do
		got=$(row "$1" "$2" 2>/dev/null) && [ "$got" = "$3" ] && return 0
		sleep 0.1
	done
	row "$1" "$2"
	expect_eq "$2: $1" "$got" "$3"
}

OSSL_CLIENT="r['exe'] and r['exe'].endswith('/openssl') and r['role'] == 'client' and r['port'] == $PORT"
OSSL_SERVER="r['exe'] and r['exe'].endswith('/openssl') and r['role'] == 'server' and r['port'] == $PORT"
CURL="r['exe'] and r['exe'].endswith('/curl') and r['role'] == 'client' and r['port'] == $PORT"
REFUSED="r['exe'] and r['exe'].endswith('/openssl') and r['role'] == 'client' and r['port'] == $PORT2"

netns_new daemon
daemon_start
grep -q "started: backend bpf" "$TEST_TMP/daemon.log" || fail "start line: $(cat "$TEST_TMP/daemon.log")"
expect_eq "socket mode" "$(stat -c %a "$S")" 660

peers_tls_server 127.0.0.1 "$PORT" "${LEGACY[@]}"
peers_openssl_client 127.0.0.1 "$PORT" -tls1 "${LEGACY[@]}" -servername old.tlsaudit.test
peers_openssl_client 127.0.0.1 "$PORT" -tls1 "${LEGACY[@]}" -servername old.tlsaudit.test
peers_curl new.tlsaudit.test 127.0.0.1 "$PORT"
# The cut-off: the server answers the TLS 1.0 ClientHello with a protocol_version alert.
peers_tls_server 127.0.0.1 "$PORT2" -tls1_2
in_ns timeout 10 openssl s_client -connect "127.0.0.1:$PORT2" -tls1 "${LEGACY[@]}" \
	-servername refused.tlsaudit.test </dev/null >"$TEST_TMP/refused.log" 2>&1 &&
	fail "a TLS 1.0 client got through a TLS 1.2-only server: $(cat "$TEST_TMP/refused.log")"

# A plaintext SMTP session on 587: EHLO and QUIT, never STARTTLS.
peers_smtp_server 127.0.0.1 587
in_ns timeout 10 $PY - <<'PYEOF' || fail "plaintext SMTP session failed"
import smtplib
s = smtplib.SMTP("127.0.0.1", 587, local_hostname="plain.tlsaudit.test")
s.ehlo()
s.quit()
PYEOF

wait_for "versions.TLSv1.0" "$OSSL_CLIENT" 2
expect_eq "openssl client legacy" "$(row legacy "$OSSL_CLIENT")" 2
expect_eq "openssl client limited_by client" "$(row limited_by.client "$OSSL_CLIENT")" 2
expect_eq "openssl client limited_by server" "$(row limited_by.server "$OSSL_CLIENT")" 0
expect_eq "openssl client last SNI" "$(row last_sni "$OSSL_CLIENT")" old.tlsaudit.test
expect_eq "openssl client last peer" "$(row last_peer "$OSSL_CLIENT")" 127.0.0.1
wait_for "versions.TLSv1.0" "$OSSL_SERVER" 2
wait_for "versions.TLSv1.3" "$OSSL_SERVER" 1
wait_for "versions.TLSv1.3" "$CURL" 1
expect_eq "curl legacy" "$(row legacy "$CURL")" 0
expect_eq "curl SNI" "$(row last_sni "$CURL")" new.tlsaudit.test

# The refused client: a failure by the server's protocol_version alert, not a TLS 1.0
# handshake; the JSON row carries the alert, the offer and the peer.
wait_for "failures_by_outcome/alert/server" "$REFUSED" 1
expect_eq "refused: failures" "$(row failures "$REFUSED")" 1
expect_eq "refused: by alert" "$(row failures_by_alert/server/protocol_version "$REFUSED")" 1
expect_eq "refused: offered TLS < 1.2" "$(row failures_legacy_offer "$REFUSED")" 1
expect_eq "refused: last alert" "$(row last_failure/alert "$REFUSED")" protocol_version
expect_eq "refused: last by" "$(row last_failure/by "$REFUSED")" server
expect_eq "refused: last offer" "$(row last_failure/offered_max "$REFUSED")" TLSv1.0
expect_eq "refused: last SNI" "$(row last_failure/sni "$REFUSED")" refused.tlsaudit.test
expect_eq "refused: last peer" "$(row last_failure/peer "$REFUSED")" 127.0.0.1
expect_eq "refused: not a TLS 1.0 handshake" "$(row versions.TLSv1.0 "$REFUSED")" 0
expect_eq "refused: no handshake of a version" "$(row handshakes "$REFUSED")" 0
expect_eq "refused: not legacy" "$(row legacy "$REFUSED")" 0
expect_eq "working client: no failures" "$(row failures "$CURL")" 0

# Plaintext SMTP: counted on a row for port 587 (others may share it: at least one).
for ((i = 0; i < 30; i++)); do
	"$TLSAUDIT" report --json -S "$S" >"$TEST_TMP/rows.json"
	plain=$($PY -c "
import json, sys
print(sum(json.loads(l)['plaintext_sessions'] for l in open(sys.argv[1])
          if json.loads(l)['port'] == 587))" "$TEST_TMP/rows.json")
	[ "$plain" -ge 1 ] && break
	sleep 0.2
done
[ "$plain" -ge 1 ] || fail "no plaintext SMTP session counted on 587: $(cat "$TEST_TMP/rows.json")"
# ... with its reason: STARTTLS was offered and not asked for.
reasons=$($PY -c "
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l)['port'] == 587]
print(sum(r['smtp_tls']['not_used'] for r in rs))" "$TEST_TMP/rows.json")
[ "$reasons" -ge 1 ] || fail "no smtp_tls not_used session on 587: $(cat "$TEST_TMP/rows.json")"

# report: "Already failing" opens it, before "What breaks", then plaintext SMTP.
"$TLSAUDIT" report -S "$S" >"$TEST_TMP/report.txt" || fail "report failed"
expect_eq "report opens with" "$(head -c 16 "$TEST_TMP/report.txt")" "Already failing:"
grep -E "^[^ ]*/openssl +client +$PORT2 +1 +[0-9T:.-]+Z +protocol_version alert from the server \(the peer\); this process offered TLSv1.0 at most: it must be upgraded; e\.g\. 127\.0\.0\.1 refused\.tlsaudit\.test$" \
	"$TEST_TMP/report.txt" >/dev/null || fail "report: no refused client: $(cat "$TEST_TMP/report.txt")"
grep -E "^[^ ]*/openssl +server +$PORT2 +1 .*protocol_version alert from the server \(this process\); the peer offered TLSv1.0 at most" \
	"$TEST_TMP/report.txt" >/dev/null || fail "report: no refusing server: $(cat "$TEST_TMP/report.txt")"
f=$(grep -n "^Already failing:" "$TEST_TMP/report.txt" | cut -d: -f1)
w=$(grep -n "^What breaks if TLS < 1.2 is switched off" "$TEST_TMP/report.txt" | cut -d: -f1)
p=$(grep -n "^Plaintext SMTP:" "$TEST_TMP/report.txt" | cut -d: -f1)
[ -n "$f" ] && [ -n "$w" ] && [ -n "$p" ] && [ "$f" -lt "$w" ] && [ "$w" -lt "$p" ] ||
	fail "report sections out of order: $(cat "$TEST_TMP/report.txt")"
grep -Eq "^[^ ]+ +(client|server) +587 +[1-9]" "$TEST_TMP/report.txt" ||
	fail "report: no plaintext SMTP row on 587: $(cat "$TEST_TMP/report.txt")"

# The recent handshake records, with DESIGN.md's field names.
"$TLSAUDIT" report --handshakes --json -S "$S" >"$TEST_TMP/hs.json" || fail "report --handshakes"
n=$($PY -c "
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
print(sum(1 for r in rs if r['server_port'] == $PORT and r['role'] == 'client'
          and r['version'] == 'TLSv1.0' and r['limited_by'] == 'client' and r['legacy'] is True
          and r['sni'] == 'old.tlsaudit.test' and (r['exe'] or '').endswith('/openssl')))
" "$TEST_TMP/hs.json")
expect_eq "TLSv1.0 client records in report --handshakes --json" "$n" 2

# --legacy: the openssl client must be upgraded; the openssl server is not to blame.
"$TLSAUDIT" report --legacy -S "$S" >"$TEST_TMP/legacy.txt"
grep -E "openssl +client +$PORT .*MUST BE UPGRADED: offered nothing newer in 2 \(TLS library libssl" \
	"$TEST_TMP/legacy.txt" >/dev/null || fail "report --legacy: $(cat "$TEST_TMP/legacy.txt")"
grep -E "openssl +server +$PORT .*could do better: peer is the problem in 2" \
	"$TEST_TMP/legacy.txt" >/dev/null || fail "report --legacy: $(cat "$TEST_TMP/legacy.txt")"
# The refused TLS 1.0 offer is the legacy problem too, already broken: it leads.
expect_eq "report --legacy opens with" "$(head -c 16 "$TEST_TMP/legacy.txt")" "Already failing:"
grep -Eq "^[^ ]*/openssl +client +$PORT2 +1 .*protocol_version alert from the server" \
	"$TEST_TMP/legacy.txt" || fail "report --legacy: no refused client: $(cat "$TEST_TMP/legacy.txt")"
grep -q "^Plaintext SMTP" "$TEST_TMP/legacy.txt" && fail "report --legacy has the SMTP section"

# top -b -n 1: the header and the openssl client row (2 TLS 1.0, limited by the client).
# Columns after the versions: FAIL, WEAK, BADC (s_client does not verify the
# self-signed certificate: its handshakes count there), LIM.
"$TLSAUDIT" top -b -n 1 -S "$S" >"$TEST_TMP/top.txt" || fail "top -b -n 1"
grep -q "^tlsaudit top - .* backend bpf" "$TEST_TMP/top.txt" || fail "top header: $(cat "$TEST_TMP/top.txt")"
grep -q "^PROCESS .* PEER/SNI" "$TEST_TMP/top.txt" || fail "top columns: $(cat "$TEST_TMP/top.txt")"
grep -Eq "^openssl +- +cli +$PORT +2 +0 +0 +0 +0 +0 +[0-9]+ C " "$TEST_TMP/top.txt" ||
	fail "top row: $(cat "$TEST_TMP/top.txt")"
grep -Eq "^openssl +- +cli +$PORT2 +0 +0 +0 +0 +1 +0 +[0-9]+ - " "$TEST_TMP/top.txt" ||
	fail "top: no FAIL count for the refused client: $(cat "$TEST_TMP/top.txt")"
# Failing rows lead.
head -n 7 "$TEST_TMP/top.txt" | grep -Eq "^openssl +- +(cli|srv) +$PORT2 " ||
	fail "top: the failing rows do not lead: $(cat "$TEST_TMP/top.txt")"
grep -q "^Failed: [1-9][0-9]* (alert [1-9]" "$TEST_TMP/top.txt" || fail "top: no failures line"
awk 'length > 80 { exit 1 }' "$TEST_TMP/top.txt" || fail "top -b wider than 80 columns"

"$TLSAUDIT" status -S "$S" >"$TEST_TMP/status.txt" || fail "status"
grep -q "^backend: *bpf" "$TEST_TMP/status.txt" || fail "status: $(cat "$TEST_TMP/status.txt")"
grep -q "^state file: *$TEST_TMP/state" "$TEST_TMP/status.txt" || fail "status state path"
grep -q "^textfile: *$TEST_TMP/t.prom" "$TEST_TMP/status.txt" || fail "status textfile path"

# The textfile (written every second) and the handshake log.
sleep 1.2
grep -Eq "^tlsaudit_handshakes_total\{exe=\"[^\"]*/openssl\",unit=\"[^\"]*\",container=\"[^\"]*\",role=\"client\",port=\"$PORT\",version=\"TLSv1.0\"\} 2$" \
	"$TEST_TMP/t.prom" || fail "textfile: $(grep "port=\"$PORT\"" "$TEST_TMP/t.prom")"
grep -Eq "^tlsaudit_legacy_handshakes_total\{exe=\"[^\"]*/openssl\",.*role=\"client\",port=\"$PORT\",limited_by=\"client\"\} 2$" \
	"$TEST_TMP/t.prom" || fail "textfile legacy"
grep -q '^tlsaudit_info{version="[0-9.]*",backend="bpf"} 1$' "$TEST_TMP/t.prom" || fail "tlsaudit_info"
grep -Eq "^tlsaudit_handshake_failures_total\{exe=\"[^\"]*/openssl\",unit=\"[^\"]*\",container=\"[^\"]*\",role=\"client\",port=\"$PORT2\",outcome=\"alert\",alert=\"protocol_version\",by=\"server\"\} 1$" \
	"$TEST_TMP/t.prom" || fail "textfile failures: $(grep "port=\"$PORT2\"" "$TEST_TMP/t.prom")"
grep -Eq '^tlsaudit_smtp_sessions_total\{.*,port="587",smtp_tls="not_used",plaintext_fallback="false"\} [1-9]' \
	"$TEST_TMP/t.prom" || fail "textfile SMTP sessions: $(grep 'port="587"' "$TEST_TMP/t.prom")"
if command -v promtool >/dev/null; then
	promtool check metrics <"$TEST_TMP/t.prom" || fail "promtool check metrics on the textfile"
else
	echo "note: promtool missing (package prometheus), textfile not linted"
fi
n=$(grep -c "\"server_port\":$PORT" "$TEST_TMP/hs.jsonl")
[ "$n" -ge 6 ] || fail "handshake log has $n records for port $PORT, want at least 6"
grep -q "legacy TLSv1.0 handshake: client .*openssl" "$TEST_TMP/daemon.log" ||
	fail "no legacy log line: $(cat "$TEST_TMP/daemon.log")"

# SIGTERM writes the state; a restart continues the counters.
daemon_stop
[ -s "$TEST_TMP/state" ] || fail "no state file after SIGTERM"
daemon_start
expect_eq "TLSv1.0 count after restart" "$(row versions.TLSv1.0 "$OSSL_CLIENT")" 2
expect_eq "failures after restart" "$(row failures_by_alert/server/protocol_version "$REFUSED")" 1
expect_eq "last failure after restart" "$(row last_failure/sni "$REFUSED")" refused.tlsaudit.test
peers_openssl_client 127.0.0.1 "$PORT" -tls1 "${LEGACY[@]}"
wait_for "versions.TLSv1.0" "$OSSL_CLIENT" 3
daemon_stop

# A garbage state file: moved aside with a warning, the daemon starts fresh and answers.
head -c 3000 /dev/urandom >"$TEST_TMP/state"
daemon_start
grep -q "warning: state file $TEST_TMP/state: .*; moved to $TEST_TMP/state.corrupt-[0-9]*, starting fresh" \
	"$TEST_TMP/daemon.log" || fail "no quarantine warning: $(cat "$TEST_TMP/daemon.log")"
ls "$TEST_TMP"/state.corrupt-* >/dev/null || fail "corrupt state not kept"
"$TLSAUDIT" report --json -S "$S" >"$TEST_TMP/rows.json" || fail "report after a corrupt state"
grep -q "\"port\":$PORT" "$TEST_TMP/rows.json" && fail "old counters survived a corrupt state file"
daemon_stop
echo "ok"

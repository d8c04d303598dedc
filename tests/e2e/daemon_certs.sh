#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The daemon's view of certificates, with real peers in a namespace: curl -k going on
# past a self-signed certificate (and curl with the CA refusing it), a local s_server
# presenting a certificate that expires in ten days to a verifying Python client. Checks
# `report` ("Programs that accept bad certificates", "Certificates that expire within
# 30 days"), the `report --json` rows, top's BADC column, the three textfile families
# (against openssl x509; promtool check metrics where installed), a chain over the bytes
# kept per direction counted as unread in the textfile and in watch's exit summary, and
# that a restart keeps the counters (state file).
#
# Other tests may run TLS on this host at the same time, so the ports are this test's own.
source "$(dirname "$0")/../lib/common.sh"

require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
for t in openssl curl python3; do
	command -v "$t" >/dev/null || skip "$t not installed (./configure --test-deps)"
done
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

PORT=$((20000 + $$ % 20000))
PORT2=$((PORT + 1))
PORT3=$((PORT + 2))
S=$TEST_TMP/s
PKI=$TEST_TMP/pki
mkdir -p "$PKI"

openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=tlsaudit e2e root" \
	-addext basicConstraints=critical,CA:true -keyout "$PKI/root.key" -out "$PKI/root.crt" \
	2>/dev/null || fail "openssl: root CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=soon.certs.test" -keyout "$PKI/soon.key" \
	-out "$PKI/soon.csr" 2>/dev/null &&
	printf 'subjectAltName=DNS:soon.certs.test\n' >"$PKI/soon.ext" &&
	openssl x509 -req -in "$PKI/soon.csr" -CA "$PKI/root.crt" -CAkey "$PKI/root.key" \
		-CAcreateserial -days 10 -extfile "$PKI/soon.ext" -out "$PKI/soon.crt" 2>/dev/null ||
	fail "openssl: the certificate that expires soon"
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=self.certs.test" \
	-addext "subjectAltName=DNS:self.certs.test" -keyout "$PKI/self.key" \
	-out "$PKI/self.crt" 2>/dev/null || fail "openssl: self-signed certificate"
# Over the 32 KiB kept per direction (1500 names): the chain is cut, its fields stay null.
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=huge.certs.test" \
	-addext "subjectAltName=$(seq -f "DNS:host-%04g.huge.certs.test" 1 1500 | paste -sd,)" \
	-keyout "$PKI/huge.key" -out "$PKI/huge.crt" 2>/dev/null || fail "openssl: huge certificate"
[ "$(openssl x509 -in "$PKI/huge.crt" -outform der | wc -c)" -gt 33000 ] ||
	fail "the huge certificate is not over the budget"

daemon_start() {
	"$TLSAUDIT" daemon --foreground --socket="$S" --state-file="$TEST_TMP/state" \
		--textfile="$TEST_TMP/t.prom" --export-interval=1s --ports="$PORT,$PORT2,$PORT3" \
		>>"$TEST_TMP/daemon.log" 2>&1 &
	DPID=$!
	on_exit "kill $DPID"
	daemon_wait_up "$S" "$DPID" "$TEST_TMP/daemon.log"
}

# server ADDR PORT CERT [args] - s_server -tls1_2 -www; SERVER_PID is openssl itself.
server() {
	local addr=$1 port=$2 cert=$3
	shift 3
	ip netns exec "$NS" openssl s_server -accept "$addr:$port" -www -tls1_2 \
		-key "$PKI/$cert.key" -cert "$PKI/$cert.crt" "$@" </dev/null \
		>"$TEST_TMP/s_server.$port.log" 2>&1 &
	SERVER_PID=$!
	on_exit "kill $SERVER_PID"
	wait_port "$port" "$addr"
}

# row FIELD PYEXPR - FIELD ("a/b" for a nested one) of the one `report --json` row matching.
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
for k in field.split("/"):
    v = v[k]
print(v)
PYEOF
}

wait_for() {
	local i got
	for ((i = 0; i < 60; i++)); do
		got=$(row "$1" "$2" 2>/dev/null) && [ "$got" = "$3" ] && return 0
		sleep 0.1
	done
	expect_eq "$1 of $2" "$(row "$1" "$2")" "$3"
}

netns_new dcerts
daemon_start

# A local server whose certificate expires in ten days, and a client that verifies it.
server 127.0.0.2 "$PORT" soon
in_ns timeout 10 "$PY" - "$PORT" "$PKI/root.crt" <<'EOF' || fail "python ssl to soon.certs.test"
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
with ctx.wrap_socket(socket.create_connection(("127.0.0.2", int(sys.argv[1]))),
                     server_hostname="soon.certs.test") as s:
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    s.recv(100)
EOF
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null

# curl -k takes a self-signed certificate; curl with the CA refuses it (exit 60).
server 127.0.0.3 "$PORT2" self
in_ns timeout 10 curl -sS -k -o /dev/null --resolve "self.certs.test:$PORT2:127.0.0.3" \
	"https://self.certs.test:$PORT2/" || fail "curl -k"
in_ns timeout 10 curl -sS -o /dev/null --cacert "$PKI/root.crt" \
	--resolve "self.certs.test:$PORT2:127.0.0.3" "https://self.certs.test:$PORT2/" 2>/dev/null
expect_eq "curl --cacert exit status" "$?" 60
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null

CURL="r['comm'] == 'curl' and r['port'] == $PORT2 and r['role'] == 'client'"
wait_for cert_accepted "$CURL" 1
expect_eq "curl bad_cert_accepted.self_signed" "$(row bad_cert_accepted/self_signed "$CURL")" 1
expect_eq "curl cert_problems.self_signed" "$(row cert_problems/self_signed "$CURL")" 2
expect_eq "curl last_bad_cert.sni" "$(row last_bad_cert/sni "$CURL")" self.certs.test
expect_eq "curl last_bad_cert.subject" "$(row last_bad_cert/subject "$CURL")" self.certs.test
SOON="r['role'] == 'server' and r['port'] == $PORT"
NOT_AFTER=$(date -u -d "$(openssl x509 -in "$PKI/soon.crt" -noout -enddate | cut -d= -f2)" +%s)
wait_for server_certs/0/subject "$SOON" soon.certs.test
expect_eq "soon not_after_s" "$(row server_certs/0/not_after_s "$SOON")" "$NOT_AFTER"
expect_eq "python client: nothing accepted" \
	"$(row cert_accepted "r['role'] == 'client' and r['port'] == $PORT")" 0

"$TLSAUDIT" report -S "$S" >"$TEST_TMP/report.txt" || fail "report"
grep -q "^Programs that accept bad certificates: 1 process key went on past" \
	"$TEST_TMP/report.txt" || fail "report: $(cat "$TEST_TMP/report.txt")"
grep -Eq "^[^ ]*curl +$PORT2 +1 +self_signed=1 .* 127\.0\.0\.3 sni=self\.certs\.test$" \
	"$TEST_TMP/report.txt" || fail "report: no curl row: $(cat "$TEST_TMP/report.txt")"
grep -q "^Certificates that expire within 30 days: 1 presented by local servers" \
	"$TEST_TMP/report.txt" || fail "report: $(cat "$TEST_TMP/report.txt")"
grep -Eq "^[^ ]*openssl +$PORT +soon\.certs\.test +[0-9T:-]+Z +in [0-9]+d$" "$TEST_TMP/report.txt" ||
	fail "report: no expiring certificate row: $(cat "$TEST_TMP/report.txt")"
# The self-signed one is good for a year: not listed.
grep -Eq "^[^ ]*openssl +$PORT2 +self\.certs\.test" "$TEST_TMP/report.txt" &&
	fail "report lists a certificate a year from expiry"

"$TLSAUDIT" top -b -n 1 -S "$S" >"$TEST_TMP/top.txt" || fail "top -b -n 1"
grep -Eq "^curl +- +cli +$PORT2 +0 +0 +2 +0 +1 +0 +1 " "$TEST_TMP/top.txt" ||
	fail "top: no BADC for curl: $(cat "$TEST_TMP/top.txt")"

# The textfile: the three families, against openssl x509, with the labels
# docs/metrics.md gives them (no port on the counters, no role on the expiry).
for ((i = 0; i < 50; i++)); do
	grep -q "tlsaudit_bad_certificate_accepted_total{.*curl" "$TEST_TMP/t.prom" 2>/dev/null && break
	sleep 0.1
done
grep -Eq "^tlsaudit_bad_certificate_accepted_total\{exe=\"[^\"]*curl\",unit=\"[^\"]*\",container=\"\",role=\"client\",problem=\"self_signed\"\} 1$" \
	"$TEST_TMP/t.prom" || fail "textfile: no bad certificate accepted: $(grep certif "$TEST_TMP/t.prom")"
grep -Eq "^tlsaudit_certificate_problems_total\{exe=\"[^\"]*curl\",unit=\"[^\"]*\",container=\"\",role=\"client\",problem=\"self_signed\"\} 2$" \
	"$TEST_TMP/t.prom" || fail "textfile: no certificate problems: $(grep certif "$TEST_TMP/t.prom")"
grep -Eq "^tlsaudit_server_certificate_expiry_timestamp_seconds\{exe=\"[^\"]*openssl\",unit=\"[^\"]*\",container=\"\",port=\"$PORT\",subject=\"soon\.certs\.test\"\} $NOT_AFTER$" \
	"$TEST_TMP/t.prom" || fail "textfile: no expiry for soon.certs.test: $(grep expiry "$TEST_TMP/t.prom")"
if command -v promtool >/dev/null; then
	promtool check metrics <"$TEST_TMP/t.prom" || fail "promtool check metrics"
fi

# A chain over the budget: nothing to judge, and the textfile says so. Both ends are
# local, so the client's and the server's socket each lose one; `watch`, which sees the
# same two sockets, says the same when it stops (-v: its summary is an info line).
grep -q '^tlsaudit_certificates_unread_total{reason="cut"} 0$' "$TEST_TMP/t.prom" ||
	fail "textfile: chains cut before any was: $(grep unread "$TEST_TMP/t.prom")"
WERR=$TEST_TMP/watch.err
"$TLSAUDIT" watch -v --ports="$PORT3" >"$TEST_TMP/watch.txt" 2>"$WERR" &
WPID=$!
on_exit "kill $WPID"
wait_line "$WERR" "capturing with" "$WPID" || fail "watch did not start: $(cat "$WERR")"
server 127.0.0.4 "$PORT3" huge
in_ns timeout 10 curl -sS -k -o /dev/null --resolve "huge.certs.test:$PORT3:127.0.0.4" \
	"https://huge.certs.test:$PORT3/" || fail "curl -k to the huge chain"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
HUGE="r['role'] == 'client' and r['port'] == $PORT3"
wait_for handshakes "$HUGE" 1
expect_eq "huge chain: no problems counted" "$(row "cert_problems/self_signed" "$HUGE")" 0
for ((i = 0; i < 50; i++)); do
	grep -q '^tlsaudit_certificates_unread_total{reason="cut"} 2$' "$TEST_TMP/t.prom" && break
	sleep 0.1
done
grep -q '^tlsaudit_certificates_unread_total{reason="cut"} 2$' "$TEST_TMP/t.prom" &&
	grep -q '^tlsaudit_certificates_unread_total{reason="malformed"} 0$' "$TEST_TMP/t.prom" ||
	fail "textfile: the cut chain is not counted: $(grep unread "$TEST_TMP/t.prom")"
"$TLSAUDIT" status -S "$S" >"$TEST_TMP/status.txt" || fail "status"
grep -q "^certificates: *2 server chains unread (cut short 2, malformed 0)$" "$TEST_TMP/status.txt" ||
	fail "status does not count the cut chain: $(cat "$TEST_TMP/status.txt")"
"$TLSAUDIT" status --json -S "$S" | $PY -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if s["certificates_unread"] == {"cut": 2, "malformed": 0} else 1)' ||
	fail "status --json: certificates_unread"
kill -INT "$WPID"
wait "$WPID"
expect_eq "watch exit status" "$?" 0
grep -q "2 server certificate chains unread (2 cut short, 0 malformed)" "$WERR" ||
	fail "watch's summary does not count the cut chain: $(cat "$WERR")"

# A restart keeps the counters (state file, format 5).
daemon_stop
daemon_start
expect_eq "after restart: curl cert_accepted" "$(row cert_accepted "$CURL")" 1
expect_eq "after restart: soon subject" "$(row server_certs/0/subject "$SOON")" soon.certs.test
"$TLSAUDIT" report -S "$S" >"$TEST_TMP/report2.txt" || fail "report after restart"
grep -q "^Programs that accept bad certificates: 1 process key" "$TEST_TMP/report2.txt" ||
	fail "report after restart: $(cat "$TEST_TMP/report2.txt")"
daemon_stop
echo "ok"

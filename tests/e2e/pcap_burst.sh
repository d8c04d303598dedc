#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The libpcap backend names short-lived clients as reliably as eBPF does. Bursts of
# clients that each make one TLS connection and exit at once, all started together:
# curl and openssl s_client over IPv4 and IPv6, and a Python client, against s_server
# (IPv4 and IPv6), and a curl against a forking server (socat fork: a child per
# connection, gone with it), with the daemon on --backend pcap in the same network
# namespace. Every client's record must be there and carry that client's pid; the
# servers' ends must be named too, the forking server's by the child that served the
# connection. PCAP_BURST_ROUNDS bursts (default 20, about 6 s).
#
# The clients' owners come from the kernel's connect tracepoint read as perf events
# (src/capture/perf_owner.c), so how late the daemon gets a CPU does not matter; the
# daemon must say it uses them. Without them (no CAP_PERFMON) it is the /proc scan, which
# loses clients that exit before the daemon runs (docs/architecture.md).
source "$(dirname "$0")/../lib/common.sh"

require_root
for t in openssl curl python3 ss socat; do
	command -v "$t" >/dev/null || skip "$t not installed (./configure --test-deps)"
done
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
source "$(dirname "$0")/../lib/watch.sh"
ROUNDS=${PCAP_BURST_ROUNDS:-20}

netns_new burst
make_cert "$TEST_TMP"
P=8443
WATCH_OUT=$TEST_TMP/hs.json

for addr in 127.0.0.1 "[::1]"; do
	ip netns exec "$NS" openssl s_server -accept "$addr:$P" -www -key "$TEST_TMP/server.key" \
		-cert "$TEST_TMP/server.crt" </dev/null >>"$TEST_TMP/s_server.log" 2>&1 &
	echo "$!" >>"$TEST_TMP/servers"
	on_exit "kill $!"
done
# A forking server: socat's child for each connection is the server end, and lives
# only as long as it (each connection's command notes its ancestry).
P2=8444
CRT=$TEST_TMP/server.crt KEY=$TEST_TMP/server.key socat_fork_server "$P2"
for ((i = 0; i < 200; i++)); do
	[ "$(in_ns ss -Htln "( sport = :$P or sport = :$P2 )" | wc -l)" -eq 3 ] && break
	sleep 0.025
done

ip netns exec "$NS" "$TLSAUDIT" daemon --backend pcap --ports="$P,$P2" --socket="$TEST_TMP/s" \
	--state-file="$TEST_TMP/state" --textfile=none --handshake-log="$WATCH_OUT" \
	>"$TEST_TMP/daemon.log" 2>&1 &
DPID=$!
on_exit "kill $DPID"
wait_line "$TEST_TMP/daemon.log" " started: " "$DPID" ||
	fail "the daemon did not start: $(cat "$TEST_TMP/daemon.log")"

# One connection, a request, gone: the Python client.
PYCLIENT='
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection((sys.argv[1], int(sys.argv[2]))),
                    server_hostname=sys.argv[3])
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
s.recv(64)
s.close()
'

# start NAME CMD... - a client in the namespace, in the background; ip execs it, so $! is
# the client itself. Its SNI is NAME; the pid it must be reported with goes to "expect".
start() {
	local name=$1
	shift
	ip netns exec "$NS" "$@" </dev/null >>"$TEST_TMP/clients.log" 2>&1 &
	echo "$name $!" >>"$TEST_TMP/expect"
	BURST+=("$!")
}

for ((r = 0; r < ROUNDS; r++)); do
	BURST=()
	n=r$r-$$.burst.test
	start "curl4.$n" curl -sSk -o /dev/null --resolve "curl4.$n:$P:127.0.0.1" "https://curl4.$n:$P/"
	start "curl6.$n" curl -sSk -o /dev/null --resolve "curl6.$n:$P:[::1]" "https://curl6.$n:$P/"
	start "py.$n" "$PY" -c "$PYCLIENT" 127.0.0.1 "$P" "py.$n"
	# s_client ends its connection at once on the end of its input (-brief: no prompts).
	start "ossl4.$n" openssl s_client -brief -connect "127.0.0.1:$P" -servername "ossl4.$n"
	start "ossl6.$n" openssl s_client -brief -connect "[::1]:$P" -servername "ossl6.$n"
	start "socat.$n" curl -sSk -o /dev/null --http0.9 --resolve "socat.$n:$P2:127.0.0.1" \
		"https://socat.$n:$P2/"
	wait "${BURST[@]}" 2>/dev/null
done
total=$(wc -l <"$TEST_TMP/expect")

# Every client's record, then every one judged.
for ((i = 0; i < 100; i++)); do
	n=$(grep -c '"role":"client"' "$WATCH_OUT" 2>/dev/null)
	[ "${n:-0}" -ge "$total" ] && break
	sleep 0.1
done
sleep 0.5
$PY - "$WATCH_OUT" "$TEST_TMP/expect" "$TEST_TMP/servers" "$TEST_TMP/socat-chain" "$SOCAT_LISTENER" \
	<<'EOF' || fail "$(cat "$TEST_TMP/verdict")"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
servers = {int(l) for l in open(sys.argv[3])}
# socat's children: the processes whose parent is the listener.
children = {int(l.split()[0]) for l in open(sys.argv[4]) if int(l.split()[1]) == int(sys.argv[5])}
bad, named = [], 0
for line in open(sys.argv[2]):
    sni, pid = line.split()
    mine = [r for r in recs if r["sni"] == sni]
    cli = [r for r in mine if r["role"] == "client"]
    srv = [r for r in mine if r["role"] == "server"]
    if len(cli) != 1 or len(srv) != 1:
        bad.append("%s: %d client and %d server records" % (sni, len(cli), len(srv)))
        continue
    if cli[0]["pid"] != int(pid):
        bad.append("%s: client pid %s, want %s (comm %s)" % (sni, cli[0]["pid"], pid,
                                                           cli[0]["comm"]))
    else:
        named += 1
    if sni.startswith("socat."):
        if srv[0]["pid"] not in children:
            bad.append("%s: server pid %s, want the listener's child of that connection "
                       "(listener %s)" % (sni, srv[0]["pid"], sys.argv[5]))
    elif srv[0]["pid"] not in servers:
        bad.append("%s: server pid %s, want one of %s" % (sni, srv[0]["pid"], sorted(servers)))
msg = "%d of %d short-lived clients named" % (named, sum(1 for _ in open(sys.argv[2])))
open(sys.argv[1] + ".verdict", "w").write(msg + "\n")
print(msg)
if bad:
    sys.stderr.write("\n".join([msg] + bad) + "\n")
    open(sys.argv[1].rsplit("/", 1)[0] + "/verdict", "w").write("\n".join([msg] + bad[:20]))
    sys.exit(1)
EOF
grep -q "socket owners: kernel perf events" <("$TLSAUDIT" status -S "$TEST_TMP/s") ||
	fail "the daemon does not take socket owners from the kernel: $("$TLSAUDIT" status -S \
		"$TEST_TMP/s" | grep backend)"
grep -q "capture:.* 0 unattributed" <("$TLSAUDIT" status -S "$TEST_TMP/s") ||
	fail "unattributed records: $("$TLSAUDIT" status -S "$TEST_TMP/s" | grep capture)"
kill -TERM "$DPID"
wait "$DPID"
expect_eq "exit status after SIGTERM" "$?" 0
echo "ok: $total short-lived clients in $ROUNDS bursts, every one named, and every forked server child (pcap backend)"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The owner fallback for kernels without the socket-owner tracepoints, forced with
# TLSAUDIT_NO_OWNER_TRACEPOINTS=1: only the two cgroup_skb programs load, and each local
# end is named through sock_diag and /proc when its record completes. sock_diag answers
# for tlsaudit's own network namespace, so the peers talk over the host's loopback here,
# on a port nothing else uses.
#   openssl s_client -tls1_2 against s_server   both pids, roles client and server
#   socat OPENSSL-LISTEN,fork                   the forked child that holds the connection
source "$(dirname "$0")/../lib/common.sh"

require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
for t in openssl socat ss; do
	command -v "$t" >/dev/null || skip "$t not installed (./configure --test-deps)"
done
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
source "$(dirname "$0")/../lib/watch.sh"

# Two free ports on the host's loopback.
free_port() {
	local p
	for ((p = $1; p < $1 + 100; p++)); do
		ss -Htan "sport = :$p or dport = :$p" | grep -q . || { echo "$p"; return 0; }
	done
	fail "no free port from $1"
}
P1=$(free_port 24443)
P2=$(free_port $((P1 + 1)))

make_cert "$TEST_TMP"
KEY=$TEST_TMP/server.key
CRT=$TEST_TMP/server.crt

export TLSAUDIT_NO_OWNER_TRACEPOINTS=1
watch_start -v --ports "$P1,$P2"
grep -q "leaving out the owner tracepoints" "$WATCH_ERR" ||
	fail "no word of the fallback: $(cat "$WATCH_ERR")"
# Only the two cgroup_skb programs: no tracepoint is attached.
n=$(grep -h "^prog_id:" /proc/"$WATCH_PID"/fdinfo/* 2>/dev/null | sort -u | wc -l)
expect_eq "BPF programs loaded" "$n" 2

# A client that stays connected (-ign_eof) to a server that waits for a request (-www).
bg openssl s_server -accept "127.0.0.1:$P1" -www -key "$KEY" -cert "$CRT"
S_OPENSSL=$BG_PID
wait_port "$P1"
SNI=fallback-$$.watch.test
bg openssl s_client -tls1_2 -ign_eof -connect "127.0.0.1:$P1" -servername "$SNI"
C_OPENSSL=$BG_PID
wait_records 2 "r['sni'] == '$SNI'"
Q="r['sni'] == '$SNI' and r['role'] == 'client'"
expect_eq "client pid" "$(rec pid "$Q")" "$C_OPENSSL"
expect_eq "client comm" "$(rec comm "$Q")" openssl
expect_eq "client exe" "$(rec exe "$Q")" "$(readlink -f "$(command -v openssl)")"
expect_eq "client version" "$(rec version "$Q")" TLSv1.2
Q="r['sni'] == '$SNI' and r['role'] == 'server'"
expect_eq "server pid" "$(rec pid "$Q")" "$S_OPENSSL"
expect_eq "server comm" "$(rec comm "$Q")" openssl
kill "$C_OPENSSL"

# A forking server: the child holds the connection (the listener closed its copy), so
# /proc names it.
socat_fork_server "$P2" 5
SNI=socat-$$.watch.test
bg openssl s_client -ign_eof -connect "127.0.0.1:$P2" -servername "$SNI"
wait_records 2 "r['sni'] == '$SNI'"
Q="r['sni'] == '$SNI' and r['role'] == 'server'"
expect_eq "socat child pid" "$(rec pid "$Q")" "$(socat_child)"
expect_eq "socat comm" "$(rec comm "$Q")" socat

kill -INT "$WATCH_PID"
wait "$WATCH_PID" || fail "watch exited with $?"
echo "ok: owners named through sock_diag and /proc without the owner tracepoints"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The daemon in a pid namespace of its own (unshare --pid --fork --mount-proc, as in a
# container) names processes by the pids its /proc shows, not the host's:
#   - a server and clients started in its namespace: their pids as seen in there;
#   - a client in a pid namespace below it (a container in the container): the kernel
#     does not number it for the daemon's namespace, /proc does (sock_diag and the fd
#     scan): its pid at the daemon's level;
#   - a client on the host, outside: unknown (pid null), never a wrong process; the
#     server's end of the same connection is still named.
source "$(dirname "$0")/../lib/common.sh"

require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
for t in openssl unshare nsenter pgrep; do
	command -v "$t" >/dev/null || skip "$t not installed (./configure --test-deps)"
done
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
source "$(dirname "$0")/../lib/watch.sh"

make_cert "$TEST_TMP"
# A port of its own on the host's loopback: sock_diag answers for the daemon's network
# namespace, which is the host's here.
P=$((20000 + ($$ + 7) % 20000))
OPENSSL=$(readlink -f "$(command -v openssl)")
WATCH_OUT=$TEST_TMP/hs.json

# child_of PID - the one child of PID (nsenter and unshare --fork run their command in one).
child_of() {
	local i c
	for ((i = 0; i < 100; i++)); do
		c=$(pgrep -P "$1" | head -n 1)
		[ -n "$c" ] && { echo "$c"; return 0; }
		sleep 0.02
	done
	fail "no child of $1"
}

# nspid PID LEVEL - PID's number in the pid namespace LEVEL levels below the host's.
nspid() { awk -v l="$2" '$1 == "NSpid:" { print $(l + 2) }' "/proc/$1/status"; }

unshare --pid --fork --mount-proc --kill-child "$TLSAUDIT" daemon --socket="$TEST_TMP/s" \
	--state-file="$TEST_TMP/state" --textfile=none --ports="$P" --backend bpf \
	--handshake-log="$WATCH_OUT" >"$TEST_TMP/daemon.log" 2>&1 &
UNSHARE=$!
on_exit "kill $UNSHARE"
DPID=$(child_of "$UNSHARE")
wait_line "$TEST_TMP/daemon.log" " started: " "$DPID" ||
	fail "the daemon did not start: $(cat "$TEST_TMP/daemon.log")"
expect_eq "the daemon's pid in its namespace" "$(nspid "$DPID" 1)" 1
grep -q "pid namespace [0-9]*: owners are numbered as this /proc shows them" \
	"$TEST_TMP/daemon.log" || fail "no word of the pid namespace: $(cat "$TEST_TMP/daemon.log")"

# The daemon's pid and mount namespaces (its /proc), as a command prefix: a plain
# command, so that $! is nsenter and its child the program.
IN_NS=(nsenter --target "$DPID" --pid --mount --)

"${IN_NS[@]}" "$OPENSSL" s_server -accept "127.0.0.1:$P" -www -key "$TEST_TMP/server.key" \
	-cert "$TEST_TMP/server.crt" </dev/null >"$TEST_TMP/s_server.log" 2>&1 &
SERVER_WRAP=$!
on_exit "kill $SERVER_WRAP"
SERVER=$(child_of "$SERVER_WRAP")
wait_port "$P"
SERVER_NS=$(nspid "$SERVER" 1)

# client SNI HOW... - one handshake, the client started by HOW (a command prefix) and
# staying until its request is answered; CLIENT is its host pid, CLIENT_NS1 and
# CLIENT_NS2 its pids one and two namespaces down (empty where it is not).
client() {
	local sni=$1 wrapper
	shift
	(sleep 0.5; printf 'GET / HTTP/1.0\r\n\r\n') | "$@" "$OPENSSL" s_client -brief \
		-connect "127.0.0.1:$P" -servername "$sni" -ign_eof >"$TEST_TMP/$sni.out" 2>&1 &
	wrapper=$!
	if [ $# -gt 0 ]; then
		CLIENT=$(child_of "$wrapper")
		# unshare --fork: one level more, the client is the child of unshare's child.
		[ "$(basename "$(readlink "/proc/$CLIENT/exe")")" = openssl ] ||
			CLIENT=$(child_of "$CLIENT")
	else
		CLIENT=$wrapper
	fi
	CLIENT_NS1=$(nspid "$CLIENT" 1)
	CLIENT_NS2=$(nspid "$CLIENT" 2)
	wait "$wrapper"
	wait_records 2 "r['sni'] == '$sni'"
}

# In the daemon's namespace: the client's own pid there, and the server's.
client "inside-$$.pidns.test" "${IN_NS[@]}"
Q="r['sni'] == 'inside-$$.pidns.test'"
[ "$CLIENT_NS1" != "$CLIENT" ] || fail "the client is not in another pid namespace"
expect_eq "client in the namespace: pid" "$(rec pid "$Q and r['role'] == 'client'")" "$CLIENT_NS1"
expect_eq "client in the namespace: exe" "$(rec exe "$Q and r['role'] == 'client'")" "$OPENSSL"
expect_eq "server in the namespace: pid" "$(rec pid "$Q and r['role'] == 'server'")" "$SERVER_NS"

# A namespace below the daemon's: numbered through /proc.
client "nested-$$.pidns.test" "${IN_NS[@]}" unshare --pid --fork --mount-proc
Q="r['sni'] == 'nested-$$.pidns.test'"
[ -n "$CLIENT_NS2" ] || fail "the nested client is not a namespace further down"
expect_eq "client one namespace further down: pid" \
	"$(rec pid "$Q and r['role'] == 'client'")" "$CLIENT_NS1"
expect_eq "client one namespace further down: exe" \
	"$(rec exe "$Q and r['role'] == 'client'")" "$OPENSSL"

# The host, outside the daemon's namespace: not in its /proc, so no process.
client "outside-$$.pidns.test"
Q="r['sni'] == 'outside-$$.pidns.test'"
expect_eq "client outside the namespace: pid" "$(rec pid "$Q and r['role'] == 'client'")" null
expect_eq "client outside the namespace: comm" "$(rec comm "$Q and r['role'] == 'client'")" null
expect_eq "server, its peer outside: pid" "$(rec pid "$Q and r['role'] == 'server'")" "$SERVER_NS"

kill "$SERVER"
wait "$SERVER_WRAP" 2>/dev/null
kill -TERM "$DPID"
wait "$UNSHARE"
expect_eq "exit status after SIGTERM" "$?" 0
echo "ok: pids as the daemon's pid namespace numbers them; outside it, unknown"

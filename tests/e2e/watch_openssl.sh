#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `tlsaudit watch --json` (eBPF backend) names both local ends of real openssl
# handshakes: a short-lived `s_client -tls1` (its pid, comm, exe, role client, TLSv1.0)
# against `s_server` (its pid, role server), over IPv4 and IPv6, and a TLS 1.3-capable
# client held down to TLS 1.0 by the server (limited_by server).
#
# watch runs outside the namespace: cgroup_skb on the root cgroup sees the sockets of
# every namespace, while inside `ip netns exec` no cgroup mount is visible.
source "$(dirname "$0")/../lib/common.sh"

require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
command -v openssl >/dev/null || skip "openssl not installed (./configure --test-deps)"
command -v python3 >/dev/null || skip "python3 not installed (./configure --test-deps)"
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"

LEGACY=(-cipher 'DEFAULT@SECLEVEL=0')
OPENSSL_EXE=$(readlink -f "$(command -v openssl)")
source "$(dirname "$0")/../lib/watch.sh"

netns_new watch
make_cert "$TEST_TMP"
watch_start

# server_start ADDR PORT ARGS... - s_server in the namespace; SERVER_PID is openssl itself.
server_start() {
	local addr=$1 port=$2 hp
	shift 2
	case $addr in *:*) hp="[$addr]:$port" ;; *) hp="$addr:$port" ;; esac
	ip netns exec "$NS" openssl s_server -accept "$hp" -www -key "$TEST_TMP/server.key" \
		-cert "$TEST_TMP/server.crt" "$@" </dev/null >"$TEST_TMP/s_server.log" 2>&1 &
	SERVER_PID=$!
	on_exit "kill $SERVER_PID"
	local i
	for ((i = 0; i < 200; i++)); do
		ip netns exec "$NS" ss -Htln "src $hp" | grep -q . && return 0
		sleep 0.025
	done
	fail "s_server on $hp did not start"
}

# client_run ADDR PORT ARGS... - one s_client handshake; CLIENT_PID is openssl itself.
client_run() {
	local addr=$1 port=$2 hp
	shift 2
	case $addr in *:*) hp="[$addr]:$port" ;; *) hp="$addr:$port" ;; esac
	printf 'Q\n' | ip netns exec "$NS" openssl s_client -brief -connect "$hp" \
		"$@" >"$TEST_TMP/client.out" 2>&1 &
	CLIENT_PID=$!
	# No timeout(1) in front: the record must name openssl's own pid.
	(sleep 10; kill "$CLIENT_PID") 2>/dev/null &
	local dog=$!
	wait "$CLIENT_PID"
	kill "$dog" 2>/dev/null
	grep -q "^Protocol version" "$TEST_TMP/client.out" ||
		{ cat "$TEST_TMP/client.out" >&2; fail "s_client $hp $* did not finish its handshake"; }
}

# 1. TLS 1.0 client against a server that would take anything: both ends named.
SNI=tls10-$$.watch.test
server_start 127.0.0.1 443 "${LEGACY[@]}"
S1=$SERVER_PID
client_run 127.0.0.1 443 -tls1 "${LEGACY[@]}" -servername "$SNI"
C1=$CLIENT_PID
wait_records 2 "r['sni'] == '$SNI'"
Q="r['sni'] == '$SNI' and r['role'] == 'client'"
expect_eq "client pid" "$(rec pid "$Q")" "$C1"
expect_eq "client comm" "$(rec comm "$Q")" openssl
expect_eq "client exe" "$(rec exe "$Q")" "$OPENSSL_EXE"
expect_eq "client version" "$(rec version "$Q")" TLSv1.0
expect_eq "client offered_max" "$(rec offered_max "$Q")" TLSv1.0
expect_eq "client legacy" "$(rec legacy "$Q")" true
expect_eq "client limited_by" "$(rec limited_by "$Q")" client
expect_eq "client server_port" "$(rec server_port "$Q")" 443
expect_eq "client tls_lib" "$(rec tls_lib "$Q" | cut -d. -f1-2)" libssl.so
Q="r['sni'] == '$SNI' and r['role'] == 'server'"
expect_eq "server pid" "$(rec pid "$Q")" "$S1"
expect_eq "server comm" "$(rec comm "$Q")" openssl
expect_eq "server version" "$(rec version "$Q")" TLSv1.0
# Both ends of one connection: the same ports, seen from each side.
expect_eq "same connection" "$(rec client_port "$Q")" \
	"$(rec client_port "r['sni'] == '$SNI' and r['role'] == 'client'")"
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null

# 2. IPv6, and a TLS 1.3-capable client held down by a server that only speaks TLS 1.0.
SNI=v6-$$.watch.test
server_start ::1 443 -tls1 "${LEGACY[@]}"
S2=$SERVER_PID
client_run ::1 443 "${LEGACY[@]}" -servername "$SNI"
C2=$CLIENT_PID
wait_records 2 "r['sni'] == '$SNI'"
Q="r['sni'] == '$SNI' and r['role'] == 'client'"
expect_eq "v6 client pid" "$(rec pid "$Q")" "$C2"
expect_eq "v6 client_ip" "$(rec client_ip "$Q")" ::1
expect_eq "v6 server_ip" "$(rec server_ip "$Q")" ::1
expect_eq "v6 offered_max" "$(rec offered_max "$Q")" TLSv1.3
expect_eq "v6 version" "$(rec version "$Q")" TLSv1.0
expect_eq "v6 limited_by" "$(rec limited_by "$Q")" server
Q="r['sni'] == '$SNI' and r['role'] == 'server'"
expect_eq "v6 server pid" "$(rec pid "$Q")" "$S2"
expect_eq "v6 server limited_by" "$(rec limited_by "$Q")" server
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null

# 3. A modern handshake is reported too, with its TLS 1.3 key-exchange group.
SNI=tls13-$$.watch.test
server_start 127.0.0.1 443
client_run 127.0.0.1 443 -servername "$SNI"
C3=$CLIENT_PID
wait_records 2 "r['sni'] == '$SNI'"
Q="r['sni'] == '$SNI' and r['role'] == 'client'"
expect_eq "tls13 pid" "$(rec pid "$Q")" "$C3"
expect_eq "tls13 version" "$(rec version "$Q")" TLSv1.3
expect_eq "tls13 legacy" "$(rec legacy "$Q")" false
[ "$(rec group "$Q")" != null ] || fail "tls13: no key-exchange group"

# SIGINT is a clean stop.
kill -INT "$WATCH_PID"
wait "$WATCH_PID"
expect_eq "watch exit status on SIGINT" "$?" 0
echo "ok"

# SPDX-License-Identifier: GPL-2.0-only
# Shared helpers for the end-to-end tests (source this file).
#   skip MSG          exit with the skip code (249); tests/run.sh reports it
#   fail MSG          print and exit 1
#   require_root      skip unless root
#   netns_new NAME    create a namespace with lo up; removed on exit
#   in_ns CMD...      run CMD in the namespace made by netns_new
#   make_cert DIR     self-signed RSA key/cert in DIR (server.key, server.crt)
#   wait_port PORT    wait until something listens on PORT in the namespace (or host)
#   expect_eq WHAT GOT WANT
set -u

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TLSAUDIT=${TLSAUDIT:-$TOP/build/tlsaudit}
# The release binary (tests/run.sh points TLSAUDIT at the sanitized one): for the tests
# of how it is built and of valgrind, which cannot run an ASan binary.
TLSAUDIT_REL=${TLSAUDIT_REL:-$TOP/build/tlsaudit}
SKIP_CODE=249
TEST_TMP=$(mktemp -d /tmp/tlsaudit-test.XXXXXX)
NS=""
_cleanup_cmds=()

skip() { echo "skip: $*"; exit $SKIP_CODE; }
fail() { echo "FAIL: $*" >&2; exit 1; }

on_exit() { _cleanup_cmds+=("$*"); }
_run_cleanup() {
	local i
	for ((i = ${#_cleanup_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_cleanup_cmds[$i]}" >/dev/null 2>&1 || true
	done
	[ -n "$NS" ] && ip netns del "$NS" 2>/dev/null
	rm -rf "$TEST_TMP"
}
trap _run_cleanup EXIT

require_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }

netns_new() {
	require_root
	command -v ip >/dev/null || skip "ip (iproute2) not installed"
	NS="tlsaudit-$1-$$"
	ip netns add "$NS" || fail "ip netns add $NS"
	ip -n "$NS" link set lo up
}

in_ns() { ip netns exec "$NS" "$@"; }

# wait_line FILE PATTERN PID - until FILE has a line matching PATTERN (10 s at most);
# fails at once when PID has exited without writing it.
wait_line() {
	local i
	for ((i = 0; i < 400; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.025
	done
	grep -q "$2" "$1" 2>/dev/null
}

make_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tlsaudit.test \
		-addext "subjectAltName=DNS:tlsaudit.test,DNS:mail.tlsaudit.test,IP:127.0.0.1,IP:::1" \
		-keyout "$1/server.key" -out "$1/server.crt" >/dev/null 2>&1 ||
		fail "openssl could not make a test certificate"
}

# wait_port PORT [ADDR] - until something listens on PORT (on ADDR only, when given), in
# $NS when set; 5 s at most.
wait_port() {
	local port=$1 addr=${2:-} i ns=() filter="sport = :$1"
	[ -n "${NS:-}" ] && ns=(ip netns exec "$NS")
	[ -n "$addr" ] && filter="src $addr:$port"
	for ((i = 0; i < 200; i++)); do
		"${ns[@]}" ss -Htln "$filter" | grep -q . && return 0
		sleep 0.025
	done
	[ -s "$TEST_TMP/bg.log" ] && cat "$TEST_TMP/bg.log" >&2
	fail "nothing listens on ${addr:+$addr:}$port"
}

# daemon_wait_up SOCKET PID LOG - until `tlsaudit status` answers on SOCKET (10 s at
# most); fails with LOG's last lines when PID exits first or the time runs out.
daemon_wait_up() {
	local i
	for ((i = 0; i < 500; i++)); do
		"$TLSAUDIT" status -S "$1" >/dev/null 2>&1 && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.02
	done
	tail -n 20 "$3" >&2
	fail "daemon did not come up"
}

# daemon_stop - SIGTERM to the daemon $DPID, which must exit 0 (a signal is a clean stop).
daemon_stop() {
	kill -TERM "$DPID"
	wait "$DPID"
	expect_eq "daemon exit status after SIGTERM" "$?" 0
}

expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

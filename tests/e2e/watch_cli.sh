#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `tlsaudit watch` as a user drives it: usage errors (exit 2), a capture that cannot
# start (exit 1, one line saying why), --legacy hiding modern handshakes, the text
# form, and the libpcap backend run inside the namespace naming both ends too.
source "$(dirname "$0")/../lib/common.sh"

require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
command -v openssl >/dev/null || skip "openssl not installed (./configure --test-deps)"
command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"

LEGACY=(-cipher 'DEFAULT@SECLEVEL=0')
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# Usage errors: exit 2, the usage on stderr, the bad option named.
for args in "--bogus" "--backend foo" "--ports 0" "--ports 443,x" "extra"; do
	# shellcheck disable=SC2086
	"$TLSAUDIT" watch $args >"$TEST_TMP/out" 2>"$TEST_TMP/err"
	expect_eq "exit status of 'watch $args'" "$?" 2
	grep -q "^Usage: tlsaudit watch" "$TEST_TMP/err" || fail "watch $args: no usage on stderr"
	[ -s "$TEST_TMP/out" ] && fail "watch $args: wrote to stdout"
done
grep -q -- "--ports '443,x'" "$TEST_TMP/err" ||
	"$TLSAUDIT" watch --ports 443,x 2>&1 | grep -q -- "--ports '443,x'" ||
	fail "the bad --ports value is not named"

# --help: stdout, exit 0, every option and the examples.
"$TLSAUDIT" watch --help >"$TEST_TMP/help"
expect_eq "exit status of --help" "$?" 0
for o in --json --legacy --backend --ports --interface --verbose Examples: "Exit status"; do
	grep -q -- "$o" "$TEST_TMP/help" || fail "--help does not mention $o"
done

# Without privileges: exit 1 and exactly one line saying why, for each backend choice.
for b in bpf pcap auto; do
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$TLSAUDIT" watch --backend "$b" >"$TEST_TMP/out" 2>"$TEST_TMP/err"
	expect_eq "unprivileged --backend $b exit status" "$?" 1
	expect_eq "unprivileged --backend $b stderr lines" "$(wc -l <"$TEST_TMP/err")" 1
	grep -qi "permission\|not permitted" "$TEST_TMP/err" ||
		fail "unprivileged --backend $b: reason not given: $(cat "$TEST_TMP/err")"
done

netns_new watchc
make_cert "$TEST_TMP"

# Links are fd-owned: even after SIGKILL no program of the dead watch stays attached.
if command -v bpftool >/dev/null; then
	"$TLSAUDIT" watch >/dev/null 2>"$TEST_TMP/kill.err" &
	KPID=$!
	wait_line "$TEST_TMP/kill.err" "capturing with bpf" "$KPID" ||
		fail "watch did not start: $(cat "$TEST_TMP/kill.err")"
	ids=$(grep -h "^prog_id:" /proc/$KPID/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -u)
	# two cgroup_skb programs, inet_sock_set_state and tcp_rcv_space_adjust
	[ "$(echo "$ids" | grep -c .)" -ge 4 ] || fail "watch holds $(echo "$ids" | grep -c .) programs, want 4"
	kill -KILL "$KPID"
	wait "$KPID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		left=$(bpftool prog show -j | $PY -c '
import json, sys
ids = set(sys.argv[1].split())
print(" ".join(str(p["id"]) for p in json.load(sys.stdin) if str(p["id"]) in ids))' "$ids")
		[ -z "$left" ] && break
		sleep 0.05
	done
	[ -z "$left" ] || fail "programs $left still loaded after the watch was killed"
fi

# start_watch NAME WHERE ARGS... - WHERE is "host" or "ns" (libpcap sees only its namespace).
start_watch() {
	local name=$1 where=$2
	shift 2
	if [ "$where" = ns ]; then
		ip netns exec "$NS" "$TLSAUDIT" watch "$@" >"$TEST_TMP/$name.out" \
			2>"$TEST_TMP/$name.err" &
	else
		"$TLSAUDIT" watch "$@" >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" &
	fi
	WPID=$!
	on_exit "kill $WPID"
	wait_line "$TEST_TMP/$name.err" "capturing with" "$WPID" && return 0
	cat "$TEST_TMP/$name.err" >&2
	fail "watch $* did not start"
}

stop_watch() {
	kill -INT "$1"
	wait "$1"
	expect_eq "watch exit status on SIGINT" "$?" 0
}

ip netns exec "$NS" openssl s_server -accept 127.0.0.1:443 -www -key "$TEST_TMP/server.key" \
	-cert "$TEST_TMP/server.crt" "${LEGACY[@]}" </dev/null >/dev/null 2>&1 &
SERVER_PID=$!
on_exit "kill $SERVER_PID"
wait_port 443

# client ARGS... - one s_client handshake; CLIENT_PID is openssl itself. It stays
# connected a moment, as a real client would, so sock_diag can still find it.
client() {
	(sleep 0.3; printf 'Q\n') | ip netns exec "$NS" openssl s_client -brief -connect 127.0.0.1:443 "$@" \
		>"$TEST_TMP/client.out" 2>&1 &
	CLIENT_PID=$!
	(sleep 10; kill "$CLIENT_PID") 2>/dev/null &
	local dog=$!
	wait "$CLIENT_PID"
	kill "$dog" 2>/dev/null
	grep -q "^Protocol version" "$TEST_TMP/client.out" || fail "s_client $* failed"
}

count() {
	$PY -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if l.strip() and eval(sys.argv[2], {}, {"r": json.loads(l)})))
' "$1" "$2"
}

wait_count() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(count "$1" "$3")" -ge "$2" ] && return 0
		sleep 0.1
	done
	cat "$1" >&2
	fail "fewer than $2 records in $1 match $3"
}

# --legacy and the text form, side by side on the same handshakes.
start_watch legacy host --json --legacy
LEGACY_PID=$WPID
start_watch text host
TEXT_PID=$WPID
OLD=old-$$.watch.test
NEW=new-$$.watch.test
client -servername "$NEW"
client -tls1 "${LEGACY[@]}" -servername "$OLD"
OLD_CLIENT=$CLIENT_PID
wait_count "$TEST_TMP/legacy.out" 2 "r['sni'] == '$OLD'"
for ((i = 0; i < 100; i++)); do
	[ "$(grep -c "$OLD" "$TEST_TMP/text.out")" -ge 2 ] && break
	sleep 0.1
done
stop_watch "$LEGACY_PID"
stop_watch "$TEXT_PID"
expect_eq "--legacy: modern handshakes shown" "$(count "$TEST_TMP/legacy.out" "r['sni'] == '$NEW'")" 0
expect_eq "--legacy: TLS 1.0 client record" \
	"$(count "$TEST_TMP/legacy.out" "r['sni'] == '$OLD' and r['role'] == 'client' and r['pid'] == $OLD_CLIENT and r['version'] == 'TLSv1.0'")" 1
expect_eq "--legacy: TLS 1.0 server record" \
	"$(count "$TEST_TMP/legacy.out" "r['sni'] == '$OLD' and r['role'] == 'server' and r['pid'] == $SERVER_PID")" 1
# Text: one line per local end, naming the version and the process.
expect_eq "text lines for the modern handshake" "$(grep -c "$NEW" "$TEST_TMP/text.out")" 2
line=$(grep "$OLD" "$TEST_TMP/text.out" | grep -w "$OLD_CLIENT") ||
	fail "text: no line with the client's pid: $(cat "$TEST_TMP/text.out")"
case $line in *TLSv1.0*openssl* | *openssl*TLSv1.0*) ;; *) fail "text line: $line" ;; esac

# The libpcap backend, inside the namespace: both ends named through sock_diag.
start_watch pcap ns --json --backend pcap
PCAP_PID=$WPID
grep -q "capturing with pcap" "$TEST_TMP/pcap.err" || fail "not the pcap backend"
SNI=pcap-$$.watch.test
client -tls1 "${LEGACY[@]}" -servername "$SNI"
wait_count "$TEST_TMP/pcap.out" 2 "r['sni'] == '$SNI'"
stop_watch "$PCAP_PID"
expect_eq "pcap client record" \
	"$(count "$TEST_TMP/pcap.out" "r['sni'] == '$SNI' and r['role'] == 'client' and r['version'] == 'TLSv1.0' and r['pid'] == $CLIENT_PID and r['comm'] == 'openssl'")" 1
expect_eq "pcap server record" \
	"$(count "$TEST_TMP/pcap.out" "r['sni'] == '$SNI' and r['role'] == 'server' and r['pid'] == $SERVER_PID")" 1
echo "ok"

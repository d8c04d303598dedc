#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Least privilege: the daemon, started by hand as root with every capability, keeps only
# what attribution's /proc reads need once its capture runs, and still names processes
# of other users (the clients run as nobody) and root's, with both backends:
#   bpf    CapEff = CapPrm = CapBnd = CAP_SYS_PTRACE (0x80000), no_new_privs; the kernel
#          still takes the done marks (the flow map shows done = 1), the ring buffer
#          still delivers; a reload asking for other ports says "needs a restart" and the
#          capture goes on with the old ones;
#   pcap   CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH (0x80004), the socket owners being
#          found in /proc/PID/fd;
#   unit   started as the unit starts it (uid 0, a bounding set of the unit's
#          capabilities, no CAP_SETPCAP): the same CapEff, the bounding set as given.
# The figures for the unit are in docs/architecture.md ("Privileges").
source "$(dirname "$0")/../lib/common.sh"

require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
for t in openssl setpriv ss; do
	command -v "$t" >/dev/null || skip "$t not installed (./configure --test-deps)"
done
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
source "$(dirname "$0")/../lib/watch.sh"

CAP_DAC_READ_SEARCH=2
CAP_SYS_PTRACE=19
hexcaps() {
	local c v=0
	for c in "$@"; do v=$((v | 1 << c)); done
	printf '%016x' "$v"
}
WANT_BPF=$(hexcaps $CAP_SYS_PTRACE)
WANT_PCAP=$(hexcaps $CAP_SYS_PTRACE $CAP_DAC_READ_SEARCH)
OPENSSL_EXE=$(readlink -f "$(command -v openssl)")
NOBODY=$(id -u nobody 2>/dev/null) || skip "no user nobody"

netns_new privs
make_cert "$TEST_TMP"
KEY=$TEST_TMP/server.key
CRT=$TEST_TMP/server.crt
# A port of its own: the BPF programs see every namespace, other tests included.
P=$((20000 + $$ % 20000))
P2=$((P + 1))

# status_of PID FIELD - a line of /proc/PID/status, value only.
status_of() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# check_caps PID WANT_EFF WANT_BND WHAT
check_caps() {
	expect_eq "$4: CapEff" "$(status_of "$1" CapEff)" "$2"
	expect_eq "$4: CapPrm" "$(status_of "$1" CapPrm)" "$2"
	expect_eq "$4: CapInh" "$(status_of "$1" CapInh)" 0000000000000000
	expect_eq "$4: CapAmb" "$(status_of "$1" CapAmb)" 0000000000000000
	expect_eq "$4: CapBnd" "$(status_of "$1" CapBnd)" "$3"
	expect_eq "$4: NoNewPrivs" "$(status_of "$1" NoNewPrivs)" 1
}

# daemon_start NAME [CMD PREFIX...] -- [OPTIONS...] - DPID, DLOG, DSOCK, and WATCH_OUT
# (the handshake log) for rec/wait_records.
daemon_start() {
	local name=$1 pre=() i
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do pre+=("$1"); shift; done
	shift
	DLOG=$TEST_TMP/$name.log
	DSOCK=$TEST_TMP/$name.sock
	WATCH_OUT=$TEST_TMP/$name.json
	"${pre[@]}" "$TLSAUDIT" daemon --socket="$DSOCK" --state-file="$TEST_TMP/$name.state" \
		--textfile=none --handshake-log="$WATCH_OUT" "$@" >"$DLOG" 2>&1 &
	DPID=$!
	on_exit "kill $DPID"
	for ((i = 0; i < 200; i++)); do
		grep -q " started: " "$DLOG" && return 0
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$DLOG" >&2
	fail "$name: the daemon did not start"
}

daemon_stop() {
	kill -TERM "$DPID"
	wait "$DPID"
	expect_eq "exit status after SIGTERM" "$?" 0
}

# handshake SNI PORT - a client as nobody against the server on PORT, staying connected
# until killed (s_server serves one at a time: kill it before the next); CLIENT_PID is
# the client (no wrapper in between: ip and setpriv exec).
handshake() {
	ip netns exec "$NS" setpriv --reuid="$NOBODY" --regid="$NOBODY" --clear-groups \
		openssl s_client -brief -ign_eof -connect "127.0.0.1:$2" -servername "$1" \
		</dev/null >"$TEST_TMP/client.$1.out" 2>&1 &
	CLIENT_PID=$!
	on_exit "kill $CLIENT_PID"
	wait_records 2 "r['sni'] == '$1'"
}

# check_named SNI WHAT - both ends of SNI's handshake named: the client (nobody) and the
# server (root, with every capability: more than the daemon holds by then).
check_named() {
	local q="r['sni'] == '$1' and r['role'] == 'client'"
	expect_eq "$2: client pid" "$(rec pid "$q")" "$CLIENT_PID"
	expect_eq "$2: client uid" "$(rec uid "$q")" "$NOBODY"
	expect_eq "$2: client exe" "$(rec exe "$q")" "$OPENSSL_EXE"
	rec tls_lib "$q" | grep -q '^libssl' || fail "$2: client tls_lib: $(rec tls_lib "$q")"
	q="r['sni'] == '$1' and r['role'] == 'server'"
	expect_eq "$2: server pid" "$(rec pid "$q")" "$SERVER_PID"
	expect_eq "$2: server exe" "$(rec exe "$q")" "$OPENSSL_EXE"
	rec tls_lib "$q" | grep -q '^libssl' || fail "$2: server tls_lib: $(rec tls_lib "$q")"
}

ip netns exec "$NS" openssl s_server -accept "127.0.0.1:$P" -www -key "$KEY" -cert "$CRT" \
	</dev/null >"$TEST_TMP/s_server.log" 2>&1 &
SERVER_PID=$!
on_exit "kill $SERVER_PID"
wait_port "$P"

# --- eBPF, by hand, as root with a full set ----------------------------------------------
CONF=$TEST_TMP/tlsaudit.conf
echo "ports = $P" >"$CONF"
daemon_start bpf -- -c "$CONF" --backend bpf
check_caps "$DPID" "$WANT_BPF" "$WANT_BPF" "bpf backend"
grep -q "privileges: keeping CAP_SYS_PTRACE (" "$DLOG" || fail "no privileges line: $(cat "$DLOG")"
grep "privileges:" "$DLOG" | grep -q CAP_DAC_READ_SEARCH &&
	fail "bpf backend keeps CAP_DAC_READ_SEARCH: $(grep privileges: "$DLOG")"
handshake "bpf-$$.privs.test" "$P"
check_named "bpf-$$.privs.test" "bpf backend"
# The done marks are bpf() updates on a map fd the daemon holds: the kernel took them.
if command -v bpftool >/dev/null; then
	id=$(for f in /proc/"$DPID"/fdinfo/*; do
		awk '$1 == "map_type:" { t = $2 } $1 == "value_size:" { v = $2 }
		     $1 == "map_id:" { id = $2 } END { if (t == 9 && v == 16) print id }' "$f"
	done | head -n 1)
	[ -n "$id" ] || fail "no flow map among the daemon's fds"
	# The marks go out after the poll that emitted the records: within milliseconds.
	for ((i = 0; i < 40; i++)); do
		bpftool -j map dump id "$id" >"$TEST_TMP/flows.json" ||
			fail "bpftool map dump id $id"
		$PY - "$TEST_TMP/flows.json" <<'EOF' && break
import json, sys
entries = json.load(open(sys.argv[1]))
def done(e):
    v = e.get("formatted", e).get("value")
    if isinstance(v, dict):
        return v.get("done") == 1
    return int(v[8], 16) == 1  # sent[2], then done: raw hex bytes without BTF
sys.exit(0 if any(done(e) for e in entries) else 1)
EOF
		sleep 0.05
	done
	[ "$i" -lt 40 ] || fail "no flow marked done in the kernel's map: $(cat "$TEST_TMP/flows.json")"
else
	echo "note: bpftool missing, the done marks are not checked"
fi
grep -q "marking flows done in the kernel fails" "$DLOG" && fail "$(cat "$DLOG")"
kill "$CLIENT_PID"

# Other ports need a capture the daemon can no longer open: on restart only.
echo "ports = $P,$P2" >"$CONF"
kill -HUP "$DPID"
wait_line "$DLOG" "configuration reloaded" "$DPID" || fail "no reload: $(cat "$DLOG")"
grep -q "reload: ports $P,$P2, backend bpf: needs a restart.* still on ports $P, backend bpf" \
	"$DLOG" || fail "reload does not say it needs a restart: $(cat "$DLOG")"
"$TLSAUDIT" status -S "$DSOCK" | grep -q "^ports: *$P\$" ||
	fail "status after the reload: $("$TLSAUDIT" status -S "$DSOCK")"
handshake "reload-$$.privs.test" "$P"
check_named "reload-$$.privs.test" "bpf backend after a reload"
kill "$CLIENT_PID"
check_caps "$DPID" "$WANT_BPF" "$WANT_BPF" "bpf backend after a reload"
daemon_stop

# --- as the unit starts it: uid 0, the unit's bounding set, no CAP_SETPCAP ---------------
UNIT_CAPS=+bpf,+perfmon,+net_admin,+net_raw,+sys_ptrace,+dac_read_search,+chown
# CAP_SYS_RESOURCE as well where this machine's bounding set still has it.
[ $((0x$(status_of $$ CapBnd) >> 24 & 1)) = 1 ] && UNIT_CAPS=$UNIT_CAPS,+sys_resource
daemon_start unit setpriv --bounding-set=-all,$UNIT_CAPS -- --ports="$P" --backend bpf
bnd=$(setpriv --bounding-set=-all,$UNIT_CAPS cat /proc/self/status | awk '$1 == "CapBnd:" { print $2 }')
check_caps "$DPID" "$WANT_BPF" "$bnd" "bpf backend under the unit's bounding set"
grep -q "bounding set left as given" "$DLOG" || fail "$(grep privileges: "$DLOG")"
handshake "unit-$$.privs.test" "$P"
check_named "unit-$$.privs.test" "bpf backend under the unit's bounding set"
kill "$CLIENT_PID"
daemon_stop

# --- libpcap, by hand: sees the namespace's own traffic, so it runs in there -------------
daemon_start pcap ip netns exec "$NS" -- --ports="$P" --backend pcap
check_caps "$DPID" "$WANT_PCAP" "$WANT_PCAP" "pcap backend"
grep "privileges:" "$DLOG" | grep -q "CAP_DAC_READ_SEARCH (" ||
	fail "pcap backend: $(grep privileges: "$DLOG")"
handshake "pcap-$$.privs.test" "$P"
check_named "pcap-$$.privs.test" "pcap backend"
kill "$CLIENT_PID"
daemon_stop
echo "ok: CapEff $WANT_BPF (bpf), $WANT_PCAP (pcap), processes of other users still named"

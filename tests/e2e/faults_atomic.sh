#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The atomic writes are atomic: with an LD_PRELOAD shim (tests/lib/faultshim.c) the
# daemon's writes of its temp files fail while a storm runs and exports happen every
# second: write() with ENOSPC, a short write() then ENOSPC, fsync() with EIO, rename()
# with EIO. For each, the state file and the textfile stay byte for byte what the last
# good export wrote, the state file still loads (a second daemon starts from it with
# its counts), no temp file is left, the failure is logged once, and once the fault
# ends the next export replaces both files and says "works again". Last, a SIGTERM
# whose final state write fails exits 1 (systemd shows the unit failed), the old state
# file whole.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/faults.sh"

require_root
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
command -v cc >/dev/null || skip "no C compiler for the fault shim"
cc -shared -fPIC -O2 -o "$TEST_TMP/faultshim.so" "$TOP/tests/lib/faultshim.c" -ldl ||
	fail "cannot build the fault shim"
S=$TEST_TMP/sock
STATE=$TEST_TMP/state
TF=$TEST_TMP/tlsaudit.prom
CTL=$TEST_TMP/fault
LOG=$TEST_TMP/daemon.log
: >"$CTL"
netns_new atomic
storm_start 1 443 120
# ASan wants to be first in the library list; the shim only wraps three calls, which
# ASan does not need to see first.
export ASAN_OPTIONS="verify_asan_link_order=0:${ASAN_OPTIONS:-}"
LD_PRELOAD=$TEST_TMP/faultshim.so TA_FAULT_CTL=$CTL TA_FAULT_MATCH=.tmp \
	daemon_start "$LOG" --ports=443 --state-file="$STATE" --textfile="$TF" \
	--export-interval=1s
unset LD_PRELOAD
sleep 1.5
[ -s "$STATE" ] && [ -s "$TF" ] || fail "no state file or textfile written"

# loads FILE - a second daemon (another socket, no capture of note) starts from a copy
# of FILE: it must load it, with the counts it holds.
loads() {
	local copy=$TEST_TMP/copy s2=$TEST_TMP/sock2 p n i
	cp "$1" "$copy"
	"$TLSAUDIT" daemon --backend pcap --ports=9 --socket="$s2" --state-file="$copy" \
		--textfile=none >"$TEST_TMP/d2.log" 2>&1 &
	p=$!
	for ((i = 0; i < 200; i++)); do
		n=$("$TLSAUDIT" status --json -S "$s2" 2>/dev/null |
			sed -n 's/.*"handshakes":\([0-9]*\).*/\1/p')
		[ -n "$n" ] && break
		sleep 0.02
	done
	kill -TERM "$p"
	wait "$p"
	grep -q "starting fresh" "$TEST_TMP/d2.log" && return 1
	[ "${n:-0}" -gt 0 ]
}

for mode in write short fsync rename; do
	echo "$mode" >"$CTL"
	sleep 1.2 # a write under way when the fault began has ended
	cp "$STATE" "$TEST_TMP/state.before"
	cp "$TF" "$TEST_TMP/tf.before"
	h0=$(status_num handshakes)
	sleep 3
	h1=$(status_num handshakes)
	cmp -s "$STATE" "$TEST_TMP/state.before" || fail "$mode: the state file changed"
	cmp -s "$TF" "$TEST_TMP/tf.before" || fail "$mode: the textfile changed"
	ls "$STATE".tmp* "$TF".tmp* >/dev/null 2>&1 && fail "$mode: temp files left behind"
	loads "$STATE" || fail "$mode: the state file kept does not load: $(cat "$TEST_TMP/d2.log")"
	[ "$h1" -gt "$h0" ] || fail "$mode: capture stopped"
	: >"$CTL"
	for ((i = 0; i < 60; i++)); do
		cmp -s "$STATE" "$TEST_TMP/state.before" || break
		sleep 0.05
	done
	cmp -s "$STATE" "$TEST_TMP/state.before" && fail "$mode: no state write after the fault"
	sleep 1.1
	cmp -s "$TF" "$TEST_TMP/tf.before" && fail "$mode: no textfile after the fault"
	echo "$mode: state file and textfile kept whole and loadable; handshakes $h0 -> $h1"
done
# One line per failure kind, not one per export (each mode failed three times or more).
# (fsync is part of the "write" step.)
for what in "write: No space left" "write: Input/output error" "rename: Input/output error"; do
	n=$(grep -c "state write failed: .*$what" "$LOG")
	[ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "'state write failed ... $what' logged $n times"
done
n=$(grep -c "state write works again" "$LOG")
[ "$n" -ge 3 ] || fail "recoveries of the state write logged $n times"

# The final write fails: exit 1, the old file whole.
echo rename >"$CTL"
sleep 1.2
cp "$STATE" "$TEST_TMP/state.before"
kill -TERM "$DPID"
wait "$DPID"
rc=$?
expect_eq "exit status when the final state write fails" "$rc" 1
cmp -s "$STATE" "$TEST_TMP/state.before" || fail "the state file changed at the failed stop"
loads "$STATE" || fail "the state file does not load after the failed stop"
echo "ok: injected write, short write, fsync and rename failures left the old files whole"

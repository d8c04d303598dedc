#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The daemon's outputs when the file system is against them, as under the unit's sandbox
# (ProtectSystem=strict: /var read-only, the node_exporter directory absent):
#   - a textfile and a handshake log in a directory that does not exist and cannot be
#     made (a read-only mount) are logged once each; the start succeeds, `status` says
#     why the textfile is not written, and SIGTERM exits 0 (the --help contract);
#   - the state file is not optional: when its final write fails, the exit status is 1;
#   - kill -9 during state and textfile writes, again and again: the next start removes
#     the temp files (PATH.tmpXXXXXX) interrupted writes left, and only those; for a
#     deterministic check, temp files as a crash leaves them are added by hand.
source "$(dirname "$0")/../lib/common.sh"

require_root
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
command -v mount >/dev/null || skip "mount not installed"

S=$TEST_TMP/s
RO=$TEST_TMP/ro
STATE_DIR=$TEST_TMP/state
mkdir -p "$RO" "$STATE_DIR"
# A read-only file system is the one thing even root cannot write: no directory mode or
# capability gets past it.
mount -t tmpfs -o ro,size=1m tlsaudit-ro "$RO" || skip "cannot mount a tmpfs here"
on_exit "umount -l $RO"
mount -t tmpfs -o size=4m tlsaudit-state "$STATE_DIR" || skip "cannot mount a tmpfs here"
on_exit "umount -l $STATE_DIR"

# start_daemon LOG [OPTIONS] - a daemon on $S with the pcap backend (no BPF needed for
# outputs), returns once `status` answers; DPID is the daemon.
start_daemon() {
	local log=$1 i
	shift
	"$TLSAUDIT" daemon --backend pcap --ports=9 --socket="$S" --export-interval=1s "$@" \
		>"$log" 2>&1 &
	DPID=$!
	on_exit "kill -9 $DPID"
	daemon_wait_up "$S" "$DPID" "$log"
}

stop_daemon() {
	kill -TERM "$DPID"
	wait "$DPID"
	DRC=$?
}

# --- optional outputs in a directory that cannot exist --------------------------------
TF=$RO/node_exporter/textfile_collector/tlsaudit.prom
HL=$RO/log/tlsaudit/handshakes.json
start_daemon "$TEST_TMP/d1.log" --state-file="$STATE_DIR/state" --textfile="$TF" \
	--handshake-log="$HL"
# Three exports go by: each fails the same way, one line says so.
sleep 3.3
out=$("$TLSAUDIT" status -S "$S") || fail "status"
grep -q "Read-only file system" <<<"$out" ||
	fail "status does not say why the textfile is not written: $out"
kill -HUP "$DPID"
sleep 0.3
stop_daemon
expect_eq "exit status after SIGTERM with an unwritable textfile and log" "$DRC" 0
n=$(grep -c "textfile export failed" "$TEST_TMP/d1.log")
expect_eq "textfile failures logged" "$n" 1
# Once at start; a reload that finds the same failure says nothing new.
n=$(grep -c "handshake log .*running without it" "$TEST_TMP/d1.log")
expect_eq "handshake log failures logged" "$n" 1
grep -q "final state write failed" "$TEST_TMP/d1.log" &&
	fail "the state write failed: $(cat "$TEST_TMP/d1.log")"
[ -s "$STATE_DIR/state" ] || fail "no state file written"

# --- the state file is not optional ----------------------------------------------------
start_daemon "$TEST_TMP/d2.log" --state-file="$STATE_DIR/state" --textfile=none
mount -o remount,ro "$STATE_DIR" || fail "remount read-only"
stop_daemon
mount -o remount,rw "$STATE_DIR"
expect_eq "exit status when the final state write fails" "$DRC" 1
grep -q "final state write failed" "$TEST_TMP/d2.log" ||
	fail "no word of the failed state write: $(cat "$TEST_TMP/d2.log")"

# --- kill -9 during writes -------------------------------------------------------------
TFW=$TEST_TMP/textfile/tlsaudit.prom
mkdir -p "$TEST_TMP/textfile"
# Killed around the first exports (one a second): kill -9 never stops the next start.
for ((k = 0; k < 12; k++)); do
	"$TLSAUDIT" daemon --backend pcap --ports=9 --socket="$S" --export-interval=1s \
		--state-file="$STATE_DIR/state" --textfile="$TFW" >>"$TEST_TMP/kills.log" 2>&1 &
	KPID=$!
	sleep "1.$((RANDOM % 7))$((RANDOM % 10))"
	kill -9 "$KPID" 2>/dev/null
	wait "$KPID" 2>/dev/null
done
# Then temp files as a crash leaves them (the window between mkstemp and rename is short:
# kills at random moments rarely hit it, so they are made by hand), next to files that
# only look alike and must stay.
touch "$STATE_DIR/state.tmpAb3dE9" "$STATE_DIR/state.tmpzzzzzz" "$TFW.tmpQ1w2E3"
touch "$STATE_DIR/state.tmp" "$STATE_DIR/state.tmpAb3dE9x" "$STATE_DIR/other.tmpAb3dE9" \
	"$TFW.tmp12345"
mkdir "$STATE_DIR/state.tmpDIRDIR"
rm -f "$S"
start_daemon "$TEST_TMP/d3.log" --state-file="$STATE_DIR/state" --textfile="$TFW"
left=""
for f in "$STATE_DIR"/state.tmp?????? "$TEST_TMP"/textfile/tlsaudit.prom.tmp??????; do
	[ -f "$f" ] && [ ! -L "$f" ] && left="$left ${f##*/}"
done
expect_eq "temp files left after the restart" "$left" ""
for f in state.tmp state.tmpAb3dE9x other.tmpAb3dE9 state.tmpDIRDIR; do
	[ -e "$STATE_DIR/$f" ] || fail "$f was removed: it is no temp file of the state"
done
[ -e "$TFW.tmp12345" ] || fail "tlsaudit.prom.tmp12345 was removed"
grep -q "state file .*: removed [0-9]* temporary file" "$TEST_TMP/d3.log" ||
	fail "no word of the state temp files removed: $(cat "$TEST_TMP/d3.log")"
grep -q "textfile .*: removed [0-9]* temporary file" "$TEST_TMP/d3.log" ||
	fail "no word of the textfile temp files removed: $(cat "$TEST_TMP/d3.log")"
stop_daemon
expect_eq "exit status after SIGTERM" "$DRC" 0
echo "ok: optional outputs never fail a start or stop, a failed state write does, no temp file survives a restart"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The textfile directory full (a 256 KiB tmpfs filled up) and then read-only (the same
# tmpfs remounted), during a handshake storm with an export every second:
#   - each failure is logged once ("textfile export failed ... No space left on
#     device", then "... Read-only file system"), however many exports fail;
#   - capture goes on: the handshake count grows, the state file (elsewhere) is
#     still written every second;
#   - the old textfile stays as it was, byte for byte, and well formed: what
#     node_exporter reads is the last complete export, never half of one;
#   - no temp file is left in the directory;
#   - when space returns (and the mount is writable again) the next export writes a
#     new textfile, and the log says "textfile export works again".
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/faults.sh"

require_root
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
command -v nsenter >/dev/null || skip "nsenter (util-linux) not installed"
S=$TEST_TMP/sock
DIR=$TEST_TMP/textfile_collector
TF=$DIR/tlsaudit.prom
LOG=$TEST_TMP/daemon.log
mkdir -p "$DIR"
mount -t tmpfs -o size=256k tlsaudit-tf "$DIR" || skip "cannot mount a tmpfs here"
on_exit "umount -l $DIR"
netns_new textfile
storm_start 1 443 120
daemon_start "$LOG" --ports=443 --state-file="$TEST_TMP/state" --textfile="$TF" \
	--export-interval=1s
for ((i = 0; i < 100; i++)); do
	[ -s "$TF" ] && grep -q '^tlsaudit_handshakes_total' "$TF" && break
	sleep 0.05
done
[ -s "$TF" ] || fail "no textfile written"

# well_formed FILE - every line a comment or `name{labels} value`, the last one whole.
well_formed() {
	[ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ] || return 1
	awk '!/^#/ && !/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [0-9.e+-]+$/ { bad = 1 } END { exit bad }' "$1"
}

# stalled WHAT - exports fail for 4 s: the old file must stay, capture must go on.
stalled() {
	local what=$1 before h0 h1 s0 s1
	cp "$TF" "$TEST_TMP/before"
	h0=$(status_num handshakes)
	s0=$(stat -c %Y.%N "$TEST_TMP/state")
	sleep 4
	h1=$(status_num handshakes)
	s1=$(stat -c %Y.%N "$TEST_TMP/state")
	kill -0 "$DPID" || fail "$what: the daemon died"
	cmp -s "$TF" "$TEST_TMP/before" || fail "$what: the textfile changed while exports failed"
	well_formed "$TF" || fail "$what: the old textfile is not well formed"
	[ "$h1" -gt "$h0" ] || fail "$what: capture stopped ($h0 -> $h1 handshakes)"
	[ "$s1" != "$s0" ] || fail "$what: the state file was not written meanwhile"
	ls "$DIR"/*.tmp* >/dev/null 2>&1 && fail "$what: temp files left: $(ls "$DIR")"
	"$TLSAUDIT" status -S "$S" | grep -q "$2" || fail "$what: status does not say '$2'"
	echo "$what: textfile kept ($(wc -c <"$TF") bytes), handshakes $h0 -> $h1"
}

# recovered - a new, well-formed textfile within 3 s, and the log says so.
recovered() {
	local i
	cp "$TF" "$TEST_TMP/before"
	for ((i = 0; i < 60; i++)); do
		cmp -s "$TF" "$TEST_TMP/before" || break
		sleep 0.05
	done
	cmp -s "$TF" "$TEST_TMP/before" && fail "$1: no new textfile after the fault ended"
	well_formed "$TF" || fail "$1: the new textfile is not well formed"
}

# --- full ---------------------------------------------------------------------------
# Leave less room than one textfile (the new file cannot be written whole).
dd if=/dev/zero of="$DIR/filler" bs=4k count=64 2>/dev/null
sleep 1.5
stalled "tmpfs full" "No space left on device"
rm -f "$DIR/filler"
recovered "space back"
sleep 1.2
n=$(grep -c "textfile export failed.*No space left on device" "$LOG")
expect_eq "'No space left' lines in the log" "$n" 1
grep -q "textfile export works again" "$LOG" || fail "recovery not logged"

# --- read-only ----------------------------------------------------------------------
mount -o remount,ro "$DIR" || fail "remount read-only"
sleep 1.5
stalled "read-only" "Read-only file system"
mount -o remount,rw "$DIR" || fail "remount read-write"
recovered "writable again"
sleep 1.2
n=$(grep -c "textfile export failed.*Read-only file system" "$LOG")
expect_eq "'Read-only file system' lines in the log" "$n" 1
expect_eq "recoveries logged" "$(grep -c 'textfile export works again' "$LOG")" 2

storm_stop
kill -TERM "$DPID"
wait "$DPID" || fail "daemon exit $? after SIGTERM"
echo "ok: a full and a read-only textfile directory: logged once each, the old file" \
	"kept whole, capture and state writes on, a new textfile once the fault ended"

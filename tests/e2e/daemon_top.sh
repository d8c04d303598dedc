#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `tlsaudit top` on a real 80x24 terminal (tmux): the header, the failing row (a TLS 1.0
# client refused by a TLS 1.2-only server) and the legacy openssl row in bold ahead of the
# others, and the keys: f (failing only), l (legacy only), s (sort), p (pause), P (policy
# column: cycles the daemon's policies, then none), q (quit).
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/peers.sh"

require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
command -v tmux >/dev/null || skip "tmux not installed (./configure --test-deps)"
command -v openssl >/dev/null || skip "openssl not installed (./configure --test-deps)"
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"

PORT=$((20000 + ($$ + 7) % 20000))
PORT2=$((PORT + 1))
S=$TEST_TMP/s
TMUX_NAME="tlsaudit-top-$$"
export TMUX_TMPDIR=$TEST_TMP

"$TLSAUDIT" daemon --socket="$S" --state-file="$TEST_TMP/state" --textfile=none \
	--ports="$PORT,$PORT2" >"$TEST_TMP/daemon.log" 2>&1 &
DPID=$!
on_exit "kill $DPID"
for ((i = 0; i < 200; i++)); do
	"$TLSAUDIT" status -S "$S" >/dev/null 2>&1 && break
	sleep 0.05
done

netns_new top
peers_tls_server 127.0.0.1 "$PORT" -cipher 'DEFAULT@SECLEVEL=0'
peers_openssl_client 127.0.0.1 "$PORT" -tls1 -cipher 'DEFAULT@SECLEVEL=0'
peers_openssl_client 127.0.0.1 "$PORT"
peers_tls_server 127.0.0.1 "$PORT2" -tls1_2
in_ns timeout 10 openssl s_client -connect "127.0.0.1:$PORT2" -tls1 -cipher 'DEFAULT@SECLEVEL=0' \
	</dev/null >/dev/null 2>&1 && fail "a TLS 1.0 client got through a TLS 1.2-only server"
sleep 0.5

screen() { tmux capture-pane -p -t "$TMUX_NAME"; }
screen_escaped() { tmux capture-pane -e -p -t "$TMUX_NAME"; }
# wait_gone REGEX WHY - until the screen no longer shows REGEX; else fail with WHY.
wait_gone() {
	local i
	for ((i = 0; i < 30; i++)); do
		screen | grep -Eq "$1" || return 0
		sleep 0.1
	done
	fail "$2: $(screen)"
}
# wait_screen REGEX - until the screen shows REGEX.
wait_screen() {
	local i
	for ((i = 0; i < 50; i++)); do
		screen | grep -Eq "$1" && return 0
		sleep 0.1
	done
	screen >&2
	fail "screen never showed: $1"
}

tmux new-session -d -s "$TMUX_NAME" -x 80 -y 24 "$TLSAUDIT top -d 1 -S $S; sleep 30"
on_exit "tmux kill-session -t $TMUX_NAME"
wait_screen "^tlsaudit top - .* backend bpf"
wait_screen "^PROCESS +UNIT +ROL +PORT +1\.0 +1\.1 +1\.2 +1\.3 +FAIL +WEAK +BADC +LIM +SEEN +PEER/SNI"
wait_screen "^openssl +- +cli +$PORT +1 +0 +0 +1 +0 "
wait_screen "^openssl +- +cli +$PORT2 +0 +0 +0 +0 +1 "
wait_screen "^Failed: [1-9]"
# Failing rows lead, then legacy rows, bold (SGR 1); the column header is in reverse
# video (SGR 7).
first=$(screen | grep -E "^openssl +- +(cli|srv) +$PORT2? " | head -n 1)
echo "$first" | grep -Eq " $PORT2 " || fail "first row is not a failing one: $first"
first=$(screen | grep -E "^openssl +- +(cli|srv) +$PORT " | head -n 1)
echo "$first" | grep -Eq " C " || fail "first row of $PORT is not the legacy one: $first"
screen_escaped | grep -Eq $'^(\e\\[[0-9;]*m)*\e\\[([0-9]*;)*1m(\e\\[[0-9;]*m)*openssl +- +(cli|srv) +'"$PORT2" ||
	fail "failing row not bold: $(screen_escaped | cat -v)"
# tmux writes an attribute only where it changes: the legacy rows follow the bold
# failing rows without a sequence of their own when they are bold too.
screen_escaped | sed -En "/openssl +- +(cli|srv) +$PORT2 /,/openssl +- +(cli|srv) +$PORT .* C /p" |
	tail -n +2 | grep -q $'\e' && fail "legacy row not bold: $(screen_escaped | cat -v)"
screen_escaped | grep -Eq $'\e\\[([0-9]*;)*7m(\e\\[[0-9;]*m)*PROCESS' ||
	fail "header not in reverse video: $(screen_escaped | cat -v)"
[ "$(screen | awk 'length > 80' | wc -l)" -eq 0 ] || fail "screen wider than 80 columns"

tmux send-keys -t "$TMUX_NAME" f
wait_screen "sort handshakes, failing only"
wait_gone "^openssl +- +cli +$PORT " "f still shows a row without failures"
screen | grep -Eq "^openssl +- +cli +$PORT2 " || fail "f hides the failing row: $(screen)"
tmux send-keys -t "$TMUX_NAME" f
wait_screen "^openssl +- +cli +$PORT "
tmux send-keys -t "$TMUX_NAME" l
wait_screen "sort handshakes, legacy only"
tmux send-keys -t "$TMUX_NAME" s
wait_screen "sort recent"
tmux send-keys -t "$TMUX_NAME" s
wait_screen "sort name"
# P: the daemon judges tls12 only (the default): its column, then none again.
tmux send-keys -t "$TMUX_NAME" P
# At 80 columns the column's room comes out of the process name ("op~").
wait_screen "^PROCESS .* SEEN tls12 "
wait_screen "^op[^ ]* +- +cli +$PORT +1 +0 +0 +1 .* FAIL c ver "
[ "$(screen | awk 'length > 80' | wc -l)" -eq 0 ] || fail "policy column: wider than 80 columns"
tmux send-keys -t "$TMUX_NAME" P
wait_gone "SEEN tls12" "P did not cycle back to no policy"
tmux send-keys -t "$TMUX_NAME" p
wait_screen "\[PAUSED\]"
tmux send-keys -t "$TMUX_NAME" p
wait_gone "PAUSED" "p did not resume"
tmux send-keys -t "$TMUX_NAME" q
# After q the pane is back at the shell's normal screen: the header is gone.
wait_gone "^tlsaudit top" "q did not quit"
pgrep -f "^$TLSAUDIT top -d 1 -S $S" >/dev/null && fail "top still running after q"
echo "ok"

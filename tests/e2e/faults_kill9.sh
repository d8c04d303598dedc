#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# kill -9 of the daemon at random moments during a handshake storm, KILL9_RUNS times
# (default 100), with a 1 s export interval: the state file is written every second,
# so a kill lands before, during and after writes. After every kill the next start must
# load the state file (never move it aside as corrupt, never start from zero), and its
# counts must not go back by more than one export interval's worth of handshakes (what
# the killed daemon counted since its last write). At the end no temp file of an
# interrupted write is left, and a clean stop keeps every count.
#
# The storm: two `openssl s_time -new` loops against an s_server in a network namespace;
# the daemon watches it with libpcap inside the namespace (up in 0.1 s, so 100 runs take
# about 90 s; the state path is the same as with eBPF).
# timeout: 600
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/faults.sh"

require_root
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
command -v nsenter >/dev/null || skip "nsenter (util-linux) not installed"
RUNS=${KILL9_RUNS:-100}
S=$TEST_TMP/sock
STATE=$TEST_TMP/state
LOG=$TEST_TMP/daemon.log
netns_new kill9
storm_start 2 443 600

last=0 max_loss=0 max_loss_ms=0 saves_hit=0 zero_runs=0
t_start=$SECONDS
for ((run = 1; run <= RUNS; run++)); do
	daemon_start "$LOG" --ports=443 --state-file="$STATE" --textfile="$TEST_TMP/t.prom" \
		--export-interval=1s
	t0=$(date +%s%N)
	h0=$(status_num handshakes)
	[ -n "$h0" ] || fail "run $run: no status"
	# What the state file had must be back (less what the last interval had not saved).
	if [ "$h0" -lt "$last" ]; then
		loss=$((last - h0))
		[ "$loss" -gt "$max_loss" ] && max_loss=$loss
		# The loss in time: handshakes lost at the rate the killed daemon saw.
		ms=$((loss * prev_ms / (prev_n > 0 ? prev_n : 1)))
		[ "$ms" -gt "$max_loss_ms" ] && max_loss_ms=$ms
		# One interval (1 s), plus the time between our last status and the kill.
		[ "$ms" -le 1500 ] ||
			fail "run $run: counts went back by $loss handshakes (about $ms ms of storm;" \
				"before the kill $last, after the start $h0)"
	fi
	# 50 ms to 1.25 s: kills before the first write, during writes and after them.
	sleep "$(printf '0.%03d' $((50 + RANDOM % 950)))"
	[ $((RANDOM % 4)) -eq 0 ] && sleep 0.25
	h1=$(status_num handshakes)
	t1=$(date +%s%N)
	[ -n "$h1" ] || fail "run $run: no status before the kill"
	[ "$h1" -gt "$h0" ] || zero_runs=$((zero_runs + 1))
	kill -9 "$DPID"
	wait "$DPID" 2>/dev/null
	ls "$STATE".tmp* >/dev/null 2>&1 && saves_hit=$((saves_hit + 1))
	prev_n=$((h1 - h0))
	prev_ms=$(((t1 - t0) / 1000000))
	last=$h1
done
elapsed=$((SECONDS - t_start))
grep -i "starting fresh\|state file .*: .*\(checksum\|truncated\|implausible\|bad \)" "$LOG" &&
	fail "a state file did not load (above)"
ls "$STATE".corrupt-* >/dev/null 2>&1 && fail "a state file was moved aside as corrupt"
[ "$zero_runs" -lt $((RUNS / 2)) ] || fail "$zero_runs of $RUNS runs saw no handshake: no storm?"

# A last start: the temp files of interrupted writes go, a clean stop keeps every count.
daemon_start "$LOG" --ports=443 --state-file="$STATE" --textfile=none --export-interval=1s
h0=$(status_num handshakes)
ls "$STATE".tmp* >/dev/null 2>&1 && fail "temp files left after a start: $(ls "$STATE".tmp*)"
storm_stop
sleep 1.5
h1=$(status_num handshakes)
kill -TERM "$DPID"
wait "$DPID" || fail "daemon exit $? after SIGTERM"
daemon_start "$LOG" --ports=443 --state-file="$STATE" --textfile=none --export-interval=1s
h2=$(status_num handshakes)
kill -TERM "$DPID"
wait "$DPID"
expect_eq "handshakes after a clean stop and start" "$h2" "$h1"
echo "kill -9: $RUNS runs in ${elapsed}s, $h1 handshakes counted; the state file loaded" \
	"every time; kills that left a temp file (a write interrupted): $saves_hit;" \
	"largest loss $max_loss handshakes (about $max_loss_ms ms of storm, export every 1 s)"

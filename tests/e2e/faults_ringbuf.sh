#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The eBPF ring buffer made tiny (TLSAUDIT_RINGBUF_BYTES=4096, one page instead of
# 8 MiB) under a handshake storm: events are lost, and the loss is never silent. The
# drops show in `status` and in tlsaudit_capture_drops_total{backend="bpf",reason=...}
# of the textfile, the daemon survives (it still answers, still counts the handshakes
# whose events got through, still exports every second) and exits 0 on SIGTERM. A
# knob that is not a power of two is refused with a warning and the default kept.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/faults.sh"

require_root
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF: the BPF backend cannot load"
S=$TEST_TMP/sock
TF=$TEST_TMP/tlsaudit.prom
LOG=$TEST_TMP/daemon.log
netns_new ringbuf
PORT=$((20000 + $$ % 10000))
storm_start 2 "$PORT" 120

# bpf_daemon ARGS... - the daemon with the eBPF backend (it sees every namespace).
bpf_daemon() {
	"$TLSAUDIT" daemon --backend bpf --ports="$PORT" --socket="$S" \
		--state-file="$TEST_TMP/state" --textfile="$TF" --export-interval=1s "$@" \
		>>"$LOG" 2>&1 &
	DPID=$!
	on_exit "kill -9 $DPID"
	daemon_wait_up "$S" "$DPID" "$LOG"
}

# A size the kernel would refuse: logged, the default kept, the daemon runs.
TLSAUDIT_RINGBUF_BYTES=5000 bpf_daemon
grep -q "TLSAUDIT_RINGBUF_BYTES=5000: not a power of two" "$LOG" ||
	fail "a bad TLSAUDIT_RINGBUF_BYTES was not refused: $(cat "$LOG")"
kill -TERM "$DPID"
wait "$DPID" || fail "exit $? after SIGTERM"

TLSAUDIT_RINGBUF_BYTES=4096 bpf_daemon
grep -q "ring buffer of 4096 bytes" "$LOG" || fail "the knob was not applied: $(cat "$LOG")"
sleep 8
kill -0 "$DPID" || fail "the daemon died under the storm: $(tail -n 20 "$LOG")"
drops=$(status_num ringbuf_drops)
hs=$(status_num handshakes)
events=$(status_num events)
[ "${drops:-0}" -gt 0 ] || fail "no ring buffer drops counted with a 4 KiB ring buffer"
[ "${events:-0}" -gt 0 ] || fail "no event got through at all"
# The textfile says so too, by reason, and is at most a couple of seconds old.
sleep 1.2
[ -s "$TF" ] || fail "no textfile written"
age=$(($(date +%s) - $(stat -c %Y "$TF")))
[ "$age" -le 3 ] || fail "the textfile is ${age}s old: exports stopped"
sum=$(awk '/^tlsaudit_capture_drops_total\{backend="bpf",reason="ringbuf_/ { s += $2 } END { print s + 0 }' "$TF")
[ "$sum" -gt 0 ] || fail "tlsaudit_capture_drops_total shows no ring buffer drop: $(grep drops "$TF")"
grep '^tlsaudit_capture_drops_total' "$TF"
storm_stop
kill -TERM "$DPID"
wait "$DPID" || fail "exit $? after SIGTERM"
echo "ring buffer of 4 KiB under a storm: $events events in, $drops dropped and exported" \
	"($sum in the textfile), $hs handshakes counted; the daemon stayed up and exited 0"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Stopping under load: `watch --json` and the daemon, each during a handshake storm
# while two CPU burners load the machine (the case where `watch --json` missed a 5 s
# stop deadline and lost all its output), get SIGINT or SIGTERM and must
#   - exit within a second, with status 0;
#   - have written every record they already had: watch's output is whole JSON lines,
#     its last record at most a second older than the signal; the daemon's handshake
#     log holds at least the records `status` counted before the signal, and the state
#     file it wrote on the way out holds at least those handshakes.
# STOP_RUNS (default 3) stops of each; the slowest stop is printed.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/faults.sh"

require_root
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF: the BPF backend cannot load"
RUNS=${STOP_RUNS:-3}
S=$TEST_TMP/sock
netns_new stop
PORT=$((20000 + $$ % 10000))
storm_start 3 "$PORT" 180
# Another process's load: two busy loops, as many as this machine's CPUs in CI.
for i in 1 2; do
	setsid bash -c 'end=$((SECONDS + 180)); while [ $SECONDS -lt $end ]; do :; done' \
		</dev/null >/dev/null 2>&1 &
	on_exit "kill -- -$!"
done

now_ms() { echo $(($(date +%s%N) / 1000000)); }
slowest=0

# stopped PID SIG WHAT - send SIG, wait for the exit; fails past 1 s or on a bad status.
stopped() {
	local pid=$1 t0 t1 rc i
	t0=$(now_ms)
	kill "-$2" "$pid"
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	t1=$(now_ms)
	kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; fail "$3: still running 3 s after SIG$2"; }
	wait "$pid"
	rc=$?
	STOP_MS=$((t1 - t0))
	[ "$STOP_MS" -gt "$slowest" ] && slowest=$STOP_MS
	[ "$rc" -eq 0 ] || fail "$3: exit status $rc after SIG$2"
	[ "$STOP_MS" -le 1000 ] || fail "$3: took ${STOP_MS} ms to stop after SIG$2"
}

# --- watch --json ---------------------------------------------------------------------
for ((run = 1; run <= RUNS; run++)); do
	out=$TEST_TMP/watch.$run
	"$TLSAUDIT" watch --json --backend bpf --ports="$PORT" >"$out" 2>"$TEST_TMP/watch.err" &
	W=$!
	on_exit "kill -9 $W"
	wait_line "$TEST_TMP/watch.err" "capturing with" "$W" || fail "watch did not start"
	sleep 3
	sig=INT
	[ $((run % 2)) -eq 0 ] && sig=TERM
	t_sig=$(date +%s.%N)
	stopped "$W" "$sig" "watch --json"
	n=$(wc -l <"$out")
	[ "$n" -gt 0 ] || fail "watch wrote nothing in 3 s of storm"
	python3 - "$out" "$t_sig" <<'EOF' || fail "watch's output (above)"
import datetime, json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
if lines[-1] != b"":
    sys.exit("the last line is cut: %r" % lines[-1][-80:])
last = 0.0
for l in lines[:-1]:
    r = json.loads(l)
    t = datetime.datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    last = max(last, t.replace(tzinfo=datetime.timezone.utc).timestamp())
lag = float(sys.argv[2]) - last
if lag > 1.5:
    sys.exit("the newest record is %.1f s older than the signal: records held back" % lag)
EOF
	echo "watch run $run: SIG$sig, stopped in ${STOP_MS} ms, $n records written"
done

# --- the daemon -------------------------------------------------------------------------
for ((run = 1; run <= RUNS; run++)); do
	hl=$TEST_TMP/hs.$run.json
	"$TLSAUDIT" daemon --backend bpf --ports="$PORT" --socket="$S" \
		--state-file="$TEST_TMP/state.$run" --textfile=none --export-interval=1s \
		--handshake-log="$hl" >"$TEST_TMP/daemon.log" 2>&1 &
	D=$!
	on_exit "kill -9 $D"
	for ((i = 0; i < 300; i++)); do
		"$TLSAUDIT" status -S "$S" >/dev/null 2>&1 && break
		sleep 0.02
	done
	sleep 3
	records=$(status_num records)
	hs=$(status_num handshakes)
	[ "${hs:-0}" -gt 0 ] || fail "the daemon counted nothing in 3 s of storm"
	stopped "$D" TERM "daemon"
	logged=$(wc -l <"$hl")
	[ "$logged" -ge "$records" ] ||
		fail "the handshake log has $logged records, status said $records before SIGTERM"
	tail -c 1 "$hl" | od -An -c | grep -q '\\n' || fail "the handshake log's last line is cut"
	# The state file written on the way out: a daemon started on it shows its counts.
	DPID=
	"$TLSAUDIT" daemon --backend pcap --ports=9 --socket="$S.2" \
		--state-file="$TEST_TMP/state.$run" --textfile=none >"$TEST_TMP/d2.log" 2>&1 &
	D2=$!
	for ((i = 0; i < 300; i++)); do
		saved=$("$TLSAUDIT" status --json -S "$S.2" 2>/dev/null |
			sed -n 's/.*"handshakes":\([0-9]*\).*/\1/p')
		[ -n "$saved" ] && break
		sleep 0.02
	done
	kill -TERM "$D2"
	wait "$D2"
	[ "${saved:-0}" -ge "$hs" ] ||
		fail "the state file holds ${saved:-no} handshakes, status said $hs before SIGTERM"
	echo "daemon run $run: stopped in ${STOP_MS} ms; $records records before, $logged logged;" \
		"$hs handshakes before, $saved in the state file"
done
echo "slowest stop under a storm and CPU load: ${slowest} ms"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Overhead of `tlsaudit watch` (eBPF backend) on a busy TLS host, measured in a private
# network namespace:
#   storm  CLIENTS parallel `openssl s_time -new` against one s_server on 127.0.0.1:443
#          for SECS seconds: handshake rate with and without watch, alternating ROUNDS
#          times, and how many of those handshakes watch reported (both local ends each).
#   bulk   BULK_MB of data over one established TLS connection on 127.0.0.2:443:
#          throughput with and without watch.
#   cost   tlsaudit CPU seconds per 1000 handshakes, next to
#          `tshark -i lo -f 'tcp port 443' -Y tls.handshake` on the same storm, and the
#          BPF programs' own run time (kernel.bpf_stats_enabled).
#
# Usage: bench/live.sh [ROUNDS] [SECS] [CLIENTS] [BULK_MB]   (defaults 3 5 2 1024)
# Goals: handshake-rate ratio >= 0.97, bulk ratio >= 0.99, every handshake reported,
# zero ring-buffer drops.
source "$(dirname "$0")/../tests/lib/common.sh"
source "$(dirname "$0")/../tests/lib/watch.sh"
source "$(dirname "$0")/storm.sh"

ROUNDS=${1:-3}
SECS=${2:-5}
CLIENTS=${3:-2}
BULK_MB=${4:-1024}

require_root
for t in openssl socat tshark bpftool; do
	command -v "$t" >/dev/null || skip "$t not installed (./configure --test-deps)"
done
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
netns_new bench
storm_server
KEY=$TEST_TMP/server.key
CRT=$TEST_TMP/server.crt
ip netns exec "$NS" socat -b 262144 "OPENSSL-LISTEN:443,bind=127.0.0.2,reuseaddr,fork,cert=$CRT,key=$KEY,verify=0" \
	"SYSTEM:head -c $((BULK_MB << 20)) /dev/zero" </dev/null >/dev/null 2>&1 &
on_exit "kill $!"
for ((i = 0; i < 200; i++)); do
	ip netns exec "$NS" ss -Htln "src 127.0.0.2:443" | grep -q . && break
	sleep 0.025
done

# bulk - seconds to read BULK_MB over one TLS connection.
bulk() {
	local t0 t1
	t0=$(date +%s.%N)
	ip netns exec "$NS" socat -b 262144 -u OPENSSL:127.0.0.2:443,verify=0 - | wc -c >"$TEST_TMP/bulk.bytes"
	t1=$(date +%s.%N)
	[ "$(cat "$TEST_TMP/bulk.bytes")" -eq $((BULK_MB << 20)) ] || fail "bulk: short transfer"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Program ids of tlsaudit_* programs loaded by others (bpftool here may not list owner pids).
prog_ids() {
	bpftool prog show -j | $PY -c '
import json, sys
print(" ".join(str(p["id"]) for p in json.load(sys.stdin) if p.get("name", "").startswith("tlsaudit_")))'
}

# A new watch per round, each with its own files (tests/lib/watch.sh): waiting on a file an
# earlier round already wrote "capturing" to would start the storm before the capture.
bench_watch_start() {
	PROGS_BEFORE=$(prog_ids)
	watch_start -v
}

watch_stop() {
	sleep 0.5
	kill -INT "$WATCH_PID"
	wait "$WATCH_PID"
}

records() {
	$PY -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["server_ip"] == sys.argv[2] and r["server_port"] == 443 and r["role"] == sys.argv[3]:
        n += 1
print(n)' "$WATCH_OUT" "$1" "$2"
}

# record_gaps - where in the storm records are missing: its first and last record and
# the longest pause between records, in seconds from the storm's start.
record_gaps() {
	$PY -c '
import datetime, json, sys
t0, t1 = float(sys.argv[2]), float(sys.argv[3])
ts = sorted(datetime.datetime.strptime(json.loads(l)["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
            .replace(tzinfo=datetime.timezone.utc).timestamp() - t0
            for l in open(sys.argv[1]) if "\"server_ip\":\"127.0.0.1\"" in l)
gap, at = max(((b - a, a) for a, b in zip(ts, ts[1:])), default=(0, 0))
print("    storm %.3fs; records from %+.3fs to %+.3fs; longest pause %.3fs at %+.3fs"
      % (t1 - t0, ts[0] if ts else 0, ts[-1] if ts else 0, gap, at))' \
		"$WATCH_OUT" "$STORM_T0" "$STORM_T1"
	tail -n 1 "$WATCH_ERR" | sed 's/^/    /'
}

HZ=$(getconf CLK_TCK)
# BPF run-time accounting costs two clock reads per program run: it is on only for the
# storm that measures it, so the pairs see the programs as deployed.
on_exit "sysctl -q -w kernel.bpf_stats_enabled=0"

hs_off=0 hs_on=0 t_off=0 t_on=0 rec_cli=0 rec_srv=0 drops=0 cpu_on=0 bpf_ns=0
hs_ratios=() bulk_ratios=()

run_without() {
	read -r N_OFF T_OFF < <(storm "$CLIENTS" "$SECS")
	B_OFF=$(bulk)
	hs_off=$((hs_off + N_OFF))
	t_off=$(awk -v a="$t_off" -v b="$T_OFF" 'BEGIN { print a + b }')
	printf '  round %d without watch: %6d handshakes in %.2fs (%.0f/s), bulk %.3fs\n' \
		"$r" "$N_OFF" "$T_OFF" "$(awk -v n="$N_OFF" -v t="$T_OFF" 'BEGIN { print n / t }')" "$B_OFF"
}

run_with() {
	local c0 c1 ns c s d
	bench_watch_start
	c0=$(cpu_ticks "$WATCH_PID")
	STORM_T0=$(date +%s.%N)
	read -r N_ON T_ON < <(storm "$CLIENTS" "$SECS")
	STORM_T1=$(date +%s.%N)
	c1=$(cpu_ticks "$WATCH_PID")
	hs_on=$((hs_on + N_ON))
	t_on=$(awk -v a="$t_on" -v b="$T_ON" 'BEGIN { print a + b }')
	cpu_on=$((cpu_on + c1 - c0))
	B_ON=$(bulk)
	watch_stop
	c=$(records 127.0.0.1 client)
	s=$(records 127.0.0.1 server)
	rec_cli=$((rec_cli + c))
	rec_srv=$((rec_srv + s))
	d=$(sed -n 's/.* \([0-9]\+\) dropped samples.*/\1/p' "$WATCH_ERR")
	drops=$((drops + ${d:-0}))
	printf '  round %d with watch:    %6d handshakes in %.2fs (%.0f/s), bulk %.3fs, records client %d server %d, drops %s\n' \
		"$r" "$N_ON" "$T_ON" "$(awk -v n="$N_ON" -v t="$T_ON" 'BEGIN { print n / t }')" "$B_ON" \
		"$c" "$s" "${d:-?}"
	((c == N_ON && s == N_ON)) || record_gaps
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Warm-up: the first storm after the server starts is slower than the rest.
storm "$CLIENTS" 1 >/dev/null
echo "storm: $ROUNDS rounds x ${SECS}s, $CLIENTS s_time clients; bulk: $BULK_MB MiB"
# Each round is a pair run back to back, in alternating order, so both halves see the
# same background load; the medians of the pair ratios are the figures to read.
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then
		run_without
		run_with
	else
		run_with
		run_without
	fi
	hs_ratios+=("$(awk -v a="$N_ON" -v ta="$T_ON" -v b="$N_OFF" -v tb="$T_OFF" \
		'BEGIN { printf "%.4f\n", (a / ta) / (b / tb) }')")
	bulk_ratios+=("$(awk -v a="$B_OFF" -v b="$B_ON" 'BEGIN { printf "%.4f\n", a / b }')")
done

# The BPF programs' run time on one more storm with a watch. Run-time accounting costs two
# clock reads per program run, so it stays off during the pairs above.
bench_watch_start
sysctl -q -w kernel.bpf_stats_enabled=1
read -r n_bpf _ < <(storm "$CLIENTS" "$SECS")
sysctl -q -w kernel.bpf_stats_enabled=0
bpf_ns=$(bpftool prog show -j | $PY -c '
import json, sys
before = set(sys.argv[1].split())
print(sum(p.get("run_time_ns", 0) for p in json.load(sys.stdin)
          if p.get("name", "").startswith("tlsaudit_") and str(p["id"]) not in before))' \
	"$PROGS_BEFORE")
watch_stop

# tshark on one storm of the same shape (its dumpcap child included in the CPU time).
TIMEFORMAT='%U %S'
{ time ip netns exec "$NS" tshark -i lo -f 'tcp port 443' -Y tls.handshake -a "duration:$((SECS + 2))" \
	>"$TEST_TMP/tshark.out" 2>/dev/null; } 2>"$TEST_TMP/tshark.time" &
tshark_job=$!
sleep 1.5
read -r n_ts _ < <(storm "$CLIENTS" "$SECS")
wait "$tshark_job"
ts_cpu=$(awk '{ print $1 + $2 }' "$TEST_TMP/tshark.time")

echo
echo "handshakes: $hs_off without watch, $hs_on with watch"
echo "records: client $rec_cli, server $rec_srv of $hs_on handshakes; ring-buffer drops $drops"
hs_med=$(median "${hs_ratios[@]}")
bulk_med=$(median "${bulk_ratios[@]}")
echo "$hs_on $hs_off $hs_med $bulk_med $cpu_on $HZ $bpf_ns $n_ts $ts_cpu $t_on $t_off $n_bpf" | awk '{
	printf "handshake rate: %.0f/s without watch, %.0f/s with watch\n", $2 / $11, $1 / $10
	printf "handshake-rate ratio (with/without): median of rounds %.3f, overall %.3f (goal >= 0.97)\n", \
		$3, ($1 / $10) / ($2 / $11)
	printf "bulk throughput ratio (with/without): median of rounds %.3f (goal >= 0.99)\n", $4
	printf "tlsaudit CPU: %.3f s per 1000 handshakes (user+sys of the watch process)\n", \
		($5 / $6) / ($1 / 1000)
	printf "BPF programs: %.3f s per 1000 handshakes (kernel.bpf_stats run time, own storm)\n", \
		($7 / 1e9) / ($12 / 1000)
	printf "tshark -Y tls.handshake: %.3f s per 1000 handshakes (%d handshakes)\n", \
		$9 / ($8 / 1000), $8
}'

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A/B of one change against a handshake storm: PAIRS short storms (two `openssl s_time
# -new` clients against one s_server in a private namespace) with and without ON_CMD in
# effect, alternating which half goes first, and the ratio of handshake rates per pair.
# Short storms in many pairs drift less than long ones on a noisy VM; bench/live.sh gives
# the full picture, this one isolates a single cause.
#
# Usage: bench/storm-ab.sh PAIRS SECS ON_CMD OFF_CMD
#   ON_CMD and OFF_CMD are evaluated by this shell (eval), so they can share variables:
#   bench/storm-ab.sh 8 1 'build/tlsaudit watch --json >/dev/null 2>$TEST_TMP/w.err & W=$!
#       until grep -q capturing $TEST_TMP/w.err; do sleep 0.05; done' \
#       'kill -INT $W; wait $W; rm $TEST_TMP/w.err'
# Prints the per-pair ratios of handshake rates (with/without) and their median.
source "$(dirname "$0")/../tests/lib/common.sh"

[ $# -eq 4 ] || { sed -n '3,16p' "$0" >&2; exit 2; }
PAIRS=$1
SECS=$2
ON_CMD=$3
OFF_CMD=$4

require_root
command -v openssl >/dev/null || skip "openssl not installed"
netns_new ab
make_cert "$TEST_TMP"
ip netns exec "$NS" openssl s_server -accept 127.0.0.1:443 -key "$TEST_TMP/server.key" \
	-cert "$TEST_TMP/server.crt" -quiet </dev/null >/dev/null 2>&1 &
on_exit "kill $!"
wait_port 443

# storm - handshakes per wall-clock second of two s_time clients. s_time runs until the
# second boundary after SECS has passed and reports whole seconds, so its counts alone
# would compare storms of different lengths.
storm() {
	local pids="" i t0 t1
	t0=$(date +%s.%N)
	for i in 1 2; do
		ip netns exec "$NS" openssl s_time -connect 127.0.0.1:443 -new -time "$SECS" \
			>"$TEST_TMP/s_time.$i" 2>&1 &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086 # a list of pids
	wait $pids
	t1=$(date +%s.%N)
	sed -n 's/^\([0-9]\+\) connections in [0-9]\+ real seconds.*/\1/p' "$TEST_TMP"/s_time.* |
		awk -v t="$t1" -v t0="$t0" '{ s += $1 } END { printf "%.1f\n", s / (t - t0) }'
}

storm >/dev/null # warm-up
ratios=()
for ((r = 1; r <= PAIRS; r++)); do
	if ((r % 2)); then
		off=$(storm)
		eval "$ON_CMD"
		on=$(storm)
		eval "$OFF_CMD"
	else
		eval "$ON_CMD"
		on=$(storm)
		eval "$OFF_CMD"
		off=$(storm)
	fi
	awk -v o="$off" 'BEGIN { exit !(o > 0) }' || fail "the storm made no handshakes"
	ratios+=("$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')")
done
printf 'ratios %s; median %s\n' "${ratios[*]}" "$(printf '%s\n' "${ratios[@]}" | sort -g |
	awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"

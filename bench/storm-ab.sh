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
source "$(dirname "$0")/storm.sh"

[ $# -eq 4 ] || { sed -n '3,16p' "$0" >&2; exit 2; }
PAIRS=$1
SECS=$2
ON_CMD=$3
OFF_CMD=$4

require_root
command -v openssl >/dev/null || skip "openssl not installed"
netns_new ab
storm_server

# rate - handshakes per wall-clock second of a storm of two clients.
rate() {
	storm 2 "$SECS" | awk '{ printf "%.1f\n", $1 / $2 }'
}

storm 2 1 >/dev/null # warm-up
ratios=()
for ((r = 1; r <= PAIRS; r++)); do
	if ((r % 2)); then
		off=$(rate)
		eval "$ON_CMD"
		on=$(rate)
		eval "$OFF_CMD"
	else
		eval "$ON_CMD"
		on=$(rate)
		eval "$OFF_CMD"
		off=$(rate)
	fi
	awk -v o="$off" 'BEGIN { exit !(o > 0) }' || fail "the storm made no handshakes"
	ratios+=("$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')")
done
printf 'ratios %s; median %s\n' "${ratios[*]}" "$(printf '%s\n' "${ratios[@]}" | sort -g |
	awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"

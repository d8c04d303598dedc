# SPDX-License-Identifier: GPL-2.0-only
#
# The handshake storm bench/live.sh and bench/storm-ab.sh share; source after
# tests/lib/common.sh, once netns_new has set NS:
#   storm_server [ec]     one `openssl s_server` on STORM_ADDR:STORM_PORT (default
#                         127.0.0.1:443) in the namespace; with
#                         ec its certificate has an ECDSA P-256 key (cheaper handshakes:
#                         the worst case for an observer's share), else RSA-2048
#   storm CLIENTS SECS    CLIENTS `openssl s_time -new` runs in parallel; prints the
#                         handshakes completed and the wall-clock seconds they took

storm_server() {
	if [ "${1:-}" = ec ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj /CN=tlsaudit.test -keyout "$TEST_TMP/server.key" \
			-out "$TEST_TMP/server.crt" >/dev/null 2>&1 || fail "openssl: no EC certificate"
	else
		make_cert "$TEST_TMP"
	fi
	ip netns exec "$NS" openssl s_server -accept "$STORM_ADDR:$STORM_PORT" \
		-key "$TEST_TMP/server.key" -cert "$TEST_TMP/server.crt" -quiet </dev/null >/dev/null 2>&1 &
	on_exit "kill $!"
	wait_port "$STORM_PORT"
}

STORM_ADDR=${STORM_ADDR:-127.0.0.1}
STORM_PORT=${STORM_PORT:-443}

# s_time's own "real seconds" are whole seconds, and a run lasts until the second
# boundary after -time has passed (5 to 6 s for -time 5): its counts alone would compare
# storms of different lengths, so the wall clock times them.
storm() {
	local clients=$1 secs=$2 i n total=0 t0 t1 pids=""
	t0=$(date +%s.%N)
	for ((i = 0; i < clients; i++)); do
		ip netns exec "$NS" openssl s_time -connect "$STORM_ADDR:$STORM_PORT" -new -time "$secs" \
			>"$TEST_TMP/s_time.$i" 2>&1 &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086 # a list of pids
	wait $pids
	t1=$(date +%s.%N)
	for ((i = 0; i < clients; i++)); do
		n=$(sed -n 's/^\([0-9]\+\) connections in [0-9.]\+ real seconds.*/\1/p' \
			"$TEST_TMP/s_time.$i" | head -n 1)
		[ -n "$n" ] || { cat "$TEST_TMP/s_time.$i" >&2; fail "s_time gave no count"; }
		total=$((total + n))
	done
	echo "$total $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
}

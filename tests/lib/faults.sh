# SPDX-License-Identifier: GPL-2.0-only
# Helpers of the fault and load tests (source after common.sh, once netns_new has set NS):
#   storm_start CLIENTS [PORT]  an openssl s_server on 127.0.0.1:PORT (443) in the namespace
#                               and CLIENTS `openssl s_time -new` loops against it, in the
#                               background until the test ends: cheap full handshakes
#   storm_stop                  stop the clients (the server stays)
#   daemon_start LOG ARGS...    tlsaudit daemon in the namespace (libpcap on its loopback:
#                               up in 0.1 s), on socket $S; returns once status answers;
#                               DPID is the daemon itself (nsenter execs it)
#   status_num FIELD            a number from `status --json` (empty when no answer)
#   rss_kb PID / fds PID        resident set and open fds of a process

STORM_PIDS=()

storm_start() {
	local clients=$1 port=${2:-443} max=${3:-900} i
	make_cert "$TEST_TMP"
	ip netns exec "$NS" openssl s_server -accept "127.0.0.1:$port" -naccept 100000000 \
		-key "$TEST_TMP/server.key" -cert "$TEST_TMP/server.crt" -quiet \
		</dev/null >/dev/null 2>&1 &
	on_exit "kill $!"
	wait_port "$port"
	for ((i = 0; i < clients; i++)); do
		# s_time stops after -time seconds: loop it, in a process group of its own so
		# storm_stop ends loop and client at once; never past $max seconds, should the
		# test be killed before its cleanup runs.
		setsid bash -c 'end=$((SECONDS + $3))
			while [ $SECONDS -lt $end ]; do
				nsenter --net="/run/netns/$1" openssl s_time -new -time 10 \
					-connect "127.0.0.1:$2" >/dev/null 2>&1 || sleep 0.1
			done' storm "$NS" "$port" "$max" </dev/null >/dev/null 2>&1 &
		STORM_PIDS+=($!)
		on_exit "kill -- -${STORM_PIDS[-1]}"
	done
}

storm_stop() {
	local p
	for p in "${STORM_PIDS[@]}"; do
		kill -- "-$p" 2>/dev/null
	done
	STORM_PIDS=()
}

daemon_start() {
	local log=$1 i
	shift
	nsenter --net="/run/netns/$NS" "$TLSAUDIT" daemon --backend pcap --socket="$S" "$@" \
		>>"$log" 2>&1 &
	DPID=$!
	on_exit "kill -9 $DPID"
	daemon_wait_up "$S" "$DPID" "$log"
}

status_num() {
	"$TLSAUDIT" status --json -S "$S" 2>/dev/null |
		sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The daemon's overhead on what hosts really run, in a private network namespace.
#
#   bench/daemon.sh [-p PAIRS] [-s SECS] [-b BULK_MB] [-f FLOWS] [PHASE...]
#
# Phases (default: mix storm unwatched flows):
#   mix        a realistic workload, PAIRS times with and without `tlsaudit daemon`
#              (alternating which half goes first): two loops of short-lived clients (a
#              new curl process per request) against a forking server (socat fork: a
#              child and a shell per connection), SMTP STARTTLS sessions (python smtplib,
#              a process per mail, against tests/lib/smtp_server.py), failed handshakes (a
#              TLS 1.0 client against a TLS 1.2-only server), a bulk TLS transfer on a
#              watched port and a plain one on an unwatched port (8080). The daemon
#              watches 8443 and 587, where the servers listen: other tests on the host
#              use 443 and 25, and the daemon sees every namespace
#   storm      the cheap-handshake storm of bench/storm.sh (two `openssl s_time -new`
#              against one s_server, ECDSA P-256), PAIRS times with and without
#   unwatched  the BPF programs' nanoseconds per run during a bulk transfer on an
#              unwatched port (every packet of every socket on the host passes them)
#   flows      the daemon's RSS with FLOWS concurrent watched flows (FLOWS / 2
#              connections on loopback: each end is a socket, so a flow, of its own) that
#              send a ClientHello and wait
#
# For mix and storm it prints the handshake-rate ratio (with / without: median of the
# pairs, and their spread), every handshake against the daemon's records (each local
# end), ring-buffer drops and flow evictions, and tlsaudit's CPU: the daemon's user +
# system time (its own cgroup) plus the BPF programs' run time (kernel.bpf_stats_enabled,
# on only for one more run after the pairs, as it costs two clock reads a program run),
# less what the same daemon spends as long again without the workload (the host's other
# traffic), as a share of the workload's own CPU in that run (its cgroup: clients,
# servers and their children, less the programs' time, which its tasks ran). Goals: share <= 1% (mix), <= 2% (storm); rate ratio
# >= 0.99; every handshake recorded; 0 drops.
source "$(dirname "$0")/../tests/lib/common.sh"
source "$(dirname "$0")/storm.sh"

PAIRS=8
SECS=10
# The daemon watches ports of the benchmark's own, and its servers have addresses of
# their own: other tests on this host use 443 and 25 (the daemon sees every namespace).
PORTS=8443,587
export STORM_ADDR=127.77.0.1 STORM_PORT=8443
BULK_MB=256
FLOWS=100000
while getopts "p:s:b:f:h" opt; do
	case $opt in
	p) PAIRS=$OPTARG ;;
	s) SECS=$OPTARG ;;
	b) BULK_MB=$OPTARG ;;
	f) FLOWS=$OPTARG ;;
	h) sed -n '3,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
PHASES=${*:-mix storm unwatched flows}

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
require_root
for t in openssl socat curl bpftool $PY; do
	command -v "$t" >/dev/null || skip "$t not installed (./configure --test-deps)"
done
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
CG_ROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$CG_ROOT" ] || skip "no cgroup2 mount"
LIB=$TOP/tests/lib

netns_new dbench
# Two cgroups: the workload (servers, clients and every child they fork) and the daemon.
CG_WORK=$CG_ROOT/tlsaudit-bench-$$-work
CG_DAEMON=$CG_ROOT/tlsaudit-bench-$$-daemon
mkdir "$CG_WORK" "$CG_DAEMON" || fail "cannot make cgroups under $CG_ROOT"
on_exit "rmdir $CG_WORK $CG_DAEMON"
on_exit "sysctl -q -w kernel.bpf_stats_enabled=0"
# Stop what runs in the workload cgroup; `cgroup.kill` (Linux 5.14) at once, else by pid.
on_exit "echo 1 >$CG_WORK/cgroup.kill; for p in \$(cat $CG_WORK/cgroup.procs); do kill \$p; done"

cg_usec() { awk '$1 == "usage_usec" { print $2 }' "$1/cpu.stat"; }
# This script's own cgroup, to come back to after running a server or storm in the other.
CG_SELF=$CG_ROOT$(sed -n 's/^0:://p' /proc/self/cgroup)

# in_work CMD... - run CMD in the namespace inside the workload cgroup (in the background
# when followed by &: the subshell joins the cgroup, then execs).
in_work() {
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG_WORK" ip netns exec "$NS" "$@"
}

# Run time (ns) and runs of the running daemon's programs (their ids from the fds it
# holds: other daemons and watches on the host load programs of the same names), in
# total and per program (in $TEST_TMP/progs.txt).
bpf_stats() {
	local ids
	ids=$(sed -n 's/^prog_id:[[:space:]]*//p' /proc/"$DPID"/fdinfo/* 2>/dev/null | sort -u)
	bpftool prog show -j | $PY -c '
import json, sys
mine = set(sys.argv[1].split())
t = n = 0
with open(sys.argv[2], "w") as f:
    for p in json.load(sys.stdin):
        if str(p["id"]) in mine:
            t += p.get("run_time_ns", 0)
            n += p.get("run_cnt", 0)
            f.write("%s %d %d\n" % (p["name"], p.get("run_time_ns", 0), p.get("run_cnt", 0)))
print(t, n)' "$ids" "$TEST_TMP/progs.txt"
}

# The daemon, in its own cgroup, with a handshake log of its own per start.
DN=0
daemon_start() {
	DN=$((DN + 1))
	DLOG=$TEST_TMP/daemon$DN.log
	HLOG=$TEST_TMP/handshakes$DN.json
	SOCK=$TEST_TMP/d$DN.sock
	# As deployed: no handshake log (the default) unless HANDSHAKE_LOG=1 asks for one to
	# check records per server; the record counts come from status.
	local log=none
	[ "${HANDSHAKE_LOG:-0}" = 1 ] && log=$HLOG
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG_DAEMON" \
		"$TLSAUDIT" daemon --socket="$SOCK" --state-file="$TEST_TMP/state$DN" \
		--textfile=none --handshake-log="$log" --ports="$PORTS" "$@" >"$DLOG" 2>&1 &
	DPID=$!
	on_exit "kill $DPID"
	local i
	for ((i = 0; i < 400; i++)); do
		grep -q "started: backend bpf" "$DLOG" 2>/dev/null && return 0
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.025
	done
	cat "$DLOG" >&2
	fail "the daemon did not start capturing with eBPF"
}

daemon_status() {
	"$TLSAUDIT" status --json -S "$SOCK"
}

daemon_stop() {
	kill -TERM "$DPID"
	wait "$DPID" 2>/dev/null
}

# status_num KEY - a number from the daemon's status (JSON).
status_num() {
	daemon_status | $PY -c 'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$1"
}

median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# records SERVER_IP ROLE - the daemon's records of that server and local end.
records() {
	$PY -c '
import json, sys
n = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["server_ip"] == sys.argv[2] and r["role"] == sys.argv[3]:
        n += 1
print(n)' "$HLOG" "$1" "$2"
}

# ---- the realistic mix -------------------------------------------------------------

KEY=$TEST_TMP/server.key
CRT=$TEST_TMP/server.crt

mix_servers() {
	make_cert "$TEST_TMP"
	# A forking HTTPS server: socat forks a child per connection, which runs a shell
	# for the response (as CGI does).
	cat >"$TEST_TMP/respond.sh" <<'EOF'
while read -r line; do [ "$line" = "$(printf '\r')" ] && break; done
printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n'
EOF
	in_work socat OPENSSL-LISTEN:8443,bind=127.77.0.2,reuseaddr,fork,cert="$CRT",key="$KEY",verify=0 \
		EXEC:"sh $TEST_TMP/respond.sh" </dev/null >/dev/null 2>&1 &
	in_work $PY "$LIB/smtp_server.py" --addr 127.77.0.3 --port 587 --cert "$CRT" --key "$KEY" \
		</dev/null >/dev/null 2>&1 &
	# TLS 1.2 only: a TLS 1.0 client gets protocol_version.
	in_work openssl s_server -accept 127.77.0.4:8443 -cert "$CRT" -key "$KEY" -tls1_2 -quiet \
		</dev/null >/dev/null 2>&1 &
	in_work socat -b 262144 OPENSSL-LISTEN:8443,bind=127.77.0.5,reuseaddr,fork,cert="$CRT",key="$KEY",verify=0 \
		SYSTEM:"head -c $((BULK_MB << 20)) /dev/zero" </dev/null >/dev/null 2>&1 &
	in_work socat -b 262144 TCP-LISTEN:8080,bind=127.77.0.6,reuseaddr,fork \
		SYSTEM:"head -c $((BULK_MB << 20)) /dev/zero" </dev/null >/dev/null 2>&1 &
	local hp i
	for hp in 127.77.0.2:8443 127.77.0.3:587 127.77.0.4:8443 127.77.0.5:8443 127.77.0.6:8080; do
		for ((i = 0; i < 400; i++)); do
			in_ns ss -Htln "src $hp" | grep -q . && continue 2
			sleep 0.025
		done
		fail "nothing listens on $hp"
	done
}

# A client loop: runs CMD until the deadline, one process after another, and writes how
# many ran (and how many succeeded) to OUT. Started in the workload cgroup.
LOOP_SH=$TEST_TMP/loop.sh
cat >"$LOOP_SH" <<'EOF'
end=$1 out=$2
shift 2
n=0 ok=0
while [ "$(date +%s%N)" -lt "$end" ]; do
	if "$@" >/dev/null 2>&1; then ok=$((ok + 1)); fi
	n=$((n + 1))
done
echo "$n $ok" >"$out"
EOF

BULK_TLS=$TEST_TMP/bulk_tls.sh
cat >"$BULK_TLS" <<'EOF'
[ "$(socat -b 262144 -u OPENSSL:127.77.0.5:8443,verify=0 - | wc -c)" -eq "$1" ]
EOF
BULK_TCP=$TEST_TMP/bulk_tcp.sh
cat >"$BULK_TCP" <<'EOF'
[ "$(socat -b 262144 -u TCP:127.77.0.6:8080 - | wc -c)" -eq "$1" ]
EOF

# mix_run - one run of the workload; sets R_HS (handshakes), R_T (seconds), R_CPU
# (workload CPU seconds) and the per-loop counts in $TEST_TMP/loop.*.
mix_run() {
	local end t0 t1 c0 c1 pids=() i
	t0=$(date +%s%N)
	end=$((t0 + SECS * 1000000000))
	c0=$(cg_usec "$CG_WORK")
	for i in 1 2; do
		in_work sh "$LOOP_SH" "$end" "$TEST_TMP/loop.curl$i" \
			curl -sk -o /dev/null --resolve www.bench.test:8443:127.77.0.2 \
			https://www.bench.test:8443/ &
		pids+=($!)
	done
	in_work sh "$LOOP_SH" "$end" "$TEST_TMP/loop.smtp" \
		$PY "$LIB/smtp_client.py" 127.77.0.3 587 starttls &
	pids+=($!)
	# Expected to fail: the server refuses TLS 1.0 (protocol_version).
	in_work sh "$LOOP_SH" "$end" "$TEST_TMP/loop.fail" \
		openssl s_client -connect 127.77.0.4:8443 -tls1 -cipher 'DEFAULT@SECLEVEL=0' \
		-servername old.bench.test &
	pids+=($!)
	in_work sh "$LOOP_SH" "$end" "$TEST_TMP/loop.bulk" sh "$BULK_TLS" $((BULK_MB << 20)) &
	pids+=($!)
	in_work sh "$LOOP_SH" "$end" "$TEST_TMP/loop.plain" sh "$BULK_TCP" $((BULK_MB << 20)) &
	pids+=($!)
	wait "${pids[@]}"
	t1=$(date +%s%N)
	c1=$(cg_usec "$CG_WORK")
	R_T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	R_CPU=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
	R_CURL=$(($(cut -d' ' -f2 "$TEST_TMP/loop.curl1") + $(cut -d' ' -f2 "$TEST_TMP/loop.curl2")))
	R_SMTP=$(cut -d' ' -f2 "$TEST_TMP/loop.smtp")
	R_FAIL=$(cut -d' ' -f1 "$TEST_TMP/loop.fail")
	R_BULK=$(cut -d' ' -f2 "$TEST_TMP/loop.bulk")

	R_HS=$((R_CURL + R_SMTP + R_FAIL + R_BULK))
	# A curl or mail that failed is a handshake that may not have happened: say so.
	R_ERR=$(($(cut -d' ' -f1 "$TEST_TMP/loop.curl1") + $(cut -d' ' -f1 "$TEST_TMP/loop.curl2") - R_CURL))
	R_ERR=$((R_ERR + $(cut -d' ' -f1 "$TEST_TMP/loop.smtp") - R_SMTP))
}

# mix_check - the daemon's records against the handshakes of the last run: one per local
# end (the daemon watches only the benchmark's ports); per server with HANDSHAKE_LOG=1.
mix_check() {
	local ip what want got role bad=0
	check_total || bad=1
	[ "${HANDSHAKE_LOG:-0}" = 1 ] || return $bad
	for what in "127.77.0.2 curl $R_CURL" "127.77.0.3 smtp $R_SMTP" "127.77.0.4 failed $R_FAIL" \
		"127.77.0.5 bulk $R_BULK"; do
		read -r ip what want <<<"$what"
		for role in client server; do
			got=$(records "$ip" "$role")
			[ "$got" -ge "$want" ] || bad=1
			printf ' %s/%s %d/%d' "$what" "${role:0:3}" "$got" "$want"
		done
	done
	return $bad
}

# check_total - records in the daemon's status against two a handshake (both local ends).
check_total() {
	local got
	got=$(status_num records)
	printf ' records %d of %d' "$got" $((2 * R_HS))
	MISSING=$((MISSING + (2 * R_HS > got ? 2 * R_HS - got : 0)))
	[ "$got" -ge $((2 * R_HS)) ]
}

# ---- the storm ----------------------------------------------------------------------

storm_run() {
	local c0 c1
	c0=$(cg_usec "$CG_WORK")
	# storm() forks s_time from this shell: it joins the workload cgroup meanwhile.
	echo $BASHPID >"$CG_WORK/cgroup.procs"
	read -r R_HS R_T < <(storm 2 "$SECS")
	echo $BASHPID >"$CG_SELF/cgroup.procs"
	c1=$(cg_usec "$CG_WORK")
	R_CPU=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')
	R_ERR=0
}

storm_check() {
	check_total
}

# ---- pairs and cost ------------------------------------------------------------------

# pairs NAME - PAIRS rounds with and without the daemon, then one costed run.
pairs() {
	local name=$1 r ratios=() cpu_off=() d drops=0 evict=0 dc0 dc1 b0 b1 n0 n1 t_off=()
	local rate_on rate_off
	MISSING=0
	"${name}_run" >/dev/null # warm-up: the first run after the servers start is slower
	echo "$name: $PAIRS pairs of ${SECS}s runs"
	for ((r = 1; r <= PAIRS; r++)); do
		for half in $( ((r % 2)) && echo "off on" || echo "on off"); do
			if [ "$half" = on ]; then
				daemon_start
				"${name}_run"
				sleep 0.5 # the last records
				rate_on=$(awk -v n="$R_HS" -v t="$R_T" 'BEGIN { print n / t }')
				d=$(status_num ringbuf_drops)
				drops=$((drops + d))
				evict=$((evict + $(status_num flow_evictions)))
				printf '  round %d with:    %5d handshakes in %.2fs (%.1f/s), workload CPU %.2fs,' \
					"$r" "$R_HS" "$R_T" "$rate_on" "$R_CPU"
				"${name}_check" || true
				printf ', drops %d\n' "$d"
				daemon_stop
			else
				"${name}_run"
				rate_off=$(awk -v n="$R_HS" -v t="$R_T" 'BEGIN { print n / t }')
				cpu_off+=("$(awk -v c="$R_CPU" -v t="$R_T" 'BEGIN { print c / t }')")
				t_off+=("$R_T")
				printf '  round %d without: %5d handshakes in %.2fs (%.1f/s), workload CPU %.2fs\n' \
					"$r" "$R_HS" "$R_T" "$rate_off" "$R_CPU"
			fi
		done
		ratios+=("$(awk -v a="$rate_on" -v b="$rate_off" 'BEGIN { printf "%.4f", a / b }')")
	done
	# The costed run: BPF run-time accounting on, the daemon in its cgroup.
	daemon_start
	sysctl -q -w kernel.bpf_stats_enabled=1
	read -r b0 n0 < <(bpf_stats)
	cp "$TEST_TMP/progs.txt" "$TEST_TMP/progs0.txt"
	dc0=$(cg_usec "$CG_DAEMON")
	# PERF_DATA=FILE: a profile of the daemon during the costed run (perf record).
	local perf_pid=""
	if [ -n "${PERF_DATA:-}" ]; then
		perf record -q -F 4999 -g -o "$PERF_DATA.$name" -p "$DPID" 2>/dev/null &
		perf_pid=$!
	fi
	"${name}_run"
	sleep 0.5
	[ -n "$perf_pid" ] && kill -INT "$perf_pid" && wait "$perf_pid"
	dc1=$(cg_usec "$CG_DAEMON")
	read -r b1 n1 < <(bpf_stats)
	cp "$TEST_TMP/progs.txt" "$TEST_TMP/progs1.txt"
	# The same daemon as long again without the workload: what the rest of the host
	# (other tests, their sockets on every port) cost it meanwhile, subtracted below.
	local i0 i1 ib0 ib1 t_idle
	i0=$(cg_usec "$CG_DAEMON")
	read -r ib0 _ < <(bpf_stats)
	t_idle=$(date +%s%N)
	sleep "$R_T"
	t_idle=$(awk -v a="$t_idle" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
	i1=$(cg_usec "$CG_DAEMON")
	read -r ib1 _ < <(bpf_stats)
	sysctl -q -w kernel.bpf_stats_enabled=0
	local cpu_on=$R_CPU
	printf '  costed run:       %5d handshakes in %.2fs, workload CPU %.2fs,' "$R_HS" "$R_T" "$R_CPU"
	"${name}_check" || true
	echo
	drops=$((drops + $(status_num ringbuf_drops)))
	evict=$((evict + $(status_num flow_evictions)))
	daemon_stop
	# Per program: runs and nanoseconds a run (host-wide: every socket passes them).
	paste "$TEST_TMP/progs0.txt" "$TEST_TMP/progs1.txt" | awk '{
		n = $6 - $3; printf "    %-22s %8d runs, %6.1f ns a run\n", $1, n, n ? ($5 - $2) / n : 0 }'
	local hs_on=$R_HS t_on=$R_T
	echo
	echo "$name: rate ratios (with/without) ${ratios[*]}"
	awk -v med="$(median "${ratios[@]}")" -v lo="$(printf '%s\n' "${ratios[@]}" | sort -g | head -1)" \
		-v hi="$(printf '%s\n' "${ratios[@]}" | sort -g | tail -1)" 'BEGIN {
		printf "  handshake-rate ratio: median %.3f, spread %.3f to %.3f (goal >= 0.99: %s)\n",
			med, lo, hi, (med >= 0.99) ? "met" : "missed" }'
	awk -v d="$(((dc1 - dc0)))" -v b="$((b1 - b0))" -v n="$((n1 - n0))" -v t="$t_on" \
		-v hs="$hs_on" -v w="$(median "${cpu_off[@]}")" -v goal="$2" -v id="$((i1 - i0))" \
		-v ib="$((ib1 - ib0))" -v ti="$t_idle" -v won="$cpu_on" 'BEGIN {
		printf "  tlsaudit CPU in the costed run: daemon %.3fs, BPF %.3fs (%d program runs, %.0f ns each)\n",
			d / 1e6, b / 1e9, n, n ? b / n : 0
		# The idle run scaled to the costed run'"'"'s length, taken off (never below 0).
		k = ti > 0 ? t / ti : 1
		printf "  the same daemon idle as long (the rest of the host): daemon %.3fs, BPF %.3fs\n",
			id * k / 1e6, ib * k / 1e9
		d -= id * k; b -= ib * k
		if (d < 0) d = 0
		if (b < 0) b = 0
		dcpu = d / 1e6; bcpu = b / 1e9
		printf "  per handshake: daemon %.1f us, BPF %.1f us; workload without tlsaudit %.2f CPU-s/s\n",
			hs ? dcpu * 1e6 / hs : 0, hs ? bcpu * 1e6 / hs : 0, w
		# The workload'"'"'s own CPU in the same run: its cgroup, less the programs (they
		# run in its tasks'"'"' context), so that a run faster or slower than the pairs
		# (the host'"'"'s load changes) is compared with itself.
		wown = won - bcpu
		share = 100 * (dcpu + bcpu) / wown
		printf "  tlsaudit CPU share: %.2f%% (daemon %.2f%% + BPF %.2f%%) of the workload'"'"'s %.2fs (goal <= %s%%: %s)\n",
			share, 100 * dcpu / wown, 100 * bcpu / wown, wown, goal, (share <= goal) ? "met" : "missed"
		printf "  (against the pairs'"'"' workload without tlsaudit, per second: %.2f%%)\n",
			100 * (dcpu + bcpu) / t / w }'
	echo "  records missing: $MISSING; ring-buffer drops $drops; flow evictions $evict" \
		"(goals 0: $([ "$MISSING" -eq 0 ] && [ "$drops" -eq 0 ] && echo met || echo missed))"
}

# ---- unwatched traffic --------------------------------------------------------------

unwatched() {
	local t0 t1
	# A server of its own (the mix's may still listen on 8080).
	in_work socat -b 262144 TCP-LISTEN:8081,bind=127.77.0.8,reuseaddr,fork \
		SYSTEM:"head -c $((BULK_MB << 22)) /dev/zero" </dev/null >/dev/null 2>&1 &
	sleep 0.5
	cat >"$TEST_TMP/bulk_unwatched.sh" <<'EOF'
[ "$(socat -b 262144 -u TCP:127.77.0.8:8081 - | wc -c)" -eq "$1" ]
EOF
	daemon_start
	sysctl -q -w kernel.bpf_stats_enabled=1
	bpf_stats >/dev/null
	cp "$TEST_TMP/progs.txt" "$TEST_TMP/progs0.txt"
	t0=$(date +%s%N)
	in_work sh "$TEST_TMP/bulk_unwatched.sh" $((BULK_MB << 22)) ||
		fail "unwatched bulk transfer failed"
	t1=$(date +%s%N)
	bpf_stats >/dev/null
	sysctl -q -w kernel.bpf_stats_enabled=0
	daemon_stop
	echo "unwatched: $((BULK_MB * 4)) MiB over TCP port 8081 in $(awk -v a="$t0" -v b="$t1" \
		'BEGIN { printf "%.2f", (b - a) / 1e9 }')s, the daemon watching $PORTS" \
		"(every TCP socket on the host counts):"
	paste "$TEST_TMP/progs0.txt" "$TEST_TMP/progs.txt" | awk '{
		n = $6 - $3; printf "  %-22s %9d runs, %6.1f ns a run\n", $1, n, n ? ($5 - $2) / n : 0 }'
}

# ---- concurrent flows -----------------------------------------------------------------

# FLOWS / 2 connections to 8443: each sends a ClientHello (the one Python's OpenSSL
# sends) and waits; the server accepts and reads nothing. Workers of 8,000 connections
# each (both ends: 16,000 descriptors, under a container's usual limit), each with a
# server address of its own (127.77.1.W) and clients in 127.78.W.0/24... Then the
# daemon's RSS and flow counts.
flows() {
	local conns=$((FLOWS / 2)) rss0 rss1 hwm st workers i
	workers=$(((conns + 7999) / 8000))
	daemon_start
	sleep 1
	rss0=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DPID/status")
	: >"$TEST_TMP/flood.ready"
	# A session of its own: the workers are stopped by process group.
	setsid ip netns exec "$NS" $PY - "$conns" "$workers" "$TEST_TMP/flood.ready" <<'EOF' &
import os, resource, socket, ssl, sys, time
conns, workers, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
# The ClientHello Python's OpenSSL sends, taken from a handshake in memory.
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out, server_hostname="flood.bench.test")
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()

def worker(w, n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.77.1.%d" % (w + 1), 8443))
    srv.listen(4096)
    srv.setblocking(False)
    held, clients = [], []

    def drain():
        while True:
            try:
                c, _ = srv.accept()
            except BlockingIOError:
                return
            held.append(c)
    for i in range(n):
        c = socket.socket()
        c.bind(("127.78.%d.%d" % (w, i % 250 + 1), 0))
        c.connect(("127.77.1.%d" % (w + 1), 8443))
        c.sendall(hello)
        clients.append(c)
        if i % 256 == 0:
            drain()
    while len(held) < n:
        drain()
        time.sleep(0.01)
    with open(ready, "a") as f:
        f.write("%d\n" % n)
    time.sleep(3600)

pids = []
for w in range(workers):
    n = min(8000, conns - w * 8000)
    pid = os.fork()
    if pid == 0:
        worker(w, n)
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
EOF
	local fpid=$!
	on_exit "kill -- -$fpid"
	for ((i = 0; i < 1800; i++)); do
		[ "$(wc -l <"$TEST_TMP/flood.ready")" -ge "$workers" ] && break
		kill -0 "$fpid" 2>/dev/null || fail "the flood died"
		sleep 0.1
	done
	[ "$(wc -l <"$TEST_TMP/flood.ready")" -ge "$workers" ] ||
		fail "the flood did not open its connections"
	sleep 3 # the last events
	rss1=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$DPID/status")
	hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$DPID/status")
	st=$(daemon_status)
	kill -- -"$fpid"
	wait "$fpid" 2>/dev/null
	daemon_stop
	echo "flows: $conns connections waiting after their ClientHello ($FLOWS local ends," \
		"$workers processes)"
	$PY -c '
import json, sys
s = json.loads(sys.argv[1])
print("  daemon: %s flows created, %s evicted, %s ring-buffer drops" % (
    s.get("flows"), s.get("flow_evictions"), s.get("ringbuf_drops")))' "$st"
	echo "  daemon RSS: $((rss0 / 1024)) MiB idle, $((rss1 / 1024)) MiB with the flows (peak $((hwm / 1024)) MiB)"
}

for phase in $PHASES; do
	case $phase in
	mix)
		mix_servers
		pairs mix 1
		;;
	storm)
		echo $BASHPID >"$CG_WORK/cgroup.procs"
		storm_server ec
		echo $BASHPID >"$CG_SELF/cgroup.procs"
		pairs storm 2
		;;
	unwatched) unwatched ;;
	flows) flows ;;
	*) fail "unknown phase $phase" ;;
	esac
	echo
done

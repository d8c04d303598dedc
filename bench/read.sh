#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Read benchmark: `tlsaudit read` (the summary and --json) against tshark extracting the
# same handshake facts, with `tcpdump -r` as the floor (the cost of reading the file at
# all), on two captures: copies of one seed and a realistic mix (bench/mkcapture.py);
# then what judging policies costs: the default set (tls12) and every built-in profile
# against none. See bench/README.md.
#
#   bench/read.sh [-n SESSIONS] [-r RUNS] [-t TSHARK_RUNS] [-s SEED.pcap] [-d DIR]
set -u
cd "$(dirname "$0")/.." || exit 1
TOP=$PWD
TLSAUDIT=${TLSAUDIT:-$TOP/build/tlsaudit}

handshakes=55000
runs=5
tshark_runs=3
seed=""
dir=/tmp/tlsaudit-bench

usage() {
	sed -n '3,10p' "$0" | sed 's/^# \{0,1\}//'
	echo "  -n  TCP sessions in each generated capture (default $handshakes)"
	echo "  -r  runs of tlsaudit and tcpdump, the median is reported (default $runs)"
	echo "  -t  runs of tshark (default $tshark_runs; it is the slow one)"
	echo "  -s  seed capture (default: record one with tests/e2e/read_peers.sh, needs root)"
	echo "  -d  work directory, kept for reuse (default $dir)"
	exit "$1"
}

while getopts "n:r:t:s:d:h" opt; do
	case $opt in
	n) handshakes=$OPTARG ;;
	r) runs=$OPTARG ;;
	t) tshark_runs=$OPTARG ;;
	s) seed=$OPTARG ;;
	d) dir=$OPTARG ;;
	h) usage 0 ;;
	*) usage 2 ;;
	esac
done

die() { echo "bench/read.sh: $*" >&2; exit 1; }

for t in tshark tcpdump python3 /usr/bin/time; do
	command -v "$t" >/dev/null || die "$t not installed (./configure --test-deps)"
done
[ -x "$TLSAUDIT" ] || die "$TLSAUDIT not built (make)"
mkdir -p "$dir" || die "cannot create $dir"

if [ -z "$seed" ]; then
	seed=$dir/seed.pcap
	if [ ! -s "$seed" ]; then
		[ "$(id -u)" = 0 ] || die "recording the seed capture needs root (or pass -s SEED.pcap)"
		echo "recording real peers into $seed"
		PEERS_CAPTURE_ONLY=$seed bash tests/e2e/read_peers.sh >/dev/null ||
			die "could not record the seed capture"
	fi
fi
[ -s "$seed" ] || die "no seed capture $seed"
# The mix's second seed: failed handshakes between real peers.
seed_fail=$dir/seed-failures.pcap
if [ ! -s "$seed_fail" ]; then
	[ "$(id -u)" = 0 ] || die "recording the failures seed needs root"
	echo "recording failed handshakes into $seed_fail"
	bash bench/seed-failures.sh "$seed_fail" >/dev/null || die "could not record $seed_fail"
fi

copies=$dir/bench-$handshakes.pcap
if [ ! -s "$copies" ] || [ "$seed" -nt "$copies" ]; then
	echo "building $copies from $seed"
	python3 bench/mkcapture.py "$seed" "$copies" --handshakes "$handshakes" >"$copies.info" ||
		die "mkcapture.py failed"
fi
mix=$dir/mix-$handshakes.pcap
if [ ! -s "$mix" ] || [ "$seed" -nt "$mix" ] || [ "$seed_fail" -nt "$mix" ]; then
	echo "building $mix from $seed and $seed_fail"
	python3 bench/mkcapture.py --mix "$seed" "$seed_fail" "$mix" --handshakes "$handshakes" \
		>"$mix.info" || die "mkcapture.py --mix failed"
fi

# run OUT CMD... - one run: "WALL CPU MAXRSS_KIB", stdout to OUT. CPU is user+system
# of CMD alone: perf's task-clock counts from its exec (microseconds; time(1) has 10 ms
# steps, and a shell's or python's fork before the exec would count as the child's).
# Without perf, time(1)'s. The peak RSS is time(1)'s.
run() {
	local out=$1 t0 t1 c
	shift
	t0=$EPOCHREALTIME
	if [ -n "$PERF" ]; then
		"$PERF" stat -x, -o "$dir/perf.out" -e task-clock -- \
			/usr/bin/time -f '%U %S %M' -o "$dir/time.out" "$@" >"$out" 2>/dev/null || return 1
	else
		/usr/bin/time -f '%U %S %M' -o "$dir/time.out" "$@" >"$out" 2>/dev/null || return 1
	fi
	t1=$EPOCHREALTIME
	if [ -n "$PERF" ]; then
		c=$(awk -F, '$3 == "task-clock" { printf "%.4f", $1 / 1000 }' "$dir/perf.out")
	else
		c=$(awk '{ printf "%.3f", $1 + $2 }' "$dir/time.out")
	fi
	awk -v a="$t0" -v b="$t1" -v c="$c" -v m="$(awk '{ print $3 }' "$dir/time.out")" \
		'BEGIN { printf "%.4f %s %d\n", b - a, c, m }'
}
PERF=$(command -v perf)
[ -n "$PERF" ] && ! "$PERF" stat -x, -o /dev/null -e task-clock true 2>/dev/null && PERF=""

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# measure NAME RUNS OUT CMD... - medians of wall and CPU, the largest peak RSS; the runs
# of the tools alternate (measure_all), so load on the machine falls on all alike.
declare -A wall cpu rss
measure() {
	local name=$1 out=$2 w c m
	shift 2
	read -r w c m < <(run "$out" "$@") || die "$name failed"
	[ -n "$m" ] || die "$name failed"
	wall[$name]+="$w "
	cpu[$name]+="$c "
	[ "${rss[$name]:-0}" -gt "$m" ] || rss[$name]=$m
}

# One capture: every tool, RUNS rounds (tshark in its first TSHARK_RUNS), then the table.
# Sets status=1 when tlsaudit and tshark count different handshakes.
status=0
bench_capture() {
	local cap=$1 label=$2 i tool hs_j hs_s hs_t npkts nsess nbytes
	read -r _ npkts _ nsess _ nbytes _ <"$cap.info"
	wall=() cpu=() rss=()
	cat "$cap" >/dev/null # the page cache, warm for all
	echo
	echo "== $label: $cap, $npkts packets, $nsess TCP sessions, $((nbytes / 1048576)) MiB"
	for ((i = 0; i < runs; i++)); do
		measure tcpdump /dev/null tcpdump -n -r "$cap" 'tcp port 1'
		measure summary "$dir/summary.txt" "$TLSAUDIT" read "$cap"
		measure json "$dir/tlsaudit.json" "$TLSAUDIT" read --json "$cap"
		# The ServerHello facts tlsaudit reports: endpoints, version (record and
		# supported_versions), cipher and key-share group.
		((i < tshark_runs)) && measure tshark "$dir/tshark.tsv" tshark -n -r "$cap" \
			-Y 'tls.handshake.type == 2' -T fields -e tcp.stream -e ip.src -e ipv6.src \
			-e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport -e tls.handshake.version \
			-e tls.handshake.extensions.supported_version -e tls.handshake.ciphersuite \
			-e tls.handshake.extensions_key_share_group
	done
	# A HelloRetryRequest is a second ServerHello in the same stream: count streams.
	hs_j=$(grep -c '"version":"' "$dir/tlsaudit.json")
	hs_s=$(sed -n 's/^total: \([0-9]*\) handshakes.*/\1/p' "$dir/summary.txt")
	hs_t=$(cut -f1 "$dir/tshark.tsv" | sort -u | wc -l)
	printf '%-30s %8s %8s %10s %12s %12s %10s %9s\n' tool "wall s" "CPU s" "vs tshark" \
		"vs tcpdump" "CPU vs tcpd" handshakes "peak RSS"
	for tool in summary json tshark tcpdump; do
		local w c r h name
		w=$(median "${wall[$tool]}")
		c=$(median "${cpu[$tool]}")
		r=${rss[$tool]}
		case $tool in
		summary) name="tlsaudit read" h="$hs_s (all)" ;;
		json) name="tlsaudit read --json" h=$hs_j ;;
		tshark) name="tshark -Y ... -T fields" h=$hs_t ;;
		tcpdump) name="tcpdump -r FILE 'tcp port 1'" h=- ;;
		esac
		eval "W_${label}_$tool=$w C_${label}_$tool=$c"
		awk -v n="$name" -v w="$w" -v c="$c" -v r="$r" -v h="$h" \
			-v tw="$(median "${wall[tshark]}")" -v dw="$(median "${wall[tcpdump]}")" \
			-v dc="$(median "${cpu[tcpdump]}")" 'BEGIN {
			printf "%-30s %8.3f %8.3f %9.1fx %11.2fx %11.2fx %10s %5.1f MiB\n", n, w, c,
				tw / (w > 0 ? w : 0.001), w / (dw > 0 ? dw : 0.001),
				c / (dc > 0 ? dc : 0.001), h, r / 1024 }'
	done
	echo "(medians of $runs runs, tshark $tshark_runs; vs tshark: times faster, wall;" \
		"vs tcpdump: time relative to tcpdump's)"
	if [ "$hs_j" != "$hs_t" ]; then
		echo "MISMATCH: tlsaudit reported $hs_j handshakes, tshark $hs_t" >&2
		status=1
	fi
	# Goals: >= 100 times faster than tshark, within 2 times of tcpdump, both outputs.
	for tool in summary json; do
		awk -v t="$tool" -v w="$(median "${wall[$tool]}")" -v c="$(median "${cpu[$tool]}")" \
			-v tw="$(median "${wall[tshark]}")" -v dw="$(median "${wall[tcpdump]}")" \
			-v dc="$(median "${cpu[tcpdump]}")" 'BEGIN {
			w = w > 0 ? w : 0.001
			printf "goals, %s: >= 100x faster than tshark: %s (%.0fx); within 2x of " \
				"tcpdump: wall %s (%.2fx), CPU %s (%.2fx)\n", t,
				(tw / w >= 100) ? "met" : "missed", tw / w,
				(w <= 2 * dw) ? "met" : "missed", w / dw,
				(c <= 2 * dc) ? "met" : "missed", c / dc }'
	done
}

bench_capture "$copies" copies
bench_capture "$mix" mix
cap=$copies

# What judging policies costs per handshake: `read --json` with --policy none, the
# default set (tls12) and all nine built-in profiles (docs/policies.md), in interleaved
# rounds so that load on the machine falls on all three alike. The difference is a few
# percent of the run: CPU time (user + system, from the shell's `times`, 1 ms steps),
# not wall time, and medians over 3 x RUNS rounds.
ALL_POLICIES=tls12,tls13,mozilla-intermediate,mozilla-modern,mozilla-intermediate-5.7
ALL_POLICIES=$ALL_POLICIES,mozilla-modern-5.7,nist-sp800-52r2,fips-ems,pq-hybrid
cpu_run() { # OUT CMD... - CPU seconds of CMD
	local out=$1
	shift
	(
		"$@" >"$out" 2>"$dir/cpu.err" || exit 1
		times
	) | awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/)
		printf "%.3f\n", u[1] * 60 + u[2] + s[1] * 60 + s[2] }'
}
declare -A cpu=([none]="" [tls12]="" [all]="")
for ((i = 0; i < 3 * runs; i++)); do
	for p in none tls12 all; do
		case $p in
		none) pol=none ;;
		tls12) pol=tls12 ;;
		all) pol=$ALL_POLICIES ;;
		esac
		t=$(cpu_run "$dir/policy-$p.json" "$TLSAUDIT" read --json --policy "$pol" "$cap")
		[ -n "$t" ] || die "read --policy $p failed: $(cat "$dir/cpu.err")"
		cpu[$p]+="$t "
	done
done
hs_tlsaudit=$(grep -c '"version":"' "$dir/policy-none.json")
c_none=$(median "${cpu[none]}")
c_tls12=$(median "${cpu[tls12]}")
c_all=$(median "${cpu[all]}")
echo
awk -v z="$c_none" -v d="$c_tls12" -v a="$c_all" -v h="$hs_tlsaudit" -v n="$((3 * runs))" 'BEGIN {
	h = h > 0 ? h : 1
	printf "policies, CPU seconds (median of %d): --policy none %.3f, tls12 (default) %.3f, " \
		"all 9 built-ins %.3f\n", n, z, d, a
	printf "judging per handshake: tls12 %+.0f ns, 9 profiles %+.0f ns (%+.0f ns a policy), " \
		"%+.1f%% of the run\n", (d - z) * 1e9 / h, (a - z) * 1e9 / h, (a - z) * 1e9 / h / 9,
		(z > 0 ? 100 * (a - z) / z : 0)
}'

# Judging all nine built-ins stays within 5% of the default set's run.
awk -v d="$c_tls12" -v a="$c_all" 'BEGIN {
	printf "goal: all 9 profiles within 5%% of the default (tls12): %s (%+.1f%%)\n",
		(a <= 1.05 * d) ? "met" : "missed", (d > 0 ? 100 * (a - d) / d : 0)
}'
exit $status

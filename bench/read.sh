#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Read benchmark: `tlsaudit read --json` against tshark extracting the same handshake facts,
# with `tcpdump -r` as the floor (the cost of reading the file at all); then what judging
# policies costs: the default set (tls12) and every built-in profile against none. See
# bench/README.md.
#
#   bench/read.sh [-n HANDSHAKES] [-r RUNS] [-t TSHARK_RUNS] [-s SEED.pcap] [-d DIR]
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
	sed -n '3,7p' "$0" | sed 's/^# \{0,1\}//'
	echo "  -n  TCP sessions in the generated capture (default $handshakes)"
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

cap=$dir/bench-$handshakes.pcap
if [ ! -s "$cap" ] || [ "$seed" -nt "$cap" ]; then
	echo "building $cap from $seed"
	python3 bench/mkcapture.py "$seed" "$cap" --handshakes "$handshakes" >"$cap.info" ||
		die "mkcapture.py failed"
fi
read -r _ npkts _ nsess _ nbytes _ <"$cap.info"

# measure NAME RUNS OUT CMD...: median wall time and peak RSS of RUNS runs, stdout to OUT.
measure() {
	local name=$1 n=$2 out=$3 i
	shift 3
	local times=() rss=0 t m t0
	for ((i = 0; i < n; i++)); do
		# time(1) reports 10 ms steps: take the wall time from the shell, RSS from time(1).
		t0=$EPOCHREALTIME
		/usr/bin/time -f '%M' -o "$dir/time.out" "$@" >"$out" 2>"$dir/$name.err" ||
			die "$name failed: $(tail -n 3 "$dir/$name.err")"
		t=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
		read -r m <"$dir/time.out"
		times+=("$t")
		[ "$m" -gt "$rss" ] && rss=$m
	done
	t=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
	eval "sec_$name=$t rss_$name=$rss"
	printf '  %-8s runs: %s\n' "$name" "${times[*]}"
}

# Warm the page cache so the first tool does not pay for the disk.
cat "$cap" >/dev/null

echo "capture: $cap, $npkts packets, $nsess TCP sessions, $((nbytes / 1048576)) MiB"
measure tcpdump "$runs" /dev/null tcpdump -n -r "$cap" 'tcp port 1'
measure tlsaudit "$runs" "$dir/tlsaudit.json" "$TLSAUDIT" read --json "$cap"
# The ServerHello facts tlsaudit reports: endpoints, version (record and supported_versions),
# cipher and key-share group.
measure tshark "$tshark_runs" "$dir/tshark.tsv" tshark -n -r "$cap" -Y 'tls.handshake.type == 2' \
	-T fields -e tcp.stream -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst \
	-e tcp.dstport -e tls.handshake.version -e tls.handshake.extensions.supported_version \
	-e tls.handshake.ciphersuite -e tls.handshake.extensions_key_share_group

# A HelloRetryRequest is a second ServerHello in the same stream: count streams.
hs_tlsaudit=$(grep -c '"version":"' "$dir/tlsaudit.json")
hs_tshark=$(cut -f1 "$dir/tshark.tsv" | sort -u | wc -l)
# shellcheck disable=SC2034 # read through eval below
hs_tcpdump="-"

echo
printf '%-10s %9s %12s %12s %11s %10s\n' tool seconds "vs tshark" "vs tcpdump" handshakes \
	"peak RSS"
for tool in tlsaudit tshark tcpdump; do
	eval "s=\$sec_$tool r=\$rss_$tool h=\$hs_$tool"
	# shellcheck disable=SC2154
	awk -v tool="$tool" -v s="$s" -v ts="$sec_tshark" -v td="$sec_tcpdump" -v h="$h" \
		-v r="$r" 'BEGIN {
		fs = s > 0 ? s : 0.001
		printf "%-10s %9.3f %11.1fx %11.2fx %11s %7.1f MiB\n", tool, s, ts / fs,
			s / (td > 0 ? td : 0.001), h, r / 1024
	}'
done
echo "(vs tshark: how many times faster than tshark; vs tcpdump: time relative to tcpdump)"

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
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
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

status=0
if [ "$hs_tlsaudit" != "$hs_tshark" ]; then
	echo "MISMATCH: tlsaudit reported $hs_tlsaudit handshakes, tshark $hs_tshark" >&2
	status=1
fi
# shellcheck disable=SC2154 # set by measure through eval
awk -v a="$sec_tlsaudit" -v t="$sec_tshark" -v d="$sec_tcpdump" 'BEGIN {
	a = a > 0 ? a : 0.001
	printf "goals: >= 50x faster than tshark: %s (%.1fx); within 3x of tcpdump: %s (%.2fx)\n",
		(t / a >= 50) ? "met" : "missed", t / a, (a <= 3 * d) ? "met" : "missed", a / d
}'
# Judging all nine built-ins stays within 5% of the default set's run.
awk -v d="$c_tls12" -v a="$c_all" 'BEGIN {
	printf "goal: all 9 profiles within 5%% of the default (tls12): %s (%+.1f%%)\n",
		(a <= 1.05 * d) ? "met" : "missed", (d > 0 ? 100 * (a - d) / d : 0)
}'
exit $status

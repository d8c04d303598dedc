#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs libFuzzer entries for a bounded time each, on a scratch copy of their seeds:
#
#   tests/fuzz/run.sh [-b BINDIR] [-t SECS] [-j JOBS] [-k] [TARGET...]
#     -b  where fuzz_TARGET binaries are (default build/fuzz)
#     -t  seconds per entry (default 60)
#     -j  entries run at once (default 1; each is one process)
#     -k  keep the grown corpora in build/fuzz/corpus-TARGET (default: a temp dir)
#     TARGET  config, ctl, ... (default: every tests/fuzz/fuzz_*.c)
#
# Prints one line per entry: executions, edge coverage (libFuzzer's cov:), features
# (ft:), corpus size, executions per second, peak RSS. Any crash, sanitizer report,
# leak, timeout or out-of-memory is a failure: the input is kept (ARTIFACTS) and
# printed, and the exit status is 1. An entry that ran fewer than 100 inputs fails too:
# its seeds did not even load.
set -u
cd "$(dirname "$0")/../.."

BIN=build/fuzz SECS=60 JOBS=1 KEEP=0
while getopts b:t:j:k opt; do
	case $opt in
	b) BIN=$OPTARG ;;
	t) SECS=$OPTARG ;;
	j) JOBS=$OPTARG ;;
	k) KEEP=1 ;;
	*) sed -n '4,10p' "$0" | sed 's/^# //'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		t=${f##*/fuzz_}
		targets+=("${t%.c}")
	done
fi
WORK=$(mktemp -d /tmp/tlsaudit-fuzz.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ARTIFACTS=${ARTIFACTS:-$WORK/artifacts}

# one NAME - run fuzz_NAME, write its summary line to $WORK/NAME.sum; 1 on failure.
one() {
	local name=$1 bin=$BIN/fuzz_$1 seeds=tests/fuzz/corpus/$1 work log rc runs cov ft
	local eps rss n
	work=$WORK/corpus-$name
	[ "$KEEP" = 1 ] && work=$BIN/corpus-$name
	log=$WORK/$name.log
	if [ ! -x "$bin" ]; then
		echo "fuzz_$name: FAILED: $bin not built (make fuzz)" >"$WORK/$name.sum"
		return 1
	fi
	# New inputs go to the scratch copy: the committed seeds stay as they are. An entry
	# without seeds starts from nothing (libFuzzer makes its own).
	mkdir -p "$work" "$ARTIFACTS/$name"
	[ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null
	"$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
		-print_final_stats=1 -artifact_prefix="$ARTIFACTS/$name/" "$work" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
	n=$(find "$work" -type f | wc -l)
	if [ $rc -ne 0 ] || [ -n "$(ls -A "$ARTIFACTS/$name")" ]; then
		{
			echo "fuzz_$name: FAILED (rc=$rc) after ${runs:-?} inputs"
			grep -E 'ERROR|SUMMARY|runtime error|Test unit written|#[0-9]+ ' "$log" |
				head -n 40
			for a in "$ARTIFACTS/$name"/*; do
				[ -f "$a" ] || continue
				echo "input $a:"
				od -An -tx1 "$a" | head -n 20
			done
		} >"$WORK/$name.sum"
		return 1
	fi
	if [ "${runs:-0}" -lt 100 ]; then
		echo "fuzz_$name: FAILED: ran only ${runs:-0} inputs" >"$WORK/$name.sum"
		return 1
	fi
	printf 'fuzz_%-8s %10s execs %6s s %8s exec/s  cov %5s  ft %6s  corpus %5s  rss %4s MB\n' \
		"$name" "$runs" "$SECS" "$eps" "${cov:-?}" "${ft:-?}" "$n" "${rss:-?}" \
		>"$WORK/$name.sum"
}

fail=0
pids=()
names=()
for name in "${targets[@]}"; do
	one "$name" &
	pids+=($!)
	names+=("$name")
	if [ ${#pids[@]} -ge "$JOBS" ]; then
		wait "${pids[0]}" || fail=1
		pids=("${pids[@]:1}")
	fi
done
for p in "${pids[@]}"; do
	wait "$p" || fail=1
done
for name in "${names[@]}"; do
	cat "$WORK/$name.sum"
done
if [ $fail -ne 0 ]; then
	# The failing inputs outlive the scratch directory.
	dest=$(dirname "$BIN")/fuzz-artifacts
	mkdir -p "$dest" && cp -r "$ARTIFACTS"/. "$dest"/ 2>/dev/null
	echo "failing inputs copied to $dest/"
fi
exit $fail

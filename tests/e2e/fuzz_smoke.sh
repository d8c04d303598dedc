#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Builds the libFuzzer entries (make fuzz) and runs each one for a short while on the
# seed corpus in tests/fuzz/corpus. Any crash, sanitizer report, leak or timeout fails
# the test; the crashing input is printed. FUZZ_SECONDS (default 20) sets the time per
# fuzzer, cut so that the whole test stays under 90 s after a cold build.
source "$(dirname "$0")/../lib/common.sh"

SECS=${FUZZ_SECONDS:-20}
CLANG_BIN=$(sed -n 's/^CLANG := //p' "$TOP/config.mk" 2>/dev/null)
CLANG_BIN=${CLANG_BIN:-clang}
command -v "$CLANG_BIN" >/dev/null || skip "clang not installed"

# libFuzzer's runtime ships separately from the compiler (libclang-rt-14-dev).
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)
{ (void)d; (void)n; return 0; }' >"$TEST_TMP/probe.c"
"$CLANG_BIN" -fsanitize=fuzzer -o "$TEST_TMP/probe" "$TEST_TMP/probe.c" >/dev/null 2>&1 ||
	skip "clang has no libFuzzer runtime (package libclang-rt-14-dev)"

targets=(tls flow decode cert)
make -C "$TOP" -s -j2 fuzz >"$TEST_TMP/build.log" 2>&1 || {
	cat "$TEST_TMP/build.log"
	fail "make fuzz"
}
# A cold build eats into the 90 s the whole test may take: shorten the runs to match.
left=$(((85 - SECONDS) / ${#targets[@]}))
[ "$left" -lt "$SECS" ] && SECS=$((left > 5 ? left : 5))

for name in "${targets[@]}"; do
	bin=$TOP/build/fuzz/fuzz_$name
	seeds=$TOP/tests/fuzz/corpus/$name
	[ -x "$bin" ] || fail "$bin was not built"
	[ -n "$(ls -A "$seeds" 2>/dev/null)" ] || fail "no seeds in $seeds"
	# New inputs go to a scratch copy: the committed seeds stay as they are.
	work=$TEST_TMP/corpus-$name
	mkdir -p "$work" "$TEST_TMP/art-$name"
	cp "$seeds"/* "$work"/
	log=$TEST_TMP/$name.log
	"$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
		-artifact_prefix="$TEST_TMP/art-$name/" "$work" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ $rc -ne 0 ] || [ -n "$(ls -A "$TEST_TMP/art-$name")" ]; then
		grep -E 'ERROR|SUMMARY|runtime error|Test unit written|#0 |#1 |#2 |#3 ' "$log" |
			head -n 40
		for a in "$TEST_TMP/art-$name"/*; do
			[ -f "$a" ] && { echo "input ${a##*/}:"; od -An -tx1 "$a" | head -n 20; }
		done
		fail "fuzz_$name crashed (rc=$rc)"
	fi
	# A fuzzer that ran nothing proves nothing: the seeds must at least have loaded.
	[ "${runs:-0}" -gt 100 ] || fail "fuzz_$name ran only ${runs:-0} inputs"
	echo "fuzz_$name: $runs inputs in ${SECS}s, no crash"
done

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Builds every libFuzzer entry (make fuzz) and runs each for a short while on its seeds
# in tests/fuzz/corpus, two at a time (tests/fuzz/run.sh). Any crash, sanitizer report,
# leak, timeout or out-of-memory fails the test, and the input is printed. The whole
# test stays under about 90 s after a cold build: FUZZ_SECONDS (default: what is left
# of 80 s after the build, shared between the entries, at least 5) sets the time per
# entry. `make fuzz-run` runs them longer.
source "$(dirname "$0")/../lib/common.sh"

CLANG_BIN=$(sed -n 's/^CLANG := //p' "$TOP/config.mk" 2>/dev/null)
CLANG_BIN=${CLANG_BIN:-clang}
command -v "$CLANG_BIN" >/dev/null || skip "clang not installed"

# libFuzzer's runtime ships separately from the compiler (libclang-rt-14-dev).
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)
{ (void)d; (void)n; return 0; }' >"$TEST_TMP/probe.c"
"$CLANG_BIN" -fsanitize=fuzzer -o "$TEST_TMP/probe" "$TEST_TMP/probe.c" >/dev/null 2>&1 ||
	skip "clang has no libFuzzer runtime (package libclang-rt-14-dev)"

# The build directory of the binary under test ($TLSAUDIT), as tests/run.sh gives it.
build=$(dirname "$TLSAUDIT")
build=${build#"$TOP"/}
make -C "$TOP" -s -j2 BUILD="$build" fuzz >"$TEST_TMP/build.log" 2>&1 || {
	cat "$TEST_TMP/build.log"
	fail "make fuzz"
}
targets=()
for f in "$TOP"/tests/fuzz/fuzz_*.c; do
	t=${f##*/fuzz_}
	targets+=("${t%.c}")
done
rounds=$(((${#targets[@]} + 1) / 2))
secs=${FUZZ_SECONDS:-$(((80 - SECONDS) / rounds))}
[ "$secs" -lt 5 ] && secs=5
echo "make fuzz: ${SECONDS}s; ${#targets[@]} entries, ${secs}s each, two at a time"
"$TOP/tests/fuzz/run.sh" -b "$TOP/$build/fuzz" -t "$secs" -j 2 "${targets[@]}" ||
	fail "a fuzz entry failed"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs the test suites: tests/run.sh [unit|bpf|e2e]... (default: all of them).
#   unit  build/tests/test_*      cmocka unit tests (built with ASan and UBSan)
#   bpf   build/tests/test_bpf_*  the real BPF programs, driven with bpf_prog_test_run
#   e2e   tests/e2e/*.sh          real TLS peers in network namespaces
#
# A test that cannot run here (not root, no BTF, ...) exits 249 and is reported as
# skipped; a cmocka test that calls skip() prints SKIPPED. Under CI=true either is a
# failure: the CI machine can run everything.
#
# Every test runs under a timeout (TEST_TIMEOUT, default 300 s; a test script may raise
# its own with a line "# timeout: SECS"): a hang is a failure, never a stalled suite.
#
# The end-to-end tests run $BUILD/tlsaudit-san (ASan+UBSan) when it is built (make
# check builds it), $TLSAUDIT when set; TLSAUDIT_REL is the release binary for the
# tests that check how it was built. A sanitizer report from any process of a test
# (daemons in the background included) fails that test: the reports go to files
# (ASAN_OPTIONS/UBSAN_OPTIONS log_path), which are checked after each test.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

SKIP=249
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
if [ -z "${TLSAUDIT:-}" ] && [ -x "$BUILD/tlsaudit-san" ]; then
	export TLSAUDIT=$PWD/$BUILD/tlsaudit-san
fi
export TLSAUDIT=${TLSAUDIT:-$PWD/$BUILD/tlsaudit}
export TLSAUDIT_REL=${TLSAUDIT_REL:-$PWD/$BUILD/tlsaudit}
SAN_LOGS=$(mktemp -d /tmp/tlsaudit-san.XXXXXX)
trap 'rm -rf "$SAN_LOGS"' EXIT
# LSan needs no ptrace permission of its own here: the daemon keeps CAP_SYS_PTRACE, and
# a process that dropped it is still its own tracer's parent (PR_SET_PTRACER).
export ASAN_OPTIONS="log_path=$SAN_LOGS/asan:detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="log_path=$SAN_LOGS/ubsan:print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
# The peers and helper scripts come from Debian packages (python3-yaml, ...): use the
# system's interpreters even where a user-level python3 shadows them in PATH.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(unit bpf e2e)
pass=0 fail=0 skip=0
failed=()

# timeout_of FILE - the test's own "# timeout: SECS" line, else TEST_TIMEOUT.
timeout_of() {
	local t=""
	[ -f "$1" ] && t=$(sed -n 's/^# timeout: \([0-9]\+\)$/\1/p' "$1" | head -n 1)
	echo "${t:-$TEST_TIMEOUT}"
}

run_one() {
	local name=$1 limit=$2
	shift 2
	local log skipped=0
	log=$(mktemp)
	local start=$SECONDS
	rm -f "$SAN_LOGS"/*
	# timeout signals the test's whole process group (its daemons and peers too); the
	# test's EXIT trap still cleans up, and KILL follows 10 s later if it does not.
	timeout --kill-after=10 "$limit" "$@" </dev/null >"$log" 2>&1
	local rc=$?
	local secs=$((SECONDS - start))
	# cmocka's skip() passes the binary; its summary says "[  SKIPPED ] N test(s)".
	skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9]\+\) test(s).*/\1/p' "$log" | head -n 1)
	skipped=${skipped:-0}
	local san
	san=$(ls -A "$SAN_LOGS")
	if [ $rc -eq 0 ] && [ -z "$san" ] && { [ "$skipped" -eq 0 ] || [ "${CI:-}" != true ]; }; then
		if [ "$skipped" -gt 0 ]; then
			printf '  PASS  %-40s %3ds (%d case(s) skipped)\n' "$name" "$secs" "$skipped"
		else
			printf '  PASS  %-40s %3ds\n' "$name" "$secs"
		fi
		pass=$((pass + 1))
	elif [ $rc -eq $SKIP ] && [ -z "$san" ] && [ "${CI:-}" != true ]; then
		printf '  SKIP  %-40s %s\n' "$name" "$(tail -n 1 "$log")"
		skip=$((skip + 1))
	else
		[ $rc -eq $SKIP ] && echo "  (skipped under CI=true counts as a failure)"
		[ $rc -eq 0 ] && [ "$skipped" -gt 0 ] &&
			echo "  ($skipped cmocka case(s) skipped under CI=true count as a failure)"
		[ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "  (timed out after ${limit}s)"
		printf '  FAIL  %-40s rc=%d %3ds\n' "$name" "$rc" "$secs"
		sed 's/^/        | /' "$log" | tail -n 60
		if [ -n "$san" ]; then
			echo "        sanitizer reports:"
			cat "$SAN_LOGS"/* | sed 's/^/        | /' | head -n 80
		fi
		fail=$((fail + 1))
		failed+=("$name")
	fi
	rm -f "$log"
}

for suite in "${suites[@]}"; do
	case $suite in
	unit)
		echo "unit tests"
		for t in "$BUILD"/tests/test_*; do
			[ -x "$t" ] || continue
			case ${t##*/} in test_bpf_*) continue ;; esac
			run_one "${t##*/}" "$TEST_TIMEOUT" "$t"
		done
		;;
	bpf)
		echo "BPF tests"
		for t in "$BUILD"/tests/test_bpf_*; do
			[ -x "$t" ] || continue
			run_one "${t##*/}" "$TEST_TIMEOUT" "$t"
		done
		;;
	e2e)
		echo "end-to-end tests (${TLSAUDIT#"$PWD"/})"
		for t in tests/e2e/*.sh; do
			[ -f "$t" ] || continue
			run_one "${t##*/}" "$(timeout_of "$t")" bash "$t"
		done
		;;
	*) echo "run.sh: unknown suite '$suite'" >&2; exit 2 ;;
	esac
done

echo "passed $pass, failed $fail, skipped $skip"
[ $fail -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }

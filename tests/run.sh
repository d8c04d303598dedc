#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs the test suites: tests/run.sh [unit|bpf|e2e]... (default: all of them).
#   unit  build/tests/test_*      cmocka unit tests (built with ASan and UBSan)
#   bpf   build/tests/test_bpf_*  the real BPF programs, driven with bpf_prog_test_run
#   e2e   tests/e2e/*.sh          real TLS peers in network namespaces
#
# A test that cannot run here (not root, no BTF, ...) exits 249 and is reported as
# skipped. Under CI=true a skip is a failure: the CI machine can run everything.
set -u
cd "$(dirname "$0")/.."

SKIP=249
# The peers and helper scripts come from Debian packages (python3-yaml, ...): use the
# system's interpreters even where a user-level python3 shadows them in PATH.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(unit bpf e2e)
pass=0 fail=0 skip=0
failed=()

run_one() {
	local name=$1; shift
	local log
	log=$(mktemp)
	local start=$SECONDS
	"$@" >"$log" 2>&1
	local rc=$?
	local secs=$((SECONDS - start))
	if [ $rc -eq 0 ]; then
		printf '  PASS  %-40s %3ds\n' "$name" "$secs"
		pass=$((pass + 1))
	elif [ $rc -eq $SKIP ] && [ "${CI:-}" != true ]; then
		printf '  SKIP  %-40s %s\n' "$name" "$(tail -n 1 "$log")"
		skip=$((skip + 1))
	else
		[ $rc -eq $SKIP ] && echo "  (skipped under CI=true counts as a failure)"
		printf '  FAIL  %-40s rc=%d\n' "$name" "$rc"
		sed 's/^/        | /' "$log" | tail -n 60
		fail=$((fail + 1))
		failed+=("$name")
	fi
	rm -f "$log"
}

for suite in "${suites[@]}"; do
	case $suite in
	unit)
		echo "unit tests"
		for t in build/tests/test_*; do
			[ -x "$t" ] || continue
			case ${t##*/} in test_bpf_*) continue ;; esac
			run_one "${t##*/}" "$t"
		done
		;;
	bpf)
		echo "BPF tests"
		for t in build/tests/test_bpf_*; do
			[ -x "$t" ] || continue
			run_one "${t##*/}" "$t"
		done
		;;
	e2e)
		echo "end-to-end tests"
		for t in tests/e2e/*.sh; do
			[ -f "$t" ] || continue
			run_one "${t##*/}" bash "$t"
		done
		;;
	*) echo "run.sh: unknown suite '$suite'" >&2; exit 2 ;;
	esac
done

echo "passed $pass, failed $fail, skipped $skip"
[ $fail -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }

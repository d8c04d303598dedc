#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build dependencies: a change to the header shared by the kernel and userspace side
# rebuilds the BPF object, its skeleton and every userspace object that includes it, so
# the two sides can never disagree on a struct's layout. `make -n -W FILE` asks make what
# it would do if FILE had changed, without touching the tree.
source "$(dirname "$0")/../lib/common.sh"
cd "$TOP" || fail "cd $TOP"

[ -f config.mk ] || skip "not configured (run make first)"
plan=$(make -n -W include/tlsaudit/bpf_shared.h all 2>&1) || fail "make -n failed: $plan"
grep -q -- '-target bpf' <<<"$plan" && grep -q -- '-c bpf/tlsaudit.bpf.c' <<<"$plan" ||
	fail "editing bpf_shared.h would not rebuild the BPF object:
$plan"
grep -q 'gen skeleton' <<<"$plan" ||
	fail "editing bpf_shared.h would not regenerate the skeleton"
grep -q 'src/capture/bpf.c' <<<"$plan" ||
	fail "editing bpf_shared.h would not rebuild src/capture/bpf.c"

# Test binaries follow their headers too.
plan=$(make -n -W include/tlsaudit/record.h build/tests/test_agg 2>&1) ||
	fail "make -n failed: $plan"
grep -q 'tests/unit/test_agg.c' <<<"$plan" ||
	fail "editing record.h would not rebuild build/tests/test_agg"
echo "ok: BPF object, skeleton, userspace and test binaries follow their headers"

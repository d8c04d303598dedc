/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the BPF tests share: they load the real programs, which needs root and kernel
 * BTF; without them a test exits SKIP_CODE (tests/run.sh counts that as a failure under
 * CI=true, where both are there).
 */
#ifndef TLSAUDIT_BPF_TEST_H
#define TLSAUDIT_BPF_TEST_H

#include <stddef.h>
#include <unistd.h>

#define SKIP_CODE 249

/* bpf_test_unable - why the programs cannot be loaded here, or NULL when they can. */
static inline const char *bpf_test_unable(void)
{
	if (geteuid() != 0)
		return "needs root to load BPF programs";
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return "no kernel BTF at /sys/kernel/btf/vmlinux";
	return NULL;
}

#endif /* TLSAUDIT_BPF_TEST_H */

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Between policy.c (parser, judge) and policy_builtin.c (the published profiles):
 * a built-in profile is a constant spec that tls_policy_set_init() compiles into a
 * struct tls_policy, the same way config lines would.
 */
#ifndef TLSAUDIT_POLICY_INT_H
#define TLSAUDIT_POLICY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tlsaudit/policy.h"

struct policy_codes {
	const uint16_t *v;
	size_t n;
};

struct policy_spec {
	const char *name;
	uint16_t min_version, max_version;
	struct policy_codes suites12; /* .v NULL: not checked */
	struct policy_codes suites13;
	struct policy_codes groups;
	bool require_ems;
	uint16_t min_rsa_bits, min_ec_bits;
	uint16_t cert_keys;	      /* 0: not checked */
	const char *const *cert_sigs; /* NULL-terminated signature names, NULL: not checked */
	uint8_t forbid_hash;
};

#define POLICY_BIT(x) (1u << (x))

const struct policy_spec *policy_builtin_spec(size_t i);

#endif /* TLSAUDIT_POLICY_INT_H */

// SPDX-License-Identifier: GPL-2.0-only
/*
 * The structs in include/tlsaudit/bpf_shared.h are read by two compilers (clang -target
 * bpf and the host compiler): their sizes and every field offset are pinned here, so a
 * field added without explicit padding fails the build's tests, not a live capture.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tlsaudit/bpf_shared.h"

#define OFF(type, field, want) assert_int_equal(offsetof(struct type, field), want)

static void test_hdr(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct ta_hdr), 24);
	OFF(ta_hdr, type, 0);
	OFF(ta_hdr, pad, 4);
	OFF(ta_hdr, cookie, 8);
	OFF(ta_hdr, ktime_ns, 16);
}

static void test_data(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct ta_data), 80);
	OFF(ta_data, hdr, 0);
	OFF(ta_data, family, 24);
	OFF(ta_data, egress, 25);
	OFF(ta_data, tcp_flags, 26);
	OFF(ta_data, pad0, 27);
	OFF(ta_data, sport, 28);
	OFF(ta_data, dport, 30);
	OFF(ta_data, seq, 32);
	OFF(ta_data, len, 36);
	OFF(ta_data, saddr, 40);
	OFF(ta_data, daddr, 56);
	OFF(ta_data, ack, 72);
	OFF(ta_data, pad1, 76);
	/* The payload follows at a multiple of 8: no implicit tail padding. */
	assert_int_equal(sizeof(struct ta_data) % 8, 0);
	assert_int_equal(TA_DATA_MAX, 80 + TA_CHUNK);
}

static void test_owner(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct ta_owner), 64);
	OFF(ta_owner, hdr, 0);
	OFF(ta_owner, tgid, 24);
	OFF(ta_owner, pid, 28);
	OFF(ta_owner, uid, 32);
	OFF(ta_owner, pad0, 36);
	OFF(ta_owner, cgroup_id, 40);
	OFF(ta_owner, comm, 48);

	assert_int_equal(sizeof(struct ta_owner_val), 40);
	OFF(ta_owner_val, tgid, 0);
	OFF(ta_owner_val, pid, 4);
	OFF(ta_owner_val, uid, 8);
	OFF(ta_owner_val, pad0, 12);
	OFF(ta_owner_val, cgroup_id, 16);
	OFF(ta_owner_val, comm, 24);
}

static void test_flow_val(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct ta_flow_val), 16);
	OFF(ta_flow_val, sent, 0);
	OFF(ta_flow_val, done, 8);
	OFF(ta_flow_val, pad0, 9);
}

static void test_constants(void **state)
{
	(void)state;
	/* One packet of a 64 KiB GSO segment must fit in the bounded chunk loop. */
	assert_true((uint64_t)TA_CHUNK * TA_MAX_CHUNKS >= 65536);
	assert_int_equal(TA_DROP_NR, 4);
	assert_int_equal(TA_EV_DATA, 1);
	assert_int_equal(TA_EV_OWNER, 2);
	assert_int_equal(TA_EV_CLOSE, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hdr),	 cmocka_unit_test(test_data),
		cmocka_unit_test(test_owner),	 cmocka_unit_test(test_flow_val),
		cmocka_unit_test(test_constants),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * sock_diag reply parsing: a well-formed answer gives the socket inode; every truncation,
 * bad nlmsg_len, stray trailing byte, foreign sequence number and kernel error is
 * reported as an error, never read past the bytes received.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "../../src/attrib/owner.c"

#define SEQ 77

struct reply {
	uint8_t buf[512];
	size_t len;
};

static void add_msg(struct reply *r, uint16_t type, uint32_t seq, const void *payload,
		    size_t plen)
{
	struct nlmsghdr nh = {
		.nlmsg_len = (uint32_t)NLMSG_LENGTH(plen),
		.nlmsg_type = type,
		.nlmsg_seq = seq,
	};

	assert_true(r->len + NLMSG_SPACE(plen) <= sizeof(r->buf));
	memcpy(r->buf + r->len, &nh, sizeof(nh));
	memcpy(r->buf + r->len + NLMSG_HDRLEN, payload, plen);
	r->len += NLMSG_SPACE(plen);
}

static void add_diag(struct reply *r, uint32_t seq, uint32_t inode)
{
	struct inet_diag_msg msg;

	memset(&msg, 0, sizeof(msg));
	msg.idiag_family = AF_INET;
	msg.idiag_state = 1; /* TCP_ESTABLISHED */
	msg.idiag_uid = 1000;
	msg.idiag_inode = inode;
	add_msg(r, SOCK_DIAG_BY_FAMILY, seq, &msg, sizeof(msg));
}

static void test_valid_reply(void **state)
{
	struct reply r = { .len = 0 };
	uint64_t inode = 0;

	(void)state;
	add_diag(&r, SEQ, 123456);
	assert_int_equal(parse_reply(r.buf, r.len, SEQ, &inode), 0);
	assert_int_equal(inode, 123456);
}

/* Every prefix of a valid reply is an error and reads nothing beyond it. */
static void test_every_prefix(void **state)
{
	struct reply r = { .len = 0 };
	uint64_t inode;
	uint8_t *copy;
	size_t n;
	int err;

	(void)state;
	add_diag(&r, SEQ, 42);
	for (n = 0; n < r.len; n++) {
		/* An exact-size heap copy, so ASan sees any read past the end. */
		copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, r.buf, n);
		inode = 0;
		err = parse_reply(copy, n, SEQ, &inode);
		free(copy);
		if (n == 0)
			assert_int_equal(err, -ENOENT);
		else
			assert_int_equal(err, -EBADMSG);
		assert_int_equal(inode, 0);
	}
}

/* nlmsg_len shifted by -4..+4 around a valid message. */
static void test_bad_lengths(void **state)
{
	struct reply r;
	struct nlmsghdr nh;
	uint64_t inode;
	int delta, err;

	(void)state;
	for (delta = -4; delta <= 4; delta++) {
		r.len = 0;
		add_diag(&r, SEQ, 42);
		memcpy(&nh, r.buf, sizeof(nh));
		nh.nlmsg_len = (uint32_t)((int)nh.nlmsg_len + delta);
		memcpy(r.buf, &nh, sizeof(nh));
		inode = 0;
		err = parse_reply(r.buf, r.len, SEQ, &inode);
		if (delta == 0) {
			assert_int_equal(err, 0);
			assert_int_equal(inode, 42);
		} else {
			/* longer: past the datagram; shorter: too short for inet_diag_msg */
			assert_int_equal(err, -EBADMSG);
		}
	}
	/* A length below the header itself can never advance the walk. */
	for (nh.nlmsg_len = 0; nh.nlmsg_len < sizeof(nh); nh.nlmsg_len++) {
		memcpy(r.buf, &nh, sizeof(nh));
		assert_int_equal(parse_reply(r.buf, r.len, SEQ, &inode), -EBADMSG);
	}
	nh.nlmsg_len = UINT32_MAX;
	memcpy(r.buf, &nh, sizeof(nh));
	assert_int_equal(parse_reply(r.buf, r.len, SEQ, &inode), -EBADMSG);
}

static void test_trailing_bytes(void **state)
{
	struct reply r = { .len = 0 };
	uint64_t inode = 0;
	size_t extra;

	(void)state;
	/* A reply for another request first, then ours: ours is found. */
	add_diag(&r, SEQ + 1, 7);
	add_diag(&r, SEQ, 8);
	assert_int_equal(parse_reply(r.buf, r.len, SEQ, &inode), 0);
	assert_int_equal(inode, 8);

	/* Bytes after the last message that do not form a header are rejected. */
	r.len = 0;
	add_diag(&r, SEQ + 1, 7);
	for (extra = 1; extra < sizeof(struct nlmsghdr); extra++) {
		memset(r.buf + r.len, 0xaa, extra);
		assert_int_equal(parse_reply(r.buf, r.len + extra, SEQ, &inode), -EBADMSG);
	}
}

static void test_errors(void **state)
{
	struct reply r = { .len = 0 };
	struct nlmsgerr e;
	uint64_t inode = 0;
	struct inet_diag_msg tw;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.error = -ENOENT;
	add_msg(&r, NLMSG_ERROR, SEQ, &e, sizeof(e));
	assert_int_equal(parse_reply(r.buf, r.len, SEQ, &inode), -ENOENT);

	r.len = 0;
	e.error = -EPERM;
	add_msg(&r, NLMSG_ERROR, SEQ, &e, sizeof(e));
	assert_int_equal(parse_reply(r.buf, r.len, SEQ, &inode), -EPERM);

	/* Out-of-range error values are malformed, not errnos. */
	r.len = 0;
	e.error = 5;
	add_msg(&r, NLMSG_ERROR, SEQ, &e, sizeof(e));
	assert_int_equal(parse_reply(r.buf, r.len, SEQ, &inode), -EBADMSG);
	r.len = 0;
	e.error = -100000;
	add_msg(&r, NLMSG_ERROR, SEQ, &e, sizeof(e));
	assert_int_equal(parse_reply(r.buf, r.len, SEQ, &inode), -EBADMSG);

	/* An error header cut before its error code */
	r.len = 0;
	add_msg(&r, NLMSG_ERROR, SEQ, &e, 2);
	assert_int_equal(parse_reply(r.buf, r.len, SEQ, &inode), -EBADMSG);

	/* A TIME_WAIT socket: found, but no inode and so no owner */
	r.len = 0;
	memset(&tw, 0, sizeof(tw));
	add_msg(&r, SOCK_DIAG_BY_FAMILY, SEQ, &tw, sizeof(tw));
	assert_int_equal(parse_reply(r.buf, r.len, SEQ, &inode), -ENOENT);

	/* Only other requests' replies, or DONE */
	r.len = 0;
	add_diag(&r, SEQ + 5, 9);
	assert_int_equal(parse_reply(r.buf, r.len, SEQ, &inode), -ENOENT);
	add_msg(&r, NLMSG_DONE, SEQ, &e, sizeof(int));
	assert_int_equal(parse_reply(r.buf, r.len, SEQ, &inode), -ENOENT);
}

/* Random bytes, seed logged: never a crash, never an inode from a short message. */
static void test_random(void **state)
{
	unsigned int seed = (unsigned int)time(NULL);
	struct reply r;
	uint64_t inode;
	size_t i;
	int round;

	(void)state;
	print_message("seed %u\n", seed);
	srand(seed);
	for (round = 0; round < 20000; round++) {
		r.len = 0;
		add_diag(&r, SEQ, 42);
		for (i = 0; i < 1 + (size_t)(rand() % 4); i++)
			r.buf[(size_t)rand() % r.len] = (uint8_t)rand();
		parse_reply(r.buf, (size_t)rand() % (r.len + 1), SEQ, &inode);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_reply),  cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_bad_lengths),  cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_errors),	     cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

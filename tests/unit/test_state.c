// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state file: counters survive a save/load round trip and add up across restarts;
 * the file is replaced atomically; truncated, bit-flipped, garbage and hand-crafted
 * hostile files (valid checksum, lying lengths) are refused with a reason, never crash,
 * and leave the live counters untouched; a bad file is moved aside; the temp files of
 * writes a crash interrupted are gone after the next load.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "tlsaudit/agg.h"
#include "tlsaudit/util.h"

#define SEC 1000000000ULL

static char dir[64];

static struct agg *filled(void)
{
	struct agg *a = agg__new(16, 4);
	struct hs_record r;
	int i;

	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * SEC;
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", r.server.addr);
	r.server.port = 587;
	r.version = TLS_V_10;
	r.offered_max = TLS_V_10;
	r.proc.known = true;
	r.proc.pid = 77;
	util_strlcpy(r.proc.exe, "/usr/lib/postfix/sbin/smtp", sizeof(r.proc.exe));
	util_strlcpy(r.proc.unit, "postfix@-.service", sizeof(r.proc.unit));
	util_strlcpy(r.proc.comm, "smtp", sizeof(r.proc.comm));
	util_strlcpy(r.proc.tls_lib, "libssl.so.1.1", sizeof(r.proc.tls_lib));
	util_strlcpy(r.sni, "mx.example.test", sizeof(r.sni));
	for (i = 0; i < 3; i++)
		agg__add(a, &r, r.time_ns);
	r.version = TLS_V_13;
	r.offered_max = TLS_V_13;
	r.role = HS_ROLE_SERVER;
	agg__add(a, &r, r.time_ns);
	r.kind = HS_KIND_PLAINTEXT_SMTP;
	agg__add(a, &r, r.time_ns);
	return a;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tlsaudit-state-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static void test_round_trip(void **state)
{
	struct agg *a = filled(), *b = agg__new(16, 4);
	const struct agg_row *r;
	uint8_t *buf;
	size_t len;
	char err[256];

	(void)state;
	assert_int_equal(agg__save_buf(a, &buf, &len), 0);
	assert_memory_equal(buf, "TLSAUDST", 8);
	assert_int_equal(agg__load_buf(b, buf, len, err, sizeof(err)), 0);
	assert_int_equal(agg__n_rows(b), 2);
	r = agg__row(b, 0);
	assert_string_equal(r->key.exe, "/usr/lib/postfix/sbin/smtp");
	assert_string_equal(r->key.unit, "postfix@-.service");
	assert_int_equal(r->key.role, HS_ROLE_CLIENT);
	assert_int_equal(r->key.port, 587);
	assert_int_equal(r->versions[AGG_V_TLS10], 3);
	assert_int_equal(r->legacy, 3);
	assert_int_equal(r->limited_client, 3);
	assert_string_equal(r->tls_lib, "libssl.so.1.1");
	assert_string_equal(r->last_sni, "mx.example.test");
	assert_int_equal(r->last_peer.family, AF_INET6);
	assert_int_equal(r->n_peers, 1);
	assert_int_equal(agg__row(b, 1)->plaintext, 1);
	assert_int_equal(agg__totals(b)->handshakes, 4);
	assert_int_equal(agg__totals(b)->legacy, 3);
	free(buf);
	agg__free(a);
	agg__free(b);
}

static void test_file_atomic_and_restart_adds_up(void **state)
{
	struct agg *a = filled(), *b;
	char path[128], err[256];
	struct stat st;
	struct dirent *de;
	DIR *d;
	int files = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/sub/state", dir);
	assert_int_equal(agg__save(a, path, err, sizeof(err)), 0);
	assert_int_equal(agg__save(a, path, err, sizeof(err)), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* No temp files left behind. */
	snprintf(path, sizeof(path), "%s/sub", dir);
	d = opendir(path);
	while ((de = readdir(d)))
		files += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 1);

	/* A restarted daemon loads the counters and keeps counting on top of them. */
	snprintf(path, sizeof(path), "%s/sub/state", dir);
	b = filled();
	assert_int_equal(agg__load(b, path, err, sizeof(err)), 0);
	assert_int_equal(agg__n_rows(b), 2);
	assert_int_equal(agg__row(b, 0)->versions[AGG_V_TLS10], 6);
	assert_int_equal(agg__row(b, 0)->limited_client, 6);
	assert_int_equal(agg__totals(b)->handshakes, 8);

	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(agg__load(b, path, err, sizeof(err)), -ENOENT);
	agg__free(a);
	agg__free(b);
}

static void expect_bad(const uint8_t *buf, size_t len, const char *why)
{
	struct agg *b = agg__new(16, 4);
	char err[256] = "";

	assert_int_equal(agg__load_buf(b, buf, len, err, sizeof(err)), -EBADMSG);
	if (why && !strstr(err, why))
		fail_msg("got '%s', want '%s'", err, why);
	assert_int_equal(agg__n_rows(b), 0);
	agg__free(b);
}

static void test_truncated_and_flipped(void **state)
{
	struct agg *a = filled();
	uint8_t *buf;
	size_t len, i;
	unsigned int seed = (unsigned int)time(NULL);
	int bit;

	(void)state;
	assert_int_equal(agg__save_buf(a, &buf, &len), 0);
	for (i = 0; i < len; i++)
		expect_bad(buf, i, NULL);
	expect_bad(buf, 10, "truncated header");
	expect_bad(buf, len - 1, "truncated");
	/* Every single-bit flip is caught (the CRC covers header and payload). */
	print_message("bit flip seed %u\n", seed);
	srand(seed);
	for (i = 0; i < len; i++) {
		bit = rand() % 8;
		buf[i] ^= (uint8_t)(1u << bit);
		expect_bad(buf, len, NULL);
		buf[i] ^= (uint8_t)(1u << bit);
	}
	buf[0] = 'X';
	expect_bad(buf, len, "bad magic");
	free(buf);
	agg__free(a);
}

static void test_garbage(void **state)
{
	uint8_t junk[4096];
	unsigned int seed = (unsigned int)time(NULL);
	size_t i;
	int round;

	(void)state;
	print_message("garbage seed %u\n", seed);
	srand(seed);
	for (round = 0; round < 200; round++) {
		for (i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)rand();
		if (round % 2)
			memcpy(junk, "TLSAUDST\0\0\0\1", 12);
		expect_bad(junk, (size_t)rand() % sizeof(junk), NULL);
	}
}

/* craft - a file around @raw with a valid header and checksum: only the payload lies. */
static size_t craft(const uint8_t *raw, size_t raw_len, uint32_t claim_raw, uint8_t *out,
		    size_t cap)
{
	uLongf clen = cap - 24;
	uint32_t crc, v;

	assert_int_equal(compress2(out + 24, &clen, raw, raw_len, 6), Z_OK);
	memcpy(out, "TLSAUDST", 8);
	v = htonl(1);
	memcpy(out + 8, &v, 4);
	v = htonl(claim_raw);
	memcpy(out + 12, &v, 4);
	v = htonl((uint32_t)clen);
	memcpy(out + 16, &v, 4);
	crc = (uint32_t)crc32(crc32(0L, out, 20), out + 24, (uInt)clen);
	v = htonl(crc);
	memcpy(out + 20, &v, 4);
	return 24 + clen;
}

static void test_hostile_payloads(void **state)
{
	struct agg *a = filled();
	uint8_t raw[8192], file[16384], *good;
	size_t n, glen;
	uLongf rlen = sizeof(raw);

	(void)state;
	/* Recover a genuine payload to mutate. */
	assert_int_equal(agg__save_buf(a, &good, &glen), 0);
	assert_int_equal(uncompress(raw, &rlen, good + 24, glen - 24), Z_OK);

	/* A row count far beyond what the payload can hold. */
	raw[8] = 0x7f;
	n = craft(raw, rlen, (uint32_t)rlen, file, sizeof(file));
	expect_bad(file, n, "row count larger than the payload");
	raw[8] = 0;

	/* The first string (exe) claims 0xffff bytes. */
	raw[12] = 0xff;
	raw[13] = 0xff;
	n = craft(raw, rlen, (uint32_t)rlen, file, sizeof(file));
	expect_bad(file, n, "bad string field");
	raw[12] = 0;
	raw[13] = 26;

	/* The stated length disagrees with what inflates. */
	n = craft(raw, rlen, (uint32_t)rlen + 1, file, sizeof(file));
	expect_bad(file, n, "does not inflate to its stated length");
	n = craft(raw, rlen, 0x7fffffff, file, sizeof(file));
	expect_bad(file, n, "implausible payload length");

	/* Trailing bytes after the rows. */
	raw[rlen] = 0;
	n = craft(raw, rlen + 1, (uint32_t)rlen + 1, file, sizeof(file));
	expect_bad(file, n, "trailing bytes after the rows");

	/* The untouched payload still loads: the mutations were the only problem. */
	n = craft(raw, rlen, (uint32_t)rlen, file, sizeof(file));
	{
		struct agg *b = agg__new(16, 4);
		char err[256];

		assert_int_equal(agg__load_buf(b, file, n, err, sizeof(err)), 0);
		assert_int_equal(agg__n_rows(b), 2);
		agg__free(b);
	}
	free(good);
	agg__free(a);
}

static void test_quarantine(void **state)
{
	struct agg *b = agg__new(16, 4);
	char path[128], moved[256], err[256], want[256];
	struct stat st;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/state", dir);
	f = fopen(path, "w");
	fputs("this is not a state file\n", f);
	fclose(f);
	assert_int_equal(agg__load(b, path, err, sizeof(err)), -EBADMSG);
	snprintf(want, sizeof(want), "%s: not a tlsaudit state file (bad magic)", path);
	assert_string_equal(err, want);
	assert_int_equal(agg_state_quarantine(path, 1795400000ULL * SEC, moved, sizeof(moved)), 0);
	snprintf(want, sizeof(want), "%s/state.corrupt-1795400000", dir);
	assert_string_equal(moved, want);
	assert_int_equal(stat(moved, &st), 0);
	assert_int_not_equal(stat(path, &st), 0);
	agg__free(b);
}

/* count_temps - entries in @d whose name starts with "state.tmp". */
static int count_temps(const char *d)
{
	struct dirent *de;
	DIR *dp = opendir(d);
	int n = 0;

	assert_non_null(dp);
	while ((de = readdir(dp)))
		n += !strncmp(de->d_name, "state.tmp", 9);
	closedir(dp);
	return n;
}

static void touch(const char *d, const char *name)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", d, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
}

/*
 * A daemon killed while it writes its state leaves PATH.tmpXXXXXX behind, one per crash
 * (4 after 30 kills under systemd). The next start's load removes exactly those: not the
 * state itself, not look-alikes with another length or alphabet, not directories or
 * links, not the temp files of another path in the same directory.
 */
static void test_stale_temps_removed(void **state)
{
	struct agg *a = agg__new(65536, 4), *b = agg__new(65536, 4);
	char path[128], link_path[160], err[256];
	struct hs_record r;
	struct stat st;
	unsigned int i;
	pid_t pid;
	int kills, status;

	(void)state;
	snprintf(path, sizeof(path), "%s/state", dir);
	/* Enough rows that a save takes a while, so the kills land inside writes. */
	memset(&r, 0, sizeof(r));
	r.time_ns = 1795400000ULL * SEC;
	r.role = HS_ROLE_CLIENT;
	r.server.family = AF_INET;
	r.version = TLS_V_12;
	r.offered_max = TLS_V_13;
	r.proc.known = true;
	for (i = 0; i < 20000; i++) {
		snprintf(r.proc.exe, sizeof(r.proc.exe), "/usr/bin/client-%u", i);
		r.server.port = (uint16_t)(1 + i % 60000);
		agg__add(a, &r, r.time_ns);
	}
	assert_int_equal(agg__save(a, path, err, sizeof(err)), 0);
	srand((unsigned int)time(NULL));
	for (kills = 0; kills < 30; kills++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			for (;;)
				agg__save(a, path, err, sizeof(err));
		}
		usleep((useconds_t)(rand() % 20000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
	}
	/* And the look-alikes of a crash's leftovers, so none of this rests on timing. */
	touch(dir, "state.tmpAb12Cd");
	touch(dir, "state.tmp000000");
	touch(dir, "state.tmpAb12C");
	touch(dir, "state.tmpAb12Cde");
	touch(dir, "state.tmpAb-2Cd");
	touch(dir, "other.tmpAb12Cd");
	snprintf(link_path, sizeof(link_path), "%s/state.tmpDir123", dir);
	assert_int_equal(mkdir(link_path, 0700), 0);
	snprintf(link_path, sizeof(link_path), "%s/state.tmpLnk123", dir);
	assert_int_equal(symlink("state", link_path), 0);
	print_message("temp files after 30 kills during saves: %d (plus 2 made by hand)\n",
		      count_temps(dir) - 7);

	assert_int_equal(agg__load(b, path, err, sizeof(err)), 0);
	assert_int_equal(agg__n_rows(b), 20000);
	/* Left: the wrong length (2), the wrong alphabet, the directory and the link. */
	assert_int_equal(count_temps(dir), 5);
	snprintf(link_path, sizeof(link_path), "%s/state.tmpAb12Cd", dir);
	assert_int_not_equal(stat(link_path, &st), 0);
	snprintf(link_path, sizeof(link_path), "%s/other.tmpAb12Cd", dir);
	assert_int_equal(stat(link_path, &st), 0);
	snprintf(link_path, sizeof(link_path), "%s/state.tmpLnk123", dir);
	assert_int_equal(lstat(link_path, &st), 0);
	assert_int_equal(stat(path, &st), 0);

	/* No state file yet, or no directory at all: nothing to clean, no error. */
	snprintf(path, sizeof(path), "%s/none/state", dir);
	assert_int_equal(agg__load(b, path, err, sizeof(err)), -ENOENT);
	agg__free(a);
	agg__free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test_setup_teardown(test_file_atomic_and_restart_adds_up, setup,
						teardown),
		cmocka_unit_test(test_truncated_and_flipped),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_hostile_payloads),
		cmocka_unit_test_setup_teardown(test_quarantine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_temps_removed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

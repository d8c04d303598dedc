// SPDX-License-Identifier: GPL-2.0-only
/*
 * Control socket: the request reader against hostile input (every prefix, deep nesting,
 * arrays, huge numbers, bad escapes, random bytes), and the server against real clients
 * on a real socket: replies and framing, a 4 KiB request limit, bad JSON answered
 * without dropping the connection, the client cap, stale sockets and mode 0660, and who
 * gets in: root, the daemon's user, and members of its group by the credentials the
 * kernel kept with the connection, never by a user database lookup.
 *
 * The server's source is included, so the test can set the group it admits.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tlsaudit/ctl.h"
#include "tlsaudit/util.h"

#include "../../src/ctl/server.c"

static struct ctl_json j;

static int parse(const char *s)
{
	return ctl_json_parse((const uint8_t *)s, strlen(s), &j);
}

static void test_json_request(void **state)
{
	(void)state;
	assert_int_equal(parse(" {\"cmd\":\"report\",\"legacy\":true,\"handshakes\":false,"
			       "\"since_s\":3600, \"x\":null, \"f\":-1.5}\r\n"), 0);
	assert_string_equal(ctl_json_str(&j, "cmd", ""), "report");
	assert_true(ctl_json_bool(&j, "legacy", false));
	assert_false(ctl_json_bool(&j, "handshakes", true));
	assert_int_equal(ctl_json_num(&j, "since_s", 0), 3600);
	assert_int_equal(ctl_json_num(&j, "f", 0), -1);
	assert_int_equal(ctl_json_get(&j, "x")->type, CTL_JSON_NULL);
	assert_null(ctl_json_get(&j, "missing"));
	/* Wrong types fall back to the default. */
	assert_int_equal(ctl_json_num(&j, "cmd", 7), 7);

	assert_int_equal(parse("{\"a\":{\"b\":{\"c\":1}},\"s\":\"\\u00e9\\ud83d\\ude00\\n\"}"), 0);
	assert_int_equal(ctl_json_num(&j, "a.b.c", 0), 1);
	assert_string_equal(ctl_json_str(&j, "s", ""), "\xc3\xa9\xf0\x9f\x98\x80\n");
	/* A NUL escape cannot cut the C string short. */
	assert_int_equal(parse("{\"s\":\"a\\u0000b\"}"), 0);
	assert_string_equal(ctl_json_str(&j, "s", ""), "a?b");
}

static void test_json_hostile(void **state)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"a\":[1,2]}",
		"{\"a\":1,}",
		"{\"a\" 1}",
		"{a:1}",
		"{\"a\":1} x",
		"{\"a\":\"\x01\"}",
		"{\"a\":\"\\x\"}",
		"{\"a\":\"\\u12\"}",
		"{\"a\":99999999999999999999999}",
		"{\"a\":1e5}",
		"{\"a\":-}",
		"{\"a\":1.}",
		"{\"a\":tru}",
		"{\"a\":{\"b\":{\"c\":{\"d\":1}}}}",
		"{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}",
		"{\"a\":1}{\"b\":2}",
	};
	const char *good = "{\"cmd\":\"report\",\"legacy\":true,\"s\":\"x\\\"y\",\"n\":{\"k\":-12}}";
	char many[8192];
	size_t i, off;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i]) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(ctl_json_parse((const uint8_t *)"{\"a\":1}\0", 8, &j), -EINVAL);
	/* Every proper prefix of a valid request is incomplete, never a crash. */
	for (i = 0; i < strlen(good); i++)
		assert_int_equal(ctl_json_parse((const uint8_t *)good, i, &j), -EINVAL);
	assert_int_equal(parse(good), 0);
	/* More members than the reader keeps is refused, not truncated silently. */
	off = (size_t)snprintf(many, sizeof(many), "{");
	for (i = 0; i < CTL_JSON_MEMBERS + 1; i++)
		off += (size_t)snprintf(many + off, sizeof(many) - off, "%s\"k%zu\":1",
					i ? "," : "", i);
	snprintf(many + off, sizeof(many) - off, "}");
	assert_int_equal(parse(many), -EINVAL);
	/* Long strings are cut at the cap. */
	memset(many, 'a', sizeof(many));
	memcpy(many, "{\"s\":\"", 6);
	memcpy(many + 3000, "\"}", 3);
	assert_int_equal(parse(many), 0);
	assert_int_equal(strlen(ctl_json_str(&j, "s", "")), CTL_JSON_STR - 1);
}

static void test_json_random(void **state)
{
	const char alphabet[] = "{}[]\":,\\u0123456789abcdefnrtl -.eE\x01\xff";
	unsigned int seed = (unsigned int)time(NULL);
	uint8_t buf[256];
	int round;
	size_t i, n;

	(void)state;
	print_message("seed %u\n", seed);
	srand(seed);
	for (round = 0; round < 100000; round++) {
		n = (size_t)rand() % sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = (uint8_t)alphabet[(size_t)rand() % (sizeof(alphabet) - 1)];
		if (n)
			buf[0] = '{';
		(void)ctl_json_parse(buf, n, &j);
	}
}

static void test_put_str(void **state)
{
	char buf[64];
	size_t off = 0;

	(void)state;
	assert_int_equal(util_json_string(buf, sizeof(buf), &off, "a\"\\\n\x1b\xc3"), 0);
	assert_string_equal(buf, "\"a\\\"\\\\\\u000a\\u001b\\u00c3\"");
	off = 0;
	assert_int_equal(util_json_string(buf, 8, &off, "0123456789"), -1);
}

/* --- the server, on a real socket --- */

static char sock_path[64];

static void handler(const struct ctl_json *req, struct ctl_buf *out, void *ctx)
{
	int *calls = ctx;

	(*calls)++;
	ctl_buf_printf(out, "{\"ok\":true,\"cmd\":\"%s\",\"n_rows\":2,\"n_handshakes\":1}\n"
			    "{\"exe\":\"/usr/bin/openssl\",\"role\":\"client\",\"port\":443,"
			    "\"versions\":{\"TLSv1.0\":3},\"legacy\":3}\n"
			    "{\"exe\":null,\"comm\":\"curl\",\"role\":\"server\"}\n"
			    "{\"time\":\"x\"}\n",
		       ctl_json_str(req, "cmd", "?"));
}

struct srv {
	struct ctl_server *s;
	int calls;
};

static int srv_setup(void **state)
{
	static struct srv sv;
	char err[256];

	snprintf(sock_path, sizeof(sock_path), "/tmp/tlsaudit-ctl-%d/sub/s", (int)getpid());
	memset(&sv, 0, sizeof(sv));
	sv.s = ctl_server__new(sock_path, handler, &sv.calls, err, sizeof(err));
	if (!sv.s)
		fail_msg("%s", err);
	*state = &sv;
	return 0;
}

static int srv_teardown(void **state)
{
	struct srv *sv = *state;
	char dir[64];

	ctl_server__free(sv->s);
	snprintf(dir, sizeof(dir), "/tmp/tlsaudit-ctl-%d/sub", (int)getpid());
	rmdir(dir);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
	return 0;
}

/* pump - let the server run until @c has a line (the test is single-threaded). */
static int pump_line(struct ctl_server *s, struct ctl_conn *c, const char **line)
{
	size_t len;
	int i, ret = -ETIMEDOUT;

	for (i = 0; i < 200 && ret == -ETIMEDOUT; i++) {
		ctl_server__process(s);
		ret = ctl_read_line(c, line, &len, 5);
	}
	return ret;
}

static void test_server_reply(void **state)
{
	struct srv *sv = *state;
	struct ctl_conn *c;
	struct ctl_row row;
	struct stat st;
	const char *line;
	char err[256];

	assert_int_equal(stat(sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);

	c = ctl_connect(sock_path, err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(ctl_send(c, "{\"cmd\":\"top\"}"), 0);
	assert_int_equal(pump_line(sv->s, c, &line), 0);
	assert_string_equal(line, "{\"ok\":true,\"cmd\":\"top\",\"n_rows\":2,\"n_handshakes\":1}");
	assert_int_equal(pump_line(sv->s, c, &line), 0);
	assert_int_equal(ctl_row_parse(line, &row), 0);
	assert_string_equal(ctl_row_name(&row), "/usr/bin/openssl");
	assert_int_equal(row.versions[2], 3);
	assert_int_equal(pump_line(sv->s, c, &line), 0);
	assert_int_equal(ctl_row_parse(line, &row), 0);
	/* No exe: the command name, bracketed as the textfile has it. */
	assert_string_equal(ctl_row_name(&row), "[curl]");
	assert_int_equal(pump_line(sv->s, c, &line), 0);

	/* Bad JSON: an error line, and the same connection still answers. */
	assert_int_equal(ctl_send(c, "{\"cmd\":"), 0);
	assert_int_equal(pump_line(sv->s, c, &line), 0);
	assert_string_equal(line, "{\"ok\":false,\"error\":\"request is not a JSON object\"}");
	assert_int_equal(ctl_send(c, "{\"nocmd\":1}"), 0);
	assert_int_equal(pump_line(sv->s, c, &line), 0);
	assert_non_null(strstr(line, "no \\\"cmd\\\" string"));
	assert_int_equal(ctl_send(c, "{\"cmd\":\"status\"}"), 0);
	assert_int_equal(pump_line(sv->s, c, &line), 0);
	assert_non_null(strstr(line, "\"cmd\":\"status\""));
	assert_int_equal(sv->calls, 2);
	ctl_close(c);
}

/*
 * A row whose failure counts sum past INT64_MAX (a state file may have become any
 * bytes, and the daemon answers what it loaded): the totals saturate, where the sum
 * overflowed before (found by fuzz_state).
 */
static void test_row_counts_saturate(void **state)
{
	static const char line[] =
		"{\"exe\":\"/usr/bin/curl\",\"failures_by_outcome\":{\"alert\":{"
		"\"client\":9000000000000000000,\"server\":9000000000000000000,"
		"\"unknown\":5}}}";
	struct ctl_row row;

	(void)state;
	memset(&row, 0, sizeof(row));
	assert_int_equal(ctl_row_parse(line, &row), 0);
	assert_string_equal(ctl_row_name(&row), "/usr/bin/curl");
	assert_true(row.failed_by_client == 9000000000000000000LL);
	assert_true(row.failed_by_server == 9000000000000000000LL);
	assert_true(row.failed[0] == INT64_MAX);
}

static void test_server_oversized_request(void **state)
{
	struct srv *sv = *state;
	struct ctl_conn *c;
	const char *line;
	char err[256], *big;
	int ret, i;

	c = ctl_connect(sock_path, err, sizeof(err));
	assert_non_null(c);
	big = malloc(5000);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	/* ctl_send adds the newline only after 4999 bytes: past the limit already. */
	assert_int_equal(ctl_send(c, big), 0);
	assert_int_equal(pump_line(sv->s, c, &line), 0);
	assert_string_equal(line, "{\"ok\":false,\"error\":\"request longer than 4096 bytes\"}");
	/* Then the daemon hangs up. */
	for (i = 0, ret = -ETIMEDOUT; i < 100 && ret == -ETIMEDOUT; i++) {
		size_t len;

		ctl_server__process(sv->s);
		ret = ctl_read_line(c, &line, &len, 5);
	}
	assert_true(ret == -EPIPE || ret == -ECONNRESET);
	assert_int_equal(sv->calls, 0);
	free(big);
	ctl_close(c);
	ctl_server__process(sv->s);
	assert_int_equal(ctl_server__clients(sv->s), 0);
}

static void test_server_client_cap(void **state)
{
	struct srv *sv = *state;
	static struct ctl_conn *conns[CTL_MAX_CLIENTS + 1];
	const char *line;
	char err[256];
	int i;

	for (i = 0; i <= CTL_MAX_CLIENTS; i++) {
		conns[i] = ctl_connect(sock_path, err, sizeof(err));
		assert_non_null(conns[i]);
		if (i % 32 == 0)
			ctl_server__process(sv->s);
	}
	for (i = 0; i < 20; i++)
		ctl_server__process(sv->s);
	assert_int_equal(ctl_server__clients(sv->s), CTL_MAX_CLIENTS);
	assert_int_equal(pump_line(sv->s, conns[CTL_MAX_CLIENTS], &line), 0);
	assert_string_equal(line, "{\"ok\":false,\"error\":\"too many clients, try again\"}");
	/* Those inside the cap are served. */
	assert_int_equal(ctl_send(conns[0], "{\"cmd\":\"status\"}"), 0);
	assert_int_equal(pump_line(sv->s, conns[0], &line), 0);
	assert_non_null(strstr(line, "\"ok\":true"));
	for (i = 0; i <= CTL_MAX_CLIENTS; i++)
		ctl_close(conns[i]);
	for (i = 0; i < 20; i++)
		ctl_server__process(sv->s);
	assert_int_equal(ctl_server__clients(sv->s), 0);
}

static void test_socket_takeover(void **state)
{
	struct srv *sv = *state;
	struct ctl_server *second;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char err[256], stale[80];
	int fd, calls = 0;

	/* A live daemon on the path is never displaced. */
	second = ctl_server__new(sock_path, handler, &calls, err, sizeof(err));
	assert_null(second);
	assert_non_null(strstr(err, "another tlsaudit daemon is answering there"));

	/* A socket file nobody listens on (a crash) is replaced. */
	snprintf(stale, sizeof(stale), "%s.stale", sock_path);
	util_strlcpy(sa.sun_path, stale, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	second = ctl_server__new(stale, handler, &calls, err, sizeof(err));
	if (!second)
		fail_msg("%s", err);
	ctl_server__free(second);

	/* Not a socket: refused, left alone. */
	fd = open(stale, O_CREAT | O_WRONLY, 0600);
	close(fd);
	assert_null(ctl_server__new(stale, handler, &calls, err, sizeof(err)));
	assert_non_null(strstr(err, "exists and is not a socket"));
	unlink(stale);
	(void)sv;
}

/*
 * ask_as - a child with these credentials asks for status; 0 when it got an answer, 1
 * when it was refused, 2 for anything else. The parent runs the server meanwhile.
 */
static int ask_as(struct ctl_server *s, uid_t uid, gid_t gid, const gid_t *groups, size_t n)
{
	const char *line;
	struct ctl_conn *c;
	char err[256];
	size_t len;
	int status, i;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(n, groups) || setgid(gid) || setuid(uid))
			_exit(3);
		c = ctl_connect(sock_path, err, sizeof(err));
		if (!c || ctl_send(c, "{\"cmd\":\"status\"}") ||
		    ctl_read_line(c, &line, &len, 5000))
			_exit(2);
		if (strstr(line, "\"ok\":true"))
			_exit(0);
		_exit(strstr(line, "permission denied") ? 1 : 2);
	}
	for (i = 0; i < 5000; i++) {
		ctl_server__process(s);
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 4;
		usleep(1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return 5;
}

/*
 * The group check uses the peer's credentials from the kernel: primary group or
 * supplementary groups (SO_PEERGROUPS, also a list longer than the first buffer). The
 * uid asking is in no user database, so a check through getpwuid_r/getgrouplist would
 * refuse it: none happens per client. Without the group, only root gets in.
 */
static void test_server_group_check(void **state)
{
	struct srv *sv = *state;
	gid_t groups[300];
	const uid_t uid = 54320;
	const gid_t gid = 54321;
	size_t i;

	if (geteuid() != 0)
		skip();
	assert_null(getpwuid(uid));
	/* The socket's mode keeps others out already; here only the check decides. */
	assert_int_equal(chmod(sock_path, 0666), 0);
	sv->s->gid = gid;
	sv->s->have_group = true;

	assert_int_equal(ask_as(sv->s, 0, 0, NULL, 0), 0);
	assert_int_equal(ask_as(sv->s, uid, uid, NULL, 0), 1);
	assert_int_equal(ask_as(sv->s, uid, gid, NULL, 0), 0);
	groups[0] = 100;
	groups[1] = gid;
	assert_int_equal(ask_as(sv->s, uid, uid, groups, 2), 0);
	groups[1] = gid + 1;
	assert_int_equal(ask_as(sv->s, uid, uid, groups, 2), 1);
	for (i = 0; i < ARRAY_SIZE(groups); i++)
		groups[i] = (gid_t)(60000 + i);
	groups[ARRAY_SIZE(groups) - 1] = gid;
	assert_int_equal(ask_as(sv->s, uid, uid, groups, ARRAY_SIZE(groups)), 0);

	sv->s->have_group = false;
	assert_int_equal(ask_as(sv->s, uid, gid, NULL, 0), 1);
	assert_int_equal(ask_as(sv->s, uid, uid, groups, ARRAY_SIZE(groups)), 1);
	assert_int_equal(sv->s->refused, 4);
}

static void test_client_no_daemon(void **state)
{
	char err[256];

	(void)state;
	assert_null(ctl_connect("/tmp/tlsaudit-nothing-here.sock", err, sizeof(err)));
	assert_string_equal(err, "no daemon at /tmp/tlsaudit-nothing-here.sock: no such file or "
				 "directory (is tlsaudit.service running?)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_request),
		cmocka_unit_test(test_json_hostile),
		cmocka_unit_test(test_json_random),
		cmocka_unit_test(test_put_str),
		cmocka_unit_test_setup_teardown(test_server_reply, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_server_oversized_request, srv_setup,
						srv_teardown),
		cmocka_unit_test_setup_teardown(test_server_client_cap, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_socket_takeover, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_server_group_check, srv_setup, srv_teardown),
		cmocka_unit_test(test_client_no_daemon),
		cmocka_unit_test(test_row_counts_saturate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

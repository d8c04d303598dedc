// SPDX-License-Identifier: GPL-2.0-only
/*
 * The libpcap backend's kernel owners (src/capture/perf_owner.c) on real loopback
 * sockets: a child exec's this binary, connects to a watched port, sends a byte and
 * exits, and only then are the perf rings read. The client end's owner handed on must
 * be that child (its pid and the command name of its exec), with the 4-tuple its
 * socket had; the server end's is the process that read the byte (a forked child of
 * the listener here, as in a pre-fork server); a refused connect is reported too, and a
 * connect to an unwatched port is not.
 *
 * Needs root (CAP_PERFMON, tracefs); otherwise exits 249 (skipped).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tlsaudit/capture_live.h"
#include "bpf_test.h"

#define MAX_SEEN 64

struct seen {
	struct hs_endpoint client, server;
	enum hs_role local;
	struct hs_owner o;
};

static struct seen seen[MAX_SEEN];
static int n_seen;
static struct cap_perf *perf;
static uint16_t watched, unwatched, closed_port;
static int lsn_watched = -1, lsn_unwatched = -1;

static void on_owner(const struct hs_endpoint *client, const struct hs_endpoint *server,
		     enum hs_role local, const struct hs_owner *o, void *ctx)
{
	(void)ctx;
	if (n_seen < MAX_SEEN)
		seen[n_seen++] = (struct seen){ *client, *server, local, *o };
}

/* listen_any - a listener on 127.0.0.1 and a free port; its port in @port. */
static int listen_any(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&a, &alen))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

/*
 * run_client - this binary, exec'd, connects to @port and exits at once; the local port
 * it had comes back through a pipe. The child is reaped before anything is read.
 */
static uint16_t run_client(uint16_t port, pid_t *pid)
{
	char portarg[16], fdarg[16], self[4096];
	int pipefd[2], status;
	uint16_t local = 0;
	ssize_t n;

	/* The binary's own path: exec's command name is its file name ("exe" for /proc/self/exe). */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';

	assert_int_equal(pipe(pipefd), 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		close(pipefd[0]);
		snprintf(portarg, sizeof(portarg), "%u", port);
		snprintf(fdarg, sizeof(fdarg), "%d", pipefd[1]);
		execl(self, "test_perf_owner", "--connect", portarg, fdarg, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &local, sizeof(local)), (ssize_t)sizeof(local));
	close(pipefd[0]);
	assert_int_equal(waitpid(*pid, &status, 0), *pid);
	assert_true(WIFEXITED(status));
	return local;
}

/* The child's side: connect (refused or not), report the local port, exit. */
static int client_main(const char *portarg, const char *fdarg)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), out = atoi(fdarg);
	uint16_t local = 0;

	a.sin_port = htons((uint16_t)atoi(portarg));
	if (fd < 0)
		return 1;
	/* The byte is what the server end's reader reads. */
	if (!connect(fd, (struct sockaddr *)&a, sizeof(a)))
		(void)!write(fd, "x", 1);
	/* A refused connect leaves the port it used bound, so getsockname still says it. */
	if (!getsockname(fd, (struct sockaddr *)&a, &alen))
		local = ntohs(a.sin_port);
	if (write(out, &local, sizeof(local)) != (ssize_t)sizeof(local))
		return 1;
	return 0;
}

static const struct seen *find(uint16_t client_port, uint16_t server_port, enum hs_role local)
{
	int i;

	for (i = 0; i < n_seen; i++) {
		if (seen[i].client.port == client_port && seen[i].server.port == server_port &&
		    seen[i].local == local)
			return &seen[i];
	}
	return NULL;
}

/* read_in_child - accept on @lsn and read in a forked child (a pre-fork server's way). */
static pid_t read_in_child(int lsn)
{
	int conn = accept(lsn, NULL, NULL), status;
	char b;
	pid_t pid;

	assert_true(conn >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(read(conn, &b, 1) == 1 ? 0 : 1);
	close(conn);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return pid;
}

static int setup(void **state)
{
	struct flow_config cfg = { 0 };
	char err[256] = "";
	int fd;

	(void)state;
	lsn_watched = listen_any(&watched);
	lsn_unwatched = listen_any(&unwatched);
	/* A port nobody listens on: bound and closed again, so connect() is refused. */
	fd = listen_any(&closed_port);
	close(fd);
	if (lsn_watched < 0 || lsn_unwatched < 0 || fd < 0)
		return -1;
	cfg.ports[cfg.n_ports++] = watched;
	cfg.ports[cfg.n_ports++] = closed_port;
	perf = cap_perf__new(&cfg, on_owner, NULL, err, sizeof(err));
	if (!perf) {
		print_error("cap_perf__new: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cap_perf__free(perf);
	close(lsn_watched);
	close(lsn_unwatched);
	return 0;
}

static void test_gone_ends_named(void **state)
{
	const struct seen *s;
	uint64_t lost, bad;
	uint16_t local;
	pid_t pid, reader;

	(void)state;
	n_seen = 0;
	local = run_client(watched, &pid);
	assert_int_not_equal(local, 0);
	reader = read_in_child(lsn_watched);
	/* Both are gone and reaped: only the kernel's record can name them now. */
	cap_perf__poll(perf);
	s = find(local, watched, HS_ROLE_SERVER);
	assert_non_null(s);
	assert_int_equal(s->o.tgid, (uint32_t)reader);
	s = find(local, watched, HS_ROLE_CLIENT);
	assert_non_null(s);
	assert_int_equal(s->o.tgid, (uint32_t)pid);
	assert_string_equal(s->o.comm, "test_perf_owner");
	assert_int_equal(s->client.family, AF_INET);
	assert_int_equal(s->client.addr[0], 127);
	assert_int_equal(s->server.addr[0], 127);
	cap_perf__stats(perf, &lost, &bad);
	assert_int_equal(lost, 0);
	assert_int_equal(bad, 0);
}

static void test_refused_connect_named(void **state)
{
	const struct seen *s;
	uint16_t local;
	pid_t pid;

	(void)state;
	n_seen = 0;
	local = run_client(closed_port, &pid);
	cap_perf__poll(perf);
	s = find(local, closed_port, HS_ROLE_CLIENT);
	assert_non_null(s);
	assert_int_equal(s->o.tgid, (uint32_t)pid);
}

static void test_unwatched_port_silent(void **state)
{
	uint16_t local;
	pid_t pid;
	int i;

	(void)state;
	n_seen = 0;
	local = run_client(unwatched, &pid);
	assert_int_not_equal(local, 0);
	cap_perf__poll(perf);
	for (i = 0; i < n_seen; i++)
		assert_int_not_equal(seen[i].server.port, unwatched);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gone_ends_named),
		cmocka_unit_test(test_refused_connect_named),
		cmocka_unit_test(test_unwatched_port_silent),
	};

	if (argc == 4 && !strcmp(argv[1], "--connect"))
		return client_main(argv[2], argv[3]);
	if (geteuid() != 0) {
		fprintf(stderr, "skipped: needs root for perf events on tracepoints\n");
		return SKIP_CODE;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * The socket-owner tracepoints of bpf/tlsaudit.bpf.c on real loopback sockets of this
 * process: connect() names the client's owner, the first read names the accepted
 * socket's owner (a write alone does not), a child process that reads the socket
 * becomes its new owner, close tells userspace to finish the flow, and unwatched ports stay silent.
 * With a pid namespace set, owners are numbered as that namespace sees them, and one
 * outside it gets 0.
 * Each event's cookie must equal getsockopt(SO_COOKIE): it is the join key with the
 * packets seen by the cgroup_skb programs.
 *
 * Needs root and kernel BTF with the sock tracepoints; otherwise exits 249 (skipped).
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
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tlsaudit.skel.h"
#include "tlsaudit/bpf_shared.h"
#include "bpf_test.h"

#define MAX_EVENTS 64

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

struct event {
	uint32_t type;
	uint64_t cookie;
	uint32_t tgid;
	char comm[16];
};

static struct tlsaudit_bpf *skel;
static struct ring_buffer *rb;
static struct event events[MAX_EVENTS];
static int n_events;
static uint16_t watched_port, unwatched_port;
static int listen_watched = -1, listen_unwatched = -1;

static int on_sample(void *ctx, void *data, size_t size)
{
	struct ta_hdr hdr;
	struct event *e;

	(void)ctx;
	assert_true(size >= sizeof(hdr));
	memcpy(&hdr, data, sizeof(hdr));
	if (n_events >= MAX_EVENTS)
		return 0;
	e = &events[n_events++];
	memset(e, 0, sizeof(*e));
	e->type = hdr.type;
	e->cookie = hdr.cookie;
	if (hdr.type == TA_EV_OWNER) {
		struct ta_owner o;

		assert_true(size >= sizeof(o));
		memcpy(&o, data, sizeof(o));
		e->tgid = o.tgid;
		memcpy(e->comm, o.comm, sizeof(e->comm));
		e->comm[sizeof(e->comm) - 1] = '\0';
	}
	return 0;
}

static int drain(void)
{
	n_events = 0;
	ring_buffer__consume(rb);
	return n_events;
}

static uint64_t cookie_of(int fd)
{
	uint64_t c = 0;
	socklen_t len = sizeof(c);

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len), 0);
	return c;
}

static int listener(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 8) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Close with RST: the socket reaches TCP_CLOSE at once instead of after TIME_WAIT. */
static void close_now(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static const struct event *find(uint32_t type, uint64_t cookie)
{
	int i;

	for (i = 0; i < n_events; i++)
		if (events[i].type == type && events[i].cookie == cookie)
			return &events[i];
	return NULL;
}

static void test_owner_and_close_events(void **state)
{
	const struct event *e;
	uint64_t cc, sc;
	char buf[8];
	pid_t child;
	int c, s, st;

	(void)state;
	drain();
	c = connect_to(watched_port);
	s = accept(listen_watched, NULL, NULL);
	assert_true(s >= 0);
	cc = cookie_of(c);
	sc = cookie_of(s);

	/* connect(): the client's owner, at SYN_SENT. */
	assert_int_equal(drain(), 1);
	e = find(TA_EV_OWNER, cc);
	assert_non_null(e);
	assert_int_equal(e->tgid, getpid());
	assert_string_equal(e->comm, "tlsaudit-owner");

	/* A write names nobody: only readers own sockets (an SMTP banner comes first). */
	assert_int_equal(send(s, "220 hi", 6, 0), 6);
	assert_int_equal(drain(), 0);

	/* The accepted socket is named by its first read; more reads say nothing new. */
	assert_int_equal(send(c, "hello", 5, 0), 5);
	assert_int_equal(recv(s, buf, 5, MSG_WAITALL), 5);
	assert_int_equal(send(c, "again", 5, 0), 5);
	assert_int_equal(recv(s, buf, 5, MSG_WAITALL), 5);
	assert_int_equal(drain(), 1);
	e = find(TA_EV_OWNER, sc);
	assert_non_null(e);
	assert_int_equal(e->tgid, getpid());

	/* A forked child that reads the socket is its owner from then on. */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		prctl(PR_SET_NAME, "tlsaudit-child");
		_exit(recv(c, buf, sizeof(buf), 0) > 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(drain(), 1);
	e = find(TA_EV_OWNER, cc);
	assert_non_null(e);
	assert_int_equal(e->tgid, child);
	assert_string_equal(e->comm, "tlsaudit-child");

	/* Close: one event per socket, and the owner entries are gone. */
	close_now(c);
	close_now(s);
	drain();
	assert_non_null(find(TA_EV_CLOSE, cc));
	assert_non_null(find(TA_EV_CLOSE, sc));
	assert_int_not_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.owners), &cc,
						 &(struct ta_owner_val){ 0 }),
			     0);
}

static void test_unwatched_port_is_silent(void **state)
{
	int c, s;

	(void)state;
	drain();
	c = connect_to(unwatched_port);
	s = accept(listen_unwatched, NULL, NULL);
	assert_true(s >= 0);
	assert_int_equal(send(s, "hello", 5, 0), 5);
	close_now(c);
	close_now(s);
	assert_int_equal(drain(), 0);
}

static int on_ns_sample(void *ctx, void *data, size_t size)
{
	struct ta_owner *want = ctx, o;

	if (size < sizeof(o))
		return 0;
	memcpy(&o, data, sizeof(o));
	if (o.hdr.type == TA_EV_OWNER && o.hdr.cookie == want->hdr.cookie) {
		want->tgid = o.tgid;
		want->pid = o.pid;
		want->hdr.type = TA_EV_OWNER;
	}
	return 0;
}

/*
 * With the reader's pid namespace set before load, an owner in that namespace is
 * numbered as it sees itself (here pid 1, the namespace's first process), and one that
 * is not in it, this test process, gets 0: userspace then looks its socket up in /proc.
 */
static void test_pid_namespace(void **state)
{
	struct ta_owner inner_ev = { 0 }, outer_ev = { 0 };
	struct tlsaudit_bpf *ns_skel;
	struct ring_buffer *ns_rb;
	int go[2], back[2], c, st, i;
	uint64_t cookie = 0;
	pid_t mid, inner = 0;
	char path[64], byte = 0;
	struct stat ns;
	uint32_t key = watched_port;
	uint8_t on = 1;

	(void)state;
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(back), 0);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		/* unshare() moves only the children to be: the first one is pid 1 there. */
		if (unshare(CLONE_NEWPID))
			_exit(1);
		inner = fork();
		if (inner == 0) {
			struct sockaddr_in a = { .sin_family = AF_INET,
						 .sin_port = htons(watched_port),
						 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
			socklen_t len = sizeof(cookie);

			if (read(go[0], &byte, 1) != 1)
				_exit(1);
			c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) ||
			    getsockopt(c, SOL_SOCKET, SO_COOKIE, &cookie, &len) ||
			    write(back[1], &cookie, sizeof(cookie)) != sizeof(cookie) ||
			    read(go[0], &byte, 1) != 1)
				_exit(1);
			_exit(0);
		}
		if (inner < 0 || write(back[1], &inner, sizeof(inner)) != sizeof(inner))
			_exit(1);
		_exit(waitpid(inner, &st, 0) == inner && WIFEXITED(st) ? WEXITSTATUS(st) : 1);
	}
	/* The inner process's pid here, then its namespace. */
	assert_int_equal(read(back[0], &inner, sizeof(inner)), sizeof(inner));
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)inner);
	assert_int_equal(stat(path, &ns), 0);

	ns_skel = tlsaudit_bpf__open();
	assert_non_null(ns_skel);
	ns_skel->rodata->pidns_dev = (uint64_t)major(ns.st_dev) << 20 | minor(ns.st_dev);
	ns_skel->rodata->pidns_ino = ns.st_ino;
	assert_int_equal(tlsaudit_bpf__load(ns_skel), 0);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(ns_skel->maps.ports), &key, &on, 0), 0);
	assert_int_equal(tlsaudit_bpf__attach(ns_skel), 0);

	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(read(back[0], &cookie, sizeof(cookie)), sizeof(cookie));
	inner_ev.hdr.cookie = cookie;
	ns_rb = ring_buffer__new(bpf_map__fd(ns_skel->maps.events), on_ns_sample, &inner_ev,
				 NULL);
	assert_non_null(ns_rb);
	ring_buffer__consume(ns_rb);
	assert_int_equal(inner_ev.hdr.type, TA_EV_OWNER);
	assert_int_equal(inner_ev.tgid, 1);
	assert_int_equal(inner_ev.pid, 1);
	ring_buffer__free(ns_rb);

	/* This process is not in that namespace: no number there. */
	c = connect_to(watched_port);
	outer_ev.hdr.cookie = cookie_of(c);
	ns_rb = ring_buffer__new(bpf_map__fd(ns_skel->maps.events), on_ns_sample, &outer_ev,
				 NULL);
	assert_non_null(ns_rb);
	ring_buffer__consume(ns_rb);
	assert_int_equal(outer_ev.hdr.type, TA_EV_OWNER);
	assert_int_equal(outer_ev.tgid, 0);
	assert_int_equal(outer_ev.pid, 0);
	ring_buffer__free(ns_rb);

	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(waitpid(mid, &st, 0), mid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close_now(c);
	/* The two connections the listener holds: accepted and reset. */
	for (i = 0; i < 2; i++) {
		int s = accept4(listen_watched, NULL, NULL, SOCK_NONBLOCK);

		if (s >= 0)
			close_now(s);
	}
	tlsaudit_bpf__destroy(ns_skel);
	close(go[0]);
	close(go[1]);
	close(back[0]);
	close(back[1]);
	drain();
}

static int setup(void **state)
{
	uint32_t key;
	uint8_t on = 1;

	(void)state;
	prctl(PR_SET_NAME, "tlsaudit-owner");
	listen_watched = listener(&watched_port);
	listen_unwatched = listener(&unwatched_port);
	if (listen_watched < 0 || listen_unwatched < 0)
		return -1;
	/* As the daemon loads them: with socket storage where the kernel has it (5.11). */
	skel = tlsaudit_bpf__open();
	if (!skel)
		return -1;
	skel->rodata->owner_sk_storage = 1;
	if (tlsaudit_bpf__load(skel)) {
		tlsaudit_bpf__destroy(skel);
		skel = tlsaudit_bpf__open_and_load();
		if (!skel)
			return -1;
	}
	key = watched_port;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.ports), &key, &on, BPF_ANY))
		return -1;
	/* Only the tracepoints: the cgroup_skb programs are not attached here. */
	if (tlsaudit_bpf__attach(skel))
		return -1;
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_sample, NULL, NULL);
	return rb ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	ring_buffer__free(rb);
	tlsaudit_bpf__destroy(skel);
	close(listen_watched);
	close(listen_unwatched);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_and_close_events),
		cmocka_unit_test(test_unwatched_port_is_silent),
		cmocka_unit_test(test_pid_namespace),
	};

	if (bpf_test_unable()) {
		printf("skip: %s\n", bpf_test_unable());
		return SKIP_CODE;
	}
	if (libbpf_find_vmlinux_btf_id("tcp_rcv_space_adjust", BPF_TRACE_RAW_TP) <= 0) {
		printf("skip: no tcp_rcv_space_adjust tracepoint\n");
		return SKIP_CODE;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}

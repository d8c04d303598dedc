// SPDX-License-Identifier: GPL-2.0-only
/*
 * Control socket server. Everything is non-blocking with per-client buffers: a stuck or
 * hostile client costs at most its buffers and a slot, never time in the capture loop.
 * A client that does not read its replies is not read from either (back-pressure), and
 * one that queues more than CTL_OUT_MAX bytes is dropped.
 *
 * Requests are answered one at a time per client, and at most CTL_BATCH per call of
 * ctl_server__process(): 4 KiB of pipelined `report` requests is a hundred replies of
 * a thousand records each, seconds of work that the capture loop would otherwise wait
 * for. Lines left over are answered on the next turns of the loop (an eventfd in the
 * server's epoll set keeps it readable while any are waiting), and only once the
 * client has taken the reply before: one that never reads gets one reply computed.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tlsaudit/ctl.h"
#include "tlsaudit/log.h"
#include "tlsaudit/util.h"

#define LISTEN_TAG 0
#define KICK_TAG UINT64_MAX
/* Requests answered per ctl_server__process() call, over all clients. */
#define CTL_BATCH 8

struct client {
	int fd;
	uint8_t in[CTL_REQ_MAX];
	size_t in_len;
	struct ctl_buf out;
	size_t out_off;
	uint64_t last_ns;
	bool closing; /* flush the queued reply, then close */
	bool pending; /* complete request lines wait in in[] */
	uint32_t events;
};

struct ctl_server {
	int efd, lfd, kick_fd;
	unsigned int budget; /* requests this call may still answer */
	char path[108];
	ctl_handler_fn fn;
	void *ctx;
	gid_t gid;
	bool have_group;
	struct client *clients[CTL_MAX_CLIENTS];
	size_t n_clients;
	uint64_t refused;
};

void ctl_buf_append(struct ctl_buf *b, const void *data, size_t len)
{
	if (b->oom)
		return;
	if (len > CTL_OUT_MAX || b->len > CTL_OUT_MAX - len) {
		b->oom = true;
		return;
	}
	if (len > b->cap - b->len) {
		size_t ncap = b->cap ? b->cap : 4096;
		char *tmp;

		while (ncap - b->len < len)
			ncap *= 2;
		tmp = realloc(b->data, ncap);
		if (!tmp) {
			b->oom = true;
			return;
		}
		b->data = tmp;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

void ctl_buf_printf(struct ctl_buf *b, const char *fmt, ...)
{
	char small[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n < sizeof(small)) {
		ctl_buf_append(b, small, (size_t)n);
		return;
	}
	{
		char *big = malloc((size_t)n + 1);

		if (!big) {
			b->oom = true;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		ctl_buf_append(b, big, (size_t)n);
		free(big);
	}
}

/*
 * peer_groups_have - @gid is among the supplementary groups the peer held when it
 * connected (SO_PEERGROUPS, Linux 4.13), which the kernel keeps with the socket. No NSS
 * lookup (getpwuid_r, getgrouplist: LDAP or sssd on many hosts) happens per client: a
 * slow directory would stall the event loop on every `tlsaudit status`. These are the
 * groups the client process runs with, as for a file with mode 0660: a user just added
 * to the group gets in after logging in again.
 */
static bool peer_groups_have(int fd, gid_t gid)
{
	static bool warned;
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	bool found = false;
	size_t i;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len)) {
		if (errno != ERANGE) {
			if (!warned)
				log_warn("ctl: SO_PEERGROUPS: %s; only the primary group admits "
					 "a client", strerror(errno));
			warned = true;
			goto out;
		}
		/* len now says how much the list needs; NGROUPS_MAX bounds it. */
		groups = malloc(len);
		if (!groups || getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
			goto out;
	}
	for (i = 0; i < len / sizeof(gid_t) && !found; i++)
		found = groups[i] == gid;
out:
	if (groups != small)
		free(groups);
	return found;
}

/* peer_allowed - root, our own user, or a member of the tlsaudit group. */
static bool peer_allowed(const struct ctl_server *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) || len != sizeof(cred))
		return false;
	if (cred.uid == 0 || cred.uid == geteuid())
		return true;
	if (!s->have_group)
		return false;
	return cred.gid == s->gid || peer_groups_have(fd, s->gid);
}

static void say_and_close(int fd, const char *msg)
{
	/* Best effort: the socket buffer of a fresh connection always has room. */
	if (send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("ctl: could not tell a refused client why: %s", strerror(errno));
	close(fd);
}

static void drop_client(struct ctl_server *s, size_t slot)
{
	struct client *c = s->clients[slot];

	if (!c)
		return;
	epoll_ctl(s->efd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out.data);
	free(c);
	s->clients[slot] = NULL;
	s->n_clients--;
}

static void set_events(struct ctl_server *s, size_t slot, uint32_t events)
{
	struct client *c = s->clients[slot];
	struct epoll_event ev = { .events = events, .data.u64 = slot + 1 };

	if (c->events == events)
		return;
	if (epoll_ctl(s->efd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = events;
}

static void accept_clients(struct ctl_server *s)
{
	struct epoll_event ev;
	struct client *c;
	size_t slot;
	int fd;

	/* Bounded per call so a connection storm cannot monopolise the loop. */
	for (int i = 0; i < 64; i++) {
		fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("ctl: accept on %s: %s", s->path, strerror(errno));
			return;
		}
		if (!peer_allowed(s, fd)) {
			s->refused++;
			say_and_close(fd, "{\"ok\":false,\"error\":\"permission denied: root or "
					  "group " CTL_GROUP " only\"}\n");
			continue;
		}
		for (slot = 0; slot < CTL_MAX_CLIENTS && s->clients[slot]; slot++)
			;
		if (slot == CTL_MAX_CLIENTS) {
			s->refused++;
			say_and_close(fd, "{\"ok\":false,\"error\":\"too many clients, try again\"}\n");
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->last_ns = util_mono_ns();
		c->events = EPOLLIN;
		ev.events = EPOLLIN;
		ev.data.u64 = slot + 1;
		if (epoll_ctl(s->efd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		s->clients[slot] = c;
		s->n_clients++;
	}
}

static void reply_error(struct ctl_buf *out, const char *msg)
{
	ctl_buf_printf(out, "{\"ok\":false,\"error\":\"%s\"}\n", msg);
}

/* handle_line - one request line (peer-controlled bytes). */
static void handle_line(struct ctl_server *s, struct client *c, const uint8_t *line, size_t len)
{
	struct ctl_json *req;

	if (len && line[len - 1] == '\r')
		len--;
	if (!len)
		return;
	req = malloc(sizeof(*req));
	if (!req) {
		c->out.oom = true;
		return;
	}
	if (ctl_json_parse(line, len, req))
		reply_error(&c->out, "request is not a JSON object");
	else if (!ctl_json_get(req, "cmd") || !ctl_json_str(req, "cmd", NULL))
		reply_error(&c->out, "request has no \\\"cmd\\\" string");
	else
		s->fn(req, &c->out, s->ctx);
	free(req);
}

/* kick - have the loop call ctl_server__process() again soon: lines are waiting. */
static void kick(struct ctl_server *s)
{
	uint64_t one = 1;

	if (write(s->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("ctl: eventfd write: %s", strerror(errno));
}

static void flush_out(struct ctl_server *s, size_t slot)
{
	struct client *c = s->clients[slot];

	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_events(s, slot, EPOLLOUT);
			return;
		}
		if (n <= 0) {
			drop_client(s, slot);
			return;
		}
		c->out_off += (size_t)n;
		c->last_ns = util_mono_ns();
	}
	c->out.len = 0;
	c->out_off = 0;
	if (c->pending) {
		/* The reply is taken: the next request is answered on a later turn. */
		set_events(s, slot, 0);
		kick(s);
		return;
	}
	if (c->closing) {
		drop_client(s, slot);
		return;
	}
	set_events(s, slot, EPOLLIN);
}

/*
 * answer_lines - answer the complete lines buffered for a client while nothing is
 * queued for it and the call's budget lasts; c->pending says whether lines are left.
 */
static void answer_lines(struct ctl_server *s, struct client *c)
{
	size_t start = 0, i;

	c->pending = false;
	for (i = 0; i < c->in_len; i++) {
		if (c->in[i] != '\n')
			continue;
		if (c->out.len > c->out_off || !s->budget) {
			c->pending = true;
			break;
		}
		s->budget--;
		handle_line(s, c, c->in + start, i - start);
		start = i + 1;
	}
	if (start) {
		memmove(c->in, c->in + start, c->in_len - start);
		c->in_len -= start;
	}
}

/* after_answer - send what answer_lines queued, or close, or read on. */
static void after_answer(struct ctl_server *s, size_t slot)
{
	struct client *c = s->clients[slot];

	if (c->out.oom) {
		drop_client(s, slot);
		return;
	}
	if (c->out.len > c->out_off)
		flush_out(s, slot);
	else if (c->pending)
		/* Out of budget: no reading until those are answered (kick). */
		set_events(s, slot, 0);
	else if (c->closing)
		drop_client(s, slot);
	else
		set_events(s, slot, EPOLLIN);
}

static void read_client(struct ctl_server *s, size_t slot)
{
	struct client *c = s->clients[slot];
	ssize_t n;

	if (c->pending) {
		/* A hang-up while lines wait: they come first, then the EOF. */
		answer_lines(s, c);
		after_answer(s, slot);
		return;
	}
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* EOF: answer what was asked, then close (a client may shut down its write side). */
		c->closing = true;
		if (c->out.len == c->out_off)
			drop_client(s, slot);
		else
			flush_out(s, slot);
		return;
	}
	c->last_ns = util_mono_ns();
	c->in_len += (size_t)n;
	answer_lines(s, c);
	if (!c->pending && c->in_len == sizeof(c->in)) {
		reply_error(&c->out, "request longer than 4096 bytes");
		c->closing = true;
	}
	after_answer(s, slot);
}

/* run_pending - a turn for the clients whose lines wait and whose replies are taken. */
static void run_pending(struct ctl_server *s)
{
	uint64_t v;
	size_t slot;

	if (read(s->kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("ctl: eventfd read: %s", strerror(errno));
	for (slot = 0; slot < CTL_MAX_CLIENTS && s->budget; slot++) {
		struct client *c = s->clients[slot];

		if (!c || !c->pending || c->out.len > c->out_off)
			continue;
		answer_lines(s, c);
		after_answer(s, slot);
	}
}

void ctl_server__process(struct ctl_server *s)
{
	struct epoll_event evs[64];
	size_t slot;
	int n, i;

	s->budget = CTL_BATCH;
	n = epoll_wait(s->efd, evs, ARRAY_SIZE(evs), 0);
	for (i = 0; i < n; i++) {
		if (evs[i].data.u64 == LISTEN_TAG) {
			accept_clients(s);
			continue;
		}
		if (evs[i].data.u64 == KICK_TAG) {
			run_pending(s);
			continue;
		}
		slot = (size_t)evs[i].data.u64 - 1;
		if (slot >= CTL_MAX_CLIENTS || !s->clients[slot])
			continue;
		if (evs[i].events & EPOLLOUT)
			flush_out(s, slot);
		else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			read_client(s, slot);
	}
	/* Lines still waiting for a turn keep the server's fd readable. */
	for (slot = 0; slot < CTL_MAX_CLIENTS; slot++) {
		struct client *c = s->clients[slot];

		if (c && c->pending && c->out.len == c->out_off) {
			kick(s);
			break;
		}
	}
}

void ctl_server__tick(struct ctl_server *s, uint64_t now)
{
	size_t i;

	for (i = 0; i < CTL_MAX_CLIENTS; i++)
		if (s->clients[i] && now - s->clients[i]->last_ns > CTL_IDLE_NS)
			drop_client(s, i);
}

size_t ctl_server__clients(const struct ctl_server *s)
{
	return s->n_clients;
}

int ctl_server__fd(const struct ctl_server *s)
{
	return s->efd;
}

/*
 * check_existing - 0 when @path is free: absent, or a socket nobody answers on (a crashed
 * daemon's), which is removed.
 */
static int check_existing(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s: exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	util_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (ret == 0) {
		snprintf(err, errlen, "%s: another tlsaudit daemon is answering there", path);
		return -EADDRINUSE;
	}
	if (errno != ECONNREFUSED) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	log_info("removing stale control socket %s", path);
	if (unlink(path) && errno != ENOENT) {
		snprintf(err, errlen, "%s: cannot remove stale socket: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * lookup_group - the tlsaudit group's gid, through NSS: at start and on reload only,
 * never per client. 0, or -ENOENT when there is no such group.
 */
static int lookup_group(struct ctl_server *s)
{
	struct group gr, *grp = NULL;
	size_t len = 16384;
	char *buf = NULL, *tmp;
	int ret;

	/* The entry lists the members: a big group needs a big buffer (ERANGE says so). */
	do {
		tmp = realloc(buf, len);
		if (!tmp) {
			ret = ENOMEM;
			break;
		}
		buf = tmp;
		ret = getgrnam_r(CTL_GROUP, &gr, buf, len, &grp);
		len *= 2;
	} while (ret == ERANGE && len <= (4u << 20));
	s->have_group = !ret && grp;
	if (s->have_group)
		s->gid = grp->gr_gid;
	free(buf);
	if (ret)
		return -ret;
	return s->have_group ? 0 : -ENOENT;
}

int ctl_server__reload_group(struct ctl_server *s)
{
	bool had = s->have_group;
	gid_t old = s->gid;
	int ret;

	ret = lookup_group(s);
	if (ret) {
		if (had)
			log_warn("ctl: group %s is gone (%s): only root may connect now", CTL_GROUP,
				 strerror(-ret));
		return ret;
	}
	if (had && old == s->gid)
		return 0;
	/* A group made after the start (a package's postinst), or renumbered. */
	if (geteuid() == 0 && fchownat(AT_FDCWD, s->path, 0, s->gid, AT_SYMLINK_NOFOLLOW)) {
		ret = -errno;
		log_warn("ctl: %s: cannot give it to group %s: %s", s->path, CTL_GROUP,
			 strerror(errno));
		return ret;
	}
	log_info("ctl: members of group %s (gid %u) may connect", CTL_GROUP,
		 (unsigned int)s->gid);
	return 0;
}

struct ctl_server *ctl_server__new(const char *path, ctl_handler_fn fn, void *ctx, char *err,
				   size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTEN_TAG };
	struct ctl_server *s;
	bool bound = false;
	mode_t old_mask;
	int ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "%s: socket path longer than %zu bytes", path,
			 sizeof(sa.sun_path) - 1);
		errno = ENAMETOOLONG;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->efd = -1;
	s->lfd = -1;
	s->kick_fd = -1;
	s->fn = fn;
	s->ctx = ctx;
	util_strlcpy(s->path, path, sizeof(s->path));
	lookup_group(s);
	ret = util_mkdir_parent(path, 0755);
	if (ret) {
		snprintf(err, errlen, "%s: cannot create its directory: %s", path, strerror(-ret));
		goto fail;
	}
	if (check_existing(path, err, errlen))
		goto fail;
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	util_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	/* Created 0660 from the start: no window where anyone could connect. */
	old_mask = umask(0117);
	ret = bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (ret) {
		snprintf(err, errlen, "%s: bind: %s", path, strerror(errno));
		goto fail;
	}
	bound = true;
	if (chmod(path, 0660) ||
	    (s->have_group && geteuid() == 0 && chown(path, 0, s->gid))) {
		snprintf(err, errlen, "%s: cannot set mode or group: %s", path, strerror(errno));
		goto fail;
	}
	if (listen(s->lfd, 128)) {
		snprintf(err, errlen, "%s: listen: %s", path, strerror(errno));
		goto fail;
	}
	s->efd = epoll_create1(EPOLL_CLOEXEC);
	if (s->efd < 0 || epoll_ctl(s->efd, EPOLL_CTL_ADD, s->lfd, &ev)) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		goto fail;
	}
	s->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ev.data.u64 = KICK_TAG;
	if (s->kick_fd < 0 || epoll_ctl(s->efd, EPOLL_CTL_ADD, s->kick_fd, &ev)) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	return s;
fail:
	if (bound)
		unlink(path);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->efd >= 0)
		close(s->efd);
	if (s->kick_fd >= 0)
		close(s->kick_fd);
	free(s);
	return NULL;
}

void ctl_server__free(struct ctl_server *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < CTL_MAX_CLIENTS; i++)
		drop_client(s, i);
	close(s->lfd);
	close(s->efd);
	close(s->kick_fd);
	unlink(s->path);
	free(s);
}

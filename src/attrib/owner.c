// SPDX-License-Identifier: GPL-2.0-only
/*
 * The owner of a TCP socket found from userspace, where the ownership tracepoints are
 * missing and for the libpcap backend: NETLINK_SOCK_DIAG (sock_diag(7), an exact
 * inet_diag_req_v2 lookup) gives the socket's inode, then a bounded scan of
 * /proc/PID/fd finds a process holding "socket:[inode]".
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tlsaudit/attrib.h"
#include "tlsaudit/cursor.h"

/*
 * An exact lookup answers with one message and a few attributes; the buffer is sized
 * like the kernel's own netlink default (8 KiB pages) and MSG_TRUNC catches anything
 * larger rather than parsing half a reply (bpftool f38edf1).
 */
#define DIAG_BUF 16384
#define DIAG_TIMEOUT_MS 500

/* Scan bounds: a host with more processes or fds than this is answered -ENOENT. */
#define SCAN_PIDS_MAX 131072
#define SCAN_FDS_MAX (4u << 20)

struct diag_request {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 req;
};

static int diag_open(void)
{
	struct timeval tv = { .tv_sec = 0, .tv_usec = DIAG_TIMEOUT_MS * 1000 };
	int fd;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	/* The kernel answers inside sendmsg(); the timeout only guards a lost reply. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/*
 * parse_reply - walk the netlink messages in @buf (kernel-built, but still read through
 * the cursor: every nlmsg_len is checked against the bytes received, and bytes left
 * over that do not form a message are an error, not silently ignored).
 */
static int parse_reply(const uint8_t *buf, size_t len, uint32_t seq, uint64_t *inode)
{
	struct tls_cursor c, m;
	struct inet_diag_msg msg;
	struct nlmsghdr nh;
	size_t step;
	int nlerr;

	cur_init(&c, buf, len);
	while (cur_left(&c)) {
		if (!cur_bytes(&c, &nh, sizeof(nh)))
			return -EBADMSG;
		if (nh.nlmsg_len < sizeof(nh) || nh.nlmsg_len - sizeof(nh) > cur_left(&c))
			return -EBADMSG;
		if (!cur_sub(&c, nh.nlmsg_len - sizeof(nh), &m))
			return -EBADMSG;
		/* Messages are padded to 4 bytes; the last one may end the datagram. */
		step = NLMSG_ALIGN(nh.nlmsg_len) - nh.nlmsg_len;
		cur_skip(&c, step < cur_left(&c) ? step : cur_left(&c));
		if (nh.nlmsg_seq != seq)
			continue;
		switch (nh.nlmsg_type) {
		case NLMSG_ERROR:
			if (!cur_bytes(&m, &nlerr, sizeof(nlerr)))
				return -EBADMSG;
			/* A bare ACK (error 0) carries no socket. */
			if (nlerr > 0 || nlerr < -4095)
				return -EBADMSG;
			return nlerr ? nlerr : -ENOENT;
		case NLMSG_DONE:
			return -ENOENT;
		case SOCK_DIAG_BY_FAMILY:
			if (!cur_bytes(&m, &msg, sizeof(msg)))
				return -EBADMSG;
			/* TIME_WAIT and orphaned sockets have no inode and no owner. */
			if (!msg.idiag_inode)
				return -ENOENT;
			*inode = msg.idiag_inode;
			return 0;
		default:
			break;
		}
	}
	return -ENOENT;
}

int attrib_socket_inode(int family, const uint8_t *laddr, uint16_t lport, const uint8_t *raddr,
			uint16_t rport, uint64_t *inode)
{
	static uint32_t seq_counter;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct diag_request rq;
	size_t alen;
	uint8_t *buf = NULL;
	ssize_t n;
	uint32_t seq;
	int fd, err;

	if (!laddr || !raddr || !inode)
		return -EINVAL;
	if (family == AF_INET)
		alen = 4;
	else if (family == AF_INET6)
		alen = 16;
	else
		return -EAFNOSUPPORT;

	fd = diag_open();
	if (fd < 0)
		return fd;
	seq = ++seq_counter;
	memset(&rq, 0, sizeof(rq));
	rq.nlh.nlmsg_len = sizeof(rq);
	rq.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	/* No NLM_F_DUMP: an exact lookup by 4-tuple, cheap whatever the socket count. */
	rq.nlh.nlmsg_flags = NLM_F_REQUEST;
	rq.nlh.nlmsg_seq = seq;
	rq.req.sdiag_family = (uint8_t)family;
	rq.req.sdiag_protocol = IPPROTO_TCP;
	rq.req.idiag_states = ~0u;
	rq.req.id.idiag_sport = htons(lport);
	rq.req.id.idiag_dport = htons(rport);
	memcpy(rq.req.id.idiag_src, laddr, alen);
	memcpy(rq.req.id.idiag_dst, raddr, alen);
	rq.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	rq.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	buf = malloc(DIAG_BUF);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	if (sendto(fd, &rq, sizeof(rq), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		err = -errno;
		goto out;
	}
	do {
		n = recv(fd, buf, DIAG_BUF, MSG_TRUNC);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		err = errno == EAGAIN ? -ETIMEDOUT : -errno;
		goto out;
	}
	if ((size_t)n > DIAG_BUF) {
		err = -EMSGSIZE;
		goto out;
	}
	err = parse_reply(buf, (size_t)n, seq, inode);
out:
	free(buf);
	close(fd);
	return err;
}

/* all_digits - a /proc entry that names a process. */
static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
	}
	return true;
}

/* scan_fds - does process directory @pid_dir hold an fd whose link reads @want? */
static bool scan_fds(int proc_fd, const char *pid_name, const char *want, size_t want_len,
		     size_t *budget)
{
	char path[NAME_MAX + 8], link[64];
	struct dirent *de;
	bool found = false;
	DIR *d;
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/fd", pid_name) >= sizeof(path))
		return false;
	fd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	while (!found && *budget && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		(*budget)--;
		n = readlinkat(fd, de->d_name, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		/* readlink does not terminate; compare lengths first. */
		link[n] = '\0';
		found = (size_t)n == want_len && memcmp(link, want, want_len) == 0;
	}
	closedir(d);
	return found;
}

/*
 * Owners found recently, most recent first: new connections mostly come from the same
 * few daemons (smtp, a proxy, an API client), so their fd tables are read before the
 * whole of /proc. A hint is only a scan order; a hit is checked like any other pid.
 * The daemon resolves owners from its one event loop, so this is not locked.
 */
#define OWNER_HINTS 8
static uint32_t owner_hints[OWNER_HINTS];

static void hint_remember(uint32_t pid)
{
	size_t i;

	for (i = 0; i < OWNER_HINTS - 1 && owner_hints[i] != pid; i++)
		;
	memmove(owner_hints + 1, owner_hints, i * sizeof(owner_hints[0]));
	owner_hints[0] = pid;
}

static bool scan_hints(int proc_fd, const char *want, size_t want_len, size_t *budget,
		       uint32_t *pid)
{
	char name[16];
	size_t i;

	for (i = 0; i < OWNER_HINTS && owner_hints[i]; i++) {
		snprintf(name, sizeof(name), "%u", owner_hints[i]);
		if (scan_fds(proc_fd, name, want, want_len, budget)) {
			*pid = owner_hints[i];
			hint_remember(*pid);
			return true;
		}
	}
	return false;
}

int attrib_owner_of_inode(const char *proc_root, uint64_t inode, uint32_t *pid)
{
	size_t fd_budget = SCAN_FDS_MAX, pids = 0, want_len;
	char want[48];
	struct dirent *de;
	unsigned long v;
	int proc_fd, err = -ENOENT;
	DIR *d;

	if (!proc_root || !pid || !inode)
		return -EINVAL;
	want_len = (size_t)snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)inode);
	if (want_len >= sizeof(want))
		return -EINVAL;
	proc_fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0)
		return -errno;
	if (scan_hints(proc_fd, want, want_len, &fd_budget, pid)) {
		close(proc_fd);
		return 0;
	}
	d = fdopendir(proc_fd);
	if (!d) {
		err = -errno;
		close(proc_fd);
		return err;
	}
	while ((de = readdir(d)) && pids < SCAN_PIDS_MAX && fd_budget) {
		if (!all_digits(de->d_name))
			continue;
		pids++;
		if (!scan_fds(proc_fd, de->d_name, want, want_len, &fd_budget))
			continue;
		errno = 0;
		v = strtoul(de->d_name, NULL, 10);
		if (errno || v == 0 || v > UINT32_MAX)
			continue;
		*pid = (uint32_t)v;
		hint_remember(*pid);
		err = 0;
		break;
	}
	closedir(d);
	return err;
}

int attrib_owner_of_tuple(int family, const uint8_t *laddr, uint16_t lport,
			  const uint8_t *raddr, uint16_t rport, uint32_t *pid)
{
	uint64_t inode;
	int err;

	if (!pid)
		return -EINVAL;
	err = attrib_socket_inode(family, laddr, lport, raddr, rport, &inode);
	if (err)
		return err;
	return attrib_owner_of_inode("/proc", inode, pid);
}

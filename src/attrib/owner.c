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
#include "tlsaudit/util.h"

/*
 * An exact lookup answers with one message and a few attributes; the buffer is sized
 * like the kernel's own netlink default (8 KiB pages) and MSG_TRUNC catches anything
 * larger rather than parsing half a reply (bpftool f38edf1).
 */
#define DIAG_BUF 16384
#define DIAG_TIMEOUT_MS 500

/*
 * The /proc scan runs on the daemon's one event loop, once per new connection whose
 * owner the tracepoints did not give (the libpcap backend, older kernels), and a host
 * may hold millions of fds. So it is bounded twice, in entries (an fd directory opened
 * or an fd link read, 2.5 us each on a 6.x kernel):
 *  - one lookup reads at most ATTRIB_SCAN_CALL_MAX (about 40 ms); it gives up with
 *    -EAGAIN (counted as truncated) rather than stall the loop;
 *  - all lookups share a token bucket of ATTRIB_SCAN_RATE entries a second (under a
 *    tenth of the loop's time), ATTRIB_SCAN_BURST in hand; with the bucket empty a
 *    lookup is not made at all (-EAGAIN, counted as skipped).
 * What keeps attribution right for the common case is the order: the sockets scans
 * already passed, the owners found last (a mail daemon, a proxy, an API client making
 * connection after connection), the last pids handed out, then all processes newest
 * first. A new connection mostly comes from a process that just
 * started (curl, a forked server child, a script), whose pid is among the highest; the
 * fd tables of the long-lived processes with most fds come last. pid numbers wrap, so
 * this is a likelihood, not a rule: a wrapped pid is found later, still found within
 * the budget on hosts with fewer fds than that.
 */
/* pids listed from /proc per lookup (pid_max is at most 4194304). */
#define SCAN_PIDS_MAX (1u << 22)

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

/*
 * Socket inodes the scans have read, with the process and fd that held them. A scan
 * reads every fd link of each process it passes, and the sockets of a burst (a script
 * starting clients, a server forking children) sit in the same few new processes: one
 * scan then places the lot, and the next lookups cost one readlink each instead of a
 * scan, which is what keeps them ahead of clients that live a few milliseconds. An
 * entry is only where to look first: a hit is checked against the live fd.
 */
#define SEEN_SLOTS 4096

struct seen_sock {
	uint64_t inode; /* 0: empty */
	uint32_t pid;
	uint32_t fd;
};

static struct seen_sock seen[SEEN_SLOTS];

static struct seen_sock *seen_slot(uint64_t inode)
{
	return &seen[(inode ^ (inode >> 12)) & (SEEN_SLOTS - 1)];
}

/* seen_note - fd @fd_name of @pid_name links to @link ("socket:[N]" or anything else). */
static void seen_note(const char *pid_name, const char *fd_name, const char *link)
{
	unsigned long long inode;
	unsigned long pid, fd;
	char *end;

	if (strncmp(link, "socket:[", 8))
		return;
	errno = 0;
	inode = strtoull(link + 8, &end, 10);
	if (errno || !inode || strcmp(end, "]"))
		return;
	pid = strtoul(pid_name, &end, 10);
	if (*end || !pid || pid > UINT32_MAX)
		return;
	fd = strtoul(fd_name, &end, 10);
	if (*end || fd > UINT32_MAX)
		return;
	*seen_slot(inode) = (struct seen_sock){ inode, (uint32_t)pid, (uint32_t)fd };
}

/* seen_check - the process a scan saw holding @want's inode, if it still does. */
static bool seen_check(int proc_fd, uint64_t inode, const char *want, size_t want_len,
		       uint32_t *pid)
{
	const struct seen_sock *e = seen_slot(inode);
	char path[48], link[64];
	ssize_t n;

	if (e->inode != inode)
		return false;
	snprintf(path, sizeof(path), "%u/fd/%u", e->pid, e->fd);
	n = readlinkat(proc_fd, path, link, sizeof(link) - 1);
	if (n < 0 || (size_t)n != want_len || memcmp(link, want, want_len))
		return false;
	*pid = e->pid;
	return true;
}

/* scan_fds - does process @pid_name hold an fd whose link reads @want? */
static bool scan_fds(int proc_fd, const char *pid_name, const char *want, size_t want_len,
		     size_t *budget)
{
	char path[NAME_MAX + 8], link[64];
	struct dirent *de;
	bool found = false;
	DIR *d;
	ssize_t n;
	int fd;

	if (!*budget)
		return false;
	(*budget)--;
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
		seen_note(pid_name, de->d_name, link);
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

static struct {
	int64_t tokens;
	uint64_t refill_ns;
	bool started;
} scan_bucket;

static struct attrib_owner_stats owner_stats;

static void hint_remember(uint32_t pid)
{
	size_t i;

	for (i = 0; i < OWNER_HINTS - 1 && owner_hints[i] != pid; i++)
		;
	memmove(owner_hints + 1, owner_hints, i * sizeof(owner_hints[0]));
	owner_hints[0] = pid;
}

static bool is_hint(uint32_t pid)
{
	size_t i;

	for (i = 0; i < OWNER_HINTS && owner_hints[i]; i++) {
		if (owner_hints[i] == pid)
			return true;
	}
	return false;
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
			return true;
		}
	}
	return false;
}

/*
 * The newest pids, tried before /proc is listed: a new connection mostly comes from a
 * process that just started (a client a script runs, a server's fresh child), and
 * listing and sorting a few hundred /proc entries costs more than finding it among the
 * last few pids handed out. loadavg's last field is the pid handed out last, in the
 * namespace of this /proc (proc(5)); the RECENT_PIDS up to it are tried newest first.
 * Most are gone already, a failed open each; a thread's directory shows its process's
 * fd table, so a hit there is turned into the process (its Tgid).
 */
#define RECENT_PIDS 64

static uint32_t last_pid(int proc_fd)
{
	char buf[128], *p, *end;
	unsigned long v;
	ssize_t n;
	int fd;

	fd = openat(proc_fd, "loadavg", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ' ');
	if (!p)
		return 0;
	errno = 0;
	v = strtoul(p + 1, &end, 10);
	if (errno || end == p + 1 || (*end && *end != '\n') || v > UINT32_MAX)
		return 0;
	return (uint32_t)v;
}

/* tgid_of - the process of thread @tid, from /proc/TID/status; @tid when unreadable. */
static uint32_t tgid_of(int proc_fd, uint32_t tid)
{
	char path[32], buf[1024], *p, *end;
	unsigned long v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%u/status", tid);
	fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return tid;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return tid;
	buf[n] = '\0';
	p = strstr(buf, "\nTgid:");
	if (!p)
		return tid;
	errno = 0;
	v = strtoul(p + 6, &end, 10);
	if (errno || end == p + 6 || !v || v > UINT32_MAX)
		return tid;
	return (uint32_t)v;
}

/* scan_recent - the pids (@*lo, @last] newest first; @*lo is where it stopped looking. */
static bool scan_recent(int proc_fd, uint32_t last, const char *want, size_t want_len,
			size_t *budget, uint32_t *pid, uint32_t *lo)
{
	char name[16];
	uint32_t p;

	*lo = last > RECENT_PIDS ? last - RECENT_PIDS : 0;
	for (p = last; p > *lo && *budget; p--) {
		if (is_hint(p))
			continue;
		snprintf(name, sizeof(name), "%u", p);
		if (scan_fds(proc_fd, name, want, want_len, budget)) {
			*pid = tgid_of(proc_fd, p);
			return true;
		}
	}
	return false;
}

/* scan_take - the entries this lookup may read now; 0 when the bucket is empty. */
static size_t scan_take(void)
{
	uint64_t now = util_mono_ns(), dt;

	if (!scan_bucket.started) {
		scan_bucket.started = true;
		scan_bucket.tokens = ATTRIB_SCAN_BURST;
		scan_bucket.refill_ns = now;
	}
	dt = now - scan_bucket.refill_ns;
	if (dt >= NSEC_PER_MSEC) {
		scan_bucket.tokens += (int64_t)(dt / NSEC_PER_MSEC * ATTRIB_SCAN_RATE / 1000);
		if (scan_bucket.tokens > ATTRIB_SCAN_BURST)
			scan_bucket.tokens = ATTRIB_SCAN_BURST;
		scan_bucket.refill_ns = now - dt % NSEC_PER_MSEC;
	}
	if (scan_bucket.tokens <= 0)
		return 0;
	if (scan_bucket.tokens < ATTRIB_SCAN_CALL_MAX)
		return (size_t)scan_bucket.tokens;
	return ATTRIB_SCAN_CALL_MAX;
}

static int cmp_pid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * list_pids - the pids under @proc_fd, ascending. /proc lists them so already; a proc
 * root that is a plain directory (the tests') lists them in hash order.
 */
static int list_pids(int proc_fd, uint32_t **out, size_t *n)
{
	size_t cap = 0, len = 0;
	uint32_t *pids = NULL, *tmp;
	struct dirent *de;
	unsigned long v;
	int fd, err = 0;
	DIR *d;

	fd = dup(proc_fd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	while ((de = readdir(d)) && len < SCAN_PIDS_MAX) {
		if (!all_digits(de->d_name))
			continue;
		errno = 0;
		v = strtoul(de->d_name, NULL, 10);
		if (errno || v == 0 || v > UINT32_MAX)
			continue;
		if (len == cap) {
			cap = cap ? cap * 2 : 1024;
			tmp = util_reallocarray(pids, cap, sizeof(*pids));
			if (!tmp) {
				err = -ENOMEM;
				break;
			}
			pids = tmp;
		}
		pids[len++] = (uint32_t)v;
	}
	closedir(d);
	if (err) {
		free(pids);
		return err;
	}
	if (len)
		qsort(pids, len, sizeof(*pids), cmp_pid);
	*out = pids;
	*n = len;
	return 0;
}

/* parent_of - the parent pid from /proc/PID/stat (proc(5): the field after the state). */
static uint32_t parent_of(int proc_fd, uint32_t pid)
{
	char path[32], buf[512], *p, *end;
	unsigned long v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%u/stat", pid);
	fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold ") "; the fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || strlen(p) < 5 || p[1] != ' ' || p[3] != ' ')
		return 0;
	errno = 0;
	v = strtoul(p + 4, &end, 10);
	if (errno || end == p + 4 || *end != ' ' || v > UINT32_MAX)
		return 0;
	return (uint32_t)v;
}

/*
 * oldest_holder - a socket inherited over fork is held by parent and child alike (socat
 * runs its SYSTEM command with the connection still open, a server's helper inherits
 * it): the process that opened or accepted it is the owner, so climb while the parent
 * holds it too. The newest-first scan finds the child first; this gives the answer an
 * oldest-first scan would.
 */
static uint32_t oldest_holder(int proc_fd, uint32_t pid, const char *want, size_t want_len,
			      size_t *budget)
{
	char name[16];
	uint32_t parent;
	int depth;

	for (depth = 0; depth < 8; depth++) {
		parent = parent_of(proc_fd, pid);
		if (parent <= 1)
			break;
		snprintf(name, sizeof(name), "%u", parent);
		if (!scan_fds(proc_fd, name, want, want_len, budget))
			break;
		pid = parent;
	}
	return pid;
}

int attrib_owner_of_inode(const char *proc_root, uint64_t inode, uint32_t *pid)
{
	size_t budget, granted, want_len, n = 0, i;
	uint32_t *pids = NULL, last, lo = 0;
	char want[48], name[16];
	int proc_fd, err = -ENOENT;
	bool fresh = false;

	if (!proc_root || !pid || !inode)
		return -EINVAL;
	want_len = (size_t)snprintf(want, sizeof(want), "socket:[%llu]", (unsigned long long)inode);
	if (want_len >= sizeof(want))
		return -EINVAL;
	granted = budget = scan_take();
	if (!budget) {
		owner_stats.skipped++;
		return -EAGAIN;
	}
	owner_stats.lookups++;
	proc_fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0)
		return -errno;
	budget--;
	last = last_pid(proc_fd);
	/*
	 * Found among the sockets scans passed or the newest pids: mostly a one-shot
	 * client, cheap to find again while it is new. It stays out of the hints, where a
	 * burst of them would push out the long-lived servers the hints are for.
	 */
	fresh = seen_check(proc_fd, inode, want, want_len, pid);
	if (fresh || scan_hints(proc_fd, want, want_len, &budget, pid)) {
		err = 0;
		goto found;
	}
	if (last && scan_recent(proc_fd, last, want, want_len, &budget, pid, &lo)) {
		fresh = true;
		err = 0;
		goto found;
	}
	err = list_pids(proc_fd, &pids, &n);
	if (err)
		goto out;
	err = -ENOENT;
	/* Newest first; the window scan_recent read is not read again. */
	for (i = n; i-- > 0 && budget;) {
		if (is_hint(pids[i]) || (last && pids[i] > lo && pids[i] <= last))
			continue;
		snprintf(name, sizeof(name), "%u", pids[i]);
		if (scan_fds(proc_fd, name, want, want_len, &budget)) {
			*pid = pids[i];
			err = 0;
			break;
		}
	}
	if (err && !budget) {
		owner_stats.truncated++;
		err = -EAGAIN;
	}
found:
	if (!err) {
		/*
		 * A thread's /proc directory shows its process's fd table, and the sockets a
		 * scan remembered may have been read there: name the process, never a thread.
		 */
		*pid = tgid_of(proc_fd, *pid);
		*pid = oldest_holder(proc_fd, *pid, want, want_len, &budget);
		if (!fresh)
			hint_remember(*pid);
		owner_stats.found++;
	}
out:
	owner_stats.entries += granted - budget;
	scan_bucket.tokens -= (int64_t)(granted - budget);
	free(pids);
	close(proc_fd);
	return err;
}

void attrib_owner_stats(struct attrib_owner_stats *st)
{
	*st = owner_stats;
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

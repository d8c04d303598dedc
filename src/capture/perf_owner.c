// SPDX-License-Identifier: GPL-2.0-only
/*
 * The processes at the local ends of watched connections, for the libpcap backend,
 * told by the kernel rather than found in /proc afterwards: two tracepoints opened as
 * plain perf events on every CPU (perf_event_open(2), no eBPF needed).
 *
 * Why: a client that sends one ClientHello, gets an alert and exits lives about a
 * millisecond after its SYN. A /proc scan started at the SYN loses that race whenever
 * the daemon waits that long for a CPU (two cores, a busy host); a forking server's
 * child is as short-lived. The kernel's record cannot be late:
 *  - sock:inet_sock_set_state: CLOSE -> SYN_SENT runs inside connect(), so the sample's
 *    pid is the client. The local port may still be 0 there (tcp_v4_connect picks it
 *    after the state change), so the socket is remembered by its kernel address until
 *    its next transition (established, refused, reset) carries the whole 4-tuple;
 *  - tcp:tcp_rcv_space_adjust runs in tcp_recvmsg(), in the reading process: a server's
 *    (or a pre-fork server child's) end is named when it reads the ClientHello, and a
 *    client's end passes to a process that inherited it and reads, as with eBPF.
 * Command names come from the PERF_RECORD_COMM side-band records of exec(), kept per
 * pid (a fork's child inherits its parent's), so a process gone before /proc is read
 * is still named.
 *
 * The tracepoints' ids and field offsets are read from tracefs (events/.../{id,format});
 * where tracefs is not mounted in this mount namespace (`ip netns exec` mounts a fresh
 * /sys), a child process mounts it in a private mount namespace of its own and reports
 * the files. Kernel filters keep the events to the watched ports.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlsaudit/capture_live.h"
#include "tlsaudit/log.h"
#include "tlsaudit/util.h"

/* Data pages per CPU: 128 KiB, about 1,500 events between two drains. */
#define RING_PAGES 32
/* Sockets between connect() and their 4-tuple, and the owner last handed on per socket. */
#define SOCK_SLOTS 4096
/* Command names of processes that exec'd since the capture started. */
#define COMM_SLOTS 4096
/* The tracefs files read; the format of this event is about 3 KiB. */
#define FILE_MAX 8192

/* include/net/tcp_states.h */
enum { TCP_SYN_SENT_ = 2, TCP_CLOSE_ = 7 };

enum tp_kind { TP_STATE, TP_READ, TP_N };

static const char *const event_dirs[TP_N] = {
	[TP_STATE] = "events/sock/inet_sock_set_state",
	[TP_READ] = "events/tcp/tcp_rcv_space_adjust",
};
static const char *const tracefs_mounts[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

/* What tracefs says of one tracepoint. */
struct tp_files {
	char id[32];
	char fmt[FILE_MAX];
};

/*
 * Offsets of the fields read in a raw sample, from the event's format file; the read
 * event has no states and no protocol (it is TCP's own).
 */
struct tp_layout {
	uint64_t id; /* common_type of its samples */
	uint32_t type, skaddr, oldstate, newstate, sport, dport, family, protocol;
	uint32_t saddr, daddr, saddr_v6, daddr_v6;
	uint32_t need; /* bytes a sample must have */
	bool have;
};

struct perf_ring {
	int fd;		/* the state event; its ring holds both events' samples */
	int fd_read;	/* the read event, -1 when the kernel has none */
	uint8_t *base;	/* the control page, then the data pages */
};

struct sock_slot {
	uint64_t skaddr;    /* 0: empty */
	uint32_t conn_pid;  /* connect()'s process until the 4-tuple is known, else 0 */
	uint32_t conn_tid;
	uint32_t told_pid;  /* the owner last handed on */
};

struct comm_slot {
	uint32_t pid; /* 0: empty */
	uint64_t time; /* of the exec or fork that set it: rings are read CPU by CPU */
	char comm[16]; /* "" when the process forked from one not known here */
};

/* Owners found in this drain, handed on once every CPU's ring was read. */
#define PENDING_MAX 256

struct pending {
	struct hs_endpoint client, server;
	uint32_t pid, tid;
	enum hs_role local;
};

struct cap_perf {
	struct perf_ring *rings;
	int n_rings;
	size_t page, data_len;
	struct tp_layout tl[TP_N];
	uint8_t ports[65536 / 8]; /* watched ports, a bit each */
	struct sock_slot socks[SOCK_SLOTS];
	struct comm_slot comms[COMM_SLOTS];
	struct pending pending[PENDING_MAX];
	unsigned int n_pending;
	cap_perf_owner_fn owner;
	void *ctx;
	uint64_t lost, bad;
	uint8_t wrap[65536]; /* a record cut by the end of the ring, joined */
};

/* read_small - the whole of @dir/@event/@name into @buf (NUL-terminated); bytes or -errno. */
static ssize_t read_small(const char *dir, const char *event, const char *name, char *buf,
			  size_t len)
{
	char path[256];
	ssize_t n, got = 0;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", dir, event, name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((size_t)got < len - 1) {
		n = read(fd, buf + got, len - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	if ((size_t)got == len - 1)
		return -EFBIG;
	buf[got] = '\0';
	return got;
}

/* read_events - both tracepoints' files under @dir; the read one may be missing (""). */
static int read_events(const char *dir, struct tp_files *f)
{
	ssize_t n;
	int k;

	for (k = 0; k < TP_N; k++) {
		f[k].id[0] = f[k].fmt[0] = '\0';
		n = read_small(dir, event_dirs[k], "id", f[k].id, sizeof(f[k].id));
		if (n >= 0)
			n = read_small(dir, event_dirs[k], "format", f[k].fmt, sizeof(f[k].fmt));
		if (n < 0 && k == TP_STATE)
			return (int)n;
		if (n < 0)
			f[k].id[0] = '\0';
	}
	return 0;
}

/*
 * read_events_private - tracefs mounted by a child in a mount namespace of its own, so
 * nothing is mounted where anyone else could see it (propagation made private first).
 * The child hands the files back whole, as the struct they are read into.
 */
static int read_events_private(struct tp_files *f)
{
	size_t want = TP_N * sizeof(*f), got = 0;
	int pipefd[2], status, err = -ENOENT;
	ssize_t n;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (pid == 0) {
		close(pipefd[0]);
		if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("tracefs", tracefs_mounts[0], "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			  NULL) ||
		    read_events(tracefs_mounts[0], f))
			_exit(1);
		for (got = 0; got < want; got += (size_t)n) {
			n = write(pipefd[1], (const uint8_t *)f + got, want - got);
			if (n <= 0)
				_exit(1);
		}
		_exit(0);
	}
	close(pipefd[1]);
	while (got < want) {
		n = read(pipefd[0], (uint8_t *)f + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == want) {
		/* From a child of ours, but still only strings once terminated here. */
		for (n = 0; n < TP_N; n++) {
			f[n].id[sizeof(f[n].id) - 1] = '\0';
			f[n].fmt[sizeof(f[n].fmt) - 1] = '\0';
		}
		err = 0;
	}
	return err;
}

/* field_of - offset of field @name of @size bytes in @fmt; -1 when absent or another size. */
static long field_of(const char *fmt, const char *name, unsigned long size)
{
	const char *line = fmt, *end, *semi, *p, *o, *s;
	size_t nlen = strlen(name);
	unsigned long off, sz;
	char *e;

	for (; *line; line = *end ? end + 1 : end) {
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		/* "\tfield:TYPE NAME[N];\toffset:O;\tsize:S;\tsigned:X;" */
		p = strstr(line, "field:");
		if (!p || p >= end)
			continue;
		semi = memchr(p, ';', (size_t)(end - p));
		if (!semi)
			continue;
		/* NAME is the word before ';' or before its "[N]". */
		s = memchr(p, '[', (size_t)(semi - p));
		s = s ? s : semi;
		if ((size_t)(s - p) < nlen + 1 || memcmp(s - nlen, name, nlen) ||
		    (s[-(long)nlen - 1] != ' ' && s[-(long)nlen - 1] != '*'))
			continue;
		o = strstr(semi, "offset:");
		if (!o || o > end)
			return -1;
		errno = 0;
		off = strtoul(o + 7, &e, 10);
		if (errno || *e != ';')
			return -1;
		o = strstr(e, "size:");
		if (!o || o > end)
			return -1;
		sz = strtoul(o + 5, &e, 10);
		if (errno || *e != ';' || sz != size || off > 4096)
			return -1;
		return (long)off;
	}
	return -1;
}

static int parse_layout(const struct tp_files *f, enum tp_kind kind, struct tp_layout *tl)
{
	static const struct {
		const char *name;
		unsigned long size;
		size_t at;
		bool state_only;
	} fields[] = {
		{ "common_type", 2, offsetof(struct tp_layout, type), false },
		{ "skaddr", 8, offsetof(struct tp_layout, skaddr), false },
		{ "oldstate", 4, offsetof(struct tp_layout, oldstate), true },
		{ "newstate", 4, offsetof(struct tp_layout, newstate), true },
		{ "sport", 2, offsetof(struct tp_layout, sport), false },
		{ "dport", 2, offsetof(struct tp_layout, dport), false },
		{ "family", 2, offsetof(struct tp_layout, family), false },
		{ "protocol", 2, offsetof(struct tp_layout, protocol), true },
		{ "saddr", 4, offsetof(struct tp_layout, saddr), false },
		{ "daddr", 4, offsetof(struct tp_layout, daddr), false },
		{ "saddr_v6", 16, offsetof(struct tp_layout, saddr_v6), false },
		{ "daddr_v6", 16, offsetof(struct tp_layout, daddr_v6), false },
	};
	unsigned long long id;
	uint32_t off;
	size_t i;
	char *e;
	long o;

	memset(tl, 0, sizeof(*tl));
	errno = 0;
	id = strtoull(f->id, &e, 10);
	if (errno || e == f->id || (*e && *e != '\n') || !id || id > UINT16_MAX)
		return -EPROTO;
	tl->id = id;
	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		if (fields[i].state_only && kind != TP_STATE)
			continue;
		o = field_of(f->fmt, fields[i].name, fields[i].size);
		if (o < 0)
			return -EPROTO;
		off = (uint32_t)o;
		memcpy((uint8_t *)tl + fields[i].at, &off, sizeof(off));
		if (off + fields[i].size > tl->need)
			tl->need = off + (uint32_t)fields[i].size;
	}
	tl->have = true;
	return 0;
}

/*
 * build_filter - the kernel keeps only the watched ports' events: connects to them, and
 * reads on sockets with one at either end.
 */
static void build_filter(const struct flow_config *cfg, enum tp_kind kind, char *buf,
			 size_t len)
{
	size_t off;
	int i, n, end;

	if (kind == TP_STATE)
		n = snprintf(buf, len, "(newstate == %d || oldstate == %d) && (", TCP_SYN_SENT_,
			     TCP_SYN_SENT_);
	else
		n = snprintf(buf, len, "(");
	off = n > 0 ? (size_t)n : 0;
	for (end = 0; end < (kind == TP_STATE ? 1 : 2); end++) {
		for (i = 0; i < cfg->n_ports && i < (int)ARRAY_SIZE(cfg->ports) && off < len; i++) {
			n = snprintf(buf + off, len - off, "%s%s == %u", end || i ? " || " : "",
				     end ? "sport" : "dport", (unsigned int)cfg->ports[i]);
			off += n > 0 ? (size_t)n : 0;
		}
	}
	if (off < len)
		snprintf(buf + off, len - off, ")");
}

static int open_event(uint64_t id, int cpu, bool comm, const char *filter)
{
	struct perf_event_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.size = sizeof(attr);
	attr.config = id;
	attr.sample_period = 1;
	attr.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_RAW;
	/* Side-band records end with pid, tid and time too: exec and fork put in order. */
	attr.sample_id_all = 1;
	/* exec()'s new command names and fork()'s children, on the CPU that ran them. */
	attr.comm = comm;
	attr.comm_exec = comm;
	attr.task = comm;
	/* Read with every batch of packets; woken for only when half full. */
	attr.watermark = 1;
	attr.wakeup_watermark = RING_PAGES * (uint32_t)sysconf(_SC_PAGESIZE) / 2;
	fd = (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Without the filter every event of every TCP socket would be read here. */
	if (ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter))
		log_info("perf filter refused (%s); events filtered here", strerror(errno));
	return fd;
}

static int open_ring(struct cap_perf *p, int cpu, const char *const filters[TP_N],
		     struct perf_ring *r)
{
	size_t len = p->page + p->data_len;
	int fd, err;

	r->fd = r->fd_read = -1;
	fd = open_event(p->tl[TP_STATE].id, cpu, true, filters[TP_STATE]);
	if (fd < 0)
		return fd;
	r->fd = fd;
	r->base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r->base == MAP_FAILED) {
		err = -errno;
		r->base = NULL;
		return err;
	}
	if (!p->tl[TP_READ].have)
		return 0;
	/* Into the same ring: samples tell their event apart by common_type. */
	fd = open_event(p->tl[TP_READ].id, cpu, false, filters[TP_READ]);
	if (fd < 0 || ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, r->fd)) {
		log_info("tcp_rcv_space_adjust on CPU %d: %s; servers from /proc", cpu,
			 strerror(fd < 0 ? -fd : errno));
		if (fd >= 0)
			close(fd);
		return 0;
	}
	r->fd_read = fd;
	return 0;
}

struct cap_perf *cap_perf__new(const struct flow_config *cfg, cap_perf_owner_fn owner,
			       void *ctx, char *err, size_t errlen)
{
	char filters[TP_N][1024];
	const char *const fl[TP_N] = { filters[TP_STATE], filters[TP_READ] };
	struct tp_files *files = NULL;
	struct cap_perf *p;
	int cpu, n_cpus, k, rc = -ENOENT;
	size_t i;

	p = calloc(1, sizeof(*p));
	files = calloc(TP_N, sizeof(*files));
	if (!p || !files) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	p->owner = owner;
	p->ctx = ctx;
	p->page = (size_t)sysconf(_SC_PAGESIZE);
	p->data_len = RING_PAGES * p->page;
	for (i = 0; i < (size_t)cfg->n_ports && i < ARRAY_SIZE(cfg->ports); i++)
		p->ports[cfg->ports[i] / 8] |= (uint8_t)(1u << (cfg->ports[i] % 8));
	for (i = 0; i < ARRAY_SIZE(tracefs_mounts) && rc; i++)
		rc = read_events(tracefs_mounts[i], files);
	if (rc)
		rc = read_events_private(files);
	if (rc) {
		snprintf(err, errlen, "tracefs: %s not readable", event_dirs[TP_STATE]);
		goto cleanup;
	}
	for (k = 0; k < TP_N; k++) {
		if (!files[k].id[0] && k != TP_STATE)
			continue;
		if (parse_layout(&files[k], (enum tp_kind)k, &p->tl[k])) {
			snprintf(err, errlen, "tracefs: %s has an unknown layout", event_dirs[k]);
			goto cleanup;
		}
		build_filter(cfg, (enum tp_kind)k, filters[k], sizeof(filters[k]));
	}
	n_cpus = (int)sysconf(_SC_NPROCESSORS_CONF);
	p->rings = calloc((size_t)(n_cpus > 0 ? n_cpus : 1), sizeof(*p->rings));
	if (!p->rings) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	for (cpu = 0; cpu < n_cpus; cpu++) {
		rc = open_ring(p, cpu, fl, &p->rings[p->n_rings]);
		/* An offline CPU runs nothing: no connect to miss there. */
		if (rc == -ENODEV)
			continue;
		/* Kept for cap_perf__free even when it failed half-way. */
		p->n_rings++;
		if (rc) {
			snprintf(err, errlen, "perf_event_open on CPU %d: %s%s", cpu,
				 strerror(-rc),
				 rc == -EACCES || rc == -EPERM ? " (needs CAP_PERFMON)" : "");
			goto cleanup;
		}
	}
	if (!p->n_rings) {
		snprintf(err, errlen, "perf_event_open: no CPU online");
		goto cleanup;
	}
	free(files);
	return p;

cleanup:
	free(files);
	cap_perf__free(p);
	return NULL;
}

void cap_perf__free(struct cap_perf *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->n_rings; i++) {
		if (p->rings[i].base)
			munmap(p->rings[i].base, p->page + p->data_len);
		if (p->rings[i].fd_read >= 0)
			close(p->rings[i].fd_read);
		if (p->rings[i].fd >= 0)
			close(p->rings[i].fd);
	}
	free(p->rings);
	free(p);
}

static struct sock_slot *sock_of(struct cap_perf *p, uint64_t skaddr)
{
	return &p->socks[(skaddr >> 6 ^ skaddr >> 18) & (SOCK_SLOTS - 1)];
}

static struct comm_slot *comm_of(struct cap_perf *p, uint32_t pid)
{
	return &p->comms[pid & (COMM_SLOTS - 1)];
}

static bool port_watched(const struct cap_perf *p, uint16_t port)
{
	return p->ports[port / 8] & (1u << (port % 8));
}

/*
 * note_comm - @pid's name is @comm since @time, unless the slot already holds a later
 * word about the same pid (a fork read after the exec that followed it, from another
 * CPU's ring).
 */
static void note_comm(struct cap_perf *p, uint32_t pid, uint64_t time, const char *comm,
		      size_t len)
{
	struct comm_slot *c = comm_of(p, pid);

	if (c->pid == pid && c->time > time)
		return;
	c->pid = pid;
	c->time = time;
	memset(c->comm, 0, sizeof(c->comm));
	memcpy(c->comm, comm, len < sizeof(c->comm) - 1 ? len : sizeof(c->comm) - 1);
}

/* PERF_RECORD_COMM: pid, tid, the name (NUL-padded), then sample_id's pid, tid, time. */
static void on_comm(struct cap_perf *p, const uint8_t *body, size_t len)
{
	uint32_t pid, tid;
	uint64_t time;

	if (len < 8 + 16) {
		p->bad++;
		return;
	}
	memcpy(&pid, body, 4);
	memcpy(&tid, body + 4, 4);
	memcpy(&time, body + len - 8, 8);
	/* A thread's own name (prctl) is not the process's. */
	if (!pid || pid != tid)
		return;
	note_comm(p, pid, time, (const char *)body + 8, strnlen((const char *)body + 8, len - 24));
}

/*
 * PERF_RECORD_FORK: pid, ppid, tid, ptid, time. A new process (not a thread) starts
 * with its parent's name, or none known, which still hides an older process's.
 */
static void on_fork(struct cap_perf *p, const uint8_t *body, size_t len)
{
	const struct comm_slot *parent;
	uint32_t pid, ppid, tid;
	uint64_t time;

	if (len < 24) {
		p->bad++;
		return;
	}
	memcpy(&pid, body, 4);
	memcpy(&ppid, body + 4, 4);
	memcpy(&tid, body + 8, 4);
	memcpy(&time, body + 16, 8);
	if (!pid || pid != tid || pid == ppid)
		return;
	parent = comm_of(p, ppid);
	if (parent->pid == ppid)
		note_comm(p, pid, time, parent->comm, strnlen(parent->comm, sizeof(parent->comm)));
	else
		note_comm(p, pid, time, "", 0);
}

static void endpoint_at(struct hs_endpoint *ep, int family, const uint8_t *raw, uint32_t off4,
			uint32_t off6, uint32_t port_off)
{
	uint16_t port;

	memset(ep, 0, sizeof(*ep));
	ep->family = (uint8_t)family;
	if (family == AF_INET)
		memcpy(ep->addr, raw + off4, 4);
	else
		memcpy(ep->addr, raw + off6, 16);
	/* The tracepoints store ports in host order (ntohs in TP_fast_assign). */
	memcpy(&port, raw + port_off, 2);
	ep->port = port;
}

/*
 * flush - hand on the owners read so far, each with its process's name: exec()'s
 * name may have been on another CPU's ring, read after the event's.
 */
static void flush(struct cap_perf *p)
{
	const struct comm_slot *cs;
	const struct pending *q;
	struct hs_owner o;
	unsigned int i;

	for (i = 0; i < p->n_pending; i++) {
		q = &p->pending[i];
		memset(&o, 0, sizeof(o));
		o.tgid = q->pid;
		o.pid = q->tid;
		o.uid = UINT32_MAX;
		cs = comm_of(p, q->pid);
		if (cs->pid == q->pid)
			memcpy(o.comm, cs->comm, sizeof(o.comm));
		p->owner(&q->client, &q->server, q->local, &o, p->ctx);
	}
	p->n_pending = 0;
}

/*
 * tell - @pid owns the @local end of the socket at @skaddr, whose 4-tuple is in @raw;
 * handed on unless that was the last word about this socket already (every read of a
 * watched socket is an event).
 */
static void tell(struct cap_perf *p, const struct tp_layout *tl, const uint8_t *raw,
		 struct sock_slot *s, uint32_t pid, uint32_t tid, enum hs_role local)
{
	uint16_t family;
	struct pending *q;

	if (s->told_pid == pid)
		return;
	s->told_pid = pid;
	if (p->n_pending == PENDING_MAX)
		flush(p);
	memcpy(&family, raw + tl->family, 2);
	q = &p->pending[p->n_pending++];
	/* The socket's own view: source is the local end. */
	if (local == HS_ROLE_CLIENT) {
		endpoint_at(&q->client, family, raw, tl->saddr, tl->saddr_v6, tl->sport);
		endpoint_at(&q->server, family, raw, tl->daddr, tl->daddr_v6, tl->dport);
	} else {
		endpoint_at(&q->server, family, raw, tl->saddr, tl->saddr_v6, tl->sport);
		endpoint_at(&q->client, family, raw, tl->daddr, tl->daddr_v6, tl->dport);
	}
	q->pid = pid;
	q->tid = tid;
	q->local = local;
}

static void on_state(struct cap_perf *p, const uint8_t *raw, uint32_t pid, uint32_t tid,
		     struct sock_slot *s, uint64_t skaddr)
{
	const struct tp_layout *tl = &p->tl[TP_STATE];
	uint16_t protocol;
	int32_t old, new;

	memcpy(&old, raw + tl->oldstate, 4);
	memcpy(&new, raw + tl->newstate, 4);
	memcpy(&protocol, raw + tl->protocol, 2);
	if (protocol != IPPROTO_TCP)
		return;
	if (old == TCP_CLOSE_ && new == TCP_SYN_SENT_) {
		/* Inside connect(); pid 0: a process this pid namespace does not number. */
		*s = (struct sock_slot){ .skaddr = pid ? skaddr : 0, .conn_pid = pid,
					 .conn_tid = tid };
		return;
	}
	if (old != TCP_SYN_SENT_ || s->skaddr != skaddr || !s->conn_pid)
		return;
	/* Any way out of SYN_SENT (established, refused, reset): the 4-tuple is final. */
	tell(p, tl, raw, s, s->conn_pid, s->conn_tid, HS_ROLE_CLIENT);
	s->conn_pid = 0;
}

static void on_read(struct cap_perf *p, const uint8_t *raw, uint32_t pid, uint32_t tid,
		    struct sock_slot *s, uint64_t skaddr)
{
	const struct tp_layout *tl = &p->tl[TP_READ];
	uint16_t sport, dport;
	enum hs_role local;

	memcpy(&sport, raw + tl->sport, 2);
	memcpy(&dport, raw + tl->dport, 2);
	/* A watched local port is a server's end; a watched remote one, a client's. */
	if (port_watched(p, sport))
		local = HS_ROLE_SERVER;
	else if (port_watched(p, dport))
		local = HS_ROLE_CLIENT;
	else
		return;
	if (!pid)
		return;
	if (s->skaddr != skaddr)
		*s = (struct sock_slot){ .skaddr = skaddr };
	tell(p, tl, raw, s, pid, tid, local);
}

static void on_sample(struct cap_perf *p, const uint8_t *body, size_t len)
{
	const struct tp_layout *tl;
	uint32_t pid, tid, size;
	uint16_t type, family;
	uint64_t skaddr;
	const uint8_t *raw;
	int k;

	/* TID | TIME | RAW: pid, tid, time, then a u32 size and the record. */
	if (len < 20)
		goto bad;
	memcpy(&pid, body, 4);
	memcpy(&tid, body + 4, 4);
	memcpy(&size, body + 16, 4);
	raw = body + 20;
	/* Both events share the ring: common_type, where every event has it, says whose. */
	if (size > len - 20 || size < p->tl[TP_STATE].type + 2)
		goto bad;
	memcpy(&type, raw + p->tl[TP_STATE].type, 2);
	for (k = 0; k < TP_N && !(p->tl[k].have && p->tl[k].id == type); k++)
		;
	if (k == TP_N)
		goto bad;
	tl = &p->tl[k];
	if (size < tl->need)
		goto bad;
	memcpy(&skaddr, raw + tl->skaddr, 8);
	memcpy(&family, raw + tl->family, 2);
	if ((family != AF_INET && family != AF_INET6) || !skaddr)
		return;
	if (k == TP_STATE)
		on_state(p, raw, pid, tid, sock_of(p, skaddr), skaddr);
	else
		on_read(p, raw, pid, tid, sock_of(p, skaddr), skaddr);
	return;
bad:
	p->bad++;
}

static void on_event(struct cap_perf *p, const struct perf_event_header *h, const uint8_t *body)
{
	size_t len = h->size - sizeof(*h);
	uint64_t lost;

	switch (h->type) {
	case PERF_RECORD_SAMPLE:
		on_sample(p, body, len);
		break;
	case PERF_RECORD_COMM:
		on_comm(p, body, len);
		break;
	case PERF_RECORD_FORK:
		on_fork(p, body, len);
		break;
	case PERF_RECORD_LOST:
		if (len >= 16) {
			memcpy(&lost, body + 8, 8);
			p->lost += lost;
		}
		break;
	default:
		break;
	}
}

/* ring_copy - @n bytes at ring offset @pos into @dst, across the ring's end. */
static void ring_copy(const struct cap_perf *p, const uint8_t *data, uint64_t pos, void *dst,
		      size_t n)
{
	size_t at = (size_t)(pos & (p->data_len - 1));
	size_t first = n < p->data_len - at ? n : p->data_len - at;

	memcpy(dst, data + at, first);
	memcpy((uint8_t *)dst + first, data, n - first);
}

static void drain(struct cap_perf *p, struct perf_ring *r)
{
	struct perf_event_mmap_page *meta = (struct perf_event_mmap_page *)r->base;
	const uint8_t *data = r->base + p->page;
	struct perf_event_header h;
	uint64_t head, tail;
	size_t at;

	head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
	tail = meta->data_tail;
	while (head - tail >= sizeof(h)) {
		ring_copy(p, data, tail, &h, sizeof(h));
		/* The kernel wrote it, but a size that lies would walk off the ring. */
		if (h.size < sizeof(h) || h.size > head - tail) {
			p->bad++;
			tail = head;
			break;
		}
		at = (size_t)(tail & (p->data_len - 1));
		if (at + h.size <= p->data_len) {
			on_event(p, &h, data + at + sizeof(h));
		} else {
			ring_copy(p, data, tail, p->wrap, h.size);
			on_event(p, &h, p->wrap + sizeof(h));
		}
		tail += h.size;
	}
	__atomic_store_n(&meta->data_tail, tail, __ATOMIC_RELEASE);
}

int cap_perf__watch(struct cap_perf *p, int efd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int i;

	for (i = 0; i < p->n_rings; i++) {
		ev.data.fd = p->rings[i].fd;
		if (epoll_ctl(efd, EPOLL_CTL_ADD, ev.data.fd, &ev))
			return -1;
	}
	return 0;
}

void cap_perf__poll(struct cap_perf *p)
{
	int i;

	for (i = 0; i < p->n_rings; i++)
		drain(p, &p->rings[i]);
	flush(p);
}

void cap_perf__stats(const struct cap_perf *p, uint64_t *lost, uint64_t *bad)
{
	*lost = p->lost;
	*bad = p->bad;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * The process behind each outgoing connection, for the libpcap backend, told by the
 * kernel rather than found in /proc afterwards: the sock:inet_sock_set_state tracepoint
 * opened as a plain perf event on every CPU (perf_event_open(2), no eBPF needed).
 *
 * Why: a client that sends one ClientHello, gets an alert and exits lives about a
 * millisecond after its SYN. A /proc scan started at the SYN loses that race whenever
 * the daemon waits that long for a CPU (two cores, a busy host). The kernel's record of
 * the connect cannot be late:
 *  - CLOSE -> SYN_SENT runs inside connect(), in the connecting process: the sample's
 *    pid is the client. The local port may still be 0 there (tcp_v4_connect picks it
 *    after the state change), so the socket is remembered by its kernel address;
 *  - the next transition of that socket (SYN_SENT -> ESTABLISHED, or -> CLOSE when
 *    refused) carries the whole 4-tuple, and the pair is handed on.
 * The command name comes from the PERF_RECORD_COMM side-band records of exec(), kept
 * per pid, so a client gone before /proc is read is still named.
 *
 * The tracepoint's id and field offsets are read from tracefs (events/sock/
 * inet_sock_set_state/{id,format}); where tracefs is not mounted in this mount namespace
 * (`ip netns exec` mounts a fresh /sys), a child process mounts it in a private mount
 * namespace of its own and reports the two files. A kernel filter keeps the events to
 * connects to the watched ports.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Data pages per CPU: 128 KiB, about 1,500 connects between two drains. */
#define RING_PAGES 32
/* Sockets between connect() and their 4-tuple; a collision loses one owner. */
#define CONNECT_SLOTS 1024
/* Command names of processes that exec'd since the capture started. */
#define COMM_SLOTS 4096
/* The tracefs files read; the format of this event is about 3 KiB. */
#define FILE_MAX 8192

/* include/net/tcp_states.h */
enum { TCP_ESTABLISHED_ = 1, TCP_SYN_SENT_ = 2, TCP_CLOSE_ = 7 };

static const char *const event_dir = "events/sock/inet_sock_set_state";
static const char *const tracefs_mounts[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

/* Offsets of the fields read in the raw sample, from the event's format file. */
struct tp_layout {
	uint32_t skaddr, oldstate, newstate, sport, dport, family, protocol;
	uint32_t saddr, daddr, saddr_v6, daddr_v6;
	uint32_t need; /* bytes a sample must have */
};

struct perf_ring {
	int fd;
	uint8_t *base; /* the control page, then the data pages */
};

struct connect_slot {
	uint64_t skaddr; /* 0: empty */
	uint32_t pid, tid;
};

struct comm_slot {
	uint32_t pid; /* 0: empty */
	char comm[16];
};

/* Connects completed in this drain, handed on once every CPU's ring was read. */
#define PENDING_MAX 256

struct pending {
	struct hs_endpoint client, server;
	uint32_t pid, tid;
};

struct cap_perf {
	struct perf_ring *rings;
	int n_rings;
	size_t page, data_len;
	struct tp_layout tl;
	struct connect_slot conns[CONNECT_SLOTS];
	struct comm_slot comms[COMM_SLOTS];
	struct pending pending[PENDING_MAX];
	unsigned int n_pending;
	cap_perf_owner_fn owner;
	void *ctx;
	uint64_t lost, bad;
	uint8_t wrap[65536]; /* a record cut by the end of the ring, joined */
};

/* read_small - the whole of @dir/@name into @buf (NUL-terminated); bytes or -errno. */
static ssize_t read_small(const char *dir, const char *name, char *buf, size_t len)
{
	char path[256];
	ssize_t n, got = 0;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", dir, event_dir, name) >=
	    sizeof(path))
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

static int read_event(const char *dir, char *id, char *fmt)
{
	ssize_t n = read_small(dir, "id", id, 32);

	if (n < 0)
		return (int)n;
	n = read_small(dir, "format", fmt, FILE_MAX);
	return n < 0 ? (int)n : 0;
}

/*
 * read_event_private - tracefs mounted by a child in a mount namespace of its own, so
 * nothing is mounted where anyone else could see it (propagation made private first).
 */
static int read_event_private(char *id, char *fmt)
{
	static char both[32 + FILE_MAX];
	int pipefd[2], status, err = -ENOENT;
	ssize_t n, got = 0;
	size_t idlen;
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
		    read_event(tracefs_mounts[0], id, fmt))
			_exit(1);
		/* "ID\0FORMAT": the id file ends in a newline, never holds a NUL. */
		if (write(pipefd[1], id, strlen(id) + 1) < 0 ||
		    write(pipefd[1], fmt, strlen(fmt)) < 0)
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	while ((size_t)got < sizeof(both) - 1) {
		n = read(pipefd[0], both + got, sizeof(both) - 1 - (size_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	both[got] = '\0';
	idlen = strnlen(both, (size_t)got);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && idlen < 32 && idlen < (size_t)got) {
		memcpy(id, both, idlen + 1);
		util_strlcpy(fmt, both + idlen + 1, FILE_MAX);
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

static int parse_layout(const char *fmt, struct tp_layout *tl)
{
	static const struct {
		const char *name;
		unsigned long size;
		size_t at;
	} fields[] = {
		{ "skaddr", 8, offsetof(struct tp_layout, skaddr) },
		{ "oldstate", 4, offsetof(struct tp_layout, oldstate) },
		{ "newstate", 4, offsetof(struct tp_layout, newstate) },
		{ "sport", 2, offsetof(struct tp_layout, sport) },
		{ "dport", 2, offsetof(struct tp_layout, dport) },
		{ "family", 2, offsetof(struct tp_layout, family) },
		{ "protocol", 2, offsetof(struct tp_layout, protocol) },
		{ "saddr", 4, offsetof(struct tp_layout, saddr) },
		{ "daddr", 4, offsetof(struct tp_layout, daddr) },
		{ "saddr_v6", 16, offsetof(struct tp_layout, saddr_v6) },
		{ "daddr_v6", 16, offsetof(struct tp_layout, daddr_v6) },
	};
	uint32_t off;
	size_t i;
	long o;

	tl->need = 0;
	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		o = field_of(fmt, fields[i].name, fields[i].size);
		if (o < 0)
			return -EPROTO;
		off = (uint32_t)o;
		memcpy((uint8_t *)tl + fields[i].at, &off, sizeof(off));
		if (off + fields[i].size > tl->need)
			tl->need = off + (uint32_t)fields[i].size;
	}
	return 0;
}

/* build_filter - the kernel keeps only connects to the watched ports. */
static void build_filter(const struct flow_config *cfg, char *buf, size_t len)
{
	size_t off;
	int i, n;

	n = snprintf(buf, len, "(newstate == %d || oldstate == %d) && (", TCP_SYN_SENT_,
		     TCP_SYN_SENT_);
	off = n > 0 ? (size_t)n : 0;
	for (i = 0; i < cfg->n_ports && i < (int)ARRAY_SIZE(cfg->ports) && off < len; i++) {
		n = snprintf(buf + off, len - off, "%sdport == %u", i ? " || " : "",
			     (unsigned int)cfg->ports[i]);
		off += n > 0 ? (size_t)n : 0;
	}
	if (off < len)
		snprintf(buf + off, len - off, ")");
}

static int open_ring(struct cap_perf *p, uint64_t id, int cpu, const char *filter,
		     struct perf_ring *r)
{
	struct perf_event_attr attr;
	size_t len = p->page + p->data_len;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.size = sizeof(attr);
	attr.config = id;
	attr.sample_period = 1;
	attr.sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_RAW;
	/* exec()'s new command names, on the CPU that ran the exec. */
	attr.comm = 1;
	attr.comm_exec = 1;
	/* Read on the daemon's own schedule (cap_perf__poll), never woken for. */
	attr.watermark = 1;
	attr.wakeup_watermark = (uint32_t)(p->data_len / 2);
	fd = (int)syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Without the filter every state change of every TCP socket would be read. */
	if (ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter))
		log_info("perf filter refused (%s); connects filtered here", strerror(errno));
	r->base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r->base == MAP_FAILED) {
		r->base = NULL;
		close(fd);
		return -errno;
	}
	r->fd = fd;
	return 0;
}

struct cap_perf *cap_perf__new(const struct flow_config *cfg, cap_perf_owner_fn owner,
			       void *ctx, char *err, size_t errlen)
{
	char id[32], *fmt = NULL, filter[1024];
	struct cap_perf *p;
	int cpu, n_cpus, rc = -ENOENT;
	unsigned long long event;
	size_t i;
	char *e;

	p = calloc(1, sizeof(*p));
	fmt = malloc(FILE_MAX);
	if (!p || !fmt) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	p->owner = owner;
	p->ctx = ctx;
	p->page = (size_t)sysconf(_SC_PAGESIZE);
	p->data_len = RING_PAGES * p->page;
	for (i = 0; i < ARRAY_SIZE(tracefs_mounts) && rc; i++)
		rc = read_event(tracefs_mounts[i], id, fmt);
	if (rc)
		rc = read_event_private(id, fmt);
	if (rc) {
		snprintf(err, errlen, "tracefs: %s/inet_sock_set_state not readable", event_dir);
		goto cleanup;
	}
	errno = 0;
	event = strtoull(id, &e, 10);
	if (errno || e == id || (*e && *e != '\n') || parse_layout(fmt, &p->tl)) {
		snprintf(err, errlen, "tracefs: inet_sock_set_state has an unknown layout");
		goto cleanup;
	}
	build_filter(cfg, filter, sizeof(filter));
	n_cpus = (int)sysconf(_SC_NPROCESSORS_CONF);
	p->rings = calloc((size_t)(n_cpus > 0 ? n_cpus : 1), sizeof(*p->rings));
	if (!p->rings) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	for (cpu = 0; cpu < n_cpus; cpu++) {
		rc = open_ring(p, event, cpu, filter, &p->rings[p->n_rings]);
		/* An offline CPU runs nothing: no connect to miss there. */
		if (rc == -ENODEV)
			continue;
		if (rc) {
			snprintf(err, errlen, "perf_event_open on CPU %d: %s%s", cpu,
				 strerror(-rc),
				 rc == -EACCES || rc == -EPERM ? " (needs CAP_PERFMON)" : "");
			goto cleanup;
		}
		p->n_rings++;
	}
	if (!p->n_rings) {
		snprintf(err, errlen, "perf_event_open: no CPU online");
		goto cleanup;
	}
	free(fmt);
	return p;

cleanup:
	free(fmt);
	cap_perf__free(p);
	return NULL;
}

void cap_perf__free(struct cap_perf *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->n_rings; i++) {
		munmap(p->rings[i].base, p->page + p->data_len);
		close(p->rings[i].fd);
	}
	free(p->rings);
	free(p);
}

static struct connect_slot *conn_of(struct cap_perf *p, uint64_t skaddr)
{
	return &p->conns[(skaddr >> 6 ^ skaddr >> 16) & (CONNECT_SLOTS - 1)];
}

static struct comm_slot *comm_of(struct cap_perf *p, uint32_t pid)
{
	return &p->comms[pid & (COMM_SLOTS - 1)];
}

static void on_comm(struct cap_perf *p, const uint8_t *body, size_t len)
{
	struct comm_slot *c;
	uint32_t pid, tid;

	if (len < 8)
		goto bad;
	memcpy(&pid, body, 4);
	memcpy(&tid, body + 4, 4);
	/* A thread's own name (prctl) is not the process's. */
	if (!pid || pid != tid)
		return;
	c = comm_of(p, pid);
	c->pid = pid;
	memset(c->comm, 0, sizeof(c->comm));
	memcpy(c->comm, body + 8, len - 8 < sizeof(c->comm) - 1 ? len - 8 : sizeof(c->comm) - 1);
	return;
bad:
	p->bad++;
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
	/* The tracepoint stores ports in host order (ntohs in TP_fast_assign). */
	memcpy(&port, raw + port_off, 2);
	ep->port = port;
}

/*
 * flush - hand on the connects read so far, each with its process's name: exec()'s
 * name may have been on another CPU's ring, read after the connect's.
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
		p->owner(&q->client, &q->server, &o, p->ctx);
	}
	p->n_pending = 0;
}

static void on_sample(struct cap_perf *p, const uint8_t *body, size_t len)
{
	const struct tp_layout *tl = &p->tl;
	struct connect_slot *c;
	struct pending *q;
	uint32_t pid, tid, size;
	int32_t old, new;
	uint16_t family, protocol;
	uint64_t skaddr;
	const uint8_t *raw;

	/* PERF_SAMPLE_TID | PERF_SAMPLE_RAW: pid, tid, then a u32 size and the record. */
	if (len < 12)
		goto bad;
	memcpy(&pid, body, 4);
	memcpy(&tid, body + 4, 4);
	memcpy(&size, body + 8, 4);
	if (size > len - 12 || size < tl->need)
		goto bad;
	raw = body + 12;
	memcpy(&skaddr, raw + tl->skaddr, 8);
	memcpy(&old, raw + tl->oldstate, 4);
	memcpy(&new, raw + tl->newstate, 4);
	memcpy(&family, raw + tl->family, 2);
	memcpy(&protocol, raw + tl->protocol, 2);
	if (protocol != IPPROTO_TCP || (family != AF_INET && family != AF_INET6) || !skaddr)
		return;
	c = conn_of(p, skaddr);
	if (old == TCP_CLOSE_ && new == TCP_SYN_SENT_) {
		/* Inside connect(); pid 0: a process this pid namespace does not number. */
		*c = (struct connect_slot){ .skaddr = pid ? skaddr : 0, .pid = pid, .tid = tid };
		return;
	}
	if (old != TCP_SYN_SENT_ || c->skaddr != skaddr)
		return;
	/* Any way out of SYN_SENT (established, refused, reset): the 4-tuple is final. */
	if (p->n_pending == PENDING_MAX)
		flush(p);
	q = &p->pending[p->n_pending++];
	endpoint_at(&q->client, family, raw, tl->saddr, tl->saddr_v6, tl->sport);
	endpoint_at(&q->server, family, raw, tl->daddr, tl->daddr_v6, tl->dport);
	q->pid = c->pid;
	q->tid = c->tid;
	c->skaddr = 0;
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

// SPDX-License-Identifier: GPL-2.0-only
/*
 * eBPF capture backend: loads bpf/tlsaudit.bpf.c, attaches it to the cgroup v2 root and
 * turns ring-buffer samples into flow segments, socket owners and closes.
 *
 * Every sample is untrusted input (the payload is peer-controlled, and a map value can
 * be written by anyone with CAP_BPF): sizes are checked before anything is copied out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tlsaudit.skel.h"
#include "tlsaudit/bpf_shared.h"
#include "tlsaudit/capture_live.h"
#include "tlsaudit/log.h"
#include "tlsaudit/util.h"

#define PRIVATE_CGROUP2 "/run/tlsaudit/cgroup2"

/*
 * Flows marked done between two polls. A syscall per flow was two per handshake; a
 * system call is the dearest thing userspace does per record (on paravirtualized guests
 * especially), so they go out together.
 */
#define DONE_BATCH 256
/* What bpf() answers for a map type without batch operations (kernel-internal errno). */
#define KERNEL_ENOTSUPP 524

struct cap_bpf {
	struct tlsaudit_bpf *skel;
	struct ring_buffer *rb;
	struct cap_bpf_ops ops;
	int cgroup_fd;
	int mounted_private;	/* we mounted PRIVATE_CGROUP2 */
	uint64_t mono_to_wall;	/* add to CLOCK_MONOTONIC ns for wall-clock ns */
	int ncpus;
	/* flows marked done since the last poll, written in one batched update */
	uint64_t done[DONE_BATCH];
	struct ta_flow_val done_vals[DONE_BATCH];
	unsigned int n_done;
	bool no_batch;		/* kernel without map batch operations (before 5.6) */
	bool owner_tps;		/* both owner tracepoints loaded */
	bool warned_done;	/* a done mark was refused: said once */
	unsigned int batch;	/* samples handled in this poll */
};

/*
 * Samples handled per cap_bpf__poll(). libbpf's ring_buffer__consume() returns only
 * once it has caught up with the producers: when they are faster (a storm on a host
 * whose CPUs are busy elsewhere), it never returns, and the loop around it stops
 * serving signals, exports and the control socket; `watch --json` was seen to miss a
 * 5 s stop deadline with all its output unflushed. A callback that returns an error
 * stops the walk after its sample is consumed: that is the batch's end. The ring's fd
 * stays readable, so the next turn of the loop goes on where this one stopped.
 */
#define POLL_BATCH 4096
#define BATCH_FULL (-EAGAIN)

/* libbpf's messages one level below ours: its warnings are our info, and so on. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level lvl = level == LIBBPF_WARN ? LOG_LVL_INFO : LOG_LVL_DEBUG;
	char line[1024];
	size_t n;

	if (!log_enabled(lvl))
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	log_msg(lvl, "libbpf: %s", line);
	return 0;
}

static uint64_t mono_to_wall_offset(void)
{
	struct timespec rt, mono;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &rt);
	return ((uint64_t)rt.tv_sec * NSEC_PER_SEC + (uint64_t)rt.tv_nsec) -
	       ((uint64_t)mono.tv_sec * NSEC_PER_SEC + (uint64_t)mono.tv_nsec);
}

/*
 * find_cgroup2 - the mount point of the cgroup v2 hierarchy's root, from a mountinfo
 * file (proc(5): "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SRC OPTS").
 */
static int find_cgroup2(const char *mountinfo, const char *prefix, char *path, size_t len)
{
	char line[1024], root[512], mnt[512];
	int ret = -ENOENT;
	FILE *f;

	f = fopen(mountinfo, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		if (sscanf(line, "%*u %*u %*s %511s %511s", root, mnt) != 2)
			continue;
		/* Only the hierarchy's root sees every socket; escaped names are skipped. */
		if (strcmp(root, "/") || strchr(mnt, '\\'))
			continue;
		if (snprintf(path, len, "%s%s", prefix, mnt) >= (int)len)
			continue;
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

static int open_cgroup_root(struct cap_bpf *b, char *err, size_t errlen)
{
	char path[600];
	int fd;

	if (!find_cgroup2("/proc/self/mountinfo", "", path, sizeof(path)) ||
	    /* inside `ip netns exec` /sys is remounted without cgroups; PID 1 still has it */
	    !find_cgroup2("/proc/1/mountinfo", "/proc/1/root", path, sizeof(path))) {
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			log_debug("cgroup v2 root at %s", path);
			return fd;
		}
	}
	/* No cgroup2 mounted anywhere: a private mount of the same hierarchy will do. */
	if (mkdir("/run/tlsaudit", 0755) && errno != EEXIST)
		goto fail;
	if (mkdir(PRIVATE_CGROUP2, 0700) && errno != EEXIST)
		goto fail;
	if (mount("cgroup2", PRIVATE_CGROUP2, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		goto fail;
	b->mounted_private = 1;
	fd = open(PRIVATE_CGROUP2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
fail:
	snprintf(err, errlen, "no cgroup v2 hierarchy: none mounted and mounting one at %s "
		 "failed: %s", PRIVATE_CGROUP2, strerror(errno));
	return -1;
}

/*
 * Both owner tracepoints (sock:inet_sock_set_state, tcp:tcp_rcv_space_adjust) date from
 * 4.16 and are in every kernel with BTF tracepoints, but distributions may patch them
 * out. TLSAUDIT_NO_OWNER_TRACEPOINTS=1 takes the same path on purpose, so the sock_diag
 * fallback can be exercised on any kernel.
 */
#define NO_OWNER_TPS_ENV "TLSAUDIT_NO_OWNER_TRACEPOINTS"

static bool owner_tps_disabled(void)
{
	const char *off = secure_getenv(NO_OWNER_TPS_ENV);

	return off && *off && strcmp(off, "0");
}

/*
 * TLSAUDIT_RINGBUF_BYTES: the ring buffer's size instead of the object's 8 MiB, a power
 * of two from one page to 1 GiB (the kernel's rules for a BPF ring buffer). A test knob:
 * a tiny buffer under a handshake storm makes the drop path run, which 8 MiB only
 * reaches under more load than a test machine makes. Anything else is refused and
 * logged, and the default kept.
 */
#define RINGBUF_BYTES_ENV "TLSAUDIT_RINGBUF_BYTES"

static void set_ringbuf_size(struct tlsaudit_bpf *skel)
{
	const char *val = secure_getenv(RINGBUF_BYTES_ENV);
	long page = sysconf(_SC_PAGESIZE);
	uint64_t bytes;

	if (!val || !*val)
		return;
	if (page <= 0 || util_parse_u64(val, (uint64_t)page, 1ULL << 30, &bytes) ||
	    (bytes & (bytes - 1)) || bpf_map__set_max_entries(skel->maps.events, (__u32)bytes)) {
		log_warn("%s=%s: not a power of two from the page size to 1 GiB; the ring "
			 "buffer keeps its default size", RINGBUF_BYTES_ENV, val);
		return;
	}
	log_info("%s is set: ring buffer of %llu bytes", RINGBUF_BYTES_ENV,
		 (unsigned long long)bytes);
}

static int have_tracepoint(const char *name)
{
	return !owner_tps_disabled() && libbpf_find_vmlinux_btf_id(name, BPF_TRACE_RAW_TP) > 0;
}

/*
 * Leave out the owner tracepoints this kernel lacks; owners then come from /proc.
 * True when both stay. @say: log what is left out (once, on the first load).
 */
static bool select_owner_tracepoints(struct tlsaudit_bpf *skel, bool say)
{
	const struct {
		const char *name;
		struct bpf_program *prog;
		const char *without;
	} tps[] = {
		{ "inet_sock_set_state", skel->progs.tlsaudit_set_state,
		  "connecting processes found through sock_diag and /proc, flows end when idle" },
		{ "tcp_rcv_space_adjust", skel->progs.tlsaudit_rcv,
		  "owners of accepted sockets found through sock_diag and /proc" },
	};
	bool all = true;
	size_t i;

	if (owner_tps_disabled() && say)
		log_info("%s is set: leaving out the owner tracepoints", NO_OWNER_TPS_ENV);
	for (i = 0; i < ARRAY_SIZE(tps); i++) {
		if (have_tracepoint(tps[i].name))
			continue;
		bpf_program__set_autoload(tps[i].prog, false);
		if (say)
			log_info("no %s tracepoint: %s", tps[i].name, tps[i].without);
		all = false;
	}
	return all;
}

/*
 * The pid namespace whose numbers attribution reads in /proc: that of the /proc mount,
 * which is its pid 1's (in a container, /proc is mounted for the container's namespace;
 * /proc/self/ns/pid would name the reader's, which differs where /proc was not
 * remounted). Left at 0, the owner events carry the initial namespace's numbers.
 */
#define PROC_PID_INIT_INO 0xEFFFFFFCU /* include/linux/proc_ns.h: the initial namespace */

static void set_pid_namespace(struct tlsaudit_bpf *skel)
{
	struct stat st;

	if (stat("/proc/1/ns/pid", &st) && stat("/proc/self/ns/pid", &st)) {
		log_warn("pid namespace unknown (%s): processes in a pid namespace other than "
			 "the initial one may be named wrongly", strerror(errno));
		return;
	}
	if (st.st_ino == PROC_PID_INIT_INO)
		return;
	/* The kernel's dev_t (MKDEV: 12-bit major, 20-bit minor), not glibc's encoding. */
	skel->rodata->pidns_dev = (uint64_t)major(st.st_dev) << 20 | minor(st.st_dev);
	skel->rodata->pidns_ino = st.st_ino;
	log_info("pid namespace %llu: owners are numbered as this /proc shows them",
		 (unsigned long long)st.st_ino);
}

static void handle_data(struct cap_bpf *b, const uint8_t *data, size_t size)
{
	struct flow_segment seg;
	struct ta_data d;

	if (size < sizeof(d))
		return;
	memcpy(&d, data, sizeof(d));
	if (d.len > TA_CHUNK || d.len > size - sizeof(d))
		return;
	if (d.family != 4 && d.family != 6)
		return;
	memset(&seg, 0, sizeof(seg));
	seg.ts_ns = d.hdr.ktime_ns + b->mono_to_wall;
	seg.family = d.family == 4 ? AF_INET : AF_INET6;
	memcpy(seg.saddr, d.saddr, sizeof(seg.saddr));
	memcpy(seg.daddr, d.daddr, sizeof(seg.daddr));
	seg.sport = d.sport;
	seg.dport = d.dport;
	seg.seq = d.seq;
	seg.ack = d.ack;
	seg.tcp_flags = d.tcp_flags;
	seg.payload = data + sizeof(d);
	seg.len = d.len;
	seg.cookie = d.hdr.cookie;
	seg.egress = d.egress != 0;
	if (b->ops.segment)
		b->ops.segment(&seg, b->ops.ctx);
}

static void owner_from(struct hs_owner *o, uint32_t tgid, uint32_t pid, uint32_t uid,
		       uint64_t cgroup_id, const char *comm)
{
	o->tgid = tgid;
	o->pid = pid;
	o->uid = uid;
	o->cgroup_id = cgroup_id;
	memcpy(o->comm, comm, sizeof(o->comm));
	o->comm[sizeof(o->comm) - 1] = '\0';
}

/* drop_done - socket @cookie closed: a queued mark would bring its entry back. */
static void drop_done(struct cap_bpf *b, uint64_t cookie)
{
	unsigned int i = 0;

	while (i < b->n_done) {
		if (b->done[i] == cookie)
			b->done[i] = b->done[--b->n_done];
		else
			i++;
	}
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct cap_bpf *b = ctx;
	struct ta_hdr hdr;

	if (size < sizeof(hdr))
		return 0;
	memcpy(&hdr, data, sizeof(hdr));
	switch (hdr.type) {
	case TA_EV_DATA:
		handle_data(b, data, size);
		break;
	case TA_EV_OWNER: {
		struct ta_owner ev;
		struct hs_owner o;

		if (size < sizeof(ev))
			break;
		memcpy(&ev, data, sizeof(ev));
		owner_from(&o, ev.tgid, ev.pid, ev.uid, ev.cgroup_id, ev.comm);
		if (b->ops.owner)
			b->ops.owner(hdr.cookie, &o, b->ops.ctx);
		break;
	}
	case TA_EV_CLOSE:
		/* Finishing the flow queues its mark: dropped right after. */
		if (b->ops.close)
			b->ops.close(hdr.cookie, hdr.ktime_ns + b->mono_to_wall, b->ops.ctx);
		drop_done(b, hdr.cookie);
		break;
	default:
		break;
	}
	return ++b->batch >= POLL_BATCH ? BATCH_FULL : 0;
}

static void load_error(int e, char *err, size_t errlen)
{
	if (e == EPERM || e == EACCES)
		snprintf(err, errlen, "permission denied loading BPF programs: run as root or "
			 "with CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN");
	else
		snprintf(err, errlen, "loading the BPF programs failed (%s): kernel too old or "
			 "built without cgroup BPF / BTF tracepoints (5.8+ needed)", strerror(e));
}

struct cap_bpf *cap_bpf__new(const struct flow_config *cfg, const struct cap_bpf_ops *ops,
			     char *err, size_t errlen)
{
	struct cap_bpf *b;
	uint32_t budget;
	int i, e = 0, map_fd, sk_owner;
	uint8_t on = 1;

	libbpf_set_print(libbpf_print);
	b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->cgroup_fd = -1;
	b->ops = *ops;
	for (i = 0; i < DONE_BATCH; i++)
		b->done_vals[i].done = 1;
	b->ncpus = libbpf_num_possible_cpus();
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		snprintf(err, errlen, "no kernel BTF at /sys/kernel/btf/vmlinux (kernel built "
			 "without CONFIG_DEBUG_INFO_BTF)");
		goto cleanup;
	}
	if (b->ncpus <= 0) {
		snprintf(err, errlen, "cannot count CPUs: %s", strerror(-b->ncpus));
		goto cleanup;
	}

	/*
	 * Socket storage from the owner tracepoints (Linux 5.11) spares a hash lookup on
	 * every read of a watched socket; an older kernel refuses the load, and the
	 * programs are loaded again without it.
	 */
	for (sk_owner = 1; sk_owner >= 0; sk_owner--) {
		tlsaudit_bpf__destroy(b->skel);
		b->skel = tlsaudit_bpf__open();
		if (!b->skel) {
			snprintf(err, errlen, "opening the BPF object failed: %s", strerror(errno));
			goto cleanup;
		}
		budget = cfg->dir_cap ? cfg->dir_cap : TA_DEFAULT_BUDGET;
		b->skel->rodata->budget = budget;
		b->skel->rodata->owner_sk_storage = sk_owner;
		if (cfg->max_flows) {
			bpf_map__set_max_entries(b->skel->maps.flows, cfg->max_flows);
			bpf_map__set_max_entries(b->skel->maps.owners, cfg->max_flows);
		}
		set_ringbuf_size(b->skel);
		b->owner_tps = select_owner_tracepoints(b->skel, sk_owner);
		set_pid_namespace(b->skel);
		e = tlsaudit_bpf__load(b->skel);
		if (!e || e == -EPERM || e == -EACCES)
			break;
		if (sk_owner)
			log_info("loading with socket storage in the owner tracepoints failed "
				 "(%s; Linux 5.11 has it): loading without", strerror(-e));
	}
	if (e) {
		load_error(-e, err, errlen);
		goto cleanup;
	}

	map_fd = bpf_map__fd(b->skel->maps.ports);
	for (i = 0; i < cfg->n_ports && i < (int)ARRAY_SIZE(cfg->ports); i++) {
		uint32_t key = cfg->ports[i];

		if (bpf_map_update_elem(map_fd, &key, &on, BPF_ANY)) {
			snprintf(err, errlen, "setting the port map failed: %s", strerror(errno));
			goto cleanup;
		}
	}

	b->cgroup_fd = open_cgroup_root(b, err, errlen);
	if (b->cgroup_fd < 0)
		goto cleanup;
	b->skel->links.tlsaudit_egress =
		bpf_program__attach_cgroup(b->skel->progs.tlsaudit_egress, b->cgroup_fd);
	if (!b->skel->links.tlsaudit_egress)
		goto attach_fail;
	b->skel->links.tlsaudit_ingress =
		bpf_program__attach_cgroup(b->skel->progs.tlsaudit_ingress, b->cgroup_fd);
	if (!b->skel->links.tlsaudit_ingress)
		goto attach_fail;
	/* The tracepoints are the only auto-attachable programs in the object. */
	if (tlsaudit_bpf__attach(b->skel))
		goto attach_fail;

	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), handle_event, b, NULL);
	if (!b->rb) {
		snprintf(err, errlen, "ring buffer setup failed: %s", strerror(errno));
		goto cleanup;
	}
	b->mono_to_wall = mono_to_wall_offset();
	return b;

attach_fail:
	snprintf(err, errlen, "attaching the BPF programs failed (%s): cgroup BPF links and "
		 "BTF tracepoints need Linux 5.7+", strerror(errno));
cleanup:
	cap_bpf__free(b);
	return NULL;
}

void cap_bpf__free(struct cap_bpf *b)
{
	if (!b)
		return;
	ring_buffer__free(b->rb);
	tlsaudit_bpf__destroy(b->skel);
	if (b->cgroup_fd >= 0)
		close(b->cgroup_fd);
	/* The links hold the cgroup; the mount point itself is no longer needed. */
	if (b->mounted_private)
		umount2(PRIVATE_CGROUP2, MNT_DETACH);
	free(b);
}

int cap_bpf__fd(const struct cap_bpf *b)
{
	return ring_buffer__epoll_fd(b->rb);
}

/*
 * flush_done - write the queued done marks. The byte counts no longer matter once done,
 * so the value is written blind. A socket that closed meanwhile (its entry deleted by
 * the close tracepoint) must not come back: its mark left the queue when its close
 * event was read (drop_done), and the poll reads every pending event before it
 * flushes. A batch takes no BPF_EXIST (elem_flags allows BPF_F_LOCK only, else EINVAL
 * and nothing written), so what is left is a socket that closed in the microseconds
 * between that read and the update: its entry comes back, done, until the LRU
 * evicts it, and costs nothing in between (one lookup per packet, and it has none).
 * The one-at-a-time path of kernels without batch operations still says BPF_EXIST.
 */
static void flush_done(struct cap_bpf *b)
{
	int fd = bpf_map__fd(b->skel->maps.flows);
	unsigned int i = 0;
	int ret;

	while (i < b->n_done) {
		__u32 count = b->n_done - i;

		if (b->no_batch) {
			ret = bpf_map_update_elem(fd, &b->done[i], &b->done_vals[i], BPF_EXIST);
			i++;
		} else {
			ret = bpf_map_update_batch(fd, &b->done[i], &b->done_vals[i], &count, NULL);
			if (!ret) {
				i += count;
				continue;
			}
			if (errno == EINVAL || errno == KERNEL_ENOTSUPP || errno == EOPNOTSUPP) {
				log_debug("batched map updates unavailable (%s): one at a time",
					  strerror(errno));
				b->no_batch = true;
				continue;
			}
			/* The batch stops at the element that failed: go on after it. */
			i += count + 1;
		}
		if (ret && errno != ENOENT && !b->warned_done) {
			/* Flows then cost a copy up to the budget: slower, not wrong. */
			log_warn("marking flows done in the kernel fails: %s", strerror(errno));
			b->warned_done = true;
		}
	}
	b->n_done = 0;
}

int cap_bpf__poll(struct cap_bpf *b)
{
	int n, e;

	b->batch = 0;
	n = ring_buffer__consume(b->rb);
	e = errno;
	flush_done(b);
	if (n == BATCH_FULL)
		return (int)b->batch;
	return n < 0 ? -e : n;
}

int cap_bpf__flow_done(struct cap_bpf *b, uint64_t cookie)
{
	if (b->n_done == DONE_BATCH)
		flush_done(b);
	b->done[b->n_done++] = cookie;
	return 0;
}

int cap_bpf__owner(struct cap_bpf *b, uint64_t cookie, struct hs_owner *o)
{
	struct ta_owner_val v;

	if (bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.owners), &cookie, &v))
		return -ENOENT;
	owner_from(o, v.tgid, v.pid, v.uid, v.cgroup_id, v.comm);
	return 0;
}

void cap_bpf__drops(struct cap_bpf *b, uint64_t by_reason[4], uint64_t *total)
{
	int fd = bpf_map__fd(b->skel->maps.drops);
	uint64_t *vals;
	uint32_t r;
	int c;

	*total = 0;
	memset(by_reason, 0, 4 * sizeof(by_reason[0]));
	vals = calloc((size_t)b->ncpus, sizeof(*vals));
	if (!vals)
		return;
	for (r = 0; r < TA_DROP_NR && r < 4; r++) {
		if (bpf_map_lookup_elem(fd, &r, vals))
			continue;
		for (c = 0; c < b->ncpus; c++)
			by_reason[r] += vals[c];
		*total += by_reason[r];
	}
	free(vals);
}

bool cap_bpf__owner_tracepoints(const struct cap_bpf *b)
{
	return b->owner_tps;
}

void cap_bpf__tick(struct cap_bpf *b)
{
	b->mono_to_wall = mono_to_wall_offset();
}

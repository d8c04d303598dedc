// SPDX-License-Identifier: GPL-2.0-only
/*
 * Least privilege: once the capture is attached and the control socket bound, the
 * daemon parses bytes that strangers send for the rest of its life, and needs almost
 * nothing of what it started with. Loading and attaching the programs (CAP_BPF,
 * CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_RESOURCE), the packet socket (CAP_NET_RAW) and
 * the socket's group (CAP_CHOWN) were one-time acts: the fds they produced keep working
 * without them. Reading the ring buffer is a read of shared memory, the done marks are
 * bpf() calls on a map fd the daemon holds (checked against the fd's mode since Linux
 * 6.5; before, against CAP_BPF when kernel.unprivileged_bpf_disabled is set: probed
 * below), a packet socket is read like any other socket.
 *
 * What stays is what attribution's /proc reads need for processes of other users (and
 * for root's processes that hold more capabilities than the daemon then does):
 *  - CAP_SYS_PTRACE: /proc/PID/exe, /proc/PID/maps, /proc/PID/root and the fd links
 *    pass a ptrace read check;
 *  - CAP_DAC_READ_SEARCH, only where socket owners are looked up from userspace (the
 *    libpcap backend, or eBPF without the owner tracepoints): /proc/PID/fd is a 0500
 *    directory of the process's user.
 * Everything else goes from the effective, permitted, inheritable and ambient sets,
 * and from the bounding set where the daemon may change it (CAP_SETPCAP: started by
 * hand; under the unit CapabilityBoundingSet= already bounds it); no_new_privs stops an
 * exec from gaining anything back. The uid stays 0 (see docs/architecture.md,
 * "Privileges"): the state and textfile directories are root's, and under the unit
 * ProtectSystem=strict leaves root nothing else to write.
 *
 * Capabilities belong to a thread; the daemon has one (neither libbpf nor libpcap
 * starts any), so this thread's sets are the process's.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_int.h"
#include "tlsaudit/log.h"
#include "tlsaudit/util.h"

/* Older uapi headers lack these; the numbers are ABI. */
#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

struct capsets {
	uint64_t eff, prm, inh;
};

static int caps_get(struct capsets *c)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	c->eff = data[0].effective | (uint64_t)data[1].effective << 32;
	c->prm = data[0].permitted | (uint64_t)data[1].permitted << 32;
	c->inh = data[0].inheritable | (uint64_t)data[1].inheritable << 32;
	return 0;
}

static int caps_set(const struct capsets *c)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {
		{ (uint32_t)c->eff, (uint32_t)c->prm, (uint32_t)c->inh },
		{ (uint32_t)(c->eff >> 32), (uint32_t)(c->prm >> 32), (uint32_t)(c->inh >> 32) },
	};

	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

static uint64_t bit(int cap)
{
	return 1ULL << cap;
}

/*
 * bpf_needs_cap - does bpf() refuse a caller without capabilities before it even looks
 * at the fd? Kernels before 6.5 (commit 1d28635abcf1) checked bpf_capable() at the
 * syscall's entry for every command, map lookups and updates on an fd already held
 * included, whenever kernel.unprivileged_bpf_disabled is set (the default of most
 * distributions). A child without capabilities asks with an fd that cannot exist:
 * EBADF means the command got past that check, EPERM that it did not.
 */
static bool bpf_needs_cap(void)
{
	union bpf_attr attr;
	struct capsets none = { 0, 0, 0 };
	int status = 0;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return true; /* cannot tell: keep it */
	if (pid == 0) {
		memset(&attr, 0, sizeof(attr));
		attr.map_fd = (uint32_t)-1;
		if (caps_set(&none))
			_exit(2);
		if (syscall(SYS_bpf, BPF_MAP_LOOKUP_ELEM, &attr, sizeof(attr)) < 0 &&
		    errno == EPERM)
			_exit(1);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

struct keep {
	int cap;
	const char *name;
	const char *why;
};

/* drop_bounding - every capability not in @keep leaves the bounding set. */
static int drop_bounding(uint64_t keep)
{
	int cap, ret;

	/* PR_CAPBSET_READ fails with EINVAL past the kernel's last capability. */
	for (cap = 0; cap < 64; cap++) {
		ret = prctl(PR_CAPBSET_READ, (unsigned long)cap, 0, 0, 0);
		if (ret < 0)
			break;
		if (!ret || (keep & bit(cap)))
			continue;
		if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0))
			return -errno;
	}
	return 0;
}

int daemon_drop_privs(struct daemon *d)
{
	struct keep want[3], kept[3];
	struct capsets now, after;
	char line[768], missing[128] = "";
	uint64_t keep = 0, needs = live_source__needs(d->src);
	size_t n_want = 0, n_kept = 0, i, off = 0;
	const char *bounding;
	int ret;

	ret = caps_get(&now);
	if (ret)
		goto fail;
	want[n_want++] = (struct keep){ CAP_SYS_PTRACE, "CAP_SYS_PTRACE",
		"exe, maps and root of other users' processes in /proc" };
	if (needs & LIVE_NEED_PROC_FDS)
		want[n_want++] = (struct keep){ CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH",
			"/proc/PID/fd of other users' processes, to find socket owners" };
	if ((needs & LIVE_NEED_BPF_MAPS) && bpf_needs_cap()) {
		/* bpf_capable(): CAP_BPF, or CAP_SYS_ADMIN where it was granted instead. */
		if ((now.prm & bit(CAP_BPF)) || !(now.prm & bit(CAP_SYS_ADMIN)))
			want[n_want++] = (struct keep){ CAP_BPF, "CAP_BPF",
				"bpf() on the open maps: this kernel checks it on every call" };
		else
			want[n_want++] = (struct keep){ CAP_SYS_ADMIN, "CAP_SYS_ADMIN",
				"bpf() on the open maps: this kernel checks it on every call" };
	}
	for (i = 0; i < n_want; i++) {
		if (now.prm & bit(want[i].cap)) {
			kept[n_kept++] = want[i];
			keep |= bit(want[i].cap);
		} else {
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
				 "%s%s", missing[0] ? ", " : "", want[i].name);
		}
	}

	/* Bounding set first: dropping from it needs CAP_SETPCAP, still effective here. */
	if (now.eff & bit(CAP_SETPCAP)) {
		ret = drop_bounding(keep);
		if (ret)
			goto fail;
		bounding = "bounding set cleared of the rest";
	} else {
		bounding = "bounding set left as given (no CAP_SETPCAP to change it; under "
			   "the unit, CapabilityBoundingSet= bounds it)";
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL) {
		ret = -errno;
		goto fail;
	}
	after = (struct capsets){ .eff = now.prm & keep, .prm = now.prm & keep, .inh = 0 };
	ret = caps_set(&after);
	if (ret)
		goto fail;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		ret = -errno;
		goto fail;
	}
	/* Trust, then verify: the kernel's view is what the log line states. */
	ret = caps_get(&now);
	if (ret)
		goto fail;
	if (now.eff != after.eff || now.prm != after.prm || now.inh) {
		ret = -EPERM;
		goto fail;
	}

	for (i = 0; i < n_kept && off < sizeof(line); i++) {
		ret = snprintf(line + off, sizeof(line) - off, "%s%s (%s)", i ? ", " : "",
			       kept[i].name, kept[i].why);
		if (ret < 0)
			break;
		off += (size_t)ret;
	}
	log_info("privileges: keeping %s; every other capability dropped, %s; no_new_privs "
		 "set; uid %u%s%s", n_kept ? line : "no capability", bounding, (unsigned)getuid(),
		 missing[0] ? "; not granted, so not kept: " : "", missing);
	return 0;

fail:
	log_err("cannot drop privileges: %s", strerror(-ret));
	return ret;
}

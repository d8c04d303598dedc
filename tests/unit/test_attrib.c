// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process attribution: a fake proc tree with hostile comm names and hybrid cgroup
 * files, unit and container names from real-world cgroup paths, the cache's pid-reuse,
 * exit and eviction behaviour, the test's own process from the real /proc, and socket
 * owners found through sock_diag on real loopback connections.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tlsaudit/attrib.h"
#include "tlsaudit/util.h"

static char root[64];

static void write_file(const char *rel, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void write_file(const char *rel, const char *fmt, ...)
{
	char path[256];
	va_list ap;
	FILE *f;

	assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", root, rel) < sizeof(path));
	f = fopen(path, "w");
	assert_non_null(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	assert_int_equal(fclose(f), 0);
}

/* A stat line: field 22 (start time) is the only number the cache keys on. */
static void write_stat(unsigned int pid, const char *comm, unsigned long long start)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "%u/stat", pid);
	write_file(rel,
		   "%u (%s) S 1 %u %u 0 -1 4194560 1036 0 0 0 3 1 0 0 20 0 1 0 %llu "
		   "16830464 1190 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n",
		   pid, comm, pid, pid, start);
}

static const char hex64[] = "4f8a2c1e9b7d3a5f6e0c8b2a1d4e7f9a3b5c6d8e0f1a2b3c4d5e6f708192a3b4";

/*
 * make_proc - /ROOT/PID with comm, stat, status, cgroup, maps and an exe link.
 * @cgroup and @maps are whole file bodies.
 */
static void make_proc(unsigned int pid, const char *comm, unsigned long long start,
		      unsigned int uid, const char *cgroup, const char *maps, const char *exe)
{
	char rel[64], path[256];

	snprintf(path, sizeof(path), "%s/%u", root, pid);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(rel, sizeof(rel), "%u/comm", pid);
	write_file(rel, "%s\n", comm);
	write_stat(pid, comm, start);
	snprintf(rel, sizeof(rel), "%u/status", pid);
	write_file(rel,
		   "Name:\t%s\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t%u\nNgid:\t0\n"
		   "Pid:\t%u\nPPid:\t1\nTracerPid:\t0\nUid:\t%u\t%u\t%u\t%u\n"
		   "Gid:\t100\t100\t100\t100\n",
		   comm, pid, pid, uid, uid + 1, uid, uid);
	snprintf(rel, sizeof(rel), "%u/cgroup", pid);
	write_file(rel, "%s", cgroup);
	snprintf(rel, sizeof(rel), "%u/maps", pid);
	write_file(rel, "%s", maps);
	if (exe) {
		snprintf(path, sizeof(path), "%s/%u/exe", root, pid);
		assert_int_equal(symlink(exe, path), 0);
	}
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_proc(unsigned int pid)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%u", root, pid);
	assert_int_equal(nftw(path, rm_one, 8, FTW_DEPTH | FTW_PHYS), 0);
}

static int setup(void **state)
{
	(void)state;
	util_strlcpy(root, "/tmp/test_attrib.XXXXXX", sizeof(root));
	return mkdtemp(root) ? 0 : -1;
}

/* setup_shm - the same in tmpfs: tens of thousands of fd links are slow on some disks. */
static int setup_shm(void **state)
{
	(void)state;
	util_strlcpy(root, "/dev/shm/test_attrib.XXXXXX", sizeof(root));
	if (mkdtemp(root))
		return 0;
	return setup(state);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static const char maps_ssl11[] =
	"55d0c0a00000-55d0c0a20000 r--p 00000000 fe:01 1835123                    "
	"/usr/lib/postfix/sbin/smtp\n"
	"55d0c2b5e000-55d0c2b7f000 rw-p 00000000 00:00 0                          [heap]\n"
	"7f1c2a000000-7f1c2a2b0000 r--p 00000000 fe:01 1836001                    "
	"/usr/lib/x86_64-linux-gnu/libcrypto.so.1.1\n"
	"7f1c2a400000-7f1c2a460000 r-xp 00020000 fe:01 1836002                    "
	"/usr/lib/x86_64-linux-gnu/libssl.so.1.1\n"
	"7fff5e3f0000-7fff5e411000 rw-p 00000000 00:00 0                          [stack]\n";

/* Every field of a process whose comm holds ") " and '(' like a hostile rename would. */
static void test_fake_proc_fields(void **state)
{
	struct attrib_cache *ac;
	struct hs_proc p;

	(void)state;
	make_proc(4242, "smtp (x) 7 8 9", 9876543, 108, "0::/system.slice/postfix@-.service\n",
		  maps_ssl11, "/usr/lib/postfix/sbin/smtp (deleted)");
	ac = attrib_cache__new(root, 16);
	assert_non_null(ac);
	assert_int_equal(attrib_cache__resolve(ac, 4242, &p), 0);
	assert_true(p.known);
	assert_int_equal(p.pid, 4242);
	assert_string_equal(p.comm, "smtp (x) 7 8 9");
	assert_string_equal(p.exe, "/usr/lib/postfix/sbin/smtp (deleted)");
	assert_int_equal(p.uid, 108);
	assert_string_equal(p.cgroup, "/system.slice/postfix@-.service");
	assert_string_equal(p.unit, "postfix@-.service");
	assert_string_equal(p.container, "");
	assert_string_equal(p.tls_lib, "libssl.so.1.1");
	attrib_cache__free(ac);
}

/* Hybrid host: "0::/" says nothing, the name=systemd line names the docker container. */
static void test_fake_proc_hybrid(void **state)
{
	char cg[1024], want_cg[128];
	struct attrib_cache *ac;
	struct hs_proc p;

	(void)state;
	snprintf(cg, sizeof(cg),
		 "12:memory:/docker/%s\n11:cpu,cpuacct:/docker/%s\n"
		 "1:name=systemd:/docker/%s\n0::/\n",
		 hex64, hex64, hex64);
	make_proc(4343, "gnutls-cli", 100, 0, cg,
		  "7f00-7f10 r-xp 00000000 fe:01 12 /usr/lib/x86_64-linux-gnu/libnettle.so.8\n"
		  "7f20-7f30 r-xp 00000000 fe:01 13 /usr/lib/x86_64-linux-gnu/libgnutls.so.30",
		  "/usr/bin/gnutls-cli");
	attrib_set_runtime_root("/nonexistent");
	ac = attrib_cache__new(root, 16);
	assert_non_null(ac);
	assert_int_equal(attrib_cache__resolve(ac, 4343, &p), 0);
	snprintf(want_cg, sizeof(want_cg), "/docker/%s", hex64);
	assert_string_equal(p.cgroup, want_cg);
	/* The per-run id is kept apart; without docker's metadata the runtime stands in. */
	assert_string_equal(p.container_id, "4f8a2c1e9b7d");
	assert_string_equal(p.container, "(docker)");
	assert_string_equal(p.unit, "");
	assert_string_equal(p.tls_lib, "libgnutls.so.30");
	assert_int_equal(p.uid, 0);
	attrib_cache__free(ac);
}

/* Legacy v1 host: no "0::" line at all. */
static void test_fake_proc_v1_only(void **state)
{
	struct attrib_cache *ac;
	struct hs_proc p;

	(void)state;
	make_proc(4444, "nginx", 100, 33,
		  "5:cpuset:/\n2:cpu,cpuacct:/system.slice/nginx.service\n"
		  "1:name=systemd:/system.slice/nginx.service\n",
		  "", NULL);
	ac = attrib_cache__new(root, 16);
	assert_non_null(ac);
	assert_int_equal(attrib_cache__resolve(ac, 4444, &p), 0);
	assert_string_equal(p.cgroup, "/system.slice/nginx.service");
	assert_string_equal(p.unit, "nginx.service");
	/* No exe link (a kernel thread, or no ptrace access) and nothing TLS mapped. */
	assert_string_equal(p.exe, "");
	assert_string_equal(p.tls_lib, "");
	attrib_cache__free(ac);
}

/* Broken files never crash and never produce a half-filled identity. */
static void test_fake_proc_malformed(void **state)
{
	struct attrib_cache *ac;
	struct hs_proc p;
	char big[9000];

	(void)state;
	make_proc(4545, "x", 1, 1, "", "", NULL);
	ac = attrib_cache__new(root, 16);
	assert_non_null(ac);

	write_file("4545/stat", "4545 (no closing paren S 1 2 3\n");
	assert_int_equal(attrib_cache__resolve(ac, 4545, &p), -ESRCH);
	write_file("4545/stat", "4545 (short) S 1 2 3\n");
	assert_int_equal(attrib_cache__resolve(ac, 4545, &p), -ESRCH);
	write_file("4545/stat", "%s", "");
	assert_int_equal(attrib_cache__resolve(ac, 4545, &p), -ESRCH);
	write_file("4545/stat", "4545 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
				"99999999999999999999999 1\n");
	assert_int_equal(attrib_cache__resolve(ac, 4545, &p), -ESRCH);
	assert_int_equal(attrib_cache__lookup(ac, 4545, &p), -ENOENT);

	/* A valid stat with garbage elsewhere: the fields that parse are kept. */
	write_stat(4545, "x", 5);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file("4545/status", "Uid:\tnotanumber\n%s", big);
	write_file("4545/cgroup", "%s\nno colons here\n0::/system.slice/ok.service", big);
	write_file("4545/maps", "%s /usr/lib/libssl.so.3\nshort line\n"
				"1-2 r-xp 0 0:0 1 /opt/app/lib/libssl-1b2c3d4e.so.1.1 (deleted)\n",
		   big);
	assert_int_equal(attrib_cache__resolve(ac, 4545, &p), 0);
	assert_int_equal(p.uid, UINT32_MAX);
	assert_string_equal(p.unit, "ok.service");
	/* The overlong line is skipped whole, never read as a shorter one. */
	assert_string_equal(p.tls_lib, "libssl-1b2c3d4e.so.1.1");
	/* pid 0 is never a process. */
	assert_int_equal(attrib_cache__resolve(ac, 0, &p), -EINVAL);
	attrib_cache__free(ac);
}

struct cg_case {
	const char *cgroup;
	const char *unit;      /* NULL: -ENOENT */
	const char *container; /* NULL: -ENOENT */
};

static void test_unit_and_container_table(void **state)
{
	static const struct cg_case cases[] = {
		{ "/system.slice/postfix@-.service", "postfix@-.service", NULL },
		{ "/system.slice/system-postfix.slice/postfix@-.service", "postfix@-.service",
		  NULL },
		{ "/system.slice/nginx.service", "nginx.service", NULL },
		{ "/init.scope", "init.scope", NULL },
		{ "/user.slice/user-1000.slice/session-3.scope", "session-3.scope", NULL },
		{ "/user.slice/user-1000.slice/user@1000.service/app.slice/"
		  "app-firefox-1234.scope",
		  "app-firefox-1234.scope", NULL },
		{ "/user.slice/user-1000.slice/user@1000.service/app.slice/x.service",
		  "x.service", NULL },
		{ "/user.slice/user-1000.slice/user@1000.service/init.scope", "init.scope",
		  NULL },
		/* docker with the systemd driver */
		{ "/system.slice/docker-4f8a2c1e9b7d3a5f6e0c8b2a1d4e7f9a3b5c6d8e0f1a2b3c4d5e6f708192"
		  "a3b4.scope",
		  "docker-4f8a2c1e9b7d3a5f6e0c8b2a1d4e7f9a3b5c6d8e0f1a2b3c4d5e6f708192a3b4.scope",
		  "4f8a2c1e9b7d" },
		/* docker with the cgroupfs driver, and cgroup v1 */
		{ "/docker/4f8a2c1e9b7d3a5f6e0c8b2a1d4e7f9a3b5c6d8e0f1a2b3c4d5e6f708192a3b4", NULL,
		  "4f8a2c1e9b7d" },
		/* a systemd container: the innermost service, the outer container */
		{ "/system.slice/docker-aa11bb22cc33dd44ee55ff66aa11bb22cc33dd44ee55ff66aa11bb22cc33"
		  "dd44.scope/system.slice/postfix.service",
		  "postfix.service", "aa11bb22cc33" },
		/* kubernetes, systemd driver, containerd */
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-"
		  "pod0c5e9a3c_1f2b_4d6e_8a7b_9c0d1e2f3a4b.slice/cri-containerd-"
		  "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b.scope",
		  "cri-containerd-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"
		  ".scope",
		  "9a8b7c6d5e4f" },
		/* kubernetes besteffort, systemd driver, cri-o */
		{ "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-"
		  "pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/crio-"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
		  "crio-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.scope",
		  "0123456789ab" },
		/* kubernetes, cgroupfs driver */
		{ "/kubepods/burstable/pod0c5e9a3c-1f2b-4d6e-8a7b-9c0d1e2f3a4b/"
		  "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
		  NULL, "fedcba987654" },
		{ "/kubepods/besteffort/pod0c5e9a3c-1f2b-4d6e-8a7b-9c0d1e2f3a4b/"
		  "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
		  NULL, "fedcba987654" },
		/* the pod cgroup itself is not a container */
		{ "/kubepods/burstable/pod0c5e9a3c-1f2b-4d6e-8a7b-9c0d1e2f3a4b", NULL, NULL },
		/* podman, rootful and rootless; conmon is the monitor, not the container */
		{ "/machine.slice/libpod-3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b"
		  "3c4d.scope",
		  "libpod-3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d.scope",
		  "3c4d5e6f7a8b" },
		{ "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-"
		  "3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d.scope/container",
		  "libpod-3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d.scope",
		  "3c4d5e6f7a8b" },
		{ "/machine.slice/libpod-conmon-3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d"
		  "9e0f1a2b3c4d.scope",
		  "libpod-conmon-3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d"
		  ".scope",
		  NULL },
		/* not containers, not units */
		{ "/", NULL, NULL },
		{ "", NULL, NULL },
		{ "/user.slice", NULL, NULL },
		{ "/system.slice/.service", NULL, NULL },
		{ "/system.slice/docker-xyz.scope", "docker-xyz.scope", NULL },
		{ "/docker/deadbeef", NULL, NULL },
		{ "//system.slice//cron.service//", "cron.service", NULL },
		/* a booted nspawn container: its own unit; the machine has no hex id */
		{ "/machine.slice/systemd-nspawn@web.service/payload/system.slice/nginx.service",
		  "nginx.service", NULL },
		{ "/machine.slice/systemd-nspawn@web.service/supervisor",
		  "systemd-nspawn@web.service", NULL },
		/* nerdctl, systemd and cgroupfs drivers */
		{ "/system.slice/nerdctl-"
		  "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210.scope",
		  "nerdctl-fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
		  ".scope",
		  "fedcba987654" },
		{ "/default/fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210",
		  NULL, "fedcba987654" },
	};
	char unit[128], id[80];
	size_t i;
	int err;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		err = attrib_unit_from_cgroup(cases[i].cgroup, unit, sizeof(unit));
		if (cases[i].unit) {
			if (err)
				fail_msg("unit of '%s': %d", cases[i].cgroup, err);
			assert_string_equal(unit, cases[i].unit);
		} else if (err != -ENOENT) {
			fail_msg("unit of '%s': %d '%s', want -ENOENT", cases[i].cgroup, err, unit);
		}
		err = attrib_container_from_cgroup(cases[i].cgroup, id, sizeof(id));
		if (cases[i].container) {
			if (err)
				fail_msg("container of '%s': %d", cases[i].cgroup, err);
			assert_string_equal(id, cases[i].container);
		} else if (err != -ENOENT) {
			fail_msg("container of '%s': %d '%s', want -ENOENT", cases[i].cgroup, err,
				 id);
		}
	}
	/* Too small an output is an error, never a silently cut name. */
	assert_int_equal(attrib_unit_from_cgroup("/system.slice/nginx.service", unit, 5), -ENOSPC);
	assert_string_equal(unit, "");
	assert_int_equal(attrib_container_from_cgroup(cases[9].cgroup, id, 12), -ENOSPC);
	assert_int_equal(attrib_container_from_cgroup(cases[9].cgroup, id, 13), 0);
	assert_string_equal(id, "4f8a2c1e9b7d");
}

static void test_tls_lib_from_maps(void **state)
{
	static const struct {
		const char *maps;
		const char *lib; /* NULL: -ENOENT */
	} cases[] = {
		{ "1-2 r-xp 0 fe:01 3 /usr/lib/x86_64-linux-gnu/libssl.so.3\n", "libssl.so.3" },
		{ "1-2 r-xp 0 fe:01 3 /usr/lib/x86_64-linux-gnu/libcrypto.so.3\n", NULL },
		{ "1-2 r-xp 0 fe:01 3 /usr/lib64/libgnutls.so.30.34.3\n", "libgnutls.so.30.34.3" },
		/* NSS: libnss3 is certificates and crypto, libssl3 its TLS half */
		{ "1-2 r-xp 0 fe:01 3 /usr/lib/libnss3.so\n3-4 r-xp 0 fe:01 4 /usr/lib/libssl3.so\n",
		  "libssl3.so" },
		{ "1-2 r-xp 0 fe:01 3 /usr/lib/libnss3.so\n", "libnss3.so" },
		/* Debian's curl: GnuTLS dragged in by librtmp, mapped first; OpenSSL does TLS */
		{ "1-2 r-xp 0 fe:01 3 /usr/lib/libgnutls.so.30\n3-4 r-xp 0 fe:01 4 /usr/lib/libssl.so.3\n",
		  "libssl.so.3" },
		{ "1-2 r-xp 0 fe:01 3 /usr/lib/libwolfssl.so.35\n", "libwolfssl.so.35" },
		{ "1-2 r-xp 0 fe:01 3 /usr/lib/libmbedtls.so.14\n", "libmbedtls.so.14" },
		{ "1-2 r-xp 0 fe:01 3 /opt/envoy/libboringssl_shared.so\n",
		  "libboringssl_shared.so" },
		/* a library upgraded under a running process: the old soname, unmarked */
		{ "1-2 r-xp 0 fe:01 3 /usr/lib/libssl.so.1.0.2 (deleted)\n", "libssl.so.1.0.2" },
		/* paths with spaces, names that only look alike */
		{ "1-2 r-xp 0 fe:01 3 /opt/My App/lib/libssl.so.1.1\n", "libssl.so.1.1" },
		{ "1-2 r-xp 0 fe:01 3 /usr/lib/libssl.sox\n1-2 r-xp 0 0:0 3 /x/libssl.so.bak/y\n",
		  NULL },
		{ "1-2 r-xp 0 fe:01 3 [vdso]\n1-2 rw-p 0 00:00 0\n1-2 r-xp 0 fe:01 3 libssl.so.3\n",
		  NULL },
		{ "", NULL },
	};
	char lib[64], path[128];
	size_t i;
	int err;

	(void)state;
	snprintf(path, sizeof(path), "%s/maps", root);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		write_file("maps", "%s", cases[i].maps);
		err = attrib_tls_lib_from_maps(path, lib, sizeof(lib));
		if (cases[i].lib) {
			if (err)
				fail_msg("case %zu: %d", i, err);
			assert_string_equal(lib, cases[i].lib);
		} else if (err != -ENOENT) {
			fail_msg("case %zu: %d '%s', want -ENOENT", i, err, lib);
		}
	}
	assert_int_equal(attrib_tls_lib_from_maps("/nonexistent/maps", lib, sizeof(lib)), -ENOENT);
}

/* The same pid with another start time is another process: resolve it again. */
static void test_pid_reuse(void **state)
{
	struct attrib_stats st;
	struct attrib_cache *ac;
	struct hs_proc p;

	(void)state;
	make_proc(5001, "curl", 1000, 1000, "0::/user.slice/user-1000.slice/session-2.scope\n",
		  "1-2 r-xp 0 fe:01 3 /usr/lib/x86_64-linux-gnu/libssl.so.3\n", "/usr/bin/curl");
	ac = attrib_cache__new(root, 16);
	assert_non_null(ac);
	assert_int_equal(attrib_cache__resolve(ac, 5001, &p), 0);
	assert_string_equal(p.comm, "curl");

	/* Same start time: answered from the cache (the changed maps is not read). */
	write_file("5001/maps", "1-2 r-xp 0 fe:01 3 /usr/lib/libgnutls.so.30\n");
	assert_int_equal(attrib_cache__resolve(ac, 5001, &p), 0);
	assert_string_equal(p.tls_lib, "libssl.so.3");

	/* The pid is reused by a new process. */
	rm_proc(5001);
	make_proc(5001, "wget", 2000, 0, "0::/system.slice/cron.service\n",
		  "1-2 r-xp 0 fe:01 3 /usr/lib/libgnutls.so.30\n", "/usr/bin/wget");
	assert_int_equal(attrib_cache__resolve(ac, 5001, &p), 0);
	assert_string_equal(p.comm, "wget");
	assert_string_equal(p.exe, "/usr/bin/wget");
	assert_int_equal(p.uid, 0);
	assert_string_equal(p.unit, "cron.service");
	assert_string_equal(p.tls_lib, "libgnutls.so.30");

	/* exec keeps pid and start time but changes comm: resolve again. */
	write_file("5001/comm", "python3\n");
	write_stat(5001, "python3", 2000);
	assert_int_equal(attrib_cache__resolve(ac, 5001, &p), 0);
	assert_string_equal(p.comm, "python3");

	attrib_cache__stats(ac, &st);
	assert_int_equal(st.resolves, 3);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.entries, 1);
	attrib_cache__free(ac);
}

/*
 * Processes of one program (the same executable file) read maps once: the next takes
 * the library found. Another program, or the same path rewritten (a new mtime), reads
 * its own; a process whose maps showed no TLS library leaves nothing for the next.
 */
static void test_exe_lib_cache(void **state)
{
	static const char ssl[] = "1-2 r-xp 0 fe:01 3 /usr/lib/x86_64-linux-gnu/libssl.so.3\n";
	static const char gnutls[] = "1-2 r-xp 0 fe:01 3 /usr/lib/libgnutls.so.30\n";
	struct timespec ts[2] = { { 0, UTIME_OMIT }, { 1000, 0 } };
	struct attrib_stats st;
	struct attrib_cache *ac;
	char bin_a[300], bin_b[300];
	struct hs_proc p;

	(void)state;
	write_file("prog-a", "a");
	write_file("prog-b", "b");
	snprintf(bin_a, sizeof(bin_a), "%s/prog-a", root);
	snprintf(bin_b, sizeof(bin_b), "%s/prog-b", root);
	ac = attrib_cache__new(root, 16);
	assert_non_null(ac);
	/* No library in the first process's maps yet: nothing kept for the program. */
	make_proc(6001, "a", 100, 0, "0::/\n", "", bin_a);
	assert_int_equal(attrib_cache__resolve(ac, 6001, &p), 0);
	assert_string_equal(p.tls_lib, "");
	make_proc(6002, "a", 101, 0, "0::/\n", ssl, bin_a);
	assert_int_equal(attrib_cache__resolve(ac, 6002, &p), 0);
	assert_string_equal(p.tls_lib, "libssl.so.3");
	/* The same program again: its maps are not read (they would say GnuTLS). */
	make_proc(6003, "a", 102, 0, "0::/\n", gnutls, bin_a);
	assert_int_equal(attrib_cache__resolve(ac, 6003, &p), 0);
	assert_string_equal(p.tls_lib, "libssl.so.3");
	attrib_cache__stats(ac, &st);
	assert_int_equal(st.exe_hits, 1);
	/* Another program reads its own. */
	make_proc(6004, "b", 103, 0, "0::/\n", gnutls, bin_b);
	assert_int_equal(attrib_cache__resolve(ac, 6004, &p), 0);
	assert_string_equal(p.tls_lib, "libgnutls.so.30");
	/* The program's file rewritten (another mtime): read again. */
	assert_int_equal(utimensat(AT_FDCWD, bin_a, ts, 0), 0);
	make_proc(6005, "a", 104, 0, "0::/\n", gnutls, bin_a);
	assert_int_equal(attrib_cache__resolve(ac, 6005, &p), 0);
	assert_string_equal(p.tls_lib, "libgnutls.so.30");
	attrib_cache__stats(ac, &st);
	assert_int_equal(st.exe_hits, 1);
	attrib_cache__free(ac);
}

/*
 * The owner's cgroup id names the cgroup: a second process reported in the same one
 * takes its path, unit and container without reading /proc/PID/cgroup; without an id,
 * or with another, the file is read.
 */
static void test_cgroup_by_id(void **state)
{
	struct attrib_cache *ac;
	struct hs_proc p;

	(void)state;
	ac = attrib_cache__new(root, 16);
	assert_non_null(ac);
	make_proc(7001, "curl", 100, 0, "0::/system.slice/backup.service\n", "", NULL);
	assert_int_equal(attrib_cache__resolve_cg(ac, 7001, 4242, &p), 0);
	assert_string_equal(p.unit, "backup.service");
	/* The file says otherwise, but the kernel said the same cgroup. */
	make_proc(7002, "curl", 101, 0, "0::/system.slice/other.service\n", "", NULL);
	assert_int_equal(attrib_cache__resolve_cg(ac, 7002, 4242, &p), 0);
	assert_string_equal(p.unit, "backup.service");
	assert_string_equal(p.cgroup, "/system.slice/backup.service");
	make_proc(7003, "curl", 102, 0, "0::/system.slice/other.service\n", "", NULL);
	assert_int_equal(attrib_cache__resolve_cg(ac, 7003, 4243, &p), 0);
	assert_string_equal(p.unit, "other.service");
	make_proc(7004, "curl", 103, 0, "0::/system.slice/third.service\n", "", NULL);
	assert_int_equal(attrib_cache__resolve(ac, 7004, &p), 0);
	assert_string_equal(p.unit, "third.service");
	attrib_cache__free(ac);
}

/* A client that exits before its handshake is reported is still named. */
static void test_exited_process(void **state)
{
	struct attrib_stats st;
	struct attrib_cache *ac;
	struct hs_proc p;

	(void)state;
	make_proc(6001, "curl", 1000, 1000, "0::/system.slice/backup.service\n",
		  "1-2 r-xp 0 fe:01 3 /usr/lib/x86_64-linux-gnu/libssl.so.1.1\n", "/usr/bin/curl");
	ac = attrib_cache__new(root, 16);
	assert_non_null(ac);
	assert_int_equal(attrib_cache__lookup(ac, 6001, &p), -ENOENT);
	assert_int_equal(attrib_cache__resolve(ac, 6001, &p), 0);
	rm_proc(6001);

	memset(&p, 0, sizeof(p));
	assert_int_equal(attrib_cache__resolve(ac, 6001, &p), 0);
	assert_true(p.known);
	assert_string_equal(p.comm, "curl");
	assert_string_equal(p.unit, "backup.service");
	assert_string_equal(p.tls_lib, "libssl.so.1.1");
	memset(&p, 0, sizeof(p));
	assert_int_equal(attrib_cache__lookup(ac, 6001, &p), 0);
	assert_string_equal(p.exe, "/usr/bin/curl");

	/* Never seen and gone: nothing to say. */
	assert_int_equal(attrib_cache__resolve(ac, 6002, &p), -ESRCH);
	assert_int_equal(attrib_cache__lookup(ac, 6002, &p), -ENOENT);
	attrib_cache__stats(ac, &st);
	assert_int_equal(st.exited, 1);
	attrib_cache__free(ac);
}

/* The cache never holds more than max_entries; the least recently used goes first. */
static void test_eviction(void **state)
{
	struct attrib_stats st;
	struct attrib_cache *ac;
	struct hs_proc p;
	unsigned int pid;
	char comm[16];
	int found = 0;

	(void)state;
	for (pid = 7001; pid <= 7010; pid++) {
		snprintf(comm, sizeof(comm), "worker%u", pid);
		make_proc(pid, comm, pid, 1, "0::/system.slice/w.service\n", "", NULL);
	}
	ac = attrib_cache__new(root, 4);
	assert_non_null(ac);
	for (pid = 7001; pid <= 7004; pid++)
		assert_int_equal(attrib_cache__resolve(ac, pid, &p), 0);
	/* Touch 7001 after the clock has passed it once, so it is not the next victim. */
	assert_int_equal(attrib_cache__resolve(ac, 7005, &p), 0);
	assert_int_equal(attrib_cache__lookup(ac, 7001, &p), -ENOENT);
	assert_int_equal(attrib_cache__lookup(ac, 7002, &p), 0);
	assert_int_equal(attrib_cache__resolve(ac, 7006, &p), 0);
	assert_int_equal(attrib_cache__lookup(ac, 7002, &p), 0);
	assert_string_equal(p.comm, "worker7002");

	for (pid = 7007; pid <= 7010; pid++)
		assert_int_equal(attrib_cache__resolve(ac, pid, &p), 0);
	for (pid = 7001; pid <= 7010; pid++)
		found += attrib_cache__lookup(ac, pid, &p) == 0;
	assert_int_equal(found, 4);
	assert_int_equal(attrib_cache__lookup(ac, 7010, &p), 0);
	assert_string_equal(p.comm, "worker7010");
	attrib_cache__stats(ac, &st);
	assert_int_equal(st.entries, 4);
	assert_int_equal(st.evictions, 6);
	attrib_cache__free(ac);
}

/*
 * Go links crypto/tls into the executable, so maps shows no TLS library: the
 * ".go.buildinfo" section names it. Any other binary without one stays unknown.
 */
static void test_go_binary(void **state)
{
	char cmd[512], go_exe[128];
	struct attrib_cache *ac;
	struct hs_proc p;

	(void)state;
	snprintf(go_exe, sizeof(go_exe), "%s/goapp", root);
	write_file("buildinfo", "\xff Go buildinf:\x08\x02");
	snprintf(cmd, sizeof(cmd),
		 "objcopy --add-section .go.buildinfo=%s/buildinfo /bin/true %s 2>/dev/null", root,
		 go_exe);
	if (system(cmd) != 0)
		skip();
	make_proc(8001, "goapp", 1, 0, "0::/system.slice/goapp.service\n",
		  "1-2 r-xp 0 fe:01 3 /usr/lib/x86_64-linux-gnu/libc.so.6\n", go_exe);
	make_proc(8002, "true", 1, 0, "0::/system.slice/true.service\n",
		  "1-2 r-xp 0 fe:01 3 /usr/lib/x86_64-linux-gnu/libc.so.6\n", "/bin/true");
	ac = attrib_cache__new(root, 4);
	assert_non_null(ac);
	assert_int_equal(attrib_cache__resolve(ac, 8001, &p), 0);
	assert_string_equal(p.tls_lib, "go crypto/tls");
	assert_int_equal(attrib_cache__resolve(ac, 8002, &p), 0);
	assert_string_equal(p.tls_lib, "");
	attrib_cache__free(ac);
}

/* make_lib - a shared object with soname @soname at @path; false when no compiler. */
static bool make_lib(const char *path, const char *soname)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "mkdir -p $(dirname %s) && echo 'int f(void){return 0;}' | cc -shared -fPIC "
		 "-Wl,-soname,%s -o %s -x c - 2>/dev/null",
		 path, soname, path);
	return system(cmd) == 0;
}

/* The dev and inode fields a maps line would show for @path ("fe:01 1835123"). */
static void file_id_of(const char *path, struct attrib_file_id *id, char *text, size_t len)
{
	struct stat st;

	assert_int_equal(lstat(path, &st), 0);
	id->dev_major = major(st.st_dev);
	id->dev_minor = minor(st.st_dev);
	id->ino = st.st_ino;
	snprintf(text, len, "%02x:%02x %llu", id->dev_major, id->dev_minor,
		 (unsigned long long)id->ino);
}

/*
 * A versioned file name is reported by its soname, read from the library as seen
 * from the process's root (its container's filesystem); without the file, or when the
 * file at that path is not the one mapped (another inode), the name from maps stands.
 */
static void test_soname(void **state)
{
	char lib[128], idtext[64];
	struct attrib_file_id id;
	struct attrib_cache *ac;
	struct hs_proc p;

	(void)state;
	make_proc(8101, "mailer", 1, 0, "0::/system.slice/mailer.service\n", "", NULL);
	make_proc(8102, "mailer", 1, 0, "0::/system.slice/mailer.service\n",
		  "1-2 r-xp 0 fe:01 3 /usr/lib/libmbedtls.so.2.28.3\n", NULL);
	make_proc(8103, "mailer", 1, 0, "0::/system.slice/mailer.service\n", "", NULL);
	snprintf(lib, sizeof(lib), "%s/8101/root/usr/lib/libmbedtls.so.2.28.3", root);
	if (!make_lib(lib, "libmbedtls.so.14"))
		skip();
	file_id_of(lib, &id, idtext, sizeof(idtext));
	write_file("8101/maps", "1-2 r-xp 0 %s /usr/lib/libmbedtls.so.2.28.3\n", idtext);
	/* 8103: the same file at the same path, but maps names another inode. */
	snprintf(lib, sizeof(lib), "%s/8103/root/usr/lib/libmbedtls.so.2.28.3", root);
	assert_true(make_lib(lib, "libmbedtls.so.14"));
	write_file("8103/maps", "1-2 r-xp 0 %02x:%02x %llu /usr/lib/libmbedtls.so.2.28.3\n",
		   id.dev_major, id.dev_minor, (unsigned long long)id.ino);
	ac = attrib_cache__new(root, 4);
	assert_non_null(ac);
	assert_int_equal(attrib_cache__resolve(ac, 8101, &p), 0);
	assert_string_equal(p.tls_lib, "libmbedtls.so.14");
	assert_int_equal(attrib_cache__resolve(ac, 8102, &p), 0);
	assert_string_equal(p.tls_lib, "libmbedtls.so.2.28.3");
	assert_int_equal(attrib_cache__resolve(ac, 8103, &p), 0);
	assert_string_equal(p.tls_lib, "libmbedtls.so.2.28.3");
	attrib_cache__free(ac);
}

static void on_alarm(int sig)
{
	(void)sig;
	/* A blocking open would hang the daemon's loop: here it fails the test instead. */
	_exit(3);
}

/* A process's root in the fake tree: REL under it, as an absolute path. */
static void in_root(char *buf, size_t len, unsigned int pid, const char *rel)
{
	assert_true((size_t)snprintf(buf, len, "%s/%u/root%s", root, pid, rel) < len);
}

/*
 * attrib_open_mapped opens nothing but the mapped regular file: a FIFO (whose open
 * would wait for a writer for ever), a symlink, a directory, a file with another inode,
 * or one over the size cap is refused at once, and no path leaves the process's root,
 * neither through "..", nor through an absolute symlink in a directory.
 */
static void test_open_mapped(void **state)
{
	char path[256], idtext[64], target[256];
	struct attrib_file_id id, other, fifo_id, big_id;
	int root_fd, fd, big;
	struct stat st;

	(void)state;
	signal(SIGALRM, on_alarm);
	alarm(10);
	make_proc(8201, "evil", 1, 1000, "0::/user.slice\n", "", NULL);
	in_root(path, sizeof(path), 8201, "/usr/lib/libssl.so.1.1");
	if (!make_lib(path, "libssl.so.1.1"))
		skip();
	file_id_of(path, &id, idtext, sizeof(idtext));
	in_root(path, sizeof(path), 8201, "");
	root_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(root_fd >= 0);

	/* The mapped file itself opens, for reading. */
	fd = attrib_open_mapped(root_fd, "/usr/lib/libssl.so.1.1", &id);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, target, 4), 4);
	assert_memory_equal(target, "\177ELF", 4);
	close(fd);

	/* The same path holding another file than the one maps names. */
	other = id;
	other.ino++;
	assert_int_equal(attrib_open_mapped(root_fd, "/usr/lib/libssl.so.1.1", &other), -ESTALE);
	other = id;
	other.dev_minor ^= 1;
	assert_int_equal(attrib_open_mapped(root_fd, "/usr/lib/libssl.so.1.1", &other), -ESTALE);

	/* A FIFO: refused without waiting for a writer, even with its own dev and inode. */
	in_root(path, sizeof(path), 8201, "/usr/lib/libfifo.so.1.1");
	assert_int_equal(mkfifo(path, 0666), 0);
	file_id_of(path, &fifo_id, idtext, sizeof(idtext));
	assert_int_equal(attrib_open_mapped(root_fd, "/usr/lib/libfifo.so.1.1", &fifo_id), -EINVAL);
	assert_int_equal(attrib_open_mapped(root_fd, "/usr/lib/libfifo.so.1.1", &id), -EINVAL);

	/* A symlink to the mapped file itself: the link is not followed. */
	in_root(path, sizeof(path), 8201, "/usr/lib/liblink.so.1.1");
	assert_int_equal(symlink("libssl.so.1.1", path), 0);
	assert_int_equal(attrib_open_mapped(root_fd, "/usr/lib/liblink.so.1.1", &id), -ELOOP);

	/* A directory. */
	in_root(path, sizeof(path), 8201, "/usr/lib");
	assert_int_equal(lstat(path, &st), 0);
	other.dev_major = major(st.st_dev);
	other.dev_minor = minor(st.st_dev);
	other.ino = st.st_ino;
	assert_int_equal(attrib_open_mapped(root_fd, "/usr/lib", &other), -EINVAL);

	/* Symlinked directories resolve inside the root: /lib -> /usr/lib (merged /usr). */
	in_root(path, sizeof(path), 8201, "/lib");
	assert_int_equal(symlink("/usr/lib", path), 0);
	fd = attrib_open_mapped(root_fd, "/lib/libssl.so.1.1", &id);
	assert_true(fd >= 0);
	close(fd);

	/* ... and never outside it: not through an absolute link, not through "..". */
	file_id_of("/etc/passwd", &other, idtext, sizeof(idtext));
	in_root(path, sizeof(path), 8201, "/escape");
	assert_int_equal(symlink("/etc", path), 0);
	assert_true(attrib_open_mapped(root_fd, "/escape/passwd", &other) < 0);
	assert_true(attrib_open_mapped(root_fd, "/../../../../../../etc/passwd", &other) < 0);
	assert_true(attrib_open_mapped(root_fd, "/usr/../../../../../../etc/passwd", &other) < 0);

	/* Over the size cap (sparse, so the test writes nothing). */
	in_root(path, sizeof(path), 8201, "/usr/lib/libhuge.so.1.1");
	big = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	assert_true(big >= 0);
	assert_int_equal(ftruncate(big, (off_t)ATTRIB_MAPPED_MAX + 1), 0);
	close(big);
	file_id_of(path, &big_id, idtext, sizeof(idtext));
	assert_int_equal(attrib_open_mapped(root_fd, "/usr/lib/libhuge.so.1.1", &big_id), -EFBIG);

	assert_int_equal(attrib_open_mapped(root_fd, "usr/lib/libssl.so.1.1", &id), -EINVAL);
	assert_int_equal(attrib_open_mapped(root_fd, "/usr/lib/libnone.so.1.1", &id), -ENOENT);
	close(root_fd);
	alarm(0);
}

/*
 * The attacks through a whole resolve, as the daemon meets them: a process maps a file
 * named like libssl, then swaps the path for a FIFO, for a symlink to a root-only
 * library, or deletes it and puts another library there. The resolve returns at once
 * and reports the name maps shows, never the soname of a file the process did not map.
 */
static void test_tls_lib_swapped(void **state)
{
	char path[256], secret[256], idtext[64];
	struct attrib_file_id id;
	struct attrib_cache *ac;
	struct hs_proc p;

	(void)state;
	signal(SIGALRM, on_alarm);
	alarm(10);
	/* The root-only library, and what maps says the process mapped. */
	snprintf(secret, sizeof(secret), "%s/secret/libsecret.so.9.9.9", root);
	if (!make_lib(secret, "libsecret.so.9"))
		skip();
	make_proc(8301, "evil", 1, 1000, "0::/user.slice\n", "", NULL);
	make_proc(8302, "evil", 1, 1000, "0::/user.slice\n", "", NULL);
	make_proc(8303, "evil", 1, 1000, "0::/user.slice\n", "", NULL);
	in_root(path, sizeof(path), 8301, "/home/evil/libssl.so.1.1");
	assert_true(make_lib(path, "libssl.so.1.1"));
	file_id_of(path, &id, idtext, sizeof(idtext));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0666), 0);
	write_file("8301/maps", "1-2 r-xp 0 %s /home/evil/libssl.so.1.1\n", idtext);

	in_root(path, sizeof(path), 8302, "/home/evil/libssl.so.1.1");
	assert_true(make_lib(path, "libssl.so.1.1"));
	file_id_of(path, &id, idtext, sizeof(idtext));
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(secret, path), 0);
	write_file("8302/maps", "1-2 r-xp 0 %s /home/evil/libssl.so.1.1\n", idtext);

	/* Deleted: maps marks it, and the path is not opened even when a file is there. */
	in_root(path, sizeof(path), 8303, "/home/evil/libssl.so.1.1");
	assert_true(make_lib(path, "libsecret.so.9"));
	file_id_of(path, &id, idtext, sizeof(idtext));
	write_file("8303/maps", "1-2 r-xp 0 %s /home/evil/libssl.so.1.1 (deleted)\n", idtext);

	ac = attrib_cache__new(root, 8);
	assert_non_null(ac);
	assert_int_equal(attrib_cache__resolve(ac, 8301, &p), 0);
	assert_string_equal(p.tls_lib, "libssl.so.1.1");
	assert_int_equal(attrib_cache__resolve(ac, 8302, &p), 0);
	assert_string_equal(p.tls_lib, "libssl.so.1.1");
	assert_int_equal(attrib_cache__resolve(ac, 8303, &p), 0);
	assert_string_equal(p.tls_lib, "libssl.so.1.1");
	attrib_cache__free(ac);
	alarm(0);
}

/* maps with @n lines that name no TLS library. */
static void write_big_maps(unsigned int pid, unsigned int n)
{
	char path[256];
	unsigned int i;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%u/maps", root, pid);
	f = fopen(path, "w");
	assert_non_null(f);
	for (i = 0; i < n; i++)
		fprintf(f, "%08x-%08x rw-p 00000000 00:00 0\n", i * 2, i * 2 + 1);
	assert_int_equal(fclose(f), 0);
}

/*
 * The maps budget: processes with huge maps (a user can make 65530 mappings and connect
 * from one fresh process after another) spend it; the next process is still named at
 * once but its maps read waits, counted, until the budget refills, and its next resolve
 * fills tls_lib.
 */
static void test_maps_budget(void **state)
{
	struct attrib_stats st;
	struct attrib_cache *ac;
	struct hs_proc p;
	unsigned int pid;

	(void)state;
	for (pid = 8401; pid <= 8403; pid++) {
		make_proc(pid, "huge", 1, 1000, "0::/user.slice\n", "", NULL);
		write_big_maps(pid, ATTRIB_MAPS_LINES + 1000);
	}
	make_proc(8404, "client", 1, 1000, "0::/user.slice\n",
		  "1-2 r-xp 0 fe:01 3 /usr/lib/libssl.so.3\n", NULL);
	ac = attrib_cache__new(root, 8);
	assert_non_null(ac);
	for (pid = 8401; pid <= 8403; pid++)
		assert_int_equal(attrib_cache__resolve(ac, pid, &p), 0);
	attrib_cache__stats(ac, &st);
	/* Each read stops at the per-process cap. */
	assert_int_equal(st.maps_lines, 3 * ATTRIB_MAPS_LINES);
	assert_int_equal(st.maps_deferred, 0);

	assert_int_equal(attrib_cache__resolve(ac, 8404, &p), 0);
	assert_string_equal(p.comm, "client");
	assert_int_equal(p.uid, 1000);
	assert_string_equal(p.tls_lib, "");
	attrib_cache__stats(ac, &st);
	assert_int_equal(st.maps_deferred, 1);
	/* A lookup does not pass it off as complete: the caller must resolve again. */
	assert_int_equal(attrib_cache__lookup(ac, 8404, &p), -EAGAIN);
	assert_string_equal(p.comm, "client");

	/* The debt (3 reads against a burst of 2) is paid within a second. */
	usleep(1200 * 1000);
	assert_int_equal(attrib_cache__resolve(ac, 8404, &p), 0);
	assert_string_equal(p.tls_lib, "libssl.so.3");
	assert_int_equal(attrib_cache__lookup(ac, 8404, &p), 0);
	attrib_cache__stats(ac, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.maps_deferred, 1);
	attrib_cache__free(ac);
}

/* The test's own process through the real /proc. */
static void test_real_self(void **state)
{
	const char *name = "/test_attrib";
	struct attrib_cache *ac;
	struct hs_proc p;
	size_t n;

	(void)state;
	ac = attrib_cache__new("/proc", 0);
	assert_non_null(ac);
	assert_int_equal(attrib_cache__resolve(ac, (uint32_t)getpid(), &p), 0);
	assert_int_equal(p.pid, (uint32_t)getpid());
	assert_string_equal(p.comm, "test_attrib");
	n = strlen(p.exe);
	assert_true(n > strlen(name));
	assert_string_equal(p.exe + n - strlen(name), name);
	assert_int_equal(p.uid, getuid());
	assert_int_equal(p.cgroup[0], '/');
	attrib_cache__free(ac);
}

static int tcp_pair(int family, int *listener, int *client, int *server)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int off = 0;

	memset(&ss, 0, sizeof(ss));
	*listener = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*listener < 0)
		return -errno;
	if (family == AF_INET6) {
		/* dual-stack, so v4-mapped clients reach it too */
		setsockopt(*listener, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
		sl = sizeof(struct sockaddr_in6);
	} else {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(struct sockaddr_in);
	}
	if (bind(*listener, (struct sockaddr *)&ss, sl) || listen(*listener, 4))
		return -errno;
	sl = sizeof(ss);
	if (getsockname(*listener, (struct sockaddr *)&ss, &sl))
		return -errno;
	*client = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*client < 0 || connect(*client, (struct sockaddr *)&ss, sl))
		return -errno;
	*server = accept(*listener, NULL, NULL);
	return *server < 0 ? -errno : 0;
}

/* Local and remote address and port of @fd, as the capture side would see them. */
static void tuple_of(int fd, int *family, uint8_t *laddr, uint16_t *lport, uint8_t *raddr,
		     uint16_t *rport)
{
	struct sockaddr_storage l, r;
	socklen_t ll = sizeof(l), rl = sizeof(r);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&l, &ll), 0);
	assert_int_equal(getpeername(fd, (struct sockaddr *)&r, &rl), 0);
	*family = l.ss_family;
	if (l.ss_family == AF_INET) {
		memcpy(laddr, &((struct sockaddr_in *)&l)->sin_addr, 4);
		memcpy(raddr, &((struct sockaddr_in *)&r)->sin_addr, 4);
		*lport = ntohs(((struct sockaddr_in *)&l)->sin_port);
		*rport = ntohs(((struct sockaddr_in *)&r)->sin_port);
	} else {
		memcpy(laddr, &((struct sockaddr_in6 *)&l)->sin6_addr, 16);
		memcpy(raddr, &((struct sockaddr_in6 *)&r)->sin6_addr, 16);
		*lport = ntohs(((struct sockaddr_in6 *)&l)->sin6_port);
		*rport = ntohs(((struct sockaddr_in6 *)&r)->sin6_port);
	}
}

static void check_owner(int fd)
{
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;
	uint64_t inode;
	struct stat st;
	uint32_t pid = 0;
	int family;

	tuple_of(fd, &family, laddr, &lport, raddr, &rport);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(attrib_socket_inode(family, laddr, lport, raddr, rport, &inode), 0);
	assert_int_equal(inode, st.st_ino);
	assert_int_equal(attrib_owner_of_tuple(family, laddr, lport, raddr, rport, &pid), 0);
	assert_int_equal(pid, (uint32_t)getpid());
}

static void test_owner_of_tuple(void **state)
{
	static const uint8_t mapped_lo[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 };
	struct sockaddr_in6 to = { .sin6_family = AF_INET6 };
	struct sockaddr_in lsa;
	socklen_t sl = sizeof(lsa);
	uint8_t lo4[4] = { 127, 0, 0, 1 }, raddr[16], laddr[16];
	uint16_t lport, rport;
	int l, c, s, l6, c6, s6, c_mapped, s_mapped, family, err;
	uint32_t pid = 0;

	(void)state;
	/* IPv4: both ends of one connection, each owned by this process. */
	assert_int_equal(tcp_pair(AF_INET, &l, &c, &s), 0);
	check_owner(c);
	check_owner(s);

	/* IPv6 on ::1, unless the host has IPv6 switched off */
	err = tcp_pair(AF_INET6, &l6, &c6, &s6);
	if (err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT)
		print_message("no IPv6 loopback here (%d): IPv6 owner lookup not tested\n", err);
	else
		assert_int_equal(err, 0);
	if (!err) {
		check_owner(c6);
		check_owner(s6);

		/* A v6 socket talking to a v4 peer through ::ffff:127.0.0.1 */
		assert_int_equal(getsockname(l, (struct sockaddr *)&lsa, &sl), 0);
		memcpy(&to.sin6_addr, mapped_lo, 16);
		to.sin6_port = lsa.sin_port;
		c_mapped = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(c_mapped >= 0);
		assert_int_equal(connect(c_mapped, (struct sockaddr *)&to, sizeof(to)), 0);
		s_mapped = accept(l, NULL, NULL);
		assert_true(s_mapped >= 0);
		/* asked as AF_INET6 with mapped addresses */
		check_owner(c_mapped);
		/* and as plain AF_INET, the way a v4 packet capture shows it */
		tuple_of(c_mapped, &family, laddr, &lport, raddr, &rport);
		assert_int_equal(attrib_owner_of_tuple(AF_INET, laddr + 12, lport, raddr + 12,
						       rport, &pid),
				 0);
		assert_int_equal(pid, (uint32_t)getpid());
		close(c_mapped);
		close(s_mapped);
		close(c6);
		close(s6);
		close(l6);
	}

	/* No such socket: a port nothing uses, and a reversed tuple. */
	tuple_of(c, &family, laddr, &lport, raddr, &rport);
	assert_int_equal(attrib_owner_of_tuple(AF_INET, lo4, 1, lo4, 2, &pid), -ENOENT);
	assert_int_equal(attrib_owner_of_tuple(AF_INET, laddr, (uint16_t)(lport + 1), raddr,
					       rport, &pid),
			 -ENOENT);
	assert_int_equal(attrib_owner_of_tuple(AF_UNIX, laddr, lport, raddr, rport, &pid),
			 -EAFNOSUPPORT);
	assert_int_equal(attrib_owner_of_inode("/proc", 1, &pid), -ENOENT);
	close(c);
	close(s);
	close(l);
}

struct tuple {
	int family;
	uint8_t laddr[16], raddr[16];
	uint16_t lport, rport;
};

/*
 * The owner is another process: a child holds the only descriptors of its connection,
 * so owners remembered from earlier lookups (this process) must not answer.
 */
static void test_owner_other_process(void **state)
{
	int to_parent[2], to_child[2], l, c, s, status;
	struct tuple t;
	uint32_t pid = 0;
	struct hs_proc p;
	struct attrib_cache *ac;
	pid_t child;
	char go;

	(void)state;
	assert_int_equal(pipe(to_parent), 0);
	assert_int_equal(pipe(to_child), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		memset(&t, 0, sizeof(t));
		if (tcp_pair(AF_INET, &l, &c, &s) == 0)
			tuple_of(c, &t.family, t.laddr, &t.lport, t.raddr, &t.rport);
		if (write(to_parent[1], &t, sizeof(t)) != (ssize_t)sizeof(t))
			_exit(1);
		/* Hold the sockets until the parent has looked. */
		_exit(read(to_child[0], &go, 1) == 1 ? 0 : 1);
	}
	assert_int_equal(read(to_parent[0], &t, sizeof(t)), sizeof(t));
	assert_int_equal(t.family, AF_INET);
	assert_int_equal(attrib_owner_of_tuple(t.family, t.laddr, t.lport, t.raddr, t.rport, &pid),
			 0);
	assert_int_equal(pid, (uint32_t)child);
	/* And the cache names the owner found. */
	ac = attrib_cache__new("/proc", 0);
	assert_non_null(ac);
	assert_int_equal(attrib_cache__resolve(ac, pid, &p), 0);
	assert_string_equal(p.comm, "test_attrib");
	attrib_cache__free(ac);

	assert_int_equal(write(to_child[1], "x", 1), 1);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The child is gone and so is its socket. */
	assert_int_equal(attrib_owner_of_tuple(t.family, t.laddr, t.lport, t.raddr, t.rport, &pid),
			 -ENOENT);
	close(to_parent[0]);
	close(to_parent[1]);
	close(to_child[0]);
	close(to_child[1]);
}

/* make_fds - /ROOT/PID/fd with @n links "socket:[@first + i]", plus @extra if not NULL. */
static void make_fds(unsigned int pid, unsigned int n, unsigned long long first, const char *extra)
{
	char path[256], target[64];
	unsigned int i;

	snprintf(path, sizeof(path), "%s/%u", root, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%u/fd", root, pid);
	assert_int_equal(mkdir(path, 0755), 0);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%u/fd/%u", root, pid, i + 3);
		snprintf(target, sizeof(target), "socket:[%llu]", first + i);
		assert_int_equal(symlink(target, path), 0);
	}
	if (extra) {
		snprintf(path, sizeof(path), "%s/%u/fd/%u", root, pid, n + 3);
		assert_int_equal(symlink(extra, path), 0);
	}
}

/*
 * A burst: ten new processes with fifty sockets each. The lookup of the oldest one's
 * socket reads its way through the nine newer ones; the sockets it passed are then
 * found with one readlink each, without crowding the owner found by the scan out of
 * the ones tried first; and a socket that moved (its fd closed, the inode now
 * elsewhere) is not taken from that memory but found again by a scan.
 */
static void test_owner_seen_sockets(void **state)
{
	struct attrib_owner_stats before, after;
	char path[256];
	unsigned int pid;
	uint32_t owner;

	(void)state;
	for (pid = 5000; pid < 5010; pid++)
		make_fds(pid, 50, 7000000ULL + pid * 100, NULL);
	attrib_owner_stats(&before);
	assert_int_equal(attrib_owner_of_inode(root, 7000000ULL + 5000 * 100 + 49, &owner), 0);
	assert_int_equal(owner, 5000);
	attrib_owner_stats(&after);
	assert_true(after.entries - before.entries > 9 * 50);

	for (pid = 5001; pid < 5010; pid++) {
		attrib_owner_stats(&before);
		assert_int_equal(attrib_owner_of_inode(root, 7000000ULL + pid * 100 + 7, &owner),
				 0);
		assert_int_equal(owner, pid);
		attrib_owner_stats(&after);
		assert_true(after.entries - before.entries <= 2);
	}

	/*
	 * Those nine were one-shot finds: 5000, found by a scan, is still among the owners
	 * tried first, so its next socket costs its own fd table, not the nine others'.
	 */
	snprintf(path, sizeof(path), "%s/5000/fd/99", root);
	assert_int_equal(symlink("socket:[7400999]", path), 0);
	attrib_owner_stats(&before);
	assert_int_equal(attrib_owner_of_inode(root, 7400999, &owner), 0);
	assert_int_equal(owner, 5000);
	attrib_owner_stats(&after);
	assert_true(after.entries - before.entries < 100);

	/* 5003's fd 10 now holds something else; its old inode sits in 5008's fd 60. */
	snprintf(path, sizeof(path), "%s/5003/fd/10", root);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("pipe:[1]", path), 0);
	snprintf(path, sizeof(path), "%s/5008/fd/60", root);
	assert_int_equal(symlink("socket:[7500307]", path), 0);
	assert_int_equal(attrib_owner_of_inode(root, 7500307, &owner), 0);
	assert_int_equal(owner, 5008);
}

/*
 * The /proc fd scan on a host with many fds: forty old processes hold a thousand sockets
 * each, and the socket to name belongs to the newest process, found first and cheaply.
 * A socket a child inherited is its parent's.
 * A socket only the oldest process holds lies beyond one lookup's share: the lookup
 * gives up (-EAGAIN) after a bounded number of entries instead of stalling the loop, and
 * lookups in a row run out of budget and are not made at all, so the entries read over
 * any period stay under the rate. Once the budget refills, lookups work again.
 * (Runs last: the budget is the process's.)
 */
static void test_owner_scan_budget(void **state)
{
	struct attrib_owner_stats before, after;
	uint64_t t0, elapsed_ms;
	unsigned int pid, i;
	uint32_t owner;
	int err;

	(void)state;
	for (pid = 100; pid < 140; pid++)
		make_fds(pid, 1000, 1000000ULL + pid * 1000, "/dev/null");
	make_fds(9000, 1, 42, "pipe:[7]");

	attrib_owner_stats(&before);
	assert_int_equal(attrib_owner_of_inode(root, 42, &owner), 0);
	assert_int_equal(owner, 9000);
	attrib_owner_stats(&after);
	assert_true(after.entries - before.entries < 20);
	assert_int_equal(after.found - before.found, 1);

	/*
	 * Inherited over fork: the child (the newer pid, found first) holds it, and so does
	 * its parent, which opened it. The parent is the owner, as an oldest-first scan said.
	 */
	make_fds(9100, 1, 77, NULL);
	make_fds(9101, 1, 77, NULL);
	write_file("9100/stat", "9100 (socat) S 1 9100 9100 0 -1 0\n");
	write_file("9101/stat", "9101 (sh) S 9100 9100 9100 0 -1 0\n");
	assert_int_equal(attrib_owner_of_inode(root, 77, &owner), 0);
	assert_int_equal(owner, 9100);

	/* The newest of the old processes is reached too, past the small ones. */
	assert_int_equal(attrib_owner_of_inode(root, 1000000ULL + 139 * 1000 + 500, &owner), 0);
	assert_int_equal(owner, 139);

	/* The oldest one: one lookup stops at its share, never reads all 40 000 entries. */
	attrib_owner_stats(&before);
	t0 = util_mono_ns();
	assert_int_equal(attrib_owner_of_inode(root, 1000000ULL + 100 * 1000 + 999, &owner),
			 -EAGAIN);
	attrib_owner_stats(&after);
	assert_int_equal(after.truncated - before.truncated, 1);
	assert_true(after.entries - before.entries <= ATTRIB_SCAN_CALL_MAX);

	/* Again and again: the budget runs out and lookups are skipped without a read. */
	for (i = 0; i < 50; i++) {
		err = attrib_owner_of_inode(root, 1000000ULL + 100 * 1000 + 999, &owner);
		assert_int_equal(err, -EAGAIN);
		attrib_owner_stats(&after);
		if (after.skipped > before.skipped)
			break;
	}
	assert_true(after.skipped > before.skipped);
	elapsed_ms = (util_mono_ns() - t0) / 1000000 + 1;
	print_message("scan: %llu entries in %llu ms, then skipped\n",
		      (unsigned long long)(after.entries - before.entries),
		      (unsigned long long)elapsed_ms);
	/* Burst plus rate, and one lookup's share of slack. */
	assert_true(after.entries - before.entries <=
		    ATTRIB_SCAN_BURST + ATTRIB_SCAN_RATE * elapsed_ms / 1000 + ATTRIB_SCAN_CALL_MAX);

	usleep(1100 * 1000);
	assert_int_equal(attrib_owner_of_inode(root, 42, &owner), 0);
	assert_int_equal(owner, 9000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fake_proc_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fake_proc_hybrid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fake_proc_v1_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fake_proc_malformed, setup, teardown),
		cmocka_unit_test(test_unit_and_container_table),
		cmocka_unit_test_setup_teardown(test_tls_lib_from_maps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pid_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exited_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exe_lib_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_by_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eviction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_go_binary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_soname, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_mapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_lib_swapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_maps_budget, setup, teardown),
		cmocka_unit_test(test_real_self),
		cmocka_unit_test(test_owner_of_tuple),
		cmocka_unit_test(test_owner_other_process),
		cmocka_unit_test_setup_teardown(test_owner_seen_sockets, setup_shm, teardown),
		cmocka_unit_test_setup_teardown(test_owner_scan_budget, setup_shm, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Container names that survive restarts: each runtime's metadata laid out as the
 * runtime writes it under a test root (docker, podman, containerd under Kubernetes and
 * nerdctl's scope and cgroupfs path, CRI-O, the kubelet's log directories), systemd-nspawn from the path alone,
 * the runtime in parentheses when nothing is readable, a name read once per id, files
 * that are links or too large refused; and the unit as a label, without per-run scopes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tlsaudit/attrib.h"

#define ID1 "aa11bb22cc33dd44ee55ff66aa11bb22cc33dd44ee55ff66aa11bb22cc33dd44"
#define ID2 "3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d"
#define ID3 "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"
#define ID4 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID5 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define POD "0c5e9a3c-1f2b-4d6e-8a7b-9c0d1e2f3a4b"

static char root[64];

static void put_file(const char *rel, const char *text)
{
	char path[512], cmd[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(cmd), 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/tlsaudit-rt-%d", (int)getpid());
	put_file("/var/lib/docker/containers/" ID1 "/config.v2.json",
		 "{\"ID\":\"" ID1 "\",\"Name\":\"/compose-web-1\",\"Config\":{\"Image\":"
		 "\"nginx:1.25\",\"Env\":[\"A=1\"]},\"State\":{\"Pid\":42}}");
	put_file("/var/lib/containers/storage/overlay-containers/containers.json",
		 "[{\"id\":\"" ID1 "\",\"names\":[\"not-this\"],\"image\":\"x\"},"
		 "{\"id\":\"" ID2 "\",\"names\":[\"db\",\"alias\"],\"image\":\"f00d\","
		 "\"metadata\":\"{\\\"image-name\\\":\\\"postgres:16\\\"}\"}]");
	put_file("/run/containerd/io.containerd.runtime.v2.task/k8s.io/" ID3 "/config.json",
		 "{\"ociVersion\":\"1.1.0\",\"process\":{\"args\":[\"nginx\"]},\"annotations\":{"
		 "\"io.kubernetes.cri.container-type\":\"container\","
		 "\"io.kubernetes.cri.container-name\":\"web\","
		 "\"io.kubernetes.cri.sandbox-name\":\"web-7d9f8-abcde\","
		 "\"io.kubernetes.cri.sandbox-namespace\":\"shop\","
		 "\"io.kubernetes.cri.image-name\":\"docker.io/library/nginx:1.25\"}}");
	put_file("/run/containerd/io.containerd.runtime.v2.task/default/" ID5 "/config.json",
		 "{\"annotations\":{\"nerdctl/name\":\"cache\"}}");
	put_file("/run/containers/storage/overlay-containers/" ID4 "/userdata/config.json",
		 "{\"annotations\":{\"io.kubernetes.container.name\":\"api\","
		 "\"io.kubernetes.pod.name\":\"api-5f6d-xyz\","
		 "\"io.kubernetes.pod.namespace\":\"prod\"}}");
	put_file("/var/log/pods/mail_relay-6c9d_" POD "/postfix/0.log", "");
	attrib_set_runtime_root(root);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd);
}

static void expect_name(const char *cgroup, const char *want)
{
	char name[ATTRIB_CONTAINER_MAX];
	int ret = attrib_container_name(cgroup, name, sizeof(name));

	if (!want) {
		if (ret != -ENOENT)
			fail_msg("%s: got '%s' (%d), want none", cgroup, name, ret);
		return;
	}
	if (ret || strcmp(name, want))
		fail_msg("%s: got '%s' (%d), want '%s'", cgroup, name, ret, want);
}

static void test_runtimes(void **state)
{
	(void)state;
	/* docker, systemd and cgroupfs drivers, and a service inside the container */
	expect_name("/system.slice/docker-" ID1 ".scope", "compose-web-1");
	expect_name("/docker/" ID1, "compose-web-1");
	expect_name("/system.slice/docker-" ID1 ".scope/system.slice/postfix.service",
		    "compose-web-1");
	/* podman, rootful and rootless; conmon is no container */
	expect_name("/machine.slice/libpod-" ID2 ".scope", "db");
	expect_name("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID2
		    ".scope/container", "db");
	expect_name("/machine.slice/libpod-conmon-" ID2 ".scope", NULL);
	/* containerd under Kubernetes: namespace/container, never the pod's name */
	expect_name("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
		    "0c5e9a3c_1f2b_4d6e_8a7b_9c0d1e2f3a4b.slice/cri-containerd-" ID3 ".scope",
		    "shop/web");
	expect_name("/kubepods/burstable/pod" POD "/" ID3, "shop/web");
	/*
	 * containerd outside Kubernetes: nerdctl's systemd scope and its cgroupfs path
	 * /<namespace>/<id>, named from the bundle in namespace "default"
	 */
	expect_name("/system.slice/nerdctl-" ID5 ".scope", "cache");
	expect_name("/default/" ID5, "cache");
	expect_name("/docker/" ID5, "(docker)");
	/* CRI-O, and a bare id under kubepods that is CRI-O's */
	expect_name("/kubepods.slice/kubepods-besteffort.slice/crio-" ID4 ".scope", "prod/api");
	expect_name("/kubepods/besteffort/pod1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d/" ID4,
		    "prod/api");
	/* systemd-nspawn: the machine's name, systemd's escaping undone */
	expect_name("/machine.slice/machine-build\\x2dbox.scope/payload/system.slice/cron.service",
		    "build-box");
	expect_name("/machine.slice/machine-mail.scope", "mail");
	/*
	 * `machinectl start`: the container is systemd-nspawn@NAME.service's payload, a
	 * booted one with its own units below it; the supervisor is nspawn, a host program.
	 */
	expect_name("/machine.slice/systemd-nspawn@web.service/payload/system.slice/nginx.service",
		    "web");
	expect_name("/machine.slice/systemd-nspawn@web.service/payload/init.scope", "web");
	expect_name("/machine.slice/systemd-nspawn@build\\x2dbox.service/payload", "build-box");
	expect_name("/machine.slice/systemd-nspawn@web.service", "web");
	expect_name("/machine.slice/systemd-nspawn@web.service/supervisor", NULL);
	/* a container runtime inside the machine: the innermost container names it */
	expect_name("/machine.slice/systemd-nspawn@web.service/payload/system.slice/docker-" ID1
		    ".scope",
		    "compose-web-1");
	/* only under machine.slice, and only with a name */
	expect_name("/system.slice/systemd-nspawn@web.service/payload", NULL);
	expect_name("/machine.slice/systemd-nspawn@.service/payload", NULL);
	/* not containers */
	expect_name("/system.slice/nginx.service", NULL);
	expect_name("/kubepods/burstable/pod" POD, NULL);
	expect_name("/", NULL);
	expect_name("", NULL);
	expect_name("/docker/deadbeef", NULL);
}

/* Nothing readable: the runtime stands in, never the id; the kubelet's directories help. */
static void test_unreadable(void **state)
{
	(void)state;
	expect_name("/system.slice/docker-" ID2 ".scope", "(docker)");
	expect_name("/machine.slice/libpod-" ID4 ".scope", "(podman)");
	expect_name("/system.slice/cri-containerd-" ID4 ".scope", "(containerd)");
	expect_name("/system.slice/nerdctl-" ID4 ".scope", "(containerd)");
	/* docker's metadata for this id does not name a nerdctl container */
	expect_name("/default/" ID1, "(containerd)");
	expect_name("/kubepods.slice/crio-" ID1 ".scope", "(cri-o)");
	expect_name("/kubepods/burstable/pod1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6e/" ID1,
		    "(kubernetes)");
	/* The pod's log directory names namespace and its one container. */
	expect_name("/kubepods/burstable/pod" POD "/" ID1, "mail/postfix");
	/* A hostile path does not leave the root: ids are hex or nothing. */
	expect_name("/system.slice/docker-../../etc.scope", NULL);
}

/* Read once per id: the file can go, the name stays; a new root forgets. */
static void test_cache_and_files(void **state)
{
	char path[512], target[600];

	(void)state;
	expect_name("/system.slice/docker-" ID1 ".scope", "compose-web-1");
	snprintf(path, sizeof(path), "%s/var/lib/docker/containers/" ID1 "/config.v2.json", root);
	snprintf(target, sizeof(target), "%s.real", path);
	assert_int_equal(rename(path, target), 0);
	expect_name("/system.slice/docker-" ID1 ".scope", "compose-web-1");
	/* A symlink in its place is not followed, once the cache is gone. */
	assert_int_equal(symlink(target, path), 0);
	attrib_set_runtime_root(root);
	expect_name("/system.slice/docker-" ID1 ".scope", "(docker)");
	unlink(path);
	/* Not JSON: no name. */
	put_file("/var/lib/docker/containers/" ID1 "/config.v2.json", "{\"Name\":\"/x\"");
	expect_name("/system.slice/docker-" ID1 ".scope", "(docker)");
	/* Without a name, the image. */
	put_file("/var/lib/docker/containers/" ID1 "/config.v2.json",
		 "{\"Name\":\"\",\"Config\":{\"Image\":\"redis:7\"}}");
	expect_name("/system.slice/docker-" ID1 ".scope", "redis:7");
	rename(target, path);
	attrib_set_runtime_root(root);
}

static void expect_unit(const char *unit, const char *want)
{
	char out[128];

	attrib_unit_label(unit, out, sizeof(out));
	if (strcmp(out, want))
		fail_msg("%s: got '%s', want '%s'", unit, out, want);
}

static void test_unit_label(void **state)
{
	(void)state;
	expect_unit("postfix@-.service", "postfix@-.service");
	expect_unit("nginx.service", "nginx.service");
	expect_unit("docker-" ID1 ".scope", "");
	expect_unit("cri-containerd-" ID3 ".scope", "");
	expect_unit("libpod-" ID2 ".scope", "");
	expect_unit("nerdctl-" ID5 ".scope", "");
	expect_unit("session-42.scope", "");
	expect_unit("session-c1.scope", "");
	/*
	 * systemd-run's made-up names, per run whether a service or a scope: every run
	 * would be a new row; a name given with --unit is the operator's and stays.
	 */
	expect_unit("run-u123.service", "");
	expect_unit("run-u123.scope", "");
	expect_unit("run-r0123456789abcdef0123456789abcdef.service", "");
	expect_unit("run-r0123456789abcdef0123456789abcdef.scope", "");
	expect_unit("run-p4242-i4243.service", "");
	expect_unit("run-p4242-i4243.scope", "");
	expect_unit("run-backup.service", "run-backup.service");
	expect_unit("run-backup.scope", "run-backup.scope");
	expect_unit("run-u.service", "run-u.service");
	expect_unit("run-p4242.service", "run-p4242.service");
	expect_unit("run-rfoo.service", "run-rfoo.service");
	/* scopes ending in a pid, a counter or an id: podman, desktop apps, snaps */
	expect_unit("podman-4242.scope", "");
	expect_unit("app-gnome-firefox-5120.scope", "");
	expect_unit("snap.firefox.firefox-0c5e9a3c-1f2b-4d6e-8a7b-9c0d1e2f3a4b.scope", "");
	expect_unit("libpod-conmon-" ID2 ".scope", "");
	expect_unit("1234.scope", "1234.scope");
	expect_unit("init.scope", "init.scope");
	expect_unit("machine-mail.scope", "machine-mail.scope");
	/* services keep their numbers: a version is part of the name */
	expect_unit("postgresql-16.service", "postgresql-16.service");
	expect_unit("systemd-nspawn@web.service", "systemd-nspawn@web.service");
	expect_unit("sshd@12-10.0.0.1:22-10.0.0.9:5000.service", "sshd@.service");
	expect_unit("getty@tty1.service", "getty@tty1.service");
	expect_unit("user@1000.service", "user@1000.service");
	expect_unit("", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runtimes),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_cache_and_files),
		cmocka_unit_test(test_unit_label),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Container names that survive a restart, for labels and process keys: the cgroup path
 * says which runtime runs a process and the container's per-run id; the runtime's own
 * metadata turns the id into what the runtime reuses across restarts (docs/metrics.md,
 * "Containers"):
 *
 *   docker      /var/lib/docker/containers/ID/config.v2.json: Name, else Config.Image
 *   podman      /var/lib/containers/storage/overlay-containers/containers.json: the
 *               entry whose id is ID, its first name
 *   containerd  /run/containerd/io.containerd.runtime.v2.task/k8s.io/ID/config.json
 *   (CRI)       (the OCI bundle): annotations io.kubernetes.cri.sandbox-namespace and
 *               io.kubernetes.cri.container-name, as NAMESPACE/CONTAINER
 *   nerdctl     nerdctl-ID.scope, /default/ID: the bundle in namespace "default"
 *               (.../default/ID/config.json), whose nerdctl/name annotation nerdctl
 *               copies from its container label. The labels themselves are in
 *               containerd's bolt database, which is not read.
 *   CRI-O       /run/containers/storage/overlay-containers/ID/userdata/config.json:
 *               annotations io.kubernetes.pod.namespace and io.kubernetes.container.name
 *   kubelet     neither readable: /var/log/pods/NAMESPACE_POD_UID/, found by the pod
 *               uid of the cgroup path, when it holds one container's directory
 *   nspawn      machine.slice/machine-NAME.scope (machined) or
 *               machine.slice/systemd-nspawn@NAME.service (machinectl start; not its
 *               "supervisor" cgroup, which is nspawn itself): NAME, from the path alone
 *
 * The pod's name is never used: a Deployment's pods get a new one on every rollout.
 * When the metadata cannot be read the value is the runtime in parentheses ("(docker)"),
 * which no runtime allows in a name: the row stays apart from the host's programs
 * without taking a per-run id. The cgroup path is the process's to shape (a delegated
 * subtree), so an id is only ever used after it passed as hex, never as a path of its
 * own; files are opened without following links or blocking on a FIFO, size-capped, and
 * parsed with the bounded reader. A name is read once per container id and cached.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsaudit/attrib.h"
#include "tlsaudit/jsonwalk.h"
#include "tlsaudit/util.h"

#define ID_MAX 64
#define META_MAX (1u << 20)	    /* a config.v2.json or an OCI config.json */
#define PODMAN_LIST_MAX (16u << 20) /* containers.json lists every container of the host */
#define CACHE_SIZE 256
#define PODS_SCAN_MAX 4096	    /* /var/log/pods entries looked at per lookup */

enum runtime { RT_NONE = 0, RT_DOCKER, RT_PODMAN, RT_CONTAINERD, RT_CRIO, RT_KUBE, RT_NSPAWN };

static const char *const rt_names[] = {
	[RT_DOCKER] = "(docker)", [RT_PODMAN] = "(podman)", [RT_CONTAINERD] = "(containerd)",
	[RT_CRIO] = "(cri-o)",	  [RT_KUBE] = "(kubernetes)",
};

/* What the cgroup path says: the runtime, the container's id, a pod uid or a name. */
struct cg_info {
	enum runtime rt;
	char id[ID_MAX + 1];
	char pod_uid[40]; /* with dashes, as /var/log/pods names it */
	char machine[128];
};

struct cache_ent {
	enum runtime rt; /* with the id, the key: a path may name an id under another runtime */
	char id[ID_MAX + 1];
	char name[ATTRIB_CONTAINER_MAX];
};

/* The cache is the process's, like the /proc scan budget of owner.c. */
static struct cache_ent cache[CACHE_SIZE];
static size_t cache_hand;
static char runtime_root[UTIL_PATH_MAX] = "";
static bool root_set;

/* The tests' fake runtimes live under a directory of their own (secure_getenv: never set-id). */
#define RUNTIME_ROOT_ENV "TLSAUDIT_RUNTIME_ROOT"

void attrib_set_runtime_root(const char *root)
{
	util_strlcpy(runtime_root, root ? root : "", sizeof(runtime_root));
	memset(cache, 0, sizeof(cache));
	root_set = true;
}

static bool is_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool has_prefix(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	return len >= n && !memcmp(s, p, n);
}

static bool has_suffix(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	return len >= n && !memcmp(s + len - n, p, n);
}

/*
 * unescape_unit - systemd's unit-name escaping (systemd.unit(5), "\xNN") undone, for
 * "machine-foo\x2dbar.scope"; bytes that are not printable ASCII are dropped.
 */
static void unescape_unit(const char *s, size_t len, char *out, size_t cap)
{
	size_t i, o = 0;
	unsigned int v;

	for (i = 0; i < len && o + 1 < cap; i++) {
		char ch = s[i];

		if (ch == '\\' && i + 3 < len && s[i + 1] == 'x' && sscanf(s + i + 2, "%2x", &v) == 1) {
			ch = (char)v;
			i += 3;
		}
		if (ch > 0x20 && ch < 0x7f)
			out[o++] = ch;
	}
	out[o] = '\0';
}

/* pod_uid - "pod<uid>" (cgroupfs) or "kubepods-<qos>-pod<uid with _>.slice" (systemd). */
static void pod_uid(const char *c, size_t len, struct cg_info *ci)
{
	const char *p;
	size_t i, n;

	if (has_suffix(c, len, ".slice"))
		len -= strlen(".slice");
	p = memmem(c, len, "pod", 3);
	if (!p)
		return;
	n = len - (size_t)(p + 3 - c);
	if (n != 36)
		return;
	for (i = 0; i < n; i++) {
		char ch = p[3 + i] == '_' ? '-' : p[3 + i];

		if (!(ch == '-' || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return;
		ci->pod_uid[i] = ch;
	}
	ci->pod_uid[n] = '\0';
}

/* parse_cgroup - the innermost container the path names, if any. */
static void parse_cgroup(const char *cg, struct cg_info *ci)
{
	static const struct {
		const char *prefix;
		enum runtime rt;
	} scopes[] = {
		{ "docker-", RT_DOCKER },	      { "libpod-", RT_PODMAN },
		{ "cri-containerd-", RT_CONTAINERD }, { "crio-", RT_CRIO },
		{ "nerdctl-", RT_CONTAINERD },
	};
	const char *c = cg, *end;
	bool kube = false, under_machine = false, after_nspawn = false;
	bool in_default = false, parent_default;
	struct cg_info outer;
	size_t len, i, n;

	memset(ci, 0, sizeof(*ci));
	memset(&outer, 0, sizeof(outer));
	for (; *c; c = end) {
		while (*c == '/')
			c++;
		end = strchrnul(c, '/');
		len = (size_t)(end - c);
		if (!len)
			break;
		/*
		 * systemd-nspawn@NAME.service holds two cgroups: "payload" (the container)
		 * and "supervisor" (systemd-nspawn itself, a host program).
		 */
		if (after_nspawn && len == 10 && !memcmp(c, "supervisor", 10))
			*ci = outer;
		after_nspawn = false;
		parent_default = in_default;
		in_default = len == 7 && !memcmp(c, "default", 7);
		if (has_prefix(c, len, "kubepods"))
			kube = true;
		pod_uid(c, len, ci);
		if (len == 13 && !memcmp(c, "machine.slice", 13)) {
			under_machine = true;
			continue;
		}
		n = len - (has_suffix(c, len, ".scope") ? strlen(".scope") : 0);
		for (i = 0; i < ARRAY_SIZE(scopes); i++) {
			size_t p = strlen(scopes[i].prefix);

			/* "libpod-conmon-<id>" is podman's monitor: not hex after the prefix. */
			if (has_prefix(c, n, scopes[i].prefix) && n - p >= 12 && n - p <= ID_MAX &&
			    is_hex(c + p, n - p)) {
				ci->rt = scopes[i].rt;
				memcpy(ci->id, c + p, n - p);
				ci->id[n - p] = '\0';
				ci->machine[0] = '\0';
				break;
			}
		}
		if (i < ARRAY_SIZE(scopes))
			continue;
		if (len == ID_MAX && is_hex(c, len)) {
			/*
			 * cgroupfs drivers: /docker/<id>, /kubepods/.../pod<uid>/<id>, and
			 * nerdctl's /<containerd namespace>/<id>: "default" is its own.
			 */
			ci->rt = kube ? RT_KUBE : parent_default ? RT_CONTAINERD : RT_DOCKER;
			memcpy(ci->id, c, len);
			ci->id[len] = '\0';
			ci->machine[0] = '\0';
			continue;
		}
		if (under_machine && has_prefix(c, len, "machine-") && has_suffix(c, len, ".scope") &&
		    len > strlen("machine-.scope")) {
			/* a machine registered with machined (systemd-nspawn run by hand) */
			ci->rt = RT_NSPAWN;
			ci->id[0] = '\0';
			unescape_unit(c + 8, len - 8 - 6, ci->machine, sizeof(ci->machine));
		} else if (under_machine && has_prefix(c, len, "systemd-nspawn@") &&
			   has_suffix(c, len, ".service") &&
			   len > strlen("systemd-nspawn@.service")) {
			/* `machinectl start NAME`: the template unit, NAME its instance */
			outer = *ci;
			after_nspawn = true;
			ci->rt = RT_NSPAWN;
			ci->id[0] = '\0';
			unescape_unit(c + 15, len - 15 - 8, ci->machine, sizeof(ci->machine));
		}
	}
}

/*
 * read_meta - a runtime's file, @path under the runtime root: a regular file, at most
 * @cap bytes, read without following a final symlink or blocking. 0 and a malloc'd
 * buffer, or -errno.
 */
static int read_meta(const char *path, size_t cap, char **out, size_t *outlen)
{
	char full[UTIL_PATH_MAX + 256];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	char *buf = NULL;
	int fd, ret = 0;

	if ((size_t)snprintf(full, sizeof(full), "%s%s", runtime_root, path) >= sizeof(full))
		return -ENAMETOOLONG;
	fd = open(full, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (size_t)st.st_size > cap) {
		ret = -EINVAL;
		goto cleanup;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto cleanup;
	}
	while (len <= (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (len > (size_t)st.st_size) {
		/* It grew while read: not the file that was measured. */
		ret = -EAGAIN;
		goto cleanup;
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
cleanup:
	free(buf);
	close(fd);
	return ret;
}

/* What the callbacks collect from a metadata file. */
struct meta {
	const char *id;		/* podman: the entry wanted */
	bool in_entry;		/* podman: the current entry has that id */
	size_t entry;
	char name[ATTRIB_CONTAINER_MAX], image[ATTRIB_CONTAINER_MAX];
	char ns[ATTRIB_CONTAINER_MAX];
};

static void keep(char *dst, size_t cap, int type, const char *s)
{
	if (type == UTIL_JSON_STRING && !dst[0])
		util_strlcpy(dst, s, cap);
}

static int docker_cb(const struct util_json_path *p, int type, const char *s, size_t len,
		     void *ctx)
{
	struct meta *m = ctx;

	(void)len;
	if (util_json_path_is(p, "Name", NULL))
		keep(m->name, sizeof(m->name), type, s[0] == '/' ? s + 1 : s);
	else if (util_json_path_is(p, "Config", "Image", NULL))
		keep(m->image, sizeof(m->image), type, s);
	return 0;
}

static int oci_cb(const struct util_json_path *p, int type, const char *s, size_t len, void *ctx)
{
	struct meta *m = ctx;

	(void)len;
	if (p->depth != 2 || !util_json_path_is(p, "annotations", p->seg[1].key, NULL))
		return 0;
	if (!strcmp(p->seg[1].key, "io.kubernetes.cri.container-name") ||
	    !strcmp(p->seg[1].key, "io.kubernetes.container.name") ||
	    !strcmp(p->seg[1].key, "nerdctl/name"))
		keep(m->name, sizeof(m->name), type, s);
	else if (!strcmp(p->seg[1].key, "io.kubernetes.cri.sandbox-namespace") ||
		 !strcmp(p->seg[1].key, "io.kubernetes.pod.namespace"))
		keep(m->ns, sizeof(m->ns), type, s);
	else if (!strcmp(p->seg[1].key, "io.kubernetes.cri.image-name"))
		keep(m->image, sizeof(m->image), type, s);
	return 0;
}

/* podman_cb - containers.json is a list of {"id", "names": [...], "image", ...}. */
static int podman_cb(const struct util_json_path *p, int type, const char *s, size_t len,
		     void *ctx)
{
	struct meta *m = ctx;

	(void)len;
	if (p->depth < 2 || p->seg[0].key)
		return 0;
	if (p->seg[0].index != m->entry) {
		/* A new entry: the one wanted was the previous one, and it is done. */
		if (m->in_entry)
			return 1;
		m->entry = p->seg[0].index;
		m->name[0] = '\0';
	}
	if (util_json_path_is(p, "[]", "id", NULL) && type == UTIL_JSON_STRING)
		m->in_entry = !strcmp(s, m->id);
	else if (util_json_path_is(p, "[]", "names", "[]", NULL) && p->seg[2].index == 0)
		keep(m->name, sizeof(m->name), type, s);
	return 0;
}

static int walk_file(const char *path, size_t cap, util_json_fn fn, struct meta *m)
{
	char *buf = NULL;
	size_t len;
	int ret;

	ret = read_meta(path, cap, &buf, &len);
	if (ret)
		return ret;
	ret = util_json_walk(buf, len, fn, m);
	free(buf);
	return ret < 0 ? ret : 0;
}

/* kube_name - NAMESPACE/CONTAINER from an OCI bundle's annotations. */
static int kube_name(const char *path, char *out, size_t cap)
{
	struct meta m;

	memset(&m, 0, sizeof(m));
	if (walk_file(path, META_MAX, oci_cb, &m) || !m.name[0])
		return -ENOENT;
	if (m.ns[0])
		snprintf(out, cap, "%s/%s", m.ns, m.name);
	else
		util_strlcpy(out, m.name, cap);
	return 0;
}

/*
 * kubelet_name - NAMESPACE/CONTAINER from the kubelet's log directories when the pod
 * has exactly one container (with more, which one this process is cannot be told).
 */
static int kubelet_name(const char *uid, char *out, size_t cap)
{
	char dir[UTIL_PATH_MAX + 64], pod[256] = "", ctr[128] = "";
	struct dirent *de;
	size_t scanned = 0, ulen = strlen(uid), n, ctrs = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/var/log/pods", runtime_root);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && scanned++ < PODS_SCAN_MAX) {
		n = strlen(de->d_name);
		if (n > ulen + 1 && de->d_name[n - ulen - 1] == '_' &&
		    !strcmp(de->d_name + n - ulen, uid)) {
			util_strlcpy(pod, de->d_name, sizeof(pod));
			break;
		}
	}
	closedir(d);
	if (!pod[0] || !strchr(pod, '_'))
		return -ENOENT;
	snprintf(dir, sizeof(dir), "%s/var/log/pods/%s", runtime_root, pod);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)) && scanned++ < PODS_SCAN_MAX) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		util_strlcpy(ctr, de->d_name, sizeof(ctr));
		ctrs++;
	}
	closedir(d);
	if (ctrs != 1)
		return -ENOENT;
	*strchr(pod, '_') = '\0';
	snprintf(out, cap, "%s/%s", pod, ctr);
	return 0;
}

/* lookup - the name from the runtime's metadata; 0 or -errno. */
static int lookup(const struct cg_info *ci, char *out, size_t cap)
{
	char path[256];
	struct meta m;
	int ret = -ENOENT;

	memset(&m, 0, sizeof(m));
	switch (ci->rt) {
	case RT_DOCKER:
		snprintf(path, sizeof(path), "/var/lib/docker/containers/%s/config.v2.json", ci->id);
		ret = walk_file(path, META_MAX, docker_cb, &m);
		if (!ret && (m.name[0] || m.image[0]))
			util_strlcpy(out, m.name[0] ? m.name : m.image, cap);
		else if (!ret)
			ret = -ENOENT;
		break;
	case RT_PODMAN:
		m.id = ci->id;
		ret = walk_file("/var/lib/containers/storage/overlay-containers/containers.json",
				PODMAN_LIST_MAX, podman_cb, &m);
		if (!ret && m.in_entry && m.name[0])
			util_strlcpy(out, m.name, cap);
		else if (!ret)
			ret = -ENOENT;
		break;
	case RT_KUBE:
	case RT_CONTAINERD:
		snprintf(path, sizeof(path),
			 "/run/containerd/io.containerd.runtime.v2.task/k8s.io/%s/config.json",
			 ci->id);
		ret = kube_name(path, out, cap);
		if (ret && ci->rt == RT_CONTAINERD) {
			snprintf(path, sizeof(path),
				 "/run/containerd/io.containerd.runtime.v2.task/default/%s/config.json",
				 ci->id);
			ret = kube_name(path, out, cap);
		}
		if (!ret || ci->rt == RT_CONTAINERD)
			break;
		/* A bare id under kubepods may be CRI-O's too. */
		__attribute__((fallthrough));
	case RT_CRIO:
		snprintf(path, sizeof(path),
			 "/run/containers/storage/overlay-containers/%s/userdata/config.json", ci->id);
		ret = kube_name(path, out, cap);
		break;
	default:
		break;
	}
	if (ret && ci->pod_uid[0])
		ret = kubelet_name(ci->pod_uid, out, cap);
	return ret;
}

int attrib_container_name(const char *cgroup, char *name, size_t len)
{
	struct cg_info ci;
	size_t i;

	if (!cgroup || !name || !len)
		return -EINVAL;
	name[0] = '\0';
	if (!root_set)
		attrib_set_runtime_root(secure_getenv(RUNTIME_ROOT_ENV));
	parse_cgroup(cgroup, &ci);
	if (ci.rt == RT_NSPAWN) {
		util_strlcpy(name, ci.machine, len);
		return name[0] ? 0 : -ENOENT;
	}
	if (ci.rt == RT_NONE)
		return -ENOENT;
	for (i = 0; i < CACHE_SIZE; i++) {
		if (cache[i].id[0] && cache[i].rt == ci.rt && !strcmp(cache[i].id, ci.id)) {
			util_strlcpy(name, cache[i].name, len);
			return 0;
		}
	}
	if (lookup(&ci, name, len) || !name[0]) {
		/* Not cached: the metadata may be written a moment after the process starts. */
		util_strlcpy(name, rt_names[ci.rt], len);
		return 0;
	}
	cache[cache_hand].rt = ci.rt;
	util_strlcpy(cache[cache_hand].id, ci.id, sizeof(cache[cache_hand].id));
	util_strlcpy(cache[cache_hand].name, name, sizeof(cache[cache_hand].name));
	cache_hand = (cache_hand + 1) % CACHE_SIZE;
	return 0;
}

/* digits - the length of the run of decimal digits at @s. */
static size_t digits(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		;
	return i;
}

/*
 * systemd_run_name - a name systemd-run(1) made up for a unit it was not given one for:
 * "run-u<bus id>" (systemd before 256), "run-r<128-bit random, 32 hex digits>",
 * "run-p<pid>-i<pidfd inode>" (systemd 256 on). @len without the unit's suffix. A name
 * given with --unit (run-backup) is the operator's and stays.
 */
static bool systemd_run_name(const char *s, size_t len)
{
	size_t n;

	if (!has_prefix(s, len, "run-") || len < 6)
		return false;
	s += 5;
	len -= 5;
	switch (s[-1]) {
	case 'u':
		return digits(s, len) == len;
	case 'r':
		return len == 32 && is_hex(s, len);
	case 'p':
		n = digits(s, len);
		return n && n + 2 < len && s[n] == '-' && s[n + 1] == 'i' &&
		       digits(s + n + 2, len - n - 2) == len - n - 2;
	default:
		return false;
	}
}

/*
 * per_run_scope - a scope named after one run: scopes are made by a program for the
 * processes it starts (a login, a container, a podman command, a desktop app), and the
 * ones here end in what differs per run: "-<number>" (session-42, podman-4242,
 * app-firefox-5120), "-<hex id>" of 12 or more digits (docker-<id>, a snap's
 * "-<uuid>"), or carry a container runtime's prefix (libpod-conmon-<id>). @len without
 * ".scope". A login session's scope is "session-<id>", and greeters' ids are "c1".
 */
static bool per_run_scope(const char *s, size_t len)
{
	static const char *const runtimes[] = { "docker-", "libpod-",  "cri-containerd-",
						"crio-",   "nerdctl-", "session-" };
	const char *last = memrchr(s, '-', len);
	size_t i, n;

	for (i = 0; i < ARRAY_SIZE(runtimes); i++)
		if (has_prefix(s, len, runtimes[i]))
			return true;
	if (!last)
		return false;
	last++;
	n = len - (size_t)(last - s);
	return n && (digits(last, n) == n || (n >= 12 && is_hex(last, n)));
}

/*
 * attrib_unit_label - the unit as a label. A unit named per run would make a new row
 * and new series each time (a textfile of runs, not of programs) and says nothing the
 * exe label does not: such units become "", the value of a process outside any named
 * unit. They are the scopes of per_run_scope() (the container label names a
 * container's) and systemd-run's made-up names, .service or .scope. A socket-activated
 * service's per-connection instance ("sshd@12-10.0.0.1:22-10.0.0.9:5000.service")
 * becomes its template ("sshd@.service").
 */
void attrib_unit_label(const char *unit, char *out, size_t len)
{
	size_t n = strlen(unit), stem;
	const char *at;

	if (!len)
		return;
	out[0] = '\0';
	if (has_suffix(unit, n, ".scope")) {
		stem = n - strlen(".scope");
		if (per_run_scope(unit, stem) || systemd_run_name(unit, stem))
			return;
	} else if (has_suffix(unit, n, ".service")) {
		stem = n - strlen(".service");
		if (systemd_run_name(unit, stem))
			return;
	}
	at = strchr(unit, '@');
	if (at && has_suffix(unit, n, ".service") && at[1] >= '0' && at[1] <= '9') {
		const char *p = at + 1;

		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == '-') {
			snprintf(out, len, "%.*s@.service", (int)(at - unit), unit);
			return;
		}
	}
	util_strlcpy(out, unit, len);
}

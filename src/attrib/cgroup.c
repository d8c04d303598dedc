// SPDX-License-Identifier: GPL-2.0-only
/*
 * Names an operator recognises, taken from a cgroup path: the systemd unit
 * (systemd.unit(5): "*.service" and "*.scope" units own cgroups under "*.slice") and the
 * container id as `docker ps` shows it. The path comes from /proc/PID/cgroup, which a
 * process can shape by creating sub-cgroups under a delegated subtree, so nothing here
 * trusts its layout: every component is bounded by the string and by the output size.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "tlsaudit/attrib.h"

/* `docker ps` and `crictl ps` print the first 12 hex digits of the 64-digit id. */
#define SHORT_ID_LEN 12
#define FULL_ID_LEN 64

static bool is_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
	}
	return true;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len > n && memcmp(s + len - n, suffix, n) == 0;
}

static bool starts_with(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

/* copy_out - @len bytes of @s as a string, or -ENOSPC when @out cannot hold them all. */
static int copy_out(const char *s, size_t len, char *out, size_t size)
{
	if (!size)
		return -ENOSPC;
	if (len >= size) {
		out[0] = '\0';
		return -ENOSPC;
	}
	memcpy(out, s, len);
	out[len] = '\0';
	return 0;
}

/*
 * next_component - the next '/'-separated component of @path after *@pos, skipping
 * empty ones; false at the end.
 */
static bool next_component(const char *path, size_t *pos, const char **comp, size_t *len)
{
	const char *p = path + *pos, *end;

	while (*p == '/')
		p++;
	if (!*p)
		return false;
	end = strchr(p, '/');
	if (!end)
		end = p + strlen(p);
	*comp = p;
	*len = (size_t)(end - p);
	*pos = (size_t)(end - path);
	return true;
}

int attrib_unit_from_cgroup(const char *cgroup, char *unit, size_t len)
{
	const char *comp, *best = NULL;
	size_t pos = 0, clen, best_len = 0;

	if (!cgroup || !unit)
		return -EINVAL;
	/*
	 * The innermost unit wins: user@1000.service contains the user's own services,
	 * and a container running systemd nests a whole system.slice under its scope.
	 */
	while (next_component(cgroup, &pos, &comp, &clen)) {
		if (ends_with(comp, clen, ".service") || ends_with(comp, clen, ".scope")) {
			best = comp;
			best_len = clen;
		}
	}
	if (!best) {
		if (len)
			unit[0] = '\0';
		return -ENOENT;
	}
	return copy_out(best, best_len, unit, len);
}

/*
 * container_id - the hex id inside one path component, or NULL. Runtimes name the
 * container's cgroup "<prefix><hex>[.scope]" with the systemd driver and "<hex>" (under
 * a runtime-named parent) with the cgroupfs driver.
 */
static const char *container_id(const char *comp, size_t len, size_t *id_len)
{
	static const char *const prefixes[] = { "docker-", "cri-containerd-", "crio-", "libpod-",
						"nerdctl-" };
	size_t i, n;

	if (ends_with(comp, len, ".scope"))
		len -= strlen(".scope");
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		n = strlen(prefixes[i]);
		if (!starts_with(comp, len, prefixes[i]))
			continue;
		/* "libpod-conmon-<id>" is podman's monitor, not the container. */
		if (len - n >= SHORT_ID_LEN && is_hex(comp + n, len - n)) {
			*id_len = len - n;
			return comp + n;
		}
		return NULL;
	}
	/*
	 * A bare 64-digit id: "/docker/<id>" (cgroup v1 or the cgroupfs driver),
	 * "/kubepods/burstable/pod<uid>/<id>", "/actions_job/<id>", nerdctl's
	 * "/default/<id>". Requiring the full length keeps ordinary names that happen to
	 * be hex out.
	 */
	if (len == FULL_ID_LEN && is_hex(comp, len)) {
		*id_len = len;
		return comp;
	}
	return NULL;
}

int attrib_container_from_cgroup(const char *cgroup, char *id, size_t len)
{
	const char *comp, *found = NULL, *hit;
	size_t pos = 0, clen, hit_len = 0, found_len = 0;

	if (!cgroup || !id)
		return -EINVAL;
	/* The innermost match names the container the process actually runs in. */
	while (next_component(cgroup, &pos, &comp, &clen)) {
		hit = container_id(comp, clen, &hit_len);
		if (hit) {
			found = hit;
			found_len = hit_len;
		}
	}
	if (!found) {
		if (len)
			id[0] = '\0';
		return -ENOENT;
	}
	return copy_out(found, found_len < SHORT_ID_LEN ? found_len : SHORT_ID_LEN, id, len);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Files the daemon writes: the state file and the Prometheus textfile. Both are read by
 * others at any moment (node_exporter, the next daemon start), so they are replaced
 * atomically and made durable before the rename is. Lives in util so that agg and
 * export write files without depending on the configuration module.
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

#include "tlsaudit/util.h"

/*
 * The temporary sibling of PATH is PATH TMP_SUFFIX followed by the TMP_RANDOM characters
 * mkstemp(3) replaces: the writer and the cleaner below both build it from these, so
 * they cannot drift apart.
 */
#define TMP_SUFFIX ".tmp"
#define TMP_RANDOM "XXXXXX"

int util_mkdir_parent(const char *path, unsigned int mode)
{
	char dir[UTIL_PATH_MAX];
	size_t i;

	if (util_strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return -ENAMETOOLONG;
	for (i = 1; dir[i]; i++) {
		if (dir[i] != '/')
			continue;
		dir[i] = '\0';
		if (mkdir(dir, (mode_t)mode) && errno != EEXIST)
			return -errno;
		dir[i] = '/';
	}
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int util_write_atomic(const char *path, const void *data, size_t len, unsigned int mode, char *err,
		     size_t errlen)
{
	char tmp[UTIL_PATH_MAX + 16], dir[UTIL_PATH_MAX];
	const char *step = "create temp file";
	char *slash;
	int fd = -1, dfd = -1, ret;

	if (snprintf(tmp, sizeof(tmp), "%s" TMP_SUFFIX TMP_RANDOM, path) >= (int)sizeof(tmp)) {
		ret = -ENAMETOOLONG;
		goto cleanup;
	}
	ret = util_mkdir_parent(path, 0755);
	if (ret) {
		step = "create directory";
		goto cleanup;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = -errno;
		goto cleanup;
	}
	step = "write";
	if (fchmod(fd, (mode_t)mode) || (ret = write_all(fd, data, len)) || fsync(fd)) {
		ret = ret ? ret : -errno;
		unlink(tmp);
		goto cleanup;
	}
	step = "close";
	ret = close(fd);
	fd = -1;
	if (ret) {
		ret = -errno;
		unlink(tmp);
		goto cleanup;
	}
	step = "rename";
	if (rename(tmp, path)) {
		ret = -errno;
		unlink(tmp);
		goto cleanup;
	}
	/* The rename itself is only durable once the directory is synced. */
	util_strlcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	else
		util_strlcpy(dir, slash ? "/" : ".", sizeof(dir));
	step = "sync directory";
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd)) {
		ret = -errno;
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (ret)
		snprintf(err, errlen, "%s: %s: %s", path, step, strerror(-ret));
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return ret;
}

/* is_temp_of - @name is @base TMP_SUFFIX and then what mkstemp puts for TMP_RANDOM. */
static bool is_temp_of(const char *name, const char *base, size_t base_len)
{
	size_t i, suffix = sizeof(TMP_SUFFIX) - 1, random = sizeof(TMP_RANDOM) - 1;
	const char *r;

	if (strlen(name) != base_len + suffix + random || memcmp(name, base, base_len) ||
	    memcmp(name + base_len, TMP_SUFFIX, suffix))
		return false;
	/* glibc's mkstemp draws from [A-Za-z0-9]. */
	for (r = name + base_len + suffix, i = 0; i < random; i++) {
		if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= 'A' && r[i] <= 'Z') ||
		      (r[i] >= '0' && r[i] <= '9')))
			return false;
	}
	return true;
}

int util_remove_stale_temps(const char *path, unsigned int *removed)
{
	char dir[UTIL_PATH_MAX];
	const char *base;
	struct dirent *de;
	struct stat st;
	size_t base_len;
	int dfd, err = 0;
	DIR *d;

	*removed = 0;
	if (util_strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return -ENAMETOOLONG;
	base = strrchr(path, '/');
	if (base) {
		dir[base == path ? 1 : (size_t)(base - path)] = '\0';
		base++;
	} else {
		util_strlcpy(dir, ".", sizeof(dir));
		base = path;
	}
	base_len = strlen(base);
	if (!base_len)
		return -EINVAL;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(dfd);
	if (!d) {
		err = -errno;
		close(dfd);
		return err;
	}
	while ((de = readdir(d))) {
		if (!is_temp_of(de->d_name, base, base_len))
			continue;
		/* Only files this writer could have left: never a directory or a link. */
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (unlinkat(dfd, de->d_name, 0)) {
			if (errno != ENOENT)
				err = -errno;
			continue;
		}
		(*removed)++;
	}
	closedir(d);
	return err;
}

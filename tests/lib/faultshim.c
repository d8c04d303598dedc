// SPDX-License-Identifier: GPL-2.0-only
/*
 * An LD_PRELOAD shim that makes the file writes of a running process fail on demand,
 * for tests/e2e/faults_atomic.sh. TA_FAULT_MATCH is a substring of the paths it acts
 * on (".tmp": the temp files of the atomic writer); TA_FAULT_CTL names a file whose
 * first word says what fails, read at each call, so a test turns faults on and off
 * while the process runs:
 *   write   write() fails with ENOSPC
 *   short   write() writes half, the next write() on that fd fails with ENOSPC
 *   fsync   fsync() fails with EIO
 *   rename  rename() from a matching path fails with EIO
 * anything else (or no file): no fault. Only calls through the PLT are caught: the
 * process's own write(), fsync() and rename(), not the C library's internal ones.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int short_fd = -1;

/* mode_is - the control file's first word is @want (read with raw syscalls). */
static int mode_is(const char *want)
{
	const char *ctl = getenv("TA_FAULT_CTL");
	char buf[16] = "";
	long fd, n;

	if (!ctl)
		return 0;
	fd = syscall(SYS_openat, AT_FDCWD, ctl, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = syscall(SYS_read, (int)fd, buf, sizeof(buf) - 1);
	syscall(SYS_close, (int)fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	buf[strcspn(buf, " \n")] = '\0';
	return !strcmp(buf, want);
}

static int path_matches(const char *path)
{
	const char *m = getenv("TA_FAULT_MATCH");

	return m && *m && path && strstr(path, m);
}

static int fd_matches(int fd)
{
	char link[64], path[4096];
	long n;

	if (fd <= 2)
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = syscall(SYS_readlinkat, AT_FDCWD, link, path, sizeof(path) - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	return path_matches(path);
}

ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);

	if (!real)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (fd_matches(fd)) {
		if (mode_is("write") || (fd == short_fd && mode_is("short"))) {
			short_fd = -1;
			errno = ENOSPC;
			return -1;
		}
		if (mode_is("short") && n > 1) {
			short_fd = fd;
			return real(fd, buf, n / 2);
		}
	}
	return real(fd, buf, n);
}

int fsync(int fd)
{
	static int (*real)(int);

	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (fd_matches(fd) && mode_is("fsync")) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

int rename(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);

	if (!real)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	if (path_matches(from) && mode_is("rename")) {
		errno = EIO;
		return -1;
	}
	return real(from, to);
}

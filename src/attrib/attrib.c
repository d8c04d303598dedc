// SPDX-License-Identifier: GPL-2.0-only
/*
 * Process identity from procfs (proc(5)): comm, exe, real uid, start time, cgroup and
 * the TLS library mapped into the process, cached by (pid, start time).
 *
 * Everything read here is process-controlled: comm can hold spaces and ')', cgroup
 * paths are chosen by anyone with a delegated subtree, exe links may point at deleted
 * files. Files are read with a fixed buffer, lines with a length cap and a line count
 * cap, and parsed through the bounded cursor.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "tlsaudit/attrib.h"
#include "tlsaudit/cursor.h"
#include "tlsaudit/util.h"

/* Longest line kept whole; a longer one is skipped up to its newline. */
#define LINE_CAP 4096
/* A process with a huge address space has ~100k maps lines; stop well after that. */
#define LINES_MAX 262144
#define FILE_BYTES_MAX (64u << 20)

/* stat is one line: pid, a 15-byte comm and 50 numbers fit easily. */
#define STAT_CAP 2048
/* Field 22 of /proc/PID/stat, counting from 1 with pid as field 1 (proc(5)). */
#define STAT_STARTTIME_FIELD 22

#define GO_TLS_LIB "go crypto/tls"

struct line_reader {
	int fd;
	size_t len;   /* bytes held in buf */
	size_t start; /* first byte of the next line */
	size_t total; /* bytes read so far */
	uint32_t lines;
	uint32_t lines_max; /* LINES_MAX unless the caller has a smaller budget */
	bool eof;
	bool overlong; /* the line in progress outgrew buf: drop it up to its newline */
	char buf[LINE_CAP];
};

/* lr_open - a line reader over @name relative to @dfd (or AT_FDCWD); NULL and errno. */
static struct line_reader *lr_open(int dfd, const char *name)
{
	struct line_reader *lr;
	int fd, e;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	lr = calloc(1, sizeof(*lr));
	if (!lr) {
		e = errno;
		close(fd);
		errno = e;
		return NULL;
	}
	lr->fd = fd;
	lr->lines_max = LINES_MAX;
	return lr;
}

static void lr_close(struct line_reader *lr)
{
	close(lr->fd);
	free(lr);
}

/*
 * lr_next - the next line, without its newline, as a cursor over the reader's buffer
 * (valid until the next call). 1 for a line, 0 at the end or a cap, -errno.
 */
static int lr_next(struct line_reader *lr, struct tls_cursor *line)
{
	const char *nl;
	size_t n, s;
	ssize_t r;

	for (;;) {
		nl = memchr(lr->buf + lr->start, '\n', lr->len - lr->start);
		if (nl) {
			s = lr->start;
			n = (size_t)(nl - (lr->buf + s));
			lr->start = s + n + 1;
			if (lr->overlong) {
				lr->overlong = false;
				continue;
			}
			if (++lr->lines > lr->lines_max)
				return 0;
			cur_init(line, (const uint8_t *)lr->buf + s, n);
			return 1;
		}
		if (lr->eof) {
			/* A last line without a newline still counts. */
			if (lr->start == lr->len || lr->overlong || ++lr->lines > lr->lines_max)
				return 0;
			s = lr->start;
			lr->start = lr->len;
			cur_init(line, (const uint8_t *)lr->buf + s, lr->len - s);
			return 1;
		}
		if (lr->start) {
			memmove(lr->buf, lr->buf + lr->start, lr->len - lr->start);
			lr->len -= lr->start;
			lr->start = 0;
		}
		if (lr->len == sizeof(lr->buf)) {
			lr->overlong = true;
			lr->len = 0;
		}
		if (lr->total >= FILE_BYTES_MAX)
			return 0;
		r = read(lr->fd, lr->buf + lr->len, sizeof(lr->buf) - lr->len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			lr->eof = true;
		lr->len += (size_t)r;
		lr->total += (size_t)r;
	}
}

/* read_small - up to @cap - 1 bytes of @name under @dfd, NUL-terminated; length or -errno. */
static ssize_t read_small(int dfd, const char *name, char *buf, size_t cap)
{
	size_t len = 0;
	ssize_t r;
	int fd, err = 0;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < cap - 1) {
		r = read(fd, buf + len, cap - 1 - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
out:
	close(fd);
	buf[len] = '\0';
	return err ? err : (ssize_t)len;
}

/* skip_spaces - step over blanks; the next byte, or -1 at the end. */
static int skip_spaces(struct tls_cursor *c)
{
	while (cur_left(c)) {
		uint8_t ch = *cur_ptr(c);

		if (ch != ' ' && ch != '\t')
			return ch;
		cur_skip(c, 1);
	}
	return -1;
}

/* next_token - the next blank-separated token; false when none is left. */
static bool next_token(struct tls_cursor *c, const uint8_t **tok, size_t *len)
{
	size_t n = 0;

	if (skip_spaces(c) < 0)
		return false;
	*tok = cur_ptr(c);
	while (n < cur_left(c) && (*tok)[n] != ' ' && (*tok)[n] != '\t')
		n++;
	cur_skip(c, n);
	*len = n;
	return true;
}

/* parse_dec - a whole token of decimal digits that fits in 64 bits. */
static int parse_dec(const uint8_t *tok, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (tok[i] < '0' || tok[i] > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (tok[i] - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (tok[i] - '0');
	}
	*out = v;
	return 0;
}

/* copy_bytes - @len bytes as a string, truncated to fit @size. */
static void copy_bytes(char *dst, size_t size, const uint8_t *src, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/*
 * read_stat - comm and start time from /proc/PID/stat (proc(5)). comm is whatever the
 * process set (prctl PR_SET_NAME), so it may hold ") " itself: fields are counted from
 * the last ')' in the line, never from the first.
 */
static int read_stat(int dfd, char *comm, size_t comm_len, uint64_t *start)
{
	char buf[STAT_CAP];
	const char *open_paren, *close_paren;
	struct tls_cursor c;
	const uint8_t *tok;
	size_t tok_len;
	ssize_t n;
	int field;

	n = read_small(dfd, "stat", buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	open_paren = memchr(buf, '(', (size_t)n);
	close_paren = memrchr(buf, ')', (size_t)n);
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -EINVAL;
	copy_bytes(comm, comm_len, (const uint8_t *)open_paren + 1,
		   (size_t)(close_paren - open_paren - 1));

	cur_init(&c, (const uint8_t *)close_paren + 1, (size_t)(buf + n - close_paren - 1));
	/* The field after ')' is field 3 (state). */
	for (field = 3; next_token(&c, &tok, &tok_len); field++) {
		if (field == STAT_STARTTIME_FIELD)
			return parse_dec(tok, tok_len, start);
	}
	return -EINVAL;
}

/* read_exe - the exe link target, kept as the kernel gives it (" (deleted)" included). */
static int read_exe(int dfd, char *exe, size_t len)
{
	char buf[PATH_MAX];
	ssize_t n;

	n = readlinkat(dfd, "exe", buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	/* readlink does not terminate; a target that filled the buffer is cut there. */
	buf[n] = '\0';
	copy_bytes(exe, len, (const uint8_t *)buf, (size_t)n);
	return 0;
}

/* read_uid - the real uid, the first number of the "Uid:" line of /proc/PID/status. */
static int read_uid(int dfd, uint32_t *uid)
{
	struct line_reader *lr;
	struct tls_cursor line;
	const uint8_t *tok;
	size_t tok_len;
	uint64_t v;
	int r, err = -ENOENT;

	lr = lr_open(dfd, "status");
	if (!lr)
		return -errno;
	while ((r = lr_next(lr, &line)) > 0) {
		if (cur_left(&line) < 4 || memcmp(cur_ptr(&line), "Uid:", 4) != 0)
			continue;
		cur_skip(&line, 4);
		if (!next_token(&line, &tok, &tok_len))
			break;
		err = parse_dec(tok, tok_len, &v);
		if (!err && v > UINT32_MAX)
			err = -ERANGE;
		if (!err)
			*uid = (uint32_t)v;
		break;
	}
	if (r < 0)
		err = r;
	lr_close(lr);
	return err;
}

/* has_controller - @name is one of the comma-separated controllers in @list. */
static bool has_controller(const uint8_t *list, size_t len, const char *name)
{
	size_t nlen = strlen(name), i = 0, j;

	while (i <= len) {
		for (j = i; j < len && list[j] != ','; j++)
			;
		if (j - i == nlen && memcmp(list + i, name, nlen) == 0)
			return true;
		i = j + 1;
	}
	return false;
}

/*
 * read_cgroup - the process's cgroup path from /proc/PID/cgroup ("ID:controllers:path"
 * lines, cgroups(7)): the unified "0::" line, or on hybrid and legacy hosts, where that
 * line is missing or only "/", systemd's "name=systemd" hierarchy. @path holds LINE_CAP.
 */
static int read_cgroup(int dfd, char *path, size_t len)
{
	struct line_reader *lr;
	struct tls_cursor line;
	const uint8_t *p, *c1, *c2;
	bool have_v2 = false, have_sd = false;
	char v2[LINE_CAP], sd[LINE_CAP];
	size_t n;
	int r, err = 0;

	lr = lr_open(dfd, "cgroup");
	if (!lr)
		return -errno;
	while ((r = lr_next(lr, &line)) > 0) {
		p = cur_ptr(&line);
		n = cur_left(&line);
		c1 = memchr(p, ':', n);
		if (!c1)
			continue;
		c2 = memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - p));
		if (!c2)
			continue;
		/* The path is everything after the second ':' (it may contain ':'). */
		if (c1 - p == 1 && p[0] == '0' && c2 == c1 + 1) {
			copy_bytes(v2, sizeof(v2), c2 + 1, n - (size_t)(c2 + 1 - p));
			have_v2 = true;
		} else if (has_controller(c1 + 1, (size_t)(c2 - c1 - 1), "name=systemd")) {
			copy_bytes(sd, sizeof(sd), c2 + 1, n - (size_t)(c2 + 1 - p));
			have_sd = true;
		}
	}
	if (r < 0) {
		err = r;
		goto out;
	}
	if (have_v2 && (strcmp(v2, "/") != 0 || !have_sd))
		util_strlcpy(path, v2, len);
	else if (have_sd)
		util_strlcpy(path, sd, len);
	else
		err = -ENOENT;
out:
	lr_close(lr);
	return err;
}

/*
 * tls_lib_rank - how sure a mapped file name makes us of the process's TLS library:
 * 3 for OpenSSL's libssl, 2 for another TLS implementation, 1 for NSS's libnss3
 * (certificates and crypto, its TLS half is libssl3), 0 for anything else. libcrypto
 * alone does not mean TLS. OpenSSL wins a tie because libraries drag others in
 * without using them for TLS: Debian's libcurl4 speaks OpenSSL but maps GnuTLS through
 * librtmp, before libssl in address order.
 */
static int tls_lib_rank(const uint8_t *name, size_t len)
{
	static const char *const so_names[] = {
		"libssl.so",	 "libgnutls.so", "libssl3.so",
		"libwolfssl.so", "libmbedtls.so",
	};
	size_t i, n;

	for (i = 0; i < ARRAY_SIZE(so_names); i++) {
		n = strlen(so_names[i]);
		/* Exactly the soname or a versioned one: "libssl.so.3", not "libssl.sox". */
		if (len >= n && memcmp(name, so_names[i], n) == 0 && (len == n || name[n] == '.'))
			return i == 0 ? 3 : 2;
	}
	/* Wheels and bundles rename the library: "libssl-1b2c3d4e.so.1.1". */
	if (len > 7 && memcmp(name, "libssl-", 7) == 0 && memmem(name, len, ".so", 3))
		return 3;
	if (len >= 12 && memcmp(name, "libboringssl", 12) == 0)
		return 2;
	if (len >= 10 && memcmp(name, "libnss3.so", 10) == 0 && (len == 10 || name[10] == '.'))
		return 1;
	return 0;
}

/*
 * elf_soname - DT_SONAME of the shared object open at @fd, through libelf. The file
 * under a library's versioned name ("libgnutls.so.30.34.3", "libmbedtls.so.2.28.3") is
 * not what an operator looks for; its soname ("libgnutls.so.30", "libmbedtls.so.14") is.
 * ELF_C_READ, not ELF_C_READ_MMAP: the file may belong to the process's user, who can
 * truncate it while we parse, and a mapping would then fault with SIGBUS in the daemon;
 * read() only comes up short. libelf reads no section beyond the file's size.
 */
static int elf_soname(int fd, char *out, size_t len)
{
	GElf_Shdr shdr;
	GElf_Dyn dyn;
	Elf_Data *data;
	Elf_Scn *scn = NULL;
	Elf *elf = NULL;
	const char *name;
	size_t i, n;
	int err = -ENOENT;

	if (elf_version(EV_CURRENT) == EV_NONE)
		goto out;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF)
		goto out;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_DYNAMIC)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !shdr.sh_entsize)
			break;
		n = shdr.sh_size / shdr.sh_entsize;
		for (i = 0; i < n && gelf_getdyn(data, (int)i, &dyn); i++) {
			if (dyn.d_tag == DT_NULL)
				break;
			if (dyn.d_tag != DT_SONAME)
				continue;
			name = elf_strptr(elf, shdr.sh_link, dyn.d_un.d_val);
			if (name && *name && !strchr(name, '/')) {
				util_strlcpy(out, name, len);
				err = 0;
			}
			break;
		}
		break;
	}
out:
	if (elf)
		elf_end(elf);
	return err;
}

/*
 * open_in_root - an O_PATH fd on @path resolved under @root_fd, never following the last
 * component. openat2's RESOLVE_IN_ROOT treats @root_fd as "/" for the whole walk, ".."
 * and absolute symlinks included, so a path from a container's maps stays inside that
 * container; RESOLVE_NO_MAGICLINKS stops /proc/PID/fd style jumps out of it. Symlinked
 * directories are allowed: maps shows the kernel's d_path, which has none, but a merged
 * /usr (/lib -> usr/lib) or a library directory linked elsewhere must not cost the
 * name, and what a link can reach is only a candidate: the caller proves the file's
 * identity from its inode. Without openat2 (ENOSYS before 5.6, EPERM from a seccomp
 * filter) plain openat with O_NOFOLLOW walks from @root_fd, where an absolute symlink
 * in a directory escapes to our own root; the identity check still holds.
 */
static int open_in_root(int root_fd, const char *path)
{
	static bool no_openat2;
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = -1;

	if (!no_openat2) {
		fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM && errno != E2BIG))
			return fd < 0 ? -errno : fd;
		no_openat2 = true;
	}
	while (*path == '/')
		path++;
	fd = openat(root_fd, *path ? path : ".", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int attrib_open_mapped(int root_fd, const char *path, const struct attrib_file_id *id)
{
	char self[32];
	struct stat st, st2;
	int pfd, fd = -1, err = 0;

	if (!path || path[0] != '/' || !id)
		return -EINVAL;
	/*
	 * O_PATH first: it opens nothing (no FIFO open that waits for a writer, no device
	 * open with side effects), and fstat on it says what the path names now.
	 */
	pfd = open_in_root(root_fd, path);
	if (pfd < 0)
		return pfd;
	if (fstat(pfd, &st)) {
		err = -errno;
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		err = -ELOOP;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto out;
	}
	/*
	 * The file the process maps, not whatever now sits at its path: a user can swap the
	 * path for a link to a file only root reads, and we run as root. maps prints the
	 * kernel's MAJOR:MINOR, which st_dev encodes as makedev() does. Before Linux 6.8
	 * maps showed an overlayfs file (most containers) by its underlying file's device
	 * and inode, which never match here: such a library keeps the name maps shows, a
	 * lost soname, never a wrong one. /proc/PID/map_files would name the mapped file
	 * exactly, but opening it needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE, which the
	 * daemon does not keep.
	 */
	if (major(st.st_dev) != id->dev_major || minor(st.st_dev) != id->dev_minor ||
	    (uint64_t)st.st_ino != id->ino) {
		err = -ESTALE;
		goto out;
	}
	if (st.st_size < 0 || (uint64_t)st.st_size > ATTRIB_MAPPED_MAX) {
		err = -EFBIG;
		goto out;
	}
	/* Reopen the inode just checked, not the path, which may have changed since. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (fstat(fd, &st2) || st2.st_dev != st.st_dev || st2.st_ino != st.st_ino) {
		err = -ESTALE;
		goto out;
	}
out:
	if (err && fd >= 0)
		close(fd);
	close(pfd);
	return err ? err : fd;
}

/*
 * soname_of - replace the file name in @lib by its soname when it carries a version
 * after ".so.". The library is opened through the process's "root", so a path from a
 * container's mount namespace resolves inside that container.
 */
static void soname_of(int dfd, const char *lib_path, const struct attrib_file_id *id, char *lib,
		      size_t len)
{
	char soname[64];
	const char *ver = strstr(lib, ".so.");
	int root_fd, fd;

	if (!ver || !strchr(ver + 4, '.'))
		return;
	root_fd = openat(dfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return;
	fd = attrib_open_mapped(root_fd, lib_path, id);
	close(root_fd);
	if (fd < 0)
		return;
	if (!elf_soname(fd, soname, sizeof(soname)))
		util_strlcpy(lib, soname, len);
	close(fd);
}

/* parse_hex - a whole token of hex digits that fits in 32 bits. */
static int parse_hex(const uint8_t *tok, size_t len, uint32_t *out)
{
	uint32_t v = 0;
	size_t i;
	int d;

	if (!len || len > 8)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (tok[i] >= '0' && tok[i] <= '9')
			d = tok[i] - '0';
		else if (tok[i] >= 'a' && tok[i] <= 'f')
			d = tok[i] - 'a' + 10;
		else
			return -EINVAL;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return 0;
}

/* parse_file_id - "fe:01" and "1835123", the dev and inode fields of a maps line. */
static int parse_file_id(const uint8_t *dev, size_t dev_len, const uint8_t *ino, size_t ino_len,
			 struct attrib_file_id *id)
{
	const uint8_t *colon = memchr(dev, ':', dev_len);
	size_t maj_len;

	if (!colon)
		return -EINVAL;
	maj_len = (size_t)(colon - dev);
	if (parse_hex(dev, maj_len, &id->dev_major) ||
	    parse_hex(colon + 1, dev_len - maj_len - 1, &id->dev_minor))
		return -EINVAL;
	return parse_dec(ino, ino_len, &id->ino);
}

/*
 * tls_lib_at - the TLS library named in "@maps" under the process directory @dfd, reading
 * at most @max_lines lines; *@lines says how many were read. A deleted file (a library
 * upgraded under a running process, or anything a user unlinked) keeps the name maps
 * shows but is never opened: its path names something else now, or nothing.
 */
static int tls_lib_at(int dfd, const char *maps, uint32_t max_lines, char *lib, size_t len,
		      uint32_t *lines)
{
	static const char deleted[] = " (deleted)";
	struct line_reader *lr = NULL;
	struct attrib_file_id id, best_id;
	struct tls_cursor line;
	const uint8_t *tok[5], *path, *base;
	char best_path[PATH_MAX];
	size_t tok_len[5], plen, blen;
	bool best_deleted = false, del;
	int r, i, rank, best = 0, err = 0;

	lib[0] = '\0';
	lr = lr_open(dfd, maps);
	if (!lr)
		return -errno;
	lr->lines_max = max_lines;
	/* "address perms offset dev inode   pathname" (proc(5)); the path may hold spaces. */
	while ((r = lr_next(lr, &line)) > 0) {
		for (i = 0; i < 5; i++) {
			if (!next_token(&line, &tok[i], &tok_len[i]))
				break;
		}
		if (i < 5 || skip_spaces(&line) != '/')
			continue;
		path = cur_ptr(&line);
		plen = cur_left(&line);
		del = plen > sizeof(deleted) - 1 &&
		      !memcmp(path + plen - (sizeof(deleted) - 1), deleted, sizeof(deleted) - 1);
		if (del)
			plen -= sizeof(deleted) - 1;
		base = memrchr(path, '/', plen);
		base = base ? base + 1 : path;
		blen = plen - (size_t)(base - path);
		rank = tls_lib_rank(base, blen);
		if (rank <= best || parse_file_id(tok[3], tok_len[3], tok[4], tok_len[4], &id))
			continue;
		best = rank;
		best_id = id;
		best_deleted = del;
		copy_bytes(lib, len, base, blen);
		copy_bytes(best_path, sizeof(best_path), path, plen);
		if (rank == 3)
			break;
	}
	/* The line that went over the cap was counted, not read. */
	*lines = lr->lines > lr->lines_max ? lr->lines_max : lr->lines;
	if (r < 0)
		err = r;
	else if (!best)
		err = -ENOENT;
	else if (!best_deleted)
		soname_of(dfd, best_path, &best_id, lib, len);
	lr_close(lr);
	return err;
}

int attrib_tls_lib_from_maps(const char *maps_path, char *lib, size_t len)
{
	char dir[PATH_MAX];
	const char *slash;
	uint32_t lines;
	int dfd, err;

	if (!maps_path || !lib || !len)
		return -EINVAL;
	lib[0] = '\0';
	slash = strrchr(maps_path, '/');
	if (!slash)
		util_strlcpy(dir, ".", sizeof(dir));
	else if ((size_t)(slash - maps_path) >= sizeof(dir))
		return -ENAMETOOLONG;
	else
		copy_bytes(dir, sizeof(dir), (const uint8_t *)maps_path,
			   slash == maps_path ? 1 : (size_t)(slash - maps_path));
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	err = tls_lib_at(dfd, slash ? slash + 1 : maps_path, LINES_MAX, lib, len, &lines);
	close(dfd);
	return err;
}

/*
 * go_binary - the executable carries Go's build info (".go.buildinfo", or the
 * ".note.go.buildid" note): Go links crypto/tls statically, so maps shows nothing.
 * Section headers are read through libelf, never by casting file bytes, and with read()
 * rather than a mapping for the same reason as elf_soname().
 */
static bool go_binary(int dfd)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	const char *name;
	bool found = false;
	Elf *elf = NULL;
	int fd;

	fd = openat(dfd, "exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (elf_version(EV_CURRENT) == EV_NONE)
		goto out;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || elf_getshdrstrndx(elf, &shstrndx))
		goto out;
	while (!found && (scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &shdr))
			break;
		name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (name && (!strcmp(name, ".go.buildinfo") || !strcmp(name, ".note.go.buildid")))
			found = true;
	}
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return found;
}

/*
 * read_tls_lib - the TLS library from maps, else Go's built-in one, reading at most
 * @max_lines maps lines; *@lines says how many it read.
 */
static int read_tls_lib(int dfd, uint32_t max_lines, char *lib, size_t len, uint32_t *lines)
{
	int err;

	err = tls_lib_at(dfd, "maps", max_lines, lib, len, lines);
	if (err == -ENOENT && go_binary(dfd)) {
		util_strlcpy(lib, GO_TLS_LIB, len);
		err = 0;
	}
	return err;
}

/*
 * What a cgroup's path gives (the path, unit and container), by the cgroup id the
 * kernel reports with a socket's owner (bpf_get_current_cgroup_id(): unique while the
 * cgroup exists, and a new cgroup gets a new one). Every process of a service or a
 * container shares it, so a new process of one costs no /proc/PID/cgroup read.
 */
#define CG_SLOTS 256

struct cg_info {
	uint64_t id; /* 0: empty */
	char cgroup[sizeof(((struct hs_proc *)0)->cgroup)];
	char unit[sizeof(((struct hs_proc *)0)->unit)];
	char container[sizeof(((struct hs_proc *)0)->container)];
	char container_id[sizeof(((struct hs_proc *)0)->container_id)];
};

static void cg_fill(struct hs_proc *p, const struct cg_info *cg)
{
	util_strlcpy(p->cgroup, cg->cgroup, sizeof(p->cgroup));
	util_strlcpy(p->unit, cg->unit, sizeof(p->unit));
	util_strlcpy(p->container, cg->container, sizeof(p->container));
	util_strlcpy(p->container_id, cg->container_id, sizeof(p->container_id));
}

static void cg_keep(struct cg_info *cg, uint64_t id, const struct hs_proc *p)
{
	cg->id = id;
	util_strlcpy(cg->cgroup, p->cgroup, sizeof(cg->cgroup));
	util_strlcpy(cg->unit, p->unit, sizeof(cg->unit));
	util_strlcpy(cg->container, p->container, sizeof(cg->container));
	util_strlcpy(cg->container_id, p->container_id, sizeof(cg->container_id));
}

/*
 * resolve_proc - every field of @pid but comm (the caller took it from stat) and tls_lib;
 * the cgroup's from @cg when it holds @cgroup_id (the owner's, 0 when unknown).
 */
static void resolve_proc(int dfd, uint32_t pid, const char *stat_comm, uint64_t cgroup_id,
			 struct cg_info *cg, struct hs_proc *p)
{
	char cgroup[LINE_CAP];

	memset(p, 0, sizeof(*p));
	/*
	 * /comm and /stat carry the same name (the task's comm, both cut at 15 bytes):
	 * stat's, already read, saves an open and a read per process.
	 */
	util_strlcpy(p->comm, stat_comm, sizeof(p->comm));
	/* exe and maps need ptrace access to the process; without it they stay empty. */
	read_exe(dfd, p->exe, sizeof(p->exe));
	if (read_uid(dfd, &p->uid))
		p->uid = UINT32_MAX;
	if (cgroup_id && cg && cg->id == cgroup_id) {
		cg_fill(p, cg);
	} else if (!read_cgroup(dfd, cgroup, sizeof(cgroup))) {
		/* Unit and container come from the whole path, before it is cut to fit. */
		util_strlcpy(p->cgroup, cgroup, sizeof(p->cgroup));
		attrib_unit_from_cgroup(cgroup, p->unit, sizeof(p->unit));
		attrib_container_from_cgroup(cgroup, p->container_id, sizeof(p->container_id));
		/* The runtime's name for it, what labels and process keys use. */
		attrib_container_name(cgroup, p->container, sizeof(p->container));
		if (cgroup_id && cg)
			cg_keep(cg, cgroup_id, p);
	}
	p->pid = pid;
	p->known = true;
}

/*
 * The cache: a fixed array of entries, a chained hash on pid, and a clock hand for
 * eviction. An entry outlives its process, so a short-lived client (a 50 ms curl) is
 * still named when its handshake completes after exit.
 */
struct attrib_entry {
	struct hs_proc proc;
	uint64_t start; /* start time in clock ticks after boot: pid reuse changes it */
	uint32_t pid;
	int32_t next; /* next entry in the same bucket, -1 ends */
	bool referenced;
	bool tls_pending; /* maps not read yet: the budget was spent when it was resolved */
};

/* A program's TLS library, by its executable file (a maps read of one of its processes). */
struct exe_lib {
	uint64_t dev, ino;
	int64_t mtime_ns;
	uint64_t read_ns; /* when: 0 = empty */
	char lib[sizeof(((struct hs_proc *)0)->tls_lib)];
};

struct attrib_cache {
	char *proc_root;
	struct exe_lib exe_libs[ATTRIB_EXE_LIBS]; /* direct-mapped by inode */
	struct cg_info *cgs;			  /* CG_SLOTS, direct-mapped by id */
	struct attrib_entry *ents;
	int32_t *buckets;
	size_t cap;
	size_t used;
	size_t hand;
	size_t mask;
	int64_t maps_tokens; /* maps lines that may be read now; negative: in debt */
	uint64_t maps_refill_ns;
	struct attrib_stats stats;
};

static size_t bucket_of(const struct attrib_cache *ac, uint32_t pid)
{
	/* Fibonacci hashing: consecutive pids spread over the table. */
	return (size_t)((pid * 2654435761u) >> 7) & ac->mask;
}

struct attrib_cache *attrib_cache__new(const char *proc_root, size_t max_entries)
{
	struct attrib_cache *ac;
	size_t nb = 1, i;

	if (!proc_root) {
		errno = EINVAL;
		return NULL;
	}
	if (!max_entries)
		max_entries = ATTRIB_CACHE_DEFAULT;
	/* Entry indexes are int32_t. */
	if (max_entries > INT32_MAX / 2) {
		errno = EINVAL;
		return NULL;
	}
	while (nb < max_entries)
		nb <<= 1;
	ac = calloc(1, sizeof(*ac));
	if (!ac)
		return NULL;
	ac->proc_root = strdup(proc_root);
	ac->ents = util_reallocarray(NULL, max_entries, sizeof(*ac->ents));
	ac->buckets = util_reallocarray(NULL, nb, sizeof(*ac->buckets));
	ac->cgs = calloc(CG_SLOTS, sizeof(*ac->cgs));
	if (!ac->proc_root || !ac->ents || !ac->buckets || !ac->cgs) {
		attrib_cache__free(ac);
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < nb; i++)
		ac->buckets[i] = -1;
	ac->cap = max_entries;
	ac->mask = nb - 1;
	ac->maps_tokens = ATTRIB_MAPS_BURST;
	ac->maps_refill_ns = util_mono_ns();
	return ac;
}

void attrib_cache__free(struct attrib_cache *ac)
{
	if (!ac)
		return;
	free(ac->cgs);
	free(ac->buckets);
	free(ac->ents);
	free(ac->proc_root);
	free(ac);
}

void attrib_cache__stats(const struct attrib_cache *ac, struct attrib_stats *st)
{
	*st = ac->stats;
	st->entries = ac->used;
}

static struct attrib_entry *find(struct attrib_cache *ac, uint32_t pid)
{
	int32_t i;

	for (i = ac->buckets[bucket_of(ac, pid)]; i >= 0; i = ac->ents[i].next) {
		if (ac->ents[i].pid == pid)
			return &ac->ents[i];
	}
	return NULL;
}

static void unlink_entry(struct attrib_cache *ac, int32_t idx)
{
	int32_t *link = &ac->buckets[bucket_of(ac, ac->ents[idx].pid)];

	while (*link >= 0) {
		if (*link == idx) {
			*link = ac->ents[idx].next;
			return;
		}
		link = &ac->ents[*link].next;
	}
}

/* take_slot - a free entry, evicting the first one the clock finds unreferenced. */
static int32_t take_slot(struct attrib_cache *ac)
{
	int32_t idx;

	if (ac->used < ac->cap)
		return (int32_t)ac->used++;
	for (;;) {
		idx = (int32_t)ac->hand;
		ac->hand = (ac->hand + 1) % ac->cap;
		if (ac->ents[idx].referenced) {
			ac->ents[idx].referenced = false;
			continue;
		}
		unlink_entry(ac, idx);
		ac->stats.evictions++;
		return idx;
	}
}

static struct attrib_entry *store(struct attrib_cache *ac, struct attrib_entry *e, uint32_t pid,
				  uint64_t start, const struct hs_proc *p)
{
	size_t b;
	int32_t idx;

	if (!e) {
		idx = take_slot(ac);
		e = &ac->ents[idx];
		b = bucket_of(ac, pid);
		e->next = ac->buckets[b];
		ac->buckets[b] = idx;
	}
	e->proc = *p;
	e->pid = pid;
	e->start = start;
	e->referenced = true;
	e->tls_pending = false;
	return e;
}

int attrib_cache__lookup(struct attrib_cache *ac, uint32_t pid, struct hs_proc *out)
{
	struct attrib_entry *e = find(ac, pid);

	if (!e)
		return -ENOENT;
	e->referenced = true;
	*out = e->proc;
	/* Not a hit yet: the caller's resolve is what reads the library once it may. */
	return e->tls_pending ? -EAGAIN : 0;
}

/*
 * The maps read is the one unbounded cost of a new process: a user can map 65530 regions
 * (vm.max_map_count) and connect from a fresh process over and over, and every new
 * process means a maps read on the event loop. So maps lines are paid from a token
 * bucket, ATTRIB_MAPS_RATE lines a second with ATTRIB_MAPS_BURST in hand. A process
 * whose read cannot be paid now is still named (stat, status, cgroup and exe are small
 * files); its tls_lib stays empty and is read when it is next resolved with tokens in
 * hand. One read is never cut short by the bucket, only by ATTRIB_MAPS_LINES: the
 * bucket goes into debt instead, so a huge process is read whole, once, and the
 * processes after it wait. The common case, a few new processes a second with a few
 * hundred maps lines each, never waits.
 */
static bool maps_budget(struct attrib_cache *ac)
{
	uint64_t now = util_mono_ns(), dt = now - ac->maps_refill_ns;

	if (dt >= NSEC_PER_MSEC) {
		ac->maps_tokens += (int64_t)(dt / NSEC_PER_MSEC * ATTRIB_MAPS_RATE / 1000);
		if (ac->maps_tokens > ATTRIB_MAPS_BURST)
			ac->maps_tokens = ATTRIB_MAPS_BURST;
		ac->maps_refill_ns = now - dt % NSEC_PER_MSEC;
	}
	return ac->maps_tokens > 0;
}

/*
 * exe_slot - the slot for the executable of the process at @dfd ("exe" followed, so a
 * container's binary is its own file), with *@st filled; NULL when it cannot be
 * stat'ed (no ptrace access, a kernel thread).
 */
static struct exe_lib *exe_slot(struct attrib_cache *ac, int dfd, struct stat *st)
{
	if (fstatat(dfd, "exe", st, 0) < 0)
		return NULL;
	return &ac->exe_libs[(st->st_ino * 2654435761u ^ st->st_dev) % ATTRIB_EXE_LIBS];
}

static bool exe_match(const struct exe_lib *x, const struct stat *st)
{
	return x->read_ns && x->dev == (uint64_t)st->st_dev && x->ino == (uint64_t)st->st_ino &&
	       x->mtime_ns == (int64_t)st->st_mtim.tv_sec * (int64_t)NSEC_PER_SEC + st->st_mtim.tv_nsec;
}

/*
 * fill_tls_lib - @e's TLS library: another process of the same program's when one was
 * read lately (ATTRIB_EXE_TTL_NS), else from its maps if the budget allows; else mark
 * it pending. Only a library found is kept for the program: a process resolved before
 * it mapped one must not hide it from the next.
 */
static void fill_tls_lib(struct attrib_cache *ac, int dfd, struct attrib_entry *e)
{
	struct exe_lib *x;
	struct stat st;
	uint32_t lines = 0;
	uint64_t now = util_mono_ns();

	x = exe_slot(ac, dfd, &st);
	if (x && exe_match(x, &st) && now - x->read_ns < ATTRIB_EXE_TTL_NS) {
		util_strlcpy(e->proc.tls_lib, x->lib, sizeof(e->proc.tls_lib));
		ac->stats.exe_hits++;
		e->tls_pending = false;
		return;
	}
	if (!maps_budget(ac)) {
		ac->stats.maps_deferred++;
		e->tls_pending = true;
		return;
	}
	read_tls_lib(dfd, ATTRIB_MAPS_LINES, e->proc.tls_lib, sizeof(e->proc.tls_lib), &lines);
	ac->maps_tokens -= lines;
	ac->stats.maps_lines += lines;
	e->tls_pending = false;
	if (x && e->proc.tls_lib[0]) {
		x->dev = (uint64_t)st.st_dev;
		x->ino = (uint64_t)st.st_ino;
		x->mtime_ns = (int64_t)st.st_mtim.tv_sec * (int64_t)NSEC_PER_SEC + st.st_mtim.tv_nsec;
		x->read_ns = now ? now : 1;
		util_strlcpy(x->lib, e->proc.tls_lib, sizeof(x->lib));
	}
}

int attrib_cache__resolve(struct attrib_cache *ac, uint32_t pid, struct hs_proc *out)
{
	return attrib_cache__resolve_cg(ac, pid, 0, out);
}

int attrib_cache__resolve_cg(struct attrib_cache *ac, uint32_t pid, uint64_t cgroup_id,
			     struct hs_proc *out)
{
	char dir[PATH_MAX], comm[sizeof(out->comm)];
	struct attrib_entry *e;
	struct hs_proc p;
	uint64_t start = 0;
	int dfd = -1, err = 0;

	if (!pid)
		return -EINVAL;
	e = find(ac, pid);
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%u", ac->proc_root, pid) >= sizeof(dir))
		return -ENAMETOOLONG;
	/* One directory fd for every file, so all reads see the same process. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || read_stat(dfd, comm, sizeof(comm), &start)) {
		/* Exited (or unreadable) now, but named while it lived. */
		err = -ESRCH;
		if (e) {
			ac->stats.exited++;
			e->referenced = true;
			*out = e->proc;
			err = 0;
		}
		goto out;
	}
	/* A changed comm with the same start time is an exec: the identity changed too. */
	if (e && e->start == start && strcmp(e->proc.comm, comm) == 0) {
		ac->stats.hits++;
	} else {
		resolve_proc(dfd, pid, comm, cgroup_id, &ac->cgs[cgroup_id % CG_SLOTS], &p);
		ac->stats.resolves++;
		e = store(ac, e, pid, start, &p);
		e->tls_pending = true;
	}
	if (e->tls_pending)
		fill_tls_lib(ac, dfd, e);
	e->referenced = true;
	*out = e->proc;
out:
	if (dfd >= 0)
		close(dfd);
	return err;
}

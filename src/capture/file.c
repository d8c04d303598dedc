// SPDX-License-Identifier: GPL-2.0-only
/*
 * Capture files: pcap and pcapng through libpcap, plain or gzip-compressed, from a path
 * or from stdin ("-"). Each packet is decoded to a TCP segment and fed to the flow table.
 *
 * libpcap only reads a FILE *, so a gzip stream is wrapped in one with fopencookie().
 * Regular uncompressed files skip zlib entirely and get a large stdio buffer: that is
 * the common case and the fast one. Pipes (stdin) always go through zlib, whose
 * transparent mode passes non-gzip bytes through, because a pipe cannot be peeked at.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <zlib.h>

#include "tlsaudit/capture.h"
#include "tlsaudit/util.h"

/*
 * A 1 GB, 960k-packet pcap reads in 0.52 s with this buffer and 0.51 s through
 * pcap_open_offline() (libpcap alone, warm cache): stdio is not the cost, zlib would be
 * (2.3 s for the same file gzipped), hence no zlib on this path.
 */
#define FILE_BUF_SIZE (1U << 20)
static char file_buf[FILE_BUF_SIZE];
#define GZ_BUF_SIZE (256U << 10)

struct gz_src {
	gzFile gz;
	bool failed;
	char why[128];
};

static ssize_t gz_read(void *cookie, char *buf, size_t size)
{
	struct gz_src *g = cookie;
	int n;

	if (size > INT_MAX)
		size = INT_MAX;
	n = gzread(g->gz, buf, (unsigned int)size);
	if (n < 0) {
		int zerr;
		const char *msg = gzerror(g->gz, &zerr);

		g->failed = true;
		util_strlcpy(g->why, msg ? msg : "gzip error", sizeof(g->why));
		errno = EIO;
		return -1;
	}
	return n;
}

static int gz_close(void *cookie)
{
	struct gz_src *g = cookie;

	return gzclose(g->gz) == Z_OK ? 0 : EOF;
}

/*
 * Wraps @fd (owned from here on) in a FILE * that inflates gzip, or passes plain bytes
 * through. NULL and errno on failure, @fd closed.
 */
static FILE *gz_fopen(int fd, struct gz_src *g)
{
	static const cookie_io_functions_t io = { .read = gz_read, .close = gz_close };
	FILE *fp;

	g->gz = gzdopen(fd, "rb");
	if (!g->gz) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	gzbuffer(g->gz, GZ_BUF_SIZE);
	fp = fopencookie(g, "rb", io);
	if (!fp) {
		gzclose(g->gz);
		g->gz = NULL;
		errno = ENOMEM;
	}
	return fp;
}

/* libpcap's open errors, said the way someone who handed us the wrong file reads them. */
static void open_error(const char *name, const char *pcap_msg, const struct gz_src *g,
		       char *err, size_t errlen)
{
	if (g->failed)
		snprintf(err, errlen, "%s: corrupt gzip data (%s)", name, g->why);
	else if (strstr(pcap_msg, "unknown file format"))
		snprintf(err, errlen, "%s: not a capture file (no pcap or pcapng header)", name);
	else if (strstr(pcap_msg, "only got 0"))
		snprintf(err, errlen, "%s: not a capture file (empty)", name);
	else if (strstr(pcap_msg, "truncated"))
		snprintf(err, errlen, "%s: not a capture file (truncated header: %s)", name,
			 pcap_msg);
	else
		snprintf(err, errlen, "%s: %s", name, pcap_msg);
}

/* Opens @path for libpcap; gzip is detected by its magic (RFC 1952 section 2.3.1). */
static FILE *open_stream(const char *path, const char *name, struct gz_src *g, char *err,
			 size_t errlen)
{
	unsigned char magic[2];
	struct stat st;
	FILE *fp = NULL;
	int fd;

	fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		goto fail;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: %s", name, strerror(EISDIR));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) ||
	    (pread(fd, magic, sizeof(magic), 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b)) {
		fp = gz_fopen(fd, g);
		if (!fp)
			snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return fp;
	}
	fp = fdopen(fd, "rb");
	if (!fp) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		goto fail;
	}
	/*
	 * glibc ignores the size when setvbuf() gets no buffer and reads in st_blksize
	 * (4 KiB) steps: a quarter of a million read() calls per GiB. Files are read one
	 * at a time and closed before the next is opened, so one static buffer serves all.
	 */
	setvbuf(fp, file_buf, _IOFBF, sizeof(file_buf));
	return fp;
fail:
	close(fd);
	return NULL;
}

int cap_file_read(const char *path, struct flow_table *ft, struct cap_file_stats *stats,
		  char *err, size_t errlen)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
	struct gz_src g = { 0 };
	struct pcap_pkthdr *h;
	struct flow_segment seg;
	const u_char *data;
	pcap_t *p = NULL;
	uint32_t snapped;
	uint64_t next_expire = 0;
	FILE *fp;
	int dlt, ret = -1, rc;

	fp = open_stream(path, name, &g, err, errlen);
	if (!fp)
		return -1;
	p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!p) {
		open_error(name, errbuf, &g, err, errlen);
		fclose(fp);
		return -1;
	}
	dlt = pcap_datalink(p);
	if (!cap_dlt_supported(dlt)) {
		const char *dname = pcap_datalink_val_to_name(dlt);

		snprintf(err, errlen, "%s: unsupported link type %s (%d)", name,
			 dname ? dname : "unknown", dlt);
		goto out;
	}

	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		uint64_t ts = (uint64_t)h->ts.tv_sec * NSEC_PER_SEC + (uint64_t)h->ts.tv_usec;

		stats->packets++;
		stats->bytes += h->caplen;
		/*
		 * Capture time drives the idle timeout, so a day-long capture does not hold
		 * every unfinished flow until the end. Once a capture second is enough.
		 */
		if (ts >= next_expire) {
			flow_table__expire(ft, ts);
			next_expire = ts + NSEC_PER_SEC;
		}
		switch (cap_decode_ex(dlt, data, h->caplen, ts, &seg, &snapped)) {
		case CAP_DECODE_OK:
			if (snapped)
				stats->snapped++;
			flow_table__segment(ft, &seg);
			break;
		case CAP_DECODE_SKIP:
			stats->decode_skipped++;
			break;
		default:
			stats->decode_invalid++;
			break;
		}
	}
	if (rc == PCAP_ERROR) {
		const char *msg = pcap_geterr(p);

		if (g.failed)
			snprintf(err, errlen, "%s: corrupt gzip data (%s)", name, g.why);
		else if (strstr(msg, "truncated"))
			snprintf(err, errlen, "%s: truncated mid-record after %llu packets (%s)",
				 name, (unsigned long long)stats->packets, msg);
		else
			snprintf(err, errlen, "%s: %s", name, msg);
		goto out;
	}
	ret = 0;
out:
	pcap_close(p);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Capture files: pcap and pcapng, plain or gzip-compressed, from a path or from stdin
 * ("-"). Each packet is decoded to a TCP segment and fed to the flow table.
 *
 * Classic pcap (the pcap-savefile(5) format tcpdump writes) is walked here, straight
 * from a large read buffer: each packet is handed on where it lies, without stdio's and
 * libpcap's copies and calls per packet, which were a tenth of `read`'s instructions.
 * Everything else (pcapng, the old and modified pcap variants, link types the decoder
 * does not know) goes through libpcap, which reads the same buffered source through
 * fopencookie(), so a pipe is never read twice.
 *
 * Compressed input (a gzip magic, or any pipe: zlib's transparent mode passes plain
 * bytes through, and a pipe cannot be peeked at) is inflated in a second thread, a few
 * chunks ahead of the parser: inflating costs about as much as all the analysis, and
 * the two then run side by side on two cores.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>
#include <zlib.h>

#include "tlsaudit/capture.h"
#include "tlsaudit/util.h"

/*
 * The read buffer holds at least one whole record of the largest size libpcap accepts
 * (a 16-byte header and 262144 bytes), so a record is always contiguous.
 */
#define SRC_BUF_SIZE (1U << 20)
#define PCAP_MAX_CAPLEN 262144U
#define PCAP_FILE_HDR 24
#define PCAP_REC_HDR 16

/* Inflated chunks the gzip thread may run ahead of the parser. */
#define GZ_CHUNK (1U << 20)
#define GZ_NCHUNK 4
#define GZ_BUF_SIZE (256U << 10)

/* The gzip thread and the chunks it hands over; head and tail count chunks ever. */
struct inflater {
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	gzFile gz;
	uint8_t *chunk[GZ_NCHUNK];
	size_t len[GZ_NCHUNK];
	unsigned int head, tail; /* filled: [tail, head) */
	size_t off;		 /* bytes of chunk[tail] already taken */
	bool done, stop, failed;
	char why[128];
};

/* A byte source: a plain fd, or the inflater; and what was read but not consumed. */
struct src {
	int fd;
	struct inflater *inf;
	bool failed; /* gzip error: why says which */
	char why[128];
	uint8_t *buf;
	size_t pos, end; /* unconsumed bytes: buf[pos, end) */
	bool eof;
};

static void *inflate_main(void *arg)
{
	struct inflater *z = arg;
	unsigned int slot;
	int n, zerr;

	for (;;) {
		pthread_mutex_lock(&z->mu);
		while (z->head - z->tail == GZ_NCHUNK && !z->stop)
			pthread_cond_wait(&z->cv, &z->mu);
		slot = z->head % GZ_NCHUNK;
		if (z->stop) {
			pthread_mutex_unlock(&z->mu);
			break;
		}
		pthread_mutex_unlock(&z->mu);
		/* The slot at head is the producer's until head moves past it. */
		n = gzread(z->gz, z->chunk[slot], GZ_CHUNK);
		pthread_mutex_lock(&z->mu);
		if (n > 0) {
			z->len[slot] = (size_t)n;
			z->head++;
		} else {
			if (n < 0) {
				const char *msg = gzerror(z->gz, &zerr);

				z->failed = true;
				util_strlcpy(z->why, msg ? msg : "gzip error", sizeof(z->why));
			}
			z->done = true;
		}
		pthread_cond_broadcast(&z->cv);
		pthread_mutex_unlock(&z->mu);
		if (n <= 0)
			break;
	}
	return NULL;
}

static void inflater_free(struct inflater *z)
{
	unsigned int i;

	if (!z)
		return;
	if (z->tid) {
		pthread_mutex_lock(&z->mu);
		z->stop = true;
		pthread_cond_broadcast(&z->cv);
		pthread_mutex_unlock(&z->mu);
		pthread_join(z->tid, NULL);
		pthread_cond_destroy(&z->cv);
		pthread_mutex_destroy(&z->mu);
	}
	if (z->gz)
		gzclose(z->gz);
	for (i = 0; i < GZ_NCHUNK; i++)
		free(z->chunk[i]);
	free(z);
}

/* Start inflating @fd (owned from here on, closed with the inflater). NULL and errno. */
static struct inflater *inflater_new(int fd)
{
	struct inflater *z = calloc(1, sizeof(*z));
	int err = ENOMEM;
	unsigned int i;

	if (!z) {
		close(fd);
		goto fail;
	}
	z->gz = gzdopen(fd, "rb");
	if (!z->gz) {
		close(fd);
		goto fail;
	}
	gzbuffer(z->gz, GZ_BUF_SIZE);
	for (i = 0; i < GZ_NCHUNK; i++) {
		z->chunk[i] = malloc(GZ_CHUNK);
		if (!z->chunk[i])
			goto fail;
	}
	pthread_mutex_init(&z->mu, NULL);
	pthread_cond_init(&z->cv, NULL);
	err = pthread_create(&z->tid, NULL, inflate_main, z);
	if (err) {
		z->tid = 0;
		pthread_cond_destroy(&z->cv);
		pthread_mutex_destroy(&z->mu);
		goto fail;
	}
	return z;
fail:
	inflater_free(z);
	errno = err;
	return NULL;
}

/* Up to @n inflated bytes into @dst: how many, 0 at the end, -1 on a gzip error. */
static ssize_t inflater_read(struct inflater *z, struct src *s, uint8_t *dst, size_t n)
{
	unsigned int slot;
	size_t k;

	pthread_mutex_lock(&z->mu);
	while (z->head == z->tail && !z->done)
		pthread_cond_wait(&z->cv, &z->mu);
	if (z->head == z->tail) {
		if (z->failed) {
			s->failed = true;
			util_strlcpy(s->why, z->why, sizeof(s->why));
		}
		pthread_mutex_unlock(&z->mu);
		return s->failed ? -1 : 0;
	}
	pthread_mutex_unlock(&z->mu);
	/* The slot at tail is the consumer's until tail moves past it. */
	slot = z->tail % GZ_NCHUNK;
	k = z->len[slot] - z->off;
	if (k > n)
		k = n;
	memcpy(dst, z->chunk[slot] + z->off, k);
	z->off += k;
	if (z->off == z->len[slot]) {
		pthread_mutex_lock(&z->mu);
		z->off = 0;
		z->tail++;
		pthread_cond_broadcast(&z->cv);
		pthread_mutex_unlock(&z->mu);
	}
	return (ssize_t)k;
}

/* Up to @n bytes from the source itself (not the buffer): 0 at the end, -1 on error. */
static ssize_t src_raw_read(struct src *s, uint8_t *dst, size_t n)
{
	ssize_t r;

	if (s->inf)
		return inflater_read(s->inf, s, dst, n);
	do {
		r = read(s->fd, dst, n);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		s->failed = true;
		util_strlcpy(s->why, strerror(errno), sizeof(s->why));
	}
	return r;
}

/*
 * Make at least @want unconsumed bytes contiguous in the buffer, reading as much as
 * fits: true when they are there, false at the end of the input or on an error (the
 * bytes that are there stay).
 */
static bool src_need(struct src *s, size_t want)
{
	ssize_t r;

	if (s->end - s->pos >= want)
		return true;
	if (s->pos) {
		memmove(s->buf, s->buf + s->pos, s->end - s->pos);
		s->end -= s->pos;
		s->pos = 0;
	}
	while (s->end < want && !s->eof) {
		r = src_raw_read(s, s->buf + s->end, SRC_BUF_SIZE - s->end);
		if (r <= 0) {
			s->eof = true;
			break;
		}
		s->end += (size_t)r;
	}
	return s->end - s->pos >= want;
}

/* libpcap's view of the source: the buffered bytes first, then the rest. */
static ssize_t cookie_read(void *cookie, char *dst, size_t n)
{
	struct src *s = cookie;
	size_t k = s->end - s->pos;
	ssize_t r;

	if (k) {
		if (k > n)
			k = n;
		memcpy(dst, s->buf + s->pos, k);
		s->pos += k;
		return (ssize_t)k;
	}
	if (s->eof)
		return 0;
	r = src_raw_read(s, (uint8_t *)dst, n);
	if (r < 0) {
		errno = EIO;
		return -1;
	}
	return r;
}

/* libpcap's open errors, said the way someone who handed us the wrong file reads them. */
static void open_error(const char *name, const char *pcap_msg, const struct src *s, char *err,
		       size_t errlen)
{
	if (s->failed)
		snprintf(err, errlen, "%s: corrupt gzip data (%s)", name, s->why);
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

/* Opens @path as a source; gzip is detected by its magic (RFC 1952 section 2.3.1). */
static int src_open(struct src *s, const char *path, const char *name, char *err, size_t errlen)
{
	unsigned char magic[2];
	struct stat st;
	int fd;

	fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: %s", name, strerror(EISDIR));
		close(fd);
		return -1;
	}
	s->buf = malloc(SRC_BUF_SIZE);
	if (!s->buf) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		close(fd);
		return -1;
	}
	s->fd = fd;
	if (!S_ISREG(st.st_mode) ||
	    (pread(fd, magic, sizeof(magic), 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b)) {
		s->fd = -1;
		s->inf = inflater_new(fd);
		if (!s->inf) {
			snprintf(err, errlen, "%s: %s", name, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void src_close(struct src *s)
{
	inflater_free(s->inf);
	if (s->fd >= 0)
		close(s->fd);
	free(s->buf);
}

/* The per-packet work both walks share. */
struct walk {
	struct flow_table *ft;
	struct cap_file_stats *stats;
	int dlt;
	uint64_t next_expire;
};

static void packet(struct walk *w, uint64_t ts, const uint8_t *data, uint32_t caplen)
{
	struct flow_segment seg;
	uint32_t snapped;

	w->stats->packets++;
	w->stats->bytes += caplen;
	/*
	 * Capture time drives the idle timeout, so a day-long capture does not hold every
	 * unfinished flow until the end. Once a capture second is enough.
	 */
	if (ts >= w->next_expire) {
		flow_table__expire(w->ft, ts);
		w->next_expire = ts + NSEC_PER_SEC;
	}
	switch (cap_decode_ex(w->dlt, data, caplen, ts, &seg, &snapped)) {
	case CAP_DECODE_OK:
		if (snapped)
			w->stats->snapped++;
		flow_table__segment(w->ft, &seg);
		break;
	case CAP_DECODE_SKIP:
		w->stats->decode_skipped++;
		break;
	default:
		w->stats->decode_invalid++;
		break;
	}
}

/* The file header of classic pcap (pcap-savefile(5)), in either byte order. */
struct classic {
	bool big_endian, nanos; /* byte order of the file; nanosecond timestamps */
	uint32_t snaplen;
	int linktype;
};

static uint32_t get32(const uint8_t *p, bool big_endian)
{
	return big_endian ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3]
		    : ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

/*
 * The buffer starts with a classic pcap header this walk takes: version 2.4, a link
 * type the decoder knows, no FCS bits. Anything else is left to libpcap.
 */
static bool classic_header(struct src *s, struct classic *c)
{
	const uint8_t *h;
	uint32_t magic, linktype;

	if (!src_need(s, PCAP_FILE_HDR))
		return false;
	h = s->buf + s->pos;
	magic = get32(h, false);
	switch (magic) {
	case 0xa1b2c3d4:
	case 0xa1b23c4d:
		c->big_endian = false;
		break;
	case 0xd4c3b2a1:
	case 0x4d3cb2a1:
		c->big_endian = true;
		break;
	default:
		return false;
	}
	c->nanos = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
	if (h[c->big_endian ? 5 : 4] != 2 || h[c->big_endian ? 4 : 5] != 0 || h[c->big_endian ? 7 : 6] != 4 ||
	    h[c->big_endian ? 6 : 7] != 0)
		return false;
	linktype = get32(h + 20, c->big_endian);
	if (linktype > 0xffff || !cap_dlt_supported((int)linktype))
		return false;
	c->linktype = (int)linktype;
	c->snaplen = get32(h + 16, c->big_endian);
	/* As libpcap: no or an absurd snapshot length means the largest it accepts. */
	if (c->snaplen == 0 || c->snaplen > PCAP_MAX_CAPLEN)
		c->snaplen = PCAP_MAX_CAPLEN;
	s->pos += PCAP_FILE_HDR;
	return true;
}

/* Every record of a classic pcap after its header; -1 and @err on a bad or cut one. */
static int walk_classic(struct src *s, const struct classic *c, struct walk *w, const char *name,
			char *err, size_t errlen)
{
	const uint8_t *h;
	uint32_t sec, frac, incl;
	uint64_t ts;

	for (;;) {
		if (!src_need(s, PCAP_REC_HDR)) {
			if (s->failed)
				goto failed;
			if (s->end == s->pos)
				return 0;
			snprintf(err, errlen,
				 "%s: truncated mid-record after %llu packets (truncated dump file; "
				 "tried to read %u header bytes, only got %zu)",
				 name, (unsigned long long)w->stats->packets, PCAP_REC_HDR,
				 s->end - s->pos);
			return -1;
		}
		h = s->buf + s->pos;
		sec = get32(h, c->big_endian);
		frac = get32(h + 4, c->big_endian);
		incl = get32(h + 8, c->big_endian);
		if (incl > PCAP_MAX_CAPLEN) {
			snprintf(err, errlen,
				 "%s: invalid packet capture length %u, bigger than maximum of %u "
				 "(after %llu packets)",
				 name, incl, PCAP_MAX_CAPLEN, (unsigned long long)w->stats->packets);
			return -1;
		}
		if (!src_need(s, PCAP_REC_HDR + (size_t)incl)) {
			if (s->failed)
				goto failed;
			snprintf(err, errlen,
				 "%s: truncated mid-record after %llu packets (truncated dump file; "
				 "tried to read %u captured bytes, only got %zu)",
				 name, (unsigned long long)w->stats->packets, incl,
				 s->end - s->pos - PCAP_REC_HDR);
			return -1;
		}
		h = s->buf + s->pos;
		ts = (uint64_t)sec * NSEC_PER_SEC + (c->nanos ? frac : (uint64_t)frac * 1000);
		/* As libpcap: bytes past the snapshot length are skipped, not handed on. */
		packet(w, ts, h + PCAP_REC_HDR, incl < c->snaplen ? incl : c->snaplen);
		s->pos += PCAP_REC_HDR + (size_t)incl;
	}
failed:
	snprintf(err, errlen, "%s: corrupt gzip data (%s)", name, s->why);
	return -1;
}

/* pcapng and the rest, through libpcap reading the same source. */
static int walk_libpcap(struct src *s, struct walk *w, const char *name, char *err,
			size_t errlen)
{
	static const cookie_io_functions_t io = { .read = cookie_read };
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *p = NULL;
	FILE *fp;
	int ret = -1, rc;

	fp = fopencookie(s, "rb", io);
	if (!fp) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (!p) {
		open_error(name, errbuf, s, err, errlen);
		fclose(fp);
		return -1;
	}
	w->dlt = pcap_datalink(p);
	if (!cap_dlt_supported(w->dlt)) {
		const char *dname = pcap_datalink_val_to_name(w->dlt);

		snprintf(err, errlen, "%s: unsupported link type %s (%d)", name,
			 dname ? dname : "unknown", w->dlt);
		goto out;
	}
	while ((rc = pcap_next_ex(p, &h, &data)) == 1)
		packet(w, (uint64_t)h->ts.tv_sec * NSEC_PER_SEC + (uint64_t)h->ts.tv_usec, data,
		       h->caplen);
	if (rc == PCAP_ERROR) {
		const char *msg = pcap_geterr(p);

		if (s->failed)
			snprintf(err, errlen, "%s: corrupt gzip data (%s)", name, s->why);
		else if (strstr(msg, "truncated"))
			snprintf(err, errlen, "%s: truncated mid-record after %llu packets (%s)",
				 name, (unsigned long long)w->stats->packets, msg);
		else
			snprintf(err, errlen, "%s: %s", name, msg);
		goto out;
	}
	ret = 0;
out:
	/* Closes fp too; the source stays ours. */
	pcap_close(p);
	return ret;
}

int cap_file_read(const char *path, struct flow_table *ft, struct cap_file_stats *stats,
		  char *err, size_t errlen)
{
	const char *name = strcmp(path, "-") == 0 ? "stdin" : path;
	struct src s = { .fd = -1 };
	struct walk w = { .ft = ft, .stats = stats };
	struct classic c;
	int ret = -1;

	if (src_open(&s, path, name, err, errlen))
		goto out;
	if (classic_header(&s, &c)) {
		w.dlt = c.linktype;
		ret = walk_classic(&s, &c, &w, name, err, errlen);
	} else {
		ret = walk_libpcap(&s, &w, name, err, errlen);
	}
out:
	src_close(&s);
	return ret;
}

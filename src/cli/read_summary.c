// SPDX-License-Identifier: GPL-2.0-only
/*
 * The summary of `tlsaudit read`: one row per (server, SNI, client) with counts by
 * negotiated version and the certificate problems seen, then a totals line. Rows with
 * legacy handshakes come first, since those are what the reader is looking for. Memory
 * is bounded: past MAX_ROWS distinct keys, further pairs are folded into one "(other)"
 * row and said so.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "read_summary.h"
#include "tlsaudit/cert.h"
#include "tlsaudit/export.h"
#include "tlsaudit/util.h"

#define MAX_ROWS 200000
#define SNI_WIDTH 40

enum ver_col { COL_SSL3, COL_TLS10, COL_TLS11, COL_TLS12, COL_TLS13, COL_OTHER, N_COLS };

/*
 * A row's key is this and its SNI. Compared and hashed as bytes: always zeroed before
 * it is filled. The SNI lives apart, in the names arena, so that a row is a quarter of
 * the size it was with a 256-byte name in it (tens of thousands of rows are megabytes).
 */
struct row_key {
	uint8_t server_family;
	uint8_t client_family;
	uint16_t server_port;
	uint8_t server_addr[16];
	uint8_t client_addr[16];
};

struct row {
	struct row_key key;
	uint32_t hash;
	uint32_t sni_off; /* the SNI, NUL-terminated, in read_summary.names */
	uint32_t sni_len;
	uint64_t by_ver[N_COLS];
	uint64_t handshakes, legacy, weak, lim_client, lim_server, failed, plain_smtp;
	uint32_t cert_problems; /* every problem a certificate of this row had */
	uint64_t bad_accepted;	/* handshakes whose client went on past a verify problem */
};

/*
 * What a record adds to its row, kept until its turn: the rows are found PEND_N
 * records late, after their slots (and the rows they point to) were fetched, rather
 * than waiting on a cache miss for each (the slot array is 1 MiB, the rows 7 MiB,
 * for the 46,000 rows of a busy capture).
 */
#define PEND_N 8

struct pending {
	struct row_key key;
	uint32_t hash;
	uint32_t sni_len;
	bool plain_smtp;
	bool legacy, weak, failed;
	uint8_t col;	 /* enum ver_col */
	uint8_t limited; /* enum hs_limited */
	bool bad_accepted;
	uint32_t cert_problems; /* of a certificate that was read, else 0 */
	char sni[HS_SNI_MAX];
};

struct read_summary {
	struct pending pend[PEND_N]; /* a ring: record k in pend[k % PEND_N] */
	uint64_t n_pend;	     /* records added so far */
	uint64_t n_done;	     /* of which counted into their rows */
	struct row *rows;
	size_t n, cap;
	/*
	 * Open addressing: the row's hash in the high half, its index + 1 in the low one,
	 * 0 = empty. A probe that meets another key's row is told by its hash without
	 * loading the row (a cache miss on each, tens of thousands of rows apart).
	 */
	uint64_t *slots;
	size_t n_slots;
	char *names; /* the rows' SNIs */
	size_t names_len, names_cap;
	struct row other; /* pairs past MAX_ROWS */
	bool have_other;
	uint64_t handshakes, legacy, weak, failed, plain_smtp;
	uint64_t cert_problems, bad_accepted; /* handshakes */
};

struct read_summary *read_summary__new(void)
{
	struct read_summary *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->n_slots = 1024;
	rs->slots = calloc(rs->n_slots, sizeof(*rs->slots));
	if (!rs->slots) {
		free(rs);
		errno = ENOMEM;
		return NULL;
	}
	return rs;
}

void read_summary__free(struct read_summary *rs)
{
	if (!rs)
		return;
	free(rs->rows);
	free(rs->slots);
	free(rs->names);
	free(rs);
}

static inline uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

/* @n bytes, 8 at a time (the last word zero-padded). */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t w;

	for (; n >= 8; b += 8, n -= 8) {
		memcpy(&w, b, 8);
		h = mix(h, w);
	}
	if (n) {
		w = 0;
		memcpy(&w, b, n);
		h = mix(h, w);
	}
	return h;
}

static uint32_t key_hash(const struct row_key *k, const char *sni, size_t sni_len)
{
	uint64_t h = hash_bytes(0x243f6a8885a308d3ULL, k, sizeof(*k));

	h = mix(hash_bytes(h, sni, sni_len), sni_len);
	return (uint32_t)(h ^ (h >> 32));
}

static int grow_slots(struct read_summary *rs)
{
	size_t n = rs->n_slots * 2, i;
	uint64_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < rs->n_slots; i++) {
		uint64_t v = rs->slots[i];
		size_t s = (v >> 32) & (n - 1);

		if (!v)
			continue;
		while (slots[s])
			s = (s + 1) & (n - 1);
		slots[s] = v;
	}
	free(rs->slots);
	rs->slots = slots;
	rs->n_slots = n;
	return 0;
}

/* Room for @n more bytes of names; false when out of memory. */
static bool names_room(struct read_summary *rs, size_t n)
{
	size_t cap = rs->names_cap ? rs->names_cap : 4096;
	char *p;

	if (rs->names_cap - rs->names_len >= n)
		return true;
	while (cap - rs->names_len < n)
		cap *= 2;
	p = realloc(rs->names, cap);
	if (!p)
		return false;
	rs->names = p;
	rs->names_cap = cap;
	return true;
}

/*
 * The row for @k and @sni (@sni_len bytes), created on first use; the overflow row
 * when full or out of memory.
 */
static struct row *find_row(struct read_summary *rs, const struct row_key *k, const char *sni,
			    size_t sni_len, uint32_t h)
{
	size_t s = h & (rs->n_slots - 1);
	struct row *r;
	uint64_t v;

	while ((v = rs->slots[s])) {
		r = &rs->rows[(uint32_t)v - 1];
		if ((uint32_t)(v >> 32) == h && r->sni_len == sni_len &&
		    !memcmp(&r->key, k, sizeof(*k)) && !memcmp(rs->names + r->sni_off, sni, sni_len))
			return r;
		s = (s + 1) & (rs->n_slots - 1);
	}
	if (rs->n >= MAX_ROWS || rs->names_len + sni_len + 1 > UINT32_MAX ||
	    !names_room(rs, sni_len + 1))
		goto other;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		struct row *rows = util_reallocarray(rs->rows, cap, sizeof(*rows));

		if (!rows)
			goto other;
		rs->rows = rows;
		rs->cap = cap;
	}
	r = &rs->rows[rs->n++];
	memset(r, 0, sizeof(*r));
	r->key = *k;
	r->hash = h;
	r->sni_off = (uint32_t)rs->names_len;
	r->sni_len = (uint32_t)sni_len;
	memcpy(rs->names + rs->names_len, sni, sni_len);
	rs->names[rs->names_len + sni_len] = '\0';
	rs->names_len += sni_len + 1;
	rs->slots[s] = (uint64_t)h << 32 | (uint32_t)rs->n;
	/* keep the table at most half full so probes stay short */
	if (rs->n * 2 > rs->n_slots)
		grow_slots(rs);
	return r;
other:
	rs->have_other = true;
	return &rs->other;
}

static enum ver_col ver_col(uint16_t v)
{
	switch (v) {
	case TLS_V_SSL3:
		return COL_SSL3;
	case TLS_V_10:
		return COL_TLS10;
	case TLS_V_11:
		return COL_TLS11;
	case TLS_V_12:
		return COL_TLS12;
	case TLS_V_13:
		return COL_TLS13;
	default:
		return COL_OTHER;
	}
}

/* Count pending record @p into its row. */
static void count(struct read_summary *rs, const struct pending *p)
{
	struct row *r = find_row(rs, &p->key, p->sni, p->sni_len, p->hash);

	if (p->plain_smtp) {
		r->plain_smtp++;
		rs->plain_smtp++;
		return;
	}
	r->handshakes++;
	rs->handshakes++;
	r->by_ver[p->col]++;
	if (p->legacy) {
		r->legacy++;
		rs->legacy++;
	}
	if (p->weak) {
		r->weak++;
		rs->weak++;
	}
	if (p->failed) {
		r->failed++;
		rs->failed++;
	}
	switch (p->limited) {
	case HS_LIMITED_CLIENT:
		r->lim_client++;
		break;
	case HS_LIMITED_SERVER:
		r->lim_server++;
		break;
	default:
		break;
	}
	if (p->cert_problems) {
		r->cert_problems |= p->cert_problems;
		rs->cert_problems++;
	}
	if (p->bad_accepted) {
		r->bad_accepted++;
		rs->bad_accepted++;
	}
}

/* Fetch the row pending record @p will need, once its slot is at hand. */
static void fetch_row(const struct read_summary *rs, const struct pending *p)
{
	uint64_t v = rs->slots[p->hash & (rs->n_slots - 1)];

	if (v && (uint32_t)(v >> 32) == p->hash)
		__builtin_prefetch(&rs->rows[(uint32_t)v - 1]);
}

/* Count every record still pending (before the table is read). */
static void drain(struct read_summary *rs)
{
	while (rs->n_done < rs->n_pend)
		count(rs, &rs->pend[rs->n_done++ % PEND_N]);
}

void read_summary__add(struct read_summary *rs, const struct hs_record *rec)
{
	struct pending *p;
	const char *name;

	if (rs->n_pend - rs->n_done == PEND_N)
		count(rs, &rs->pend[rs->n_done++ % PEND_N]);
	p = &rs->pend[rs->n_pend % PEND_N];
	memset(&p->key, 0, sizeof(p->key));
	p->key.server_family = rec->server.family;
	p->key.server_port = rec->server.port;
	memcpy(p->key.server_addr, rec->server.addr, sizeof(p->key.server_addr));
	p->key.client_family = rec->client.family;
	memcpy(p->key.client_addr, rec->client.addr, sizeof(p->key.client_addr));
	/*
	 * As a copy into a HS_SNI_MAX buffer would keep it. SMTP has no SNI: the server's
	 * greeting names it (mx_host), as a provider's delivery log does.
	 */
	name = rec->sni[0] ? rec->sni : rec->mx_host;
	p->sni_len = (uint32_t)strnlen(name, HS_SNI_MAX - 1);
	memcpy(p->sni, name, p->sni_len);
	p->hash = key_hash(&p->key, p->sni, p->sni_len);
	p->plain_smtp = rec->kind == HS_KIND_PLAINTEXT_SMTP;
	if (!p->plain_smtp) {
		p->col = (uint8_t)ver_col(rec->version);
		p->legacy = hs_legacy(rec);
		p->weak = hs_weak_cipher(rec);
		p->failed = hs_failed(rec);
		p->limited = (uint8_t)hs_limited_by(rec);
		p->cert_problems = rec->cert.state == HS_CERT_OK ? rec->cert.problems : 0;
		p->bad_accepted = rec->cert.state == HS_CERT_OK &&
				  rec->cert.accepted_bad == HS_TRI_TRUE;
	}
	__builtin_prefetch(&rs->slots[p->hash & (rs->n_slots - 1)]);
	rs->n_pend++;
	/* Halfway through the ring its slot has come: fetch the row it points to. */
	if (rs->n_pend - rs->n_done > PEND_N / 2)
		fetch_row(rs, &rs->pend[(rs->n_pend - 1 - PEND_N / 2) % PEND_N]);
}

/*
 * Failing first (already broken), then legacy, weak, plaintext SMTP, then the busiest;
 * ties by address, then SNI (as bytes, the way a zero-padded key compares).
 */
static int row_cmp(const void *a, const void *b, void *arg)
{
	const struct row *x = *(const struct row *const *)a, *y = *(const struct row *const *)b;
	const struct read_summary *rs = arg;
	int c;

	if (x->failed != y->failed)
		return x->failed > y->failed ? -1 : 1;
	if ((x->legacy > 0) != (y->legacy > 0))
		return x->legacy > 0 ? -1 : 1;
	if (x->legacy != y->legacy)
		return x->legacy > y->legacy ? -1 : 1;
	if (x->weak != y->weak)
		return x->weak > y->weak ? -1 : 1;
	if (x->plain_smtp != y->plain_smtp)
		return x->plain_smtp > y->plain_smtp ? -1 : 1;
	if (x->handshakes != y->handshakes)
		return x->handshakes > y->handshakes ? -1 : 1;
	c = memcmp(&x->key, &y->key, sizeof(x->key));
	if (c)
		return c;
	return strcmp(rs->names + x->sni_off, rs->names + y->sni_off);
}

/*
 * The order of row_cmp(), sorted through a compact array: its first fields packed
 * into one word where their values fit (each counted down from the largest a row has,
 * as they sort descending), then the key as words in memcmp() order. Only rows equal
 * in all (one server and client, two names) are compared in full: the rows
 * themselves, 150 bytes each in insertion order, were a cache miss at every
 * comparison.
 */
#define KEY_WORDS ((sizeof(struct row_key) + 7) / 8)

struct sort_ent {
	uint64_t prim;
	uint64_t key[KEY_WORDS];
	const struct row *r;
};

/* Big-endian, whatever the host: word order is then memcmp() order. */
static uint64_t load_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static int bits_of(uint64_t v)
{
	return v ? 64 - __builtin_clzll(v) : 0;
}

static int sort_ent_cmp(const void *a, const void *b, void *arg)
{
	const struct sort_ent *x = a, *y = b;

	size_t i;

	if (x->prim != y->prim)
		return x->prim < y->prim ? -1 : 1;
	for (i = 0; i < KEY_WORDS; i++)
		if (x->key[i] != y->key[i])
			return x->key[i] < y->key[i] ? -1 : 1;
	return row_cmp(&x->r, &y->r, arg);
}

static void sort_rows(const struct read_summary *rs, struct sort_ent *order)
{
	uint64_t mf = 0, ml = 0, mw = 0, mp = 0, mh = 0, p;
	int bf, bl, bw, bp, bh;
	bool packed;
	size_t i;

	for (i = 0; i < rs->n; i++) {
		const struct row *r = &rs->rows[i];

		mf = r->failed > mf ? r->failed : mf;
		ml = r->legacy > ml ? r->legacy : ml;
		mw = r->weak > mw ? r->weak : mw;
		mp = r->plain_smtp > mp ? r->plain_smtp : mp;
		mh = r->handshakes > mh ? r->handshakes : mh;
	}
	bf = bits_of(mf);
	bl = bits_of(ml);
	bw = bits_of(mw);
	bp = bits_of(mp);
	bh = bits_of(mh);
	/* Else every prim is 0 and row_cmp() decides all. */
	packed = bf + 1 + bl + bw + bp + bh <= 64;
	for (i = 0; i < rs->n; i++) {
		const struct row *r = &rs->rows[i];
		uint8_t k[KEY_WORDS * 8] = { 0 };
		size_t j;

		p = 0;
		if (packed) {
			p = mf - r->failed;
			p = (p << 1) | (r->legacy > 0 ? 0 : 1);
			p = bl ? (p << bl) | (ml - r->legacy) : p;
			p = bw ? (p << bw) | (mw - r->weak) : p;
			p = bp ? (p << bp) | (mp - r->plain_smtp) : p;
			p = bh ? (p << bh) | (mh - r->handshakes) : p;
		}
		order[i].prim = p;
		/* Zero-padded: equal keys stay equal, and memcmp() order is kept. */
		memcpy(k, &r->key, sizeof(r->key));
		for (j = 0; j < KEY_WORDS; j++)
			order[i].key[j] = load_be64(k + j * 8);
		order[i].r = r;
	}
	qsort_r(order, rs->n, sizeof(*order), sort_ent_cmp, (void *)rs);
}

/*
 * A line built without printf: the summary has a row per server, SNI and client, tens
 * of thousands on a busy capture, and formatting them was a fifth of `read`. Appends
 * stop at the end of the buffer; lines are far shorter.
 */
#define LINE_MAX_BYTES 1024

struct line {
	char *buf; /* LINE_MAX_BYTES, inside the output buffer */
	size_t n;
};

static void put_bytes(struct line *l, const char *s, size_t n)
{
	if (n > LINE_MAX_BYTES - 1 - l->n)
		n = LINE_MAX_BYTES - 1 - l->n;
	memcpy(l->buf + l->n, s, n);
	l->n += n;
}

static void put_spaces(struct line *l, size_t n)
{
	if (n > LINE_MAX_BYTES - 1 - l->n)
		n = LINE_MAX_BYTES - 1 - l->n;
	memset(l->buf + l->n, ' ', n);
	l->n += n;
}

/* @s padded with spaces to @width on the right (@left) or on the left. */
static void put_pad(struct line *l, const char *s, size_t n, int width, bool left)
{
	size_t pad = width > 0 && (size_t)width > n ? (size_t)width - n : 0;

	if (left)
		put_bytes(l, s, n);
	put_spaces(l, pad);
	if (!left)
		put_bytes(l, s, n);
}

/* " %<width>llu"; most counts of a row are one digit. */
static void put_num(struct line *l, uint64_t v, int width)
{
	char tmp[20];

	if (v < 10 && width >= 1 && l->n + (size_t)width + 1 < LINE_MAX_BYTES) {
		memset(l->buf + l->n, ' ', (size_t)width);
		l->buf[l->n + (size_t)width] = (char)('0' + v);
		l->n += (size_t)width + 1;
		return;
	}
	put_bytes(l, " ", 1);
	put_pad(l, tmp, util_fmt_dec(v, tmp), width, false);
}

static void fmt_server(const struct row_key *k, char *buf, size_t len)
{
	char ip[64], port[20];
	size_t n, p;

	util_format_ip(k->server_family, k->server_addr, ip, sizeof(ip));
	n = strlen(ip);
	p = util_fmt_dec(k->server_port, port);
	if (n + p + 4 > len) {
		util_strlcpy(buf, "?", len);
		return;
	}
	if (k->server_family == AF_INET6) {
		buf[0] = '[';
		memcpy(buf + 1, ip, n);
		buf[n + 1] = ']';
		n += 2;
	} else {
		memcpy(buf, ip, n);
	}
	buf[n] = ':';
	memcpy(buf + n + 1, port, p);
	buf[n + 1 + p] = '\0';
}

/* Column widths fitted to the rows, so long names never shift the counts. */
struct widths {
	int server, sni, client;
};

static void row_text(const struct read_summary *rs, const struct row *r, bool other,
		     char *server, size_t server_len, char *sni, size_t sni_len, char *client,
		     size_t client_len)
{
	if (other) {
		util_strlcpy(server, "(other)", server_len);
		util_strlcpy(client, "(other)", client_len);
		util_strlcpy(sni, "-", sni_len);
		return;
	}
	fmt_server(&r->key, server, server_len);
	util_format_ip(r->key.client_family, r->key.client_addr, client, client_len);
	if (r->sni_len)
		export_text_escape(rs->names + r->sni_off, sni, sni_len);
	else
		util_strlcpy(sni, "-", sni_len);
}

/*
 * A row's text columns, formatted once for both the widths and the line: server,
 * SNI (only as far as its column can ever show it) and client, in an arena.
 */
enum { TXT_SERVER, TXT_SNI, TXT_CLIENT, N_TXT };
#define TXT_MAX (80 + SNI_WIDTH + 64)

struct row_txt {
	const char *s[N_TXT];
	size_t n[N_TXT];
};

/* Format @r's columns at *@used in @arena, which has room for TXT_MAX more bytes. */
static void fill_txt(const struct read_summary *rs, const struct row *r, bool other,
		     char *arena, size_t *used, struct row_txt *t)
{
	char server[80], client[64], sni[SNI_WIDTH * 4 + 8];
	int i;

	row_text(rs, r, other, server, sizeof(server), sni, sizeof(sni), client, sizeof(client));
	t->s[TXT_SERVER] = server;
	t->n[TXT_SERVER] = strlen(server);
	t->s[TXT_SNI] = sni;
	t->n[TXT_SNI] = strnlen(sni, SNI_WIDTH);
	t->s[TXT_CLIENT] = client;
	t->n[TXT_CLIENT] = strlen(client);
	for (i = 0; i < N_TXT; i++) {
		memcpy(arena + *used, t->s[i], t->n[i]);
		t->s[i] = arena + *used;
		*used += t->n[i];
	}
}

static void widen(int *w, size_t len, int cap)
{
	int n = len > (size_t)cap ? cap : (int)len;

	if (n > *w)
		*w = n;
}

static void fit_row(struct widths *w, const struct row_txt *t)
{
	widen(&w->server, t->n[TXT_SERVER], 60);
	widen(&w->sni, t->n[TXT_SNI], SNI_WIDTH);
	widen(&w->client, t->n[TXT_CLIENT], 45);
}

/*
 * The CERT column: every problem the row's certificates had, "-" for none (or none in
 * the clear), and ACCEPTED when a client went on past one a verifying client refuses.
 */
static void cert_col(const struct row *r, struct line *l)
{
	const char *names[TLS_CERT_N_PROBLEMS];
	size_t i, n;

	n = tls_cert_problem_names(r->cert_problems, names);
	if (!n && !r->bad_accepted)
		put_bytes(l, "-", 1);
	for (i = 0; i < n; i++) {
		if (i)
			put_bytes(l, ",", 1);
		put_bytes(l, names[i], strlen(names[i]));
	}
	if (r->bad_accepted)
		put_bytes(l, " ACCEPTED", 9);
}

/*
 * The rows' lines, written out in large blocks: a fwrite() per line (its lock, its
 * copy) was a tenth of printing tens of thousands of rows.
 */
#define OUT_BLOCK (64 * 1024)
/* Rows fetched ahead of the one printed. */
#define PRINT_AHEAD 8

struct outbuf {
	FILE *out;
	char *buf;
	size_t n;
};

/* The columns of the header in read_summary__print(), in the same widths. */
static void print_row(struct outbuf *o, const struct widths *w, const struct row *r,
		      const struct row_txt *t)
{
	const char *lim = "-";
	struct line l;
	size_t n;

	if (OUT_BLOCK - o->n < LINE_MAX_BYTES) {
		fwrite(o->buf, 1, o->n, o->out);
		o->n = 0;
	}
	l.buf = o->buf + o->n;
	l.n = 0;

	if (r->lim_client && r->lim_server)
		lim = "both";
	else if (r->lim_client)
		lim = "client";
	else if (r->lim_server)
		lim = "server";
	put_pad(&l, t->s[TXT_SERVER], t->n[TXT_SERVER], w->server, true);
	put_bytes(&l, " ", 1);
	/* The SNI is cut at its column's width (bytes, as printf's precision). */
	n = t->n[TXT_SNI] < (size_t)w->sni ? t->n[TXT_SNI] : (size_t)w->sni;
	put_pad(&l, t->s[TXT_SNI], n, w->sni, true);
	put_bytes(&l, " ", 1);
	put_pad(&l, t->s[TXT_CLIENT], t->n[TXT_CLIENT], w->client, true);
	put_num(&l, r->by_ver[COL_SSL3], 5);
	put_num(&l, r->by_ver[COL_TLS10], 6);
	put_num(&l, r->by_ver[COL_TLS11], 6);
	put_num(&l, r->by_ver[COL_TLS12], 6);
	put_num(&l, r->by_ver[COL_TLS13], 6);
	put_num(&l, r->by_ver[COL_OTHER], 5);
	put_num(&l, r->legacy, 6);
	put_num(&l, r->weak, 4);
	put_bytes(&l, " ", 1);
	put_pad(&l, lim, strlen(lim), 10, true);
	put_num(&l, r->failed, 6);
	put_num(&l, r->plain_smtp, 5);
	put_bytes(&l, " ", 1);
	cert_col(r, &l);
	put_bytes(&l, "\n", 1);
	o->n += l.n;
}

int read_summary__print(struct read_summary *rs, FILE *out, const struct flow_stats *fs,
			const struct cap_file_stats *cs)
{
	struct sort_ent *order = NULL;
	struct row_txt *txt = NULL, other_txt;
	struct outbuf o = { .out = out };
	char *arena = NULL;
	size_t i, used = 0;

	drain(rs);
	o.buf = malloc(OUT_BLOCK);
	if (rs->n) {
		order = util_reallocarray(NULL, rs->n, sizeof(*order));
		txt = util_reallocarray(NULL, rs->n, sizeof(*txt));
		/* Sized for the longest columns; only what the rows use is ever touched. */
		arena = util_reallocarray(NULL, rs->n, TXT_MAX);
	}
	if (!o.buf || (rs->n && (!order || !txt || !arena))) {
		free(o.buf);
		free(order);
		free(txt);
		free(arena);
		return -ENOMEM;
	}
	if (rs->n) {
		for (i = 0; i < rs->n; i++)
			fill_txt(rs, &rs->rows[i], false, arena, &used, &txt[i]);
		sort_rows(rs, order);
	}
	if (rs->n || rs->have_other) {
		struct widths w = { 6, 3, 6 }; /* the header words */
		char other_arena[TXT_MAX];
		size_t other_used = 0;

		for (i = 0; i < rs->n; i++)
			fit_row(&w, &txt[i]);
		if (rs->have_other) {
			fill_txt(rs, &rs->other, true, other_arena, &other_used, &other_txt);
			fit_row(&w, &other_txt);
		}
		fprintf(out, "%-*s %-*s %-*s %5s %6s %6s %6s %6s %5s %6s %4s %-10s %6s %5s %s\n",
			w.server, "SERVER", w.sni, "SNI/MX", w.client, "CLIENT", "SSLv3", "TLS1.0",
			"TLS1.1", "TLS1.2", "TLS1.3", "OTHER", "LEGACY", "WEAK", "LIMITED_BY",
			"FAILED", "PLAIN", "CERT");
		for (i = 0; i < rs->n; i++) {
			/*
			 * Sorted, the rows come in no order of memory: fetch a few ahead
			 * (their counts and texts) rather than wait on a miss for each.
			 */
			if (i + PRINT_AHEAD < rs->n) {
				const struct row *a = order[i + PRINT_AHEAD].r;

				__builtin_prefetch(a);
				__builtin_prefetch((const char *)a + 64);
				__builtin_prefetch((const char *)a + 128);
				__builtin_prefetch(&txt[a - rs->rows]);
			}
			if (i + PRINT_AHEAD / 2 < rs->n) {
				const struct row_txt *t = &txt[order[i + PRINT_AHEAD / 2].r - rs->rows];

				__builtin_prefetch(t->s[TXT_SERVER]);
			}
			print_row(&o, &w, order[i].r, &txt[order[i].r - rs->rows]);
		}
		if (rs->have_other)
			print_row(&o, &w, &rs->other, &other_txt);
		fwrite(o.buf, 1, o.n, out);
		fputc('\n', out);
	} else {
		fprintf(out, "no TLS handshakes or SMTP sessions on the watched ports\n\n");
	}
	free(o.buf);
	free(order);
	free(txt);
	free(arena);

	fprintf(out,
		"total: %llu handshakes, %llu legacy (below TLS 1.2), %llu weak cipher, "
		"%llu failed, %llu plaintext SMTP, %llu not TLS, %llu malformed, %llu evictions\n",
		(unsigned long long)rs->handshakes, (unsigned long long)rs->legacy,
		(unsigned long long)rs->weak, (unsigned long long)rs->failed,
		(unsigned long long)rs->plain_smtp,
		(unsigned long long)fs->not_tls,
		(unsigned long long)(fs->invalid_tls + cs->decode_invalid),
		(unsigned long long)fs->evicted_flows);
	fprintf(out, "read: %llu packets, %llu not TCP/IP", (unsigned long long)cs->packets,
		(unsigned long long)cs->decode_skipped);
	if (cs->snapped)
		fprintf(out, ", %llu cut short by the capture's snaplen", (unsigned long long)cs->snapped);
	if (fs->cap_reached)
		fprintf(out, ", %llu streams past the per-direction byte cap",
			(unsigned long long)fs->cap_reached);
	fputc('\n', out);
	/*
	 * What the certificates showed, and the records whose certificate fields are null
	 * for a reason (not merely TLS 1.3).
	 */
	if (rs->cert_problems || fs->cert_truncated || fs->cert_invalid)
		fprintf(out, "certificates: %llu handshake%s with problems, %llu accepted by a "
			"client that should refuse; %llu server chain%s cut short (per-direction "
			"byte cap or connection end), %llu malformed\n",
			(unsigned long long)rs->cert_problems, rs->cert_problems == 1 ? "" : "s",
			(unsigned long long)rs->bad_accepted,
			(unsigned long long)fs->cert_truncated,
			fs->cert_truncated == 1 ? "" : "s", (unsigned long long)fs->cert_invalid);
	if (rs->have_other)
		fprintf(out, "note: more than %d server/client pairs; the rest are in (other)\n",
			MAX_ROWS);
	return ferror(out) ? -EIO : 0;
}

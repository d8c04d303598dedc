// SPDX-License-Identifier: GPL-2.0-only
/*
 * TCP reassembly of the first bytes of one direction (RFC 9293 section 3.10.7.4):
 * sequence numbers compared in serial-number arithmetic (RFC 1982), so streams that
 * wrap past 0xffffffff work; bytes already held win over later copies (retransmissions
 * and overlaps, as most stacks do); out-of-order data is kept as a few sorted ranges
 * inside the same capped buffer. Only the first @cap bytes of a stream are ever kept.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flow_int.h"

void flow_reasm_set_isn(struct reasm *r, uint32_t isn)
{
	/* A SYN seen after data (reordered capture) must not shift bytes already placed. */
	if (r->contig || r->n_ranges)
		return;
	/*
	 * A second SYN with another sequence number: a retransmitted SYN-ACK that carries
	 * a stale ISN (seen with TCP Fast Open), first or second. Keep both until the
	 * peer's ACK, or the first data, says which one holds.
	 */
	if (r->have_isn && r->isn != isn) {
		r->alt_isn = isn;
		r->isn_doubt = true;
		return;
	}
	r->isn = isn;
	r->have_isn = true;
}

/* The ISN in doubt is @isn: bytes placed from the other one were misplaced, drop them. */
static void settle(struct reasm *r, uint32_t isn)
{
	if (r->isn != isn) {
		r->isn = isn;
		r->contig = 0;
		r->n_ranges = 0;
	}
	r->isn_doubt = false;
}

void flow_reasm_ack(struct reasm *r, uint32_t ack)
{
	uint32_t d_isn = ack - r->isn, d_alt = ack - r->alt_isn;

	if (!r->isn_doubt)
		return;
	/*
	 * The peer acknowledges bytes from the ISN it took on: @ack is at or past it. A
	 * pure ACK says it exactly, but the bpf backend never passes those on, and the
	 * peer's first data segment may acknowledge bytes already: of the two ISNs, the
	 * nearest at or below @ack.
	 */
	if ((int32_t)d_alt >= 0 && ((int32_t)d_isn < 0 || d_alt < d_isn))
		settle(r, r->alt_isn);
	else if ((int32_t)d_isn >= 0)
		settle(r, r->isn);
}

/* A buffer of @n bytes, from the pool when one waits there. */
static uint8_t *buf_get(struct flow_mem *mem, uint32_t n)
{
	void *p;

	if (n % REASM_ALIGN || n > REASM_POOL_SIZE || !mem->pool[n / REASM_ALIGN])
		return malloc(n);
	p = mem->pool[n / REASM_ALIGN];
	memcpy(&mem->pool[n / REASM_ALIGN], p, sizeof(p));
	mem->pooled -= n;
	return p;
}

/* Give back a buffer of @n bytes: kept while the pool has room, else freed. */
static void buf_put(struct flow_mem *mem, uint8_t *p, uint32_t n)
{
	if (!p)
		return;
	if (n % REASM_ALIGN || n > REASM_POOL_SIZE || n < sizeof(void *) ||
	    mem->pooled + n > REASM_POOL_MAX) {
		free(p);
		return;
	}
	/* The list runs through the buffers' first bytes. */
	memcpy(p, &mem->pool[n / REASM_ALIGN], sizeof(void *));
	mem->pool[n / REASM_ALIGN] = p;
	mem->pooled += n;
}

void flow_reasm_pool_free(struct flow_mem *mem)
{
	size_t i;
	void *p, *next;

	for (i = 0; i < sizeof(mem->pool) / sizeof(mem->pool[0]); i++) {
		for (p = mem->pool[i]; p; p = next) {
			memcpy(&next, p, sizeof(next));
			free(p);
		}
		mem->pool[i] = NULL;
	}
	mem->pooled = 0;
}

void flow_reasm_free(struct reasm *r, struct flow_mem *mem)
{
	buf_put(mem, r->buf, r->alloc);
	mem->used -= r->alloc;
	r->buf = NULL;
	r->alloc = 0;
}

uint32_t flow_reasm_need(const struct reasm *r, uint32_t cap, uint32_t end)
{
	uint32_t n = r->alloc;

	if (end > cap)
		end = cap;
	if (!n) {
		n = (end + REASM_ALIGN - 1) & ~(uint32_t)(REASM_ALIGN - 1);
		if (n < REASM_MIN)
			n = REASM_MIN;
	}
	while (n < end && n < cap)
		n = n > cap / 2 ? cap : n * 2;
	return n < cap ? n : cap;
}

static int grow(struct reasm *r, struct flow_mem *mem, uint32_t cap, uint32_t end)
{
	uint32_t n;
	uint8_t *p;

	if (end <= r->alloc)
		return 0;
	n = flow_reasm_need(r, cap, end);
	if (mem->used + (n - r->alloc) > mem->budget)
		return -ENOBUFS;
	p = buf_get(mem, n);
	if (!p)
		return -ENOBUFS;
	/* Every byte, as realloc() would: ranges past the prefix are held too. */
	if (r->alloc)
		memcpy(p, r->buf, r->alloc);
	buf_put(mem, r->buf, r->alloc);
	mem->used += n - r->alloc;
	r->buf = p;
	r->alloc = n;
	return 0;
}

/*
 * Merge [start, end) into the sorted range list and fold whatever touches the
 * contiguous prefix into it. Works on a copy so a full list leaves @r untouched.
 */
static int add_range(struct reasm *r, uint32_t start, uint32_t end)
{
	struct reasm_range tmp[REASM_RANGES + 1];
	int n = 0, i, out = 0;
	bool placed = false;
	uint32_t contig;

	for (i = 0; i < r->n_ranges; i++) {
		if (!placed && start < r->r[i].start) {
			tmp[n++] = (struct reasm_range){ start, end };
			placed = true;
		}
		tmp[n++] = r->r[i];
	}
	if (!placed)
		tmp[n++] = (struct reasm_range){ start, end };

	/* Coalesce overlapping and adjacent ranges in place. */
	for (i = 1; i < n; i++) {
		if (tmp[i].start <= tmp[out].end) {
			if (tmp[i].end > tmp[out].end)
				tmp[out].end = tmp[i].end;
		} else {
			tmp[++out] = tmp[i];
		}
	}
	n = out + 1;

	i = 0;
	contig = r->contig;
	if (tmp[0].start <= contig) {
		if (tmp[0].end > contig)
			contig = tmp[0].end;
		i = 1;
	}
	if (n - i > REASM_RANGES)
		return -ENOSPC;
	r->contig = contig;
	r->n_ranges = (uint8_t)(n - i);
	memcpy(r->r, tmp + i, sizeof(tmp[0]) * (size_t)(n - i));
	return 0;
}

/* Copy the bytes of [start, end) not yet held: earlier copies are never overwritten. */
static void fill_holes(struct reasm *r, uint32_t start, uint32_t end, const uint8_t *data)
{
	uint32_t cur = start;
	int i;

	for (i = 0; i < r->n_ranges && cur < end; i++) {
		if (r->r[i].end <= cur)
			continue;
		if (r->r[i].start >= end)
			break;
		if (r->r[i].start > cur)
			memcpy(r->buf + cur, data + (cur - start), r->r[i].start - cur);
		cur = r->r[i].end;
	}
	if (cur < end)
		memcpy(r->buf + cur, data + (cur - start), end - cur);
}

int64_t flow_reasm_insert(struct reasm *r, struct flow_mem *mem, uint32_t cap, uint32_t seq,
			  const uint8_t *data, uint32_t len)
{
	uint32_t rel, skip, start, end;
	uint64_t end64;
	int err;

	if (!len)
		return r->contig;
	/* Mid-stream start: the first data seen is byte 0. */
	if (!r->have_isn) {
		r->isn = seq;
		r->have_isn = true;
	}
	/*
	 * Data that starts right at one of two ISNs in doubt settles it, though the peer's
	 * ACK has not come yet: the server's first bytes may arrive before it.
	 */
	if (r->isn_doubt && seq == r->alt_isn)
		settle(r, r->alt_isn);
	else if (r->isn_doubt && seq == r->isn)
		settle(r, r->isn);
	rel = seq - r->isn;
	if ((int32_t)rel < 0) {
		/*
		 * Starts before byte 0 (a retransmitted SYN payload, say): keep the tail.
		 * Negated unsigned: rel may be 2^31, which int32_t cannot negate.
		 */
		skip = -rel;
		if (skip >= len)
			return r->contig;
		data += skip;
		len -= skip;
		rel = 0;
	}
	if (rel >= cap)
		return r->contig;
	end64 = (uint64_t)rel + len;
	end = end64 > cap ? cap : (uint32_t)end64;
	if (end <= r->contig)
		return r->contig;
	start = rel > r->contig ? rel : r->contig;
	data += start - rel;

	err = grow(r, mem, cap, end);
	if (err) {
		r->want = end;
		return err;
	}
	/*
	 * Bytes copied for a segment that add_range() then refuses lie outside every
	 * tracked range, so they are simply overwritten by whichever copy comes later.
	 */
	fill_holes(r, start, end, data);
	err = add_range(r, start, end);
	if (err)
		return err;
	return r->contig;
}

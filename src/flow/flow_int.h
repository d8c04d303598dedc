/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Flow module internals shared by table.c (hash table, lists, bounds: the only file
 * that acts on flows), session.c (roles, TLS hand-off, the record), smtp.c (the SMTP
 * phase up to STARTTLS) and reasm.c (TCP reassembly of one direction). Calls go one
 * way: table -> session -> smtp, reasm. Not part of include/tlsaudit/flow.h.
 */
#ifndef TLSAUDIT_FLOW_INT_H
#define TLSAUDIT_FLOW_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "tlsaudit/flow.h"
#include "tlsaudit/tls.h"

#define FLOW_NIL UINT32_MAX

/* Out-of-order ranges kept per direction; more holes than this drop the segment. */
#define REASM_RANGES 8
/*
 * A direction's first buffer fits its first bytes (rounded up to REASM_ALIGN, at least
 * REASM_MIN), then doubles up to dir_cap. A flow that sent a ClientHello and waits holds
 * about its size (576 bytes for a 517-byte hello) rather than a fixed 2 KiB: 100,000
 * such flows fit in the default buffer budget.
 */
#define REASM_ALIGN 64
#define REASM_MIN 256

/*
 * Buffers given back are kept for the next flow, by size (every size is REASM_ALIGN
 * times a count, up to REASM_POOL_SIZE), rather than returned to malloc: a buffer of
 * each size came and went with every flow, and malloc's bookkeeping for sizes past its
 * per-thread cache, with a copy at each doubling, was a twelfth of `read`. At most
 * REASM_POOL_MAX bytes wait there; they are not counted against the budget.
 */
#define REASM_POOL_SIZE 16384
#define REASM_POOL_MAX (4u << 20)

/* Global accounting of reassembly buffer bytes against flow_config.mem_budget. */
struct flow_mem {
	uint64_t used;
	uint64_t budget;
	uint64_t pooled;
	void *pool[REASM_POOL_SIZE / REASM_ALIGN + 1]; /* free lists by size / REASM_ALIGN */
};

struct reasm_range {
	uint32_t start, end; /* stream offsets, start > contig */
};

/* One direction of a TCP stream: the first @cap bytes, offsets relative to the ISN. */
struct reasm {
	uint8_t *buf;
	uint32_t alloc;
	uint32_t contig; /* bytes [0, contig) are present */
	uint32_t isn;	 /* sequence number of stream byte 0 */
	uint32_t alt_isn; /* another SYN's, until the peer's ACK or the data says which holds */
	bool have_isn;
	bool isn_doubt;
	uint8_t n_ranges;
	struct reasm_range r[REASM_RANGES];
	uint32_t want; /* the end the last insert could not grow the buffer to (-ENOBUFS) */
};

/*
 * The application_data records of one direction begun at or after @mark, a stream
 * offset taken at a point of the other direction's progress (outcome.c): TLS 1.3 seals
 * everything after the hellos, so the order of the two sides' records and their
 * lengths are all the evidence there is.
 */
struct flow_since {
	uint32_t mark;
	uint16_t first_len; /* the first one's length */
	uint8_t n;	    /* records begun at or after @mark (from their header), saturating */
	bool set;
};

/* flow_dir.since[]: the client's after the ServerHello, the server's after its hello. */
#define SINCE_HELLO 0
/* The server's after the client's sealed flight; the client's after the server's reply. */
#define SINCE_PEER 1

enum dir_status {
	DIR_PENDING = 0,
	DIR_DONE,   /* the parser saw everything it wants from this direction */
	DIR_CAPPED, /* dir_cap reached before the hello was complete */
};

struct flow_dir {
	struct reasm r;
	struct tls_tail tail; /* records after the hellos, relative to tls_off + tail_off */
	uint32_t tail_off;    /* where the hellos ended (tls_stream.consumed) */
	uint32_t tls_off;  /* first TLS byte (after the SMTP STARTTLS exchange) */
	uint32_t line_off; /* SMTP: bytes consumed as complete lines */
	uint32_t parsed;   /* contig at the last parse, to skip work when nothing grew */
	uint32_t need;	   /* TLS bytes the last walk waits for (tls_stream.need) */
	/*
	 * The last walk of this direction, in the table's walk slot @slot while that slot's
	 * generation is still walk_gen: a walk of more bytes goes on from where it stopped
	 * (tls_stream_resume()), and the record reads it instead of walking again.
	 */
	uint64_t walk_gen;
	uint32_t slot;
	uint32_t walk_contig;
	int8_t walk_rc;
	bool walk_certs;   /* the Certificate message was read too */
	uint8_t status;	   /* enum dir_status */
	bool fin;
	bool rst;
	bool invalid;	   /* bytes the TLS parser could not read (counted once) */
	bool full;	   /* dir_cap reached: no later byte of this direction is seen */
	/* outcome.c's walk of the tail's record headers */
	bool rec_open;	   /* the record at rec_pos was counted; its body is not whole */
	uint32_t rec_pos;  /* stream offset of the next record header */
	struct flow_since since[2];
};

/* How the handshake ended, once the wire has shown it (outcome.c). */
struct flow_outcome {
	bool decided;
	uint8_t outcome; /* enum hs_outcome */
	uint8_t by;	 /* enum hs_side */
	bool has_alert;
	uint8_t alert;
};

enum flow_mode {
	MODE_UNKNOWN = 0, /* 25/587 before the first bytes tell SMTP from implicit TLS */
	MODE_TLS,	  /* TLS from byte 0 (dir.tls_off == 0) */
	MODE_SMTP,	  /* SMTP command/reply lines */
	MODE_STARTTLS,	  /* SMTP upgraded: TLS from dir.tls_off */
	MODE_PLAIN,	  /* SMTP that will not upgrade: waiting for the end to report it */
};

/* What the session wants the table to do after a segment. */
enum flow_act {
	FLOW_ACT_MORE = 0,  /* keep feeding the flow */
	FLOW_ACT_DONE,	    /* no more bytes wanted, nothing to report (not TLS, malformed) */
	FLOW_ACT_EMIT,	    /* report the record now; no more bytes wanted */
	FLOW_ACT_NEED_MEM,  /* st->need_mem more buffer bytes: make room, feed it again */
};

/* Per-connection state while bytes are still wanted; freed when the flow is done. */
struct flow_state {
	struct flow_dir dir[2]; /* [0]: sent by endpoint 0 (live: the local socket) */
	int8_t client;		/* index of the client's direction, -1 while unknown */
	uint8_t mode;		/* enum flow_mode */
	bool smtp_seen;		/* at least one SMTP line went by */
	bool in_reply;		/* inside a multi-line SMTP reply */
	bool syn_seen;
	uint32_t replies;	/* complete SMTP replies (the greeting is reply 0) */
	uint32_t cmds;		/* SMTP command lines from the client */
	int32_t starttls_cmd;	/* index of a STARTTLS command awaiting its reply, else -1 */
	uint32_t starttls_end;	/* client offset after the STARTTLS line */
	uint64_t ch_ns, sh_ns, smtp_ns;
	/* TLS: what the hellos said, kept for the outcome rules */
	bool have_ch, have_sh;
	uint16_t version;	/* the ServerHello's, supported_versions aware */
	int8_t first_fin;	/* direction index of the first FIN, -1 while none */
	struct flow_outcome oc;
	/* TLS <= 1.2: the server's leaf, judged once both first flights are whole */
	bool cert_judged;
	uint32_t cert_problems;
	uint8_t cert_sha256[32];	/* its key in the table's certificate cache */
	/* SMTP: the lifecycle of STARTTLS (smtp.c) */
	int32_t ehlo_cmd;	/* index of the last EHLO command, -1 while none */
	bool starttls_offered;	/* the EHLO reply listed STARTTLS */
	bool starttls_asked;
	bool starttls_refused;	/* the reply to STARTTLS was not 220 */
	char mx_host[HS_MX_HOST_MAX];
	uint8_t act;		/* enum flow_act: the first end decided wins */
	uint32_t need_mem;	/* with FLOW_ACT_NEED_MEM */
};

/* flow_sess_end - the session has decided how this flow ends (the first decision holds). */
static inline void flow_sess_end(struct flow_state *st, enum flow_act act)
{
	if (st->act == FLOW_ACT_MORE)
		st->act = (uint8_t)act;
}

/*
 * Directions holding a walk at once; beyond it they share two states. 4.6 KiB each:
 * 4.7 MiB at most, for 512 handshakes in flight.
 */
#define WALK_SLOTS_MAX 1024

struct walk_slot {
	uint64_t gen;	    /* the walk it holds (flow_dir.walk_gen), 0: none */
	uint32_t next_free; /* free list, while gen == 0 */
	struct tls_stream ts;
};

/* Hash table entry; a done flow keeps only this (st == NULL), a small tombstone. */
struct flow_entry {
	uint64_t cookie;
	uint64_t last_ns;
	struct flow_state *st;
	uint32_t hnext;	     /* hash chain or free list */
	uint32_t prev, next; /* LRU list: active or done */
	uint32_t hash;
	uint8_t family;
	uint8_t flags; /* ENT_* */
	uint16_t port[2];
	uint8_t addr[2][16];
};

#define ENT_USED 0x01
#define ENT_COOKIE 0x02
#define ENT_DONE 0x04
#define ENT_FIN0 0x08
#define ENT_FIN1 0x10
#define ENT_DONECB 0x20

struct flow_list {
	uint32_t head, tail; /* head is the least recently used */
};

struct flow_table {
	struct flow_config cfg;
	flow_record_fn record_cb;
	flow_done_fn done_cb;
	void *ctx;
	struct flow_stats stats;
	struct flow_mem mem;
	uint64_t seed;
	uint32_t hkey[10];  /* the offline 4-tuple hash's keys, from seed */
	uint32_t *buckets;
	uint32_t bucket_mask;
	uint32_t bucket_max; /* the table grows up to this many buckets */
	/* cfg.ports as a bitmap: two tests per packet, before anything else. */
	uint64_t watched[65536 / 64];
	struct flow_entry *ent;
	uint32_t n_ent;	  /* entries in use */
	uint32_t free_ent; /* free list head */
	uint32_t n_fresh;  /* entries [n_fresh, max_flows) were never used */
	struct flow_list active, done;
	uint32_t cur; /* entry being processed: never evicted under its own feet */
	/*
	 * Parser states (session.c): one per flow direction from a pool that grows up to
	 * WALK_SLOTS_MAX, so that a direction's walk survives the other flows' packets
	 * until its record; slots 0 and 1 (client, server) are shared by the directions
	 * that find the pool empty, which then walk from byte 0 each time.
	 */
	struct walk_slot **slots;
	uint32_t n_slots;
	uint32_t free_slot; /* free list through walk_slot.next_free, FLOW_NIL: empty */
	uint64_t walk_gen;  /* walks so far */
	/* Scratch shared by all flows: one per table. */
	uint8_t *scratch;
	uint32_t scratch_cap;
	/* Decoded server certificates by fingerprint: one X.509 decode per distinct leaf. */
	struct tls_cert_cache *certs;
	/* JA3/JA4 by ClientHello: fingerprinted once per distinct hello. */
	struct tls_fp_cache *fps;
};

/*
 * flow_reasm_insert - store @len bytes at sequence @seq (first copy wins, bytes past
 * @cap dropped). Returns the new contiguous length, -ENOBUFS when the buffer cannot
 * grow within the budget (nothing stored), or -ENOSPC when the segment leaves a hole
 * and no range slot is free (nothing stored; counted by the caller).
 */
int64_t flow_reasm_insert(struct reasm *r, struct flow_mem *mem, uint32_t cap, uint32_t seq,
			  const uint8_t *data, uint32_t len);
/* flow_reasm_set_isn - stream byte 0 is @isn (SYN seq + 1); ignored once data is held. */
void flow_reasm_set_isn(struct reasm *r, uint32_t isn);
/*
 * flow_reasm_ack - the peer acknowledged @ack: of two candidate ISNs keep the nearest at
 * or below it, the one it took (bytes placed from the other are dropped).
 */
void flow_reasm_ack(struct reasm *r, uint32_t ack);
/* flow_reasm_free - release the buffer and its budget. */
void flow_reasm_free(struct reasm *r, struct flow_mem *mem);
/* flow_reasm_pool_free - release the buffers kept for reuse. */
void flow_reasm_pool_free(struct flow_mem *mem);
/* flow_reasm_need - bytes a buffer would have after growing to hold @end bytes. */
uint32_t flow_reasm_need(const struct reasm *r, uint32_t cap, uint32_t end);

/*
 * flow_sess_segment - feed a segment of direction @d to an active flow; what the table
 * should do next. With FLOW_ACT_NEED_MEM nothing of the segment was kept.
 */
enum flow_act flow_sess_segment(struct flow_table *ft, struct flow_entry *e, int d,
				const struct flow_segment *seg);
/*
 * flow_sess_record - the record the flow owes when it ends (a partial hello, a
 * plaintext SMTP session), in @rec; false when it owes none.
 */
bool flow_sess_record(struct flow_table *ft, struct flow_entry *e, struct hs_record *rec);
/* flow_sess_init - the table's two shared walk slots; -ENOMEM. */
int flow_sess_init(struct flow_table *ft);
/* flow_sess_release - give back the walk slots of a flow whose state is freed. */
void flow_sess_release(struct flow_table *ft, struct flow_state *st);
/* flow_sess_fini - free every walk slot. */
void flow_sess_fini(struct flow_table *ft);

/*
 * flow_outcome_decide - how the handshake of @st ended, from both directions' tails,
 * RST and FIN; with @final (the flow ends now) it always decides (timeout at worst).
 * True once st->oc is decided.
 */
bool flow_outcome_decide(struct flow_state *st, bool final);

/* flow_smtp_port - 25 and 587: SMTP with STARTTLS, unless the first byte is TLS. */
bool flow_smtp_port(uint16_t port);
/* flow_smtp_run - consume the SMTP lines both directions hold; may switch to STARTTLS. */
void flow_smtp_run(struct flow_table *ft, struct flow_state *st, uint64_t ts_ns);

#endif /* TLSAUDIT_FLOW_INT_H */

// SPDX-License-Identifier: GPL-2.0-only
/*
 * The SMTP phase of a connection on 25/587: command and reply lines up to STARTTLS
 * (RFC 3207 section 4, reply syntax RFC 5321 section 4.2). It either hands the flow to
 * TLS (mode MODE_STARTTLS, with each direction's first TLS byte) or ends it with an
 * action for the table (a plaintext session to report, or not SMTP at all).
 *
 * All stream bytes are peer-controlled; they are read through struct tls_cursor.
 */
#include <string.h>
#include <strings.h>

#include "flow_int.h"
#include "tlsaudit/cursor.h"
#include "tlsaudit/util.h"

/* Longest SMTP line we wait for (RFC 5321 4.5.3.1.4 allows 1000 with CRLF). */
#define SMTP_LINE_MAX 2048

bool flow_smtp_port(uint16_t port)
{
	return port == 25 || port == 587;
}

/* The next complete line at *@off, as a cursor; false while the line is incomplete. */
static bool next_line(const struct reasm *r, uint32_t *off, struct tls_cursor *line)
{
	struct tls_cursor c;
	const uint8_t *nl;
	size_t n;

	if (*off >= r->contig)
		return false;
	cur_init(&c, r->buf + *off, r->contig - *off);
	nl = memchr(cur_ptr(&c), '\n', cur_left(&c));
	if (!nl)
		return false;
	n = (size_t)(nl - cur_ptr(&c)) + 1;
	cur_sub(&c, n, line);
	*off += (uint32_t)n;
	return true;
}

/* No newline in sight: wait, unless the line can never end within our bytes. */
static bool line_stuck(const struct flow_table *ft, const struct flow_dir *dir)
{
	uint32_t pending = dir->r.contig - dir->line_off;

	return pending > SMTP_LINE_MAX || dir->r.contig >= ft->cfg.dir_cap;
}

/* The stream is not the SMTP we expected: report what was SMTP, once, and stop. */
static void give_up(struct flow_table *ft, struct flow_state *st)
{
	if (st->smtp_seen) {
		flow_sess_end(st, FLOW_ACT_EMIT);
	} else {
		ft->stats.not_tls++;
		flow_sess_end(st, FLOW_ACT_DONE);
	}
}

static void saw(struct flow_state *st, uint64_t ts_ns)
{
	if (!st->smtp_seen) {
		st->smtp_seen = true;
		st->smtp_ns = ts_ns;
	}
}

/* The first word of a reply line's text (@line is past "NNN-"), host characters only. */
static void reply_word(struct tls_cursor *line, char *out, size_t cap)
{
	size_t n = 0;
	uint8_t b;

	while (cur_left(line) && n + 1 < cap) {
		b = cur_u8(line);
		if (!((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
		      b == '.' || b == '-' || b == '_' || b == ':' || b == '[' || b == ']'))
			break;
		out[n++] = (char)b;
	}
	out[n] = '\0';
}

/*
 * What a reply line says about TLS: the greeting (reply 0, RFC 5321 4.3.1) names the
 * server, as the providers' logs show mx-host; the EHLO reply lists its extensions,
 * STARTTLS among them (RFC 3207 section 4) on a line of its own.
 */
static void reply_line(struct flow_state *st, uint32_t idx, const struct tls_cursor *line)
{
	struct tls_cursor c = *line;
	char word[HS_MX_HOST_MAX];

	if (idx == 0 && !st->in_reply && !st->mx_host[0]) {
		reply_word(&c, st->mx_host, sizeof(st->mx_host));
		return;
	}
	if (st->ehlo_cmd < 0 || idx != (uint32_t)st->ehlo_cmd + 1)
		return;
	reply_word(&c, word, sizeof(word));
	/* No usable greeting: the EHLO reply's first line names the server too. */
	if (!st->in_reply && !st->mx_host[0])
		util_strlcpy(st->mx_host, word, sizeof(st->mx_host));
	if (!strcasecmp(word, "STARTTLS"))
		st->starttls_offered = true;
}

/*
 * Server replies (RFC 5321 section 4.2): "NNN-text" continues a reply, "NNN text" or
 * "NNN" ends it. Reply k + 1 answers client command k (reply 0 is the greeting), so
 * the reply to STARTTLS is known by counting; a server cannot be ahead of the
 * commands it has seen, which keeps TLS bytes after the 220 from being read as lines.
 */
static bool server_lines(struct flow_table *ft, struct flow_state *st, uint64_t ts_ns)
{
	int s = 1 - st->client;
	struct flow_dir *dir = &st->dir[s];
	struct tls_cursor line;
	uint8_t code[4];
	bool moved = false, last;
	uint32_t idx;

	while (st->mode == MODE_SMTP && st->act == FLOW_ACT_MORE) {
		if (!st->in_reply && st->replies > st->cmds)
			break;
		if (!next_line(&dir->r, &dir->line_off, &line)) {
			if (line_stuck(ft, dir))
				give_up(ft, st);
			break;
		}
		moved = true;
		/* "NNN\n" is the shortest reply line; anything shorter zeroes @code. */
		cur_bytes(&line, code, 4);
		if (code[0] < '1' || code[0] > '5' || code[1] < '0' || code[1] > '9' ||
		    code[2] < '0' || code[2] > '9') {
			give_up(ft, st);
			break;
		}
		saw(st, ts_ns);
		last = code[3] != '-';
		reply_line(st, st->replies, &line);
		st->in_reply = !last;
		if (!last)
			continue;
		idx = st->replies++;
		if (st->starttls_cmd < 0 || idx != (uint32_t)st->starttls_cmd + 1)
			continue;
		if (code[0] == '2' && code[1] == '2' && code[2] == '0') {
			/*
			 * RFC 3207 section 4: TLS starts right after the 220 reply. Any
			 * other, 250 included, is no go-ahead: a client that goes on in
			 * plaintext after it is a plaintext session.
			 */
			st->mode = MODE_STARTTLS;
			dir->tls_off = dir->line_off;
			st->dir[st->client].tls_off = st->starttls_end;
			break;
		}
		/* Refused (454, 501, 250...): the client goes on in plaintext. */
		st->starttls_refused = true;
		st->starttls_cmd = -1;
	}
	return moved;
}

/* The verb of a command line, upper-cased, at most @cap - 1 characters. */
static void command_verb(struct tls_cursor *line, char *verb, size_t cap)
{
	size_t n = 0;
	uint8_t b;

	while (cur_left(line) && n + 1 < cap) {
		b = cur_u8(line);
		if (b == ' ' || b == '\r' || b == '\n' || b == '\t')
			break;
		verb[n++] = (char)(b >= 'a' && b <= 'z' ? b - 'a' + 'A' : b);
	}
	verb[n] = '\0';
}

/* Client commands (RFC 5321 section 4.1); stops at STARTTLS until its reply is known. */
static bool client_lines(struct flow_table *ft, struct flow_state *st, uint64_t ts_ns)
{
	static const char *const mail_verbs[] = { "MAIL", "RCPT", "DATA", "BDAT", "QUIT" };
	struct flow_dir *dir = &st->dir[st->client];
	struct tls_cursor line;
	bool moved = false;
	char verb[16];
	size_t i;

	while (st->mode == MODE_SMTP && st->act == FLOW_ACT_MORE && st->starttls_cmd < 0) {
		if (!next_line(&dir->r, &dir->line_off, &line)) {
			if (line_stuck(ft, dir))
				give_up(ft, st);
			break;
		}
		moved = true;
		saw(st, ts_ns);
		st->cmds++;
		command_verb(&line, verb, sizeof(verb));
		if (!strcmp(verb, "EHLO"))
			st->ehlo_cmd = (int32_t)(st->cmds - 1);
		if (!strcmp(verb, "STARTTLS")) {
			st->starttls_asked = true;
			st->starttls_cmd = (int32_t)(st->cmds - 1);
			st->starttls_end = dir->line_off;
			break;
		}
		/*
		 * A mail transaction or QUIT without STARTTLS: this session stays in
		 * plaintext (RFC 3207 section 4.2 allows STARTTLS only before it).
		 */
		for (i = 0; i < ARRAY_SIZE(mail_verbs); i++) {
			if (!strcmp(verb, mail_verbs[i])) {
				flow_sess_end(st, FLOW_ACT_EMIT);
				break;
			}
		}
	}
	return moved;
}

void flow_smtp_run(struct flow_table *ft, struct flow_state *st, uint64_t ts_ns)
{
	bool moved = true;

	while (moved && st->act == FLOW_ACT_MORE && st->mode == MODE_SMTP) {
		moved = server_lines(ft, st, ts_ns);
		moved |= client_lines(ft, st, ts_ns);
	}
}

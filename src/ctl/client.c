// SPDX-License-Identifier: GPL-2.0-only
/* Control socket client: connect, send a request line, read reply lines. */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tlsaudit/ctl.h"
#include "tlsaudit/util.h"

/* A report of 4096 rows fits in a few MiB; a longer line is not from our daemon. */
#define LINE_MAX_BYTES (16u << 20)

struct ctl_conn {
	int fd;
	char *buf;
	size_t len, cap;
	size_t consumed; /* bytes of the line handed out last time */
};

struct ctl_conn *ctl_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_conn *c;
	char why[128];
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "no daemon at %s: socket path too long", path);
		return NULL;
	}
	util_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		if (fd >= 0)
			close(fd);
		util_strlcpy(why, strerror(e), sizeof(why));
		why[0] = (char)tolower((unsigned char)why[0]);
		if (e == EACCES)
			snprintf(err, errlen,
				 "no access to daemon at %s: %s (run as root or a member of group "
				 "%s)", path, why, CTL_GROUP);
		else
			snprintf(err, errlen,
				 "no daemon at %s: %s (is tlsaudit.service running?)", path, why);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = fd;
	return c;
}

void ctl_close(struct ctl_conn *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c->buf);
	free(c);
}

int ctl_conn_fd(const struct ctl_conn *c)
{
	return c->fd;
}

int ctl_send(struct ctl_conn *c, const char *req)
{
	size_t len = strlen(req), off = 0;
	char nl = '\n';

	while (off < len) {
		ssize_t n = send(c->fd, req + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	while (send(c->fd, &nl, 1, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int ctl_read_line(struct ctl_conn *c, const char **line, size_t *len, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	char *nl;
	ssize_t n;

	if (c->consumed) {
		memmove(c->buf, c->buf + c->consumed, c->len - c->consumed);
		c->len -= c->consumed;
		c->consumed = 0;
	}
	for (;;) {
		nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
		if (nl) {
			*nl = '\0';
			*line = c->buf;
			*len = (size_t)(nl - c->buf);
			c->consumed = *len + 1;
			return 0;
		}
		if (c->len >= LINE_MAX_BYTES)
			return -EMSGSIZE;
		if (c->cap - c->len < 65536) {
			size_t ncap = c->cap ? c->cap * 2 : 131072;
			char *tmp = realloc(c->buf, ncap);

			if (!tmp)
				return -ENOMEM;
			c->buf = tmp;
			c->cap = ncap;
		}
		n = poll(&pfd, 1, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		c->len += (size_t)n;
	}
}

void ctl_reply_free(struct ctl_reply *rep)
{
	size_t i;

	for (i = 0; i < rep->n_rows; i++)
		free(rep->rows[i]);
	for (i = 0; i < rep->n_hs; i++)
		free(rep->hs[i]);
	free(rep->rows);
	free(rep->hs);
	free(rep->header);
	free(rep->header_line);
	memset(rep, 0, sizeof(*rep));
}

/* read_lines - @n lines into a new array at *@out. */
static int read_lines(struct ctl_conn *c, size_t n, char ***out, size_t *got, int timeout_ms)
{
	const char *line;
	size_t len, i;
	int ret;

	*out = NULL;
	*got = 0;
	if (!n)
		return 0;
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		ret = ctl_read_line(c, &line, &len, timeout_ms);
		if (ret)
			return ret;
		(*out)[i] = strndup(line, len);
		if (!(*out)[i])
			return -ENOMEM;
		*got = i + 1;
	}
	return 0;
}

int ctl_query(struct ctl_conn *c, const char *req, struct ctl_reply *rep, int timeout_ms,
	      char *err, size_t errlen)
{
	const char *line;
	size_t len;
	int64_t n_rows, n_hs;
	int ret;

	memset(rep, 0, sizeof(*rep));
	ret = ctl_send(c, req);
	if (ret) {
		snprintf(err, errlen, "sending the request: %s", strerror(-ret));
		return ret;
	}
	ret = ctl_read_line(c, &line, &len, timeout_ms);
	if (ret) {
		snprintf(err, errlen, "reading the reply: %s",
			 ret == -EPIPE ? "the daemon closed the connection" : strerror(-ret));
		return ret;
	}
	rep->header = malloc(sizeof(*rep->header));
	rep->header_line = strndup(line, len);
	if (!rep->header || !rep->header_line) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (ctl_json_parse((const uint8_t *)line, len, rep->header)) {
		ret = -EPROTO;
		snprintf(err, errlen, "the reply is not a JSON object");
		goto fail;
	}
	if (!ctl_json_bool(rep->header, "ok", false)) {
		ret = -EPROTO;
		snprintf(err, errlen, "daemon: %s", ctl_json_str(rep->header, "error", "error"));
		goto fail;
	}
	n_rows = ctl_json_num(rep->header, "n_rows", 0);
	n_hs = ctl_json_num(rep->header, "n_handshakes", 0);
	if (n_rows < 0 || n_hs < 0 || n_rows > 1000000 || n_hs > 1000000) {
		ret = -EPROTO;
		snprintf(err, errlen, "implausible line counts in the reply");
		goto fail;
	}
	ret = read_lines(c, (size_t)n_rows, &rep->rows, &rep->n_rows, timeout_ms);
	if (!ret)
		ret = read_lines(c, (size_t)n_hs, &rep->hs, &rep->n_hs, timeout_ms);
	if (ret) {
		snprintf(err, errlen, "reading the reply: %s",
			 ret == -EPIPE ? "the daemon closed the connection" : strerror(-ret));
		goto fail;
	}
	return 0;
fail:
	ctl_reply_free(rep);
	return ret;
}

void ctl_fmt_age(int64_t secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		snprintf(buf, len, "%llds", (long long)secs);
	else if (secs < 7200)
		snprintf(buf, len, "%lldm", (long long)(secs / 60));
	else if (secs < 172800)
		snprintf(buf, len, "%lldh", (long long)(secs / 3600));
	else
		snprintf(buf, len, "%lldd", (long long)(secs / 86400));
}

void ctl_fmt_uptime(int64_t secs, char *buf, size_t len)
{
	if (secs < 0)
		secs = 0;
	if (secs >= 86400)
		snprintf(buf, len, "%lldd %02lld:%02lld:%02lld", (long long)(secs / 86400),
			 (long long)(secs / 3600 % 24), (long long)(secs / 60 % 60),
			 (long long)(secs % 60));
	else
		snprintf(buf, len, "%02lld:%02lld:%02lld", (long long)(secs / 3600),
			 (long long)(secs / 60 % 60), (long long)(secs % 60));
}

static void copy_str(const struct ctl_json *j, const char *key, char *dst, size_t len)
{
	util_strlcpy(dst, ctl_json_str(j, key, ""), len);
}

/*
 * add_num - @*sum plus the number at @key, saturating: the counts come from a daemon's
 * answer (from its state file, which any bytes may have become), and summing two huge
 * ones must not overflow.
 */
static void add_num(const struct ctl_json *j, const char *key, int64_t *sum)
{
	int64_t v = ctl_json_num(j, key, 0);

	if (__builtin_add_overflow(*sum, v, sum))
		*sum = v > 0 ? INT64_MAX : INT64_MIN;
}

/* parse_failures - the failure fields of a row (agg_row_json, put_failures). */
static void parse_failures(const struct ctl_json *j, struct ctl_row *row)
{
	static const char *const outcomes[4] = { "alert", "reset", "closed", "timeout" };
	static const char pfx[] = "failures_by_alert.";
	char key[CTL_JSON_KEY];
	int i;

	row->failures = ctl_json_num(j, "failures", 0);
	for (i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "failures_by_outcome.%s.client", outcomes[i]);
		add_num(j, key, &row->failed_by_client);
		add_num(j, key, &row->failed[i]);
		snprintf(key, sizeof(key), "failures_by_outcome.%s.server", outcomes[i]);
		add_num(j, key, &row->failed_by_server);
		add_num(j, key, &row->failed[i]);
		snprintf(key, sizeof(key), "failures_by_outcome.%s.unknown", outcomes[i]);
		add_num(j, key, &row->failed[i]);
	}
	row->failed[3] = ctl_json_num(j, "failures_by_outcome.timeout", 0);
	row->failures_legacy_offer = ctl_json_num(j, "failures_legacy_offer", 0);
	/* failures_by_alert.SIDE.NAME: the names are data, so walk the members. */
	for (i = 0; i < j->n && row->n_alerts < CTL_ROW_ALERTS; i++) {
		const struct ctl_json_member *m = &j->m[i];
		struct ctl_row_alert *al = &row->alerts[row->n_alerts];
		const char *side = m->key + sizeof(pfx) - 1, *dot;

		if (m->type != CTL_JSON_NUM || strncmp(m->key, pfx, sizeof(pfx) - 1))
			continue;
		dot = strchr(side, '.');
		if (!dot || (size_t)(dot - side) >= sizeof(al->by))
			continue;
		memcpy(al->by, side, (size_t)(dot - side));
		al->by[dot - side] = '\0';
		util_strlcpy(al->name, dot + 1, sizeof(al->name));
		al->count = m->num;
		row->n_alerts++;
	}
	copy_str(j, "last_failure.time", row->last_fail.time, sizeof(row->last_fail.time));
	row->last_fail.time_s = ctl_json_num(j, "last_failure.time_s", 0);
	copy_str(j, "last_failure.outcome", row->last_fail.outcome, sizeof(row->last_fail.outcome));
	copy_str(j, "last_failure.by", row->last_fail.by, sizeof(row->last_fail.by));
	copy_str(j, "last_failure.alert", row->last_fail.alert, sizeof(row->last_fail.alert));
	copy_str(j, "last_failure.offered_max", row->last_fail.offered_max,
		 sizeof(row->last_fail.offered_max));
	copy_str(j, "last_failure.peer", row->last_fail.peer, sizeof(row->last_fail.peer));
	copy_str(j, "last_failure.sni", row->last_fail.sni, sizeof(row->last_fail.sni));
}

/* parse_smtp - SMTP sessions by smtp_tls and the plaintext fallbacks of a row. */
static void parse_smtp(const struct ctl_json *j, struct ctl_row *row)
{
	static const char *const reasons[5] = { "starttls", "not_offered", "not_used", "refused",
						"unknown" };
	char key[CTL_JSON_KEY];
	int i;

	for (i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "smtp_tls.%s", reasons[i]);
		row->smtp[i] = ctl_json_num(j, key, 0);
	}
	for (i = 1; i < 4; i++) {
		snprintf(key, sizeof(key), "plaintext_fallback.%s", reasons[i]);
		row->fallback[i] = ctl_json_num(j, key, 0);
	}
	row->fallback[4] = ctl_json_num(j, "plaintext_fallback.total", 0);
	copy_str(j, "last_plaintext_peer", row->plain_peer, sizeof(row->plain_peer));
	copy_str(j, "last_mx_host", row->mx_host, sizeof(row->mx_host));
}

/* parse_policy - the row's verdicts under the requested policy, when the reply has them. */
static void parse_policy(const struct ctl_json *j, struct ctl_row_policy *p)
{
	static const char pfx[] = "policy.failures_by.";
	int i;

	if (!ctl_json_get(j, "policy.name"))
		return;
	p->present = true;
	copy_str(j, "policy.name", p->name, sizeof(p->name));
	p->handshakes = ctl_json_num(j, "policy.handshakes", 0);
	p->passes = ctl_json_num(j, "policy.passes", 0);
	p->failures = ctl_json_num(j, "policy.failures", 0);
	/* failures_by.BY_REASON: the kinds are data, so walk the members. */
	for (i = 0; i < j->n && p->n_fails < CTL_ROW_POLICY_FAILS; i++) {
		const struct ctl_json_member *m = &j->m[i];

		if (m->type != CTL_JSON_NUM || strncmp(m->key, pfx, sizeof(pfx) - 1))
			continue;
		util_strlcpy(p->fails[p->n_fails].kind, m->key + sizeof(pfx) - 1,
			     sizeof(p->fails[0].kind));
		p->fails[p->n_fails++].count = m->num;
	}
	copy_str(j, "policy.first", p->first, sizeof(p->first));
	p->first_s = ctl_json_num(j, "policy.first_s", 0);
	copy_str(j, "policy.last_pass", p->last_pass, sizeof(p->last_pass));
	p->last_pass_s = ctl_json_num(j, "policy.last_pass_s", 0);
	copy_str(j, "policy.last_failure.time", p->last_fail.time, sizeof(p->last_fail.time));
	p->last_fail.time_s = ctl_json_num(j, "policy.last_failure.time_s", 0);
	copy_str(j, "policy.last_failure.by", p->last_fail.by, sizeof(p->last_fail.by));
	copy_str(j, "policy.last_failure.reason", p->last_fail.reason,
		 sizeof(p->last_fail.reason));
	copy_str(j, "policy.last_failure.peer", p->last_fail.peer, sizeof(p->last_fail.peer));
	copy_str(j, "policy.last_failure.sni", p->last_fail.sni, sizeof(p->last_fail.sni));
}

/* parse_certs - the certificate fields of a row (agg_row_json, put_certs). */
static void parse_certs(const struct ctl_json *j, struct ctl_row *row)
{
	static const char *const problems[CTL_CERT_PROBLEMS] = {
		"expired",  "not_yet_valid",  "self_signed",  "name_mismatch",
		"weak_key", "sha1_signature", "md5_signature",
	};
	char key[CTL_JSON_KEY];
	int i;

	row->cert_bad = ctl_json_num(j, "cert_bad", 0);
	row->cert_accepted = ctl_json_num(j, "cert_accepted", 0);
	for (i = 0; i < CTL_CERT_PROBLEMS; i++) {
		snprintf(key, sizeof(key), "cert_problems.%s", problems[i]);
		row->cert_problems[i] = ctl_json_num(j, key, 0);
	}
	for (i = 0; i < CTL_CERT_VERIFY_PROBLEMS; i++) {
		snprintf(key, sizeof(key), "bad_cert_accepted.%s", problems[i]);
		row->bad_cert_accepted[i] = ctl_json_num(j, key, 0);
	}
	copy_str(j, "last_bad_cert.time", row->last_bad.time, sizeof(row->last_bad.time));
	row->last_bad.time_s = ctl_json_num(j, "last_bad_cert.time_s", 0);
	copy_str(j, "last_bad_cert.problems", row->last_bad.problems,
		 sizeof(row->last_bad.problems));
	copy_str(j, "last_bad_cert.peer", row->last_bad.peer, sizeof(row->last_bad.peer));
	copy_str(j, "last_bad_cert.sni", row->last_bad.sni, sizeof(row->last_bad.sni));
	copy_str(j, "last_bad_cert.subject", row->last_bad.subject,
		 sizeof(row->last_bad.subject));
	for (i = 0; i < CTL_ROW_OWN_CERTS; i++) {
		snprintf(key, sizeof(key), "server_certs.%d.subject", i);
		if (!ctl_json_get(j, key))
			break;
		copy_str(j, key, row->own[i].subject, sizeof(row->own[i].subject));
		snprintf(key, sizeof(key), "server_certs.%d.not_after", i);
		copy_str(j, key, row->own[i].not_after, sizeof(row->own[i].not_after));
		snprintf(key, sizeof(key), "server_certs.%d.not_after_s", i);
		row->own[i].not_after_s = ctl_json_num(j, key, 0);
		row->n_own++;
	}
}

int ctl_row_parse(const char *line, struct ctl_row *row)
{
	static const char *const vers[7] = {
		"versions.SSLv2",   "versions.SSLv3",	"versions.TLSv1.0", "versions.TLSv1.1",
		"versions.TLSv1.2", "versions.TLSv1.3", "versions.unknown",
	};
	struct ctl_json *j;
	int i, ret = 0;

	memset(row, 0, sizeof(*row));
	j = malloc(sizeof(*j));
	if (!j)
		return -ENOMEM;
	if (ctl_json_parse((const uint8_t *)line, strlen(line), j)) {
		ret = -EINVAL;
		goto cleanup;
	}
	copy_str(j, "exe", row->exe, sizeof(row->exe));
	copy_str(j, "comm", row->comm, sizeof(row->comm));
	if (!row->exe[0] && row->comm[0])
		snprintf(row->name, sizeof(row->name), "[%s]", row->comm);
	copy_str(j, "unit", row->unit, sizeof(row->unit));
	copy_str(j, "container", row->container, sizeof(row->container));
	copy_str(j, "role", row->role, sizeof(row->role));
	copy_str(j, "tls_lib", row->tls_lib, sizeof(row->tls_lib));
	copy_str(j, "last_peer", row->last_peer, sizeof(row->last_peer));
	copy_str(j, "last_sni", row->last_sni, sizeof(row->last_sni));
	copy_str(j, "last_legacy_peer", row->legacy_peer, sizeof(row->legacy_peer));
	copy_str(j, "last_legacy_sni", row->legacy_sni, sizeof(row->legacy_sni));
	copy_str(j, "first_seen", row->first_seen, sizeof(row->first_seen));
	copy_str(j, "last_seen", row->last_seen, sizeof(row->last_seen));
	row->port = (unsigned int)ctl_json_num(j, "port", 0);
	for (i = 0; i < 7; i++)
		row->versions[i] = ctl_json_num(j, vers[i], 0);
	row->handshakes = ctl_json_num(j, "handshakes", 0);
	row->legacy = ctl_json_num(j, "legacy", 0);
	row->limited_client = ctl_json_num(j, "limited_by.client", 0);
	row->limited_server = ctl_json_num(j, "limited_by.server", 0);
	row->weak_cipher = ctl_json_num(j, "weak_cipher", 0);
	row->plaintext = ctl_json_num(j, "plaintext_sessions", 0);
	row->last_seen_s = ctl_json_num(j, "last_seen_s", 0);
	row->pid = ctl_json_num(j, "pid", 0);
	parse_failures(j, row);
	parse_smtp(j, row);
	parse_policy(j, &row->policy);
	parse_certs(j, row);
cleanup:
	free(j);
	return ret;
}

const char *ctl_row_name(const struct ctl_row *row)
{
	if (row->exe[0])
		return row->exe;
	return row->name[0] ? row->name : "?";
}

const char *ctl_term_safe(const char *s, size_t width, char *out, size_t len)
{
	size_t i, n = strlen(s);

	if (!len)
		return "";
	if (width + 1 > len)
		width = len - 1;
	for (i = 0; i < n && i < width; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (n > width && width)
		out[width - 1] = '~';
	out[i] = '\0';
	return out;
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * Daemon configuration: defaults, `key = value` file, `--key=value` options.
 * Every error names where the bad setting came from, so the operator can fix it at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsaudit/config.h"
#include "tlsaudit/cursor.h"
#include "tlsaudit/util.h"

/* The smallest max_series the textfile can always keep (see the max_series key). */
#define CFG_MAX_SERIES_MIN 292

/* A config file is a few lines; anything bigger is a wrong path (a log, a binary). */
#define CFG_FILE_MAX (256 * 1024)
#define CFG_LINE_MAX 1024

void cfg_defaults(struct cfg *c)
{
	static const uint16_t ports[] = { 443, 25, 587 };

	memset(c, 0, sizeof(*c));
	memcpy(c->ports, ports, sizeof(ports));
	c->n_ports = ARRAY_SIZE(ports);
	c->backend = CAP_BACKEND_AUTO;
	util_strlcpy(c->socket, CFG_DEFAULT_SOCKET, sizeof(c->socket));
	util_strlcpy(c->state_file, CFG_DEFAULT_STATE, sizeof(c->state_file));
	util_strlcpy(c->textfile, CFG_DEFAULT_TEXTFILE, sizeof(c->textfile));
	c->export_interval_ns = 15ULL * NSEC_PER_SEC;
	c->max_series = CFG_DEFAULT_MAX_SERIES;
	c->row_ttl_ns = CFG_DEFAULT_ROW_TTL_NS;
	c->fallback_window_ns = CFG_DEFAULT_FALLBACK_WINDOW_NS;
}

const char *cfg_backend_name(enum cap_backend b)
{
	switch (b) {
	case CAP_BACKEND_BPF:
		return "bpf";
	case CAP_BACKEND_PCAP:
		return "pcap";
	default:
		return "auto";
	}
}

void cfg_ports_string(const struct cfg *c, char *buf, size_t len)
{
	size_t off = 0;
	int i, n;

	if (len)
		buf[0] = '\0';
	for (i = 0; i < c->n_ports; i++) {
		n = snprintf(buf + off, len - off, "%s%u", i ? "," : "", c->ports[i]);
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
	}
}

const char *cfg_client_socket(const char *opt)
{
	const char *env;

	if (opt && *opt)
		return opt;
	env = getenv(CFG_SOCKET_ENV);
	if (env && *env)
		return env;
	return CFG_DEFAULT_SOCKET;
}

static int set_path(char *dst, size_t cap, const char *key, const char *value, bool allow_none,
		    char *err, size_t errlen)
{
	if (allow_none && !strcmp(value, "none")) {
		dst[0] = '\0';
		return 0;
	}
	if (value[0] != '/') {
		snprintf(err, errlen, "%s: '%s' is not an absolute path%s", key, value,
			 allow_none ? " (or 'none')" : "");
		return -EINVAL;
	}
	if (strlen(value) >= cap) {
		snprintf(err, errlen, "%s: path longer than %zu bytes", key, cap - 1);
		return -EINVAL;
	}
	util_strlcpy(dst, value, cap);
	return 0;
}

int cfg_set(struct cfg *c, const char *key, const char *value, char *err, size_t errlen)
{
	char name[64];
	size_t i;
	uint64_t ns;
	int n;

	if (strlen(key) >= sizeof(name)) {
		snprintf(err, errlen, "unknown key '%.40s...'", key);
		return -EINVAL;
	}
	for (i = 0; key[i]; i++)
		name[i] = key[i] == '-' ? '_' : key[i];
	name[i] = '\0';

	if (!strcmp(name, "ports")) {
		uint16_t ports[CFG_MAX_PORTS];

		n = util_parse_ports(value, ports, CFG_MAX_PORTS);
		if (n < 0) {
			snprintf(err, errlen,
				 "ports: '%s' is not a list of 1 to %d ports (e.g. 443,25,587)",
				 value, CFG_MAX_PORTS);
			return -EINVAL;
		}
		memcpy(c->ports, ports, sizeof(ports[0]) * (size_t)n);
		c->n_ports = n;
		return 0;
	}
	if (!strcmp(name, "backend")) {
		if (!strcmp(value, "auto"))
			c->backend = CAP_BACKEND_AUTO;
		else if (!strcmp(value, "bpf"))
			c->backend = CAP_BACKEND_BPF;
		else if (!strcmp(value, "pcap"))
			c->backend = CAP_BACKEND_PCAP;
		else {
			snprintf(err, errlen, "backend: '%s' is not one of auto, bpf, pcap", value);
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(name, "socket"))
		return set_path(c->socket, sizeof(c->socket), name, value, false, err, errlen);
	if (!strcmp(name, "state_file"))
		return set_path(c->state_file, sizeof(c->state_file), name, value, false, err,
				errlen);
	if (!strcmp(name, "textfile"))
		return set_path(c->textfile, sizeof(c->textfile), name, value, true, err, errlen);
	if (!strcmp(name, "handshake_log"))
		return set_path(c->handshake_log, sizeof(c->handshake_log), name, value, true, err,
				errlen);
	if (!strcmp(name, "export_interval")) {
		/* Below a second the state file would be rewritten faster than it is useful. */
		if (util_parse_duration(value, &ns) || ns < NSEC_PER_SEC ||
		    ns > 86400ULL * NSEC_PER_SEC) {
			snprintf(err, errlen,
				 "export_interval: '%s' is not a duration from 1s to 1d (e.g. 15s)",
				 value);
			return -EINVAL;
		}
		c->export_interval_ns = ns;
		return 0;
	}
	if (!strcmp(name, "max_series")) {
		uint64_t v;

		/*
		 * The file always holds the daemon's own series (17 with eBPF) and the
		 * exe="other" row, into which every other row may fold: at its fullest 275
		 * (16 policies of 14 kinds are most of it; docs/metrics.md). Below their sum
		 * the bound could not be kept; test_prom checks the number against the
		 * exporter's prom_fixed_series() + prom_row_series_max().
		 */
		if (util_parse_u64(value, CFG_MAX_SERIES_MIN, 10000000, &v)) {
			snprintf(err, errlen, "max_series: '%s' is not a number from %u to 10000000",
				 value, CFG_MAX_SERIES_MIN);
			return -EINVAL;
		}
		c->max_series = (uint32_t)v;
		return 0;
	}
	if (!strcmp(name, "row_ttl")) {
		if (!strcmp(value, "none")) {
			c->row_ttl_ns = 0;
			return 0;
		}
		if (util_parse_duration(value, &ns) || ns < NSEC_PER_SEC ||
		    ns > 3650 * 86400ULL * NSEC_PER_SEC) {
			snprintf(err, errlen,
				 "row_ttl: '%s' is not a duration from 1s to 3650d (e.g. 30d) or none",
				 value);
			return -EINVAL;
		}
		c->row_ttl_ns = ns;
		return 0;
	}
	if (!strcmp(name, "handshake_log_format")) {
		if (!strcmp(value, "json"))
			c->handshake_log_format = CFG_LOG_JSON;
		else if (!strcmp(value, "ecs"))
			c->handshake_log_format = CFG_LOG_ECS;
		else {
			snprintf(err, errlen, "handshake_log_format: '%s' is not one of json, ecs",
				 value);
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(name, "fallback_window")) {
		/* Postfix retries a deferred message after minimal_backoff_time (300 s). */
		if (util_parse_duration(value, &ns) || ns < NSEC_PER_SEC ||
		    ns > 7 * 86400ULL * NSEC_PER_SEC) {
			snprintf(err, errlen,
				 "fallback_window: '%s' is not a duration from 1s to 7d (e.g. 1h)",
				 value);
			return -EINVAL;
		}
		c->fallback_window_ns = ns;
		return 0;
	}
	if (c->module_key) {
		int ret = c->module_key(c->module_ctx, key, value, err, errlen);

		if (ret != -ENOENT)
			return ret ? -EINVAL : 0;
	}
	snprintf(err, errlen, "unknown key '%s'", key);
	return -EINVAL;
}

int cfg_parse_option(struct cfg *c, const char *arg, char *err, size_t errlen)
{
	char key[64], why[512];
	const char *eq = strchr(arg, '=');
	size_t klen;

	if (!eq) {
		snprintf(err, errlen, "--%s: needs a value (--%s=VALUE)", arg, arg);
		return -EINVAL;
	}
	klen = (size_t)(eq - arg);
	if (klen == 0 || klen >= sizeof(key)) {
		snprintf(err, errlen, "--%.60s: unknown option", arg);
		return -EINVAL;
	}
	memcpy(key, arg, klen);
	key[klen] = '\0';
	if (cfg_set(c, key, eq + 1, why, sizeof(why))) {
		snprintf(err, errlen, "--%s: %s", key, why);
		return -EINVAL;
	}
	return 0;
}

static bool is_blank(uint8_t ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* trim - strip blanks at both ends of @s in place; returns the new start. */
static char *trim(char *s)
{
	size_t n;

	while (is_blank((uint8_t)*s))
		s++;
	n = strlen(s);
	while (n && is_blank((uint8_t)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/*
 * parse_line - one `key = value` line; blank lines and # comments are skipped. A value
 * may be wrapped in double quotes so it can hold a '#'.
 */
static int parse_line(struct cfg *c, char *line, char *why, size_t whylen)
{
	char *key, *value, *eq, *hash;
	size_t i;

	for (i = 0; line[i]; i++) {
		if ((uint8_t)line[i] < 0x20 && line[i] != '\t' && line[i] != '\r') {
			snprintf(why, whylen, "control character in line");
			return -EINVAL;
		}
	}
	key = trim(line);
	if (!*key || *key == '#')
		return 0;
	eq = strchr(key, '=');
	if (!eq) {
		snprintf(why, whylen, "expected 'key = value'");
		return -EINVAL;
	}
	*eq = '\0';
	value = trim(eq + 1);
	key = trim(key);
	if (*value == '"') {
		char *close = strchr(value + 1, '"');
		char *rest = close ? trim(close + 1) : NULL;

		if (!close || (*rest != '\0' && *rest != '#')) {
			snprintf(why, whylen, "unterminated or trailing text after quoted value");
			return -EINVAL;
		}
		*close = '\0';
		value++;
	} else {
		hash = strchr(value, '#');
		if (hash) {
			*hash = '\0';
			value = trim(value);
		}
	}
	if (!*key) {
		snprintf(why, whylen, "missing key before '='");
		return -EINVAL;
	}
	if (!*value) {
		snprintf(why, whylen, "%s: missing value", key);
		return -EINVAL;
	}
	return cfg_set(c, key, value, why, whylen);
}

int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
	struct tls_cursor cur;
	char line[CFG_LINE_MAX], why[512];
	uint8_t *buf = NULL;
	size_t len = 0;
	ssize_t n;
	unsigned int lineno = 0;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	buf = malloc(CFG_FILE_MAX);
	if (!buf) {
		ret = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto cleanup;
	}
	while (len < CFG_FILE_MAX) {
		n = read(fd, buf + len, CFG_FILE_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto cleanup;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == CFG_FILE_MAX) {
		ret = -EFBIG;
		snprintf(err, errlen, "%s: larger than %d KiB, not a config file", path,
			 CFG_FILE_MAX / 1024);
		goto cleanup;
	}

	cur_init(&cur, buf, len);
	while (cur_left(&cur)) {
		size_t ll = 0;
		uint8_t ch = 0;

		lineno++;
		while (cur_left(&cur)) {
			ch = cur_u8(&cur);
			if (ch == '\n')
				break;
			if (ll + 1 >= sizeof(line)) {
				ret = -EINVAL;
				snprintf(err, errlen, "%s:%u: line longer than %d bytes", path,
					 lineno, CFG_LINE_MAX - 1);
				goto cleanup;
			}
			if (ch == 0) {
				ret = -EINVAL;
				snprintf(err, errlen, "%s:%u: NUL byte, not a text file", path,
					 lineno);
				goto cleanup;
			}
			line[ll++] = (char)ch;
		}
		line[ll] = '\0';
		if (parse_line(c, line, why, sizeof(why))) {
			ret = -EINVAL;
			snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
			goto cleanup;
		}
	}
cleanup:
	free(buf);
	close(fd);
	return ret;
}

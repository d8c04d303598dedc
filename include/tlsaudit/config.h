/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Daemon configuration: embedded defaults, a `key = value` file (# comments) and
 * `--key=value` options with dashes for underscores. The command line wins over the file.
 */
#ifndef TLSAUDIT_CONFIG_H
#define TLSAUDIT_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "tlsaudit/capture_live.h"

#define CFG_DEFAULT_FILE "/etc/tlsaudit/tlsaudit.conf"
#define CFG_DEFAULT_SOCKET "/run/tlsaudit/tlsaudit.sock"
#define CFG_DEFAULT_STATE "/var/lib/tlsaudit/state"
#define CFG_DEFAULT_TEXTFILE "/var/lib/node_exporter/textfile_collector/tlsaudit.prom"
#define CFG_SOCKET_ENV "TLSAUDIT_SOCKET"

/* A plaintext SMTP session this soon after a failed TLS one to the same server is a fallback. */
#define CFG_DEFAULT_FALLBACK_WINDOW_NS (3600ULL * 1000000000ULL)

/*
 * Fleet bounds (docs/metrics.md, "How many series"): the textfile's series over all
 * families, and how long a process key not seen keeps its own row.
 */
#define CFG_DEFAULT_MAX_SERIES 2000
#define CFG_DEFAULT_ROW_TTL_NS (30ULL * 86400ULL * 1000000000ULL)

/* The handshake log's field names: tlsaudit's own, or Elastic Common Schema. */
enum cfg_log_format { CFG_LOG_JSON = 0, CFG_LOG_ECS };

#define CFG_MAX_PORTS 32
#define CFG_PATH_MAX 256

/*
 * cfg_key_fn - a key that another module owns (the policies: `policies`,
 * `policy.NAME.KEY`), as written (policy names keep their dashes). -ENOENT when the
 * key is not the module's either; else 0, or -EINVAL with @err naming the key.
 */
typedef int (*cfg_key_fn)(void *ctx, const char *key, const char *value, char *err,
			  size_t errlen);

struct cfg {
	uint16_t ports[CFG_MAX_PORTS];
	int n_ports;
	enum cap_backend backend;
	char socket[108]; /* sun_path size */
	char state_file[CFG_PATH_MAX];
	char textfile[CFG_PATH_MAX];	  /* empty: disabled ("none") */
	uint64_t export_interval_ns;
	uint32_t max_series;	/* textfile series over all families */
	uint64_t row_ttl_ns;	/* 0: rows never age out ("none") */
	enum cfg_log_format handshake_log_format;
	char handshake_log[CFG_PATH_MAX]; /* empty: disabled ("none") */
	uint64_t fallback_window_ns;
	/*
	 * Not a setting: while a file or options are applied, the keys cfg_set does not
	 * know go here. The configuration sits below the modules it configures and never
	 * calls up into them; the caller, above both, connects them (NULL: unknown keys).
	 */
	cfg_key_fn module_key;
	void *module_ctx;
};

/* cfg_defaults - the embedded defaults (DESIGN.md "Files and configuration"). */
void cfg_defaults(struct cfg *c);

/*
 * cfg_set - set @key (underscores or dashes) to @value; a key of its own is passed to
 * c->module_key. On failure -EINVAL and @err holds the reason ("unknown key 'x'",
 * "export_interval: '0s' is not a duration ...").
 */
int cfg_set(struct cfg *c, const char *key, const char *value, char *err, size_t errlen);

/*
 * cfg_load_file - apply every `key = value` line of @path. On failure -errno and @err
 * holds one line "PATH:LINE: reason" (or "PATH: reason" when it cannot be read).
 */
int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen);

/*
 * cfg_parse_option - apply "--key=value" (@arg without the leading dashes, "key=value").
 * On failure -EINVAL and @err holds "--key: reason".
 */
int cfg_parse_option(struct cfg *c, const char *arg, char *err, size_t errlen);

/* cfg_backend_name - "auto", "bpf" or "pcap". */
const char *cfg_backend_name(enum cap_backend b);

/* cfg_ports_string - "443,25,587" into @buf. */
void cfg_ports_string(const struct cfg *c, char *buf, size_t len);

/* cfg_client_socket - the socket path for a client: @opt, else $TLSAUDIT_SOCKET, else default. */
const char *cfg_client_socket(const char *opt);

#endif /* TLSAUDIT_CONFIG_H */

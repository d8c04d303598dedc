// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policies of the commands that judge records themselves (`read`, `watch`): the
 * definitions of a config file, then --policy, as the daemon takes them from its file
 * and command line; and the file's fallback window, unless an option gave one.
 */
#include <stdio.h>

#include "tlsaudit/cli.h"
#include "tlsaudit/config.h"
#include "tlsaudit/policy.h"

int cli_policies(const char *cmd, const char *config, const char *list,
		 struct tls_policy_set *ps, uint64_t *window_ns)
{
	char err[512];
	struct cfg c;

	tls_policy_set_init(ps);
	cfg_defaults(&c);
	if (config) {
		/* The file's other keys are the daemon's: checked, then left alone. */
		c.module_key = tls_policy_config_fn;
		c.module_ctx = ps;
		if (cfg_load_file(&c, config, err, sizeof(err))) {
			fprintf(stderr, "tlsaudit %s: %s\n", cmd, err);
			return -1;
		}
	}
	/* The same window as the daemon's, so a read or a watch agrees with its report. */
	if (window_ns && !*window_ns)
		*window_ns = c.fallback_window_ns;
	if (list && tls_policy_set_list(ps, list, err, sizeof(err))) {
		fprintf(stderr, "tlsaudit %s: --policy: %s\n", cmd, err);
		return -1;
	}
	if (tls_policy_set_finish(ps, err, sizeof(err))) {
		fprintf(stderr, "tlsaudit %s: %s%s\n", cmd, list ? "--policy: " : "", err);
		return -1;
	}
	return 0;
}

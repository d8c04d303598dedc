// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policies of the commands that judge records themselves (`read`, `watch`): the
 * definitions of a config file, then --policy, as the daemon takes them from its file
 * and command line.
 */
#include <stdio.h>

#include "tlsaudit/cli.h"
#include "tlsaudit/config.h"
#include "tlsaudit/policy.h"

int cli_policies(const char *cmd, const char *config, const char *list,
		 struct tls_policy_set *ps)
{
	char err[512];
	struct cfg c;

	tls_policy_set_init(ps);
	if (config) {
		/* The file's other keys are the daemon's: checked, then left alone. */
		cfg_defaults(&c);
		c.module_key = tls_policy_config_fn;
		c.module_ctx = ps;
		if (cfg_load_file(&c, config, err, sizeof(err))) {
			fprintf(stderr, "tlsaudit %s: %s\n", cmd, err);
			return -1;
		}
	}
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

// SPDX-License-Identifier: GPL-2.0-only
/* What the daemon's clients (top, report, status) do the same way before they ask. */
#include <stdio.h>

#include "tlsaudit/cli.h"
#include "tlsaudit/config.h"
#include "tlsaudit/ctl.h"

struct ctl_conn *cli_connect(const char *cmd, int argc, char **argv, int next,
			     const char *sock_opt, int *exit_code)
{
	struct ctl_conn *c;
	char err[256];

	if (next < argc) {
		fprintf(stderr, "tlsaudit %s: unexpected argument '%s'\n", cmd, argv[next]);
		*exit_code = CLI_USAGE;
		return NULL;
	}
	c = ctl_connect(cfg_client_socket(sock_opt), err, sizeof(err));
	if (!c) {
		fprintf(stderr, "tlsaudit: %s\n", err);
		*exit_code = CLI_FAIL;
	}
	return c;
}

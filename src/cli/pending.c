// SPDX-License-Identifier: GPL-2.0-only
/*
 * Weak fallbacks for subcommands while they are being written; each real cmd_*.c
 * overrides its entry. Removed once every command exists.
 */
#include <stdio.h>

#include "tlsaudit/cli.h"

#define PENDING(fn, name)                                                                  \
	__attribute__((weak)) int fn(int argc, char **argv)                                \
	{                                                                                  \
		(void)argc;                                                                \
		(void)argv;                                                                \
		fprintf(stderr, "tlsaudit: '%s' is not in this build\n", name);            \
		return CLI_FAIL;                                                           \
	}

PENDING(cmd_read, "read")
PENDING(cmd_watch, "watch")
PENDING(cmd_daemon, "daemon")
PENDING(cmd_top, "top")
PENDING(cmd_report, "report")
PENDING(cmd_status, "status")

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Subcommands. Each returns the process exit code: 0 ok, 1 runtime error, 2 usage error.
 * argv[0] is the subcommand name.
 */
#ifndef TLSAUDIT_CLI_H
#define TLSAUDIT_CLI_H

#include <stdint.h>

enum cli_exit { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cmd_read(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_status(int argc, char **argv);

struct ctl_conn;
/*
 * cli_connect - for the daemon's clients after option parsing: refuse a leftover
 * argument (argv[@next]), find the socket (-S, $TLSAUDIT_SOCKET, default) and connect.
 * NULL after one line on stderr, with *@exit_code set to CLI_USAGE or CLI_FAIL.
 */
struct ctl_conn *cli_connect(const char *cmd, int argc, char **argv, int next,
			     const char *sock_opt, int *exit_code);

struct tls_policy_set;
/*
 * cli_policies - the policies `read` and `watch` judge records against: the built-in
 * profiles, the `policy.*` definitions and `policies` list of @config (NULL: none),
 * then @list (--policy, NULL: the file's list, else tls12). @window_ns, when not NULL,
 * is the fallback window: 0 (no --fallback-window) becomes @config's fallback_window,
 * else the default. 0, or -1 after one line on stderr naming @cmd and the file line or
 * option.
 */
int cli_policies(const char *cmd, const char *config, const char *list,
		 struct tls_policy_set *ps, uint64_t *window_ns);

#endif /* TLSAUDIT_CLI_H */

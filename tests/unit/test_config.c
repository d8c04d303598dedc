// SPDX-License-Identifier: GPL-2.0-only
/*
 * Daemon configuration: the embedded defaults, the file format (comments, quotes,
 * blanks), --key=value with dashes, and the one-line error that names file:line or the
 * option and the reason for every kind of bad input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tlsaudit/config.h"
#include "tlsaudit/policy.h"

static char path[64];

static void write_conf(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/tlsaudit-conf-%d", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_defaults(void **state)
{
	struct cfg c;
	char ports[64];

	(void)state;
	cfg_defaults(&c);
	cfg_ports_string(&c, ports, sizeof(ports));
	assert_string_equal(ports, "443,25,587");
	assert_int_equal(c.backend, CAP_BACKEND_AUTO);
	assert_string_equal(c.socket, "/run/tlsaudit/tlsaudit.sock");
	assert_string_equal(c.state_file, "/var/lib/tlsaudit/state");
	assert_string_equal(c.textfile, "/var/lib/node_exporter/textfile_collector/tlsaudit.prom");
	assert_true(c.export_interval_ns == 15ULL * 1000000000ULL);
	assert_string_equal(c.handshake_log, "");
	assert_int_equal(c.max_series, 2000);
	assert_true(c.row_ttl_ns == 30ULL * 86400ULL * 1000000000ULL);
	assert_int_equal(c.handshake_log_format, CFG_LOG_JSON);
}

/* The fleet bounds and the log format: values, ranges, "none". */
static void test_fleet_keys(void **state)
{
	struct cfg c;
	char err[512] = "";

	(void)state;
	cfg_defaults(&c);
	assert_int_equal(cfg_parse_option(&c, "max-series=300", err, sizeof(err)), 0);
	assert_int_equal(c.max_series, 300);
	assert_int_equal(cfg_parse_option(&c, "row-ttl=7d", err, sizeof(err)), 0);
	assert_true(c.row_ttl_ns == 7ULL * 86400ULL * 1000000000ULL);
	assert_int_equal(cfg_parse_option(&c, "row_ttl=none", err, sizeof(err)), 0);
	assert_true(c.row_ttl_ns == 0);
	assert_int_equal(cfg_parse_option(&c, "handshake-log-format=ecs", err, sizeof(err)), 0);
	assert_int_equal(c.handshake_log_format, CFG_LOG_ECS);
	assert_int_not_equal(cfg_parse_option(&c, "max_series=291", err, sizeof(err)), 0);
	assert_string_equal(err, "--max_series: max_series: '291' is not a number from 292 to "
				 "10000000");
	assert_int_not_equal(cfg_parse_option(&c, "row_ttl=0s", err, sizeof(err)), 0);
	assert_int_not_equal(cfg_parse_option(&c, "handshake_log_format=xml", err, sizeof(err)),
			     0);
	assert_string_equal(err, "--handshake_log_format: handshake_log_format: 'xml' is not "
				 "one of json, ecs");
	/* A failed option leaves the earlier value alone. */
	assert_int_equal(c.max_series, 300);
	assert_int_equal(c.handshake_log_format, CFG_LOG_ECS);
}

static void test_file(void **state)
{
	struct cfg c;
	char err[256] = "", ports[64];

	(void)state;
	write_conf("# tlsaudit\n"
		   "\n"
		   "ports = 443, 8443 # comment after a value\n"
		   "  backend=pcap\r\n"
		   "state_file = \"/tmp/with # hash\"\n"
		   "textfile = none\n"
		   "export-interval = 1m\n"
		   "handshake_log = /var/log/tlsaudit.jsonl");
	cfg_defaults(&c);
	assert_int_equal(cfg_load_file(&c, path, err, sizeof(err)), 0);
	cfg_ports_string(&c, ports, sizeof(ports));
	assert_string_equal(ports, "443,8443");
	assert_int_equal(c.backend, CAP_BACKEND_PCAP);
	assert_string_equal(c.state_file, "/tmp/with # hash");
	assert_string_equal(c.textfile, "");
	assert_true(c.export_interval_ns == 60ULL * 1000000000ULL);
	assert_string_equal(c.handshake_log, "/var/log/tlsaudit.jsonl");
	unlink(path);
}

static void expect_file_error(const char *text, const char *want)
{
	struct cfg c;
	char err[512] = "", full[256];

	write_conf(text);
	cfg_defaults(&c);
	assert_int_not_equal(cfg_load_file(&c, path, err, sizeof(err)), 0);
	snprintf(full, sizeof(full), "%s:%s", path, want);
	if (strcmp(err, full))
		fail_msg("got '%s', want '%s'", err, full);
	unlink(path);
}

static void test_file_errors(void **state)
{
	(void)state;
	expect_file_error("ports = 443\nbogus = 1\n", "2: unknown key 'bogus'");
	expect_file_error("backend = ebpf\n",
			  "1: backend: 'ebpf' is not one of auto, bpf, pcap");
	expect_file_error("\n\nports = 443,99999\n",
			  "3: ports: '443,99999' is not a list of 1 to 32 ports (e.g. 443,25,587)");
	expect_file_error("export_interval = 0s\n",
			  "1: export_interval: '0s' is not a duration from 1s to 1d (e.g. 15s)");
	expect_file_error("export_interval = soon\n",
			  "1: export_interval: 'soon' is not a duration from 1s to 1d (e.g. 15s)");
	expect_file_error("socket = relative/path\n",
			  "1: socket: 'relative/path' is not an absolute path");
	expect_file_error("textfile = x\n",
			  "1: textfile: 'x' is not an absolute path (or 'none')");
	expect_file_error("ports\n", "1: expected 'key = value'");
	expect_file_error("ports =\n", "1: ports: missing value");
	expect_file_error("= 443\n", "1: missing key before '='");
	expect_file_error("state_file = \"/tmp/x\n",
			  "1: unterminated or trailing text after quoted value");
	expect_file_error("ports = 443\x01\n", "1: control character in line");
}

static void test_file_binary_and_long(void **state)
{
	struct cfg c;
	char err[512], *big;
	FILE *f;

	(void)state;
	write_conf("");
	f = fopen(path, "w");
	fwrite("ports = 443\n\0\0\xff", 1, 15, f);
	fclose(f);
	cfg_defaults(&c);
	assert_int_not_equal(cfg_load_file(&c, path, err, sizeof(err)), 0);
	assert_non_null(strstr(err, ":2: NUL byte, not a text file"));

	big = malloc(5000);
	memset(big, 'a', 4999);
	big[4999] = '\0';
	write_conf(big);
	assert_int_not_equal(cfg_load_file(&c, path, err, sizeof(err)), 0);
	assert_non_null(strstr(err, ":1: line longer than 1023 bytes"));
	free(big);
	unlink(path);

	assert_int_not_equal(cfg_load_file(&c, "/nonexistent/tlsaudit.conf", err, sizeof(err)),
			     0);
	assert_string_equal(err, "/nonexistent/tlsaudit.conf: No such file or directory");
}

static void test_options(void **state)
{
	struct cfg c;
	char err[512] = "";

	(void)state;
	cfg_defaults(&c);
	assert_int_equal(cfg_parse_option(&c, "state-file=/tmp/s", err, sizeof(err)), 0);
	assert_string_equal(c.state_file, "/tmp/s");
	assert_int_equal(cfg_parse_option(&c, "export-interval=1s", err, sizeof(err)), 0);
	assert_true(c.export_interval_ns == 1000000000ULL);
	assert_int_equal(cfg_parse_option(&c, "handshake_log=none", err, sizeof(err)), 0);
	assert_int_equal(cfg_parse_option(&c, "backend=bpf", err, sizeof(err)), 0);
	assert_int_equal(c.backend, CAP_BACKEND_BPF);

	assert_int_not_equal(cfg_parse_option(&c, "colour=blue", err, sizeof(err)), 0);
	assert_string_equal(err, "--colour: unknown key 'colour'");
	assert_int_not_equal(cfg_parse_option(&c, "ports", err, sizeof(err)), 0);
	assert_string_equal(err, "--ports: needs a value (--ports=VALUE)");
	assert_int_not_equal(cfg_parse_option(&c, "export-interval=-5s", err, sizeof(err)), 0);
	assert_string_equal(err, "--export-interval: export_interval: '-5s' is not a duration "
				 "from 1s to 1d (e.g. 15s)");
	/* A failed option leaves the earlier value alone. */
	assert_true(c.export_interval_ns == 1000000000ULL);
}

static void test_command_line_wins(void **state)
{
	struct cfg c;
	char err[512];

	(void)state;
	write_conf("state_file = /var/lib/x\nports = 25\n");
	cfg_defaults(&c);
	assert_int_equal(cfg_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(cfg_parse_option(&c, "state-file=/tmp/y", err, sizeof(err)), 0);
	assert_string_equal(c.state_file, "/tmp/y");
	assert_int_equal(c.n_ports, 1);
	assert_int_equal(c.ports[0], 25);
	unlink(path);
}

/*
 * policies and policy.NAME.KEY belong to the policy module: cfg_set hands them to the
 * caller's hook as written (the name keeps its dashes), from the file and the command
 * line; errors keep naming the line or the option and the key; without a hook they
 * are unknown keys.
 */
static void test_module_keys(void **state)
{
	static struct tls_policy_set ps;
	struct cfg c;
	char err[512] = "";

	(void)state;
	write_conf("policies = tls12, intake-2026\n"
		   "policy.intake-2026.min-version = TLSv1.2\n"
		   "policy.intake-2026.ciphers = TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
		   "ports = 443\n");
	cfg_defaults(&c);
	tls_policy_set_init(&ps);
	c.module_key = tls_policy_config_fn;
	c.module_ctx = &ps;
	assert_int_equal(cfg_load_file(&c, path, err, sizeof(err)), 0);
	assert_int_equal(cfg_parse_option(&c, "policy.intake-2026.require-ems=yes", err,
					  sizeof(err)), 0);
	assert_int_equal(tls_policy_set_finish(&ps, err, sizeof(err)), 0);
	assert_int_equal(ps.n_active, 2);
	assert_string_equal(tls_policy_active(&ps, 1)->name, "intake-2026");
	assert_int_equal(tls_policy_active(&ps, 1)->min_version, 0x0303);
	assert_true(tls_policy_active(&ps, 1)->checks & TLS_PCHK_EMS);
	assert_int_equal(c.ports[0], 443);

	write_conf("ports = 443\n# a comment\npolicy.strict.min_version = TLSv1.4\n");
	assert_int_not_equal(cfg_load_file(&c, path, err, sizeof(err)), 0);
	assert_non_null(strstr(err, ":3: policy.strict.min_version: 'TLSv1.4' is not a version"));
	assert_int_not_equal(cfg_parse_option(&c, "policies=tls12,Bad", err, sizeof(err)), 0);
	assert_string_equal(err, "--policies: policies: 'Bad' is not a policy name");
	assert_int_not_equal(cfg_parse_option(&c, "polices=tls12", err, sizeof(err)), 0);
	assert_string_equal(err, "--polices: unknown key 'polices'");

	c.module_key = NULL;
	assert_int_not_equal(cfg_parse_option(&c, "policies=tls12", err, sizeof(err)), 0);
	assert_string_equal(err, "--policies: unknown key 'policies'");
	unlink(path);
}

static void test_client_socket(void **state)
{
	(void)state;
	unsetenv("TLSAUDIT_SOCKET");
	assert_string_equal(cfg_client_socket(NULL), "/run/tlsaudit/tlsaudit.sock");
	setenv("TLSAUDIT_SOCKET", "/tmp/env.sock", 1);
	assert_string_equal(cfg_client_socket(NULL), "/tmp/env.sock");
	assert_string_equal(cfg_client_socket("/tmp/opt.sock"), "/tmp/opt.sock");
	unsetenv("TLSAUDIT_SOCKET");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_fleet_keys),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_binary_and_long),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_command_line_wins),
		cmocka_unit_test(test_module_keys),
		cmocka_unit_test(test_client_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

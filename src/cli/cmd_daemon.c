// SPDX-License-Identifier: GPL-2.0-only
/*
 * tlsaudit daemon: the options. The service itself is src/daemon/.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tlsaudit/cli.h"
#include "tlsaudit/config.h"
#include "tlsaudit/daemon.h"
#include "tlsaudit/log.h"
#include "tlsaudit/policy.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: tlsaudit daemon [-c FILE] [--backend auto|bpf|pcap] [--foreground] [-v]\n"
		"                       [--KEY=VALUE ...]\n"
		"\n"
		"The service: watches TLS handshakes of this host, counts them per process, keeps\n"
		"the counters in a state file, exports them for Prometheus and answers\n"
		"'tlsaudit top', 'report' and 'status' on its control socket.\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE     config file (default %s, if it exists)\n"
		"  --backend MODE        auto (bpf, else pcap), bpf or pcap\n"
		"  --foreground          accepted; the daemon never forks (systemd Type=simple/notify)\n"
		"  -v, --verbose         debug messages\n"
		"  -h, --help            this help\n"
		"\n"
		"Every config key can be given as --key=value, with dashes for underscores:\n"
		"  --ports=443,25,587  --socket=PATH  --state-file=PATH  --textfile=PATH|none\n"
		"  --export-interval=15s  --handshake-log=PATH|none\n"
		"  --policies=tls12,fips-ems  --policy.NAME.KEY=VALUE (tlsaudit.conf(5))\n"
		"The command line wins over the file. SIGHUP re-reads the file and reopens the\n"
		"handshake log (ports, backend and socket take effect on restart); SIGTERM/SIGINT\n"
		"write the state file and exit 0. The textfile and the handshake log are\n"
		"optional: a directory missing or read-only is logged, never fails a start or stop.\n"
		"\n"
		"Example:\n"
		"  tlsaudit daemon --socket=/tmp/t.sock --state-file=/tmp/state --textfile=none\n"
		"\n"
		"Exit status: 0 stopped by a signal, 1 runtime error (the final state write\n"
		"included), 2 usage error.\n",
		CFG_DEFAULT_FILE);
}

static int parse_args(struct daemon_args *d, int argc, char **argv)
{
	static struct tls_policy_set policies; /* checks the options one by one: 28 KiB */
	char err[512];
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return -1;
		}
		if (!strcmp(a, "--foreground"))
			continue;
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			log_set_level(LOG_LVL_DEBUG);
			continue;
		}
		if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "tlsaudit daemon: %s needs a FILE\n", a);
				return 2;
			}
			d->config_path = argv[++i];
			continue;
		}
		if (!strncmp(a, "--config=", 9)) {
			d->config_path = a + 9;
			continue;
		}
		if (strncmp(a, "--", 2) || !a[2]) {
			fprintf(stderr, "tlsaudit daemon: unexpected argument '%s' (see --help)\n",
				a);
			return 2;
		}
		if (d->n_overrides == DAEMON_MAX_OVERRIDES) {
			fprintf(stderr, "tlsaudit daemon: too many options\n");
			return 2;
		}
		if (!strchr(a, '=')) {
			/* "--backend pcap": the value is the next argument. */
			static char joined[DAEMON_MAX_OVERRIDES][512];
			struct cfg scratch;

			if (i + 1 >= argc) {
				fprintf(stderr, "tlsaudit daemon: %s: needs a value (%s=VALUE)\n",
					a, a);
				return 2;
			}
			snprintf(joined[d->n_overrides], sizeof(joined[0]), "%s=%s", a + 2,
				 argv[++i]);
			d->overrides[d->n_overrides] = joined[d->n_overrides];
			cfg_defaults(&scratch);
			tls_policy_set_init(&policies);
			scratch.module_key = tls_policy_config_fn;
			scratch.module_ctx = &policies;
			if (cfg_parse_option(&scratch, joined[d->n_overrides], err, sizeof(err))) {
				fprintf(stderr, "tlsaudit daemon: %s\n", err);
				return 2;
			}
		} else {
			d->overrides[d->n_overrides] = a + 2;
		}
		d->n_overrides++;
	}
	return 0;
}

int cmd_daemon(int argc, char **argv)
{
	struct daemon_args args;
	int ret;

	memset(&args, 0, sizeof(args));
	ret = parse_args(&args, argc, argv);
	if (ret)
		return ret < 0 ? CLI_OK : CLI_USAGE;
	if (!args.config_path && access(CFG_DEFAULT_FILE, F_OK) == 0)
		args.config_path = CFG_DEFAULT_FILE;
	ret = daemon_run(&args);
	return ret == 0 ? CLI_OK : ret == 2 ? CLI_USAGE : CLI_FAIL;
}

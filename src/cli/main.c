// SPDX-License-Identifier: GPL-2.0-only
/*
 * tlsaudit: find the local processes that still negotiate TLS 1.0/1.1 or weak cipher
 * suites. This file only dispatches to the subcommands (src/cli/cmd_*.c).
 */
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>
#include <zlib.h>

#include "tlsaudit/cli.h"
#include "tlsaudit/util.h"

/*
 * <pcap/pcap.h> and <bpf/libbpf.h> both define struct bpf_insn and cannot share a file;
 * this is the one libpcap function needed here.
 */
const char *pcap_lib_version(void);

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "daemon", cmd_daemon, "the service: capture, aggregate, export (see tlsaudit daemon --help)" },
	{ "top", cmd_top, "live view of the running daemon, like top(1)" },
	{ "report", cmd_report, "one-shot tables from the running daemon" },
	{ "status", cmd_status, "backend, uptime, counters, drops, paths" },
	{ "watch", cmd_watch, "stream live handshakes of this host, no daemon needed" },
	{ "read", cmd_read, "analyse pcap/pcapng capture files, no daemon needed" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: tlsaudit COMMAND [OPTIONS]\n"
		   "\n"
		   "Finds which local processes still negotiate TLS 1.0/1.1 or weak cipher\n"
		   "suites, by watching TLS handshakes passively (eBPF, or libpcap).\n"
		   "\n"
		   "Commands:\n");
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n"
		   "Options:\n"
		   "  -h, --help     this help; 'tlsaudit COMMAND --help' for a command\n"
		   "  -V, --version  version, library versions and built-in features\n"
		   "\n"
		   "Examples:\n"
		   "  tlsaudit read --json relay.pcap.gz    handshakes in a capture, as JSON lines\n"
		   "  tlsaudit watch --legacy               live TLS 1.0/1.1 handshakes and their process\n"
		   "  tlsaudit report --legacy              what breaks if TLS < 1.2 is switched off\n"
		   "\n"
		   "Exit status: 0 ok, 1 runtime error, 2 usage error.\n");
}

/* How this file was compiled; the link-time half (RELRO, BIND_NOW) is in the ELF header. */
static const char hardening[] = ""
#ifdef __PIE__
	" pie"
#endif
#if defined(__SSP_STRONG__)
	" stack-protector-strong"
#elif defined(__SSP_ALL__) || defined(__SSP__)
	" stack-protector"
#endif
#if defined(_FORTIFY_SOURCE) && _FORTIFY_SOURCE >= 3
	" fortify=3"
#elif defined(_FORTIFY_SOURCE) && _FORTIFY_SOURCE == 2
	" fortify=2"
#elif defined(_FORTIFY_SOURCE) && _FORTIFY_SOURCE == 1
	" fortify=1"
#endif
#ifdef __CET__
	" cf-protection"
#endif
	;

static void version(void)
{
	printf("tlsaudit %s\n", TLSAUDIT_VERSION);
	printf("libbpf %u.%u (built against %s), %s, zlib %s\n", libbpf_major_version(),
	       libbpf_minor_version(), LIBBPF_BUILD_VERSION, pcap_lib_version(), zlibVersion());
	printf("features: bpf pcap-live pcap-file pcapng gzip ja3 ja4\n");
	printf("hardening: %s\n", hardening[0] ? hardening + 1 : "none");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		version();
		return CLI_OK;
	}
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "tlsaudit: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}

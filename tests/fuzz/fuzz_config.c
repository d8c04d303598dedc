// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer entry for the configuration: the input is a tlsaudit.conf, written to a
 * memfd and read back by cfg_load_file() through /proc/self/fd (the file path the
 * daemon takes), with the policies' hook connected as src/daemon/reload.c connects it.
 * Each input line is also applied as a command-line option ("key=value", what
 * `--key=value` becomes), and the policy set finished and judged, as a start does.
 * The operator writes these bytes, not a peer, but a typo must give an error line,
 * never a crash of a root daemon. Build with `make fuzz`; run build/fuzz/fuzz_config
 * tests/fuzz/corpus/config.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tlsaudit/config.h"
#include "tlsaudit/policy.h"
#include "tlsaudit/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char path[64];
/* The built-in profiles, resolved once: their suite names are looked up by name. */
static struct tls_policy_set ps, builtin;

/* What the daemon relies on after a configuration was accepted. */
static void check_cfg(const struct cfg *c)
{
	char ports[CFG_MAX_PORTS * 6 + 1];
	int i;

	if (c->n_ports < 1 || c->n_ports > CFG_MAX_PORTS)
		abort();
	for (i = 0; i < c->n_ports; i++)
		if (!c->ports[i])
			abort();
	if (!memchr(c->socket, 0, sizeof(c->socket)) ||
	    !memchr(c->state_file, 0, sizeof(c->state_file)) ||
	    !memchr(c->textfile, 0, sizeof(c->textfile)) ||
	    !memchr(c->handshake_log, 0, sizeof(c->handshake_log)))
		abort();
	if (c->socket[0] != '/' || c->state_file[0] != '/' ||
	    (c->textfile[0] && c->textfile[0] != '/') ||
	    (c->handshake_log[0] && c->handshake_log[0] != '/'))
		abort();
	if (c->export_interval_ns < NSEC_PER_SEC || c->export_interval_ns > 86400 * NSEC_PER_SEC ||
	    c->max_series < 20 || c->fallback_window_ns < NSEC_PER_SEC)
		abort();
	cfg_ports_string(c, ports, sizeof(ports));
	if (strlen(ports) < 1)
		abort();
	cfg_backend_name(c->backend);
}

static void check_err(const char *err, size_t cap)
{
	if (!memchr(err, 0, cap) || !err[0])
		abort();
}

/* finish - resolve the policies as a start does; an active list never overflows. */
static void finish(void)
{
	char err[512], list[TLS_POLICY_ACTIVE_MAX * TLS_POLICY_NAME_MAX];
	unsigned int i;

	if (tls_policy_set_finish(&ps, err, sizeof(err))) {
		check_err(err, sizeof(err));
		return;
	}
	if (ps.n_active > TLS_POLICY_ACTIVE_MAX || ps.n > TLS_POLICY_MAX)
		abort();
	for (i = 0; i < ps.n_active; i++)
		if (ps.active[i] >= ps.n)
			abort();
	tls_policy_list_string(&ps, list, sizeof(list));
	if (!memchr(list, 0, sizeof(list)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], line[1100];
	struct cfg c;
	size_t off, end;

	if (memfd < 0) {
		memfd = memfd_create("fuzz-config", MFD_CLOEXEC);
		if (memfd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) || (size && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();

	if (!builtin.n)
		tls_policy_set_init(&builtin);
	cfg_defaults(&c);
	ps = builtin;
	c.module_key = tls_policy_config_fn;
	c.module_ctx = &ps;
	memset(err, 0, sizeof(err));
	if (cfg_load_file(&c, path, err, sizeof(err))) {
		check_err(err, sizeof(err));
		/* Every error names the file, so the operator knows where to look. */
		if (strncmp(err, path, strlen(path)))
			abort();
	} else {
		check_cfg(&c);
		finish();
	}

	/* The same lines as options, each on its own, from the defaults. */
	cfg_defaults(&c);
	ps = builtin;
	c.module_key = tls_policy_config_fn;
	c.module_ctx = &ps;
	for (off = 0; off < size; off = end + 1) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t n;

		end = nl ? (size_t)(nl - data) : size;
		n = end - off < sizeof(line) - 1 ? end - off : sizeof(line) - 1;
		memcpy(line, data + off, n);
		line[n] = '\0';
		if (cfg_parse_option(&c, line, err, sizeof(err))) {
			check_err(err, sizeof(err));
			if (strncmp(err, "--", 2))
				abort();
		}
		check_cfg(&c);
	}
	finish();
	return 0;
}

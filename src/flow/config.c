// SPDX-License-Identifier: GPL-2.0-only
/*
 * Flow configuration: the embedded defaults and the watched-port test, shared by the
 * table, the session logic and the capture backends that pre-filter on ports.
 */
#include <string.h>

#include "tlsaudit/bpf_shared.h"
#include "tlsaudit/flow.h"
#include "tlsaudit/util.h"

void flow_config_default(struct flow_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ports[0] = 443;
	cfg->ports[1] = 25;
	cfg->ports[2] = 587;
	cfg->n_ports = 3;
	/* The kernel forwards the same number of bytes (src/capture/bpf.c sets it). */
	cfg->dir_cap = TA_DEFAULT_BUDGET;
	/* 100,000 connections waiting after their ClientHello fit (bench/daemon.sh flows). */
	cfg->max_flows = 131072;
	cfg->mem_budget = 64ULL << 20;
	cfg->timeout_ns = 120 * NSEC_PER_SEC;
}

bool flow_port_watched(const struct flow_config *cfg, uint16_t port)
{
	int i;

	for (i = 0; i < cfg->n_ports && i < (int)ARRAY_SIZE(cfg->ports); i++)
		if (cfg->ports[i] == port)
			return true;
	return false;
}

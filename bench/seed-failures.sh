#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Records the second seed of the realistic read benchmark (bench/read.sh): the failed
# handshakes of tests/lib/outcomes.sh between real peers in a private namespace (a TLS
# 1.0 client refused with protocol_version, no common cipher, curl refusing a
# self-signed certificate, a server that resets, a client giving up on a silent
# server) and two completed controls, as tcpdump saw them.
#
#   bench/seed-failures.sh OUT.pcap      (root)
source "$(dirname "$0")/../tests/lib/common.sh"
# shellcheck disable=SC2034 # read by outcomes.sh: no live watch, tlsaudit not needed
OC_BACKENDS=""
source "$(dirname "$0")/../tests/lib/outcomes.sh"

[ $# -eq 1 ] || { sed -n '3,9p' "$0" >&2; exit 2; }
# oc_init checks for a binary it does not run here.
[ -x "$TLSAUDIT" ] || TLSAUDIT=/bin/true
oc_init seedfail
oc_tls_cases
peers_stop
peers_capture_stop
cp "$OC_CAP" "$1" || fail "cannot write $1"
echo "capture written to $1"

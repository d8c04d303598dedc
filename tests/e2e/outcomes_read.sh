#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# How failed TLS handshakes end, offline (`tlsaudit read --json`, no BPF needed):
#   tests/pcap/refused-tls1.0.pcap   the reproduction capture (real OpenSSL peers): one
#                                    record, alert protocol_version by server, offered
#                                    TLSv1.0, version null, the ClientHello's time and SNI;
#                                    the summary counts it as a handshake
#   the TLS cases of tests/lib/outcomes.sh recorded with tcpdump in a namespace (refused
#   TLS 1.0, no common cipher, curl refusing a self-signed certificate, reset, a client
#   giving up on a silent server, a server refusing the client's certificate after its
#   Finished in TLS 1.2 and 1.3, TLS 1.3/1.2 controls): the outcome each case claims, and
#   for every connection with a ClientHello exactly one record whose outcome, outcome_by
#   and alert are what tshark shows on the wire
#   the silent server's connection cut before anything answers the ClientHello (the
#   capture ends there): outcome timeout, outcome_by and alert null
source "$(dirname "$0")/../lib/common.sh"
# shellcheck disable=SC2034 # read by outcomes.sh: no live watch
OC_BACKENDS=""
source "$(dirname "$0")/../lib/outcomes.sh"

oc_init oread

# The reproduction capture.
REF=$TOP/tests/pcap/refused-tls1.0.pcap
[ -f "$REF" ] || fail "$REF missing"
oc_expect refused-ref "r['server_port'] == 443" - - \
	'client_ip="127.0.0.1"' 'client_port=35344' 'server_ip="127.0.0.1"' 'server_port=443' \
	'time="2026-11-30T02:39:08.874Z"' 'sni="api.mailgun.test"' 'offered_max="TLSv1.0"' \
	'version=null' 'cipher=null' 'cipher_id=null' 'ja3="c6dbf3152a545382a95425e390e2d2e8"' \
	'outcome="alert"' 'outcome_by="server"' 'alert="protocol_version"' \
	'smtp_tls=null' 'mx_host=null' 'plaintext_fallback=null' \
	'wire.outcome="alert"' 'wire.outcome_by="server"' 'wire.alert="protocol_version"'
oc_check_read "$REF"
"$TLSAUDIT" read "$REF" >"$TEST_TMP/ref.txt" 2>&1 || fail "tlsaudit read (summary) failed"
grep -Eq '^total: 1 handshakes?,' "$TEST_TMP/ref.txt" ||
	oc_error "summary of the refused handshake: $(grep '^total' "$TEST_TMP/ref.txt")"

# The cases, recorded.
oc_tls_cases
oc_finish

# The silent server's connection, cut after the ClientHello: nothing ended it.
tcpdump -r "$OC_CAP" -w "$TEST_TMP/silent.pcap" "host $OC_SILENT" 2>/dev/null ||
	fail "tcpdump could not extract the silent server's connection"
n=$(tshark -n -r "$TEST_TMP/silent.pcap" -Y 'tcp.flags.fin == 1 || tcp.flags.reset == 1' \
	-T fields -e frame.number 2>/dev/null | head -n 1)
if [ -z "$n" ] || [ "$n" -le 4 ]; then
	fail "the silent connection has no FIN after its ClientHello"
fi
tcpdump -r "$TEST_TMP/silent.pcap" -w "$TEST_TMP/cut.pcap" -c $((n - 1)) 2>/dev/null ||
	fail "tcpdump could not cut the capture"
oc_expect timeout "r['server_ip'] == '$OC_SILENT'" - - \
	'outcome="timeout"' 'outcome_by=null' 'alert=null' 'version=null' \
	'offered_max="TLSv1.3"' 'sni="silent.outcomes.test"' 'wire.outcome="timeout"'
oc_check_read "$TEST_TMP/cut.pcap"
oc_done

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# How failed TLS handshakes end, live: `tlsaudit watch --json` with both backends at once
# (bpf on the host, pcap inside the namespace) and `tlsaudit read --json` of a tcpdump
# capture of the same exchanges must give the same outcome fields on the same connection,
# with both local processes named live (their pids) and none offline:
#   openssl s_client -tls1 vs s_server -tls1_2   alert protocol_version by server, offered
#                                                TLSv1.0, version null
#   no cipher suite in common (TLS 1.2)          alert handshake_failure by server
#   curl verifying a self-signed certificate     the client's certificate alert (the one on
#                                                the wire), outcome_by client, curl's pid
#   a server that resets after the ClientHello   reset by server
#   a server that never answers, curl gives up   closed by client (curl's FIN)
#   a server refusing the client's certificate   TLS 1.2: alert unknown_ca by server, after
#   (s_server -Verify 1 -verify_return_error)    the client's Finished; TLS 1.3: alert by
#                                                server, alert null (sealed)
#   TLS 1.3 and TLS 1.2 controls                 established, outcome_by and alert null
# Every record on 443 has smtp_tls, mx_host and plaintext_fallback null. tshark checks that
# the capture shows what each case claims (tests/lib/outcomes.sh).
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/outcomes.sh"

oc_init owatch
oc_tls_cases
oc_finish
oc_done

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# SMTP TLS outcomes on port 25, live with both backends (the client's and the MTA's pids)
# and offline on the tcpdump capture of the same sessions (tests/lib/outcomes.sh); the
# servers are tests/lib/smtp_server.py, the clients python smtplib (tests/lib/smtp_client.py):
#   STARTTLS upgrade (control)           smtp_tls starttls, outcome established, starttls
#                                        smtp, TLSv1.3, plaintext_fallback false
#   a server without STARTTLS            a plaintext record: smtp_tls not_offered, version
#                                        and outcome null, mx_host the greeting's host name
#   a server answering STARTTLS with 454 plaintext, smtp_tls refused
#   a client ignoring offered STARTTLS   plaintext, smtp_tls not_used, no fallback
#   one client process failing STARTTLS with TLS 1.0 against a TLS 1.2-only server, then
#   sending the same mail in plaintext to it: the TLS record is alert protocol_version by
#   server (smtp_tls starttls); the plaintext one has plaintext_fallback true on both ends
#   (live: the same process key; offline: the same client address)
#   a server answering STARTTLS with 250     plaintext, smtp_tls refused (only 220 is a go-ahead)
#   a client that gets 220 to STARTTLS and closes without a ClientHello, then sends in
#   plaintext: a TLS record (smtp_tls starttls, closed by client, version and offered_max
#   null), then plaintext_fallback true on the plaintext one
# `read --json` prints the plaintext records too. Every server has an address of its own,
# so a fallback can only come from the case that makes one.
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/outcomes.sh"

oc_init osmtp
CLIENT=$OC_LIB/smtp_client.py
PLAIN=('outcome=null' 'outcome_by=null' 'alert=null' 'version=null' 'cipher=null'
	'offered_max=null' 'sni=null' 'starttls=null')

# The control: an upgraded session.
a=$(oc_addr 1)
oc_smtp_server "$a" 25 --hostname mx-tls.outcomes.test
oc_client starttls "$PY" "$CLIENT" "$a" 25 starttls
oc_client_says '^starttls TLSv1.3'
oc_expect starttls "r['server_ip'] == '$a'" "$CLIENT_PID" "$OC_SERVER" \
	'smtp_tls="starttls"' 'outcome="established"' 'outcome_by=null' 'alert=null' \
	'starttls="smtp"' 'version="TLSv1.3"' 'mx_host="mx-tls.outcomes.test"' \
	'plaintext_fallback=false' 'wire.outcome="established"'

# A server that does not offer STARTTLS: the opportunistic client sends in plaintext.
a=$(oc_addr 2)
oc_smtp_server "$a" 25 --hostname mx-plain.outcomes.test --no-starttls
oc_client notoffered "$PY" "$CLIENT" "$a" 25 opportunistic
oc_client_says '^not offered'
oc_expect not-offered "r['server_ip'] == '$a'" "$CLIENT_PID" "$OC_SERVER" \
	'smtp_tls="not_offered"' "${PLAIN[@]}" 'mx_host="mx-plain.outcomes.test"' \
	'plaintext_fallback=false'

# A server that offers STARTTLS and refuses it with 454: the client goes on in plaintext.
a=$(oc_addr 3)
oc_smtp_server "$a" 25 --hostname mx-busy.outcomes.test --refuse-starttls 454
oc_client refused "$PY" "$CLIENT" "$a" 25 opportunistic
oc_client_says '^refused 454'
oc_expect refused "r['server_ip'] == '$a'" "$CLIENT_PID" "$OC_SERVER" \
	'smtp_tls="refused"' "${PLAIN[@]}" 'mx_host="mx-busy.outcomes.test"' \
	'plaintext_fallback=false'

# A client that ignores the STARTTLS on offer.
a=$(oc_addr 4)
oc_smtp_server "$a" 25 --hostname mx-ignored.outcomes.test
oc_client notused "$PY" "$CLIENT" "$a" 25 plain
oc_client_says '^plain offered=True'
oc_expect not-used "r['server_ip'] == '$a'" "$CLIENT_PID" "$OC_SERVER" \
	'smtp_tls="not_used"' "${PLAIN[@]}" 'mx_host="mx-ignored.outcomes.test"' \
	'plaintext_fallback=false'

# Opportunistic TLS giving up: one process, TLS 1.0 refused, then the mail in plaintext.
a=$(oc_addr 5)
oc_smtp_server "$a" 25 --hostname mx-strict.outcomes.test --tls-min 1.2 --tls-max 1.2
oc_client fallback "$PY" "$CLIENT" "$a" 25 fallback
oc_client_says '^tls failed: TLSV1_ALERT_PROTOCOL_VERSION'
oc_client_says '^plain offered=True'
oc_expect fallback-tls "r['server_ip'] == '$a' and r['starttls'] == 'smtp'" \
	"$CLIENT_PID" "$OC_SERVER" \
	'smtp_tls="starttls"' 'outcome="alert"' 'outcome_by="server"' 'alert="protocol_version"' \
	'offered_max="TLSv1.0"' 'version=null' 'mx_host="mx-strict.outcomes.test"' \
	'plaintext_fallback=false' \
	'wire.outcome="alert"' 'wire.outcome_by="server"' 'wire.alert="protocol_version"'
oc_expect fallback-plain "r['server_ip'] == '$a' and r['starttls'] is None" \
	"$CLIENT_PID" "$OC_SERVER" \
	'smtp_tls="not_used"' "${PLAIN[@]}" 'mx_host="mx-strict.outcomes.test"' \
	'plaintext_fallback=true'

# A server that answers STARTTLS with 250: no go-ahead (only 220 is); the client goes on
# in plaintext, a refused session.
a=$(oc_addr 6)
oc_smtp_server "$a" 25 --hostname mx-250.outcomes.test --refuse-starttls 250
oc_client refused250 "$PY" "$CLIENT" "$a" 25 opportunistic
oc_client_says '^refused 250'
oc_expect refused-250 "r['server_ip'] == '$a'" "$CLIENT_PID" "$OC_SERVER" \
	'smtp_tls="refused"' "${PLAIN[@]}" 'mx_host="mx-250.outcomes.test"' \
	'plaintext_fallback=false'

# A client that gets 220 to STARTTLS and closes without a ClientHello, then sends the mail
# in plaintext from the same process: the first session is a failed TLS one (closed by
# the client), the second a fallback.
cat >"$TEST_TMP/abandon.py" <<'PY'
import smtplib
import sys

addr, port = sys.argv[1], int(sys.argv[2])
s = smtplib.SMTP(local_hostname="client.tlsaudit.test", timeout=10)
s.connect(addr, port)
s.ehlo()
print("starttls", s.docmd("STARTTLS")[0], flush=True)
s.sock.close()
s = smtplib.SMTP(local_hostname="client.tlsaudit.test", timeout=10)
s.connect(addr, port)
s.ehlo()
s.sendmail("audit@client.tlsaudit.test", ["postmaster@mx.tlsaudit.test"], "Subject: t\r\n\r\nhi\r\n")
s.quit()
print("plain sent", flush=True)
PY
a=$(oc_addr 7)
oc_smtp_server "$a" 25 --hostname mx-abandon.outcomes.test
oc_client abandon "$PY" "$TEST_TMP/abandon.py" "$a" 25
oc_client_says '^starttls 220'
oc_client_says '^plain sent'
oc_expect abandon-tls "r['server_ip'] == '$a' and r['starttls'] == 'smtp'" \
	"$CLIENT_PID" "$OC_SERVER" \
	'smtp_tls="starttls"' 'outcome="closed"' 'outcome_by="client"' 'alert=null' \
	'version=null' 'offered_max=null' 'sni=null' 'mx_host="mx-abandon.outcomes.test"' \
	'plaintext_fallback=false'
oc_expect abandon-plain "r['server_ip'] == '$a' and r['starttls'] is None" \
	"$CLIENT_PID" "$OC_SERVER" \
	'smtp_tls="not_used"' "${PLAIN[@]}" 'mx_host="mx-abandon.outcomes.test"' \
	'plaintext_fallback=true'

oc_finish
oc_done

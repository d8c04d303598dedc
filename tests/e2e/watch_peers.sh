#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `tlsaudit watch --json` (eBPF backend) against other real peers, each record checked
# for the process a user would look for:
#   curl --tls-max 1.1                  comm curl, TLSv1.1
#   a python3 ssl client                comm python3, TLSv1.1
#   socat OPENSSL-LISTEN,fork           the forked child that spoke TLS, not the listener
#   SMTP STARTTLS on 25, TLS 1.0        starttls smtp, both the client and the MTA named
#   a ClientHello over several segments (lo MTU 300, no TSO/GSO): still one full record
source "$(dirname "$0")/../lib/common.sh"

require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
for t in openssl curl socat python3 ethtool; do
	command -v "$t" >/dev/null || skip "$t not installed (./configure --test-deps)"
done
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"

LEGACY=(-cipher 'DEFAULT@SECLEVEL=0')
source "$(dirname "$0")/../lib/watch.sh"

netns_new watchp
make_cert "$TEST_TMP"
KEY=$TEST_TMP/server.key
CRT=$TEST_TMP/server.crt
watch_start

# A server that takes anything from TLS 1.0 up.
bg openssl s_server -accept 127.0.0.1:443 -www -key "$KEY" -cert "$CRT" "${LEGACY[@]}"
S_OPENSSL=$BG_PID
wait_port 443

# curl capped at TLS 1.1.
SNI=curl-$$.watch.test
fg curl -sS -k -o /dev/null --tls-max 1.1 --ciphers 'DEFAULT@SECLEVEL=0' \
	--resolve "$SNI:443:127.0.0.1" "https://$SNI/"
C=$FG_PID
wait_records 2 "r['sni'] == '$SNI'"
Q="r['sni'] == '$SNI' and r['role'] == 'client'"
expect_eq "curl pid" "$(rec pid "$Q")" "$C"
expect_eq "curl comm" "$(rec comm "$Q")" curl
expect_eq "curl version" "$(rec version "$Q")" TLSv1.1
expect_eq "curl legacy" "$(rec legacy "$Q")" true
expect_eq "curl server pid" "$(rec pid "r['sni'] == '$SNI' and r['role'] == 'server'")" \
	"$S_OPENSSL"

# A python3 ssl client at TLS 1.1.
SNI=python-$$.watch.test
fg $PY -c '
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_ciphers("DEFAULT@SECLEVEL=0")
ctx.minimum_version = ssl.TLSVersion.TLSv1_1
ctx.maximum_version = ssl.TLSVersion.TLSv1_1
with socket.create_connection(("127.0.0.1", 443)) as s:
    with ctx.wrap_socket(s, server_hostname=sys.argv[1]) as t:
        t.sendall(b"GET / HTTP/1.0\r\n\r\n")
        t.recv(100)
' "$SNI"
C=$FG_PID
wait_records 2 "r['sni'] == '$SNI'"
Q="r['sni'] == '$SNI' and r['role'] == 'client'"
expect_eq "python pid" "$(rec pid "$Q")" "$C"
case $(rec comm "$Q") in python3*) ;; *) fail "python comm: got '$(rec comm "$Q")'" ;; esac
expect_eq "python version" "$(rec version "$Q")" TLSv1.1
expect_eq "python tls_lib" "$(rec tls_lib "$Q" | cut -d. -f1-2)" libssl.so

# A forking server: the record names the child that spoke TLS, not the listener.
socat_fork_server 8443
# Port 8443 is not watched by default: a second watch for it.
kill -INT "$WATCH_PID"; wait "$WATCH_PID"
watch_start --ports 443,8443,25
SNI=socat-$$.watch.test
fg sh -c "printf 'x\n' | openssl s_client -brief -connect 127.0.0.1:8443 -servername $SNI"
wait_records 2 "r['sni'] == '$SNI'"
Q="r['sni'] == '$SNI' and r['role'] == 'server'"
expect_eq "socat child pid" "$(rec pid "$Q")" "$(socat_child)"
expect_eq "socat comm" "$(rec comm "$Q")" socat
expect_eq "socat server_port" "$(rec server_port "$Q")" 8443

# SMTP STARTTLS on 25, a TLS 1.0 client.
bg $PY "$TOP/tests/lib/smtp_server.py" --addr 127.0.0.1 --port 25 --cert "$CRT" --key "$KEY" \
	--seclevel0
S_SMTP=$BG_PID
wait_port 25
SNI=smtp-$$.watch.test
fg sh -c "printf 'QUIT\r\n' | exec openssl s_client -brief -starttls smtp -tls1 \
	-cipher DEFAULT@SECLEVEL=0 -connect 127.0.0.1:25 -servername $SNI"
C=$FG_PID
wait_records 2 "r['sni'] == '$SNI'"
Q="r['sni'] == '$SNI' and r['role'] == 'client'"
expect_eq "smtp starttls" "$(rec starttls "$Q")" smtp
expect_eq "smtp version" "$(rec version "$Q")" TLSv1.0
expect_eq "smtp server_port" "$(rec server_port "$Q")" 25
expect_eq "smtp client comm" "$(rec comm "$Q")" openssl
Q="r['sni'] == '$SNI' and r['role'] == 'server'"
expect_eq "smtp server pid" "$(rec pid "$Q")" "$S_SMTP"
expect_eq "smtp server starttls" "$(rec starttls "$Q")" smtp

# A ClientHello over several TCP segments: MTU 300 and no segmentation offload on lo.
ip netns exec "$NS" ip link set lo mtu 300
ip netns exec "$NS" ethtool -K lo tso off gso off >/dev/null 2>&1 ||
	fail "ethtool -K lo tso off gso off"
SNI=seg-$(printf 'a%.0s' {1..200})-$$.watch.test
fg sh -c "printf 'Q\n' | openssl s_client -brief -connect 127.0.0.1:443 -servername $SNI \
	-alpn h2,http/1.1"
wait_records 2 "r['sni'] == '$SNI'"
Q="r['sni'] == '$SNI' and r['role'] == 'client'"
expect_eq "segmented version" "$(rec version "$Q")" TLSv1.3
expect_eq "segmented alpn" "$(rec alpn "$Q")" "h2,http/1.1"
expect_eq "segmented server pid" "$(rec pid "r['sni'] == '$SNI' and r['role'] == 'server'")" \
	"$S_OPENSSL"

kill -INT "$WATCH_PID"
wait "$WATCH_PID"
expect_eq "watch exit status on SIGINT" "$?" 0
echo "ok"

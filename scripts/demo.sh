#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# make demo [DEMO_ROUNDS=N] [DEMO_DELAY=SECS] [DEMO_PCAP=FILE]
#
# Generates TLS traffic worth looking at on a quiet machine, inside a private network
# namespace so nothing leaves the host: HTTPS servers on 443 (one modern, one that only
# speaks TLS 1.0) and an SMTP server with STARTTLS on 25 and 587, then N rounds of real
# clients against them: openssl s_client at TLS 1.0/1.1/1.2/1.3, curl at 1.1 and 1.3, a
# NULL-cipher handshake, SMTP STARTTLS at 1.0 and 1.3, and a plaintext SMTP session that
# never upgrades; and what is already failing: a TLS 1.0 client refused by a TLS 1.2-only
# server (a provider after its cut-off), curl refusing a self-signed certificate, and an
# SMTP client that gives up on TLS and sends in plaintext (plaintext_fallback).
# Everything is removed at the end.
#
# Watch it with `make run` (or `tlsaudit watch`) in another terminal: the eBPF backend sees
# the sockets of every namespace. The libpcap backend does not see inside this namespace.
# DEMO_PCAP=FILE also records the traffic with tcpdump, for `tlsaudit read FILE`.
set -u

TOP=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${DEMO_ROUNDS:-5}
DELAY=${DEMO_DELAY:-2}
NS=tlsaudit-demo-$$
TMP=""
pids=()

die() { echo "demo: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (it creates a network namespace); run: sudo make demo"
case $ROUNDS in '' | *[!0-9]*) die "DEMO_ROUNDS='$ROUNDS' is not a number" ;; esac

# The demo's peers are the test suite's: install what is missing on a fresh machine.
need=()
for t in ip:iproute2 openssl:openssl curl:curl python3:python3 ss:iproute2; do
	command -v "${t%%:*}" >/dev/null 2>&1 || need+=("${t#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
	command -v apt-get >/dev/null || die "missing: ${need[*]}"
	echo "demo: installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
fi

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	[ -n "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

TMP=$(mktemp -d /tmp/tlsaudit-demo.XXXXXX)
ip netns add "$NS" || die "ip netns add $NS failed"
ip -n "$NS" link set lo up
# A second loopback address for the server that only speaks TLS 1.0.
ip -n "$NS" addr add 127.0.0.2/8 dev lo 2>/dev/null
# Servers that refuse TLS below 1.2, as providers do since their cut-off dates.
ip -n "$NS" addr add 127.0.0.3/8 dev lo 2>/dev/null
ip -n "$NS" addr add 127.0.0.4/8 dev lo 2>/dev/null

# Foreground use only: in the background a function runs in a subshell, and $! would be
# that subshell rather than the server (background commands call ip netns exec directly).
in_ns() { ip netns exec "$NS" "$@"; }

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=demo.tlsaudit.test \
	-addext "subjectAltName=DNS:api.demo.test,DNS:legacy.demo.test,DNS:mail.demo.test" \
	-keyout "$TMP/server.key" -out "$TMP/server.crt" >/dev/null 2>&1 ||
	die "openssl could not make a certificate"

wait_listen() {
	local i
	for ((i = 0; i < 100; i++)); do
		in_ns ss -Htln "src $1 and sport = :$2" | grep -q . && return 0
		sleep 0.05
	done
	die "the demo server on $1:$2 did not start (log in $TMP)"
}

# SECLEVEL=0: OpenSSL 3 refuses TLS 1.0/1.1 (SHA-1 signatures) and NULL ciphers above it.
LEGACY='DEFAULT@SECLEVEL=0'
ip netns exec "$NS" openssl s_server -accept 127.0.0.1:443 -www -key "$TMP/server.key" \
	-cert "$TMP/server.crt" -cipher 'ALL:eNULL@SECLEVEL=0' </dev/null >"$TMP/https.log" 2>&1 &
pids+=($!)
ip netns exec "$NS" openssl s_server -accept 127.0.0.2:443 -www -tls1 -key "$TMP/server.key" \
	-cert "$TMP/server.crt" -cipher "$LEGACY" </dev/null >"$TMP/https-old.log" 2>&1 &
pids+=($!)
ip netns exec "$NS" openssl s_server -accept 127.0.0.4:443 -www -tls1_2 -key "$TMP/server.key" \
	-cert "$TMP/server.crt" </dev/null >"$TMP/https-strict.log" 2>&1 &
pids+=($!)
ip netns exec "$NS" python3 "$TOP/tests/lib/smtp_server.py" --addr 127.0.0.3 --port 25 \
	--hostname mx-strict.demo.test --cert "$TMP/server.crt" --key "$TMP/server.key" \
	--tls-min 1.2 >"$TMP/smtp-strict.log" 2>&1 &
pids+=($!)
for port in 25 587; do
	ip netns exec "$NS" python3 "$TOP/tests/lib/smtp_server.py" --addr 127.0.0.1 --port "$port" \
		--hostname mail.demo.test --cert "$TMP/server.crt" --key "$TMP/server.key" \
		--seclevel0 >"$TMP/smtp.$port.log" 2>&1 &
	pids+=($!)
done
wait_listen 127.0.0.1 443
wait_listen 127.0.0.2 443
wait_listen 127.0.0.1 25
wait_listen 127.0.0.1 587
wait_listen 127.0.0.4 443
wait_listen 127.0.0.3 25

if [ -n "${DEMO_PCAP:-}" ]; then
	command -v tcpdump >/dev/null || die "DEMO_PCAP needs tcpdump (apt-get install tcpdump)"
	ip netns exec "$NS" tcpdump -i lo -U -s 0 -w "$DEMO_PCAP" 'tcp port 443 or tcp port 25 or tcp port 587' \
		>"$TMP/tcpdump.log" 2>&1 &
	tcpdump_pid=$!
	pids+=("$tcpdump_pid")
	for ((i = 0; i < 100; i++)); do
		grep -q 'listening on' "$TMP/tcpdump.log" && break
		sleep 0.05
	done
fi

ok=0 bad=0
# run WHAT CMD...: one client connection; a failure is reported, the demo goes on.
run() {
	local what=$1
	shift
	if in_ns timeout 10 "$@" >"$TMP/client.out" 2>&1; then
		ok=$((ok + 1))
	else
		bad=$((bad + 1))
		echo "  $what: failed ($(tail -n 1 "$TMP/client.out"))"
	fi
}
s_client() { # HOST:PORT SNI ARGS...
	local hp=$1 sni=$2
	shift 2
	echo Q | in_ns timeout 10 openssl s_client -brief -connect "$hp" -servername "$sni" \
		"$@" >"$TMP/client.out" 2>&1
	if grep -q '^Protocol version' "$TMP/client.out"; then
		ok=$((ok + 1))
	else
		bad=$((bad + 1))
		echo "  openssl s_client $hp $*: no handshake ($(tail -n 1 "$TMP/client.out"))"
	fi
}
smtp_starttls() { # PORT ARGS...
	local port=$1
	shift
	printf 'QUIT\r\n' | in_ns timeout 10 openssl s_client -brief -starttls smtp \
		-connect "127.0.0.1:$port" "$@" >"$TMP/client.out" 2>&1
	if grep -q '^Protocol version' "$TMP/client.out"; then
		ok=$((ok + 1))
	else
		bad=$((bad + 1))
		echo "  SMTP STARTTLS on $port $*: no handshake ($(tail -n 1 "$TMP/client.out"))"
	fi
}
smtp_plain() { # PORT: EHLO, MAIL, QUIT without STARTTLS
	in_ns timeout 10 python3 - "$1" >"$TMP/client.out" 2>&1 <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="plain.demo.test")
s.ehlo()
s.sendmail("demo@demo.test", ["postmaster@demo.test"], "Subject: plaintext\r\n\r\nhello\r\n")
s.quit()
EOF
	if [ $? -eq 0 ]; then ok=$((ok + 1)); else
		bad=$((bad + 1))
		echo "  plaintext SMTP on $1: failed ($(tail -n 1 "$TMP/client.out"))"
	fi
}

curl_args=(-sS -k -o /dev/null --resolve api.demo.test:443:127.0.0.1)
echo "demo: namespace $NS, $ROUNDS rounds, ${DELAY}s apart; watch with 'make run' or" \
	"'tlsaudit watch'"
for ((r = 1; r <= ROUNDS; r++)); do
	s_client 127.0.0.1:443 legacy.demo.test -tls1 -cipher "$LEGACY"
	s_client 127.0.0.1:443 legacy.demo.test -tls1_1 -cipher "$LEGACY"
	s_client 127.0.0.1:443 api.demo.test -tls1_2
	s_client 127.0.0.1:443 api.demo.test -tls1_3
	# Offers TLS 1.3, gets 1.0: the server is the one to blame (limited_by server).
	s_client 127.0.0.2:443 legacy.demo.test -cipher "$LEGACY"
	# A NULL cipher: authenticated, not encrypted (weak_cipher).
	s_client 127.0.0.1:443 api.demo.test -tls1_2 -cipher 'ECDHE-RSA-NULL-SHA@SECLEVEL=0'
	run "curl TLS 1.1" curl "${curl_args[@]}" --tlsv1.1 --tls-max 1.1 \
		--ciphers "$LEGACY" https://api.demo.test/
	run "curl TLS 1.3" curl "${curl_args[@]}" --tlsv1.3 https://api.demo.test/
	smtp_starttls 25 -tls1 -cipher "$LEGACY"
	smtp_starttls 587 -tls1_3
	smtp_plain 587
	# Already failing: these are expected to fail, and tlsaudit says why and whose fault.
	echo Q | in_ns timeout 10 openssl s_client -brief -connect 127.0.0.4:443 \
		-servername api.provider.test -tls1 -cipher "$LEGACY" >/dev/null 2>&1
	in_ns timeout 10 curl -sS -o /dev/null --resolve api.demo.test:443:127.0.0.1 \
		https://api.demo.test/ >/dev/null 2>&1
	in_ns timeout 10 python3 "$TOP/tests/lib/smtp_client.py" 127.0.0.3 25 fallback \
		>/dev/null 2>&1
	echo "round $r/$ROUNDS: $ok handshakes and sessions so far, $bad failed"
	[ "$r" -lt "$ROUNDS" ] && sleep "$DELAY"
done
if [ -n "${DEMO_PCAP:-}" ]; then
	# Let tcpdump write the last FIN/ACKs before it is stopped.
	sleep 0.5
	kill -INT "$tcpdump_pid" 2>/dev/null
	wait "$tcpdump_pid" 2>/dev/null
	echo "demo: capture in $DEMO_PCAP (try: build/tlsaudit read $DEMO_PCAP)"
fi
[ "$bad" -eq 0 ] || exit 1

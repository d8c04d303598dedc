#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Writes the seeds of the entries that read files and requests, from the project's own
# test data and a real daemon:
#   config/  the shipped tlsaudit.conf, the docs' policy example, options one per line
#   policy/  policy lines, a NUL, 12 server bytes and a real ClientHello body (tls/ seeds)
#   pcap/    tests/pcap/craft.py's captures, the refused-TLS-1.0 and JA4 captures
#   state/   the state file of a daemon that saw real handshakes (openssl, in a network
#            namespace), whole and as a bare payload (fuzz_state.c's two forms)
#   ctl/     requests as top, report and status send them, and reply lines of that daemon
#
#     sudo tests/fuzz/corpus/mkcorpus_files.sh [CORPUS_DIR]
# Needs root (namespace, libpcap) and build/tlsaudit; seeds are rewritten, not merged.
source "$(dirname "$0")/../../lib/common.sh"

OUT=${1:-$TOP/tests/fuzz/corpus}
require_root
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
mkdir -p "$OUT"/{config,policy,pcap,state,ctl}

# --- config -----------------------------------------------------------------------------
cp "$TOP/packaging/tlsaudit.conf" "$OUT/config/shipped"
sed -n '/^policies = tls12, mozilla/,/^policy.future-certs.min_rsa_bits/p' \
	"$TOP/docs/policies.md" >"$OUT/config/policies_doc"
cat >"$OUT/config/every_key" <<'EOF'
# every key the daemon knows, with a quoted value and comments
ports = 443,25,587,8443
backend = pcap
socket = /run/tlsaudit/tlsaudit.sock
state_file = "/var/lib/tlsaudit/state#1"   # a '#' inside quotes
textfile = none
export_interval = 1m
max_series = 5000
row_ttl = 30d
handshake_log = /var/log/tlsaudit/handshakes.json
handshake_log_format = ecs
fallback_window = 2h
policies = tls12, fips-ems
EOF
printf '%s\n' state-file=/tmp/s export-interval=1s ports=443 policy.x.base=tls12 \
	policy.x.min-version=TLSv1.3 policies=x,tls12 row-ttl=none >"$OUT/config/options"
printf 'ports = 443\r\nbackend = auto\r\n' >"$OUT/config/crlf"

# --- policy -----------------------------------------------------------------------------
# hello BODY - a ClientHello body from a tls/ seed: after the record (5) and handshake
# (4) headers, as long as the handshake header says.
hello_body() {
	python3 - "$1" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
n = int.from_bytes(d[6:9], "big")
sys.stdout.buffer.write(d[9:9 + n])
EOF
}
policy_seed() { # NAME TEXT SRVHEX HELLO
	{
		printf '%s' "$2"
		printf '\0'
		printf '%s' "$3" | xxd -r -p
		hello_body "$OUT/tls/$4"
	} >"$OUT/policy/$1"
}
doc=$(cat "$OUT/config/policies_doc")
# version 0303, suite c02f, group 001d, flags (server, key_share), RSA, RSA, SHA-256, 2048
policy_seed doc_tls12 "$doc" 0303c02f001d03010104 tls12_client
printf '0800' | xxd -r -p >>"$OUT/policy/doc_tls12"
policy_seed doc_tls13 "$doc" 03041301001d03030304 tls13_client
printf '0100' | xxd -r -p >>"$OUT/policy/doc_tls13"
policy_seed legacy "policies = tls12, mozilla-old, nist-800-52r2
policy.pq.groups = X25519MLKEM768, x25519
policy.pq.require_ems = yes
policy.pq.require_sni = yes
policy.pq.cert_keys = ec-p-256, ed25519
policy.pq.cert_sigs = ecdsa-with-SHA256, ED25519
policy.pq.forbid_sig = sha1
policy.pq.min_ec_bits = 256
policies = pq, tls12
RSA-1024" 0301c014001705020102 tls10_client
printf '0400' | xxd -r -p >>"$OUT/policy/legacy"

# --- pcap -------------------------------------------------------------------------------
python3 "$TOP/tests/pcap/craft.py" "$OUT/pcap" >/dev/null || fail "craft.py"
cp "$TOP/tests/pcap/refused-tls1.0.pcap" "$TOP/tests/pcap/peer-ja4/ipv6.pcapng" \
	"$TOP/tests/pcap/peer-ja4/tls-alpn-h2.pcap" "$OUT/pcap/"

# --- state and ctl: a daemon that saw real handshakes ----------------------------------
netns_new corpus
make_cert "$TEST_TMP"
S=$TEST_TMP/sock
# nsenter execs the daemon (ip netns exec forks: $! would not be the daemon).
nsenter --net="/run/netns/$NS" "$TLSAUDIT" daemon --backend pcap --ports=443 --socket="$S" \
	--state-file="$TEST_TMP/state" --textfile=none --export-interval=1s \
	>"$TEST_TMP/d.log" 2>&1 &
DPID=$!
on_exit "kill -9 $DPID"
for ((i = 0; i < 100; i++)); do
	"$TLSAUDIT" status -S "$S" >/dev/null 2>&1 && break
	sleep 0.1
done
in_ns openssl s_server -accept 443 -key "$TEST_TMP/server.key" -cert "$TEST_TMP/server.crt" \
	-cipher 'DEFAULT:@SECLEVEL=0' -quiet </dev/null >/dev/null 2>&1 &
on_exit "kill $!"
wait_port 443
for v in -tls1 -tls1_1 -tls1_2 -tls1_3; do
	in_ns openssl s_client -connect 127.0.0.1:443 "$v" -servername "corpus$v.test" \
		-cipher 'DEFAULT:@SECLEVEL=0' </dev/null >/dev/null 2>&1
done
# A refused one: the server answers TLS 1.3 only.
in_ns openssl s_server -accept 4443 -tls1_3 -key "$TEST_TMP/server.key" \
	-cert "$TEST_TMP/server.crt" -quiet </dev/null >/dev/null 2>&1 &
on_exit "kill $!"
wait_port 4443
in_ns openssl s_client -connect 127.0.0.1:4443 -tls1_2 -servername refused.test \
	</dev/null >/dev/null 2>&1
sleep 2
n=0
reqs=('{"cmd":"status"}' '{"cmd":"top"}' '{"cmd":"report","legacy":true,"since_s":3600}'
	'{"cmd":"report","handshakes":true}' '{"cmd":"report","policy":"tls12","handshakes":true}')
for r in "${reqs[@]}"; do
	n=$((n + 1))
	printf '%s\n' "$r" >"$OUT/ctl/request_$n"
	# The reply's lines are seeds too: the client parses them, they are JSON.
	python3 - "$S" "$r" >"$OUT/ctl/reply_$n" <<'EOF' || fail "ctl query"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
s.settimeout(5)
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
    hdr = data.split(b"\n", 1)[0]
    import json
    h = json.loads(hdr)
    want = 1 + h.get("n_rows", 0) + h.get("n_handshakes", 0)
    if data.count(b"\n") >= want:
        break
sys.stdout.buffer.write(data)
EOF
done
printf '{"cmd":"status"}\r\n{"cmd":"top"}\n\0/usr/bin/evil\0evil\0sni.test\0img:1\n' \
	>"$OUT/ctl/two_with_process"
kill -TERM "$DPID"
wait "$DPID" || fail "daemon exit $?: $(cat "$TEST_TMP/d.log")"
[ -s "$TEST_TMP/state" ] || fail "no state written"
{ printf '\0'; cat "$TEST_TMP/state"; } >"$OUT/state/file_v4"
# The payload form: first byte (4 << 1) | 1, then the inflated payload.
{ printf '\x09'; python3 -c '
import sys, zlib
d = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(zlib.decompress(d[24:]))' "$TEST_TMP/state"; } >"$OUT/state/payload_v4"
printf '\x09\0\0\0\0\0\0\0\1\0\0\0\0\0\0\0\0' >"$OUT/state/payload_empty"
ls "$OUT"/{config,policy,pcap,state,ctl} | grep -c . | sed 's/^/seeds: /'

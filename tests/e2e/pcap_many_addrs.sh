#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The libpcap backend on a host with many local addresses (one or more per container):
# which end of a connection is local decides whose process is looked up, and an address
# missing from that set leaves the record without a process. In a network namespace,
# `tlsaudit watch --backend pcap` runs (libpcap and sock_diag see the namespace they run
# in) while an interface carries
#   100 IPv4 addresses added before the watch starts   a client from the 100th is named
#   100 IPv4 and 100 IPv6 addresses added after it     a client from the last of each is
#                                                      named at once (the kernel's
#                                                      address announcements)
#   the late IPv4 ones deleted again                   a client on the host's end of a
#                                                      veth with one of them is remote:
#                                                      one record, the server's
source "$(dirname "$0")/../lib/common.sh"

require_root
for t in ip openssl curl python3; do
	command -v "$t" >/dev/null || skip "$t not installed (./configure --test-deps)"
done
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
source "$(dirname "$0")/../lib/watch.sh"

PORT=8443
netns_new addrs
make_cert "$TEST_TMP"
KEY=$TEST_TMP/server.key
CRT=$TEST_TMP/server.crt

# The addresses sit on a veth pair inside the namespace, as a bridge's would on a
# container host (this kernel may have no dummy interfaces).
in_ns ip link add ctr0 type veth peer name ctr1 || fail "ip link add ctr0 type veth"
in_ns ip link set ctr0 up
in_ns ip link set ctr1 up
# add_addrs PREFIX FAMILY - PREFIX1 .. PREFIX100 on ctr0, in one batch.
add_addrs() {
	local i
	for ((i = 1; i <= 100; i++)); do
		if [ "$2" = 6 ]; then
			echo "addr add $1$(printf %x $i)/128 dev ctr0 nodad"
		else
			echo "addr add $1$i/32 dev ctr0"
		fi
	done >"$TEST_TMP/batch"
	in_ns ip -batch "$TEST_TMP/batch" || fail "ip -batch: adding $1* failed"
}
add_addrs 10.77.0. 4

# The watch runs inside the namespace: the pcap backend's view is the namespace it is in.
WATCH_OUT=$TEST_TMP/watch.json
WATCH_ERR=$TEST_TMP/watch.err
ip netns exec "$NS" "$TLSAUDIT" watch --json --backend pcap --ports "$PORT" \
	>"$WATCH_OUT" 2>"$WATCH_ERR" &
WATCH_PID=$!
on_exit "kill $WATCH_PID"
wait_line "$WATCH_ERR" "capturing with pcap" "$WATCH_PID" ||
	fail "tlsaudit watch --backend pcap did not start: $(cat "$WATCH_ERR")"

bg openssl s_server -accept "10.77.0.1:$PORT" -www -key "$KEY" -cert "$CRT"
wait_port "$PORT"

# A TLS client from address SRC to the server at DST with SNI, which keeps its connection
# a moment: the owner lookup of libpcap needs the socket still open, and the question
# here is only whether SRC counts as local.
cat >"$TEST_TMP/client.py" <<'EOF'
import socket, ssl, sys, time
src, dst, port, sni = sys.argv[1:5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection((dst, int(port)), timeout=5, source_address=(src, 0)) as s:
    with ctx.wrap_socket(s, server_hostname=sni) as t:
        t.sendall(b"GET / HTTP/1.0\r\n\r\n")
        t.recv(64)
        time.sleep(0.5)
EOF

# client_from SRC DST SNI - that client; its record must name its pid.
client_from() {
	fg "$PY" "$TEST_TMP/client.py" "$1" "$2" "$PORT" "$3"
	wait_records 1 "r['sni'] == '$3' and r['role'] == 'client'"
	Q="r['sni'] == '$3' and r['role'] == 'client'"
	expect_eq "client address from $1" "$(rec client_ip "$Q")" "$1"
	expect_eq "client pid from $1" "$(rec pid "$Q")" "$FG_PID"
	expect_eq "client comm from $1" "$(rec comm "$Q")" python3
}

client_from 10.77.0.100 10.77.0.1 "v4-100-$$.addrs.test"

# Addresses that appear while the capture runs count at once.
add_addrs 10.78.0. 4
add_addrs fd00:78:: 6
client_from 10.78.0.100 10.77.0.1 "v4-late-$$.addrs.test"
bg openssl s_server -accept "[fd00:78::1]:$PORT" -www -key "$KEY" -cert "$CRT"
for ((i = 0; i < 200; i++)); do
	in_ns ss -Htln "src [fd00:78::1]:$PORT" | grep -q . && break
	sleep 0.025
done
client_from fd00:78::64 fd00:78::1 "v6-late-$$.addrs.test"

# Deleted addresses stop counting as local at once: 10.78.0.50 goes from the namespace
# to the host's end of a veth, and a connection from there is a remote client's, with
# one record (the server's), not a second one for a local client nobody owns.
for ((i = 1; i <= 100; i++)); do echo "addr del 10.78.0.$i/32 dev ctr0"; done >"$TEST_TMP/batch"
in_ns ip -batch "$TEST_TMP/batch" || fail "ip -batch: deleting 10.78.0.* failed"
VETH=tav$$
ip link add "$VETH" type veth peer name "${VETH}p" netns "$NS" || fail "ip link add veth"
on_exit "ip link del $VETH"
ip addr add 10.79.0.1/24 dev "$VETH"
ip addr add 10.78.0.50/32 dev "$VETH"
ip link set "$VETH" up
in_ns ip addr add 10.79.0.2/24 dev "${VETH}p"
in_ns ip link set "${VETH}p" up
in_ns ip route add 10.78.0.50/32 dev "${VETH}p"
bg openssl s_server -accept "10.79.0.2:$PORT" -www -key "$KEY" -cert "$CRT"
for ((i = 0; i < 200; i++)); do
	in_ns ss -Htln "src 10.79.0.2:$PORT" | grep -q . && break
	sleep 0.025
done
SNI=remote-$$.addrs.test
timeout 10 curl -sS -k -o /dev/null --interface 10.78.0.50 \
	--resolve "$SNI:$PORT:10.79.0.2" "https://$SNI:$PORT/" ||
	fail "curl from the host to the namespace failed"
wait_records 1 "r['sni'] == '$SNI'"
sleep 0.3
expect_eq "records of a remote client's handshake" "$($PY -c "
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)['sni'] == sys.argv[2]))" \
	"$WATCH_OUT" "$SNI")" 1
expect_eq "that record's role" "$(rec role "r['sni'] == '$SNI'")" server

kill -INT "$WATCH_PID"
wait "$WATCH_PID" || fail "watch exited with $?"
echo "ok: every local address counts, however many, as soon as it is configured"

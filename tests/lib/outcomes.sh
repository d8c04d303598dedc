# SPDX-License-Identifier: GPL-2.0-only
# Handshake outcomes and SMTP TLS outcomes seen three ways at once: every exchange between
# real peers in a private namespace is watched live by `tlsaudit watch --json --backend
# bpf` (on the host: cgroup_skb on the root cgroup sees every namespace) and by `tlsaudit
# watch --json --backend pcap` (inside the namespace: libpcap sees only its own), and
# recorded by tcpdump inside the namespace for `tlsaudit read --json`. Each case then
# must give the same outcome fields in all three, on the same connection (the same
# 4-tuple), with both local processes named live and no process offline; tshark on the
# capture checks that the peers really did what the case claims (tests/lib/outcomes_check.py).
# Source after common.sh.
#
#   oc_init NAME            namespace, certificate, capture and watches (OC_BACKENDS, default
#                           "bpf pcap"; empty: offline only, no BPF needed)
#   oc_addr N               a server address of its own for case N: 127.A.N.1, A from the
#                           test's pid, so that concurrent tests (the bpf watch sees them
#                           all) do not share server addresses
#   oc_tls_server ADDR PORT [s_server args...]   openssl s_server -www; OC_SERVER is its pid
#   oc_hello_server ADDR PORT reset|silent       tests/lib/hello_server.py
#   oc_smtp_server ADDR PORT [smtp_server.py args...]
#   oc_client NAME CMD...   runs CMD in the namespace to its end (10 s at most) with "Q" on
#                           its stdin after OC_HOLD seconds (default 0); CLIENT_PID is CMD
#                           itself, CLIENT_RC its exit status, CLIENT_OUT its output
#   oc_client_says PATTERN  fails unless the client's output matches PATTERN (grep -E): the
#                           peers did what the case needs
#   oc_expect NAME SELECT CLIENT_PID SERVER_PID COND...
#                           a case: the records matching the python expression SELECT (on r)
#                           are one connection; live, one record per local end (role client
#                           with CLIENT_PID, role server with SERVER_PID); offline one record
#                           with role and pid null. COND: FIELD=JSON, FIELD~=JSONLIST (one
#                           of), FIELD!=JSON, FIELD=@wire (what tshark shows); prefix client.
#                           or server. for one live end only, wire. for tshark's view
#                           (outcome, outcome_by, alert). JSON without spaces.
#   oc_finish               waits for the live records, stops the watches and the capture,
#                           reads the capture and checks every case; fails listing every
#                           assertion that does not hold
#   oc_check_read FILE      `tlsaudit read --json FILE` against the cases written since the
#                           last check (no live sources)
#   oc_error MSG            an assertion that does not hold; the test goes on
#   oc_done                 fails when any check failed (each one printed its assertions)
#   oc_tls_cases            the TLS outcome cases on port 443 (below); OC_SILENT is the
#                           address of the server that never answers
#   OC_CAP                  the capture file

OC_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/peers.sh
source "$OC_LIB/peers.sh"
# shellcheck source=tests/lib/watch.sh
source "$OC_LIB/watch.sh"

OC_BACKENDS=${OC_BACKENDS-bpf pcap}
OC_NET=127.$((20 + $$ % 200))
OC_CAP=""
OC_CASES=""
OC_HOLD=${OC_HOLD:-0}
_oc_watch_pids=()
_oc_sources=()

oc_init() {
	require_root
	local t
	for t in openssl tcpdump tshark python3; do
		command -v "$t" >/dev/null || skip "$t not installed (./configure --test-deps)"
	done
	[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
	if [ -n "$OC_BACKENDS" ]; then
		[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
	fi
	netns_new "$1"
	make_cert "$TEST_TMP"
	OC_CASES=$TEST_TMP/cases.txt
	: >"$OC_CASES"
	OC_CAP=$TEST_TMP/outcomes.pcap
	peers_capture_start "$OC_CAP" "tcp port 443 or tcp port 25 or tcp port 587"
	local b
	for b in $OC_BACKENDS; do
		_oc_watch "$b"
	done
}

# _oc_watch bpf|pcap - a watch with its own output; bpf on the host, pcap in the namespace.
_oc_watch() {
	local b=$1 out=$TEST_TMP/live-$1.json err=$TEST_TMP/live-$1.err pid
	if [ "$b" = pcap ]; then
		ip netns exec "$NS" "$TLSAUDIT" watch --json --backend pcap >"$out" 2>"$err" &
	else
		"$TLSAUDIT" watch --json --backend "$b" >"$out" 2>"$err" &
	fi
	pid=$!
	on_exit "kill $pid"
	wait_line "$err" "capturing with $b" "$pid" || {
		cat "$err" >&2
		fail "tlsaudit watch --backend $b did not start capturing"
	}
	_oc_watch_pids+=("$pid")
	_oc_sources+=("$b=$out")
}

oc_addr() { echo "$OC_NET.$1.1"; }

oc_tls_server() {
	peers_tls_server "$@"
	OC_SERVER=$PEERS_LAST_PID
}

oc_hello_server() {
	_peers_bg "$PY" "$OC_LIB/hello_server.py" --addr "$1" --port "$2" --mode "$3" \
		>"$TEST_TMP/hello.$1.log" 2>&1
	OC_SERVER=$PEERS_LAST_PID
	peers_wait_listen "$1" "$2"
}

oc_smtp_server() {
	local addr=$1 port=$2
	shift 2
	_peers_bg "$PY" "$OC_LIB/smtp_server.py" --addr "$addr" --port "$port" \
		--cert "$TEST_TMP/server.crt" --key "$TEST_TMP/server.key" "$@" \
		>"$TEST_TMP/smtp.$addr.log" 2>&1
	OC_SERVER=$PEERS_LAST_PID
	peers_wait_listen "$addr" "$port"
}

oc_client() {
	local name=$1
	shift
	CLIENT_OUT=$TEST_TMP/client-$name.out
	# The last command of a background pipeline is $!: CMD itself (ip execs it).
	{ sleep "$OC_HOLD"; printf 'Q\n'; } 2>/dev/null |
		ip netns exec "$NS" "$@" >"$CLIENT_OUT" 2>&1 &
	CLIENT_PID=$!
	(sleep 10; kill "$CLIENT_PID") 2>/dev/null &
	local dog=$!
	wait "$CLIENT_PID"
	CLIENT_RC=$?
	kill "$dog" 2>/dev/null
	wait "$dog" 2>/dev/null
	return 0
}

oc_client_says() {
	grep -Eq "$1" "$CLIENT_OUT" && return 0
	sed 's/^/    /' "$CLIENT_OUT" >&2
	fail "client ${CLIENT_OUT##*/} (exit $CLIENT_RC): the peers did not do what the case needs (no '$1')"
}

oc_expect() {
	local name=$1 select=$2 cpid=$3 spid=$4
	shift 4
	printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$select" "$cpid" "$spid" "$*" >>"$OC_CASES"
}

oc_finish() {
	local srcs=("${_oc_sources[@]}") p
	# Live records follow the outcome closely; wait for one per local end of every case.
	if [ ${#srcs[@]} -gt 0 ]; then
		$PY "$OC_LIB/outcomes_check.py" --wait 15 "$OC_CASES" "${srcs[@]}"
	fi
	peers_stop
	peers_capture_stop
	for p in "${_oc_watch_pids[@]}"; do
		kill -INT "$p"
		wait "$p" || fail "tlsaudit watch exited with $? on SIGINT"
	done
	_oc_watch_pids=()
	oc_check_read "$OC_CAP" "${srcs[@]}"
}

# oc_check_read FILE [LIVE SOURCES...] - read --json FILE, then every case since the last
# check against it (and the live sources given), with tshark's view of FILE.
OC_NREAD=0
oc_check_read() {
	local cap=$1 out
	shift
	OC_NREAD=$((OC_NREAD + 1))
	out=$TEST_TMP/read$OC_NREAD.json
	"$TLSAUDIT" read --json "$cap" >"$out" 2>"$out.err" ||
		fail "tlsaudit read --json ${cap##*/} failed: $(cat "$out.err")"
	$PY "$OC_LIB/outcomes_check.py" --capture "$cap" "$OC_CASES" "$@" "read=$out" ||
		oc_error "outcome assertions failed on ${cap##*/} (above)"
	OC_CASES=$TEST_TMP/cases$OC_NREAD.txt
	: >"$OC_CASES"
}

OC_ERRORS=0
oc_error() {
	echo "FAIL: $*" >&2
	OC_ERRORS=$((OC_ERRORS + 1))
}

oc_done() {
	[ "$OC_ERRORS" -eq 0 ] || fail "$OC_ERRORS checks failed (above)"
	echo "ok"
}

# The TLS cases, each against a server address of its own. A record of a handshake on 443
# has no SMTP fields; every failed one keeps its ClientHello fields (sni, offered_max, ja3).
oc_tls_cases() {
	local a tls=('smtp_tls=null' 'mx_host=null' 'plaintext_fallback=null' 'ja3!=null')
	command -v curl >/dev/null || skip "curl not installed (./configure --test-deps)"

	# A TLS 1.0 client refused by a TLS 1.2 server: the server's protocol_version alert,
	# what a provider answers after its TLS 1.0 cut-off. OpenSSL 3.0 offers TLS 1.0 only
	# at security level 0.
	a=$(oc_addr 1)
	oc_tls_server "$a" 443 -tls1_2
	oc_client refused openssl s_client -brief -connect "$a:443" -tls1 \
		-cipher 'DEFAULT@SECLEVEL=0' -servername refused.outcomes.test
	oc_client_says 'alert protocol version'
	oc_expect refused-tls1.0 "r['server_ip'] == '$a'" "$CLIENT_PID" "$OC_SERVER" \
		'outcome="alert"' 'outcome_by="server"' 'alert="protocol_version"' \
		'offered_max="TLSv1.0"' 'version=null' 'cipher=null' 'sni="refused.outcomes.test"' \
		'client.comm="openssl"' 'server.comm="openssl"' "${tls[@]}" \
		'wire.outcome="alert"' 'wire.outcome_by="server"' 'wire.alert="protocol_version"'

	# No cipher suite in common: the server's handshake_failure.
	a=$(oc_addr 2)
	oc_tls_server "$a" 443 -tls1_2 -cipher AES128-SHA
	oc_client nocipher openssl s_client -brief -connect "$a:443" -tls1_2 \
		-cipher AES256-GCM-SHA384 -servername nocipher.outcomes.test
	oc_client_says 'alert handshake failure'
	oc_expect no-cipher "r['server_ip'] == '$a'" "$CLIENT_PID" "$OC_SERVER" \
		'outcome="alert"' 'outcome_by="server"' 'alert="handshake_failure"' \
		'offered_max="TLSv1.2"' 'version=null' 'sni="nocipher.outcomes.test"' "${tls[@]}" \
		'wire.outcome="alert"' 'wire.outcome_by="server"' 'wire.alert="handshake_failure"'

	# curl verifies the server's self-signed certificate and refuses it: the client's alert
	# in the clear (TLS 1.2). OpenSSL sends unknown_ca here; any certificate alert is fair,
	# and it must be the one on the wire.
	a=$(oc_addr 3)
	oc_tls_server "$a" 443 -tls1_2
	oc_client selfsigned curl -sS -o /dev/null --tlsv1.2 --tls-max 1.2 \
		--resolve "selfsigned.outcomes.test:443:$a" https://selfsigned.outcomes.test/
	oc_client_says 'SSL certificate problem'
	oc_expect curl-selfsigned "r['server_ip'] == '$a'" "$CLIENT_PID" "$OC_SERVER" \
		'outcome="alert"' 'outcome_by="client"' 'alert=@wire' \
		'alert~=["bad_certificate","unsupported_certificate","certificate_revoked","certificate_expired","certificate_unknown","unknown_ca"]' \
		'version="TLSv1.2"' 'cipher!=null' 'sni="selfsigned.outcomes.test"' \
		'client.comm="curl"' "${tls[@]}" 'wire.outcome="alert"' 'wire.outcome_by="client"'

	# A server that takes the ClientHello and resets the connection (SO_LINGER 0).
	a=$(oc_addr 4)
	oc_hello_server "$a" 443 reset
	oc_client reset openssl s_client -brief -connect "$a:443" -servername reset.outcomes.test
	oc_client_says 'errno=104|reset'
	oc_expect reset "r['server_ip'] == '$a'" "$CLIENT_PID" "$OC_SERVER" \
		'outcome="reset"' 'outcome_by="server"' 'alert=null' 'version=null' \
		'offered_max="TLSv1.3"' 'sni="reset.outcomes.test"' "${tls[@]}" \
		'wire.outcome="reset"' 'wire.outcome_by="server"'

	# A server that never answers and a client that gives up after a second. curl closes
	# its socket with nothing unread (the server never sent a byte), so the kernel sends a
	# FIN, not a RST: the wire shows `closed` by the client. (A client with unread data or
	# SO_LINGER 0 would send a RST: `reset` by the client.)
	a=$(oc_addr 5)
	oc_hello_server "$a" 443 silent
	oc_client silent curl -sS -o /dev/null -k --max-time 1 \
		--resolve "silent.outcomes.test:443:$a" https://silent.outcomes.test/
	oc_client_says 'timed out'
	oc_expect silent "r['server_ip'] == '$a'" "$CLIENT_PID" "$OC_SERVER" \
		'outcome="closed"' 'outcome_by="client"' 'alert=null' 'version=null' \
		'offered_max="TLSv1.3"' 'sni="silent.outcomes.test"' 'client.comm="curl"' "${tls[@]}" \
		'wire.outcome="closed"' 'wire.outcome_by="client"'
	# shellcheck disable=SC2034 # for outcomes_read.sh, which cuts this connection short
	OC_SILENT=$a

	# A server that asks for a client certificate and refuses the one it gets (self-signed,
	# not in its trust store): after the client's Certificate, ChangeCipherSpec and
	# Finished. TLS 1.2: unknown_ca in the clear. TLS 1.3: one sealed alert record, then
	# the server's FIN (its description sealed: null). The clients stay connected until
	# the alert comes, so that nothing of theirs follows it.
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=client.outcomes.test \
		-keyout "$TEST_TMP/client.key" -out "$TEST_TMP/client.crt" >/dev/null 2>&1 ||
		fail "openssl could not make a client certificate"
	local mtls=(-Verify 1 -verify_return_error -CAfile "$TEST_TMP/server.crt")
	local cert=(-cert "$TEST_TMP/client.crt" -key "$TEST_TMP/client.key")
	a=$(oc_addr 8)
	oc_tls_server "$a" 443 -tls1_2 "${mtls[@]}"
	OC_HOLD=1 oc_client mtls12 openssl s_client -brief -connect "$a:443" -tls1_2 "${cert[@]}" \
		-servername mtls12.outcomes.test
	oc_client_says 'alert unknown ca'
	oc_expect mtls-tls1.2 "r['server_ip'] == '$a'" "$CLIENT_PID" "$OC_SERVER" \
		'outcome="alert"' 'outcome_by="server"' 'alert="unknown_ca"' 'version="TLSv1.2"' \
		'sni="mtls12.outcomes.test"' 'client.comm="openssl"' 'server.comm="openssl"' \
		"${tls[@]}" 'wire.outcome="alert"' 'wire.outcome_by="server"' \
		'wire.alert="unknown_ca"'
	a=$(oc_addr 9)
	oc_tls_server "$a" 443 "${mtls[@]}"
	OC_HOLD=1 oc_client mtls13 openssl s_client -brief -connect "$a:443" "${cert[@]}" \
		-servername mtls13.outcomes.test
	oc_client_says '^Protocol version: TLSv1.3'
	oc_client_says 'alert unknown ca'
	oc_expect mtls-tls1.3 "r['server_ip'] == '$a'" "$CLIENT_PID" "$OC_SERVER" \
		'outcome="alert"' 'outcome_by="server"' 'alert=null' 'version="TLSv1.3"' \
		'sni="mtls13.outcomes.test"' 'client.comm="openssl"' 'server.comm="openssl"' \
		"${tls[@]}" 'wire.outcome="alert"' 'wire.outcome_by="server"' 'wire.alert=null'

	# Controls: complete handshakes in TLS 1.3 and 1.2 stay `established`. The clients stay
	# connected a moment, as real ones do.
	a=$(oc_addr 6)
	oc_tls_server "$a" 443
	OC_HOLD=0.3 oc_client tls13 openssl s_client -brief -connect "$a:443" \
		-servername tls13.outcomes.test
	oc_client_says '^Protocol version: TLSv1.3'
	oc_expect tls13 "r['server_ip'] == '$a'" "$CLIENT_PID" "$OC_SERVER" \
		'outcome="established"' 'outcome_by=null' 'alert=null' 'version="TLSv1.3"' \
		'sni="tls13.outcomes.test"' "${tls[@]}" 'wire.outcome="established"'
	a=$(oc_addr 7)
	oc_tls_server "$a" 443
	OC_HOLD=0.3 oc_client tls12 openssl s_client -brief -connect "$a:443" -tls1_2 \
		-servername tls12.outcomes.test
	oc_client_says '^Protocol version: TLSv1.2'
	oc_expect tls12 "r['server_ip'] == '$a'" "$CLIENT_PID" "$OC_SERVER" \
		'outcome="established"' 'outcome_by=null' 'alert=null' 'version="TLSv1.2"' \
		'sni="tls12.outcomes.test"' "${tls[@]}" 'wire.outcome="established"'
}

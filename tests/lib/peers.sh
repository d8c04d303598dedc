# SPDX-License-Identifier: GPL-2.0-only
# Real TLS and SMTP peers for the end-to-end tests, run inside the namespace made by
# netns_new (source tests/lib/common.sh first, then this file).
#
# Capture
#   peers_capture_start FILE [FILTER]   tcpdump -i lo -w FILE in $NS; returns once it listens
#                                       (default filter: tcp port 443 or 25 or 587)
#   peers_capture_stop                  flush and stop that tcpdump
# Servers (background, stopped at exit or with peers_stop)
#   peers_tls_server ADDR PORT [s_server args...]   openssl s_server -www on ADDR:PORT (the
#                                       key and certificate of make_cert in $PEERS_CERT_DIR)
#   peers_smtp_server ADDR PORT [args...]  tests/lib/smtp_server.py with STARTTLS
#   peers_stop                          stop the servers started so far
#   PEERS_LAST_PID                      pid of the last server started
# Clients (one connection each; they fail the test when the peer did not finish the handshake)
#   peers_openssl_client ADDR PORT [s_client args...]   openssl s_client, then Q
#   peers_curl HOST ADDR PORT [curl args...]            curl -k https://HOST:PORT/, HOST->ADDR
#   peers_gnutls_client HOST ADDR PORT [gnutls-cli args...]
#   peers_smtp_client HOST ADDR PORT [--legacy|--plain]   python smtplib: EHLO, STARTTLS, a mail
#                                       (--legacy: TLS 1.0 only; --plain: no STARTTLS at all)
#   peers_smtp_openssl ADDR PORT [s_client args...]   openssl s_client -starttls smtp
# Oracle
#   peers_tshark_sessions FILE [tshark args...]
#       one JSON object per TLS session seen by tshark, with the handshake record field names
#       (client_ip ... ja3, plus hrr, ja3_all, ch_segments, ch_records, time_s): what a correct
#       `tlsaudit read --json FILE` must report.
#   peers_version_name 0x0303           -> TLSv1.2
#
# Legacy versions: OpenSSL 3 refuses TLS 1.0/1.1 above security level 0, so pass
# PEERS_LEGACY (-cipher DEFAULT@SECLEVEL=0) to both sides of such a handshake.

PEERS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/common.sh
declare -F netns_new >/dev/null || source "$PEERS_LIB/common.sh"
PEERS_CERT_DIR=${PEERS_CERT_DIR:-$TEST_TMP}
# shellcheck disable=SC2034 # for the scripts that source this file
PEERS_LEGACY=(-cipher 'DEFAULT@SECLEVEL=0')
PEERS_TIMEOUT=${PEERS_TIMEOUT:-10}
PEERS_LAST_PID=""
_peers_pids=()
_peers_cap_pid=""
_peers_cap_file=""

_peers_need() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || skip "$t not installed (./configure --test-deps)"
	done
}

_peers_cert() {
	[ -f "$PEERS_CERT_DIR/server.crt" ] || make_cert "$PEERS_CERT_DIR"
}

# "::1" and "127.0.0.3" as ss(8) and openssl want them.
_peers_hostport() {
	case $1 in
	*:*) echo "[$1]:$2" ;;
	*) echo "$1:$2" ;;
	esac
}

peers_wait_listen() {
	local hp i
	hp=$(_peers_hostport "$1" "$2")
	for ((i = 0; i < 200; i++)); do
		if in_ns ss -Htln "src $hp" 2>/dev/null | grep -q .; then return 0; fi
		sleep 0.025
	done
	fail "nothing listens on $hp"
}

peers_capture_start() {
	local file=$1 filter=${2:-tcp port 443 or tcp port 25 or tcp port 587}
	_peers_need tcpdump
	_peers_cap_file=$file
	# -Z root: the capture file lives in the test's private directory. A plain command
	# (not the in_ns function) so that $! is tcpdump itself and signals reach it.
	# A 32 MiB buffer: on a busy machine a small one drops packets before tcpdump runs.
	ip netns exec "$NS" tcpdump -i lo -U --immediate-mode -B 32768 -s 0 -Z root -w "$file" "$filter" 2>"$file.log" &
	_peers_cap_pid=$!
	on_exit "kill $_peers_cap_pid"
	wait_line "$file.log" "listening on" "$_peers_cap_pid" && return 0
	cat "$file.log" >&2
	fail "tcpdump did not start"
}

peers_capture_stop() {
	[ -n "$_peers_cap_pid" ] || return 0
	# Let the last FIN/ACKs of the peers reach the capture before it stops.
	sleep 0.3
	kill -INT "$_peers_cap_pid" 2>/dev/null
	wait "$_peers_cap_pid" 2>/dev/null
	_peers_cap_pid=""
	grep -q "packets captured" "$_peers_cap_file.log" || fail "tcpdump did not finish"
	grep -q "^0 packets dropped by kernel" "$_peers_cap_file.log" ||
		fail "tcpdump dropped packets: $(cat "$_peers_cap_file.log")"
}

# Runs CMD in the namespace in the background; ip(8) execs it, so $! is the server.
_peers_bg() {
	ip netns exec "$NS" "$@" &
	PEERS_LAST_PID=$!
	_peers_pids+=("$PEERS_LAST_PID")
	on_exit "kill $PEERS_LAST_PID"
}

peers_tls_server() {
	local addr=$1 port=$2
	shift 2
	_peers_need openssl
	_peers_cert
	local log="$TEST_TMP/s_server.$addr.$port.log"
	_peers_bg openssl s_server -accept "$(_peers_hostport "$addr" "$port")" -www \
		-key "$PEERS_CERT_DIR/server.key" -cert "$PEERS_CERT_DIR/server.crt" "$@" \
		</dev/null >"$log" 2>&1
	peers_wait_listen "$addr" "$port"
}

peers_smtp_server() {
	local addr=$1 port=$2
	shift 2
	_peers_need python3
	_peers_cert
	_peers_bg python3 "$PEERS_LIB/smtp_server.py" --addr "$addr" --port "$port" \
		--cert "$PEERS_CERT_DIR/server.crt" --key "$PEERS_CERT_DIR/server.key" "$@" \
		>"$TEST_TMP/smtp.$addr.$port.log" 2>&1
	peers_wait_listen "$addr" "$port"
}

peers_stop() {
	local p
	for p in "${_peers_pids[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	_peers_pids=()
}

# A finished handshake is the only proof the capture holds what the test expects.
_peers_check_out() {
	local what=$1 out=$2 pattern=$3
	if ! grep -Eq "$pattern" "$out"; then
		sed 's/^/    /' "$out" >&2
		fail "$what: no completed handshake"
	fi
}

peers_openssl_client() {
	local addr=$1 port=$2
	shift 2
	local out="$TEST_TMP/client.out"
	printf 'Q\n' | in_ns timeout "$PEERS_TIMEOUT" openssl s_client -brief \
		-connect "$(_peers_hostport "$addr" "$port")" "$@" >"$out" 2>&1
	_peers_check_out "openssl s_client $addr:$port $*" "$out" "^Protocol version: "
}

peers_smtp_openssl() {
	local addr=$1 port=$2
	shift 2
	local out="$TEST_TMP/client.out"
	printf 'QUIT\r\n' | in_ns timeout "$PEERS_TIMEOUT" openssl s_client -brief \
		-starttls smtp -connect "$(_peers_hostport "$addr" "$port")" "$@" >"$out" 2>&1
	_peers_check_out "openssl s_client -starttls smtp $addr:$port" "$out" "^Protocol version: "
}

peers_curl() {
	local host=$1 addr=$2 port=$3
	shift 3
	_peers_need curl
	local out="$TEST_TMP/curl.out" a=$addr
	case $addr in *:*) a="[$addr]" ;; esac
	in_ns timeout "$PEERS_TIMEOUT" curl -sS -k -o /dev/null -w 'http %{http_code}\n' \
		--resolve "$host:$port:$a" "$@" "https://$host:$port/" >"$out" 2>&1
	_peers_check_out "curl $host ($addr:$port) $*" "$out" "^http 200"
}

peers_gnutls_client() {
	local host=$1 addr=$2 port=$3
	shift 3
	_peers_need gnutls-cli
	local out="$TEST_TMP/gnutls.out"
	printf 'GET / HTTP/1.0\r\n\r\n' | in_ns timeout "$PEERS_TIMEOUT" gnutls-cli --insecure \
		--sni-hostname "$host" --port "$port" "$@" "$addr" >"$out" 2>&1
	_peers_check_out "gnutls-cli $host ($addr:$port) $*" "$out" "Handshake was completed"
}

peers_smtp_client() {
	local host=$1 addr=$2 port=$3
	shift 3
	local out="$TEST_TMP/smtp_client.out"
	in_ns timeout "$PEERS_TIMEOUT" python3 - "$host" "$addr" "$port" "$@" >"$out" 2>&1 <<'EOF'
import smtplib, ssl, sys
host, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if "--plain" in sys.argv[4:]:
    # An opportunistic client that never upgrades: the mail goes in cleartext.
    s = smtplib.SMTP(addr, port, local_hostname="client.tlsaudit.test")
    s.sendmail("audit@client.tlsaudit.test", ["postmaster@" + host],
               "Subject: tlsaudit test\r\n\r\nhello\r\n")
    print("plain", s.ehlo_resp is not None)
    s.quit()
    sys.exit(0)
if "--legacy" in sys.argv[4:]:
    ctx.set_ciphers("DEFAULT@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1
s = smtplib.SMTP(local_hostname="client.tlsaudit.test")
s.connect(addr, port)
s._host = host  # the SNI smtplib sends is the name it connected to
s.ehlo()
s.starttls(context=ctx)
s.ehlo()
s.sendmail("audit@client.tlsaudit.test", ["postmaster@" + host],
           "Subject: tlsaudit test\r\n\r\nhello\r\n")
print("tls", s.sock.version())
s.quit()
EOF
	_peers_check_out "smtplib $host ($addr:$port) $*" "$out" "^(tls TLSv|plain True)"
}

peers_version_name() {
	case $(($1)) in
	2) echo SSLv2 ;;
	$((0x300))) echo SSLv3 ;;
	$((0x301))) echo TLSv1.0 ;;
	$((0x302))) echo TLSv1.1 ;;
	$((0x303))) echo TLSv1.2 ;;
	$((0x304))) echo TLSv1.3 ;;
	*) echo "$1" ;;
	esac
}

peers_tshark_sessions() {
	local file=$1
	shift
	_peers_need tshark python3
	local fields=(frame.number frame.time_epoch tcp.stream ip.src ipv6.src tcp.srcport ip.dst
		ipv6.dst tcp.dstport tls.handshake.type tls.handshake.version
		tls.handshake.extensions.supported_version tls.handshake.ciphersuite
		tls.handshake.extensions_server_name tls.handshake.ja3
		tls.handshake.extensions_key_share_group tls.handshake.server_named_curve
		tls.handshake.random tcp.segment.count tls.record.content_type smtp.req.command
		tls.handshake.extensions_alpn_str)
	local args=() f
	for f in "${fields[@]}"; do args+=(-e "$f"); done
	tshark -n -r "$file" "$@" -Y 'tls.handshake.type == 1 || tls.handshake.type == 2 || tls.handshake.type == 12 ||
		smtp.req.command' \
		-T fields -E separator=/t -E occurrence=a -E aggregator=';' "${args[@]}" \
		2>/dev/null | python3 -c "$_PEERS_ORACLE" "${fields[@]}"
}

# Folds tshark's per-frame fields into one object per TCP stream with a ClientHello. The
# first ClientHello names the session; the last ServerHello that is not a
# HelloRetryRequest (RFC 8446 section 4.1.3, its fixed random) gives the outcome.
read -r -d '' _PEERS_ORACLE <<'EOF' || true
import ipaddress, json, sys

HRR_RANDOM = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
NAMES = {0x0002: "SSLv2", 0x0300: "SSLv3", 0x0301: "TLSv1.0", 0x0302: "TLSv1.1",
         0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}
GROUPS = {23: "secp256r1", 24: "secp384r1", 25: "secp521r1", 29: "x25519", 30: "x448",
          256: "ffdhe2048", 257: "ffdhe3072", 0x11EC: "X25519MLKEM768"}

fields = sys.argv[1:]
streams = {}
order = []


def vals(row, name):
    v = row.get(name, "")
    return [x for x in v.split(";") if x != ""]


def num(x):
    return int(x, 0)


def not_grease(v):
    return (v & 0x0F0F) != 0x0A0A


for line in sys.stdin:
    row = dict(zip(fields, line.rstrip("\n").split("\t")))
    sid = row.get("tcp.stream", "")
    if sid == "":
        continue
    s = streams.get(sid)
    if s is None:
        s = streams[sid] = {"ch": None, "sh": None, "hrr": False, "ja3_all": [],
                            "starttls": None, "group": None}
        order.append(sid)
    types = vals(row, "tls.handshake.type")
    src = (vals(row, "ip.src") or vals(row, "ipv6.src") or [""])[0]
    dst = (vals(row, "ip.dst") or vals(row, "ipv6.dst") or [""])[0]
    if any(c.upper().startswith("STAR") for c in vals(row, "smtp.req.command")):
        s["starttls"] = "smtp"
    if "1" in types:
        s["ja3_all"] += vals(row, "tls.handshake.ja3")
        if s["ch"] is None:
            offered = [num(v) for v in vals(row, "tls.handshake.extensions.supported_version")]
            offered = [v for v in offered if not_grease(v)]
            if not offered:
                offered = [num(vals(row, "tls.handshake.version")[0])]
            sni = vals(row, "tls.handshake.extensions_server_name")
            seg = vals(row, "tcp.segment.count")
            s["ch"] = {
                "client_ip": str(ipaddress.ip_address(src)),
                "client_port": int(row["tcp.srcport"]),
                "server_ip": str(ipaddress.ip_address(dst)),
                "server_port": int(row["tcp.dstport"]),
                "sni": sni[0] if sni else None,
                "offered_max": max(offered),
                "ja3": (vals(row, "tls.handshake.ja3") or [None])[0],
                "alpn_offered": vals(row, "tls.handshake.extensions_alpn_str"),
                "ch_segments": int(seg[0]) if seg else 1,
                "ch_records": vals(row, "tls.record.content_type").count("22"),
                "time_s": float(row["frame.time_epoch"]),
            }
    if "2" in types:
        rnd = vals(row, "tls.handshake.random")
        if rnd and rnd[0].replace(":", "") == HRR_RANDOM:
            s["hrr"] = True
        else:
            sel = [num(v) for v in vals(row, "tls.handshake.extensions.supported_version")]
            ver = sel[0] if sel else num(vals(row, "tls.handshake.version")[0])
            ks = vals(row, "tls.handshake.extensions_key_share_group")
            if ks:
                s["group"] = num(ks[0])
            s["sh"] = {
                "version": ver,
                "cipher_id": num(vals(row, "tls.handshake.ciphersuite")[0]),
                "alpn": vals(row, "tls.handshake.extensions_alpn_str"),
                "time_s": float(row["frame.time_epoch"]),
            }
    if "12" in types:
        curve = vals(row, "tls.handshake.server_named_curve")
        if curve:
            s["group"] = num(curve[0])

for sid in order:
    s = streams[sid]
    ch, sh = s["ch"], s["sh"]
    if ch is None:
        continue
    rec = {k: ch[k] for k in ("client_ip", "client_port", "server_ip", "server_port", "sni")}
    rec["offered_max"] = NAMES.get(ch["offered_max"], "0x%04x" % ch["offered_max"])
    rec["version"] = None
    rec["cipher_id"] = None
    rec["legacy"] = False
    rec["limited_by"] = None
    if sh is not None:
        v = sh["version"]
        rec["version"] = NAMES.get(v, "0x%04x" % v)
        rec["cipher_id"] = "0x%04x" % sh["cipher_id"]
        rec["legacy"] = v < 0x0303
        if rec["legacy"]:
            rec["limited_by"] = "server" if ch["offered_max"] >= 0x0303 else "client"
    g = s["group"]
    rec["group"] = None if g is None else GROUPS.get(g, "0x%04x" % g)
    rec["starttls"] = s["starttls"]
    alpn = (sh or {}).get("alpn") or ch["alpn_offered"]
    rec["alpn"] = ",".join(alpn) if alpn else None
    rec["ja3"] = ch["ja3"]
    rec["ja3_all"] = s["ja3_all"]
    rec["hrr"] = s["hrr"]
    rec["ch_segments"] = ch["ch_segments"]
    rec["ch_records"] = ch["ch_records"]
    rec["time_s"] = (sh or ch)["time_s"]
    rec["tcp_stream"] = int(sid)
    print(json.dumps(rec, sort_keys=True))
EOF

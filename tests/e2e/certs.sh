#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Server certificates in the clear (TLS 1.2), with real peers: `openssl s_server -tls1_2`
# with certificates made here by openssl (a 3-certificate chain with an RSA-4096 leaf,
# an EC P-256 leaf under an EC intermediate (cert_key EC-P-256, cert_sig
# ecdsa-with-SHA256), self-signed, expired, a name mismatch, an RSA-1024 key, a SHA-1
# signature, a leaf over 16 KiB, a chain over the per-direction budget) and the clients
# that meet them: curl -k (goes on: client_accepted_bad_cert true), curl --cacert
# (refuses: false, and its alert or its close after the handshake), Python ssl with the
# CA (verifies). SMTP STARTTLS on port 25 (tests/lib/smtp_server.py, TLS 1.2 at most) with
# a self-signed certificate: smtplib without verification sends its mail (true), smtplib
# with the default context refuses with an alert (false); smtp_tls starttls and the
# greeting's mx_host. The TLS 1.3 control has null certificate fields.
#
# The loopback of the namespace runs at MTU 1500 without segmentation offloads, so the
# chains cross as many TCP segments as on a real network. `tlsaudit watch --json`
# (eBPF) reports the exchanges live and `tlsaudit read --json` reports them from a
# tcpdump capture of the same exchanges; every record's certificate fields are checked
# against `openssl x509` on the certificate the server was given.
source "$(dirname "$0")/../lib/common.sh"

require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
for t in openssl curl python3 tcpdump ethtool; do
	command -v "$t" >/dev/null || skip "$t not installed (./configure --test-deps)"
done
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
source "$(dirname "$0")/../lib/watch.sh"

netns_new certs
in_ns ip link set lo mtu 1500
in_ns ethtool -K lo tso off gso off gro off >/dev/null 2>&1 ||
	fail "cannot switch off the segmentation offloads of lo"

PKI=$TEST_TMP/pki
mkdir -p "$PKI"
D=certs.test

# ext FILE NAME... - server extensions with a DNS SAN for each NAME.
ext() {
	local f=$1 n sans=""
	shift
	for n in "$@"; do sans="$sans${sans:+,}DNS:$n"; done
	printf 'basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' \
		"$sans" >"$f"
}

# newkey KEY - openssl req's arguments for a new KEY: RSA bits, or an EC curve (P-256).
newkey() {
	case $1 in
	P-*) NEWKEY=(-newkey ec -pkeyopt "ec_paramgen_curve:$1") ;;
	*) NEWKEY=(-newkey "rsa:$1") ;;
	esac
}

# leaf NAME KEY SIGNER DAYS MD CN SAN... - a key (RSA bits, or an EC curve: P-256) and
# certificate $PKI/NAME.{key,crt}.
leaf() {
	local name=$1 signer=$3 days=$4 md=$5 cn=$6
	newkey "$2"
	shift 6
	ext "$PKI/$name.ext" "$@"
	openssl req "${NEWKEY[@]}" -nodes -subj "/O=tlsaudit e2e/CN=$cn" \
		-keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>/dev/null &&
		openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$signer.crt" \
			-CAkey "$PKI/$signer.key" -CAcreateserial -days "$days" "-$md" \
			-extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null ||
		fail "openssl could not make the $name certificate"
}

openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/O=tlsaudit e2e/CN=tlsaudit e2e root" \
	-addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign \
	-keyout "$PKI/root.key" -out "$PKI/root.crt" 2>/dev/null || fail "openssl: root CA"
printf 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' \
	>"$PKI/int.ext"
openssl req -newkey rsa:2048 -nodes -subj "/O=tlsaudit e2e/CN=tlsaudit e2e intermediate" \
	-keyout "$PKI/int.key" -out "$PKI/int.csr" 2>/dev/null &&
	openssl x509 -req -in "$PKI/int.csr" -CA "$PKI/root.crt" -CAkey "$PKI/root.key" \
		-CAcreateserial -days 30 -extfile "$PKI/int.ext" -out "$PKI/int.crt" 2>/dev/null ||
	fail "openssl: intermediate CA"
cat "$PKI/int.crt" "$PKI/root.crt" >"$PKI/chain.pem"
# An EC P-256 intermediate under the same root: its leaves are signed ecdsa-with-SHA256.
newkey P-256
openssl req "${NEWKEY[@]}" -nodes -subj "/O=tlsaudit e2e/CN=tlsaudit e2e EC intermediate" \
	-keyout "$PKI/intec.key" -out "$PKI/intec.csr" 2>/dev/null &&
	openssl x509 -req -in "$PKI/intec.csr" -CA "$PKI/root.crt" -CAkey "$PKI/root.key" \
		-CAcreateserial -days 30 -extfile "$PKI/int.ext" -out "$PKI/intec.crt" 2>/dev/null ||
	fail "openssl: EC intermediate CA"
cat "$PKI/intec.crt" "$PKI/root.crt" >"$PKI/chain-ec.pem"

leaf good 4096 int 20 sha256 "good.$D" "good.$D" "tls13.$D"
leaf ec P-256 intec 20 sha256 "ec.$D" "ec.$D"
openssl req -x509 -newkey rsa:2048 -nodes -days 20 -subj "/O=tlsaudit e2e/CN=self.$D" \
	-addext "subjectAltName=DNS:self.$D" -keyout "$PKI/self.key" -out "$PKI/self.crt" \
	2>/dev/null || fail "openssl: self-signed certificate"
# The SMTP server's, self-signed for the name it greets with.
openssl req -x509 -newkey rsa:2048 -nodes -days 20 -subj "/O=tlsaudit e2e/CN=mx.$D" \
	-addext "subjectAltName=DNS:mx.$D" -keyout "$PKI/mx.key" -out "$PKI/mx.crt" \
	2>/dev/null || fail "openssl: self-signed SMTP certificate"
# -days -1: valid from now until yesterday.
leaf expired 2048 int -1 sha256 "expired.$D" "expired.$D"
leaf other 2048 int 20 sha256 "other.$D" "other.$D"
leaf weak 1024 int 20 sha256 "weak.$D" "weak.$D"
leaf sha1 2048 int 20 sha1 "sha1.$D" "sha1.$D"
# Over 16 KiB of DER: the Certificate message needs two TLS records.
leaf big 2048 int 20 sha256 "big.$D" "big.$D" $(seq -f "host-%04g.big.$D" 1 700)
# Over the 32 KiB each direction may forward: the chain is cut.
leaf huge 2048 int 20 sha256 "huge.$D" "huge.$D" $(seq -f "host-%04g.huge.$D" 1 1500)
der_len() { openssl x509 -in "$1" -outform der | wc -c; }
[ "$(der_len "$PKI/big.crt")" -gt 17000 ] || fail "the big leaf is only $(der_len "$PKI/big.crt") bytes"
[ "$(der_len "$PKI/huge.crt")" -gt 33000 ] || fail "the huge leaf is only $(der_len "$PKI/huge.crt") bytes"

# The certificate fields a record must show, from openssl x509 (JSON on stdout).
x509_fields() {
	local crt=$1 text bits alg key curve
	text=$(openssl x509 -in "$crt" -noout -text)
	bits=$(sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p' <<<"$text" | head -n 1)
	alg=$(awk '/Public Key Algorithm:/ { print $4; exit }' <<<"$text")
	# An EC key by its curve's NIST name (P-256), else by the curve's OID short name.
	curve=$(awk '/NIST CURVE:/ { print $3; exit }' <<<"$text")
	[ -n "$curve" ] || curve=$(awk '/ASN1 OID:/ { print $3; exit }' <<<"$text")
	case $alg in
	rsaEncryption) key=RSA-$bits ;;
	id-ecPublicKey) key=EC-$curve ;;
	*) key=$alg-$bits ;;
	esac
	$PY - "$crt" "$key" "$(awk '/Signature Algorithm:/ { print $3; exit }' <<<"$text")" \
		"$(openssl x509 -in "$crt" -noout -subject -nameopt RFC2253)" \
		"$(openssl x509 -in "$crt" -noout -issuer -nameopt RFC2253)" \
		"$(date -u -d "$(openssl x509 -in "$crt" -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)" \
		"$(openssl x509 -in "$crt" -noout -fingerprint -sha256 | cut -d= -f2)" <<'EOF'
import json, re, sys
crt, key, sig, subj, iss, na, fp = sys.argv[1:]
cn = lambda s: re.search(r"(?:^|[=,])CN=([^,]*)", s).group(1)
print(json.dumps({"cert_subject": cn(subj), "cert_issuer": cn(iss), "cert_not_after": na,
                  "cert_key": key, "cert_sig": sig,
                  "cert_sha256": fp.replace(":", "").lower()}))
EOF
}

# The helper names the EC leaf as the documentation does.
expect_eq "the EC leaf's key and signature" \
	"$(x509_fields "$PKI/ec.crt" | $PY -c 'import json, sys
f = json.load(sys.stdin); print(f["cert_key"], f["cert_sig"])')" "EC-P-256 ecdsa-with-SHA256"

NULL_CERT='{"cert_subject": null, "cert_issuer": null, "cert_not_after": null, "cert_key": null, "cert_sig": null, "cert_sha256": null, "cert_problems": null, "client_accepted_bad_cert": null}'
EXPECT=$TEST_TMP/expect.jsonl
: >"$EXPECT"

# expect ADDR CERT|- JSON - the record of the connection to ADDR must carry CERT's fields
# (- for all null) and the fields of JSON.
expect() {
	local fields=$NULL_CERT
	[ "$2" = - ] || fields=$(x509_fields "$PKI/$2.crt")
	$PY -c 'import json, sys
e = json.loads(sys.argv[2]); e.update(json.loads(sys.argv[3])); e["server_ip"] = sys.argv[1]
print(json.dumps(e))' "$1" "$fields" "$3" >>"$EXPECT"
}

# server ADDR CERT [s_server args...] - s_server -www on ADDR:443 with CERT's key.
server() {
	local addr=$1 cert=$2
	shift 2
	ip netns exec "$NS" openssl s_server -accept "$addr:443" -www -key "$PKI/$cert.key" \
		-cert "$PKI/$cert.crt" "$@" </dev/null >"$TEST_TMP/s_server.$addr.log" 2>&1 &
	SERVER_PID=$!
	on_exit "kill $SERVER_PID"
	wait_port 443 "$addr"
}

# smtp_server ADDR CERT NAME - tests/lib/smtp_server.py on ADDR:25 with CERT's key, TLS 1.2
# at most, greeting as NAME.
smtp_server() {
	ip netns exec "$NS" "$PY" "$TOP/tests/lib/smtp_server.py" --addr "$1" --port 25 \
		--cert "$PKI/$2.crt" --key "$PKI/$2.key" --tls-max 1.2 --hostname "$3" \
		</dev/null >"$TEST_TMP/smtp.$1.log" 2>&1 &
	SERVER_PID=$!
	on_exit "kill $SERVER_PID"
	wait_port 25 "$1"
}

server_stop() {
	kill "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
}

# curl_to HOST ADDR WANT [curl args...] - one request; WANT: ok, or curl's exit status.
curl_to() {
	local host=$1 addr=$2 want=$3 rc
	shift 3
	in_ns timeout 10 curl -sS -o /dev/null --resolve "$host:443:$addr" "$@" "https://$host/" \
		>"$TEST_TMP/curl.out" 2>&1
	rc=$?
	[ "$want" = ok ] && want=0
	[ "$rc" = "$want" ] || { cat "$TEST_TMP/curl.out" >&2; fail "curl $host ($addr) $*: exit $rc, want $want"; }
}

# py_to HOST ADDR WANT - Python ssl verifying with the root CA; WANT: ok or refused.
py_to() {
	in_ns timeout 10 "$PY" - "$1" "$2" "$PKI/root.crt" "$3" <<'EOF' || fail "python ssl $1 ($2)"
import socket, ssl, sys
host, addr, ca, want = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
sock = socket.create_connection((addr, 443), timeout=5)
try:
    with ctx.wrap_socket(sock, server_hostname=host) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.recv(100)
    got = "ok"
except ssl.SSLCertVerificationError:
    got = "refused"
sys.exit(0 if got == want else 1)
EOF
}

# smtp_to HOST ADDR VERIFY WANT - python smtplib to HOST at ADDR:25: STARTTLS, then a
# message. VERIFY no: CERT_NONE, no name check; yes: the default context (no CA of this
# test). WANT: sent, or refused (in the handshake).
smtp_to() {
	in_ns timeout 10 "$PY" - "$@" <<'EOF' || fail "smtplib $1 ($2) verify=$3"
import smtplib, ssl, sys
host, addr, verify, want = sys.argv[1:]
if verify == "yes":
    ctx = ssl.create_default_context()
else:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(local_hostname="client." + host, timeout=5)
# The SNI and the name checked are the host's; the namespace has no DNS to connect by it.
s._host = host
s.connect(addr, 25)
s.ehlo()
try:
    s.starttls(context=ctx)
    s.ehlo()
    s.sendmail("audit@client." + host, ["postmaster@" + host], "Subject: t\r\n\r\nhi\r\n")
    s.quit()
    got = "sent"
except ssl.SSLCertVerificationError:
    s.close()
    got = "refused"
if got != want:
    print("smtplib: %s, want %s" % (got, want), file=sys.stderr)
sys.exit(0 if got == want else 1)
EOF
}

CAP=$TEST_TMP/certs.pcap
ip netns exec "$NS" tcpdump -i lo -U --immediate-mode -s 0 -Z root -w "$CAP" \
	'tcp port 443 or tcp port 25' 2>"$CAP.log" &
TCPDUMP_PID=$!
on_exit "kill $TCPDUMP_PID"
wait_line "$CAP.log" "listening on" "$TCPDUMP_PID" || fail "tcpdump did not start"
watch_start

TLS12=(-tls1_2)
WEAK=(-tls1_2 -cipher 'DEFAULT@SECLEVEL=0')

# A 3-certificate chain with an RSA-4096 leaf, verified by Python and by curl.
server 127.0.0.2 good -cert_chain "$PKI/chain.pem" "${TLS12[@]}"
py_to "good.$D" 127.0.0.2 ok
expect 127.0.0.2 good '{"sni": "good.certs.test", "outcome": "established", "cert_problems": [], "client_accepted_bad_cert": null}'
server_stop
server 127.0.0.12 good -cert_chain "$PKI/chain.pem" "${TLS12[@]}"
curl_to "good.$D" 127.0.0.12 ok --cacert "$PKI/root.crt"
expect 127.0.0.12 good '{"outcome": "established", "cert_problems": [], "client_accepted_bad_cert": null}'
server_stop

# An EC P-256 leaf signed by the EC intermediate, verified by curl.
server 127.0.0.16 ec -cert_chain "$PKI/chain-ec.pem" "${TLS12[@]}"
curl_to "ec.$D" 127.0.0.16 ok --cacert "$PKI/root.crt"
expect 127.0.0.16 ec '{"sni": "ec.certs.test", "version": "TLSv1.2", "outcome": "established", "cert_key": "EC-P-256", "cert_sig": "ecdsa-with-SHA256", "cert_problems": [], "client_accepted_bad_cert": null}'
server_stop

# Self-signed: curl -k goes on, curl with the CA refuses in the handshake.
server 127.0.0.3 self "${TLS12[@]}"
curl_to "self.$D" 127.0.0.3 ok -k
expect 127.0.0.3 self '{"outcome": "established", "cert_problems": ["self_signed"], "client_accepted_bad_cert": true}'
server_stop
server 127.0.0.13 self "${TLS12[@]}"
curl_to "self.$D" 127.0.0.13 60 --cacert "$PKI/root.crt"
expect 127.0.0.13 self '{"outcome": "alert", "outcome_by": "client", "alert": "unknown_ca", "cert_problems": ["self_signed"], "client_accepted_bad_cert": false}'
server_stop

# SMTP STARTTLS, self-signed: smtplib without verification sends its mail, smtplib with
# the default context refuses in the handshake.
SMTP='"server_port": 25, "sni": "mx.certs.test", "smtp_tls": "starttls", "starttls": "smtp", "mx_host": "mx.certs.test", "version": "TLSv1.2", "cert_problems": ["self_signed"]'
smtp_server 127.0.0.11 mx "mx.$D"
smtp_to "mx.$D" 127.0.0.11 no sent
expect 127.0.0.11 mx "{$SMTP, \"outcome\": \"established\", \"client_accepted_bad_cert\": true}"
server_stop
smtp_server 127.0.0.21 mx "mx.$D"
smtp_to "mx.$D" 127.0.0.21 yes refused
expect 127.0.0.21 mx "{$SMTP, \"outcome\": \"alert\", \"outcome_by\": \"client\", \"alert\": \"unknown_ca\", \"client_accepted_bad_cert\": false}"
server_stop

# Expired (judged as of the handshake).
server 127.0.0.4 expired -cert_chain "$PKI/chain.pem" "${TLS12[@]}"
curl_to "expired.$D" 127.0.0.4 ok -k
expect 127.0.0.4 expired '{"outcome": "established", "cert_problems": ["expired"], "client_accepted_bad_cert": true}'
server_stop
server 127.0.0.14 expired -cert_chain "$PKI/chain.pem" "${TLS12[@]}"
curl_to "expired.$D" 127.0.0.14 60 --cacert "$PKI/root.crt"
expect 127.0.0.14 expired '{"outcome": "alert", "outcome_by": "client", "alert": "certificate_expired", "cert_problems": ["expired"], "client_accepted_bad_cert": false}'
server_stop

# A name mismatch: curl -k goes on; curl with the CA finishes the handshake, then checks
# the name and closes without a request; Python refuses inside the handshake.
server 127.0.0.5 other -cert_chain "$PKI/chain.pem" "${TLS12[@]}"
curl_to "mismatch.$D" 127.0.0.5 ok -k
expect 127.0.0.5 other '{"sni": "mismatch.certs.test", "outcome": "established", "cert_problems": ["name_mismatch"], "client_accepted_bad_cert": true}'
server_stop
server 127.0.0.15 other -cert_chain "$PKI/chain.pem" "${TLS12[@]}"
curl_to "mismatch.$D" 127.0.0.15 60 --cacert "$PKI/root.crt"
expect 127.0.0.15 other '{"outcome": "established", "cert_problems": ["name_mismatch"], "client_accepted_bad_cert": false}'
server_stop
server 127.0.0.25 other -cert_chain "$PKI/chain.pem" "${TLS12[@]}"
py_to "mismatch.$D" 127.0.0.25 refused
expect 127.0.0.25 other '{"outcome": "alert", "outcome_by": "client", "alert": "bad_certificate", "cert_problems": ["name_mismatch"], "client_accepted_bad_cert": false}'
server_stop

# Weak key and SHA-1 signature: problems, but nothing a verifying client refuses here.
server 127.0.0.6 weak -cert_chain "$PKI/chain.pem" "${WEAK[@]}"
curl_to "weak.$D" 127.0.0.6 ok -k --ciphers 'DEFAULT@SECLEVEL=0'
expect 127.0.0.6 weak '{"outcome": "established", "cert_problems": ["weak_key"], "client_accepted_bad_cert": null}'
server_stop
server 127.0.0.7 sha1 -cert_chain "$PKI/chain.pem" "${WEAK[@]}"
curl_to "sha1.$D" 127.0.0.7 ok -k --ciphers 'DEFAULT@SECLEVEL=0'
expect 127.0.0.7 sha1 '{"outcome": "established", "cert_problems": ["sha1_signature"], "client_accepted_bad_cert": null}'
server_stop

# A leaf larger than one TLS record, verified; a chain larger than the budget: cut.
server 127.0.0.8 big -cert_chain "$PKI/chain.pem" "${TLS12[@]}"
curl_to "big.$D" 127.0.0.8 ok --cacert "$PKI/root.crt"
expect 127.0.0.8 big '{"outcome": "established", "cert_problems": [], "client_accepted_bad_cert": null}'
server_stop
server 127.0.0.9 huge -cert_chain "$PKI/chain.pem" "${TLS12[@]}"
curl_to "huge.$D" 127.0.0.9 ok -k
expect 127.0.0.9 - '{"version": "TLSv1.2"}'
server_stop

# TLS 1.3: the certificate is encrypted, the fields are null.
server 127.0.0.10 good -cert_chain "$PKI/chain.pem"
curl_to "tls13.$D" 127.0.0.10 ok --cacert "$PKI/root.crt"
expect 127.0.0.10 - '{"version": "TLSv1.3", "outcome": "established"}'
server_stop

N=$(wc -l <"$EXPECT")
# Other tests may run at the same time: watch sees every namespace; ours have one domain.
MINE="(r['sni'] or '').endswith('.$D')"
wait_records "$N" "r['role'] == 'client' and $MINE"
sleep 0.3
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID" 2>/dev/null
# The big chain crossed many TCP segments (MTU 1500, no offloads) and two TLS records.
SEGS=$(tcpdump -nn -r "$CAP" 'src host 127.0.0.8 and src port 443 and
	(ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2)) > 0' 2>/dev/null | wc -l)
[ "$SEGS" -gt 12 ] || fail "the big chain crossed $SEGS segments only"
"$TLSAUDIT" read --json "$CAP" >"$TEST_TMP/read.json" 2>"$TEST_TMP/read.err" ||
	{ cat "$TEST_TMP/read.err" >&2; fail "tlsaudit read --json failed"; }
"$TLSAUDIT" read "$CAP" >"$TEST_TMP/read.txt" 2>&1 || fail "tlsaudit read failed"
grep -q "^certificates: 11 handshakes with problems, 4 accepted by a client that should refuse; 1 server chain cut short" \
	"$TEST_TMP/read.txt" || { cat "$TEST_TMP/read.txt" >&2; fail "read: certificates miscounted"; }
# The summary's CERT column: the problems per server, ACCEPTED where a client went on.
grep -Eq '^127\.0\.0\.3:443 +self\.certs\.test .* self_signed ACCEPTED$' "$TEST_TMP/read.txt" &&
	grep -Eq '^127\.0\.0\.13:443 +self\.certs\.test .* self_signed$' "$TEST_TMP/read.txt" &&
	grep -Eq '^127\.0\.0\.2:443 +good\.certs\.test .* -$' "$TEST_TMP/read.txt" &&
	grep -Eq '^127\.0\.0\.16:443 +ec\.certs\.test .* -$' "$TEST_TMP/read.txt" &&
	grep -Eq '^127\.0\.0\.11:25 +mx\.certs\.test .* self_signed ACCEPTED$' "$TEST_TMP/read.txt" &&
	grep -Eq '^127\.0\.0\.21:25 +mx\.certs\.test .* self_signed$' "$TEST_TMP/read.txt" ||
	{ cat "$TEST_TMP/read.txt" >&2; fail "read: the CERT column"; }

# Every expectation against the live client-side record and the offline record.
$PY - "$EXPECT" "$WATCH_OUT" "$TEST_TMP/read.json" <<'EOF' || fail "certificate fields differ"
import json, sys
expect = [json.loads(l) for l in open(sys.argv[1])]
ok = True
for label, path, role in (("watch", sys.argv[2], "client"), ("read", sys.argv[3], None)):
    recs = [json.loads(l) for l in open(path) if l.strip()]
    recs = [r for r in recs if (r["sni"] or "").endswith(".certs.test")]
    for e in expect:
        hits = [r for r in recs if r["server_ip"] == e["server_ip"] and r["role"] == role]
        if len(hits) != 1:
            print("%s: %d records for %s" % (label, len(hits), e["server_ip"]))
            ok = False
            continue
        for k, v in e.items():
            if hits[0][k] != v:
                print("%s %s: %s is %r, want %r" % (label, e["server_ip"], k, hits[0][k], v))
                ok = False
    # The server side names the same certificate as the client side.
    if role:
        for r in recs:
            if r["role"] != "server":
                continue
            peer = [c for c in recs if c["role"] == "client" and c["client_port"] == r["client_port"]]
            if len(peer) == 1 and peer[0]["cert_sha256"] != r["cert_sha256"]:
                print("watch: server and client records differ for port %d" % r["client_port"])
                ok = False
sys.exit(0 if ok else 1)
EOF

kill -INT "$WATCH_PID"
wait "$WATCH_PID"
expect_eq "watch exit status on SIGINT" "$?" 0

# The text line of watch names the problems, and ACCEPTED when the client went on.
TEXT=$TEST_TMP/watch.txt
"$TLSAUDIT" watch >"$TEXT" 2>"$TEXT.err" &
TEXT_PID=$!
on_exit "kill $TEXT_PID"
wait_line "$TEXT.err" "capturing with bpf" "$TEXT_PID" || fail "watch (text) did not start"
server 127.0.0.3 self "${TLS12[@]}"
curl_to "self.$D" 127.0.0.3 ok -k
server_stop
server 127.0.0.5 other -cert_chain "$PKI/chain.pem" "${TLS12[@]}"
curl_to "mismatch.$D" 127.0.0.5 60 --cacert "$PKI/root.crt"
server_stop
wait_line "$TEXT" "curl.* client .*sni=self\.$D TLSv1\.2 .* cert=self_signed ACCEPTED$" "$TEXT_PID" ||
	{ cat "$TEXT" >&2; fail "watch: no ACCEPTED mark for curl -k"; }
wait_line "$TEXT" "curl.* client .*sni=mismatch\.$D TLSv1\.2 .* cert=name_mismatch refused$" \
	"$TEXT_PID" || { cat "$TEXT" >&2; fail "watch: no refused mark for curl --cacert"; }
echo "ok"

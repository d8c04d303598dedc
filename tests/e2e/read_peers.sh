#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# `tlsaudit read` on a capture of real peers, with tshark as the oracle.
#
# In a private network namespace, tcpdump records handshakes between real programs:
# openssl s_server/s_client at TLS 1.0 to 1.3, curl, gnutls-cli, SMTP STARTTLS on 25 and
# 587, a ClientHello cut into several TCP segments, a ClientHello spread over several TLS
# records, a HelloRetryRequest, IPv6, and both kinds of legacy handshake (the client capped
# at TLS 1.0; a TLS 1.3 client held down by a TLS 1.0-only server). Every session tshark
# decodes must appear in `tlsaudit read --json` with the same version, cipher, SNI, JA3,
# group and STARTTLS flag, and each case's record is checked against the values the peers
# were told to negotiate.
#
# PEERS_CAPTURE_ONLY=FILE keeps the capture in FILE and stops before tlsaudit runs (the read
# benchmark uses it as its seed).
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/peers.sh"

require_root
for t in tcpdump tshark openssl curl gnutls-cli python3 ethtool; do
	command -v "$t" >/dev/null || skip "$t not installed (./configure --test-deps)"
done
if [ -z "${PEERS_CAPTURE_ONLY:-}" ]; then
	[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
fi

netns_new peers
CAP=$TEST_TMP/peers.pcap
LEGACY=("${PEERS_LEGACY[@]}")
LONG_NAME=multi-record-$(printf 'a%.0s' {1..200}).tlsaudit.test

peers_capture_start "$CAP"

# Client capped at TLS 1.0 / 1.1 against a server that would take anything (limited_by client).
peers_tls_server 127.0.0.2 443 "${LEGACY[@]}"
peers_openssl_client 127.0.0.2 443 -tls1 "${LEGACY[@]}" -servername tls10.tlsaudit.test
peers_tls_server 127.0.0.3 443 "${LEGACY[@]}"
peers_openssl_client 127.0.0.3 443 -tls1_1 "${LEGACY[@]}" -servername tls11.tlsaudit.test

# Current versions. TLS 1.2 shows its group in the ServerKeyExchange and the chosen ALPN in
# the ServerHello; TLS 1.3 shows the group in the key_share but encrypts the ALPN choice, so
# the record carries the offered list.
peers_tls_server 127.0.0.4 443 -alpn http/1.1
peers_openssl_client 127.0.0.4 443 -tls1_2 -servername tls12.tlsaudit.test -alpn h2,http/1.1
peers_tls_server 127.0.0.5 443 -alpn http/1.1
peers_openssl_client 127.0.0.5 443 -servername tls13.tlsaudit.test -alpn h2,http/1.1

# curl: a legacy-capped client and a modern one.
peers_tls_server 127.0.0.6 443 "${LEGACY[@]}"
peers_curl curl11.tlsaudit.test 127.0.0.6 443 --tlsv1.1 --tls-max 1.1 \
	--ciphers 'DEFAULT@SECLEVEL=0'
peers_tls_server 127.0.0.7 443 -alpn http/1.1
peers_curl curl13.tlsaudit.test 127.0.0.7 443 --tlsv1.3

# GnuTLS: TLS 1.3 with its own defaults, TLS 1.2 pinned to P-256.
peers_tls_server 127.0.0.8 443
peers_gnutls_client gnutls13.tlsaudit.test 127.0.0.8 443
peers_gnutls_client gnutls12.tlsaudit.test 127.0.0.8 443 \
	--priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2:-GROUP-ALL:+GROUP-SECP256R1'

# SMTP STARTTLS: python smtplib delivering a mail on 25, a TLS 1.0 submission client on 587.
peers_smtp_server 127.0.0.9 25
peers_smtp_client mail.tlsaudit.test 127.0.0.9 25
# A client that ignores STARTTLS: a plaintext session, a record of its own (smtp_tls).
peers_smtp_client mail.tlsaudit.test 127.0.0.9 25 --plain
peers_smtp_server 127.0.0.10 587 --seclevel0
peers_smtp_openssl 127.0.0.10 587 -tls1 "${LEGACY[@]}" -servername submit.tlsaudit.test \
	-name client.tlsaudit.test

# A weak suite the client insists on: no encryption at all (this OpenSSL has no 3DES).
peers_tls_server 127.0.0.15 443 -cipher 'ALL:eNULL:@SECLEVEL=0'
peers_openssl_client 127.0.0.15 443 -tls1_2 -cipher 'NULL-SHA256:@SECLEVEL=0' \
	-servername weak.tlsaudit.test

# One ClientHello in several TLS records (512-byte fragments; the long name makes it larger).
peers_tls_server 127.0.0.11 443
peers_openssl_client 127.0.0.11 443 -max_send_frag 512 -servername "$LONG_NAME"

# HelloRetryRequest: the client's first key share (P-256) is not one the server accepts.
peers_tls_server 127.0.0.12 443 -groups X25519
peers_openssl_client 127.0.0.12 443 -groups P-256:X25519 -servername hrr.tlsaudit.test

# A TLS 1.3 client held down by a server that speaks only TLS 1.0 (limited_by server).
peers_tls_server 127.0.0.13 443 -tls1 "${LEGACY[@]}"
peers_openssl_client 127.0.0.13 443 "${LEGACY[@]}" -servername old-server.tlsaudit.test

# IPv6 (before the MTU drops below the IPv6 minimum).
peers_tls_server ::1 443
peers_openssl_client ::1 443 -servername v6.tlsaudit.test

# A ClientHello cut into several TCP segments: a small MTU and no segmentation offload.
peers_stop
in_ns ethtool -K lo tso off gso off >/dev/null 2>&1 || skip "cannot turn off TSO/GSO on lo"
in_ns ip link set lo mtu 300 || fail "cannot set the MTU of lo"
peers_tls_server 127.0.0.14 443
peers_openssl_client 127.0.0.14 443 -servername segmented.tlsaudit.test
peers_stop
peers_capture_stop

if [ -n "${PEERS_CAPTURE_ONLY:-}" ]; then
	cp "$CAP" "$PEERS_CAPTURE_ONLY" || fail "cannot write $PEERS_CAPTURE_ONLY"
	echo "capture written to $PEERS_CAPTURE_ONLY"
	exit 0
fi

peers_tshark_sessions "$CAP" >"$TEST_TMP/oracle.json"
"$TLSAUDIT" read --json "$CAP" >"$TEST_TMP/tlsaudit.json" 2>"$TEST_TMP/tlsaudit.err" ||
	fail "tlsaudit read failed: $(cat "$TEST_TMP/tlsaudit.err")"

# The same capture compressed, on stdin, must give the same records.
gzip -c "$CAP" | "$TLSAUDIT" read --json - >"$TEST_TMP/stdin.json" 2>"$TEST_TMP/stdin.err" ||
	fail "tlsaudit read --json - (gzip on stdin) failed: $(cat "$TEST_TMP/stdin.err")"
cmp -s "$TEST_TMP/tlsaudit.json" "$TEST_TMP/stdin.json" ||
	fail "read of the gzipped capture on stdin differs: $(diff "$TEST_TMP/tlsaudit.json" \
		"$TEST_TMP/stdin.json" | head -n 4)"

# The summary counts what the JSON leaves out: the one SMTP session that never upgraded,
# next to 16 handshakes of which 5 are legacy (tls10, tls11, curl11, submit, old-server)
# and 1 uses a weak suite.
"$TLSAUDIT" read "$CAP" >"$TEST_TMP/summary.txt" 2>&1 || fail "tlsaudit read (summary) failed"
total=$(grep -E '^total:' "$TEST_TMP/summary.txt")
for want in '16 handshakes' '5 legacy' '1 weak' '1 plaintext SMTP'; do
	case $total in *"$want"*) ;; *) fail "summary totals '$total' lack '$want'" ;; esac
done

# Per case: the server address, then the fields tlsaudit must report (JSON values) and the
# facts about the capture itself that make the case what it claims (oracle.*).
cat >"$TEST_TMP/expect.txt" <<EOF
127.0.0.2:443 sni="tls10.tlsaudit.test" version="TLSv1.0" offered_max="TLSv1.0" legacy=true limited_by="client"
127.0.0.3:443 sni="tls11.tlsaudit.test" version="TLSv1.1" offered_max="TLSv1.1" legacy=true limited_by="client"
127.0.0.4:443 sni="tls12.tlsaudit.test" version="TLSv1.2" offered_max="TLSv1.2" legacy=false limited_by=null group="x25519" starttls=null alpn="http/1.1"
127.0.0.5:443 sni="tls13.tlsaudit.test" version="TLSv1.3" offered_max="TLSv1.3" legacy=false cipher_id="0x1302" cipher="TLS_AES_256_GCM_SHA384" weak_cipher=false group="x25519" alpn="h2,http/1.1"
127.0.0.6:443 sni="curl11.tlsaudit.test" version="TLSv1.1" offered_max="TLSv1.1" legacy=true limited_by="client"
127.0.0.7:443 sni="curl13.tlsaudit.test" version="TLSv1.3" legacy=false alpn="h2,http/1.1"
127.0.0.8:443#1 sni="gnutls13.tlsaudit.test" version="TLSv1.3" offered_max="TLSv1.3"
127.0.0.8:443#2 sni="gnutls12.tlsaudit.test" version="TLSv1.2" offered_max="TLSv1.2" group="secp256r1" legacy=false
127.0.0.9:25 sni="mail.tlsaudit.test" version="TLSv1.3" starttls="smtp"
127.0.0.10:587 sni="submit.tlsaudit.test" version="TLSv1.0" offered_max="TLSv1.0" legacy=true limited_by="client" starttls="smtp" weak_cipher=false
127.0.0.15:443 sni="weak.tlsaudit.test" version="TLSv1.2" legacy=false cipher_id="0x003b" cipher="TLS_RSA_WITH_NULL_SHA256" weak_cipher=true group=null
127.0.0.11:443 sni="$LONG_NAME" version="TLSv1.3" oracle.ch_records>=2
127.0.0.12:443 sni="hrr.tlsaudit.test" version="TLSv1.3" group="x25519" oracle.hrr=true
127.0.0.13:443 sni="old-server.tlsaudit.test" version="TLSv1.0" offered_max="TLSv1.3" legacy=true limited_by="server"
::1:443 sni="v6.tlsaudit.test" version="TLSv1.3" group="x25519"
127.0.0.14:443 sni="segmented.tlsaudit.test" version="TLSv1.3" oracle.ch_segments>=2
EOF

python3 - "$TEST_TMP/tlsaudit.json" "$TEST_TMP/oracle.json" "$TEST_TMP/expect.txt" <<'EOF'
import datetime, ipaddress, json, sys

got_path, oracle_path, expect_path = sys.argv[1:4]
errors = []


def err(msg):
    errors.append(msg)


def key(r):
    return (str(ipaddress.ip_address(r["client_ip"])), int(r["client_port"]),
            str(ipaddress.ip_address(r["server_ip"])), int(r["server_port"]))


got = []
for n, line in enumerate(open(got_path), 1):
    if not line.strip():
        continue
    try:
        got.append(json.loads(line))
    except ValueError as e:
        err("tlsaudit line %d is not JSON (%s): %s" % (n, e, line.strip()[:120]))
oracle = [json.loads(l) for l in open(oracle_path) if l.strip()]
if not oracle:
    sys.exit("FAIL: tshark decoded no TLS session from the capture")

# The SMTP client that ignored STARTTLS is a plaintext record; every handshake between
# these real peers completed, and the wire shows it.
plain = [r for r in got if r.get("version") is None and r.get("smtp_tls") is not None]
got = [r for r in got if r not in plain]
if [(r["smtp_tls"], r["outcome"], r["plaintext_fallback"]) for r in plain] != \
        [("not_used", None, False)]:
    err("want one plaintext record (not_used, outcome null, no fallback), got %r" % plain)
for r in got:
    if r.get("outcome") != "established" or r.get("outcome_by") or r.get("alert"):
        err("%s:%s: outcome %r by %r alert %r, want established" % (
            r.get("server_ip"), r.get("server_port"), r.get("outcome"), r.get("outcome_by"),
            r.get("alert")))

by_key = {}
for r in got:
    try:
        by_key.setdefault(key(r), []).append(r)
    except (KeyError, TypeError, ValueError) as e:
        err("record without usable endpoints (%s): %s" % (e, json.dumps(r)[:160]))

# Every session tshark sees, tlsaudit reports once, with the same facts.
if len(got) != len(oracle):
    err("tlsaudit printed %d records, tshark saw %d TLS sessions" % (len(got), len(oracle)))
for o in oracle:
    k = key(o)
    recs = by_key.get(k, [])
    if len(recs) != 1:
        err("%s: %d records, want 1" % (k, len(recs)))
        continue
    r = recs[0]
    for f in ("sni", "version", "offered_max", "legacy", "limited_by", "starttls", "alpn"):
        if r.get(f) != o[f]:
            err("%s %s: tlsaudit %r, tshark %r" % (k, f, r.get(f), o[f]))
    rc = r.get("cipher_id")
    if (rc is None) != (o["cipher_id"] is None) or (rc and int(rc, 16) != int(o["cipher_id"], 16)):
        err("%s cipher_id: tlsaudit %r, tshark %r" % (k, rc, o["cipher_id"]))
    if o["group"] is not None and r.get("group") != o["group"]:
        err("%s group: tlsaudit %r, tshark %r" % (k, r.get("group"), o["group"]))
    # After a HelloRetryRequest the second ClientHello may differ; either is a fair JA3.
    ja3_ok = r.get("ja3") == o["ja3"] or (o["hrr"] and r.get("ja3") in o["ja3_all"])
    if not ja3_ok:
        err("%s ja3: tlsaudit %r, tshark %r" % (k, r.get("ja3"), o["ja3_all"]))
    try:
        t = datetime.datetime.strptime(r["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
        t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
        if abs(t - o["time_s"]) > 0.0015:
            err("%s time: tlsaudit %s, tshark %.6f" % (k, r["time"], o["time_s"]))
    except (KeyError, TypeError, ValueError) as e:
        err("%s time %r: %s" % (k, r.get("time"), e))

# Each case, by its server address (#N: the N-th session to that server).
for line in open(expect_path):
    words = line.split()
    if not words:
        continue
    target, _, nth = words[0].partition("#")
    host, _, port = target.rpartition(":")
    sessions = [o for o in oracle
                if o["server_ip"] == str(ipaddress.ip_address(host)) and o["server_port"] == int(port)]
    sessions.sort(key=lambda o: o["time_s"])
    idx = int(nth or 1) - 1
    if idx >= len(sessions):
        err("%s: tshark saw %d sessions, the case needs %d" % (words[0], len(sessions), idx + 1))
        continue
    o = sessions[idx]
    r = (by_key.get(key(o)) or [None])[0]
    if r is None:
        err("%s: no tlsaudit record for %s" % (words[0], key(o)))
        continue
    for cond in words[1:]:
        if cond.startswith("oracle."):
            name, want = cond[len("oracle."):].split(">=") if ">=" in cond else \
                cond[len("oracle."):].split("=")
            have = o[name]
            ok = have >= int(want) if ">=" in cond else have == json.loads(want)
            if not ok:
                err("%s: the capture does not show %s (tshark: %r)" % (words[0], cond, have))
            continue
        name, _, want = cond.partition("=")
        if r.get(name, "<missing>") != json.loads(want):
            err("%s %s: got %r, want %s" % (words[0], name, r.get(name, "<missing>"), want))
    print("  case %-16s %-8s %-7s %-28s sni=%s" % (words[0], r.get("version"), r.get("cipher_id"),
          r.get("cipher"), (r.get("sni") or "-")[:40]))

for e in errors:
    print("FAIL: " + e, file=sys.stderr)
print("%d tshark sessions, %d tlsaudit records, %d problems" % (len(oracle), len(got), len(errors)))
sys.exit(1 if errors else 0)
EOF

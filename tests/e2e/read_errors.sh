#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tlsaudit read: bad files exit 1 with "tlsaudit: FILE: reason", usage errors exit 2
# with the usage on stderr; stdin, gzip and several files in order work.
source "$(dirname "$0")/../lib/common.sh"

[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built"
command -v python3 >/dev/null || skip "python3 not installed"
P=$TEST_TMP/pcap
python3 "$TOP/tests/pcap/craft.py" "$P" || fail "craft.py could not write the captures"

# run_read WANT_RC ARGS...: sets $out and $err
run_read() {
	local want=$1 rc
	shift
	out=$("$TLSAUDIT" read "$@" 2>"$TEST_TMP/err")
	rc=$?
	err=$(cat "$TEST_TMP/err")
	[ "$rc" = "$want" ] || fail "read $*: exit status $rc, want $want (stderr: $err)"
}

# expect_err TEXT: stderr holds TEXT
expect_err() { grep -qF -- "$1" <<<"$err" || fail "stderr lacks '$1': $err"; }

# Runtime errors: exit 1, the file and the reason.
echo "GET / HTTP/1.1" >"$TEST_TMP/notes.txt"
run_read 1 "$TEST_TMP/notes.txt"
expect_err "tlsaudit: $TEST_TMP/notes.txt: not a capture file"
: >"$TEST_TMP/empty.pcap"
run_read 1 "$TEST_TMP/empty.pcap"
expect_err "tlsaudit: $TEST_TMP/empty.pcap: not a capture file (empty)"
run_read 1 "$TEST_TMP/missing.pcap"
expect_err "tlsaudit: $TEST_TMP/missing.pcap: No such file or directory"
expect_eq "missing file: stdout" "$out" ""
run_read 1 "$TEST_TMP"
expect_err "tlsaudit: $TEST_TMP: Is a directory"
run_read 1 --json "$P/truncated.pcap"
expect_err "tlsaudit: $P/truncated.pcap: truncated mid-record"
run_read 1 "$P/wifi.pcap"
expect_err "tlsaudit: $P/wifi.pcap: unsupported link type IEEE802_11 (105)"
head -c 300 "$P/tls13_pq.pcap.gz" >"$TEST_TMP/cut.pcap.gz"
run_read 1 "$TEST_TMP/cut.pcap.gz"
expect_err "tlsaudit: $TEST_TMP/cut.pcap.gz: truncated mid-record"

# A file without read permission: root ignores modes, so drop to nobody when root.
cp "$P/tls13_pq.pcap" "$TEST_TMP/secret.pcap"
chmod 000 "$TEST_TMP/secret.pcap"
chmod 755 "$TEST_TMP"
if [ "$(id -u)" != 0 ]; then
	run_read 1 "$TEST_TMP/secret.pcap"
	expect_err "tlsaudit: $TEST_TMP/secret.pcap: Permission denied"
elif command -v setpriv >/dev/null &&
	setpriv --reuid=65534 --regid=65534 --clear-groups "$TLSAUDIT" --version >/dev/null 2>&1; then
	err=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$TLSAUDIT" read "$TEST_TMP/secret.pcap" 2>&1 >/dev/null)
	rc=$?
	expect_eq "unreadable file: exit status" "$rc" 1
	expect_err "tlsaudit: $TEST_TMP/secret.pcap: Permission denied"
else
	echo "note: unreadable-file case not run (the binary is not executable as nobody)"
fi

# Usage errors: exit 2, usage on stderr, nothing on stdout.
for args in "--bogus $P/grease.pcap" "-x $P/grease.pcap" "--ports" "--ports 0 $P/grease.pcap" \
	"--ports 443,x $P/grease.pcap" "--ports 70000 $P/grease.pcap" "--json" ""; do
	# shellcheck disable=SC2086
	run_read 2 $args
	expect_err "Usage: tlsaudit read [OPTIONS] FILE..."
	expect_eq "read $args: stdout" "$out" ""
done
run_read 2 --ports 443,x "$P/grease.pcap"
expect_err "--ports: '443,x' is not a list of ports"
run_read 2
expect_err "no capture file given"

# --help: stdout, exit 0, teaches with examples
run_read 0 --help
grep -q '^Usage: tlsaudit read \[OPTIONS\] FILE\.\.\.$' <<<"$out" || fail "--help: no usage: $out"
grep -q '^Examples:' <<<"$out" || fail "--help: no examples: $out"
grep -q -- '--ports LIST' <<<"$out" || fail "--help: --ports not described: $out"

# stdin, plain and gzip-compressed
sni_of() { python3 -c 'import json,sys; print(" ".join(json.loads(l)["sni"] or "-" for l in sys.stdin))'; }
got=$("$TLSAUDIT" read --json - <"$P/tls13_pq.pcap" | sni_of)
expect_eq "stdin" "$got" "pq.example"
got=$(cat "$P/tls13_pq.pcap.gz" | "$TLSAUDIT" read --json - | sni_of)
expect_eq "gzip on stdin" "$got" "pq.example"
got=$("$TLSAUDIT" read --json "$P/tls13_pq.pcap.gz" | sni_of)
expect_eq "gzip file" "$got" "pq.example"
run_read 1 - <"$TEST_TMP/notes.txt"
expect_err "tlsaudit: stdin: not a capture file"

# several files, in the order given
got=$("$TLSAUDIT" read --json "$P/reorder.pcap" "$P/vlan.pcap" "$P/tls13_pq.pcap" | sni_of)
expect_eq "three files" "$got" "old.example vlan.example pq.example"
# a bad file stops the reading, what came before is still printed, exit 1
run_read 1 --json "$P/vlan.pcap" "$TEST_TMP/missing.pcap" "$P/tls13_pq.pcap"
expect_eq "stop at a bad file" "$(sni_of <<<"$out")" "vlan.example"
expect_err "tlsaudit: $TEST_TMP/missing.pcap: No such file or directory"

# --ports: 443 not watched, so nothing; then 443 alone still finds it
run_read 0 --json --ports 8443 "$P/tls13_pq.pcap"
expect_eq "--ports 8443" "$out" ""
run_read 0 --json --ports 443 "$P/tls13_pq.pcap" "$P/smtp_starttls.pcap"
expect_eq "--ports 443" "$(sni_of <<<"$out")" "pq.example"
echo "ok"

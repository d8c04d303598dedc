#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The control socket under abuse: without a daemon every client says so in one line and
# exits 1; with one, 200 concurrent `status` clients are all answered, a client sending
# 1 MiB of garbage gets an error and is dropped, a client that never reads does not
# stall anyone, and the daemon keeps serving throughout.
source "$(dirname "$0")/../lib/common.sh"

require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
command -v socat >/dev/null || skip "socat not installed (./configure --test-deps)"
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"

S=$TEST_TMP/s

for cmd in status report top; do
	out=$("$TLSAUDIT" $cmd -S "$S" 2>&1)
	expect_eq "$cmd exit status without a daemon" "$?" 1
	expect_eq "$cmd without a daemon" "$out" \
		"tlsaudit: no daemon at $S: no such file or directory (is tlsaudit.service running?)"
done
out=$(TLSAUDIT_SOCKET=$S "$TLSAUDIT" report 2>&1)
expect_eq "TLSAUDIT_SOCKET is used" "$out" \
	"tlsaudit: no daemon at $S: no such file or directory (is tlsaudit.service running?)"

"$TLSAUDIT" daemon --socket="$S" --state-file="$TEST_TMP/state" --textfile=none \
	--ports=9 >"$TEST_TMP/daemon.log" 2>&1 &
DPID=$!
on_exit "kill $DPID"
daemon_wait_up "$S" "$DPID" "$TEST_TMP/daemon.log"

# A second daemon on the same socket refuses to start and leaves the first alone.
"$TLSAUDIT" daemon --socket="$S" --state-file="$TEST_TMP/state2" --textfile=none \
	--ports=9 >"$TEST_TMP/second.log" 2>&1
expect_eq "second daemon exit status" "$?" 1
grep -q "another tlsaudit daemon is answering there" "$TEST_TMP/second.log" ||
	fail "second daemon: $(cat "$TEST_TMP/second.log")"

# A client that never reads, and one that sends 1 MiB of garbage without newlines.
(sleep 20) | socat -u - UNIX-CONNECT:"$S" &
on_exit "kill $!"
head -c 1048576 /dev/urandom | tr -d '\n' >"$TEST_TMP/garbage"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
reply=$(timeout 10 $PY - "$S" "$TEST_TMP/garbage" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    s.sendall(open(sys.argv[2], "rb").read())
except OSError:
    pass  # the daemon hangs up once the limit is passed
data = b""
try:
    while not data.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except OSError:
    pass
print(data.decode(errors="replace").strip())
PYEOF
)
expect_eq "reply to 1 MiB of garbage" "$reply" \
	'{"ok":false,"error":"request longer than 4096 bytes"}'

# 200 clients at once.
for ((i = 0; i < 200; i++)); do
	("$TLSAUDIT" status -S "$S" >"$TEST_TMP/c.$i" 2>&1; echo $? >"$TEST_TMP/rc.$i") &
done
for ((t = 0; t < 200; t++)); do
	n=$(ls "$TEST_TMP"/rc.* 2>/dev/null | wc -l)
	[ "$n" -eq 200 ] && break
	sleep 0.1
done
ok=$(cat "$TEST_TMP"/rc.* | grep -c '^0$')
expect_eq "concurrent status clients answered" "$ok" 200
grep -q "^backend: " "$TEST_TMP/c.199" || fail "client output: $(cat "$TEST_TMP/c.199")"

# Still serving, with the garbage client gone.
out=$("$TLSAUDIT" status -S "$S") || fail "status after the abuse"
kill -0 "$DPID" || fail "daemon died"
kill -TERM "$DPID"
wait "$DPID"
expect_eq "daemon exit status" "$?" 0
[ -e "$S" ] && fail "socket left behind after exit"
echo "ok"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# A local user against the TLS-library hint. For every process that uses a watched port
# the daemon reads /proc/PID/maps and, for a versioned name like libssl.so.1.1, the
# library's soname through /proc/PID/root/<path from maps>: a path that user controls.
# As the unprivileged user tlsaudit-evil, a Python client maps a file named
# libssl.so.1.1, swaps what its path names, then makes a TLS handshake to a local server
# on this test's port:
#   fifo-deleted      path unlinked and replaced by a FIFO (maps says "(deleted)")
#   link-deleted      path unlinked and replaced by a symlink to a 0600 root-only ELF in
#                     a 0700 root directory (soname libsecret.so.7)
#   fifo-mount        in a user+mount namespace of its own, a directory holding a FIFO
#                     of that name is bind-mounted over the library's directory: maps
#                     shows the path unchanged, /proc/PID/root/PATH is the FIFO
#   link-mount        likewise, a directory whose "lib" is a symlink into the root-only
#                     directory: the path resolves to a regular ELF, but another file
#                     (device and inode differ from the maps line)
# After each: `tlsaudit status` answers within 5 s, a later handshake from root is
# reported, and the attacker's record has tls_lib "libssl.so.1.1" (the name maps shows),
# never the root-only library's soname. A daemon that opens the FIFO blocks its event
# loop for good; one that follows the link reports libsecret.so.7. All of it with the
# default backend (bpf where it loads) and with libpcap.
#
# The peers use the host's loopback on a port of their own (the daemon runs in the host
# namespace; the mount-namespace attacks need no network namespace).
source "$(dirname "$0")/../lib/common.sh"

require_root
for t in openssl cc setpriv useradd userdel unshare; do
	command -v "$t" >/dev/null || skip "$t not installed (./configure --test-deps)"
done
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

EVIL=tlsaudit-evil
if ! id "$EVIL" >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin "$EVIL" ||
		fail "useradd $EVIL"
	on_exit "userdel $EVIL"
fi
EVIL_UID=$(id -u "$EVIL")

free_port() {
	local p
	for ((p = $1; p < $1 + 100; p++)); do
		ss -Htan "sport = :$p or dport = :$p" | grep -q . || { echo "$p"; return 0; }
	done
	fail "no free port from $1"
}
PORT=$(free_port 25443)

# The root-only library: 0600 in a 0700 directory, a soname the user must never learn.
SECRET=$TEST_TMP/secret
mkdir -m 0700 "$SECRET"
echo 'int secret(void) { return 7; }' | cc -shared -fPIC -Wl,-soname,libsecret.so.7 \
	-o "$SECRET/libssl.so.1.1" -x c - || fail "cc could not build the secret library"
chmod 0600 "$SECRET/libssl.so.1.1"
# What the attacker maps: a library of its own under the TLS library's name.
EVIL_DIR=$(mktemp -d /tmp/tlsaudit-evil.XXXXXX)
on_exit "rm -rf $EVIL_DIR"
echo 'int evil(void) { return 1; }' | cc -shared -fPIC -Wl,-soname,libevil.so.1 \
	-o "$EVIL_DIR/evil.so" -x c - || fail "cc could not build the attacker's library"
chown -R "$EVIL:" "$EVIL_DIR"
chmod 0755 "$EVIL_DIR"

cat >"$EVIL_DIR/client.py" <<'EOF'
# client.py MODE DIR PORT SNI SECRET_DIR: map DIR/SNI/lib/libssl.so.1.1, swap its path, then a
# TLS handshake to 127.0.0.1:PORT with SNI. The file is mapped at a low address hint, below
# Python's own libssl, so maps lists it first.
import ctypes, mmap, os, shutil, socket, ssl, subprocess, sys, time

mode, top, port, sni, secret = sys.argv[1:6]
libdir = os.path.join(top, sni, "lib")
os.makedirs(libdir)
lib = os.path.join(libdir, "libssl.so.1.1")
shutil.copy(os.path.join(top, "evil.so"), lib)
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
with open(lib, "rb") as f:
    addr = libc.mmap(0x10000000, os.fstat(f.fileno()).st_size, mmap.PROT_READ,
                     mmap.MAP_PRIVATE, f.fileno(), 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        sys.exit("mmap failed: errno %d" % ctypes.get_errno())

if mode == "fifo-deleted":
    os.unlink(lib)
    os.mkfifo(lib)
elif mode == "link-deleted":
    os.unlink(lib)
    os.symlink(os.path.join(secret, "libssl.so.1.1"), lib)
else:
    # Over the directory that holds "lib": a tmpfs of our own with the swapped path.
    cover = os.path.join(top, sni)
    staging = os.path.join(top, sni + ".cover")
    os.makedirs(staging)
    if mode == "fifo-mount":
        os.makedirs(os.path.join(staging, "lib"))
        os.mkfifo(os.path.join(staging, "lib", "libssl.so.1.1"))
    else:
        os.symlink(secret, os.path.join(staging, "lib"))
    subprocess.run(["mount", "--bind", staging, cover], check=True)

# The path as maps shows it must come before Python's own libssl.
maps = open("/proc/self/maps").read().splitlines()
first = next((l for l in maps if "libssl" in l), "")
if "/" + sni + "/lib/libssl.so.1.1" not in first:
    sys.exit("maps lists another libssl first: " + first)

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as s:
    with ctx.wrap_socket(s, server_hostname=sni) as t:
        t.sendall(b"GET / HTTP/1.0\r\n\r\n")
        t.recv(64)
        # Connected a little longer: libpcap's owner lookup needs the socket open, and
        # the point here is what the daemon does with the process once it finds it.
        time.sleep(1)
EOF

make_cert "$TEST_TMP"
openssl s_server -accept "127.0.0.1:$PORT" -www -key "$TEST_TMP/server.key" \
	-cert "$TEST_TMP/server.crt" </dev/null >"$TEST_TMP/server.log" 2>&1 &
on_exit "kill $!"
wait_port "$PORT"

# daemon_start BACKEND - a daemon of its own on this test's port.
daemon_start() {
	local i
	S=$TEST_TMP/s-$1
	"$TLSAUDIT" daemon --foreground --socket="$S" --state-file="$TEST_TMP/state-$1" \
		--textfile=none --backend="$1" --ports="$PORT" >"$TEST_TMP/daemon.log" 2>&1 &
	DPID=$!
	# A daemon stuck in open() has SIGTERM blocked (it takes signals from a signalfd).
	on_exit "kill $DPID; sleep 0.3; kill -KILL $DPID"
	for ((i = 0; i < 200; i++)); do
		"$TLSAUDIT" status -S "$S" >/dev/null 2>&1 && return 0
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$TEST_TMP/daemon.log" >&2
	fail "daemon --backend=$1 did not come up"
}

# record FIELD SNI - FIELD of the one handshake record with this SNI and role client.
record() {
	timeout 5 "$TLSAUDIT" report --handshakes --json -S "$S" >"$TEST_TMP/hs.json" ||
		return 1
	$PY - "$TEST_TMP/hs.json" "$1" "$2" <<'EOF'
import json, sys
path, field, sni = sys.argv[1:]
hits = [r for r in map(json.loads, open(path)) if r["sni"] == sni and r["role"] == "client"]
if len(hits) != 1:
    sys.exit(1)
v = hits[0][field]
print("null" if v is None else v)
EOF
}

# wait_record SNI - until a client record with SNI is reported (5 s).
wait_record() {
	local i
	for ((i = 0; i < 50; i++)); do
		record sni "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat "$TEST_TMP/hs.json" >&2
	fail "no client record with SNI $1"
}

# still_serving WHAT - the daemon answers status and reports a fresh handshake.
still_serving() {
	local sni="after-$1-$backend-$$.attack.test"
	timeout 5 "$TLSAUDIT" status -S "$S" >"$TEST_TMP/status.txt" 2>&1 ||
		fail "after $1: tlsaudit status did not answer within 5 s (daemon stuck?)"
	kill -0 "$DPID" 2>/dev/null || fail "after $1: the daemon exited: $(cat "$TEST_TMP/daemon.log")"
	timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername "$sni" \
		</dev/null >/dev/null 2>&1 || fail "after $1: openssl s_client failed"
	wait_record "$sni"
}

userns=1
setpriv --reuid="$EVIL_UID" --regid="$(id -g "$EVIL")" --clear-groups unshare -Urm true \
	2>/dev/null || userns=0

# Both backends name processes through the same attribution, reached by other paths:
# the owner tracepoints (bpf), sock_diag and the /proc fd scan (pcap).
for backend in auto pcap; do
daemon_start "$backend"
for mode in fifo-deleted link-deleted fifo-mount link-mount; do
	run=(setpriv --reuid="$EVIL_UID" --regid="$(id -g "$EVIL")" --clear-groups)
	case $mode in
	*-mount)
		if [ $userns = 0 ]; then
			echo "note: no unprivileged user namespaces here; $mode not run"
			continue
		fi
		run+=(unshare -Urm)
		;;
	esac
	sni="$mode-$backend-$$.attack.test"
	timeout 20 "${run[@]}" "$PY" "$EVIL_DIR/client.py" "$mode" "$EVIL_DIR" "$PORT" "$sni" \
		"$SECRET" >"$TEST_TMP/client.log" 2>&1 ||
		fail "$mode: the attacking client failed: $(cat "$TEST_TMP/client.log")"
	still_serving "$mode"
	wait_record "$sni"
	expect_eq "$mode: attacker's uid" "$(record uid "$sni")" "$EVIL_UID"
	lib=$(record tls_lib "$sni")
	[ "$lib" != libsecret.so.7 ] || fail "$mode: the root-only library's soname leaked as tls_lib"
	expect_eq "$mode: tls_lib" "$lib" libssl.so.1.1
done
kill "$DPID"
wait "$DPID" || fail "daemon --backend=$backend exited with $? on SIGTERM"
done
echo "ok: the TLS-library hint survives FIFO and symlink swaps by a local user"

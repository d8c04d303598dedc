# SPDX-License-Identifier: GPL-2.0-only
# Helpers for tests that run `tlsaudit watch --json` against real peers (source after
# common.sh). watch runs outside the namespace: cgroup_skb on the root cgroup sees the
# sockets of every namespace, while inside `ip netns exec` no cgroup mount is visible.
#   watch_start [OPTIONS]     start a watch; returns once it captures with eBPF
#   rec FIELD PYEXPR          FIELD of the one record matching PYEXPR (on r)
#   wait_records N PYEXPR     wait until N records match
#   bg CMD... / fg CMD...     run a peer in the namespace, in the background / to its end
#   socat_fork_server PORT [HOLD] / socat_child   a forking TLS server, and its child

# The system interpreter: a version-manager shim costs half a second per call.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# watch_start [OPTIONS] - a new watch with its own output files (an earlier watch's
# "capturing" line must not be mistaken for this one's).
WATCH_N=0
watch_start() {
	WATCH_N=$((WATCH_N + 1))
	WATCH_OUT=$TEST_TMP/watch$WATCH_N.json
	WATCH_ERR=$TEST_TMP/watch$WATCH_N.err
	"$TLSAUDIT" watch --json "$@" >"$WATCH_OUT" 2>"$WATCH_ERR" &
	WATCH_PID=$!
	on_exit "kill $WATCH_PID"
	wait_line "$WATCH_ERR" "capturing with bpf" "$WATCH_PID" && return 0
	cat "$WATCH_ERR" >&2
	fail "tlsaudit watch did not start capturing with eBPF"
}

# rec FIELD PYEXPR - FIELD of the one record matching the python expression on r.
rec() {
	$PY - "$WATCH_OUT" "$1" "$2" <<'EOF'
import json, sys
path, field, expr = sys.argv[1:]
recs = [json.loads(l) for l in open(path) if l.strip()]
hits = [r for r in recs if eval(expr, {}, {"r": r})]
if len(hits) != 1:
    sys.stderr.write("%d records match %s; all records:\n" % (len(hits), expr))
    for r in recs:
        sys.stderr.write("  %s\n" % json.dumps(r))
    sys.exit(1)
v = hits[0][field]
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)
EOF
}

# wait_records N PYEXPR - until N records match (records follow the handshake closely).
wait_records() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$($PY -c '
import json, sys
n = sum(1 for l in open(sys.argv[1]) if l.strip() and eval(sys.argv[2], {}, {"r": json.loads(l)}))
print(n)' "$WATCH_OUT" "$2")" -ge "$1" ] && return 0
		sleep 0.1
	done
	cat "$WATCH_OUT" >&2
	fail "fewer than $1 records match $2"
}

# bg CMD... - start CMD in the namespace (on the host when the test made none); BG_PID
# is the program itself (no wrapper).
bg() {
	if [ -n "${NS:-}" ]; then
		ip netns exec "$NS" "$@" </dev/null >>"$TEST_TMP/bg.log" 2>&1 &
	else
		"$@" </dev/null >>"$TEST_TMP/bg.log" 2>&1 &
	fi
	BG_PID=$!
	on_exit "kill $BG_PID"
}

# fg CMD... - run CMD in the namespace to its end, at most 10 s; FG_PID is CMD itself.
fg() {
	ip netns exec "$NS" "$@" >"$TEST_TMP/fg.out" 2>&1 &
	FG_PID=$!
	(sleep 10; kill "$FG_PID") 2>/dev/null &
	local dog=$! rc
	wait "$FG_PID"
	rc=$?
	kill "$dog" 2>/dev/null
	[ $rc -eq 0 ] || { cat "$TEST_TMP/fg.out" >&2; fail "$* exited with $rc"; }
}

# socat_fork_server PORT [HOLD] - a forking TLS server on 127.0.0.1:PORT (CRT and KEY set)
# whose per-connection command adds its ancestry (pid, parent pid lines) to
# $TEST_TMP/socat-chain, then keeps the connection HOLD seconds (default 0). socat_child
# prints the pids of the listener's children that served connections.
socat_fork_server() {
	cat >"$TEST_TMP/child.sh" <<EOF
p=\$\$
while [ "\$p" -gt 1 ]; do
	pp=\$(awk '{ print \$4 }' /proc/\$p/stat)
	echo "\$p \$pp"
	p=\$pp
done >>$TEST_TMP/socat-chain
echo hello
sleep ${2:-0}
EOF
	bg socat "OPENSSL-LISTEN:$1,bind=127.0.0.1,fork,reuseaddr,cert=$CRT,key=$KEY,verify=0" \
		"SYSTEM:sh $TEST_TMP/child.sh"
	SOCAT_LISTENER=$BG_PID
	wait_port "$1"
}

socat_child() {
	local i child
	for ((i = 0; i < 100; i++)); do
		[ -s "$TEST_TMP/socat-chain" ] && break
		sleep 0.05
	done
	child=$(awk -v l="$SOCAT_LISTENER" '$2 == l { print $1 }' "$TEST_TMP/socat-chain")
	[ -n "$child" ] ||
		fail "socat: no child of the listener $SOCAT_LISTENER in $(cat "$TEST_TMP/socat-chain")"
	echo "$child"
}

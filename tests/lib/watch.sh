# SPDX-License-Identifier: GPL-2.0-only
# Helpers for tests that run `tlsaudit watch --json` against real peers (source after
# common.sh). watch runs outside the namespace: cgroup_skb on the root cgroup sees the
# sockets of every namespace, while inside `ip netns exec` no cgroup mount is visible.
#   watch_start [OPTIONS]     start a watch; returns once it captures with eBPF
#   rec FIELD PYEXPR          FIELD of the one record matching PYEXPR (on r)
#   wait_records N PYEXPR     wait until N records match

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
	local i
	for ((i = 0; i < 200; i++)); do
		grep -q "capturing with bpf" "$WATCH_ERR" 2>/dev/null && return 0
		kill -0 "$WATCH_PID" 2>/dev/null || break
		sleep 0.05
	done
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


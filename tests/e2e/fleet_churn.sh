#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Programs that come and go, as on a container host, against the fleet bounds:
# 300 short-lived "docker containers" (each a process in a fresh cgroup
# docker-<id>.scope on the cgroup v2 mount, its name in a docker config.v2.json under
# a fake runtime root) make one TLS handshake each to one local openssl s_server,
# while the daemon runs with max_series=300 (near its least) and a one-second export. 200 names are
# distinct; 100 more runs reuse 5 names with new ids (restarts). Then 10 runs of
# systemd-run without --unit, each in its own run-u<id>.service. Checked:
#   - no scrape ever serves more than 300 tlsaudit samples, the rows kept are the latest
#     names, each apart, a reused name is one row whatever the ids, the systemd-run
#     runs are one row with an empty unit, and the rest is in exe="other" with
#     tlsaudit_series_folded_total{reason="max_series"} counting it; no handshake is
#     lost from the sums;
#   - a real prometheus-node-exporter (textfile collector only, on loopback) scrapes
#     the directory throughout with node_textfile_scrape_error 0 and never logs a
#     series collected twice;
#   - the handshake log in ECS: every line valid JSON with source.ip, and each
#     container's client with its container.name, the run's container.id,
#     process.pid and user.id;
#   - a restart keeps it all: the same sums, rows and folded count;
#   - row_ttl: rows not seen for it leave the live view, the textfile and the state,
#     their counts in exe="other".
source "$(dirname "$0")/../lib/common.sh"

require_root
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF at /sys/kernel/btf/vmlinux"
for t in openssl curl python3; do
	command -v $t >/dev/null || skip "$t not installed (./configure --test-deps)"
done
NE=$(command -v prometheus-node-exporter || command -v node_exporter) ||
	skip "prometheus-node-exporter not installed (./configure --test-deps)"
[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"

# The cgroup v2 hierarchy: /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host.
CG=""
for m in /sys/fs/cgroup /sys/fs/cgroup/unified; do
	[ "$(stat -fc %T "$m" 2>/dev/null)" = cgroup2fs ] && { CG=$m; break; }
done
[ -n "$CG" ] || skip "no cgroup v2 mount"
TREE=$CG/tlsaudit-churn-$$
mkdir "$TREE" || skip "cannot create a cgroup under $CG"
on_exit "rmdir $TREE/*/ $TREE"

PORT=$((20000 + $$ % 20000))
NEPORT=$((PORT + 1))
MAX=300
S=$TEST_TMP/s
RT=$TEST_TMP/rt
TF=$TEST_TMP/textfile
mkdir -p "$RT" "$TF"
make_cert "$TEST_TMP"

openssl s_server -accept "127.0.0.1:$PORT" -cert "$TEST_TMP/server.crt" \
	-key "$TEST_TMP/server.key" -www -quiet >"$TEST_TMP/server.log" 2>&1 &
on_exit "kill $!"
wait_port "$PORT"

daemon_start() {
	TLSAUDIT_RUNTIME_ROOT=$RT "$TLSAUDIT" daemon --foreground --socket="$S" \
		--state-file="$TEST_TMP/state" --textfile="$TF/tlsaudit.prom" \
		--export-interval=1s --ports="$PORT" --max-series=$MAX \
		--handshake-log="$TEST_TMP/hs.jsonl" --handshake-log-format=ecs \
		>>"$TEST_TMP/daemon.log" 2>&1 &
	DPID=$!
	on_exit "kill $DPID"
	daemon_wait_up "$S" "$DPID" "$TEST_TMP/daemon.log"
}

# node_exporter with the textfile collector only; a scraper records every answer's
# node_textfile_scrape_error (an unparsable file, duplicate series, ... make it 1).
"$NE" --web.listen-address="127.0.0.1:$NEPORT" --collector.disable-defaults \
	--collector.textfile --collector.textfile.directory="$TF" >"$TEST_TMP/ne.log" 2>&1 &
on_exit "kill $!"
wait_port "$NEPORT"
# Each answer's count of tlsaudit samples goes to scrape_samples: max_series holds
# for every file node_exporter served, not only where this script looks.
(
	while :; do
		if curl -s "http://127.0.0.1:$NEPORT/metrics" >"$TEST_TMP/scrape.tmp" &&
			grep '^node_textfile_scrape_error ' "$TEST_TMP/scrape.tmp" >>"$TEST_TMP/scrape_errors"; then
			grep -c '^tlsaudit_' "$TEST_TMP/scrape.tmp" >>"$TEST_TMP/scrape_samples" || :
			cp "$TEST_TMP/scrape.tmp" "$TEST_TMP/scrape.last"
		fi
		sleep 0.2
	done
) &
on_exit "kill $!"

# One handshake from a short-lived process in a new cgroup CGNAME under the tree.
run_in() {
	local dir=$TREE/$1
	mkdir "$dir" || fail "mkdir $dir"
	(
		echo "$BASHPID" >"$dir/cgroup.procs" || exit 1
		# Held open a moment: a process gone before the daemon reads its /proc entry
		# is named by its comm alone (attribution's limit, not this test's subject).
		sleep 0.1 | exec openssl s_client -connect "127.0.0.1:$PORT" -tls1_3 >/dev/null 2>&1
	) || fail "handshake in $1 failed"
	rmdir "$dir"
}

# One "container": a process in a new cgroup docker-<id>.scope, named NAME in docker's
# metadata, making one handshake. The id starts with the run's number, so each run
# has its own short id (container.id); ids.txt keeps NAME and it.
container() {
	local name=$1 seq=$2 id
	id=$(printf '%012x%052x' "$seq" "$$")
	mkdir -p "$RT/var/lib/docker/containers/$id"
	printf '{"ID":"%s","Name":"/%s","Config":{"Image":"churn:1"}}' "$id" "$name" \
		>"$RT/var/lib/docker/containers/$id/config.v2.json"
	echo "$name ${id:0:12}" >>"$TEST_TMP/ids.txt"
	run_in "docker-$id.scope"
}

samples() { grep -vc '^#' "$TF/tlsaudit.prom"; }

daemon_start
n=0
for ((i = 1; i <= 200; i++)); do
	container "churn-$i" $((++n))
	# Every 20 containers, a run of a name used before (a container restarted).
	if ((i % 10 == 0)); then
		for ((k = 0; k < 5; k++)); do container "web-$((i / 10 % 5))" $((++n)); done
	fi
	if ((i % 50 == 0)); then
		sleep 1.2
		got=$(samples)
		((got <= MAX)) || fail "textfile holds $got samples after $i containers (max_series $MAX)"
	fi
done
expect_eq "containers started" "$n" 300
# The last ones again, so the reused names are among the latest rows.
for ((k = 0; k < 5; k++)); do container "web-$k" $((++n)); done
# systemd-run without --unit: a transient service named after the run (run-u<bus id>).
for ((k = 0; k < 10; k++)); do run_in "run-u$((4200 + k)).service"; done
sleep 2.5

got=$(samples)
((got <= MAX)) || fail "textfile holds $got samples (max_series $MAX)"
PROM=$TEST_TMP/final.prom
cp "$TF/tlsaudit.prom" "$PROM"
command -v promtool >/dev/null && { promtool check metrics <"$PROM" || fail "promtool check metrics"; }

python3 - "$PROM" "$PORT" <<'EOF' || fail "textfile content (see above)"
import re, sys
text = open(sys.argv[1]).read()
port = sys.argv[2]
rows = {}
units = {}
folded = None
for line in text.splitlines():
    if line.startswith("#"):
        continue
    # Client rows of this test's port, and the "other" row (every key folded into it,
    # whatever its role and port: the server's row is never the least recently seen).
    m = re.match(r'tlsaudit_handshakes_total\{exe="([^"]*)",unit="([^"]*)",container="([^"]*)",role="([a-z]*)",port="(\d+)",version="TLSv1.3"\} (\d+)$', line)
    if m and (m.group(1) == "other" or (m.group(4) == "client" and m.group(5) == port)):
        rows[(m.group(1), m.group(3))] = rows.get((m.group(1), m.group(3)), 0) + int(m.group(6))
        units.setdefault(m.group(3), []).append(m.group(2))
    m = re.match(r'tlsaudit_series_folded_total\{reason="max_series"\} (\d+)$', line)
    if m:
        folded = int(m.group(1))
bad = []
total = sum(rows.values())
if total != 315:
    bad.append(f"client handshakes add up to {total}, want 315 (none lost)")
other = [v for (exe, c), v in rows.items() if exe == "other"]
# At max_series 300 about 140 client rows fit: some 60 of the 305 runs fold, at least.
if not other or other[0] < 50:
    bad.append(f"no exe=\"other\" row holding the folded rows: {other}")
if not folded or folded < 50:
    bad.append(f"tlsaudit_series_folded_total{{reason=\"max_series\"}} is {folded}")
names = {c for (exe, c) in rows if exe != "other"}
if any(re.fullmatch(r"[0-9a-f]{12,64}", c) for c in names):
    bad.append(f"a per-run id as a label: {names}")
# The latest distinct names are kept, each in a row of its own with its one handshake.
for i in (199, 200):
    if rows.get(("/usr/bin/openssl", f"churn-{i}")) != 1:
        bad.append(f"churn-{i}: {rows.get(('/usr/bin/openssl', f'churn-{i}'))}, want its own row of 1")
# A reused name is one row: each web-N ran 21 times (four rounds of 5, then once more) with
# a new id each time, and some of its runs may have been folded while it was old.
webs = {c: v for (exe, c), v in rows.items() if c.startswith("web-")}
if len(webs) != 5 or any(v < 1 for v in webs.values()):
    bad.append(f"reused names not one row each: {webs}")
# The systemd-run runs: no container, an empty unit, one row (two if some were named
# by their comm only) with the 10 handshakes, never a row per run-u<id>.service.
plain = {exe: v for (exe, c), v in rows.items() if exe != "other" and c == ""}
if sum(plain.values()) != 10 or len(plain) > 2 or any(units.get("", [])):
    bad.append(f"systemd-run runs: rows {plain}, units {units.get('')}, want one row of 10, unit \"\"")
if any(u.startswith("run-") for us in units.values() for u in us):
    bad.append(f"a per-run unit as a label: {units}")
print(f"rows kept {len(rows)}, other {other}, folded series {folded}, names {sorted(names)[:8]}...")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF

# Every scrape answered without a textfile error and within max_series, node_exporter
# never saw a series twice, and the last scrape had tlsaudit's series.
[ -s "$TEST_TMP/scrape_errors" ] || fail "node_exporter was never scraped: $(cat "$TEST_TMP/ne.log")"
scrapes=$(wc -l <"$TEST_TMP/scrape_errors")
errors=$(grep -vc ' 0$' "$TEST_TMP/scrape_errors")
expect_eq "node_textfile_scrape_error other than 0 (of $scrapes scrapes)" "$errors" 0
most=$(sort -n "$TEST_TMP/scrape_samples" | tail -1)
most=${most:-0}
((most <= MAX)) || fail "a scrape served $most tlsaudit samples (max_series $MAX)"
((most > 0)) || fail "no scrape served tlsaudit's samples"
! grep -q 'collected before with the same name and label values' "$TEST_TMP/ne.log" ||
	fail "node_exporter saw a series twice: $(grep -m1 'collected before' "$TEST_TMP/ne.log")"
grep -q '^tlsaudit_series_folded_total{reason="max_series"}' "$TEST_TMP/scrape.last" ||
	fail "node_exporter does not serve tlsaudit's series"

# The handshake log in ECS: one valid JSON object per line, the client's address on
# each; a container's client names its container and this run of it (container.id),
# its process and its user.
python3 - "$TEST_TMP/hs.jsonl" "$TEST_TMP/ids.txt" "$PORT" <<'EOF' || fail "handshake log (ECS) invalid (see above)"
import json, os, sys
ids = {}
for l in open(sys.argv[2]):
    name, short = l.split()
    ids.setdefault(name, set()).add(short)
port = int(sys.argv[3])
n = named = unnamed = gone = transient = 0
seen_ids = set()
def bad(msg, line):
    sys.exit(f"line {n}: {msg}: {line}")
for line in open(sys.argv[1]):
    d = json.loads(line)
    n += 1
    for k in ("@timestamp", "event", "tls", "source", "destination", "tlsaudit"):
        if k not in d:
            bad(f"no {k}", line)
    if d["tls"].get("version") != "1.3" or d["tls"].get("version_protocol") != "tls":
        bad("tls.version", line)
    if d["event"]["outcome"] != "success" or d["tls"]["established"] is not True:
        bad("outcome", line)
    if d["source"].get("ip") != "127.0.0.1" or not isinstance(d["source"].get("port"), int):
        bad("source.ip, source.port", line)
    if d["destination"].get("port") != port:
        bad("destination.port", line)
    if d["tlsaudit"]["role"] != "client":
        continue
    proc, ctr = d.get("process", {}), d.get("container", {})
    if ctr.get("name", "").startswith(("churn-", "web-")):
        named += 1
        if not isinstance(proc.get("pid"), int) or proc["pid"] <= 0:
            bad("process.pid", line)
        if d.get("user", {}).get("id") != str(os.getuid()):
            bad(f"user.id, want \"{os.getuid()}\"", line)
        if ctr.get("id") not in ids.get(ctr["name"], ()) or ctr["id"] in seen_ids:
            bad(f"container.id, want one of this name's runs {sorted(ids.get(ctr['name'], ()))[:3]}", line)
        seen_ids.add(ctr["id"])
    elif "executable" not in proc:
        gone += 1 # exited before its /proc entry was read: comm only
    elif d["tlsaudit"].get("unit", "").startswith("run-u") and not ctr:
        transient += 1 # the raw unit stays in the log
    else:
        unnamed += 1
        if unnamed <= 3:
            print("client without its container:", line.strip())
if n < 630 or unnamed or named + gone + transient != 315 or gone > 15:
    sys.exit(f"{n} lines, {named} clients with their container's name, {transient} systemd-run, "
             f"{unnamed} without, {gone} gone before they were read "
             f"(want 630, 305 named, 10 systemd-run, at most 15 gone)")
print(f"{n} ECS lines, {named} named containers (each its own container.id), "
      f"{transient} systemd-run, {gone} clients gone before they were read")
EOF

# A restart keeps it all: same sums, same rows, same folded count.
daemon_stop
cp "$TF/tlsaudit.prom" "$TEST_TMP/before.prom"
daemon_start
sleep 1.5
daemon_stop
strip() { grep -v '^#\|_timestamp_seconds\|tlsaudit_start_time\|tlsaudit_capture_drops\|tlsaudit_ringbuf\|tlsaudit_flow_evictions\|tlsaudit_malformed' "$1" | sort; }
diff <(strip "$TEST_TMP/before.prom") <(strip "$TF/tlsaudit.prom") ||
	fail "the textfile changed across a restart"
got=$(samples)
((got <= MAX)) || fail "textfile holds $got samples after the restart"

# row_ttl: nothing seen for 2 s leaves the live view, the textfile and the state, its
# counts kept in exe="other" (the same sum), and a restart does not bring it back.
ROW_TTL=--row-ttl=2s
daemon_start_ttl() {
	TLSAUDIT_RUNTIME_ROOT=$RT "$TLSAUDIT" daemon --foreground --socket="$S" \
		--state-file="$TEST_TMP/state" --textfile="$TF/tlsaudit.prom" \
		--export-interval=1s --ports="$PORT" --max-series=$MAX $ROW_TTL \
		>>"$TEST_TMP/daemon.log" 2>&1 &
	DPID=$!
	on_exit "kill $DPID"
	sleep 3.5
}
daemon_start_ttl
"$TLSAUDIT" report --json -S "$S" >"$TEST_TMP/rows.json" || fail "report --json"
daemon_stop
daemon_start_ttl
daemon_stop
python3 - "$TEST_TMP/rows.json" "$TF/tlsaudit.prom" <<'EOF2' || fail "row_ttl (see above)"
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = [r.get("exe") for r in rows]
text = open(sys.argv[2]).read()
hs = sum(int(v) for v in re.findall(r'^tlsaudit_handshakes_total\{exe="other"[^}]*\} (\d+)$', text, re.M))
ttl = re.search(r'^tlsaudit_series_folded_total\{reason="row_ttl"\} (\d+)$', text, re.M)
bad = []
if names != ["other"]:
    bad.append(f"live view after row_ttl: {names}")
if len(re.findall(r'^tlsaudit_handshakes_total\{', text, re.M)) != 1:
    bad.append("rows other than exe=\"other\" in the textfile after row_ttl")
if hs != 630:
    bad.append(f"exe=\"other\" holds {hs} handshakes, want 630 (both ends of 315)")
if not ttl or int(ttl.group(1)) < 10:
    bad.append(f"tlsaudit_series_folded_total{{reason=\"row_ttl\"}}: {ttl and ttl.group(1)}")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF2
echo "ok: $got samples kept at max_series $MAX, $scrapes scrapes without a textfile error"

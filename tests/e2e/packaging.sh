#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Packaging: `make install DESTDIR=...` lays out binary, unit, config, sysusers, tmpfiles,
# logrotate, man pages, alert rules and dashboard, and the unit's ExecStart= follows
# PREFIX; the unit passes `systemd-analyze verify` and keeps its sandbox; the
# config, the man page and DESIGN.md's key list agree; the alert rules and the Grafana
# dashboard parse and use only metrics the daemon exports (failures and SMTP sessions
# included), and the rules fire as their promtool tests say; logrotate rotates the
# handshake log with the shipped rule.
source "$(dirname "$0")/../lib/common.sh"
cd "$TOP" || fail "cd $TOP"

command -v python3 >/dev/null || skip "python3 not installed"
python3 -c 'import yaml' 2>/dev/null || skip "python3 yaml module missing (package python3-yaml)"

KEYS="ports backend socket state_file textfile export_interval handshake_log
handshake_log_format max_series row_ttl policies"
METRICS="tlsaudit_handshakes_total tlsaudit_legacy_handshakes_total
tlsaudit_weak_cipher_handshakes_total tlsaudit_plaintext_smtp_sessions_total
tlsaudit_last_seen_timestamp_seconds tlsaudit_info tlsaudit_start_time_seconds
tlsaudit_capture_drops_total tlsaudit_series_folded_total tlsaudit_flow_evictions_total
tlsaudit_malformed_handshakes_total tlsaudit_export_timestamp_seconds
tlsaudit_handshake_failures_total tlsaudit_smtp_sessions_total
tlsaudit_certificates_unread_total
tlsaudit_policy_failures_total tlsaudit_certificate_problems_total
tlsaudit_bad_certificate_accepted_total tlsaudit_server_certificate_expiry_timestamp_seconds"

# --- make install ---------------------------------------------------------------------
# The build directory of the binary under test (make BUILD=... all), so the install does
# not rebuild elsewhere.
build=$(dirname "$TLSAUDIT")
build=${build#"$TOP"/}
dest=$TEST_TMP/root
make -s install BUILD="$build" DESTDIR="$dest" >"$TEST_TMP/install.log" 2>&1 ||
	{ cat "$TEST_TMP/install.log"; fail "make install DESTDIR=$dest failed"; }

check_file() { # PATH MODE
	[ -f "$dest$1" ] || fail "make install did not install $1"
	expect_eq "mode of $1" "$(stat -c %a "$dest$1")" "$2"
}
check_file /usr/local/sbin/tlsaudit 755
check_file /lib/systemd/system/tlsaudit.service 644
check_file /etc/tlsaudit/tlsaudit.conf 644
check_file /usr/lib/sysusers.d/tlsaudit.conf 644
check_file /usr/lib/tmpfiles.d/tlsaudit.conf 644
check_file /etc/logrotate.d/tlsaudit 644
check_file /usr/local/share/man/man8/tlsaudit.8 644
check_file /usr/local/share/man/man5/tlsaudit.conf.5 644
check_file /usr/local/share/tlsaudit/prometheus/tlsaudit.rules.yml 644
check_file /usr/local/share/tlsaudit/grafana/tlsaudit.json 644

# A package installs with PREFIX=/usr: the unit must start the binary it installed.
make -s install BUILD="$build" DESTDIR="$TEST_TMP/usr-root" PREFIX=/usr \
	>"$TEST_TMP/install.log" 2>&1 ||
	{ cat "$TEST_TMP/install.log"; fail "make install PREFIX=/usr failed"; }
[ -x "$TEST_TMP/usr-root/usr/sbin/tlsaudit" ] || fail "PREFIX=/usr: no /usr/sbin/tlsaudit"
expect_eq "ExecStart= with PREFIX=/usr" \
	"$(grep '^ExecStart=' "$TEST_TMP/usr-root/lib/systemd/system/tlsaudit.service")" \
	"ExecStart=/usr/sbin/tlsaudit daemon --foreground"

expect_eq "installed binary --version" "$("$dest/usr/local/sbin/tlsaudit" --version | head -n 1)" \
	"tlsaudit 0.1.0"

# --- man pages ------------------------------------------------------------------------
export MANWIDTH=100
man8=$TEST_TMP/tlsaudit.8.txt
man -l "$dest/usr/local/share/man/man8/tlsaudit.8" >"$man8" 2>/dev/null ||
	fail "man -l cannot render tlsaudit.8"
for s in NAME SYNOPSIS DESCRIPTION COMMANDS "EXIT STATUS" FILES OVERHEAD \
	"REQUIRED CAPABILITIES" EXAMPLES "SEE ALSO"; do
	grep -q "^$s\$" "$man8" || fail "tlsaudit(8) has no $s section"
done
# Every subcommand has its own subsection, and every one of its options is described.
for c in daemon top report status read watch; do
	grep -Eq "^   $c\$" "$man8" || fail "tlsaudit(8) has no subsection for '$c'"
done
for o in --backend --foreground --config -b -n -d --json --legacy --handshakes --since \
	--ports --socket; do
	grep -q -- "^       $o" "$man8" || grep -q -- ", $o" "$man8" ||
		fail "tlsaudit(8) does not describe option $o"
done
grep -q "tlsaudit - name the local processes" "$man8" || fail "tlsaudit(8) NAME line"

man5=$TEST_TMP/tlsaudit.conf.5.txt
man -l "$dest/usr/local/share/man/man5/tlsaudit.conf.5" >"$man5" 2>/dev/null ||
	fail "man -l cannot render tlsaudit.conf.5"
for k in $KEYS; do
	grep -Eq "^       $k = " "$man5" || fail "tlsaudit.conf(5) does not document key '$k'"
done

# --- config file: every key, commented out, at the default the man page states ---------
conf=packaging/tlsaudit.conf
for k in $KEYS; do
	line=$(grep -E "^#$k = " "$conf") || fail "$conf: key '$k' missing or not commented out"
	val=${line#*= }
	# the man page's "Default:" under this key must name the same value (read from the
	# source: the rendered page hyphenates long paths)
	awk -v k="**$k**" '$1 == k && $2 == "=" { on = 1; next }
		on && /Default:/ { gsub(/[*]/, ""); print; exit }' docs/tlsaudit.conf.5.rst |
		grep -qF -- "Default: $val." ||
		fail "$conf: $k = $val differs from the default in tlsaudit.conf(5)"
done
expect_eq "active lines in $conf" "$(grep -Evc '^[[:space:]]*(#|$)' "$conf")" 0

# --- systemd unit -----------------------------------------------------------------------
unit=$dest/lib/systemd/system/tlsaudit.service
if command -v systemd-analyze >/dev/null; then
	# verify checks ExecStart= exists and Documentation= man pages resolve: point both at
	# the DESTDIR tree.
	vdir=$TEST_TMP/verify
	mkdir -p "$vdir"
	sed "s|/usr/local/sbin/tlsaudit|$dest/usr/local/sbin/tlsaudit|" "$unit" \
		>"$vdir/tlsaudit.service"
	MANPATH=$dest/usr/local/share/man systemd-analyze verify "$vdir/tlsaudit.service" \
		>"$TEST_TMP/verify.log" 2>&1 ||
		{ cat "$TEST_TMP/verify.log"; fail "systemd-analyze verify tlsaudit.service"; }
	[ -s "$TEST_TMP/verify.log" ] &&
		{ cat "$TEST_TMP/verify.log"; fail "systemd-analyze verify printed warnings"; }
	# The sandbox must not erode: exposure at most 2.5 (2.3 with systemd 252 when written;
	# tests/e2e/service_nspawn.sh asks the running systemd too).
	level=$(systemd-analyze security --offline=yes "$vdir/tlsaudit.service" 2>/dev/null |
		sed -n 's/.*exposure level for tlsaudit.service: \([0-9.]*\).*/\1/p')
	[ -n "$level" ] || fail "systemd-analyze security gave no exposure level"
	awk -v l="$level" 'BEGIN { exit !(l <= 2.5) }' ||
		fail "tlsaudit.service exposure level $level, want at most 2.5"
else
	echo "note: systemd-analyze missing, unit not verified"
fi
want_caps="CAP_BPF CAP_DAC_READ_SEARCH CAP_NET_ADMIN CAP_NET_RAW CAP_PERFMON CAP_SYS_PTRACE"
for d in CapabilityBoundingSet AmbientCapabilities; do
	got=$(sed -n "s/^$d=//p" "$unit" | tr ' ' '\n' | sort | xargs)
	expect_eq "$d" "$got" "$want_caps"
done
for d in "ExecStart=/usr/local/sbin/tlsaudit daemon --foreground" \
	'ExecReload=/bin/kill -HUP $MAINPID' RuntimeDirectory=tlsaudit RuntimeDirectoryMode=0750 \
	StateDirectory=tlsaudit ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
	NoNewPrivileges=yes LockPersonality=yes MemoryDenyWriteExecute=yes \
	SystemCallArchitectures=native Restart=on-failure Group=tlsaudit Type=notify \
	"RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_PACKET" LimitMEMLOCK=infinity \
	ProtectProc=ptraceable ProcSubset=pid PrivateMounts=yes \
	"SystemCallFilter=@system-service bpf" "SystemCallFilter=~@resources" \
	"ReadWritePaths=-/var/lib/node_exporter/textfile_collector"; do
	grep -qxF -- "$d" "$unit" || fail "tlsaudit.service lacks '$d'"
done

# --- sysusers: creates the group the unit runs with; tmpfiles: its directories ----------
if command -v systemd-sysusers >/dev/null; then
	sroot=$TEST_TMP/sysroot
	mkdir -p "$sroot/etc"
	systemd-sysusers --root="$sroot" "$dest/usr/lib/sysusers.d/tlsaudit.conf" \
		>/dev/null 2>&1 || fail "systemd-sysusers rejected packaging/tlsaudit.sysusers"
	grep -q '^tlsaudit:x:[0-9]*:$' "$sroot/etc/group" ||
		fail "systemd-sysusers did not create group tlsaudit"
	if command -v systemd-tmpfiles >/dev/null; then
		systemd-tmpfiles --root="$sroot" --create "$dest/usr/lib/tmpfiles.d/tlsaudit.conf" \
			>"$TEST_TMP/tmpfiles.log" 2>&1 ||
			{ cat "$TEST_TMP/tmpfiles.log"; fail "systemd-tmpfiles rejected packaging/tlsaudit.tmpfiles"; }
		gid=$(awk -F: '$1 == "tlsaudit" { print $3 }' "$sroot/etc/group")
		for d in /var/lib/tlsaudit /var/log/tlsaudit; do
			expect_eq "tmpfiles: $d" "$(stat -c '%a %u %g' "$sroot$d" 2>&1)" "750 0 $gid"
		done
	fi
fi

# --- logrotate: rotate a handshake log with the shipped rule ----------------------------
if command -v logrotate >/dev/null; then
	lr=$TEST_TMP/lr
	mkdir -p "$lr"
	grp=tlsaudit
	getent group tlsaudit >/dev/null || grp=$(id -gn)
	sed -e "s|/var/log/tlsaudit/handshakes.log|$lr/handshakes.log|" \
		-e "s|create 0640 root tlsaudit|create 0640 $(id -un) $grp|" \
		-e 's|systemctl kill .*|echo hup >>'"$lr"'/signalled|' \
		"$dest/etc/logrotate.d/tlsaudit" >"$lr/rule"
	echo '{"version":"TLSv1.0"}' >"$lr/handshakes.log"
	logrotate -f -s "$lr/state" "$lr/rule" >"$lr/out" 2>&1 ||
		{ cat "$lr/out"; fail "logrotate failed with the shipped rule"; }
	[ -s "$lr/handshakes.log.1" ] || fail "logrotate did not rotate the handshake log"
	expect_eq "new log mode" "$(stat -c %a "$lr/handshakes.log")" 640
	expect_eq "postrotate signals the daemon" "$(cat "$lr/signalled")" hup
fi

# --- Prometheus rules and Grafana dashboard ----------------------------------------------
python3 - "$METRICS" <<'EOF' || fail "alert rules or dashboard invalid (see above)"
import json, re, sys, yaml

known = set(sys.argv[1].split())
node = {"node_textfile_mtime_seconds", "node_exporter_build_info"}
ident = re.compile(r"\b(tlsaudit_[a-z_]+|node_[a-z_]+)\b")
bad = []

rules = yaml.safe_load(open("packaging/prometheus/tlsaudit.rules.yml"))
alerts = {}
for g in rules["groups"]:
    for r in g["rules"]:
        alerts[r["alert"]] = r
        if r.get("labels", {}).get("severity") not in ("warning", "critical", "info"):
            bad.append(f"{r['alert']}: no severity label")
        if not r.get("annotations", {}).get("summary"):
            bad.append(f"{r['alert']}: no summary annotation")
        for m in ident.findall(r["expr"]):
            if m not in known | node:
                bad.append(f"{r['alert']}: unknown metric {m}")
want = {
    "tlsaudit_legacy_handshakes_total": "legacy TLS",
    "tlsaudit_weak_cipher_handshakes_total": "weak cipher",
    "tlsaudit_plaintext_smtp_sessions_total": "plaintext SMTP",
    "tlsaudit_capture_drops_total": "capture drops",
    "tlsaudit_handshake_failures_total": "a process being refused",
    "tlsaudit_policy_failures_total": "a process that would break under a policy",
    "tlsaudit_bad_certificate_accepted_total": "a program that accepts bad certificates",
    "tlsaudit_certificate_problems_total": "certificate problems",
    "tlsaudit_server_certificate_expiry_timestamp_seconds": "a local server certificate expiring",
    'plaintext_fallback="true"': "SMTP falling back to plaintext",
    "node_textfile_mtime_seconds": "stale textfile",
    "absent(tlsaudit_info)": "tlsaudit absent",
}
for needle, what in want.items():
    if not any(needle in r["expr"] for r in alerts.values()):
        bad.append(f"no alert rule for {what} ({needle})")
legacy = alerts.get("TLSAuditLegacyTLS", {"expr": ""})["expr"]
if "24h" not in legacy or "instance" not in legacy or "exe" not in legacy:
    bad.append("TLSAuditLegacyTLS is not per host and exe over 24h")
refused = alerts.get("TLSAuditRefused", {"expr": ""})["expr"]
for needle in ('outcome="alert"', 'by="server"', "instance", "exe", "alert)"):
    if needle not in refused:
        bad.append(f"TLSAuditRefused: no {needle} (a server's alert, per host, exe and alert)")

dash = json.load(open("packaging/grafana/tlsaudit.json"))
ids = [p["id"] for p in dash["panels"]]
if len(ids) != len(set(ids)):
    bad.append("dashboard panel ids are not unique")
exprs = " ".join(t["expr"] for p in dash["panels"] for t in p.get("targets", []))
for m in ident.findall(exprs):
    if m not in known | node:
        bad.append(f"dashboard uses unknown metric {m}")
for m in ("tlsaudit_legacy_handshakes_total", "tlsaudit_handshakes_total",
          "tlsaudit_weak_cipher_handshakes_total", "tlsaudit_plaintext_smtp_sessions_total",
          "tlsaudit_capture_drops_total", "tlsaudit_handshake_failures_total",
          "tlsaudit_smtp_sessions_total", "tlsaudit_policy_failures_total",
          "tlsaudit_certificate_problems_total", "tlsaudit_bad_certificate_accepted_total",
          "tlsaudit_server_certificate_expiry_timestamp_seconds"):
    if m not in exprs:
        bad.append(f"dashboard has no panel on {m}")
if not re.search(r"sum by \(instance, exe,[^)]*\balert\b[^)]*\) \(increase\(tlsaudit_handshake_failures_total", exprs):
    bad.append("dashboard has no failures-by-process-and-alert panel")
if not re.search(r"sum by \(smtp_tls[,)][^(]*\(increase\(tlsaudit_smtp_sessions_total", exprs):
    bad.append("dashboard has no plaintext-SMTP-by-reason panel")
titles = " ".join(p["title"] for p in dash["panels"])
if "Would break under $policy" not in titles:
    bad.append("dashboard has no \"would break under POLICY\" table")
if "sum by (version)" not in exprs:
    bad.append("dashboard has no versions-over-time panel")
if not re.search(r"sum by \(instance, exe[,)]", exprs):
    bad.append("dashboard has no legacy-by-host-and-exe panel")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF

# The metrics used above must be the ones the daemon writes.
if [ -f src/export/prom.c ]; then
	for m in $METRICS; do
		grep -q "\"$m\|$m\"\|$m[{ ]" src/export/prom.c ||
			fail "src/export/prom.c does not export $m, which the rules use"
	done
fi

if command -v promtool >/dev/null; then
	promtool check rules packaging/prometheus/tlsaudit.rules.yml >/dev/null ||
		fail "promtool check rules"
	promtool test rules packaging/prometheus/tlsaudit.rules.test.yml ||
		fail "promtool test rules: alerts do not fire as documented"
else
	# ./configure --test-deps installs it: under CI a missing promtool is a failure.
	[ "${CI:-}" = true ] && fail "promtool missing (package prometheus, ./configure --test-deps)"
	echo "note: promtool missing (package prometheus), PromQL not checked"
fi
echo "packaging ok"

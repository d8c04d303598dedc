#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The package under a real systemd. A Debian 12 root file system (debootstrap from this
# machine's configured Debian mirror, built once and cached in $TLSAUDIT_TEST_ROOT) boots
# under systemd-nspawn on a throw-away overlay; a oneshot unit inside installs the .deb
# from `make deb` with dpkg -i while systemd runs, checks the service from inside, writes
# its results to /root/results and powers the container off. Asserted there:
#   - postinst created group tlsaudit, enabled and started the unit; `systemctl
#     is-active` (Type=notify: READY=1 was sent) and the BPF backend, which loads inside
#     the container with the capabilities and system calls given to nspawn below;
#   - `tlsaudit status` works for root and a member of group tlsaudit, is refused for a
#     non-member; `tlsaudit --version` lists the features and the hardening;
#   - a TLS 1.0 exchange (openssl s_server/s_client on 127.0.0.1:443) is counted by
#     `tlsaudit report`; `systemctl reload` and `restart` keep the counts; the journal
#     has the start line;
#   - with `backend = pcap` in the config the libpcap fallback runs under the same
#     sandbox and counts a second exchange;
#   - `systemd-analyze security` exposure of the unit (printed, at most $MAX_EXPOSURE);
#   - `systemctl stop` leaves the unit inactive, not failed;
#   - `dpkg -P` stops the service and leaves nothing named tlsaudit but the group.
# lintian runs on the package first. Times of the root build and of the boot are printed.
source "$(dirname "$0")/../lib/common.sh"
cd "$TOP" || fail "cd $TOP"

SUITE=bookworm
ROOT=${TLSAUDIT_TEST_ROOT:-/var/cache/tlsaudit-test/debian12-root}
BOOT_TIMEOUT=${TLSAUDIT_TEST_BOOT_TIMEOUT:-240}
MAX_EXPOSURE=2.5
# What the checks use besides the package's own dependencies (added from the .deb).
BASE_PKGS="systemd systemd-sysv dbus openssl procps"

# Missing tools make this a skip on a developer's machine, a failure in CI.
need() {
	[ "${CI:-}" = true ] && fail "$* (CI=true: this test must run)"
	skip "$*"
}
require_root
for t in debootstrap:debootstrap systemd-nspawn:systemd-container dpkg-buildpackage:dpkg-dev \
	dh:debhelper lintian:lintian flock:util-linux; do
	command -v "${t%%:*}" >/dev/null || need "${t%%:*} missing (package ${t#*:}; ./configure --test-deps)"
done
[ -r /sys/kernel/btf/vmlinux ] || need "no kernel BTF: the BPF backend cannot load"
[ -d /sys/fs/cgroup/unified ] || grep -q cgroup2 /proc/self/mounts ||
	need "no cgroup v2: systemd in the container needs it"

# --- the package ----------------------------------------------------------------------
# `make deb` in the build directory of $TLSAUDIT, or a package given as $TLSAUDIT_DEB.
deb=${TLSAUDIT_DEB:-}
t0=$SECONDS
if [ -z "$deb" ]; then
	build=$(dirname "$TLSAUDIT")
	build=${build#"$TOP"/}
	make -s BUILD="$build" deb >"$TEST_TMP/deb.log" 2>&1 ||
		{ cat "$TEST_TMP/deb.log"; fail "make deb failed"; }
	deb=$(ls "$build"/tlsaudit_*_"$(dpkg --print-architecture)".deb 2>/dev/null | tail -n 1)
fi
[ -f "$deb" ] || fail "no package: make deb made no tlsaudit_*.deb (${deb:-none})"
echo "package: $deb, $(stat -c %s "$deb") bytes (make deb: $((SECONDS - t0)) s)"
lintian --fail-on error,warning "$deb" >"$TEST_TMP/lintian.log" 2>&1 ||
	{ cat "$TEST_TMP/lintian.log"; fail "lintian: errors or warnings on $deb"; }
grep -v 'running with root privileges' "$TEST_TMP/lintian.log" | sed 's/^/lintian: /'
# Everything DESIGN.md and the issue ask the package to hold, where Debian 12 puts it.
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$TEST_TMP/contents"
for f in /usr/sbin/tlsaudit /lib/systemd/system/tlsaudit.service /etc/tlsaudit/tlsaudit.conf \
	/usr/lib/sysusers.d/tlsaudit.conf /usr/lib/tmpfiles.d/tlsaudit.conf \
	/etc/logrotate.d/tlsaudit /usr/share/man/man8/tlsaudit.8.gz \
	/usr/share/man/man5/tlsaudit.conf.5.gz /usr/share/tlsaudit/prometheus/tlsaudit.rules.yml \
	/usr/share/tlsaudit/grafana/tlsaudit.json /usr/share/doc/tlsaudit/copyright; do
	grep -qxF "$f" "$TEST_TMP/contents" || fail "the package lacks $f"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qxF /etc/tlsaudit/tlsaudit.conf ||
	fail "/etc/tlsaudit/tlsaudit.conf is not a conffile"
deb_ver=$(dpkg-deb -f "$deb" Version)
make_ver=$(sed -n 's/^VERSION := //p' Makefile)
expect_eq "package version (packaging/debian/changelog) vs Makefile VERSION" "$deb_ver" "$make_ver"

# --- the root file system, built once ----------------------------------------------------
# The mirror this machine's apt uses for $SUITE: deb822 .sources first, then .list files.
find_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$SUITE" 'BEGIN { RS = ""; FS = "\n" }
			{
				uri = ""; deb = 0; suite = 0; on = 1
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
					if ($i ~ /^Enabled:[ \t]*no/) on = 0
					if ($i ~ /^URIs:/) { split($i, u, /[ \t]+/); uri = u[2] }
					if ($i ~ /^Suites:/) {
						n = split($i, w, /[ \t]+/)
						for (j = 2; j <= n; j++) if (w[j] == s) suite = 1
					}
				}
				if (deb && suite && on && uri != "") { print uri; exit }
			}' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v s="$SUITE" '$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) == s) { print $i; exit }
			}' "$f"
	done
}

# The package's dependencies (first of each alternative) go into the root, so dpkg -i
# needs no network; a change of that list rebuilds the root.
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g')
pkgs=$(echo $BASE_PKGS $deps | tr ' ' '\n' | sort -u | xargs)
stamp="$SUITE: $pkgs"

mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock -w 900 9 || fail "another run holds $ROOT.lock"
t0=$SECONDS
if [ "$(cat "$ROOT/.tlsaudit-test-root" 2>/dev/null)" != "$stamp" ]; then
	mirror=${TLSAUDIT_TEST_MIRROR:-$(find_mirror | head -n 1)}
	[ -n "$mirror" ] || need "no Debian $SUITE mirror in /etc/apt/sources.list{,.d} (set TLSAUDIT_TEST_MIRROR)"
	echo "building $ROOT: debootstrap $SUITE from $mirror with $pkgs"
	rm -rf "$ROOT.new"
	debootstrap --variant=minbase --include="${pkgs// /,}" "$SUITE" "$ROOT.new" "$mirror" \
		>"$TEST_TMP/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$TEST_TMP/debootstrap.log"; tail -n 30 "$ROOT.new/debootstrap/debootstrap.log" 2>/dev/null
		  fail "debootstrap $SUITE $mirror failed"; }
	# Users for the control socket checks: a member of group tlsaudit (added after the
	# package creates the group) and a non-member.
	chroot "$ROOT.new" useradd --no-create-home auditor || fail "useradd auditor"
	chroot "$ROOT.new" useradd --no-create-home outsider || fail "useradd outsider"
	rm -f "$ROOT.new/etc/machine-id" && : >"$ROOT.new/etc/machine-id"
	rm -f "$ROOT.new"/var/cache/apt/archives/*.deb
	echo "$stamp" >"$ROOT.new/.tlsaudit-test-root"
	rm -rf "$ROOT" && mv "$ROOT.new" "$ROOT"
	echo "time: root file system built in $((SECONDS - t0)) s (cold)"
else
	echo "time: root file system cached in $ROOT"
fi
flock -u 9

# --- a throw-away copy: an overlay on the cached root --------------------------------------
lower=$ROOT
merged=$TEST_TMP/merged
mkdir -p "$TEST_TMP/upper" "$TEST_TMP/work" "$merged"
if mount -t overlay overlay -o "lowerdir=$lower,upperdir=$TEST_TMP/upper,workdir=$TEST_TMP/work" \
	"$merged" 2>/dev/null; then
	on_exit "umount -l '$merged'"
else
	echo "note: no overlayfs here, copying the root"
	rmdir "$merged" && cp -a "$lower" "$merged" || fail "cp -a $lower"
fi

cp "$deb" "$merged/root/pkg.deb"
# The checks run inside, as a oneshot unit of the container's own systemd: in its cgroup,
# where the daemon's programs are attached (the container's cgroup is its root).
cat >"$merged/usr/local/sbin/audit-checks" <<'EOF'
#!/bin/bash
# Runs inside the container; one line per check in /root/results.
R=/root/results
: >"$R"
ok() { echo "ok: $*" >>"$R"; }
bad() { echo "FAIL: $*" >>"$R"; }
check() { # WHAT CMD... - ok when CMD succeeds
	local what=$1; shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
figure() { echo "figure: $*" >>"$R"; }
unit_state() { systemctl show -P ActiveState tlsaudit.service; }
# TLS 1.0 handshakes counted on port 443, over every row (client and server ends).
tls10() {
	tlsaudit report --json | grep '"port":443[,}]' | grep -o '"TLSv1.0":[0-9]*' |
		awk -F: '{ n += $2 } END { print n + 0 }'
}
wait_tls10() { # WANT
	local i n
	for ((i = 0; i < 100; i++)); do
		n=$(tls10 2>/dev/null) && [ "$n" = "$1" ] && return 0
		sleep 0.1
	done
	echo "TLS 1.0 handshakes: $(tls10 2>&1), want $1" >>/root/checks.log
	return 1
}
mainpid() { systemctl show -P MainPID tlsaudit.service; }

find / /run /tmp /var/tmp -xdev -name '*tlsaudit*' 2>/dev/null | sort >/root/before
getent group tlsaudit >/dev/null && bad "group tlsaudit exists before the package"

# dpkg -i while systemd runs: postinst creates the group, enables and starts the unit.
check "dpkg -i the package" dpkg -i /root/pkg.deb
check "postinst created group tlsaudit" getent group tlsaudit
usermod -a -G tlsaudit auditor
check "unit enabled" test "$(systemctl is-enabled tlsaudit.service)" = enabled
check "unit active after dpkg -i (Type=notify: READY=1)" test "$(unit_state)" = active
systemctl status --no-pager tlsaudit.service >/root/unit-status.txt 2>&1
check "ExecStart is /usr/sbin/tlsaudit" grep -q '^ExecStart=/usr/sbin/tlsaudit ' \
	/lib/systemd/system/tlsaudit.service
tlsaudit --version >/root/version.txt 2>&1
check "--version lists the backends" grep -q '^features: bpf pcap-live' /root/version.txt
check "--version lists hardening" grep -q '^hardening: pie stack-protector-strong fortify' \
	/root/version.txt

tlsaudit status >/root/status-root.txt 2>&1
check "status as root" test $? = 0
check "backend bpf inside the container" grep -q '^backend: *bpf ' /root/status-root.txt
# Least privilege: after start-up the daemon keeps CAP_SYS_PTRACE only (bpf backend;
# docs/architecture.md, "Privileges"), with no_new_privs.
capeff() { sed -n 's/^CapEff:[[:space:]]*//p' "/proc/$(mainpid)/status"; }
check "CapEff under the unit is CAP_SYS_PTRACE only ($(capeff))" test "$(capeff)" = 0000000000080000
check "NoNewPrivs under the unit" grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$(mainpid)/status"
runuser -u auditor -- tlsaudit status >/root/status-member.txt 2>&1
check "status as a member of group tlsaudit" test $? = 0
runuser -u outsider -- tlsaudit status >/root/status-outsider.txt 2>&1
check "status refused for a non-member" test $? != 0
check "refusal says why" grep -qi 'permission denied' /root/status-outsider.txt

# TLS 1.0 between two openssl processes inside the container.
mkdir -p /root/tls && cd /root/tls || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=legacy.tlsaudit.test \
	-keyout server.key -out server.crt >/dev/null 2>&1
openssl s_server -accept 127.0.0.1:443 -www -tls1 -cipher 'DEFAULT@SECLEVEL=0' \
	-cert server.crt -key server.key </dev/null >server.log 2>&1 &
server=$!
for ((i = 0; i < 100; i++)); do grep -q ACCEPT server.log && break; sleep 0.05; done
tls10_exchange() { # WHAT
	echo Q | timeout 10 openssl s_client -brief -connect 127.0.0.1:443 -tls1 \
		-cipher 'DEFAULT@SECLEVEL=0' -servername legacy.tlsaudit.test >client.log 2>&1
	check "$1: openssl s_client -tls1 negotiated TLSv1" \
		grep -q '^Protocol version: TLSv1$' client.log
}
tls10_exchange bpf
check "report counts the TLS 1.0 handshake (client and server ends)" wait_tls10 2
# Pids in the container's own pid namespace: the process is named, not a host pid.
check "the TLS 1.0 client is named inside the container" \
	sh -c "tlsaudit report --json | grep -q '\"exe\":\"/usr/bin/openssl\"'"
tlsaudit report --legacy >/root/report-legacy.txt 2>&1
check "report --legacy lists it" grep -q 'TLS1.0' /root/report-legacy.txt
tlsaudit report --json >/root/report-1.json 2>&1
tlsaudit report --handshakes --json >/root/handshakes.json 2>&1

pid=$(mainpid)
check "systemctl reload" systemctl reload tlsaudit.service
check "reload: same process" test "$(mainpid)" = "$pid"
check "reload: still active" test "$(unit_state)" = active
check "reload keeps the counts" wait_tls10 2
check "systemctl restart" systemctl restart tlsaudit.service
check "restart: a new process" test "$(mainpid)" != "$pid"
check "restart: active" test "$(unit_state)" = active
check "restart keeps the counts" wait_tls10 2
tlsaudit report --json >/root/report-2.json 2>&1

# The libpcap fallback under the same sandbox (packet socket, no AF_INET): the backend
# set in the config file, a restart, the counts kept and a new handshake counted.
cp /etc/tlsaudit/tlsaudit.conf /root/conf.orig
echo 'backend = pcap' >>/etc/tlsaudit/tlsaudit.conf
check "restart with backend = pcap" systemctl restart tlsaudit.service
tlsaudit status >/root/status-pcap.txt 2>&1
check "pcap backend under the unit's sandbox" grep -q '^backend: *pcap ' /root/status-pcap.txt
check "CapEff with pcap adds CAP_DAC_READ_SEARCH ($(capeff))" test "$(capeff)" = 0000000000080004
tls10_exchange pcap
check "pcap backend counts it" wait_tls10 4
cp /root/conf.orig /etc/tlsaudit/tlsaudit.conf
check "restart with backend = auto" systemctl restart tlsaudit.service
check "auto: bpf again" sh -c "tlsaudit status | grep -q '^backend: *bpf '"
kill "$server"

journalctl -b -u tlsaudit.service --no-pager -o cat >/root/journal.txt 2>&1
check "journal has the start line" grep -q 'tlsaudit .* started: backend bpf' /root/journal.txt
check "journal: started four times (start, restarts)" \
	test "$(grep -c ' started: backend' /root/journal.txt)" = 4

systemd-analyze security --no-pager tlsaudit.service >/root/security.txt 2>&1
figure "exposure $(sed -n 's/.*exposure level for tlsaudit.service: \([0-9.]*\).*/\1/p' /root/security.txt)"

systemctl stop tlsaudit.service
check "systemctl stop: inactive, not failed ($(systemctl show -P ActiveState tlsaudit.service), result $(systemctl show -P Result tlsaudit.service))" \
	test "$(systemctl show -P ActiveState tlsaudit.service)/$(systemctl show -P Result tlsaudit.service)" = inactive/success
journalctl -b -u tlsaudit.service --no-pager -o cat >/root/journal.txt 2>&1

# Start it again so removal has a running service to stop.
systemctl reset-failed tlsaudit.service 2>/dev/null
systemctl start tlsaudit.service
check "dpkg -P the package" dpkg -P tlsaudit
check "removal stopped the service" test "$(unit_state)" != active
check "no tlsaudit process left" test -z "$(pgrep -x tlsaudit)"
find / /run /tmp /var/tmp -xdev -name '*tlsaudit*' 2>/dev/null | sort >/root/after
comm -13 /root/before /root/after >/root/left
check "dpkg -P leaves nothing named tlsaudit ($(xargs </root/left))" test ! -s /root/left
check "group tlsaudit stays (policy: files may still carry its gid)" getent group tlsaudit
echo done >>"$R"
EOF
chmod 0755 "$merged/usr/local/sbin/audit-checks"
cat >"$merged/etc/systemd/system/audit-checks.service" <<'EOF'
[Unit]
Description=tlsaudit package checks
After=basic.target
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/audit-checks
StandardOutput=append:/root/checks.log
StandardError=append:/root/checks.log
TimeoutStartSec=180

[Install]
WantedBy=multi-user.target
EOF
ln -sf /etc/systemd/system/audit-checks.service \
	"$merged/etc/systemd/system/multi-user.target.wants/audit-checks.service"

# --- boot ---------------------------------------------------------------------------------
# nspawn filters bpf() and drops CAP_BPF by default: these let the programs load and
# attach to the container's cgroup. A private network: 127.0.0.1:443 is the container's.
t0=$SECONDS
timeout --kill-after=10 "$BOOT_TIMEOUT" systemd-nspawn --quiet --register=no --keep-unit \
	--private-network --console=read-only -D "$merged" -M "tlsaudit-test-$$" \
	--capability=CAP_BPF,CAP_PERFMON,CAP_NET_ADMIN --system-call-filter='bpf perf_event_open' \
	-b </dev/null >"$TEST_TMP/console.log" 2>&1
rc=$?
echo "time: boot, install, checks and power-off in $((SECONDS - t0)) s (systemd-nspawn exit $rc)"
[ $rc = 124 ] || [ $rc = 137 ] && { tail -n 30 "$TEST_TMP/console.log"; fail "container hung: killed after $BOOT_TIMEOUT s"; }

res=$merged/root/results
[ -f "$res" ] || { tail -n 40 "$TEST_TMP/console.log"; fail "the checks never ran (no /root/results)"; }
cat "$res"
sed -n '/Overall exposure/p' "$merged/root/security.txt"
if grep -q '^FAIL' "$res" || ! grep -qx done "$res"; then
	for f in checks.log unit-status.txt status-root.txt status-outsider.txt status-pcap.txt journal.txt \
		report-legacy.txt report-1.json handshakes.json left; do
		[ -s "$merged/root/$f" ] && { echo "--- $f"; tail -n 25 "$merged/root/$f"; }
	done
	grep -qx done "$res" || { tail -n 30 "$TEST_TMP/console.log"; fail "the checks did not finish"; }
	fail "$(grep -c '^FAIL' "$res") check(s) failed inside the container"
fi
exposure=$(sed -n 's/^figure: exposure //p' "$res")
[ -n "$exposure" ] || fail "systemd-analyze security gave no exposure level"
awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }' ||
	fail "tlsaudit.service exposure $exposure, want at most $MAX_EXPOSURE"
echo "service_nspawn ok: exposure $exposure"

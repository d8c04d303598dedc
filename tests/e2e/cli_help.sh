#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Command line surface: `tlsaudit --version`, every subcommand's --help (exit 0, its
# options named, verbatim against tests/e2e/help/*.txt), usage errors (exit 2, one line
# naming the bad option), and that tlsaudit(8) describes every option --help lists.
#
# After an intended change to a help text: TLSAUDIT_UPDATE_HELP=1 bash tests/e2e/cli_help.sh
source "$(dirname "$0")/../lib/common.sh"

[ -x "$TLSAUDIT" ] || fail "$TLSAUDIT not built (make)"
HELP_DIR=$TOP/tests/e2e/help
MAN_RST=$TOP/docs/tlsaudit.8.rst

# --- --version: our version, the libbpf version and the built-in features ---------------
out=$("$TLSAUDIT" --version) || fail "tlsaudit --version exited $?"
expect_eq "--version line 1" "$(sed -n 1p <<<"$out")" "tlsaudit 0.1.0"
line2=$(sed -n 2p <<<"$out")
[[ $line2 =~ ^libbpf\ ([0-9]+\.[0-9]+)\ \(built\ against\ ([0-9.]+)\),\ libpcap\ version\ [0-9] ]] ||
	fail "--version line 2 lacks the libbpf and libpcap versions: '$line2'"
if command -v pkg-config >/dev/null && pkg-config --exists libbpf; then
	built=$(pkg-config --modversion libbpf)
	expect_eq "libbpf built-against version" "${BASH_REMATCH[2]}" "$built"
	expect_eq "libbpf runtime major.minor" "${BASH_REMATCH[1]}" "${built%.*}"
fi
features=$(sed -n 's/^features: //p' <<<"$out")
for f in bpf pcap-live pcap-file pcapng gzip ja3 ja4; do
	[[ " $features " == *" $f "* ]] || fail "--version does not list feature '$f': '$features'"
done
expect_eq "-V same as --version" "$("$TLSAUDIT" -V)" "$out"

# --- top-level usage --------------------------------------------------------------------
top_help=$("$TLSAUDIT" --help) || fail "tlsaudit --help exited $?"
for c in daemon top report status watch read; do
	grep -Eq "^  $c " <<<"$top_help" || fail "tlsaudit --help does not list '$c'"
done
"$TLSAUDIT" >/dev/null 2>&1
expect_eq "exit status without a command" $? 2
err=$("$TLSAUDIT" frobnicate 2>&1 >/dev/null)
expect_eq "exit status of an unknown command" $? 2
grep -q "unknown command 'frobnicate'" <<<"$err" || fail "unknown command message: $err"

# --- each subcommand --------------------------------------------------------------------
# command: the options its --help must name (DESIGN.md's command line)
declare -A OPTS=(
	[daemon]="-c --config --backend --foreground --verbose --ports --socket --state-file --textfile --export-interval --handshake-log --policies"
	[top]="-b -n -d --policy --json --socket"
	[report]="--json --legacy --policy --handshakes --since --socket"
	[status]="--json --socket"
	[read]="--json --ports --policy --config"
	[watch]="--json --legacy --backend --ports --policy --config"
)
mkdir -p "$TEST_TMP/help"
for c in daemon top report status read watch; do
	h=$TEST_TMP/help/$c.txt
	"$TLSAUDIT" "$c" --help >"$h" 2>"$TEST_TMP/help/$c.err"
	expect_eq "tlsaudit $c --help exit status" $? 0
	[ -s "$TEST_TMP/help/$c.err" ] && fail "tlsaudit $c --help wrote to stderr"
	head -n 1 "$h" | grep -q "^Usage: tlsaudit $c" || fail "tlsaudit $c --help: no Usage line"
	for o in ${OPTS[$c]}; do
		grep -Eq -- "(^|[ [,])$o([ =,]|$)" "$h" || fail "tlsaudit $c --help does not name $o"
	done
	grep -q "^Exit status: 0" "$h" || fail "tlsaudit $c --help: no exit status line"
	expect_eq "tlsaudit $c -h" "$("$TLSAUDIT" "$c" -h)" "$(cat "$h")"

	# Every long option the help names is in the man page too.
	for o in $(grep -Eo -- '--[a-z][a-z-]+' "$h" | sort -u); do
		case $o in --help | --key) continue ;; esac
		grep -q -- "\*\*$o\*\*\|\*\*${o}=\|$o=" "$MAN_RST" ||
			fail "tlsaudit $c --help names $o, docs/tlsaudit.8.rst does not describe it"
	done

	if [ "${TLSAUDIT_UPDATE_HELP:-}" = 1 ]; then
		mkdir -p "$HELP_DIR"
		cp "$h" "$HELP_DIR/$c.txt"
	else
		diff -u "$HELP_DIR/$c.txt" "$h" ||
			fail "tlsaudit $c --help differs from tests/e2e/help/$c.txt (intended? see top)"
	fi

	# A bad option: exit 2, and the message names the option.
	err=$("$TLSAUDIT" "$c" --no-such-option 2>&1 >/dev/null)
	expect_eq "tlsaudit $c --no-such-option exit status" $? 2
	grep -q -- "no-such-option" <<<"$err" ||
		fail "tlsaudit $c: the usage error does not name the option: $err"
done

# Bad values are usage errors too, named with the option.
check_usage() { # WHAT PATTERN CMD...
	local what=$1 pat=$2
	shift 2
	local err
	err=$("$TLSAUDIT" "$@" 2>&1 >/dev/null)
	expect_eq "$what exit status" $? 2
	grep -Eq -- "$pat" <<<"$err" || fail "$what: message '$err' lacks '$pat'"
}
check_usage "read without a file" "FILE|file" read
check_usage "read --ports junk" "ports" read --ports 443,x "$TEST_TMP/none.pcap"
check_usage "top -n -1" "-n|iterations" top -n -1
check_usage "top -d junk" "-d|delay" top -d soon
check_usage "report --since junk" "since" report --since yesterday
check_usage "daemon --backend junk" "backend" daemon --backend xdp
check_usage "daemon --export-interval=0s" "export.interval" daemon --export-interval=0s
check_usage "daemon --no-such-key=1" "no-such-key" daemon --no-such-key=1
check_usage "watch --backend junk" "backend" watch --backend xdp
check_usage "read --policy unknown" "--policy: .*'nope' is neither" read --policy tls12,nope "$TEST_TMP/none.pcap"
check_usage "read --policy bad name" "--policy: .*'Bad!' is not a policy name" read --policy 'Bad!' "$TEST_TMP/none.pcap"
check_usage "watch --policy unknown" "--policy: .*'nope'" watch --policy nope
check_usage "daemon --policies unknown" "policies: 'nope' is neither" daemon --policies=nope
check_usage "daemon --policy.x.min_version junk" "policy.x.min_version: 'TLSv9' is not a version" \
	daemon --policy.x.min_version=TLSv9
check_usage "report --policy with --legacy" "--policy" report --policy tls12 --legacy

# Clients without a daemon: one line naming the socket, exit 1.
for c in status report "top -b -n 1"; do
	# shellcheck disable=SC2086
	err=$("$TLSAUDIT" $c -S "$TEST_TMP/no.sock" 2>&1 >/dev/null)
	expect_eq "tlsaudit $c without a daemon: exit status" $? 1
	grep -q "$TEST_TMP/no.sock" <<<"$err" || fail "tlsaudit $c without a daemon: '$err'"
	expect_eq "tlsaudit $c without a daemon: lines" "$(grep -c . <<<"$err")" 1
done

# A capture file that is not one: exit 1, the message names the file.
echo "not a capture" >"$TEST_TMP/junk.pcap"
err=$("$TLSAUDIT" read "$TEST_TMP/junk.pcap" 2>&1 >/dev/null)
expect_eq "read of a non-capture exit status" $? 1
grep -q "junk.pcap" <<<"$err" || fail "read error does not name the file: $err"
echo "cli ok"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# valgrind memcheck on `tlsaudit read` over every capture the tests have: the committed
# ones (tests/pcap, the JA4 references), the crafted ones (tests/pcap/craft.py: GREASE,
# SSLv2, reordered and malformed hellos, SMTP, VLAN, SLL2 pcapng, gzip, a truncated file,
# snaplen 100, an unsupported link type) and the hostile ones of tests/fuzz/corpus/pcap,
# in text and JSON (with policies), several files per run as read takes them; the files
# read refuses (not a capture, truncated) one per run. The release binary runs (ASan's shadow
# memory and valgrind exclude each other): an invalid read or write, a use of an
# uninitialised value, or a definite leak is an error, and --error-exitcode fails the
# test. Files that are not captures still exit 1 from tlsaudit itself, which is fine:
# only valgrind's own exit code (99) counts.
source "$(dirname "$0")/../lib/common.sh"

bin=$TLSAUDIT_REL
[ -x "$bin" ] || skip "$bin not built (make)"
command -v valgrind >/dev/null || skip "valgrind not installed"

P=$TEST_TMP/pcap
python3 "$TOP/tests/pcap/craft.py" "$P" || fail "craft.py could not write the captures"
files=("$TOP"/tests/pcap/*.pcap "$TOP"/tests/pcap/peer-ja4/*.pcap* "$P"/*)
for f in "$TOP"/tests/fuzz/corpus/pcap/*; do
	[ -e "$P/${f##*/}" ] || files+=("$f")
done

# vg ARGS... - tlsaudit read under memcheck; fails the test on a valgrind error.
runs=0
vg() {
	valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
		--errors-for-leak-kinds=definite --track-origins=yes \
		"$bin" read "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err"
	local rc=$?
	runs=$((runs + 1))
	if [ $rc -eq 99 ]; then
		cat "$TEST_TMP/err"
		fail "valgrind found errors in: tlsaudit read $*"
	fi
	[ $rc -le 2 ] || { cat "$TEST_TMP/err"; fail "tlsaudit read $*: exit $rc"; }
}

# read stops at the first file it cannot read: those run one by one, the rest together
# (valgrind's start-up, not the reading, is what costs).
good=() bad=()
for f in "${files[@]}"; do
	case $f in *.json) continue ;; esac
	if "$bin" read "$f" >/dev/null 2>&1; then good+=("$f"); else bad+=("$f"); fi
done
[ ${#good[@]} -ge 10 ] || fail "only ${#good[@]} readable captures"
vg "${good[@]}"
vg --json --policy tls12,mozilla-intermediate,fips-ems "${good[@]}"
for f in "${bad[@]}"; do
	vg --json "$f"
done
# stdin goes through zlib's transparent mode: plain and gzip.
vg --json - <"$P/tls13_pq.pcap"
vg - <"$P/tls13_pq.pcap.gz"
echo "valgrind memcheck: $runs runs of tlsaudit read over ${#good[@]} captures and" \
	"${#bad[@]} files it refuses, no error"

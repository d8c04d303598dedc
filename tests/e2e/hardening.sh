#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build hardening: the binary is a PIE, bound now with read-only relocations, has stack
# protector and stack clash probes, calls the fortified libc functions and (x86) starts
# its functions with endbr64; `tlsaudit --version` says so; hardening-check (devscripts)
# agrees where it is installed. The Makefile honours CC, CFLAGS, CPPFLAGS and LDFLAGS from
# the environment, and does not define _FORTIFY_SOURCE a second time when they do.
source "$(dirname "$0")/../lib/common.sh"
cd "$TOP" || fail "cd $TOP"

bin=$TLSAUDIT_REL
[ -x "$bin" ] || skip "$bin not built (make)"
command -v readelf >/dev/null && command -v objdump >/dev/null ||
	skip "readelf/objdump missing (package binutils)"

hdr=$(readelf -hW "$bin") || fail "readelf -h $bin"
grep -q 'Type: *DYN' <<<"$hdr" || fail "not a position-independent executable: $(grep Type <<<"$hdr")"
dyn=$(readelf -dW "$bin")
grep -Eq 'FLAGS_1\).*\bPIE\b' <<<"$dyn" || fail "no PIE flag in the dynamic section"
grep -Eq '\(FLAGS\).*BIND_NOW|FLAGS_1\).*\bNOW\b' <<<"$dyn" ||
	fail "not linked with -z now (no BIND_NOW)"
readelf -lW "$bin" | grep -q GNU_RELRO || fail "no GNU_RELRO segment (-z relro)"

syms=$(readelf --dyn-syms -W "$bin" | awk '{ print $8 }')
grep -q '^__stack_chk_fail@' <<<"$syms" || fail "no stack protector (__stack_chk_fail not used)"
chk=$(grep -c '^__[a-z]*_chk@' <<<"$syms")
[ "$chk" -ge 2 ] || fail "fortified functions used: $chk (want the __*_chk variants)"

dis=$TEST_TMP/dis
objdump -d --no-show-raw-insn "$bin" >"$dis" || fail "objdump -d $bin"
# A frame larger than a page probes each page it allocates (-fstack-clash-protection).
grep -Eq 'orq? +\$0x0,(0x[0-9a-f]+)?\(%rsp\)|str +xzr, \[sp' "$dis" ||
	echo "note: no stack clash probe found (no frame larger than a page, or not x86/arm64)"
case $(uname -m) in
x86_64)
	# Every function starts with endbr64 (-fcf-protection). The binary carries no IBT
	# property while the C library's start files lack it (Debian 12), so look at code.
	if gcc -Werror -fcf-protection -c -x c /dev/null -o /dev/null 2>/dev/null; then
		grep -A1 '<main>:' "$dis" | grep -q endbr64 ||
			fail "main does not start with endbr64 (-fcf-protection missing)"
	fi
	;;
esac

ver=$("$bin" --version) || fail "$bin --version"
hard=$(sed -n 's/^hardening: //p' <<<"$ver")
for f in pie stack-protector-strong fortify=2; do
	[[ " $hard " == *" $f "* ]] || fail "--version does not list hardening '$f': '$hard'"
done

if command -v hardening-check >/dev/null; then
	# Control flow protection is checked above: hardening-check wants the IBT property.
	hardening-check --nocfprotection "$bin" >"$TEST_TMP/hc" 2>&1 ||
		{ cat "$TEST_TMP/hc"; fail "hardening-check $bin"; }
	cat "$TEST_TMP/hc"
else
	echo "note: hardening-check missing (package devscripts), readelf checks only"
fi

# --- the Makefile takes the environment's compiler and flags -----------------------------
# make -n prints the commands a fresh build would run, in a scratch build directory.
plan() { # ENV... -- prints the compile line of one object
	env "$@" make -n BUILD="$TEST_TMP/b" "$TEST_TMP/b/obj/src/util/log.o" 2>&1 |
		grep -- '-c src/util/log.c'
}
line=$(plan CC=tlsaudit-test-cc) || fail "make -n with CC from the environment failed"
[[ $line == *"tlsaudit-test-cc "* ]] || fail "CC from the environment ignored: $line"
line=$(plan CROSS_COMPILE=tlsaudit-test-) || fail "make -n with CROSS_COMPILE failed"
[[ $line == *"tlsaudit-test-gcc "* ]] || fail "CROSS_COMPILE ignored: $line"
line=$(plan CFLAGS='-O1 -DTLSAUDIT_TEST_CFLAGS' CPPFLAGS='-DTLSAUDIT_TEST_CPPFLAGS -D_FORTIFY_SOURCE=3')
[[ $line == *-DTLSAUDIT_TEST_CFLAGS* && $line == *-DTLSAUDIT_TEST_CPPFLAGS* ]] ||
	fail "CFLAGS/CPPFLAGS from the environment ignored: $line"
[[ $line == *-D_FORTIFY_SOURCE=2* ]] && fail "_FORTIFY_SOURCE defined twice: $line"
line=$(plan)
for f in -fstack-protector-strong -fPIE -D_FORTIFY_SOURCE=2; do
	[[ " $line " == *" $f "* ]] || fail "default compile line lacks $f: $line"
done
link=$(env LDFLAGS=-Wl,--tlsaudit-test make -n -W src/cli/main.c BUILD="$TEST_TMP/b" \
	"$TEST_TMP/b/tlsaudit" 2>&1 | grep -- "-o $TEST_TMP/b/tlsaudit") ||
	fail "make -n printed no link line"
for f in -pie -Wl,-z,relro,-z,now -Wl,--tlsaudit-test; do
	[[ " $link " == *" $f "* ]] || fail "link line lacks $f: $link"
done
echo "hardening ok: $hard"

# SPDX-License-Identifier: GPL-2.0-only
#
# make            build build/tlsaudit (installs missing Debian packages when run as root)
# make check      every test: unit (ASan+UBSan), BPF, end-to-end with real TLS peers
# make soak       10-minute storm and half-open flood against the daemon (SOAK_SECS)
# make fuzz-run   every fuzz entry for FUZZ_SECS (60) seconds
# make run        build, then run the daemon in the foreground with the live view
# make demo       generate local TLS 1.0-1.3 and SMTP traffic in a network namespace
# make install    binary, systemd unit, config, man pages (PREFIX, DESTDIR)
# make deb        Debian package build/tlsaudit_VERSION_ARCH.deb (packaging/debian)
# make V=1        show full commands

VERSION := 0.1.0

.DELETE_ON_ERROR:
.SECONDARY:
.DEFAULT_GOAL := all

NON_CONFIG_GOALS := clean distclean help
ifeq ($(filter-out $(NON_CONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
else
-include config.mk
config.mk: configure
	$(Q)./configure
endif

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
	-e 's/ppc64le/powerpc/' -e 's/s390x/s390/' -e 's/riscv64/riscv/')
ifeq ($(filter x86 arm64 powerpc s390 riscv,$(ARCH)),)
$(error unsupported architecture $(shell uname -m))
endif

# CC and AR from the environment or the command line win (a package build sets them);
# make's own defaults (cc, ar) give way to the cross toolchain.
CROSS_COMPILE ?=
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
ifeq ($(origin AR),default)
AR := $(CROSS_COMPILE)ar
endif
PREFIX ?= /usr/local
DESTDIR ?=
UNITDIR ?= /lib/systemd/system

BUILD := build
OUTPUT := .output

WARN := -Wall -Wextra -Werror -Wformat=2 -Wno-format-nonliteral -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wvla
CFLAGS ?= -O2 -g
CPPFLAGS ?=
LDFLAGS ?=

# The daemon parses bytes that strangers send, as root: build it hardened whatever the
# distribution's defaults. CFLAGS, CPPFLAGS and LDFLAGS from the environment come after
# these and win (dpkg-buildflags in the package build); _FORTIFY_SOURCE is only added
# when they do not set it, as a second, different definition is an error under -Werror.
cc-option = $(shell $(CC) -Werror $(1) -c -x c /dev/null -o /dev/null >/dev/null 2>&1 && echo $(1))
HARDEN_CFLAGS := -fstack-protector-strong -fPIE $(call cc-option,-fstack-clash-protection) \
	$(call cc-option,-fcf-protection)
HARDEN_CPPFLAGS := $(if $(findstring _FORTIFY_SOURCE,$(CPPFLAGS) $(CFLAGS)),,-D_FORTIFY_SOURCE=2)
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now

ALL_CFLAGS := -std=gnu11 $(HARDEN_CFLAGS) $(CFLAGS) $(WARN) -D_GNU_SOURCE -Iinclude \
	-I$(OUTPUT) -DTLSAUDIT_VERSION='"$(VERSION)"' \
	-DLIBBPF_BUILD_VERSION='"$(LIBBPF_VERSION)"' $(DEP_CFLAGS) -MMD -MP
ALL_CPPFLAGS := $(HARDEN_CPPFLAGS) $(CPPFLAGS)
ALL_LDFLAGS := $(HARDEN_LDFLAGS) $(LDFLAGS)
LDLIBS := $(DEP_LIBS)
# The sanitizers check every access themselves; fortified wrappers (__memcpy_chk, ...)
# would hide those calls from ASan's interceptors.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	-U_FORTIFY_SOURCE

# Objects follow the compiler and flags they were built with: $(BUILD)/flags changes when
# those do, and everything compiled or linked depends on it.
ifneq ($(filter-out $(NON_CONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
FLAGS_NOW := $(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(SAN_FLAGS) $(LDLIBS)
ifneq ($(FLAGS_NOW),$(file <$(BUILD)/flags))
$(shell mkdir -p $(BUILD))
$(file >$(BUILD)/flags,$(FLAGS_NOW))
endif
endif

SRCS := $(shell find src -name '*.c' | sort)
MAIN_SRC := src/cli/main.c
LIB_SRCS := $(filter-out $(MAIN_SRC),$(SRCS))
OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(SRCS))
LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
SAN_OBJS := $(patsubst %.c,$(BUILD)/san/%.o,$(LIB_SRCS))
SAN_MAIN_OBJ := $(patsubst %.c,$(BUILD)/san/%.o,$(MAIN_SRC))

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
BPF_TEST_SRCS := $(wildcard tests/bpf/test_*.c)
BPF_TEST_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/%,$(BPF_TEST_SRCS))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)

# The include path clang uses for system headers, so BPF code finds asm/ types on
# multiarch systems (the -idirafter trick from libbpf-bootstrap).
CLANG_BPF_SYS_INCLUDES = $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

.PHONY: all check unit bpf-tests e2e run demo install deb clean distclean man fuzz fuzz-run soak help

all: $(BUILD)/tlsaudit

help:
	@sed -n '3,12p' Makefile | sed 's/^# //'

$(BUILD)/flags: ;

$(BUILD)/tlsaudit: $(OBJS) $(BUILD)/flags
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

$(BUILD)/libtlsaudit.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# The end-to-end suite runs this one: the same program with ASan and UBSan, so a memory
# error on a path only real peers, the daemon's loop or the BPF backend reach fails a test.
$(BUILD)/tlsaudit-san: $(SAN_MAIN_OBJ) $(BUILD)/libtlsaudit-san.a $(BUILD)/flags
	$(call msg,LINK,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) $(ALL_LDFLAGS) -o $@ $(SAN_MAIN_OBJ) \
		$(BUILD)/libtlsaudit-san.a $(LDLIBS)

$(BUILD)/libtlsaudit-san.a: $(SAN_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/obj/%.o: %.c $(BUILD)/flags | $(SKELS)
	$(call msg,CC,$<)
	$(Q)mkdir -p $(@D) && $(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/san/%.o: %.c $(BUILD)/flags | $(SKELS)
	$(call msg,CC-SAN,$<)
	$(Q)mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(SAN_FLAGS) -c $< -o $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c
	$(call msg,BPF,$<)
	$(Q)mkdir -p $(@D) && $(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -D__bpf__ \
		-Iinclude -Ibpf $(CLANG_BPF_SYS_INCLUDES) -MMD -MP -MF $(@:.o=.d) -MT $@ \
		-c $< -o $@.tmp && \
		$(LLVM_STRIP) -g $@.tmp -o $@ && rm -f $@.tmp

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# Unit tests run sanitized; each links only the objects it references from the archive.
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtlsaudit-san.a $(BUILD)/flags
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(SAN_FLAGS) $(ALL_LDFLAGS) \
		-Itests/lib -o $@ $< $(BUILD)/libtlsaudit-san.a $(LDLIBS) -lcmocka

$(BUILD)/tests/%: tests/bpf/%.c $(BUILD)/libtlsaudit.a $(BUILD)/flags
	$(call msg,TEST,$@)
	$(Q)mkdir -p $(@D) && $(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -Itests/lib \
		-o $@ $< $(BUILD)/libtlsaudit.a $(LDLIBS) -lcmocka

# make check: installs the real peers the tests drive, then runs every suite.
check: test-deps all $(BUILD)/tlsaudit-san $(UNIT_BINS) $(BPF_TEST_BINS)
	$(Q)BUILD=$(BUILD) tests/run.sh

.PHONY: test-deps
test-deps:
	$(Q)./configure --test-deps >/dev/null

unit: $(UNIT_BINS)
	$(Q)BUILD=$(BUILD) tests/run.sh unit

# make soak [SOAK_SECS=600] [HALFOPEN=100000]: the daemon under a handshake storm for
# SOAK_SECS, then half-open handshakes past the flow table's size (tests/e2e/soak.sh;
# make check runs a 60-second, 4,000-connection version of it).
SOAK_SECS ?= 600
HALFOPEN ?= 100000
soak: all
	$(Q)SOAK_SECS=$(SOAK_SECS) HALFOPEN=$(HALFOPEN) TLSAUDIT_REL=$(CURDIR)/$(BUILD)/tlsaudit \
		bash tests/e2e/soak.sh

run: all
	$(Q)scripts/run.sh

demo: all
	$(Q)scripts/demo.sh

# Fuzz entries (tests/fuzz/fuzz_*.c): one clang archive of every module, instrumented for
# coverage and built with ASan+UBSan; each entry links what it references from it.
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
FUZZ_BINS := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_OBJS := $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(LIB_SRCS))
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all -D_GNU_SOURCE -Iinclude -I$(OUTPUT) \
	-DTLSAUDIT_VERSION='"$(VERSION)"' -DLIBBPF_BUILD_VERSION='"$(LIBBPF_VERSION)"' \
	$(DEP_CFLAGS) -MMD -MP
FUZZ_SECS ?= 60

fuzz: $(FUZZ_BINS)

# make fuzz-run [FUZZ_SECS=60] [FUZZ_TARGETS="config ctl"]: each entry for FUZZ_SECS on a
# scratch copy of its seeds; prints executions and edge coverage per entry.
fuzz-run: fuzz
	$(Q)tests/fuzz/run.sh -b $(BUILD)/fuzz -t $(FUZZ_SECS) $(FUZZ_TARGETS)

$(BUILD)/fuzzobj/%.o: %.c $(BUILD)/flags | $(SKELS)
	$(call msg,CC-FUZZ,$<)
	$(Q)mkdir -p $(@D) && $(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/libtlsaudit-fuzz.a: $(FUZZ_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/fuzz/%: tests/fuzz/%.c $(BUILD)/libtlsaudit-fuzz.a $(BUILD)/flags
	$(call msg,FUZZ,$@)
	$(Q)mkdir -p $(@D) && $(CLANG) $(FUZZ_CFLAGS) $(WARN) -fsanitize=fuzzer -Isrc/flow \
		-Itests/fuzz -o $@ $< $(BUILD)/libtlsaudit-fuzz.a $(LDLIBS)

man: $(patsubst docs/%.rst,$(BUILD)/man/%,$(wildcard docs/*.[58].rst))

$(BUILD)/man/%: docs/%.rst
	$(call msg,MAN,$@)
	$(Q)mkdir -p $(@D) && $(if $(RST2MAN),$(RST2MAN) $< $@,\
		{ echo "rst2man not found (package python3-docutils)" >&2; exit 1; })

# The unit's ExecStart= follows PREFIX. The sysusers and tmpfiles snippets go where
# systemd reads them whatever PREFIX is; rules and dashboard are data for other hosts.
install: all man
	install -D -m 0755 $(BUILD)/tlsaudit $(DESTDIR)$(PREFIX)/sbin/tlsaudit
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local/sbin/tlsaudit|$(PREFIX)/sbin/tlsaudit|' packaging/tlsaudit.service \
		>$(DESTDIR)$(UNITDIR)/tlsaudit.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tlsaudit.service
	install -D -m 0644 packaging/tlsaudit.conf $(DESTDIR)/etc/tlsaudit/tlsaudit.conf
	install -D -m 0644 packaging/tlsaudit.sysusers $(DESTDIR)/usr/lib/sysusers.d/tlsaudit.conf
	install -D -m 0644 packaging/tlsaudit.tmpfiles $(DESTDIR)/usr/lib/tmpfiles.d/tlsaudit.conf
	install -D -m 0644 packaging/tlsaudit.logrotate $(DESTDIR)/etc/logrotate.d/tlsaudit
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/tlsaudit/prometheus \
		packaging/prometheus/tlsaudit.rules.yml packaging/prometheus/tlsaudit.rules.test.yml
	install -D -m 0644 -t $(DESTDIR)$(PREFIX)/share/tlsaudit/grafana packaging/grafana/tlsaudit.json
	for m in $(BUILD)/man/*; do \
		s=$${m##*.}; install -D -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/$${m##*/}; \
	done

# dpkg-buildpackage runs on a copy of the source tree, so this one never holds debian/
# or the package build's files; the make flags of this run stay out of it.
DEB_ARCH = $(shell dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null)
DEB := $(BUILD)/tlsaudit_$(VERSION)_$(DEB_ARCH).deb
DEB_SRC := $(BUILD)/deb/tlsaudit-$(VERSION)
DEB_INPUTS := $(SRCS) $(BPF_SRCS) configure Makefile $(wildcard include/tlsaudit/*.h \
	src/*/*.h bpf/*.h docs/*.rst packaging/* packaging/*/* packaging/debian/source/*)

deb: $(DEB)

$(DEB): $(DEB_INPUTS)
	$(call msg,DEB,$@)
	$(Q)command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || \
		{ echo "make deb: needs dpkg-dev and debhelper (./configure --pkg-deps)" >&2; exit 1; }
	$(Q)rm -rf $(BUILD)/deb && mkdir -p $(DEB_SRC)
	$(Q)tar -c --anchored --exclude-vcs --exclude='./build*' --exclude=./$(BUILD) \
		--exclude=./.output --exclude=./config.mk --exclude=./tests/captures \
		--exclude=./bench/data . | tar -x -C $(DEB_SRC)
	$(Q)cp -a packaging/debian $(DEB_SRC)/debian
	$(Q)cd $(DEB_SRC) && MAKEFLAGS= MAKELEVEL= dpkg-buildpackage -b -us -uc -Jauto \
		>../build.log 2>&1 || { tail -n 40 ../build.log; exit 1; }
	$(Q)mv $(BUILD)/deb/$(notdir $@) $@

clean:
	$(call msg,CLEAN,)
	$(Q)rm -rf $(BUILD) $(OUTPUT)

distclean: clean
	$(Q)rm -f config.mk

# Dependency files: the BPF object names its own (-MF/-MT above, so editing
# include/tlsaudit/bpf_shared.h rebuilds the object and its skeleton), and every test
# binary its headers.
-include $(patsubst %.o,%.d,$(OBJS) $(SAN_OBJS) $(SAN_MAIN_OBJ) $(FUZZ_OBJS))
-include $(patsubst %.bpf.o,%.bpf.d,$(BPF_OBJS))
-include $(patsubst %,%.d,$(UNIT_BINS) $(BPF_TEST_BINS) $(FUZZ_BINS))

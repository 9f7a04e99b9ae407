# segd - one non-recursive Makefile. Objects and binaries go under build/.
#
#   make            build/segd, build/segctl
#   make check      unit tests (plain, ASan+UBSan, valgrind), end-to-end tests in netns
#                   (plain, and a subset with ASan+UBSan segd/segctl)
#   make fuzz       each libFuzzer target FUZZ_SECONDS (60); make fuzz-ci in CI
#   make demo       the lab of namespaces, live
#   make asan       sanitizer build of the unit tests (also run by make check)
#   make install    PREFIX=/usr/local DESTDIR=

PKGS     := libnftnl libmnl libpcap libconfig libsystemd
PREFIX   ?= /usr/local
SBINDIR  ?= $(PREFIX)/sbin
MANDIR   ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR  ?= /lib/systemd/system
B        := build

DEPS_OK := $(shell pkg-config --exists $(PKGS) check 2>/dev/null && echo yes)
ifneq ($(DEPS_OK),yes)
  ifeq ($(filter deps clean,$(MAKECMDGOALS)),)
    $(info segd: build dependencies missing; running tools/install-deps.sh)
    $(if $(shell tools/install-deps.sh >&2 && echo ok),,$(error tools/install-deps.sh failed))
  endif
endif

WARN     := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wvla -Wno-sign-compare
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=gnu11 -D_GNU_SOURCE -pthread $(WARN) $(HARDEN) -Ilib $(shell pkg-config --cflags $(PKGS)) $(CFLAGS)
LDFLAGS  += -pie -Wl,-z,relro,-z,now -pthread
LIBS     := $(shell pkg-config --libs $(PKGS))
CHECK_LIBS := $(shell pkg-config --libs check)

LIB_SRCS    := $(sort $(wildcard lib/*.c))
SEGD_SRCS   := $(sort $(wildcard daemon/*.c))
SEGCTL_SRCS := $(sort $(wildcard tools/segctl/*.c))
# the fuzz targets' entry points also run in the unit tests (test_regress.c)
TEST_SRCS   := $(sort $(wildcard tests/unit/*.c)) $(sort $(wildcard fuzz/fuzz_*.c))

obj = $(patsubst %.c,$(B)/$(1)/%.o,$(2))

LIB_OBJS    := $(call obj,o,$(LIB_SRCS))
SEGD_OBJS   := $(call obj,o,$(SEGD_SRCS))
SEGCTL_OBJS := $(call obj,o,$(SEGCTL_SRCS))
TEST_OBJS   := $(call obj,o,$(TEST_SRCS))

SAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
# Any error or leak fails the run (UBSan cannot recover: -fno-sanitize-recover).
ASAN_OPTS   := detect_leaks=1:abort_on_error=1:halt_on_error=1
LSAN_OPTS   := suppressions=$(CURDIR)/fuzz/lsan.supp:print_suppressions=0
UBSAN_OPTS  := print_stacktrace=1:halt_on_error=1
ASAN_LIB    := $(call obj,asan,$(LIB_SRCS))
ASAN_TEST   := $(call obj,asan,$(TEST_SRCS))
ASAN_SEGD   := $(call obj,asan,$(SEGD_SRCS))
ASAN_SEGCTL := $(call obj,asan,$(SEGCTL_SRCS))

.PHONY: all check unit asan asan-unit e2e demo bench install clean deps valgrind fuzz fuzz-ci fuzz-build asan-e2e
all: $(B)/segd $(B)/segctl

$(B)/o/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -O1 -MMD -MP -c -o $@ $<

$(B)/segd: $(SEGD_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/segctl: $(SEGCTL_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/unit-tests: $(TEST_OBJS) $(LIB_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(CHECK_LIBS)

$(B)/asan/unit-tests: $(ASAN_TEST) $(ASAN_LIB)
	$(CC) $(SAN_FLAGS) -pthread -o $@ $^ $(LIBS) $(CHECK_LIBS)

$(B)/asan/segd: $(ASAN_SEGD) $(ASAN_LIB)
	$(CC) $(SAN_FLAGS) -pthread -o $@ $^ $(LIBS)

$(B)/asan/segctl: $(ASAN_SEGCTL) $(ASAN_LIB)
	$(CC) $(SAN_FLAGS) -pthread -o $@ $^ $(LIBS)

# ---- fuzzing (clang's libFuzzer, ASan+UBSan): docs/reliability.md ----
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := config nflog control netlink
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=gnu11 -D_GNU_SOURCE -pthread $(WARN) -Ilib $(shell pkg-config --cflags $(PKGS)) \
                -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_LIB     := $(call obj,fuzz,$(LIB_SRCS))
FUZZ_BINS    := $(patsubst %,$(B)/fuzz/bin/fuzz_%,$(FUZZ_TARGETS))

$(B)/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DSEG_FUZZ_MAIN -MMD -MP -c -o $@ $<

$(B)/fuzz/bin/fuzz_%: $(B)/fuzz/fuzz/fuzz_%.o $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -pthread -o $@ $^ $(LIBS)

fuzz-build: $(FUZZ_BINS)

# make fuzz FUZZ_SECONDS=N: each target N seconds; findings fail the run
fuzz: $(FUZZ_BINS)
	fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# CI (.ci/run, after make check): 60 s per target over the committed seeds
fuzz-ci: $(FUZZ_BINS)
	fuzz/run.sh 60 $(FUZZ_TARGETS)

deps:
	tools/install-deps.sh

# Unit tests run from the top so that tests find tests/configs and conf/.
unit: $(B)/unit-tests
	CK_FORK=yes $(B)/unit-tests

asan-unit: $(B)/asan/unit-tests
	ASAN_OPTIONS=$(ASAN_OPTS) LSAN_OPTIONS=$(LSAN_OPTS) UBSAN_OPTIONS=$(UBSAN_OPTS) \
	  CK_FORK=no $(B)/asan/unit-tests

asan: asan-unit $(B)/asan/segd $(B)/asan/segctl

# Zero errors and zero definite/indirect leaks, or the run fails. The one
# suppression is a libconfig 1.5 leak (fuzz/valgrind.supp says which).
VALGRIND := valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect \
            --errors-for-leak-kinds=definite,indirect --suppressions=fuzz/valgrind.supp -q
valgrind: $(B)/unit-tests
	CK_FORK=no $(VALGRIND) $(B)/unit-tests

e2e: all
	tests/e2e/run-all.sh

# The end-to-end suites again with segd and segctl built with ASan+UBSan.
# The suites run wrappers that keep a copy of each process's stderr under
# build/asan/e2e-logs (gcc's UBSan ignores log_path, and a suite may not
# notice a helper die): any sanitizer report there fails the run, whether or
# not the suite failed. The subset (docs/reliability.md says why and what it
# costs) drives the daemon's loop, apply, reload, tamper restore, NFLOG,
# incidents and control paths; ASAN_E2E_SUITES=... to choose others.
ASAN_E2E_SUITES ?= enforce rules-compare reapply apply-failure daemon incidents control fault-control floor
ASAN_E2E_LOGS   := $(CURDIR)/$(B)/asan/e2e-logs
SAN_REPORT      := runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|SUMMARY: [A-Za-z]*Sanitizer

# exec keeps the pid (tests signal segd by it); tee keeps the stream as well
$(B)/asan/e2e-%: $(B)/asan/%
	printf '#!/bin/bash\nexec %s "$$@" 2> >(tee -a "$${SEG_SAN_LOGS:-/tmp}/$*.$$$$.stderr" >&2)\n' \
	  '$(CURDIR)/$<' >$@ && chmod 0755 $@

asan-e2e: all $(B)/asan/e2e-segd $(B)/asan/e2e-segctl
	@rm -rf $(ASAN_E2E_LOGS) && mkdir -p $(ASAN_E2E_LOGS)
	@fail=0; for s in $(ASAN_E2E_SUITES); do \
	  SEG_SAN_LOGS=$(ASAN_E2E_LOGS) \
	  E2E_SEGD=$(CURDIR)/$(B)/asan/e2e-segd E2E_SEGCTL=$(CURDIR)/$(B)/asan/e2e-segctl \
	  ASAN_OPTIONS=$(ASAN_OPTS):log_path=$(ASAN_E2E_LOGS)/asan \
	  LSAN_OPTIONS=$(LSAN_OPTS) UBSAN_OPTIONS=$(UBSAN_OPTS) \
	  tests/e2e/run-all.sh test-$$s || fail=1; \
	done; \
	reports=$$(grep -l -E '$(SAN_REPORT)' $(ASAN_E2E_LOGS)/* 2>/dev/null); \
	if [ -n "$$reports" ]; then \
	  echo "asan-e2e: sanitizer reports in: $$reports"; grep -h -A12 -E '$(SAN_REPORT)' $$reports | head -n 60; fail=1; \
	fi; \
	[ $$fail = 0 ] && echo "asan-e2e: no sanitizer report, every suite passed"; exit $$fail

# Unit tests plain, under ASan+UBSan and under valgrind; the end-to-end
# suites, then a subset again with the sanitizer builds. Fuzzing (make
# fuzz-ci, 4 x 60 s) runs from .ci/run after this, not in here.
check: all unit asan-unit valgrind e2e asan-e2e
	@echo "make check: all suites passed"

demo: all
	tools/demo.sh

bench: all
	@if [ -x tools/bench.sh ]; then tools/bench.sh; else echo "bench: not yet written"; exit 2; fi

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSCONFDIR)/segd $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(B)/segd $(B)/segctl $(DESTDIR)$(SBINDIR)/
	install -m 0600 conf/segd.conf $(DESTDIR)$(SYSCONFDIR)/segd/segd.conf.example
	install -d $(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)$(PREFIX)/lib/sysusers.d
	sed 's|/usr/local/sbin|$(SBINDIR)|g' systemd/segd.service > $(DESTDIR)$(UNITDIR)/segd.service
	install -m 0644 systemd/segd.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/segd.conf
	install -m 0644 systemd/segd.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/segd.conf
	# the boot floor (docs/reliability.md)
	install -d $(DESTDIR)$(PREFIX)/share/segd
	install -m 0644 systemd/segd-floor-static.nft $(DESTDIR)$(PREFIX)/share/segd/floor-static.nft
	sed 's|/usr/local/share/segd|$(PREFIX)/share/segd|g' systemd/segd-floor > $(DESTDIR)$(SBINDIR)/segd-floor
	chmod 0755 $(DESTDIR)$(SBINDIR)/segd-floor
	sed 's|/usr/local/sbin|$(SBINDIR)|g' systemd/segd-floor.service > $(DESTDIR)$(UNITDIR)/segd-floor.service
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -D -m 0644 completions/segctl.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/segctl

clean:
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

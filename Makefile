# framealloc — one non-recursive Makefile. Each component adds its rules in
# its own fragment (<component>/<component>.mk), included below; all paths
# are relative to the top directory and every output goes under $(BUILD)/.
#
#   make            build libraries and programs (default variant)
#   make deps       install missing Debian packages (sudo when not root)
#   make test       deps + build + every test (plain, ASan+UBSan, TSan, variants)
#   make bench      benchmarks against glibc, jemalloc, mimalloc, tcmalloc
#   make install PREFIX=/usr/local
#   make clean
#   V=1             show the commands

BUILD ?= build
PREFIX ?= /usr/local
CC ?= cc
ifeq ($(origin CC),default)
CC := gcc
endif
CLANG ?= clang

STD := -std=c11
WARN := -Wall -Wextra -Wstrict-prototypes -Wno-missing-field-initializers
DEFS := -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
BASE_CFLAGS := $(STD) $(WARN) $(DEFS) -g -fPIC -fvisibility=hidden -MMD -MP
# User CFLAGS come last so they win.
ALL_CFLAGS = $(BASE_CFLAGS) $(OPT) $(CFLAGS)
LDLIBS_BASE := -lpthread

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Build variants of the C code. Each gets its own object tree under
# $(BUILD)/<variant>/ so they can coexist.
VARIANTS := default minimal prefetch debug asan tsan nopeak nosites
VFLAGS_default := -O2
VFLAGS_nopeak := -O2 -DFA__NO_PEAK_TRACKING
VFLAGS_nosites := -O2 -DFA_NO_SITES
VFLAGS_minimal := -O2 -DFA_MINIMAL
VFLAGS_prefetch := -O2 -DFA_PREFETCH
VFLAGS_debug := -O1 -DFA_DEBUG -fno-omit-frame-pointer
VFLAGS_asan := -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
VFLAGS_tsan := -O1 -fsanitize=thread -fno-omit-frame-pointer
VLDFLAGS_asan := -fsanitize=address,undefined
VLDFLAGS_tsan := -fsanitize=thread
VLDFLAGS_debug := -rdynamic

# Generic compile rule per variant: $(BUILD)/<v>/<path>.o from <path>.c.
define variant_rules
$(BUILD)/$(1)/%.o: %.c
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  CC [$(1)] $$<")
	$$(Q)$$(CC) $$(ALL_CFLAGS) $$(VFLAGS_$(1)) $$(INCLUDES) -c $$< -o $$@
endef
$(foreach v,$(VARIANTS),$(eval $(call variant_rules,$(v))))

INCLUDES := -Ilib/include -Iproto/include -Ifa-agent/include
PKG_CFLAGS := $(shell pkg-config --cflags libuv libcjson sqlite3 2>/dev/null)

# Targets filled in by the fragments.
ALL_TARGETS :=
TEST_STEPS :=
BENCH_STEPS :=
INSTALL_STEPS :=

.PHONY: all deps test bench install clean fuzz soak demo
all:

include lib/lib.mk
include tests/tests.mk
-include lib/text/text.mk
-include lib/compare/compare.mk
-include proto/proto.mk
-include fa-agent/fa-agent.mk
-include fa-insightd/fa-insightd.mk
-include fa-cli/fa-cli.mk
-include fa-lint/fa-lint.mk
-include integrations/integrations.mk
-include examples/examples.mk
-include bench/bench.mk
-include fuzz/fuzz.mk
-include web/web.mk
-include docker/docker.mk
-include tests/firstrun/firstrun.mk

all: $(ALL_TARGETS)

deps:
	$(Q).ci/deps

# Tests run one after the other (each step prints its runner's summary); the
# first failure stops make with a non-zero status.
# The test steps run TEST_JOBS at a time (each step's output printed whole
# when it ends): most of their time is spent waiting on daemons, browsers
# and PostgreSQL, not computing. TEST_JOBS=1 runs them one by one.
TEST_JOBS ?= 2
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target $(TEST_STEPS)
	@echo "make test: all test steps passed"

bench:
	$(Q)FA_DEPS_BENCH=1 .ci/deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory $(BENCH_STEPS)

install: all $(INSTALL_STEPS)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

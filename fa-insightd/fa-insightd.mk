# fa-insightd/: the telemetry daemon (nng ingest -> SQLite -> JSON API,
# WebSocket and dashboard on one HTTP port), its tests and its benchmark.
#
#   make build/fa-insightd                the daemon (default variant)
#   make test-insightd                    Criterion unit tests [default]
#   make test-insightd-asan               the same under ASan+UBSan
#   make test-insightd-integration        the real daemon, end to end (ASan+UBSan build)
#   make test-insightd-hostile            hostile load: descriptors, floods, disk faults (ASan+UBSan)
#   make test-insightd-security           Host/Origin/token/TLS, HTTP framing and timeouts (ASan+UBSan)
#   make test-insightd-tsan               the end-to-end tests against a TSan build
#   make test-insightd-pg                 all of the above on PostgreSQL (a throwaway server per step)
#   make soak-insightd                    10 000 sessions + dashboard; 200 WebSocket clients churning
#   make bench-insightd                   ingest / SQLite / nng / trend / RSS
#   make bench-insightd-fleet             3 daemons on one PostgreSQL / raw COPY / fleet and per-session queries
#   make install-insightd PREFIX=...      installs the binary
#
# The daemon bakes in where the dashboard lives: $(PREFIX)/share/framealloc/web
# once installed, or this tree's web/ when it runs from the build directory.

INSIGHTD_SRCS := $(wildcard fa-insightd/src/*.c)
INSIGHTD_LIB_SRCS := $(filter-out fa-insightd/src/main.c,$(INSIGHTD_SRCS))
INSIGHTD_VARIANTS := default asan
INSIGHTD_INSTALLED_WEB = $(PREFIX)/share/framealloc/web
# libpq: the PostgreSQL store (building needs the library, not a server).
INSIGHTD_LIBS := $(or $(shell pkg-config --libs libuv libcjson sqlite3 libpq 2>/dev/null),-luv -lcjson -lsqlite3 -lpq) \
                 -lnng -lpthread -lm
INSIGHTD_CPPFLAGS := $(PKG_CFLAGS) $(or $(shell pkg-config --cflags libpq 2>/dev/null),-I/usr/include/postgresql) \
    -Ifa-insightd/src $(TEXT_INCLUDES) $(COMPARE_INCLUDES) \
    -DFA_INSIGHTD_INSTALLED_WEB='"$(INSIGHTD_INSTALLED_WEB)"' -DFA_INSIGHTD_SOURCE_DIR='"$(CURDIR)"'

insightd_objs = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(INSIGHTD_SRCS))
insightd_lib_objs = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(INSIGHTD_LIB_SRCS))

# Our objects (daemon, its tests, its bench) get the library include paths
# and the baked-in locations; the generic variant rule does the rest.
$(foreach v,$(VARIANTS),$(BUILD)/$(v)/fa-insightd/%.o $(BUILD)/$(v)/tests/insightd/%.o): \
    INCLUDES += $(INSIGHTD_CPPFLAGS)

# Rebuild config.o when PREFIX (or the tree's location) changes: the stamp
# is rewritten only when its content differs, and make compares its mtime.
INSIGHTD_STAMP := $(BUILD)/insightd-paths.stamp
.PHONY: insightd-paths-force
insightd-paths-force:
$(INSIGHTD_STAMP): insightd-paths-force
	@mkdir -p $(@D)
	@echo '$(INSIGHTD_INSTALLED_WEB) $(CURDIR)' > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@
	@rm -f $@.tmp
$(foreach v,$(VARIANTS),$(BUILD)/$(v)/fa-insightd/src/config.o): $(INSIGHTD_STAMP)

# The program: $(BUILD)/fa-insightd (default) and an ASan+UBSan build that
# the integration tests run.
INSIGHTD_BIN := $(BUILD)/fa-insightd
INSIGHTD_ASAN_BIN := $(BUILD)/asan/fa-insightd/fa-insightd

$(INSIGHTD_BIN): $(call insightd_objs,default) $(COMPARE_A) $(BUILD)/default/libfa-proto.a $(TEXT_A)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(INSIGHTD_LIBS)

$(INSIGHTD_ASAN_BIN): $(call insightd_objs,asan) $(BUILD)/asan/libfa-compare.a $(BUILD)/asan/libfa-proto.a $(BUILD)/asan/libfa-text.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD [asan] $@")
	$(Q)$(CC) $(VLDFLAGS_asan) $(LDFLAGS) -o $@ $^ $(INSIGHTD_LIBS)

# The daemon is threaded (nng's threads, the writer, the thread pool): a
# TSan build runs the end-to-end tests too.
INSIGHTD_TSAN_BIN := $(BUILD)/tsan/fa-insightd/fa-insightd
$(INSIGHTD_TSAN_BIN): $(call insightd_objs,tsan) $(BUILD)/tsan/libfa-compare.a $(BUILD)/tsan/libfa-proto.a $(BUILD)/tsan/libfa-text.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD [tsan] $@")
	$(Q)$(CC) $(VLDFLAGS_tsan) $(LDFLAGS) -o $@ $^ $(INSIGHTD_LIBS)

ALL_TARGETS += $(INSIGHTD_BIN)

# Unit tests (Criterion): every module but main.c, per variant.
INSIGHTD_TEST_SRCS := $(wildcard tests/insightd/test_*.c)
INSIGHTD_CRITERION_LIBS := $(or $(shell pkg-config --libs criterion 2>/dev/null),-lcriterion)

define insightd_tests_variant
$(BUILD)/$(1)/tests/insightd_tests: $(patsubst %.c,$(BUILD)/$(1)/%.o,$(INSIGHTD_TEST_SRCS)) \
		$(call insightd_lib_objs,$(1)) $(BUILD)/$(1)/libfa-compare.a $(BUILD)/$(1)/libfa-proto.a $(BUILD)/$(1)/libfa-text.a
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD [$(1)] $$@")
	$$(Q)$$(CC) $$(VLDFLAGS_$(1)) -o $$@ $$^ $$(INSIGHTD_CRITERION_LIBS) $$(INSIGHTD_LIBS)
endef
$(foreach v,$(INSIGHTD_VARIANTS),$(eval $(call insightd_tests_variant,$(v))))

# The test sender (proto-encoded messages over nng PUSH, garbage on demand).
INSIGHTD_SENDER := $(BUILD)/default/tests/insightd_sender
$(INSIGHTD_SENDER): $(BUILD)/default/tests/insightd/sender.o $(BUILD)/default/libfa-proto.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -o $@ $^ -lnng -lpthread

# Round trip through the real agent, once fa-agent/ provides its header and
# library (the test is skipped, and says so, until then).
INSIGHTD_AGENT_A := $(BUILD)/default/libfa-agent.a
INSIGHTD_AGENT_GAME := $(BUILD)/default/tests/insightd_agent_game
ifneq ($(wildcard fa-agent/include/fa_agent.h),)
$(INSIGHTD_AGENT_GAME): $(BUILD)/default/tests/insightd/agent_game.o $(INSIGHTD_AGENT_A) \
		$(BUILD)/default/libframealloc.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -o $@ $^ -lnng $(or $(shell pkg-config --libs libcjson 2>/dev/null),-lcjson) -lpthread -lm
# The call-site game: allocations at known lines (tests/insightd/sites_game.c).
INSIGHTD_SITES_GAME := $(BUILD)/default/tests/insightd_sites_game
$(INSIGHTD_SITES_GAME): $(BUILD)/default/tests/insightd/sites_game.o $(INSIGHTD_AGENT_A) \
		$(BUILD)/default/libframealloc.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -o $@ $^ -lnng $(or $(shell pkg-config --libs libcjson 2>/dev/null),-lcjson) -lpthread -lm
INSIGHTD_AGENT_DEP := $(INSIGHTD_AGENT_GAME) $(INSIGHTD_SITES_GAME)
INSIGHTD_AGENT_ARG := --agent-game $(INSIGHTD_AGENT_GAME) --sites-game $(INSIGHTD_SITES_GAME)
endif

.PHONY: test-insightd test-insightd-asan test-insightd-integration test-insightd-hostile test-insightd-tsan
# The unit tests of the PostgreSQL store (suites *_pg) need a server: the
# SQLite steps leave them out, test-insightd-pg runs them.
INSIGHTD_SQLITE_ONLY := --filter '!(*_pg)/*'
INSIGHTD_ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test-insightd: $(BUILD)/default/tests/insightd_tests
	@echo "== fa-insightd unit tests [default]"
	$(Q)$(BUILD)/default/tests/insightd_tests --short-filename -j2 $(INSIGHTD_SQLITE_ONLY)
test-insightd-asan: $(BUILD)/asan/tests/insightd_tests
	@echo "== fa-insightd unit tests [asan]"
	$(Q)$(INSIGHTD_ASAN_ENV) $(BUILD)/asan/tests/insightd_tests --short-filename -j2 $(INSIGHTD_SQLITE_ONLY)
test-insightd-integration: $(INSIGHTD_BIN) $(INSIGHTD_ASAN_BIN) $(INSIGHTD_SENDER) $(INSIGHTD_AGENT_DEP)
	@echo "== fa-insightd integration tests [asan daemon]"
	$(Q)python3 tests/insightd/integration.py --daemon $(INSIGHTD_ASAN_BIN) --sender $(INSIGHTD_SENDER) \
		$(INSIGHTD_AGENT_ARG)
test-insightd-hostile: $(INSIGHTD_ASAN_BIN) $(INSIGHTD_SENDER)
	@echo "== fa-insightd hostile-load tests [asan daemon]"
	$(Q)python3 tests/insightd/hostile.py --daemon $(INSIGHTD_ASAN_BIN) --sender $(INSIGHTD_SENDER)
# Who may talk to the daemon (issues 14 and 20): Host, Origin, token, TLS,
# HTTP framing, timeouts and the connection cap; needs openssl (certificates).
.PHONY: test-insightd-security
test-insightd-security: $(INSIGHTD_ASAN_BIN) $(INSIGHTD_SENDER) $(BUILD)/fa-cli $(INSIGHTD_AGENT_DEP)
	@echo "== fa-insightd security tests [asan daemon]"
	$(Q)FA_CLI=$(BUILD)/fa-cli python3 tests/insightd/security.py --daemon $(INSIGHTD_ASAN_BIN) \
		--sender $(INSIGHTD_SENDER) $(INSIGHTD_AGENT_ARG)
# A TSan report in the daemon's log fails the test that ran it. nng and
# libuv are not instrumented, but they lock through pthreads, which TSan
# sees; tests/insightd/tsan.supp is empty and says why it must stay so.
test-insightd-tsan: $(INSIGHTD_TSAN_BIN) $(INSIGHTD_SENDER) $(INSIGHTD_AGENT_DEP)
	@echo "== fa-insightd integration tests [tsan daemon]"
	$(Q)python3 tests/insightd/integration.py --daemon $(INSIGHTD_TSAN_BIN) --sender $(INSIGHTD_SENDER) \
		$(INSIGHTD_AGENT_ARG) --tsan
	$(Q)python3 tests/insightd/security.py --daemon $(INSIGHTD_TSAN_BIN) --sender $(INSIGHTD_SENDER) \
		$(INSIGHTD_AGENT_ARG) --tsan
TEST_STEPS += test-insightd test-insightd-asan test-insightd-integration test-insightd-hostile \
              test-insightd-security test-insightd-tsan

# The same suites on the PostgreSQL store: each step starts a throwaway
# server (tests/insightd/pgserver.py: initdb in a temporary directory, a
# unix socket there, removed after) and gives each daemon its database.
.PHONY: test-insightd-pg test-insightd-pg-unit test-insightd-pg-integration test-insightd-pg-hostile \
	test-insightd-pg-tsan
test-insightd-pg: test-insightd-pg-unit test-insightd-pg-integration test-insightd-pg-hostile test-insightd-pg-tsan
test-insightd-pg-unit: $(BUILD)/asan/tests/insightd_tests
	@echo "== fa-insightd unit tests on PostgreSQL [asan]"
	$(Q)$(INSIGHTD_ASAN_ENV) python3 tests/insightd/pgserver.py -- \
		$(BUILD)/asan/tests/insightd_tests --short-filename -j2 --filter '*_pg/*'
test-insightd-pg-integration: $(INSIGHTD_BIN) $(INSIGHTD_ASAN_BIN) $(INSIGHTD_SENDER) $(INSIGHTD_AGENT_DEP) \
		$(BUILD)/fa-cli
	@echo "== fa-insightd integration and security tests on PostgreSQL [asan daemon]"
	$(Q)python3 tests/insightd/integration.py --daemon $(INSIGHTD_ASAN_BIN) --sender $(INSIGHTD_SENDER) \
		$(INSIGHTD_AGENT_ARG) --store postgresql
	$(Q)FA_CLI=$(BUILD)/fa-cli python3 tests/insightd/security.py --daemon $(INSIGHTD_ASAN_BIN) \
		--sender $(INSIGHTD_SENDER) $(INSIGHTD_AGENT_ARG) --store postgresql
test-insightd-pg-hostile: $(INSIGHTD_ASAN_BIN) $(INSIGHTD_SENDER)
	@echo "== fa-insightd hostile-load tests on PostgreSQL [asan daemon]"
	$(Q)python3 tests/insightd/hostile.py --daemon $(INSIGHTD_ASAN_BIN) --sender $(INSIGHTD_SENDER) --store postgresql
test-insightd-pg-tsan: $(INSIGHTD_TSAN_BIN) $(INSIGHTD_SENDER) $(INSIGHTD_AGENT_DEP)
	@echo "== fa-insightd integration tests on PostgreSQL [tsan daemon]"
	$(Q)python3 tests/insightd/integration.py --daemon $(INSIGHTD_TSAN_BIN) --sender $(INSIGHTD_SENDER) \
		$(INSIGHTD_AGENT_ARG) --tsan --store postgresql
TEST_STEPS += test-insightd-pg-unit test-insightd-pg-integration test-insightd-pg-hostile test-insightd-pg-tsan

# make soak, the daemon's part (not in make test; ~10 minutes): 10 000
# short sessions with the dashboard open in headless chromium, retention
# passes timed through /health; 200 WebSocket clients churning for 5
# minutes, descriptors and RSS sampled. Figures in fa-insightd/BENCH.md.
.PHONY: soak-insightd
soak-insightd: $(INSIGHTD_BIN) $(INSIGHTD_SENDER) $(WEB_VENDOR)
	@echo "== fa-insightd soak (tests/soak/insightd_soak.py)"
	$(Q)python3 tests/soak/insightd_soak.py --build $(BUILD) $(INSIGHTD_SOAK_ARGS)
soak: soak-insightd

# Benchmark: see fa-insightd/BENCH.md for the table and its reading.
INSIGHTD_BENCH := $(BUILD)/bench/bench-insightd
INSIGHTD_BENCH_ARGS ?=
$(INSIGHTD_BENCH): $(BUILD)/default/fa-insightd/bench/bench_insightd.o $(call insightd_lib_objs,default) \
		$(COMPARE_A) $(BUILD)/default/libfa-proto.a $(TEXT_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(INSIGHTD_LIBS)

.PHONY: bench-insightd bench-insightd-fleet
bench-insightd: $(INSIGHTD_BENCH) $(INSIGHTD_BIN)
	$(Q)$(INSIGHTD_BENCH) --daemon $(INSIGHTD_BIN) $(INSIGHTD_BENCH_ARGS)
# The fleet on PostgreSQL: a throwaway server with PostgreSQL's durable
# defaults (fsync, synchronous commits) for the daemons and the raw COPY.
bench-insightd-fleet: $(INSIGHTD_BENCH) $(INSIGHTD_BIN)
	$(Q)python3 tests/insightd/pgserver.py --durable -- $(INSIGHTD_BENCH) --daemon $(INSIGHTD_BIN) --fleet \
		$(INSIGHTD_BENCH_ARGS)
BENCH_STEPS += bench-insightd bench-insightd-fleet

.PHONY: install-insightd
install-insightd: $(INSIGHTD_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(INSIGHTD_BIN) $(DESTDIR)$(PREFIX)/bin/fa-insightd
INSTALL_STEPS += install-insightd

# make fuzz: the SARIF reader behind PUT /api/v1/lint and --lint-report
# (fuzz/fuzz_sarif.c).
FUZZ_TARGETS += sarif
FUZZ_SRCS_sarif := fa-insightd/src/lint.c fa-insightd/src/json.c fa-insightd/src/log.c fa-insightd/src/url.c \
	$(TEXT_SRCS)
FUZZ_INCLUDES_sarif := -Ifa-insightd/src -Ilib/include -Iproto/include $(TEXT_INCLUDES) $(PKG_CFLAGS) \
	$(or $(shell pkg-config --cflags libcjson 2>/dev/null),-I/usr/include/cjson)
FUZZ_LIBS_sarif := $(INSIGHTD_LIBS)
# The request-head parser that reads what clients pipeline behind a
# connection's first request (fuzz/fuzz_reqhead.c).
FUZZ_TARGETS += reqhead
FUZZ_SRCS_reqhead := fa-insightd/src/reqhead.c
FUZZ_INCLUDES_reqhead := -Ifa-insightd/src

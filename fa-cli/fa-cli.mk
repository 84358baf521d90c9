# fa-cli/: the command-line reader of fa-insightd's HTTP/WebSocket API,
# its unit tests (Criterion, rendering and argument parsing) and its
# integration tests (a real daemon fed by a real agent, tests/cli/).
#
#   make build/fa-cli
#   make test-cli          unit tests, then tests/cli/run_cli_tests.py
#   make install-cli       $(PREFIX)/bin/fa-cli
#
# Links nng (HTTP client, WebSocket dialer), cJSON, libfa-proto (capture
# files: proto/include/fa_capture.h), libfa-compare (lib/compare/: run
# summaries and their comparison, shared with fa-insightd), libfa-text (lib/text/:
# durations, byte units, the sanitiser) and libframealloc for the behaviour
# codes' names and advice.

CLI_SRCS := $(wildcard fa-cli/src/*.c)
CLI_MAIN := fa-cli/src/main.c
CLI_BIN := $(BUILD)/fa-cli
CLI_CJSON_CFLAGS := $(or $(shell pkg-config --cflags libcjson 2>/dev/null),-I/usr/include/cjson)
CLI_CJSON_LIBS := $(or $(shell pkg-config --libs libcjson 2>/dev/null),-lcjson)
CLI_LDLIBS := -lnng $(CLI_CJSON_LIBS) -lm $(LDLIBS_BASE)
cli_objs = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(2))

$(foreach v,$(VARIANTS),$(eval $(BUILD)/$(v)/fa-cli/%.o: INCLUDES += $(CLI_CJSON_CFLAGS) $(TEXT_INCLUDES) $(COMPARE_INCLUDES)))
$(foreach v,$(VARIANTS),$(eval $(BUILD)/$(v)/tests/cli/%.o: INCLUDES += $(CLI_CJSON_CFLAGS) -Ifa-cli/src $(TEXT_INCLUDES) $(COMPARE_INCLUDES)))

$(CLI_BIN): $(call cli_objs,default,$(CLI_SRCS)) $(COMPARE_A) $(PROTO_A) $(TEXT_A) $(LIB_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -o $@ $^ $(CLI_LDLIBS)

ALL_TARGETS += $(CLI_BIN)

# The same program under ASan+UBSan, run by the integration tests.
CLI_ASAN_BIN := $(BUILD)/asan/fa-cli/fa-cli
$(CLI_ASAN_BIN): $(call cli_objs,asan,$(CLI_SRCS)) $(BUILD)/asan/libfa-compare.a $(BUILD)/asan/libfa-proto.a $(BUILD)/asan/libfa-text.a \
		$(BUILD)/asan/libframealloc.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD [asan] $@")
	$(Q)$(CC) $(VLDFLAGS_asan) -o $@ $^ $(CLI_LDLIBS)

# Under TSan for compare, which reads two capture files on two threads.
CLI_TSAN_BIN := $(BUILD)/tsan/fa-cli/fa-cli
$(CLI_TSAN_BIN): $(call cli_objs,tsan,$(CLI_SRCS)) $(BUILD)/tsan/libfa-compare.a $(BUILD)/tsan/libfa-proto.a $(BUILD)/tsan/libfa-text.a \
		$(BUILD)/tsan/libframealloc.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD [tsan] $@")
	$(Q)$(CC) $(VLDFLAGS_tsan) -o $@ $^ $(CLI_LDLIBS)

.PHONY: install-cli
install-cli: $(CLI_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(CLI_BIN) $(DESTDIR)$(PREFIX)/bin/fa-cli
INSTALL_STEPS += install-cli

# ---------------------------------------------------------------------------
# Tests.
# Unit tests: every CLI module but main.c, against Criterion (default and
# ASan).
CLI_UNIT_SRCS := $(wildcard tests/cli/test_*.c) tests/cli/synth.c
CLI_UNIT_VARIANTS := default asan
CLI_CRITERION_LIBS := $(or $(shell pkg-config --libs criterion 2>/dev/null),-lcriterion)

define cli_unit_variant
$(BUILD)/$(1)/tests/cli_tests: $(call cli_objs,$(1),$(CLI_UNIT_SRCS) $(filter-out $(CLI_MAIN),$(CLI_SRCS))) \
		$(BUILD)/$(1)/libfa-compare.a $(BUILD)/$(1)/libfa-proto.a $(BUILD)/$(1)/libfa-text.a $(BUILD)/$(1)/libframealloc.a
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD [$(1)] $$@")
	$$(Q)$$(CC) $$(VLDFLAGS_$(1)) -o $$@ $$^ $(CLI_CRITERION_LIBS) $(CLI_LDLIBS)
endef
$(foreach v,$(CLI_UNIT_VARIANTS),$(eval $(call cli_unit_variant,$(v))))

# The feeder: a tiny game linking fa-agent + lib that runs tagged frames
# with budgets (one of them broken) against the daemon under test.
CLI_FEEDER := $(BUILD)/default/tests/cli_feeder
$(CLI_FEEDER): $(BUILD)/default/tests/cli/feeder.o $(BUILD)/default/libfa-agent.a $(LIB_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -o $@ $^ -lnng $(CLI_CJSON_LIBS) $(LDLIBS_BASE)

# The daemon under test is built by fa-insightd/fa-insightd.mk.
CLI_DAEMON := $(BUILD)/fa-insightd
CLI_TEST_ENV_asan := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: test-cli test-cli-unit test-cli-integration
test-cli: test-cli-unit test-cli-integration
test-cli-unit: $(BUILD)/default/tests/cli_tests $(BUILD)/asan/tests/cli_tests
	@echo "== fa-cli unit tests [default] and [asan]"
	$(Q)$(BUILD)/default/tests/cli_tests --short-filename
	$(Q)$(CLI_TEST_ENV_asan) $(BUILD)/asan/tests/cli_tests --short-filename
test-cli-integration: $(CLI_BIN) $(CLI_ASAN_BIN) $(CLI_FEEDER) $(CLI_DAEMON) $(INSIGHTD_SITES_GAME)
	@echo "== fa-cli integration tests (real daemon, real agent, tmux)"
	$(Q)python3 tests/cli/run_cli_tests.py --cli $(CLI_BIN) --cli-asan $(CLI_ASAN_BIN) --daemon $(CLI_DAEMON) \
		--feeder $(CLI_FEEDER) $(if $(INSIGHTD_SITES_GAME),--sites-game $(INSIGHTD_SITES_GAME))
TEST_STEPS += test-cli

# Comparing runs without a daemon: fa-demo captured to files twice (the
# second with a scripted leak) and five same-build pairs, then compare,
# baseline and export on the files (tests/compare/); and the daemon's
# /api/v1/compare (ASan+UBSan build) on the same captures imported.
.PHONY: test-compare
COMPARE_BENCH := $(BUILD)/bench/bench-compare
test-compare: $(CLI_BIN) $(CLI_ASAN_BIN) $(CLI_TSAN_BIN) $(BUILD)/fa-demo $(INSIGHTD_ASAN_BIN) $(COMPARE_BENCH)
	@echo "== fa-cli compare/baseline/export on captures of fa-demo (no daemon), and GET /api/v1/compare"
	$(Q)python3 bench/compare.py --cli $(CLI_BIN) --tool $(COMPARE_BENCH) --check $(BUILD)/tests/compare-bench
	$(Q)$(TEST_ENV_asan) python3 tests/compare/run_compare_tests.py --cli $(CLI_BIN) --cli-asan $(CLI_ASAN_BIN) \
		--cli-tsan $(CLI_TSAN_BIN) --demo $(BUILD)/fa-demo --daemon $(INSIGHTD_ASAN_BIN)
TEST_STEPS += test-compare

# make bench-compare: compare of two one-hour captures (60 fps, 64 tags,
# synthetic, made with the real encoder) against reading and decoding them
# (bench/compare.py; figures in fa-cli/README.md).
$(COMPARE_BENCH): $(BUILD)/default/bench/bench_compare.o $(BUILD)/default/tests/cli/synth.o $(PROTO_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -o $@ $^ $(LDLIBS_BASE)
$(BUILD)/default/bench/bench_compare.o: INCLUDES += -Itests/cli

.PHONY: bench-compare
bench-compare: $(CLI_BIN) $(COMPARE_BENCH)
	$(Q)python3 bench/compare.py --cli $(CLI_BIN) --tool $(COMPARE_BENCH) $(BENCH_COMPARE_ARGS)
BENCH_STEPS += bench-compare

# The baseline reader under libFuzzer (fuzz/fuzz_baseline.c): baselines are
# committed files, read by `baseline check` and `compare`.
FUZZ_TARGETS += baseline
FUZZ_SRCS_baseline := fa-cli/src/baseline.c fa-cli/src/json.c fa-cli/src/render.c $(COMPARE_SRCS) $(TEXT_SRCS)
FUZZ_INCLUDES_baseline := -Ifa-cli/src -Ilib/include -Iproto/include $(COMPARE_INCLUDES) $(TEXT_INCLUDES) $(CLI_CJSON_CFLAGS)
FUZZ_LIBS_baseline := $(CLI_CJSON_LIBS) -lm

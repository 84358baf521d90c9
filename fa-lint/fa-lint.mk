# fa-lint/: static analysis of memory intent on the libclang C API (LLVM 14
# from Debian's libclang-dev), JSON through cJSON.
#
#   make build/fa-lint
#   make test-lint         unit tests (default, ASan), the corpus, formats,
#                          CLI, and fa-lint over the project's own code
#   make bench-lint        files/s against clang-tidy, on our units and a
#                          foreign code base (see bench/lint.py)
#   make install-lint      $(PREFIX)/bin/fa-lint

LINT_SRCS := $(wildcard fa-lint/src/*.c)
LINT_MAIN := fa-lint/src/main.c
LINT_BIN := $(BUILD)/fa-lint
LINT_LLVM_CONFIG := $(firstword $(wildcard /usr/bin/llvm-config-14) llvm-config)
LINT_CLANG_CFLAGS := -I$(shell $(LINT_LLVM_CONFIG) --includedir 2>/dev/null || echo /usr/lib/llvm-14/include)
LINT_CJSON_CFLAGS := $(or $(shell pkg-config --cflags libcjson 2>/dev/null),-I/usr/include/cjson)
LINT_CJSON_LIBS := $(or $(shell pkg-config --libs libcjson 2>/dev/null),-lcjson)
LINT_LDLIBS := -lclang-14 $(LINT_CJSON_LIBS) $(LDLIBS_BASE)
lint_objs = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(2))

$(foreach v,$(VARIANTS),$(eval $(BUILD)/$(v)/fa-lint/%.o: INCLUDES += $(LINT_CLANG_CFLAGS) $(LINT_CJSON_CFLAGS)))
$(foreach v,$(VARIANTS),$(eval $(BUILD)/$(v)/tests/lint/%.o: INCLUDES += $(LINT_CLANG_CFLAGS) $(LINT_CJSON_CFLAGS) -Ifa-lint/src))

$(LINT_BIN): $(call lint_objs,default,$(LINT_SRCS))
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -o $@ $^ $(LINT_LDLIBS)

ALL_TARGETS += $(LINT_BIN)

# The same program under ASan+UBSan, which the corpus runs.
LINT_ASAN_BIN := $(BUILD)/asan/fa-lint/fa-lint
$(LINT_ASAN_BIN): $(call lint_objs,asan,$(LINT_SRCS))
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD [asan] $@")
	$(Q)$(CC) $(VLDFLAGS_asan) -o $@ $^ $(LINT_LDLIBS)

.PHONY: install-lint
install-lint: $(LINT_BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(LINT_BIN) $(DESTDIR)$(PREFIX)/bin/fa-lint
INSTALL_STEPS += install-lint

# ---------------------------------------------------------------------------
# Tests. Unit tests of the modules that read outside input (config, globs,
# suppressions) under Criterion, default and ASan.
LINT_UNIT_SRCS := $(wildcard tests/lint/test_*.c)
LINT_CRITERION_LIBS := $(or $(shell pkg-config --libs criterion 2>/dev/null),-lcriterion)
define lint_unit_variant
$(BUILD)/$(1)/tests/lint_tests: $(call lint_objs,$(1),$(LINT_UNIT_SRCS) $(filter-out $(LINT_MAIN),$(LINT_SRCS)))
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD [$(1)] $$@")
	$$(Q)$$(CC) $$(VLDFLAGS_$(1)) -o $$@ $$^ $(LINT_CRITERION_LIBS) $(LINT_LDLIBS)
endef
$(foreach v,default asan,$(eval $(call lint_unit_variant,$(v))))

LINT_TEST_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# The project's own compile database, made from a dry run of this Makefile
# (-n: no compiler runs; -k: a target another component renamed does not
# stop the rest): the default-variant compile of every C file.
LINT_COMPDB := $(BUILD)/lint/compile_commands.json
LINT_DRY := $(BUILD)/lint/dry
LINT_SELF_TARGETS = all $(addprefix $(LINT_DRY)/default/tests/,lib_tests lint_tests cli_tests agent_tests \
	agent_threads insightd_tests proto_tests proto_gen_golden stress_pool threads_tsan cli_feeder \
	insightd_agent_game insightd_sender) $(LINT_DRY)/tests/web/feeder
.PHONY: lint-compdb
lint-compdb:
	@mkdir -p $(BUILD)/lint
	$(Q)$(MAKE) --no-print-directory -nBk V=1 BUILD=$(LINT_DRY) $(LINT_SELF_TARGETS) 2>/dev/null | \
		python3 tests/lint/make_compdb.py --directory $(CURDIR) --build $(LINT_DRY) > $(LINT_COMPDB)

.PHONY: test-lint test-lint-unit test-lint-corpus test-lint-install
test-lint: test-lint-unit test-lint-corpus test-lint-install
test-lint-unit: $(BUILD)/default/tests/lint_tests $(BUILD)/asan/tests/lint_tests
	@echo "== fa-lint unit tests [default] and [asan]"
	$(Q)$(BUILD)/default/tests/lint_tests --short-filename
	$(Q)$(LINT_TEST_ENV) $(BUILD)/asan/tests/lint_tests --short-filename
test-lint-corpus: $(LINT_BIN) $(LINT_ASAN_BIN) lint-compdb
	@echo "== fa-lint corpus, formats, CLI, and the project's own code"
	$(Q)$(LINT_TEST_ENV) python3 tests/lint/run_lint_tests.py --lint $(LINT_BIN) --lint-asan $(LINT_ASAN_BIN) \
		--compdb $(LINT_COMPDB)
test-lint-install: $(LINT_BIN)
	@echo "== fa-lint: make install-lint into a scratch prefix"
	$(Q)rm -rf $(BUILD)/lint/prefix
	$(Q)$(MAKE) --no-print-directory -s install-lint PREFIX=$(CURDIR)/$(BUILD)/lint/prefix >/dev/null
	$(Q)$(BUILD)/lint/prefix/bin/fa-lint --version | grep -q "^fa-lint [0-9.]* (libclang: .*clang version 14"
	$(Q)$(BUILD)/lint/prefix/bin/fa-lint explain FA601 | grep -q "What it finds"
	@echo "fa-lint install: 2 passed, 0 failed"
TEST_STEPS += test-lint

.PHONY: bench-lint
bench-lint: $(LINT_BIN) lint-compdb
	$(Q)python3 bench/lint.py --lint $(LINT_BIN) --compdb $(LINT_COMPDB) --work $(BUILD)/bench/lint $(BENCH_LINT_ARGS)
BENCH_STEPS += bench-lint

# make fuzz: the .fa.toml parser and the suppression scanner.
FUZZ_TARGETS += lint_config
FUZZ_SRCS_lint_config := fa-lint/src/config.c fa-lint/src/suppress.c fa-lint/src/util.c fa-lint/src/rules.c
FUZZ_INCLUDES_lint_config := -Ifa-lint/src

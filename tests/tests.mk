# tests/: Criterion unit tests per component, built per variant.
CRITERION_LIBS := $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)
SYSCOUNT_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=mmap,--wrap=mprotect

LIB_TEST_SRCS := $(wildcard tests/lib/test_*.c) tests/lib/syscount.c
LIB_TEST_VARIANTS := default asan minimal prefetch debug

# $(BUILD)/<v>/tests/lib_tests and the stress program, per variant.
define lib_tests_variant
$(BUILD)/$(1)/tests/lib_tests: $(patsubst %.c,$(BUILD)/$(1)/%.o,$(LIB_TEST_SRCS)) $(BUILD)/$(1)/libframealloc.a
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD [$(1)] $$@")
	$$(Q)$$(CC) $$(VFLAGS_$(1)) $$(VLDFLAGS_$(1)) $(SYSCOUNT_WRAP) -o $$@ $$^ $$(CRITERION_LIBS) $$(LDLIBS_BASE)
.PHONY: test-lib-$(1)
test-lib-$(1): $(BUILD)/$(1)/tests/lib_tests
	@echo "== lib unit tests [$(1)]"
	$$(Q)$$(TEST_ENV_$(1)) $(BUILD)/$(1)/tests/lib_tests -j2
endef
$(foreach v,$(LIB_TEST_VARIANTS),$(eval $(call lib_tests_variant,$(v))))

TEST_ENV_asan := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
TEST_ENV_tsan := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

# Threaded tests with a plain harness: Criterion cannot run under TSan.
define lib_threads_variant
$(BUILD)/$(1)/tests/threads_tsan: $(BUILD)/$(1)/tests/lib/threads_tsan.o $(BUILD)/$(1)/libframealloc.a
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(VFLAGS_$(1)) $$(VLDFLAGS_$(1)) -o $$@ $$^ $$(LDLIBS_BASE)
$(BUILD)/$(1)/tests/stress_pool: $(BUILD)/$(1)/tests/lib/stress_pool.o $(BUILD)/$(1)/libframealloc.a
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(VFLAGS_$(1)) $$(VLDFLAGS_$(1)) -o $$@ $$^ $$(LDLIBS_BASE)
$(BUILD)/$(1)/tests/model: $(BUILD)/$(1)/tests/lib/model.o $(BUILD)/$(1)/libframealloc.a
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(VFLAGS_$(1)) $$(VLDFLAGS_$(1)) -o $$@ $$^ $$(LDLIBS_BASE)
endef
$(foreach v,$(VARIANTS),$(eval $(call lib_threads_variant,$(v))))

.PHONY: test-lib-tsan test-stress-pool test-model
test-lib-tsan: $(BUILD)/tsan/tests/threads_tsan $(BUILD)/tsan/tests/stress_pool $(BUILD)/tsan/tests/model
	@echo "== lib threaded tests [tsan]"
	$(Q)$(TEST_ENV_tsan) $(BUILD)/tsan/tests/threads_tsan
	$(Q)$(TEST_ENV_tsan) $(BUILD)/tsan/tests/stress_pool --seed 11 --threads 3 --ops 40000
	$(Q)$(TEST_ENV_tsan) $(BUILD)/tsan/tests/model --seed 13 --threads 4 --ops 50000
test-stress-pool: $(BUILD)/default/tests/stress_pool $(BUILD)/asan/tests/stress_pool $(BUILD)/default/tests/threads_tsan
	@echo "== pool stress [default] and [asan]"
	$(Q)$(BUILD)/default/tests/threads_tsan
	$(Q)$(BUILD)/default/tests/stress_pool --seed 7 --threads 4 --ops 300000
	$(Q)$(TEST_ENV_asan) $(BUILD)/asan/tests/stress_pool --seed 9 --threads 2 --ops 100000

# The randomized model test (tests/lib/model.c): 1-4 threads, seeded, at
# least 200 000 operations per build here; make soak runs 10 million. (Seed
# 13 on 2 threads is the run that loses a tagged pool allocation when the
# inline path does not keep its tag on the fold list.)
# (FA_DEBUG's figures include its guards, FA_MINIMAL has none: not run there;
# the TSan run is in test-lib-tsan. nosites: FA_NO_SITES, where the tags'
# figures come from their own counters, not from the call sites'.)
test-model: $(BUILD)/default/tests/model $(BUILD)/asan/tests/model $(BUILD)/nosites/tests/model
	@echo "== lib model test [default] [asan] [nosites]"
	$(Q)$(BUILD)/default/tests/model --seed 1 --threads 4 --ops 200000
	$(Q)$(BUILD)/default/tests/model --seed 2 --threads 1 --ops 200000
	$(Q)$(TEST_ENV_asan) $(BUILD)/asan/tests/model --seed 3 --threads 2 --ops 200000
	$(Q)$(BUILD)/nosites/tests/model --seed 4 --threads 2 --ops 200000
	$(Q)$(BUILD)/default/tests/model --seed 13 --threads 2 --ops 400000

TEST_STEPS += $(foreach v,$(LIB_TEST_VARIANTS),test-lib-$(v)) test-lib-tsan test-stress-pool test-model

# The public headers (lib, fa-agent, proto) compiled warning-free as C11 by
# gcc and clang and as C++11/17/20 by g++ and clang++, each program run
# against the C libraries (tests/headers).
HEADER_TEST_C := gcc clang
HEADER_TEST_CXX := g++:c++11 g++:c++17 g++:c++20 clang++:c++11 clang++:c++17 clang++:c++20
HEADER_TEST_LIBS = $(BUILD)/default/libfa-proto.a $(LIB_A) $(LDLIBS_BASE)
.PHONY: test-headers
test-headers: $(LIB_A) $(BUILD)/default/libfa-proto.a
	@echo "== public headers as C and C++"
	$(Q)mkdir -p $(BUILD)/headers
	$(Q)set -e; for cc in $(HEADER_TEST_C); do \
		$$cc -std=c11 -Wall -Wextra -pedantic -Werror $(INCLUDES) tests/headers/use_headers.c \
			-o $(BUILD)/headers/c-$$cc $(HEADER_TEST_LIBS); \
		$(BUILD)/headers/c-$$cc; \
	done; \
	for p in $(HEADER_TEST_CXX); do \
		cxx=$${p%%:*}; std=$${p##*:}; \
		$$cxx -std=$$std -Wall -Wextra -pedantic -Werror $(INCLUDES) tests/headers/use_headers.cpp \
			-o $(BUILD)/headers/$$cxx-$$std $(HEADER_TEST_LIBS); \
		$(BUILD)/headers/$$cxx-$$std; \
	done
TEST_STEPS += test-headers

# make install into a scratch prefix, then build programs with pkg-config
# exactly as a user would: every public function, and the README example.
.PHONY: test-install
test-install: all
	@echo "== install + pkg-config"
	$(Q)rm -rf $(BUILD)/install-test
	$(Q)$(MAKE) --no-print-directory -s install PREFIX=$(CURDIR)/$(BUILD)/install-test >/dev/null
	$(Q)PKG_CONFIG_PATH=$(BUILD)/install-test/lib/pkgconfig sh -c '$(CC) -std=c11 -Wall -Wextra -Werror tests/install/every_function.c -o $(BUILD)/install-test/every_function $$(pkg-config --cflags --libs framealloc) && $(CC) -std=c11 -Wall -Wextra -Werror examples/quickstart.c -o $(BUILD)/install-test/quickstart $$(pkg-config --cflags --libs framealloc)'
	$(Q)$(BUILD)/install-test/every_function >/dev/null && $(BUILD)/install-test/quickstart > $(BUILD)/install-test/quickstart.out
	$(Q)grep -q "budget warning: physics" $(BUILD)/install-test/quickstart.out
	$(Q)grep -q "budget exceeded: physics" $(BUILD)/install-test/quickstart.out
	@echo "install: 2 passed, 0 failed"
	$(Q)tests/install/readme_game.sh $(BUILD) $(CURDIR)/$(BUILD)/install-test
TEST_STEPS += test-install

# End to end: the daemon and two demo games for ~20 s, checked through the
# API and fa-cli.
.PHONY: test-e2e
test-e2e: all
	@echo "== end to end: fa-insightd + 2 x fa-demo"
	$(Q)python3 tests/e2e/run_e2e.py --build $(BUILD)
TEST_STEPS += test-e2e

# make soak (not part of make test): 20 demos x 60 fps x 10 minutes, and the
# lib model test for 10 million operations (4 threads; MODEL_SEED to replay).
MODEL_SEED ?= $(shell date +%s)
.PHONY: soak soak-model
soak: deps
	$(Q)$(MAKE) --no-print-directory all soak-model
	$(Q)python3 tests/soak/soak.py --build $(BUILD) $(SOAK_ARGS)
soak-model: $(BUILD)/default/tests/model
	@echo "== lib model test, 10 000 000 operations (seed $(MODEL_SEED))"
	$(Q)$(BUILD)/default/tests/model --seed $(MODEL_SEED) --threads 4 --ops 10000000

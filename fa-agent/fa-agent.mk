# fa-agent/: libfa-agent (static per variant, shared for the default
# variant), its pkg-config file, its tests (Criterion: default and ASan; a
# plain harness under TSan) and its benchmark.
#
#   make test-agent test-agent-asan test-agent-tsan
#   make bench-agent                   ns per frame, callgrind instructions,
#                                      encode/decode throughput
#
# The static library carries proto's objects too, so a game links
# -lfa-agent -lframealloc -lnng -lpthread (plus -lcjson when static).

AGENT_SRCS := $(wildcard fa-agent/src/*.c)
AGENT_HDRS := fa-agent/include/fa_agent.h
AGENT_PROTO_SRCS := $(wildcard proto/src/*.c)
AGENT_CJSON_CFLAGS := $(or $(shell pkg-config --cflags libcjson 2>/dev/null),-I/usr/include/cjson)
AGENT_CJSON_LIBS := $(or $(shell pkg-config --libs libcjson 2>/dev/null),-lcjson)
# nng has no .pc file on Debian 12.
AGENT_LDLIBS := -lnng $(AGENT_CJSON_LIBS) $(LDLIBS_BASE)
agent_objs = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(AGENT_SRCS) $(AGENT_PROTO_SRCS))

# cJSON's header lives in its own directory; tests also use tests/lib/.
$(foreach v,$(VARIANTS),$(eval $(BUILD)/$(v)/fa-agent/%.o: INCLUDES += $(AGENT_CJSON_CFLAGS) -Itests/lib))
$(foreach v,$(VARIANTS),$(eval $(BUILD)/$(v)/tests/agent/%.o: INCLUDES += $(AGENT_CJSON_CFLAGS) -Itests/lib))

define agent_variant
$(BUILD)/$(1)/libfa-agent.a: $(call agent_objs,$(1))
	@$$(if $$(Q),echo "  AR [$(1)] $$@")
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach v,$(VARIANTS),$(eval $(call agent_variant,$(v))))

AGENT_A := $(BUILD)/default/libfa-agent.a
AGENT_SO := $(BUILD)/default/libfa-agent.so
$(AGENT_SO): $(call agent_objs,default) $(LIB_SO)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -shared -Wl,-soname,libfa-agent.so.0 -Wl,--no-undefined -o $@ $(call agent_objs,default) \
		-L$(BUILD)/default -lframealloc $(AGENT_LDLIBS)

ALL_TARGETS += $(AGENT_A) $(AGENT_SO)

# ---------------------------------------------------------------------------
# Install: header, libraries, fa-agent.pc.
$(BUILD)/fa-agent.pc: fa-agent/fa-agent.pc.in lib/include/framealloc.h
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/^#define FA_VERSION_STRING "\(.*\)"/\1/p' lib/include/framealloc.h)|g' $< > $@

.PHONY: install-agent $(BUILD)/fa-agent.pc
install-agent: $(AGENT_A) $(AGENT_SO) $(BUILD)/fa-agent.pc
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(AGENT_HDRS) $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(AGENT_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(AGENT_SO) $(DESTDIR)$(PREFIX)/lib/libfa-agent.so.0
	ln -sf libfa-agent.so.0 $(DESTDIR)$(PREFIX)/lib/libfa-agent.so
	install -m 644 $(BUILD)/fa-agent.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
INSTALL_STEPS += install-agent

# ---------------------------------------------------------------------------
# Tests. Criterion binaries link the static libraries with the syscount
# wraps (malloc/calloc/realloc/mmap/mprotect), so that calls made by agent
# and lib code on the game thread are counted.
AGENT_TEST_SRCS := $(wildcard tests/agent/test_*.c) tests/lib/syscount.c
AGENT_TEST_VARIANTS := default asan
AGENT_CRITERION_LIBS := $(or $(shell pkg-config --libs criterion 2>/dev/null),-lcriterion)
AGENT_SYSCOUNT_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=mmap,--wrap=mprotect

define agent_tests_variant
$(BUILD)/$(1)/tests/agent_tests: $(patsubst %.c,$(BUILD)/$(1)/%.o,$(AGENT_TEST_SRCS)) \
		$(BUILD)/$(1)/libfa-agent.a $(BUILD)/$(1)/libframealloc.a
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD [$(1)] $$@")
	$$(Q)$$(CC) $$(VFLAGS_$(1)) $$(VLDFLAGS_$(1)) $(AGENT_SYSCOUNT_WRAP) -o $$@ $$^ \
		$(AGENT_CRITERION_LIBS) $(AGENT_LDLIBS)
endef
$(foreach v,$(AGENT_TEST_VARIANTS),$(eval $(call agent_tests_variant,$(v))))

# The threaded scenario with the plain harness (Criterion cannot run under
# TSan), built for tsan and default.
define agent_tsan_variant
$(BUILD)/$(1)/tests/agent_threads: $(BUILD)/$(1)/tests/agent/agent_threads.o \
		$(BUILD)/$(1)/libfa-agent.a $(BUILD)/$(1)/libframealloc.a
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD [$(1)] $$@")
	$$(Q)$$(CC) $$(VFLAGS_$(1)) $$(VLDFLAGS_$(1)) -o $$@ $$^ $(AGENT_LDLIBS)
endef
$(foreach v,default tsan,$(eval $(call agent_tsan_variant,$(v))))

AGENT_TEST_ENV_asan := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
AGENT_TEST_ENV_tsan := TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

.PHONY: test-agent test-agent-asan test-agent-tsan
test-agent: $(BUILD)/default/tests/agent_tests
	@echo "== agent tests [default]"
	$(Q)$(BUILD)/default/tests/agent_tests -j4 --short-filename
test-agent-asan: $(BUILD)/asan/tests/agent_tests
	@echo "== agent tests [asan]"
	$(Q)$(AGENT_TEST_ENV_asan) $(BUILD)/asan/tests/agent_tests -j4 --short-filename
test-agent-tsan: $(BUILD)/tsan/tests/agent_threads $(BUILD)/default/tests/agent_threads
	@echo "== agent threaded tests [tsan] and [default]"
	$(Q)$(AGENT_TEST_ENV_tsan) $(BUILD)/tsan/tests/agent_threads
	$(Q)$(BUILD)/default/tests/agent_threads
TEST_STEPS += test-agent test-agent-asan test-agent-tsan

# ---------------------------------------------------------------------------
# Benchmark: build/bench/bench-agent, run by fa-agent/bench/run (median ns
# per fa_end_frame with the agent on and off, callgrind instructions,
# encode/decode throughput). Results are recorded in fa-agent/README.md.
AGENT_BENCH := $(BUILD)/bench/bench-agent
AGENT_BENCH_RUNS ?= 5
$(AGENT_BENCH): $(BUILD)/default/fa-agent/bench/bench_agent.o $(BUILD)/default/tests/lib/syscount.o \
		$(AGENT_A) $(LIB_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(AGENT_SYSCOUNT_WRAP) -o $@ $^ $(AGENT_LDLIBS)

.PHONY: bench-agent
bench-agent: $(AGENT_BENCH)
	$(Q)fa-agent/bench/run $(AGENT_BENCH) $(AGENT_BENCH_RUNS)
BENCH_STEPS += bench-agent

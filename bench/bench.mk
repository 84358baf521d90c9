# bench/: allocator benchmarks. One source (bench/bench_alloc.c) built into
# one binary per framealloc variant, one for the raw bump pointer and one per
# peer malloc (same object, linked against a different allocator, which
# replaces malloc at link time). bench/run runs them all and prints a table
# of medians and ratios.
#
#   make bench-alloc                      build and run (5 runs, 150 ms/case)
#   make bench-alloc BENCH_RUNS=9 BENCH_MS=300
#   make bench-alloc BENCH_ALLOC_ARGS=--json

BENCH_DIR := $(BUILD)/bench
BENCH_RUNS ?= 5
BENCH_MS ?= 150
BENCH_ALLOC_ARGS ?=

# framealloc variants measured. Their object comes from the generic variant
# rule ($(BUILD)/<v>/bench/bench_alloc.o), so it is compiled with exactly the
# macros (FA_MINIMAL, FA_PREFETCH) of the library it links: the header's
# inline fast path depends on them.
# nopeak: the default build without the per-frame high-water tracking
# (FA__NO_PEAK_TRACKING, for this measurement only), to show what it costs.
# nosites: the default build with FA_NO_SITES, to show what call sites cost.
BENCH_FA_VARIANTS := default minimal prefetch nopeak nosites
BENCH_PEERS := glibc jemalloc mimalloc tcmalloc

# Deferred (=) so that pkg-config only runs when a peer binary is linked.
BENCH_LIBS_glibc =
BENCH_LIBS_jemalloc = $(or $(shell pkg-config --libs jemalloc 2>/dev/null),-ljemalloc)
BENCH_LIBS_mimalloc = -lmimalloc
BENCH_LIBS_tcmalloc = $(or $(shell pkg-config --libs libtcmalloc 2>/dev/null),-ltcmalloc)

BENCH_ALLOC_BINS := $(foreach v,$(BENCH_FA_VARIANTS),$(BENCH_DIR)/bench-fa-$(v)) \
                    $(BENCH_DIR)/bench-fa-filter \
                    $(BENCH_DIR)/bench-raw \
                    $(foreach p,$(BENCH_PEERS),$(BENCH_DIR)/bench-$(p))

define bench_fa_variant
$(BENCH_DIR)/bench-fa-$(1): $(BUILD)/$(1)/bench/bench_alloc.o $(BUILD)/$(1)/libframealloc.a
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD $$@")
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS_BASE)
endef
$(foreach v,$(BENCH_FA_VARIANTS),$(eval $(call bench_fa_variant,$(v))))

# The default variant with the behaviour filter on, to show what it costs.
$(BENCH_DIR)/obj/bench_alloc_filter.o: bench/bench_alloc.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC [bench] $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(VFLAGS_default) -DBENCH_FILTER $(INCLUDES) -c $< -o $@
$(BENCH_DIR)/bench-fa-filter: $(BENCH_DIR)/obj/bench_alloc_filter.o $(BUILD)/default/libframealloc.a
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_BASE)

# The malloc and raw objects: same source, -O2 like the library variants.
$(BENCH_DIR)/obj/bench_alloc_malloc.o: bench/bench_alloc.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC [bench] $@")
	$(Q)$(CC) $(ALL_CFLAGS) -O2 -DBENCH_MALLOC $(INCLUDES) -c $< -o $@

$(BENCH_DIR)/obj/bench_alloc_raw.o: bench/bench_alloc.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC [bench] $@")
	$(Q)$(CC) $(ALL_CFLAGS) -O2 -DBENCH_RAW $(INCLUDES) -c $< -o $@

$(BENCH_DIR)/bench-raw: $(BENCH_DIR)/obj/bench_alloc_raw.o
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LDLIBS_BASE)

# The peer allocator comes before libc on the link line, so its malloc/free
# are the ones the binary uses (the binary checks and prints malloc_lib=).
define bench_peer
$(BENCH_DIR)/bench-$(1): $(BENCH_DIR)/obj/bench_alloc_malloc.o
	@$$(if $$(Q),echo "  LD $$@")
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$< $$(BENCH_LIBS_$(1)) $$(LDLIBS_BASE)
endef
$(foreach p,$(BENCH_PEERS),$(eval $(call bench_peer,$(p))))

.PHONY: bench-alloc-build bench-alloc
bench-alloc-build: $(BENCH_ALLOC_BINS)

# Every binary BENCH_RUNS times, interleaved; medians and ratios. The JSON
# of the last run is kept in $(BENCH_DIR)/alloc-results.json.
bench-alloc: bench-alloc-build
	$(Q)bench/run --bin-dir $(BENCH_DIR) --runs $(BENCH_RUNS) --ms $(BENCH_MS) \
		--save $(BENCH_DIR)/alloc-results.json $(BENCH_ALLOC_ARGS)

BENCH_STEPS += bench-alloc

# make test: bench/run itself, on the binaries that need no peer library
# (1 run of 5 ms per case, callgrind included): the runner once crashed at
# the end of a 40-minute make bench. A check that it completes and prints
# every goal, not a measurement.
BENCH_RUN_CHECK_BINS := bench-fa-default bench-fa-nosites bench-fa-filter bench-raw bench-glibc
.PHONY: test-bench-run
test-bench-run: $(addprefix $(BENCH_DIR)/,$(BENCH_RUN_CHECK_BINS))
	@echo "== bench/run on $(BENCH_RUN_CHECK_BINS) (1 run, 5 ms per case: the runner, not the figures)"
	$(Q)rm -rf $(BUILD)/tests/bench-run && mkdir -p $(BUILD)/tests/bench-run
	$(Q)for b in $(BENCH_RUN_CHECK_BINS); do ln -s $(CURDIR)/$(BENCH_DIR)/$$b $(BUILD)/tests/bench-run/$$b; done
	$(Q)bench/run --bin-dir $(BUILD)/tests/bench-run --runs 1 --ms 5 --retries 0 > $(BUILD)/tests/bench-run/out.txt
	$(Q)grep -q "issue 16 goals" $(BUILD)/tests/bench-run/out.txt && \
		grep -q "filter on/off pool_64" $(BUILD)/tests/bench-run/out.txt && \
		grep -q "call sites pool_64 instructions/op" $(BUILD)/tests/bench-run/out.txt || \
		{ cat $(BUILD)/tests/bench-run/out.txt; echo "bench/run: goals missing from its table"; exit 1; }
	@echo "bench/run: completed, every goal line printed"
TEST_STEPS += test-bench-run

# System benchmarks: end-to-end latency fa_end_frame -> WebSocket client, and
# the demo's frame-time overhead with the agent on vs off.
.PHONY: bench-system
bench-system: $(BUILD)/fa-insightd $(BUILD)/fa-demo
	$(Q)python3 bench/system.py --build $(BUILD)
BENCH_STEPS += bench-system

# Call sites end to end (issue 15): the agent benchmark's game with 64 tags
# and 0..10 000 more active sites against a real fa-insightd (bench/sites.py).
.PHONY: bench-sites
bench-sites: $(BUILD)/fa-insightd $(BUILD)/bench/bench-agent
	$(Q)python3 bench/sites.py --daemon $(BUILD)/fa-insightd --game $(BUILD)/bench/bench-agent
BENCH_STEPS += bench-sites
# game_frame_mix: the allocation sequence of one fa-demo frame, recorded once
# by a build of the demo whose allocation names note what they do
# (bench/mix_record.h, force-included; the heap entry points wrapped at link
# time) and committed as bench/game_frame_mix.trace; bench_alloc.c replays it.
# Re-record by hand when the demo changes: make bench-record-mix.
MIX_TRACE := bench/game_frame_mix.trace
MIX_RECORD_FRAME ?= 600
MIX_WRAP := -Wl,--wrap=fa_heap_alloc_site,--wrap=fa_heap_alloc_tagged_site,--wrap=fa_heap_free,--wrap=fa_heap_realloc_site \
	-Wl,--wrap=fa_pool_realloc_site
# The Lua adapter is compiled into the recorder from its source with the
# recorder's names (its frees are fa_pool_free, inline otherwise).
MIX_INTEGS := $(filter-out lua,$(DEMO_INTEGS))
$(BENCH_DIR)/obj/mix_record.o: bench/mix_record.c lib/include/framealloc.h
	@mkdir -p $(@D)
	$(Q)$(CC) $(STD) $(WARN) $(DEFS) -O2 -Ilib/include -c $< -o $@
$(BENCH_DIR)/fa-demo-record: $(DEMO_SRCS) examples/demo/demo.h bench/mix_record.h $(BENCH_DIR)/obj/mix_record.o \
		integrations/lua/fa_lua.c $(AGENT_A) $(LIB_A) $(foreach n,$(MIX_INTEGS),$(BUILD)/default/libframealloc-$(n).a)
	@$(if $(Q),echo "  CC $@")
	$(Q)$(CC) $(STD) $(WARN) $(DEFS) -O2 -g -include bench/mix_record.h -Ilib/include -Ifa-agent/include \
		$(foreach n,$(DEMO_INTEGS),-Iintegrations/$(n) $(INTEG_CFLAGS_$(n))) -o $@ $(DEMO_SRCS) \
		integrations/lua/fa_lua.c $(BENCH_DIR)/obj/mix_record.o $(MIX_WRAP) \
		$(foreach n,$(MIX_INTEGS),$(BUILD)/default/libframealloc-$(n).a) $(AGENT_A) $(LIB_A) \
		$(foreach n,$(DEMO_INTEGS),$(INTEG_LIBS_$(n))) $(AGENT_LDLIBS) -lm
.PHONY: bench-record-mix
bench-record-mix: $(BENCH_DIR)/fa-demo-record
	$(Q)MIX_RECORD_FRAME=$(MIX_RECORD_FRAME) MIX_RECORD_OUT=$(MIX_TRACE) $< --no-agent --deterministic \
		--seed 1 --frames $(MIX_RECORD_FRAME) --quiet

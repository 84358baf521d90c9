# examples/: small programs that use lib the way a game would.
UV_LIBS := $(shell pkg-config --libs libuv 2>/dev/null || echo -luv)

$(BUILD)/examples/uv_tasks: examples/uv_tasks.c $(LIB_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $@")
	$(Q)$(CC) $(STD) $(WARN) $(DEFS) -O2 $(PKG_CFLAGS) -Ilib/include -o $@ $< $(LIB_A) $(UV_LIBS) $(LDLIBS_BASE)

$(BUILD)/examples/quickstart: examples/quickstart.c $(LIB_A)
	@mkdir -p $(@D)
	$(Q)$(CC) $(STD) $(WARN) $(DEFS) -O2 -Ilib/include -o $@ $< $(LIB_A) $(LDLIBS_BASE)

ALL_TARGETS += $(BUILD)/examples/uv_tasks $(BUILD)/examples/quickstart

.PHONY: test-examples
test-examples: $(BUILD)/examples/uv_tasks
	@echo "== examples: libuv work items with the task allocator"
	$(Q)$(BUILD)/examples/uv_tasks --jobs 200
TEST_STEPS += test-examples

# The demo game: lib + fa-agent, streaming to fa-insightd; its physics,
# scripts and services (examples/demo/) run on Chipmunk2D, Lua, SQLite,
# cJSON, zlib and FreeType through the integrations.
DEMO_INTEGS := chipmunk lua sqlite cjson zlib freetype
DEMO_SRCS := examples/fa-demo.c $(wildcard examples/demo/*.c)
DEMO_CFLAGS = $(STD) $(WARN) $(DEFS) -O2 -g -Ilib/include -Ifa-agent/include \
	$(foreach n,$(DEMO_INTEGS),-Iintegrations/$(n) $(INTEG_CFLAGS_$(n)))
DEMO_DEPS = $(DEMO_SRCS) examples/demo/demo.h $(AGENT_A) $(LIB_A) \
	$(foreach n,$(DEMO_INTEGS),$(BUILD)/default/libframealloc-$(n).a)
DEMO_LINK = $(foreach n,$(DEMO_INTEGS),$(BUILD)/default/libframealloc-$(n).a) $(AGENT_A) $(LIB_A) \
	$(foreach n,$(DEMO_INTEGS),$(INTEG_LIBS_$(n))) $(AGENT_LDLIBS) -lm
$(BUILD)/fa-demo: $(DEMO_DEPS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $@")
	$(Q)$(CC) $(DEMO_CFLAGS) -o $@ $(DEMO_SRCS) $(DEMO_LINK)
ALL_TARGETS += $(BUILD)/fa-demo

# The demo with a mistake seeded on purpose (-DFA_DEMO_SEED_LINT: a heap
# buffer inside the frame loop, fa-lint's FA602), a separate binary so that
# the normal demo never changes, and fa-lint's SARIF report of the same
# sources with the same flags: what the dashboard test shows next to the
# runtime call site of the same line (tests/web/lint.mjs).
DEMO_SEEDED := $(BUILD)/examples/fa-demo-seeded
DEMO_SEEDED_SARIF := $(BUILD)/examples/fa-demo-seeded.sarif
$(DEMO_SEEDED): $(DEMO_DEPS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $@")
	$(Q)$(CC) $(DEMO_CFLAGS) -DFA_DEMO_SEED_LINT=1 -o $@ $(DEMO_SRCS) $(DEMO_LINK)
# fa-lint exits 1 when it finds something at deny level: here that is the point.
$(DEMO_SEEDED_SARIF): $(DEMO_SRCS) examples/demo/demo.h $(LINT_BIN)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LINT $@")
	$(Q)$(LINT_BIN) --all --format sarif -o $@ $(DEMO_SRCS) -- $(DEMO_CFLAGS) -DFA_DEMO_SEED_LINT=1; \
		rc=$$?; test $$rc -le 1 || { rm -f $@; exit $$rc; }
.PHONY: demo-seeded
demo-seeded: $(DEMO_SEEDED) $(DEMO_SEEDED_SARIF)

# make demo: set up everything (deps, build, web assets), then run.
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) examples/run-demo

# An SDL2 game loop with framealloc (integrations/sdl2); headless in tests.
$(BUILD)/examples/sdl2-loop: examples/sdl2-loop.c $(BUILD)/default/libframealloc-sdl2.a $(LIB_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $@")
	$(Q)$(CC) $(STD) $(WARN) $(DEFS) -O2 -g -Ilib/include -Iintegrations/sdl2 $(INTEG_CFLAGS_sdl2) -o $@ $< \
		$(BUILD)/default/libframealloc-sdl2.a $(LIB_A) $(INTEG_LIBS_sdl2) $(LDLIBS_BASE)
ALL_TARGETS += $(BUILD)/examples/sdl2-loop

.PHONY: test-sdl2-loop
test-sdl2-loop: $(BUILD)/examples/sdl2-loop
	@echo "== examples: sdl2-loop (SDL_VIDEODRIVER=dummy)"
	$(Q)SDL_VIDEODRIVER=dummy $(BUILD)/examples/sdl2-loop --frames 120 --quiet > $(BUILD)/examples/sdl2-loop.out
	$(Q)cat $(BUILD)/examples/sdl2-loop.out
	$(Q)grep -Eq 'frames=120 frame_bytes_peak=[1-9][0-9]* sdl_blocks_while_running=[1-9][0-9]* sdl_blocks_after_quit=0$$' \
		$(BUILD)/examples/sdl2-loop.out
	$(Q)if $(BUILD)/examples/sdl2-loop --frames x 2>/dev/null; then echo "a bad option was accepted"; exit 1; fi
TEST_STEPS += test-sdl2-loop

# fa-demo's physics is Chipmunk2D: its contact events, begins and query hits
# come from the engine (and the Lua crowd runs); a short run without the agent.
.PHONY: test-demo-engine
test-demo-engine: $(BUILD)/fa-demo
	@echo "== examples: fa-demo's physics from Chipmunk2D, scripts in Lua"
	$(Q)$(BUILD)/fa-demo --no-agent --duration 3 --quiet --entities 800 > $(BUILD)/examples/demo-engine.out
	$(Q)cat $(BUILD)/examples/demo-engine.out
	$(Q)grep -Eq 'contacts=[1-9][0-9]* begins=[1-9][0-9]* hits=[1-9][0-9]* bodies=[1-9][0-9]* lua_bytes=[1-9][0-9]*$$' \
		$(BUILD)/examples/demo-engine.out
	$(Q)if $(BUILD)/fa-demo --spike-every 2 2>/dev/null; then echo "--spike-every 2 was accepted"; exit 1; fi
TEST_STEPS += test-demo-engine

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

# The demo game: lib + fa-agent, streaming to fa-insightd.
$(BUILD)/fa-demo: examples/fa-demo.c $(AGENT_A) $(LIB_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $@")
	$(Q)$(CC) $(STD) $(WARN) $(DEFS) -O2 -g -Ilib/include -Ifa-agent/include -o $@ $< $(AGENT_A) $(LIB_A) \
		$(AGENT_LDLIBS) -lm
ALL_TARGETS += $(BUILD)/fa-demo

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

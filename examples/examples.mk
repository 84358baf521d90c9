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

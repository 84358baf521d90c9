# lib/text/: libfa-text, the small internal library that the programs
# (fa-cli, fa-insightd) share: durations and byte units (units.h), the
# sanitiser for untrusted text and JSON escaping (escape.h). One definition,
# unit-tested once (tests/text/), built once per variant and linked by both
# programs. It is never installed and never linked into a game: libframealloc
# and libfa-agent stay free of it.
#
#   make test-text      Criterion unit tests [default] and [asan]

TEXT_SRCS := $(wildcard lib/text/*.c)
TEXT_INCLUDES := -Ilib/text
text_objs = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(TEXT_SRCS))

define text_variant
$(BUILD)/$(1)/libfa-text.a: $(call text_objs,$(1))
	@$$(if $$(Q),echo "  AR [$(1)] $$@")
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach v,$(VARIANTS),$(eval $(call text_variant,$(v))))
TEXT_A := $(BUILD)/default/libfa-text.a

TEXT_TEST_SRCS := $(wildcard tests/text/test_*.c)
$(foreach v,$(VARIANTS),$(eval $(BUILD)/$(v)/tests/text/%.o: INCLUDES += $(TEXT_INCLUDES)))
define text_tests_variant
$(BUILD)/$(1)/tests/text_tests: $(patsubst %.c,$(BUILD)/$(1)/%.o,$(TEXT_TEST_SRCS)) $(BUILD)/$(1)/libfa-text.a
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD [$(1)] $$@")
	$$(Q)$$(CC) $$(VLDFLAGS_$(1)) -o $$@ $$^ $$(CRITERION_LIBS)
endef
$(foreach v,default asan,$(eval $(call text_tests_variant,$(v))))

.PHONY: test-text
test-text: $(BUILD)/default/tests/text_tests $(BUILD)/asan/tests/text_tests
	@echo "== libfa-text unit tests [default] and [asan]"
	$(Q)$(BUILD)/default/tests/text_tests --short-filename
	$(Q)$(TEST_ENV_asan) $(BUILD)/asan/tests/text_tests --short-filename
TEST_STEPS += test-text

# make fuzz: the sanitiser, JSON escaping and the parsers (fuzz/fuzz_text.c).
FUZZ_TARGETS += text
FUZZ_SRCS_text := $(TEXT_SRCS)
FUZZ_INCLUDES_text := $(TEXT_INCLUDES) $(or $(shell pkg-config --cflags libcjson 2>/dev/null),-I/usr/include/cjson)
FUZZ_LIBS_text := $(or $(shell pkg-config --libs libcjson 2>/dev/null),-lcjson)

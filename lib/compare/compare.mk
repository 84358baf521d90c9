# lib/compare/: libfa-compare, the small internal library that sums a run
# up per tag and per call site (summary.h) and compares two summaries under
# thresholds (compare.h). fa-cli (compare, baseline check) and fa-insightd
# (GET /api/v1/compare) link the same code, so a diff in the dashboard is
# the diff of the command line. Like libfa-text it is never installed and
# never linked into a game. It uses libfa-text (units, sanitiser), cJSON
# (thresholds files, the comparison's JSON) and proto's row types.
#
# Its unit tests run with fa-cli's (tests/cli/test_compare.c).

COMPARE_SRCS := $(wildcard lib/compare/*.c)
COMPARE_INCLUDES := -Ilib/compare
COMPARE_CJSON_CFLAGS := $(or $(shell pkg-config --cflags libcjson 2>/dev/null),-I/usr/include/cjson)
compare_objs = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(COMPARE_SRCS))

$(foreach v,$(VARIANTS),$(eval $(BUILD)/$(v)/lib/compare/%.o: INCLUDES += $(TEXT_INCLUDES) \
    $(COMPARE_CJSON_CFLAGS) -Iproto/include))

define compare_variant
$(BUILD)/$(1)/libfa-compare.a: $(call compare_objs,$(1))
	@$$(if $$(Q),echo "  AR [$(1)] $$@")
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach v,$(VARIANTS),$(eval $(call compare_variant,$(v))))
COMPARE_A := $(BUILD)/default/libfa-compare.a

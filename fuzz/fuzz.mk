# fuzz/: libFuzzer targets, built with clang (-fsanitize=fuzzer,address,
# undefined). `make fuzz` builds every target and runs each for
# FUZZ_SECONDS on a working copy of its committed seed corpus, kept in
# $(BUILD)/fuzz/corpus/<target>/: the seeds are refreshed on each run and the
# inputs libFuzzer adds accumulate there, never in fuzz/corpus/. Crash
# artifacts go to $(BUILD)/fuzz/artifacts/<target>/.
#
# A target <t> is fuzz/fuzz_<t>.c plus the sources in FUZZ_SRCS_<t>, seeded
# from fuzz/corpus/<t>/, linked with FUZZ_LIBS_<t>. Other components add theirs
# with FUZZ_TARGETS += t.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS += decode
FUZZ_SRCS_decode := $(wildcard proto/src/*.c) tests/proto/fixtures.c
FUZZ_INCLUDES_decode := -Iproto/include -Ilib/include -Itests/proto
FUZZ_TARGETS += capture
FUZZ_SRCS_capture := $(FUZZ_SRCS_decode)
FUZZ_INCLUDES_capture := $(FUZZ_INCLUDES_decode)

FUZZ_CFLAGS := $(STD) $(WARN) $(DEFS) -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

define fuzz_target
$(BUILD)/fuzz/fuzz_$(1): fuzz/fuzz_$(1).c $$(FUZZ_SRCS_$(1)) $$(wildcard proto/include/*.h tests/proto/*.h)
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  CLANG [fuzz] $$@")
	$$(Q)$$(CLANG) $$(FUZZ_CFLAGS) $$(FUZZ_INCLUDES_$(1)) -o $$@ fuzz/fuzz_$(1).c $$(FUZZ_SRCS_$(1)) $$(FUZZ_LIBS_$(1))

.PHONY: fuzz-$(1)
fuzz-$(1): $(BUILD)/fuzz/fuzz_$(1)
	@mkdir -p $(BUILD)/fuzz/corpus/$(1) $(BUILD)/fuzz/artifacts/$(1)
	$$(Q)cp fuzz/corpus/$(1)/* $(BUILD)/fuzz/corpus/$(1)/
	@echo "== fuzz $(1) for $$(FUZZ_SECONDS) s"
	$$(Q)UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(BUILD)/fuzz/fuzz_$(1) \
		-max_total_time=$$(FUZZ_SECONDS) -print_final_stats=1 \
		-artifact_prefix=$(BUILD)/fuzz/artifacts/$(1)/ $(BUILD)/fuzz/corpus/$(1)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_target,$(t))))

fuzz: $(foreach t,$(FUZZ_TARGETS),fuzz-$(t))

# proto/: libfa-proto (wire format encoder + total decoder), its tests and
# golden vectors. Only lib's header is used (for the snapshot helper);
# nothing of lib is linked.
PROTO_SRCS := $(wildcard proto/src/*.c)
PROTO_HDRS := proto/include/fa_proto.h proto/include/fa_capture.h proto/include/fa_capture_file.h
proto_objs = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(PROTO_SRCS))

# $(BUILD)/<variant>/libfa-proto.a for every variant.
define proto_variant
$(BUILD)/$(1)/libfa-proto.a: $(call proto_objs,$(1))
	@$$(if $$(Q),echo "  AR [$(1)] $$@")
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach v,$(VARIANTS),$(eval $(call proto_variant,$(v))))

PROTO_A := $(BUILD)/default/libfa-proto.a
ALL_TARGETS += $(PROTO_A)

# Tests: tests/proto/*.c except the golden generator, one binary per tested
# variant. They read tests/proto/golden/ relative to the top directory
# (override with FA_PROTO_GOLDEN_DIR).
PROTO_TEST_VARIANTS := default asan
PROTO_TEST_SRCS := $(filter-out tests/proto/gen_golden.c,$(wildcard tests/proto/*.c))
PROTO_CRITERION_LIBS := $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)
proto_test_objs = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(PROTO_TEST_SRCS))

define proto_test_variant
$(BUILD)/$(1)/tests/proto_tests: $(call proto_test_objs,$(1)) $(BUILD)/$(1)/libfa-proto.a
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD [$(1)] $$@")
	$$(Q)$$(CC) $$(VLDFLAGS_$(1)) -o $$@ $$^ $$(PROTO_CRITERION_LIBS) $$(LDLIBS_BASE)
endef
$(foreach v,$(PROTO_TEST_VARIANTS),$(eval $(call proto_test_variant,$(v))))

# Test steps print Criterion's "[====] Synthesis" line; a failure stops make.
.PHONY: test-proto test-proto-asan
test-proto: $(BUILD)/default/tests/proto_tests
	@echo "== proto unit tests [default]"
	$(Q)$(BUILD)/default/tests/proto_tests --short-filename
test-proto-asan: $(BUILD)/asan/tests/proto_tests
	@echo "== proto unit tests [asan]"
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(BUILD)/asan/tests/proto_tests --short-filename

# The older readers: libfa-proto with its decoder built as the 1.0 one
# (FA_PROTO__READER_MINOR=0) over the newer golden vectors and a newer
# capture, and as the 1.1 one over the 1.2 HELLOs: what an older daemon or
# fa-cli makes of newer messages. $(1): the reader's minor version.
PROTO_READER_OBJS := $(filter-out $(BUILD)/default/proto/src/decode.o,$(call proto_objs,default))
define proto_reader
$(BUILD)/default/tests/proto/decode_reader_1_$(1).o: proto/src/decode.c
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  CC [1.$(1) reader] $$<")
	$$(Q)$$(CC) $$(ALL_CFLAGS) $$(VFLAGS_default) -DFA_PROTO__READER_MINOR=$(1) $$(INCLUDES) -c $$< -o $$@
$(BUILD)/default/tests/proto_reader_1_$(1): $(BUILD)/default/tests/proto/compat/test_reader_1_$(1).o \
		$(BUILD)/default/tests/proto/fixtures.o $(BUILD)/default/tests/proto/decode_reader_1_$(1).o \
		$(PROTO_READER_OBJS)
	@$$(if $$(Q),echo "  LD $$@")
	$$(Q)$$(CC) -o $$@ $$^ $$(PROTO_CRITERION_LIBS) $$(LDLIBS_BASE)
endef
$(foreach m,0 1,$(eval $(call proto_reader,$(m))))
.PHONY: test-proto-compat
test-proto-compat: $(BUILD)/default/tests/proto_reader_1_0 $(BUILD)/default/tests/proto_reader_1_1
	@echo "== proto: a 1.0 reader over 1.2 messages, a 1.1 reader over 1.2 HELLOs"
	$(Q)$(BUILD)/default/tests/proto_reader_1_0 --short-filename
	$(Q)$(BUILD)/default/tests/proto_reader_1_1 --short-filename
TEST_STEPS += test-proto-compat

# The independent Python decoder written from PROTOCOL.md: it decodes and
# re-encodes every golden vector, which keeps the spec and the goldens honest.
.PHONY: test-proto-ref
test-proto-ref:
	@echo "== proto reference decoder (PROTOCOL.md)"
	$(Q)python3 tests/proto/ref_decode.py tests/proto/golden fuzz/corpus/capture tests/proto/golden_v1_0 \
		tests/proto/golden_v1_1
TEST_STEPS += test-proto test-proto-asan test-proto-ref

# Golden vectors are committed; regenerate them only after a deliberate
# change of the wire format (then review the diff and PROTOCOL.md).
$(BUILD)/default/tests/proto_gen_golden: $(BUILD)/default/tests/proto/gen_golden.o \
		$(BUILD)/default/tests/proto/fixtures.o $(PROTO_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -o $@ $^ $(LDLIBS_BASE)

.PHONY: proto-golden
proto-golden: $(BUILD)/default/tests/proto_gen_golden
	$(Q)mkdir -p fuzz/corpus/capture
	$(Q)$< tests/proto/golden fuzz/corpus/decode fuzz/corpus/capture

# pkg-config file; the version is the protocol's major.minor.
$(BUILD)/fa-proto.pc: proto/fa-proto.pc.in proto/include/fa_proto.h
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/^#define FA_PROTO_VERSION_MAJOR \([0-9]*\)/\1/p' proto/include/fa_proto.h).$(shell sed -n 's/^#define FA_PROTO_VERSION_MINOR \([0-9]*\)/\1/p' proto/include/fa_proto.h)|g' $< > $@

# The .pc depends on PREFIX, which may differ between make runs: always redo.
.PHONY: install-proto $(BUILD)/fa-proto.pc
install-proto: $(PROTO_A) $(BUILD)/fa-proto.pc
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(PROTO_HDRS) $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(PROTO_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(BUILD)/fa-proto.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
INSTALL_STEPS += install-proto

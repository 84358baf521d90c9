# lib/: libframealloc, static per variant, shared for the default variant.
LIB_SRCS := $(wildcard lib/src/*.c)
LIB_HDRS := $(wildcard lib/include/*.h lib/include/*.hpp)
lib_objs = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(LIB_SRCS))
# $(BUILD)/<variant>/libframealloc.a for every variant.
define lib_variant
$(BUILD)/$(1)/libframealloc.a: $(call lib_objs,$(1))
	@$$(if $$(Q),echo "  AR [$(1)] $$@")
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach v,$(VARIANTS),$(eval $(call lib_variant,$(v))))

LIB_A := $(BUILD)/default/libframealloc.a
LIB_SO := $(BUILD)/default/libframealloc.so
$(LIB_SO): $(call lib_objs,default)
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) -shared -Wl,-soname,libframealloc.so.0 -o $@ $^ $(LDLIBS_BASE)

ALL_TARGETS += $(LIB_A) $(LIB_SO)

$(BUILD)/framealloc.pc: lib/framealloc.pc.in
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/^#define FA_VERSION_STRING "\(.*\)"/\1/p' lib/include/framealloc.h)|g' $< > $@

.PHONY: install-lib $(BUILD)/framealloc.pc
install-lib: $(LIB_A) $(LIB_SO) $(BUILD)/framealloc.pc
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(LIB_HDRS) $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/libframealloc.so.0
	ln -sf libframealloc.so.0 $(DESTDIR)$(PREFIX)/lib/libframealloc.so
	install -m 644 $(BUILD)/framealloc.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
INSTALL_STEPS += install-lib

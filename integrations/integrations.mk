# integrations/: one folder, one static library and one pkg-config package
# per integration, so that a game links only what it uses:
#   integrations/<name>/fa_<name>.h   the public header (installed)
#   integrations/<name>/fa_<name>.c   the code -> libframealloc-<name>.a
#   integrations/<name>/example.c     the README's example (built by make test
#                                     against an installed prefix)
#   framealloc-<name>.pc              Requires: framealloc + the library's .pc
# Tests: tests/integrations/test_<name>.c against the real library, under
# ASan+UBSan (make test-integrations), plus the C++ header's test built with
# g++ and clang++ (make test-cpp).

INTEG_NAMES := lua sdl2 uv cjson sqlite zlib freetype chipmunk ode

# The library's pkg-config name (Chipmunk2D has no .pc file on Debian), the
# libraries to add by hand, and the package's description.
INTEG_PKG_lua := lua5.4
INTEG_PKG_sdl2 := sdl2
INTEG_PKG_uv := libuv
INTEG_PKG_cjson := libcjson
INTEG_PKG_sqlite := sqlite3
INTEG_PKG_zlib := zlib
INTEG_PKG_freetype := freetype2
INTEG_PKG_chipmunk :=
INTEG_PKG_ode := ode
INTEG_LIBS_EXTRA_chipmunk := -lchipmunk -lm
INTEG_DESC_lua := Lua 5.4 states whose memory framealloc counts under a tag
INTEG_DESC_sdl2 := SDL2 allocations counted by framealloc under a tag
INTEG_DESC_uv := libuv allocations counted by framealloc under a tag
INTEG_DESC_cjson := cJSON allocations counted by framealloc under a tag
INTEG_DESC_sqlite := SQLite allocations counted by framealloc under a tag
INTEG_DESC_zlib := zlib stream allocations counted by framealloc under a tag
INTEG_DESC_freetype := FreeType libraries whose memory framealloc counts under a tag
INTEG_DESC_chipmunk := Chipmunk2D contacts and queries in framealloc frame memory
INTEG_DESC_ode := ODE contacts and ray casts in frame memory, ODE allocations under a tag

$(foreach n,$(INTEG_NAMES),$(eval INTEG_CFLAGS_$(n) := $(if $(INTEG_PKG_$(n)),$(shell pkg-config --cflags $(INTEG_PKG_$(n)) 2>/dev/null))))
$(foreach n,$(INTEG_NAMES),$(eval INTEG_LIBS_$(n) := $(if $(INTEG_PKG_$(n)),$(shell pkg-config --libs $(INTEG_PKG_$(n)) 2>/dev/null)) $(INTEG_LIBS_EXTRA_$(n))))

INTEG_VARIANTS := default asan
integ_srcs = $(wildcard integrations/$(1)/fa_*.c)
integ_objs = $(patsubst %.c,$(BUILD)/$(2)/%.o,$(call integ_srcs,$(1)))
INTEG_HDRS := $(foreach n,$(INTEG_NAMES),integrations/$(n)/fa_$(n).h)

# Objects of integration n (and its test) see its library's headers and the
# shared hook helpers.
define integ_rules
$(foreach v,$(VARIANTS),$(eval $(BUILD)/$(v)/integrations/$(1)/%.o: INCLUDES += -Iintegrations/$(1) -Iintegrations/common $(INTEG_CFLAGS_$(1))))
$(foreach v,$(VARIANTS),$(eval $(BUILD)/$(v)/tests/integrations/test_$(1).o: INCLUDES += -Iintegrations/$(1) -Itests/lib -Itests/integrations $(INTEG_CFLAGS_$(1))))
$(foreach v,$(INTEG_VARIANTS),$(eval $(call integ_lib,$(1),$(v))))

$(BUILD)/asan/tests/integ-$(1): $(BUILD)/asan/tests/integrations/test_$(1).o $(BUILD)/asan/libframealloc-$(1).a \
		$(BUILD)/asan/libframealloc.a
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD [asan] $$@")
	$$(Q)$$(CC) $$(VFLAGS_asan) $$(VLDFLAGS_asan) -o $$@ $$^ $$(INTEG_LIBS_$(1)) $$(CRITERION_LIBS) $$(LDLIBS_BASE)

$(BUILD)/framealloc-$(1).pc: integrations/integrations.mk lib/include/framealloc.h
	@mkdir -p $$(@D)
	$$(Q)printf '%s\n' 'prefix=$$(PREFIX)' 'libdir=$$$${prefix}/lib' 'includedir=$$$${prefix}/include' '' \
		'Name: framealloc-$(1)' 'Description: $$(INTEG_DESC_$(1))' 'Version: $$(FA_VERSION)' \
		'Requires: framealloc $$(INTEG_PKG_$(1))' 'Cflags: -I$$$${includedir}' \
		'Libs: -L$$$${libdir} -lframealloc-$(1) $$(INTEG_LIBS_EXTRA_$(1))' > $$@
endef

define integ_lib
$(BUILD)/$(2)/libframealloc-$(1).a: $(call integ_objs,$(1),$(2))
	@$$(if $$(Q),echo "  AR [$(2)] $$@")
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef

$(foreach n,$(INTEG_NAMES),$(eval $(call integ_rules,$(n))))

FA_VERSION := $(shell sed -n 's/^\#define FA_VERSION_STRING "\(.*\)"/\1/p' lib/include/framealloc.h)
INTEG_A := $(foreach n,$(INTEG_NAMES),$(BUILD)/default/libframealloc-$(n).a)
ALL_TARGETS += $(INTEG_A)

INTEG_TESTS := $(foreach n,$(INTEG_NAMES),$(BUILD)/asan/tests/integ-$(n))
.PHONY: test-integrations $(foreach n,$(INTEG_NAMES),test-integ-$(n))
define integ_test
test-integ-$(1): $(BUILD)/asan/tests/integ-$(1)
	@echo "== integrations: $(1) [asan]"
	$$(Q)$$(TEST_ENV_asan) $(BUILD)/asan/tests/integ-$(1) -j2
endef
$(foreach n,$(INTEG_NAMES),$(eval $(call integ_test,$(n))))
test-integrations: $(foreach n,$(INTEG_NAMES),test-integ-$(n))
TEST_STEPS += test-integrations

# The .pc files always follow PREFIX (install-integrations rewrites them).
.PHONY: install-integrations $(foreach n,$(INTEG_NAMES),$(BUILD)/framealloc-$(n).pc)
install-integrations: $(INTEG_A) $(foreach n,$(INTEG_NAMES),$(BUILD)/framealloc-$(n).pc)
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(INTEG_HDRS) $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(INTEG_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(foreach n,$(INTEG_NAMES),$(BUILD)/framealloc-$(n).pc) $(DESTDIR)$(PREFIX)/lib/pkgconfig/
INSTALL_STEPS += install-integrations

# The C++ header (lib/include/framealloc.hpp): one test program built with
# g++ and clang++ in C++17 (ASan+UBSan) and C++20 (FA_DEBUG library, for the
# call sites), and a program that must not compile (frame_new of a type with
# a destructor).
CLANGXX ?= clang++
HPP_TEST := tests/cpp/test_framealloc_hpp.cpp
HPP_FLAGS := -Wall -Wextra -pedantic -Werror -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=undefined -Ilib/include
HPP_BINS := $(BUILD)/cpp/hpp-gxx17 $(BUILD)/cpp/hpp-clangxx17 $(BUILD)/cpp/hpp-gxx20 $(BUILD)/cpp/hpp-clangxx20
hpp_cxx = $(if $(findstring clangxx,$(1)),$(CLANGXX),$(CXX))
hpp_std = $(if $(findstring 20,$(1)),-std=c++20 -DFA_DEBUG,-std=c++17)
hpp_lib = $(if $(findstring 20,$(1)),$(BUILD)/debug/libframealloc.a,$(BUILD)/asan/libframealloc.a)
define hpp_bin
$(BUILD)/cpp/$(1): $(HPP_TEST) lib/include/framealloc.hpp $(LIB_HDRS) $(call hpp_lib,$(1))
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  CXX $$@")
	$$(Q)$(call hpp_cxx,$(1)) $(call hpp_std,$(1)) $$(HPP_FLAGS) $$< $(call hpp_lib,$(1)) -lpthread -o $$@
endef
$(foreach b,gxx17 clangxx17 gxx20 clangxx20,$(eval $(call hpp_bin,hpp-$(b))))
# Engines build with -fno-exceptions -fno-rtti: the header must work there.
HPP_NORTTI_BINS := $(BUILD)/cpp/hpp-nortti-gxx $(BUILD)/cpp/hpp-nortti-clangxx
$(BUILD)/cpp/hpp-nortti-%: tests/cpp/no_rtti.cpp lib/include/framealloc.hpp $(LIB_HDRS) $(BUILD)/asan/libframealloc.a
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CXX $@")
	$(Q)$(if $(findstring clangxx,$*),$(CLANGXX),$(CXX)) -std=c++17 -fno-exceptions -fno-rtti $(HPP_FLAGS) $< \
		$(BUILD)/asan/libframealloc.a -lpthread -o $@

.PHONY: test-cpp
test-cpp: $(HPP_BINS) $(HPP_NORTTI_BINS)
	@echo "== framealloc.hpp with g++ and clang++ [asan]"
	$(Q)for b in $(HPP_BINS) $(HPP_NORTTI_BINS); do $(TEST_ENV_asan) $$b || exit 1; done
	$(Q)for cxx in $(CXX) $(CLANGXX); do \
		if $$cxx -std=c++17 -Ilib/include -c tests/cpp/frame_new_rejects.cpp -o /dev/null 2> $(BUILD)/cpp/rejects.log; then \
			echo "frame_new accepted a type with a destructor ($$cxx)"; exit 1; fi; \
		grep -q "trivially destructible" $(BUILD)/cpp/rejects.log || { cat $(BUILD)/cpp/rejects.log; exit 1; }; \
	done; echo "frame_new rejects a type with a destructor: g++ and clang++"
	$(Q)for cxx in $(CXX) $(CLANGXX); do for n in $(INTEG_NAMES); do \
		echo "#include <fa_$$n.h>" | $$cxx -std=c++17 -Wall -Wextra -pedantic -Werror -fsyntax-only -x c++ \
			-Ilib/include -Iintegrations/$$n $(foreach n,$(INTEG_NAMES),$(INTEG_CFLAGS_$(n))) - || exit 1; \
	done; done; echo "every integration header compiles as C++17: g++ and clang++"
TEST_STEPS += test-cpp

# make bench-integrations: contact collection on real Chipmunk2D and ODE
# scenes (frame vector vs malloc'd array vs one malloc per contact), the
# integrations' step cost, Lua through fa_lua vs Lua's default allocator.
# One binary per malloc (glibc, mimalloc) for the malloc strategies.
BENCH_INTEG_ARGS ?=
BENCH_INTEG_LIBS := $(BUILD)/default/libframealloc-chipmunk.a $(BUILD)/default/libframealloc-ode.a \
                    $(BUILD)/default/libframealloc-lua.a $(LIB_A)
BENCH_INTEG_LDLIBS := $(INTEG_LIBS_chipmunk) $(INTEG_LIBS_ode) $(INTEG_LIBS_lua) -ldl $(LDLIBS_BASE)
$(BUILD)/bench/obj/bench_integrations.o: bench/bench_integrations.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC [bench] $@")
	$(Q)$(CC) $(ALL_CFLAGS) -O2 $(INCLUDES) -Iintegrations/chipmunk -Iintegrations/ode -Iintegrations/lua \
		$(INTEG_CFLAGS_lua) -c $< -o $@
$(BUILD)/bench/bench-integ-glibc: $(BUILD)/bench/obj/bench_integrations.o $(BENCH_INTEG_LIBS)
	$(Q)$(CC) -o $@ $^ $(BENCH_INTEG_LDLIBS)
$(BUILD)/bench/bench-integ-mimalloc: $(BUILD)/bench/obj/bench_integrations.o $(BENCH_INTEG_LIBS)
	$(Q)$(CC) -o $@ $^ -lmimalloc $(BENCH_INTEG_LDLIBS)
.PHONY: bench-integrations
bench-integrations: $(BUILD)/bench/bench-integ-glibc $(BUILD)/bench/bench-integ-mimalloc
	@echo "== integrations benchmark [glibc]"
	$(Q)$(BUILD)/bench/bench-integ-glibc $(BENCH_INTEG_ARGS)
	@echo "== integrations benchmark [mimalloc]"
	$(Q)$(BUILD)/bench/bench-integ-mimalloc $(BENCH_INTEG_ARGS)
BENCH_STEPS += bench-integrations

# make install into a scratch prefix, then build each integration's README
# example with its pkg-config package alone, run it, check what it links.
.PHONY: test-install-integrations
test-install-integrations: all
	@echo "== install + pkg-config: integrations"
	$(Q)rm -rf $(BUILD)/install-integ
	$(Q)$(MAKE) --no-print-directory -s install PREFIX=$(CURDIR)/$(BUILD)/install-integ >/dev/null
	$(Q)tests/install/integrations.sh $(CURDIR)/$(BUILD)/install-integ
TEST_STEPS += test-install-integrations

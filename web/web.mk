# web/: the live dashboard that fa-insightd serves (--web-root web), and its
# browser tests.
#
#   make web-assets   npm packages (web/node_modules, from the committed
#                     package-lock.json) and web/vendor/ (uPlot, served by
#                     the daemon: nothing is loaded from the internet)
#   make test-web-security  a page on another origin, the token prompt
#   make test-web-compare   the compare view (two sessions, the diff, trends)
#   make test-web     headless Debian chromium driven by playwright-core
#                     against a real daemon fed by a real agent
#                     (tests/web/run.mjs), then test-web-lint; screenshots in
#                     build/web-screenshots/
#   make test-web-lint  fa-lint's report beside the seeded demo's call sites
#                     (tests/web/lint.mjs)
#
# node_modules is installed only when missing or older than the lock file.

WEB_NPM_STAMP := web/node_modules/.installed
WEB_VENDOR := web/vendor/uPlot.esm.js web/vendor/uPlot.min.css
WEB_MANIFEST := web/MANIFEST
WEB_FEEDER := $(BUILD)/tests/web/feeder
WEB_INSIGHTD ?= $(BUILD)/fa-insightd
WEB_CHROMIUM ?= /usr/bin/chromium

$(WEB_NPM_STAMP): web/package.json web/package-lock.json
	@echo "  NPM web/node_modules"
	$(Q)cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null
	$(Q)touch $@

web/vendor/uPlot.esm.js: $(WEB_NPM_STAMP)
	@mkdir -p $(@D)
	$(Q)cp web/node_modules/uplot/dist/uPlot.esm.js $@
web/vendor/uPlot.min.css: $(WEB_NPM_STAMP)
	@mkdir -p $(@D)
	$(Q)cp web/node_modules/uplot/dist/uPlot.min.css $@

.PHONY: web-assets
web-assets: $(WEB_VENDOR)
ALL_TARGETS += $(WEB_VENDOR)

# The feeder: a small game loop with the agent (tests/web/feeder.c).
$(WEB_FEEDER): tests/web/feeder.c $(AGENT_A) $(LIB_A)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC $@")
	$(Q)$(CC) $(STD) $(WARN) $(DEFS) -O2 -g -Ilib/include -Ifa-agent/include -o $@ $< $(AGENT_A) $(LIB_A) \
		$(AGENT_LDLIBS) -lm

# test-web runs tests/web/lint.mjs (test-web-lint, below) after run.mjs, not
# beside it: a second browser and the demo on the shared 2 cores under
# make -j2 made run.mjs's timed steps late.
.PHONY: test-web
test-web: $(WEB_VENDOR) $(WEB_MANIFEST) $(WEB_FEEDER) $(WEB_INSIGHTD) $(INSIGHTD_SENDER) $(DEMO_SEEDED) \
		$(DEMO_SEEDED_SARIF)
	@echo "== web: dashboard in headless chromium (playwright-core) against fa-insightd + agent"
	$(Q)FA_INSIGHTD=$(WEB_INSIGHTD) FA_FEEDER=$(WEB_FEEDER) FA_SENDER=$(INSIGHTD_SENDER) FA_CHROMIUM=$(WEB_CHROMIUM) \
		FA_SCREENSHOTS=$(BUILD)/web-screenshots node tests/web/run.mjs
	$(Q)$(MAKE) --no-print-directory test-web-lint
# Who may read the daemon from a browser: a page on another origin is
# refused the WebSocket and the API; a daemon with --token-file makes the
# dashboard ask for the token (tests/web/security.mjs, issues 14 and 20).
.PHONY: test-web-security
test-web-security: $(WEB_VENDOR) $(WEB_MANIFEST) $(WEB_INSIGHTD)
	@echo "== web: origin and token in headless chromium (tests/web/security.mjs)"
	$(Q)FA_INSIGHTD=$(WEB_INSIGHTD) FA_CHROMIUM=$(WEB_CHROMIUM) FA_SCREENSHOTS=$(BUILD)/web-screenshots \
		node tests/web/security.mjs
# The Where panel (call sites, issue 15): a daemon with --source-root fed by
# the call-site game (known lines) and the feeder (markup in names).
.PHONY: test-web-where
test-web-where: $(WEB_VENDOR) $(WEB_MANIFEST) $(WEB_FEEDER) $(WEB_INSIGHTD) $(INSIGHTD_SITES_GAME) $(INSIGHTD_SENDER)
	@echo "== web: the Where panel, call sites and their source (tests/web/where.mjs)"
	$(Q)FA_INSIGHTD=$(WEB_INSIGHTD) FA_FEEDER=$(WEB_FEEDER) FA_SITES_GAME=$(INSIGHTD_SITES_GAME) FA_SENDER=$(INSIGHTD_SENDER) \
		FA_CHROMIUM=$(WEB_CHROMIUM) FA_SCREENSHOTS=$(BUILD)/web-screenshots node tests/web/where.mjs
# The compare view: two fa-demo captures (one leaking) imported and compared
# in the page (tests/web/compare.mjs).
.PHONY: test-web-compare
test-web-compare: $(WEB_VENDOR) $(WEB_MANIFEST) $(WEB_INSIGHTD) $(BUILD)/fa-demo
	@echo "== web: the compare view in headless chromium (tests/web/compare.mjs)"
	$(Q)FA_INSIGHTD=$(WEB_INSIGHTD) FA_DEMO=$(BUILD)/fa-demo FA_CHROMIUM=$(WEB_CHROMIUM) \
		FA_SCREENSHOTS=$(BUILD)/web-screenshots node tests/web/compare.mjs
# fa-lint's report beside the runtime call site of the same line: the demo
# with its seeded mistake and fa-lint's SARIF of it (examples.mk), the
# daemon reading that report (tests/web/lint.mjs, issue 18).
.PHONY: test-web-lint
test-web-lint: $(WEB_VENDOR) $(WEB_MANIFEST) $(WEB_INSIGHTD) $(DEMO_SEEDED) $(DEMO_SEEDED_SARIF)
	@echo "== web: static findings next to the call sites (tests/web/lint.mjs)"
	$(Q)FA_INSIGHTD=$(WEB_INSIGHTD) FA_CHROMIUM=$(WEB_CHROMIUM) FA_SCREENSHOTS=$(BUILD)/web-screenshots \
		FA_DEMO_SEEDED=$(DEMO_SEEDED) FA_DEMO_SARIF=$(DEMO_SEEDED_SARIF) node tests/web/lint.mjs
# The daemon's fragment brings the rule for $(WEB_INSIGHTD); the browser
# tests join `make test` as soon as it is in the tree.
ifneq ($(wildcard fa-insightd/fa-insightd.mk),)
TEST_STEPS += test-web test-web-security test-web-where test-web-compare
endif

# Screenshots with the demo game running, for a human (not a test).
.PHONY: web-demo-shot
web-demo-shot: $(WEB_VENDOR) $(WEB_MANIFEST) $(WEB_INSIGHTD) $(BUILD)/fa-demo $(BUILD)/fa-cli
	$(Q)FA_INSIGHTD=$(WEB_INSIGHTD) FA_DEMO=$(BUILD)/fa-demo FA_CLI=$(BUILD)/fa-cli FA_CHROMIUM=$(WEB_CHROMIUM) \
		FA_SCREENSHOTS=$(BUILD)/web-screenshots node tests/web/demo-shot.mjs

# make install: the page, its modules and vendor/ (never node_modules or the
# build files) into share/framealloc/web, where an installed fa-insightd
# looks for them.
#
# web/MANIFEST names them, one per line: fa-insightd serves those files and
# nothing else of its web root (never package.json, web.mk, node_modules/
# of a source tree used as web root). It is rewritten only when the list
# changes.
WEB_INSTALL_FILES := web/index.html web/fleet.html $(wildcard web/*.css) $(wildcard web/*.js)
.PHONY: web-manifest-force
web-manifest-force:
$(WEB_MANIFEST): web-manifest-force
	@printf '%s\n' $(patsubst web/%,%,$(WEB_INSTALL_FILES) $(WEB_VENDOR)) > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@
	@rm -f $@.tmp
ALL_TARGETS += $(WEB_MANIFEST)
# Everything that runs a daemon on this web/ (defined before this file).
soak-insightd: $(WEB_VENDOR) $(WEB_MANIFEST)
$(INSIGHTD_BIN): | $(WEB_MANIFEST)
.PHONY: install-web
install-web: $(WEB_VENDOR) $(WEB_MANIFEST)
	install -d $(DESTDIR)$(PREFIX)/share/framealloc/web/vendor
	install -m 644 $(WEB_INSTALL_FILES) $(WEB_MANIFEST) $(DESTDIR)$(PREFIX)/share/framealloc/web/
	install -m 644 $(WEB_VENDOR) $(DESTDIR)$(PREFIX)/share/framealloc/web/vendor/
INSTALL_STEPS += install-web

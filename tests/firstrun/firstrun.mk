# tests/firstrun/: a newcomer's first hour, as issue 14 found it: the
# daemon's start-up errors, `make demo` stopped with Ctrl-C (also under a
# pipe) and every command of README.md run as written in a clean prefix.
#
#   make test-firstrun

.PHONY: test-firstrun
test-firstrun: all
	@echo "== first run: fa-insightd start-up errors"
	$(Q)python3 tests/firstrun/daemon_start.py --daemon $(BUILD)/fa-insightd
TEST_STEPS += test-firstrun

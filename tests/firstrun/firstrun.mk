# tests/firstrun/: a newcomer's first hour, as issue 14 found it: the
# daemon's start-up errors, `make demo` stopped with Ctrl-C (also under a
# pipe) in tmux, and every command of README.md run as written in a clean
# prefix and private network and /var/lib namespaces (unshare).
#
#   make test-firstrun

.PHONY: test-firstrun
test-firstrun: all
	@echo "== first run: fa-insightd start-up errors"
	$(Q)python3 tests/firstrun/daemon_start.py --daemon $(BUILD)/fa-insightd
	@echo "== first run: make demo and Ctrl-C in tmux (plain and under a pipe)"
	$(Q)python3 tests/firstrun/demo.py --build $(BUILD)
	@echo "== first run: every README command as written (clean HOME, own network namespace)"
	$(Q)python3 tests/firstrun/readme.py
TEST_STEPS += test-firstrun

#!/usr/bin/env python3
"""`make demo` stopped the way a person stops it: Ctrl-C in a terminal (an
interactive bash in tmux), plain and under a pipe (issue 14). The demo game
must say goodbye (its session ends with a BYE, fa_agent_stop returns FA_OK)
before the daemon stops; make must exit 0 without an "Interrupt" error; no
pid file and no WAL may be left.

usage: demo.py --build build
The last line is "N passed, N failed"; the exit status is 1 on any failure.
"""
import argparse
import contextlib
import os
import re
import shutil
import sqlite3
import sys
import tempfile

from harness import Checks, Tmux, free_ports, wait_for

TREE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def demo_stopped_with_ctrl_c(build, tmux, pipe):
    tmp = tempfile.mkdtemp(prefix="fa-demo-test-")
    name = "demo-pipe" if pipe else "demo"
    http, ingest = free_ports(2)
    demo_dir = os.path.join(tmp, "demo")
    tmux("new-session", "-d", "-s", name, "-x", "200", "-y", "50", "env -i PATH=%s HOME=%s TERM=xterm LANG=C.UTF-8 "
         "PS1='READY> ' bash --norc --noprofile" % (os.environ["PATH"], tmp))
    try:
        cmd = ("cd %s && FA_DEMO_HTTP=127.0.0.1:%d FA_DEMO_INGEST=tcp://127.0.0.1:%d FA_DEMO_DIR=%s "
               "make --no-print-directory BUILD=%s demo%s" % (TREE, http, ingest, demo_dir, build,
                                                              " 2>&1 | cat" if pipe else ""))
        wait_for("the shell", lambda: "READY>" in tmux.screen(name), 10)
        tmux("send-keys", "-t", name, cmd, "Enter")
        wait_for("the demo banner", lambda: "Press Ctrl-C to stop" in tmux.screen(name), 120)
        db = os.path.join(demo_dir, "fa-insight.db")

        def frames():
            try:
                # Closed at once: an open reader would keep the daemon's WAL alive.
                with contextlib.closing(sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=1)) as c:
                    return c.execute("SELECT SUM(frames) FROM sessions").fetchone()[0] or 0
            except sqlite3.Error:
                return 0
        wait_for("frames stored", lambda: frames() > 60, 30)
        tmux("send-keys", "-t", name, "C-c")
        # The prompt is back once make (and the pipe) ended; then ask how.
        wait_for("the prompt after Ctrl-C", lambda: re.search(r"\^C(.|\n)*READY> *$", tmux.screen(name).rstrip() + " "),
                 60)
        tmux("send-keys", "-t", name, "echo EXIT=${PIPESTATUS[*]}", "Enter")
        screen = wait_for("the exit status", lambda: (lambda s: s if re.search(r"EXIT=\d", s) else None)(
            tmux.screen(name)), 10)
        status = re.search(r"EXIT=([\d ]+)", screen).group(1).split()
        assert "Interrupt" not in screen and "make: ***" not in screen, "make reported an error:\n%s" % screen
        assert set(status) == {"0"}, "exit statuses %s (make%s):\n%s" % (status, " | cat" if pipe else "", screen)
        assert "run-demo: stopped" in screen, "the clean-up did not finish:\n%s" % screen
        log = open(os.path.join(demo_dir, "fa-demo-1.log"), errors="replace").read()
        assert "stop=FA_OK" in log, "the demo did not say goodbye (%s)" % log.strip()[-300:]
        left = sorted(f for f in os.listdir(demo_dir) if f.endswith((".pid", "-wal", "-shm")))
        assert not left, "left behind: %s" % left
        with contextlib.closing(sqlite3.connect("file:%s?mode=ro" % db, uri=True)) as c:
            reasons = [r[0] for r in c.execute("SELECT end_reason FROM sessions")]
        assert reasons == ["bye"], "the session ended as %s, not with its BYE" % reasons
    finally:
        tmux("kill-session", "-t", name)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    tmux = Tmux("fa-firstrun")
    checks = Checks()
    try:
        for name, pipe in (("make demo, Ctrl-C: goodbye first, no make error, nothing left", False),
                           ("make demo | cat, Ctrl-C: the same under a pipe", True)):
            checks.check(name, lambda pipe=pipe: demo_stopped_with_ctrl_c(build, tmux, pipe))
    finally:
        tmux.close()
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())

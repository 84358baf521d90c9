#!/usr/bin/env python3
"""fa-insightd's start as a newcomer meets it (issue 14): --db in a directory
that does not exist yet, a port already in use, and each fatal error said
once.

usage: daemon_start.py --daemon build/fa-insightd
The last line is "N passed, N failed"; the exit status is 1 on any failure.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

from harness import Checks, free_ports


def free_port():
    return free_ports(1)[0]


class T:
    def __init__(self, daemon):
        self.daemon = os.path.abspath(daemon)
        self.tmp = tempfile.mkdtemp(prefix="fa-firstrun-")

    def start(self, *args, wait_ready=True):
        http, ingest = free_port(), free_port()
        argv = [self.daemon, "--listen", "127.0.0.1:%d" % http, "--ingest", "tcp://127.0.0.1:%d" % ingest]
        argv += list(args)
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.tmp, text=True)
        return p

    def run(self, *args, timeout=20):
        p = subprocess.run([self.daemon] + list(args), capture_output=True, text=True, cwd=self.tmp,
                           timeout=timeout)
        return p


def stop(p):
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=20)
    return out, err


def test_db_parent_is_created(t):
    db = os.path.join(t.tmp, "new", "deeper", "insight.db")
    p = t.start("--db", db)
    line = p.stdout.readline()
    assert "ready" in line, "no ready line: %r; stderr: %s" % (line, p.stderr.read() if p.poll() is not None else "")
    out, err = stop(p)
    assert p.returncode == 0, err
    assert os.path.isfile(db), "no database at %s" % db


def test_db_parent_that_cannot_be_made_is_named(t):
    blocker = os.path.join(t.tmp, "a-file")
    open(blocker, "w").close()
    db = os.path.join(blocker, "sub", "insight.db")
    p = t.run("--listen", "127.0.0.1:%d" % free_port(), "--ingest", "tcp://127.0.0.1:%d" % free_port(), "--db", db)
    assert p.returncode != 0, p
    lines = [l for l in p.stderr.splitlines() if "not a directory" in l.lower()]
    assert len(lines) == 1, "the fatal error is not said exactly once: %r" % p.stderr
    assert blocker in lines[0] and "--db" in lines[0], lines[0]


def occupied(kind):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s


def test_port_in_use_leaves_nothing_and_says_what_to_do(t):
    for which in ("listen", "ingest"):
        busy = occupied(which)
        port = busy.getsockname()[1]
        d = os.path.join(t.tmp, "busy-%s" % which)
        os.mkdir(d)
        db = os.path.join(d, "insight.db")
        listen = "127.0.0.1:%d" % (port if which == "listen" else free_port())
        ingest = "tcp://127.0.0.1:%d" % (port if which == "ingest" else free_port())
        p = t.run("--listen", listen, "--ingest", ingest, "--db", db)
        busy.close()
        assert p.returncode == 1, "exit %d: %s" % (p.returncode, p.stderr)
        left = os.listdir(d)
        assert left == [], "database files left behind: %s" % left
        lines = [l for l in p.stderr.splitlines() if "in use" in l]
        assert len(lines) == 1, "the fatal error is not said exactly once: %r" % p.stderr
        assert str(port) in lines[0], lines[0]
        assert "--%s" % which in lines[0], "no hint to choose another --%s: %s" % (which, lines[0])


def test_an_existing_database_is_kept_when_the_start_fails(t):
    d = os.path.join(t.tmp, "keep")
    db = os.path.join(d, "insight.db")
    p = t.start("--db", db)
    assert "ready" in p.stdout.readline()
    stop(p)
    before = os.path.getsize(db)
    busy = occupied("listen")
    r = t.run("--listen", "127.0.0.1:%d" % busy.getsockname()[1], "--db", db,
              "--ingest", "tcp://127.0.0.1:%d" % free_port())
    busy.close()
    assert r.returncode == 1
    assert os.path.isfile(db) and os.path.getsize(db) >= before, "an earlier database was removed"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", required=True)
    args = ap.parse_args()
    t = T(args.daemon)
    checks = Checks()
    for name, fn in (
            ("--db in a missing directory: the directory is created", test_db_parent_is_created),
            ("--db under a file: one line names the path that is not a directory",
             test_db_parent_that_cannot_be_made_is_named),
            ("port in use: no database files left, one line with the port and --listen/--ingest",
             test_port_in_use_leaves_nothing_and_says_what_to_do),
            ("a failed start keeps an earlier database", test_an_existing_database_is_kept_when_the_start_fails)):
        checks.check(name, lambda fn=fn: fn(t))
    shutil.rmtree(t.tmp, ignore_errors=True)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())

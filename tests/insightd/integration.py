#!/usr/bin/env python3
"""integration.py -- fa-insightd end to end, with the real daemon.

Starts the daemon on free ports (--listen/--ingest port 0: the daemon binds
and prints the ports it got on its "ready" line) with a temporary store
and web root, feeds it with tests/insightd/sender.c (proto-encoded messages
over nng PUSH) and checks the HTTP API, the static files and the WebSocket
stream from the outside. Python standard library only: http.client for
exact request targets, a minimal WebSocket client over socket, sqlite3 (or
psql) to look at what was stored.

Every test runs on either store: --store sqlite (a file per daemon, the
default) or --store postgresql (a throwaway server for the run, a database
per daemon: pgserver.py). A test about one store's own machinery (a file's
permissions, the WAL) checks the other store's counterpart instead.

    python3 tests/insightd/integration.py --daemon build/asan/fa-insightd/fa-insightd \
        --sender build/default/tests/insightd_sender [--agent-game PATH] [--store postgresql] [-k NAME]

The last line is "N passed, N failed" (skipped tests are listed, not counted).
"""
import argparse
import base64
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ARGS = None
TMP = None
PG = None  # the PostgreSQL server of a --store postgresql run


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def eq(got, want, what):
    if got != want:
        raise Fail(f"{what}: got {got!r}, want {want!r}")


def wait_for(pred, timeout, what, step=0.05):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(step)
    raise Fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


# ---------------------------------------------------------------------------
# The daemon

ALL_DAEMONS = []
ALL_SENDERS = []


def pg():
    return ARGS.store == "postgresql"


def new_store(name, directory=None):
    """A store nobody used yet: a file in directory, or a new database."""
    if pg():
        return PG.uri(PG.create_db("it"))
    return os.path.join(directory or tempfile.mkdtemp(prefix=f"{name}-", dir=TMP), "insight.db")


def db_name(uri):
    """The database of a postgresql:// URI."""
    return uri.split("/")[3].split("?")[0]


def db_rows(location, sql):
    """The rows of a query on a store (as tuples of ints where they are)."""
    if location.startswith("postgresql://"):
        db = db_name(location)
        return [tuple(int(v) if v.lstrip("-").isdigit() else v for v in row) for row in PG.psql(db, sql)]
    con = sqlite3.connect(location, timeout=30)
    try:
        rows = con.execute(sql).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def db_value(location, sql):
    return db_rows(location, sql)[0][0]


TIMED_TABLES = ("frames", "rollup_1s", "rollup_10s", "rollup_1m", "findings")


def db_partitions(location, table, lo, hi):
    """PostgreSQL: the partitions rows between lo and hi (ms) will need."""
    if location.startswith("postgresql://"):
        db_rows(location, f"SELECT fa_partition('{table}', {int(lo)}, {int(hi)})")


def shift_times(location, ms):
    """Moves everything stored ms into the past (the daemon stopped)."""
    for table in TIMED_TABLES:
        lo, hi = db_rows(location, f"SELECT min(t_ms), max(t_ms) FROM {table}")[0]
        if lo in (None, "") or hi in (None, ""):
            continue
        db_partitions(location, table, int(lo) - ms, int(hi) - ms)
        db_rows(location, f"UPDATE {table} SET t_ms = t_ms - {ms}")
    db_rows(location, f"UPDATE sessions SET first_ms = first_ms - {ms}, last_ms = last_ms - {ms},"
                      f" last_seen_ms = last_seen_ms - {ms}, ended_ms = ended_ms - {ms}")


class Daemon:
    def __init__(self, name, extra=(), db=None, web_root=None, env=None, expect_ready=True, wrapper=(),
                 preexec=None):
        self.dir = tempfile.mkdtemp(prefix=f"{name}-", dir=TMP)
        self.db = db or new_store(name, self.dir)
        self.web_root = web_root if web_root is not None else make_web_root(self.dir)
        args = list(wrapper) + [ARGS.daemon, "--listen", "127.0.0.1:0", "--ingest", "tcp://127.0.0.1:0",
                                "--store", self.db, "--web-root", self.web_root] + list(extra)
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.stderr = open(self.stderr_path, "wb")
        e = dict(os.environ)
        # ASan's leak check runs when the process exits; nng keeps a few
        # process-lifetime allocations, so the daemon is checked by the unit
        # tests under LSan and only for memory errors here.
        # A small quarantine keeps ASan's RSS close to the real one.
        e.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1:quarantine_size_mb=16")
        e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        if ARGS.tsan:
            supp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tsan.supp")
            e.setdefault("TSAN_OPTIONS", f"halt_on_error=0:second_deadlock_stack=1:history_size=4:suppressions={supp}")
        if env:
            e.update(env)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr, env=e, preexec_fn=preexec)
        ALL_DAEMONS.append(self)
        self.http = self.ws_url = self.ingest = None
        if expect_ready:
            self._wait_ready()

    def _wait_ready(self):
        line = b""
        deadline = time.time() + 15
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(rb"ready http=(https?)://([^ ]+) ws=([^ ]+) ingest=([^ ]+)", line)
            if m:
                self.hostport = m.group(2).decode()
                self.port = int(self.hostport.rsplit(":", 1)[1])
                self.http = m.group(1).decode() + "://" + self.hostport
                self.ws_url = m.group(3).decode()
                self.ingest = m.group(4).decode()
                return
        raise Fail(f"daemon did not become ready: {line!r}; stderr: {self.log()[-2000:]}")

    def log(self):
        if not self.stderr.closed:
            self.stderr.flush()
        with open(self.stderr_path, "r", errors="replace") as f:
            return f.read()

    def request(self, method, path, headers=None, body=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            hdrs = {"Host": self.hostport}
            hdrs.update(headers or {})
            for k, v in hdrs.items():
                c.putheader(k, v)
            if body is not None:
                c.putheader("Content-Length", str(len(body)))
            c.endheaders(body)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def get(self, path, want=200):
        status, headers, data = self.request("GET", path)
        if want is not None and status != want:
            raise Fail(f"GET {path}: status {status}, want {want}: {data[:300]!r}")
        ctype = headers.get("content-type", "")
        if ctype.startswith("application/json"):
            return json.loads(data)
        return data

    def health(self):
        return self.get("/api/v1/health")

    def send(self, *args, check_rc=True):
        cmd = [ARGS.sender, "--url", self.ingest] + [str(a) for a in args]
        r = subprocess.run(cmd, capture_output=True, timeout=120)
        if check_rc and r.returncode != 0:
            raise Fail(f"sender failed: {r.stderr.decode()}")
        return r.stdout.decode()

    def spawn(self, *args, **kw):
        """A sender running in the background."""
        kw.setdefault("stdout", subprocess.DEVNULL)
        p = subprocess.Popen([ARGS.sender, "--url", self.ingest] + [str(a) for a in args], **kw)
        ALL_SENDERS.append(p)
        return p

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stacks = ""
            if shutil.which("gdb"):  # where it hangs, for the failure message
                r = subprocess.run(["gdb", "-p", str(self.proc.pid), "-batch", "-ex", "thread apply all bt 12"],
                                   capture_output=True, text=True, timeout=60)
                stacks = "\n".join(x for x in r.stdout.splitlines() if x.startswith(("#", "Thread")))
            self.proc.kill()
            self.proc.wait()
            raise Fail(f"daemon did not exit within {timeout}s after signal {sig}; log: {self.log()[-1500:]}"
                       f"\nstacks:\n{stacks[-40000:]}")
        self.stderr.close()
        if ARGS.tsan and "WARNING: ThreadSanitizer" in self.log():
            log = self.log()
            at = log.find("WARNING: ThreadSanitizer")
            raise Fail(f"ThreadSanitizer report in the daemon's log:\n{log[at:at + 6000]}")
        return rc

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def wait_stored(self, n, timeout=10):
        return wait_for(lambda: self.health()["ingest"]["stored"] >= n and self.health(), timeout,
                        f"{n} frames stored")


def make_web_root(parent):
    root = os.path.join(parent, "web")
    os.makedirs(os.path.join(root, "sub"), exist_ok=True)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!doctype html><title>fa</title><p>dashboard</p>\n")
    with open(os.path.join(root, "style.css"), "w") as f:
        f.write("body { color: black }\n")
    with open(os.path.join(root, "app.js"), "w") as f:
        f.write("console.log('fa');\n")
    with open(os.path.join(root, "sub", "index.html"), "w") as f:
        f.write("<p>sub</p>\n")
    with open(os.path.join(root, "package.json"), "w") as f:  # a source file: never served
        f.write('{"name": "not served"}\n')
    with open(os.path.join(root, "MANIFEST"), "w") as f:  # what the build writes (web/web.mk)
        f.write("index.html\nstyle.css\napp.js\nsub/index.html\nescape.txt\n")
    secret = os.path.join(parent, "secret.txt")
    with open(secret, "w") as f:
        f.write("TOP SECRET\n")
    link = os.path.join(root, "escape.txt")
    if not os.path.lexists(link):
        os.symlink(secret, link)
    return root


# ---------------------------------------------------------------------------
# A minimal WebSocket client (RFC 6455), enough for the tests

class WS:
    def __init__(self, d, path="/ws", proto=None, host=None, rcvbuf=None, timeout=5, headers=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", d.port))
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: {host or d.hostport}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
        if proto:
            req += f"Sec-WebSocket-Protocol: {proto}\r\n"
        for k, v in (headers or {}).items():
            req += f"{k}: {v}\r\n"
        self.sock.sendall((req + "\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, self.buf = data.partition(b"\r\n\r\n")
        self.head = head.decode(errors="replace")
        self.status = int(self.head.split(" ")[1]) if self.head.startswith("HTTP/") else 0
        self.body_after = self.buf

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def recv_frame(self):
        self._need(2)
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4)
            n, off = struct.unpack(">H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10)
            n, off = struct.unpack(">Q", self.buf[2:10])[0], 10
        self._need(off + n)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return b0 & 0x0F, payload

    def recv(self, timeout=5):
        """The next JSON message (None on timeout)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                op, payload = self.recv_frame()
                if op == 1 or op == 2:
                    return json.loads(payload)
                if op == 8:
                    raise EOFError("close frame")
                if op == 9:
                    self.send_frame(0xA, payload)
        except socket.timeout:
            return None

    def recv_until(self, pred, timeout, what):
        deadline = time.time() + timeout
        seen = []
        while time.time() < deadline:
            m = self.recv(max(0.05, deadline - time.time()))
            if m is None:
                continue
            seen.append(m)
            if pred(m):
                return m, seen
        raise Fail(f"websocket: no {what} within {timeout}s (got types {[x.get('type') for x in seen][-20:]})")

    def send_frame(self, op, payload):
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([0x80 | op])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        self.sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def send(self, obj):
        self.send_frame(1, json.dumps(obj).encode() if not isinstance(obj, (bytes, str)) else
                        (obj.encode() if isinstance(obj, str) else obj))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# Tests

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Skip(Exception):
    pass


SHARED = {}


def shared():
    """One daemon for the tests that only add their own sessions."""
    if "d" not in SHARED:
        SHARED["d"] = Daemon("shared")
    return SHARED["d"]


def session_of(out):
    return re.search(r"session=([0-9a-f]{16})", out).group(1)


@test
def program_help_version_and_flags():
    r = subprocess.run([ARGS.daemon, "--help"], capture_output=True, timeout=10)
    eq(r.returncode, 0, "--help exit code")
    check(b"Usage: fa-insightd" in r.stdout and b"--allow-remote" in r.stdout, "--help lists the options")
    r = subprocess.run([ARGS.daemon, "--version"], capture_output=True, timeout=10)
    eq(r.returncode, 0, "--version exit code")
    check(re.match(rb"fa-insightd \d+\.\d+\.\d+", r.stdout), f"--version prints it: {r.stdout!r}")
    for bad, word in [(["--bogus"], b"--bogus"), (["--ws-rate", "0"], b"--ws-rate"),
                      (["--retention", "forever"], b"--retention"), (["--listen", "nowhere"], b"--listen"),
                      (["--ingest", "http://x"], b"--ingest"), (["extra"], b"extra")]:
        r = subprocess.run([ARGS.daemon] + bad, capture_output=True, timeout=10)
        eq(r.returncode, 2, f"exit code for {bad}")
        check(word in r.stderr, f"error for {bad} names it: {r.stderr!r}")


@test
def listening_beyond_loopback_needs_allow_remote():
    r = subprocess.run([ARGS.daemon, "--listen", "0.0.0.0:0", "--db", os.path.join(TMP, "x.db")],
                       capture_output=True, timeout=10)
    eq(r.returncode, 2, "exit code without --allow-remote")
    check(b"--allow-remote" in r.stderr, "the error names --allow-remote")
    r = subprocess.run([ARGS.daemon, "--listen", "0.0.0.0:0", "--allow-remote", "--db", os.path.join(TMP, "x.db")],
                       capture_output=True, timeout=10)
    eq(r.returncode, 2, "exit code without --token-file")
    check(b"--token-file" in r.stderr, "the error names --token-file")
    token = os.path.join(TMP, "remote.token")
    with open(os.open(token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("0123456789abcdef-remote\n")
    d = Daemon("remote", extra=["--allow-remote", "--listen", "0.0.0.0:0", "--token-file", token])
    try:
        check("beyond loopback" in d.log(), "a warning is printed")
        st, _, body = d.request("GET", "/api/v1/health", {"Authorization": "Bearer 0123456789abcdef-remote"})
        eq(st, 200, "health with the token")
        eq(json.loads(body)["status"], "ok", "health")
    finally:
        eq(d.stop(), 0, "exit code")


@test
def config_file_drives_the_same_options():
    path = os.path.join(TMP, "insightd.conf")
    with open(path, "w") as f:
        f.write("# comment\nretention = 90s\nws-rate = 7\nlog-level = warn\n")
    d = Daemon("conf", extra=["--config", path, "--ws-rate", "9"])
    try:
        h = d.health()
        eq(h["store"]["retention_ms"], 90000, "retention from the file")
        eq(h["ws"]["rate"], 9, "a flag overrides the file")
    finally:
        eq(d.stop(), 0, "exit code")
    with open(path, "w") as f:
        f.write("retention = 90s\nnot-an-option = 1\n")
    r = subprocess.run([ARGS.daemon, "--config", path], capture_output=True, timeout=10)
    eq(r.returncode, 2, "exit code for a bad file")
    check(f"{path}:2".encode() in r.stderr and b"not-an-option" in r.stderr, f"file:line in {r.stderr!r}")


@test
def read_only_database_gives_a_clear_error():
    if pg():
        # PostgreSQL's counterpart: a role that may read, not write; the
        # password given is never shown.
        uri = new_store("ro")
        d = Daemon("ro-schema", db=uri)  # the schema exists
        eq(d.stop(), 0, "exit code")
        db = db_name(uri)
        PG.psql(db, "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'fa_ro')"
                    " THEN CREATE ROLE fa_ro LOGIN; END IF; END $$")
        PG.psql(db, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO fa_ro")
        ro = f"postgresql://fa_ro:sekrit@/{db}?host={PG.dir}"
        r = subprocess.run([ARGS.daemon, "--store", ro, "--listen", "127.0.0.1:0", "--ingest", "tcp://127.0.0.1:0"],
                           capture_output=True, timeout=20, env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
        eq(r.returncode, 1, f"exit code (stderr {r.stderr[-300:]!r})")
        check(b"not writable" in r.stderr and f"postgresql://fa_ro@/{db}".encode() in r.stderr,
              f"clear error naming the database: {r.stderr[-400:]!r}")
        check(b"sekrit" not in r.stderr, "the password is not shown")
        r = subprocess.run([ARGS.daemon, "--store", f"postgresql://fa:sekrit@/nosuchdb?host={PG.dir}", "--listen",
                            "127.0.0.1:0", "--ingest", "tcp://127.0.0.1:0"], capture_output=True, timeout=20,
                           env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
        eq(r.returncode, 1, "exit code for a database that does not exist")
        check(b"nosuchdb" in r.stderr and b"sekrit" not in r.stderr, f"clear error: {r.stderr[-400:]!r}")
        return
    d = tempfile.mkdtemp(prefix="ro-", dir=TMP)
    db = os.path.join(d, "ro.db")
    sqlite3.connect(db).execute("CREATE TABLE x(a)").connection.commit()
    wrapper = []
    if os.geteuid() == 0:
        # root writes anything: run the daemon as nobody, which may read
        # (not write) the file and its directory.
        if not shutil.which("setpriv"):
            raise Skip("running as root without setpriv")
        os.chmod(TMP, 0o755)
        os.chmod(d, 0o755)
        os.chmod(db, 0o644)
        wrapper = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    else:
        os.chmod(db, 0o444)
    r = subprocess.run(wrapper + [ARGS.daemon, "--db", db, "--listen", "127.0.0.1:0", "--ingest",
                                  "tcp://127.0.0.1:0"], capture_output=True, timeout=20,
                       env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    eq(r.returncode, 1, f"exit code (stderr {r.stderr[-300:]!r})")
    check(b"read-only" in r.stderr and db.encode() in r.stderr, f"clear error: {r.stderr[-400:]!r}")


@test
def ingest_to_api_round_trip():
    d = shared()
    before = d.health()["ingest"]
    out = d.send("--frames", 240, "--fps", 240, "--tags", 8, "--budget", 100000,
                 "--usage", "50x40,85x40,70x40,101x40,50x80", "--findings", "--bye")
    sid = session_of(out)
    h = wait_for(lambda: (lambda h: h["ingest"]["stored"] >= before["stored"] + 240 and h)(d.health()), 10,
                 "frames stored")
    eq(h["ingest"]["received"] - before["received"], 242, "messages received (hello + 240 frames + bye)")
    eq(h["ingest"]["rejected"], before["rejected"], "nothing rejected")
    # sessions
    ss = d.get("/api/v1/sessions")
    s = [x for x in ss["sessions"] if x["id"] == sid]
    check(len(s) == 1, f"session {sid} listed")
    s = s[0]
    eq((s["app"], s["host"], s["label"], s["build_id"]), ("insightd-sender", "testhost", "test", "build-1"),
       "session fields")
    eq((s["frames"], s["last_frame"], s["live"], s["end_reason"]), (240, 240, False, "bye"), "session state")
    check(isinstance(s["started_ms"], int) and s["last_frame_ms"] >= s["first_frame_ms"], "times are unix ms")
    eq(d.get(f"/api/v1/sessions/{sid}")["id"], sid, "session detail")
    # tags: a tree root -> physics -> physics/contacts
    t = d.get(f"/api/v1/sessions/{sid}/tags")
    eq(len(t["tree"]), 1, "one top-level node")
    root = t["tree"][0]
    eq((root["id"], root["path"], root["name"]), (0, "", "(root)"), "root node")
    phys = [c for c in root["children"] if c["path"] == "physics"][0]
    eq(phys["budget_hard"], 100000, "budget from the HELLO")
    eq(phys["live_bytes"], 50000, "current value (last frame)")
    eq(phys["peak_bytes"], 101010, "peak (the agent's)")
    eq(phys["used_pct"], 50, "percent used")
    eq([c["path"] for c in phys["children"]], ["physics/contacts"], "children")
    # budgets of a tag and its children
    b = d.get(f"/api/v1/sessions/{sid}/budgets?tag=physics")
    eq([(r["path"], r["depth"]) for r in b["budgets"]], [("physics", 0), ("physics/contacts", 1)], "budget rows")
    eq(b["budgets"][0]["state"], "ok", "state after the usage fell")
    b = d.get(f"/api/v1/sessions/{sid}/budgets")
    eq(b["budgets"][0]["path"], "", "whole tree from the root")
    # trend over raw frames (1 s window) and rollups (1 h window)
    tr = d.get(f"/api/v1/sessions/{sid}/trend?tag=physics&window=1s&points=10")
    eq(tr["source"], "raw", "short window reads raw frames")
    check(tr["series"] and all(p["min"] <= p["avg"] <= p["max"] for p in tr["series"]), "min <= avg <= max")
    eq(sum(p["frames"] for p in tr["series"]), 240, "every frame of the last second counted")
    eq(tr["series"][-1]["last"], 50000, "last value")
    tr = d.get(f"/api/v1/sessions/{sid}/trend?tag=physics&window=1h&points=60")
    eq(tr["source"], "1m", "long window reads per-minute rollups")
    eq(max(p["max"] for p in tr["series"]), 101000, "max survives the rollup")
    tr = d.get(f"/api/v1/sessions/{sid}/trend?tag=physics&window=1h&points=120")
    eq(tr["source"], "10s", "30 s points read 10-second rollups")
    eq(max(p["max"] for p in tr["series"]), 101000, "max survives the 10 s rollup")
    tr = d.get(f"/api/v1/sessions/{sid}/trend?tag=/&window=10m&points=600")
    eq(tr["source"], "1s", "per-second rollups")
    eq(tr["tag"], "", "the root by '/'")
    # frames
    f = d.get(f"/api/v1/sessions/{sid}/frames?limit=5")
    eq([x["frame"] for x in f["frames"]], [236, 237, 238, 239, 240], "newest frames, in time order")
    eq((f["count"], f["truncated"]), (5, True), "count / truncated")
    eq(len(f["frames"][0]["tags"]), 8, "tag rows")
    first = d.get(f"/api/v1/sessions/{sid}/frames?from={s['first_frame_ms']}&limit=3")["frames"]
    eq([x["frame"] for x in first], [1, 2, 3], "from= gives the oldest first")
    one = d.get(f"/api/v1/sessions/{sid}/frames?from={first[1]['t_ms']}&to={first[1]['t_ms']}")["frames"]
    check(all(x["t_ms"] == first[1]["t_ms"] for x in one) and one, "from..to is inclusive")
    # findings
    fi = d.get(f"/api/v1/sessions/{sid}/findings")
    eq(fi["summary"][0]["name"], "FA_FIND_POOL_SAME_FRAME_FREE", "finding code name")
    eq((fi["summary"][0]["frames"], fi["summary"][0]["tag"]), (240, "physics"), "finding totals")
    # alerts: a warning episode then a critical one
    a = d.get(f"/api/v1/alerts?session={sid}")["alerts"]
    eq([(x["level"], x["state"], x["clear_reason"]) for x in a],
       [("critical", "cleared", "usage"), ("warning", "cleared", "usage")], "alerts, newest first")
    eq(a[1]["peak_bytes"], 85000, "peak of the first episode")
    eq(d.get(f"/api/v1/alerts?session={sid}&state=active")["alerts"], [], "none active")
    eq(len(d.get(f"/api/v1/alerts?session={sid}&since={a[0]['raised_ms']}")["alerts"]), 1, "since=")
    # "latest" is the most recent session
    eq(d.get("/api/v1/sessions/latest/tags")["session"], sid, "latest")


@test
def metrics_pass_promtool_and_match_the_api():
    """GET /metrics: Prometheus' own checker accepts the exposition, and its
    figures are the API's (live session tags, budgets, alert, counters)."""
    d = Daemon("metrics", extra=["--session-timeout", "60s"])
    sid = session_of(d.send("--frames", 200, "--fps", 0, "--fast", "--budget", 100000, "--usage",
                            "50x100,101x100", "--app", 'met"rics\\game'))
    d.wait_stored(200)
    status, headers, body = d.request("GET", "/metrics")
    eq(status, 200, "status")
    check(headers["content-type"].startswith("text/plain; version=0.0.4"), headers["content-type"])
    text = body.decode()
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    check(p.returncode == 0, f"promtool check metrics: {p.stdout}{p.stderr}\n{text[:1500]}")
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = int(value)
    labels = f'session="{sid}",app="met\\"rics\\\\game",build="build-1"'
    tags = {t["path"]: t for t in walk(d.get(f"/api/v1/sessions/{sid}/tags")["tree"])}
    for path, t in tags.items():
        eq(values[f'framealloc_tag_live_bytes{{{labels},tag="{path or "(root)"}"}}'], t["live_bytes"], path)
    eq(values[f'framealloc_tag_budget_hard_bytes{{{labels},tag="physics"}}'], 100000, "hard budget")
    eq(values[f'framealloc_tag_alert_level{{{labels},tag="physics"}}'], 2, "critical alert")
    eq(values[f'framealloc_session_frames_total{{{labels}}}'], 200, "frames")
    h = d.health()["ingest"]
    eq(values["fa_insightd_ingest_received_messages_total"], h["received"], "received")
    eq(values['fa_insightd_ingest_accepted_messages_total{type="frame"}'], 200, "frames accepted")
    eq(d.request("POST", "/metrics", body=b"")[0], 405, "POST")
    eq(d.stop(), 0, "exit code")


def walk(nodes):
    for n in nodes:
        yield n
        yield from walk(n.get("children") or [])


@test
def api_rejects_bad_input_precisely():
    d = shared()
    sid = session_of(d.send("--frames", 5, "--fps", 0, "--fast"))
    d.wait_stored(1)
    time.sleep(0.3)
    cases = [
        ("/api/v1/nope", 404, "not_found", None),
        ("/api/v1", 404, "not_found", None),
        ("/api/v1/", 404, "not_found", None),
        ("/api/v1/sessions/", 404, "not_found", None),
        ("/api/v1/sessions//tags", 404, "not_found", None),
        (f"/api/v1/sessions/{sid}/tags/x", 404, "not_found", None),
        (f"/api/v1/sessions/{sid}/nope", 404, "not_found", None),
        ("/api/v1/sessions/xyz/tags", 400, "bad_parameter", "id"),
        ("/api/v1/sessions/00000000000000001/tags", 400, "bad_parameter", "id"),
        ("/api/v1/sessions/0000000000000000/tags", 400, "bad_parameter", "id"),
        (f"/api/v1/sessions/{sid}%2Ftags", 400, "bad_parameter", "id"),
        ("/api/v1/sessions/00000000000000aa/tags", 404, "session_not_found", "id"),
        ("/api/v1/health?verbose=1", 400, "unknown_parameter", "verbose"),
        ("/api/v1/sessions?x=1", 400, "unknown_parameter", "x"),
        (f"/api/v1/sessions/{sid}/frames?limit=0", 400, "bad_parameter", "limit"),
        (f"/api/v1/sessions/{sid}/frames?limit=1001", 400, "bad_parameter", "limit"),
        (f"/api/v1/sessions/{sid}/frames?limit=-1", 400, "bad_parameter", "limit"),
        (f"/api/v1/sessions/{sid}/frames?limit=", 400, "bad_parameter", "limit"),
        (f"/api/v1/sessions/{sid}/frames?limit=1e3", 400, "bad_parameter", "limit"),
        (f"/api/v1/sessions/{sid}/frames?from=abc", 400, "bad_parameter", "from"),
        (f"/api/v1/sessions/{sid}/frames?from=5&to=4", 400, "bad_parameter", "to"),
        (f"/api/v1/sessions/{sid}/frames?to=99999999999999999999", 400, "bad_parameter", "to"),
        (f"/api/v1/sessions/{sid}/frames?limit=1&limit=2", 400, "bad_query", None),
        (f"/api/v1/sessions/{sid}/frames?limit=%zz", 400, "bad_query", None),
        (f"/api/v1/sessions/{sid}/frames?tag=x", 400, "unknown_parameter", "tag"),
        (f"/api/v1/sessions/{sid}/trend", 400, "missing_parameter", "tag"),
        (f"/api/v1/sessions/{sid}/trend?tag=", 400, "bad_parameter", "tag"),
        (f"/api/v1/sessions/{sid}/trend?tag=nope", 404, "tag_not_found", "tag"),
        (f"/api/v1/sessions/{sid}/trend?tag=physics&window=0s", 400, "bad_parameter", "window"),
        (f"/api/v1/sessions/{sid}/trend?tag=physics&window=31d", 400, "bad_parameter", "window"),
        (f"/api/v1/sessions/{sid}/trend?tag=physics&window=5x", 400, "bad_parameter", "window"),
        (f"/api/v1/sessions/{sid}/trend?tag=physics&points=0", 400, "bad_parameter", "points"),
        (f"/api/v1/sessions/{sid}/trend?tag=physics&points=1001", 400, "bad_parameter", "points"),
        (f"/api/v1/sessions/{sid}/budgets?tag=nope", 404, "tag_not_found", "tag"),
        (f"/api/v1/sessions/{sid}/budgets?depth=1", 400, "unknown_parameter", "depth"),
        (f"/api/v1/sessions/{sid}/findings?since=x", 400, "bad_parameter", "since"),
        (f"/api/v1/sessions/{sid}/findings?limit=0", 400, "bad_parameter", "limit"),
        ("/api/v1/alerts?state=open", 400, "bad_parameter", "state"),
        ("/api/v1/alerts?session=nope", 400, "bad_parameter", "session"),
        ("/api/v1/alerts?session=00000000000000aa", 404, "session_not_found", "session"),
        ("/api/v1/alerts?since=-5", 400, "bad_parameter", "since"),
    ]
    for path, status, code, param in cases:
        st, headers, body = d.request("GET", path)
        eq(st, status, f"status of {path}")
        check(headers.get("content-type", "").startswith("application/json"), f"{path}: JSON error body")
        err = json.loads(body)["error"]
        eq(err["code"], code, f"code of {path}")
        eq(err.get("parameter"), param, f"parameter named by {path}")
        check(err["message"], f"{path}: a message")
    # The good forms of the same parameters.
    d.get(f"/api/v1/sessions/{sid.upper()}/tags")
    d.get(f"/api/v1/sessions/{sid}/trend?tag=physics%2Fcontacts&window=90&points=1")
    d.get(f"/api/v1/sessions/{sid}/trend?tag=%2Fphysics&window=1500ms")
    d.get(f"/api/v1/alerts?session=latest&state=all&since=0")


@test
def wrong_methods_get_405_and_head_works():
    d = shared()
    for method, path in [("POST", "/api/v1/health"), ("DELETE", "/api/v1/sessions"), ("PUT", "/api/v1/alerts"),
                         ("POST", "/index.html")]:
        st, headers, body = d.request(method, path, body=b"{}")
        eq(st, 405, f"{method} {path}")
        eq(headers.get("allow"), "GET, HEAD", "Allow header")
        eq(json.loads(body)["error"]["code"], "method_not_allowed", "code")
    st, headers, body = d.request("HEAD", "/api/v1/health")
    eq((st, body), (200, b""), "HEAD: headers only")
    check(int(headers["content-length"]) > 10, "HEAD keeps Content-Length")


@test
def static_files_mime_types_and_caching():
    d = shared()
    st, h, body = d.request("GET", "/")
    eq(st, 200, "/ serves index.html")
    check(b"dashboard" in body and h["content-type"].startswith("text/html"), "index.html as text/html")
    eq(h.get("cache-control"), "no-cache", "the page is revalidated")
    st, h2, body = d.request("GET", "/style.css?v=3")
    eq((st, h2["content-type"]), (200, "text/css; charset=utf-8"), "query string stripped, css type")
    check("max-age" in h2["cache-control"] and h2.get("etag"), "assets: max-age and ETag")
    st, h3, body = d.request("GET", "/style.css", headers={"If-None-Match": h2["etag"]})
    eq((st, body), (304, b""), "ETag revalidation")
    eq(d.request("GET", "/app.js")[1]["content-type"], "text/javascript; charset=utf-8", "js type")
    eq(d.request("GET", "/sub/")[0], 200, "a directory serves its index.html")
    eq(d.request("GET", "/sub")[0], 200, "a directory without slash too")
    st, h, body = d.request("GET", "/missing.png")
    eq(st, 404, "missing file")
    eq(json.loads(body)["error"]["code"], "not_found", "404 is JSON")


@test
def path_traversal_is_refused_with_404():
    d = shared()
    probes = ["/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt",
              "/%2e%2e%2fsecret.txt", "/sub/../../secret.txt", "/sub/%2e%2e/%2e%2e/secret.txt",
              "/escape.txt", "/./index.html", "//etc/passwd", "/etc/passwd", "/%2fetc%2fpasswd",
              "/%2F%2Fetc%2Fpasswd", f"/{TMP}/secret.txt", "/index.html%00.css", "/%00", "/sub%2f..%2f..%2fsecret.txt",
              "/..\\secret.txt", "/%5c..%5csecret.txt", "/.%2e/secret.txt", "/%zz"]
    for p in probes:
        st, h, body = d.request("GET", p)
        eq(st, 404, f"status of {p}")
        check(b"SECRET" not in body and b"root:" not in body, f"{p} leaked a file")
        eq(json.loads(body)["error"]["code"], "not_found", f"{p}: JSON 404")


@test
def missing_web_root_keeps_the_api():
    d = Daemon("noweb", web_root=os.path.join(TMP, "does-not-exist"))
    try:
        h = d.health()
        eq(h["http"]["web_root_ok"], False, "web_root_ok")
        st, _, body = d.request("GET", "/")
        eq(st, 404, "no dashboard")
        eq(json.loads(body)["error"]["code"], "not_found", "JSON 404")
        check("web root" in d.log(), "a warning names the web root")
    finally:
        eq(d.stop(), 0, "exit code")


@test
def garbage_and_truncated_messages_are_counted_not_fatal():
    d = shared()
    before = d.health()["ingest"]
    log_before = d.log().count("rejected a")
    out = d.send("--garbage", 300, "--truncate", 60, "--frames", 50, "--fps", 0, "--fast")
    sid = session_of(out)
    h = wait_for(lambda: (lambda h: h["ingest"]["rejected"] - before["rejected"] >= 360 and h)(d.health()),
                 10, "360 rejections")
    eq(h["ingest"]["rejected"] - before["rejected"], 360, "rejected")
    reasons = h["ingest"]["rejected_by_reason"]
    check(reasons.get("FA_PROTO_ERR_BAD_MAGIC", 0) > 0 and reasons.get("FA_PROTO_ERR_TRUNCATED", 0) > 0,
          f"by reason: {reasons}")
    check(reasons.get("FA_PROTO_ERR_BAD_VERSION", 0) > 0, "bad version counted")
    wait_for(lambda: d.get(f"/api/v1/sessions/{sid}")["frames"] == 50, 5, "the valid session's frames")
    lines = d.log().count("rejected a") - log_before
    check(1 <= lines <= 3, f"rejections are logged rate-limited ({lines} lines for 360)")


@test
def frames_before_their_hello_make_the_session_and_the_hello_completes_it():
    d = shared()
    sid = session_of(d.send("--frames", 60, "--fps", 0, "--fast", "--hello-after", 30))
    s = wait_for(lambda: (lambda s: s.get("frames") == 60 and s)(d.get(f"/api/v1/sessions/{sid}", want=None)), 5,
                 "all 60 frames")
    eq((s["gaps"], s["hello"], s["app"]), (0, True, "insightd-sender"), "no gap, the late HELLO filled it in")
    before = d.health()["ingest"]
    sid = session_of(d.send("--frames", 1100, "--fps", 0, "--fast", "--no-hello"))
    s = wait_for(lambda: (lambda s: s.get("frames") == 1100 and s)(d.get(f"/api/v1/sessions/{sid}", want=None)), 10,
                 "a session made of frames only")
    eq(s["hello"], False, "no HELLO came")
    h = d.health()["ingest"]
    eq(h["dropped_by_reason"]["orphaned"], before["dropped_by_reason"]["orphaned"], "nothing orphaned")
    eq(h["pending"], 0, "nothing waits")


@test
def sequence_gaps_are_counted():
    d = shared()
    before = d.health()["ingest"]["gaps"]
    sid = session_of(d.send("--frames", 100, "--fps", 0, "--fast", "--skip-seq", 10))
    s = wait_for(lambda: (lambda s: s["frames"] == 100 and s)(d.get(f"/api/v1/sessions/{sid}")), 5, "frames")
    check(s["gaps"] >= 9, f"session gaps {s['gaps']}")
    eq(d.health()["ingest"]["gaps"] - before, s["gaps"], "health gaps")


@test
def burst_without_drops_through_the_recv_aio_loop():
    d = shared()
    before = d.health()["ingest"]
    # 20000 frames of 32 tags at 4000 frames/s: 40x the rate of one game at
    # 100 fps, kept by the receive loop (the ASan build included).
    d.send("--frames", 20000, "--fps", 4000, "--tags", 32)
    h = d.wait_stored(before["stored"] + 20000, timeout=30)
    eq(h["ingest"]["dropped"], before["dropped"], "no drops")
    if not pg():
        # the writer never checkpoints; the background checkpointer must
        wait_for(lambda: os.path.getsize(d.db) > 8 << 20, 5, "the WAL checkpointed into the database file")


@test
def ingest_counters_add_up():
    d = shared()
    h = wait_for(lambda: (lambda h: h["ingest"]["queue_depth"] == 0 and h["ingest"]["uncommitted"] == 0 and h)(
        d.health()), 5, "a quiet daemon")
    i = h["ingest"]
    acc = sum(i["accepted"].values())
    r = i["dropped_by_reason"]
    eq(i["accepted"]["frame"], i["stored"] + r["store_error"], "accepted frames = stored + store errors")
    eq(i["received"], i["rejected"] + acc + i["pending"] + r["queue_full"] + r["orphaned"],
       "every received message is accounted for")
    eq(i["dropped"], r["queue_full"] + r["store_error"] + r["orphaned"], "dropped is the sum of its reasons")


@test
def alert_hysteresis_raise_escalate_clear_over_ws():
    d = shared()
    ws = WS(d)
    eq(ws.status, 101, "handshake")
    ws.recv_until(lambda m: m["type"] == "hello", 5, "hello")
    script = "79x10,80x10,79x10,76x10,74x10,81x5,79x5,81x5,79x5,81x5,100x10,99x10,75x10,74x10"
    out = d.send("--frames", 130, "--fps", 500, "--budget", 1000000, "--usage", script, "--bye")
    sid = session_of(out)
    events = []
    deadline = time.time() + 10
    while time.time() < deadline and not (events and events[-1][0] == "cleared" and len(events) >= 4):
        m = ws.recv(1)
        if m and m["type"] == "alert" and m["alert"]["session"] == sid:
            events.append((m["event"], m["alert"]["level"], m["alert"]["state"]))
    eq(events, [("raised", "warning", "active"), ("cleared", "warning", "cleared"),
                ("raised", "warning", "active"), ("escalated", "critical", "active"),
                ("cleared", "critical", "cleared")], "alert events pushed as they happen")
    ws.close()
    a = d.get(f"/api/v1/alerts?session={sid}")["alerts"]
    eq([(x["level"], x["raised_bytes"], x["peak_bytes"]) for x in a],
       [("critical", 810000, 1000000), ("warning", 800000, 800000)], "stored with raise values and peaks")
    check(all(x["cleared_ms"] >= x["raised_ms"] for x in a), "clear times")
    # an ended session keeps its verdict: its last figures, not the cleared alert
    sid2 = session_of(d.send("--frames", 5, "--fps", 0, "--fast", "--budget", 1000, "--usage", "101", "--bye"))
    b = wait_for(lambda: (lambda b: b["live"] is False and b)(d.get(f"/api/v1/sessions/{sid2}/budgets?tag=physics")),
                 5, "the ended session's budgets")
    eq((b["budgets"][0]["state"], b["budgets"][0]["over_hard"], b["over_hard"]), ("critical", True, 1),
       "ended over budget")


@test
def ws_hello_subscription_throttled_frames_and_session_events():
    d = Daemon("ws", extra=["--ws-rate", "20"])
    try:
        ws = WS(d)
        hello, _ = ws.recv_until(lambda m: m["type"] == "hello", 5, "hello")
        check(re.match(r"\d+\.\d+\.\d+", hello["version"]), "version in hello")
        eq(hello["subscription"], "*", "default subscription")
        sender = d.spawn("--frames", 360, "--fps", 120, "--bye",
                                   "--session", "aaaaaaaaaaaaaaa1", stdout=subprocess.PIPE)
        other = d.spawn("--frames", 360, "--fps", 120,
                                  "--session", "bbbbbbbbbbbbbbb2", stdout=subprocess.PIPE)
        start, _ = ws.recv_until(lambda m: m["type"] == "session" and m["event"] == "start"
                                 and m["session"]["id"] == "aaaaaaaaaaaaaaa1", 5, "session start")
        ws.send({"subscribe": "aaaaaaaaaaaaaaa1"})
        ws.recv_until(lambda m: m["type"] == "subscribed", 5, "subscribed")
        frames, merged, t0 = [], 0, time.time()
        ended = None
        while time.time() - t0 < 6 and not ended:
            m = ws.recv(1)
            if not m:
                continue
            if m["type"] == "frame":
                frames.append(m)
                merged += m["merged"]
            elif m["type"] == "session" and m["event"] == "end" and m["session"]["id"] == "aaaaaaaaaaaaaaa1":
                ended = m
        elapsed = time.time() - t0
        sender.wait(10)
        other.wait(10)
        check(ended and ended["session"]["end_reason"] == "bye", "session end event")
        check(frames, "frames arrived")
        eq({f["session"] for f in frames}, {"aaaaaaaaaaaaaaa1"}, "only the subscribed session")
        rate = len(frames) / elapsed
        check(rate <= 20 * 1.3 + 2, f"throttled to ~20/s (got {rate:.1f}/s)")
        check(len(frames) >= 20, f"frames keep coming ({len(frames)})")
        last = frames[-1]
        check(last["frame"] <= 360 and last["tags"] and "live_bytes" in last["tags"][0], "frame content")
        check(merged > 0, "skipped frames are counted as merged")
        ws.send({"subscribe": "none"})
        ws.recv_until(lambda m: m["type"] == "subscribed" and m["subscription"] == "none", 5, "unsubscribed")
        ws.send({"subscribe": "aaaaaaaaaaaaaaa1"})
        m, _ = ws.recv_until(lambda m: m["type"] == "frame", 5, "the ended session's newest frame on subscribe")
        eq((m["session"], m["frame"]), ("aaaaaaaaaaaaaaa1", 360), "newest frame of the subscribed session")
        ws.send(b"not json at all")
        err, _ = ws.recv_until(lambda m: m["type"] == "error", 5, "error for garbage")
        eq(err["code"], "bad_message", "error code")
        ws.send({"subscribe": "ffffffffffffffff"})
        err, _ = ws.recv_until(lambda m: m["type"] == "error", 5, "error for unknown session")
        eq(err["code"], "session_not_found", "unknown session")
        ws.send('{"subscribe":"none"}{"subscribe":"*"}')
        m, _ = ws.recv_until(lambda m: m["type"] == "subscribed" and m["subscription"] == "*", 5,
                             "two messages in one frame")
        ws.close()
        h = d.health()
        check(h["ws"]["sent"] > 0 and h["ws"]["merged"] > 0 and h["ws"]["bad_messages"] >= 1, f"ws counters {h['ws']}")
    finally:
        eq(d.stop(), 0, "exit code")


@test
def ws_subprotocol_needs_its_own_path():
    d = shared()
    ws = WS(d, "/ws/v1", proto="fa-insight.v1")
    eq(ws.status, 101, "subprotocol client on /ws/v1")
    check("Sec-WebSocket-Protocol: fa-insight.v1" in ws.head, "protocol echoed")
    ws.recv_until(lambda m: m["type"] == "hello", 5, "hello on /ws/v1")
    ws.close()
    eq(WS(d, "/ws", proto="fa-insight.v1").status, 400, "nng refuses a subprotocol the listener did not set")
    eq(WS(d, "/ws/v1").status, 400, "and a listener that sets one refuses clients without")
    eq(WS(d, "/ws").status, 101, "plain clients on /ws")


@test
def ws_needs_the_listen_host():
    d = shared()
    ws = WS(d, host=f"localhost:{d.port}")
    eq(ws.status, 400, "nng binds the WebSocket route to the listen host")
    check(b"websocket_host_mismatch" in ws.buf or "websocket_host_mismatch" in ws.head + ws.buf.decode(errors="ignore"),
          "a JSON error that says so")


@test
def ws_close_is_noticed_promptly():
    d = Daemon("wsclose")
    try:
        socks = [WS(d) for _ in range(3)]
        for w in socks:
            w.recv_until(lambda m: m["type"] == "hello", 5, "hello")
        wait_for(lambda: d.health()["ws"]["clients"] == 3, 3, "3 clients")
        socks[0].send_frame(8, struct.pack(">H", 1000))  # a close frame
        t0 = time.time()
        try:
            while True:
                socks[0].recv_frame()
        except (EOFError, OSError):
            pass
        check(time.time() - t0 < 2, "the server closed the connection after a close frame")
        socks[1].sock.shutdown(socket.SHUT_RDWR)  # an abrupt disconnect
        socks[1].close()
        wait_for(lambda: d.health()["ws"]["clients"] == 1, 2, "closed clients freed within 2 s")
        socks[2].close()
        wait_for(lambda: d.health()["ws"]["clients"] == 0, 2, "all freed")
    finally:
        eq(d.stop(), 0, "exit code")


@test
def ws_fifty_clients_one_never_reads():
    d = Daemon("ws50", extra=["--ws-rate", "50", "--ws-send-timeout", "5s"])
    try:
        slow = WS(d, rcvbuf=4096)  # connects, never reads
        eq(slow.status, 101, "slow client handshake")
        counts = [0] * 49
        stop = threading.Event()
        clients = [WS(d) for _ in range(49)]

        def reader(i, w):
            while not stop.is_set():
                try:
                    m = w.recv(0.5)
                except (EOFError, OSError):
                    return
                if m and m["type"] == "frame":
                    counts[i] += 1

        threads = [threading.Thread(target=reader, args=(i, w), daemon=True) for i, w in enumerate(clients)]
        for t in threads:
            t.start()
        wait_for(lambda: d.health()["ws"]["clients"] == 50, 5, "50 clients")
        rss0 = d.rss_kib()
        # Frames flow until the slow client's socket buffers are full and its
        # send times out: how many frames that takes depends on the machine's
        # speed (a TSan daemon on a loaded machine sends far fewer per second),
        # so the sender runs until the close is seen, with a generous cap.
        sender = d.spawn("--frames", 24000, "--fps", 240, "--tags", 600,
                                  stdout=subprocess.PIPE)
        t0 = time.time()
        max_health_ms = 0
        h = d.health()
        while sender.poll() is None and time.time() - t0 < 90 and h["ws"]["closed_slow"] < 1:
            t1 = time.time()
            h = d.health()
            max_health_ms = max(max_health_ms, (time.time() - t1) * 1000)
            time.sleep(0.2)
        if sender.poll() is None:
            sender.terminate()
        sender.wait(10)
        h = wait_for(lambda: (lambda h: h["ws"]["closed_slow"] >= 1 and h)(d.health()), 8,
                     "the slow client closed after the send timeout")
        rss1 = d.rss_kib()
        stop.set()
        for t in threads:
            t.join(2)
        elapsed = time.time() - t0
        check(min(counts) >= 3 * min(elapsed, 5), f"every reader got frames: min {min(counts)} max {max(counts)}")
        # A loop blocked on the slow client would hold /health for the 5 s send
        # timeout; the 2.5 s bound leaves room for this test's own 50 Python
        # reader threads and a loaded machine (1 s failed once under load).
        check(max_health_ms < 2500, f"the API stayed responsive ({max_health_ms:.0f} ms; blocked would be 5 s)")
        check(h["ws"]["merged"] > 0, "frames were merged")
        check(rss1 - rss0 < 150 * 1024, f"memory stays bounded (RSS {rss0} -> {rss1} KiB)")
        eq(h["ws"]["clients"], 49, "the others stay connected")
        for w in clients:
            w.close()
        slow.close()
    finally:
        eq(d.stop(), 0, "exit code")


@test
def shutdown_answers_queued_requests_then_exits_0():
    d = Daemon("shutdown")
    sid = session_of(d.send("--frames", 3000, "--fps", 0, "--fast", "--tags", 64))
    d.wait_stored(3000, timeout=30)
    results = []
    lock = threading.Lock()
    conns = []
    for _ in range(16):
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        c.connect()
        conns.append(c)
    ws = [WS(d) for _ in range(5)]
    feeder = d.spawn("--frames", 100000, "--fps", 1000,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)

    def ask(c):
        try:
            c.putrequest("GET", f"/api/v1/sessions/{sid}/frames?limit=200", skip_host=True)
            c.putheader("Host", d.hostport)
            c.endheaders()
            r = c.getresponse()
            body = r.read()
            ok = r.status in (200, 503) and (r.status != 200 or json.loads(body)["count"] == 200)
            with lock:
                results.append((r.status, ok))
        except Exception as e:  # noqa: BLE001 - recorded as a failure
            with lock:
                results.append((repr(e), False))

    threads = [threading.Thread(target=ask, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    time.sleep(0.02)
    t0 = time.time()
    rc = d.stop(timeout=15)
    took = time.time() - t0
    feeder.kill()
    for t in threads:
        t.join(10)
    eq(rc, 0, "exit code after SIGTERM")
    check(took < 8, f"exit took {took:.1f}s")
    eq(len(results), 16, "every request answered")
    check(all(ok for _, ok in results), f"complete answers (200 or 503): {results}")
    for w in ws:
        try:
            while True:
                w.recv_frame()
        except (EOFError, OSError, socket.timeout):
            pass
    log = d.log()
    # With a sender pushing 1000 messages/s while the socket closes, nng
    # 1.5.2's reaper sometimes sticks (fa-insightd/src/ingest.h): the daemon
    # then exits 0 without nng's teardown, within the same bound.
    last = "stopped cleanly" if "stopped cleanly" in log else "stopped (without nng's teardown)"
    if last != "stopped cleanly":
        print("     note: nng's reaper stuck (nng 1.5.2); exited without nng's teardown", flush=True)
    order = [log.find(s) for s in ("stopping ingest", "ingest stopped", "HTTP stopping", "writer flushed", last)]
    check(all(x >= 0 for x in order) and order == sorted(order), f"shutdown steps in order: {order}")


@test
def kill_9_loses_at_most_one_commit_interval():
    d = Daemon("kill9")
    db = d.db
    rate = 400
    feeder = d.spawn("--frames", 4000, "--fps", rate, "--progress",
                               "--session", "0123456789abcdef", stdout=subprocess.PIPE, text=True)
    sent = 0
    t0 = time.time()
    while time.time() - t0 < 2.5:
        line = feeder.stdout.readline()
        if line.startswith("sent "):
            sent = int(line.split()[1])
    h = d.health()["ingest"]  # just before the kill: what was accepted, what committed
    d.proc.kill()  # SIGKILL
    d.proc.wait()
    feeder.kill()
    feeder.wait()
    if not pg():  # a server keeps its files itself
        eq(db_value(db, "PRAGMA integrity_check"), "ok", "integrity_check")
    frames = [r[0] for r in db_rows(db, f"SELECT frame FROM frames WHERE session_id = {0x0123456789abcdef}"
                                        " ORDER BY frame")]
    check(frames and frames == list(range(1, len(frames) + 1)), "stored frames are a prefix without holes")
    check(len(frames) >= h["stored"], f"every committed frame survived ({len(frames)} >= {h['stored']})")
    # Lost: at most one commit interval (250 ms) of accepted frames, plus
    # what was still in the sockets and the hand-off queue when it died.
    allowed = rate * 0.25 + 60 + h["queue_depth"]
    check(h["accepted"]["frame"] - len(frames) <= rate * 0.25 + 60,
          f"accepted {h['accepted']['frame']}, stored {len(frames)}: more than one commit interval lost")
    check(sent - len(frames) <= allowed, f"sent {sent}, stored {len(frames)}: lost more than {allowed:.0f}")
    d2 = Daemon("kill9-restart", db=db)
    try:
        s = d2.get("/api/v1/sessions/0123456789abcdef")
        eq((s["live"], s["end_reason"]), (False, "daemon_restart"), "the session comes back ended")
        eq(d2.get("/api/v1/sessions/0123456789abcdef/tags")["tree"][0]["path"], "", "its tags too")
        eq(d2.get("/api/v1/sessions/0123456789abcdef/frames?limit=1")["frames"][0]["frame"], len(frames),
           "its frames")
        # the agent keeps sending (its sequence numbers go on): the session revives
        d2.send("--session", "0123456789abcdef", "--frames", 10, "--fps", 0, "--fast", "--no-hello",
                "--first-frame", sent + 1)
        wait_for(lambda: d2.get("/api/v1/sessions/0123456789abcdef")["live"], 5, "revived")
    finally:
        eq(d2.stop(), 0, "exit code")


@test
def retention_prunes_raw_frames_and_keeps_rollups():
    d = Daemon("retention")
    sid = session_of(d.send("--frames", 600, "--fps", 0, "--fast", "--bye"))
    d.wait_stored(600)
    eq(d.stop(), 0, "exit code")
    # Two minutes pass (on the daemon's clock, which stamped the rows).
    shift_times(d.db, 120000)
    d = Daemon("retention2", db=d.db, extra=["--retention", "10s"])
    try:
        eq(d.get(f"/api/v1/sessions/{sid}/frames?limit=1")["count"], 1, "raw frames before retention")
        wait_for(lambda: d.get(f"/api/v1/sessions/{sid}/frames?limit=1")["count"] == 0, 12,
                 "old raw frames pruned")
        tr = d.get(f"/api/v1/sessions/{sid}/trend?tag=physics&window=1h&points=60")
        check(tr["series"], "per-minute rollups stay")
        # The writer counts a pass once its deletes are done: the frames
        # may be gone a moment before the counter says so.
        wait_for(lambda: d.health()["store"]["retention_deleted"] >= 600, 5, "the pruned frames counted")
    finally:
        eq(d.stop(), 0, "exit code")


@test
def round_trip_through_the_real_agent():
    if not ARGS.agent_game:
        raise Skip("fa-agent/ has no header and library yet")
    d = shared()
    r = subprocess.run([ARGS.agent_game, d.ingest], capture_output=True, timeout=60, text=True)
    eq(r.returncode, 0, f"agent game: {r.stderr[-500:]}")
    m = re.search(r"app=(\S+) session=([0-9a-f]{16}) sent=(\d+)", r.stdout)
    check(m, f"agent game output: {r.stdout!r}")
    app, sid, sent = m.group(1), m.group(2), int(m.group(3))
    check(sent > 100, f"the agent sent its frames ({sent})")
    s = wait_for(lambda: (lambda s: s["frames"] == sent and s)(d.get(f"/api/v1/sessions/{sid}")), 10,
                 f"all {sent} frames of the agent's session")
    eq((s["app"], s["label"], s["live"], s["end_reason"]), (app, "round trip", False, "bye"), "session from the agent")
    t = d.get(f"/api/v1/sessions/{sid}/budgets?tag=physics")["budgets"][0]
    eq(t["budget_hard"], 1 << 20, "the budget came with the tag dictionary")
    check(t["peak_bytes"] > 1 << 20, f"physics peaked above its budget ({t['peak_bytes']})")
    a = d.get(f"/api/v1/alerts?session={sid}")["alerts"]
    check(a and a[0]["tag"] == "physics" and a[0]["level"] == "critical", f"a critical alert on physics: {a}")
    f = d.get(f"/api/v1/sessions/{sid}/frames?limit=1")["frames"][0]
    check(any(x["live_bytes"] > 0 for x in f["tags"]), "frames carry tag rows")


def percentile(values, p):
    """Linear interpolation between the nearest ranks (API.md, /fleet)."""
    v = sorted(values)
    if not v:
        return 0
    rank = p * (len(v) - 1)
    lo = int(rank)
    if lo + 1 >= len(v):
        return v[-1]
    return v[lo] + (rank - lo) * (v[lo + 1] - v[lo])


def nearest(x):
    return int(math.floor(x + 0.5))


def signed(u64):
    return u64 - (1 << 64) if u64 >= 1 << 63 else u64


@test
def many_daemons_one_store_and_the_fleet_view():
    """Daemons share one store: with PostgreSQL two ingest (hosts a and b),
    with SQLite one does (a file has one writer); a third, --no-ingest,
    serves the API. It lists every host's sessions (live ones of the others
    too), filters by host, app and build, and its fleet view's figures equal
    those computed here from the raw frames."""
    store = new_store("fleet")
    writers = [Daemon("fleet-a", db=store)]
    if pg():
        writers.append(Daemon("fleet-b", db=store))
    api = Daemon("fleet-api", db=store, extra=["--no-ingest"])
    try:
        eq(api.health()["ingest"]["url"], "none", "the API daemon receives nothing")
        games = []
        for k in range(8):
            w = writers[k % len(writers)]
            host = "host-a" if w is writers[0] else "host-b"
            build = "b2" if k == 5 else "b1"
            usage = f"{30 + 11 * k}x40,{55 + 7 * (k % 5)}x40,{20 + k}x40"  # game 7 goes over
            out = w.send("--frames", 120, "--fps", 0, "--fast", "--tags", 6, "--budget", 100000, "--usage", usage,
                         "--app", "fleetgame", "--host", host, "--build", build, "--bye")
            games.append((session_of(out), host, build))
        ids = {g[0] for g in games}
        listed = wait_for(lambda: (lambda r: len(r) == 8 and r)(
            [x for x in api.get("/api/v1/sessions?app=fleetgame&limit=100")["sessions"]
             if x["id"] in ids and not x["live"] and x["frames"] == 120]), 15, "every session ended and stored")
        eq({x["host"] for x in listed}, {"host-a", "host-b"} if pg() else {"host-a"}, "every host's sessions")
        if pg():
            eq({x["id"] for x in api.get("/api/v1/sessions?host=host-b&limit=100")["sessions"]},
               {g[0] for g in games if g[1] == "host-b"}, "filtered by host")
        eq([x["id"] for x in api.get("/api/v1/sessions?app=fleetgame&build=b2")["sessions"]], [games[5][0]],
           "filtered by build")
        eq(api.get("/api/v1/sessions?app=nothing")["sessions"], [], "filtered by app")
        # A live session of one writer is live for every daemon.
        # (another app: its figures reach the store every 5 s, which would
        # change the fleet view of fleetgame between two of its reads below)
        live = writers[-1].spawn("--frames", 3000, "--fps", 100, "--tags", 6, "--app", "fleetlive",
                                 "--host", "host-live", "--session", "feedfacecafe0001")
        try:
            for d in [api] + writers[:-1]:
                s = wait_for(lambda: (lambda x: x and x[0]["live"] and x)(
                    d.get("/api/v1/sessions?host=host-live")["sessions"]), 10, "the live session elsewhere")
                eq(s[0]["id"], "feedfacecafe0001", "its id")
                check(d.get("/api/v1/sessions?live=true")["live"] >= 1, "counted live")
            eq(api.get("/api/v1/sessions/latest")["id"], "feedfacecafe0001", "latest: the live one, elsewhere")
            wait_for(lambda: api.get("/api/v1/sessions/feedfacecafe0001/frames?limit=1")["count"] == 1, 5,
                     "its frames, from the store")
        finally:
            live.terminate()
            live.wait(10)
        # The fleet view against the raw frames.
        expected = {}
        for sid, host, build in games:
            frames = api.get(f"/api/v1/sessions/{sid}/frames?limit=1000")["frames"]
            eq(len(frames), 120, f"{sid}: raw frames")
            paths = {}
            stack = list(api.get(f"/api/v1/sessions/{sid}/tags")["tree"])
            while stack:
                n = stack.pop()
                paths[n["id"]] = (n["path"], n["budget_hard"])
                stack.extend(n.get("children", []))
            per_tag = {}
            for f in frames:
                for t in f["tags"]:
                    per_tag.setdefault(t["id"], []).append(t)
            for tag_id, rows in per_tag.items():
                path, budget = paths[tag_id]
                peak = max(max(r["live_bytes"], r["peak_bytes"]) for r in rows)
                avg = sum(r["live_bytes"] for r in rows) / len(rows)
                expected.setdefault((build, path), []).append((sid, host, peak, avg, budget))
        doc = api.get("/api/v1/fleet?app=fleetgame&since=0")
        eq(doc["sessions"], 8, "sessions in the fleet view")
        eq([b["build"] for b in doc["builds"]], ["b1", "b2"], "builds, most recent first")
        checked = 0
        for b in doc["builds"]:
            for t in b["tags"]:
                rows = expected[(b["build"], t["tag"])]
                eq(t["sessions"], len(rows), f"{b['build']}/{t['tag']}: sessions")
                for key, idx in (("peak", 2), ("avg", 3)):
                    vals = [r[idx] for r in rows]
                    want = {"p50": nearest(percentile(vals, 0.5)), "p95": nearest(percentile(vals, 0.95)),
                            "max": nearest(max(vals))}
                    eq(t[key], want, f"{b['build']}/{t['tag']}: {key} spread")
                over = sum(1 for r in rows if r[4] and r[2] > r[4])
                eq(t["over_budget"], over, f"{b['build']}/{t['tag']}: sessions over budget")
                # ties: the smaller id as the store sorts it (a signed 64-bit integer)
                worst = max(rows, key=lambda r: (r[2] / r[4] if r[4] else r[2] * 1e-30, -signed(int(r[0], 16))))
                eq(t["worst"][0]["session"], worst[0], f"{b['build']}/{t['tag']}: the worst session")
                eq(t["worst"][0]["host"], worst[1], "its host")
                checked += 1
        eq(checked, len(expected), "every build and tag checked")
        b1 = doc["builds"][0]
        eq(b1["sessions"], 7, "b1's sessions")
        phys = [t for t in b1["tags"] if t["tag"] == "physics"][0]
        check(phys["over_budget"] >= 1 and phys["state"] == "critical", f"physics went over: {phys}")
        # tag= keeps a tag and its descendants; any daemon answers the same.
        only = api.get("/api/v1/fleet?app=fleetgame&tag=physics&since=0")
        eq({t["tag"] for b in only["builds"] for t in b["tags"]}, {"physics", "physics/contacts"}, "tag=physics")
        eq(writers[0].get("/api/v1/fleet?app=fleetgame&since=0")["builds"], doc["builds"],
           "an ingesting daemon answers the same")
        eq(api.get("/api/v1/fleet?app=fleetgame")["sessions"], 8, "since defaults to the last 24 h")
        eq(api.get(f"/api/v1/fleet?app=fleetgame&since={int(time.time() * 1000) + 60000}")["builds"], [],
           "nothing since a time to come")
        st, _, body = api.request("GET", "/api/v1/fleet?since=soon")
        eq((st, json.loads(body)["error"]["parameter"]), (400, "since"), "a bad since")
        st, _, body = api.request("GET", "/api/v1/fleet?host=x")
        eq((st, json.loads(body)["error"]["code"]), (400, "unknown_parameter"), "an unknown parameter")
    finally:
        for d in writers + [api]:
            eq(d.stop(), 0, "exit code")


def capture_frames(path):
    """The FRAME messages of a capture file, counted by PROTOCOL.md §10."""
    data = open(path, "rb").read()
    i, n = 16, 0
    while i + 28 <= len(data):
        body = int.from_bytes(data[i + 8:i + 12], "little")
        if i + 28 + body > len(data):
            break
        n += data[i + 6] == 2
        i += 28 + body
    return n


@test
def import_loads_captures_idempotently():
    """fa-insightd --import: capture files become sessions with their own
    times; a second import of the same files stores nothing; a file cut off
    by a crash imports to its last whole message; bad files are named."""
    if not ARGS.agent_game:
        raise Skip("fa-agent/ has no header and library yet")
    work = tempfile.mkdtemp(prefix="import-", dir=TMP)
    caps = []
    for name in ("a", "b"):
        path = os.path.join(work, name + ".facap")
        r = subprocess.run([ARGS.agent_game, "file:" + path], capture_output=True, timeout=60, text=True)
        eq(r.returncode, 0, f"agent game: {r.stderr[-300:]}")
        caps.append((path, re.search(r"session=([0-9a-f]{16})", r.stdout).group(1)))
    cut = os.path.join(work, "cut.facap")
    data = open(caps[1][0], "rb").read()
    with open(cut, "wb") as f:
        f.write(data[:len(data) - 100])  # inside the last FRAME (the BYE is 88 bytes)
    db = new_store("import", work)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=1")

    def imp(*files):
        r = subprocess.run([ARGS.daemon, "--store", db, "--import"] + list(files), capture_output=True, text=True,
                           timeout=60, env=env)
        check("Sanitizer" not in r.stderr and "runtime error" not in r.stderr, f"import: {r.stderr[-2000:]}")
        return r
    r = imp(caps[0][0], cut)
    eq(r.returncode, 0, f"import: {r.stdout}{r.stderr[-1500:]}")
    want = {caps[0][1]: capture_frames(caps[0][0]), caps[1][1]: capture_frames(cut)}
    eq(want[caps[1][1]], capture_frames(caps[1][0]) - 1, "the cut file lost its last frame")
    check(f"session {caps[0][1]} imported, {want[caps[0][1]]} frames" in r.stdout, r.stdout)
    check("cut off inside its last message" in r.stdout, r.stdout)
    r = imp(caps[0][0], cut, os.path.join(work, "missing.facap"), ARGS.sender)
    eq(r.returncode, 2, f"a bad file is exit 2: {r.stdout}")
    check(r.stdout.count("is already stored: skipped") == 2 and "0 frames stored" in r.stdout, r.stdout)
    check("missing.facap: cannot read it" in r.stdout and "not a framealloc capture file" in r.stdout, r.stdout)
    fifo = os.path.join(work, "fifo.facap")  # nobody writes it: an open that waits would hang
    os.mkfifo(fifo)
    r = imp(fifo)
    eq(r.returncode, 2, f"a FIFO is a bad file: {r.stdout}")
    check("fifo.facap: cannot read it (not a regular file)" in r.stdout, r.stdout)
    d = Daemon("imported", db=db)
    ss = {s["id"]: s for s in d.get("/api/v1/sessions?limit=10")["sessions"]}
    for sid, frames in want.items():
        check(sid in ss, f"session {sid} listed: {list(ss)}")
        eq(ss[sid]["frames"], frames, "frames of the session")
        check(abs(ss[sid]["first_frame_ms"] - int(time.time() * 1000)) < 120000, "the run's own times")
        stored = d.get(f"/api/v1/sessions/{sid}/frames?limit=1000")["frames"]
        eq(len(stored), frames, "raw frames stored")
    eq((ss[caps[0][1]]["end_reason"], ss[caps[1][1]]["end_reason"]), ("bye", "timeout"), "how they ended")
    a = d.get(f"/api/v1/alerts?session={caps[0][1]}")["alerts"]
    check(a and a[0]["tag"] == "physics" and a[0]["level"] == "critical", f"alerts from the import: {a}")
    eq(d.stop(), 0, "exit code")
    r = subprocess.run([ARGS.daemon, "--import"], capture_output=True, text=True, timeout=30, env=env)
    check(r.returncode == 2 and "--import needs one or more capture files" in r.stderr, r.stderr)
    # An import writes: a --no-ingest daemon only reads (it would skip the
    # stored sessions' ids, and on PostgreSQL the registration as a writer).
    r = subprocess.run([ARGS.daemon, "--store", db, "--no-ingest", "--import", caps[0][0]], capture_output=True,
                       text=True, timeout=30, env=env)
    check(r.returncode == 2 and "--no-ingest" in r.stderr and "--import" in r.stderr,
          f"--no-ingest --import refused: {r.returncode} {r.stdout[-300:]}{r.stderr[-300:]}")


@test
def import_survives_a_capture_cut_while_read():
    """The agent cuts a capture back to its last whole message after a failed
    write, so a capture can shrink while fa-insightd --import reads it. A
    mapping of the file killed the import with SIGBUS on the first page past
    the new end; the import must read what was there and finish."""
    if not ARGS.agent_game:
        raise Skip("fa-agent/ has no header and library yet")
    work = tempfile.mkdtemp(prefix="import-cut-", dir=TMP)
    src = os.path.join(work, "src.facap")
    r = subprocess.run([ARGS.agent_game, "file:" + src], capture_output=True, timeout=60, text=True)
    eq(r.returncode, 0, f"agent game: {r.stderr[-300:]}")
    data = open(src, "rb").read()
    # The file header and the messages before the first FRAME (HELLO,
    # SITES), then the session's FRAMEs repeated up to ~48 MiB, so that the
    # import is still reading when the file is cut.
    i, head, frames = 16, None, []
    while i + 28 <= len(data):
        end = i + 28 + int.from_bytes(data[i + 8:i + 12], "little")
        if data[i + 6] == 2:
            head = head if head is not None else data[:i]
            frames.append(data[i:end])
        i = end
    check(head is not None and frames, "the capture has frames")
    big = os.path.join(work, "big.facap")
    span = len(b"".join(frames))
    seq = int.from_bytes(frames[0][20:28], "little")
    with open(big, "wb") as f:
        f.write(head)
        for k in range(max(1, (48 << 20) // span)):
            for fr in frames:  # new seq, frame number and start time per copy
                m = bytearray(fr)
                m[20:28] = seq.to_bytes(8, "little")
                seq += 1
                for off in (28, 36):
                    v = int.from_bytes(m[off:off + 8], "little") + k * (len(frames) + 1) * (1 if off == 28 else 16666666)
                    m[off:off + 8] = v.to_bytes(8, "little")
                f.write(m)
    db = new_store("import-cut", work)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=1")
    p = subprocess.Popen([ARGS.daemon, "--store", db, "--import", big], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env)
    # Cut it as soon as the import holds the file (a mapping, or an open
    # descriptor), or after 5 s.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and p.poll() is None:
        try:
            held = big in open(f"/proc/{p.pid}/maps").read() or any(
                os.readlink(f"/proc/{p.pid}/fd/{fd}") == big for fd in os.listdir(f"/proc/{p.pid}/fd"))
        except OSError:
            held = False
        if held:
            break
        time.sleep(0.001)
    os.truncate(big, len(head) + 10 * len(frames[0]))  # while the import reads it
    try:
        out, err = p.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    check(p.returncode >= 0, f"the import was killed by signal {-p.returncode}: {out[-500:]}{err[-1000:]}")
    eq(p.returncode, 0, f"import: {out[-500:]}{err[-1500:]}")
    check(re.search(r"session [0-9a-f]{16} imported, \d+ frames", out), out)


# ---------------------------------------------------------------------------
# Call sites

SITES_GAME_SRC = "tests/insightd/sites_game.c"


def site_markers():
    """{marker: (line, function)} from the "site:" comments of sites_game.c."""
    here = os.path.dirname(os.path.abspath(__file__))
    out, function = {}, None
    with open(os.path.join(here, "sites_game.c")) as f:
        for no, line in enumerate(f, 1):
            m = re.match(r"static \w+ (\w+)\(", line)
            if m:
                function = m.group(1)
            m = re.search(r"/\* site: (\w+) \*/", line)
            if m:
                out[m.group(1)] = (no, function)
    return out


def run_sites_game(d, frames=120):
    if not ARGS.sites_game:
        raise Skip("fa-agent/ has no header and library yet")
    r = subprocess.run([ARGS.sites_game, d.ingest, str(frames)], capture_output=True, timeout=60, text=True)
    eq(r.returncode, 0, f"sites game: {r.stderr[-500:]}")
    m = re.search(r"session=([0-9a-f]{16}) sent=(\d+)", r.stdout)
    check(m, f"sites game output: {r.stdout!r}")
    sid, sent = m.group(1), int(m.group(2))
    check(sent > frames // 2, f"the agent sent its frames ({sent})")
    wait_for(lambda: d.get(f"/api/v1/sessions/{sid}")["frames"] == sent, 10, f"all {sent} frames received")
    wait_for(lambda: len(all_frames(d, sid)) == sent, 10, f"all {sent} frames stored")
    return sid, sent


# kind, bytes per frame, allocations per frame, tag of each marked line
SITES_WANT = {
    "physics_contacts": ("frame", 300, 3, "physics"),
    "physics_body": ("pool", 64, 1, "physics"),
    "plan_nodes": ("frame", 480, 1, "physics"),
    "draw_commands": ("heap", 5000, 1, "render"),
}


@test
def sites_of_a_real_game_are_its_lines_with_their_bytes():
    """Done when: a game with allocations at known lines in three functions
    under two tags sees exactly those file:line/function rows with their
    byte counts through the API, and a site's source with --source-root."""
    if not ARGS.sites_game:
        raise Skip("fa-agent/ has no header and library yet")
    top = os.getcwd()
    check(os.path.exists(os.path.join(top, SITES_GAME_SRC)), "run from the top directory")
    d = Daemon("sites", extra=["--source-root", top])
    try:
        sid, sent = run_sites_game(d)
        marks = site_markers()
        eq(set(marks), set(SITES_WANT), "markers in sites_game.c")
        doc = d.get(f"/api/v1/sessions/{sid}/sites?window=1h&limit=50")
        eq((doc["session"], doc["tag"], doc["frames"], doc["sort"]), (sid, None, sent, "bytes"), "document fields")
        eq(doc["truncated"], False, "every row shown")
        got = {}
        for row in doc["sites"]:
            check(not row["other"] and row["defined"], f"a defined site, not 'other': {row}")
            check(row["file"].endswith(SITES_GAME_SRC), f"file {row['file']}")
            got[(row["line"], row["function"])] = row
        want = {(marks[k][0], marks[k][1]): v for k, v in SITES_WANT.items()}
        eq(sorted(got), sorted(want), "exactly the marked lines and their functions")
        for key, (kind, nbytes, count, tag) in want.items():
            row = got[key]
            eq((row["kind"], row["tag"]), (kind, tag), f"kind and tag of line {key[0]}")
            eq((row["bytes_per_frame"]["avg"], row["bytes_per_frame"]["max"]), (nbytes, nbytes),
               f"bytes per frame of line {key[0]}")
            eq((row["count_per_frame"]["avg"], row["count_per_frame"]["max"]), (count, count),
               f"allocations per frame of line {key[0]}")
            eq(row["frames"], sent, f"frames with a row for line {key[0]}")
        eq([r["bytes_per_frame"]["avg"] for r in doc["sites"]], [5000, 480, 300, 64], "largest first")
        eq(doc["totals"]["bytes_per_frame"], 5844, "totals of the rows")
        # A tag's subtree only, its shares, and the order by count.
        ph = d.get(f"/api/v1/sessions/{sid}/sites?tag=physics&window=1h&sort=count")
        eq([(r["line"], r["tag"]) for r in ph["sites"]],
           [(marks["physics_contacts"][0], "physics"), (marks["plan_nodes"][0], "physics"),
            (marks["physics_body"][0], "physics")], "physics' sites, most allocations first")
        eq(round(sum(r["share"] for r in ph["sites"]), 9), 1.0, "shares of the tag add up to 1")
        eq(ph["sites"][0]["share"], 300 / 844, "share of the tag's bytes")
        rd = d.get(f"/api/v1/sessions/{sid}/sites?tag=render&window=1h&limit=1")
        eq([(r["function"], r["share"]) for r in rd["sites"]], [("draw_frame", 1.0)], "render's one site")
        # One site: its tags, its trend, its source.
        row = got[(marks["draw_commands"][0], "draw_frame")]
        one = d.get(f"/api/v1/sessions/{sid}/sites/{row['site_id']}?window=1h&points=10&context=1")
        eq((one["site_id"], one["function"], one["line"], one["kind"]),
           (row["site_id"], "draw_frame", marks["draw_commands"][0], "heap"), "the site")
        eq([(t["tag"], t["bytes_per_frame"]["avg"]) for t in one["tags"]], [("render", 5000)], "its tags")
        eq(sum(p["frames"] for p in one["trend"]["series"]), sent, "the trend covers every frame")
        check(all(p["bytes_per_frame"] == 5000 for p in one["trend"]["series"]), f"trend {one['trend']}")
        eq(one["source_code_status"], "ok", "source shown")
        src = one["source_code"]
        eq((src["path"], src["line"], src["first_line"]), (SITES_GAME_SRC, row["line"], row["line"] - 1), "where")
        eq(len(src["lines"]), 3, "the line and one either side")
        check("site: draw_commands" in src["lines"][1], f"the line itself: {src['lines']}")
    finally:
        eq(d.stop(), 0, "exit code")


def all_frames(d, sid):
    """Every stored frame of a session, through the pages of /frames."""
    got, since = {}, 0
    while True:
        page = d.get(f"/api/v1/sessions/{sid}/frames?from={since}&limit=1000")
        fresh = [f for f in page["frames"] if f["frame"] not in got]
        got.update((f["frame"], f) for f in page["frames"])
        if not page["truncated"] or not fresh:
            return [got[k] for k in sorted(got)]
        since = page["frames"][-1]["t_ms"]


def check_site_sums(d, sid):
    """Every stored frame: each tag's site rows (with 'other') add up to its
    tag row, and all rows' bytes to the kind totals (PROTOCOL.md §4.8)."""
    frames = all_frames(d, sid)
    check(frames, "frames stored")
    with_sites = 0
    for f in frames:
        rows = f["sites"]
        with_sites += bool(rows)
        check(f["sites_total"] >= len([r for r in rows if r["site_id"]]), f"frame {f['frame']}: sites_total")
        eq(sum(r["bytes"] for r in rows), sum(k["alloc_bytes"] for k in f["totals"].values()),
           f"frame {f['frame']}: site bytes vs the kind totals")
        for t in f["tags"]:
            mine = [r for r in rows if r["tag_id"] == t["id"]]
            eq(sum(r["count"] for r in mine), t["alloc_count"], f"frame {f['frame']} tag {t['id']}: allocations")
            eq(sum(r["live_bytes"] for r in mine), t["frame_bytes"] + t["pool_bytes"] + t["heap_bytes"],
               f"frame {f['frame']} tag {t['id']}: live bytes")
        tag_ids = {t["id"] for t in f["tags"]}
        check(all(r["tag_id"] in tag_ids for r in rows), f"frame {f['frame']}: every row's tag has a tag row")
    check(with_sites > len(frames) // 2, f"frames carry site rows ({with_sites} of {len(frames)})")
    return len(frames)


@test
def site_rows_add_up_to_the_tag_rows_in_every_stored_frame():
    if not ARGS.sites_game or not ARGS.agent_game:
        raise Skip("fa-agent/ has no header and library yet")
    d = shared()
    sid, sent = run_sites_game(d)
    eq(check_site_sums(d, sid), sent, "frames checked")
    # The round-trip game: pool blocks live across frames, a budget broken.
    r = subprocess.run([ARGS.agent_game, d.ingest], capture_output=True, timeout=60, text=True)
    eq(r.returncode, 0, f"agent game: {r.stderr[-500:]}")
    sid = session_of(r.stdout)
    sent = int(re.search(r"sent=(\d+)", r.stdout).group(1))
    wait_for(lambda: len(all_frames(d, sid)) == sent, 10, "frames stored")
    eq(check_site_sums(d, sid), sent, "frames checked")
    # The API's window of the same rows: per tag, the sites' bytes are the
    # tag's (the rows of a tag with 'other' cover it whole).
    doc = d.get(f"/api/v1/sessions/{sid}/sites?tag=physics&window=1h&limit=1000")
    frames = all_frames(d, sid)
    live_last = sum(t["frame_bytes"] + t["pool_bytes"] + t["heap_bytes"] for t in frames[-1]["tags"]
                    if t["id"] in {x["tag_id"] for x in doc["sites"]})
    eq(doc["totals"]["live_bytes"], live_last, "live bytes of the tag's sites at the last frame")


def make_source_root(parent):
    root = os.path.join(parent, "src")
    os.makedirs(os.path.join(root, "game"))
    with open(os.path.join(root, "game", "ok.c"), "w") as f:
        f.write("".join(f"ok line {i}\n" for i in range(1, 11)))
    secret = os.path.join(parent, "secret.c")
    with open(secret, "w") as f:
        f.write("TOP SECRET\n" * 10)
    os.symlink(secret, os.path.join(root, "game", "link.c"))
    os.symlink(parent, os.path.join(root, "up"))
    os.mkfifo(os.path.join(root, "game", "fifo.c"))
    os.symlink("/dev/zero", os.path.join(root, "game", "zero.c"))
    os.mkdir(os.path.join(root, "game", "dir.c"))
    return root, secret


@test
def source_root_shows_only_regular_files_under_it():
    work = tempfile.mkdtemp(prefix="srcroot-", dir=TMP)
    root, secret = make_source_root(work)
    r = subprocess.run([ARGS.daemon, "--source-root", os.path.join(work, "missing"), "--db",
                        os.path.join(work, "x.db")], capture_output=True, timeout=10)
    eq(r.returncode, 2, "a missing --source-root is a usage error")
    check(b"--source-root" in r.stderr, f"the error names it: {r.stderr!r}")
    files = [("/build/game/ok.c", "ok"), ("../secret.c", "not_found"), ("game/../../secret.c", "not_found"),
             (secret, "not_found"), ("game/link.c", "not_found"), ("up/secret.c", "not_found"),
             ("game/fifo.c", "not_found"), ("game/zero.c", "not_found"), ("game/dir.c", "not_found"),
             ("game/ok.c", "no_line")]
    lines = {len(files): 99}
    args = []
    for i, (name, _) in enumerate(files, 1):
        args += ["--site-file", f"{name}:{lines.get(i, 5)}"]
    d = Daemon("srcroot", extra=["--source-root", root])
    off = shared()
    try:
        sid = session_of(d.send("--frames", 20, "--fps", 0, "--fast", *args))
        wait_for(lambda: len(all_frames(d, sid)) == 20, 10, "frames stored")
        for i, (name, status) in enumerate(files, 1):
            t0 = time.time()
            st, _, body = d.request("GET", f"/api/v1/sessions/{sid}/sites/{i}?window=1h&context=2")
            eq(st, 200, f"site {i} ({name})")
            check(time.time() - t0 < 5, f"site {i} ({name}) answered at once")
            check(b"TOP SECRET" not in body, f"nothing of the secret through {name}")
            doc = json.loads(body)
            eq((doc["file"], doc["source_code_status"]), (name, status), f"site {i}")
            if status == "ok":
                eq(doc["source_code"]["lines"], ["ok line 3", "ok line 4", "ok line 5", "ok line 6", "ok line 7"],
                   "the line and two either side")
                eq(doc["source_code"]["path"], "game/ok.c", "the file found under the root")
        # Without --source-root nothing is read.
        sid2 = session_of(off.send("--frames", 5, "--fps", 0, "--fast", "--site-file", "/build/game/ok.c:5"))
        wait_for(lambda: len(all_frames(off, sid2)) == 5, 10, "frames stored")
        doc = off.get(f"/api/v1/sessions/{sid2}/sites/1?window=1h")
        eq((doc["source_code"], doc["source_code_status"]), (None, "off"), "no source without --source-root")
    finally:
        eq(d.stop(), 0, "exit code")


@test
def old_agent_speaking_1_0_is_stored_without_sites():
    """A 1.0 agent (no SITES, FRAMEs without their site part) keeps working
    with this daemon: nothing refused, frames, tags and trends as before,
    and the sites documents answer with no rows."""
    d = shared()
    before = d.health()["ingest"]
    sid = session_of(d.send("--frames", 50, "--fps", 100, "--fast", "--budget", 100000, "--proto-1.0", "--bye"))
    s = wait_for(lambda: (lambda s: s["frames"] == 50 and s)(d.get(f"/api/v1/sessions/{sid}")), 10, "frames")
    eq((s["end_reason"], s["live"]), ("bye", False), "the session ended by its BYE")
    h = d.health()["ingest"]
    eq(h["rejected"], before["rejected"], "nothing rejected")
    eq(h["accepted"]["sites"], before["accepted"]["sites"], "no SITES")
    frames = wait_for(lambda: (lambda f: len(f) == 50 and f)(all_frames(d, sid)), 10, "frames stored")
    check(all(f["sites"] == [] and f["sites_total"] == 0 and len(f["tags"]) == 8 for f in frames),
          "frames with their tag rows and no site rows")
    eq(d.get(f"/api/v1/sessions/{sid}/budgets?tag=physics")["budgets"][0]["budget_hard"], 100000, "budgets")
    tr = d.get(f"/api/v1/sessions/{sid}/trend?tag=physics&window=1h&points=10")
    check(tr["series"], "a trend")
    doc = d.get(f"/api/v1/sessions/{sid}/sites?window=1h")
    eq((doc["sites"], doc["frames"], doc["pairs"]), ([], 50, 0), "no sites, every frame counted")
    one = d.get(f"/api/v1/sessions/{sid}/sites/1?window=1h")
    eq((one["defined"], one["tags"]), (False, []), "an unknown site is empty, not an error")


@test
def sites_routes_reject_bad_parameters():
    d = shared()
    sid = session_of(d.send("--frames", 5, "--fps", 0, "--fast", "--site-file", "a.c:1"))
    wait_for(lambda: len(all_frames(d, sid)) == 5, 10, "frames stored")
    base = f"/api/v1/sessions/{sid}/sites"
    cases = [
        (f"{base}?sort=size", 400, "bad_parameter", "sort"),
        (f"{base}?limit=0", 400, "bad_parameter", "limit"),
        (f"{base}?limit=1001", 400, "bad_parameter", "limit"),
        (f"{base}?window=0s", 400, "bad_parameter", "window"),
        (f"{base}?window=31d", 400, "bad_parameter", "window"),
        (f"{base}?tag=nope", 404, "tag_not_found", "tag"),
        (f"{base}?tag=", 400, "bad_parameter", "tag"),
        (f"{base}?points=5", 400, "unknown_parameter", "points"),
        (f"{base}/x", 400, "bad_parameter", "site"),
        (f"{base}/0", 400, "bad_parameter", "site"),
        (f"{base}/4294967296", 400, "bad_parameter", "site"),
        (f"{base}/1?context=21", 400, "bad_parameter", "context"),
        (f"{base}/1?points=0", 400, "bad_parameter", "points"),
        (f"{base}/1?sort=bytes", 400, "unknown_parameter", "sort"),
        (f"{base}/1/x", 404, "not_found", None),
        ("/api/v1/sessions/00000000000000aa/sites", 404, "session_not_found", "id"),
    ]
    for path, status, code, param in cases:
        st, headers, body = d.request("GET", path)
        eq(st, status, f"status of {path}")
        err = json.loads(body)["error"]
        eq((err["code"], err.get("parameter")), (code, param), f"error of {path}")
    doc = d.get(f"{base}?tag=physics&window=90s&limit=1&sort=count")
    eq([(r["site_id"], r["function"], r["bytes_per_frame"]["avg"]) for r in doc["sites"]], [(1, "fn1", 100)],
       "the sender's one site")


# ---- static findings: SARIF reports (PUT /api/v1/lint, --lint-report) ------------------------------

def sarif(results, version="2.1.0", rules=None):
    return json.dumps({"version": version, "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
                       "runs": [{"tool": {"driver": {"name": "fa-lint", "semanticVersion": "0.1.0",
                                                     "rules": rules or [{"id": "FA602", "name": "heap-in-frame-loop"}]}},
                                 "results": results}]}).encode()


def sarif_result(rule, uri, line, text="m", level="error", fp="f1"):
    return {"ruleId": rule, "level": level, "message": {"text": text},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "SRCROOT"},
                                                "region": {"startLine": line, "startColumn": 3}},
                           "logicalLocations": [{"name": "main", "kind": "function"}]}],
            "partialFingerprints": {"faLint/v1": fp}}


def put_lint(d, body, headers=None):
    st, hdrs, data = d.request("PUT", "/api/v1/lint", headers=headers, body=body)
    return st, json.loads(data) if data.startswith(b"{") else data


@test
def lint_report_put_is_validated_kept_and_listed_by_file():
    d = Daemon("lint-put", extra=["--max-lint-report", "64KiB"])
    got = d.get("/api/v1/lint")
    eq((got["report"], got["findings"]), (None, []), "no report yet")
    good = sarif([sarif_result("FA602", "src/b.c", 20, fp="b20"), sarif_result("FA605", "tools/b.c", 1, fp="t1"),
                  sarif_result("FA602", "file:///home/ci/game/src/a%20b.c", 7, text="bad\x1b[2Jtext", fp="a7"),
                  sarif_result("FA601", "src/b.c", 3, level="warning", fp="b3")])
    st, body = put_lint(d, good)
    eq(st, 200, f"PUT a valid report: {body}")
    eq((body["report"]["results"], body["report"]["tool"], body["report"]["source"]), (4, "fa-lint", "put"),
       "the report's facts")
    got = d.get("/api/v1/lint")
    rows = [(f["file"], f["line"], f["rule"], f["kind"]) for f in got["findings"]]
    eq(rows, [("/home/ci/game/src/a b.c", 7, "FA602", "static"), ("src/b.c", 3, "FA601", "static"),
              ("src/b.c", 20, "FA602", "static"), ("tools/b.c", 1, "FA605", "static")],
       "findings sorted by file and line, file:// URIs decoded")
    check("\x1b" not in got["findings"][0]["message"], f"control bytes sanitised: {got['findings'][0]['message']!r}")
    eq(got["findings"][2]["rule_name"], "heap-in-frame-loop", "the rule's name from the driver's rules")
    eq(got["findings"][2]["fingerprint"], "b20", "the fingerprint")
    only = d.get("/api/v1/lint?file=/work/tree/src/b.c")
    eq([f["line"] for f in only["findings"]], [3, 20], "file= lists the file that matches best (not tools/b.c)")
    eq(len(d.get("/api/v1/lint?file=b.c")["findings"]), 3, "a bare file name matches both b.c files")
    eq(d.get("/api/v1/lint?file=b.c&limit=1")["count"], 1, "limit")
    eq(d.get("/api/v1/lint?file=other/c.c")["findings"], [], "another file: none")
    # Each refusal names the problem, and the report in force stays.
    bad = [(b"", "the body is empty"),
           (b"{not json", "not JSON"),
           (b"[1,2]", "must be a JSON object"),
           (json.dumps({"runs": []}).encode(), "'version' is missing"),
           (sarif([], version="2.0.0"), "not SARIF 2.1.0: 'version' is '2.0.0'"),
           (json.dumps({"version": "2.1.0"}).encode(), "'runs' is missing"),
           (json.dumps({"version": "2.1.0", "runs": [{"results": []}]}).encode(), "runs[0].tool: missing"),
           (sarif([{"ruleId": "FA602"}]), "runs[0].results[0].message: missing"),
           (sarif([dict(sarif_result("FA602", "a.c", 1), level="fatal")]), "runs[0].results[0].level"),
           (sarif([sarif_result("FA602", "a.c", 1), sarif_result("FA602", "a.c", -4)]),
            "runs[0].results[1].locations[0].physicalLocation.region.startLine: must be a positive integer")]
    for body_bytes, want in bad:
        st, body = put_lint(d, body_bytes)
        eq(st, 400, f"refused: {body_bytes[:60]!r}")
        eq(body["error"]["code"], "bad_report", "code")
        check(want in body["error"]["message"], f"message names the problem ({want}): {body['error']['message']}")
    got = d.get("/api/v1/lint")
    eq((len(got["findings"]), got["refused"], got["accepted"]), (4, len(bad), 1), "the good report stays")
    # Bounded: a body over --max-lint-report never reaches the parser.
    huge = sarif([sarif_result("FA602", "a.c", i + 1, text="x" * 200, fp=str(i)) for i in range(400)])
    check(len(huge) > 64 * 1024, "the big report is over the bound")
    st, hdrs, data = d.request("PUT", "/api/v1/lint", body=huge)
    eq((st, json.loads(data)["error"]["code"]), (413, "report_too_large"), "an oversized report: 413, JSON")
    check(str(len(huge)) in json.loads(data)["error"]["message"], f"the size is named: {data!r}")
    eq(hdrs.get("connection"), "close", "its unread body closes the connection")
    st, hdrs, data = d.request("PUT", "/api/v1/lint", headers={"Content-Length": "12x"})
    eq((st, json.loads(data)["error"]["code"]), (400, "bad_content_length"), "a Content-Length that is no number")
    eq(len(d.get("/api/v1/lint")["findings"]), 4, "and the report in force stays")
    # A body sent in pieces, slower than one read, arrives whole.
    with socket.create_connection(("127.0.0.1", d.port), timeout=10) as s:
        s.sendall(f"PUT /api/v1/lint HTTP/1.1\r\nHost: {d.hostport}\r\nContent-Length: {len(good)}\r\n\r\n".encode())
        for i in range(0, len(good), 97):
            s.sendall(good[i:i + 97])
            time.sleep(0.002)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    check(reply.startswith(b"HTTP/1.1 200"), f"a body in pieces: {reply[:200]!r}")
    st, hdrs, body = d.request("POST", "/api/v1/lint", body=b"{}")
    eq((st, hdrs.get("allow")), (405, "GET, HEAD, PUT"), "POST: 405 with the methods this route takes")
    eq(d.get("/api/v1/lint?nope=1", want=400)["error"]["code"], "unknown_parameter", "unknown parameter")
    eq(d.get("/api/v1/lint?limit=0", want=400)["error"]["parameter"], "limit", "bad limit")
    st, body = put_lint(d, good, headers={"Origin": "http://evil.example"})
    eq((st, body["error"]["code"]), (403, "origin_not_allowed"), "a page of another origin cannot upload")
    st, body = put_lint(d, good, headers={"Origin": f"http://{d.hostport}"})
    eq(st, 200, f"the dashboard's own origin can: {body}")
    eq(d.stop(), 0, "exit code")


@test
def lint_report_file_is_read_again_when_it_changes():
    work = tempfile.mkdtemp(prefix="lint-file-", dir=TMP)
    path = os.path.join(work, "fa-lint.sarif")
    d = Daemon("lint-file", extra=["--lint-report", path])
    eq(d.get("/api/v1/lint")["report"], None, "the file does not exist yet")

    def write(data):  # the way a CI writes it: a new file renamed over the old one
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)

    write(sarif([sarif_result("FA602", "examples/fa-demo.c", 507)]))
    got = wait_for(lambda: (lambda g: g["report"] and g)(d.get("/api/v1/lint")), 10, "the report read")
    eq(([f["line"] for f in got["findings"]], got["report"]["source"], got["report"]["path"]), ([507], "file", path),
       "read when it appeared")
    write(sarif([sarif_result("FA601", "examples/fa-demo.c", 9), sarif_result("FA602", "x.c", 1)]))
    wait_for(lambda: len(d.get("/api/v1/lint")["findings"]) == 2, 10, "the new report read")
    write(b'{"version": "2.1.0", "runs": 7}')
    got = wait_for(lambda: (lambda g: g["last_error"] and g)(d.get("/api/v1/lint")), 10, "the bad file noticed")
    check(path in got["last_error"] and "'runs' must be an array" in got["last_error"], got["last_error"])
    eq(len(got["findings"]), 2, "an invalid file leaves the report in force")
    check("--lint-report" in d.log() and "'runs' must be an array" in d.log(), "logged")
    eq(d.stop(), 0, "exit code")


@test
def lint_report_needs_the_token_of_a_daemon_that_has_one():
    work = tempfile.mkdtemp(prefix="lint-token-", dir=TMP)
    token_file = os.path.join(work, "token")
    with open(token_file, "w") as f:
        f.write("lint-token-0123456789abcdef\n")
    os.chmod(token_file, 0o600)
    d = Daemon("lint-token", extra=["--token-file", token_file])
    body = sarif([sarif_result("FA602", "a.c", 1)])
    st, _ = put_lint(d, body)
    eq(st, 401, "PUT without the token")
    eq(d.request("GET", "/api/v1/lint")[0], 401, "GET without the token")
    auth = {"Authorization": "Bearer lint-token-0123456789abcdef"}
    st, got = put_lint(d, body, headers=auth)
    eq(st, 200, f"PUT with the token: {got}")
    st, _, data = d.request("GET", "/api/v1/lint", headers=auth)
    eq((st, len(json.loads(data)["findings"])), (200, 1), "GET with the token")
    eq(d.stop(), 0, "exit code")


def main():
    global ARGS, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--sender", required=True)
    ap.add_argument("--agent-game")
    ap.add_argument("--sites-game")
    ap.add_argument("-k", help="run the tests whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--tsan", action="store_true", help="the daemon is a TSan build: its reports fail the test")
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite",
                    help="the store every daemon of the run uses (postgresql: a throwaway server)")
    ARGS = ap.parse_args()
    ARGS.daemon = os.path.abspath(ARGS.daemon)
    ARGS.sender = os.path.abspath(ARGS.sender)
    TMP = tempfile.mkdtemp(prefix="fa-insightd-it-")
    SUITE = "insightd" if not pg() else "insightd_pg"
    passed = failed = 0
    t_all = time.time()
    global PG
    if pg():
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from pgserver import PgServer
        PG = PgServer()
        print(f"store: PostgreSQL at {PG.dir} (a database per daemon)", flush=True)
    try:
        for fn in TESTS:
            if ARGS.k and ARGS.k not in fn.__name__:
                continue
            t0 = time.time()
            try:
                fn()
                passed += 1
                print(f"[PASS] {SUITE}::{fn.__name__} ({time.time() - t0:.1f}s)", flush=True)
            except Skip as e:
                print(f"[SKIP] {SUITE}::{fn.__name__}: {e}", flush=True)
            except Exception as e:  # noqa: BLE001 - every failure is reported the same way
                failed += 1
                print(f"[FAIL] {SUITE}::{fn.__name__} ({time.time() - t0:.1f}s): {e}", flush=True)
                if not isinstance(e, Fail):
                    traceback.print_exc()
        if "d" in SHARED:
            rc = SHARED["d"].stop()
            if rc != 0:
                failed += 1
                print(f"[FAIL] {SUITE}::shared_daemon_exit: exit code {rc}\n{SHARED['d'].log()[-3000:]}")
    finally:
        # a failed test may have left its daemon or a sender running
        for p in [d.proc for d in ALL_DAEMONS] + ALL_SENDERS:
            if p.poll() is None:
                p.kill()
                p.wait()
        if PG:
            PG.stop()
        if not ARGS.keep:
            shutil.rmtree(TMP, ignore_errors=True)
        else:
            print(f"kept {TMP}")
    print(f"integration [{ARGS.store}]: {time.time() - t_all:.0f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

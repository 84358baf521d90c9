#!/usr/bin/env python3
"""fa-cli integration tests: the real daemon (fa-insightd) on free ports with
a temporary database, fed by the real agent (tests/cli/feeder.c, linking
fa-agent + lib), then every fa-cli command against it: human output content,
--json structure, exit codes (budgets --check 3/0, bad arguments 2, daemon
down 1), colours on a terminal only, and `watch` in tmux across a daemon
restart.

usage: run_cli_tests.py --cli build/fa-cli --daemon build/fa-insightd
                        --feeder build/default/tests/cli_feeder [--keep] [-v]
The last line is "N passed, N failed"; the exit status is 1 on any failure.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
import time

from hostile_server import EVIL, HostileServer

HEX16 = re.compile(r"^[0-9a-f]{16}$")


class Runner:
    def __init__(self, args):
        self.args = args
        self.cli = os.path.abspath(args.cli)
        self.daemon_bin = os.path.abspath(args.daemon)
        self.feeder_bin = os.path.abspath(args.feeder)
        self.tmp = tempfile.mkdtemp(prefix="fa-cli-test-")
        self.db = os.path.join(self.tmp, "insight.db")
        self.http_port, self.ingest_port, self.dead_port = free_ports(3)
        self.server = "http://127.0.0.1:%d" % self.http_port
        self.ingest = "tcp://127.0.0.1:%d" % self.ingest_port
        self.daemon = None
        self.daemon_starts = 0
        self.feeder = None
        self.passed = 0
        self.failed = 0
        self.tmux_socket = "fa-cli-test-%d" % os.getpid()
        self.tmux_keeper = False
        self.env = dict(os.environ)
        for k in ("FA_INSIGHT_SERVER", "FA_INSIGHT_CA", "NO_COLOR", "LC_ALL", "LC_CTYPE"):
            self.env.pop(k, None)
        self.env["LANG"] = "C.UTF-8"
        self.env["FA_INSIGHT_SERVER"] = self.server
        self.sid = None
        self.short_sid = None

    # ---- processes ---------------------------------------------------------

    def start_daemon(self):
        self.daemon_starts += 1
        log = open(os.path.join(self.tmp, "daemon.%d.log" % self.daemon_starts), "w")
        self.daemon = subprocess.Popen(
            [self.daemon_bin, "--listen", "127.0.0.1:%d" % self.http_port, "--ingest", self.ingest,
             "--db", self.db, "--session-timeout", "3s"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.daemon.poll() is not None:
                raise RuntimeError("fa-insightd exited at start (see %s)" % log.name)
            if self.run("health", check_env=False).code == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("fa-insightd did not answer within 10 s")

    def stop_daemon(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.send_signal(signal.SIGTERM)
            try:
                self.daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        self.daemon = None

    def run_feeder(self, *extra, background=False):
        cmd = [self.feeder_bin, "--url", self.ingest] + list(extra)
        out = open(os.path.join(self.tmp, "feeder.%d.out" % (2 if background else 1)), "w+")
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        if not background:
            p.wait(timeout=30)
        return p, out

    def run(self, *argv, env=None, check_env=True, timeout=20):
        e = dict(self.env)
        if env:
            e.update(env)
        p = subprocess.run([self.cli] + list(argv), env=e, capture_output=True, timeout=timeout)
        res = Result(argv, p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"))
        res.raw = p.stdout + p.stderr
        return res

    def tmux(self, *argv):
        if argv and argv[0] == "new-session" and not self.tmux_keeper:
            # One idle session keeps the private tmux server up: when the last
            # session of a server ends, the server exits, and a new-session
            # racing with that exit can fail.
            self.tmux_keeper = True
            self.tmux("new-session", "-d", "-s", "keeper", "sleep 600")
        for _ in range(3):
            p = subprocess.run(["tmux", "-L", self.tmux_socket] + list(argv), capture_output=True, text=True)
            if p.returncode == 0 or argv[0] != "new-session":
                return p
            time.sleep(0.2)
        raise AssertionError("tmux %s failed: %s" % (" ".join(argv), p.stderr))

    # ---- reporting ---------------------------------------------------------

    def check(self, name, fn):
        try:
            fn()
        except AssertionError as e:
            self.failed += 1
            print("FAIL %s: %s" % (name, e))
            return
        except Exception as e:  # a crash of the test itself is a failure too
            self.failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
            return
        self.passed += 1
        print("ok   %s" % name)
        sys.stdout.flush()

    def cleanup(self):
        if getattr(self, "hostile", None):
            self.hostile.stop()
        self.tmux("kill-server")
        if self.feeder and self.feeder.poll() is None:
            self.feeder.send_signal(signal.SIGTERM)
            try:
                self.feeder.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.feeder.kill()
        self.stop_daemon()
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print("kept %s" % self.tmp)


class Result:
    def __init__(self, argv, code, out, err):
        self.argv, self.code, self.out, self.err = argv, code, out, err

    def __repr__(self):
        return "fa-cli %s -> %d\n--- stdout\n%s--- stderr\n%s" % (" ".join(self.argv), self.code, self.out[-1500:],
                                                                 self.err[-800:])

    def expect(self, code):
        assert self.code == code, "expected exit %d: %r" % (code, self)
        return self

    def has(self, *needles, where="out"):
        text = self.out if where == "out" else self.err
        for n in needles:
            assert n in text, "%r not in %s of %r" % (n, where, self)
        return self

    def lacks(self, *needles, where="out"):
        text = self.out if where == "out" else self.err
        for n in needles:
            assert n not in text, "%r unexpectedly in %s of %r" % (n, where, self)
        return self

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise AssertionError("stdout is not JSON (%s): %r" % (e, self))


def free_ports(n):
    socks, ports = [], []
    while len(ports) < n:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        if port in (7878, 7879):
            s.close()
            continue
        socks.append(s)
        ports.append(port)
    for s in socks:
        s.close()
    return ports


def wait_for(what, fn, timeout=15, interval=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            v = fn()
            if v:
                return v
        except (AssertionError, ValueError, KeyError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (%s)" % (what, last))


def walk(nodes):
    for n in nodes:
        yield n
        for c in walk(n.get("children") or []):
            yield c


# ---- the tests ----------------------------------------------------------------

COMMANDS = ["sessions", "tags", "budgets", "trend", "sites", "alerts", "frames", "findings", "watch", "export", "health",
            "compare", "baseline", "fleet"]


def test_empty_daemon(r):
    r.run("sessions").expect(0).has("no sessions yet")
    assert r.run("sessions", "--json").expect(0).json()["sessions"] == []
    for argv in (["tags"], ["budgets", "--check"], ["watch"]):
        r.run(*argv).expect(1).has("no sessions yet", "FA_INSIGHT_URL", where="err")
    r.run("alerts", "--all-sessions").expect(0).has("no alerts")


def test_help(r):
    res = r.run("--help").expect(0)
    for c in COMMANDS:
        assert "\n  %s " % c in res.out, "command %s not listed: %r" % (c, res)
    for c in COMMANDS:
        h = r.run(c, "--help").expect(0)
        h.has("fa-cli %s" % c, "usage: fa-cli", "Example:\n  fa-cli %s" % c, "--server URL")
        assert len(h.out.split("\n")[0]) > len("fa-cli %s — " % c) + 10, "no summary line: %r" % h
    r.run("help", "budgets").expect(0).has("--check")
    r.run("--version").expect(0).has("fa-cli ")


def test_usage_errors(r):
    r.run().expect(2).has("usage: fa-cli", where="err")
    r.run("budget").expect(2).has("unknown command 'budget'; did you mean 'budgets'?", where="err")
    r.run("budgets", "--bogus").expect(2).has("unknown option '--bogus'", "usage: fa-cli [global options] budgets",
                                               where="err")
    r.run("frames", "--last", "abc").expect(2).has("--last: 'abc' is not a whole number", where="err")
    r.run("frames", "--last", "0").expect(2)
    r.run("trend").expect(2).has("--tag is required", where="err")
    r.run("trend", "--tag", "render", "--window", "5y").expect(2).has("--window: '5y' is not a duration",
                                                                       where="err")
    r.run("trend", "--tag", "render", "--points", "5000").expect(2)
    r.run("alerts", "--since", "yesterday").expect(2).has("--since: 'yesterday' is not a time", where="err")
    r.run("export", "--format", "xml").expect(2).has("--format: 'xml' is not csv, json, trace or folded", where="err")
    r.run("export", "--from", "now", "--to", "10m").expect(2).has("--from is after --to", where="err")
    r.run("--server", "ftp://127.0.0.1:1", "sessions").expect(2).has("not an http:// or https:// URL", where="err")
    r.run("--server", "https://127.0.0.1:1", "sessions").expect(2).has("--ca FILE or $FA_INSIGHT_CA", where="err")
    r.run("--server", "https://127.0.0.1:1", "--ca", "/nonexistent/ca.pem", "sessions").expect(2).has(
        "--ca /nonexistent/ca.pem", where="err")
    r.run("--server").expect(2).has("--server needs a URL", where="err")
    r.run("--session", "", "tags").expect(2)
    r.run("sessions", "stray").expect(2).has("unexpected argument 'stray'", where="err")
    r.run("--timeout", "forever", "sessions").expect(2)


def test_daemon_down(r):
    dead = "http://127.0.0.1:%d" % r.dead_port
    for argv in (["sessions"], ["tags"], ["budgets", "--check"], ["trend", "--tag", "x"], ["alerts"], ["frames"],
                 ["findings"], ["watch"], ["export", "--format", "csv"], ["health"], ["fleet", "--app", "x"]):
        res = r.run("--server", dead, *argv).expect(1)
        lines = [l for l in res.err.split("\n") if l]
        assert len(lines) == 1, "expected one line: %r" % res
        res.has("fa-insightd is not running at %s" % dead, "start it with 'fa-insightd --listen 127.0.0.1:%d'"
                % r.dead_port, where="err")
        assert res.out == "", "stdout not empty: %r" % res


def test_sessions(r):
    res = r.run("sessions").expect(0)
    res.has("ID", "APP", "HOST", "PID", "STARTED", "FRAMES", "STATE", r.sid, "cli-feeder (integration)",
            r.short_sid, "short-game", "live", "ended")
    line = [l for l in res.out.split("\n") if r.sid in l][0]
    assert line.startswith("*"), "the default session is not marked: %r" % res
    assert re.search(r"\blive\b", line), line
    short_line = [l for l in res.out.split("\n") if r.short_sid in l][0]
    assert "ended" in short_line and "bye" in short_line.lower(), short_line
    doc = r.run("sessions", "--json").expect(0).json()
    assert isinstance(doc["sessions"], list) and len(doc["sessions"]) == 2, doc
    for s in doc["sessions"]:
        for k in ("id", "app", "host", "pid", "started_ms", "frames", "live"):
            assert k in s, "%s missing in %r" % (k, s)
        assert HEX16.match(s["id"]), s["id"]
    live = [s for s in doc["sessions"] if s["id"] == r.sid][0]
    assert live["live"] is True and live["app"] == "cli-feeder" and live["frames"] > 100, live
    short = [s for s in doc["sessions"] if s["id"] == r.short_sid][0]
    # The agent may drop the first frames before its connection is up.
    assert short["live"] is False and 20 <= short["frames"] <= 30 and short["end_reason"] == "bye", short


def test_sessions_paged(r):
    # The daemon pages /sessions (newest first, live first): one page by
    # default, --limit N, --all follows the cursors.
    res = r.run("sessions", "--limit", "1").expect(0)
    rows = [l for l in res.out.split("\n") if re.search(r"\b[0-9a-f]{16}\b", l)]
    assert len(rows) == 1 and r.sid in rows[0], res
    res.has("older sessions exist: fa-cli sessions --all")
    res = r.run("sessions", "--all").expect(0).has(r.sid, r.short_sid).lacks("older sessions exist")
    doc = r.run("sessions", "--all", "--json").expect(0).json()
    assert doc["count"] == 2 and len(doc["sessions"]) == 2 and doc["next"] is None, doc
    doc = r.run("sessions", "--limit", "1", "--json").expect(0).json()
    assert len(doc["sessions"]) == 1 and doc["next"], doc
    r.run("sessions", "--limit", "0").expect(2).has("--limit", where="err")


def test_session_selection(r):
    r.run("--session", r.sid[:6], "budgets").expect(0).has("render")
    r.run("--session", r.short_sid, "tags").expect(0).has("session %s, ended" % r.short_sid)
    r.run("--session", "cli-feeder", "tags").expect(0).has("session %s" % r.sid)
    r.run("--session", "latest", "tags").expect(0).has("session %s" % r.sid)
    res = r.run("--session", "ffffffffffffffff", "tags").expect(2)
    res.has("unknown session 'ffffffffffffffff'", r.sid, where="err")
    r.run("--session", "cli-feedr", "tags").expect(2).has("did you mean 'cli-feeder'?", where="err")


def test_tags(r):
    res = r.run("tags").expect(0)
    res.has("session %s, live" % r.sid, "TAG", "CURRENT", "PEAK", "BUDGET", "physics", "contacts", "render",
            "audio", "critical", "1.00 MiB / 2.00 MiB", "768 KiB / 1.00 MiB")
    # The tree: contacts is indented under physics.
    lines = res.out.split("\n")
    phys = [l for l in lines if "physics" in l][0]
    cont = [l for l in lines if "contacts" in l][0]
    assert cont.index("contacts") > phys.index("physics"), res
    assert "\u2514\u2500" in res.out or "\u251c\u2500" in res.out, "no tree connectors: %r" % res
    ascii_res = r.run("tags", env={"LANG": "C"}).expect(0)
    assert "`- " in ascii_res.out and "|- " in ascii_res.out, ascii_res
    assert all(ord(ch) < 128 for ch in ascii_res.out), "non-ASCII output under LANG=C: %r" % ascii_res
    shallow = r.run("tags", "--depth", "1").expect(0)
    shallow.has("physics", "render").lacks("contacts")
    r.run("tags", "--depth", "0").expect(0).lacks("physics")
    doc = r.run("tags", "--json").expect(0).json()
    assert doc["session"] == r.sid and isinstance(doc["tree"], list), doc
    nodes = {n["path"]: n for n in walk(doc["tree"])}
    for p in ("physics", "physics/contacts", "render", "audio"):
        assert p in nodes, "%s missing from %r" % (p, list(nodes))
    assert nodes["render"]["budget_hard"] == 1048576 and nodes["render"]["live_bytes"] > 1048576, nodes["render"]
    assert nodes["physics"]["budget_soft"] == 1048576 and nodes["physics"]["budget_hard"] == 2097152
    assert any(c["path"] == "physics/contacts" for c in nodes["physics"]["children"])


def test_budgets(r):
    res = r.run("budgets").expect(0)
    res.has("TAG", "SOFT", "HARD", "CURRENT", "PEAK", "% OF HARD", "STATUS", "physics/contacts", "no budget",
            "3 budgets: ")
    render = [l for l in res.out.split("\n") if l.strip().startswith("render")][0]
    assert "critical" in render and "1.00 MiB" in render and "768 KiB" in render, render
    assert re.search(r"\b12\d %", render), render
    physics = [l for l in res.out.split("\n") if l.strip().startswith("physics ")][0]
    assert re.search(r"\bok\b", physics), physics
    sub = r.run("budgets", "--tag", "physics").expect(0)
    sub.has("physics", "physics/contacts").lacks("render", "audio")
    assert "2 budgets: " in sub.out, sub
    doc = r.run("budgets", "--tag", "physics", "--json").expect(0).json()
    assert doc["tag"] == "physics" and [b["path"] for b in doc["budgets"]] == ["physics", "physics/contacts"], doc
    for b in doc["budgets"]:
        for k in ("budget_soft", "budget_hard", "live_bytes", "peak_bytes", "depth"):
            assert k in b, (k, b)


def test_budgets_check(r):
    r.run("budgets", "--check").expect(3).has("check failed: 1 hard budget reached:", "  render: hard budget 1.00 MiB",
                                             where="err")
    r.run("budgets", "--tag", "render", "--check").expect(3)
    r.run("budgets", "--tag", "physics", "--check").expect(0).has("0 critical")
    r.run("budgets", "--tag", "physics/contacts", "--check").expect(0)
    doc = r.run("budgets", "--tag", "render", "--check", "--json").expect(3).json()
    assert doc["budgets"][0]["path"] == "render", doc
    r.run("budgets", "--tag", "rendr", "--check").expect(2).has("unknown tag 'rendr'", "did you mean 'render'?",
                                                                   where="err")


def test_budgets_check_window(r):
    # effects: 1.5 MiB of a 1 MiB hard budget for its first 30 frames, then
    # 100 KiB: fine now, broken earlier in the session.
    p, out = r.run_feeder("--frames", "240", "--fps", "120", "--burst", "30", "--app", "burst-game")
    out.seek(0)
    sid = re.search(r"session ([0-9a-f]{16})", out.read()).group(1)
    wait_for("the burst session's frames to be stored",
             lambda: r.run("--session", sid, "frames", "--last", "1", "--json").json()["frames"][0]["frame"] >= 239)
    now = r.run("--session", sid, "budgets", "--tag", "effects", "--json").expect(0).json()
    assert now["budgets"][0]["state"] == "ok" and now["budgets"][0]["live_bytes"] < 1 << 20, now
    # The burst is the feeder's frames 0-29 (lib numbers the first frame 0:
    # a snapshot in the frame-end hook reports fa_frame_number() before the
    # frame is counted); the agent drops the frames that end before it is
    # connected (one, or several on a loaded machine). Either way the breach
    # is first seen in the first frame stored.
    first = min(f["frame"] for f in r.run("--session", sid, "frames", "--last", "1000", "--json").json()["frames"])
    assert first < 30, "the burst's frames (0-29) were not stored: the first stored frame is %d" % first
    res = r.run("--session", sid, "budgets", "--check").expect(3)
    res.has("effects: hard budget 1.00 MiB first reached at ", "(frame %d)" % first,
            "; at most 1.50 MiB, 512 KiB over (150 %)", where="err")
    res.has("Hard budgets reached in the session:", "effects")
    r.run("--session", sid, "budgets", "--tag", "effects", "--check").expect(3)
    # The last second had no breach of effects (render is broken all along).
    r.run("--session", sid, "budgets", "--tag", "effects", "--check", "--since", "1s").expect(0).has(
        "No hard budget reached in the last 1s")
    r.run("--session", sid, "budgets", "--tag", "effects").expect(0).lacks("Hard budgets reached")
    r.run("budgets", "--check", "--since", "0s").expect(2).has("--since", where="err")


def test_compare_sessions(r):
    # The short session (30 frames, contacts low) against the live one
    # (contacts swinging up to 900 KiB): through the daemon's API.
    res = r.run("compare", r.short_sid, r.sid).expect(4)
    assert "physics/contacts" in res.out and "regression" in res.out, res
    res.has("session %s: cli-feeder build cli-test" % r.sid)
    doc = r.run("--json", "compare", "short-game@cli-test", "session:" + r.sid[:8]).expect(4).json()
    assert doc["base"]["session"] == r.short_sid and doc["candidate"]["session"] == r.sid, doc["base"]
    rows = {x["key"]: x for x in doc["rows"]}
    assert rows["physics/contacts"]["status"] == "regression" and rows["render"]["status"] == "ok", rows
    # Call sites through the API (frames' site rows, /sites for their
    # names): the feeder's contacts lines under physics/contacts, one of
    # them the regression.
    sites = [x for x in doc["rows"] if x["kind"] == "site"]
    assert doc["sites_compared"] and doc["sites_left_out"] == 0, doc["sites_compared"]
    assert any(x["tag"] == "physics/contacts" and x["site"].startswith("main tests/cli/feeder.c:")
               and x["status"] == "regression" for x in sites), sites
    assert not any("(site #" in x["key"] for x in sites), "every site named: %s" % [x["key"] for x in sites]
    r.run("compare", r.short_sid, r.short_sid).expect(0).has("0 regressions")
    r.run("compare", r.short_sid, "nope-game@1").expect(2).has("unknown session 'nope-game@1'", where="err")
    base = os.path.join(r.tmp, "baseline.json")
    r.run("--session", r.short_sid, "baseline", "save", base).expect(0)
    saved = json.load(open(base))
    assert saved["call_sites"] and any(x.get("site", "").startswith("main tests/cli/feeder.c:") for x in saved["rows"])
    r.run("--session", r.short_sid, "baseline", "check", base).expect(0)
    r.run("--session", r.sid, "baseline", "check", base).expect(4).has("physics/contacts")


def test_export_open_formats_from_a_session(r):
    import jsonschema
    schema = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "trace.schema.json")))
    doc = r.run("--session", r.short_sid, "export", "--format", "trace").expect(0).json()
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    frames = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    stored = [x for x in r.run("sessions", "--json").json()["sessions"] if x["id"] == r.short_sid][0]["frames"]
    assert len(frames) == stored and doc["otherData"]["session"] == r.short_sid, (len(frames), stored)
    names = {e["name"] for e in doc["traceEvents"] if e["ph"] == "C"}
    assert {"physics", "physics/contacts", "render", "(root)"} <= names, names
    folded = r.run("--session", r.short_sid, "export", "--format", "folded").expect(0).out
    stacks = {k: int(v) for k, v in (line.rsplit(" ", 1) for line in folded.splitlines())}
    # tag;function file:line: the feeder's render heap block is one line of
    # main() under render (1.25 MiB live); contacts' lines under physics.
    render = {k: v for k, v in stacks.items() if k.startswith("render;main tests/cli/feeder.c:")}
    assert any(v >= 1280 * 1024 for v in render.values()), stacks
    assert any(k.startswith("physics;contacts;main tests/cli/feeder.c:") for k in stacks), stacks
    r.run("export", "--format", "trace", "--tag", "render").expect(2)


def test_unknown_tag(r):
    res = r.run("trend", "--tag", "physics/contact").expect(2)
    res.has("unknown tag 'physics/contact' in session %s; did you mean 'physics/contacts'" % r.sid, where="err")
    r.run("trend", "--tag", "zzzzzzzzzzzz").expect(2).has("known: physics", where="err")
    r.run("watch", "--tag", "phisics").expect(2).has("did you mean 'physics'", where="err")


def test_trend(r):
    res = r.run("trend", "--tag", "render", "--window", "30s", "--points", "30").expect(0)
    res.has("render", "last 30s, 30 points of 1s", "min ", "avg ", "max ", "last ", "budget 1.00 MiB hard", "critical")
    assert re.search(r"last 1\.2\d MiB", res.out), res
    spark = res.out.split("\n")[1]
    assert any(ch in spark for ch in "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"), res
    swing = r.run("trend", "--tag", "physics/contacts", "--window", "10s", "--points", "40", env={"LANG": "C"})
    swing.expect(0).has("min 400 KiB", "max 900 KiB")
    line = swing.out.split("\n")[1]
    assert "_" in line and "#" in line and all(ord(c) < 128 for c in line), swing
    doc = r.run("trend", "--tag", "physics", "--window", "20s", "--points", "10", "--json").expect(0).json()
    assert doc["tag"] == "physics" and doc["points"] == 10 and doc["window_ms"] == 20000, doc
    assert len(doc["series"]) > 0
    for p in doc["series"]:
        for k in ("t_ms", "min", "avg", "max", "last"):
            assert k in p, (k, p)
        assert p["min"] <= p["avg"] <= p["max"], p


def test_alerts(r):
    res = r.run("alerts").expect(0)
    res.has("RAISED", "TAG", "LEVEL", "STATE", "PEAK", "render", "critical", "active", "physics/contacts",
            "warning", "cleared", "(usage)")
    rows = r.run("alerts", "--active", "--json").expect(0).json()["alerts"]
    assert rows and all(a["state"] == "active" for a in rows), rows
    assert any(a["tag"] == "render" and a["level"] == "critical" for a in rows), rows
    act = r.run("alerts", "--active").expect(0)
    act.has("render").lacks("cleared")
    doc = r.run("alerts", "--since", "10m", "--json").expect(0).json()
    assert doc["count"] >= 2 and all(a["session"] == r.sid for a in doc["alerts"]), doc
    for a in doc["alerts"]:
        for k in ("tag", "level", "state", "raised_ms", "budget_hard", "peak_bytes"):
            assert k in a, (k, a)
    r.run("alerts", "--all-sessions").expect(0).has("SESSION", r.sid)
    r.run("alerts", "--since", "1700000000").expect(0)


def test_frames(r):
    res = r.run("frames", "--last", "5").expect(0)
    lines = [l for l in res.out.split("\n") if l.strip()]
    assert lines[0].split()[:4] == ["FRAME", "TIME", "DURATION", "ARENA"], res
    rows = [l for l in lines[1:] if re.match(r"^\s*\d+\s", l)]
    assert len(rows) == 5, res
    numbers = [int(l.split()[0]) for l in rows]
    assert numbers == sorted(numbers) and numbers[-1] - numbers[0] >= 4, numbers
    assert "80.0 KiB" in rows[-1] and "MiB" in rows[-1], rows[-1]
    # Issue 14: times without a zone, in local time. Now UTC, with its zone, or --local.
    assert all(re.search(r"\b\d\d:\d\d:\d\d\.\d{3} UTC\b", l) for l in rows), rows
    tokyo = r.run("--local", "frames", "--last", "2", env={"TZ": "Asia/Tokyo"}).expect(0)
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3} JST\b", tokyo.out), tokyo
    hhmm = int(rows[-1].split()[1][:2])
    jst = int([l for l in tokyo.out.split("\n") if re.match(r"^\s*\d+\s", l)][-1].split()[1][:2])
    assert (jst - hhmm) % 24 == 9, (rows[-1], tokyo.out)
    # Input follows the same rule: a time without a zone is UTC, or local with --local.
    utc_now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 600))
    jst_now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - 600 + 9 * 3600))
    assert r.run("alerts", "--since", utc_now, "--json").expect(0).json()["count"] >= 1
    assert r.run("--local", "alerts", "--since", jst_now, "--json", env={"TZ": "Asia/Tokyo"}).expect(0).json()[
        "count"] >= 1
    assert r.run("alerts", "--since", jst_now, "--json").expect(0).json()["count"] == 0, "JST read as UTC"
    doc = r.run("frames", "--last", "3", "--json").expect(0).json()
    assert doc["session"] == r.sid and len(doc["frames"]) == 3, doc
    for f in doc["frames"]:
        assert f["totals"]["frame"]["in_use"] == 81920 and f["totals"]["heap"]["in_use"] > 2000000, f
        assert "frame" in f and "t_ms" in f and "duration_ns" in f


def test_findings(r):
    res = r.run("findings").expect(0)
    res.has("CODE", "FINDING", "FA_FIND_HEAP_IN_HOT_PATH", "FA_FIND_POOL_SAME_FRAME_FREE", "FA_FIND_BUDGET_BREACH",
            "render", "physics/contacts", "How to fix:",
            "fix: use a pool for small blocks or allocate once outside the frame loop",
            "fix: use frame memory (fa_frame_alloc) for data that dies with the frame")
    doc = r.run("findings", "--json").expect(0).json()
    codes = {f["code"] for f in doc["findings"]}
    assert {2, 4, 7} <= codes, codes
    for f in doc["findings"]:
        for k in ("code", "name", "tag", "kind", "count", "value", "t_ms"):
            assert k in f, (k, f)
    r.run("findings", "--since", "1s").expect(0)


def test_findings_static(r):
    """Issue 18: fa-lint's report, by file, and beside the call site of its line."""
    r.run("findings", "--kind", "static").expect(0).has("no static findings: the daemon has no fa-lint report")

    def result(rule, uri, line, text):
        return {"ruleId": rule, "level": "error", "message": {"text": text},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "SRCROOT"},
                                                    "region": {"startLine": line}}}]}
    report = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "fa-lint", "semanticVersion": "0.1.0"}},
                                            "results": [result("FA602", "examples/fa-demo.c", 507, "heap in the loop"),
                                                        result("FA601", "src/other.c", 3, "escapes")]}]}
    req = urllib.request.Request(r.server + "/api/v1/lint", data=json.dumps(report).encode(), method="PUT")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200
    res = r.run("findings").expect(0)
    res.has("FA_FIND_HEAP_IN_HOT_PATH", "Static findings: 2 from fa-lint 0.1.0", "examples/fa-demo.c", "src/other.c",
            "507  FA602", "heap in the loop")
    doc = r.run("findings", "--json").expect(0).json()
    assert {2, 4, 7} <= {f["code"] for f in doc["findings"]}, "the runtime document stays as it was"
    assert [f["rule"] for f in doc["static"]["findings"]] == ["FA602", "FA601"], doc["static"]
    # The join, with call sites in the route's shape (the stub answers /sites).
    site = lambda sid, f, line, tag, b, c: {"site_id": sid, "other": False, "defined": True, "file": f,  # noqa: E731
                                            "line": line, "function": "main", "kind": "heap", "tag": tag,
                                            "bytes_per_frame": {"avg": b, "max": b},
                                            "count_per_frame": {"avg": c, "max": c}}
    r.hostile.mode = "sites"
    r.hostile.sites_rows = [site(1, "/ci/tree/examples/fa-demo.c", 507, "ai", 196608, 0.5),
                            site(1, "/ci/tree/examples/fa-demo.c", 507, "render", 65536, 0.5),
                            site(2, "lib/fa-demo.c", 507, "ai", 999, 1),  # only the file name: a longer match wins
                            site(3, "src/other.c", 4, "ai", 5, 1)]  # another line
    env = {"FA_INSIGHT_SERVER": r.hostile.url}
    res = r.run("findings", "--kind", "static", env=env).expect(0)
    res.has("1 at a call site of session",
            "runtime: this line is flagged FA602 and allocated 256 KiB/frame (1 allocation/frame, heap)")
    assert res.out.count("runtime:") == 1, res
    st = r.run("findings", "--kind", "static", "--json", env=env).expect(0).json()
    rt = st["findings"][0]["runtime"]
    assert rt["bytes_per_frame"] == 262144 and rt["count_per_frame"] == 1, rt
    assert [s["site_id"] for s in rt["sites"]] == [1, 1], rt
    assert st["findings"][1]["runtime"] is None, st["findings"][1]
    r.run("findings", "--kind", "both").expect(2).has("--kind must be all, runtime or static", where="err")


def test_export(r):
    res = r.run("export", "--format", "csv").expect(0)
    lines = res.out.strip().split("\n")
    assert lines[0] == ("frame,t_ms,duration_ns,arena_bytes,pool_bytes,heap_bytes,total_bytes,alloc_count,"
                        "alloc_bytes,free_count,findings"), lines[0]
    assert len(lines) > 150, "only %d lines" % len(lines)
    cells = [l.split(",") for l in lines[1:]]
    assert all(len(c) == 11 for c in cells)
    frames = [int(c[0]) for c in cells]
    assert frames == sorted(frames) and len(set(frames)) == len(frames), "frames out of order or repeated"
    res.has("frames of session %s" % r.sid, where="err")
    doc = r.run("export", "--format", "json", "--from", "5s", "--to", "now").expect(0).json()
    assert doc["kind"] == "frames" and doc["session"] == r.sid and doc["count"] == len(doc["frames"]) > 100, \
        doc["count"]
    now_ms = time.time() * 1000
    assert all(now_ms - 8000 <= f["t_ms"] <= now_ms + 1000 for f in doc["frames"])
    r.run("--json", "export").expect(0).json()  # --json alone means JSON
    tag = r.run("export", "--format", "csv", "--tag", "physics", "--from", "1m").expect(0)
    tl = tag.out.strip().split("\n")
    assert tl[0] == "t_ms,min,avg,max,last,frames" and len(tl) > 3, tag
    for row in tl[1:]:
        mn, avg, mx = (int(x) for x in row.split(",")[1:4])
        assert mn <= avg <= mx and mn >= 600 * 1024, row
    tj = r.run("export", "--format", "json", "--tag", "render").expect(0).json()
    assert tj["kind"] == "rollups" and tj["tag"] == "render" and tj["series"], tj
    r.run("export", "--tag", "rendr").expect(2)


def test_fleet(r):
    # Issue 20: the app's builds x tags across its sessions (one host here).
    # A live session's figures reach the store every few seconds.
    wait_for("the live session in the fleet view",
             lambda: r.run("fleet", "--app", "cli-feeder", "--json").json()["sessions"] >= 1, timeout=10)
    res = r.run("fleet", "--app", "cli-feeder").expect(0)
    res.has("cli-feeder: ", "sessions since", "build ", "TAG", "PEAK p50", "AVG p50", "BUDGET", "OVER", "STATE",
            "WORST SESSION", "physics", "physics/contacts")
    doc = r.run("fleet", "--app", "cli-feeder", "--json").expect(0).json()
    assert doc["sessions"] >= 1 and doc["builds"], doc
    tags = {t["tag"]: t for b in doc["builds"] for t in b["tags"]}
    phys = tags["physics"]
    for k in ("p50", "p95", "max"):
        assert phys["peak"][k] > 0 and phys["avg"][k] > 0, phys
    worst = phys["worst"][0]["session"]
    line = [l for l in res.out.split("\n") if l.startswith("physics ")][0]
    assert worst in line, "the worst session is named: %r" % line
    only = r.run("fleet", "--app", "cli-feeder", "--tag", "physics", "--json").expect(0).json()
    assert {t["tag"] for b in only["builds"] for t in b["tags"]} == {"physics", "physics/contacts"}, only
    r.run("fleet", "--app", "no-such-app").expect(0).has("no sessions of 'no-such-app'")
    r.run("fleet", "--app", "cli-feeder", "--since", "1s", "--json").expect(0)
    r.run("fleet").expect(2).has("--app is required", where="err")
    r.run("fleet", "--app", "x", "--since", "someday").expect(2).has("--since", where="err")


def test_health(r):
    r.run("health").expect(0).has("fa-insightd", "ok", "ingest:", "received")
    doc = r.run("health", "--json").expect(0).json()
    assert doc["status"] == "ok" and doc["ingest"]["received"] > 0, doc


SGR = re.compile(r"\x1b\[[0-9;]*m")


SPARK = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"


def test_sites(r):
    res = r.run("sites", "--tag", "physics", "--window", "30s").expect(0)
    res.has("BYTES/FRAME", "ALLOCS/FRAME", "SHARE", "TREND", "FUNCTION", "FILE:LINE", "tests/cli/feeder.c:", "main")
    rows = [l for l in res.out.split("\n") if "feeder.c:" in l]
    assert rows and all(" physics" in l for l in rows), res
    assert any(ch in res.out for ch in SPARK), "a sparkline per row: %r" % res
    doc = r.run("sites", "--tag", "physics", "--window", "30s", "--sort", "count", "--limit", "3", "--json").expect(0).json()
    assert doc["tag"] == "physics" and doc["sort"] == "count" and len(doc["sites"]) <= 3, doc
    counts = [x["count_per_frame"]["avg"] for x in doc["sites"]]
    assert counts == sorted(counts, reverse=True), counts
    for x in doc["sites"]:
        assert x["tag"].startswith("physics"), x
        assert x["other"] or x["file"].endswith("tests/cli/feeder.c"), x
    # Every tag's rows (with "other") cover the tag: shares of all sites add up to 1.
    every = r.run("sites", "--window", "30s", "--limit", "1000", "--json").expect(0).json()
    assert abs(sum(x["share"] for x in every["sites"]) - 1.0) < 1e-6, every
    r.run("sites", "--tag", "phisics").expect(2).has("did you mean 'physics'", where="err")
    r.run("sites", "--sort", "size").expect(2).has("--sort must be 'bytes' or 'count'", where="err")
    r.run("sites", "--limit", "0").expect(2).has("--limit", where="err")
    r.run("sites", "--limit", "1001").expect(2).has("--limit", where="err")
    r.run("sites", "--window", "31d").expect(2).has("--window", where="err")
    r.run("sites", "extra").expect(2)


def test_sites_of_known_lines(r):
    """Done when (issue 15): a game with allocations at known lines in three
    functions under two tags gives exactly those rows through fa-cli sites --json."""
    if not r.args.sites_game:
        return
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "insightd"))
    from integration import SITES_GAME_SRC, SITES_WANT, site_markers
    p = subprocess.run([os.path.abspath(r.args.sites_game), r.ingest, "100"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    m = re.search(r"session=([0-9a-f]{16}) sent=(\d+)", p.stdout)
    sid, sent = m.group(1), int(m.group(2))

    def stored():
        doc = r.run("--session", sid, "sites", "--window", "1h", "--limit", "50", "--json").json()
        return doc["frames"] == sent and doc
    doc = wait_for("the sites game's frames", stored, timeout=10)
    marks = site_markers()
    got = sorted((x["file"].endswith(SITES_GAME_SRC), x["line"], x["function"], x["kind"], x["tag"],
                  x["bytes_per_frame"]["avg"], x["bytes_per_frame"]["max"], x["count_per_frame"]["avg"])
                 for x in doc["sites"])
    want = sorted((True, marks[k][0], marks[k][1], kind, tag, nbytes, nbytes, count)
                  for k, (kind, nbytes, count, tag) in SITES_WANT.items())
    assert got == want, "fa-cli sites --json rows:\n%s\nwant:\n%s" % (got, want)
    res = r.run("--session", sid, "sites", "--tag", "physics", "--window", "1h").expect(0)
    for k in ("physics_contacts", "physics_body", "plan_nodes"):
        res.has("%s:%d" % (SITES_GAME_SRC, marks[k][0]), marks[k][1])
    res.has("300 B", "480 B", "64 B", "total 844 B/frame").lacks("draw_frame")


def tmux_output(r, name, cmd, env=""):
    """Runs fa-cli in a tmux pane (a real terminal) and returns the screen with its escapes."""
    r.tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "30",
           "env LANG=C.UTF-8 %s FA_INSIGHT_SERVER=%s %s %s; echo DONE; sleep 30" % (env, r.server, r.cli, cmd))
    try:
        return wait_for("tmux output of %s" % cmd, lambda: (lambda t: t if "DONE" in t else None)(
            r.tmux("capture-pane", "-p", "-e", "-t", name).stdout), timeout=10)
    finally:
        r.tmux("kill-session", "-t", name)


def test_colours_only_on_a_terminal(r):
    piped = r.run("budgets").expect(0)
    assert not SGR.search(piped.out), "colours in a pipe: %r" % piped
    coloured = tmux_output(r, "c1", "budgets")
    assert SGR.search(coloured) and "critical" in coloured, coloured
    for name, cmd, env in (("c2", "--no-color budgets", ""), ("c3", "budgets", "NO_COLOR=1")):
        out = tmux_output(r, name, cmd, env)
        assert "critical" in out and not SGR.search(out), "colours with %s %s: %r" % (env, cmd, out)


def frame_number(text):
    m = re.search(r"^frame (\d+)", text, re.M)
    return int(m.group(1)) if m else None


def test_watch_in_tmux(r):
    try:
        watch_in_tmux(r)
    except AssertionError as e:
        screen = r.tmux("capture-pane", "-p", "-t", "watch").stdout
        raise AssertionError("%s; the screen:\n%s" % (e, screen.rstrip()))
    finally:
        r.tmux("kill-session", "-t", "watch")


def watch_in_tmux(r):
    r.tmux("new-session", "-d", "-s", "watch", "-x", "150", "-y", "40",
           "env LANG=C.UTF-8 FA_INSIGHT_SERVER=%s %s watch; echo EXIT=$?; sleep 60" % (r.server, r.cli))

    def cap():
        return r.tmux("capture-pane", "-p", "-t", "watch").stdout

    first = wait_for("the live view", lambda: (lambda t: t if "connected" in t and frame_number(t) else None)(cap()))
    for needle in ("fa-cli watch", "session %s (cli-feeder, live)" % r.sid, "arena 80.0 KiB", "TAG", "render",
                   "critical", "physics/contacts", "New alerts", "Ctrl-C to quit"):
        assert needle in first, "%r not in the view:\n%s" % (needle, first)
    # The view redraws in place: the frame number moves, the screen does not scroll.
    n1 = frame_number(first)
    second = wait_for("a later frame", lambda: (lambda t: t if (frame_number(t) or 0) > n1 else None)(cap()))
    assert second.count("fa-cli watch") == 1, second
    # New alerts arrive over the WebSocket (contacts swings across 80 %).
    wait_for("a new alert", lambda: re.search(r"physics/contacts\s+warning\s+(raised|cleared)", cap()))
    # The daemon goes away: the view says so and keeps trying.
    r.stop_daemon()
    lost = wait_for("the lost connection", lambda: (lambda t: t if "connection lost" in t and "reconnecting" in t
                                                    else None)(cap()))
    # Issue 14: the header said "(cli-feeder, live)" while nothing was known.
    assert "live)" not in lost and "(cli-feeder, not connected)" in lost, lost
    # It comes back on the same port and database: the view follows again.
    r.start_daemon()
    back = wait_for("the reconnection", lambda: (lambda t: t if "connected," in t else None)(cap()), timeout=20)
    n2 = frame_number(back) or 0
    wait_for("frames after the restart", lambda: (frame_number(cap()) or 0) > n2, timeout=20)
    assert "render" in cap()
    r.tmux("send-keys", "-t", "watch", "C-c")
    wait_for("watch to exit on Ctrl-C", lambda: "EXIT=0" in cap(), timeout=10)


def test_watch_without_terminal(r):
    def run_for(seconds, *argv):
        p = subprocess.Popen([r.cli] + list(argv), env=r.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(seconds)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        return p.returncode, out.decode(), err.decode()

    code, out, err = run_for(2.5, "watch")
    assert code == 0, (code, err)
    lines = [l for l in out.split("\n") if l.startswith("session ")]
    assert len(lines) >= 1 and r.sid in lines[0] and "total" in lines[0], out
    assert "\x1b[" not in out, "escape sequences in a pipe"
    code, out, err = run_for(1.5, "watch", "--json")
    assert code == 0, (code, err)
    msgs = [json.loads(l) for l in out.split("\n") if l.strip()]
    types = {m.get("type") for m in msgs}
    assert "hello" in types and "frame" in types, types
    frame = [m for m in msgs if m.get("type") == "frame"][0]
    assert "totals" in frame and "tags" in frame and "session" in frame, frame


# What a terminal would act on: C0 controls but tab and newline, DEL, C1,
# bidi formatting, line/paragraph separators.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def assert_terminal_safe(res):
    try:
        text = res.raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AssertionError("output is not UTF-8 (%s): %r" % (e, res))
    m = UNSAFE.search(text)
    assert not m, "unsafe %r at %d in the output of %r" % (m.group(0), m.start(), res)


def strings_of(doc):
    if isinstance(doc, dict):
        doc = list(doc.values())
    if isinstance(doc, list):
        for v in doc:
            yield from strings_of(v)
    elif isinstance(doc, str):
        yield doc


def test_hostile_server_text_is_escaped(r):
    """Issue 14: names from a hostile server (OSC title, clear screen, OSC 8
    links, C1 CSI, U+202E) reached the terminal raw, in every command."""
    r.hostile.mode = "evil"
    env = {"FA_INSIGHT_SERVER": r.hostile.url}
    for argv in (["sessions"], ["tags"], ["budgets"], ["alerts"], ["findings"], ["frames", "--last", "3"],
                 ["health"], ["trend", "--tag", "render"], ["export", "--format", "csv", "--tag", "render"],
                 ["sites"], ["sites", "--tag", "physics"],
                 ["budgets", "--check"], ["--session", "nope", "tags"], ["--session", "cli-feedr", "tags"]):
        res = r.run(*argv, env=env)
        assert res.code in (0, 2, 3), res
        assert_terminal_safe(res)
        if argv[0] in ("sessions", "tags", "budgets", "alerts"):
            assert "pwned" in res.out, "the hostile name is not shown at all: %r" % res
    for argv in (["sessions"], ["tags"], ["alerts"], ["health"]):
        res = r.run("--json", *argv, env=env).expect(0)
        assert_terminal_safe(res)
        assert any(v.endswith(EVIL) for v in strings_of(res.json())), "--json changed the strings: %r" % res
    # watch without a terminal: its lines and its --json messages.
    p = subprocess.Popen([r.cli, "watch"], env=dict(r.env, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=10)
    res = Result(["watch"], p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))
    res.raw = out + err
    assert p.returncode == 0 and "frame" in res.out, res
    assert_terminal_safe(res)


def test_alerts_and_findings_follow_the_cursors(r):
    """Issue 13: alerts and findings showed one page and said "narrow with
    --since" while the daemon's cursors reach every row."""
    r.hostile.mode = "paged"
    env = {"FA_INSIGHT_SERVER": r.hostile.url}
    # The feeder is live: it adds alerts and findings rows while the test
    # reads. The paged read comes first; the direct read after it holds
    # every row it had, and the rows older than its newest must all be in it.
    paged = r.run("alerts", "--json", env=env).expect(0).json()
    direct = r.run("alerts", "--json").expect(0).json()["alerts"]
    ids = [a["id"] for a in paged["alerts"]]
    assert len(ids) >= 2, paged
    assert ids == [a["id"] for a in direct if a["id"] <= max(ids)], (ids, [a["id"] for a in direct])
    assert paged["count"] == len(ids) and not paged["next"], paged
    res = r.run("alerts", env=env).expect(0)
    res.lacks("narrow with --since")
    assert len([l for l in res.out.split("\n") if " active" in l or " cleared" in l]) >= len(ids), res
    key = lambda f: (f["t_ms"], f["code"], f["tag_id"], f["kind"])  # noqa: E731
    paged = r.run("findings", "--json", env=env).expect(0).json()["findings"]
    direct = r.run("findings", "--json").expect(0).json()["findings"]
    assert len(paged) > 4, "one page of four would do: %d rows" % len(paged)
    newest, seen = max(f["t_ms"] for f in paged), set(map(key, paged))
    assert len(seen) == len(paged) and seen <= set(map(key, direct)), (len(paged), len(direct))
    missing = [key(f) for f in direct if f["t_ms"] < newest and key(f) not in seen]
    assert not missing, ("rows the paged read skipped", missing[:5], len(paged), len(direct))
    r.run("findings", env=env).expect(0).lacks("narrow with --since").has("FA_FIND_HEAP_IN_HOT_PATH")


def test_hostile_server_in_tmux(r):
    """The same on a real terminal: the pane's title must not change."""
    r.hostile.mode = "evil"
    for name, cmd in (("h1", "tags"), ("h2", "alerts"), ("h3", "watch")):
        r.tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "40",
               "env LANG=C.UTF-8 FA_INSIGHT_SERVER=%s %s %s; echo DONE; sleep 30" % (r.hostile.url, r.cli, cmd))
        try:
            done = "connected," if cmd == "watch" else "DONE"
            wait_for("%s on the screen" % cmd,
                     lambda: done in r.tmux("capture-pane", "-p", "-t", name).stdout, timeout=10)
            title = r.tmux("display-message", "-p", "-t", name, "#{pane_title}").stdout
            screen = r.tmux("capture-pane", "-p", "-t", name).stdout
            assert "pwned" not in title, "%s set the terminal's title to %r" % (cmd, title)
            assert "?]0;pwned?" in screen, "the escape is not shown as text:\n%s" % screen
        finally:
            r.tmux("kill-session", "-t", name)


def test_response_size_and_time_caps(r):
    """Issue 14: an endless answer grew fa-cli to 1.3 GB; the time cap was per request."""
    env = {"FA_INSIGHT_SERVER": r.hostile.url}

    def timed(*argv):
        t0 = time.time()
        res = r.run(*argv, env=env, timeout=30)
        return res, time.time() - t0
    r.hostile.mode = "chunked"
    res, dt = timed("sessions")
    res.expect(1).has("chunked", where="err")
    assert dt < 3, "took %.1f s" % dt
    r.hostile.mode = "huge"
    timed("sessions")[0].expect(1).has("100000000000 bytes, more than --max-response 64.0 MiB", where="err")
    r.hostile.mode = "endless"
    res, dt = timed("--max-response", "1MiB", "sessions")
    res.expect(1).has("larger than --max-response 1.00 MiB", where="err")
    assert dt < 3, "took %.1f s" % dt
    # Two requests of 0.7 s each: the second one is past a 1 s budget.
    r.hostile.mode = "slow"
    res, dt = timed("--timeout", "1s", "tags")
    res.expect(1).has("did not answer in time", where="err")
    assert dt < 1.6, "--timeout 1s took %.1f s" % dt
    r.hostile.mode = "drip"
    res, dt = timed("--timeout", "1s", "sessions")
    res.expect(1)
    assert dt < 1.6, "--timeout 1s took %.1f s" % dt
    r.run("--max-response", "12", "sessions").expect(2).has("--max-response needs a size", where="err")


def test_foreign_server_is_a_server_error(r):
    """Issue 14: a web server that is not fa-insightd gave exit 2 ("bad arguments")."""
    r.hostile.mode = "notfa"
    env = {"FA_INSIGHT_SERVER": r.hostile.url}
    for argv in (["sessions"], ["tags"], ["budgets", "--check"], ["alerts"], ["health"]):
        res = r.run(*argv, env=env).expect(1)
        res.has("answered HTTP 404 (text/html)", "not an answer of fa-insightd", "--server", where="err")
        assert_terminal_safe(res)


def test_unreadable_answer_is_not_a_daemon_down(r):
    """An answer head over nng's 8 KiB read buffer ends the connection inside
    nng: fa-cli said the daemon "closed the connection" and told the user to
    start it, though it was running and had answered."""
    r.hostile.mode = "bighead"
    res = r.run("sessions", env={"FA_INSIGHT_SERVER": r.hostile.url}).expect(1)
    res.has("answered with a head fa-cli cannot read", "is it fa-insightd?", where="err")
    assert "start it with" not in res.err, res.err


def test_asan(r):
    """Every command once more with the ASan+UBSan build: same exit codes, no report, no leak."""
    if not r.args.cli_asan:
        return
    env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=99",
           "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=98"}
    asan = os.path.abspath(r.args.cli_asan)
    cases = [
        (0, ["sessions"]), (0, ["sessions", "--json"]), (0, ["tags"]), (0, ["tags", "--json", "--depth", "1"]),
        (0, ["budgets"]), (3, ["budgets", "--check"]), (0, ["budgets", "--tag", "physics", "--check"]),
        (2, ["budgets", "--tag", "rendr"]), (0, ["trend", "--tag", "render"]), (0, ["trend", "--tag", "/", "--json"]),
        (0, ["alerts"]), (0, ["alerts", "--active", "--all-sessions"]), (0, ["frames", "--last", "50"]),
        (0, ["findings"]), (0, ["export", "--format", "csv"]), (0, ["export", "--format", "json", "--tag", "physics"]),
        (0, ["health"]), (2, ["--session", "nope", "tags"]), (2, ["trend"]), (2, ["export", "--format", "x"]),
        (1, ["--server", "http://127.0.0.1:%d" % r.dead_port, "budgets", "--check"]), (0, ["--help"]),
        (4, ["compare", r.short_sid, r.sid]), (0, ["--json", "compare", r.short_sid, r.short_sid]),
        (3, ["budgets", "--check", "--since", "2s"]), (0, ["--session", r.short_sid, "export", "--format", "trace"]),
        (0, ["--session", r.short_sid, "export", "--format", "folded"]),
        (0, ["--session", r.short_sid, "baseline", "save", "-"]),
        (0, ["sites"]), (0, ["sites", "--tag", "physics", "--json"]), (2, ["sites", "--tag", "phisics"]),
    ]
    for code, argv in cases:
        e = dict(r.env)
        e.update(env)
        p = subprocess.run([asan] + argv, env=e, capture_output=True, timeout=60)
        err = p.stderr.decode("utf-8", "replace")
        assert p.returncode == code and "Sanitizer" not in err and "runtime error" not in err, \
            "asan fa-cli %s -> %d (expected %d): %s" % (" ".join(argv), p.returncode, code, err[-1500:])
    # The hostile and foreign servers' answers take other paths through http.c.
    for mode, code, argv in (("evil", 0, ["tags"]), ("evil", 0, ["--json", "alerts"]), ("chunked", 1, ["sessions"]),
                             ("huge", 1, ["sessions"]), ("endless", 1, ["--max-response", "1MiB", "sessions"]),
                             ("notfa", 1, ["budgets"]), ("drip", 1, ["--timeout", "500ms", "sessions"])):
        r.hostile.mode = mode
        e = dict(r.env, FA_INSIGHT_SERVER=r.hostile.url)
        e.update(env)
        p = subprocess.run([asan] + argv, env=e, capture_output=True, timeout=60)
        err = p.stderr.decode("utf-8", "replace")
        assert p.returncode == code and "Sanitizer" not in err and "runtime error" not in err, \
            "asan fa-cli %s against a %s server -> %d: %s" % (" ".join(argv), mode, p.returncode, err[-1500:])
    # watch: a few seconds of live updates, then Ctrl-C.
    e = dict(r.env)
    e.update(env)
    p = subprocess.Popen([asan, "watch"], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(2.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    err = err.decode("utf-8", "replace")
    assert p.returncode == 0 and "Sanitizer" not in err, "asan watch -> %d: %s" % (p.returncode, err[-1500:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--feeder", required=True)
    ap.add_argument("--cli-asan", help="the same program built with ASan+UBSan: every command is run with it too")
    ap.add_argument("--sites-game", help="tests/insightd/sites_game.c built: allocations at known lines")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("-k", dest="only", help="run only tests whose name contains this")
    args = ap.parse_args()
    for tool in ("tmux",):
        if not shutil.which(tool):
            print("%s is missing" % tool)
            print("0 passed, 1 failed")
            return 1
    r = Runner(args)
    t0 = time.time()
    try:
        r.start_daemon()
        r.hostile = HostileServer(r.server)
        if not args.only or args.only in "empty":
            r.check("empty daemon: sessions says so, other commands exit 1 saying how to feed it",
                    lambda: test_empty_daemon(r))
        # An earlier, finished session, then the live one.
        p, out = r.run_feeder("--frames", "30", "--app", "short-game", "--label", "short")
        out.seek(0)
        r.short_sid = re.search(r"session ([0-9a-f]{16})", out.read()).group(1)
        r.feeder, fout = r.run_feeder(background=True)

        def live_sid():
            fout.seek(0)
            m = re.search(r"session ([0-9a-f]{16})", fout.read())
            return m.group(1) if m else None
        r.sid = wait_for("the feeder's session id", live_sid, timeout=10)

        def warmed_up():
            s = r.run("sessions", "--json").json()["sessions"]
            live = [x for x in s if x["id"] == r.sid and x["live"] and x["frames"] >= 150]
            short = [x for x in s if x["id"] == r.short_sid and not x["live"]]
            if not (live and short):
                return False
            al = r.run("alerts", "--json").json()["alerts"]
            cleared = [a for a in al if a["tag"] == "physics/contacts" and a["state"] == "cleared"]
            fi = r.run("findings", "--json").json()["findings"]
            return cleared and {2, 4, 7} <= {f["code"] for f in fi}
        wait_for("the session to warm up (frames, a cleared alert, findings)", warmed_up, timeout=25, interval=0.3)
    except Exception as e:
        print("FAIL setup: %s" % e)
        r.cleanup()
        print("%d passed, %d failed" % (r.passed, r.failed + 1))
        return 1
    tests = [
        ("help on every command, with an example", test_help),
        ("bad arguments exit 2 with a precise message", test_usage_errors),
        ("daemon down: one line, how to start it, exit 1", test_daemon_down),
        ("sessions: table and --json", test_sessions),
        ("sessions: one page, --limit, --all follows the daemon's cursors", test_sessions_paged),
        ("--session: prefix, app name, latest, unknown with near matches", test_session_selection),
        ("tags: tree with usage and budgets, --depth, ASCII fallback, --json", test_tags),
        ("budgets: table, subtree, --json", test_budgets),
        ("budgets --check: 3 when critical, 0 when fine, 2 on unknown tag", test_budgets_check),
        ("budgets --check: 3 for a budget broken earlier in the session, --since narrows", test_budgets_check_window),
        ("unknown tag lists near matches", test_unknown_tag),
        ("compare and baseline through the daemon: sessions by id, prefix, app@build", test_compare_sessions),
        ("export --format trace (schema-valid) and folded from a session", test_export_open_formats_from_a_session),
        ("trend: sparkline and min/avg/max/last, --json", test_trend),
        ("sites: top call sites with sparklines, --tag, --sort, --json, near matches", test_sites),
        ("sites: a game's known lines, exactly, through sites --json", test_sites_of_known_lines),
        ("alerts: raised and cleared, --active, --since, --json", test_alerts),
        ("frames: recent frames with totals, --json", test_frames),
        ("findings: codes with their fixes, --json", test_findings),
        ("findings: fa-lint's report by file, beside the call site of its line", test_findings_static),
        ("export: csv/json frames and tag rollups", test_export),
        ("health", test_health),
        ("fleet: builds x tags with spreads and the worst session, --tag, --json", test_fleet),
        ("every command under ASan+UBSan: no report, no leak", test_asan),
        ("colours only on a terminal, not with --no-color or NO_COLOR", test_colours_only_on_a_terminal),
        ("watch without a terminal: lines, and --json messages", test_watch_without_terminal),
        ("a hostile server's names are escaped in every command, --json and watch", test_hostile_server_text_is_escaped),
        ("a hostile server cannot retitle or clear a real terminal (tmux)", test_hostile_server_in_tmux),
        ("alerts and findings follow the daemon's cursors to every row", test_alerts_and_findings_follow_the_cursors),
        ("answers are capped in size and commands in total time", test_response_size_and_time_caps),
        ("a foreign web server is a server error (exit 1), not bad arguments", test_foreign_server_is_a_server_error),
        ("an answer head fa-cli cannot read is not 'the daemon is down'", test_unreadable_answer_is_not_a_daemon_down),
        ("watch in tmux: redraws, new alerts, daemon restart, Ctrl-C", test_watch_in_tmux),
    ]
    try:
        for name, fn in tests:
            if args.only and args.only not in name:
                continue
            r.check(name, lambda fn=fn: fn(r))
    finally:
        r.cleanup()
    print("runtime %.1f s" % (time.time() - t0))
    print("%d passed, %d failed" % (r.passed, r.failed))
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())

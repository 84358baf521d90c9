#!/usr/bin/env python3
"""Comparing runs end to end, without a daemon: fa-demo captured to files
(FA_INSIGHT_URL=file:PATH, no code change), then fa-cli compare, baseline and
export on those files.

- The demo twice, the second with a scripted leak: compare exits 4 and names
  the leaking tag first (table, --json, --format junit/markdown); tags the
  leak does not touch are not regressions.
- Five pairs of runs of the same build: compare exits 0 every time (seeded,
  deterministic demo: no flapping).
- Baselines: save is byte-stable, check passes the same build and fails the
  leak; thresholds files can ignore the leak.
- The leaking capture cut inside its last message (a crash) still compares.
- export --format trace validates against tests/cli/trace.schema.json and
  agrees with compare; --format folded gives integer stacks.

usage: run_compare_tests.py --cli build/fa-cli --demo build/fa-demo [--keep]
The last line is "N passed, N failed"; the exit status is 1 on any failure.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "firstrun"))
from harness import Checks  # noqa: E402  (named checks and the summary line)
SCHEMA = os.path.join(HERE, "..", "cli", "trace.schema.json")
JUNIT_XSD = os.path.join(HERE, "..", "lint", "schemas", "junit.xsd")
LEAK_TAG = "ai/pathfinding"
# The line of examples/fa-demo.c that leaks (scripted_leak's fa_heap_alloc),
# found in the source so that editing the demo does not break the test.
DEMO_SRC = os.path.join(HERE, "..", "..", "examples", "fa-demo.c")
LEAK_LINE = next(i for i, l in enumerate(open(DEMO_SRC), 1)
                 if "fa_heap_alloc(g->fa, g->opt.scripted_leak" in l)
LEAK_SITE = "scripted_leak examples/fa-demo.c:%d" % LEAK_LINE
LEAK_ROW = "%s;%s" % (LEAK_TAG, LEAK_SITE)
DEMO_ARGS = ["--deterministic", "--frames", "600", "--entities", "800", "--seed", "7", "--quiet"]


class T:
    def __init__(self, args):
        self.cli = os.path.abspath(args.cli)
        self.demo = os.path.abspath(args.demo)
        self.cli_asan = os.path.abspath(args.cli_asan) if args.cli_asan else None
        self.cli_tsan = os.path.abspath(args.cli_tsan) if args.cli_tsan else None
        self.daemon = os.path.abspath(args.daemon) if args.daemon else None
        self.tmp = tempfile.mkdtemp(prefix="fa-compare-test-")
        self.checks = Checks()
        self.check = self.checks.check

    def path(self, name):
        return os.path.join(self.tmp, name)

    def capture(self, name, *extra):
        """Runs the demo with its capture going to <tmp>/<name>.facap through
        the environment only."""
        out = self.path(name + ".facap")
        env = dict(os.environ, FA_INSIGHT_URL="file:" + out)
        p = subprocess.run([self.demo] + DEMO_ARGS + list(extra), env=env, capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, "fa-demo %s: %s %s" % (name, p.stdout, p.stderr)
        assert "frames=600 " in p.stdout and "stop=FA_OK" in p.stdout, p.stdout
        return out

    def run(self, *argv, expect=None):
        p = subprocess.run([self.cli] + list(argv), capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, LANG="C.UTF-8", FA_INSIGHT_SERVER="http://127.0.0.1:9"))
        if expect is not None:
            assert p.returncode == expect, "fa-cli %s: exit %d, expected %d\n--- out\n%s--- err\n%s" % (
                " ".join(argv), p.returncode, expect, p.stdout[-3000:], p.stderr[-2000:])
        return p


def table_rows(out, head="TAG "):
    """The rows of one of compare's tables (tags, or head="CALL SITE " for
    the call sites): [name, ..., status]; a site's name holds a space, so it
    is cut at the column of the next heading."""
    lines = out.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith(head)), None)
    if start is None:
        return []
    width = lines[start].index("P95 LIVE")
    rows = []
    for l in lines[start + 1:]:
        if not l.strip():
            break
        rows.append([l[:width].rstrip()] + l[width:].split())
    return rows


def test_leak_is_caught(t):
    res = t.run("compare", t.base, t.leak, expect=4)
    rows = table_rows(res.stdout)
    assert rows[0][0] == LEAK_TAG and rows[0][-1] == "regression", res.stdout
    failing = {r[0] for r in rows if r[-1] == "regression"}
    assert failing == {LEAK_TAG, "ai", "(root)"}, "only the leak and its ancestors: %s" % failing
    # The line that leaks: the only call site listed (the others did not
    # change), a new row that regressed.
    sites = table_rows(res.stdout, "CALL SITE ")
    assert [r[0] for r in sites] == [LEAK_ROW] and sites[0][-1] == "regression", res.stdout
    assert "Regressions:" in res.stdout and "%s  p50 live" % LEAK_TAG in res.stdout, res.stdout
    assert "%s  peak 0 B -> " % LEAK_ROW in res.stdout, res.stdout
    assert "4 regressions: %s, ai, (root); at call sites: %s" % (LEAK_TAG, LEAK_ROW) in res.stderr, res.stderr
    doc = json.loads(t.run("--json", "compare", t.base, t.leak, expect=4).stdout)
    assert doc["regressions"] == 4 and doc["sites_compared"] and doc["sites_left_out"] == 0, doc["regressions"]
    failed = [r for r in doc["rows"] if r["status"] == "regression"]
    assert doc["rows"][:4] == failed, "regressions first"
    by_key = {(r["kind"], r["key"]): r for r in doc["rows"]}
    m = by_key[("tag", LEAK_TAG)]["metrics"]
    # 4096 bytes a frame for 600 frames: about 2.4 MB more at the end.
    assert m["peak"]["change"] >= 590 * 4096 and m["p50"]["failed"], m
    site = by_key[("site", LEAK_ROW)]
    assert site["tag"] == LEAK_TAG and site["site"] == LEAK_SITE and not site["in_base"], site
    sm = site["metrics"]
    # Its live bytes are the leak alone: 4096 more each frame.
    assert 599 * 4096 <= sm["peak"]["candidate"] <= 600 * 4096 and sm["peak"]["base"] == 0, sm["peak"]
    assert sm["allocs_per_frame"]["candidate"] == 1 and sm["frame_bytes_per_frame"]["candidate"] == 4096, sm
    assert doc["base"]["frames"] == 600 and doc["candidate"]["app"] == "fa-demo", doc["base"]
    kinds = {r["kind"] for r in doc["rows"]}
    assert kinds == {"tag", "site"} and sum(r["kind"] == "site" for r in doc["rows"]) > 10, kinds
    for r in doc["rows"][4:]:
        assert r["status"] == "ok" and not any(x["failed"] for x in r["metrics"].values()), r


def test_reports(t):
    junit = t.path("memory.xml")
    res = t.run("compare", t.base, t.leak, "--format", "junit", "--junit", junit, expect=4)
    for text in (res.stdout, open(junit).read()):
        root = ET.fromstring(text)
        assert root.tag == "testsuites", text[:300]
        assert root.get("failures") == "4", text[:300]
        cases = {c.get("name"): c for c in root.iter("testcase")}
        assert cases[LEAK_TAG].find("failure") is not None and cases["render"].find("failure") is None
        assert "p50 live" in cases[LEAK_TAG].find("failure").text
        assert cases[LEAK_ROW].get("classname") == "framealloc.site" and cases[LEAK_ROW].find("failure") is not None
    # The schema CI reporters (Jenkins, GitLab) read.
    p = subprocess.run(["xmllint", "--noout", "--schema", JUNIT_XSD, junit], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    md = t.run("compare", t.base, t.leak, "--format", "markdown", expect=4).stdout
    assert md.startswith("### framealloc memory: 4 regressions"), md[:200]
    assert "| `%s` | **" % LEAK_TAG in md and "unchanged rows not shown" in md, md
    assert "| call site | p50 live |" in md and "| `%s` | **" % LEAK_ROW in md, md


def test_no_flapping(t):
    same = [t.base] + [None] * 5

    def one(i):
        return t.capture("same%d" % i)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        for i, p in enumerate(ex.map(one, range(1, 6)), start=1):
            same[i] = p
    for a, b in zip(same, same[1:]):
        res = t.run("compare", a, b, expect=0)
        assert "0 regressions" in res.stdout, res.stdout
        # Every call site compared, none changed (seeded demo).
        assert table_rows(res.stdout, "CALL SITE ") == [] and " 0 call sites" not in res.stdout, res.stdout


def test_baselines(t):
    b1, b2 = t.path("baseline.json"), t.path("baseline2.json")
    t.run("baseline", "save", b1, "--capture", t.base, expect=0)
    t.run("baseline", "save", b2, "--capture", t.path("same1.facap"), expect=0)
    text = open(b1).read()
    assert text == open(b2).read(), "the same build saves the same bytes"
    doc = json.loads(text)
    assert doc["format"] == "framealloc-baseline" and doc["version"] == 2 and doc["frames"] == 600, doc
    assert doc["call_sites"] is True, doc
    lines = text.splitlines()[8:-2]
    assert all(line.startswith("    {\"tag\": ") or line.startswith("    {\"site\": ") for line in lines), text
    assert any(r.get("site") == LEAK_SITE for r in json.load(open(b1))["rows"]) is False
    t.run("baseline", "check", b1, "--capture", t.path("same2.facap"), expect=0)
    res = t.run("baseline", "check", b1, "--capture", t.leak, "--junit", t.path("b.xml"), expect=4)
    assert table_rows(res.stdout)[0][0] == LEAK_TAG, res.stdout
    assert [r[0] for r in table_rows(res.stdout, "CALL SITE ")] == [LEAK_ROW], res.stdout
    assert ET.parse(t.path("b.xml")).getroot().get("failures") == "4"
    # A baseline saved before call sites (version 1: tags only, no
    # call_sites) still reads: its tags are checked, with a note, and the
    # candidate's sites are not taken for new rows.
    old = dict(doc, version=1, rows=[r for r in doc["rows"] if "site" not in r])
    del old["call_sites"]
    b0 = t.path("baseline-v1.json")
    with open(b0, "w") as f:
        json.dump(old, f)
    res = t.run("baseline", "check", b0, "--capture", t.path("same2.facap"), expect=0)
    assert "saved before call sites" in res.stderr and "call sites not compared" in res.stdout, res.stderr
    res = t.run("baseline", "check", b0, "--capture", t.leak, expect=4)
    assert "3 regressions: %s, ai, (root)\n" % LEAK_TAG in res.stderr, res.stderr
    # Thresholds: ignoring the leak's subtree passes; a loose global limit too.
    rules = t.path("thresholds.json")
    with open(rules, "w") as f:
        json.dump({"tags": {"ai": {"ignore": True}, "ai/*": {"ignore": True}, "": {"min_bytes": "16MiB"}}}, f)
    res = t.run("baseline", "check", b1, "--capture", t.leak, "--thresholds", rules, expect=0)
    # The thresholds of a tag hold for its call sites: the leak's line too.
    assert [r[-1] for r in table_rows(res.stdout, "CALL SITE ")] == ["ignored"], res.stdout
    assert "0 regressions, 5 ignored" in res.stdout, res.stdout
    # A line that did not allocate before grows from 0 (an infinite
    # percentage): only --min-bytes lets it pass, so a huge --max-growth
    # leaves the tags passing and the new line failing.
    res = t.run("compare", t.base, t.leak, "--max-growth", "1000000", expect=4)
    assert "1 regression: at call sites: %s\n" % LEAK_ROW in res.stderr, res.stderr
    t.run("compare", t.base, t.leak, "--min-bytes", "1GiB", expect=0)
    with open(rules, "w") as f:
        f.write('{"tags": {"ai": {"max_growth": 5}}}')
    res = t.run("compare", t.base, t.leak, "--thresholds", rules, expect=2)
    assert 'unknown field "max_growth"' in res.stderr, res.stderr
    res = t.run("baseline", "check", t.base, "--capture", t.leak, expect=2)
    assert "not JSON" in res.stderr, res.stderr


def test_crash_cut_capture(t):
    data = open(t.leak, "rb").read()
    # The last message is the BYE (88 bytes); cut inside it and inside the
    # FRAME before it.
    for cut in (1, 40, 87, 88 + 100):
        p = t.path("cut.facap")
        with open(p, "wb") as f:
            f.write(data[:len(data) - cut])
        res = t.run("compare", t.base, p, expect=4)
        assert "cut off" in res.stderr and table_rows(res.stdout)[0][0] == LEAK_TAG, res.stderr


def test_bad_inputs(t):
    res = t.run("compare", t.base, t.path("missing.facap"), expect=2)
    assert "no capture file" in res.stderr and "missing.facap" in res.stderr, res.stderr
    res = t.run("compare", t.base, SCHEMA, expect=2)
    assert "is not a framealloc capture file" in res.stderr, res.stderr
    fifo = t.path("fifo.facap")  # nobody writes it: an open that waits would hang
    os.mkfifo(fifo)
    for spec in (fifo, "file:" + fifo):
        res = t.run("compare", t.base, spec, expect=2)
        assert "fifo.facap' is not a regular file" in res.stderr, res.stderr
    t.run("compare", t.base, expect=2)
    res = t.run("compare", t.base, t.leak, "--format", "xml", expect=2)
    assert "--format" in res.stderr


def test_trace_export(t):
    res = t.run("export", "--format", "trace", "--capture", t.leak, expect=0)
    doc = json.loads(res.stdout)
    schema = json.load(open(SCHEMA))
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    frames = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    assert len(frames) == 600 and frames[0]["ts"] == 0, len(frames)
    counters = {}
    for e in doc["traceEvents"]:
        if e["ph"] == "C":
            counters.setdefault(e["name"], []).append(e["args"]["live_bytes"])
    cmp = json.loads(t.run("--json", "compare", t.base, t.leak, expect=4).stdout)
    tags = [r for r in cmp["rows"] if r["kind"] == "tag"]
    assert set(counters) == {r["key"] or "(root)" for r in tags}, "one counter track per tag"
    for r in tags:
        # Live bytes at frame ends never exceed the peak, which also holds
        # what lib saw within frames; the median is one of those values.
        name, m = r["key"] or "(root)", r["metrics"]
        assert max(counters[name]) <= m["peak"]["candidate"], (name, max(counters[name]), m["peak"])
        assert min(counters[name]) <= m["p50"]["candidate"] <= max(counters[name]) * 1.004, (name, m["p50"])
    # The schema does reject what it should.
    bad = dict(doc, traceEvents=doc["traceEvents"][:3] + [{"ph": "C", "name": "x", "ts": 0}])
    try:
        jsonschema.validate(bad, schema, cls=jsonschema.Draft202012Validator)
        raise AssertionError("the schema accepted a counter without pid/args")
    except jsonschema.ValidationError:
        pass


def test_folded_export(t):
    res = t.run("export", "--format", "folded", "--capture", t.leak, expect=0)
    stacks = {}
    for line in res.stdout.splitlines():
        stack, count = line.rsplit(" ", 1)
        assert stack not in stacks, line
        stacks[stack] = int(count)
    # tag;function file:line: the leak's line holds its mean live bytes
    # (4096 more each frame: about 300 x 4096).
    leak = "ai;pathfinding;" + LEAK_SITE
    assert 295 * 4096 < stacks[leak] < 305 * 4096, stacks
    assert "(root)" not in [s.split(";")[0] for s in stacks if ";" in s], stacks
    # Every frame of the demo has site rows: they claim all of a tag's own
    # bytes, so every line ends with a site frame ("function file:line").
    for s in stacks:
        last = s.split(";")[-1]
        assert (" " in last and ":" in last) or last == "(other sites)", s
    # The lines add up to what the tags held: compare's root p50 is of the
    # same live bytes (the mean and the median of a steady run are close).
    assert any(s.startswith("render;") for s in stacks), stacks


def test_ci_script(t):
    """examples/ci-memory-gate.sh as a CI job runs it: baseline the first
    time, pass the same build, fail the leak with the reports written."""
    script = os.path.join(HERE, "..", "..", "examples", "ci-memory-gate.sh")
    work = t.path("ci")
    os.makedirs(work)
    env = dict(os.environ, FA_CLI=t.cli, LANG="C.UTF-8")
    env.pop("FA_INSIGHT_URL", None)

    def gate(*extra):
        return subprocess.run([script, t.demo] + DEMO_ARGS + list(extra), cwd=work, env=env, capture_output=True,
                              text=True, timeout=120)
    p = gate()
    assert p.returncode == 0 and "baseline written to memory-baseline.json" in p.stderr, p.stderr
    assert os.path.isfile(os.path.join(work, "memory-baseline.json"))
    p = gate()
    assert p.returncode == 0, p.stdout + p.stderr
    report = os.path.join(work, "memory-report")
    assert ET.parse(os.path.join(report, "memory.xml")).getroot().get("failures") == "0"
    assert open(os.path.join(report, "memory.md")).read().startswith("### framealloc memory: no regression")
    p = gate("--scripted-leak", "4096")
    assert p.returncode == 4, p.stdout + p.stderr
    assert table_rows(p.stdout)[0][0] == LEAK_TAG, p.stdout
    assert ET.parse(os.path.join(report, "memory.xml")).getroot().get("failures") == "4"
    assert "| `%s` |" % LEAK_TAG in open(os.path.join(report, "memory.md")).read()
    p = subprocess.run([script], capture_output=True, text=True)
    assert p.returncode == 2 and "usage" in p.stderr


def api(url, path, **params):
    """GET url + path with the parameters: (status, JSON body)."""
    q = "?" + urllib.parse.urlencode(params) if params else ""
    try:
        with urllib.request.urlopen(url + path + q, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_daemon_compare(t, store="sqlite"):
    """GET /api/v1/compare on the two captures imported as sessions: the
    diff fa-cli compare gives on the files (libfa-compare, the same code),
    within its frame and row bounds, and precise errors. On both stores: the
    sessions are read back through the store interface."""
    if not t.daemon:
        return
    if store == "postgresql":
        sys.path.insert(0, os.path.join(HERE, "..", "insightd"))
        from pgserver import PgServer
        with PgServer() as pg:
            return daemon_compare(t, pg.uri(pg.create_db("cmp")), "pg-")
    return daemon_compare(t, t.path("compare.db"), "")


def test_daemon_compare_pg(t):
    test_daemon_compare(t, "postgresql")


def daemon_compare(t, db, prefix):
    p = subprocess.run([t.daemon, "--store", db, "--import", t.base, t.leak], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    ids = re.findall(r"session ([0-9a-f]{16}) imported", p.stderr + p.stdout)
    assert len(ids) == 2, p.stderr
    logname = t.path(prefix + "daemon.log")
    log = open(logname, "w")
    d = subprocess.Popen([t.daemon, "--store", db, "--listen", "127.0.0.1:0", "--ingest", "tcp://127.0.0.1:0"],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        url = None
        for _ in range(100):
            m = re.search(r"ready http=(http://\S+)", open(logname).read())
            if m:
                url = m.group(1)
                break
            time.sleep(0.1)
        assert url, open(logname).read()
        code, doc = api(url, "/api/v1/compare", base=ids[0], candidate=ids[1], limit=1000)
        assert code == 200, doc
        cli = json.loads(t.run("--json", "compare", t.base, t.leak, expect=4).stdout)
        assert doc["regressions"] == cli["regressions"] == 4 and doc["sites_compared"], doc["regressions"]
        assert doc["rows_total"] == len(cli["rows"]) == len(doc["rows"]) and not doc["rows_truncated"]
        for a, b in zip(doc["rows"], cli["rows"]):
            assert (a["kind"], a["key"], a["status"]) == (b["kind"], b["key"], b["status"]), (a, b)
            assert a["metrics"] == b["metrics"], (a["key"], a["metrics"], b["metrics"])
        assert doc["rows"][0]["key"] == LEAK_ROW or doc["rows"][1]["key"] == LEAK_ROW, doc["rows"][:2]
        assert doc["base"]["frames_used"] == 600 and doc["base"]["call_sites"], doc["base"]
        # Thresholds, as on the command line.
        code, loose = api(url, "/api/v1/compare", base=ids[0], candidate=ids[1], min_bytes="1GiB")
        assert code == 200 and loose["regressions"] == 0 and loose["thresholds"]["min_bytes"] == 1 << 30, loose
        code, some = api(url, "/api/v1/compare", base=ids[0], candidate=ids[1], max_growth="2.5", limit=3)
        assert code == 200 and len(some["rows"]) == 3 and some["rows_truncated"], some
        assert some["thresholds"]["max_growth_pct"] == 2.5
        # Bounded: the newest 100 frames of each side.
        code, few = api(url, "/api/v1/compare", base=ids[0], candidate=ids[1], frames=100)
        assert code == 200 and few["base"]["frames_used"] == 100 and few["base"]["truncated"], few["base"]
        assert few["base"]["frames_total"] == 600 and few["frames_limit"] == 100
        code, same = api(url, "/api/v1/compare", base=ids[0], candidate=ids[0])
        assert code == 200 and same["regressions"] == 0, same["regressions"]
        for params, status, name in (({"candidate": ids[1]}, 400, "base"),
                                     ({"base": ids[0], "candidate": "0123456789abcdef"}, 404, "candidate"),
                                     ({"base": "zz", "candidate": ids[1]}, 400, "base"),
                                     ({"base": ids[0], "candidate": ids[1], "max_growth": "-1"}, 400, "max_growth"),
                                     ({"base": ids[0], "candidate": ids[1], "min_bytes": "lots"}, 400, "min_bytes"),
                                     ({"base": ids[0], "candidate": ids[1], "frames": "0"}, 400, "frames"),
                                     ({"base": ids[0], "candidate": ids[1], "tag": "x"}, 400, "tag")):
            code, err = api(url, "/api/v1/compare", **params)
            assert code == status and err["error"].get("parameter") == name, (params, code, err)
    finally:
        d.send_signal(signal.SIGTERM)
        d.wait(timeout=30)
    text = open(logname).read()
    assert d.returncode == 0 and "Sanitizer" not in text and "runtime error" not in text, text[-3000:]


def test_asan(t):
    """The same paths through the ASan+UBSan build: no report, no leak."""
    if not t.cli_asan:
        return
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98")
    b = t.path("asan-baseline.json")
    cut = t.path("cut.facap")
    for code, argv in ((4, ["compare", t.base, t.leak]), (4, ["--json", "compare", t.base, t.leak]),
                       (4, ["compare", t.base, t.leak, "--format", "junit"]),
                       (4, ["compare", t.base, t.leak, "--format", "markdown"]), (4, ["compare", t.base, cut]),
                       (0, ["baseline", "save", b, "--capture", t.base]), (4, ["baseline", "check", b, "--capture", t.leak]),
                       (0, ["export", "--format", "trace", "--capture", t.leak]),
                       (0, ["export", "--format", "folded", "--capture", t.leak]),
                       (2, ["compare", t.base, SCHEMA]), (2, ["compare", t.base, t.path("missing.facap")])):
        p = subprocess.run([t.cli_asan] + argv, capture_output=True, text=True, timeout=120, env=env)
        assert p.returncode == code and "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, \
            "asan fa-cli %s -> %d (expected %d): %s" % (" ".join(argv), p.returncode, code, p.stderr[-1500:])


def test_tsan(t):
    """compare reads its two captures on two threads: TSan sees no race."""
    if not t.cli_tsan:
        return
    env = dict(os.environ, TSAN_OPTIONS="halt_on_error=1:exitcode=97")
    for argv in (["compare", t.base, t.leak], ["--json", "compare", t.leak, t.base]):
        p = subprocess.run([t.cli_tsan] + argv, capture_output=True, text=True, timeout=300, env=env)
        assert p.returncode in (0, 4) and "ThreadSanitizer" not in p.stderr, \
            "tsan fa-cli %s -> %d: %s" % (" ".join(argv), p.returncode, p.stderr[-1500:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--cli-asan", help="the ASan+UBSan build, run over the same inputs")
    ap.add_argument("--cli-tsan", help="the TSan build: compare reads two captures on two threads")
    ap.add_argument("--demo", required=True)
    ap.add_argument("--daemon", help="fa-insightd: its /api/v1/compare is checked against compare")
    ap.add_argument("--keep", action="store_true")
    t = T(ap.parse_args())
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
            base = ex.submit(t.capture, "base")
            leak = ex.submit(t.capture, "leak", "--scripted-leak", "4096")
            t.base, t.leak = base.result(), leak.result()
    except Exception as e:
        print("FAIL setup: %s" % e)
        print("0 passed, 1 failed")
        return 1
    tests = [
        ("the demo with a scripted leak: compare exits 4 naming the leaking tag first", test_leak_is_caught),
        ("JUnit (stdout and --junit file) and Markdown reports", test_reports),
        ("five pairs of the same build: exit 0 every time", test_no_flapping),
        ("baselines: byte-stable save, check passes the build and fails the leak, thresholds", test_baselines),
        ("a capture cut off inside its last messages still compares", test_crash_cut_capture),
        ("missing files, non-captures, bad options: exit 2 naming them", test_bad_inputs),
        ("export --format trace: schema-valid, counters agree with compare", test_trace_export),
        ("GET /api/v1/compare: the diff of fa-cli compare, bounded, with precise errors", test_daemon_compare),
        ("GET /api/v1/compare on a PostgreSQL store: the same diff", test_daemon_compare_pg),
        ("export --format folded: integer stacks by tag path", test_folded_export),
        ("examples/ci-memory-gate.sh: baseline, pass, then exit 4 on the leak with reports", test_ci_script),
        ("every path again under ASan+UBSan: no report, no leak", test_asan),
        ("compare's two reading threads under TSan: no race", test_tsan),
    ]
    try:
        for name, fn in tests:
            t.check(name, lambda fn=fn: fn(t))
    finally:
        if ap.parse_args().keep:
            print("kept %s" % t.tmp)
        else:
            shutil.rmtree(t.tmp, ignore_errors=True)
    return t.checks.summary()


if __name__ == "__main__":
    sys.exit(main())

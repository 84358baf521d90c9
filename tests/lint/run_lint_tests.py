#!/usr/bin/env python3
"""fa-lint's tests: the corpus (every expected finding found, nothing else),
the report formats (SARIF structure and fingerprints, JUnit and checkstyle
against their schemas with xmllint), the CLI (exit codes, explain, list,
init, show, --help), compile databases, headers reported once, -j
determinism, and fa-lint --all over the project's own code.

Corpus markers, in tests/lint/corpus/faNNN.c:
    /* expect: FA601 */          a finding of that code on this line
    /* expect: FA601 macro */    ... through a macro
    /* expect: FA601 cross */    ... made of two functions
    /* expect-next: FA001 */     a finding on the next line
    /* ok: FA601 */              a negative case: nothing may be found here
faNNN.toml beside a file is its config (else the corpus's .fa.toml)."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")
SCHEMAS = os.path.join(HERE, "schemas")
INCLUDES = ["-I" + os.path.join(TOP, "lib", "include")]
CODES = ["FA201", "FA202", "FA203", "FA301", "FA302", "FA601", "FA602", "FA603", "FA604", "FA605",
         "FA701", "FA702", "FA801", "FA802", "FA803"]
CONFIG_CODES = {"FA302", "FA801", "FA802"}

results = []


def check(name, ok, detail=""):
    results.append((name, bool(ok)))
    print(("PASS " if ok else "FAIL ") + name + ("" if ok or not detail else "\n     " + detail.replace("\n", "\n     ")))
    sys.stdout.flush()


def run(args, cwd=None, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(args, cwd=cwd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    return p.returncode, p.stdout, p.stderr


def corpus_files():
    return sorted(f for f in os.listdir(CORPUS) if re.match(r"fa\d{3}\.c$", f))


def config_for(name):
    own = os.path.join(CORPUS, name[:-2] + ".toml")
    return own if os.path.exists(own) else os.path.join(CORPUS, ".fa.toml")


MARK = re.compile(r"/\*\s*(expect|expect-next|ok):\s*(FA\d{3})(?:\s+(macro|cross))?\s*\*/")


def markers(path):
    expect, ok, kinds = set(), set(), []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            for m in MARK.finditer(line):
                what, code, kind = m.groups()
                if what == "ok":
                    ok.add((n, code))
                else:
                    expect.add((n + (what == "expect-next"), code))
                    kinds.append((code, kind))
    return expect, ok, kinds


def lint_json(lint, files, config=None, extra=(), cwd=None):
    args = [lint, "--format", "json", "--root", CORPUS] + list(extra)
    args += ["--config", config] if config else ["--no-config"]
    args += files + ["--"] + INCLUDES
    rc, out, err = run(args, cwd=cwd)
    try:
        data = json.loads(out)
    except ValueError:
        data = None
    return rc, data, err


def test_corpus(lint):
    all_kinds = []
    for name in corpus_files():
        path = os.path.join(CORPUS, name)
        expect, ok, kinds = markers(path)
        all_kinds += [(c, k, name) for c, k in kinds]
        rc, data, err = lint_json(lint, [path], config_for(name))
        if data is None:
            check(f"corpus {name}: report", False, f"exit {rc}: {err}")
            continue
        found = {(f["line"], f["code"]) for f in data["findings"]}
        missing = sorted(expect - found)
        unexpected = sorted(found - expect)
        detail = ""
        if missing:
            detail += "missing: " + ", ".join(f"{c} at line {l}" for l, c in missing) + "\n"
        if unexpected:
            msgs = {(f["line"], f["code"]): f["message"] for f in data["findings"]}
            detail += "unexpected: " + "; ".join(f"{c} at line {l} ({msgs[(l, c)]})" for l, c in unexpected)
        check(f"corpus {name}: every expected finding and nothing else", not missing and not unexpected, detail)
        check(f"corpus {name}: exit 1 with findings", rc == (1 if expect else 0), f"exit {rc}")
        bad_ok = sorted(l for l, c in ok if any(fl == l for fl, _ in found))
        check(f"corpus {name}: negative lines clean", not bad_ok, f"findings on ok lines {bad_ok}")
    # Each check: >= 2 positive and >= 2 negative cases, one through a macro,
    # one across two functions.
    for code in CODES:
        f = os.path.join(CORPUS, code.lower() + ".c")
        if not os.path.exists(f):
            check(f"corpus {code}: has a file", False, f"{f} is missing")
            continue
        expect, ok, kinds = markers(f)
        pos = [k for c, k in kinds if c == code]
        neg = [l for l, c in ok if c == code]
        check(f"corpus {code}: >= 2 positive, >= 2 negative, a macro case, a two-function case",
              len(pos) >= 2 and len(neg) >= 2 and "macro" in pos and "cross" in pos,
              f"positive {len(pos)} ({pos}), negative {len(neg)}")


def test_site_twins(lint):
    """A build with call sites calls fa_heap_alloc_site, fa_frame_alloc_site...
    (issue 15): the same findings as the names, none in the twins' inline
    definitions (before: no FA602 at all, and an FA601 in the header)."""
    path = os.path.join(HERE, "site_twins.c")
    expect, ok, _ = markers(path)
    rc, data, err = run([lint, "--format", "json", "--root", HERE, "--no-config", path, "--"] + INCLUDES)
    try:
        found = {(f["line"], f["code"]) for f in json.loads(data)["findings"]}
    except ValueError:
        found = None
    check("the _site twins of the allocation names: the same findings, nothing else",
          found == expect and not (found or set()) & ok, f"exit {rc}: found {found}, expected {sorted(expect)}; {err}")


def test_config_checks_silent_without_config(lint):
    files = [os.path.join(CORPUS, c.lower() + ".c") for c in sorted(CONFIG_CODES)]
    rc, data, err = lint_json(lint, files)
    found = [f for f in (data or {}).get("findings", [])]
    check("FA302/FA801/FA802 are silent without a .fa.toml", data is not None and not found,
          f"exit {rc}; found {[(f['file'], f['line'], f['code']) for f in found]} {err}")
    rc, data, err = lint_json(lint, [os.path.join(CORPUS, n) for n in corpus_files()])
    codes = {f["code"] for f in (data or {}).get("findings", [])}
    check("the whole corpus without a config reports no config-only code", data is not None and not codes & CONFIG_CODES,
          f"{codes & CONFIG_CODES}")


def test_asan_corpus(lint_asan):
    """The corpus under ASan+UBSan: no error, same findings as the plain build."""
    files = [os.path.join(CORPUS, n) for n in corpus_files()]
    rc, out, err = run([lint_asan, "-j2", "--format", "json", "--config", os.path.join(CORPUS, ".fa.toml"),
                        "--root", CORPUS] + files + ["--"] + INCLUDES,
                       env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "halt_on_error=1"})
    check("corpus under ASan+UBSan: no sanitizer report", "Sanitizer" not in err and "runtime error" not in err and rc in (0, 1),
          f"exit {rc}\n{err[-2000:]}")


def test_asan_self(lint_asan, compdb):
    """The project's own units under ASan+UBSan: every function shape they hold."""
    rc, out, err = run([lint_asan, "--all", "-j2", "--no-config", "-q", "--format", "sarif", "-p",
                        os.path.dirname(compdb)], cwd=TOP,
                       env={"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0", "UBSAN_OPTIONS": "halt_on_error=1"})
    check("the project's units under ASan+UBSan: no sanitizer report", "Sanitizer" not in err and
          "runtime error" not in err and rc in (0, 1), f"exit {rc}\n{err[-2000:]}")


def sarif_of(lint, files, config, root, extra=()):
    args = [lint, "--format", "sarif", "--root", root] + list(extra)
    args += ["--config", config] if config else ["--no-config"]
    rc, out, err = run(args + files + ["--"] + INCLUDES)
    return rc, json.loads(out) if out.strip().startswith("{") else None, err


def test_sarif(lint):
    files = [os.path.join(CORPUS, n) for n in corpus_files()]
    rc, s, err = sarif_of(lint, files, os.path.join(CORPUS, ".fa.toml"), CORPUS, ["-j2"])
    if s is None:
        check("SARIF: parses", False, err)
        return
    problems = []
    if s.get("version") != "2.1.0" or "sarif-2.1.0" not in s.get("$schema", ""):
        problems.append("version/$schema")
    run0 = s["runs"][0]
    rules = run0["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    for code in CODES + ["FA001"]:
        if code not in ids:
            problems.append("rule missing: " + code)
    for r in rules:
        for key in ("id", "name", "shortDescription", "fullDescription", "help", "defaultConfiguration"):
            if key not in r:
                problems.append(f"rule {r.get('id')} lacks {key}")
        if "markdown" not in r.get("help", {}) or "text" not in r.get("help", {}):
            problems.append(f"rule {r.get('id')} help lacks text/markdown")
    base = run0.get("originalUriBaseIds", {}).get("SRCROOT", {}).get("uri", "")
    if not base.startswith("file:///") or not base.endswith("/") or not base.rstrip("/").endswith("corpus"):
        problems.append("originalUriBaseIds.SRCROOT: " + base)
    fps = []
    for res in run0["results"]:
        if ids[res["ruleIndex"]] != res["ruleId"]:
            problems.append("ruleIndex does not match ruleId")
        if res["level"] not in ("error", "warning", "note"):
            problems.append("level " + res["level"])
        loc = res["locations"][0]["physicalLocation"]
        art = loc["artifactLocation"]
        if art.get("uriBaseId") != "SRCROOT" or art["uri"].startswith("/") or "://" in art["uri"]:
            problems.append("artifact not relative to SRCROOT: " + json.dumps(art))
        if loc["region"]["startLine"] < 1 or loc["region"]["startColumn"] < 1:
            problems.append("region")
        fps.append(res["partialFingerprints"]["faLint/v1"])
    if len(fps) != len(set(fps)):
        problems.append("fingerprints are not unique")
    if not run0["results"]:
        problems.append("no results")
    check("SARIF 2.1.0: rules with metadata, relative URIs under SRCROOT, unique fingerprints", not problems,
          "; ".join(problems[:10]))
    inv = run0["invocations"][0]
    check("SARIF: invocation says execution succeeded", inv["executionSuccessful"] is True, json.dumps(inv))


def test_fingerprints_stable(lint, tmp):
    src = os.path.join(CORPUS, "fa601.c")
    d = os.path.join(tmp, "fp")
    os.makedirs(d)
    dst = os.path.join(d, "fa601.c")
    shutil.copy(src, dst)
    cfg = os.path.join(CORPUS, ".fa.toml")
    _, a, _ = sarif_of(lint, [dst], cfg, d)
    with open(src) as f:
        text = f.read()
    with open(dst, "w") as f:
        f.write("/* three lines\n   added at the top\n   of the file */\n" + text)
    _, b, _ = sarif_of(lint, [dst], cfg, d)

    def fp(s):
        return {r["partialFingerprints"]["faLint/v1"]: r["locations"][0]["physicalLocation"]["region"]["startLine"]
                for r in s["runs"][0]["results"]}
    fa, fb = fp(a), fp(b)
    check("SARIF fingerprints survive lines added above the findings", fa and set(fa) == set(fb) and
          all(fb[k] == fa[k] + 3 for k in fa), f"{fa} vs {fb}")


def test_sarif_columns(lint, tmp):
    """SARIF columns count code points; libclang's count bytes."""
    d = os.path.join(tmp, "cols")
    os.makedirs(d)
    f = os.path.join(d, "utf8.c")
    with open(f, "w", encoding="utf-8") as fh:
        fh.write('#include <framealloc.h>\nstatic char *g;\n'
                 'void f(fa_alloc_t *fa) { /* \u00e9\u00e9 */ g = fa_frame_strdup(fa, "x"); }\n')
    _, s, err = sarif_of(lint, [f], None, d)
    _, j, _ = lint_json(lint, [f], None, ["--root", d])
    reg = s["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"] if s else {}
    byte_col = j["findings"][0]["column"] if j and j["findings"] else 0
    check("SARIF columns are code points (two 2-byte characters before the finding)",
          s and s["runs"][0]["columnKind"] == "unicodeCodePoints" and reg.get("startColumn") == byte_col - 2,
          f"sarif {reg} json column {byte_col} {err}")


def xml_report(lint, fmt, files, config):
    args = [lint, "--format", fmt, "--root", CORPUS] + (["--config", config] if config else ["--no-config"])
    return run(args + files + ["--"] + INCLUDES)


def test_xml(lint, tmp):
    files = [os.path.join(CORPUS, n) for n in corpus_files()]
    cfg = os.path.join(CORPUS, ".fa.toml")
    _, data, _ = lint_json(lint, files, cfg)
    n = len(data["findings"])
    for fmt, xsd in (("junit", "junit.xsd"), ("checkstyle", "checkstyle.xsd")):
        for label, fl in (("with findings", files), ("clean", [os.path.join(HERE, "clean.c")])):
            rc, out, err = xml_report(lint, fmt, fl, cfg)
            path = os.path.join(tmp, f"{fmt}-{label.split()[0]}.xml")
            with open(path, "w") as f:
                f.write(out)
            vrc, _, verr = run(["xmllint", "--noout", "--schema", os.path.join(SCHEMAS, xsd), path])
            check(f"{fmt} ({label}) validates against {xsd} with xmllint", vrc == 0, verr[-1500:])
        rc, out, err = xml_report(lint, fmt, files, cfg)
        if fmt == "junit":
            m = re.search(r'<testsuite [^>]*failures="(\d+)"', out)
            check("junit: one failure per finding", m and int(m.group(1)) == n and out.count("<failure ") == n,
                  f"{m.group(1) if m else None} vs {n}")
        else:
            check("checkstyle: one error per finding", out.count("<error ") == n, f"{out.count('<error ')} vs {n}")


def test_text_and_json(lint):
    files = [os.path.join(CORPUS, n) for n in corpus_files()]
    cfg = os.path.join(CORPUS, ".fa.toml")
    rc, out, err = run([lint, "--config", cfg, "--root", CORPUS] + files + ["--"] + INCLUDES)
    lines = out.splitlines()
    pat = re.compile(r"^fa\d{3}\.c:\d+:\d+: (error|warning): FA\d{3} \S")
    check("text: every line is path:line:col: level: CODE message", lines and all(pat.match(l) for l in lines),
          "\n".join(l for l in lines if not pat.match(l))[:500])
    check("text: summary on stderr", re.search(r"fa-lint: \d+ findings \(\d+ deny, \d+ warn\)", err), err)
    _, data, _ = lint_json(lint, files, cfg)
    check("json and text agree on the count", data and len(data["findings"]) == len(lines),
          f"{len(lines)} vs {len(data['findings']) if data else None}")


def test_levels(lint):
    f = [os.path.join(CORPUS, "fa602.c")]
    cfg = os.path.join(CORPUS, ".fa.toml")
    rc, data, _ = lint_json(lint, f, cfg, ["--warn", "FA602"])
    check("--warn CODE: reported as warnings, exit 0", rc == 0 and data["findings"] and
          all(x["level"] == "warn" for x in data["findings"]), f"exit {rc}")
    rc, data, _ = lint_json(lint, f, cfg, ["--allow", "FA602"])
    check("--allow CODE: not reported, exit 0", rc == 0 and not data["findings"], f"exit {rc}")
    rc, data, _ = lint_json(lint, [os.path.join(CORPUS, "fa601.c")], cfg, ["--threading"])
    check("--threading runs only FA2xx", rc == 0 and not data["findings"], f"exit {rc}")
    rc, data, _ = lint_json(lint, [os.path.join(CORPUS, "fa601.c")], cfg, ["--lifetime"])
    check("--lifetime runs FA6xx", rc == 1 and {x["code"] for x in data["findings"]} == {"FA601"}, f"exit {rc}")
    rc, data, _ = lint_json(lint, [os.path.join(CORPUS, "fa601.c")], cfg, ["--exclude", "fa601.c"])
    check("--exclude GLOB skips the file", rc == 0 and not data["findings"], f"exit {rc}")


def test_exit_codes(lint, tmp):
    d = os.path.join(tmp, "exit")
    os.makedirs(d)
    broken = os.path.join(d, "broken.c")
    with open(broken, "w") as f:
        f.write("#include <framealloc.h>\nvoid f(fa_alloc_t *fa) {\n    char *p = fa_frame_alloc(fa, 8, 0)\n}\n")
    good = os.path.join(d, "good.c")
    shutil.copy(os.path.join(CORPUS, "fa605.c"), good)
    rc, out, err = run([lint, "--no-config", "--root", d, broken, good, "--"] + INCLUDES)
    check("a broken unit: exit 2, its path and the compiler's error on stderr", rc == 2 and "broken.c" in err and
          "error" in err, f"exit {rc}\n{err}")
    check("a broken unit: the other units are still reported", "good.c:" in out and "FA605" in out, out)
    rc, out, err = run([lint, "--no-config", "--format", "sarif", "--root", d, broken, "--"] + INCLUDES)
    s = json.loads(out)
    inv = s["runs"][0]["invocations"][0]
    check("a broken unit: SARIF says execution failed and names it", rc == 2 and not inv["executionSuccessful"] and
          "broken.c" in json.dumps(inv["toolExecutionNotifications"]), json.dumps(inv)[:500])
    rc, out, err = run([lint, "--no-config", "--format", "junit", "--root", d, broken, "--"] + INCLUDES)
    check("a broken unit: JUnit has an <error> case, never a clean run", rc == 2 and "<error " in out, out[:400])
    rc, _, err = run([lint, "--no-config", os.path.join(HERE, "clean.c"), "--"] + INCLUDES)
    check("clean code: exit 0", rc == 0, f"exit {rc} {err}")
    rc, _, err = run([lint, "--bogus"])
    check("unknown option: exit 2 naming it", rc == 2 and "--bogus" in err, err)
    rc, _, err = run([lint, "--format", "xml", "x.c", "--", "-I."])
    check("unknown format: exit 2 naming it", rc == 2 and "xml" in err, err)
    rc, _, err = run([lint, "--no-config", os.path.join(d, "missing.c"), "--"])
    check("missing file: exit 2 naming it", rc == 2 and "missing.c" in err, err)
    bad = os.path.join(d, "bad.toml")
    for name, text, want_rc, want in (
            ("bad config: exit 2 naming file:line", "[lint]\ndeny = [\"FA601\"]\nrequire_budgets = maybe\n", 2,
             "bad.toml:3"),
            ("a [[suppress]] without a reason is refused", "[[suppress]]\npath = \"x.c\"\ncodes = [\"FA601\"]\n", 2,
             "reason"),
            ("config naming an unknown code: exit 2", "[lint]\ndeny = [\"FA999\"]\n", 2, "FA999"),
            ("a reasoned [[suppress]] silences its file and code",
             "[[suppress]]\npath = \"good.c\"\ncodes = [\"FA605\"]\nreason = \"tested elsewhere\"\n", 0, None)):
        with open(bad, "w") as f:
            f.write(text)
        rc, out, err = run([lint, "--config", bad, good, "--"] + INCLUDES)
        check(name, rc == want_rc and (want in err if want else "FA605" not in out), f"exit {rc} {out} {err}")
    empty = os.path.join(d, "empty")
    os.makedirs(empty)
    rc, _, err = run([lint, "--no-config"], cwd=empty)
    check("no compile database: exit 2 and how to make one", rc == 2 and "bear" in err, err)


def test_compdb(lint, tmp):
    """A project with a build/compile_commands.json using relative paths,
    a header with a finding included by two units, run from a subdirectory."""
    p = os.path.join(tmp, "proj")
    for sub in ("src", "include", "build"):
        os.makedirs(os.path.join(p, sub))
    with open(os.path.join(p, "include", "keep.h"), "w") as f:
        f.write("#include <framealloc.h>\nstatic const char *g_kept;\n"
                "static inline void keep_name(fa_alloc_t *fa) { g_kept = fa_frame_strdup(fa, \"x\"); }\n")
    for name in ("a", "b"):
        with open(os.path.join(p, "src", name + ".c"), "w") as f:
            f.write(f'#include "keep.h"\nvoid use_{name}(fa_alloc_t *fa) {{ keep_name(fa); }}\n')
    db = [{"directory": os.path.join(p, "build"),
           "arguments": ["cc", "-I../include", "-I" + os.path.join(TOP, "lib", "include"), "-c", f"../src/{n}.c",
                         "-o", f"{n}.o"], "file": f"../src/{n}.c"} for n in ("a", "b")]
    with open(os.path.join(p, "build", "compile_commands.json"), "w") as f:
        json.dump(db, f)
    rc, out, err = run([lint, "--no-config", "--format", "json"], cwd=os.path.join(p, "src"))
    data = json.loads(out) if out.startswith("{") else {"findings": []}
    hdr = [x for x in data["findings"] if x["file"].endswith("keep.h")]
    check("compile database found by walking up (build/), relative paths resolved", rc == 1 and data["summary"]["units"] == 2,
          f"exit {rc} {err}")
    check("a header's finding is reported once", len(hdr) == 1 and hdr[0]["file"] == "include/keep.h",
          json.dumps(data["findings"]))
    rc, out, _ = run([lint, "--no-config", "--format", "json", "-p", os.path.join(p, "build"), os.path.join(p, "src", "a.c")])
    data = json.loads(out)
    check("-p DIR and a PATH filter", data["summary"]["units"] == 1, out[:300])
    out1, out2 = (run([lint, "--no-config", j, "--format", "json", "--root", CORPUS] +
                      [os.path.join(CORPUS, n) for n in corpus_files()] + ["--"] + INCLUDES)[1] for j in ("-j1", "-j2"))
    strip = lambda s: re.sub(r'"(time|seconds)":\s*[0-9.]+', "", s)
    check("-j1 and -j2 give the same report", strip(out1) == strip(out2) and out1)


def test_cli(lint, tmp):
    rc, out, _ = run([lint, "--help"])
    check("--help: usage, every check flag, exit status", rc == 0 and "usage: fa-lint" in out and "--architecture" in out
          and "Exit status" in out)
    for sub in ("explain", "list", "init", "show"):
        rc, out, err = run([lint, sub, "--help"], cwd=tmp)
        check(f"{sub} --help: usage, exit 0", rc == 0 and "usage" in out.lower(), f"exit {rc} {out} {err}")
    rc, out, _ = run([lint, "explain", "FA601"])
    check("explain FA601: what, why, fix, wrong and right examples", rc == 0 and all(
        s in out for s in ("What it finds", "Why it matters", "How to fix it", "Wrong", "Right", "FA601")), out[:300])
    rc, _, err = run([lint, "explain", "FA999"])
    check("explain of an unknown code: exit 2", rc == 2 and "FA999" in err, err)
    rc, out, _ = run([lint, "list"])
    check("list: every code", rc == 0 and all(c in out for c in CODES + ["FA001"]), out)
    rc, out, _ = run([lint, "list", "--format", "json"])
    check("list --format json", rc == 0 and len(json.loads(out)) == len(CODES) + 1)
    d = os.path.join(tmp, "init")
    os.makedirs(d)
    rc, out, _ = run([lint, "init", d])
    cfg = os.path.join(d, ".fa.toml")
    ok = rc == 0 and os.path.exists(cfg)
    text = open(cfg).read() if ok else ""
    check("init writes a commented .fa.toml with tags, modules, deny/allow, excludes",
          ok and all(k in text for k in ("[tags]", "[modules]", "deny", "allow", "exclude", "# ")), text[:300])
    rc, _, err = run([lint, "init", d])
    check("init refuses to overwrite", rc == 2 and "--force" in err, err)
    rc, out, err = run([lint, "--config", cfg, "--root", d, os.path.join(HERE, "clean.c"), "--"] + INCLUDES)
    check("init's file is a valid config", rc == 0, err)
    rc, out, err = run([lint, "show", os.path.join(CORPUS, "fa604.c"), "--config", os.path.join(CORPUS, ".fa.toml"),
                        "--"] + INCLUDES)
    check("show FILE: source lines with findings under them", rc == 1 and re.search(r"^\s+17 \| .*puts\(msg\)", out, re.M)
          and re.search(r"^\s+\|\s+\^ FA604 error: 'msg'", out, re.M), out[:800])


def test_self(lint, compdb):
    t0 = time.time()
    rc, out, err = run([lint, "--all", "-p", os.path.dirname(compdb), "--root", TOP, "lib", "examples", "fa-agent",
                        "fa-lint", "integrations", "tests"], cwd=TOP)
    check(f"fa-lint --all over lib/ examples/ fa-agent/ fa-lint/ integrations/ tests/: no finding "
          f"({time.time() - t0:.1f} s)",
          rc == 0 and not out.strip(), f"exit {rc}\n{out[:3000]}\n{err[-1500:]}")
    m = re.search(r"(\d+) units", err)
    check("the self-lint covers the project's units", m and int(m.group(1)) >= 50, err)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lint", required=True)
    ap.add_argument("--lint-asan")
    ap.add_argument("--compdb")
    args = ap.parse_args()
    lint = os.path.abspath(args.lint)
    with tempfile.TemporaryDirectory(prefix="fa-lint-test-") as tmp:
        test_corpus(lint)
        test_config_checks_silent_without_config(lint)
        test_site_twins(lint)
        if args.lint_asan:
            test_asan_corpus(os.path.abspath(args.lint_asan))
        test_sarif(lint)
        test_fingerprints_stable(lint, tmp)
        test_sarif_columns(lint, tmp)
        test_xml(lint, tmp)
        test_text_and_json(lint)
        test_levels(lint)
        test_exit_codes(lint, tmp)
        test_compdb(lint, tmp)
        test_cli(lint, tmp)
        if args.compdb:
            test_self(lint, os.path.abspath(args.compdb))
            if args.lint_asan:
                test_asan_self(os.path.abspath(args.lint_asan), os.path.abspath(args.compdb))
    passed = sum(ok for _, ok in results)
    failed = len(results) - passed
    print(f"fa-lint tests: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

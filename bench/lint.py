#!/usr/bin/env python3
"""make bench-lint: fa-lint's throughput (translation units per second)
against clang-tidy on the same files in the same run, at 1 and 2 (or -j)
parallel jobs, over two code bases:

  ours    framealloc's own units (build/lint/compile_commands.json, made from
          the Makefile's dry run: lib, proto, fa-agent, fa-insightd, fa-cli,
          fa-lint, examples, tests)
  newlib  newlib 3.3's C library (Debian's newlib-source: libc/string,
          stdlib, stdio, ctype, search, time, misc, locale, reent), each file
          a unit against newlib's own headers; files that do not parse
          standalone are left out (and counted) for every tool alike

clang-tidy runs one process per job, each given its share of the files
(its best case: run-clang-tidy starts one process per file, which costs
about 40 ms more per file), with:
  comparable  the memory checks closest to fa-lint's: clang-analyzer
              unix.Malloc, unix.MismatchedDeallocator, core.StackAddressEscape,
              bugprone-misplaced-operator-in-strlen-in-alloc,
              bugprone-suspicious-memory-comparison
  ast-only    one AST-matcher check (bugprone-misplaced-operator-in-strlen-
              in-alloc): about the cost of parsing, clang-tidy's floor
Each figure is the median of --runs runs, runs interleaved across tools.
The analyzer-based set costs about a second per unit: it runs
--analyzer-runs times (default 1), at the highest -j only."""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor

COMPARABLE = ("-*,clang-analyzer-unix.Malloc,clang-analyzer-unix.MismatchedDeallocator,"
              "clang-analyzer-core.StackAddressEscape,bugprone-misplaced-operator-in-strlen-in-alloc,"
              "bugprone-suspicious-memory-comparison")
AST_ONLY = "-*,bugprone-misplaced-operator-in-strlen-in-alloc"
NEWLIB_DIRS = ["string", "stdlib", "stdio", "ctype", "search", "time", "misc", "locale", "reent"]


def resource_include():
    out = subprocess.run(["clang", "-print-resource-dir"], stdout=subprocess.PIPE, text=True).stdout.strip()
    return os.path.join(out, "include")


def prepare_newlib(work):
    """Unpacks newlib once and writes a compile database of the units that
    parse standalone (checked with clang -fsyntax-only, cached)."""
    tars = sorted(glob.glob("/usr/src/newlib/newlib-*.tar.xz"))
    if not tars:
        sys.exit("bench-lint: /usr/src/newlib/newlib-*.tar.xz missing: FA_DEPS_BENCH=1 .ci/deps installs newlib-source")
    root = os.path.join(work, "newlib")
    db = os.path.join(root, "compile_commands.json")
    if os.path.exists(db):
        with open(db) as f:
            return root, len(json.load(f)), None
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    with tarfile.open(tars[-1]) as t:
        t.extractall(root)
    top = [d for d in glob.glob(os.path.join(root, "*")) if os.path.isdir(os.path.join(d, "newlib", "libc"))][0]
    libc = os.path.join(top, "newlib", "libc")
    flags = ["-w", "-nostdinc", "-isystem", os.path.join(libc, "include"), "-isystem", resource_include(),
             "-D_COMPILING_NEWLIB", "-DMISSING_SYSCALL_NAMES"]
    files = sorted(f for d in NEWLIB_DIRS for f in glob.glob(os.path.join(libc, d, "**", "*.c"), recursive=True))

    def parses(f):
        return subprocess.run(["clang", "-fsyntax-only"] + flags + [f], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode == 0
    with ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        ok = [f for f, good in zip(files, ex.map(parses, files)) if good]
    entries = [{"directory": top, "file": f, "arguments": ["clang"] + flags + ["-c", f]} for f in ok]
    with open(db, "w") as f:
        json.dump(entries, f)
    return root, len(ok), len(files) - len(ok)


def units(db_dir):
    with open(os.path.join(db_dir, "compile_commands.json")) as f:
        return [e["file"] if os.path.isabs(e["file"]) else os.path.join(e["directory"], e["file"]) for e in json.load(f)]


def time_fa_lint(lint, db_dir, jobs):
    t0 = time.monotonic()
    p = subprocess.run([lint, "--all", "--no-config", "-q", "--format", "json", "-p", db_dir, "--root", "/",
                        "-j", str(jobs)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    dt = time.monotonic() - t0
    if p.returncode == 2:
        sys.exit(f"bench-lint: fa-lint failed on {db_dir}:\n{p.stderr[-2000:]}")
    return dt


def time_clang_tidy(db_dir, files, checks, jobs):
    def share(k):
        return subprocess.run(["clang-tidy", "--quiet", "-p", db_dir, "--checks=" + checks] + files[k::jobs],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    t0 = time.monotonic()
    with ThreadPoolExecutor(jobs) as ex:
        list(ex.map(share, range(jobs)))
    return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lint", required=True)
    ap.add_argument("--compdb", required=True, help="our compile_commands.json")
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--analyzer-runs", type=int, default=1)
    ap.add_argument("--jobs", default="1,2", help="parallel jobs to measure, comma-separated")
    ap.add_argument("--only", choices=["ours", "newlib"], help="one code base")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    if not shutil.which("clang-tidy"):
        sys.exit("bench-lint: clang-tidy missing: FA_DEPS_BENCH=1 .ci/deps installs it")
    os.makedirs(args.work, exist_ok=True)
    bases = []
    if args.only != "newlib":
        bases.append(("ours", os.path.dirname(os.path.abspath(args.compdb)), None))
    if args.only != "ours":
        root, n, dropped = prepare_newlib(os.path.abspath(args.work))
        bases.append(("newlib", root, dropped))
    jobs = [int(j) for j in args.jobs.split(",")]
    tools = [("fa-lint --all", None), ("clang-tidy comparable", COMPARABLE), ("clang-tidy ast-only", AST_ONLY)]
    figures = {}
    for name, db_dir, dropped in bases:
        files = units(db_dir)
        note = f" ({dropped} more left out: they do not parse standalone)" if dropped else ""
        print(f"== {name}: {len(files)} units{note}", flush=True)
        for j in jobs:
            samples = {t: [] for t, _ in tools}
            for r in range(args.runs):
                for t, checks in tools:
                    if checks == COMPARABLE and (j != max(jobs) or r >= args.analyzer_runs):
                        continue
                    dt = time_fa_lint(args.lint, db_dir, j) if checks is None else time_clang_tidy(db_dir, files, checks, j)
                    samples[t].append(len(files) / dt)
            for t, _ in tools:
                if not samples[t]:
                    continue
                figures[(name, t, j)] = statistics.median(samples[t])
                print(f"   -j{j} {t:24s} {figures[(name, t, j)]:8.1f} files/s  (runs: "
                      + ", ".join(f"{x:.1f}" for x in samples[t]) + ")", flush=True)
    print("\n| code base | units | jobs | fa-lint files/s | clang-tidy comparable | clang-tidy ast-only |"
          " × comparable | × ast-only |")
    print("|---|---|---|---|---|---|---|---|")
    for name, db_dir, _ in bases:
        n = len(units(db_dir))
        for j in jobs:
            f, c, a = (figures.get((name, t, j)) for t, _ in tools)
            cs, cr = (f"{c:.1f}", f"{f / c:.0f}×") if c else ("", "")
            print(f"| {name} | {n} | {j} | {f:.1f} | {cs} | {a:.1f} | {cr} | {f / a:.2f}× |")
    for name, _, _ in bases:
        if len(jobs) >= 2:
            f1, f2 = figures[(name, tools[0][0], jobs[0])], figures[(name, tools[0][0], jobs[-1])]
            a1, a2 = figures[(name, tools[2][0], jobs[0])], figures[(name, tools[2][0], jobs[-1])]
            print(f"scaling {name}: fa-lint {f2 / f1:.2f}× from -j{jobs[0]} to -j{jobs[-1]} "
                  f"(clang-tidy ast-only {a2 / a1:.2f}×)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"base": b, "tool": t, "jobs": j, "files_per_s": v} for (b, t, j), v in figures.items()], f, indent=1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""make bench-compare: fa-cli compare of two one-hour captures at 60 fps with
64 tags (216 000 frames each, made with the real encoder by bench-compare
gen), against two floors measured in the same run:

  read    cat of both files to /dev/null (the page cache, no decoding)
  decode  the capture reader decoding every message of both (bench-compare
          decode), which any compare has to do

Prints the median of --runs runs of each, the ratios to the floors, and
compare's peak memory (its figures are histograms: memory grows with tags,
not frames). The goal is compare < 2 s. The captures are kept in
build/bench/captures/ and reused while their parameters do not change.

usage: compare.py --cli build/fa-cli --tool build/bench/bench-compare [--runs 5]
                  [--frames 216000] [--tags 64]
       compare.py --cli ... --tool ... --check DIR
                  (make test: small captures in DIR; every message decoded,
                  compare finds the candidate's leak; no timing)
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time


def timed(argv, expect=(0,)):
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb %M"] + argv, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t
    if p.returncode not in expect:
        sys.exit("%s: exit %d: %s" % (" ".join(argv), p.returncode, p.stderr[-800:]))
    rss = int(re.search(r"maxrss_kb (\d+)", p.stderr).group(1))
    return dt, rss


def check(a):
    """The bench's own tools on 300-frame captures: `decode` must read every
    message of both (HELLO, the frames, BYE) and exit 0, and compare must
    exit 4 on the leaking candidate."""
    frames = 300
    os.makedirs(a.check, exist_ok=True)
    base, cand = os.path.join(a.check, "base.facap"), os.path.join(a.check, "cand.facap")
    subprocess.run([a.tool, "gen", base, "--frames", str(frames), "--seed", "1"], check=True)
    subprocess.run([a.tool, "gen", cand, "--frames", str(frames), "--seed", "2", "--leak", "65536"], check=True)
    p = subprocess.run([a.tool, "decode", base, cand], capture_output=True, text=True)
    want = "messages %d" % (2 * (frames + 2))
    if p.returncode != 0 or p.stdout.strip() != want:
        sys.exit("bench-compare decode: exit %d, printed %r, want exit 0 and %r; stderr: %s" %
                 (p.returncode, p.stdout.strip(), want, p.stderr[-400:]))
    p = subprocess.run([a.cli, "compare", base, cand], capture_output=True, text=True)
    if p.returncode != 4:
        sys.exit("fa-cli compare of the leaking capture: exit %d, want 4; %s" % (p.returncode, p.stderr[-400:]))
    print("bench-compare check: decode read %s, compare found the leak (exit 4)" % want)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--tool", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--frames", type=int, default=216000)
    ap.add_argument("--tags", type=int, default=64)
    ap.add_argument("--check", metavar="DIR")
    a = ap.parse_args()
    if a.check:
        check(a)
        return
    d = os.path.join(os.path.dirname(os.path.abspath(a.tool)), "captures")
    os.makedirs(d, exist_ok=True)
    base = os.path.join(d, "base-%d-%d.facap" % (a.frames, a.tags))
    cand = os.path.join(d, "cand-%d-%d.facap" % (a.frames, a.tags))
    for path, extra in ((base, ["--seed", "1"]), (cand, ["--seed", "2", "--leak", "64"])):
        if not os.path.exists(path):
            t = time.perf_counter()
            subprocess.run([a.tool, "gen", path + ".tmp", "--frames", str(a.frames), "--tags", str(a.tags)] + extra,
                           check=True)
            os.rename(path + ".tmp", path)
            print("generated %s (%.0f MB) in %.1f s" % (path, os.path.getsize(path) / 1e6,
                                                        time.perf_counter() - t))
    size = (os.path.getsize(base) + os.path.getsize(cand)) / 1e6
    # Warm the page cache once, as a CI job that just wrote its capture has.
    timed(["cat", base, cand])
    results = {"read": [], "decode": [], "compare": []}
    rss = []
    for _ in range(a.runs):
        results["read"].append(timed(["sh", "-c", 'cat "$0" "$1" > /dev/null', base, cand])[0])
        results["decode"].append(timed([a.tool, "decode", base, cand])[0])
        dt, kb = timed([a.cli, "compare", base, cand], expect=(0, 4))
        results["compare"].append(dt)
        rss.append(kb)
    med = {k: statistics.median(v) for k, v in results.items()}
    print("compare of two captures: %d frames x %d tags each (%.0f MB in all), %d runs, medians" %
          (a.frames, a.tags, size, a.runs))
    print("%-10s %10s %10s %12s" % ("case", "median s", "MB/s", "x compare"))
    for k in ("read", "decode", "compare"):
        print("%-10s %10.3f %10.0f %12.2f" % (k, med[k], size / med[k], med["compare"] / med[k]))
    print("compare: median %.3f s (goal < 2 s: %s), %.2fx decoding alone, peak RSS %.0f MB (median)" %
          (med["compare"], "met" if med["compare"] < 2 else "NOT met", med["compare"] / med["decode"],
           statistics.median(rss) / 1024))
    print("all runs (s): " + "; ".join("%s %s" % (k, " ".join("%.3f" % x for x in v)) for k, v in results.items()))


if __name__ == "__main__":
    main()

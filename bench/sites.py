#!/usr/bin/env python3
"""sites.py -- many active call sites, end to end (issue 15).

The agent benchmark's game (fa-agent/bench/bench_agent.c --feed) with 64
tags and N more active call sites (each allocating every frame), against a
real fa-insightd: the game's median fa_end_frame with the agent on, the rows
a FRAME carries, what the daemon spends per stored frame (its CPU time from
/proc), its memory, and how long the API's /sites takes over the run. Each
configuration runs --runs times; the table shows medians, and the ratio of
each row to the 0-site row of the same run.

    python3 bench/sites.py --daemon build/fa-insightd --game build/bench/bench-agent [--runs 3]
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def get(base, path):
    t0 = time.perf_counter()
    with urllib.request.urlopen(base + path, timeout=60) as r:
        body = r.read()
    return json.loads(body), (time.perf_counter() - t0) * 1000


def one_run(args, sites, work):
    db = os.path.join(work, f"s{sites}-{time.time_ns()}.db")
    d = subprocess.Popen([args.daemon, "--listen", "127.0.0.1:0", "--ingest", "tcp://127.0.0.1:0", "--db", db],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = d.stdout.readline()
        m = re.search(r"ready http=(\S+) ws=\S+ ingest=(\S+)", line)
        base, ingest = m.group(1), m.group(2)
        cpu0 = cpu_s(d.pid)
        g = subprocess.run([args.game, "--feed", ingest, "--tags", "64", "--sites", str(sites), "--frames",
                            str(args.frames), "--fps", str(args.fps)], capture_output=True, text=True, timeout=600)
        out = dict(kv.split("=", 1) for kv in g.stdout.split() if "=" in kv)
        sid, sent = out["session"], int(out["sent"])
        deadline = time.time() + 60
        while time.time() < deadline:
            h, _ = get(base, "/api/v1/health")
            if h["ingest"]["stored"] >= sent:
                break
            time.sleep(0.2)
        cpu = cpu_s(d.pid) - cpu0
        frame, _ = get(base, f"/api/v1/sessions/{sid}/frames?limit=1")
        f = frame["frames"][-1]
        listing, list_ms = get(base, f"/api/v1/sessions/{sid}/sites?window=1m&limit=20")
        listing10, list10_ms = get(base, f"/api/v1/sessions/{sid}/sites?window=10m&limit=20")
        top = next((x["site_id"] for x in listing["sites"] if x["site_id"]), 1)
        _, one_ms = get(base, f"/api/v1/sessions/{sid}/sites/{top}?window=1m&points=60")
        return {
            "end_frame_ns": int(out["end_frame_median_ns"]), "sent": sent, "dropped": int(out["dropped"]),
            "stored": h["ingest"]["stored"], "store_dropped": h["ingest"]["dropped"],
            "rows": len(f["sites"]), "other_rows": sum(1 for x in f["sites"] if x["site_id"] == 0),
            "sites_total": f["sites_total"], "daemon_us_per_frame": cpu * 1e6 / max(sent, 1),
            "rss_mib": rss_kib(d.pid) / 1024, "pairs_1m": listing["pairs"], "sites_1m_ms": list_ms,
            "sites_10m_ms": list10_ms, "site_ms": one_ms, "db_mib": os.path.getsize(db) / 2**20,
        }
    finally:
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(30)
        except subprocess.TimeoutExpired:
            d.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--game", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--fps", type=int, default=60)
    ap.add_argument("--sites", default="0,100,1000,10000")
    args = ap.parse_args()
    counts = [int(x) for x in args.sites.split(",")]
    work = tempfile.mkdtemp(prefix="fa-sites-bench-")
    runs = {n: [] for n in counts}
    for r in range(args.runs):  # interleaved: a slow stretch hits every row
        for n in counts:
            runs[n].append(one_run(args, n, work))
    keys = ["end_frame_ns", "daemon_us_per_frame", "rows", "other_rows", "sites_total", "rss_mib", "db_mib",
            "pairs_1m", "sites_1m_ms", "sites_10m_ms", "site_ms"]
    print(f"call sites end to end: 64 tags + N active sites, {args.frames} frames at {args.fps} fps, "
          f"median of {args.runs} runs (load {os.getloadavg()[0]:.1f})")
    print("| N sites | fa_end_frame, agent on (ns) | x N=0 | daemon CPU/frame (us) | x N=0 | rows/FRAME (other) "
          "| pairs active | daemon RSS (MiB) | DB (MiB) | /sites 1m (ms) | /sites 10m (ms) | /sites/{id} (ms) "
          "| sent / dropped / stored |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    base = {k: [x[k] for x in runs[counts[0]]] for k in keys}
    for n in counts:
        med = {k: statistics.median(x[k] for x in runs[n]) for k in keys}
        # same-run ratios against the first row, then their median
        r_end = statistics.median(x["end_frame_ns"] / b for x, b in zip(runs[n], base["end_frame_ns"]))
        r_cpu = statistics.median(x["daemon_us_per_frame"] / max(b, 1e-9)
                                  for x, b in zip(runs[n], base["daemon_us_per_frame"]))
        sent = sum(x["sent"] for x in runs[n])
        dropped = sum(x["dropped"] for x in runs[n])
        stored = sum(x["stored"] for x in runs[n])
        print(f"| {n} | {med['end_frame_ns']:.0f} | {r_end:.2f} | {med['daemon_us_per_frame']:.1f} | {r_cpu:.2f} "
              f"| {med['rows']:.0f} ({med['other_rows']:.0f}) | {med['sites_total']:.0f} | {med['rss_mib']:.1f} "
              f"| {med['db_mib']:.1f} | {med['sites_1m_ms']:.1f} | {med['sites_10m_ms']:.1f} | {med['site_ms']:.1f} "
              f"| {sent} / {dropped} / {stored} |")
    print(json.dumps(runs))


if __name__ == "__main__":
    main()

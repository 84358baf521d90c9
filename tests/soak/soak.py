#!/usr/bin/env python3
"""make soak: N demo instances (default 20) at 60 fps for M minutes (default
10) against one fa-insightd. Samples the daemon's RSS, the database size and
API latency while it runs; reports drops (agent side and daemon side), RSS
growth after warm-up, and latency percentiles. Not part of make test.

    soak.py [--build DIR] [--instances N] [--minutes M] [--fps F] [--json]
"""
import argparse, json, os, re, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None


def timed_get(url):
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as r:
        body = r.read()
    return (time.perf_counter() - t) * 1000.0, json.loads(body)


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--instances", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--fps", type=float, default=60)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    b, tmp = a.build, tempfile.mkdtemp(prefix="fa-soak-")
    http, ingest = free_port(), free_port()
    base = f"http://127.0.0.1:{http}"
    db = f"{tmp}/soak.db"
    daemon = subprocess.Popen([f"{b}/fa-insightd", "--listen", f"127.0.0.1:{http}", "--ingest",
                               f"tcp://127.0.0.1:{ingest}", "--db", db, "--web-root", "web"],
                              stdout=open(f"{tmp}/daemon.log", "w"), stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            timed_get(base + "/api/v1/health")
            break
        except OSError:
            time.sleep(0.1)
    seconds = a.minutes * 60
    demos = [subprocess.Popen([f"{b}/fa-demo", "--url", f"tcp://127.0.0.1:{ingest}", "--app", f"soak-{i}",
                               "--seed", str(i + 1), "--duration", str(seconds), "--fps", str(a.fps),
                               "--entities", "1000", "--quiet"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(a.instances)]
    samples, latencies = [], {"health": [], "sessions": [], "tags": [], "trend": []}
    start = time.time()
    sid = None
    while time.time() - start < seconds + 2:
        t = time.time() - start
        try:
            ms, h = timed_get(base + "/api/v1/health")
            latencies["health"].append(ms)
            ms, s = timed_get(base + "/api/v1/sessions")
            latencies["sessions"].append(ms)
            if not sid and s["sessions"]:
                sid = s["sessions"][0]["id"]
            if sid:
                ms, _ = timed_get(f"{base}/api/v1/sessions/{sid}/tags")
                latencies["tags"].append(ms)
                ms, _ = timed_get(f"{base}/api/v1/sessions/{sid}/trend?tag=physics&window=5m&points=300")
                latencies["trend"].append(ms)
            size = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
            samples.append({"t_s": round(t, 1), "rss_kib": rss_kib(daemon.pid), "db_bytes": size,
                            "received": h["ingest"]["received"], "stored": h["ingest"]["stored"],
                            "dropped": h["ingest"]["dropped"]})
        except (OSError, ValueError, KeyError) as e:
            samples.append({"t_s": round(t, 1), "error": str(e)})
        time.sleep(5)
    sent = dropped = frames = 0
    for d in demos:
        out, _ = d.communicate(timeout=60)
        m = re.search(r"frames=(\d+) sent=(\d+) dropped=(\d+)", out)
        if m:
            frames += int(m.group(1)); sent += int(m.group(2)); dropped += int(m.group(3))
    time.sleep(1)
    _, h = timed_get(base + "/api/v1/health")
    daemon.terminate()
    daemon.wait(timeout=30)
    good = [s for s in samples if "rss_kib" in s and s["rss_kib"]]
    warm = [s["rss_kib"] for s in good if s["t_s"] >= 60] or [s["rss_kib"] for s in good]
    result = {
        "instances": a.instances, "fps": a.fps, "minutes": a.minutes,
        "frames_run": frames, "frames_sent": sent, "agent_dropped": dropped,
        "daemon_stored": h["ingest"]["stored"], "daemon_dropped": h["ingest"]["dropped"],
        "daemon_rejected": h["ingest"]["rejected"],
        "rss_kib_after_warmup_first": warm[0] if warm else None, "rss_kib_max": max(warm) if warm else None,
        "rss_kib_last": warm[-1] if warm else None,
        "db_bytes_final": good[-1]["db_bytes"] if good else None,
        "latency_ms": {k: {"p50": round(pct(v, 50), 2), "p99": round(pct(v, 99), 2), "n": len(v)}
                       for k, v in latencies.items()},
        "samples": samples,
    }
    shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"soak: {a.instances} demos x {a.fps:g} fps x {a.minutes:g} min")
    print(f"  frames run {frames}, sent {sent}, dropped by agents {dropped} "
          f"({100.0 * dropped / max(frames, 1):.3f} %)")
    print(f"  daemon stored {result['daemon_stored']}, dropped {result['daemon_dropped']}, "
          f"rejected {result['daemon_rejected']}")
    print(f"  daemon RSS after warm-up: first {result['rss_kib_after_warmup_first']} KiB, max "
          f"{result['rss_kib_max']} KiB, last {result['rss_kib_last']} KiB")
    print(f"  database size at the end: {(result['db_bytes_final'] or 0) / 1048576:.1f} MiB")
    for k, v in result["latency_ms"].items():
        print(f"  API {k:9s} p50 {v['p50']:7.2f} ms  p99 {v['p99']:7.2f} ms  ({v['n']} requests)")
    print("  RSS over time (KiB): " + " ".join(str(s.get("rss_kib")) for s in samples[::6]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""make soak, fa-insightd part (issue 13). Two runs, each against its own
daemon (the default build), figures into fa-insightd/BENCH.md by hand:

1. Sessions: 10 000 short sessions (30 frames at 60 fps, 64 tags, BYE) from
   insightd_sender, 50 at a time, two senders at once, with the dashboard
   open in headless chromium. Retention is short (--retention 30s,
   --rollup-retention 1m, --session-retention 90s) so that its passes run
   while sessions arrive and after. /health is timed every 50 ms; a sample
   counts as "during retention" within 1 s of a change of the store's
   retention_deleted. Pass: RSS under 64 MiB after the warm-up (the
   first 1000 sessions), /health p99 under 50 ms during retention.
2. WebSocket churn: 200 clients connecting and closing in a loop (each
   reads the hello and a few messages, then closes: a close frame, a
   half-close or a reset in turn) for 5 minutes while one sender streams
   8 sessions. Descriptors and RSS are sampled every 5 s. Pass: once the
   clients are gone the descriptor count is back to what it was before
   them (+-4), and RSS over the last 4 minutes grows by less than 4 MiB.

    insightd_soak.py [--build DIR] [--sessions N] [--ws-clients N]
                     [--ws-minutes M] [--skip-sessions] [--skip-ws] [--json]
"""
import argparse
import base64
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Daemon:
    def __init__(self, build, tmp, name, extra):
        self.port, ingest = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ingest = f"tcp://127.0.0.1:{ingest}"
        self.log = os.path.join(tmp, f"{name}.log")
        self.proc = subprocess.Popen(
            [os.path.join(build, "fa-insightd"), "--listen", f"127.0.0.1:{self.port}", "--ingest", self.ingest,
             "--db", os.path.join(tmp, f"{name}.db"), "--web-root", os.path.join(ROOT, "web")] + extra,
            stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                self.health()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"fa-insightd did not start (see {self.log})")

    def health(self, timeout=10):
        t = time.perf_counter()
        with urllib.request.urlopen(self.base + "/api/v1/health", timeout=timeout) as r:
            doc = json.loads(r.read())
        return (time.perf_counter() - t) * 1000.0, doc

    def stop(self):
        self.proc.send_signal(2)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


# ---------------------------------------------------------------------------
# 1. 10 000 short sessions, dashboard open, retention passes


def run_sessions(a, tmp):
    d = Daemon(a.build, tmp, "sessions", ["--retention", "30s", "--rollup-retention", "1m",
                                          "--session-retention", "90s"])
    dash = None
    if shutil.which("node") and os.path.exists(a.chromium):
        dash = subprocess.Popen(["node", os.path.join(ROOT, "tests/soak/dashboard_open.mjs"), d.base + "/"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ, FA_CHROMIUM=a.chromium))
    sender = os.path.join(a.build, "default/tests/insightd_sender")
    sent = [0]
    lock = threading.Lock()
    stop = threading.Event()
    per_run = 50

    def feed():
        while not stop.is_set():
            with lock:
                if sent[0] >= a.sessions:
                    return
                sent[0] += per_run
            subprocess.run([sender, "--url", d.ingest, "--sessions", str(per_run), "--frames", "30", "--fps", "60",
                            "--tags", "64", "--bye", "--app", "soak"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)

    samples = []  # (t, ms, retention_deleted, rss, sessions_sent)
    rss = []      # (t, MiB, sessions sent)
    t0 = time.time()
    feeders = [threading.Thread(target=feed) for _ in range(2)]
    for f in feeders:
        f.start()
    last_rss = 0.0
    done_at = None
    deleted_at_done = None
    last_doc = {}
    while True:
        now = time.time()
        try:
            ms, doc = d.health()
            last_doc = doc
            samples.append((now - t0, ms, doc["store"]["retention_deleted"], sent[0]))
        except OSError as e:
            samples.append((now - t0, 10000.0, samples[-1][2] if samples else 0, sent[0]))
            print(f"  /health failed: {e}", flush=True)
        if now - last_rss >= 1.0:
            last_rss = now
            rss.append((now - t0, rss_mib(d.proc.pid), min(sent[0], a.sessions)))
        if done_at is None and not any(f.is_alive() for f in feeders):
            done_at = now
            deleted_at_done = samples[-1][2]
            print(f"  {a.sessions} sessions sent in {now - t0:.0f} s; waiting for retention to prune them", flush=True)
        # After the last session: until retention pruned again after
        # --settle s (90 s of session retention + a pass), at most 90 s more.
        if done_at and (now - done_at > a.settle + 90 or (now - done_at > a.settle and samples[-1][2] > deleted_at_done)):
            break
        time.sleep(0.05)
    stop.set()
    dash_lines = []
    if dash:
        try:
            out, _ = dash.communicate(timeout=20)  # closes its stdin: it stops
        except subprocess.TimeoutExpired:
            dash.kill()
            out, _ = dash.communicate()
        dash_lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    h = last_doc
    rc = d.stop()

    # During retention: within 1 s of a sample that saw the count of pruned
    # rows move (a pass is batches of 5000 rows between write batches).
    moves = [samples[i][0] for i in range(1, len(samples)) if samples[i][2] > samples[i - 1][2]]
    during, k = [], 0
    for t, ms, _, _ in samples:
        while k < len(moves) and moves[k] < t - 1.0:
            k += 1
        if k < len(moves) and moves[k] <= t + 1.0:
            during.append(ms)
    warm = [m for (_, m, n) in rss if n >= 1000]
    r = {
        "sessions_sent": min(sent[0], a.sessions),
        "seconds": round(samples[-1][0]),
        "rss_mib_max_after_warmup": round(max(warm), 1) if warm else None,
        "rss_mib_end": round(rss[-1][1], 1),
        "health_samples": len(samples),
        "health_ms_p50": round(pct([s[1] for s in samples], 50), 2),
        "health_ms_p99": round(pct([s[1] for s in samples], 99), 2),
        "health_ms_max": round(max(s[1] for s in samples), 2),
        "health_samples_during_retention": len(during),
        "health_ms_p99_during_retention": round(pct(during, 99), 2) if during else None,
        "health_ms_max_during_retention": round(max(during), 2) if during else None,
        "retention_passes": h.get("store", {}).get("retention_passes"),
        "retention_deleted": h.get("store", {}).get("retention_deleted"),
        "frames_received": h.get("ingest", {}).get("accepted", {}).get("frame"),
        "frames_stored": h.get("ingest", {}).get("stored"),
        "dropped": h.get("ingest", {}).get("dropped_by_reason"),
        "sessions_in_memory_end": h.get("sessions", {}).get("in_memory"),
        "sessions_evicted": h.get("sessions", {}).get("evicted"),
        "dashboard": dash_lines[-1] if dash_lines else "not run (no node or chromium)",
        "exit_code": rc,
    }
    r["pass"] = (r["rss_mib_max_after_warmup"] is not None and r["rss_mib_max_after_warmup"] < 64
                 and r["health_ms_p99_during_retention"] is not None and r["health_ms_p99_during_retention"] < 50
                 and rc == 0)
    return r


# ---------------------------------------------------------------------------
# 2. 200 WebSocket clients churning


def ws_connect(port, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        s.close()
        raise ConnectionError(head[:60])
    return s, rest


def ws_read_some(s, buf, messages):
    """Reads until `messages` complete server frames arrived (or timeout)."""
    got = 0
    while got < messages:
        while True:
            if len(buf) >= 2:
                n, off = buf[1] & 0x7F, 2
                if n == 126 and len(buf) >= 4:
                    n, off = struct.unpack(">H", buf[2:4])[0], 4
                elif n == 127 and len(buf) >= 10:
                    n, off = struct.unpack(">Q", buf[2:10])[0], 10
                elif n >= 126:
                    n = None
                if n is not None and len(buf) >= off + n:
                    buf = buf[off + n:]
                    got += 1
                    break
            chunk = s.recv(65536)
            if not chunk:
                return got
            buf += chunk
    return got


def close_frame():
    mask = os.urandom(4)
    payload = struct.pack(">H", 1000)
    return bytes([0x88, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def run_ws(a, tmp):
    d = Daemon(a.build, tmp, "ws", ["--ws-max-clients", str(a.ws_clients + 56)])
    sender = subprocess.Popen([os.path.join(a.build, "default/tests/insightd_sender"), "--url", d.ingest,
                               "--sessions", "8", "--frames", str(int(60 * 60 * (a.ws_minutes + 2))), "--fps", "60",
                               "--tags", "64", "--app", "soak-ws"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)
    base_fds, base_rss = fd_count(d.proc.pid), rss_mib(d.proc.pid)
    stop = threading.Event()
    counts = {"connects": 0, "refused": 0, "errors": 0}
    lock = threading.Lock()

    def client(k):
        rnd = random.Random(k)
        i = 0
        while not stop.is_set():
            i += 1
            try:
                s, buf = ws_connect(d.port)
            except (OSError, ConnectionError):
                with lock:
                    counts["refused"] += 1
                time.sleep(0.05)
                continue
            with lock:
                counts["connects"] += 1
            try:
                ws_read_some(s, buf, rnd.randint(1, 20))
                how = i % 3
                if how == 0:
                    s.sendall(close_frame())
                    s.settimeout(1)
                    try:
                        while s.recv(65536):
                            pass
                    except OSError:
                        pass
                elif how == 1:
                    s.shutdown(socket.SHUT_WR)
                else:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # a reset
            except OSError:
                with lock:
                    counts["errors"] += 1
            finally:
                s.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(a.ws_clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    series = []  # (t, fds, rss, clients)
    while time.time() - t0 < a.ws_minutes * 60:
        time.sleep(5)
        _, h = d.health()
        series.append((round(time.time() - t0), fd_count(d.proc.pid), round(rss_mib(d.proc.pid), 1),
                       h["ws"]["clients"]))
        print(f"  {series[-1][0]:4d} s: {series[-1][1]} fds, {series[-1][2]} MiB, {series[-1][3]} clients, "
              f"{counts['connects']} connects", flush=True)
    stop.set()
    for t in threads:
        t.join(10)
    for _ in range(50):  # the daemon notices the last closes
        _, h = d.health()
        if h["ws"]["clients"] == 0:
            break
        time.sleep(0.2)
    end_fds, end_rss = fd_count(d.proc.pid), rss_mib(d.proc.pid)
    sender.kill()
    sender.wait()
    rc = d.stop()
    minute1 = [s for s in series if 55 <= s[0] <= 65]
    after1 = [s for s in series if s[0] >= 60]
    r = {
        "clients": a.ws_clients,
        "minutes": a.ws_minutes,
        "connects": counts["connects"],
        "refused": counts["refused"],
        "client_errors": counts["errors"],
        "fds_before": base_fds,
        "fds_during_min": min(s[1] for s in series),
        "fds_during_max": max(s[1] for s in series),
        "fds_after": end_fds,
        "rss_mib_before": round(base_rss, 1),
        "rss_mib_at_1_min": minute1[0][2] if minute1 else None,
        "rss_mib_max_after_1_min": max(s[2] for s in after1) if after1 else None,
        "rss_mib_at_end": series[-1][2],
        "rss_mib_after": round(end_rss, 1),
        "ws_clients_after": h["ws"]["clients"],
        "ws_accepted": h["ws"]["accepted"],
        "ws_refused": h["ws"]["refused"],
        "exit_code": rc,
        "series": series,
    }
    growth = (r["rss_mib_max_after_1_min"] or 0) - (r["rss_mib_at_1_min"] or 0)
    r["rss_mib_growth_after_1_min"] = round(growth, 1)
    r["pass"] = abs(end_fds - base_fds) <= 4 and growth < 4 and h["ws"]["clients"] == 0 and rc == 0
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--ws-clients", type=int, default=200)
    ap.add_argument("--ws-minutes", type=float, default=5)
    ap.add_argument("--settle", type=float, default=150, help="seconds to keep going after the last session")
    ap.add_argument("--skip-sessions", action="store_true")
    ap.add_argument("--skip-ws", action="store_true")
    ap.add_argument("--chromium", default=os.environ.get("FA_CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    tmp = tempfile.mkdtemp(prefix="fa-insightd-soak-")
    out, ok = {}, True
    try:
        if not a.skip_sessions:
            print(f"== fa-insightd soak 1: {a.sessions} short sessions (30 frames, 64 tags), dashboard open, "
                  "retention passes", flush=True)
            out["sessions"] = r = run_sessions(a, tmp)
            print(json.dumps(r, indent=1), flush=True)
            ok &= r["pass"]
        if not a.skip_ws:
            print(f"== fa-insightd soak 2: {a.ws_clients} WebSocket clients churning for {a.ws_minutes:g} min",
                  flush=True)
            out["ws"] = r = run_ws(a, tmp)
            print(json.dumps({k: v for k, v in r.items() if k != "series"}, indent=1), flush=True)
            ok &= r["pass"]
    finally:
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"logs kept in {tmp}")
    if a.json:
        print(json.dumps(out))
    print("fa-insightd soak:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

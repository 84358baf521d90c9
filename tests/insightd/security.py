#!/usr/bin/env python3
"""security.py -- who may talk to fa-insightd, and how (issues 14 and 20).

Each test is named for the defect it pins and failed on the daemon before
its fix (the commit that added it says so). The harness is integration.py's;
run as

    python3 tests/insightd/security.py --daemon build/asan/fa-insightd/fa-insightd \\
        --sender build/default/tests/insightd_sender [-k NAME]
"""
import http.client
import json
import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import integration as it  # noqa: E402
from integration import Daemon, WS, Fail, Skip, check, eq, wait_for  # noqa: E402

TESTS = []
TOKEN = "s3cret-token-0123456789"
SECRET = "fleet-ingest-secret-0123456789"


def test(fn):
    TESTS.append(fn)
    return fn


def raw(d, data, timeout=5, read_for=None):
    """Sends bytes on a fresh connection; returns everything read until the
    daemon closes (or read_for seconds pass)."""
    s = socket.create_connection(("127.0.0.1", d.port), timeout=timeout)
    try:
        if data:
            s.sendall(data)
        out = b""
        deadline = time.time() + (read_for if read_for is not None else timeout)
        while time.time() < deadline:
            s.settimeout(max(0.05, deadline - time.time()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                return out, True
            out += chunk
        return out, False
    finally:
        s.close()


def token_file(name, text=TOKEN):
    path = os.path.join(it.TMP, name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text + "\n")
    return path


def health(d, token=None):
    st, _, body = d.request("GET", "/api/v1/health", {"Authorization": f"Bearer {token}"} if token else None)
    eq(st, 200, "health")
    return json.loads(body)


def make_cert(name, cn="127.0.0.1", san=None):
    """A throwaway self-signed certificate (openssl) for 127.0.0.1. The name
    is also a DNS name: nng's TLS (mbedtls 2.28) matches the name the agent
    dials against DNS names only, Python's ssl an address against IP ones."""
    if not shutil.which("openssl"):
        raise Skip("openssl is not installed")
    cert, key = os.path.join(it.TMP, name + ".crt"), os.path.join(it.TMP, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", f"/CN={cn}", "-addext", san or f"subjectAltName=IP:{cn},DNS:{cn}",
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=30)
    return cert, key


# ---------------------------------------------------------------------------
# Issue 14.1: Host and Origin


@test
def rebinding_request_with_a_foreign_host_gets_403():
    """A page whose name was rebound to 127.0.0.1 sends its own Host: the
    loopback daemon answered it (and read out every session)."""
    d = it.shared()
    for host in ("attacker.example", f"attacker.example:{d.port}", "127.0.0.1.attacker.example", "localhost.evil",
                 "[::2]:1"):
        st, _, body = d.request("GET", "/api/v1/sessions", {"Host": host})
        eq(st, 403, f"status for Host {host}")
        eq(json.loads(body)["error"]["code"], "forbidden_host", "code")
        st, _, _ = d.request("GET", "/", {"Host": host})
        eq(st, 403, f"dashboard for Host {host}")
    for host in (d.hostport, f"localhost:{d.port}", "localhost", f"[::1]:{d.port}", f"app.localhost:{d.port}",
                 "127.9.9.9"):
        st, _, _ = d.request("GET", "/api/v1/health", {"Host": host})
        eq(st, 200, f"status for Host {host}")
    check(health(d)["http"]["refused_host"] >= 10, "refusals counted")


@test
def websocket_from_another_origin_is_refused():
    """/ws accepted any Origin: a page on any site read every live session."""
    d = Daemon("origin", extra=["--allow-origin", "https://tools.example:8443, http://other.example"])
    try:
        ws = WS(d, headers={"Origin": "http://evil.example"})
        m = ws.recv(5)
        eq(m and m.get("code"), "origin_not_allowed", f"first message {m}")
        try:
            extra = ws.recv(2)
            check(extra is None, f"nothing else is sent ({extra})")
        except EOFError:
            pass
        ws.close()
        for origin in (d.http, f"http://localhost:{d.port}", "https://tools.example:8443", "http://other.example"):
            ws = WS(d, headers={"Origin": origin})
            m = ws.recv(5)
            eq(m and m.get("type"), "hello", f"hello for Origin {origin}")
            ws.close()
        for origin in ("null", f"http://localhost:{d.port + 1}", "http://127.0.0.1.evil.example", "file://"):
            ws = WS(d, headers={"Origin": origin})
            m = ws.recv(5)
            eq(m and m.get("code"), "origin_not_allowed", f"Origin {origin}")
            ws.close()
        ws = WS(d)  # no Origin: not a browser page
        eq(ws.recv(5)["type"], "hello", "no Origin")
        ws.close()
        h = wait_for(lambda: (lambda h: h["ws"]["refused_origin"] >= 5 and h)(health(d)), 5, "counted")
        eq(h["ws"]["refused_origin"], 5, "ws.refused_origin")
    finally:
        eq(d.stop(), 0, "exit code")


# ---------------------------------------------------------------------------
# Issue 14.2: HTTP framing, timeouts, connection cap, UTF-8, the file list


@test
def chunked_body_is_never_parsed_as_a_second_request():
    """Transfer-Encoding: chunked was ignored, so its body was answered as
    a second request (request smuggling behind a proxy)."""
    d = it.shared()
    inner = f"GET /api/v1/sessions HTTP/1.1\r\nHost: {d.hostport}\r\n\r\n"
    body = f"{len(inner):x}\r\n{inner}\r\n0\r\n\r\n"
    req = (f"GET /api/v1/health HTTP/1.1\r\nHost: {d.hostport}\r\nTransfer-Encoding: chunked\r\n\r\n{body}").encode()
    out, closed = raw(d, req, read_for=3)
    eq(out.count(b"HTTP/1.1 "), 1, f"one response: {out[:400]!r}")
    check(out.startswith(b"HTTP/1.1 400"), f"400: {out[:200]!r}")
    check(b"body_not_allowed" in out, "code")
    check(closed, "the connection is closed")


@test
def get_with_a_body_is_refused():
    d = it.shared()
    req = f"GET /api/v1/health HTTP/1.1\r\nHost: {d.hostport}\r\nContent-Length: 5\r\n\r\nhello".encode()
    out, closed = raw(d, req, read_for=3)
    check(out.startswith(b"HTTP/1.1 400") and b"body_not_allowed" in out, f"400: {out[:300]!r}")
    check(closed, "the connection is closed")
    check(health(d)["http"]["refused_body"] >= 1, "counted")


def take_responses(buf, got, head_at=()):
    """Moves every complete HTTP/1.1 response at the start of buf (Content-Length
    framed; those at the indices in head_at answer HEAD: no body) into got, each
    (status, headers as a lower-case dict, body); returns the rest of buf."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return buf
        lines = buf[:end].decode("latin-1").split("\r\n")
        hdrs = dict((k.strip().lower(), v.strip()) for k, v in (h.split(":", 1) for h in lines[1:]))
        n = 0 if len(got) in head_at else int(hdrs.get("content-length", "0"))
        if len(buf) < end + 4 + n:
            return buf
        got.append((int(lines[0].split()[1]), hdrs, buf[end + 4:end + 4 + n]))
        buf = buf[end + 4 + n:]


def read_responses(s, want, timeout, head_at=()):
    """Reads responses (see take_responses) from s until want arrived, the peer
    closed or timeout passed: (responses, closed)."""
    buf, got, closed = b"", [], False
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        buf = take_responses(buf, got, head_at)
        if len(got) >= want:
            break
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            chunk = s.recv(262144)
        except socket.timeout:
            break
        except (ConnectionResetError, ssl.SSLError):
            chunk = b""
        if not chunk:
            closed = True
            break
        buf += chunk
    return got, closed


def exchange_pipelined(s, chunks, want, timeout):
    """Sends chunks (one send each) on s while reading the responses, in ONE
    thread: an ssl.SSLSocket must not be used from two threads at once (a
    sending thread beside a reading one made OpenSSL report a false end of
    stream to the reader while the daemon still answered). Returns
    (responses, closed) like read_responses."""
    s.setblocking(False)
    chunks = list(chunks)
    buf, got, closed = b"", [], False
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        if not (isinstance(s, ssl.SSLSocket) and s.pending()):  # decrypted bytes wait in s, not the kernel
            select.select([s], [s] if chunks else [], [], 0.05)
        while chunks:
            try:
                sent = s.send(chunks[0])
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                break
            except OSError:  # the daemon closed (checked by the caller)
                chunks = []
                break
            chunks[0] = chunks[0][sent:]
            if not chunks[0]:
                chunks.pop(0)
        try:
            chunk = s.recv(262144)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            continue
        except (ConnectionResetError, ssl.SSLError):
            chunk = b""
        if not chunk:
            closed = True
            break
        buf = take_responses(buf + chunk, got)
    return got, closed


PIPELINE_TLS_ROUNDS = 5


def pipeline(d, n, one_write, wrap=None, what="pipeline"):
    """Sends n pipelined GETs on one connection (one write, or one write per
    request, while reading: nobody waits on full buffers) and checks
    that every request is answered in order, or that the daemon answered an
    explicit error naming the reason and closed: never a silent close with
    requests unanswered. Even requests are /api/v1/health (200), odd ones
    /api/v1/sessions?limit=p<i> (400 naming p<i>), so order is visible.
    Returns the responses."""
    reqs = []
    for i in range(n):
        path = "/api/v1/health" if i % 2 == 0 else f"/api/v1/sessions?limit=p{i}"
        reqs.append(f"GET {path} HTTP/1.1\r\nHost: {d.hostport}\r\n\r\n".encode())
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    if wrap:
        s = wrap(s)
    try:
        got, closed = exchange_pipelined(s, [b"".join(reqs)] if one_write else reqs, n, 60)
    finally:
        s.close()
    for i, (st, hdrs, body) in enumerate(got):
        if i == len(got) - 1 and len(got) < n and st not in (200, 400):
            break  # the refusal, checked below
        if i % 2 == 0:
            eq(st, 200, f"{what}: response {i} (health)")
        else:
            eq(st, 400, f"{what}: response {i}")
            check(f"p{i}".encode() in body, f"{what}: response {i} answers request {i}: {body[:200]!r}")
    if len(got) < n:
        check(got, f"{what}: {n} requests, no response at all (closed: {closed})")
        st, hdrs, body = got[-1]
        check(st in (400, 413, 429, 431, 503) and hdrs.get("connection", "").lower() == "close",
              f"{what}: only {len(got)} of {n} requests answered, and the last answer is no refusal "
              f"({st} {hdrs}) (closed: {closed})")
        check(json.loads(body)["error"]["code"], f"{what}: the refusal names its reason: {body[:300]!r}")
        check(closed, f"{what}: the connection closes after the refusal")
    return got


@test
def pipelined_requests_are_all_answered_or_refused_with_an_error():
    """Past ~8 KB of pipelined requests on one connection nng closed it:
    of 1 000 requests 151 were answered and the others vanished without an
    error."""
    d = it.shared()
    before = health(d)["http"]["pipelined"]
    # The daemon reads what follows a connection's first request itself
    # (http.c), so it answers them all rather than refusing.
    eq(len(pipeline(d, 1000, one_write=False, what="1 000 requests, one write each")), 1000, "answered")
    small = f"GET /api/v1/health HTTP/1.1\r\nHost: {d.hostport}\r\n\r\n"
    n = 65536 // len(small) + 1
    eq(len(pipeline(d, n, one_write=True, what="64 KB of requests in one write")), n, "answered")
    check(health(d)["http"]["pipelined"] >= before + 999 + n - 1, "counted in /health as pipelined")


@test
def pipelined_requests_over_https_are_all_answered_or_refused():
    cert, key = make_cert("pipeline")
    d = Daemon("pipetls", extra=["--tls-cert", cert, "--tls-key", key])
    try:
        ctx = ssl.create_default_context(cafile=cert)
        wrap = lambda s: ctx.wrap_socket(s, server_hostname="127.0.0.1")  # noqa: E731
        # Rounds on fresh connections: a race in the TLS hand-over (the first
        # request, nng's buffered bytes, the daemon's reads) shows in one of them.
        for k in range(PIPELINE_TLS_ROUNDS):
            eq(len(pipeline(d, 1000, one_write=False, wrap=wrap, what=f"HTTPS, 1 000 requests, round {k}")),
               1000, "answered")
            eq(len(pipeline(d, 1200, one_write=True, wrap=wrap, what=f"HTTPS, 64 KB in one write, round {k}")),
               1200, "answered")
    finally:
        eq(d.stop(), 0, "exit code")


@test
def pipelined_websocket_upgrade_is_answered_or_refused():
    """An upgrade behind other requests on one connection: either the
    requests and the upgrade are answered (101, then the hello), or the
    upgrade gets an explicit error."""
    d = it.shared()
    upgrade = (f"GET /ws HTTP/1.1\r\nHost: {d.hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    for n in (1, 200):
        head = "".join(f"GET /api/v1/health HTTP/1.1\r\nHost: {d.hostport}\r\n\r\n" for _ in range(n))
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        try:
            s.sendall((head + upgrade).encode())
            got, closed = read_responses(s, n + 1, 20)
            eq([st for st, _, _ in got[:n]], [200] * n, f"{n} requests before the upgrade")
            check(len(got) == n + 1, f"the upgrade behind {n} requests is answered (closed: {closed})")
            st, hdrs, body = got[n]
            if st == 101:
                s.settimeout(5)
                hello = s.recv(65536)
                check(b"\"hello\"" in hello, f"the WebSocket says hello: {hello[:200]!r}")
            else:
                check(st >= 400 and json.loads(body)["error"]["code"], f"an explicit refusal: {st} {body[:300]!r}")
                # nng's WebSocket code takes only a connection's first request.
                eq(json.loads(body)["error"]["code"], "upgrade_not_first", "code")
                eq(hdrs.get("connection"), "close", "Connection: close")
                check(closed or read_responses(s, 1, 3)[1], "the connection closes")
        finally:
            s.close()
    ws = WS(d)  # an upgrade first on its connection still works
    eq(ws.recv(5)["type"], "hello", "hello")
    ws.close()


@test
def pipelined_requests_keep_their_framing():
    """What follows a connection's first request is read by the daemon's own
    parser: bodies, HEAD, HTTP/1.0, Connection: close and malformed heads
    keep the connection in step or close it with an error, never parse a
    body as a request."""
    d = it.shared()
    h = f"Host: {d.hostport}\r\n"
    get = f"GET /api/v1/sessions HTTP/1.1\r\n{h}\r\n"
    sarif = b'{"version":"2.1.0","runs":[]}'
    put = f"PUT /api/v1/lint HTTP/1.1\r\n{h}Content-Length: {len(sarif)}\r\n\r\n".encode() + sarif
    before = health(d)["http"]

    def exchange(data, want, head_at=()):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        try:
            s.sendall(data)
            return read_responses(s, want, 5, head_at)
        finally:
            s.close()
    got, _ = exchange(get.encode() + put + get.encode() + f"HEAD /api/v1/health HTTP/1.1\r\n{h}\r\n".encode()
                      + get.encode(), 5, head_at=(3,))
    eq([st for st, _, _ in got], [200, 200, 200, 200, 200], "GET, PUT with a body, GET, HEAD, GET")
    check(b"accepted" in got[1][2], f"the PUT's body was read: {got[1][2][:200]!r}")
    eq(got[3][2], b"", "HEAD has no body")
    check(int(got[3][1]["content-length"]) > 0, "HEAD gives the length")
    for tail, status, code in (
            (b"GET / HTTP/1.1\nHost: x\r\n\r\n", 400, "bad_request"),  # bare LF
            (f"GET /api/v1/health HTTP/1.1\r\n{h}{h}\r\n".encode(), 400, "bad_request"),  # Host twice
            (b"GET /api/v1/health HTTP/1.1\r\n\r\n", 400, "bad_request"),  # no Host
            (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 431, "request_head_too_large"),
            (b"GET / HTTP/2.0\r\n\r\n", 505, "http_version_not_supported"),
            (f"POST /api/v1/sessions HTTP/1.1\r\n{h}Content-Length: {len(get)}\r\n\r\n{get}".encode(), 405,
             "method_not_allowed")):  # a body that is a request, never parsed as one
        got, closed = exchange(get.encode() + tail + get.encode(), 3)
        eq([st for st, _, _ in got], [200, status], f"answers to {tail[:40]!r}")
        eq(json.loads(got[1][2])["error"]["code"], code, f"code for {tail[:40]!r}")
        eq(got[1][1].get("connection"), "close", f"Connection: close after {tail[:40]!r}")
        check(closed, f"closed after {tail[:40]!r}")
    for close in (b"GET /api/v1/sessions HTTP/1.0\r\n\r\n",
                  f"GET /api/v1/sessions HTTP/1.1\r\n{h}Connection: close\r\n\r\n".encode()):
        got, closed = exchange(get.encode() + close + get.encode(), 3)
        eq([st for st, _, _ in got], [200, 200], f"answers with {close[:50]!r}")
        check(closed and got[1][1].get("connection") == "close", f"closed after {close[:50]!r}")
    after = health(d)["http"]
    check(after["refused_head"] >= before["refused_head"] + 5, f"refused heads counted: {after}")
    check(after["pipelined"] >= before["pipelined"] + 8, f"pipelined requests counted: {after}")


@test
def half_sent_request_is_cut_after_the_header_timeout():
    """A half-sent request kept its connection open for 130 s and more
    (1 100 of them exhausted the descriptors)."""
    d = Daemon("slowloris", extra=["--http-header-timeout", "1s", "--http-idle-timeout", "30s"])
    try:
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: ")
        t0 = time.time()
        out = b""
        try:
            for _ in range(8):  # a byte every half second: still never complete
                s.sendall(b"x")
                time.sleep(0.5)
        except OSError:
            pass
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                out += chunk
        except OSError:
            pass
        took = time.time() - t0
        check(took < 4, f"cut within about the timeout ({took:.1f}s)")
        check(out.startswith(b"HTTP/1.1 408"), f"408 first: {out[:200]!r}")
        eq(health(d)["http"]["header_timeouts"], 1, "counted")
    finally:
        eq(d.stop(), 0, "exit code")


@test
def idle_connection_is_closed_and_a_slow_query_is_not():
    d = Daemon("idle", extra=["--http-idle-timeout", "1s", "--http-header-timeout", "1s"])
    try:
        t0 = time.time()
        out, closed = raw(d, b"", read_for=5)
        check(closed and time.time() - t0 < 4, f"idle connection closed ({time.time() - t0:.1f}s)")
        # keep-alive: a second request after a pause shorter than the timeout works
        s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
        req = f"GET /api/v1/health HTTP/1.1\r\nHost: {d.hostport}\r\n\r\n".encode()
        for _ in range(3):
            s.sendall(req)
            data = s.recv(65536)
            check(data.startswith(b"HTTP/1.1 200"), f"keep-alive answer {data[:80]!r}")
            time.sleep(0.5)
        s.close()
        eq(health(d)["http"]["idle_timeouts"], 1, "counted")
    finally:
        eq(d.stop(), 0, "exit code")


@test
def connection_cap_gives_a_clear_503():
    """No connection cap: 1 100 idle connections exhausted the daemon's
    descriptors."""
    d = Daemon("cap", extra=["--max-connections", "8"])
    try:
        held = [socket.create_connection(("127.0.0.1", d.port), timeout=5) for _ in range(8)]
        time.sleep(0.2)
        out, closed = raw(d, None, read_for=3)
        check(out.startswith(b"HTTP/1.1 503"), f"503: {out[:200]!r}")
        check(b"too_many_connections" in out, "code")
        check(closed, "closed")
        for s in held:
            s.close()
        h = wait_for(lambda: (lambda st: st[0] == 200 and json.loads(st[2]))(d.request("GET", "/api/v1/health")),
                     5, "answers again once connections closed")
        check(h["http"]["refused_connections"] >= 1, "counted")
    finally:
        eq(d.stop(), 0, "exit code")


@test
def bad_parameter_bytes_are_escaped_not_echoed_raw():
    """limit=%FF was echoed raw: the error JSON was not UTF-8."""
    d = it.shared()
    for path in ("/api/v1/alerts?limit=%FF", "/api/v1/alerts?x%FE%1B=1", "/api/v1/alerts?limit=%C0%AF%E2%80%AE"):
        st, _, body = d.request("GET", path)
        eq(st, 400, path)
        text = body.decode("utf-8")  # strict: raises on invalid UTF-8
        json.loads(text)
        check("\x1b" not in text and "\u202e" not in text, f"{path}: raw control or bidi characters: {text!r}")


@test
def source_tree_files_are_not_served():
    """With the source tree as web root, /package.json, /web.mk and
    /node_modules/... were served."""
    d = it.shared()
    eq(d.request("GET", "/package.json")[0], 404, "a file of the web root not in its MANIFEST")
    web = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "web")
    if not os.path.exists(os.path.join(web, "MANIFEST")):
        raise Skip("web/MANIFEST is not built (make web/MANIFEST)")
    t = Daemon("srcweb", web_root=os.path.abspath(web))
    try:
        eq(t.request("GET", "/")[0], 200, "the dashboard")
        eq(t.request("GET", "/app.js")[0], 200, "its modules")
        for p in ("/package.json", "/package-lock.json", "/web.mk", "/README.md", "/MANIFEST",
                  "/node_modules/uplot/package.json", "/node_modules/.installed"):
            eq(t.request("GET", p)[0], 404, p)
    finally:
        eq(t.stop(), 0, "exit code")


# ---------------------------------------------------------------------------
# Issue 14.3: loopback decided on the resolved addresses


@test
def localhost_resolving_elsewhere_needs_allow_remote():
    """--listen localhost:... was taken as loopback by its name, whatever it
    resolved to."""
    if not shutil.which("unshare"):
        raise Skip("unshare is not installed")
    hosts = os.path.join(it.TMP, "hosts")
    with open(hosts, "w") as f:
        f.write("192.0.2.7 localhost\n")
    db = os.path.join(it.TMP, "resolve.db")
    for flags in (["--listen", "localhost:0"], ["--ingest", "tcp://localhost:0"]):
        cmd = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hosts, it.ARGS.daemon,
               "--db", db] + flags
        r = subprocess.run(cmd, capture_output=True, timeout=20)
        if b"unshare failed" in r.stderr or b"mount:" in r.stderr:
            raise Skip(f"no mount namespace here: {r.stderr[:200]!r}")
        eq(r.returncode, 2, f"exit code for {flags}: {r.stderr!r}")
        check(b"--allow-remote" in r.stderr and b"loopback" in r.stderr, f"says why: {r.stderr!r}")


# ---------------------------------------------------------------------------
# Issue 14.5: one session, one agent


@test
def second_agent_claiming_a_live_session_id_is_refused():
    """Two agents using one session id silently overwrote each other's
    frames."""
    d = Daemon("conflict")
    try:
        sid = "5e55100c0ff1c7ed"
        a = d.spawn("--session", sid, "--frames", "150", "--fps", "50", "--app", "first", "--bye")
        wait_for(lambda: health(d)["sessions"]["live"] == 1, 5, "the first agent's session is live")
        d.send("--session", sid, "--frames", "20", "--fast", "--app", "second", "--first-frame", "5000")
        eq(a.wait(timeout=30), 0, "the first agent's exit code")
        h = wait_for(lambda: (lambda h: h["ingest"]["uncommitted"] == 0 and h)(health(d)), 5, "committed")
        eq(h["ingest"]["dropped_by_reason"]["session_conflict"], 21, "the second agent's HELLO and frames")
        s = d.get(f"/api/v1/sessions/{sid}")
        s = s.get("session", s)
        eq(s["app"], "first", "the session keeps its agent")
        eq(s["frames"], 150, "only the first agent's frames")
        check("two agents must not share a session id" in d.log(), "logged")
        # Its connection closed: an agent that reconnects continues the session.
        d.send("--session", sid, "--frames", "5", "--fast", "--app", "first", "--first-frame", "150", "--no-hello")
        wait_for(lambda: (lambda s: s.get("session", s)["frames"] > 150)(d.get(f"/api/v1/sessions/{sid}")), 5,
                 "the reconnected agent's frames are stored")
        eq(health(d)["ingest"]["dropped_by_reason"]["session_conflict"], 21, "no new conflict")
    finally:
        eq(d.stop(), 0, "exit code")


# ---------------------------------------------------------------------------
# Issue 20.4: bearer token, HTTPS


@test
def remote_request_without_the_token_gets_401():
    tok = token_file("http.token")
    d = Daemon("token", extra=["--allow-remote", "--listen", "0.0.0.0:0", "--token-file", tok])
    try:
        st, h, body = d.request("GET", "/api/v1/sessions")
        eq(st, 401, "no token")
        eq(json.loads(body)["error"]["code"], "unauthorized", "code")
        check("bearer" in h.get("www-authenticate", "").lower(), "WWW-Authenticate")
        eq(d.request("GET", "/api/v1/sessions", {"Authorization": "Bearer wrong-token-0123456789"})[0], 401, "bad")
        eq(d.request("GET", "/api/v1/sessions", {"Authorization": f"Bearer {TOKEN}"})[0], 200, "token")
        eq(d.request("GET", "/", {})[0], 200, "the dashboard page itself needs no token (it asks for it)")
        # /metrics names every live session's tags and figures: the token too.
        eq(d.request("GET", "/metrics")[0], 401, "/metrics without the token")
        eq(d.request("GET", "/metrics", {"Authorization": f"Bearer {TOKEN}"})[0], 200, "/metrics with the token")
        ws = WS(d)
        eq(ws.recv(5).get("code"), "unauthorized", "WebSocket without the token")
        ws.close()
        ws = WS(d, path=f"/ws?token={TOKEN}")
        eq(ws.recv(5).get("type"), "hello", "WebSocket with the token")
        ws.close()
        refused = 3
        cli = os.environ.get("FA_CLI")
        if cli:  # fa-cli sends $FA_INSIGHT_TOKEN (HTTP header, WebSocket query)
            env = dict(os.environ, FA_INSIGHT_SERVER=d.http)
            env.pop("FA_INSIGHT_TOKEN", None)
            r = subprocess.run([cli, "sessions"], env=env, capture_output=True, timeout=20)
            eq(r.returncode, 1, f"fa-cli without the token: {r.stderr!r}")
            check(b"FA_INSIGHT_TOKEN" in r.stderr, f"says how: {r.stderr!r}")
            refused += 1
            env["FA_INSIGHT_TOKEN"] = TOKEN
            r = subprocess.run([cli, "sessions"], env=env, capture_output=True, timeout=20)
            eq(r.returncode, 0, f"fa-cli with the token: {r.stderr!r}")
        h = health(d, TOKEN)
        eq(h["http"]["refused_token"], refused, "http.refused_token")
        eq(h["ws"]["refused_token"], 1, "ws.refused_token")
    finally:
        eq(d.stop(), 0, "exit code")


def secret_file_must_be_private_and_long_enough(flag, name, secret):
    """A token or secret file that is too short, readable by others or
    missing stops the daemon with exit 2, naming the flag and why, never
    the content."""
    db = os.path.join(it.TMP, name + ".db")
    short = token_file("short." + name, "abc")
    loose = os.path.join(it.TMP, "loose." + name)
    with open(loose, "w") as f:
        f.write(secret + "\n")
    os.chmod(loose, 0o644)
    none = os.path.join(it.TMP, "none." + name)
    for path, word in ((short, b"16"), (loose, b"chmod 600"), (none, none.encode())):
        r = subprocess.run([it.ARGS.daemon, "--db", db, flag, path], capture_output=True, timeout=10)
        eq(r.returncode, 2, f"exit code for {path}")
        check(flag.encode() in r.stderr and word in r.stderr, f"says which flag and why: {r.stderr!r}")
        check(secret.encode() not in r.stderr, "never the content")


@test
def token_file_must_be_private_and_long_enough():
    secret_file_must_be_private_and_long_enough("--token-file", "token", TOKEN)


@test
def https_and_wss_with_tls_cert():
    cert, key = make_cert("http")
    d = Daemon("https", extra=["--tls-cert", cert, "--tls-key", key])
    try:
        check(d.http.startswith("https://") and d.ws_url.startswith("wss://"), f"ready line {d.http} {d.ws_url}")
        ctx = ssl.create_default_context(cafile=cert)
        c = http.client.HTTPSConnection("127.0.0.1", d.port, context=ctx, timeout=10)
        c.request("GET", "/api/v1/health")
        r = c.getresponse()
        eq(r.status, 200, "HTTPS health")
        eq(json.loads(r.read())["http_url"], d.http, "http_url")
        c.close()
        out, _ = raw(d, f"GET /api/v1/health HTTP/1.1\r\nHost: {d.hostport}\r\n\r\n".encode(), read_for=2)
        check(b"\"status\"" not in out, "plain HTTP gets no answer")
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", d.port), timeout=5), server_hostname="127.0.0.1")
        s.sendall((f"GET /ws HTTP/1.1\r\nHost: {d.hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        data = b""
        while b"\"hello\"" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        check(data.startswith(b"HTTP/1.1 101") and b"\"hello\"" in data, f"WSS hello: {data[:200]!r}")
        s.close()
    finally:
        eq(d.stop(), 0, "exit code")


@test
def fa_cli_reads_an_https_daemon_with_its_ca():
    """fa-cli refused every https:// server ("https is not supported"), so a
    daemon with --tls-cert could not be read from the command line."""
    cli = os.environ.get("FA_CLI")
    if not cli:
        raise Skip("FA_CLI is not set")
    cert, key = make_cert("cli")
    other, _ = make_cert("cli-other")
    tok = token_file("cli.token")
    d = Daemon("clitls", extra=["--tls-cert", cert, "--tls-key", key, "--token-file", tok])
    try:
        d.send("--frames", 5, "--fast", "--app", "over-https", "--bye")
        env = dict(os.environ, FA_INSIGHT_SERVER=d.http, FA_INSIGHT_TOKEN=TOKEN)
        env.pop("FA_INSIGHT_CA", None)
        r = subprocess.run([cli, "--ca", cert, "--json", "sessions"], env=env, capture_output=True, timeout=20)
        eq(r.returncode, 0, f"fa-cli --ca: {r.stderr!r}")
        check(b"over-https" in r.stdout, f"the session over HTTPS: {r.stdout[:300]!r}")
        r = subprocess.run([cli, "sessions"], env=dict(env, FA_INSIGHT_CA=cert), capture_output=True, timeout=20)
        eq(r.returncode, 0, f"fa-cli with $FA_INSIGHT_CA: {r.stderr!r}")
        r = subprocess.run([cli, "sessions"], env=env, capture_output=True, timeout=20)
        eq(r.returncode, 2, "no CA: a usage error")
        check(b"--ca" in r.stderr, f"says how: {r.stderr!r}")
        r = subprocess.run([cli, "--ca", other, "sessions"], env=env, capture_output=True, timeout=20)
        eq(r.returncode, 1, f"another CA: refused ({r.stderr!r})")
        check(b"TLS handshake" in r.stderr, f"says why: {r.stderr!r}")
        # watch follows the stream over WSS with the same CA (and the token in the query).
        w = subprocess.Popen([cli, "--ca", cert, "--json", "watch"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            ready, _, _ = select.select([w.stdout], [], [], 10)
            line = w.stdout.readline() if ready else b""
            check(json.loads(line or b"{}").get("type") == "hello", f"watch over WSS: {line[:200]!r}")
        finally:
            w.kill()
            w.wait()
    finally:
        eq(d.stop(), 0, "exit code")


@test
def tls_ingest_refuses_a_plain_tcp_agent():
    cert, key = make_cert("ingest")
    d = Daemon("tlsingest", extra=["--ingest", "tls+tcp://127.0.0.1:0", "--tls-cert", cert, "--tls-key", key])
    try:
        check(d.ingest.startswith("tls+tcp://127.0.0.1:"), f"ready line: {d.ingest}")
        plain = "tcp://" + d.ingest[len("tls+tcp://"):]
        p = subprocess.Popen([it.ARGS.sender, "--url", plain, "--frames", "20", "--fast"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        it.ALL_SENDERS.append(p)
        time.sleep(2)
        p.kill()
        p.wait()
        c = http.client.HTTPSConnection("127.0.0.1", d.port, context=ssl.create_default_context(cafile=cert),
                                        timeout=10)
        c.request("GET", "/api/v1/health")  # the certificate serves HTTPS too
        h = json.loads(c.getresponse().read())
        c.close()
        eq(h["ingest"]["received"], 0, "nothing received from the plain-TCP agent")
        eq(h["sessions"]["in_memory"], 0, "no session")
        eq(h["ingest"]["tls"], True, "health says the ingest is TLS")
        check(h["ingest"]["refused"]["tls_handshakes"] >= 1,
              f"the refused plain-TCP connections are counted: {h['ingest']['refused']}")
    finally:
        eq(d.stop(), 0, "exit code")


def https_get(d, cert, path):
    """GET over HTTPS, the daemon's certificate verified; (status, JSON)."""
    c = http.client.HTTPSConnection("127.0.0.1", d.port, context=ssl.create_default_context(cafile=cert), timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, json.loads(r.read())
    finally:
        c.close()


@test
def ingest_secret_admits_the_right_agent_over_tls_and_refuses_and_counts_the_others():
    """Issue 20.4: tls+tcp:// ingest with a shared secret in HELLO. The
    right agent's session is stored and served; a wrong secret, no secret
    and a plain-TCP agent are refused, nothing of theirs is stored, and
    each refusal is counted in /health. The secret never reaches the log."""
    cert, key = make_cert("secret")
    sec = token_file("ingest.secret", SECRET)
    d = Daemon("secret", extra=["--ingest", "tls+tcp://127.0.0.1:0", "--tls-cert", cert, "--tls-key", key,
                                "--ingest-secret-file", sec])
    try:
        right = d.send("--secret", SECRET, "--ca", cert, "--frames", 30, "--fast", "--app", "right", "--bye")
        wrong = "wrong-secret-0123456789"
        d.send("--secret", wrong, "--ca", cert, "--frames", 20, "--fast", "--app", "wrong", "--bye")
        d.send("--ca", cert, "--frames", 20, "--fast", "--app", "missing", "--bye")
        plain = d.spawn("--url", "tcp://" + d.ingest[len("tls+tcp://"):], "--frames", 20, "--fast", "--app", "plain",
                        stderr=subprocess.DEVNULL)  # the last --url wins
        apps = {"right": 30}
        if it.ARGS.agent_game:  # the real agent: FA_INSIGHT_SECRET_FILE and FA_INSIGHT_CA, no code change
            env = dict(os.environ, FA_INSIGHT_SECRET_FILE=sec, FA_INSIGHT_CA=cert)
            r = subprocess.run([it.ARGS.agent_game, d.ingest], capture_output=True, timeout=60, text=True, env=env)
            eq(r.returncode, 0, f"agent game: {r.stderr[-500:]}")
            m = re.search(r"app=(\S+) session=[0-9a-f]{16} sent=(\d+)", r.stdout)
            check(m and int(m.group(2)) > 100, f"the agent sent its frames: {r.stdout!r}")
            apps[m.group(1)] = int(m.group(2))

        def settled():
            h = https_get(d, cert, "/api/v1/health")[1]
            ref = h["ingest"]["refused"]
            return h["ingest"]["uncommitted"] == 0 and ref["unauthenticated_messages"] == 42 and \
                ref["tls_handshakes"] >= 1 and h
        h = wait_for(settled, 10, "the refusals counted and the frames committed")
        plain.kill()
        plain.wait()
        ref = h["ingest"]["refused"]
        eq((ref["secret_wrong"], ref["secret_missing"], ref["connections"]), (1, 1, 2),
           f"one HELLO with a wrong secret, one without, two connections refused: {ref}")
        eq(h["ingest"]["secret_required"], True, "health says a secret is required")
        c = http.client.HTTPSConnection("127.0.0.1", d.port, context=ssl.create_default_context(cafile=cert),
                                        timeout=10)
        c.request("GET", "/metrics")
        metrics = c.getresponse().read().decode()
        c.close()
        for line in ('fa_insightd_ingest_refused_messages_total{reason="secret_wrong"} 1',
                     'fa_insightd_ingest_refused_messages_total{reason="unauthenticated"} 42',
                     'fa_insightd_ingest_refused_connections_total{reason="secret"} 2'):
            check(line in metrics, f"/metrics has {line}")
        check(re.search(r'refused_connections_total\{reason="tls_handshake"\} [1-9]', metrics), "TLS in /metrics")
        st, sessions = https_get(d, cert, "/api/v1/sessions")
        eq(st, 200, "sessions over HTTPS")
        got = {s["app"]: s["frames"] for s in sessions["sessions"]}
        eq(got, apps, "only the agents with the secret are stored, every frame of theirs")
        check(re.search(r"[0-9a-f]{16}", right), f"sender output: {right!r}")
        log = d.log()
        check(SECRET not in log and wrong not in log, "no secret in the log")
        check("refused" in log and "ingest secret" in log, "the refusals are logged")
    finally:
        eq(d.stop(), 0, "exit code")


@test
def an_agent_refuses_a_daemon_whose_certificate_names_another_host():
    """The daemon's name is verified, not only its CA: a certificate (its own
    CA here) for other.invalid, dialled as 127.0.0.1, is refused. The test
    sender dials as fa-agent does (NNG_OPT_TLS_CA_FILE on the dialer)."""
    cert, key = make_cert("othername", cn="other.invalid", san="subjectAltName=DNS:other.invalid")
    d = Daemon("othername", extra=["--ingest", "tls+tcp://127.0.0.1:0", "--tls-cert", cert, "--tls-key", key])
    try:
        r = subprocess.run([it.ARGS.sender, "--url", d.ingest, "--ca", cert, "--frames", "3", "--fast"],
                           capture_output=True, timeout=30)
        eq(r.returncode, 1, f"the sender's dial fails: {r.stderr!r}")
        check(b"Cryptographic" in r.stderr or b"uthentication" in r.stderr, f"a TLS failure: {r.stderr!r}")
    finally:
        eq(d.stop(), 0, "exit code")


@test
def ingest_secret_file_must_be_private_and_long_enough():
    secret_file_must_be_private_and_long_enough("--ingest-secret-file", "secret", SECRET)


def main():
    it.TESTS[:] = TESTS
    return it.main()


if __name__ == "__main__":
    sys.exit(main())

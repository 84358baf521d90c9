"""A hostile (or simply foreign) HTTP server for fa-cli's tests.

mode "evil" proxies the real daemon and appends terminal escape sequences,
C1 controls and bidi overrides to every name it forwards (app, host, tag
paths, messages...); /ws is relayed byte for byte. The other modes answer
every request on their own:
  chunked   an endless chunked body          huge     Content-Length 10^11
  endless   an endless body without length   slow     each answer after 0.7 s
  drip      one byte of the body per 0.1 s   notfa    404 text/html, like any web server
mode "paged" proxies the real daemon unchanged but asks it for pages of one
alert (limit=1) and of four findings rows (limit=4: the live feeder adds
findings rows every second, and fa-cli follows at most 100 pages), so a
client must follow the cursors.
mode "sites" proxies the real daemon unchanged but answers
/api/v1/sessions/{id}/sites itself with the rows in `sites_rows` (the
route's shape, for the join of static findings with call sites).
"""
import http.server
import json
import socket
import threading
import time
import re
import urllib.error
import urllib.request

# OSC 0 (window title), CSI 2J (clear screen), U+202E (right-to-left
# override), U+009B (C1 CSI), OSC 8 (hyperlink), a BEL, and U+2066.
EVIL = "\x1b]0;pwned\x07\x1b[2J\u202eevil\u009b31m\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\\u2066"
EVIL_KEYS = {"app", "host", "label", "build_id", "path", "tag", "message", "name", "version", "advice", "fix", "file",
             "function"}


def poison(doc):
    if isinstance(doc, dict):
        return {k: (v + EVIL if k in EVIL_KEYS and isinstance(v, str) else poison(v)) for k, v in doc.items()}
    if isinstance(doc, list):
        return [poison(v) for v in doc]
    return doc


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        srv.requests += 1
        mode = srv.mode
        try:
            if mode == "sites" and re.match(r"^/api/v1/sessions/[^/?]+/sites(\?|$)", self.path):
                body = json.dumps({"sites": srv.sites_rows, "truncated": False}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if mode in ("evil", "paged", "sites"):
                return self.evil()
            if mode == "chunked":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"[" + b"1," * 32768
                while not srv.stopping:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            elif mode == "huge":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "100000000000")
                self.end_headers()
                while not srv.stopping:
                    self.wfile.write(b" " * 65536)
            elif mode == "endless":
                self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[")
                while not srv.stopping:
                    self.wfile.write(b"1," * 32768)
            elif mode == "slow":
                time.sleep(0.7)
                self.evil()
            elif mode == "drip":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                while not srv.stopping:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            elif mode == "bighead":  # an answer head past nng's 8 KiB read buffer
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Padding", "x" * 9000)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            elif mode == "notfa":
                body = b"<html><body><h1>404 Not Found</h1>nginx</body></html>"
                self.send_response(404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def evil(self):
        if self.path == "/ws":
            return self.relay()
        path = self.path
        if self.server.mode == "paged" and re.match(r"^/api/v1/(alerts|sessions/[^/]+/findings)\b", path):
            rows = "1" if path.startswith("/api/v1/alerts") else "4"
            path = re.sub(r"([?&])limit=\d+", r"\g<1>limit=" + rows, path)
        try:
            with urllib.request.urlopen(self.server.upstream + path, timeout=5) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            # ensure_ascii=False: C1 and bidi go out as raw UTF-8, C0 as \u escapes.
            body = raw if self.server.mode in ("paged", "sites") else json.dumps(poison(json.loads(raw)),
                                                                        ensure_ascii=False).encode()
        except ValueError:
            body = raw
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def relay(self):
        """The WebSocket stream, passed through untouched."""
        host, port = self.server.upstream[len("http://"):].split(":")
        up = socket.create_connection((host, int(port)))
        head = "GET /ws HTTP/1.1\r\n" + "".join("%s: %s\r\n" % kv for kv in self.headers.items()) + "\r\n"
        up.sendall(head.encode())
        down = self.connection

        def pump(a, b):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    b.sendall(d)
            except OSError:
                pass
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        t = threading.Thread(target=pump, args=(up, down), daemon=True)
        t.start()
        pump(down, up)
        t.join(2)
        up.close()
        self.close_connection = True


class HostileServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream):
        super().__init__(("127.0.0.1", 0), Handler)
        self.upstream = upstream
        self.mode = "evil"
        self.sites_rows = []
        self.requests = 0
        self.stopping = False
        self.url = "http://127.0.0.1:%d" % self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def handle_error(self, request, client_address):
        pass  # a client that gave up (the point of most modes) is no news

    def stop(self):
        self.stopping = True
        self.shutdown()
        self.server_close()

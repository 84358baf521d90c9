#!/usr/bin/env python3
"""Every command of README.md, as written, as a newcomer runs them (issue 14).

The script reads the README's ```sh blocks and its C program, and runs each
command with bash, exactly as written, in a clean prefix (HOME is a new
empty directory, so `make install PREFIX=$HOME/.local` installs there) and
in private namespaces: its own network (127.0.0.1:7878 and 7879 are free,
whatever runs on this machine) and its own /var/lib (so
`--db /var/lib/fa/insight.db` starts from nothing). The only thing added to
the environment is FA_DEMO_DIR, so that `make demo` keeps its database away
from the developer's build/demo/.

A command the script does not know fails the test: a new README command
needs a line here. `make test` is not run (this test is part of it).

usage: readme.py [--keep]
The last line is "N passed, N failed"; the exit status is 1 on any failure.
"""
import argparse
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

from harness import Checks, Tmux, wait_for

TREE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NOT_RUN = {"make test": "make test runs this test"}

# The game tree the README's fa-lint commands run in: a Makefile project
# against the installed framealloc, with one frame pointer kept in a global.
LINT_GAME = {
    "include/game.h": "#include <framealloc.h>\nvoid ai_update(fa_alloc_t *fa);\n"
                      "void physics_step(fa_alloc_t *fa);\nvoid render_batch(fa_alloc_t *fa);\n",
    "game.c": "#include \"game.h\"\nint main(void) {\n    fa_alloc_t *fa = fa_create(NULL);\n"
              "    for (int i = 0; i < 3; i++) {\n        fa_begin_frame(fa);\n        ai_update(fa);\n"
              "        physics_step(fa);\n        render_batch(fa);\n        fa_end_frame(fa);\n    }\n"
              "    fa_destroy(fa);\n    return 0;\n}\n",
    "ai.c": "#include \"game.h\"\nvoid ai_update(fa_alloc_t *fa) {\n    FA_TAG_SCOPE(fa, \"ai\");\n"
            "    int *scores = FA_FRAME_ARRAY(fa, int, 64);\n    if (scores) scores[0] = 1;\n}\n",
    "src/physics/step.c": "#include \"game.h\"\nvoid physics_step(fa_alloc_t *fa) {\n"
                          "    FA_TAG_SCOPE(fa, \"physics\");\n    float *contacts = FA_FRAME_ARRAY(fa, float, 256);\n"
                          "    if (contacts) contacts[0] = 0.0f;\n}\n",
    "src/render/batch.c": "#include \"game.h\"\nstatic float *last_batch;\n"
                          "void render_batch(fa_alloc_t *fa) {\n    FA_TAG_SCOPE(fa, \"render\");\n"
                          "    float *verts = FA_FRAME_ARRAY(fa, float, 1024);\n    last_batch = verts;\n}\n",
    "Makefile": "CFLAGS += -std=c11 -Wall -Iinclude $(shell pkg-config --cflags framealloc)\n"
                "LDLIBS += $(shell pkg-config --libs framealloc)\n"
                "game: game.o ai.o src/physics/step.o src/render/batch.o\n\t$(CC) -o $@ $^ $(LDLIBS)\n",
}


def readme_blocks():
    text = open(os.path.join(TREE, "README.md")).read()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.split("\n"):
            cmd = re.sub(r"\s+#.*$", "", line).strip()
            if cmd and not cmd.startswith("#"):
                commands.append(cmd)
    program = re.search(r"```c\n(#include <fa_agent.h>.*?)```", text, re.S)
    return commands, program.group(1) if program else None


class Run:
    def __init__(self, keep):
        self.tmp = tempfile.mkdtemp(prefix="fa-readme-")
        self.keep = keep
        self.home = os.path.join(self.tmp, "home")
        self.work = os.path.join(self.tmp, "work")  # where game.c, physics.csv, ./fa-insight.db go
        os.makedirs(self.home)
        os.makedirs(self.work)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS", "FA_"))}
        self.env.update(HOME=self.home, LANG="C.UTF-8", TERM="xterm", FA_DEMO_DIR=os.path.join(self.tmp, "demo"))
        self.done = set()
        self.pg = None  # the PostgreSQL server of "Running a fleet"
        self.checks = Checks()
        self.check = self.checks.check
        self.tmux = Tmux("fa-readme", self.env)
        self.screen = self.tmux.screen

    def bash(self, cmd, cwd=None, timeout=300):
        """Runs one README line with bash, as written; returns (code, out, err)."""
        p = subprocess.run(["bash", "-c", cmd], cwd=cwd or self.work, env=self.env, capture_output=True,
                           text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def export(self, cmd):
        """An `export` line changes the environment of the commands after it."""
        p = subprocess.run(["bash", "-c", cmd + " && env -0"], env=self.env, capture_output=True, timeout=10)
        assert p.returncode == 0, p.stderr
        self.env = dict(kv.split("=", 1) for kv in p.stdout.decode().split("\0") if "=" in kv)
        self.tmux.env = self.env  # new tmux sessions take the calling client's environment

    def cleanup(self):
        self.tmux.close()
        if self.pg:
            self.pg.stop()
        if self.keep:
            print("kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except Exception:
        return None, ""


def interactive(r, name, cmd, ready, cwd=None):
    """A command that runs until Ctrl-C (watch): in a tmux pane, then Ctrl-C; exit 0."""
    r.tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "40", "-c", cwd or r.work,
           "bash -c '%s; echo EXIT=$?; sleep 30'" % cmd.replace("'", "'\\''"))
    try:
        try:
            wait_for("%r to show %r" % (cmd, ready), lambda: ready in r.screen(name), 20)
        except AssertionError as e:
            raise AssertionError("%s; the screen:\n%s" % (e, r.screen(name).rstrip()))
        r.tmux("send-keys", "-t", name, "C-c")
        screen = wait_for("%r to end" % cmd, lambda: (lambda s: s if "EXIT=" in s else None)(r.screen(name)), 15)
        assert "EXIT=0" in screen, "%r did not exit 0:\n%s" % (cmd, screen)
    finally:
        r.tmux("kill-session", "-t", name)


def daemon(r, cmd, check):
    """A fa-insightd line: started as written, checked while it runs, stopped with Ctrl-C's SIGINT.
    Leading VAR=value words set its environment, as the shell would."""
    assignments = re.match(r"((?:[A-Z_]+=\S+\s+)*)(.*)", cmd)
    p = subprocess.Popen(["bash", "-c", "%sexec %s" % ("export " + assignments.group(1) + "; "
                                                        if assignments.group(1) else "", assignments.group(2))],
                         cwd=r.work, env=r.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert "ready" in line, "%r did not start: %r %s" % (cmd, line, p.stderr.read() if p.poll() is not None
                                                                     else "")
        check()
    finally:
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0, "%r exited %d: %s" % (cmd, p.returncode, err[-500:])
    return err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--in-namespace", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.in_namespace:
        # Private network and mounts; as root or not (--map-root-user).
        argv = ["unshare", "--user", "--map-root-user", "--mount", "--net", sys.executable,
                os.path.abspath(__file__), "--in-namespace"] + (["--keep"] if args.keep else [])
        return subprocess.call(argv)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    # "Running a fleet" names the daemon's host host1.lan: here it is this
    # namespace's loopback, in an /etc/hosts of our own.
    hosts = tempfile.NamedTemporaryFile("w", prefix="fa-readme-hosts-", delete=False)
    hosts.write(open("/etc/hosts").read() + "\n127.0.0.1 host1.lan\n")
    hosts.close()
    subprocess.run(["mount", "--bind", hosts.name, "/etc/hosts"], check=True)
    # A /var/lib of our own: the host's, under an overlay whose writes go to
    # a temporary directory (so /var/lib/fa is created here, not there).
    layer = tempfile.mkdtemp(prefix="fa-readme-varlib-")
    os.mkdir(os.path.join(layer, "upper"))
    os.mkdir(os.path.join(layer, "work"))
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", "lowerdir=/var/lib,upperdir=%s/upper,workdir=%s/work"
                    % (layer, layer), "/var/lib"], check=True)
    shutil.rmtree("/var/lib/fa", ignore_errors=True)  # hidden here only (a whiteout in the overlay)

    commands, program = readme_blocks()
    r = Run(args.keep)
    print("README: %d commands" % len(commands))
    known = {}

    def on(cmd):
        def deco(fn):
            known[cmd] = fn
            return fn
        return deco

    # --- Two commands ------------------------------------------------------
    @on("make demo")
    def make_demo(cmd):
        r.tmux("new-session", "-d", "-s", "demo", "-x", "200", "-y", "50", "-c", TREE,
               "bash -c '%s; echo EXIT=$?; sleep 60'" % cmd)
        wait_for("the demo banner", lambda: "Press Ctrl-C to stop" in r.screen("demo"), 180)
        wait_for("the demo's session", lambda: '"live":true' in http_get("http://127.0.0.1:7878/api/v1/sessions")[1],
                 20)
        banner = r.screen("demo")
        assert "build/fa-cli budgets --tag physics" in banner and "export PATH=" in banner, \
            "the banner does not say how to run fa-cli:\n%s" % banner

    def demo_stop():
        r.tmux("send-keys", "-t", "demo", "C-c")
        screen = wait_for("the demo to stop", lambda: (lambda s: s if "EXIT=" in s else None)(r.screen("demo")), 60)
        r.tmux("kill-session", "-t", "demo")
        assert "EXIT=0" in screen and "run-demo: stopped" in screen, screen

    @on("build/fa-cli budgets --tag physics")
    def cli_budgets(cmd):
        code, out, err = r.bash(cmd, cwd=TREE)
        assert code == 0 and "physics" in out, (code, out, err)

    @on("build/fa-cli watch")
    def cli_watch(cmd):
        interactive(r, "watch", cmd, "connected,", cwd=TREE)

    # --- Use it in your own game --------------------------------------------
    @on("make install PREFIX=$HOME/.local")
    def install(cmd):
        code, out, err = r.bash(cmd, cwd=TREE, timeout=600)
        assert code == 0, err[-2000:]
        for f in ("bin/fa-cli", "bin/fa-insightd", "lib/pkgconfig/fa-agent.pc", "share/framealloc/web/index.html"):
            assert os.path.exists(os.path.join(r.home, ".local", f)), "%s not installed" % f

    @on("export PATH=$HOME/.local/bin:$PATH PKG_CONFIG_PATH=$HOME/.local/lib/pkgconfig")
    def exports(cmd):
        r.export(cmd)
        assert shutil.which("fa-cli", path=r.env["PATH"]), "fa-cli is not on PATH after the README's export"

    @on("cc game.c -o game $(pkg-config --cflags --libs fa-agent)")
    def build_game(cmd):
        assert program, "no C program in the README"
        with open(os.path.join(r.work, "game.c"), "w") as f:
            f.write(program)
        code, out, err = r.bash(cmd)
        assert code == 0 and os.path.exists(os.path.join(r.work, "game")), err
        assert not err.strip(), "the README's program has warnings: %s" % err
        code, out, err = r.bash("cc -std=c11 -Wall -Wextra -Werror -c game.c -o /dev/null "
                                "$(pkg-config --cflags fa-agent)")
        assert code == 0, "the README's program under -std=c11 -Wall -Wextra -Werror: %s" % err

    # --- Running fa-insightd -------------------------------------------------
    @on("fa-insightd")
    def insightd_plain(cmd):
        def with_game():
            code, out, err = r.bash("./game", timeout=60)
            assert code == 0, err
            assert "my-game" in http_get("http://localhost:7878/api/v1/sessions")[1]
            code, out, err = r.bash("fa-cli alerts")
            assert code == 0 and "physics" in out, "fa-cli alerts does not list the physics alert: %s%s" % (out, err)
            status, page = http_get("http://localhost:7878/")
            assert status == 200 and "<html" in page.lower(), "the installed daemon serves no dashboard"
        daemon(r, cmd, with_game)
        assert os.path.exists(os.path.join(r.work, "fa-insight.db"))

    @on("fa-insightd --db /var/lib/fa/insight.db --retention 6h --log-level debug")
    def insightd_db(cmd):
        assert not os.path.exists("/var/lib/fa"), "/var/lib/fa exists before the command"
        daemon(r, cmd, lambda: None)
        assert os.path.isfile("/var/lib/fa/insight.db")

    @on("(umask 077; head -c 24 /dev/urandom | base64 > ~/.fa-token)")
    def make_token(cmd):
        code, out, err = r.bash(cmd)
        path = os.path.join(r.home, ".fa-token")
        assert code == 0 and os.path.getsize(path) >= 16, err
        assert os.stat(path).st_mode & 0o077 == 0, "the token file is readable by others"

    @on("fa-insightd --listen 0.0.0.0:7878 --allow-remote --token-file ~/.fa-token")
    def insightd_remote(cmd):
        def with_token():
            token = open(os.path.join(r.home, ".fa-token")).read().strip()
            try:
                urllib.request.urlopen("http://127.0.0.1:7878/api/v1/sessions", timeout=2)
                raise AssertionError("answered without the token")
            except urllib.error.HTTPError as e:
                assert e.code == 401, e.code
            req = urllib.request.Request("http://127.0.0.1:7878/api/v1/sessions",
                                         headers={"Authorization": "Bearer " + token})
            with urllib.request.urlopen(req, timeout=2) as resp:
                assert resp.status == 200
            code, out, err = r.bash("FA_INSIGHT_TOKEN=$(cat ~/.fa-token) fa-cli --server http://127.0.0.1:7878 sessions")
            assert code == 0, "fa-cli with $FA_INSIGHT_TOKEN: %s%s" % (out, err)
        err = daemon(r, cmd, with_token)
        assert "beyond loopback" in err, "no warning: %s" % err

    # --- Running a fleet ----------------------------------------------------
    # The README's PostgreSQL is Debian's system server, run by its postgres
    # user. Here: a throwaway server of its own in this namespace (its own
    # user namespace inside, since PostgreSQL refuses root), on 127.0.0.1:5432
    # with passwords for TCP (scram), its superuser named postgres, as on
    # Debian; `sudo -u postgres CMD` runs CMD as that superuser.
    fleet_cli = [c for c in commands if " fleet " in c and c.startswith("fa-cli")]

    def pg_server():
        if not r.pg:
            sys.path.insert(0, os.path.join(TREE, "tests", "insightd"))
            from pgserver import PgServer
            r.pg = PgServer(parent=r.tmp, user="postgres", listen="127.0.0.1", auth_host="scram-sha-256",
                            userns=True)
        return r.pg

    @on("sudo apt-get install -y postgresql-15")
    def pg_install(cmd):
        # Not run: this test has no network and leaves the machine's packages
        # alone; .ci/deps installs the package (make test needs it too).
        p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "postgresql-15"], capture_output=True, text=True)
        assert p.stdout == "install ok installed", "postgresql-15 is not installed: %r" % p.stdout
        print("--   %s: not run (no network here); the package is installed" % cmd)

    def as_postgres(check):
        def run(cmd):
            pg = pg_server()
            assert cmd.startswith("sudo -u postgres "), cmd
            env = dict(r.env, PGHOST=pg.dir, PGUSER="postgres")
            p = subprocess.run(["bash", "-c", cmd[len("sudo -u postgres "):]], cwd=r.work, env=env,
                               capture_output=True, text=True, timeout=60)
            assert p.returncode == 0, "%s: %s" % (cmd, p.stderr)
            check(pg)
        return run

    def role_fa(pg):
        rows = pg.psql("postgres", "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'fa'")
        assert rows == [["t"]], "no role fa that may log in: %r" % rows

    def db_fleet(pg):
        rows = pg.psql("postgres", "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'fa_fleet'")
        assert rows == [["fa"]], "no database fa_fleet owned by fa: %r" % rows

    known["sudo -u postgres psql -c \"CREATE ROLE fa LOGIN PASSWORD 'change-me'\""] = as_postgres(role_fa)
    known["sudo -u postgres createdb --owner fa fa_fleet"] = as_postgres(db_fleet)

    @on("PGPASSWORD=change-me fa-insightd --store postgresql://fa@localhost/fa_fleet")
    def fleet_daemon(cmd):
        def with_game():
            code, out, err = r.bash("./game", timeout=60)
            assert code == 0, err
            status, body = http_get("http://127.0.0.1:7878/api/v1/health")
            assert '"kind":"postgresql"' in body.replace(" ", "") and "change-me" not in body, body[:400]
            wait_for("the game's session in PostgreSQL", lambda: r.pg.psql(
                "fa_fleet", "SELECT count(*) FROM sessions WHERE app = 'my-game' AND frames > 0") == [["1"]], 10)
        err = daemon(r, cmd, with_game)
        assert "change-me" not in err, "the password is in the log"

    @on("PGPASSWORD=change-me fa-insightd --store postgresql://fa@localhost/fa_fleet --no-ingest "
        "--listen 127.0.0.1:7880")
    def fleet_api(cmd):
        def fleet():
            for line in fleet_cli:
                code, out, err = r.bash(line)
                assert code == 0 and "my-game" in out and "physics" in out and "WORST SESSION" in out, \
                    "exit %d: %s%s" % (code, out[-800:], err[-800:])
                r.done.add(line)
            status, body = http_get("http://127.0.0.1:7880/api/v1/sessions?app=my-game")
            assert '"app":"my-game"' in body.replace(" ", ""), body[:300]
        daemon(r, cmd, fleet)

    def fleet_not_run(cmd):
        raise AssertionError("not run: the fleet API daemon's line (which runs it) failed")

    for line in fleet_cli:  # run by fleet_api, with its daemon up (then skipped here)
        known[line] = fleet_not_run

    # Games on other machines: TLS ingest and the shared secret. host1.lan
    # is this namespace's loopback (main() adds it to a private /etc/hosts).
    tls_games = [c for c in commands if c.startswith("FA_INSIGHT_URL=tls+tcp://")]

    def stored_games():
        return int(r.pg.psql("fa_fleet", "SELECT count(*) FROM sessions WHERE app = 'my-game' AND frames > 0")[0][0])

    def tls_cert(cmd):
        code, out, err = r.bash(cmd)
        assert code == 0 and os.path.exists(os.path.join(r.work, "daemon.crt")), err

    def tls_secret(cmd):
        code, out, err = r.bash(cmd)
        path = os.path.join(r.work, "ingest.secret")
        assert code == 0 and os.stat(path).st_mode & 0o077 == 0, "not a private file: %s" % err
        assert len(open(path).read().strip()) >= 16, "a secret shorter than 16 characters"

    def tls_daemon(cmd):
        def games():
            before = stored_games()
            # A game without the secret is refused: nothing of it is stored.
            code, out, err = r.bash("FA_INSIGHT_URL=tls+tcp://host1.lan:7879 FA_INSIGHT_CA=daemon.crt ./game",
                                    timeout=60)
            assert code == 0, err
            for line in tls_games:
                code, out, err = r.bash(line, timeout=60)
                assert code == 0, err
                r.done.add(line)
            wait_for("the game's session over TLS", lambda: stored_games() == before + 1, 10)
            ctx = ssl.create_default_context(cafile=os.path.join(r.work, "daemon.crt"))
            ctx.check_hostname = False  # the certificate names host1.lan; the API's Host must be loopback
            with urllib.request.urlopen("https://127.0.0.1:7878/api/v1/health", timeout=5, context=ctx) as a:
                refused = json.loads(a.read())["ingest"]["refused"]
            assert refused["secret_missing"] >= 1 and refused["connections"] >= 1, refused
        err = daemon(r, cmd, games)
        assert open(os.path.join(r.work, "ingest.secret")).read().strip() not in err, "the secret is in the log"

    def tls_not_run(cmd):
        raise AssertionError("not run: the TLS daemon's line (which runs it) failed")

    for line in commands:
        if line.startswith("openssl req -x509"):
            known[line] = tls_cert
        elif line.startswith("(umask 077; openssl rand"):
            known[line] = tls_secret
        elif line.startswith("PGPASSWORD=") and "--ingest-secret-file" in line:
            known[line] = tls_daemon
        elif line in tls_games:
            known[line] = tls_not_run

    # --- fa-cli cookbook (against the demo) -----------------------------------
    def cli(expect=(0,), needles=()):
        def run(cmd):
            code, out, err = r.bash("set -o pipefail; " + cmd)
            assert code in expect, "exit %d: %s%s" % (code, out[-800:], err[-800:])
            for n in needles:
                assert n in out, "%r not in %s" % (n, out[-800:])
        return run

    known["fa-cli sessions"] = cli(needles=("fa-demo",))
    known["fa-cli tags --depth 2"] = cli(needles=("physics",))
    known["fa-cli budgets --tag physics"] = cli(needles=("physics",))
    known["fa-cli budgets --check"] = cli(expect=(0, 3))
    known["fa-cli trend --tag assets/streaming --window 15m"] = cli(needles=("assets/streaming",))
    known["fa-cli sites --tag physics"] = cli(needles=("FILE:LINE", "physics/", ".c:"))
    known["fa-cli alerts --since 10m --active"] = cli()
    known["fa-cli findings"] = cli()
    known["fa-cli frames --last 20"] = cli(needles=("FRAME",))
    known["fa-cli watch --tag physics"] = lambda cmd: interactive(r, "watch-physics", cmd, "connected,")
    known["fa-cli --json sessions | jq ."] = cli(needles=('"sessions"',))

    @on("fa-cli export --format csv --tag physics > physics.csv")
    def export_csv(cmd):
        cli()(cmd)
        head = open(os.path.join(r.work, "physics.csv")).readline()
        assert head.startswith("t_ms,min,avg,max"), head

    # --- Compare runs and gate CI on memory (the game built above) -----------
    @on("FA_INSIGHT_URL=file:run.facap ./game")
    def capture(cmd):
        code, out, err = r.bash(cmd, timeout=120)
        assert code == 0, err
        with open(os.path.join(r.work, "run.facap"), "rb") as f:
            assert f.read(4) == b"FACF", "not a capture file"
        # The other run compare reads: main's, here the same program's.
        shutil.copy(os.path.join(r.work, "run.facap"), os.path.join(r.work, "main.facap"))

    @on("fa-cli baseline save memory-baseline.json --capture run.facap")
    def baseline_save(cmd):
        cli()(cmd)
        doc = json.load(open(os.path.join(r.work, "memory-baseline.json")))
        assert doc["app"] == "my-game" and any(row["tag"] == "physics" for row in doc["rows"]), doc

    @on("fa-cli baseline check memory-baseline.json --capture run.facap --junit memory.xml")
    def baseline_check(cmd):
        cli(needles=("0 regressions",))(cmd)
        assert "<testsuites" in open(os.path.join(r.work, "memory.xml")).read()

    @on("fa-cli compare main.facap run.facap --format markdown > memory.md")
    def compare_md(cmd):
        cli()(cmd)
        assert open(os.path.join(r.work, "memory.md")).read().startswith("### framealloc memory: no regression")

    @on("fa-cli export --format trace --capture run.facap > run.trace.json")
    def export_trace(cmd):
        cli()(cmd)
        doc = json.load(open(os.path.join(r.work, "run.trace.json")))
        assert any(e["ph"] == "C" and e["name"] == "physics" for e in doc["traceEvents"]), "no physics track"

    # --- fa-lint (in a small game tree with one deliberate mistake) ----------
    lint_tree = os.path.join(r.work, "mygame")

    def lint_fixture():
        if os.path.exists(lint_tree):
            return
        for path, text in LINT_GAME.items():
            full = os.path.join(lint_tree, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)

    def lint(expect, needles=(), creates=None):
        def run(cmd):
            lint_fixture()
            code, out, err = r.bash(cmd, cwd=lint_tree)
            assert code == expect, "exit %d, expected %d: %s%s" % (code, expect, out[-800:], err[-800:])
            for n in needles:
                assert n in out + err, "%r not in %s%s" % (n, out[-800:], err[-800:])
            if creates:
                assert os.path.isfile(os.path.join(lint_tree, creates)), "%s not written" % creates
        return run

    known["bear -- make"] = lint(0, creates="compile_commands.json")
    known["fa-lint --all"] = lint(1, needles=("src/render/batch.c:6:", "FA601", "1 finding"))
    known["fa-lint --lifetime --threading src/physics"] = lint(0, needles=("0 findings",))
    known["fa-lint game.c ai.c -- -Iinclude $(pkg-config --cflags framealloc)"] = lint(0, needles=("2 units",))
    known["fa-lint show src/render/batch.c"] = lint(1, needles=("last_batch = verts;", "FA601"))
    known["fa-lint explain FA601"] = lint(0, needles=("How to fix it",))
    known["fa-lint init"] = lint(0, creates=".fa.toml")
    # The dashboard recipe: the report goes to the demo's daemon (up while
    # these run), then to a daemon that reads it from a file.
    known["fa-lint --all --format sarif -o fa-lint.sarif"] = lint(1, creates="fa-lint.sarif")

    @on("curl -sT fa-lint.sarif http://127.0.0.1:7878/api/v1/lint")
    def lint_put(cmd):
        lint_fixture()
        code, out, err = r.bash(cmd, cwd=lint_tree)
        assert code == 0, err
        doc = json.loads(out)
        assert doc["report"]["tool"] == "fa-lint" and doc["report"]["results"] == 1, out[:800]

    known["fa-cli findings --kind static"] = cli(needles=("Static findings: 1 from fa-lint", "src/render/batch.c",
                                                           "FA601"))

    @on("fa-insightd --lint-report fa-lint.sarif")
    def insightd_lint(cmd):
        def reads_the_file():
            # It starts before the file exists here; CI writes it later.
            shutil.copy(os.path.join(lint_tree, "fa-lint.sarif"), os.path.join(r.work, "fa-lint.sarif"))
            last = {}

            def read():
                last["answer"] = http_get("http://127.0.0.1:7878/api/v1/lint")
                doc = json.loads(last["answer"][1] or "{}")
                return doc if doc.get("findings") else None
            try:
                doc = wait_for("the report read from the file", read, 20)
            except AssertionError as e:
                raise AssertionError("%s; the last answer: %r" % (e, last.get("answer")))
            assert doc["report"]["source"] == "file" and doc["findings"][0]["rule"] == "FA601", doc
        daemon(r, cmd, reads_the_file)

    def run(cmd):
        if cmd in NOT_RUN:
            print("--   %s: not run (%s)" % (cmd, NOT_RUN[cmd]))
            r.done.add(cmd)
            return
        fn = known.get(cmd)
        if not fn:
            r.check(cmd, lambda: (_ for _ in ()).throw(AssertionError("a README command this test does not know")))
            return
        if cmd in r.done:  # run already, by the handler of the daemon it needs
            return
        r.done.add(cmd)
        r.check(cmd, lambda: fn(cmd))

    # The README's order, except that the cookbook runs while the demo is up
    # (it is written against it) and the daemon lines after the demo stopped
    # (they take the same ports).
    daemons = [c for c in commands if c.startswith(("fa-insightd", "PGPASSWORD="))]
    order = [c for c in commands if c not in daemons and c not in fleet_cli + tls_games] + daemons + fleet_cli + \
        tls_games
    demo_up = False
    try:
        for cmd in order:
            if cmd in daemons and demo_up:
                r.check("make demo: Ctrl-C stops it cleanly", demo_stop)
                demo_up = False
            run(cmd)
            if cmd == "make demo":
                demo_up = True
        if demo_up:
            r.check("make demo: Ctrl-C stops it cleanly", demo_stop)
    finally:
        r.cleanup()
        subprocess.run(["umount", "/var/lib"])
        subprocess.run(["umount", "/etc/hosts"])
        os.unlink(hosts.name)
        shutil.rmtree(layer, ignore_errors=True)
    return r.checks.summary()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""pgserver.py -- a throwaway PostgreSQL server for the tests.

initdb into a temporary directory, a unix socket in that directory (no TCP
port: nothing else on the machine can reach it, and servers of several test
runs never collide), trust authentication for the user "fa", durability
off (fsync, synchronous_commit: a test server loses nothing it needs). The
directory is removed when the server stops. As root, the server runs as
the "postgres" user (PostgreSQL refuses to run as root).

As a module:   with PgServer() as pg: pg.uri("postgres"), pg.create_db(), pg.psql(db, sql)
As a wrapper:  python3 tests/insightd/pgserver.py [--durable] -- CMD ARGS...
               runs CMD with FA_TEST_PG set to the server's admin URI and
               exits with CMD's status (the Criterion store tests use it).
               --durable keeps PostgreSQL's defaults (fsync, synchronous
               commits, full page writes): the benchmark's server.
"""
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time


def pg_bindir():
    """Debian's PostgreSQL binaries (15 preferred), or $FA_PG_BIN."""
    if os.environ.get("FA_PG_BIN"):
        return os.environ["FA_PG_BIN"]
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: (not d.startswith("/usr/lib/postgresql/15/"), d))
    for d in dirs:
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    raise RuntimeError("PostgreSQL server binaries not found (Debian: apt-get install postgresql-15; "
                       "or set FA_PG_BIN to the directory holding initdb and pg_ctl)")


class PgServer:
    def __init__(self, parent=None, settings=None, user="fa", listen=None, auth_host="trust", userns=False):
        """user: the superuser's name. listen: an address for TCP on port
        5432 as well (None: the unix socket only). auth_host: pg_hba's
        method for TCP. userns: run the server in a user namespace of its
        own mapping the caller to uid 1000 (for a caller that is root inside
        a namespace where no other user exists, as the README test is)."""
        self.USER = user
        self.bin = pg_bindir()
        self.dir = tempfile.mkdtemp(prefix="fa-pg-", dir=parent or "/tmp")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.counter = 0
        self._as = None
        self._prefix = ["unshare", "--user", "--map-user=1000", "--map-group=1000", "--"] if userns else []
        if os.geteuid() == 0 and not userns:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                pw = pwd.getpwnam("nobody")
            self._as = (pw.pw_uid, pw.pw_gid)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chmod(self.dir, 0o755)
        self._run([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", self.USER, "-A", "trust",
                   f"--auth-host={auth_host}", "-E", "UTF8", "--no-sync", "--no-instructions"])
        opts = {"listen_addresses": f"'{listen or ''}'", "unix_socket_directories": f"'{self.dir}'", "fsync": "off",
                "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200",
                "shared_buffers": "64MB"}
        opts.update(settings or {})
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            for k, v in opts.items():
                f.write(f"{k} = {v}\n")
        self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log, "-w", "-t", "60", "start"])

    def _run(self, cmd):
        def drop():
            if self._as:
                os.setgid(self._as[1])
                os.setgroups([])
                os.setuid(self._as[0])
        r = subprocess.run(self._prefix + cmd, capture_output=True, text=True, preexec_fn=drop if self._as else None,
                           timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"{os.path.basename(cmd[0])} failed ({r.returncode}): {r.stdout[-800:]}{r.stderr[-800:]}")
        return r.stdout

    def uri(self, db="postgres", user=None):
        return f"postgresql://{user or self.USER}@/{db}?host={self.dir}"

    def psql(self, db, sql):
        """Runs sql in db; the rows as lists of strings."""
        r = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-h", self.dir,
                            "-U", self.USER, "-d", db, "-c", sql], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"psql {db}: {sql[:200]}: {r.stderr.strip()}")
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def psql_background(self, db, sql):
        """sql in db by a psql that runs on while the caller goes on."""
        return subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.dir, "-U", self.USER, "-d",
                                 db, "-c", sql], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def refuse_writer(self, db, refuse):
        """Makes db refuse fa-insightd's writer (its connection cut, no new
        ones), or accept it again."""
        self.psql("postgres", f"ALTER DATABASE {db} ALLOW_CONNECTIONS {'false' if refuse else 'true'}")
        if refuse:
            self.psql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                  f" WHERE datname = '{db}' AND application_name = 'fa-insightd'")

    def create_db(self, prefix="fa"):
        self.counter += 1
        name = f"{prefix}_{os.getpid()}_{self.counter}"
        self.psql("postgres", f"CREATE DATABASE {name}")
        return name

    def stop(self):
        if os.path.isdir(self.data):
            try:
                self._run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"])
            except RuntimeError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def main(argv):
    if "--" not in argv:
        sys.stderr.write(__doc__)
        return 2
    cmd = argv[argv.index("--") + 1:]
    durable = "--durable" in argv[:argv.index("--")]
    t0 = time.time()
    settings = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"} if durable else None
    with PgServer(settings=settings) as pg:
        print(f"pgserver: PostgreSQL at {pg.dir} ({time.time() - t0:.1f}s to start)", flush=True)
        env = dict(os.environ, FA_TEST_PG=pg.uri("postgres"))
        return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

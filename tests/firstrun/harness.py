"""What the first-run tests share: named checks with a summary line, waiting
for a condition, free ports, a private tmux server."""
import socket
import subprocess
import sys
import time


class Checks:
    """Runs named checks; a failed assertion or an exception fails one."""

    def __init__(self):
        self.passed = self.failed = 0
        self.t0 = time.time()

    def check(self, name, fn):
        try:
            fn()
        except Exception as e:
            self.failed += 1
            why = "" if isinstance(e, AssertionError) else type(e).__name__ + ": "
            print("FAIL %s: %s%s" % (name, why, e))
        else:
            self.passed += 1
            print("ok   %s" % name)
        sys.stdout.flush()

    def summary(self):
        """Prints the runner's last lines; returns the exit status."""
        print("runtime %.1f s" % (time.time() - self.t0))
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def wait_for(what, fn, timeout, every=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(every)
    raise AssertionError("timed out waiting for %s" % what)


def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Tmux:
    """A tmux server of our own (-L), kept up by an idle session."""

    def __init__(self, name, env=None):
        self.sock = "%s-%d" % (name, id(self))
        self.env = env
        self("new-session", "-d", "-s", "keeper", "sleep 900")

    def __call__(self, *argv):
        return subprocess.run(["tmux", "-L", self.sock] + list(argv), capture_output=True, text=True, env=self.env)

    def screen(self, name):
        return self("capture-pane", "-p", "-J", "-S", "-200", "-t", name).stdout

    def close(self):
        self("kill-server")

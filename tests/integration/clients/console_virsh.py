#!/usr/bin/python3
"""Integration test of `virsh console` (DOMAIN_OPEN_CONSOLE and libvirt's
stream protocol) against a real virtarrowd, QEMU and the single-task
kernel, with stock virsh on a pty: the application's output appears, typed
input reaches it, Ctrl-] detaches and a second attach works, an attach while
one is open is refused as libvirt refuses it, --force takes the console
over and ends the first session, and the Arrow's exit ends the session. The
daemon and every QEMU are stopped even when a check fails."""

import os
import pty
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
from arrowtest import Failures, domain_xml, wait_for, write_temp  # noqa: E402
from daemon import Daemon  # noqa: E402

TIMEOUT = 60


class Console:
    """virsh console NAME on its own pty."""

    def __init__(self, uri, name, *extra):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvp("virsh", ["virsh", "-c", uri, "console", *extra, name])
        self.out = b""
        self.status = None

    def read_until(self, needle, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while needle not in self.out and time.monotonic() < deadline and self.status is None:
            r, _, _ = select.select([self.fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    chunk = b""
                if not chunk:
                    self.wait(5)
                self.out += chunk
        return needle in self.out

    def type(self, data):
        os.write(self.fd, data)

    def wait(self, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while self.status is None and time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
            else:
                try:  # keep the pty drained so virsh never blocks
                    if select.select([self.fd], [], [], 0.1)[0]:
                        self.out += os.read(self.fd, 65536)
                except OSError:
                    time.sleep(0.1)
        return self.status

    def close(self):
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            self.wait(10)
        os.close(self.fd)


def settle(console):
    """Waits until virsh has its terminal raw: it prints its banner first,
    and keys typed before the switch are flushed away by it."""
    console.read_until(b"(Ctrl + ])")
    time.sleep(1.0)


def virsh(d, *args):
    return subprocess.run(["virsh", "-c", d.uri, *args], capture_output=True, text=True, timeout=TIMEOUT)


def main():
    t = Failures()
    d = Daemon().start()
    consoles = []
    try:
        checks(t, d, consoles)
    finally:
        for c in consoles:
            c.close()
        d.stop()
    t.finish()


def checks(t, d, consoles):
    xml = write_temp(domain_xml("con", "/bin/sh", args=["-c", "echo booted-ok; exec /bin/sh -i"], memory_mib=64),
                     dir=d.root)
    t.equal(virsh(d, "create", xml).returncode, 0, "a transient Arrow running an interactive shell starts")

    first = Console(d.uri, "con")
    consoles.append(first)
    t.check(first.read_until(b"booted-ok"), "output produced before the attach arrives on it")
    first.type(b"echo sum=$((40+2))\r")
    t.check(first.read_until(b"sum=42"), "typed input reaches the application and its output comes back")

    busy = subprocess.run(["script", "-qec", f"virsh -c '{d.uri}' console con", "/dev/null"],
                          capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    t.check(busy.returncode != 0 and "Active console session exists for this domain" in busy.stdout + busy.stderr,
            "a second attach without --force is refused as libvirt refuses it")

    first.type(b"\x1d")
    t.equal(first.wait(), 0, "Ctrl-] detaches; virsh exits 0")
    t.equal(virsh(d, "domstate", "con").stdout.strip(), "running", "the Arrow runs on after the detach")

    second = Console(d.uri, "con")
    consoles.append(second)
    settle(second)
    second.type(b"echo again-$((1+1))\r")
    t.check(second.read_until(b"again-2"), "reattaching works")

    third = Console(d.uri, "con", "--force")
    consoles.append(third)
    t.check(second.wait() not in (None, 0) or b"taken over" in second.out,
            "--force ends the first session with an error")
    settle(third)
    third.type(b"echo forced-$((2+3))\r")
    t.check(third.read_until(b"forced-5"), "--force takes the console over")

    third.type(b"exit 0\r")
    t.check(third.wait() is not None, "the application's exit ends the console session")
    wait_for(lambda: virsh(d, "domstate", "con").returncode != 0, TIMEOUT, "the transient Arrow to go")
    r = virsh(d, "console", "con")
    t.check(r.returncode != 0, "no console for an Arrow that is gone")


if __name__ == "__main__":
    main()

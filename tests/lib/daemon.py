"""A private virtarrowd for one integration test: started on a temporary
--root, reached through arrow+unix URIs on its own sockets, and stopped with
every QEMU it started, even when the test fails or is interrupted."""

import atexit
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILDDIR = os.environ.get("ARROW_BUILDDIR", os.getcwd())
DAEMON = os.path.join(BUILDDIR, "driver", "daemon", "virtarrowd")


def wait_for(predicate, timeout, what, interval=0.2):
    """The first true value of predicate(), polled until timeout seconds pass;
    AssertionError naming `what` after that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Daemon:
    """virtarrowd on ROOT/virtarrowd-sock (rw) and ROOT/virtarrowd-sock-ro.

    Contract: after start(), stop() is registered with atexit and SIGTERM, so
    the daemon and any QEMU left under ROOT die with the test; stop() is
    idempotent. The root is removed unless ARROW_KEEP_TEST_ROOT is set."""

    def __init__(self, prefix="arrow-test-"):
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.socket = os.path.join(self.root, "virtarrowd-sock")
        self.socket_ro = self.socket + "-ro"
        self.uri = f"arrow+unix:///system?socket={self.socket}"
        self.uri_ro = f"arrow+unix:///system?socket={self.socket_ro}"
        self.log_path = os.path.join(self.root, "daemon.log")
        self.proc = None
        self._stopped = False

    def start(self, timeout=15):
        atexit.register(self.stop)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # runs atexit
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([DAEMON, "--root", self.root, "--verbose"],
                                         stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.socket) or self.proc.poll() is not None,
                 timeout, "virtarrowd's socket")
        if self.proc.poll() is not None:
            raise AssertionError(f"virtarrowd exited with {self.proc.returncode}:\n{self.log_tail()}")
        return self

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def _qemu_pids(self):
        """QEMUs of this root: from their pid files, and any process whose
        command line names the root (a pid file may not be written yet)."""
        pids = set()
        for pidfile in glob.glob(os.path.join(self.root, "run", "*", "qemu.pid")):
            try:
                with open(pidfile) as f:
                    pids.add(int(f.read().strip()))
            except (OSError, ValueError):
                pass
        for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
            try:
                with open(cmdline, "rb") as f:
                    argv = f.read()
            except OSError:
                continue
            if b"qemu" in argv and self.root.encode() + b"/" in argv:
                pids.add(int(cmdline.split("/")[2]))
        pids.discard(os.getpid())
        return pids

    def stop(self):
        if self._stopped:
            return
        self._stopped = True
        leftover = self._qemu_pids()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in leftover | self._qemu_pids():  # whatever the daemon left running
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if os.environ.get("ARROW_KEEP_TEST_ROOT"):
            print(f"# kept {self.root}")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

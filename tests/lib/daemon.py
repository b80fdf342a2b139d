"""The one private virtarrowd of the integration tests and benchmarks.

Daemon starts virtarrowd (or virtarrowd-fake, or either under a wrapper such
as `valgrind` or `ip netns exec NS`) on a private --root, waits for its
socket, and stop() ends it with SIGTERM and kills every
QEMU it left — found by pid file and by command line, so a QEMU that has not
written its pid file yet is caught too — even when the test fails or is
interrupted (atexit and SIGTERM). Service is the same for any other private
daemon of a test (libvirtd, dbus-daemon): start, wait for its socket, stop."""

import atexit
import glob
import os
import signal
import socket
import subprocess
import sys
import tempfile

from arrowtest import DAEMON, read_text, remove_tree, wait_for


def _stop_on_sigterm():
    """A test killed by the harness's timeout (SIGTERM) still runs its atexit
    cleanups."""
    try:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    except ValueError:  # not the main thread: the main thread's handler stands
        pass


def _accepts(path):
    """Whether the unix socket PATH accepts a connection (a socket file left
    by a killed daemon does not)."""
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


class Service:
    """A private daemon: ARGV started with its output in LOG_PATH, ready once
    SOCKET exists (accepts connections, when a stale one was there), stopped with SIGTERM (SIGKILL after
    STOP_TIMEOUT seconds). start() may be called again after the process
    ended (a restart; the log is appended to)."""

    stop_timeout = 10

    def __init__(self, argv, socket_path, log_path, env=None, what=None):
        self.argv = list(argv)
        self.socket = socket_path
        self.log_path = log_path
        self.env = env
        self.what = what or os.path.basename(self.argv[0])
        self.proc = None
        self._registered = False

    def start(self, timeout=15):
        if not self._registered:
            _stop_on_sigterm()
            atexit.register(self.stop)
            self._registered = True
        # A socket file left by a killed daemon (a restart) is ready once it
        # accepts again; a new one once it exists (no probe connection: the
        # daemon sees only the test's own clients).
        if os.path.exists(self.socket):
            ready = lambda: _accepts(self.socket)  # noqa: E731
        else:
            ready = lambda: os.path.exists(self.socket)  # noqa: E731
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        wait_for(lambda: self.proc.poll() is not None or ready(), timeout, f"{self.what}'s socket", interval=0.05)
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.what} exited with {self.proc.returncode}:\n{self.log_tail()}")
        return self

    def log_text(self):
        return read_text(self.log_path)

    def log_tail(self, lines=40):
        return "".join(self.log_text().splitlines(True)[-lines:])

    def terminate(self):
        """SIGTERM, SIGKILL after stop_timeout seconds; the exit status."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def stop(self):
        """Ends the daemon; returns its log. Idempotent."""
        self.terminate()
        return self.log_text()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def qemu_processes(root):
    """{guest name: [pids]} of the QEMUs that a daemon on ROOT started: their
    stderr is the Arrow's log under ROOT/log (QEMU's command line names no
    path of the daemon's: every socket and the log come as fds)."""
    out = {}
    for proc in glob.glob("/proc/[0-9]*"):
        try:
            with open(os.path.join(proc, "cmdline"), "rb") as f:
                argv = f.read().split(b"\0")
            stderr = os.readlink(os.path.join(proc, "fd", "2"))
        except OSError:
            continue
        if not argv[0].endswith(b"qemu-system-x86_64") or not stderr.startswith(os.path.join(root, "log") + "/"):
            continue
        for a in argv:
            if a.startswith(b"guest="):
                out.setdefault(a[6:].split(b",")[0].decode(), []).append(int(os.path.basename(proc)))
    return out


def run_checks(checks, body, **daemon_args):
    """The main of a test that collects CHECKS (arrowtest.Failures): a
    Daemon(**DAEMON_ARGS) started, BODY(daemon) run (an exception is one
    failed check), the daemon's log tail printed when anything failed, the
    daemon stopped; exits with the checks' status."""
    d = Daemon(**daemon_args).start()
    try:
        body(d)
    except Exception as e:
        checks.check(False, f"unexpected {type(e).__name__}: {e}")
    if checks.failed:
        print("# daemon log (tail):\n" + d.log_tail())
    d.stop()
    checks.finish()


class Daemon(Service):
    """virtarrowd on ROOT/virtarrowd-sock (rw) and ROOT/virtarrowd-sock-ro.

    prefix: of the temporary ROOT made when ROOT is not given; a given ROOT
    is made if missing and left in place. program: virtarrowd unless given
    (FAKE_DAEMON: the real server over the in-memory fake driver). args:
    after `--root ROOT`. wrapper: argv that runs the daemon (valgrind...).
    env: variables to set (None removes one). bus: a D-Bus address the
    daemon uses as its system and session bus.

    After start(), stop() is registered with atexit and SIGTERM, so the
    daemon and any QEMU left under ROOT die with the test. stop() removes a
    temporary ROOT unless ARROW_KEEP_TEST_ROOT is set; conn, a libvirt
    connection opened on first use, is closed by it."""

    def __init__(self, prefix="arrow-test-", root=None, program=DAEMON, args=("--verbose",), wrapper=(),
                 env=None, bus=None):
        self.own_root = root is None
        self.root = tempfile.mkdtemp(prefix=prefix) if root is None else root
        os.makedirs(self.root, exist_ok=True)
        self.bus = bus
        self.env_overrides = dict(env or {})
        super().__init__([*wrapper, program, "--root", self.root, *args],
                         os.path.join(self.root, "virtarrowd-sock"), os.path.join(self.root, "daemon.log"),
                         what=os.path.basename(program))
        self.socket_ro = self.socket + "-ro"
        self.uri = f"arrow+unix:///system?socket={self.socket}"
        self.uri_ro = f"arrow+unix:///system?socket={self.socket_ro}"
        self._conn = None
        self._stopped = False

    def start(self, timeout=15):
        """Starts the daemon (again, after it ended: a restart on the same
        root) with the environment of this moment plus ENV and BUS; conn
        is opened anew."""
        self._stopped = False
        self._close_conn()
        self.env = dict(os.environ)
        if self.bus is not None:
            self.env.pop("VIRTARROWD_DBUS", None)
            self.env.update(DBUS_SYSTEM_BUS_ADDRESS=self.bus, DBUS_SESSION_BUS_ADDRESS=self.bus)
        for key, value in self.env_overrides.items():
            if value is None:
                self.env.pop(key, None)
            else:
                self.env[key] = value
        return super().start(timeout)

    @property
    def conn(self):
        """A libvirt connection to the daemon, opened on first use."""
        if self._conn is None:
            import libvirt
            libvirt.registerErrorHandler(lambda ctx, err: None, None)  # tests assert errors, not print them
            self._conn = libvirt.open(self.uri)
        return self._conn

    def _close_conn(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # the daemon may be gone
                pass
            self._conn = None

    def qemu_pid(self, name):
        """The pid in run/NAME/qemu.pid, None when there is none (yet)."""
        try:
            with open(os.path.join(self.root, "run", name, "qemu.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def qemu_pids(self):
        """QEMUs of this root: from their pid files, and any QEMU whose log
        is under the root (a pid file may not be written yet)."""
        pids = {self.qemu_pid(os.path.basename(os.path.dirname(pidfile)))
                for pidfile in glob.glob(os.path.join(self.root, "run", "*", "qemu.pid"))}
        for found in qemu_processes(self.root).values():
            pids.update(found)
        pids.discard(None)
        pids.discard(os.getpid())
        return pids

    def app_log(self, name):
        """The Arrow NAME's log (console output and the daemon's lines about it)."""
        return read_text(os.path.join(self.root, "log", f"{name}.log"))

    def stop(self):
        """Ends the daemon with SIGTERM and kills whatever QEMU it left;
        returns its log. Idempotent."""
        if self._stopped:
            return self.log_text()
        self._stopped = True
        self._close_conn()
        leftover = self.qemu_pids()
        self.terminate()
        for pid in leftover | self.qemu_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        log = self.log_text()
        if self.own_root:
            remove_tree(self.root)
        return log

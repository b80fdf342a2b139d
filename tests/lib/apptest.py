"""The application matrix (issue 7): each application runs as an Arrow from
the host's own Debian package and is checked from the host with its own
client. One CASES entry per application; tests/integration/apps/<name>.py runs one case
(`apptest.main("redis")`) and bench/apps.py runs them all beside the same
application started natively on the host.

Each case measures boot-to-ready (from virDomainCreateXML until the client's
first success) and the QEMU process's PSS; with ARROW_APPS_RESULTS set, a
JSON line per case is appended to that file."""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from xml.sax.saxutils import escape, quoteattr

BUILDDIR = os.environ.get("ARROW_BUILDDIR", os.getcwd())
SRCDIR = os.environ.get("ARROW_SRCDIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DAEMON = os.path.join(BUILDDIR, "driver", "daemon", "virtarrowd")
SKIP = 77  # automake's "skipped" status
READY_TIMEOUT = 150  # seconds; Node and etcd under TCG on a loaded 2-core host are slow

# A test killed by a timeout still runs its cleanups (daemon, QEMU, temp files).
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(msg):
    print(f"# {msg}", flush=True)


def skip(reason):
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


def need_programs(*paths):
    """Skips the case (exit 77) naming the Debian package when a program is missing."""
    for path, package in paths:
        if not os.access(path, os.X_OK):
            skip(f"{path} is not installed (Debian package {package}; scripts/install-deps installs it)")


# ---- domain XML ----

def domain_xml(name, init, args=(), env=None, shares=(), forwards=(), memory_mib=128, initdir=None):
    """shares: dicts with source, target and one of readonly=True,
    transient=True (ShadowFS, tmpfs upper) or upper=HOSTDIR (ShadowFS,
    persistent upper); forwards: (host_port, guest_port)."""
    out = ["<domain type='arrow'>", f"  <name>{escape(name)}</name>",
           f"  <memory unit='MiB'>{memory_mib}</memory>", "  <vcpu>1</vcpu>", "  <os>",
           "    <type arch='x86_64' machine='microvm'>exe</type>", f"    <init>{escape(init)}</init>"]
    out += [f"    <initarg>{escape(a)}</initarg>" for a in args]
    out += [f"    <initenv name={quoteattr(k)}>{escape(v)}</initenv>" for k, v in (env or {}).items()]
    if initdir:
        out.append(f"    <initdir>{escape(initdir)}</initdir>")
    out += ["  </os>", "  <devices>"]
    for s in shares:
        out += ["    <filesystem type='mount' accessmode='passthrough'>",
                f"      <source dir={quoteattr(s['source'])}/>", f"      <target dir={quoteattr(s['target'])}/>"]
        if s.get("readonly"):
            out.append("      <readonly/>")
        if s.get("transient"):
            out.append("      <transient/>")
        if s.get("upper"):
            out.append(f"      <upper dir={quoteattr(s['upper'])}/>")
        out.append("    </filesystem>")
    if forwards:
        out.append("    <interface type='user'>")
        for host, guest in forwards:
            out += ["      <portForward proto='tcp' address='127.0.0.1'>",
                    f"        <range start='{host}' to='{guest}'/>", "      </portForward>"]
        out.append("    </interface>")
    out += ["    <console type='pty'/>", "  </devices>", "</domain>", ""]
    return "\n".join(out)


# ---- a private virtarrowd ----

class Daemon:
    """virtarrowd on a private --root, with a libvirt-python connection.
    close() stops it and kills any QEMU it left, whatever happened."""

    def __init__(self):
        import libvirt
        libvirt.registerErrorHandler(lambda ctx, err: None, None)
        self.root = tempfile.mkdtemp(prefix="arrow-apps-")
        self.log = open(os.path.join(self.root, "daemon.log"), "wb")
        self.proc = subprocess.Popen([DAEMON, "--root", self.root], stdout=self.log, stderr=subprocess.STDOUT)
        sock = os.path.join(self.root, "virtarrowd-sock")
        wait_for(lambda: os.path.exists(sock), 15, "virtarrowd's socket")
        self.uri = f"arrow+unix:///system?socket={sock}"
        self.conn = libvirt.open(self.uri)

    def qemu_pid(self, name):
        try:
            with open(os.path.join(self.root, "run", name, "qemu.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def app_log(self, name):
        for path in glob.glob(os.path.join(self.root, "log", f"{name}.log")) + \
                glob.glob(os.path.join(self.root, "**", f"{name}.log"), recursive=True):
            try:
                with open(path, errors="replace") as f:
                    return f.read()
            except OSError:
                pass
        return ""

    def close(self):
        pids = []
        for pidfile in glob.glob(os.path.join(self.root, "run", "*", "qemu.pid")):
            try:
                with open(pidfile) as f:
                    pids.append(int(f.read().strip()))
            except (OSError, ValueError):
                pass
        try:
            self.conn.close()
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception as e:  # the client failing while the guest boots
            value, last = None, e
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}" + (f" (last: {last})" if last else ""))


def run_client(argv, timeout=30, input=None):
    """Runs a host client; returns (status, stdout+stderr)."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired:
        return 124, f"{argv[0]}: timed out after {timeout} s"
    return r.returncode, r.stdout + r.stderr


def pss_kib(pids):
    """Sum of the processes' proportional set size (smaps_rollup), KiB."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def process_tree(pid):
    """pid and its descendants (a native nginx's workers, etcd's helpers)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for path in glob.glob(f"/proc/{p}/task/*/children"):
            try:
                with open(path) as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                pass
    return out


def read_text(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def record(result):
    path = os.environ.get("ARROW_APPS_RESULTS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(result) + "\n")


# ---- the cases ----

from apps_cases import CASES  # noqa: E402  (tests/lib/apps_cases.py, beside this file)


class Checks:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print(f"ok - {what}", flush=True)
        else:
            self.failed += 1
            print(f"not ok - {what}" + (f"\n#   {detail.strip()[-2000:]}" if detail else ""), flush=True)
        return cond


def run_arrow(case, checks, daemon=None):
    """Starts the case as an Arrow, waits until the host's client gets an
    answer, runs the case's checks; returns the measurement."""
    own = daemon is None
    daemon = daemon or Daemon()
    work = tempfile.mkdtemp(prefix=f"arrow-{case.name}-")
    try:
        port = free_port()
        spec = case.arrow(work, port)
        name = f"app-{case.name}"
        xml = domain_xml(name, forwards=[(port, spec.pop("guest_port"))], **spec)
        t0 = time.monotonic()
        dom = daemon.conn.createXML(xml, 0)
        try:
            wait_for(lambda: case.ready(port), READY_TIMEOUT, f"{case.name} to answer on port {port}")
        except AssertionError as e:
            checks.check(False, f"{case.name}: the Arrow answers its client", f"{e}\n{daemon.app_log(name)}")
            return None
        ready = time.monotonic() - t0
        checks.check(True, f"{case.name}: the Arrow answers its client after {ready:.1f} s")
        time.sleep(1)  # let the first request's allocations settle before measuring
        pid = daemon.qemu_pid(name)
        pss = pss_kib([pid])
        accel = "kvm" if "-accel\0kvm" in read_text(f"/proc/{pid}/cmdline") else "tcg"
        case.check(port, work, checks)
        try:
            dom.destroy()
        except Exception:
            pass
        return {"app": case.name, "mode": "arrow", "ready_s": round(ready, 2), "pss_kib": pss, "accel": accel}
    finally:
        if own:
            daemon.close()
        shutil.rmtree(work, ignore_errors=True)


def run_native(case):
    """The same application started directly on the host, for bench/apps.py."""
    work = tempfile.mkdtemp(prefix=f"native-{case.name}-")
    os.chmod(work, 0o755)  # nginx's workers run as nobody
    port = free_port()
    argv = case.native(work, port)
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work,
                            start_new_session=True)
    try:
        wait_for(lambda: case.ready(port), READY_TIMEOUT, f"native {case.name}")
        ready = time.monotonic() - t0
        time.sleep(1)
        pss = pss_kib(process_tree(proc.pid))
        return {"app": case.name, "mode": "native", "ready_s": round(ready, 2), "pss_kib": pss}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def main(name):
    case = CASES[name]
    need_programs(*case.needs)
    checks = Checks()
    result = run_arrow(case, checks)
    if result:
        log(f"{name}: ready in {result['ready_s']} s, QEMU PSS {result['pss_kib'] / 1024:.1f} MiB")
        record(result)
    print(f"# {checks.passed} passed, {checks.failed} failed")
    sys.exit(1 if checks.failed or not result else 0)

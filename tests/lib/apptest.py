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

from arrowtest import Failures, domain_xml, free_port, read_text, skip, wait_for
from daemon import Daemon

READY_TIMEOUT = 150  # seconds; Node and etcd under TCG on a loaded 2-core host are slow


def log(msg):
    print(f"# {msg}", flush=True)


def need_programs(*paths):
    """Skips the case (exit 77) naming the Debian package when a program is missing."""
    for path, package in paths:
        if not os.access(path, os.X_OK):
            skip(f"{path} is not installed (Debian package {package}; scripts/install-deps installs it)")


def wait_ready(predicate, what, timeout=READY_TIMEOUT):
    """wait_for with a guest's boot in it: an application's client failing
    (an exception) counts as not ready yet. Polled every 20 ms, so that the
    harness adds little to the ready time it measures."""
    return wait_for(predicate, timeout, what, retry=(Exception,), interval=0.02)


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


def record(result):
    path = os.environ.get("ARROW_APPS_RESULTS")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(result) + "\n")


# ---- the cases ----

from apps_cases import CASES  # noqa: E402  (tests/lib/apps_cases.py, beside this file)


def run_arrow(case, checks, daemon=None, events=None):
    """Starts the case as an Arrow, waits until the host's client gets an
    answer, runs the case's checks; returns the measurement. With EVENTS (a
    virsh_events.VirshEvents on the daemon), the phases too: QEMU running
    (virDomainCreateXML returned), the application started (STARTED/BOOTED,
    ainit's APP_STARTED), the first answer; and QEMU's memory by mapping."""
    own = daemon is None
    daemon = daemon or Daemon(prefix="arrow-apps-", args=()).start()
    work = tempfile.mkdtemp(prefix=f"arrow-{case.name}-")
    try:
        port = free_port()
        spec = case.arrow(work, port)
        name = f"app-{case.name}"
        xml = domain_xml(name, forwards=[(port, spec.pop("guest_port"))], **spec)
        t0 = time.monotonic()
        dom = daemon.conn.createXML(xml, 0)
        t_qemu = time.monotonic() - t0
        try:
            wait_ready(lambda: case.ready(port), f"{case.name} to answer on port {port}")
        except AssertionError as e:
            checks.check(False, f"{case.name}: the Arrow answers its client", f"{e}\n{daemon.app_log(name)}")
            return None
        ready = time.monotonic() - t0
        checks.check(True, f"{case.name}: the Arrow answers its client after {ready:.1f} s")
        time.sleep(1)  # let the first request's allocations settle before measuring
        pid = daemon.qemu_pid(name)
        pss = pss_kib([pid])
        accel = "kvm" if "-accel\0kvm" in read_text(f"/proc/{pid}/cmdline") else "tcg"
        phases = {"qemu_s": round(t_qemu, 2)}
        if events:
            started = [t for line, t in events.of(name) if "Started" in line]
            if started:
                phases["started_s"] = round(started[0] - t0, 2)
        try:
            import memory_breakdown  # bench/, when the benchmark runs this
            parts, _, _ = memory_breakdown.breakdown(pid)
            phases["parts_mib"] = {p: round(v[0] / 1024, 1) for p, v in parts.items()}
        except ImportError:
            pass
        case.check(port, work, checks)
        try:
            dom.destroy()
        except Exception:
            pass
        return {"app": case.name, "mode": "arrow", "ready_s": round(ready, 2), "pss_kib": pss, "accel": accel,
                **phases}
    finally:
        if own:
            daemon.stop()
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
        wait_ready(lambda: case.ready(port), f"native {case.name}")
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
    checks = Failures()
    result = run_arrow(case, checks)
    if result:
        log(f"{name}: ready in {result['ready_s']} s, QEMU PSS {result['pss_kib'] / 1024:.1f} MiB")
        record(result)
    sys.exit(checks.summary() or (0 if result else 1))

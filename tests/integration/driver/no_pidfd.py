#!/usr/bin/python3
"""virtarrowd on a kernel without pidfds (Linux before 5.3), simulated with
tests/lib/no_pidfd.py (a seccomp filter: pidfd_open and pidfd_send_signal
fail with ENOSYS for the daemon and everything it starts). Real QEMU and
kernel, stock libvirt-python.

- destroy of a QEMU the daemon started, frozen with SIGSTOP so that neither
  QMP quit nor SIGTERM can end it: the escalation reaches SIGKILL (kill()
  on the unreaped child);
- after kill -9 of virtarrowd, a restart adopts the running QEMUs (same
  pids) although no pidfd can be opened;
- an adopted QEMU killed from the host is noticed (the pid is polled with
  its start time) and reported shut off;
- destroy of an adopted QEMU frozen with SIGSTOP escalates to SIGKILL;
- nothing is left under run/."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import libvirt  # noqa: E402

from arrowtest import Failures, ticking_xml, wait_for  # noqa: E402
from daemon import Daemon  # noqa: E402
from virsh_events import VirshEvents  # noqa: E402

libvirt.registerErrorHandler(lambda ctx, err: None, None)
PYTHON = "/usr/bin/python3"
NO_PIDFD = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib", "no_pidfd.py")
BOOT = 120  # seconds: three guests under TCG on a shared 2-core host
# The driver's destroy: QMP quit, SIGTERM 1 s later, SIGKILL 1 s after that
# (arrow_launcher.cc). A SIGSTOPped QEMU ends only at the SIGKILL.
ESCALATION = 2


def running(pid):
    """Whether PID is a live process (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


def seccomp_mode(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    return 0


def frozen_destroy(t, conn, d, name, what):
    """SIGSTOPs NAME's QEMU, destroys NAME, checks the escalation ended it."""
    pid = d.qemu_pid(name)
    os.kill(pid, signal.SIGSTOP)
    dom = conn.lookupByName(name)
    start = time.monotonic()
    dom.destroy()
    wait_for(lambda: not running(pid), 30, f"{name}'s frozen QEMU to be killed")
    wait_for(lambda: dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF, 30, f"{name} shut off")
    took = time.monotonic() - start
    t.check(ESCALATION - 0.5 <= took < ESCALATION + 15,
            f"{what}: destroy of a frozen QEMU escalated to SIGKILL in {took:.1f} s")
    t.equal(dom.state()[1], libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED, f"{what}: shut off (destroyed)")


def main():
    t = Failures()
    d = Daemon("arrow-nopidfd-", wrapper=[PYTHON, NO_PIDFD]).start()
    t.equal(seccomp_mode(d.proc.pid), 2, "the daemon runs under the no-pidfd filter")
    conn = libvirt.open(d.uri)
    events = VirshEvents(d.uri)
    names = ["child", "adopted", "victim"]
    for n in names:
        conn.defineXML(ticking_xml(n)).create()
    for n in names:
        events.wait(n, "Started Booted", BOOT)
    events.stop()
    t.equal(seccomp_mode(d.qemu_pid("child")), 2, "QEMU inherits the filter (seccomp filter mode)")

    frozen_destroy(t, conn, d, "child", "a QEMU this daemon started")

    pids = {n: d.qemu_pid(n) for n in ("adopted", "victim")}
    conn.close()
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.start(timeout=30)
    conn = libvirt.open(d.uri)
    for n, pid in pids.items():
        dom = conn.lookupByName(n)
        t.check(dom.isActive() and running(pid), f"{n}: adopted without a pidfd (QEMU pid {pid})")
    log = d.log_tail(100)
    t.check("is gone" not in log and "cannot reconnect" not in log, "no adoption failed")

    os.kill(pids["victim"], signal.SIGKILL)
    victim = conn.lookupByName("victim")
    start = time.monotonic()
    wait_for(lambda: victim.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF, 10, "the killed QEMU to be noticed")
    noticed = time.monotonic() - start
    t.check(noticed < 5, f"an adopted QEMU killed from the host is noticed in {noticed:.1f} s (polled every 0.25 s)")

    frozen_destroy(t, conn, d, "adopted", "an adopted QEMU")

    wait_for(lambda: os.listdir(os.path.join(d.root, "run")) == [], 10, "run/ to be empty")
    t.check(True, "nothing left under run/")
    conn.close()
    d.stop()
    t.finish()


if __name__ == "__main__":
    if os.uname().machine != "x86_64":
        print("SKIP: tests/lib/no_pidfd.py filters x86_64 system calls")
        sys.exit(77)
    main()

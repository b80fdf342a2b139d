#!/usr/bin/python3
"""A daemon restart loses nothing (issue 5, items 1 and 2).

Real QEMU and kernel, a private virtarrowd, stock virsh and libvirt-python.
Ten Arrows run (eight persistent, one of them named with the oddest name
<name> allows, two transient, one of them paused, one marked autostart)
next to two victims. virtarrowd is killed with SIGKILL,
the victims' QEMUs are killed while no daemon runs, and virtarrowd starts
again on the same --root. Checked: the ten run on with the same ids, states
and QEMU pids; the victims are reported shut off (the transient one is gone)
and their sockets, pid files and status files are removed; one QEMU per
Arrow; the console still reaches the log; a fresh `virsh event` watcher sees
a destroy and a guest shutdown (over the re-opened Anotify channel). Then a
SIGTERM restart: the same again, and the autostart Arrow is not started a
second time; once it is shut off, a restart autostarts it. Finally every
Arrow is destroyed and nothing is left under run/."""

import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import libvirt  # noqa: E402

from arrowtest import Failures, ticking_xml, wait_for  # noqa: E402
from daemon import Daemon, qemu_processes  # noqa: E402
from virsh_events import VirshEvents  # noqa: E402

libvirt.registerErrorHandler(lambda ctx, err: None, None)
BOOT = 180  # seconds: a dozen guests booting at once under TCG on 2 cores
# The oddest name <name> allows (domain-xml/README.md): a leading digit, every
# punctuation allowed, "..", ".tmp" and ".xml" (not as "tmp-" or a suffix).
ODD = "9_.-+@..tmp.xml-.xmlx"


def qemus(root):
    """{guest name: [pids]} of the QEMUs of the daemon on ROOT."""
    return qemu_processes(root)


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def log_ticks(d, name):
    return len(re.findall(r"tick \d+", d.app_log(name)))


def snapshot(conn):
    """{name: (id, state, reason)} of the active Arrows."""
    return {dom.name(): (dom.ID(), *dom.state()) for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)}


def run_dir_ok(t, d, names, what):
    run = os.path.join(d.root, "run")
    t.equal(sorted(os.listdir(run)), sorted([n for n in names] + [n + ".xml" for n in names]), f"{what}: run/ holds exactly the running Arrows")
    for n in names:
        t.equal(sorted(os.listdir(os.path.join(run, n))), ["anotify.sock", "console.sock", "exec.sock", "monitor.sock", "qemu.pid",
                                                            "serial.sock", "stdout.sock"],
                f"{what}: run/{n}/ holds its six sockets and pid file")
    by_name = qemus(d.root)
    t.equal({n: len(p) for n, p in by_name.items()}, {n: 1 for n in names}, f"{what}: one QEMU per running Arrow")


def main():
    t = Failures()
    d = Daemon("arrow-restart-").start()
    conn = libvirt.open(d.uri)
    names = ["p0", "p1", "p2", "p3", "p4", "p5", ODD, "p7", "t0", "t1"]
    events = VirshEvents(d.uri)
    for n in names[:8] + ["gone-p"]:
        conn.defineXML(ticking_xml(n)).create()
    for n in ["t0", "t1", "gone-t"]:
        conn.createXML(ticking_xml(n), 0)
    conn.lookupByName("p0").setAutostart(1)
    for n in names + ["gone-p", "gone-t"]:
        events.wait(n, "Started Booted", BOOT)
    conn.lookupByName("p7").suspend()
    before = snapshot(conn)
    pids = {n: p[0] for n, p in qemus(d.root).items()}
    t.equal(len(before), 12, "12 Arrows running before the crash")
    events.stop()
    conn.close()

    # kill -9: nothing of the daemon's can take QEMU down with it.
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    time.sleep(1)
    t.check(all(alive(p) for p in pids.values()), "every QEMU survives kill -9 of virtarrowd")
    for victim in ["gone-p", "gone-t"]:
        os.kill(pids[victim], signal.SIGKILL)
    wait_for(lambda: not alive(pids["gone-p"]) and not alive(pids["gone-t"]), 10, "the victims' end")
    ticks = log_ticks(d, "p1")

    d.start(timeout=30)  # the same root; its socket file may be stale
    conn = libvirt.open(d.uri)
    after = snapshot(conn)
    expected = {n: before[n] for n in names}
    t.equal(after, expected, "after kill -9 and restart: the 10 Arrows, same ids, states and reasons")
    t.equal({n: p[0] for n, p in qemus(d.root).items()}, {n: pids[n] for n in names}, "the same QEMUs, adopted")
    t.equal(conn.lookupByName("gone-p").state()[0], libvirt.VIR_DOMAIN_SHUTOFF,
            "an Arrow whose QEMU died while no daemon ran is shut off")
    try:
        conn.lookupByName("gone-t")
        t.check(False, "a transient Arrow that died while no daemon ran is gone")
    except libvirt.libvirtError as e:
        t.equal(e.get_error_code(), libvirt.VIR_ERR_NO_DOMAIN, "a transient Arrow that died while no daemon ran is gone")
    run_dir_ok(t, d, names, "after kill -9")
    t.check(os.path.isfile(os.path.join(d.root, "config", ODD + ".xml")) and conn.lookupByName(ODD).isPersistent()
            and qemus(d.root).get(ODD) == [pids[ODD]], f"'{ODD}': its config kept and its QEMU adopted")
    t.check("stopped while virtarrowd was not running" in d.log_tail(200), "the daemon's log says why gone-p stopped")
    info = subprocess.run(["virsh", "-c", d.uri, "dominfo", "p2"], capture_output=True, text=True).stdout
    t.check(re.search(rf"^Id:\s+{before['p2'][0]}$", info, re.M) and re.search(r"^State:\s+running$", info, re.M),
            "virsh dominfo shows the old id and running")
    state = subprocess.run(["virsh", "-c", d.uri, "domstate", "--reason", "p7"], capture_output=True, text=True).stdout
    t.check("paused (user)" in state, f"virsh domstate --reason p7: paused (user): {state.strip()}")
    wait_for(lambda: log_ticks(d, "p1") > ticks + 2, 30, "console output after the restart")
    t.check(True, "the console reaches the log again after the restart")

    dom = conn.createXML(ticking_xml("fresh"), 0)
    t.check(dom.ID() > max(i for i, _, _ in after.values()), f"a new Arrow gets a fresh id ({dom.ID()})")

    events = VirshEvents(d.uri)
    conn.lookupByName("p3").destroy()
    events.wait("p3", "Stopped Destroyed")
    t.check(True, "destroy of an adopted Arrow: a fresh watcher sees Stopped Destroyed")
    conn.lookupByName("p4").shutdown()
    events.wait("p4", "Stopped Shutdown", 60)
    t.check(True, "shutdown over the re-opened Anotify channel: Stopped Shutdown")
    events.wait("fresh", "Started Booted", BOOT)
    events.stop()
    conn.close()
    names = [n for n in names if n not in ("p3", "p4")] + ["fresh"]

    # SIGTERM: a clean stop detaches; autostart does not start p0 again.
    before = snapshot(libvirt.open(d.uri))
    pids = {n: p[0] for n, p in qemus(d.root).items()}
    d.proc.terminate()
    d.proc.wait(20)
    t.check(all(alive(p) for p in pids.values()), "every QEMU survives SIGTERM of virtarrowd")
    d.start(timeout=30)  # the same root; its socket file may be stale
    conn = libvirt.open(d.uri)
    t.equal(snapshot(conn), before, "after SIGTERM and restart: same Arrows, ids and states")
    t.equal({n: p[0] for n, p in qemus(d.root).items()}, pids, "the autostart Arrow was adopted, not started again")
    run_dir_ok(t, d, names, "after SIGTERM")

    # Autostart proper: p0 shut off, then a restart starts it.
    conn.lookupByName("p0").destroy()
    conn.close()
    d.proc.terminate()
    d.proc.wait(20)
    d.start(timeout=30)  # the same root; its socket file may be stale
    conn = libvirt.open(d.uri)
    p0 = conn.lookupByName("p0")
    wait_for(lambda: p0.isActive(), 60, "p0 autostarted")
    # virDomainGetID answers from the handle, which predates the start: look up again.
    p0_id = conn.lookupByName("p0").ID()
    t.check(p0_id > before["fresh"][0], f"the autostart Arrow starts when the daemon starts (id {p0_id})")

    for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
        dom.destroy()
    wait_for(lambda: not qemus(d.root), 30, "every QEMU gone")
    t.equal(os.listdir(os.path.join(d.root, "run")), [], "nothing left under run/ after destroying everything")
    conn.close()
    d.stop()
    t.finish()


if __name__ == "__main__":
    main()

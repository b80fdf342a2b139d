"""Event latency benchmark: guest application exit -> libvirt lifecycle event
at a libvirt-python client, median of several runs, beside peers measured in
the same run.

Method. The guest cannot timestamp against the host clock, so the start
point is host-visible: the application writes a marker line to the guest's
serial port (/dev/ttyS0) and exits at once. QEMU itself appends serial
output to the Arrow's log (-serial chardev:log), so the marker's appearance
in the log file (polled every 0.2 ms) is the host time of the exit, with no
help from virtarrowd. The end points are the client's callbacks for
SHUTDOWN/FINISHED (sent when Anotify APP_EXITED arrives) and STOPPED/SHUTDOWN
(sent once QEMU has exited and been reaped).

Peers, same run: `virDomainDestroy` -> STOPPED/DESTROYED at the same client
(the same event path, started by the host), and a host process that prints
the marker and exits -> waitpid() in its parent (the floor for "a process
ended, someone is told").

Run from the build tree: ./run /usr/bin/python3 ../bench/event_latency.py [RUNS]"""

import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "lib"))
import libvirt  # noqa: E402

from arrowtest import wait_for  # noqa: E402
from daemon import Daemon  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
MARK = "ARROW-EXIT-MARK"
XML = ("<domain type='arrow'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
       "<os><type arch='x86_64' machine='microvm'>exe</type><init>/usr/bin/sh</init>"
       "<initarg>-c</initarg><initarg>{script}</initarg></os></domain>")

libvirt.virEventRegisterDefaultImpl()
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()


class Events:
    def __init__(self, conn):
        self.seen = []  # (name, event, detail, monotonic time)
        conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on, None)

    def _on(self, conn, dom, event, detail, opaque):
        self.seen.append((dom.name(), event, detail, time.monotonic()))

    def wait(self, name, event, detail, timeout=60):
        def found():
            return next((t for n, e, d, t in self.seen if (n, e, d) == (name, event, detail)), None)
        return wait_for(found, timeout, f"event {event}/{detail} for {name}", interval=0.01)


def marker_time(log_path, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(log_path, "rb") as f:
                if b"\n" + MARK.encode() in f.read():  # a line of its own: not QEMU's command line
                    return time.monotonic()
        except FileNotFoundError:
            pass
        time.sleep(0.0002)
    raise SystemExit("the guest's marker never reached the log")


def guest_exit(conn, events, root, i):
    name = f"lat{i}"
    script = f"echo {MARK} > /dev/ttyS0; exit 0"
    conn.createXML(XML.format(name=name, script=script), 0)
    mark = marker_time(os.path.join(root, "log", f"{name}.log"))
    finished = events.wait(name, libvirt.VIR_DOMAIN_EVENT_SHUTDOWN, libvirt.VIR_DOMAIN_EVENT_SHUTDOWN_GUEST)
    stopped = events.wait(name, libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN)
    return (finished - mark) * 1000, (stopped - mark) * 1000


def destroy(conn, events, i):
    name = f"dst{i}"
    dom = conn.createXML(XML.format(name=name, script="exec sleep 1000"), 0)
    events.wait(name, libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
    t0 = time.monotonic()
    dom.destroy()
    return (events.wait(name, libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED) - t0) * 1000


def host_process():
    p = subprocess.Popen(["/bin/sh", "-c", f"echo {MARK}; exit 0"], stdout=subprocess.PIPE)
    p.stdout.readline()
    t0 = time.monotonic()
    p.wait()
    p.stdout.close()
    return (time.monotonic() - t0) * 1000


def main():
    daemon = Daemon(prefix="arrow-bench-", env={"VIRTARROWD_DBUS": "none"}).start()
    try:
        conn = daemon.conn
        events = Events(conn)
        guest = [guest_exit(conn, events, daemon.root, i) for i in range(RUNS)]
        destroyed = [destroy(conn, events, i) for i in range(RUNS)]
        native = [host_process() for _ in range(RUNS)]
    finally:
        daemon.stop()
    med = statistics.median
    print(__doc__.split("\n\n")[1])
    print(f"\nmedian of {RUNS} runs (ms):")
    print(f"  guest exit (marker on ttyS0) -> SHUTDOWN/FINISHED at the client: {med(g[0] for g in guest):8.1f}")
    print(f"  guest exit (marker on ttyS0) -> STOPPED/SHUTDOWN at the client:  {med(g[1] for g in guest):8.1f}")
    print(f"  peer: virDomainDestroy -> STOPPED/DESTROYED at the client:        {med(destroyed):8.1f}")
    print(f"  peer: host process exit -> waitpid() in its parent:              {med(native):8.3f}")
    print(f"  ratio guest exit -> STOPPED / destroy -> STOPPED: "
          f"{med(g[1] for g in guest) / med(destroyed):.2f}")


if __name__ == "__main__":
    main()

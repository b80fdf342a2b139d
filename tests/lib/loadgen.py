"""Load on virtarrowd (issue 5, item 8): CLIENTS libvirt-python clients, each
on its own connection in its own thread (libvirt-python releases the GIL
during a call), run list / dominfo / define / undefine for a bounded time
while two Arrows start and are destroyed in a loop, against a real
virtarrowd on a private --root with real QEMU.

Asserted: no deadlock (every call answers within CALL_TIMEOUT, every client
ends), no unexpected error (only "no domain" for another client's Arrow that
went away between list and lookup), the cycling Arrows really cycled, and
once the clients disconnected and the Arrows stopped, the daemon's open fds
(/proc/PID/fd) are back to the baseline and its VmRSS within RSS_SLACK_KIB
of it. The baseline is taken after a warm-up (one start/destroy of each
Arrow, one round of every call), so one-time allocations (GLib's type
system, libxml2's parser, caches) are in it. The RSS slack is there because
freed heap is not always given back to the kernel (glibc keeps freed
chunks for reuse; measured growth after warm-up: under 2 MiB); a leak per
call would grow RSS without bound, which is what the valgrind run of
bench/load.py checks exactly.

Shared by tests/integration/driver/load.py (the short run in make check)
and bench/load.py (the long run, and one under valgrind)."""

import os
import threading
import time

import libvirt

from daemon import Daemon

CLIENTS = 50
CALL_TIMEOUT = 30.0    # seconds a single call may take before it counts as a deadlock
RSS_SLACK_KIB = 8192
FD_SLACK = 0
libvirt.registerErrorHandler(lambda ctx, err: None, None)


def arrow_xml(name, init="/usr/bin/sleep", args=("600",)):
    initargs = "".join(f"<initarg>{a}</initarg>" for a in args)
    return (f"<domain type='arrow'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            f"<os><type arch='x86_64' machine='microvm'>exe</type><init>{init}</init>{initargs}</os>"
            f"<devices></devices></domain>")


def daemon_usage(pid):
    """(open fds, VmRSS in KiB) of PID."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/status") as f:
        rss = int(f.read().split("VmRSS:")[1].split()[0])
    return fds, rss


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = {}
        self.errors = []
        self.slowest = 0.0
        self.inflight = {}  # client -> (call, start time)

    def timed(self, client, what, fn, *args):
        start = time.monotonic()
        with self.lock:
            self.inflight[client] = (what, start)
        try:
            return fn(*args)
        finally:
            took = time.monotonic() - start
            with self.lock:
                self.inflight.pop(client, None)
                self.calls[what] = self.calls.get(what, 0) + 1
                self.slowest = max(self.slowest, took)

    def error(self, text):
        with self.lock:
            self.errors.append(text)

    def stuck(self, now):
        with self.lock:
            return [(c, w, now - t) for c, (w, t) in self.inflight.items() if now - t > CALL_TIMEOUT]


def client(uri, index, deadline, stats):
    conn = libvirt.open(uri)
    mine = f"load-{index}"
    try:
        n = 0
        while time.monotonic() < deadline:
            doms = stats.timed(index, "list", conn.listAllDomains)
            for dom in doms[:4]:
                try:
                    stats.timed(index, "dominfo", dom.info)
                except libvirt.libvirtError as e:
                    # Another client's Arrow may be undefined between list and info.
                    if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN or dom.name() == mine:
                        stats.error(f"client {index}: info({dom.name()}): {e}")
            dom = stats.timed(index, "define", conn.defineXML, arrow_xml(f"{mine}-{n % 2}"))
            stats.timed(index, "undefine", dom.undefine)
            n += 1
    except libvirt.libvirtError as e:
        stats.error(f"client {index}: {e}")
    finally:
        conn.close()


def cycler(uri, names, deadline, stats, counts):
    """Starts and destroys NAMES in turn until DEADLINE."""
    conn = libvirt.open(uri)
    try:
        while time.monotonic() < deadline:
            for name in names:
                dom = conn.lookupByName(name)
                stats.timed("cycler", "start", dom.create)
                stats.timed("cycler", "destroy", dom.destroy)
                counts[name] = counts.get(name, 0) + 1
    except libvirt.libvirtError as e:
        stats.error(f"cycler: {e}")
    finally:
        conn.close()


def settle(pid, baseline_fds, timeout=15):
    """Usage once the fd count is back to the baseline (or after TIMEOUT)."""
    deadline = time.monotonic() + timeout
    while True:
        usage = daemon_usage(pid)
        if usage[0] <= baseline_fds + FD_SLACK or time.monotonic() >= deadline:
            return usage
        time.sleep(0.25)


def run_load(daemon, seconds, clients=CLIENTS, log=print):
    """Runs the load on DAEMON (started) for SECONDS; returns a result dict."""
    pid = daemon.proc.pid
    conn = libvirt.open(daemon.uri)
    names = ["cycle-a", "cycle-b"]
    for name in names:
        conn.defineXML(arrow_xml(name))
    warm = Stats()
    cycler(daemon.uri, names, time.monotonic() + 0.001, warm, {})  # one start/destroy each
    client(daemon.uri, 999, time.monotonic() + 0.001, warm)
    time.sleep(1)
    base = settle(pid, daemon_usage(pid)[0])
    log(f"# baseline: {base[0]} fds, VmRSS {base[1]} KiB")

    stats, counts = Stats(), {}
    deadline = time.monotonic() + seconds
    threads = [threading.Thread(target=cycler, args=(daemon.uri, names, deadline, stats, counts), daemon=True)]
    threads += [threading.Thread(target=client, args=(daemon.uri, i, deadline, stats), daemon=True)
                for i in range(clients)]
    began = time.monotonic()
    for t in threads:
        t.start()
    peak = base
    stuck = []
    while any(t.is_alive() for t in threads):
        now = time.monotonic()
        stuck = stats.stuck(now)
        if stuck or now > deadline + CALL_TIMEOUT * 2:
            break
        peak = max(peak, daemon_usage(pid), key=lambda u: u[1])
        time.sleep(0.5)
    elapsed = time.monotonic() - began
    alive = [t.name for t in threads if t.is_alive()]
    for name in names:
        dom = conn.lookupByName(name)
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    conn.close()
    after = settle(pid, base[0])
    total = sum(stats.calls.values())
    result = {"calls": dict(stats.calls), "total": total, "elapsed": elapsed, "rate": total / elapsed,
              "slowest": stats.slowest, "errors": stats.errors, "stuck": stuck, "alive": alive,
              "cycles": counts, "base": base, "peak": peak, "after": after}
    log(f"# {clients} clients, {elapsed:.1f} s: {total} calls ({total / elapsed:.0f}/s) {stats.calls}; "
        f"slowest {stats.slowest:.2f} s; Arrow cycles {counts}")
    log(f"# daemon fds/VmRSS KiB: baseline {base}, peak {peak}, after {after}")
    return result


def check(result):
    problems = []
    if result["stuck"]:
        problems.append(f"calls unanswered after {CALL_TIMEOUT} s: {result['stuck']}")
    if result["alive"]:
        problems.append(f"{len(result['alive'])} clients never ended")
    if result["errors"]:
        problems.append(f"{len(result['errors'])} unexpected errors, first: {result['errors'][:3]}")
    if min(result["cycles"].get(n, 0) for n in ("cycle-a", "cycle-b")) < 1:
        problems.append(f"the Arrows did not cycle: {result['cycles']}")
    if result["after"][0] > result["base"][0] + FD_SLACK:
        problems.append(f"fds: {result['after'][0]} after, {result['base'][0]} before")
    if result["after"][1] > result["base"][1] + RSS_SLACK_KIB:
        problems.append(f"VmRSS: {result['after'][1]} KiB after, {result['base'][1]} KiB before")
    return problems


def run_checked(seconds, daemon=None):
    """The load for SECONDS on DAEMON (a plain private one unless given,
    started and stopped here); prints and returns the problems found."""
    d = daemon or Daemon(prefix="arrow-load-")
    d.start()
    try:
        problems = check(run_load(d, seconds))
    finally:
        d.stop()
    for p in problems:
        print(f"FAIL: {p}")
    return problems

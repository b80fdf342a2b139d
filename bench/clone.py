#!/usr/bin/python3
"""Benchmark of templates and clones (ARCHITECTURE.md, "Templates"), side by
side in one run, for busybox httpd, `python3 -m http.server` and Redis:

- native: the program started on the host -> its first answer;
- cold Arrow: a daemon with boot templates off (ARROW_BOOT_TEMPLATES=0),
  virDomainCreateXML -> first answer;
- one clone: virDomainRestoreFlags(template, clone XML) -> first answer, with
  where the time goes (the restore call: QEMU spawned, device state loaded,
  vCPUs running; then the guest: shares mounted, program exec'd, ready);
- N clones restored at once (10 and 50 by default) -> all answering;
- memory: per clone, private guest RAM (the pages of the image mapping the
  guest wrote: copy-on-write), QEMU's PSS and private bytes, by mapping
  (guest RAM, TCG code buffer, other anonymous memory and heap, QEMU binary
  and libraries); and the host's marginal memory per idle clone (MemAvailable
  before and after N clones, divided by N).

The targets of issue 12 are printed beside each figure. First answers are
polled every 2 ms with raw sockets in this process (no client spawned), so
the harness adds at most a few ms. Accelerator: whatever the daemon picks
(printed; TCG unless /dev/kvm really runs guests).

    ./run python3 bench/clone.py [--apps busybox,python,redis] [--clones 10,50] [--many N]

--many N: also start N python clones at once and count how many answer (the
200-clone target); off by default (it takes minutes under TCG)."""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "lib"))
import libvirt  # noqa: E402

from arrowtest import domain_xml, free_port  # noqa: E402
from daemon import Daemon  # noqa: E402

MIB = 1 << 20


# --- Probes: the first answer, polled without spawning anything ----------------

def http_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            return s.recv(12).startswith(b"HTTP/1.")
    except OSError:
        return False


def redis_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(7) == b"+PONG\r\n"
    except OSError:
        return False


def until(probe, port, timeout=300, every=0.002):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if probe(port):
            return time.monotonic()
        time.sleep(every)
    raise TimeoutError(f"nothing answered on port {port} within {timeout} s")


# --- The applications ------------------------------------------------------------

class App:
    def __init__(self, name, init, args, guest_port, native, probe, shares=(), memory_mib=64):
        self.name, self.init, self.args, self.guest_port = name, init, args, guest_port
        self.native_argv, self.probe, self.shares, self.memory_mib = native, probe, shares, memory_mib

    def xml(self, name, port):
        return domain_xml(name, self.init, args=self.args, shares=self.shares, forwards=[(port, self.guest_port)],
                          memory_mib=self.memory_mib, console=False)


def apps(work):
    www = os.path.join(work, "www")
    os.makedirs(www, exist_ok=True)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("hello\n")
    return {
        "busybox": App("busybox", "/usr/bin/busybox", ["httpd", "-f", "-p", "8000", "-h", "/srv"], 8000,
                       lambda p: ["/usr/bin/busybox", "httpd", "-f", "-p", f"127.0.0.1:{p}", "-h", www],
                       http_answers, shares=[dict(source=www, target="/srv", readonly=True)]),
        "python": App("python", "/usr/bin/python3", ["-m", "http.server", "8000", "--directory", "/srv"], 8000,
                      lambda p: ["/usr/bin/python3", "-m", "http.server", str(p), "--bind", "127.0.0.1",
                                 "--directory", www],
                      http_answers, shares=[dict(source=www, target="/srv", readonly=True)], memory_mib=128),
        "redis": App("redis", "/usr/bin/redis-server",
                     ["--port", "6379", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly",
                      "no", "--dir", "/tmp"], 6379,
                     lambda p: ["/usr/bin/redis-server", "--port", str(p), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", work],
                     redis_answers, memory_mib=128),
    }


# --- Memory ----------------------------------------------------------------------

def smaps(pid):
    """[(name, {field: kB})] of PID's mappings."""
    maps, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
                cur = (head[5] if len(head) > 5 else "", {})
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                cur[1]["Size"] = (hi - lo) // 1024
                maps.append(cur)
            elif cur and head[0].endswith(":") and len(head) >= 2 and head[1].isdigit():
                cur[1][head[0][:-1]] = int(head[1])
    return maps


def qemu_memory(pid, ram_bytes):
    """Bytes by kind: guest RAM private (the pages of the guest RAM mapping
    that are the process's own: copy-on-write copies of a clone's image, or
    all that a cold Arrow touched) and PSS of each kind of mapping; totals.
    Guest RAM is the mapping of the guest's size (the image file for a
    clone, anonymous for a cold Arrow); TCG's code buffer the anonymous
    reservation of 256 MiB or more."""
    out = {"ram_private": 0, "pss": 0, "private": 0, "ram_pss": 0, "tcg_pss": 0, "anon_pss": 0, "lib_pss": 0}
    for name, f in smaps(pid):
        pss, private = f.get("Pss", 0) * 1024, (f.get("Private_Clean", 0) + f.get("Private_Dirty", 0)) * 1024
        out["pss"] += pss
        out["private"] += private
        if f["Size"] * 1024 == ram_bytes:
            out["ram_private"] += private
            out["ram_pss"] += pss
        elif name == "" and f["Size"] >= 256 * 1024:
            out["tcg_pss"] += pss
        elif name in ("", "[heap]", "[stack]") or name.startswith("[anon"):
            out["anon_pss"] += pss
        else:
            out["lib_pss"] += pss
    return out


def tree_pss(pid):
    total = 0
    pids = [pid]
    try:
        kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(k) for k in kids]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def mem_available():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


# --- Runs ------------------------------------------------------------------------

def run_native(app):
    port = free_port()
    t0 = time.monotonic()
    p = subprocess.Popen(app.native_argv(port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t1 = until(app.probe, port)
        time.sleep(0.5)
        return {"first": t1 - t0, "pss": tree_pss(p.pid)}
    finally:
        p.terminate()
        p.wait()


def run_cold(d, app):
    port = free_port()
    t0 = time.monotonic()
    dom = d.conn.createXML(app.xml(f"cold-{app.name}", port), 0)
    t1 = until(app.probe, port)
    time.sleep(0.5)
    mem = qemu_memory(d.qemu_pid(dom.name()), app.memory_mib * MIB)
    dom.destroy()
    return {"first": t1 - t0, **mem}


def make_template(d, app, work):
    name = f"tpl-{app.name}"
    dom = d.conn.defineXML(app.xml(name, free_port()))
    dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)  # waits for the boot template
    image = os.path.join(work, f"{name}.img")
    dom.saveFlags(image, None, libvirt.VIR_DOMAIN_SAVE_RUNNING)
    dom.undefine()
    return image


def clone(d, app, image, name, conn=None):
    """Restores a clone NAME; (port, restore seconds, first-answer time)."""
    port = free_port()
    conn = conn or d.conn
    t0 = time.monotonic()
    conn.restoreFlags(image, app.xml(name, port), 0)
    t1 = time.monotonic()
    t2 = until(app.probe, port)
    return port, t1 - t0, t2 - t0


def run_one_clone(d, app, image):
    port, restore_s, first = clone(d, app, image, f"one-{app.name}")
    time.sleep(2)  # idle
    mem = qemu_memory(d.qemu_pid(f"one-{app.name}"), app.memory_mib * MIB)
    d.conn.lookupByName(f"one-{app.name}").destroy()
    return {"first": first, "restore": restore_s, **mem}


def run_many(d, app, image, n):
    """N clones restored at once (one connection and thread each)."""
    before = mem_available()
    results, errors = {}, []
    names = [f"c{i}-{app.name}" for i in range(n)]
    start = threading.Barrier(n + 1)

    def one(name):
        try:
            conn = libvirt.open(d.uri)
            start.wait()
            results[name] = clone(d, app, image, name, conn)
            conn.close()
        except Exception as e:  # noqa: BLE001 (reported)
            errors.append(f"{name}: {e}")

    threads = [threading.Thread(target=one, args=(x,)) for x in names]
    for th in threads:
        th.start()
    start.wait()
    t0 = time.monotonic()
    for th in threads:
        th.join()
    all_answering = time.monotonic() - t0
    time.sleep(5)  # idle
    after = mem_available()
    mems = [qemu_memory(d.qemu_pid(x), app.memory_mib * MIB) for x in results]
    for x in names:
        try:
            d.conn.lookupByName(x).destroy()
        except libvirt.libvirtError:
            pass
    med = (lambda k: statistics.median(m[k] for m in mems)) if mems else (lambda k: 0)
    return {"n": n, "answering": len(results), "errors": errors, "all": all_answering,
            "marginal": (before - after) / n, "ram_private": med("ram_private"), "pss": med("pss"),
            "private": med("private")}


def ms(s):
    return f"{s * 1000:.0f} ms"


def mib(b):
    return f"{b / MIB:.1f} MiB"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", default="busybox,python,redis")
    ap.add_argument("--clones", default="10,50")
    ap.add_argument("--many", type=int, default=0)
    o = ap.parse_args()
    work = tempfile.mkdtemp(prefix="arrow-bench-clone-")
    table = apps(work)
    cold_daemon = Daemon(prefix="arrow-bench-cold-", args=(), env={"ARROW_BOOT_TEMPLATES": "0"}).start()
    tpl_daemon = Daemon(prefix="arrow-bench-clone-", args=(), env={"ARROW_BOOT_TEMPLATES": "1"}).start()
    accel = None
    try:
        for name in o.apps.split(","):
            app = table[name]
            if not os.access(app.init, os.X_OK):
                print(f"\n## {name}: skipped ({app.init} is not installed)")
                continue
            native = run_native(app)
            cold = run_cold(cold_daemon, app)
            image = make_template(tpl_daemon, app, work)
            one = run_one_clone(tpl_daemon, app, image)
            log = tpl_daemon.app_log(f"one-{app.name}")
            accel = accel or ("KVM" if " -accel kvm" in log else "TCG")
            target = "150 ms" if name == "busybox" else f"{ms(3 * native['first'])} (3x native)"
            print(f"\n## {name} (accelerator {accel}; 2 cores; other load on the host counts)")
            print(f"{'':34}{'measured':>14}  {'vs native':>10}  target")
            print(f"{'native start -> first answer':34}{ms(native['first']):>14}  {'1.0x':>10}")
            print(f"{'cold Arrow -> first answer':34}{ms(cold['first']):>14}  {cold['first'] / native['first']:>9.1f}x")
            print(f"{'clone -> first answer':34}{ms(one['first']):>14}  {one['first'] / native['first']:>9.1f}x  "
                  f"{target}")
            print(f"{'  of which the restore call':34}{ms(one['restore']):>14}   "
                  "(QEMU spawned, state loaded, vCPUs running)")
            print(f"{'  of which the guest':34}{ms(one['first'] - one['restore']):>14}   "
                  "(shares mounted, program exec'd, until it answers)")
            for n in (int(x) for x in o.clones.split(",") if x):
                many = run_many(tpl_daemon, app, image, n)
                print(f"{f'{n} clones at once -> all answering':34}{ms(many['all']):>14}  "
                      f"{many['answering']}/{n} answered{'; ' + many['errors'][0] if many['errors'] else ''}")
                print(f"{f'  host marginal memory per clone':34}{mib(many['marginal']):>14}  {'':>10}  16 MiB")
                print(f"{f'  median private guest RAM':34}{mib(many['ram_private']):>14}  {'':>10}  2 MiB")
                print(f"{f'  median QEMU PSS / private':34}{mib(many['pss']):>14}  {mib(many['private']):>10}")
            print(f"{'memory of one idle clone':34}{'clone':>14}  {'cold Arrow':>10}  {'native':>8}")
            print(f"{'  QEMU PSS (native: process PSS)':34}{mib(one['pss']):>14}  {mib(cold['pss']):>10}  "
                  f"{mib(native['pss']):>8}")
            print(f"{'  private guest RAM':34}{mib(one['ram_private']):>14}  {mib(cold['ram_private']):>10}  {'':>8}  "
                  "target 2 MiB")
            for key, what in (("ram_pss", "guest RAM"), ("tcg_pss", "TCG code buffer"),
                              ("anon_pss", "heap, other anonymous"), ("lib_pss", "QEMU binary, libraries")):
                print(f"{'    PSS: ' + what:34}{mib(one[key]):>14}  {mib(cold[key]):>10}")
        if o.many:
            app = table["python"]
            image = make_template(tpl_daemon, app, work)
            many = run_many(tpl_daemon, app, image, o.many)
            print(f"\n## {o.many} python http.server clones at once: {many['answering']}/{o.many} answering "
                  f"after {ms(many['all'])}; marginal {mib(many['marginal'])} per clone (target: 200 answering)")
    finally:
        cold_daemon.stop()
        tpl_daemon.stop()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Where a running Arrow's host memory goes: the QEMU process's PSS and RSS by
mapping (/proc/PID/smaps), in four parts — the guest's RAM, TCG's code
buffer, QEMU's heap and other anonymous memory, and the QEMU binary with its
libraries — beside the targets of issue 13.

    ./run python3 bench/memory_breakdown.py NAME|PID   # any running Arrow (QEMU's -name guest=NAME)
    ./run python3 bench/memory_breakdown.py            # a cold busybox httpd Arrow, beside native busybox httpd

Without an argument it starts a private virtarrowd, a busybox httpd Arrow
(64 MiB) that serves one page, waits for the first answer, measures, and
measures a native `busybox httpd` serving the same page in the same run. With
--tb-size N (MiB) the Arrow's QEMU gets `-accel tcg,tb-size=N` (through
ARROW_QEMU_TB_SIZE, a benchmark hook of the engine)."""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "lib"))

TARGETS_MIB = {"busybox httpd": 32, "python3 -m http.server": 48}
PARTS = ("guest RAM", "TCG code buffer", "heap+anon", "binary+libs", "other")


def qemu_pid_of(name):
    for proc in os.listdir("/proc"):
        if not proc.isdigit():
            continue
        try:
            with open(f"/proc/{proc}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"qemu-system-x86_64") and f"guest={name}".encode() in argv:
            return int(proc)
    raise SystemExit(f"memory_breakdown: no QEMU with -name guest={name}")


def qemu_facts(pid):
    """Guest RAM size (bytes, from -m), the accelerator and its tb-size (MiB)."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = [a.decode(errors="replace") for a in f.read().split(b"\0")]
    def size(text):
        m = re.match(r"(\d+)([KMG]?)", text)
        return int(m.group(1)) << {"K": 10, "M": 20, "G": 30, "": 20}[m.group(2)] if m else 0
    ram, accel = 0, "?"
    for i, a in enumerate(argv[:-1]):
        if a == "-m":
            ram = ram or size(argv[i + 1].split(",")[0].replace("size=", ""))
        if a == "-object" and argv[i + 1].startswith("memory-backend-"):  # RAM from a backend object
            m = re.search(r"(?:^|,)size=([^,]+)", argv[i + 1])
            ram = size(m.group(1)) if m else ram
        if a == "-accel":
            accel = argv[i + 1]
    return ram, accel


def classify(size, perms, path, ram_bytes, binary):
    """The part a mapping belongs to: the guest's RAM is the mapping of -m's
    size (anonymous, or a memory-backend file); TCG's code buffer is the
    executable anonymous one (or QEMU's tcg-jit memfd)."""
    if path == binary or path.endswith(".so") or ".so." in path:
        return "binary+libs"
    if size == ram_bytes and "rw" in perms:
        return "guest RAM"
    if "tcg" in path or (not path and "x" in perms):
        return "TCG code buffer"
    if not path or path in ("[heap]", "[stack]") or path.startswith("[anon"):
        return "heap+anon"
    return "other"


def breakdown(pid):
    """{part: [pss_kib, rss_kib]} of PID, and the facts."""
    ram_bytes, accel = qemu_facts(pid)
    binary = os.readlink(f"/proc/{pid}/exe")
    parts = {p: [0, 0] for p in PARTS}
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
            if m:
                cur = classify(int(m.group(2), 16) - int(m.group(1), 16), m.group(3), m.group(4).strip(), ram_bytes,
                               binary)
                continue
            if line.startswith("Pss:"):
                parts[cur][0] += int(line.split()[1])
            elif line.startswith("Rss:"):
                parts[cur][1] += int(line.split()[1])
    return parts, ram_bytes, accel


def print_breakdown(title, pid, target_mib=None, peer=None):
    parts, ram_bytes, accel = breakdown(pid)
    pss = sum(v[0] for v in parts.values())
    rss = sum(v[1] for v in parts.values())
    print(f"\n{title}: QEMU pid {pid}, guest RAM {ram_bytes >> 20} MiB, accelerator {accel}")
    print(f"  {'part':<18}{'PSS MiB':>9}{'RSS MiB':>9}")
    for p in PARTS:
        print(f"  {p:<18}{parts[p][0] / 1024:>9.1f}{parts[p][1] / 1024:>9.1f}")
    line = f"  {'total':<18}{pss / 1024:>9.1f}{rss / 1024:>9.1f}"
    if target_mib:
        line += f"   target PSS <= {target_mib} MiB: {'met' if pss / 1024 <= target_mib else 'NOT met'}"
    print(line)
    if peer:
        print(f"  native peer PSS {peer / 1024:.1f} MiB: the Arrow costs {pss / max(peer, 1):.1f}x")
    return pss


def cold_busybox(tb_size):
    """The busybox case of the application matrix (tests/lib/apps_cases.py)
    as a cold Arrow, and natively."""
    import arrowtest as at
    from apps_cases import CASES
    from apptest import pss_kib, process_tree
    from daemon import Daemon
    case = CASES["busybox"]
    for path, package in case.needs:
        if not os.access(path, os.X_OK):
            raise SystemExit(f"memory_breakdown: {path} is missing (Debian package {package})")
    env = {"ARROW_QEMU_TB_SIZE": str(tb_size)} if tb_size else None
    work = tempfile.mkdtemp(prefix="arrow-mem-")
    with Daemon(prefix="arrow-mem-", args=(), env=env).start() as d:
        port = at.free_port()
        spec = case.arrow(work, port)
        xml = at.domain_xml("mem-busybox", memory_mib=64, forwards=[(port, spec.pop("guest_port"))], **spec)
        t0 = time.monotonic()
        d.conn.createXML(xml, 0)
        at.wait_for(lambda: case.ready(port), 120, "busybox httpd to answer", retry=(Exception,), interval=0.02)
        ready = time.monotonic() - t0
        time.sleep(1)  # the first request's allocations settle
        nport = at.free_port()
        native = subprocess.Popen(case.native(work, nport))
        try:
            at.wait_for(lambda: case.ready(nport), 30, "native busybox httpd", retry=(Exception,), interval=0.02)
            peer = pss_kib(process_tree(native.pid))
        finally:
            native.terminate()
            native.wait()
        print(f"# cold busybox httpd Arrow: first answer {ready:.2f} s after virDomainCreateXML"
              + (f" (tb-size {tb_size} MiB)" if tb_size else " (QEMU's default tb-size)"))
        print_breakdown("busybox httpd Arrow", d.qemu_pid("mem-busybox"), TARGETS_MIB["busybox httpd"], peer)
    at.remove_tree(work)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arrow", nargs="?", help="a running Arrow's name or its QEMU's pid")
    ap.add_argument("--tb-size", type=int, default=0, help="MiB of TCG code buffer for the cold Arrow")
    a = ap.parse_args()
    if a.arrow:
        pid = int(a.arrow) if a.arrow.isdigit() else qemu_pid_of(a.arrow)
        print_breakdown(a.arrow, pid)
    else:
        cold_busybox(a.tb_size)
    print("\n# targets (TCG): " + ", ".join(f"{k} PSS <= {v} MiB" for k, v in TARGETS_MIB.items()))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Hostile guests and greedy clients, measured in one run (SECURITY.md,
"Bounds"): each figure beside its peer and its target.

1. A guest writing its serial port for 60 s: the bytes it wrote beside the
   bytes its logs take (target: at most log_max_size x (log_max_backups+1)).
2. The Anotify decoder on 200 KB garbage blocks: MB/s beside a plain copy
   (bench/anotify-decoder-bench).
3. The daemon's RSS while a read-only client floods calls and never reads,
   beside its RSS before (target: growth within max_client_output + slack).
4. Connections at max_clients: accepted and refused (held in the backlog).
5. Seconds from the first allocation to "Stopped Crashed" for the three
   memory-exhaustion patterns (target 15 s), beside how long the same
   program takes to fail natively under a 96 MiB address-space limit.

Under TCG (these machines' /dev/kvm cannot run guests); the accelerator is
printed."""

import os
import re
import resource
import socket
import struct
import subprocess
import sys
import tempfile
import time

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "lib"))
import oom_patterns  # noqa: E402
from arrowtest import BUILDDIR, domain_xml, remove_tree, wait_for  # noqa: E402
from daemon import Daemon  # noqa: E402
from virsh_events import VirshEvents  # noqa: E402

libvirt.registerErrorHandler(lambda ctx, err: None, None)
FLOOD_S = 60
LOG_MAX = 1 << 20
BACKUPS = 2
MAX_CLIENTS = 20
MAX_CLIENT_OUTPUT = 4 << 20
REMOTE, CONNECT_OPEN, GET_CAPABILITIES = 0x20008086, 1, 7


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def log_bytes(d, name):
    total = 0
    for entry in os.listdir(os.path.join(d.root, "log")):
        if entry == f"{name}.log" or entry.startswith(f"{name}.log."):
            try:
                total += os.path.getsize(os.path.join(d.root, "log", entry))
            except OSError:
                pass
    return total


def serial_flood(d):
    """`seq 1 N > /dev/ttyS0` for FLOOD_S s: the last number in the log says
    how many bytes the guest wrote (the digits of 1..N and N newlines)."""
    d.conn.createXML(domain_xml("flood", "/usr/bin/busybox", args=["sh", "-c", "seq 1 999999999 > /dev/ttyS0"],
                                memory_mib=64), 0)
    wait_for(lambda: log_bytes(d, "flood") > 4096, 120, "the flood's first bytes")
    with open(os.path.join(d.root, "log", "flood.log"), errors="replace") as f:
        m = re.search(r"-accel (\w+)", f.read())
    print(f"   accelerator: {m.group(1).upper() if m else '?'} (QEMU's command line in the log)")
    largest = 0
    end = time.monotonic() + FLOOD_S
    while time.monotonic() < end:
        largest = max(largest, log_bytes(d, "flood"))
        time.sleep(0.2)
    d.conn.lookupByName("flood").destroy()
    with open(os.path.join(d.root, "log", "flood.log"), errors="replace") as f:
        text = f.read()
    numbers = [int(x) for x in re.findall(r"^(\d+)$", text, re.M)]
    last = max(numbers) if numbers else 0
    written = sum(len(str(i)) + 1 for i in range(1, last + 1))
    bound = LOG_MAX * (BACKUPS + 1)
    print(f"1. serial flood, {FLOOD_S} s: the guest wrote {written / 1e6:.1f} MB "
          f"({written / FLOOD_S / 1e3:.0f} kB/s); its logs took at most {largest / 1e6:.2f} MB "
          f"= {largest / max(written, 1):.3f}x of it; target <= {bound / 1e6:.2f} MB "
          f"(log_max_size {LOG_MAX} x {BACKUPS + 1}): {'ok' if largest <= bound + 65536 else 'MISS'}")


def decoder():
    out = subprocess.run([os.path.join(BUILDDIR, "bench", "anotify-decoder-bench")], capture_output=True,
                         text=True, check=True).stdout
    print("2. " + out.replace("\n", "\n   ").rstrip())


def frame(proc, serial, payload=b""):
    return struct.pack(">IIIiiIi", 28 + len(payload), REMOTE, 1, proc, 0, serial, 0) + payload


def flood_rss(d):
    """A read-only client sends CONNECT_OPEN, then GET_CAPABILITIES as fast as
    it can for 20 s and never reads a reply."""
    before = rss_kib(d.proc.pid)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.socket_ro)
    s.sendall(frame(CONNECT_OPEN, 1, struct.pack(">II", 0, 0)))
    s.settimeout(0.05)
    sent = 0
    peak = before
    end = time.monotonic() + 20
    serial = 2
    while time.monotonic() < end:
        try:
            s.sendall(b"".join(frame(GET_CAPABILITIES, serial + i) for i in range(64)))
            sent += 64
            serial += 64
        except (socket.timeout, BlockingIOError):
            pass  # the daemon stopped reading us: that is the throttle
        except OSError:
            break  # dropped
        peak = max(peak, rss_kib(d.proc.pid))
    s.close()
    growth = peak - before
    target = MAX_CLIENT_OUTPUT // 1024 + 16 * 1024
    print(f"3. read-only flood, 20 s: {sent} calls sent, none read; daemon RSS {before} KiB before, peak "
          f"{peak} KiB (+{growth} KiB = {peak / before:.2f}x); target growth <= {target} KiB "
          f"(max_client_output {MAX_CLIENT_OUTPUT >> 20} MiB + 16 MiB): {'ok' if growth <= target else 'MISS'}")


def connections(d):
    """MAX_CLIENTS + 10 more connections, each opening, beside the benchmark's
    own libvirt connection: how many get an answer."""
    socks, answered = [], 0
    for i in range(MAX_CLIENTS + 10):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(d.socket_ro)
        s.sendall(frame(CONNECT_OPEN, 1, struct.pack(">II", 0, 0)))
        try:
            answered += len(s.recv(4096)) > 0
        except OSError:
            pass
        socks.append(s)
    refused = len(socks) - answered
    for s in socks:
        s.close()
    print(f"4. {len(socks)} connections at max_clients = {MAX_CLIENTS}, beside the benchmark's own: {answered} "
          f"accepted and answered, {refused} held unanswered in the backlog; target: exactly {MAX_CLIENTS - 1} "
          f"accepted: {'ok' if answered == MAX_CLIENTS - 1 else 'MISS'}")


def native_failure_s(program, data, mark):
    """Seconds for the same program to fail natively with 96 MiB of address
    space (paths rewritten to the host directories)."""
    host = program.replace("/mark/", mark + "/").replace("/data/", data + "/")
    start = time.monotonic()
    subprocess.run(["/usr/bin/python3", "-c", host], capture_output=True,
                   preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (160 << 20, 160 << 20)))
    return time.monotonic() - start


def out_of_memory(d, work):
    data = os.path.join(work, "data")
    oom_patterns.make_data(data)
    events = VirshEvents(d.uri)
    for pattern, program in oom_patterns.PATTERNS.items():
        name = pattern.replace("_", "-")
        mark = os.path.join(work, name)
        os.makedirs(mark)
        xml = domain_xml(name, "/usr/bin/python3", args=["-c", program], memory_mib=96,
                         shares=[dict(source=mark, target="/mark"), dict(source=data, target="/data", readonly=True)])
        d.conn.createXML(xml, 0)
        _, stopped = events.wait(name, "Stopped Crashed", timeout=300)
        seconds = time.time() - (time.monotonic() - stopped) - os.stat(os.path.join(mark, "started")).st_mtime
        with open(os.path.join(d.root, "log", f"{name}.log"), errors="replace") as f:
            log = f.read()
        by = "ainit's pressure watch" if "ainit: out of memory" in log else "the kernel's OOM killer"
        native_mark = os.path.join(work, name + "-native")
        os.makedirs(native_mark)
        native = native_failure_s(program, data, native_mark)
        print(f"5. {pattern:12s} first allocation -> Stopped Crashed {seconds:5.1f} s (killed by {by}); "
              f"native MemoryError at 160 MiB of address space {native:.2f} s; target <= 15 s: "
              f"{'ok' if seconds <= 15 else 'MISS'}")
    events.stop()


def main():
    work = tempfile.mkdtemp(prefix="arrow-bench-hostile-")
    d = Daemon("arrow-bench-hostile-", args=())
    with open(os.path.join(d.root, "virtarrowd.conf"), "w") as f:
        f.write(f"log_max_size = {LOG_MAX}\nlog_max_backups = {BACKUPS}\nmax_clients = {MAX_CLIENTS}\n"
                f"max_anonymous_clients = {MAX_CLIENTS}\nmax_client_output = {MAX_CLIENT_OUTPUT}\n")
    d.start()
    try:
        print(f"bench/hostile: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        serial_flood(d)
        decoder()
        flood_rss(d)
        connections(d)
        out_of_memory(d, work)
    finally:
        d.stop()
        remove_tree(work)


if __name__ == "__main__":
    main()

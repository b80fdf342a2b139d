#!/usr/bin/python3
"""Free page reporting returns memory to the host with no balloon command:
a Python program in an Arrow (default balloon) allocates 200 MiB, the QEMU
process's resident memory grows by most of it, the program frees it, and
within 10 s QEMU's RSS (/proc/PID/status) is back within 10% of what it was
before — while nobody sent a balloon command (the daemon's log has no target,
dommemstat's actual stays <memory>). The same program in an Arrow with
freePageReporting='off' keeps the memory resident, which shows that the
guest's reports, not something else, gave it back."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import arrowtest as at  # noqa: E402
from daemon import run_checks  # noqa: E402

T = at.Failures()
ALLOC_MIB = 200
RETURN_S = 10  # the target: back within 10% this soon after the program freed it
# Steps driven by marker files in a shared directory (the program waits for
# "go" and "free", and says "ready", "allocated" and "freed").
PROGRAM = f"""
import os, time
def wait(n):
    while not os.path.exists('/sync/' + n): time.sleep(0.05)
def mark(n): open('/sync/' + n, 'w').close()
mark('ready'); wait('go')
b = bytearray(b'x') * ({ALLOC_MIB} << 20)
mark('allocated'); wait('free')
del b
mark('freed'); time.sleep(3600)
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))


def settled_rss(pid):
    """QEMU's RSS once two samples a second apart differ by under 1 MiB."""
    last = [rss_kib(pid)]

    def settled():
        time.sleep(1)
        now = rss_kib(pid)
        done = abs(now - last[0]) < 1024
        last[0] = now
        return now if done else None
    return at.wait_for(settled, 120, "QEMU's RSS to settle")


def run(d, name, devices):
    sync = os.path.join(d.root, name + "-sync")
    os.makedirs(sync)
    xml = at.domain_xml(name, "/usr/bin/python3", args=["-c", PROGRAM], memory_mib=384,
                        shares=[{"source": sync, "target": "/sync"}], devices=devices)
    r = subprocess.run(["virsh", "-c", d.uri, "create", at.write_temp(xml, dir=d.root)], capture_output=True, text=True)
    T.check(r.returncode == 0, f"{name}: virsh create: {r.stderr.strip()}")
    marker = lambda n: os.path.exists(os.path.join(sync, n))  # noqa: E731
    at.wait_for(lambda: marker("ready"), 120, f"{name}: the program to start")
    pid = d.qemu_pid(name)
    before = settled_rss(pid)
    open(os.path.join(sync, "go"), "w").close()
    at.wait_for(lambda: marker("allocated"), 120, f"{name}: the program to allocate {ALLOC_MIB} MiB")
    peak = rss_kib(pid)
    T.check(peak - before >= ALLOC_MIB * 1024 * 3 // 4,
            f"{name}: QEMU's RSS grew by most of the {ALLOC_MIB} MiB ({before} -> {peak} KiB)")
    open(os.path.join(sync, "free"), "w").close()
    at.wait_for(lambda: marker("freed"), 120, f"{name}: the program to free its memory")
    freed_at = time.monotonic()
    return pid, before, peak, freed_at


def checks(d):
    pid, before, peak, freed_at = run(d, "fpr", "")
    limit = before * 110 // 100
    try:
        after = at.wait_for(lambda: (lambda r: r if r <= limit else None)(rss_kib(pid)), RETURN_S,
                            f"QEMU's RSS back within 10% of {before} KiB")
        took = time.monotonic() - freed_at
        T.check(True, f"free page reporting: RSS {before} -> {peak} -> {after} KiB, back {took:.1f} s after the free "
                      f"(target: within 10% in {RETURN_S} s; TCG)")
    except AssertionError:
        T.check(False, f"free page reporting: RSS {before} -> {peak} -> {rss_kib(pid)} KiB {RETURN_S} s after the free, "
                       f"over 110% of {before} KiB")
    stats = subprocess.run(["virsh", "-c", d.uri, "dommemstat", "fpr"], capture_output=True, text=True).stdout
    T.check(re.search(r"^actual 393216$", stats, re.M), f"no balloon moved: dommemstat actual is <memory>: {stats!r}")
    T.check("balloon target" not in d.log_text(), "no balloon command was sent (the daemon logged no target)")
    subprocess.run(["virsh", "-c", d.uri, "destroy", "fpr"], capture_output=True)

    pid, before, peak, freed_at = run(d, "nofpr", "    <memballoon model='virtio' freePageReporting='off'/>")
    time.sleep(RETURN_S)  # the same wait as above, to show nothing comes back without the reports
    T.check(rss_kib(pid) > before + ALLOC_MIB * 1024 // 2,
            f"freePageReporting='off': the memory stays with QEMU ({before} -> {peak} -> {rss_kib(pid)} KiB)")
    subprocess.run(["virsh", "-c", d.uri, "destroy", "nofpr"], capture_output=True)


if __name__ == "__main__":
    run_checks(T, checks, prefix="arrow-fpr-")

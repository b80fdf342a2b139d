#!/usr/bin/python3
"""A hostile guest cannot fill the host's disk through its serial port.

The guest's ttyS0 (the kernel's console, writable by a root process in the
guest) goes through the daemon, which appends it to the Arrow's log and
rotates it: with virtarrowd.conf's log_max_size = 64 KiB and
log_max_backups = 2, a guest running `yes > /dev/ttyS0` never makes its logs
take more than 3 files of about 64 KiB, while the flood provably goes
through (the log holds it and keeps rotating), and another Arrow keeps
serving HTTP through its port forward all along."""
import glob
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
from arrowtest import Failures, domain_xml, free_port, http_get, remove_tree, skip, wait_for  # noqa: E402
from daemon import Daemon  # noqa: E402

LOG_MAX = 65536
BACKUPS = 2
FLOOD_S = 40
BOOT_S = 120
PAGE = "<h1>still serving</h1>\n"
# The daemon writes each file up to the limit, then rotates: what a file may
# hold beyond it is the rotation note and QEMU's own stderr (a few lines).
SLACK = 4096


def log_files(d, name):
    return sorted(glob.glob(os.path.join(d.root, "log", f"{name}.log*")))


def total_size(paths):
    size = 0
    for p in paths:
        try:
            size += os.path.getsize(p)
        except OSError:
            pass  # rotated away between the listing and the stat
    return size


def main():
    if not os.path.exists("/usr/bin/busybox"):
        skip("busybox is not installed (busybox-static)")
    t = Failures()
    work = tempfile.mkdtemp(prefix="arrow-hostile-")
    os.makedirs(os.path.join(work, "www"))
    with open(os.path.join(work, "www", "index.html"), "w") as f:
        f.write(PAGE)
    d = Daemon("arrow-hostile-")
    with open(os.path.join(d.root, "virtarrowd.conf"), "w") as f:
        f.write(f"log_max_size = {LOG_MAX}\nlog_max_backups = {BACKUPS}\n")
    d.start()
    try:
        port = free_port()
        d.conn.createXML(domain_xml("web", "/usr/bin/busybox", args=["httpd", "-f", "-p", "8000", "-h", "/srv/www"],
                                    shares=[dict(source=os.path.join(work, "www"), target="/srv/www",
                                                 readonly=True)],
                                    forwards=[(port, 8000)], memory_mib=64), 0)
        url = f"http://127.0.0.1:{port}/index.html"
        t.equal(http_get(url, timeout=BOOT_S), (200, PAGE.encode()), "the neighbour Arrow serves HTTP")

        d.conn.createXML(domain_xml("flood", "/usr/bin/busybox", args=["sh", "-c", "yes serial-flood > /dev/ttyS0"],
                                    memory_mib=64), 0)
        wait_for(lambda: any(p.endswith(".log.1") for p in log_files(d, "flood")), BOOT_S,
                 "the flooded log's first rotation")
        largest = 0
        attempts = answered = 0
        end = time.monotonic() + FLOOD_S
        while time.monotonic() < end:
            largest = max(largest, total_size(log_files(d, "flood")))
            attempts += 1
            try:
                answered += http_get(url, timeout=10) == (200, PAGE.encode())
            except AssertionError:
                pass
            time.sleep(0.5)
        files = log_files(d, "flood")
        t.check(len(files) <= BACKUPS + 1, f"at most {BACKUPS + 1} log files", files)
        bound = (LOG_MAX + SLACK) * (BACKUPS + 1)
        t.check(largest <= bound, f"the flooded Arrow's logs stay within {bound} bytes (largest {largest})")
        def flooded():
            # Any of its files: a rotation renames them one after the other,
            # so flood.log.1 may be missing for a moment.
            for path in log_files(d, "flood"):
                try:
                    with open(path, errors="replace") as f:
                        if "serial-flood" in f.read():
                            return True
                except OSError:
                    pass  # rotated away between the listing and the open
            return False
        t.check(wait_for(flooded, 30, "the flood in the logs"), "the flood went through the daemon into the log")
        t.check(attempts > 0 and answered == attempts,
                f"the neighbour answered all through the flood ({answered} of {attempts} requests)")
        state, _ = d.conn.lookupByName("flood").state()
        t.equal(state, 1, "the flooding Arrow itself still runs (its output is bounded, not fatal)")
        print(f"# serial flood: {FLOOD_S} s, logs at most {largest} bytes in {len(files)} files")
        for name in ("flood", "web"):
            d.conn.lookupByName(name).destroy()
    finally:
        d.stop()
        remove_tree(work)
    t.finish()


if __name__ == "__main__":
    main()

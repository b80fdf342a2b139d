"""Boot benchmark: time from spawning QEMU to the application running (the
Anotify APP_STARTED message) and to its exit, median of several runs, for
each kernel image the build has, printed beside the kernel, ainit and
initramfs sizes and beside the same program started natively on the host;
then, from virDomainCreateXML to the program's first output, an Arrow
(restored from its boot template, and booted cold) beside the VM libvirt's
own QEMU driver starts (bench/libvirt_peer.py), with each QEMU's PSS.

Run from the build tree: ./run /usr/bin/python3 ../bench/boot.py [RUNS]"""

import glob
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import arrowtest as at  # noqa: E402
import libvirt_peer  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
KDIR = at.KERNEL_DIR
LAUNCH = at.LAUNCH
APP = "/usr/bin/true"


def one_boot(xml_path):
    t0 = time.monotonic()
    p = subprocess.Popen([LAUNCH, "--timeout", "60", xml_path], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    started = None
    for line in p.stderr:
        if started is None and "started pid" in line:
            started = time.monotonic() - t0
    p.wait()
    total = time.monotonic() - t0
    if p.returncode != 0 or started is None:
        raise SystemExit(f"boot failed (status {p.returncode})")
    return started, total


def native():
    t0 = time.monotonic()
    subprocess.run([APP], check=True)
    return time.monotonic() - t0


def size(path):
    return os.path.getsize(path) if os.path.exists(path) else None


def main():
    work = tempfile.mkdtemp(prefix="arrow-bench-")
    kernels = [k for k in ("bzImage", "vmlinux") if os.path.exists(os.path.join(KDIR, k))]
    print(f"Arrow boot benchmark: {RUNS} runs each, app {APP}, TCG, load {os.getloadavg()[0]:.2f}")
    for name in ("bzImage", "vmlinux", "ainit", "initramfs.cpio"):
        s = size(os.path.join(KDIR, name))
        if s is not None:
            print(f"  {name:<15} {s:>9} bytes ({s / 1024:.0f} KiB)")
    nat = statistics.median(native() for _ in range(RUNS))
    print(f"  native {APP}: {nat * 1000:.1f} ms (fork+exec+exit, median)")
    print(f"  {'kernel':<10} {'spawn->app started':>20} {'spawn->exit':>14} {'ratio vs native':>16}")
    try:
        for k in kernels:
            extra = f"    <kernel>{os.path.join(KDIR, k)}</kernel>"
            xml = at.write_temp(at.domain_xml("bench", APP, memory_mib=128, extra_os=extra), dir=work)
            one_boot(xml)  # warm the page cache
            runs = [one_boot(xml) for _ in range(RUNS)]
            st = statistics.median(r[0] for r in runs)
            tot = statistics.median(r[1] for r in runs)
            print(f"  {k:<10} {st * 1000:>17.0f} ms {tot * 1000:>11.0f} ms {st / nat:>15.0f}x")
    finally:
        at.remove_tree(work)
    print("  target: spawn->app started <= 1500 ms; bzImage <= 2 MiB; ainit <= 128 KiB")
    libvirt_comparison()


def arrow_first_output(d, name, runs):
    """virDomainCreateXML -> the program's first line in the Arrow's log, and
    QEMU's PSS then (median of RUNS)."""
    times, pss = [], []
    for i in range(runs):
        n = f"{name}{i}"
        xml = at.domain_xml(n, "/usr/bin/busybox", args=["sh", "-c", f"echo {libvirt_peer.MARK.decode()}; sleep 1"],
                            memory_mib=128)
        t0 = time.monotonic()
        d.conn.createXML(xml, 0)
        # Output, not the log's "qemu started" line, whose -append holds "echo%20MARK".
        printed = re.compile(r"(?<![0 ])" + libvirt_peer.MARK.decode())
        at.wait_for(lambda: printed.search(d.app_log(n)), 120, f"{n}'s output", interval=0.005)
        times.append(time.monotonic() - t0)
        pss.append(libvirt_peer._pss(d.qemu_pid(n) or 0))
        at.wait_for(lambda: n not in [x.name() for x in d.conn.listAllDomains()], 60, f"{n} to end")
    return statistics.median(times), statistics.median(pss)


def libvirt_comparison(runs=3):
    """The same program in the VM a libvirt user would otherwise start:
    libvirt's own QEMU driver, its default machine, Debian's cloud kernel."""
    from daemon import Daemon
    work = tempfile.mkdtemp(prefix="arrow-bench-peer-")
    try:
        peer_s, peer_pss, what = libvirt_peer.measure(work, runs)
        print(f"\n  create -> the program's first output ({runs} runs, median; TCG), beside the VM libvirt's own "
              f"QEMU driver starts:")
        rows = []
        for label, env in (("Arrow, boot template", {"ARROW_BOOT_TEMPLATES": "1"}),
                           ("Arrow, cold boot", {"ARROW_BOOT_TEMPLATES": "0"})):
            with Daemon(prefix="arrow-bench-boot-", args=(), env=env).start() as d:
                if env["ARROW_BOOT_TEMPLATES"] == "1":
                    arrow_first_output(d, "warm", 1)  # the first start of a layout makes its template
                    at.wait_for(lambda: glob.glob(os.path.join(d.root, "lib", "templates", "*.img")), 120,
                                "the boot template")
                rows.append((label, *arrow_first_output(d, "echo", runs)))
        if peer_s is None:
            print(f"  peer not measured: {what}")
        else:
            rows.append((f"libvirt qemu VM ({what})", peer_s, peer_pss))
        for label, sec, pss in rows:
            ratio = f"{peer_s / sec:5.1f}x faster" if peer_s and label.startswith("Arrow") else ""
            print(f"  {label:<60} {sec * 1000:>7.0f} ms  PSS {pss / 2**20:6.1f} MiB  {ratio}")
        print("  target: an Arrow well ahead of the libvirt VM in both time and memory")
    finally:
        at.remove_tree(work)


if __name__ == "__main__":
    main()

"""Boot benchmark: time from spawning QEMU to the application running (the
Anotify APP_STARTED message) and to its exit, median of several runs, for
each kernel image the build has, printed beside the kernel, ainit and
initramfs sizes and beside the same program started natively on the host.

Run from the build tree: ./run /usr/bin/python3 ../bench/boot.py [RUNS]"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "lib"))
import arrowtest as at  # noqa: E402

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


if __name__ == "__main__":
    main()

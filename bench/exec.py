"""Adebug benchmark: the round trip of `arrow exec NAME -- /bin/true` (the
arrow client's start, virDomainOpenChannel, the daemon's relay, the exec
port, the guest's fork+exec+exit and the exit status back), median of
several runs, beside the same program forked and exec'd natively on the
host, with a breakdown: the arrow client and one libvirt connection alone
(`arrow ps`), and fork+exec of /bin/true inside the guest (100 in a loop
there). docker exec-class target: 300 ms per round trip. Says which
accelerator ran.

Run from the build tree: ./run /usr/bin/python3 ../bench/exec.py [RUNS]"""

import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "lib"))
from arrowtest import ARROW, domain_xml, wait_for  # noqa: E402
from daemon import Daemon  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 15
TARGET_MS = 300.0  # docker exec's class on a workstation
NAME = "bench-exec"


def timed(argv):
    t0 = time.monotonic()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    took = time.monotonic() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: status {r.returncode}: {r.stderr.decode(errors='replace')}")
    return took


def median_ms(argv, runs):
    return statistics.median(timed(argv) for _ in range(runs)) * 1000


def main():
    d = Daemon(prefix="arrow-bench-exec-").start()
    try:
        dom = d.conn.defineXML(domain_xml(NAME, "/bin/sh", args=["-c", "echo up; exec sleep 100000"],
                                          memory_mib=96))
        dom.create()
        wait_for(lambda: "up" in d.app_log(NAME), 180, "the Arrow")
        accel = "KVM" if re.search(r"-accel kvm", d.app_log(NAME)) else "TCG"
        exec_argv = [ARROW, "-c", d.uri, "exec", NAME, "--", "/bin/true"]
        timed(exec_argv)  # warm: the guest's caches
        native = median_ms(["/bin/true"], RUNS)
        client = median_ms([ARROW, "-c", d.uri, "ps"], RUNS)
        rt = median_ms(exec_argv, RUNS)
        loop = timed([ARROW, "-c", d.uri, "exec", NAME, "--", "sh", "-c",
                      "i=0; while [ $i -lt 100 ]; do /bin/true; i=$((i+1)); done"])
        empty = timed([ARROW, "-c", d.uri, "exec", NAME, "--", "sh", "-c", "i=0; while [ $i -lt 100 ]; do i=$((i+1)); done"])
        guest_fork_exec = max(loop - empty, 0) / 100 * 1000
        load = os.getloadavg()[0]
        print(f"Adebug exec benchmark: {RUNS} runs each, accelerator {accel}, load {load:.2f}")
        print(f"  arrow exec -- /bin/true round trip: {rt:8.1f} ms  (target <= {TARGET_MS:.0f} ms, docker exec class: "
              f"{'met' if rt <= TARGET_MS else 'missed'})")
        print(f"  native fork+exec /bin/true on the host: {native:6.2f} ms  (ratio {rt / native:.0f}x)")
        print("  breakdown:")
        print(f"    arrow client + one libvirt connection (arrow ps): {client:8.1f} ms")
        print(f"    fork+exec /bin/true inside the guest ({accel}):    {guest_fork_exec:8.1f} ms")
        print(f"    the rest (open channel, relay, exec port, exit): {max(rt - client - guest_fork_exec, 0):8.1f} ms")
        dom.destroy()
    finally:
        d.stop()


if __name__ == "__main__":
    main()

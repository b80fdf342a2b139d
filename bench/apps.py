#!/usr/bin/python3
"""Benchmark of the application matrix (issue 7): for each application of
tests/lib/apps_cases.py, boot-to-ready time (start until the application's
own client gets an answer from the host) and host memory (PSS: the QEMU
process for the Arrow, the process tree natively), the Arrow beside the same
application started natively on the host, in one run.

    ./run python3 bench/apps.py [APP...]

Applications whose package is missing are listed as skipped."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # memory_breakdown, for the PSS by mapping

import apptest  # noqa: E402
from apps_cases import CASES  # noqa: E402
from arrowtest import Failures  # noqa: E402
from daemon import Daemon  # noqa: E402
from virsh_events import VirshEvents  # noqa: E402

TARGETS_MIB = {"busybox": 32, "python": 48}  # issue 13: QEMU PSS of a cold Arrow (TCG)


def installed(case):
    return all(os.access(path, os.X_OK) for path, _ in case.needs)


def row(cells, widths):
    return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))


def main():
    names = sys.argv[1:] or list(CASES)
    results = []
    checks = Failures()
    with Daemon(prefix="arrow-apps-", args=()).start() as daemon:
        events = VirshEvents(daemon.uri, event="lifecycle")
        for name in names:
            case = CASES[name]
            if not installed(case):
                results.append((name, None, None, "skipped: " + ", ".join(p for _, p in case.needs)))
                continue
            try:
                native = apptest.run_native(case)
            except AssertionError as e:
                results.append((name, None, None, f"native run failed: {e}"))
                continue
            arrow = apptest.run_arrow(case, checks, daemon, events)
            results.append((name, arrow, native, ""))
        events.stop()
    widths = (8, 12, 13, 7, 14, 15, 7)
    print()
    print(row(("app", "ready arrow", "ready native", "ratio", "PSS arrow MiB", "PSS native MiB", "ratio"), widths))
    for name, arrow, native, note in results:
        if not arrow:
            print(row((name, note or "failed", "", "", "", "", ""), widths))
            continue
        print(row((name, f"{arrow['ready_s']:.2f} s", f"{native['ready_s']:.2f} s",
                   f"{arrow['ready_s'] / max(native['ready_s'], 0.01):.1f}x",
                   f"{arrow['pss_kib'] / 1024:.1f}", f"{native['pss_kib'] / 1024:.1f}",
                   f"{arrow['pss_kib'] / max(native['pss_kib'], 1):.1f}x"), widths))
    print("\nWhere the time goes (s after virDomainCreateXML; polled every 20 ms) and the Arrow's PSS by mapping (MiB):")
    widths = (8, 10, 12, 13, 10, 10, 8, 8, 13)
    print(row(("app", "QEMU runs", "app started", "first answer", "guest RAM", "TCG buffer", "heap", "libs",
               "target PSS"), widths))
    for name, arrow, _, _ in results:
        if not arrow:
            continue
        parts = arrow.get("parts_mib", {})
        target = TARGETS_MIB.get(name)
        print(row((name, arrow.get("qemu_s", "-"), arrow.get("started_s", "-"), arrow["ready_s"],
                   parts.get("guest RAM", "-"), parts.get("TCG code buffer", "-"), parts.get("heap+anon", "-"),
                   parts.get("binary+libs", "-"),
                   f"<= {target} ({'met' if arrow['pss_kib'] / 1024 <= target else 'not met'})" if target else "-"),
                  widths))
    accels = sorted({a.get("accel", "?") for _, a, _, _ in results if a})
    print(f"\n# QEMU accelerator: {', '.join(accels) or '-'}; ready = virDomainCreateXML -> the client's first "
          "answer; PSS: QEMU (Arrow) or the process tree (native)")
    sys.exit(1 if checks.failed else 0)


main()

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

import apptest  # noqa: E402
from apps_cases import CASES  # noqa: E402
from arrowtest import Failures  # noqa: E402
from daemon import Daemon  # noqa: E402


def installed(case):
    return all(os.access(path, os.X_OK) for path, _ in case.needs)


def row(cells, widths):
    return "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))


def main():
    names = sys.argv[1:] or list(CASES)
    results = []
    checks = Failures()
    with Daemon(prefix="arrow-apps-", args=()).start() as daemon:
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
            arrow = apptest.run_arrow(case, checks, daemon)
            results.append((name, arrow, native, ""))
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
    accels = sorted({a.get("accel", "?") for _, a, _, _ in results if a})
    print(f"\n# QEMU accelerator: {', '.join(accels) or '-'}; ready = virDomainCreateXML -> the client's first "
          "answer; PSS: QEMU (Arrow) or the process tree (native)")
    sys.exit(1 if checks.failed else 0)


main()

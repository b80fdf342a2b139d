#!/usr/bin/python3
"""The long load run of issue 5 item 8 (tests/integration/driver/load.py is the short one in
`make check`): 50 libvirt-python clients doing list / dominfo / define /
undefine while two Arrows start and stop, first for ARROW_LOAD_SECONDS
(default 120) against a plain virtarrowd, printing calls per second and the
daemon's fds and VmRSS before, at peak and after; then for
ARROW_VALGRIND_SECONDS (default 30) against a virtarrowd under valgrind's
memcheck (--leak-check=full), printing its error and leak summary. Set
ARROW_VALGRIND_SECONDS=0 to skip the valgrind run."""

import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "lib"))
import loadgen  # noqa: E402
from arrowtest import remove_tree  # noqa: E402
from daemon import Daemon  # noqa: E402


def valgrind_run(seconds):
    """The load on a virtarrowd run by valgrind's memcheck (same pid), stopped
    cleanly (SIGTERM); (the load's result, valgrind's report)."""
    work = tempfile.mkdtemp(prefix="arrow-load-vg-")
    vg_log = os.path.join(work, "valgrind.log")
    d = Daemon(root=os.path.join(work, "root"), args=(), env={"G_SLICE": "always-malloc", "G_DEBUG": "gc-friendly"},
               wrapper=["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                        "--errors-for-leak-kinds=definite", "--track-fds=no", f"--log-file={vg_log}"])
    d.stop_timeout = 300
    try:
        d.start(timeout=120)
        result = loadgen.run_load(d, seconds)
        d.stop()
        with open(vg_log, errors="replace") as f:
            return result, f.read()
    finally:
        d.stop()
        remove_tree(work)


def summary(report):
    keep = ("ERROR SUMMARY", "definitely lost", "indirectly lost", "possibly lost", "still reachable",
            "in use at exit")
    return [re.sub(r"^==\d+== ", "", line) for line in report.splitlines() if any(k in line for k in keep)]


def main():
    seconds = float(os.environ.get("ARROW_LOAD_SECONDS", "120"))
    vg_seconds = float(os.environ.get("ARROW_VALGRIND_SECONDS", "30"))
    failed = False
    print(f"== load: {loadgen.CLIENTS} clients for {seconds:.0f} s against virtarrowd")
    failed |= bool(loadgen.run_checked(seconds))
    if vg_seconds > 0 and shutil.which("valgrind"):
        print(f"== memcheck: {loadgen.CLIENTS} clients for {vg_seconds:.0f} s against virtarrowd under valgrind")
        started = time.monotonic()
        result, report = valgrind_run(vg_seconds)
        print(f"# valgrind run took {time.monotonic() - started:.0f} s; errors: {len(result['errors'])}")
        for line in summary(report):
            print(f"# {line}")
        m = re.search(r"ERROR SUMMARY: (\d+) errors", report)
        failed |= not m or int(m.group(1)) != 0
    print("FAILED" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

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
import subprocess
import sys
import time

TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests")
sys.path.insert(0, os.path.join(TESTS, "lib"))
sys.path.insert(0, os.path.join(TESTS, "integration", "driver"))
import load  # noqa: E402  (tests/integration/driver/load.py)
from daemon import DAEMON, Daemon, wait_for  # noqa: E402


class ValgrindDaemon(Daemon):
    """The same private daemon, run by valgrind's memcheck (same pid)."""

    def __init__(self):
        super().__init__(prefix="arrow-load-vg-")
        self.vg_log = os.path.join(self.root, "valgrind.log")

    def start(self, timeout=120):
        env = dict(os.environ, G_SLICE="always-malloc", G_DEBUG="gc-friendly")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                ["valgrind", "--tool=memcheck", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                 "--errors-for-leak-kinds=definite", "--track-fds=no", f"--log-file={self.vg_log}",
                 DAEMON, "--root", self.root], stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_for(lambda: os.path.exists(self.socket) or self.proc.poll() is not None, timeout,
                 "virtarrowd under valgrind")
        if self.proc.poll() is not None:
            raise AssertionError(f"virtarrowd under valgrind exited:\n{self.log_tail()}")
        return self

    def finish(self):
        """Stops the daemon cleanly (SIGTERM) and returns valgrind's report."""
        self.proc.terminate()
        self.proc.wait(300)
        with open(self.vg_log, errors="replace") as f:
            report = f.read()
        self.stop()
        return report


def summary(report):
    keep = ("ERROR SUMMARY", "definitely lost", "indirectly lost", "possibly lost", "still reachable",
            "in use at exit")
    return [re.sub(r"^==\d+== ", "", line) for line in report.splitlines() if any(k in line for k in keep)]


def main():
    seconds = float(os.environ.get("ARROW_LOAD_SECONDS", "120"))
    vg_seconds = float(os.environ.get("ARROW_VALGRIND_SECONDS", "30"))
    failed = False
    print(f"== load: {load.CLIENTS} clients for {seconds:.0f} s against virtarrowd")
    d = Daemon(prefix="arrow-load-").start()
    try:
        problems = load.check(load.run_load(d, seconds))
    finally:
        d.stop()
    for p in problems:
        print(f"FAIL: {p}")
    failed |= bool(problems)
    if vg_seconds > 0 and shutil.which("valgrind"):
        print(f"== memcheck: {load.CLIENTS} clients for {vg_seconds:.0f} s against virtarrowd under valgrind")
        vd = ValgrindDaemon().start()
        try:
            started = time.monotonic()
            result = load.run_load(vd, vg_seconds)
            report = vd.finish()
        finally:
            vd.stop()
        print(f"# valgrind run took {time.monotonic() - started:.0f} s; errors: {len(result['errors'])}")
        for line in summary(report):
            print(f"# {line}")
        m = re.search(r"ERROR SUMMARY: (\d+) errors", report)
        failed |= not m or int(m.group(1)) != 0
    print("FAILED" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

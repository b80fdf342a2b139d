"""`arrow run` benchmark: time from starting `arrow run -- PROGRAM` to the
first byte of the application's output on arrow's stdout (and to arrow's
exit), median of several runs against a private virtarrowd, printed beside
the same program run natively; the ratio is the figure to watch.

Run from the build tree: ./run /usr/bin/python3 ../bench/arrow_run.py [RUNS]"""

import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "lib"))
from arrowtest import ARROW  # noqa: E402
from daemon import Daemon  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
PROGRAMS = [["/bin/echo", "hello"], ["/usr/bin/python3", "-c", "print('hello')"]]


def first_byte(argv):
    """(seconds to the first output byte, seconds to the exit)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.read(1)
    t_first = time.monotonic() - t0
    p.communicate()
    t_exit = time.monotonic() - t0
    if not first or p.returncode != 0:
        raise SystemExit(f"{argv[-2:]} failed (status {p.returncode})")
    return t_first, t_exit


def median_of(argv):
    runs = [first_byte(argv) for _ in range(RUNS)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def main():
    d = Daemon(prefix="arrow-bench-").start()
    try:
        subprocess.run([ARROW, "-c", d.uri, "run", "--rm", "--", "/bin/true"], check=True)  # warm the caches
        print(f"arrow run: time to the first output byte and to the exit, median of {RUNS} runs "
              f"(load average {os.getloadavg()[0]:.1f})")
        print(f"{'program':36} {'native':>10} {'arrow run':>10} {'ratio':>8} {'exit':>8}")
        for prog in PROGRAMS:
            nat_first, _ = median_of(prog)
            arr_first, arr_exit = median_of([ARROW, "-c", d.uri, "run", "--rm", "--", *prog])
            print(f"{' '.join(prog):36} {nat_first * 1000:8.1f}ms {arr_first * 1000:8.0f}ms "
                  f"{arr_first / nat_first:7.0f}x {arr_exit * 1000:6.0f}ms")
    finally:
        d.stop()


main()

#!/usr/bin/python3
"""Load on virtarrowd (issue 5, item 8), the short run: loadgen.CLIENTS
libvirt-python clients for ARROW_LOAD_SECONDS (default 20) while two Arrows
start and are destroyed in a loop, against a real virtarrowd on a private
--root with real QEMU; what is asserted, and why the slack, is in
tests/lib/loadgen.py. bench/load.py is the long run, with valgrind."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import loadgen  # noqa: E402

if __name__ == "__main__":
    problems = loadgen.run_checked(float(os.environ.get("ARROW_LOAD_SECONDS", "20")))
    print("PASS" if not problems else "FAILED")
    sys.exit(1 if problems else 0)

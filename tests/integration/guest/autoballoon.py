#!/usr/bin/python3
"""AutoBalloon with stock virsh: an Arrow whose XML says
<arrow:autoballoon state='on'/> (virtarrowd.conf leaves it off) has its
balloon inflated while it idles, within 30 s of its application starting,
to what the guest uses plus the margin (dommemstat: actual well under
<memory>, usable near the margin); each adjustment is in the Arrow's log. A
burst of allocation right after (three times what the balloon left the
guest) succeeds: the guest reports memory pressure, the daemon deflates,
nothing is killed (no OOM, the application runs on) and dommemstat's actual
grows back. An Arrow without the element keeps its whole <memory>."""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import arrowtest as at  # noqa: E402
from daemon import run_checks  # noqa: E402

T = at.Failures()
MIB = 1024
MEMORY_MIB = 256
SETTLE_S = 30  # the target: an idle Arrow's balloon inflates within 30 s
MARGIN_MIB = 16  # virtarrowd.conf's default margin
AUTOBALLOON = ("  <metadata>\n    <arrow:autoballoon xmlns:arrow='urn:x-arrow:domain:1' state='on'/>\n"
               "  </metadata>\n")
PROGRAM = """
import os, time
def wait(n):
    while not os.path.exists('/sync/' + n): time.sleep(0.1)
def mark(n): open('/sync/' + n, 'w').close()
mark('ready'); wait('go')
b = bytearray(b'x') * (int(open('/sync/go').read()) << 20)
mark('allocated')
time.sleep(3600)
"""


def virsh(d, *args):
    return subprocess.run(["virsh", "-c", d.uri, *args], capture_output=True, text=True, timeout=60)


def memstat(d, name):
    return {k: int(v) for k, v in re.findall(r"^(\S+) (\d+)$", virsh(d, "dommemstat", name).stdout, re.M)}


def create(d, name, sync, metadata):
    xml = at.domain_xml(name, "/usr/bin/python3", args=["-c", PROGRAM], memory_mib=MEMORY_MIB,
                        shares=[{"source": sync, "target": "/sync"}])
    xml = xml.replace("  <memory", metadata + "  <memory", 1)
    return xml


def checks(d):
    sync = os.path.join(d.root, "sync")
    plain_sync = os.path.join(d.root, "plain-sync")
    os.makedirs(sync)
    os.makedirs(plain_sync)
    for name, s, meta in (("auto", sync, AUTOBALLOON), ("plain", plain_sync, "")):
        r = virsh(d, "create", at.write_temp(create(d, name, s, meta), dir=d.root))
        T.check(r.returncode == 0, f"{name}: virsh create: {r.stderr.strip()}")
    at.wait_for(lambda: os.path.exists(os.path.join(sync, "ready")), 120, "the application to start")
    started = time.monotonic()

    # Settled: well under <memory>, and the guest's fresh statistics show
    # about the margin available.
    seen = {}

    def settled():
        s = memstat(d, "auto")
        seen.update(s)
        return s if (s.get("actual", MEMORY_MIB * MIB) < MEMORY_MIB * MIB // 2 and
                     MARGIN_MIB * MIB // 2 <= s.get("usable", 0) <= 3 * MARGIN_MIB * MIB) else None
    try:
        stats = at.wait_for(settled, SETTLE_S, f"AutoBalloon to settle the idle Arrow within {SETTLE_S} s "
                            f"(to what it uses plus {MARGIN_MIB} MiB)")
    except AssertionError as e:
        raise AssertionError(f"{e}; last dommemstat: {seen}") from None
    took = time.monotonic() - started
    used = stats["actual"] - stats["usable"]
    print(f"# AutoBalloon: {MEMORY_MIB} MiB -> {stats['actual'] // MIB} MiB in {took:.1f} s (target: within "
          f"{SETTLE_S} s); the guest uses {used // MIB} MiB, {stats['usable'] // MIB} MiB available (margin "
          f"{MARGIN_MIB} MiB; TCG)")
    log = at.read_text(os.path.join(d.root, "log", "auto.log"))
    T.check("AutoBalloon: the guest uses" in log, "the adjustment is in the Arrow's log")

    # A burst of three times what the balloon left the guest, right away (the
    # size goes in the file that starts it).
    burst = 3 * stats["actual"] // MIB
    with open(os.path.join(sync, "size"), "w") as f:
        f.write(str(burst))
    os.rename(os.path.join(sync, "size"), os.path.join(sync, "go"))
    at.wait_for(lambda: os.path.exists(os.path.join(sync, "allocated")), 120,
                f"the burst of {burst} MiB to succeed")
    after = memstat(d, "auto")
    T.check(after.get("actual", 0) >= burst * MIB, f"the balloon deflated for the burst: {after}")
    T.check(virsh(d, "domstate", "auto").stdout.strip() == "running", "the Arrow runs on")
    log = at.read_text(os.path.join(d.root, "log", "auto.log"))
    killed = [line for line in log.splitlines() if "out of memory" in line.lower() or "killed process" in line.lower()]
    T.check(not killed, f"nothing was killed for want of memory: {killed}")
    print("# " + "\n# ".join(line for line in log.splitlines() if "balloon target" in line))

    plain = memstat(d, "plain")
    T.equal(plain.get("actual"), MEMORY_MIB * MIB, "an Arrow without <arrow:autoballoon> keeps its <memory>")
    virsh(d, "destroy", "auto")
    virsh(d, "destroy", "plain")


if __name__ == "__main__":
    run_checks(T, checks, prefix="arrow-autoballoon-")

"""virt-install (virtinst 4.1) against a private virtarrowd: it creates an
Arrow from its LXC-style --boot init options, makes it persistent, and its
automatic text console (it forks `virsh console` on a terminal) shows the
application's output until the application ends."""

import os
import shutil
import subprocess
import sys

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
from arrowtest import Failures  # noqa: E402
from daemon import Daemon  # noqa: E402

if not shutil.which("virt-install") or not shutil.which("script"):
    print("SKIP: virt-install or script (util-linux) missing")
    sys.exit(77)

T = Failures()
d = Daemon().start()
try:
    marker = "hi-from-virt-install"
    cmd = (f"virt-install --connect '{d.uri}' --name vi1 --memory 128 --network none "
           f"--boot init=/bin/sh,initarg0=-c,initarg1='sleep 1; echo {marker}; sleep 1'")
    # script(1) gives virt-install the terminal its automatic console needs.
    log = os.path.join(d.root, "typescript")
    p = subprocess.run(["script", "-qec", cmd, log], stdin=subprocess.DEVNULL, capture_output=True, timeout=180)
    with open(log, "rb") as f:
        out = f.read().decode("utf-8", "replace").replace("\r", "")
    T.equal(p.returncode, 0, "virt-install exits 0")
    T.check("Running text console command" in out, "virt-install attaches its automatic text console")
    T.check(f"\n{marker}\n" in out, "the console shows the application's output")
    T.check("Domain creation completed" in out, "virt-install reports the domain created")
    conn = libvirt.open(d.uri)
    dom = conn.lookupByName("vi1")
    T.check(dom.isPersistent() == 1, "virt-install's define made the Arrow persistent")
    T.equal(dom.state()[0], libvirt.VIR_DOMAIN_SHUTOFF, "the Arrow is shut off once its application ended")
    T.check("<init>/bin/sh</init>" in dom.XMLDesc(0), "the --boot init options became <init>")
    dom.undefine()
    conn.close()
finally:
    d.stop()
T.finish()

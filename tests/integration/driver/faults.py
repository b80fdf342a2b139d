#!/usr/bin/python3
"""Guest and QEMU faults (issue 5, item 4): each gives a clear libvirt error
or a STOPPED/FAILED event, the Arrow's log says why, and nothing is left
behind (no sockets, pid file, status file, temporary file or QEMU).

Cases: a bad <emulator> path, a host port already in use for a port forward
(bound by the test first), a missing <kernel>, a missing share directory,
and a guest that never boots (a kernel image whose compressed payload is
corrupt: QEMU runs, the decompressor halts) stopped by the boot watchdog,
here with ARROW_BOOT_TIMEOUT=8. QEMU killed from the host is covered by
tests/integration/guest/anotify_events.py (test_qemu_killed: STOPPED/FAILED)."""

import glob
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import libvirt  # noqa: E402

from arrowtest import KERNEL_DIR, Failures, wait_for  # noqa: E402
from daemon import Daemon, qemu_processes  # noqa: E402
from virsh_events import VirshEvents  # noqa: E402

libvirt.registerErrorHandler(lambda ctx, err: None, None)
BOOT_TIMEOUT = 8


def xml(name, devices="", os_extra=""):
    return (f"<domain type='arrow'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            f"<os><type arch='x86_64' machine='microvm'>exe</type><init>/usr/bin/true</init>{os_extra}</os>"
            f"<devices>{devices}</devices></domain>")


def leftovers(d, name):
    """What the failed Arrow NAME left behind, as a list of descriptions."""
    found = []
    run = os.path.join(d.root, "run")
    for path in [os.path.join(run, name), os.path.join(run, name + ".xml")]:
        if os.path.exists(path):
            found.append(path)
    found += glob.glob(os.path.join(d.root, "*", "*.tmp-*"))
    found += [f"/proc/{pid}" for pid in qemu_processes(d.root).get(name, [])]
    return found


def start_fails(t, d, conn, name, xml_text, message, log_pattern):
    """Starting XML_TEXT fails with an error matching MESSAGE, the log
    matches LOG_PATTERN, nothing is left and the Arrow is shut off."""
    dom = conn.defineXML(xml_text)
    try:
        dom.create()
        t.check(False, f"{name}: start refused")
    except libvirt.libvirtError as e:
        t.check(re.search(message, e.get_error_message()) is not None,
                f"{name}: start refused with a clear error: {e.get_error_message()}")
    t.equal(dom.state()[0], libvirt.VIR_DOMAIN_SHUTOFF, f"{name}: shut off")
    t.check(re.search(log_pattern, d.app_log(name)) is not None, f"{name}: the log says why")
    wait_for(lambda: not leftovers(d, name), 10, f"{name} cleaned up")
    t.equal(leftovers(d, name), [], f"{name}: no socket, pid file, status file, temp file or QEMU left")
    dom.undefine()


def corrupt_kernel(path):
    """A copy of the Arrow kernel with its compressed payload zeroed in the
    middle: QEMU loads it, the guest's decompressor fails and halts."""
    src = os.path.join(KERNEL_DIR, "bzImage")
    with open(src, "rb") as f:
        data = bytearray(f.read())
    mid = len(data) // 2
    data[mid:mid + 65536] = bytes(65536)
    with open(path, "wb") as f:
        f.write(data)


def main():
    t = Failures()
    os.environ["ARROW_BOOT_TIMEOUT"] = str(BOOT_TIMEOUT)
    d = Daemon("arrow-faults-").start()
    conn = d.conn

    start_fails(t, d, conn, "bademu", xml("bademu", "<emulator>/nonexistent/qemu-system-x86_64</emulator>"),
                r"/nonexistent/qemu-system-x86_64", r"cannot start Arrow 'bademu'.*/nonexistent/qemu")
    start_fails(t, d, conn, "nokernel", xml("nokernel", os_extra="<kernel>/nonexistent/bzImage</kernel>"),
                r"/nonexistent/bzImage", r"/nonexistent/bzImage")
    start_fails(t, d, conn, "noshare",
                xml("noshare", "<filesystem type='mount' accessmode='passthrough'><source dir='/nonexistent/share'/>"
                               "<target dir='/data'/></filesystem>"),
                r"/nonexistent/share", r"/nonexistent/share")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        start_fails(t, d, conn, "busyport",
                    xml("busyport", f"<interface type='user'><portForward proto='tcp' address='127.0.0.1'>"
                                    f"<range start='{port}' to='8000'/></portForward></interface>"),
                    rf"{port}|forward", rf"{port}")

    # A guest that never boots: the start succeeds (QEMU runs), then the
    # watchdog stops it as failed.
    kernel = os.path.join(d.root, "corrupt-bzImage")
    corrupt_kernel(kernel)
    events = VirshEvents(d.uri)
    dom = conn.defineXML(xml("noboot", os_extra=f"<kernel>{kernel}</kernel>"))
    begin = time.monotonic()
    dom.create()
    t.equal(dom.state()[0], libvirt.VIR_DOMAIN_RUNNING, "noboot: QEMU runs at first")
    events.wait("noboot", "Stopped Failed", BOOT_TIMEOUT + 30)
    took = time.monotonic() - begin
    t.check(BOOT_TIMEOUT - 1 <= took <= BOOT_TIMEOUT + 20, f"noboot: Stopped Failed after the boot timeout ({took:.1f} s)")
    t.equal(dom.state(), [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_FAILED], "noboot: shut off (failed)")
    t.check(f"did not boot within {BOOT_TIMEOUT} s" in d.app_log("noboot"), "noboot: the log says why")
    wait_for(lambda: not leftovers(d, "noboot"), 10, "noboot cleaned up")
    t.equal(leftovers(d, "noboot"), [], "noboot: nothing left")
    events.stop()
    dom.undefine()

    # The daemon still serves after all this.
    t.equal(conn.listAllDomains(), [], "the daemon serves on, with no Arrow left")
    d.stop()
    t.finish()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The guest agent: ainit answers the QEMU guest agent protocol on the
channel org.qemu.guest_agent.0, and libvirt's agent commands work unchanged
with stock virsh against a real virtarrowd, real QEMU (TCG) and kernel.

Checked: `virsh domhostname` is the Arrow's name (ainit set it); `virsh
domtime` is the host's time within a minute, `domtime --time T` sets the
guest's clock (read back within 30 s of T), `domtime --sync` brings it back
to the host's; `virsh domifaddr --source agent` lists lo 127.0.0.1/8 and
eth0 10.0.2.15/24 with the XML's MAC; `virsh domfsinfo` lists the shares
(/usr and the XML's, type 9p); `virsh guestinfo` gives the host name, OS
(os.id arrow), no users, the file systems and interfaces; the agent
channel's live XML says state='connected' (ainit holds the port);
read-only connections are refused; an Arrow without the channel gets
libvirt's "QEMU guest agent is not configured". A silent agent (the Arrow
suspended: its vCPUs stopped; or another host client holding the channel's
socket, which QEMU serves one at a time) costs the call a clear "Guest agent
is not responding" within the timeout, never a hang, while the daemon
answers other calls at once; the agent answers again once resumed."""

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import socket

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))

from arrowtest import Failures, domain_xml, remove_tree, run_client, wait_for  # noqa: E402
from daemon import run_checks  # noqa: E402

BOOT = 180
NAME = "agented"
MAC = "52:54:00:aa:bb:cc"
AGENT = "org.qemu.guest_agent.0"
TIMEOUT = 10  # the daemon's agent timeout, per command (arrow_driver_agent.cc)


def virsh(d, *args, readonly=False, timeout=60):
    return run_client(["virsh", "-c", d.uri_ro if readonly else d.uri, *args], timeout=timeout)


def guest_time(d):
    rc, out = virsh(d, "domtime", NAME)
    m = re.search(r"Time:\s*(\d+)", out)
    return int(m.group(1)) if rc == 0 and m else None


def body(t, d, tmp):
    share = os.path.join(tmp, "data")
    os.makedirs(share)
    agent_path = os.path.join(tmp, "agent.sock")
    devices = (f"    <interface type='user'><mac address='{MAC}'/></interface>\n"
               f"    <channel type='unix'><source mode='bind' path='{agent_path}'/>"
               f"<target type='virtio' name='{AGENT}'/></channel>")
    xml = domain_xml(NAME, "/bin/sh", args=["-c", "echo app-up; exec sleep 100000"], memory_mib=96,
                     shares=[{"source": share, "target": "/data"}], devices=devices)
    dom = d.conn.defineXML(xml)
    dom.create()
    wait_for(lambda: "app-up" in d.app_log(NAME), BOOT, "the application")
    wait_for(lambda: f"name='{AGENT}' state='connected'" in dom.XMLDesc(0), 30, "the agent port opened")
    t.check(True, "live XML: the agent channel is state='connected'")

    rc, out = virsh(d, "domhostname", NAME)
    t.check(rc == 0 and out.strip() == NAME, "virsh domhostname: the Arrow's name", out)

    now = time.time()
    gt = guest_time(d)
    t.check(gt is not None and abs(gt - now) < 60, "virsh domtime: the host's time within a minute", f"{gt} vs {now}")
    rc, out = virsh(d, "domtime", NAME, "--time", "1000000000")
    gt = guest_time(d)
    t.check(rc == 0 and gt is not None and 1000000000 <= gt < 1000000030, "virsh domtime --time sets the clock",
            f"{out} {gt}")
    rc, out = virsh(d, "domtime", NAME, "--sync")
    gt = guest_time(d)
    t.check(rc == 0 and gt is not None and abs(gt - time.time()) < 30, "virsh domtime --sync: the host's time again",
            f"{out} {gt}")

    rc, out = virsh(d, "domifaddr", NAME, "--source", "agent")
    t.check(rc == 0 and re.search(r"lo\s+00:00:00:00:00:00\s+ipv4\s+127\.0\.0\.1/8", out)
            and re.search(rf"eth0\s+{MAC}\s+ipv4\s+10\.0\.2\.15/24", out),
            "virsh domifaddr --source agent: lo and eth0 with their addresses", out)
    rc, out = virsh(d, "domfsinfo", NAME)
    t.check(rc == 0 and re.search(r"/usr\s+share\d\s+9p", out) and re.search(r"/data\s+share\d\s+9p", out),
            "virsh domfsinfo: the shares", out)
    rc, out = virsh(d, "guestinfo", NAME)
    t.check(rc == 0 and re.search(rf"hostname\s*:\s*{NAME}", out) and re.search(r"os\.id\s*:\s*arrow", out)
            and re.search(r"user\.count\s*:\s*0", out) and re.search(r"fs\.count\s*:\s*2", out)
            and re.search(r"if\.\d\.addr\.0\.addr\s*:\s*10\.0\.2\.15", out),
            "virsh guestinfo: host name, OS, users, file systems, interfaces", out)

    rc, out = virsh(d, "domifaddr", NAME, "--source", "agent", readonly=True)
    t.check(rc != 0 and "read only access prevents virDomainInterfaceAddresses" in out,
            "read-only: domifaddr --source agent is refused", out)
    rc, out = virsh(d, "domhostname", NAME, readonly=True)
    t.check(rc != 0 and "read only access prevents" in out, "read-only: domhostname is refused", out)

    rc, out = virsh(d, "domstats", NAME, "--state")
    t.check(rc == 0 and "arrow.agent.connected=yes" in out and "arrow.agent.answered=yes" in out
            and re.search(r"arrow\.agent\.last_answer=\d{13}", out),
            "virsh domstats: the agent connected, its last answer", out)

    # Silent agent 1: the Arrow is paused.
    dom.suspend()
    t0 = time.monotonic()
    result = {}
    caller = threading.Thread(target=lambda: result.update(r=virsh(d, "domtime", NAME, timeout=120)))
    caller.start()
    time.sleep(1)
    t1 = time.monotonic()
    rc_list, _ = virsh(d, "list", "--all")
    served = time.monotonic() - t1
    caller.join()
    took = time.monotonic() - t0
    rc, out = result["r"]
    t.check(rc != 0 and "Guest agent is not responding" in out and took < 3 * TIMEOUT + 15,
            "a paused Arrow's agent: a clear timeout error, no hang", f"{took:.1f} s: {out}")
    t.check(rc_list == 0 and served < 8, "the daemon answered other calls meanwhile", f"{served:.1f} s")
    rc, out = virsh(d, "domstats", NAME, "--state")
    t.check("arrow.agent.answered=no" in out, "virsh domstats: the last command got no answer", out)
    # Silent agent 2: another host client took the channel's socket while
    # the daemon had none open (its timeout dropped its connection): QEMU
    # serves one client at a time, so the daemon's waits unanswered.
    holder = socket.socket(socket.AF_UNIX)
    holder.connect(agent_path)
    dom.resume()
    time.sleep(1)
    t0 = time.monotonic()
    rc, out = virsh(d, "domhostname", NAME, timeout=120)
    took = time.monotonic() - t0
    t.check(rc != 0 and "Guest agent is not responding" in out, "an agent channel held by another client: timeout",
            f"{took:.1f} s: {out}")
    holder.close()
    wait_for(lambda: virsh(d, "domhostname", NAME)[1].strip() == NAME, 60, "the agent once the holder left")
    t.check(True, "the agent answers again once resumed and the other client left")
    dom.destroy()

    plain = d.conn.defineXML(domain_xml("no-agent", "/bin/sh", args=["-c", "exec sleep 100000"], memory_mib=64))
    plain.create()
    rc, out = virsh(d, "domtime", "no-agent")
    t.check(rc != 0 and "QEMU guest agent is not configured" in out, "no agent channel: libvirt's words", out)
    plain.destroy()


def main():
    t = Failures()
    tmp = tempfile.mkdtemp(prefix="arrow-agent-")
    try:
        run_checks(t, lambda d: body(t, d, tmp))
    finally:
        remove_tree(tmp)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""<interface type='bridge'>: two Arrows on one host bridge reach each other,
and the host reaches them. Everything happens inside a network namespace
this test creates (with its own bridge br0) and removes, so no traffic and
no interface ever touches the host's own network. Also what virsh shows of
the bridge interface: domifstat and domstats counters, domifaddr (lease and arp). Needs root (TAP devices
and namespaces); skips with 77 otherwise or when `ip netns` is missing."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import apptest  # noqa: E402
from arrowtest import SKIP, Failures, domain_xml, wait_for  # noqa: E402
from daemon import Daemon  # noqa: E402

NS = f"arrowtest-{os.getpid()}"
PAGE = "<h1>arrow B over the bridge</h1>\n"
BUSYBOX = "/usr/bin/busybox"


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=30)


def in_ns(*argv, timeout=30):
    return subprocess.run(["ip", "netns", "exec", NS, *argv], capture_output=True, text=True, timeout=timeout)


def bridge_xml(name, address, init, args, shares=()):
    """A domain with one bridge interface on br0 at ADDRESS/24, gateway the host side."""
    iface = ("    <interface type='bridge'><source bridge='br0'/>"
             f"<ip address='{address}' prefix='24'/><route gateway='10.77.0.1'/></interface>")
    return domain_xml(name, init, args=args, shares=shares, devices=iface)


def destroy_all(daemon):
    """Destroys the Arrows still running, so their TAP devices go first."""
    try:
        for dom in daemon.conn.listAllDomains():
            if dom.isActive():
                dom.destroy()
    except Exception:
        pass


def make_namespace():
    ip("netns", "add", NS)
    for cmd in (["link", "add", "br0", "type", "bridge"], ["addr", "add", "10.77.0.1/24", "dev", "br0"],
                ["link", "set", "br0", "up"], ["link", "set", "lo", "up"]):
        r = in_ns("ip", *cmd)
        if r.returncode != 0:
            raise AssertionError(f"ip {' '.join(cmd)} in {NS}: {r.stderr.strip()}")


def check_missing_bridge(daemon, checks):
    import libvirt
    xml = bridge_xml("bridge-missing", "10.77.0.9", BUSYBOX, ["true"]).replace("'br0'", "'nosuchbr9'")
    try:
        daemon.conn.createXML(xml, 0).destroy()
        code, msg = None, "started"
    except libvirt.libvirtError as e:
        code, msg = e.get_error_code(), str(e)
    checks.check(code == libvirt.VIR_ERR_OPERATION_FAILED and "'nosuchbr9'" in msg,
                 "a missing bridge is an OPERATION_FAILED error naming it", msg)
    leaked = in_ns("ip", "-o", "link", "show", "type", "tun").stdout.strip()
    checks.check(leaked == "", "no TAP device is left behind", leaked)


def check_counters_and_addresses(daemon, checks):
    """After the host fetched B's page: virsh domifstat shows the traffic (the
    TAP's counters, from the guest's side), domifaddr B's configured address
    (source lease) and what the host's neighbour table learnt (source arp)."""
    def virsh(*args):
        return subprocess.run(["virsh", "-c", daemon.uri, *args], capture_output=True, text=True, timeout=60)
    xml = virsh("dumpxml", "bridge-b").stdout
    mac = re.search(r"<mac address='([0-9a-f:]+)'", xml).group(1)
    r = virsh("domifstat", "bridge-b", mac)
    stats = dict(re.findall(r"^\S+ (rx_bytes|tx_bytes|rx_packets|tx_packets) (\d+)$", r.stdout, re.M))
    checks.check(r.returncode == 0 and int(stats.get("rx_bytes", 0)) > 0 and int(stats.get("tx_bytes", 0)) > len(PAGE),
                 "virsh domifstat: B received the request and sent the page", r.stdout + r.stderr)
    r = virsh("domifaddr", "bridge-b")
    tap = re.search(rf"^\s*(\S+)\s+{mac}\s+ipv4\s+10\.77\.0\.3/24$", r.stdout, re.M)
    checks.check(tap is not None, "virsh domifaddr: B's configured address on its TAP", r.stdout + r.stderr)
    if tap:
        r = virsh("domifstat", "bridge-b", tap.group(1))
        checks.check(r.returncode == 0 and "rx_bytes" in r.stdout, "virsh domifstat by the TAP's name", r.stderr)
    r = virsh("domstats", "--interface", "bridge-b")
    rx = re.search(r"net\.0\.rx\.bytes=(\d+)", r.stdout)
    checks.check("net.count=1" in r.stdout and rx is not None and int(rx.group(1)) > 0,
                 "virsh domstats --interface: the TAP's counters", r.stdout + r.stderr)
    r = virsh("domifaddr", "bridge-b", "--source", "arp")
    checks.check(re.search(rf"{mac}\s+ipv4\s+10\.77\.0\.3/0", r.stdout) is not None,
                 "virsh domifaddr --source arp: the host's neighbour entry for B", r.stdout + r.stderr)


def run(daemon, work, checks):
    check_missing_bridge(daemon, checks)
    www = os.path.join(work, "www")
    os.makedirs(www)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write(PAGE)
    b = daemon.conn.createXML(bridge_xml("bridge-b", "10.77.0.3", BUSYBOX,
                                         ["httpd", "-f", "-p", "80", "-h", "/srv/www"],
                                         [dict(source=www, target="/srv/www", readonly=True)]), 0)
    t0 = time.monotonic()

    def host_gets_page():
        r = in_ns("curl", "-s", "--max-time", "3", "http://10.77.0.3/index.html", timeout=10)
        return r.returncode == 0 and r.stdout == PAGE
    try:
        apptest.wait_ready(host_gets_page, "B to answer curl on 10.77.0.3 inside the namespace")
        checks.check(True, f"host (in the namespace) gets B's page over br0 after {time.monotonic() - t0:.1f} s")
    except AssertionError as e:
        checks.check(False, "host (in the namespace) gets B's page over br0", f"{e}\n{daemon.app_log('bridge-b')}")
        return
    check_counters_and_addresses(daemon, checks)
    # A asks B, retrying while B might still be starting, then reports wget's status.
    script = ("i=0; until busybox wget -q -O - http://10.77.0.3/index.html; do s=$?; i=$((i+1)); "
              "if [ $i -ge 20 ]; then echo wget-status=$s; exit 1; fi; sleep 1; done; echo wget-status=0")
    a = daemon.conn.createXML(bridge_xml("bridge-a", "10.77.0.2", BUSYBOX, ["sh", "-c", script]), 0)
    try:
        apptest.wait_ready(lambda: "wget-status=" in daemon.app_log("bridge-a"), "A's wget to finish")
    except AssertionError as e:
        checks.check(False, "A's wget finishes", f"{e}\n{daemon.app_log('bridge-a')}")
        return
    log = daemon.app_log("bridge-a")
    checks.check("wget-status=0" in log and PAGE.strip() in log,
                 "Arrow A (10.77.0.2) gets Arrow B's page (10.77.0.3) over br0, wget exits 0", log[-2000:])
    checks.check(b.isActive(), "B still runs")

    def a_gone():
        try:
            return not a.isActive()
        except Exception:  # a transient Arrow is undefined once it stops
            return True
    wait_for(a_gone, 60, "A to power off after its application exits")
    checks.check(True, "A powers off after its application exits")


def main():
    if os.geteuid() != 0:
        print("SKIP: bridge networking needs root (TAP devices, network namespaces)")
        return SKIP
    if not shutil.which("ip") or ip("netns", "list", check=False).returncode != 0:
        print("SKIP: `ip netns` is unavailable")
        return SKIP
    missing = [p for p in (BUSYBOX, "/usr/bin/curl") if not os.path.exists(p)]
    if missing:
        print(f"SKIP: missing {', '.join(missing)}")
        return SKIP
    checks = Failures()
    work = tempfile.mkdtemp(prefix="arrow-bridge-work-")
    daemon = None
    try:
        make_namespace()
        daemon = Daemon(prefix="arrow-bridge-", args=(), wrapper=["ip", "netns", "exec", NS]).start()
        run(daemon, work, checks)
    except AssertionError as e:
        checks.check(False, "bridge test ran", str(e) + ("\n" + daemon.log_tail() if daemon else ""))
    finally:
        if daemon:
            destroy_all(daemon)
            daemon.stop()
        ip("netns", "del", NS, check=False)
        shutil.rmtree(work, ignore_errors=True)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())

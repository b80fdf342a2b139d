#!/usr/bin/python3
"""<interface type='bridge'>: two Arrows on one host bridge reach each other,
and the host reaches them. Everything happens inside a network namespace
this test creates (with its own bridge br0) and removes, so no traffic and
no interface ever touches the host's own network. Needs root (TAP devices
and namespaces); skips with 77 otherwise or when `ip netns` is missing."""

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import apptest  # noqa: E402  (domain XML pieces, wait_for, Checks)

NS = f"arrowtest-{os.getpid()}"
PAGE = "<h1>arrow B over the bridge</h1>\n"
BUSYBOX = "/usr/bin/busybox"


def ip(*args, check=True):
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=30)


def in_ns(*argv, timeout=30):
    return subprocess.run(["ip", "netns", "exec", NS, *argv], capture_output=True, text=True, timeout=timeout)


def bridge_xml(name, address, init, args, shares=()):
    """A domain with one bridge interface on br0 at ADDRESS/24, gateway the host side."""
    xml = apptest.domain_xml(name, init, args=args, shares=shares)
    iface = ("<interface type='bridge'><source bridge='br0'/>"
             f"<ip address='{address}' prefix='24'/><route gateway='10.77.0.1'/></interface>")
    return xml.replace("    <console type='pty'/>", f"    {iface}\n    <console type='pty'/>")


class NsDaemon:
    """A private virtarrowd started inside NS; its unix socket (not
    namespaced) is reached from here. close() stops it and its QEMUs."""

    def __init__(self):
        import libvirt
        libvirt.registerErrorHandler(lambda ctx, err: None, None)
        self.root = tempfile.mkdtemp(prefix="arrow-bridge-")
        self.log = open(os.path.join(self.root, "daemon.log"), "wb")
        self.proc = subprocess.Popen(["ip", "netns", "exec", NS, apptest.DAEMON, "--root", self.root],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        sock = os.path.join(self.root, "virtarrowd-sock")
        apptest.wait_for(lambda: os.path.exists(sock) or self.proc.poll() is not None, 15, "virtarrowd's socket")
        if self.proc.poll() is not None:
            raise AssertionError(f"virtarrowd exited with {self.proc.returncode}")
        self.conn = libvirt.open(f"arrow+unix:///system?socket={sock}")

    def app_log(self, name):
        for path in glob.glob(os.path.join(self.root, "**", f"{name}.log"), recursive=True):
            with open(path, errors="replace") as f:
                return f.read()
        return ""

    def log_tail(self):
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()[-2000:]

    def close(self):
        pids = []
        for pidfile in glob.glob(os.path.join(self.root, "run", "*", "qemu.pid")):
            try:
                with open(pidfile) as f:
                    pids.append(int(f.read().strip()))
            except (OSError, ValueError):
                pass
        try:
            for dom in self.conn.listAllDomains():
                if dom.isActive():
                    dom.destroy()
            self.conn.close()
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        if not os.environ.get("ARROW_KEEP_TEST_ROOT"):
            shutil.rmtree(self.root, ignore_errors=True)


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
        apptest.wait_for(host_gets_page, apptest.READY_TIMEOUT, "B to answer curl on 10.77.0.3 inside the namespace")
        checks.check(True, f"host (in the namespace) gets B's page over br0 after {time.monotonic() - t0:.1f} s")
    except AssertionError as e:
        checks.check(False, "host (in the namespace) gets B's page over br0", f"{e}\n{daemon.app_log('bridge-b')}")
        return
    # A asks B, retrying while B might still be starting, then reports wget's status.
    script = ("i=0; until busybox wget -q -O - http://10.77.0.3/index.html; do s=$?; i=$((i+1)); "
              "if [ $i -ge 20 ]; then echo wget-status=$s; exit 1; fi; sleep 1; done; echo wget-status=0")
    a = daemon.conn.createXML(bridge_xml("bridge-a", "10.77.0.2", BUSYBOX, ["sh", "-c", script]), 0)
    try:
        apptest.wait_for(lambda: "wget-status=" in daemon.app_log("bridge-a"), apptest.READY_TIMEOUT,
                         "A's wget to finish")
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
    apptest.wait_for(a_gone, 60, "A to power off after its application exits")
    checks.check(True, "A powers off after its application exits")


def main():
    if os.geteuid() != 0:
        print("SKIP: bridge networking needs root (TAP devices, network namespaces)")
        return apptest.SKIP
    if not shutil.which("ip") or ip("netns", "list", check=False).returncode != 0:
        print("SKIP: `ip netns` is unavailable")
        return apptest.SKIP
    missing = [p for p in (BUSYBOX, "/usr/bin/curl") if not os.path.exists(p)]
    if missing:
        print(f"SKIP: missing {', '.join(missing)}")
        return apptest.SKIP
    checks = apptest.Checks()
    work = tempfile.mkdtemp(prefix="arrow-bridge-work-")
    daemon = None
    try:
        make_namespace()
        daemon = NsDaemon()
        run(daemon, work, checks)
    except AssertionError as e:
        checks.check(False, "bridge test ran", str(e) + ("\n" + daemon.log_tail() if daemon else ""))
    finally:
        if daemon:
            daemon.close()
        ip("netns", "del", NS, check=False)
        shutil.rmtree(work, ignore_errors=True)
    print(f"# {checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())

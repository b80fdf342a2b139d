#!/usr/bin/python3
"""Integration test of the Arrow driver: a real virtarrowd on a private --root,
stock virsh and libvirt-python, real QEMU and the single-task kernel.

Covers define -> list -> start -> curl through the port forward -> dominfo /
domstate -> suspend / resume -> shutdown (reason shutdown) -> start (new id)
-> destroy -> undefine; a transient Arrow (create -> destroy -> gone); reboot
keeping the id; an application that exits by itself; the lifecycle events a
client receives; and the error paths (start twice, missing name, bad XML,
undefine transient, destroy shut off). Every test stops its daemon and any
QEMU it left, even on failure."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import libvirt

BUILDDIR = os.environ.get("ARROW_BUILDDIR", os.getcwd())
DAEMON = os.path.join(BUILDDIR, "driver", "daemon", "virtarrowd")
BOOT_TIMEOUT = 60  # seconds; python3 from a 9p /usr under TCG takes ~10 s

# libvirt-python's event loop, started once for the whole run.
libvirt.virEventRegisterDefaultImpl()


def _event_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=_event_loop, daemon=True).start()
libvirt.registerErrorHandler(lambda ctx, err: None, None)  # errors are asserted, not printed


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def arrow_xml(name, init, args=(), port=None, extra=""):
    initargs = "".join(f"<initarg>{a}</initarg>" for a in args)
    forward = ""
    if port:
        forward = (f"<interface type='user'><portForward proto='tcp' address='127.0.0.1'>"
                   f"<range start='{port}' to='8000'/></portForward></interface>")
    return (f"<domain type='arrow'><name>{name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
            f"<os><type arch='x86_64' machine='microvm'>exe</type><init>{init}</init>{initargs}"
            f"<initdir>/tmp</initdir></os>{extra}<devices>{forward}</devices></domain>")


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def http_get(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as r:
            return r.status
    except OSError:
        return None


class DaemonTest(unittest.TestCase):
    """Starts a private virtarrowd per test and tears everything down after."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="arrow-driver-")
        self.log = open(os.path.join(self.root, "daemon.log"), "wb")
        self.daemon = subprocess.Popen([DAEMON, "--root", self.root, "--verbose"],
                                       stdout=self.log, stderr=subprocess.STDOUT)
        self.addCleanup(self.cleanup)
        sock = os.path.join(self.root, "virtarrowd-sock")
        wait_for(lambda: os.path.exists(sock), 10, "the daemon's socket")
        self.uri = f"arrow+unix:///system?socket={sock}"
        self.conn = libvirt.open(self.uri)
        self.events = []
        self.conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         lambda c, d, ev, det, _: self.events.append((d.name(), ev, det)), None)

    def cleanup(self):
        try:
            self.conn.close()
        except Exception:
            pass
        qemu_pids = []
        for pidfile in glob.glob(os.path.join(self.root, "run", "*", "qemu.pid")):
            try:
                with open(pidfile) as f:
                    qemu_pids.append(int(f.read().strip()))
            except (OSError, ValueError):
                pass
        if self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        for pid in qemu_pids:  # whatever the daemon did not take down with it
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        if os.environ.get("ARROW_KEEP_TEST_ROOT"):
            print("kept", self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def virsh(self, *args, check=True):
        r = subprocess.run(["virsh", "-q", "-c", self.uri, *args], capture_output=True, text=True, timeout=60)
        if check:
            self.assertEqual(r.returncode, 0, f"virsh {' '.join(args)}: {r.stderr}")
        return r

    def state(self, name):
        return self.conn.lookupByName(name).state()

    def wait_state(self, name, state, timeout=BOOT_TIMEOUT):
        wait_for(lambda: self.state(name)[0] == state, timeout, f"{name} to reach state {state}")
        return self.state(name)

    def wait_event(self, name, event, detail, timeout=15):
        wait_for(lambda: (name, event, detail) in self.events, timeout, f"event {event}/{detail} for {name}")

    def assert_libvirt_error(self, code, text, fn, *args):
        with self.assertRaises(libvirt.libvirtError) as cm:
            fn(*args)
        self.assertEqual(cm.exception.get_error_code(), code, cm.exception.get_error_message())
        self.assertIn(text, cm.exception.get_error_message())


class LifecycleTest(DaemonTest):
    def test_persistent_lifecycle(self):
        port = free_port()
        xml_path = os.path.join(self.root, "web.xml")
        with open(xml_path, "w") as f:
            f.write(arrow_xml("web", "/usr/bin/python3", ["-m", "http.server", "8000"], port=port))
        self.virsh("define", xml_path)
        self.wait_event("web", libvirt.VIR_DOMAIN_EVENT_DEFINED, libvirt.VIR_DOMAIN_EVENT_DEFINED_ADDED)
        listing = self.virsh("list", "--all").stdout
        self.assertRegex(listing, r"-\s+web\s+shut off")

        self.virsh("start", "web")
        dom = self.conn.lookupByName("web")
        self.assertEqual(dom.ID(), 1)
        self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_BOOTED])
        self.wait_event("web", libvirt.VIR_DOMAIN_EVENT_STARTED, libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED)
        self.assertEqual(wait_for(lambda: http_get(port), BOOT_TIMEOUT, "python http.server"), 200)

        info = self.virsh("dominfo", "web").stdout
        self.assertRegex(info, r"State:\s+running")
        self.assertRegex(info, r"Persistent:\s+yes")
        self.assertRegex(info, r"Id:\s+1")
        self.assertIn("running (booted)", self.virsh("domstate", "--reason", "web").stdout)
        self.assertIn("id='1'", self.virsh("dumpxml", "web").stdout)
        self.assertNotIn("id='1'", self.virsh("dumpxml", "--inactive", "web").stdout)

        self.virsh("suspend", "web")
        self.assertIn("paused (user)", self.virsh("domstate", "--reason", "web").stdout)
        self.wait_event("web", libvirt.VIR_DOMAIN_EVENT_SUSPENDED, libvirt.VIR_DOMAIN_EVENT_SUSPENDED_PAUSED)
        self.virsh("resume", "web")
        self.assertIn("running (unpaused)", self.virsh("domstate", "--reason", "web").stdout)
        self.wait_event("web", libvirt.VIR_DOMAIN_EVENT_RESUMED, libvirt.VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)
        self.assertEqual(wait_for(lambda: http_get(port), 20, "the server after resume"), 200)

        self.virsh("shutdown", "web")
        self.assertEqual(self.wait_state("web", libvirt.VIR_DOMAIN_SHUTOFF, 30),
                         [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN])
        self.wait_event("web", libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN)
        self.assertEqual(self.conn.lookupByName("web").ID(), -1)
        self.assertFalse(os.path.exists(os.path.join(self.root, "run", "web.xml")))

        self.virsh("start", "web")
        self.assertEqual(self.conn.lookupByName("web").ID(), 2)  # a new id per start
        self.assertTrue(os.path.exists(os.path.join(self.root, "run", "web.xml")))
        self.virsh("destroy", "web")
        self.assertEqual(self.state("web"), [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED])
        self.wait_event("web", libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED)

        self.virsh("undefine", "web")
        self.wait_event("web", libvirt.VIR_DOMAIN_EVENT_UNDEFINED, libvirt.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED)
        self.assertNotIn("web", self.virsh("list", "--all").stdout)
        self.assertFalse(os.path.exists(os.path.join(self.root, "config", "web.xml")))

    def test_transient_create_destroy(self):
        dom = self.conn.createXML(arrow_xml("tmp", "/usr/bin/sleep", ["1000"]), 0)
        self.assertGreater(dom.ID(), 0)
        self.assertFalse(dom.isPersistent())
        self.assertTrue(dom.isActive())
        self.assertFalse(os.path.exists(os.path.join(self.root, "config", "tmp.xml")))
        self.assert_libvirt_error(libvirt.VIR_ERR_OPERATION_INVALID, "cannot undefine transient domain",
                                  dom.undefine)
        dom.destroy()
        self.assert_libvirt_error(libvirt.VIR_ERR_NO_DOMAIN, "tmp", self.conn.lookupByName, "tmp")
        self.wait_event("tmp", libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED)
        self.assertEqual(self.conn.listAllDomains(0), [])

    def test_define_over_running_transient(self):
        xml = arrow_xml("vi", "/usr/bin/sleep", ["1000"])
        dom = self.conn.createXML(xml, 0)
        self.conn.defineXML(self.conn.lookupByName("vi").XMLDesc(0))  # what virt-install does
        dom = self.conn.lookupByName("vi")
        self.assertTrue(dom.isPersistent())
        self.assertTrue(dom.isActive())
        dom.destroy()
        self.assertEqual(self.conn.lookupByName("vi").ID(), -1)  # still defined
        dom.undefine()

    def test_reboot_keeps_id(self):
        dom = self.conn.defineXML(arrow_xml("rb", "/usr/bin/sleep", ["1000"]))
        dom.create()
        dom = self.conn.lookupByName("rb")
        first_pid = self._qemu_pid("rb")
        dom.reboot(0)
        wait_for(lambda: self._qemu_pid("rb") not in (None, first_pid), 30, "a new QEMU after reboot")
        self.wait_state("rb", libvirt.VIR_DOMAIN_RUNNING)
        self.assertEqual(self.conn.lookupByName("rb").ID(), dom.ID())
        self.conn.lookupByName("rb").destroy()

    def test_application_exit(self):
        dom = self.conn.defineXML(arrow_xml("once", "/usr/bin/true"))
        dom.create()
        self.assertEqual(self.wait_state("once", libvirt.VIR_DOMAIN_SHUTOFF, 30),
                         [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN])
        self.wait_event("once", libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN)

    def test_error_paths(self):
        dom = self.conn.defineXML(arrow_xml("err", "/usr/bin/sleep", ["1000"]))
        self.assert_libvirt_error(libvirt.VIR_ERR_OPERATION_INVALID, "domain is not running", dom.destroy)
        dom.create()
        self.assert_libvirt_error(libvirt.VIR_ERR_OPERATION_INVALID, "domain is already running", dom.create)
        r = self.virsh("start", "err", check=False)
        self.assertNotEqual(r.returncode, 0)
        # virsh checks the state itself first and words it its own way.
        self.assertRegex(r.stderr, "already (running|active)")
        self.assert_libvirt_error(libvirt.VIR_ERR_NO_DOMAIN, "nosuch", self.conn.lookupByName, "nosuch")
        self.assert_libvirt_error(libvirt.VIR_ERR_XML_ERROR, "", self.conn.defineXML,
                                  "<domain type='arrow'><name>bad</name>")
        with self.assertRaises(libvirt.libvirtError) as cm:
            self.conn.defineXML(arrow_xml("err", "/usr/bin/sleep").replace("<name>err</name>",
                                "<name>err</name><uuid>00000000-0000-4000-8000-000000000001</uuid>"))
        self.assertIn("already exists with uuid", cm.exception.get_error_message())
        dom.destroy()

    def _qemu_pid(self, name):
        try:
            with open(os.path.join(self.root, "run", name, "qemu.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None


if __name__ == "__main__":
    unittest.main(verbosity=2)

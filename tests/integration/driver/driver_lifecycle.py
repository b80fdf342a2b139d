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

import os
import subprocess
import sys
import threading
import unittest

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
from arrowtest import domain_xml, free_port, http_status, wait_for  # noqa: E402
from daemon import Daemon  # noqa: E402

BOOT_TIMEOUT = 60  # seconds; python3 from a 9p /usr under TCG takes ~10 s

# libvirt-python's event loop, started once for the whole run.
libvirt.virEventRegisterDefaultImpl()


def _event_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


threading.Thread(target=_event_loop, daemon=True).start()
libvirt.registerErrorHandler(lambda ctx, err: None, None)  # errors are asserted, not printed


def arrow_xml(name, init, args=(), port=None):
    return domain_xml(name, init, args, initdir="/tmp", forwards=[(port, 8000)] if port else (), console=False)


def http_get(port):
    return http_status(f"http://127.0.0.1:{port}/")


class DaemonTest(unittest.TestCase):
    """Starts a private virtarrowd per test and tears everything down after."""

    def setUp(self):
        self.daemon = Daemon(prefix="arrow-driver-").start()
        self.addCleanup(self.daemon.stop)
        self.root = self.daemon.root
        self.uri = self.daemon.uri
        self.conn = self.daemon.conn
        self.events = []
        self.conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         lambda c, d, ev, det, _: self.events.append((d.name(), ev, det)), None)

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
        first_pid = self.daemon.qemu_pid("rb")
        dom.reboot(0)
        wait_for(lambda: self.daemon.qemu_pid("rb") not in (None, first_pid), 30, "a new QEMU after reboot")
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

if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""virtarrowd's D-Bus objects against the shipped introspection XML
(driver/dbus/org.libvirt.Arrow.xml), on a private dbus-daemon that applies the
shipped policy: the name is owned, the Connect object and an Arrow's object
expose exactly the shipped interfaces, the properties say what libvirt says,
ListDomains lists the Arrow; and with no bus at all the daemon runs on and
says so once. No QEMU is started."""

import os
import sys
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import dbus  # noqa: E402
import libvirt  # noqa: E402

from arrowtest import wait_for  # noqa: E402
from daemon import Daemon  # noqa: E402
from dbus_bus import INTROSPECTION, NAME, PrivateBus, domain_path  # noqa: E402

libvirt.registerErrorHandler(lambda ctx, err: None, None)

XML = ("<domain type='arrow'><name>intro</name><uuid>6f1c2a34-5b6d-4e7f-8091-a2b3c4d5e6f7</uuid>"
       "<memory unit='MiB'>64</memory><os><type arch='x86_64' machine='microvm'>exe</type>"
       "<init>/usr/bin/true</init></os></domain>")
UUID = "6f1c2a34-5b6d-4e7f-8091-a2b3c4d5e6f7"


def interfaces(xml_text):
    """{interface: canonical description} for the org.libvirt.* interfaces."""
    out = {}
    for iface in ET.fromstring(xml_text).findall("interface"):
        name = iface.get("name")
        if not name.startswith("org.libvirt."):
            continue
        members = []
        for m in iface:
            if m.tag == "annotation":
                continue
            args = tuple((a.get("name"), a.get("type"), a.get("direction", "out" if m.tag == "method" else ""))
                         for a in m.findall("arg"))
            members.append((m.tag, m.get("name"), m.get("type"), m.get("access"), args))
        out[name] = sorted(members)
    return out


class IntrospectionTest(unittest.TestCase):
    def setUp(self):
        self.bus = PrivateBus()
        self.addCleanup(self.bus.close)

    def start_daemon(self, address):
        daemon = Daemon(prefix="arrow-dbus-", bus=address).start()
        self.addCleanup(daemon.stop)
        return daemon

    def introspect(self, path):
        obj = self.bus.conn.get_object(NAME, path, introspect=False)
        return str(obj.Introspect(dbus_interface="org.freedesktop.DBus.Introspectable"))

    def test_live_objects_match_shipped_xml(self):
        daemon = self.start_daemon(self.bus.address)
        self.bus.wait_owned()
        conn = daemon.conn
        conn.defineXML(XML)
        with open(INTROSPECTION) as f:
            shipped = interfaces(f.read())

        root = self.introspect("/org/libvirt/Arrow")
        self.assertEqual(interfaces(root), {"org.libvirt.Connect": shipped["org.libvirt.Connect"]})
        self.assertIn('<node name="domain"', root)
        listing = self.introspect("/org/libvirt/Arrow/domain")
        self.assertIn(f'<node name="_{UUID.replace("-", "_")}"', listing)
        path = domain_path(UUID)
        live = interfaces(self.introspect(path))
        self.assertEqual(live, {k: v for k, v in shipped.items() if k != "org.libvirt.Connect"})

        obj = self.bus.conn.get_object(NAME, path, introspect=False)
        props = obj.GetAll("org.libvirt.Domain", dbus_interface="org.freedesktop.DBus.Properties")
        self.assertEqual(str(props["Name"]), "intro")
        self.assertEqual(str(props["UUID"]), UUID)
        self.assertEqual(int(props["Id"]), 0xFFFFFFFF)  # virDomainGetID of an inactive domain
        self.assertFalse(bool(props["Active"]))
        self.assertTrue(bool(props["Persistent"]))
        connect = self.bus.conn.get_object(NAME, "/org/libvirt/Arrow", introspect=False)
        self.assertEqual([str(p) for p in connect.ListDomains(dbus.UInt32(0), dbus_interface="org.libvirt.Connect")], [path])

        # A method on an Arrow that is not running: libvirt's error, as a D-Bus error.
        with self.assertRaises(dbus.DBusException) as cm:
            obj.Destroy(dbus.UInt32(0), dbus_interface="org.libvirt.Domain")
        self.assertEqual(cm.exception.get_dbus_name(), "org.libvirt.Error")
        self.assertIn("not running", cm.exception.get_dbus_message())
        conn.lookupByName("intro").undefine()
        wait_for(lambda: f'_{UUID.replace("-", "_")}' not in self.introspect("/org/libvirt/Arrow/domain"), 5,
                 "the undefined Arrow's object to go")

    def test_no_bus(self):
        daemon = self.start_daemon(f"unix:path={self.bus.dir}/no-such-bus")
        conn = daemon.conn
        conn.defineXML(XML)  # events are published with nobody on D-Bus
        self.assertEqual(len(conn.listAllDomains(0)), 1)
        wait_for(lambda: "no D-Bus bus reachable" in daemon.log_text(), 10, "the log line")
        self.assertEqual(daemon.log_text().count("no D-Bus bus reachable"), 1, daemon.log_text())
        self.assertIsNone(daemon.proc.poll())


if __name__ == "__main__":
    unittest.main(verbosity=2)

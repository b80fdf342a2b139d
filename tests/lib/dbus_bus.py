"""The one private D-Bus bus of the tests: a dbus-daemon on a socket in its
own temporary folder, whose configuration denies owning names except as the
shipped policy (driver/dbus/org.libvirt.Arrow.conf) allows; a private
virtarrowd uses it with Daemon(bus=bus.address). Also a signal recorder
built on python3-dbus with a GLib main loop in a thread."""

import os
import tempfile
import threading
import time

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

from arrowtest import SRCDIR, remove_tree, wait_for
from daemon import Service

POLICY = os.path.join(SRCDIR, "driver", "dbus", "org.libvirt.Arrow.conf")
INTROSPECTION = os.path.join(SRCDIR, "driver", "dbus", "org.libvirt.Arrow.xml")
NAME = "org.libvirt.Arrow"

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
_loop = GLib.MainLoop()
threading.Thread(target=_loop.run, daemon=True).start()

BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow own="org.arrow.test.*"/>
  </policy>
  <include>{policy}</include>
</busconfig>
"""


class PrivateBus(Service):
    """dbus-daemon on DIR/bus (DIR a new temporary folder), with the shipped
    policy included; address names it, conn is a connection to it. Started
    by the constructor; close() stops it and removes DIR."""

    def __init__(self, prefix="arrow-bus-"):
        self.dir = tempfile.mkdtemp(prefix=prefix)
        sock = os.path.join(self.dir, "bus")
        conf = os.path.join(self.dir, "bus.conf")
        with open(conf, "w") as f:
            f.write(BUS_CONF.format(socket=sock, policy=POLICY))
        super().__init__(["dbus-daemon", f"--config-file={conf}", "--nofork"], sock,
                         os.path.join(self.dir, "dbus-daemon.log"))
        self.address = f"unix:path={sock}"
        self.start()
        self.conn = dbus.bus.BusConnection(self.address)

    def wait_owned(self, name=NAME, timeout=10):
        """Waits until NAME has an owner on the bus."""
        wait_for(lambda: self.conn.name_has_owner(name), timeout, f"{name} to be owned", interval=0.05)

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass
        self.stop()
        remove_tree(self.dir)


class SignalRecorder:
    """Every signal org.libvirt.Arrow sends on CONN: (member, path, args),
    with the monotonic time it arrived."""

    def __init__(self, conn):
        self.signals = []
        self._lock = threading.Lock()
        conn.add_signal_receiver(self._on_signal, sender_keyword="sender", path_keyword="path",
                                 member_keyword="member", interface_keyword="iface", bus_name=NAME)

    def _on_signal(self, *args, sender=None, path=None, member=None, iface=None):
        with self._lock:
            self.signals.append((member, str(path), tuple(_plain(a) for a in args), time.monotonic()))

    def of(self, path=None, member=None):
        with self._lock:
            return [s for s in self.signals
                    if (path is None or s[1] == path) and (member is None or s[0] == member)]

    def wait(self, member, path=None, args=None, timeout=30):
        def found():
            for s in self.of(path, member):
                if args is None or s[2] == tuple(args):
                    return s
            return None
        return wait_for(found, timeout, f"D-Bus signal {member}{tuple(args) if args else ''}", interval=0.05)


def _plain(value):
    if isinstance(value, (dbus.Boolean,)):
        return bool(value)
    if isinstance(value, (dbus.Int32, dbus.UInt32, dbus.Int64, dbus.UInt64, dbus.Int16, dbus.UInt16, dbus.Byte)):
        return int(value)
    if isinstance(value, (dbus.String, dbus.ObjectPath)):
        return str(value)
    return value


def domain_path(uuid):
    return "/org/libvirt/Arrow/domain/_" + uuid.replace("-", "_")


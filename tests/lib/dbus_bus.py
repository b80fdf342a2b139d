"""Helpers for the D-Bus tests (not a test itself): a private dbus-daemon whose
configuration denies owning names except as the shipped policy
(driver/dbus/org.libvirt.Arrow.conf) allows, a private virtarrowd pointed at it
through DBUS_SYSTEM_BUS_ADDRESS / DBUS_SESSION_BUS_ADDRESS, and a signal
recorder built on python3-dbus with a GLib main loop in a thread."""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

SRCDIR = os.environ.get("ARROW_SRCDIR", os.getcwd())
BUILDDIR = os.environ.get("ARROW_BUILDDIR", os.getcwd())
DAEMON = os.path.join(BUILDDIR, "driver", "daemon", "virtarrowd")
POLICY = os.path.join(SRCDIR, "driver", "dbus", "org.libvirt.Arrow.conf")
INTROSPECTION = os.path.join(SRCDIR, "driver", "dbus", "org.libvirt.Arrow.xml")
NAME = "org.libvirt.Arrow"

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
_loop = GLib.MainLoop()
threading.Thread(target=_loop.run, daemon=True).start()


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class PrivateBus:
    """dbus-daemon on a socket in DIR, with the shipped policy included."""

    def __init__(self, directory):
        self.dir = directory
        conf = os.path.join(directory, "bus.conf")
        with open(conf, "w") as f:
            f.write(f"""<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={directory}/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow own="org.arrow.test.*"/>
  </policy>
  <include>{POLICY}</include>
</busconfig>
""")
        self.proc = subprocess.Popen(["dbus-daemon", f"--config-file={conf}", "--nofork", "--print-address=1"],
                                     stdout=subprocess.PIPE, text=True)
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            raise AssertionError("dbus-daemon did not start")
        self.conn = dbus.bus.BusConnection(self.address)

    def close(self):
        try:
            self.conn.close()
        except Exception:
            pass
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


class Daemon:
    """virtarrowd on a private --root, its D-Bus pointed at BUS_ADDRESS."""

    def __init__(self, root, bus_address, extra_env=None):
        self.root = root
        env = dict(os.environ)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = bus_address
        env["DBUS_SESSION_BUS_ADDRESS"] = bus_address
        env.pop("VIRTARROWD_DBUS", None)
        env.update(extra_env or {})
        self.log_path = os.path.join(root, "daemon.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([DAEMON, "--root", root, "--verbose"], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        sock = os.path.join(root, "virtarrowd-sock")
        wait_for(lambda: os.path.exists(sock), 10, "the daemon's socket")
        self.uri = f"arrow+unix:///system?socket={sock}"

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def qemu_pid(self, name):
        try:
            with open(os.path.join(self.root, "run", name, "qemu.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        pids = []
        run = os.path.join(self.root, "run")
        for name in os.listdir(run) if os.path.isdir(run) else []:
            pid = self.qemu_pid(name)
            if pid:
                pids.append(pid)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


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
        return wait_for(found, timeout, f"D-Bus signal {member}{tuple(args) if args else ''}")


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


def temp_root(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def remove_root(root):
    if os.environ.get("ARROW_KEEP_TEST_ROOT"):
        print("kept", root)
    else:
        shutil.rmtree(root, ignore_errors=True)

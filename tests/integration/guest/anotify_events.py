#!/usr/bin/python3
"""What happens inside an Arrow reaches libvirt events and D-Bus (issue 4).

Real QEMU and the single-task kernel, a real virtarrowd on a private --root,
stock `virsh event --all --loop` for libvirt's events, and a private
dbus-daemon (with the shipped policy) for the D-Bus signals. Cases: an
application exiting 7, one killed by SIGKILL inside the guest, one the OOM
killer ends, a forced kernel panic with on_crash=restart, `kill -9` of QEMU
from the host, heartbeats at a configured rate and the missed-heartbeat
(watchdog) event, garbage written by the guest to the Anotify port, and the
D-Bus Create/Shutdown/Destroy methods."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import dbus  # noqa: E402
import libvirt  # noqa: E402

from dbus_bus import Daemon, PrivateBus, SignalRecorder, domain_path, remove_root, temp_root, wait_for  # noqa: E402

libvirt.registerErrorHandler(lambda ctx, err: None, None)
BOOT = 60  # seconds: boot plus a python3 start from 9p under TCG
NS = "urn:x-arrow:domain:1"


def arrow_xml(name, init, args=(), memory_mib=128, on_crash=None, heartbeat=None, share=None):
    meta = ""
    if heartbeat is not None:
        meta = f"<metadata><arrow:anotify xmlns:arrow='{NS}' heartbeat='{heartbeat}'/></metadata>"
    initargs = "".join(f"<initarg>{escape(a)}</initarg>" for a in args)
    crash = f"<on_crash>{on_crash}</on_crash>" if on_crash else ""
    fs = ""
    if share:
        fs = (f"<filesystem type='mount' accessmode='passthrough'><source dir='{share[0]}'/>"
              f"<target dir='{share[1]}'/></filesystem>")
    return (f"<domain type='arrow'><name>{name}</name>{meta}<memory unit='MiB'>{memory_mib}</memory>"
            f"<vcpu>1</vcpu><os><type arch='x86_64' machine='microvm'>exe</type><init>{init}</init>{initargs}"
            f"<initdir>/tmp</initdir></os>{crash}<devices>{fs}</devices></domain>")


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


class VirshEvents:
    """`virsh event --all --loop`: its lines, each with its arrival time."""

    def __init__(self, uri):
        self.lines = []
        self.proc = subprocess.Popen(["virsh", "-q", "-c", uri, "event", "--all", "--loop"],
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append((line.strip(), time.monotonic()))

    def of(self, name):
        return [(text, t) for text, t in self.lines if f"for domain '{name}'" in text]

    def wait(self, name, pattern, timeout=BOOT):
        def found():
            for text, t in self.of(name):
                if re.search(pattern, text):
                    return text, t
            return None
        return wait_for(found, timeout, f"virsh event /{pattern}/ for {name}")

    def order(self, name, patterns):
        """True when PATTERNS match NAME's events in this order."""
        texts = [text for text, _ in self.of(name)]
        i = 0
        for text in texts:
            if i < len(patterns) and re.search(patterns[i], text):
                i += 1
        return i == len(patterns)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


class AnotifyEventsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = temp_root("arrow-anotify-")
        cls.bus = PrivateBus(cls.root)
        cls.daemon = Daemon(cls.root, cls.bus.address)
        wait_for(lambda: cls.bus.conn.name_has_owner("org.libvirt.Arrow"), 10, "org.libvirt.Arrow")
        cls.conn = libvirt.open(cls.daemon.uri)
        cls.signals = SignalRecorder(cls.bus.conn)
        cls.virsh_events = VirshEvents(cls.daemon.uri)
        time.sleep(0.5)  # virsh has registered its callbacks

    @classmethod
    def tearDownClass(cls):
        cls.virsh_events.stop()
        cls.conn.close()
        cls.daemon.stop()
        cls.bus.close()
        remove_root(cls.root)

    def virsh(self, *args):
        r = subprocess.run(["virsh", "-q", "-c", self.daemon.uri, *args], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def start(self, xml):
        dom = self.conn.defineXML(xml)
        dom.create()
        return dom, domain_path(dom.UUIDString())

    def stats(self, dom):
        return dict(self.conn.domainListGetStats([dom], libvirt.VIR_DOMAIN_STATS_STATE)[0][1])

    def test_exit_status(self):
        dom, path = self.start(arrow_xml("exit7", "/usr/bin/sh", ["-c", "exit 7"]))
        self.virsh_events.wait("exit7", "Stopped Shutdown")
        self.assertTrue(self.virsh_events.order("exit7", ["Started Booted", "Stopped Shutdown"]),
                        self.virsh_events.of("exit7"))
        started = self.signals.wait("ApplicationStarted", path)
        exited = self.signals.wait("ApplicationExited", path, (7, 0))
        self.assertLess(started[3], exited[3])
        self.assertIn('<arrow:status xmlns:arrow="urn:x-arrow:domain:1" exit-status="7" signal="0"/>',
                      self.virsh("dumpxml", "exit7"))
        self.assertNotIn("arrow:status", self.virsh("dumpxml", "--inactive", "exit7"))
        stats = self.stats(dom)
        self.assertEqual((stats["arrow.exit.status"], stats["arrow.exit.signal"]), (7, 0))
        self.assertIn("arrow.exit.status=7", self.virsh("domstats", "exit7"))
        dom.undefine()

    def test_sigkill_inside(self):
        dom, path = self.start(arrow_xml("kill9", "/usr/bin/sh", ["-c", "kill -9 $$"]))
        self.signals.wait("ApplicationExited", path, (-1, 9), timeout=BOOT)
        self.virsh_events.wait("kill9", "Stopped Shutdown")
        self.assertIn('exit-status="-1" signal="9"', self.virsh("dumpxml", "kill9"))
        dom.undefine()

    def test_out_of_memory(self):
        hog = "a = []\nwhile True:\n    a.append(b'x' * (8 << 20))\n"
        dom, path = self.start(arrow_xml("hog", "/usr/bin/python3", ["-c", hog], memory_mib=96, on_crash="destroy"))
        oom = self.signals.wait("OutOfMemory", path, timeout=BOOT)
        exited = self.signals.wait("ApplicationExited", path, (-1, 9))
        self.assertLess(oom[3], exited[3])
        self.virsh_events.wait("hog", "Stopped Crashed")
        self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_CRASHED])
        self.assertIn("OOM killer", self.daemon.log_text())
        dom.undefine()

    def test_panic_restart(self):
        flag_dir = os.path.join(self.root, "flag")
        os.mkdir(flag_dir)
        script = "if [ -e /flag/done ]; then exec sleep 1000; fi; touch /flag/done; echo c > /proc/sysrq-trigger"
        dom, path = self.start(arrow_xml("panic", "/usr/bin/sh", ["-c", script], on_crash="restart",
                                         share=(flag_dir, "/flag")))
        first_id = dom.ID()
        self.virsh_events.wait("panic", "Crashed Panicked")
        self.signals.wait("Panicked", path)
        self.virsh_events.wait("panic", "Stopped Crashed")
        wait_for(lambda: len([e for e in self.virsh_events.of("panic") if "Started Booted" in e[0]]) == 2, BOOT,
                 "the restarted Arrow's application")
        self.assertTrue(self.virsh_events.order(
            "panic", ["Started Booted", "Crashed Panicked", "Stopped Crashed", "Started Booted"]))
        dom = self.conn.lookupByName("panic")
        self.assertTrue(dom.isActive())
        self.assertNotEqual(dom.ID(), first_id)
        self.assertIn("Kernel panic", read_text(os.path.join(self.root, "log", "panic.log")))
        obj = self.bus.conn.get_object("org.libvirt.Arrow", path, introspect=False)
        obj.Destroy(dbus.UInt32(0), dbus_interface="org.libvirt.Domain")  # D-Bus method -> driver
        self.virsh_events.wait("panic", "Stopped Destroyed")
        self.assertFalse(dom.isActive())
        dom.undefine()

    def test_qemu_killed(self):
        dom, path = self.start(arrow_xml("victim", "/usr/bin/sleep", ["1000"]))
        self.virsh_events.wait("victim", "Started Booted")
        pid = self.daemon.qemu_pid("victim")
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        _, seen_at = self.virsh_events.wait("victim", "Stopped Failed", timeout=5)
        print(f"# kill -9 of QEMU -> STOPPED/FAILED at the client: {(seen_at - killed_at) * 1000:.0f} ms")
        self.assertLess(seen_at - killed_at, 1.0)
        self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_CRASHED])
        dom.undefine()

    def test_heartbeat(self):
        dom = self.conn.defineXML(arrow_xml("beat", "/usr/bin/sleep", ["1000"], heartbeat=1))
        path = domain_path(dom.UUIDString())
        obj = self.bus.conn.get_object("org.libvirt.Arrow", path, introspect=False)
        obj.Create(dbus.UInt32(0), dbus_interface="org.libvirt.Domain")  # D-Bus method -> driver
        self.assertTrue(bool(obj.Get("org.libvirt.Domain", "Active", dbus_interface="org.freedesktop.DBus.Properties")))
        self.signals.wait("ApplicationStarted", path, timeout=BOOT)
        time.sleep(5.5)
        beats = [s[2][0] for s in self.signals.of(path, "Heartbeat")]
        self.assertGreaterEqual(len(beats), 4, beats)
        gaps = [b - a for a, b in zip(beats, beats[1:])]
        print(f"# heartbeat gaps (guest ms): {gaps}")
        self.assertTrue(all(700 <= g <= 1500 for g in gaps), gaps)
        stats = self.stats(dom)
        self.assertEqual(stats["arrow.heartbeat.period"], 1)
        self.assertEqual(stats["arrow.heartbeat.last_ms"], beats[-1])

        # A guest that stops beating (QEMU stopped from the host): libvirt's watchdog event, logged.
        pid = self.daemon.qemu_pid("beat")
        os.kill(pid, signal.SIGSTOP)
        try:
            self.virsh_events.wait("beat", "watchdog", timeout=10)
        finally:
            os.kill(pid, signal.SIGCONT)
        self.assertIn("no Anotify heartbeat", self.daemon.log_text())
        wait_for(lambda: "heartbeats resumed" in self.daemon.log_text(), 10, "heartbeats to resume")

        obj.Shutdown(dbus.UInt32(0), dbus_interface="org.libvirt.Domain")
        self.signals.wait("ApplicationExited", path, (-1, signal.SIGTERM))
        self.virsh_events.wait("beat", "Stopped Shutdown")
        dom.undefine()

    def test_garbage_on_port(self):
        # Root in the guest takes a duplicate of ainit's open port (pidfd_getfd)
        # and writes bytes that are no frame, then exits 3 normally.
        script = (
            "import ctypes, glob, os\n"
            "fd = [int(p.rsplit('/', 1)[1]) for p in glob.glob('/proc/1/fd/*')"
            " if os.readlink(p).startswith('/dev/vport')][0]\n"
            "port = ctypes.CDLL(None, use_errno=True).syscall(438, os.pidfd_open(1), fd, 0)\n"
            "assert port >= 0, ctypes.get_errno()\n"
            "os.write(port, b'\\x00\\xffgarbage ANxx\\x01\\x02' + b'Z' * 300 + b'ANAN')\n"
            "print('garbage written', flush=True)\n"
            "raise SystemExit(3)\n")
        dom, path = self.start(arrow_xml("noise", "/usr/bin/python3", ["-c", script]))
        self.signals.wait("ApplicationExited", path, (3, 0), timeout=BOOT)
        self.virsh_events.wait("noise", "Stopped Shutdown")
        log = read_text(os.path.join(self.root, "log", "noise.log"))
        self.assertIn("garbage written", log)
        self.assertRegex(log, r"anotify: ignored input from the guest \(so far [1-9]\d* bytes skipped")
        self.assertIsNone(self.daemon.proc.poll())
        self.assertIn("noise", self.virsh("list", "--all"))
        dom.undefine()


if __name__ == "__main__":
    unittest.main(verbosity=2)

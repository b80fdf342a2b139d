#!/usr/bin/python3
"""What happens inside an Arrow reaches libvirt events and D-Bus (issue 4).

Real QEMU and the single-task kernel, a real virtarrowd on a private --root,
stock `virsh event --all --loop` for libvirt's events, and a private
dbus-daemon (with the shipped policy) for the D-Bus signals. Cases: an
application exiting 7, one killed by SIGKILL inside the guest, three that
exhaust their memory (ended by the kernel's OOM killer or ainit's pressure
watch), a forced kernel panic with on_crash=restart, `kill -9` of QEMU
from the host, heartbeats at a configured rate and the missed-heartbeat
(watchdog) event, garbage written by the guest to the Anotify port, and the
D-Bus Create/Shutdown/Destroy methods."""

import os
import signal
import subprocess
import sys
import time
import unittest
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import dbus  # noqa: E402
import libvirt  # noqa: E402

import oom_patterns  # noqa: E402
from arrowtest import wait_for  # noqa: E402
from daemon import Daemon  # noqa: E402
from dbus_bus import PrivateBus, SignalRecorder, domain_path  # noqa: E402
from virsh_events import VirshEvents  # noqa: E402

libvirt.registerErrorHandler(lambda ctx, err: None, None)
BOOT = 60  # seconds: boot plus a python3 start from 9p under TCG
NS = "urn:x-arrow:domain:1"


def arrow_xml(name, init, args=(), memory_mib=128, on_crash=None, heartbeat=None, share=None, shares=()):
    """share: (host dir, guest dir), writable; shares: (host dir, guest dir, readonly)..."""
    meta = ""
    if heartbeat is not None:
        meta = f"<metadata><arrow:anotify xmlns:arrow='{NS}' heartbeat='{heartbeat}'/></metadata>"
    initargs = "".join(f"<initarg>{escape(a)}</initarg>" for a in args)
    crash = f"<on_crash>{on_crash}</on_crash>" if on_crash else ""
    fs = ""
    for source, target, readonly in ([(*share, False)] if share else []) + list(shares):
        fs += (f"<filesystem type='mount' accessmode='passthrough'><source dir='{source}'/>"
               f"<target dir='{target}'/>{'<readonly/>' if readonly else ''}</filesystem>")
    return (f"<domain type='arrow'><name>{name}</name>{meta}<memory unit='MiB'>{memory_mib}</memory>"
            f"<vcpu>1</vcpu><os><type arch='x86_64' machine='microvm'>exe</type><init>{init}</init>{initargs}"
            f"<initdir>/tmp</initdir></os>{crash}<devices>{fs}</devices></domain>")


def read_log(root, name):
    """The Arrow NAME's log: its console and kernel messages, the daemon's lines about it."""
    with open(os.path.join(root, "log", f"{name}.log"), errors="replace") as f:
        return f.read()


class AnotifyEventsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bus = PrivateBus()
        cls.daemon = Daemon(prefix="arrow-anotify-", bus=cls.bus.address).start()
        cls.root = cls.daemon.root
        cls.bus.wait_owned()
        cls.conn = cls.daemon.conn
        cls.signals = SignalRecorder(cls.bus.conn)
        cls.virsh_events = VirshEvents(cls.daemon.uri)

    @classmethod
    def tearDownClass(cls):
        cls.virsh_events.stop()
        cls.daemon.stop()
        cls.bus.close()

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

    # An application that exhausts its memory (96 MiB, no swap) ends the Arrow
    # as a crash, reported, within OOM_BOUND seconds of its first allocation:
    # by the kernel's OOM killer, or by ainit's pressure watch (kernel/BOOT.md,
    # "Out of memory") where the kernel would keep evicting and reading back
    # file pages instead (a livelock that spun for minutes). Each program
    # creates /mark/started (a writable share) just before its first
    # allocation; that file's host mtime starts the clock, the arrival of
    # "Stopped Crashed" at virsh stops it.
    OOM_BOUND = 15
    OOM_PATTERNS = oom_patterns.PATTERNS

    def test_out_of_memory(self):
        data = os.path.join(self.root, "oom-data")
        oom_patterns.make_data(data)
        for pattern, program in self.OOM_PATTERNS.items():
            with self.subTest(pattern):
                self.check_out_of_memory(pattern.replace("_", "-"), program, data)

    def check_out_of_memory(self, name, program, data):
        mark = os.path.join(self.root, "oom-" + name)
        os.makedirs(mark, exist_ok=True)
        dom, path = self.start(arrow_xml(name, "/usr/bin/python3", ["-c", program], memory_mib=96,
                                         on_crash="destroy", shares=[(mark, "/mark", False), (data, "/data", True)]))
        oom = self.signals.wait("OutOfMemory", path, timeout=BOOT + 60)
        exited = self.signals.wait("ApplicationExited", path, (-1, 9), timeout=60)
        self.assertLess(oom[3], exited[3])
        _, stopped = self.virsh_events.wait(name, "Stopped Crashed", timeout=60)
        stopped_wall = time.time() - (time.monotonic() - stopped)
        self.assertEqual(dom.state(), [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_CRASHED])
        log = read_log(self.root, name)
        by = "ainit" if "ainit: out of memory" in log else "the kernel" if "Out of memory: Killed process" in log else "?"
        # The daemon's line says who ended it (OOM's second field).
        line = {"ainit": "ainit ended process", "the kernel": "the guest's OOM killer ended process"}.get(by, "?")
        self.assertIn(f"Arrow '{name}': {line}", self.daemon.log_text())
        seconds = stopped_wall - os.stat(os.path.join(mark, "started")).st_mtime
        print(f"# out of memory, {name}: first allocation -> Stopped Crashed {seconds:.1f} s, killed by {by}")
        self.assertNotEqual(by, "?", log[-2000:])
        self.assertLess(seconds, self.OOM_BOUND)
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
        self.assertIn("Kernel panic", self.daemon.app_log("panic"))
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
        # Four beats, however slowly a loaded host runs the guest (the gaps
        # below are in guest time).
        wait_for(lambda: len(self.signals.of(path, "Heartbeat")) >= 4, 60, "four heartbeats")
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
        log = self.daemon.app_log("noise")
        self.assertIn("garbage written", log)
        self.assertRegex(log, r"anotify: ignored input from the guest \(so far [1-9]\d* bytes skipped")
        self.assertIsNone(self.daemon.proc.poll())
        self.assertIn("noise", self.virsh("list", "--all"))
        dom.undefine()


if __name__ == "__main__":
    unittest.main(verbosity=2)

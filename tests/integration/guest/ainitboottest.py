#!/usr/bin/python3
"""Boots the real single-task kernel with ainit in QEMU microvm (TCG) as
kernel/BOOT.md describes, and checks what a user would: exit status over
Anotify, console messages, arguments intact, the environment over Anotify
(SETENV, the answer to ainit's INSTRUCTIONS_WANTED, also after a reconnect),
servers reachable through the port forward, host-to-guest SHUTDOWN and
SIGNAL, power-off without a host.
Run through ./run (ARROW_KERNEL_DIR names bzImage and initramfs.cpio)."""
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
from arrowtest import KERNEL_DIR, free_port, http_get  # noqa: E402

QEMU = os.environ.get("ARROW_QEMU", "qemu-system-x86_64")
SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~/:@+")
BOOTED, APP_STARTED, APP_EXITED, ERROR, OOM, HEARTBEAT, SHUTDOWN, SIGNAL = range(1, 9)
SETENV, INSTRUCTIONS_END, INSTRUCTIONS_WANTED = 11, 12, 13


def enc(value):
    """kernel/CMDLINE.md percent-encoding of one field."""
    data = value.encode() if isinstance(value, str) else value
    return "".join(chr(c) if c in SAFE else "%%%02X" % c for c in data)


def frame(ftype, payload):
    n = len(payload)
    return struct.pack("<BBBBHH", 0x41, 0x4E, 1, ftype, n, ~(ftype | n << 8) & 0xFFFF) + payload


def decode(buf):
    """Complete frames in buf as (type, payload), and the unfinished rest.
    Garbage is skipped a byte at a time until magic and check word agree."""
    frames, i = [], 0
    while len(buf) - i >= 8:
        if buf[i:i + 2] != b"AN":
            i += 1
            continue
        _, _, version, ftype, n, check = struct.unpack_from("<BBBBHH", buf, i)
        if check != (~(ftype | n << 8) & 0xFFFF) or n > 1024:
            i += 1
            continue
        if len(buf) - i - 8 < n:
            break
        if version == 1:
            frames.append((ftype, buf[i + 8:i + 8 + n]))
        i += 8 + n
    return frames, buf[i:]


def instructions(env):
    """The daemon's answer to INSTRUCTIONS_WANTED: SETENV per variable, then INSTRUCTIONS_END."""
    return b"".join(frame(SETENV, e.encode()) for e in env) + frame(INSTRUCTIONS_END, b"")


class Arrow:
    """One QEMU microvm started with -S, its sockets connected, then resumed.
    env: "NAME=VALUE" strings, announced on the command line (arrow.nenv) and
    sent when ainit asks, once per connection, as the daemon does; answer:
    other bytes to send then instead (b"": no answer)."""

    def __init__(self, init, args=(), shares=(("usr", "/usr", "/usr"),), env=(), extra=(),
                 connect_anotify=True, answer=None):
        self.tmp = tempfile.mkdtemp(prefix="ainitboot")
        self.port = free_port()
        append = ["console=ttyS0", "reboot=t", "panic=-1", "quiet", "arrow.v=1",
                  "arrow.init=" + enc(init), "arrow.host=arrow1",
                  "arrow.net=10.0.2.15/24,10.0.2.2,10.0.2.3"]
        append += ["arrow.arg=" + enc(a) for a in args]
        append += ["arrow.nenv=%d" % len(env)] if env else []
        append += ["arrow.share=%s,%s,ro" % (enc(tag), enc(target)) for tag, _, target in shares]
        append += list(extra)
        argv = [QEMU, "-M", "microvm,acpi=off,x-option-roms=off,rtc=on,pit=on,isa-serial=on",
                "-m", "128M", "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
                "-no-reboot", "-S",
                "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
                "-kernel", os.path.join(KERNEL_DIR, "bzImage"),
                "-initrd", os.path.join(KERNEL_DIR, "initramfs.cpio"),
                "-append", " ".join(append),
                "-chardev", "file,id=log,path=%s/serial.log" % self.tmp, "-serial", "chardev:log",
                "-qmp", "unix:%s/qmp.sock,server=on,wait=off" % self.tmp,
                "-device", "virtio-serial-device",
                "-chardev", "socket,id=console,path=%s/console.sock,server=on,wait=off" % self.tmp,
                "-device", "virtconsole,chardev=console",
                "-chardev", "socket,id=anotify,path=%s/anotify.sock,server=on,wait=off" % self.tmp,
                "-device", "virtserialport,chardev=anotify,name=org.arrow.anotify.0",
                "-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:%d-:8000" % self.port,
                "-device", "virtio-net-device,netdev=net0"]
        for i, (tag, path, _) in enumerate(shares):
            argv += ["-fsdev", "local,id=fs%d,path=%s,security_model=none,readonly=on" % (i, path),
                     "-device", "virtio-9p-device,fsdev=fs%d,mount_tag=%s" % (i, tag)]
        self.start = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        self.console, self.abuf, self.frames = b"", b"", []
        self.qmp = self._connect("qmp.sock")
        self.con = self._connect("console.sock")
        self.an = self._connect("anotify.sock") if connect_anotify else None
        self.answer = instructions(env) if answer is None else answer
        self.answered = False
        qmp = self.qmp.makefile("rw")
        qmp.readline()
        qmp.write('{"execute":"qmp_capabilities"}\n{"execute":"cont"}\n')
        qmp.flush()

    def _connect(self, name):
        for _ in range(500):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(os.path.join(self.tmp, name))
                return s
            except OSError:
                s.close()
                time.sleep(0.01)
        raise RuntimeError("QEMU did not create " + name)

    def pump(self, timeout):
        socks = [s for s in (self.con, self.an) if s]
        for s in select.select(socks, [], [], timeout)[0]:
            data = s.recv(65536)
            if s is self.con:
                self.console += data
            elif data:
                self.abuf += data
                got, self.abuf = decode(self.abuf)
                self.frames += [(time.monotonic() - self.start, t, p) for t, p in got]
                if INSTRUCTIONS_WANTED in [t for t, _ in got] and not self.answered:
                    self.answered = True
                    self.an.sendall(self.answer)

    def wait_frame(self, ftype, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end and self.proc.poll() is None:
            for f in self.frames:
                if f[1] == ftype:
                    return f
            self.pump(0.1)
        return next((f for f in self.frames if f[1] == ftype), None)

    def wait_exit(self, timeout=60):
        end = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < end:
            self.pump(0.1)
        self.pump(0.2)
        self.close()
        return self.exited()

    def exited(self):
        """(status, signal) from APP_EXITED, or None."""
        f = next((f for f in self.frames if f[1] == APP_EXITED), None)
        return struct.unpack("<ii", f[2]) if f else None

    def types(self):
        return [t for _, t, _ in self.frames]

    def text(self):
        return self.console.decode(errors="replace")

    def serial(self):
        with open(os.path.join(self.tmp, "serial.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for s in (self.qmp, self.con, self.an):
            if s:
                s.close()
        self.serial_text = self.serial()
        shutil.rmtree(self.tmp, ignore_errors=True)


def fetch(url, timeout=60):
    return http_get(url, timeout)[1]


class AinitBootTest(unittest.TestCase):
    def check_exit(self, vm, expected):
        got = vm.wait_exit()
        self.assertEqual(got, expected, "console: %r\nserial: %s" % (vm.text(), vm.serial_text))
        self.assertEqual(vm.proc.returncode, 0)

    def test_exit_status_reaches_host(self):
        vm = Arrow("/bin/sh", ["-c", "exit 3"])
        self.check_exit(vm, (3, 0))
        self.assertEqual(vm.types(), [BOOTED, APP_STARTED, APP_EXITED])

    def test_missing_application(self):
        vm = Arrow("/usr/bin/no-such-app")
        self.check_exit(vm, (127, 0))
        self.assertIn("ainit: /usr/bin/no-such-app: No such file or directory", vm.text())
        self.assertNotIn(APP_STARTED, vm.types())
        err = [p for _, t, p in vm.frames if t == ERROR]
        self.assertEqual(err, [b"/usr/bin/no-such-app: No such file or directory"])

    def test_not_executable(self):
        vm = Arrow("/usr/share")
        self.check_exit(vm, (126, 0))
        self.assertIn("ainit: /usr/share: Permission denied", vm.text())

    def test_arguments_intact(self):
        args = ["%s|", "a b", "q\"'", "é", "", "x=y,z%", "tab\there"]
        vm = Arrow("/usr/bin/printf", args)
        self.check_exit(vm, (0, 0))
        self.assertEqual(vm.text(), "a b|q\"'|é||x=y,z%|tab\there|")

    def test_environment_user_and_files(self):
        script = ("echo $(id -un):$(id -u):$(id -g) $HOME $FOO $PATH; pwd; hostname; "
                  "cat /etc/resolv.conf; grep -c . /etc/passwd; test $(date +%Y) -ge 2024 && echo clock")
        vm = Arrow("/bin/sh", ["-c", script], env=["FOO=a b"],
                   extra=["arrow.user=nobody,65534,65534,/nonexistent", "arrow.dir=/tmp",
                          "arrow.time=%d" % int(time.time() * 1000)])
        self.check_exit(vm, (0, 0))
        self.assertEqual(vm.text().replace("\r\n", "\n"),
                         "nobody:65534:65534 /nonexistent a b "
                         "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
                         "/tmp\narrow1\nnameserver 10.0.2.3\n2\nclock\n")

    def test_busybox_httpd_from_second_share(self):
        www = tempfile.mkdtemp(prefix="ainitwww")
        try:
            with open(os.path.join(www, "index.html"), "w") as f:
                f.write("served from a share\n")
            vm = Arrow("/bin/busybox", ["httpd", "-f", "-p", "8000", "-h", "/srv"],
                       shares=(("usr", "/usr", "/usr"), ("www", www, "/srv")))
            self.assertIsNotNone(vm.wait_frame(APP_STARTED))
            body = fetch("http://127.0.0.1:%d/index.html" % vm.port)
            self.assertEqual(body, b"served from a share\n")
            vm.an.sendall(frame(SHUTDOWN, struct.pack("<I", 5000)))
            self.check_exit(vm, (-1, 15))
        finally:
            shutil.rmtree(www)

    def test_python_http_server_and_signal(self):
        vm = Arrow("/usr/bin/python3", ["-m", "http.server", "8000"], env=["PYTHONUNBUFFERED=1"],
                   extra=["arrow.dir=/usr/share/doc"])
        self.assertIsNotNone(vm.wait_frame(APP_STARTED))
        self.assertIn(b"python3", fetch("http://127.0.0.1:%d/" % vm.port))
        vm.an.sendall(frame(SIGNAL, struct.pack("<i", 2)))  # SIGINT: Ctrl-C
        self.check_exit(vm, (0, 0))
        self.assertIn("Keyboard interrupt received", vm.text())

    def test_shutdown_grace_then_kill_after_reconnect(self):
        vm = Arrow("/bin/sh", ["-c", "trap '' TERM; echo ready; while :; do sleep 1; done"],
                   extra=["arrow.hb=1"])
        self.assertIsNotNone(vm.wait_frame(APP_STARTED))
        self.assertIsNotNone(vm.wait_frame(HEARTBEAT, 10))
        # The daemon may restart: ainit notices the host end close and reopen.
        vm.an.close()
        time.sleep(1.5)
        vm.an, vm.frames = vm._connect("anotify.sock"), []
        self.assertIsNotNone(vm.wait_frame(HEARTBEAT, 10))
        vm.an.sendall(b"garbage\x00AN" + frame(99, b"future") + frame(SHUTDOWN, struct.pack("<I", 300)))
        self.check_exit(vm, (-1, 9))

    def test_environment_not_on_the_command_line(self):
        secret = "s3cret value, 100% \"quoted\" é=x"
        vm = Arrow("/bin/sh", ["-c", 'echo "[$API_TOKEN] [$EMPTY] $#"; cat /proc/cmdline'],
                   env=["API_TOKEN=" + secret, "EMPTY="])
        self.check_exit(vm, (0, 0))
        self.assertEqual(vm.types(), [BOOTED, INSTRUCTIONS_WANTED, APP_STARTED, APP_EXITED])
        out = vm.text().replace("\r\n", "\n")
        self.assertIn("[%s] [] 0\n" % secret, out)
        self.assertIn("arrow.nenv=2", out)
        self.assertNotIn("s3cret", out.split("\n", 1)[1])  # not in the guest's /proc/cmdline either

    def test_instructions_incomplete(self):
        # INSTRUCTIONS_END before every announced variable: a clear error, no application.
        vm = Arrow("/bin/sh", ["-c", "exit 0"], env=["A=1", "B=2"], answer=instructions(["A=1"]))
        self.assertIsNone(vm.wait_exit())
        self.assertNotIn(APP_STARTED, vm.types())
        self.assertIn("ainit: Anotify INSTRUCTIONS_END after 1 of the 2 environment variables", vm.serial_text)

    def test_instructions_never_come(self):
        vm = Arrow("/bin/sh", ["-c", "exit 0"], env=["A=1"], answer=b"")
        self.assertIsNone(vm.wait_exit(60))
        message = ("ainit: no answer from the host to Anotify INSTRUCTIONS_WANTED within 20 s: "
                   "0 of the 1 environment variables came")
        self.assertIn(message, vm.serial_text)
        self.assertEqual([p for _, t, p in vm.frames if t == ERROR], [message.encode()])

    def test_instructions_asked_again_after_reconnect(self):
        # A daemon restarted before it answered: ainit asks the new host end.
        vm = Arrow("/bin/sh", ["-c", 'echo "[$A] [$B]"'], env=["A=1", "B=2"], answer=frame(SETENV, b"A=1"))
        self.assertIsNotNone(vm.wait_frame(INSTRUCTIONS_WANTED))
        vm.pump(0.5)
        vm.an.close()
        time.sleep(1.5)
        vm.an, vm.frames, vm.answered, vm.answer = vm._connect("anotify.sock"), [], False, instructions(["A=1", "B=2"])
        self.check_exit(vm, (0, 0))
        self.assertEqual(vm.types(), [INSTRUCTIONS_WANTED, APP_STARTED, APP_EXITED])
        self.assertIn("[1] [2]", vm.text())

    def test_shutdown_among_instructions_waits_for_the_application(self):
        # Frames of other types among the instructions are done once the
        # application runs, as when they waited in the port.
        vm = Arrow("/bin/sh", ["-c", "while :; do sleep 1; done"], env=["A=1"],
                   answer=frame(SETENV, b"A=1") + frame(SHUTDOWN, struct.pack("<I", 5000)) + frame(INSTRUCTIONS_END, b""))
        self.check_exit(vm, (-1, 15))
        self.assertEqual(vm.types(), [BOOTED, INSTRUCTIONS_WANTED, APP_STARTED, APP_EXITED])

    def test_powers_off_without_host(self):
        vm = Arrow("/bin/sh", ["-c", "exit 5"], connect_anotify=False)
        start = time.monotonic()
        self.assertEqual(vm.proc.wait(60), 0)
        vm.close()
        self.assertLess(time.monotonic() - start, 30)


if __name__ == "__main__":
    unittest.main(verbosity=2)

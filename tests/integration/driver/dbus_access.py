#!/usr/bin/python3
"""Who may change an Arrow over D-Bus: the read-write socket's policy
(SECURITY.md, issue "Hostile guests, greedy clients, odd names", point 8).

A private virtarrowd on a private dbus-daemon (tests/lib/dbus_bus.py, with the
shipped policy), and two throwaway system users made for the test: one in a
throwaway group, one not. Each user calls Create, Destroy and Shutdown on a
defined Arrow that is not running (so no QEMU starts: an allowed call fails
with libvirt's "not running", a refused one with "access denied"), reads a
property, and tries to connect to the read-write socket. For each
virtarrowd.conf — the default (0600, root only), unix_sock_group with
"0660", the group with "0640", "0666" — the D-Bus answer must match what the
kernel lets that user do with the socket, and root is always allowed.
Needs root (to make users and switch to them with setpriv); skips otherwise."""

import grp
import os
import pwd
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import dbus  # noqa: E402
import libvirt  # noqa: E402

from arrowtest import SKIP  # noqa: E402
from daemon import Daemon  # noqa: E402
from dbus_bus import NAME, PrivateBus, domain_path  # noqa: E402

libvirt.registerErrorHandler(lambda ctx, err: None, None)

PYTHON = "/usr/bin/python3"  # Debian's, with python3-dbus, whoever runs it
UUID = "7a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"
XML = (f"<domain type='arrow'><name>acl</name><uuid>{UUID}</uuid><memory unit='MiB'>64</memory>"
       "<os><type arch='x86_64' machine='microvm'>exe</type><init>/usr/bin/true</init></os></domain>")
TAG = f"arw{os.getpid() % 100000}"
GROUP = f"{TAG}-rw"
MEMBER = f"{TAG}-in"
OUTSIDER = f"{TAG}-out"

# Run as another user: one D-Bus call, printed as "OK ..." or "ERROR-NAME message".
CLIENT = r"""
import sys, dbus
bus = dbus.bus.BusConnection(sys.argv[1])
obj = bus.get_object("org.libvirt.Arrow", sys.argv[2], introspect=False)
try:
    if sys.argv[3] == "Name":
        print("OK", obj.Get("org.libvirt.Domain", "Name", dbus_interface="org.freedesktop.DBus.Properties"))
    else:
        getattr(obj, sys.argv[3])(dbus.UInt32(0), dbus_interface="org.libvirt.Domain")
        print("OK")
except dbus.DBusException as e:
    print(e.get_dbus_name(), e.get_dbus_message())
"""
CONNECT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
    print("OK")
except OSError as e:
    print("REFUSED", e)
"""


def as_user(user, code, *args):
    """CODE run by Debian's python3 as USER (its groups from /etc/group)."""
    pw = pwd.getpwnam(user)
    r = subprocess.run(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups", "--",
                        PYTHON, "-c", code, *args], capture_output=True, text=True, timeout=30)
    return (r.stdout + r.stderr).strip()


def make_users():
    subprocess.run(["groupadd", "--system", GROUP], check=True)
    for user, groups in ((MEMBER, [GROUP]), (OUTSIDER, [])):
        argv = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group"]
        if groups:
            argv += ["--groups", ",".join(groups)]
        subprocess.run(argv + [user], check=True)


def remove_users():
    for user in (MEMBER, OUTSIDER):
        subprocess.run(["userdel", user], capture_output=True)
    subprocess.run(["groupdel", GROUP], capture_output=True)


class DbusAccessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        make_users()
        cls.bus = PrivateBus()
        os.chmod(cls.bus.dir, 0o755)  # the throwaway users reach the bus's socket

    @classmethod
    def tearDownClass(cls):
        cls.bus.close()
        remove_users()

    def start_daemon(self, conf):
        daemon = Daemon(prefix="arrow-dbus-acl-", bus=self.bus.address)
        os.chmod(daemon.root, 0o755)  # so that only the socket's own mode decides
        with open(os.path.join(daemon.root, "virtarrowd.conf"), "w") as f:
            f.write(conf)
        daemon.start()
        self.addCleanup(daemon.stop)
        self.bus.wait_owned()
        daemon.conn.defineXML(XML)
        return daemon

    def call(self, user, method):
        if user == "root":
            obj = self.bus.conn.get_object(NAME, domain_path(UUID), introspect=False)
            try:
                getattr(obj, method)(dbus.UInt32(0), dbus_interface="org.libvirt.Domain")
                return "OK"
            except dbus.DBusException as e:
                return f"{e.get_dbus_name()} {e.get_dbus_message()}"
        return as_user(user, CLIENT, self.bus.address, domain_path(UUID), method)

    def check(self, daemon, allowed):
        """ALLOWED: {user: whether the read-write socket's policy lets them in}."""
        for user, expected in allowed.items():
            if user != "root":
                sock = as_user(user, CONNECT, daemon.socket)
                self.assertEqual(sock.startswith("OK"), expected, f"{user} connecting to the rw socket: {sock}")
                self.assertEqual(as_user(user, CLIENT, self.bus.address, domain_path(UUID), "Name"), "OK acl",
                                 f"{user} reads a property whatever the policy")
            for method in ("Create", "Destroy", "Shutdown"):
                if method == "Create" and expected:
                    continue  # allowed, it would boot a QEMU: Destroy and Shutdown show the answer
                answer = self.call(user, method)
                self.assertTrue(answer.startswith("org.libvirt.Error "), f"{user} {method}: {answer}")
                if expected:
                    self.assertNotIn("access denied", answer, f"{user} {method}")
                    self.assertIn("not running", answer, f"{user} {method}")
                else:
                    uid = pwd.getpwnam(user).pw_uid
                    self.assertIn(f"access denied: uid {uid} may not call {method}", answer)
                    self.assertIn(daemon.socket, answer, "the message names the socket whose policy applies")
        self.assertFalse(daemon.conn.lookupByName("acl").isActive(), "no refused Create started the Arrow")

    def test_default_root_only(self):
        d = self.start_daemon("")
        self.check(d, {"root": True, MEMBER: False, OUTSIDER: False})

    def test_group_with_write(self):
        d = self.start_daemon(f'unix_sock_group = "{GROUP}"\nunix_sock_rw_perms = "0660"\n')
        self.check(d, {"root": True, MEMBER: True, OUTSIDER: False})

    def test_group_without_write(self):
        d = self.start_daemon(f'unix_sock_group = "{GROUP}"\nunix_sock_rw_perms = "0640"\n')
        self.check(d, {MEMBER: False, OUTSIDER: False})

    def test_socket_for_everyone(self):
        d = self.start_daemon('unix_sock_rw_perms = "0666"\n')
        self.check(d, {MEMBER: True, OUTSIDER: True})

    def test_socket_mode_followed_live(self):
        # The policy is the socket's, read at each call: a chgrp and chmod of
        # the socket by the administrator applies at once.
        d = self.start_daemon("")
        self.check(d, {MEMBER: False})
        os.chown(d.socket, -1, grp.getgrnam(GROUP).gr_gid)
        os.chmod(d.socket, 0o660)
        self.check(d, {MEMBER: True, OUTSIDER: False})


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root to make throwaway users and call as them (setpriv)")
        sys.exit(SKIP)
    missing = [t for t in ("setpriv", "useradd", "groupadd", "dbus-daemon") if not shutil.which(t)]
    if missing:
        print(f"SKIP: {', '.join(missing)} not found")
        sys.exit(SKIP)
    unittest.main(verbosity=2)

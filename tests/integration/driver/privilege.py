#!/usr/bin/python3
"""Least privilege of an Arrow (issue 5, item 7), against a real virtarrowd
on a private --root, real QEMU and the single-task kernel, as root:

- with `user = "nobody"` in virtarrowd.conf QEMU runs as nobody (all uids
  and gids, no root group, seccomp filter on), and the Arrow, a python
  http.server over a share, still serves through its port forward;
- with a (fake) cgroup v2 root the Arrow's leaf gets memory.max, cpu.max
  and QEMU's pid;
- a guest root that runs `chmod u+s` and mknod (character and block device)
  on a writable share leaves no setuid file and no device node on the host
  (9p mapped-xattr), while the guest still sees what it asked for;
- a writable share QEMU's user cannot write is refused at start, naming
  the share;
- a root daemon configured to keep QEMU as root says so once, and a --root
  daemon has no default QEMU account (and, as root, says once that QEMU
  runs as root)."""

import os
import shutil
import stat
import sys
import tempfile
import unittest

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
from arrowtest import domain_xml, free_port, http_get, wait_for  # noqa: E402
from daemon import Daemon  # noqa: E402

BOOT_TIMEOUT = 90  # python3 over a 9p /usr under TCG on a loaded host
NOBODY = 65534
libvirt.registerErrorHandler(lambda ctx, err: None, None)


def arrow_xml(name, args, share=None, port=None, initdir="/"):
    return domain_xml(name, "/usr/bin/python3", args, initdir=initdir, shares=[share] if share else (),
                      forwards=[(port, 8000)] if port else (), console=False)


def share(source, target, readonly):
    return dict(source=source, target=target, readonly=readonly)


def proc_ids(pid):
    """{'Uid': [...], 'Gid': [...], 'Groups': [...], 'Seccomp': [...]} of PID."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups", "Seccomp"):
                out[key] = [int(v) for v in value.split()]
    return out


class PrivilegeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="arrow-priv-")
        os.chmod(self.tmp, 0o755)  # QEMU as nobody must reach the shares below
        self.daemon = None

    def tearDown(self):
        if self.daemon:
            self.daemon.stop()
        os.environ.pop("ARROW_CGROUP_ROOT", None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_daemon(self, conf=None):
        self.daemon = Daemon(prefix="arrow-priv-d-")
        os.chmod(self.daemon.root, 0o755)  # the build tree's kernel is elsewhere; nothing of ROOT is needed by QEMU
        if conf is not None:
            with open(os.path.join(self.daemon.root, "virtarrowd.conf"), "w") as f:
                f.write(conf)
        self.daemon.start()
        self.conn = self.daemon.conn

    def test_qemu_runs_as_nobody(self):
        cg = os.path.join(self.tmp, "cgroup")
        os.mkdir(cg)
        for name, text in (("cgroup.controllers", "cpuset cpu io memory pids\n"), ("cgroup.subtree_control", "")):
            with open(os.path.join(cg, name), "w") as f:
                f.write(text)
        os.environ["ARROW_CGROUP_ROOT"] = cg
        self.start_daemon('user = "nobody"\n')
        www = os.path.join(self.tmp, "www")
        os.mkdir(www, 0o755)
        with open(os.path.join(www, "hello.txt"), "w") as f:
            f.write("hello from an unprivileged QEMU\n")
        os.chmod(os.path.join(www, "hello.txt"), 0o644)
        port = free_port()
        dom = self.conn.createXML(arrow_xml("web", ["-m", "http.server", "8000"], share(www, "/srv", True),
                                            port=port, initdir="/srv"))
        pid = self.daemon.qemu_pid("web")
        ids = proc_ids(pid)
        self.assertEqual(ids["Uid"], [NOBODY] * 4, "QEMU's real, effective, saved and fs uids")
        self.assertEqual(ids["Gid"], [NOBODY] * 4, "QEMU's gids")
        self.assertNotIn(0, ids["Groups"], "no supplementary root group")
        self.assertEqual(ids["Seccomp"], [2], "QEMU's seccomp sandbox is on (filter mode)")
        status, body = http_get(f"http://127.0.0.1:{port}/hello.txt", BOOT_TIMEOUT)
        self.assertEqual((status, body), (200, b"hello from an unprivileged QEMU\n"))
        self.assertTrue(dom.isActive())
        # The fake cgroup root: the leaf with its limits and QEMU in it.
        leaf = os.path.join(cg, "arrow", "arrow-web")
        with open(os.path.join(leaf, "memory.max")) as f:
            self.assertEqual(int(f.read()), (128 << 20) + (256 << 20))
        with open(os.path.join(leaf, "cpu.max")) as f:
            self.assertEqual(f.read(), "100000 100000\n")
        with open(os.path.join(leaf, "cgroup.procs")) as f:
            self.assertEqual(f.read(), "0", "the child wrote itself into cgroup.procs before exec")
        with open(f"/proc/{pid}/status") as f:
            rss_kib = int(f.read().split("VmRSS:")[1].split()[0])
        print(f"# QEMU as nobody: pid {pid}, VmRSS {rss_kib // 1024} MiB for a 128 MiB guest serving http")
        self.assertNotIn("QEMU runs as root", self.daemon.log_tail(200))
        dom.destroy()

    GUEST_SCRIPT = (
        "import os,stat\n"
        "os.chdir('/data')\n"
        "open('f','w').write('x')\n"
        "os.chmod('f',0o4755)\n"
        "os.chmod('.',0o2777)\n"
        "os.mknod('chr',stat.S_IFCHR|0o666,os.makedev(1,3))\n"
        "os.mknod('blk',stat.S_IFBLK|0o666,os.makedev(8,0))\n"
        "os.mkfifo('fifo')\n"
        "m=lambda p:os.lstat(p).st_mode\n"
        "print('GUEST f=%o chr=%d blk=%d fifo=%d uid=%d' % (m('f'),stat.S_ISCHR(m('chr')),stat.S_ISBLK(m('blk')),"
        "stat.S_ISFIFO(m('fifo')),os.getuid()),flush=True)\n")

    def test_writable_share_no_setuid_no_devices(self):
        self.start_daemon('user = "nobody"\n')
        data = os.path.join(self.tmp, "data")
        os.mkdir(data, 0o755)
        os.chown(data, NOBODY, NOBODY)
        dom = self.conn.createXML(arrow_xml("mk", ["-c", self.GUEST_SCRIPT], share(data, "/data", False)))
        # A transient Arrow is gone once its application ended.
        wait_for(lambda: "mk" not in [d.name() for d in self.conn.listAllDomains()], BOOT_TIMEOUT,
                 "the guest script to finish")
        log = self.daemon.app_log("mk")
        # The guest, root in its VM, saw everything it asked for ...
        self.assertIn("GUEST f=104755 chr=1 blk=1 fifo=1 uid=0", log)
        # ... and the host has plain files of QEMU's user, nothing setuid, no device.
        for name in ("f", "chr", "blk", "fifo"):
            st = os.lstat(os.path.join(data, name))
            self.assertTrue(stat.S_ISREG(st.st_mode), f"{name} is a plain file on the host: {oct(st.st_mode)}")
            self.assertFalse(st.st_mode & (stat.S_ISUID | stat.S_ISGID), f"{name} is not setuid or setgid")
            self.assertEqual((st.st_uid, st.st_gid), (NOBODY, NOBODY), f"{name} belongs to QEMU's user")
            self.assertEqual(st.st_mode & 0o777, 0o600, f"{name}: mapped-xattr's host mode")
        st = os.lstat(data)
        self.assertFalse(st.st_mode & (stat.S_ISUID | stat.S_ISGID), "the share's directory did not become setgid")
        # The guest's view lives in xattrs the host can read.
        self.assertIn("user.virtfs.mode", os.listxattr(os.path.join(data, "f")))

    def test_unwritable_share_refused(self):
        self.start_daemon('user = "nobody"\n')
        data = os.path.join(self.tmp, "rootonly")
        os.mkdir(data, 0o700)
        with self.assertRaises(libvirt.libvirtError) as cm:
            self.conn.createXML(arrow_xml("ro", ["-c", "pass"], share(data, "/data", False)))
        self.assertIn(f"QEMU's user 'nobody' cannot write to the share '{data}'", str(cm.exception))
        self.assertEqual(self.conn.listAllDomains(), [])

    def test_root_warning_once(self):
        # A root daemon told to keep QEMU as root says so, once.
        self.start_daemon('user = "root"\n')
        self.conn.getVersion()
        log = self.daemon.log_tail(200)
        self.assertEqual(log.count("QEMU runs as root"), 1, log)

    def test_private_root_has_no_default_account(self):
        # The arrow-qemu default belongs to the system daemon: a --root
        # instance (tests, side-by-side daemons) runs QEMU as itself, whether
        # or not the account exists on this host; as root it says so, once.
        self.start_daemon()
        self.conn.getVersion()
        log = self.daemon.log_tail(200)
        self.assertEqual(log.count("QEMU runs as root"), 1, log)
        self.assertIn("a --root daemon has no default account", log)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("SKIP: needs root to switch QEMU's user")
        sys.exit(77)
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""Many hosts with libvirt's own transport: stock virsh drives a virtarrowd
through `arrow+ssh://root@127.0.0.1:PORT/system`, over an sshd this test
starts on loopback (an unused port, its own host key, authorized_keys and
known_hosts in a temporary directory; nothing of the machine's ssh setup is
read or written). sshd and the daemon share a private mount namespace in
which a tmpfs covers /run/libvirt, so the daemon (--root /run/libvirt) owns
the system socket path /run/libvirt/virtarrowd-sock there without touching
the host's: both proxies libvirt offers reach it, virt-ssh-helper (the
default, proxy=native, which always opens the system socket of
arrow:///system) and nc (proxy=netcat). Over each: define, start, dominfo,
vcpuinfo, a read-only connection's refusal, destroy, undefine. Root only
(sshd, namespaces); skips when sshd, ssh, nc or unshare is missing."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
from arrowtest import DAEMON, SKIP, TICK, Failures, free_port, read_text, remove_tree, wait_for  # noqa: E402
from daemon import qemu_processes  # noqa: E402

SSHD, SSH, NC = "/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/nc"
RUNDIR = "/run/libvirt"
SYSTEM_SOCKET = RUNDIR + "/virtarrowd-sock"


def arrow_xml(name):
    return (f"<domain type='arrow'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64' machine='microvm'>exe</type><init>/usr/bin/sh</init>"
            f"<initarg>-c</initarg><initarg>{TICK}</initarg></os></domain>")


def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def port_open(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Sshd:
    """An sshd on 127.0.0.1:PORT that lets in root with the key it made; ssh
    (through the `command` script the URI names) trusts only its host key."""

    def __init__(self, work):
        self.work, self.port = work, free_port()
        for key in ("host_key", "id"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "arrow-test", "-f",
                            os.path.join(work, key)], check=True, timeout=60)
        shutil.copy(os.path.join(work, "id.pub"), os.path.join(work, "authorized_keys"))
        with open(os.path.join(work, "host_key.pub")) as f:
            host_pub = " ".join(f.read().split()[:2])
        write(os.path.join(work, "known_hosts"), f"[127.0.0.1]:{self.port} {host_pub}\n")
        write(os.path.join(work, "sshd_config"), "\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {work}/host_key",
            f"AuthorizedKeysFile {work}/authorized_keys", f"PidFile {work}/sshd.pid",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "UsePAM no", "StrictModes no", ""]))
        write(os.path.join(work, "ssh_config"), "\n".join([
            "Host *", f"  IdentityFile {work}/id", "  IdentitiesOnly yes", "  BatchMode yes",
            f"  UserKnownHostsFile {work}/known_hosts", "  GlobalKnownHostsFile /dev/null",
            "  StrictHostKeyChecking yes", ""]))
        # libvirt runs `command` as ssh: this one reads only the test's config.
        self.command = os.path.join(work, "ssh")
        write(self.command, f"#!/bin/sh\nexec {SSH} -F {work}/ssh_config \"$@\"\n", 0o700)
        self.proc = None

    def start(self):
        """sshd and virtarrowd --root /run/libvirt in a mount namespace of
        their own, /run/libvirt a tmpfs there."""
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        self.log = open(os.path.join(self.work, "sshd.log"), "w")
        pidfile, daemon_log = os.path.join(self.work, "daemon.pid"), os.path.join(self.work, "daemon.log")
        script = (f"mount -t tmpfs -o mode=0755 arrow-ssh-test {RUNDIR} && "
                  f"{{ {DAEMON} --root {RUNDIR} --verbose >{daemon_log} 2>&1 & echo $! >{pidfile}; }} && "
                  f"exec {SSHD} -D -e -f {self.work}/sshd_config")
        self.proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or port_open(self.port), 30, "sshd to listen")
        if self.proc.poll() is not None:
            raise AssertionError(f"sshd exited with {self.proc.returncode}: {read_text(self.log.name)}")
        wait_for(lambda: os.path.exists(pidfile) and read_text(pidfile).strip(), 30, "the daemon's pid")
        self.daemon_pid = int(read_text(pidfile))
        # The namespace's files, seen from outside through the daemon's root.
        self.inside = f"/proc/{self.daemon_pid}/root"
        wait_for(lambda: os.path.exists(self.inside + SYSTEM_SOCKET), 30, "the daemon's socket in the namespace")

    def app_log(self, name):
        return read_text(f"{self.inside}{RUNDIR}/log/{name}.log")

    def stop(self):
        """Ends the daemon, every QEMU it left and sshd (the namespace goes with them)."""
        pid = getattr(self, "daemon_pid", None)
        if pid:
            leftover = [p for pids in qemu_processes(RUNDIR).values() for p in pids]
            for p in [pid, *leftover]:
                try:
                    os.kill(p, 9 if p != pid else 15)
                except ProcessLookupError:
                    pass
            wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 30, "the daemon to end")
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def uri(self, **query):
        q = "&".join(f"{k}={v}" for k, v in {**query, "command": self.command}.items())
        return f"arrow+ssh://root@127.0.0.1:{self.port}/system?{q}"


def virsh(uri, *args, readonly=False, timeout=120):
    return subprocess.run(["virsh", *(["-r"] if readonly else []), "-c", uri, *args], capture_output=True,
                          text=True, timeout=timeout)


def check_over(sshd, checks, proxy, work):
    """The Arrow's life through PROXY (native: virt-ssh-helper; netcat: nc)."""
    name = f"ssh-{proxy}"
    query = {"proxy": "native"} if proxy == "native" else {"socket": SYSTEM_SOCKET, "netcat": NC}
    uri = sshd.uri(**query)
    xml = os.path.join(work, f"{name}.xml")
    write(xml, arrow_xml(name))
    for args, what in ((["define", xml], "defines an Arrow"), (["start", name], "starts it")):
        r = virsh(uri, *args)
        checks.check(r.returncode == 0, f"virsh over ssh ({proxy}) {what}", r.stderr.strip())
    wait_for(lambda: "tick 2" in sshd.app_log(name), 180, "the Arrow's application to run")
    r = virsh(uri, "dominfo", name)
    checks.check(r.returncode == 0 and "running" in r.stdout, f"dominfo over ssh ({proxy}): running",
                 r.stdout + r.stderr)
    r = virsh(uri, "vcpuinfo", name)
    checks.check(r.returncode == 0 and "State:          running" in r.stdout, f"vcpuinfo over ssh ({proxy})",
                 r.stdout + r.stderr)
    ro_query = dict(query, socket=SYSTEM_SOCKET + "-ro") if proxy == "netcat" else query
    ro = sshd.uri(**ro_query)
    r = virsh(ro, "destroy", name, readonly=True)
    checks.check(r.returncode != 0 and "read only" in r.stderr,
                 f"a read-only connection over ssh ({proxy}) cannot destroy", r.stderr.strip())
    r = virsh(ro, "domstate", name, readonly=True)
    checks.check(r.returncode == 0 and r.stdout.strip() == "running", "but reads the state", r.stdout + r.stderr)
    for args, what in ((["destroy", name], "destroys it"), (["undefine", name], "undefines it")):
        r = virsh(uri, *args)
        checks.check(r.returncode == 0, f"virsh over ssh ({proxy}) {what}", r.stderr.strip())
    r = virsh(uri, "list", "--all", "--name")
    checks.check(r.returncode == 0 and name not in r.stdout, f"and the daemon has no such Arrow ({proxy})", r.stdout)


def main():
    if os.geteuid() != 0:
        print("SKIP: the test's sshd logs in root, so it needs root")
        return SKIP
    missing = [p for p in (SSHD, SSH, NC) if not os.path.exists(p)] + \
        [t for t in ("ssh-keygen", "unshare") if not shutil.which(t)]
    if missing:
        print(f"SKIP: missing {', '.join(missing)} (scripts/install-deps: openssh-server, netcat-openbsd)")
        return SKIP
    if not os.path.isdir(RUNDIR):
        print(f"SKIP: {RUNDIR} is missing (the mount point of the namespace's tmpfs; libvirt-daemon makes it)")
        return SKIP
    checks = Failures()
    work = tempfile.mkdtemp(prefix="arrow-ssh-")
    os.chmod(work, 0o700)
    sshd = Sshd(work)
    try:
        sshd.start()
        for proxy in ("native", "netcat"):
            check_over(sshd, checks, proxy, work)
    except AssertionError as e:
        checks.check(False, "the ssh transport test ran", str(e))
    finally:
        if checks.failed:
            print("# sshd log:\n" + read_text(os.path.join(work, "sshd.log"))[-2000:])
            print("# daemon log:\n" + read_text(os.path.join(work, "daemon.log"))[-3000:])
        sshd.stop()
        remove_tree(work)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())

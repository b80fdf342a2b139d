#!/usr/bin/python3
"""Many hosts with libvirt's own transport: stock virsh drives a virtarrowd
through `arrow+ssh://root@127.0.0.1:PORT/system`, over an sshd this test
starts on loopback (an unused port, its own host key, authorized_keys and
known_hosts in a temporary directory; nothing of the machine's ssh setup is
read or written). The netcat proxy (the URI's socket= and netcat=) reaches
the test's private daemon: define, start, dominfo, vcpuinfo, destroy,
undefine, and a read-only connection's refusal. libvirt's virt-ssh-helper
(proxy=native) always opens the remote host's system socket
(/run/libvirt/virtarrowd-sock): that part runs only when a system
virtarrowd answers there, and says so when it does not. Root only (sshd);
skips when sshd, ssh or nc is missing."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
from arrowtest import SKIP, TICK, Failures, free_port, remove_tree, wait_for, write_temp  # noqa: E402
from daemon import Daemon  # noqa: E402

SSHD, SSH, NC = "/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/nc"
SYSTEM_SOCKET = "/run/libvirt/virtarrowd-sock"
NAME = "ssh-arrow"


def arrow_xml(name):
    return (f"<domain type='arrow'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            "<os><type arch='x86_64' machine='microvm'>exe</type><init>/usr/bin/sh</init>"
            f"<initarg>-c</initarg><initarg>{TICK}</initarg></os></domain>")


def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def accepts(path):
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


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
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        self.log = open(os.path.join(self.work, "sshd.log"), "w")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", os.path.join(self.work, "sshd_config")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or port_open(self.port), 30, "sshd to listen")
        if self.proc.poll() is not None:
            raise AssertionError(f"sshd exited with {self.proc.returncode}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def uri(self, **query):
        q = "&".join(f"{k}={v}" for k, v in {**query, "command": self.command}.items())
        return f"arrow+ssh://root@127.0.0.1:{self.port}/system?{q}"


def virsh(uri, *args, readonly=False, timeout=120):
    return subprocess.run(["virsh", *(["-r"] if readonly else []), "-c", uri, *args], capture_output=True,
                          text=True, timeout=timeout)


def check_netcat(daemon, sshd, checks, work):
    uri = sshd.uri(socket=daemon.socket, netcat=NC)
    xml = write_temp(arrow_xml(NAME), dir=work)
    for args, what in ((["define", xml], "defines an Arrow"), (["start", NAME], "starts it")):
        r = virsh(uri, *args)
        checks.check(r.returncode == 0, f"virsh over ssh {what}", r.stderr.strip())
    wait_for(lambda: "tick 2" in daemon.app_log(NAME), 180, "the Arrow's application to run")
    r = virsh(uri, "dominfo", NAME)
    checks.check(r.returncode == 0 and "running" in r.stdout, "dominfo over ssh: running", r.stdout + r.stderr)
    r = virsh(uri, "vcpuinfo", NAME)
    checks.check(r.returncode == 0 and "State:          running" in r.stdout, "vcpuinfo over ssh", r.stdout + r.stderr)
    r = virsh(uri, "list", "--all")
    checks.check(r.returncode == 0 and NAME in r.stdout, "list over ssh shows the daemon's Arrow", r.stdout)
    ro = sshd.uri(socket=daemon.socket_ro, netcat=NC)
    r = virsh(ro, "destroy", NAME, readonly=True)
    checks.check(r.returncode != 0 and "read only" in r.stderr, "a read-only connection over ssh cannot destroy",
                 r.stderr.strip())
    r = virsh(ro, "domstate", NAME, readonly=True)
    checks.check(r.returncode == 0 and r.stdout.strip() == "running", "but reads the state", r.stdout + r.stderr)
    for args, what in ((["destroy", NAME], "destroys it"), (["undefine", NAME], "undefines it")):
        r = virsh(uri, *args)
        checks.check(r.returncode == 0, f"virsh over ssh {what}", r.stderr.strip())
    checks.check(NAME not in daemon.conn.listDefinedDomains(), "the daemon has no such Arrow any more")


def check_helper(sshd, checks):
    if not accepts(SYSTEM_SOCKET):
        print(f"# skipped: virt-ssh-helper (proxy=native) reaches only the system socket {SYSTEM_SOCKET}, "
              "and no system virtarrowd answers there")
        return
    r = virsh(sshd.uri(proxy="native"), "list", "--all")
    checks.check(r.returncode == 0 and "Name" in r.stdout, "virt-ssh-helper reaches the system virtarrowd",
                 r.stdout + r.stderr)


def main():
    if os.geteuid() != 0:
        print("SKIP: the test's sshd logs in root, so it needs root")
        return SKIP
    missing = [p for p in (SSHD, SSH, NC) if not os.path.exists(p)] + \
        ([] if shutil.which("ssh-keygen") else ["ssh-keygen"])
    if missing:
        print(f"SKIP: missing {', '.join(missing)} (scripts/install-deps: openssh-server, netcat-openbsd)")
        return SKIP
    checks = Failures()
    work = tempfile.mkdtemp(prefix="arrow-ssh-")
    os.chmod(work, 0o700)
    sshd, daemon = Sshd(work), None
    try:
        sshd.start()
        daemon = Daemon(prefix="arrow-ssh-daemon-").start()
        check_netcat(daemon, sshd, checks, work)
        check_helper(sshd, checks)
    except AssertionError as e:
        checks.check(False, "the ssh transport test ran", str(e))
    finally:
        if checks.failed:
            with open(os.path.join(work, "sshd.log")) as f:
                print("# sshd log:\n" + f.read()[-2000:])
            if daemon:
                print("# daemon log (tail):\n" + daemon.log_tail())
        if daemon:
            daemon.stop()
        sshd.stop()
        remove_tree(work)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())

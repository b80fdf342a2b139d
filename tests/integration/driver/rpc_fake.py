"""Integration test of virtarrowd's RPC layer: the test daemon (the real
server over an in-memory fake driver) on a private --root, driven by stock
virsh, libvirt-python and raw sockets; and systemd socket activation (sockets passed as LISTEN_FDS)."""

import grp
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
from arrowtest import FAKE_DAEMON, SRCDIR  # noqa: E402
from daemon import Daemon  # noqa: E402

DEMO_XML = os.path.join(SRCDIR, "tests", "data", "rpc", "demo.xml")

failures = []


def check(cond, what, detail=""):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        if detail:
            print("     " + str(detail).replace("\n", "\n     "))
        failures.append(what)


def fake_daemon(root, *extra):
    """virtarrowd-fake on ROOT, started; stop() returns its log."""
    return Daemon(root=root, program=FAKE_DAEMON, args=("--verbose", *extra)).start()


def virsh(uri, *args, ro=False):
    cmd = ["virsh", "-q"] + (["-r"] if ro else []) + ["-c", uri, *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def frame(prog, proc, mtype, serial, payload=b""):
    return struct.pack(">IIIiiIi", 28 + len(payload), prog, 1, proc, mtype, serial, 0) + payload


def read_frame(s, timeout):
    s.settimeout(timeout)
    data = b""
    try:
        while len(data) < 4 or len(data) < struct.unpack(">I", data[:4])[0]:
            chunk = s.recv(65536)
            if not chunk:
                return None
            data += chunk
    except socket.timeout:
        return "timeout"
    return struct.unpack(">IIIiiIi", data[:28]), data[28:]


def test_virsh(d):
    uri = d.uri
    rc, out = virsh(uri, "list", "--all")
    check(rc == 0 and out.strip() == "", "virsh list --all on an empty daemon", out)
    rc, out = virsh(uri, "define", DEMO_XML)
    check(rc == 0, "virsh define FILE", out)
    rc, out = virsh(uri, "list", "--all")
    check(rc == 0 and "demo" in out and "shut off" in out, "virsh list --all shows the defined domain", out)
    rc, out = virsh(uri, "dominfo", "demo")
    check(rc == 0 and "OS Type:        exe" in out and "Persistent:     yes" in out
          and "Managed save:   no" in out, "virsh dominfo", out)
    rc, out = virsh(uri, "start", "demo")
    check(rc == 0, "virsh start", out)
    rc, out = virsh(uri, "list")
    check(rc == 0 and "running" in out and " 1 " in out, "virsh list shows it running with id 1", out)
    rc, out = virsh(uri, "domstate", "--reason", "demo")
    check(rc == 0 and "running (booted)" in out, "virsh domstate --reason", out)
    rc, out = virsh(uri, "destroy", "demo")
    check(rc == 0, "virsh destroy", out)
    rc, out = virsh(uri, "domstate", "--reason", "demo")
    check(rc == 0 and "shut off (destroyed)" in out, "virsh domstate after destroy", out)
    rc, out = virsh(uri, "start", "nosuch")
    check(rc != 0 and "failed to get domain 'nosuch'" in out, "virsh start of a missing domain fails", out)
    # An unsupported call and a following command on the same connection.
    rc, out = virsh(uri, "net-list ; list --all")
    check("not supported by the connection driver: virConnectNumOfNetworks" in out and "demo" in out,
          "virsh net-list fails cleanly and the connection survives", out)
    rc, out = virsh(uri, "version", "--daemon")
    check(rc == 0 and "Running hypervisor: Arrow" in out and "daemon: 9.0.0" in out, "virsh version --daemon", out)
    # The -ro socket makes the connection read-only on the server side.
    rc, out = virsh(d.uri_ro, "define", DEMO_XML)
    check(rc != 0 and "read only access prevents virDomainDefineXML" in out,
          "the -ro socket refuses define (server side)", out)
    rc, out = virsh(d.uri_ro, "list", "--all", ro=True)
    check(rc == 0 and "demo" in out, "virsh -r lists on the -ro socket", out)
    rc, out = virsh(d.uri_ro, "undefine", "demo", ro=True)
    check(rc != 0 and "read only access" in out, "virsh -r refuses undefine", out)
    rc, out = virsh(uri, "undefine", "demo")
    check(rc == 0, "virsh undefine", out)
    rc, out = virsh(uri, "list", "--all")
    check(rc == 0 and out.strip() == "", "virsh list --all is empty again", out)


def event_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


def test_python(d):
    libvirt.virEventRegisterDefaultImpl()
    threading.Thread(target=event_loop, daemon=True).start()
    conn = libvirt.open(d.uri)
    check(conn.getType() == "Arrow", "getType() is Arrow", conn.getType())
    check(conn.getLibVersion() >= 9000000, "getLibVersion() >= 9.0.0", conn.getLibVersion())
    check(conn.getInfo()[1] > 0 and conn.getInfo()[2] > 0, "getInfo() has memory and cpus", conn.getInfo())
    check("<capabilities>" in conn.getCapabilities(), "getCapabilities()")
    try:
        conn.lookupByName("missing")
        check(False, "lookupByName of a missing domain fails")
    except libvirt.libvirtError as e:
        check(e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN, "lookupByName missing -> VIR_ERR_NO_DOMAIN (42)",
              e.get_error_code())
    events = []
    got = threading.Event()

    def on_lifecycle(conn_, dom, event, detail, opaque):
        events.append((dom.name(), event, detail))
        got.set()

    cb = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle, None)
    with open(DEMO_XML) as f:
        dom = conn.defineXML(f.read())
    names = [x.name() for x in conn.listAllDomains()]
    check(names == ["demo"], "listAllDomains()", names)
    dom.create()
    check(dom.ID() > 0 and dom.isActive() == 1, "create() then ID() and isActive()", dom.ID())
    deadline = time.time() + 10
    while time.time() < deadline and (dom.name(), libvirt.VIR_DOMAIN_EVENT_STARTED, 0) not in events:
        got.wait(0.2)
        got.clear()
    check(("demo", libvirt.VIR_DOMAIN_EVENT_DEFINED, 0) in events, "lifecycle event DEFINED/ADDED", events)
    check(("demo", libvirt.VIR_DOMAIN_EVENT_STARTED, 0) in events, "lifecycle event STARTED/BOOTED", events)
    stats = conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE)
    check(len(stats) == 1 and stats[0][1].get("state.state") == libvirt.VIR_DOMAIN_RUNNING,
          "getAllDomainStats()", stats)
    check(dom.hasManagedSaveImage() == 0 and dom.listAllSnapshots() == [], "no managed save, no snapshots")
    dom.destroy()
    conn.domainEventDeregisterAny(cb)
    dom.undefine()
    return conn


def test_raw(d, conn):
    bad = socket.socket(socket.AF_UNIX)
    bad.connect(d.socket)
    bad.sendall(struct.pack(">II", 8, 0))
    check(read_frame(bad, 5) is None, "a malformed frame closes that connection")
    huge = socket.socket(socket.AF_UNIX)
    huge.connect(d.socket)
    huge.sendall(struct.pack(">I", 32 * 1024 * 1024 + 5))
    check(read_frame(huge, 5) is None, "an oversized frame closes that connection")
    check(conn.getLibVersion() >= 9000000, "another client keeps being served")

    ka = socket.socket(socket.AF_UNIX)
    ka.connect(d.socket)
    ka.sendall(frame(0x20008086, 60, 0, 0, struct.pack(">i", 10)))
    reply = read_frame(ka, 5)
    check(reply not in (None, "timeout") and reply[1] == struct.pack(">i", 1), "keepalive feature answered 1")
    ping = read_frame(ka, 9)
    check(ping not in (None, "timeout") and ping[0][1] == 0x6b656570 and ping[0][3] == 1,
          "a silent client gets a keepalive PING", ping)
    for s in (bad, huge, ka):
        s.close()


def test_single_instance(root):
    p = subprocess.run([FAKE_DAEMON, "--root", root], capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and "already serving" in p.stderr, "a second daemon on the same root refuses", p.stderr)


def test_idle_timeout(tmp):
    root = os.path.join(tmp, "idle")
    d = fake_daemon(root, "--timeout", "1")
    try:
        d.proc.wait(10)
        exited = True
    except subprocess.TimeoutExpired:
        exited = False
    log = d.stop()
    check(exited and not os.path.exists(d.socket), "--timeout 1 exits when idle and removes its sockets", log)


# Runs ARGV with the listening sockets FDS at 3, 4, ... and LISTEN_PID naming
# the exec'd process, as systemd does.
ACTIVATE = """
import fcntl, os, sys
n = int(sys.argv[1])
fds = [int(f) for f in sys.argv[2:2 + n]]
moved = [fcntl.fcntl(f, fcntl.F_DUPFD, 100) for f in fds]  # out of the way of 3, 4, ...
for i, f in enumerate(moved):
    os.dup2(f, 3 + i, inheritable=True)
    os.close(f)
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDS"] = str(n)
os.execv(sys.argv[2 + n], sys.argv[2 + n:])
"""


def bound_socket(path, mode):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, mode)
    s.listen(16)
    return s


def activated_daemon(root, socks, *extra):
    os.makedirs(root, exist_ok=True)
    log = open(os.path.join(root, "daemon.log"), "w+")
    fds = [s.fileno() for s in socks]
    cmd = [sys.executable, "-c", ACTIVATE, str(len(fds)), *map(str, fds), FAKE_DAEMON, "--root", root, "--verbose", *extra]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, pass_fds=fds), log


def test_socket_activation(tmp):
    root = os.path.join(tmp, "activated")
    os.makedirs(root)
    rw_path, ro_path = os.path.join(root, "virtarrowd-sock"), os.path.join(root, "virtarrowd-sock-ro")
    socks = [bound_socket(ro_path, 0o666), bound_socket(rw_path, 0o600)]  # order does not matter
    proc, log = activated_daemon(root, socks)
    for s in socks:
        s.close()  # the daemon holds them now, as after systemd's exec
    uri = "arrow+unix:///system?socket=" + rw_path
    rc, out = virsh(uri, "define", DEMO_XML)
    check(rc == 0, "socket-activated daemon: virsh define on the passed rw socket", out)
    rc, out = virsh(uri, "list", "--all")
    check(rc == 0 and "demo" in out, "socket-activated daemon: virsh list --all", out)
    rc, out = virsh("arrow+unix:///system?socket=" + ro_path, "undefine", "demo")
    check(rc != 0 and "read only access prevents virDomainUndefine" in out,
          "socket-activated daemon: the passed -ro socket is read-only", out)
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    log.seek(0)
    text = log.read()
    check(proc.returncode == 0 and "adopted socket-activated fd 3" in text and "adopted socket-activated fd 4" in text
          and "listening on " + ro_path + " (read-only)" in text, "the daemon adopted both sockets", text)
    check(os.path.exists(rw_path) and os.path.exists(ro_path),
          "socket files systemd created stay after the daemon exits", text)

    # A socket that is neither of ours: refused, nothing served.
    other = bound_socket(os.path.join(tmp, "other-sock"), 0o600)
    proc, log = activated_daemon(os.path.join(tmp, "activated2"), [other])
    other.close()
    proc.wait(10)
    log.seek(0)
    text = log.read()
    check(proc.returncode != 0 and "not one of ours" in text, "an unknown activated socket is an error", text)

    # LISTEN_PID naming another process: not activated, the daemon binds its own.
    d3 = Daemon(root=os.path.join(tmp, "notactivated"), program=FAKE_DAEMON, args=("--timeout", "1"),
                env={"LISTEN_PID": "1", "LISTEN_FDS": "2"}).start()
    rc, out = virsh(d3.uri, "hostname")
    check(rc == 0 and out.strip(), "LISTEN_PID of another process: the daemon creates its sockets", out)
    d3.proc.wait(10)
    d3.stop()


def test_conf_group(tmp):
    """virtarrowd.conf's unix_sock_group and unix_sock_rw_perms apply to the sockets it creates."""
    root = os.path.join(tmp, "grouped")
    os.makedirs(root)
    gid = os.getgid()
    if os.geteuid() == 0:  # root may give the socket any group: pick one that is not ours
        gid = next((g.gr_gid for g in grp.getgrall() if g.gr_gid != 0), gid)
    with open(os.path.join(root, "virtarrowd.conf"), "w") as f:
        f.write(f'# test\nunix_sock_group = "{grp.getgrgid(gid).gr_name}"\nunix_sock_rw_perms = "0660"\n')
    d = fake_daemon(root)
    try:
        st = os.stat(d.socket)
        check(st.st_gid == gid and (st.st_mode & 0o777) == 0o660,
              "virtarrowd.conf: unix_sock_group and unix_sock_rw_perms", (st.st_gid, oct(st.st_mode)))
        check(os.stat(d.socket + "-ro").st_gid == gid, "virtarrowd.conf: the -ro socket gets the group too")
        rc, out = virsh(d.uri, "hostname")
        check(rc == 0, "the daemon serves on the grouped socket", out)
    finally:
        d.stop()
    with open(os.path.join(root, "virtarrowd.conf"), "w") as f:
        f.write('unix_sock_group = "no-such-group-x"\n')
    p = subprocess.run([FAKE_DAEMON, "--root", root], capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and "virtarrowd.conf:1: unknown group 'no-such-group-x' in 'unix_sock_group'" in p.stderr,
          "a bad virtarrowd.conf stops the daemon with the line and key at fault", p.stderr)


def main():
    with tempfile.TemporaryDirectory(prefix="arrow-rpc-") as tmp:
        root = os.path.join(tmp, "root")
        d = fake_daemon(root)
        try:
            check(os.path.exists(d.socket) and os.path.exists(d.socket + "-ro"), "daemon listens on both sockets")
            check(oct(os.stat(d.socket).st_mode & 0o777) == "0o600" and
                  oct(os.stat(d.socket + "-ro").st_mode & 0o777) == "0o666", "socket modes 0600 and 0666")
            test_virsh(d)
            conn = test_python(d)
            test_raw(d, conn)
            test_single_instance(root)
        finally:
            log = d.stop()
        check(d.proc.returncode == 0 and not os.path.exists(d.socket) and not os.path.exists(d.socket + "-ro"),
              "SIGTERM removes the socket files", log)
        check(f"connected on {d.socket} (uid {os.getuid()}, gid {os.getgid()}, pid " in log,
              "--verbose logs each client's uid (SO_PEERCRED)", log)
        test_idle_timeout(tmp)
        test_socket_activation(tmp)
        test_conf_group(tmp)
        if failures:
            print("daemon log:\n" + log)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

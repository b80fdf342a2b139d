#!/usr/bin/python3
"""Adebug: `arrow exec` runs a second program inside a running Arrow, like
`docker exec`, against a real virtarrowd, real QEMU (TCG) and kernel.

Checked: exit statuses pass through (0, 3; 127 with "command not found"
for a program the Arrow does not have); stdout and stderr stay apart;
`-i` gives it arrow's stdin (1 MiB through sha256sum, byte for byte), and
without `-i` it has none; `-e` and `-w` set its environment and directory;
it runs as the application's user, beside the application (`ps` in the
guest sees PID 1's child); `-t` on a terminal gives it a terminal of its
own (`tty` names a /dev/pts, `stty size` is arrow's terminal's size, a
keystroke reaches it); `arrow debug` attaches the host's strace to the
application and shows its system calls; a read-only connection is refused with libvirt's
words; the daemon logs each exec with who asked; a session whose client
vanishes hangs up the program and the next exec works; the Arrow's
application runs on throughout; `<arrow:debug gdbstub='PORT'/>` in the
metadata gives QEMU's gdbstub on 127.0.0.1:PORT only, a bad port is
refused."""

import hashlib
import os
import select
import signal
import subprocess
import sys
import re
import socket
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))

from arrowtest import ARROW, Failures, domain_xml, free_port, run_on_terminal, wait_for  # noqa: E402
from daemon import run_checks  # noqa: E402

BOOT = 180
TIMEOUT = 120
NAME = "target"


def arrow(d, *args, uri=None, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", TIMEOUT)
    return subprocess.run([ARROW, "-c", uri or d.uri, *args], **kw)





def gdbstub(t, d):
    """<arrow:debug gdbstub='PORT'/>: QEMU's gdbstub answers the GDB remote
    protocol on 127.0.0.1:PORT, and on no other address."""
    port = free_port()
    meta = f"<metadata><arrow:debug xmlns:arrow='urn:x-arrow:domain:1' gdbstub='{port}'/></metadata>"
    xml = domain_xml("kdebug", "/bin/sh", args=["-c", "echo up; exec sleep 100000"], memory_mib=64)
    xml = xml.replace("  <memory", meta + "\n  <memory", 1)
    dom = d.conn.defineXML(xml)
    dom.create()
    wait_for(lambda: "up" in d.app_log("kdebug"), BOOT, "the Arrow with a gdbstub")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"+$?#3f")
        reply = b""
        while b"#" not in reply.lstrip(b"+"):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    t.check(re.search(rb"\$[ST][0-9a-f]{2}", reply) is not None,
            "<arrow:debug gdbstub>: the GDB remote protocol answers on 127.0.0.1", reply)
    with open("/proc/net/tcp") as f:
        listeners = [line.split()[1] for line in f.readlines()[1:] if line.split()[3] == "0A"]
    mine = [a for a in listeners if a.endswith(f":{port:04X}")]
    t.check(mine == [f"0100007F:{port:04X}"], "the gdbstub listens on 127.0.0.1 only", mine)
    dom.destroy()
    dom.undefine()
    bad = d.conn.defineXML(domain_xml("kdebug2", "/bin/true", memory_mib=64).replace(
        "  <memory", "<metadata><arrow:debug xmlns:arrow='urn:x-arrow:domain:1' gdbstub='99999'/></metadata>\n  <memory", 1))
    try:
        bad.create()
        err = ""
    except Exception as e:  # noqa: BLE001
        err = str(e)
    t.check("invalid value '99999' for attribute 'gdbstub' of <arrow:debug>" in err, "a bad gdbstub port is refused", err)


def body(t, d):
    xml = domain_xml(NAME, "/bin/sh", args=["-c", "echo app-up; i=0; while :; do i=$((i+1)); sleep 1; done"],
                     memory_mib=96, inituser="nobody")
    dom = d.conn.defineXML(xml)
    dom.create()
    wait_for(lambda: "app-up" in d.app_log(NAME), BOOT, "the application")

    r = arrow(d, "exec", NAME, "--", "/bin/true")
    t.check(r.returncode == 0, "arrow exec -- /bin/true: exit status 0", r.stderr)
    r = arrow(d, "exec", NAME, "--", "sh", "-c", "exit 3")
    t.check(r.returncode == 3, "exit status 3 passes through", (r.returncode, r.stderr))
    r = arrow(d, "exec", NAME, "--", "no-such-program-here")
    t.check(r.returncode == 127 and b"no-such-program-here: command not found" in r.stderr,
            "a program the Arrow lacks: 127, command not found", (r.returncode, r.stderr))
    r = arrow(d, "exec", NAME, "sh", "-c", "echo out; echo err >&2; id -un")
    t.check(r.stdout == b"out\nnobody\n" and r.stderr == b"err\n",
            "stdout and stderr apart; it runs as the application's user", (r.stdout, r.stderr))
    data = os.urandom(1 << 20)
    r = arrow(d, "exec", "-i", NAME, "--", "sha256sum", input=data)
    t.check(r.returncode == 0 and r.stdout.split()[0].decode() == hashlib.sha256(data).hexdigest(),
            "-i: 1 MiB of stdin reaches the program byte for byte", (r.stdout, r.stderr))
    r = arrow(d, "exec", NAME, "--", "cat", input=b"not for it\n")
    t.check(r.returncode == 0 and r.stdout == b"", "without -i the program has no stdin", r.stdout)
    r = arrow(d, "exec", "-e", "FOO=bar baz", "-w", "/tmp", NAME, "--", "sh", "-c", 'echo "$FOO"; pwd')
    t.check(r.stdout == b"bar baz\n/tmp\n", "-e and -w", (r.stdout, r.stderr))
    r = arrow(d, "exec", NAME, "--", "sh", "-c", "cat /proc/1/comm; ps -o pid,args 2>/dev/null | grep -c 'sleep 1' || true")
    t.check(r.returncode == 0 and r.stdout.startswith(b"init\n"), "it runs beside the application (PID 1 is ainit)",
            r.stdout)

    rc, out = run_on_terminal([ARROW, "-c", d.uri, "exec", "-it", NAME, "--", "sh", "-c",
                               "tty; stty size; read line; echo got:$line"], keys=b"typed\r",
                              send_after=b"33 101", timeout=TIMEOUT, size=(33, 101))
    t.check(rc == 0 and b"/dev/pts/" in out and b"33 101" in out and b"got:typed" in out,
            "-t: a terminal of its own, arrow's size, keystrokes reach it", out)

    r = arrow(d, "exec", NAME, "--", "/bin/true", uri=d.uri_ro)
    t.check(r.returncode == 125 and b"read only access prevents virDomainOpenChannel" in r.stderr,
            "a read-only connection is refused", (r.returncode, r.stderr))

    log = d.log_text()
    t.check(f"Arrow '{NAME}': arrow exec by client" in log and "(uid 0, pid " in log and ": sh -c exit 3" in log,
            "the daemon logs each exec with who asked",
            [line for line in log.splitlines() if "exec" in line][-5:])

    # A client that vanishes mid-session: the program is hung up, the next exec works.
    p = subprocess.Popen([ARROW, "-c", d.uri, "exec", NAME, "--", "sleep", "1000"])
    time.sleep(3)
    p.kill()
    p.wait()
    wait_for(lambda: arrow(d, "exec", NAME, "--", "/bin/true").returncode == 0, 60, "an exec after a vanished client")
    r = arrow(d, "exec", NAME, "--", "sh", "-c", "ps -eo args 2>/dev/null | grep -c '^sleep 1000' || true")
    t.check(r.stdout.strip() in (b"0", b""), "the vanished client's program was hung up", r.stdout)
    # arrow debug: strace from the host's /usr attached to the application.
    if os.path.exists("/usr/bin/strace"):
        p = subprocess.Popen([ARROW, "-c", d.uri, "debug", NAME], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.set_blocking(p.stderr.fileno(), False)
        seen, deadline = b"", time.monotonic() + 60
        while time.monotonic() < deadline and not any(k in seen for k in (b"wait4(", b"clone(", b"execve(")):
            select.select([p.stderr], [], [], 1)
            seen += p.stderr.read() or b""
        p.kill()
        p.wait()
        t.check(b"attached" in seen and any(k in seen for k in (b"wait4(", b"clone(", b"execve(")),
                "arrow debug: strace follows the application's system calls", seen[-600:])
    t.check(dom.isActive() == 1 and "app-up" in d.app_log(NAME), "the application runs on")
    dom.destroy()
    gdbstub(t, d)


def main():
    t = Failures()
    run_checks(t, lambda d: body(t, d))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""<initenv> values may be secrets (API keys, passwords): they reach the
application but never QEMU's command line, which every local user reads in
`ps` and /proc/PID/cmdline (SECURITY.md, "Secrets in the environment").

A real virtarrowd on a private --root, real QEMU and kernel. An Arrow whose
program prints its environment, then ticks once a second, runs with
<initenv name='API_TOKEN'>s3cret-value</initenv> (and one value full of
awkward bytes); the daemon is restarted at once, while the guest boots
(ainit asks a restarted daemon again if the first never answered).
Checked: both values reach the application exactly; no process on the host
has the secret in /proc/PID/cmdline (every process is scanned; QEMU's
-append says only arrow.nenv=2, or arrow.wait=1 for a guest restored from a
boot template, which gets every instruction over Anotify); neither the daemon's log nor the "qemu
started" line has it; after a second daemon restart the Arrow is adopted
(same id and QEMU) and keeps running, its environment not printed a second
time (ainit does not start over); a reboot (a new QEMU) gets the
environment again; a variable over 1024 bytes is refused at define and at
start with an error that names it and the limit, never its value."""

import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import libvirt  # noqa: E402

from arrowtest import Failures, domain_xml, libvirt_error, wait_for  # noqa: E402
from daemon import run_checks  # noqa: E402

BOOT = 120  # seconds: boot under TCG on a busy 2-core host
NAME = "secret"
SECRET = "s3cret-value"
ODD = "a b,=%\u00e9 \"q\" 'x' \\ $HOME"  # sent as bytes: no shell, no escaping on the way
# "env-42" is printed, not in the script's text (which the log's "qemu started" line holds).
SCRIPT = "env; echo env-$((6*7)); i=0; while :; do i=$((i+1)); echo tick $i; sleep 1; done"


def cmdlines():
    """{pid: argv bytes} of every process on the host that can be read."""
    out = {}
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                out[int(path.split("/")[2])] = f.read()
        except OSError:
            pass  # gone meanwhile
    return out


def ticks(d):
    return len(re.findall(r"tick \d+", d.app_log(NAME)))


def printed(d):
    """How many times the application printed API_TOKEN (the log read as text: CR LF is a newline)."""
    return d.app_log(NAME).count(f"API_TOKEN={SECRET}\n")


def no_secret_on_any_command_line(t, d, what):
    found = cmdlines()
    holders = {pid: argv for pid, argv in found.items() if SECRET.encode() in argv}
    t.check(not holders, f"{what}: the secret is in no process's /proc/PID/cmdline ({len(found)} scanned)",
            holders)
    qemu = d.qemu_pid(NAME)
    argv = found.get(qemu, b"").split(b"\0")
    append = argv[argv.index(b"-append") + 1].decode() if b"-append" in argv else ""
    # A cold boot says how many variables come over Anotify; a guest restored
    # from a boot template gets every instruction over Anotify (arrow.wait=1).
    told = " arrow.nenv=2 " in append or append.endswith(" arrow.v=1 arrow.wait=1")
    t.check(told and "arrow.env=" not in append and "API_TOKEN" not in append,
            f"{what}: QEMU's -append says only how many variables (arrow.nenv=2) or nothing (arrow.wait=1)", append)


def body(t, d):
    conn = d.conn
    xml = domain_xml(NAME, "/bin/sh", args=["-c", SCRIPT], env={"API_TOKEN": SECRET, "ODD": ODD}, memory_mib=64)
    dom = conn.defineXML(xml)
    dom.create()
    # A restart while the guest boots: before or after ainit asked for its
    # environment, it gets it (from the restarted daemon if need be).
    d.terminate()
    d.start(timeout=30)
    dom = d.conn.lookupByName(NAME)
    wait_for(lambda: "env-42" in d.app_log(NAME), BOOT, "the application's environment in its log")
    log = d.app_log(NAME)
    asked_again = "ainit asked the restarted daemon for its instructions" in log
    print(f"# the first restart came {'before the first daemon answered' if asked_again else 'after ainit had its environment'}")
    t.check(f"API_TOKEN={SECRET}\n" in log, "the value of API_TOKEN reaches the application", log[-2000:])
    t.check(f"ODD={ODD}\n" in log, "a value with spaces, quotes, commas, '=', '%' and UTF-8 arrives intact")
    no_secret_on_any_command_line(t, d, "running")
    started = [line for line in log.splitlines() if line.startswith("== qemu started")]
    t.check(started and not any(SECRET in line for line in started), "the log's 'qemu started' line has no secret")
    t.check(SECRET not in d.log_text(), "the daemon's log has no secret")

    # A restart adopts the running QEMU; ainit expects no instructions any more.
    before = (dom.ID(), d.qemu_pid(NAME))
    count = ticks(d)
    d.terminate()
    d.start(timeout=30)
    dom = d.conn.lookupByName(NAME)
    t.equal((dom.ID(), d.qemu_pid(NAME)), before, "after a daemon restart: the same id and QEMU (adopted)")
    t.equal(dom.state()[0], libvirt.VIR_DOMAIN_RUNNING, "the adopted Arrow is running")
    wait_for(lambda: ticks(d) > count + 3, 30, "ticks after the restart")
    t.check(True, "the application keeps running after the restart")
    t.equal(printed(d), 1, "the environment was printed once: the application did not start over")
    no_secret_on_any_command_line(t, d, "after the restart")

    # A reboot is a new QEMU, whose ainit gets the environment again.
    qemu = d.qemu_pid(NAME)
    dom.reboot()
    wait_for(lambda: printed(d) == 2, BOOT, "the environment printed by the rebooted Arrow")
    t.check(d.qemu_pid(NAME) not in (None, qemu), "the reboot ran a new QEMU, and it got the environment again")
    no_secret_on_any_command_line(t, d, "after the reboot")
    dom.destroy()
    dom.undefine()

    # One variable over ANOTIFY_MAX_PAYLOAD (1024 bytes as NAME=VALUE).
    big = "B" * 1100
    oversize = domain_xml("oversize", "/usr/bin/env", env={"SMALL": "x", "BIG_CERT": big})
    expected = ("<initenv name='BIG_CERT'>: the variable takes 1109 bytes as NAME=VALUE, over the limit of 1024 "
                "bytes for one environment variable of an Arrow")
    for what, call in [("define", lambda: d.conn.defineXML(oversize)),
                       ("start (createXML)", lambda: d.conn.createXML(oversize, 0))]:
        code, message = libvirt_error(call)
        t.check(code == libvirt.VIR_ERR_CONFIG_UNSUPPORTED and expected in message and big not in message,
                f"{what}: an oversize variable is refused naming it and the limit", message)
    t.equal([dom.name() for dom in d.conn.listAllDomains()], [], "nothing defined or running is left")


def main():
    t = Failures()
    run_checks(t, lambda d: body(t, d), prefix="arrow-secret-")


if __name__ == "__main__":
    main()

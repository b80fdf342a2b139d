#!/usr/bin/python3
"""docs/virsh-commands.md is executable: every domain and host command of
stock virsh has a row there (checked against `virsh help domain`, `monitor`
and `host`), every row said to work is run with stock virsh against a real
virtarrowd and a running Arrow and must succeed, every refused row with an
example must fail with an error, and the lifecycle rows run in order on a
second Arrow. Then what a user reads in the monitoring commands: vCPUs,
CPU time, addresses, scheduler, host statistics."""

import os
import re
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
from arrowtest import SRCDIR, TICK, Failures, remove_tree, wait_for, write_temp  # noqa: E402
from daemon import run_checks  # noqa: E402

DOC = os.path.join(SRCDIR, "docs", "virsh-commands.md")
DOM, SCRATCH, TRANSIENT = "vc-dom", "vc-scratch", "vc-transient"
MAC = "52:54:00:aa:bb:01"


def arrow_xml(name, vcpus=1, iface=""):
    return (f"<domain type='arrow'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>{vcpus}</vcpu>"
            "<os><type arch='x86_64' machine='microvm'>exe</type><init>/usr/bin/sh</init>"
            f"<initarg>-c</initarg><initarg>{TICK}</initarg></os><devices>{iface}</devices></domain>")


def read_table():
    """[(command, status, example, notes)] of every table row of the document."""
    rows = []
    with open(DOC) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 4 or cells[0] in ("command", "---") or not line.startswith("|"):
                continue
            rows.append(tuple(cells))
    return rows


def virsh_commands(group):
    out = subprocess.run(["virsh", "help", group], capture_output=True, text=True, timeout=30).stdout
    return {line.split()[0] for line in out.splitlines()[1:] if line.strip()}


class Virsh:
    def __init__(self, uri, subst, env):
        self.uri, self.subst, self.env = uri, subst, env

    def __call__(self, command, timeout=120):
        argv = [self.subst.get(a, a) for a in shlex.split(command)]
        return subprocess.run(["virsh", "-c", self.uri, *argv], capture_output=True, text=True, timeout=timeout,
                              env=self.env)


def domstate(virsh, name):
    return virsh(f"domstate {name}").stdout.strip()


def run_lifecycle(virsh, checks, work):
    """The (lifecycle) rows, in an order that makes each meaningful; returns
    the commands run."""
    done = []

    def step(command, *then):
        r = virsh(command)
        done.append(command.split()[0])
        checks.check(r.returncode == 0, f"virsh {command}", r.stderr.strip())
        for cond in then:
            cond()

    def reaches(name, state):
        return lambda: wait_for(lambda: domstate(virsh, name) == state, 180, f"{name} {state}")

    scratch_file = write_temp(arrow_xml(SCRATCH), dir=work)
    transient_file = write_temp(arrow_xml(TRANSIENT), dir=work)
    step(f"define {scratch_file}")
    step(f"autostart {SCRATCH}")
    step(f"autostart --disable {SCRATCH}")
    step(f"start {SCRATCH}", reaches(SCRATCH, "running"))
    step(f"suspend {SCRATCH}", reaches(SCRATCH, "paused"))
    step(f"resume {SCRATCH}", reaches(SCRATCH, "running"))
    step(f"reboot {SCRATCH}", reaches(SCRATCH, "running"))
    step(f"shutdown {SCRATCH}", reaches(SCRATCH, "shut off"))
    step(f"create {transient_file}", reaches(TRANSIENT, "running"))
    step(f"destroy {TRANSIENT}")
    step(f"undefine {SCRATCH}")
    return set(done)


def check_readings(virsh, checks):
    """What a user checks in the output of the monitoring commands."""
    r = virsh(f"vcpuinfo {DOM}").stdout
    checks.check(r.count("State:          running") == 2 and "VCPU:           1" in r,
                 "vcpuinfo: two vCPUs, both running", r)
    cpu_times = [float(t) for t in re.findall(r"CPU time:\s+([0-9.]+)s", r)]
    checks.check(len(cpu_times) == 2 and sum(cpu_times) > 0, "vcpuinfo: the vCPU threads used CPU time", r)
    r = virsh(f"domstats {DOM} --vcpu").stdout
    checks.check(re.search(r"vcpu\.1\.state=1", r) is not None and re.search(r"vcpu\.0\.time=[1-9]", r) is not None,
                 "domstats --vcpu: each vCPU's state and time", r)
    r = virsh(f"cpu-stats {DOM} --total").stdout
    m = re.search(r"cpu_time\s+([0-9.]+) seconds", r)
    checks.check(m is not None and float(m.group(1)) > 0, "cpu-stats: QEMU's total CPU time", r)
    r = virsh(f"vcpucount {DOM} --live --active").stdout.strip()
    checks.check(r == "2", "vcpucount --live --active: 2", r)
    r = virsh(f"domifaddr {DOM}").stdout
    checks.check(re.search(rf"eth0\s+{MAC}\s+ipv4\s+10\.0\.2\.15/24", r) is not None,
                 "domifaddr: the user network's address with the interface's MAC", r)
    r = virsh(f"domifstat {DOM} {MAC}")
    checks.check(r.returncode != 0 and "type='user'" in r.stderr, "domifstat on user networking says why", r.stderr)
    r = virsh(f"schedinfo {DOM}").stdout
    checks.check("Scheduler      : posix" in r and "global_quota" in r, "schedinfo: posix with its parameters", r)
    r = virsh(f"domblkinfo {DOM} vda")
    checks.check(r.returncode != 0 and "no disks" in r.stderr, "domblkinfo of a path: no disks", r.stderr)
    r = virsh(f"memtune {DOM}").stdout
    checks.check(all(re.search(rf"^{k}\s*: (unlimited|\d+)$", r, re.M) for k in ("hard_limit", "soft_limit", "swap_hard_limit")),
                 "memtune: the three limits", r)
    page_kib = os.sysconf("SC_PAGESIZE") // 1024
    r = virsh(f"freepages --cellno 0 --pagesize {page_kib}").stdout
    checks.check(re.search(rf"^{page_kib}KiB: \d+$", r, re.M) is not None, "freepages of the base page size", r)
    r = virsh("nodecpustats").stdout
    checks.check(all(re.search(rf"^{k}:\s+\d+$", r, re.M) for k in ("user", "system", "idle", "iowait")),
                 "nodecpustats: user, system, idle, iowait", r)
    with open("/proc/meminfo") as f:
        total = re.search(r"MemTotal:\s+(\d+)", f.read()).group(1)
    r = virsh("nodememstats").stdout
    checks.check(re.search(rf"^total\s*:\s+{total} KiB$", r, re.M) is not None,
                 "nodememstats: the total is /proc/meminfo's", r)
    r = virsh("freecell --all").stdout
    checks.check("Total:" in r, "freecell --all: cells and total", r)
    r = virsh("maxvcpus").stdout.strip()
    checks.check(r.isdigit() and int(r) >= 2, "maxvcpus: a number", r)


def body(daemon, checks):
    rows = read_table()
    names = {r[0] for r in rows}
    for group in ("domain", "monitor", "host"):
        missing = sorted(virsh_commands(group) - names)
        checks.check(not missing, f"every `virsh help {group}` command has a row", ", ".join(missing))
    work = tempfile.mkdtemp(prefix="arrow-virsh-commands-")
    try:
        iface = f"<interface type='user'><mac address='{MAC}'/></interface>"
        dom = daemon.conn.defineXML(arrow_xml(DOM, vcpus=2, iface=iface))
        dom.create()
        wait_for(lambda: "tick 2" in daemon.app_log(DOM), 180, "the Arrow to run its application")
        env = dict(os.environ, EDITOR="true", VISUAL="true")
        subst = {"DOM": DOM, "DOMUUID": dom.UUIDString(), "MAC": MAC, "FILE": write_temp(arrow_xml("vc-file"), dir=work)}
        virsh = Virsh(daemon.uri, subst, env)
        lifecycle = []
        for command, status, example, notes in rows:
            checks.check(status in ("works", "refused"), f"{command}: status is works or refused", status)
            if example == "(lifecycle)":
                lifecycle.append(command)
                continue
            if example.startswith("tests/"):
                checks.check(status == "works" and os.path.exists(os.path.join(SRCDIR, example)),
                             f"{command}: covered by {example}")
                continue
            if not example:
                checks.check(status == "refused", f"{command}: a command that works has an example")
                continue
            text = example.strip("`").replace("TMP/", work + "/")
            r = virsh(text)
            if status == "works":
                checks.check(r.returncode == 0, f"virsh {text} works", r.stderr.strip())
            else:
                checks.check(r.returncode != 0 and "error:" in r.stderr, f"virsh {text} is refused with an error",
                             f"rc {r.returncode}: {r.stdout.strip()} {r.stderr.strip()}")
        checks.check(dom.isActive(), "the Arrow still runs after every command of the table")
        check_readings(virsh, checks)
        ran = run_lifecycle(virsh, checks, work)
        checks.check(set(lifecycle) <= ran, "every (lifecycle) row ran in the sequence", str(set(lifecycle) - ran))
    finally:
        remove_tree(work)


if __name__ == "__main__":
    checks = Failures()
    run_checks(checks, lambda d: body(d, checks), prefix="arrow-virsh-commands-")

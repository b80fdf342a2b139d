#!/usr/bin/python3
"""The memory balloon with stock virsh, as a libvirt user drives it:

- an Arrow gets a balloon by default (QEMU's virtio-balloon-device with
  free-page-reporting and deflate-on-oom on), the XML's switches reach QEMU;
  `virsh dommemstat` reports
  libvirt's statistics (actual, rss, and the guest's unused, available,
  usable, swap, faults, disk caches, last_update once it reported them);
- `virsh setmem NAME SIZE --live` moves the balloon: dommemstat's actual,
  dominfo's used memory and domstats --balloon's balloon.current follow, the
  live XML's <currentMemory> says it, the QEMU's resident memory drops, and
  a size above <memory> is refused with libvirt's message;
- `virsh dommemstat --period N --live` changes the statistics period;
- <currentMemory> below <memory> is where the balloon starts;
- <memballoon model='none'>: no balloon device in QEMU, setmem --live refused
  with a message naming the reason, dommemstat still gives actual and rss."""

import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import arrowtest as at  # noqa: E402
from daemon import run_checks  # noqa: E402

T = at.Failures()
MIB = 1024
# Touches ~48 MiB once (so the guest has resident memory to give back), then
# idles. (Its marker is computed, so that the command line in the log never matches it.)
TOUCH = "b = bytearray(b'x') * (48 << 20); del b; print('touched %d MiB' % 48, flush=True); import time; time.sleep(3600)"


def virsh(d, *args):
    return subprocess.run(["virsh", "-c", d.uri, *args], capture_output=True, text=True, timeout=60)


def memstat(d, name):
    r = virsh(d, "dommemstat", name)
    return {k: int(v) for k, v in re.findall(r"^(\S+) (\d+)$", r.stdout, re.M)}


def domstats(d, name):
    r = virsh(d, "domstats", "--balloon", name)
    return {k: int(v) for k, v in re.findall(r"^\s+balloon\.(\S+)=(\d+)$", r.stdout, re.M)}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))


def create(d, name, memory_mib, devices="", current_mib=None):
    xml = at.domain_xml(name, "/usr/bin/python3", args=["-c", TOUCH], memory_mib=memory_mib, devices=devices)
    if current_mib:
        xml = xml.replace("  <vcpu>", f"  <currentMemory unit='MiB'>{current_mib}</currentMemory>\n  <vcpu>", 1)
    r = virsh(d, "create", at.write_temp(xml, dir=d.root))
    T.check(r.returncode == 0, f"{name}: virsh create: {r.stderr.strip()}")


def qemu_argv(d, name):
    with open(f"/proc/{d.qemu_pid(name)}/cmdline", "rb") as f:
        return f.read().split(b"\0")


def setmem(d):
    # Without free page reporting what the application freed stays resident
    # in QEMU until the balloon takes it.
    create(d, "bal", 256, devices="    <memballoon model='virtio' freePageReporting='off'/>")
    pid = d.qemu_pid("bal")
    T.check(b"virtio-balloon-device,id=balloon0,deflate-on-oom=on,free-page-reporting=off" in qemu_argv(d, "bal"),
            "freePageReporting='off' reaches QEMU; autodeflate is on by default")
    # The guest's first statistics come within the default period (5 s).
    stats = at.wait_for(lambda: (lambda s: s if "usable" in s else None)(memstat(d, "bal")), 120,
                        "the guest's balloon statistics in dommemstat")
    missing = [tag for tag in ("actual", "rss", "unused", "available", "usable", "swap_in", "swap_out", "major_fault",
                               "minor_fault", "disk_caches", "last_update") if tag not in stats]
    T.check(not missing, f"dommemstat reports libvirt's tags: {stats}")
    T.equal(stats.get("actual"), 256 * MIB, "dommemstat actual is <memory> before any setmem")
    T.check(0 < stats.get("usable", 0) <= stats.get("available", 0) <= 256 * MIB,
            f"usable <= available <= memory: {stats}")
    at.wait_for(lambda: "touched 48 MiB" in at.read_text(os.path.join(d.root, "log", "bal.log")), 120,
                "the application to touch its memory")
    before = rss_kib(pid)

    r = virsh(d, "setmem", "bal", "96M", "--live")
    T.check(r.returncode == 0, f"virsh setmem 96M --live: {r.stderr.strip()}")
    at.wait_for(lambda: memstat(d, "bal").get("actual") == 96 * MIB, 120, "dommemstat actual at 96 MiB")
    info = virsh(d, "dominfo", "bal").stdout
    T.check(re.search(r"^Used memory:\s+98304 KiB$", info, re.M), f"dominfo's used memory is the balloon's: {info!r}")
    T.check(re.search(r"^Max memory:\s+262144 KiB$", info, re.M), "dominfo's max memory is <memory>")
    bs = domstats(d, "bal")
    T.equal(bs.get("current"), 96 * MIB, "domstats balloon.current")
    T.equal(bs.get("maximum"), 256 * MIB, "domstats balloon.maximum")
    missing = [field for field in ("usable", "available", "unused", "rss", "last-update") if field not in bs]
    T.check(not missing, f"domstats --balloon has the guest's statistics: {bs}")
    T.check("<currentMemory unit='KiB'>98304</currentMemory>" in virsh(d, "dumpxml", "bal").stdout,
            "the live XML's <currentMemory> is the setmem target")
    # What the balloon took from the guest is given back to the host (QEMU
    # discards the pages the guest hands over).
    rss = at.wait_for(lambda: (lambda r: r if r < before else None)(rss_kib(pid)), 60, "QEMU's RSS to drop")
    print(f"# QEMU RSS {before} KiB before setmem 96M, {rss} KiB after")

    r = virsh(d, "setmem", "bal", "300M", "--live")
    T.check(r.returncode != 0 and "cannot set memory higher than max memory" in r.stderr,
            f"setmem above <memory> refused: {r.stderr.strip()}")
    r = virsh(d, "setmem", "bal", "8M", "--live")
    T.check(r.returncode != 0 and "at least 16 MiB" in r.stderr, f"setmem below 16 MiB refused: {r.stderr.strip()}")
    r = virsh(d, "setmem", "bal", "256M")  # virDomainSetMemory: live
    T.check(r.returncode == 0, f"virsh setmem 256M: {r.stderr.strip()}")
    at.wait_for(lambda: memstat(d, "bal").get("actual") == 256 * MIB, 120, "dommemstat actual back at 256 MiB")

    r = virsh(d, "dommemstat", "bal", "--period", "1", "--live")
    T.check(r.returncode == 0, f"dommemstat --period 1 --live: {r.stderr.strip()}")
    first = memstat(d, "bal").get("last_update", 0)
    at.wait_for(lambda: memstat(d, "bal").get("last_update", 0) >= first + 2, 60,
                "statistics every second after --period 1")
    virsh(d, "destroy", "bal")


def current_memory(d):
    create(d, "cur", 256, current_mib=128)
    T.check(b"virtio-balloon-device,id=balloon0,deflate-on-oom=on,free-page-reporting=on" in qemu_argv(d, "cur"),
            "a default Arrow has a balloon with deflate-on-oom and free page reporting")
    at.wait_for(lambda: memstat(d, "cur").get("actual") == 128 * MIB, 120,
                "<currentMemory> 128 MiB: the balloon starts there")
    T.equal(domstats(d, "cur").get("maximum"), 256 * MIB, "balloon.maximum is still <memory>")
    virsh(d, "destroy", "cur")


def no_balloon(d):
    create(d, "nob", 64, devices="    <memballoon model='none'/>")
    T.check(not any(a.startswith(b"virtio-balloon-device") for a in qemu_argv(d, "nob")),
            "model='none': QEMU has no balloon device")
    r = virsh(d, "setmem", "nob", "32M", "--live")
    T.check(r.returncode != 0 and "has no balloon" in r.stderr and "model='none'" in r.stderr,
            f"setmem --live without a balloon refused clearly: {r.stderr.strip()}")
    stats = memstat(d, "nob")
    T.equal(stats.get("actual"), 64 * MIB, "model='none': dommemstat actual is <memory>")
    T.check(stats.get("rss", 0) > 0, f"model='none': dommemstat rss: {stats}")
    T.check("usable" not in stats, "model='none': no guest statistics")
    T.check("<memballoon model='none'/>" in virsh(d, "dumpxml", "nob").stdout, "dumpxml keeps model='none'")
    virsh(d, "destroy", "nob")


def checks(d):
    setmem(d)
    current_memory(d)
    no_balloon(d)


if __name__ == "__main__":
    run_checks(T, checks, prefix="arrow-balloon-")

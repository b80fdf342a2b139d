"""The peer a libvirt user would otherwise pick for one program in a VM, for
bench/boot.py: libvirt's own QEMU driver (embedded: `qemu:///embed`, a
private instance in this process with its own root directory, nothing
shared with a system libvirtd), its default x86_64 machine type, Debian's
cloud kernel (linux-image-cloud-amd64, unpacked from its package into
/var/cache/arrow/peer, never installed) and a minimal initramfs whose /init
(busybox-static) prints a line on the serial port and powers off. Measured
from virDomainCreateXML to that line in the serial log, and the QEMU
process's PSS once the line is there."""

import glob
import os
import stat
import subprocess
import threading
import time

CACHE = "/var/cache/arrow/peer"
MARK = b"ARROW-PEER-OUTPUT"


def cloud_kernel():
    """The cloud kernel's vmlinuz, unpacked once per machine; None (with why) when apt cannot get it."""
    found = sorted(glob.glob(os.path.join(CACHE, "boot", "vmlinuz-*")))
    if found:
        return found[-1], ""
    os.makedirs(CACHE, exist_ok=True)
    deps = subprocess.run(["apt-cache", "depends", "linux-image-cloud-amd64"], capture_output=True, text=True).stdout
    pkgs = [line.split(":", 1)[1].strip() for line in deps.splitlines() if line.strip().startswith("Depends:")]
    if not pkgs:
        return None, "apt knows no linux-image-cloud-amd64"
    r = subprocess.run(["apt-get", "download", pkgs[0]], cwd=CACHE, capture_output=True, text=True)
    debs = glob.glob(os.path.join(CACHE, pkgs[0] + "_*.deb"))
    if r.returncode != 0 or not debs:
        return None, f"apt-get download {pkgs[0]} failed: {r.stderr.strip()[-200:]}"
    subprocess.run(["dpkg-deb", "-x", debs[0], CACHE], check=True)
    os.unlink(debs[0])
    found = sorted(glob.glob(os.path.join(CACHE, "boot", "vmlinuz-*")))
    return (found[-1], "") if found else (None, "no vmlinuz in the package")


def _newc(entries):
    """An uncompressed newc cpio of (name, mode, data) entries."""
    out = b""
    for ino, (name, mode, data) in enumerate(entries + [("TRAILER!!!", 0, b"")], 1):
        n = name.encode()
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(n) + 1, 0]
        head = b"070701" + b"".join(b"%08X" % f for f in fields) + n + b"\0"
        out += head + b"\0" * (-len(head) % 4) + data + b"\0" * (-len(data) % 4)
    return out


def initramfs(path, program=b"/bin/busybox echo " + MARK):
    with open("/bin/busybox", "rb") as f:
        busybox = f.read()
    init = b"#!/bin/busybox sh\n" + program + b"\n/bin/busybox sleep 1\n/bin/busybox poweroff -f\n"
    d, x = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o755
    with open(path, "wb") as f:
        f.write(_newc([("bin", d, b""), ("dev", d, b""), ("bin/busybox", x, busybox), ("init", x, init)]))


def _pss(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(work, runs=3, memory_mib=128):
    """(median seconds create -> the program's first output, median QEMU PSS
    bytes, description) or (None, None, why not).

    The embedded driver runs unprivileged, as `nobody`: as root it insists on
    Debian's libvirt-qemu account, which only libvirt-daemon-system creates."""
    kernel, why = cloud_kernel()
    if not kernel:
        return None, None, why
    if not os.path.exists("/bin/busybox"):
        return None, None, "busybox-static is not installed"
    peer = os.path.join(work, "libvirt-peer")
    os.makedirs(peer, exist_ok=True)
    os.chmod(work, 0o755)
    initramfs(os.path.join(peer, "initramfs.cpio"))
    subprocess.run(["chown", "-R", "nobody:nogroup", peer], check=True)
    code = (f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); import libvirt_peer; "
            f"print(repr(libvirt_peer.run_vms({peer!r}, {kernel!r}, {runs}, {memory_mib})))")
    r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "/usr/bin/python3", "-c",
                        code], capture_output=True, text=True, timeout=600, env={"PATH": "/usr/bin:/bin", "HOME": peer})
    if r.returncode != 0:
        return None, None, "the libvirt peer failed: " + (r.stderr.strip().splitlines() or ["?"])[-1]
    return eval(r.stdout.strip().splitlines()[-1])  # noqa: S307 (our own repr)


def run_vms(peer, kernel, runs, memory_mib):
    """In the unprivileged child: the VMs themselves."""
    import libvirt
    initrd = os.path.join(peer, "initramfs.cpio")
    work = peer
    libvirt.virEventRegisterDefaultImpl()
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=loop, daemon=True).start()
    root = os.path.join(work, "libvirt-embed")
    conn = libvirt.open(f"qemu:///embed?root={root}")
    times, pss = [], []
    try:
        for i in range(runs):
            log = os.path.join(work, f"peer-serial-{i}.log")
            xml = f"""<domain type='qemu'>
  <name>peer{i}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type><kernel>{kernel}</kernel><initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='{log}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>"""
            t0 = time.monotonic()
            dom = conn.createXML(xml, 0)
            pid_files = glob.glob(os.path.join(root, "run", "qemu", f"peer{i}.pid")) or \
                glob.glob(os.path.join(root, "**", f"peer{i}.pid"), recursive=True)
            pid = int(open(pid_files[0]).read().strip()) if pid_files else 0
            seen = None
            while time.monotonic() - t0 < 120:
                try:
                    with open(log, "rb") as f:
                        if MARK in f.read():
                            seen = time.monotonic() - t0
                            break
                except OSError:
                    pass
                time.sleep(0.005)
            if seen is None:
                return None, None, "the peer VM printed nothing within 120 s"
            times.append(seen)
            pss.append(_pss(pid) if pid else 0)
            try:
                dom.destroy()
            except libvirt.libvirtError:
                pass  # powered off already
    finally:
        conn.close()
        stop.set()
    times.sort()
    pss.sort()
    what = f"libvirt {libvirt.getVersion() // 1000000}.{libvirt.getVersion() // 1000 % 1000} qemu driver " \
           f"(embedded), default machine, {os.path.basename(kernel)}, busybox initramfs, {memory_mib} MiB"
    return times[len(times) // 2], pss[len(pss) // 2], what

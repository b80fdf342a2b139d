#!/usr/bin/python3
"""Templates and clones (ARCHITECTURE.md, "Templates"), with stock virsh,
libvirt-python and `arrow`, a real virtarrowd, real QEMU (TCG) and kernel.

The Arrow's program records its hostname and 16 bytes of /dev/urandom the
moment it starts, then serves them over HTTP (busybox httpd on a forwarded
port). Checked:
- a running application cannot be saved (QEMU 7.2's 9p), and says why; the
  Arrow keeps running;
- `virsh start --paused` then `virsh save`: the Arrow is shut off (saved),
  `virsh save-image-dumpxml` shows it, `virsh restore` runs it and it answers,
  its domstats name the image (arrow.image);
- managedsave: hasManagedSaveImage, managedsave-dumpxml, undefine refused
  while the image exists, `virsh start` resumes from it (then it is gone),
  managedsave-remove;
- a clone XML that changes what a clone may not (memory, program) is refused
  naming the element; a truncated image, an image with a damaged byte in its
  device state and a file that is no image are refused; an image whose
  kernel changed since is refused naming the kernel;
- 10 clones restored at once (`virsh restore IMAGE --xml`, each its own name
  and port) all answer, each with its own hostname and its own random bytes
  (the guest's CRNG is reseeded after the restore) and its own MAC address,
  each one's console output in its own log;
- a daemon restart with the clones running: every clone is adopted, still
  answers, and still names its image;
- `arrow template rm` refuses an image in use, and removes it once the clones
  are gone; `arrow template create` and `arrow run --from` make a template
  and a clone in one step each;
- readiness: Redis with `--supervised systemd` (a daemon speaking systemd's
  notify protocol to ainit's $NOTIFY_SOCKET) turns arrow.ready on, with a
  line in the daemon's log."""

import os
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import libvirt  # noqa: E402

from arrowtest import BUILDDIR, Failures, domain_xml, free_port, http_get, libvirt_error, wait_for  # noqa: E402
from daemon import run_checks  # noqa: E402

BOOT = 180  # seconds: a boot under TCG on a busy 2-core host, with 10 clones at once
CLONES = 10
ARROW = os.path.join(BUILDDIR, "virsh-ext", "arrow")
# Hostname and randomness read as the program starts: after the restore.
SCRIPT = ("busybox mkdir -p /tmp/w && busybox hostname > /tmp/w/host && echo up-as-$(busybox hostname) && "
          "busybox cat /sys/class/net/eth0/address > /tmp/w/mac && "
          "busybox od -An -tx1 -N16 /dev/urandom | busybox tr -d ' \\n' > /tmp/w/rand && "
          "exec busybox httpd -f -p 8000 -h /tmp/w")


def app_xml(name, port, memory_mib=64, kernel=None, init="/usr/bin/busybox", mac=None):
    extra = f"    <kernel>{kernel}</kernel>" if kernel else ""
    xml = domain_xml(name, init, args=["sh", "-c", SCRIPT], forwards=[(port, 8000)], memory_mib=memory_mib,
                     extra_os=extra)
    if mac:
        xml = xml.replace("<interface type='user'>", f"<interface type='user'>\n      <mac address='{mac}'/>", 1)
    return xml


def get(port, path):
    status, body = http_get(f"http://127.0.0.1:{port}/{path}", BOOT)
    return body.decode().strip() if status == 200 else None


def virsh(d, *args, env=None):
    return subprocess.run(["virsh", "-c", d.uri, *args], capture_output=True, text=True, timeout=BOOT,
                          env=dict(os.environ, **(env or {})))


def stat(dom, field):
    for _, params in dom.connect().domainListGetStats([dom], libvirt.VIR_DOMAIN_STATS_STATE):
        return params.get(field)
    return None


def body(d):
    t = checks
    work = tempfile.mkdtemp(prefix="arrow-templates-")
    conn = d.conn
    port = free_port()
    conn.defineXML(app_xml("tpl", port))
    dom = conn.lookupByName("tpl")

    # A running application cannot be saved.
    dom.create()
    t.equal(get(port, "host"), "tpl", "a cold start answers with its own hostname")
    image = os.path.join(work, "tpl.img")
    r = virsh(d, "save", "tpl", image)
    t.check(r.returncode != 0 and "9p" in r.stderr and "--paused" in r.stderr,
            "virsh save of a running application is refused, naming 9p and what works", r.stderr)
    t.check(dom.isActive() and not os.path.exists(image), "and the Arrow runs on, no image written")
    dom.destroy()

    # Save before the application starts; restore.
    r = virsh(d, "start", "--paused", "tpl")
    t.check(r.returncode == 0, "virsh start --paused", r.stderr)
    r = virsh(d, "save", "tpl", image)
    t.check(r.returncode == 0 and os.path.exists(image), "virsh save of a paused Arrow", r.stderr)
    t.equal(dom.state(), [libvirt.VIR_DOMAIN_SHUTOFF, libvirt.VIR_DOMAIN_SHUTOFF_SAVED], "shut off (saved)")
    r = virsh(d, "save-image-dumpxml", image)
    t.check(r.returncode == 0 and "<name>tpl</name>" in r.stdout, "save-image-dumpxml shows the Arrow", r.stderr)
    # The interactive editors, with an editor that changes the title.
    editor = os.path.join(work, "edit.sh")
    with open(editor, "w") as f:
        f.write("#!/bin/sh\nsed -i 's|<name>tpl</name>|<name>tpl</name><title>edited</title>|' \"$1\"\n")
    os.chmod(editor, 0o755)
    r = virsh(d, "save-image-edit", image, env={"EDITOR": editor, "VISUAL": editor})
    t.check(r.returncode == 0 and "<title>edited</title>" in virsh(d, "save-image-dumpxml", image).stdout,
            "save-image-edit changes what an image may change", r.stdout + r.stderr)
    r = virsh(d, "restore", image)
    t.check(r.returncode == 0, "virsh restore", r.stderr)
    t.equal(get(port, "host"), "tpl", "the restored Arrow answers")
    t.equal(dom.state(), [libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_RUNNING_RESTORED], "running (restored)")
    t.equal(stat(dom, "arrow.image"), image, "domstats name the image (arrow.image)")
    dom.destroy()

    # Managed save.
    virsh(d, "start", "--paused", "tpl")
    r = virsh(d, "managedsave", "tpl")
    t.check(r.returncode == 0, "virsh managedsave", r.stderr)
    t.equal(dom.hasManagedSaveImage(0), 1, "hasManagedSaveImage")
    r = virsh(d, "managedsave-dumpxml", "tpl")
    t.check(r.returncode == 0 and "<name>tpl</name>" in r.stdout, "managedsave-dumpxml", r.stderr)
    r = virsh(d, "managedsave-edit", "tpl", env={"EDITOR": editor, "VISUAL": editor})
    t.check(r.returncode == 0 and "<title>edited</title>" in virsh(d, "managedsave-dumpxml", "tpl").stdout,
            "managedsave-edit", r.stdout + r.stderr)
    r = virsh(d, "undefine", "tpl")
    t.check(r.returncode != 0 and "managed save image" in r.stderr, "undefine refused while the image exists", r.stderr)
    r = virsh(d, "start", "tpl")
    t.check(r.returncode == 0, "virsh start resumes from the managed save image", r.stderr)
    t.equal(get(port, "host"), "tpl", "and the Arrow answers")
    t.equal(dom.hasManagedSaveImage(0), 0, "the managed save image is gone once used")
    dom.destroy()
    virsh(d, "start", "--paused", "tpl")
    virsh(d, "managedsave", "tpl")
    r = virsh(d, "managedsave-remove", "tpl")
    t.check(r.returncode == 0 and dom.hasManagedSaveImage(0) == 0, "managedsave-remove", r.stderr)

    # Clone XMLs that change what they may not; damaged and foreign files.
    for what, xml in (("<memory>", app_xml("big", free_port(), memory_mib=128)),
                      ("<init>", app_xml("other", free_port(), init="/usr/bin/env"))):
        path = os.path.join(work, "bad.xml")
        with open(path, "w") as f:
            f.write(xml)
        r = virsh(d, "restore", image, "--xml", path)
        t.check(r.returncode != 0 and what in r.stderr, f"a clone changing {what} is refused naming it", r.stderr)
    with open(image, "rb") as f:
        data = f.read()
    ram = 64 << 20
    damaged = {"truncated": data[:-100], "damaged": data[:ram + 100] + bytes([data[ram + 100] ^ 0xff]) + data[ram + 101:],
               "foreign": b"not an image\n" * 1000}
    words = {"truncated": "truncated", "damaged": "device state is damaged", "foreign": "not a usable Arrow saved image"}
    for kind, content in damaged.items():
        path = os.path.join(work, f"{kind}.img")
        with open(path, "wb") as f:
            f.write(content)
        r = virsh(d, "restore", path)
        t.check(r.returncode != 0 and words[kind] in r.stderr, f"a {kind} image is refused", r.stderr)
    t.equal(sorted(x.name() for x in conn.listAllDomains()), ["tpl"], "no Arrow was left by the refusals")
    kernel = os.path.join(work, "bzImage")
    shutil.copy(os.path.join(BUILDDIR, "kernel", "bzImage"), kernel)
    conn.defineXML(app_xml("kern", free_port(), kernel=kernel))
    virsh(d, "start", "--paused", "kern")
    kern_image = os.path.join(work, "kern.img")
    r = virsh(d, "save", "kern", kern_image)
    t.check(r.returncode == 0, "an Arrow with its own kernel saved", r.stderr)
    st = os.stat(kernel)
    os.utime(kernel, (st.st_atime, st.st_mtime + 60))
    r = virsh(d, "restore", kern_image)
    t.check(r.returncode != 0 and kernel in r.stderr and "made with" in r.stderr,
            "an image whose kernel changed since is refused naming the kernel", r.stderr)
    conn.lookupByName("kern").undefine()

    # 10 clones at once.
    ports = {f"clone{i}": free_port() for i in range(CLONES)}
    results = {}

    macs = {n: f"52:54:00:a0:00:{i:02x}" for i, n in enumerate(ports)}

    def restore(name):
        path = os.path.join(work, f"{name}.xml")
        with open(path, "w") as f:
            f.write(app_xml(name, ports[name], mac=macs[name]))
        results[name] = virsh(d, "restore", image, "--xml", path)

    threads = [threading.Thread(target=restore, args=(n,)) for n in ports]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    failed = {n: r.stderr for n, r in results.items() if r.returncode != 0}
    t.check(not failed, f"{CLONES} clones restored at once", failed)
    hosts = {n: get(p, "host") for n, p in ports.items()}
    rands = {n: get(p, "rand") for n, p in ports.items()}
    t.equal(hosts, {n: n for n in ports}, "every clone answers with its own hostname")
    t.equal({n: get(p, "mac") for n, p in ports.items()}, macs, "every clone's eth0 has its own <mac>")
    t.check(all(f"up-as-{n}" in d.app_log(n) for n in ports), "every clone's console output is in its own log",
            {n: d.app_log(n)[-300:] for n in ports if f"up-as-{n}" not in d.app_log(n)})
    t.check(len(set(rands.values())) == CLONES and all(v and len(v) == 32 for v in rands.values()),
            "every clone read its own random bytes", rands)

    # A daemon restart with the clones running.
    pids = {n: d.qemu_pid(n) for n in ports}
    d.terminate()
    d.start()
    conn = d.conn
    running = {x.name(): x for x in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)}
    t.check(set(ports) <= set(running) and {n: d.qemu_pid(n) for n in ports} == pids,
            "after a daemon restart every clone is adopted, same QEMU", sorted(running))
    t.equal({n: get(p, "host") for n, p in ports.items()}, hosts, "and every clone still answers")
    t.equal(stat(running["clone0"], "arrow.image"), image, "an adopted clone still names its image")

    # Templates in use, and `arrow` in one step each.
    r = subprocess.run([ARROW, "-c", d.uri, "template", "rm", image], capture_output=True, text=True, timeout=60)
    t.check(r.returncode != 0 and "in use" in r.stderr and os.path.exists(image),
            "arrow template rm refuses an image in use", r.stderr)
    for n in ports:
        running[n].destroy()
    r = subprocess.run([ARROW, "-c", d.uri, "template", "rm", image], capture_output=True, text=True, timeout=60)
    t.check(r.returncode == 0 and not os.path.exists(image), "and removes it once no clone runs", r.stderr)
    tpl2 = os.path.join(work, "tpl2.img")
    r = subprocess.run([ARROW, "-c", d.uri, "template", "create", "tpl", tpl2], capture_output=True, text=True,
                       timeout=BOOT)
    t.check(r.returncode == 0 and os.path.exists(tpl2), "arrow template create", r.stderr)
    p = free_port()
    r = subprocess.run([ARROW, "-c", d.uri, "run", "--from", tpl2, "--name", "one", "-p", f"{p}:8000", "--detach"],
                       capture_output=True, text=True, timeout=BOOT)
    t.check(r.returncode == 0 and r.stdout.strip() == "one", "arrow run --from", r.stderr)
    t.equal(get(p, "host"), "one", "the clone answers under its own name")
    one = conn.lookupByName("one")
    one.destroy()
    t.equal(libvirt_error(lambda: conn.lookupByName("one"))[0], libvirt.VIR_ERR_NO_DOMAIN, "a clone is transient")
    # Readiness: a real daemon speaking the notify protocol.
    if os.access("/usr/bin/redis-server", os.X_OK):
        rp = free_port()
        rdom = conn.createXML(domain_xml("ready", "/usr/bin/redis-server",
                                         args=["--supervised", "systemd", "--port", "6379", "--bind", "0.0.0.0",
                                               "--protected-mode", "no", "--save", "", "--dir", "/tmp"],
                                         forwards=[(rp, 6379)], memory_mib=128), 0)
        ok = wait_for(lambda: stat(rdom, "arrow.ready"), BOOT, "READY=1 from redis", retry=(libvirt.libvirtError,))
        t.check(ok and "Arrow 'ready': the application is ready (READY=1)" in d.log_text(),
                "redis --supervised systemd: READY=1 reaches the host (arrow.ready, the daemon's log)",
                d.log_tail(20))
        rdom.destroy()
    else:
        print("# skipped readiness: redis-server is not installed")
    shutil.rmtree(work, ignore_errors=True)


checks = Failures()

if __name__ == "__main__":
    run_checks(checks, body)

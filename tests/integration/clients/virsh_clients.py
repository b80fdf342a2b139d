#!/usr/bin/python3
"""Stock virsh against a real virtarrowd, two clients at once: one `virsh
event --all --loop` watches while another virsh defines, starts (busybox
httpd serving a file from a read-only share, fetched from the host through the
port forward), suspends, resumes, destroys and undefines an Arrow; the watcher
must print each lifecycle event in order. Also what a virsh user reads:
dumpxml with the live id round-tripping through define, list --all, domstate
--reason, dominfo, autostart, read-only refusals on both read-only paths, and
the error paths of issue 3 section 2 as virsh shows them."""

import os
import re
import subprocess
import sys
import tempfile
import time

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import arrowtest as at  # noqa: E402
from daemon import run_checks  # noqa: E402
from virsh_events import VirshEvents  # noqa: E402

T = at.Failures()
libvirt.registerErrorHandler(lambda ctx, err: None, None)


class Virsh:
    def __init__(self, uri, readonly=False):
        self.argv = ["virsh", "-q", "-c", uri] + (["-r"] if readonly else [])

    def __call__(self, *args):
        """(returncode, stdout, stderr) of one virsh invocation; ARGS may hold
        several commands separated by ';' run on one connection."""
        r = subprocess.run(self.argv + list(args), capture_output=True, text=True, timeout=90)
        return r.returncode, r.stdout, r.stderr

    def ok(self, *args):
        rc, out, err = self(*args)
        T.check(rc == 0, f"virsh {' '.join(args)}" + (f": {err.strip()}" if rc else ""))
        return out


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def two_clients(d, virsh, work):
    """The watcher and the acting virsh on one daemon."""
    watcher = VirshEvents(d.uri, quiet=False, settle=0)
    try:
        # The watcher registers asynchronously: a throw-away definition it
        # reports proves it is listening before the real sequence starts.
        # Redefining it until the watcher reports one avoids guessing how long
        # virsh takes to register.
        sync = write(os.path.join(work, "sync.xml"), at.domain_xml("sync", "/bin/true"))
        deadline = time.monotonic() + 20
        while ("Defined", "Added") not in watcher.lifecycle("sync") and time.monotonic() < deadline:
            virsh.ok("define", sync)
            wait_for_quiet(lambda: ("Defined", "Added") in watcher.lifecycle("sync"), 2)
            virsh.ok("undefine", "sync")
        T.check(wait_for_quiet(lambda: watcher.lifecycle("sync")[-2:] == [("Defined", "Added"),
                                                                         ("Undefined", "Removed")], 10),
                "the watcher reports a definition and an undefinition made by another client")

        site = tempfile.mkdtemp(prefix="site-", dir=work)
        write(os.path.join(site, "index.html"), "<h1>busybox in an Arrow</h1>\n")
        port = at.free_port()
        xml = at.domain_xml("bb", "/bin/busybox", ["httpd", "-f", "-p", "8000", "-h", "/srv"],
                            shares=[dict(source=site, target="/srv", readonly=True)], forwards=[(port, 8000)])
        xml_path = write(os.path.join(work, "bb.xml"), xml)
        virsh.ok("define", xml_path)
        virsh.ok("start", "bb")
        status, body = at.http_get(f"http://127.0.0.1:{port}/index.html", 60)
        T.check(status == 200 and b"busybox in an Arrow" in body,
                "busybox httpd serves the read-only share through the port forward")
        virsh.ok("suspend", "bb")
        virsh.ok("resume", "bb")
        virsh.ok("destroy", "bb")
        virsh.ok("undefine", "bb")
        expected = [("Defined", "Added"), ("Started", "Booted"), ("Suspended", "Paused"),
                    ("Resumed", "Unpaused"), ("Stopped", "Destroyed"), ("Undefined", "Removed")]
        seen = wait_for_quiet(lambda: watcher.lifecycle("bb") if len(watcher.lifecycle("bb")) >= 6 else None, 15)
        T.equal(seen or watcher.lifecycle("bb"), expected, "the watcher printed the lifecycle events in order")
    finally:
        watcher.stop()
    T.check(any(re.match(r"events received: \d+", l) for l in watcher.lines),
            "the watcher left its loop cleanly on Ctrl-C")
    if T.failed:
        print("# watcher output:\n#   " + "\n#   ".join(watcher.lines))


def wait_for_quiet(predicate, timeout):
    try:
        return at.wait_for(predicate, timeout, "")
    except AssertionError:
        return None


def inspect_running(d, virsh, work):
    """list, domstate, dominfo, autostart and dumpxml as a virsh user reads them."""
    port = at.free_port()
    site = tempfile.mkdtemp(prefix="web-", dir=work)
    write(os.path.join(site, "index.html"), "web\n")
    xml = at.domain_xml("web", "/bin/busybox", ["httpd", "-f", "-p", "8000", "-h", "/srv"],
                        shares=[dict(source=site, target="/srv", readonly=True)], forwards=[(port, 8000)], memory_mib=96)
    virsh.ok("define", write(os.path.join(work, "web.xml"), xml))
    virsh.ok("define", write(os.path.join(work, "idle.xml"), at.domain_xml("idle", "/bin/true")))
    virsh.ok("start", "web")

    listing = virsh.ok("list", "--all")
    T.check(re.search(r"^\s*\d+\s+web\s+running\s*$", listing, re.M), "list --all: web running with an id")
    T.check(re.search(r"^\s*-\s+idle\s+shut off\s*$", listing, re.M), "list --all: idle shut off, id -")
    T.check("idle" not in virsh.ok("list"), "list (active only) leaves the shut-off Arrow out")
    T.equal(virsh.ok("domstate", "--reason", "web").strip(), "running (booted)", "domstate --reason, running")

    info = virsh.ok("dominfo", "web")
    for field, value in (("State", "running"), ("Max memory", "98304 KiB"), ("CPU\\(s\\)", "1"),
                         ("Persistent", "yes"), ("Autostart", "disable"), ("OS Type", "exe")):
        T.check(re.search(rf"^{field}:\s+{value}\s*$", info, re.M), f"dominfo {field}: {value}")
    virsh.ok("autostart", "web")
    T.check(re.search(r"^Autostart:\s+enable", virsh.ok("dominfo", "web"), re.M), "autostart: dominfo says enable")
    virsh.ok("autostart", "--disable", "web")
    T.check(re.search(r"^Autostart:\s+disable", virsh.ok("dominfo", "web"), re.M),
            "autostart --disable: dominfo says disable")

    virsh.ok("suspend", "web")
    T.check(re.search(r"^\s*\d+\s+web\s+paused\s*$", virsh.ok("list", "--all"), re.M), "list --all: web paused")
    T.equal(virsh.ok("domstate", "--reason", "web").strip(), "paused (user)", "domstate --reason, paused")
    virsh.ok("resume", "web")

    dom_id = re.search(r"^Id:\s+(\d+)", virsh.ok("dominfo", "web"), re.M).group(1)
    live = virsh.ok("dumpxml", "web")
    T.check(re.search(rf"<domain type='arrow' id='{dom_id}'", live), f"dumpxml of a running Arrow has id='{dom_id}'")
    inactive = virsh.ok("dumpxml", "--inactive", "web")
    T.check(" id=" not in inactive.split("\n")[0], "dumpxml --inactive has no id")
    virsh.ok("define", write(os.path.join(work, "web-live.xml"), live))
    T.equal(virsh.ok("dumpxml", "--inactive", "web"), inactive, "dumpxml (live) round-trips through define")
    T.check(re.search(r"^\s*\d+\s+web\s+running", virsh.ok("list"), re.M),
            "define over a running Arrow keeps it running")
    status, _ = at.http_get(f"http://127.0.0.1:{port}/", 60)
    T.check(status == 200, "the running Arrow still serves after the redefinition")

    virsh.ok("destroy", "web")
    T.equal(virsh.ok("domstate", "--reason", "web").strip(), "shut off (destroyed)", "domstate --reason, destroyed")


def read_only(d, work):
    """Both read-only paths: `virsh -r` on the main socket, and the -sock-ro socket."""
    xml_path = write(os.path.join(work, "ro.xml"), at.domain_xml("ro", "/bin/true"))
    for label, ro in (("virsh -r", Virsh(d.uri, readonly=True)), ("-sock-ro", Virsh(d.uri_ro))):
        T.check(re.search(r"\bidle\s+shut off", ro.ok("list", "--all")), f"{label}: list --all works")
        T.check("<name>idle</name>" in ro.ok("dumpxml", "idle"), f"{label}: dumpxml works")
        for args, api in ((("define", xml_path), "virDomainDefineXML"), (("start", "idle"), "virDomainCreate"),
                          (("destroy", "web"), "virDomainDestroy")):
            rc, _, err = ro(*args)
            T.check(rc != 0 and f"read only access prevents {api}" in err,
                    f"{label}: {args[0]} refused with 'read only access prevents {api}'"
                    + ("" if rc else " (it succeeded)") + (f" [{err.strip()}]" if rc and api not in err else ""))


def errors(d, virsh, work):
    """Issue 3 section 2's error paths, as virsh prints them."""
    virsh.ok("define", write(os.path.join(work, "sleeper.xml"), at.domain_xml("sleeper", "/bin/sleep", ["1000"])))
    rc, _, err = virsh("destroy", "sleeper")
    T.check(rc != 0 and "Requested operation is not valid: domain is not running" in err,
            "destroy of a shut-off Arrow: OPERATION_INVALID" + ("" if rc else " (it succeeded)"))
    virsh.ok("start", "sleeper")
    rc, _, err = virsh("start", "sleeper")
    # virsh refuses by itself, trusting the id the daemon put in the lookup reply.
    T.check(rc != 0 and "Domain is already active" in err, "start twice: virsh sees the running id")
    conn = libvirt.open(d.uri)
    try:
        conn.lookupByName("sleeper").create()
        T.check(False, "start twice through the API: refused")
    except libvirt.libvirtError as e:
        T.check(e.get_error_code() == libvirt.VIR_ERR_OPERATION_INVALID and "already running" in str(e),
                f"start twice through the API: OPERATION_INVALID ({e})")
    finally:
        conn.close()
    virsh.ok("destroy", "sleeper")

    rc, _, err = virsh("dominfo", "nosuch")
    # virsh words a failed lookup itself; the daemon's answer is checked below.
    T.check(rc != 0 and "failed to get domain 'nosuch'" in err, "virsh dominfo of a missing name fails")
    T.equal(at.libvirt_error(lambda: d.conn.lookupByName("nosuch")),
            (libvirt.VIR_ERR_NO_DOMAIN, "Domain not found: no domain with matching name 'nosuch'"),
            "lookup of a missing name: NO_DOMAIN with libvirt's wording")

    bad = at.domain_xml("bad", "/bin/true").replace("<vcpu>1</vcpu>", "<vcpu>many</vcpu>")
    rc, _, err = virsh("define", write(os.path.join(work, "bad.xml"), bad))
    T.check(rc != 0 and "XML error" in err and "vcpu" in err,
            f"define of a bad <vcpu>: XML_ERROR naming the element ({err.strip().splitlines()[-1] if err else ''})")
    rc, _, err = virsh("define", write(os.path.join(work, "broken.xml"), "<domain type='arrow'><name>x</name>"))
    T.check(rc != 0 and "XML error" in err, "define of XML that is not well-formed: XML_ERROR")

    # One virsh, one connection, two commands: the second runs after the error.
    rc, out, err = virsh("net-list; list --all")
    T.check("this function is not supported by the connection driver: virConnectNumOfNetworks" in err,
            f"net-list: a clean 'not supported' error [{err.strip()}]")
    T.check(re.search(r"\bsleeper\s+shut off", out), "the same connection still lists domains after net-list")
    T.check(d.proc.poll() is None, "the daemon is still running")


def checks(d):
    virsh = Virsh(d.uri)
    with tempfile.TemporaryDirectory(prefix="virsh-", dir=d.root) as work:
        for part in (two_clients, inspect_running):
            part(d, virsh, work)
        read_only(d, work)
        errors(d, virsh, work)


def main():
    run_checks(T, checks, prefix="arrow-virsh-")


if __name__ == "__main__":
    main()

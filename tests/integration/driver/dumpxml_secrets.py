#!/usr/bin/python3
"""<initenv> values are secrets in the domain XML, as libvirt treats graphics
passwords (SECURITY.md; issue "Hostile guests, greedy clients, odd names",
point 6). Stock virsh against a private virtarrowd, real QEMU:

- `virsh dumpxml` (and --inactive) on the read-write socket keeps each
  <initenv name> and drops its value; --security-info gives the values;
- on the read-only socket and with `virsh -r` the values never come back:
  dumpxml masks them and --security-info is refused;
- `virsh edit` (which asks for the secure form) changes the definition and
  keeps every value; the running guest sees the value; its live XML is
  masked the same way."""

import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import arrowtest as at  # noqa: E402
from daemon import Daemon  # noqa: E402

SECRET = "s3cret-Pa55word"
BOOT = 90
T = at.Failures()


def virsh(uri, *args, readonly=False, env=None):
    r = subprocess.run(["virsh", "-q", "-c", uri] + (["-r"] if readonly else []) + list(args),
                       capture_output=True, text=True, timeout=90, env=env)
    return r.returncode, r.stdout, r.stderr


def masked(xml):
    return "<initenv name='TOKEN'/>" in xml and "<initenv name='MODE'/>" in xml and SECRET not in xml


def main():
    d = Daemon("arrow-secrets-").start()
    work = tempfile.mkdtemp(prefix="arrow-secrets-w-")
    xml = at.domain_xml("sec", "/usr/bin/sh", ["-c", 'echo "app sees TOKEN=$TOKEN"; exec sleep 1000'],
                        env={"TOKEN": SECRET, "MODE": "prod"}, memory_mib=64)
    path = os.path.join(work, "sec.xml")
    with open(path, "w") as f:
        f.write(xml)
    rc, _, err = virsh(d.uri, "define", path)
    T.check(rc == 0, "define an Arrow with two <initenv>", err)

    for args in (("dumpxml", "sec"), ("dumpxml", "--inactive", "sec")):
        rc, out, err = virsh(d.uri, *args)
        T.check(rc == 0 and masked(out), f"read-write `virsh {' '.join(args)}`: names kept, values dropped", out + err)
    rc, out, err = virsh(d.uri, "dumpxml", "--security-info", "sec")
    T.check(rc == 0 and f"<initenv name='TOKEN'>{SECRET}</initenv>" in out
            and "<initenv name='MODE'>prod</initenv>" in out, "read-write `virsh dumpxml --security-info`: the values",
            out + err)

    for label, uri, ro in (("-sock-ro", d.uri_ro, False), ("virsh -r", d.uri, True)):
        rc, out, err = virsh(uri, "dumpxml", "sec", readonly=ro)
        T.check(rc == 0 and masked(out), f"{label}: dumpxml masks the values", out + err)
        rc, out, err = virsh(uri, "dumpxml", "--security-info", "sec", readonly=ro)
        T.check(rc != 0 and SECRET not in out and "secure flag" in err,
                f"{label}: dumpxml --security-info refused", out + err)

    # virsh edit asks for SECURE|INACTIVE and defines what the editor saved:
    # a change goes through and no value is lost.
    editor = os.path.join(work, "editor.sh")
    with open(editor, "w") as f:
        f.write("#!/bin/sh\nsed -i \"s|<memory unit='KiB'>65536</memory>|<memory unit='KiB'>98304</memory>|\" \"$1\"\n")
    os.chmod(editor, 0o755)
    rc, out, err = virsh(d.uri, "edit", "sec", env=dict(os.environ, EDITOR=editor, VISUAL=editor))
    T.check(rc == 0, "virsh edit", out + err)
    rc, out, err = virsh(d.uri, "dumpxml", "--security-info", "sec")
    T.check("<memory unit='KiB'>98304</memory>" in out and f"<initenv name='TOKEN'>{SECRET}</initenv>" in out
            and "<initenv name='MODE'>prod</initenv>" in out, "after virsh edit: the change made, every value kept",
            out)
    with open(os.path.join(d.root, "config", "sec.xml")) as f:
        T.check(f"<initenv name='TOKEN'>{SECRET}</initenv>" in f.read(), "the config file keeps the value")

    rc, _, err = virsh(d.uri, "start", "sec")
    T.check(rc == 0, "virsh start", err)
    at.wait_for(lambda: "app sees TOKEN=" in d.app_log("sec"), BOOT, "the application's line")
    T.check(f"app sees TOKEN={SECRET}" in d.app_log("sec"), "the guest gets the value")
    rc, out, _ = virsh(d.uri_ro, "dumpxml", "sec")
    T.check(re.search(r"<domain type='arrow' id='\d+'>", out) and masked(out), "live XML on -sock-ro: masked", out)
    rc, out, _ = virsh(d.uri, "dumpxml", "--security-info", "sec")
    T.check(f"<initenv name='TOKEN'>{SECRET}</initenv>" in out, "live XML with --security-info: the value")
    virsh(d.uri, "destroy", "sec")
    d.stop()
    at.remove_tree(work)
    T.finish()


if __name__ == "__main__":
    main()

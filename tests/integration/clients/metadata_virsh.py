#!/usr/bin/python3
"""virsh metadata and virsh desc against a real private virtarrowd, as a
libvirt user sees them (libvirt's virDomainGetMetadata / SetMetadata):

- a Nova-style <nova:instance> defined in the domain XML is what
  `virsh metadata NAME URI` returns, without its prefix;
- on a running persistent Arrow, --live and --config are two definitions,
  as libvirt's are: `virsh dumpxml` shows the live one, `dumpxml --inactive`
  the persistent one, for an element, the description and the title;
- both survive a daemon restart (the Arrow running on);
- --remove, and an empty description, remove;
- a `virsh event` watcher prints each change (METADATA_CHANGE);
- the errors are libvirt's: no URI, no key, --config on a transient Arrow,
  --live on a shut-off one, malformed XML, and writes on a read-only socket."""

import os
import subprocess
import sys
import tempfile

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import arrowtest as at  # noqa: E402
from daemon import run_checks  # noqa: E402
from virsh_events import VirshEvents  # noqa: E402

T = at.Failures()


libvirt.registerErrorHandler(lambda ctx, err: None, None)
NOVA = "http://openstack.org/xmlns/libvirt/nova/1.1"
APP = "http://example.org/xmlns/app/1"
NOVA_METADATA = f"""  <title>Nova title</title>
  <metadata>
    <nova:instance xmlns:nova="{NOVA}">
      <nova:package version="27.0.0"/>
      <nova:name>vm-1</nova:name>
      <nova:flavor name="m1.tiny">
        <nova:memory>64</nova:memory>
        <nova:vcpus>1</nova:vcpus>
      </nova:flavor>
    </nova:instance>
  </metadata>
"""
NOVA_ELEMENT = """<instance>
  <package version="27.0.0"/>
  <name>vm-1</name>
  <flavor name="m1.tiny">
    <memory>64</memory>
    <vcpus>1</vcpus>
  </flavor>
</instance>"""


class Virsh:
    def __init__(self, uri, readonly=False):
        self.argv = ["virsh", "-c", uri] + (["-r"] if readonly else [])

    def __call__(self, *args):
        """(returncode, stdout, stderr) of one virsh invocation."""
        r = subprocess.run(self.argv + list(args), capture_output=True, text=True, timeout=90)
        return r.returncode, r.stdout.strip(), r.stderr.strip()

    def ok(self, *args):
        rc, out, err = self(*args)
        T.check(rc == 0, f"virsh {' '.join(args)}", err)
        return out

    def fails(self, args, message, what):
        """virsh ARGS fails and prints MESSAGE (libvirt's words)."""
        rc, out, err = self(*args)
        T.check(rc != 0 and message in err, what, f"status {rc}, stderr: {err}")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def arrow_xml(name, extra=""):
    """A sleeping Arrow; EXTRA goes after <name> (title, metadata)."""
    first, name_line, rest = at.domain_xml(name, "/bin/sleep", ["1000"], memory_mib=64).split("\n", 2)
    return "\n".join([first, name_line, extra + rest])


def nova_element(virsh):
    """What Nova stored in the domain XML is what `virsh metadata` returns."""
    T.equal(virsh.ok("metadata", "meta", NOVA), NOVA_ELEMENT,
            "virsh metadata NAME NOVA_URI: the <nova:instance> of the defined XML, its prefix dropped")
    T.equal(virsh.ok("desc", "meta", "--title"), "Nova title", "virsh desc --title: the defined <title>")
    T.equal(virsh.ok("desc", "meta"), "No description for domain: meta", "virsh desc: none defined")


def live_and_config(virsh, events):
    """A running persistent Arrow: --live and --config are two definitions."""
    T.equal(virsh.ok("metadata", "meta", APP, "--key", "app", "--set", "<cfg mode='live'><n>1</n></cfg>", "--live"),
            "Metadata modified", "metadata --set --live")
    virsh.ok("metadata", "meta", APP, "--key", "app", "--set", "<cfg mode='config'/>", "--config")
    T.equal(virsh.ok("metadata", "meta", APP), '<cfg mode="live">\n  <n>1</n>\n</cfg>',
            "metadata (current, running): the live element")
    T.equal(virsh.ok("metadata", "meta", APP, "--live"), '<cfg mode="live">\n  <n>1</n>\n</cfg>', "metadata --live")
    T.equal(virsh.ok("metadata", "meta", APP, "--config"), '<cfg mode="config"/>', "metadata --config")
    T.equal(virsh.ok("desc", "meta", "--live", "--new-desc", "live", "words"),
            "Domain description updated successfully", "desc --live --new-desc")
    virsh.ok("desc", "meta", "--config", "--new-desc", "config words")
    virsh.ok("desc", "meta", "--title", "--config", "--new-desc", "Config title")
    T.equal(virsh.ok("desc", "meta"), "live words", "desc (current, running): the live description")
    T.equal(virsh.ok("desc", "meta", "--config"), "config words", "desc --config")
    T.equal(virsh.ok("desc", "meta", "--title"), "Nova title", "desc --title: the live title is unchanged")
    T.equal(virsh.ok("desc", "meta", "--title", "--config"), "Config title", "desc --title --config")
    check_dumpxml(virsh, "before the restart")
    for what in (f"type element, uri {APP}", "type description, uri <null>", "type title, uri <null>"):
        line = f"event 'metadata-change' for domain 'meta': {what}"
        T.check(events.saw(line), f"virsh event --event metadata-change prints: {line}", "\n".join(events.lines))


def check_dumpxml(virsh, when):
    live, inactive = virsh.ok("dumpxml", "meta"), virsh.ok("dumpxml", "--inactive", "meta")
    T.check(f'<app:cfg xmlns:app="{APP}" mode="live">' in live and "mode=\"config\"" not in live
            and "<description>live words</description>" in live and "<title>Nova title</title>" in live,
            f"dumpxml {when}: the live definition", live)
    T.check(f'<app:cfg xmlns:app="{APP}" mode="config"/>' in inactive and "mode=\"live\"" not in inactive
            and "<description>config words</description>" in inactive
            and "<title>Config title</title>" in inactive and f'<nova:instance xmlns:nova="{NOVA}">' in inactive,
            f"dumpxml --inactive {when}: the persistent definition", inactive)


def after_restart(d, virsh, dom_id):
    """virtarrowd restarted: the Arrow runs on with both definitions."""
    d.proc.terminate()
    d.proc.wait(20)
    d.start()
    T.equal(virsh.ok("domid", "meta"), dom_id, "after a daemon restart the Arrow runs on with its id")
    T.equal(virsh.ok("metadata", "meta", APP), '<cfg mode="live">\n  <n>1</n>\n</cfg>',
            "after the restart: the live element")
    T.equal(virsh.ok("metadata", "meta", APP, "--config"), '<cfg mode="config"/>',
            "after the restart: the persistent element")
    T.equal(virsh.ok("desc", "meta"), "live words", "after the restart: the live description")
    T.equal(virsh.ok("metadata", "meta", NOVA), NOVA_ELEMENT, "after the restart: Nova's element")
    check_dumpxml(virsh, "after the restart")


def removal(virsh):
    T.equal(virsh.ok("metadata", "meta", APP, "--remove", "--live"), "Metadata removed", "metadata --remove --live")
    virsh.fails(("metadata", "meta", APP, "--live"), "metadata not found: Requested metadata element is not present",
                "metadata --live after the removal: libvirt's 'not present'")
    T.equal(virsh.ok("metadata", "meta", APP, "--config"), '<cfg mode="config"/>',
            "the persistent element stays after a live removal")
    virsh.ok("metadata", "meta", APP, "--remove", "--config")
    virsh.fails(("metadata", "meta", APP, "--config"), "metadata not found", "metadata --config after its removal")
    virsh.ok("desc", "meta", "--config", "--new-desc", "")
    T.equal(virsh.ok("desc", "meta", "--config"), "No description for domain: meta",
            "desc --config --new-desc '': the description is removed")
    virsh.ok("destroy", "meta")
    T.equal(virsh.ok("desc", "meta"), "No description for domain: meta",
            "stopped, the Arrow has its persistent definition again")
    T.equal(virsh.ok("desc", "meta", "--title"), "Config title", "stopped: the persistent title")


def errors(d, virsh, work):
    """libvirt's errors, as virsh and libvirt-python print them."""
    virsh.fails(("metadata", "meta"), "command 'metadata' requires <uri> option", "metadata without a URI")
    T.equal(at.libvirt_error(lambda: d.conn.lookupByName("meta").metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, None, 0)),
            (libvirt.VIR_ERR_INVALID_ARG, "uri in virDomainGetMetadata must not be NULL"),
            "libvirt-python metadata(ELEMENT, None): INVALID_ARG")
    virsh.fails(("metadata", "meta", APP, "--set", "<x/>"), "namespace key is required when modifying metadata",
                "metadata --set without --key")
    virsh.fails(("metadata", "meta", APP, "--key", "k", "--set", "<foo></bar>"),
                "(metadata_xml):1: Opening and ending tag mismatch: foo line 1 and bar\n<foo></bar>\n-----------^",
                "metadata --set with malformed XML: libvirt's parser error, line and pointer")
    virsh.fails(("metadata", "meta", APP, "--key", "k", "--set", "<x/>", "--live"),
                "Requested operation is not valid: domain is not running", "metadata --live on a shut-off Arrow")
    virsh.fails(("desc", "meta", "--live", "--new-desc", "x"),
                "Requested operation is not valid: domain is not running", "desc --live on a shut-off Arrow")
    virsh.ok("create", write(os.path.join(work, "tmp.xml"), arrow_xml("tmp")))
    virsh.fails(("metadata", "tmp", APP, "--key", "k", "--set", "<x/>", "--config"),
                "Requested operation is not valid: transient domains do not have any persistent config",
                "metadata --config on a transient Arrow")
    virsh.fails(("desc", "tmp", "--config", "--new-desc", "x"),
                "Requested operation is not valid: transient domains do not have any persistent config",
                "desc --config on a transient Arrow")
    virsh.ok("metadata", "tmp", APP, "--key", "k", "--set", "<x/>")
    T.equal(virsh.ok("metadata", "tmp", APP), "<x/>", "a transient Arrow's live element")
    virsh.ok("destroy", "tmp")
    # The read-only socket: reading is allowed, writing is not.
    ro = Virsh(d.uri_ro)
    T.equal(ro.ok("metadata", "meta", NOVA), NOVA_ELEMENT, "read-only socket: metadata can be read")
    ro.fails(("metadata", "meta", APP, "--key", "k", "--set", "<x/>"),
             "read only access prevents virDomainSetMetadata", "read-only socket: metadata --set refused")
    ro.fails(("desc", "meta", "--new-desc", "x"), "read only access prevents virDomainSetMetadata",
             "read-only socket: desc --new-desc refused")


def checks(d):
    virsh = Virsh(d.uri)
    events = None
    try:
        with tempfile.TemporaryDirectory(prefix="metadata-", dir=d.root) as work:
            events = VirshEvents(d.uri, event="metadata-change")
            virsh.ok("define", write(os.path.join(work, "meta.xml"), arrow_xml("meta", NOVA_METADATA)))
            nova_element(virsh)
            virsh.ok("start", "meta")
            dom_id = virsh.ok("domid", "meta")
            live_and_config(virsh, events)
            events.stop()
            after_restart(d, virsh, dom_id)
            removal(virsh)
            errors(d, virsh, work)
            virsh.ok("undefine", "meta")
    finally:
        if events:
            events.stop()


def main():
    run_checks(T, checks, prefix="arrow-metadata-")

if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""OpenStack Nova itself boots an Arrow. Nova's own functional test harness
(Debian's python3-nova: the in-process REST API, conductor, scheduler,
placement, sqlite databases and message bus) runs its compute service with
arrow_nova.driver.ArrowDriver against a real virtarrowd: POST /servers with
a flavor and an image whose properties name `/usr/bin/python3 -m
http.server`, the server goes ACTIVE and its application answers HTTP on the
host (a port forward the image asks for); console output, diagnostics and
the host's resources (LibvirtDriver's init_host and get_available_resource
over virtarrowd) come through the API; an image naming no program is
refused with the reason as the server's fault; stop, start, soft and hard
reboot, pause and unpause each reach their state, suspend is done or refused
as virtarrowd allows, and after DELETE the Arrow is gone from the daemon.
Then the driver's XML for what cannot boot here (a Neutron bridge port,
shares: tests/data/nova) passes virtarrowd's own parser and reads back.

The harness poisons host inspection (/sys, os.uname, netifaces) and
libvirt's event thread because its compute service normally runs a fake
driver; here the compute service is real, so those poisons are lifted. The
libvirt errors Nova met along the way (and tolerated) are listed at the end.
Skips (77) when Nova's harness is not installed."""

import os
import sys
import tempfile
import time
import unittest
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import arrowtest as at  # noqa: E402

sys.path.insert(0, os.path.join(at.SRCDIR, "openstack"))
# Where `make install` puts nova.virt.arrow (Nova imports drivers from nova.virt).
NOVA_VIRT_SHIM = os.path.join(at.SRCDIR, "openstack", "nova_virt")

# Debian's nova-common ships the API's paste pipeline; the harness expects it
# in a source tree.
API_PASTE = "/usr/share/nova-common/api-paste.ini"
NEEDS = "python3-nova python3-placement nova-common python3-oslotest python3-wsgi-intercept"
try:
    import nova.monkey_patch  # noqa: F401  (eventlet first, as nova-compute does)
    import fixtures
    import libvirt
    import testtools
    from nova import context as nova_context
    from nova import utils as nova_utils
    from nova.tests import fixtures as nova_fixtures
    from nova.tests.functional import integrated_helpers
    from nova.tests.functional.api import client as api_client
    import nova.virt
    from nova.virt.libvirt import host as libvirt_host
except ImportError as e:
    at.skip(f"Nova's functional test harness is not importable ({e}); scripts/install-deps installs {NEEDS}")
if not os.path.exists(API_PASTE):
    at.skip(f"{API_PASTE} is missing (Debian's nova-common); scripts/install-deps installs {NEEDS}")

nova.virt.__path__.append(NOVA_VIRT_SHIM)
import arrow_nova.driver  # noqa: E402,F401  (registers the [arrow] options)
from daemon import Daemon  # noqa: E402

BOOT_TIMEOUT = 120          # python3 over a 9p /usr under TCG on busy cores
STATE_TIMEOUT = 180         # an API action that boots or stops an Arrow
GUEST_PORT = 8000
LIBVIRT_RUNNING, LIBVIRT_PAUSED = libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_PAUSED

DAEMON = None               # set by main() before the test runs
LIBVIRT_ERRORS = []         # (code, message) of every libvirt error in this process
NOVA_LIBVIRT_ERRORS = []    # those before the test's final checks: Nova's
TIMINGS = []                # (what, seconds), printed: TCG on a shared machine, not asserted
ORIGINAL_INIT_EVENTS = libvirt_host.Host._init_events


def _took(what, start):
    TIMINGS.append((what, time.monotonic() - start))


def _record_libvirt_error(context, err):
    LIBVIRT_ERRORS.append((err[0], err[2]))  # (VIR_ERR_* code, message)


class ArrowNovaTest(integrated_helpers._IntegratedTestBase):
    ADMIN_API = False
    microversion = "latest"

    def setUp(self):
        # Lift the harness's poisons of host inspection before it sets them:
        # this compute service drives a real daemon on this host.
        for fx in (nova_fixtures.GenericPoisonFixture, nova_fixtures.SysFsPoisonFixture,
                   nova_fixtures.PoisonFunctions):
            self.useFixture(fixtures.MockPatchObject(fx, "setUp", fixtures.Fixture.setUp))
        self.useFixture(fixtures.MonkeyPatch("nova.virt.libvirt.host.Host._libvirt_error_handler",
                                             staticmethod(_record_libvirt_error)))
        self.useFixture(fixtures.MonkeyPatch("nova.virt.libvirt.host.Host._init_events", ORIGINAL_INIT_EVENTS))
        self.host_port = at.free_port()
        super().setUp()

    def _setup_compute_service(self):
        # Nova's WarningsFixture shows every DeprecationWarning once per
        # place; eventlet's and paste's in Debian 12 are noise here.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        self.flags(api_paste_config=API_PASTE, group="wsgi")
        self.flags(compute_driver="arrow.ArrowDriver",
                   instances_path=self.useFixture(fixtures.TempDir()).path)
        self.flags(connection_uri=DAEMON.uri, allow_port_forwards=True, group="arrow")
        return self.start_service("compute", host="arrow-compute")

    # ---- helpers ---------------------------------------------------------------

    def _server(self, server_id):
        return self.admin_api.get_server(server_id)

    def _wait_status(self, server_id, status, timeout=STATE_TIMEOUT):
        def reached():
            s = self._server(server_id)
            if s["status"] == "ERROR":
                self.fail(f"server went to ERROR: {s.get('fault')}")
            return s if s["status"] == status and s.get("OS-EXT-STS:task_state") is None else None
        return at.wait_for(reached, timeout, f"server {server_id} to be {status}", interval=0.5)

    def _domain(self, server_id):
        return DAEMON.conn.lookupByUUIDString(server_id)

    def _answers(self):
        status, body = at.http_get(f"http://127.0.0.1:{self.host_port}/", timeout=BOOT_TIMEOUT)
        self.assertEqual(status, 200)
        self.assertIn(b"Directory listing", body)

    def _action(self, server_id, body):
        self.api.post_server_action(server_id, body)

    # ---- the test ----------------------------------------------------------------

    def test_arrow_server_lifecycle(self):
        image_id = self.glance.create(nova_context.get_admin_context(), {
            "name": "python-http-server", "status": "active", "container_format": "bare", "disk_format": "raw",
            "properties": {
                "arrow_program": "/usr/bin/python3",
                "arrow_args": f"-m http.server {GUEST_PORT}",
                "arrow_env": "PYTHONUNBUFFERED=1",
                "arrow_workdir": "/usr/share",
                "arrow_ports": f"{self.host_port}:{GUEST_PORT}",
            }})["id"]
        flavor_id = self.admin_api.post_flavor({"flavor": {
            "name": "arrow.small", "ram": 128, "vcpus": 1, "disk": 1, "OS-FLV-EXT-DATA:ephemeral": 0,
            "swap": 0}})["id"]

        # An image that names no program: the build ends (no reschedule) with
        # the driver's reason as the server's fault, and no Arrow is left.
        no_program = self.glance.create(nova_context.get_admin_context(), {
            "name": "no-program", "status": "active", "container_format": "bare", "disk_format": "raw",
            "properties": {}})["id"]
        bad = self.api.post_server({"server": {
            "name": "bad", "imageRef": no_program, "flavorRef": flavor_id, "networks": "none"}})
        bad = at.wait_for(lambda: (b := self._server(bad["id"]))["status"] == "ERROR" and b, STATE_TIMEOUT,
                          "the server without a program to fail")
        self.assertIn("image property arrow_program: missing", bad["fault"]["message"])
        self.assertEqual(DAEMON.conn.listAllDomains(0), [])
        self.api.delete_server(bad["id"])
        at.wait_for(lambda: self._gone(bad["id"]), STATE_TIMEOUT, "the failed server to be deleted")

        # Boot.
        t = time.monotonic()
        server = self.api.post_server({"server": {
            "name": "web", "imageRef": image_id, "flavorRef": flavor_id, "networks": "none"}})
        sid = server["id"]
        server = self._wait_status(sid, "ACTIVE")
        self.assertEqual(server["OS-EXT-STS:power_state"], 1)          # RUNNING
        self.assertEqual(server["OS-EXT-SRV-ATTR:host"], "arrow-compute")
        dom = self._domain(sid)
        self.assertEqual(dom.state()[0], LIBVIRT_RUNNING)
        xml = dom.XMLDesc(0)
        for needle in ("<init>/usr/bin/python3</init>", "<initarg>http.server</initarg>",
                       "<memory unit='KiB'>131072</memory>", "<vcpu>1</vcpu>",
                       "<nova:name>web</nova:name>", f"<range start='{self.host_port}' to='{GUEST_PORT}'/>"):
            self.assertIn(needle, xml)
        self._answers()
        _took("POST /servers to the application's first HTTP answer", t)

        # The application's output through Nova (the Arrow's log).
        output = at.wait_for(lambda: (o := self.api.post_server_action(sid, {"os-getConsoleOutput": {}})["output"])
                             and '"GET / HTTP/1.1" 200' in o and o, 60, "the request in the console output")
        self.assertIn("Serving HTTP on", output)

        # Diagnostics and the host's resources as Nova reports them.
        diags = self.admin_api.get_server_diagnostics(sid)
        self.assertEqual(diags["state"], "running")
        self.assertEqual(diags["memory_details"]["maximum"], 128)
        with nova_utils.temporary_mutation(self.admin_api, microversion="2.47"):  # the older format
            legacy = self.admin_api.get_server_diagnostics(sid)
        self.assertEqual(legacy["memory"], 128 * 1024)                 # virDomainGetMaxMemory, KiB

        # nova-compute's periodic resource audit, with the Arrow running.
        self.compute.manager.update_available_resource(nova_context.get_admin_context())
        hyp = self.admin_api.api_get("/os-hypervisors/detail").body["hypervisors"][0]
        self.assertEqual(hyp["state"], "up")
        self.assertEqual(hyp["status"], "enabled")
        self.assertEqual(hyp["hypervisor_hostname"], DAEMON.conn.getHostname())
        rp = self._get_provider_uuid_by_name(hyp["hypervisor_hostname"])
        inventory = self._get_provider_inventory(rp)
        _, memory_mib, cpus = DAEMON.conn.getInfo()[:3]                # virNodeGetInfo, as virsh nodeinfo
        self.assertEqual(inventory["VCPU"]["total"], cpus)
        self.assertEqual(inventory["MEMORY_MB"]["total"], memory_mib)
        traits = set(self._get_provider_traits(rp))
        self.assertIn("COMPUTE_IMAGE_TYPE_RAW", traits)
        for cannot in ("COMPUTE_NET_ATTACH_INTERFACE", "COMPUTE_VOLUME_MULTI_ATTACH", "COMPUTE_VOLUME_EXTEND",
                       "COMPUTE_DEVICE_TAGGING", "COMPUTE_ACCELERATORS"):
            self.assertNotIn(cannot, traits)                           # the scheduler knows what an Arrow can't
        usages = self._get_provider_usages(rp)
        self.assertEqual((usages["VCPU"], usages["MEMORY_MB"]), (1, 128))

        # Stop and start.
        t = time.monotonic()
        self._action(sid, {"os-stop": None})
        server = self._wait_status(sid, "SHUTOFF")
        _took("stop to SHUTOFF", t)
        self.assertEqual(server["OS-EXT-STS:power_state"], 4)          # SHUTDOWN
        self.assertFalse(self._domain(sid).isActive())
        self.assertIsNone(at.http_status(f"http://127.0.0.1:{self.host_port}/"))
        t = time.monotonic()
        self._action(sid, {"os-start": None})
        self._wait_status(sid, "ACTIVE")
        self.assertEqual(self._domain(sid).state()[0], LIBVIRT_RUNNING)
        self._answers()
        _took("start to an HTTP answer", t)

        # Soft and hard reboot: a new QEMU each time (a new domain id), serving again.
        for kind in ("SOFT", "HARD"):
            before = self._domain(sid).ID()
            t = time.monotonic()
            self._action(sid, {"reboot": {"type": kind}})
            self._wait_status(sid, "ACTIVE")
            at.wait_for(lambda: self._domain(sid).isActive() and self._domain(sid).ID() != before, BOOT_TIMEOUT,
                        f"a new QEMU (a domain id other than {before}) after the {kind} reboot")
            self._answers()
            _took(f"{kind.lower()} reboot to an HTTP answer", t)

        # Pause and unpause: the Arrow's vCPUs stop and resume.
        self._action(sid, {"pause": None})
        self._wait_status(sid, "PAUSED")
        self.assertEqual(self._domain(sid).state()[0], LIBVIRT_PAUSED)
        self.assertIsNone(at.http_status(f"http://127.0.0.1:{self.host_port}/"))  # its vCPUs stopped
        self._action(sid, {"unpause": None})
        self._wait_status(sid, "ACTIVE")
        self.assertEqual(self._domain(sid).state()[0], LIBVIRT_RUNNING)
        self._answers()

        # Suspend needs virDomainManagedSave: done and resumed where
        # virtarrowd can save an Arrow, refused with the driver's reason where not.
        try:
            self._action(sid, {"suspend": None})
        except api_client.OpenStackApiException as e:
            # The harness turns RPC casts into calls: a refusal reaches the API.
            print(f"# suspend answered: {e}")
        event = at.wait_for(lambda: self._suspend_outcome(sid), STATE_TIMEOUT, "suspend to finish")
        if event == "SUSPENDED":
            self._action(sid, {"resume": None})
            self._wait_status(sid, "ACTIVE")
        else:
            self.assertIn("cannot save an Arrow's memory", event)
            self.assertEqual(self._server(sid)["status"], "ACTIVE")
        self._answers()

        NOVA_LIBVIRT_ERRORS.extend(LIBVIRT_ERRORS)  # before this test's own lookups that must fail

        # Delete: the Arrow is gone from the daemon.
        t = time.monotonic()
        self.api.delete_server(sid)
        at.wait_for(lambda: self._gone(sid), STATE_TIMEOUT, "the server to be deleted")
        _took("DELETE to the server gone", t)
        gone = self.assertRaises(libvirt.libvirtError, self._domain, sid)
        self.assertEqual(gone.get_error_code(), libvirt.VIR_ERR_NO_DOMAIN)
        self.assertEqual(DAEMON.conn.listAllDomains(0), [])
        at.wait_for(lambda: not DAEMON.qemu_pids(), 30, "no QEMU left")

    def _suspend_outcome(self, sid):
        """'SUSPENDED', the error of the failed suspend action, or None yet."""
        server = self._server(sid)
        if server["status"] == "SUSPENDED" and server.get("OS-EXT-STS:task_state") is None:
            return "SUSPENDED"
        for action in self.admin_api.get_instance_actions(sid):
            if action["action"] != "suspend":
                continue
            details = self.admin_api.get_instance_action_details(sid, action["request_id"])
            for ev in details["events"]:
                if (ev.get("result") or "").lower() == "error" and server.get("OS-EXT-STS:task_state") is None:
                    return ev.get("details") or "error (no details)"
        return None

    def _gone(self, sid):
        try:
            self.api.get_server(sid)
        except api_client.OpenStackApiNotFoundException:
            return True
        return False


def check_goldens_define(checks):
    """The driver's XML for the cases the harness cannot boot here (a Neutron
    bridge port, shares: tests/data/nova, see tests/unit/arrow_nova_test.py)
    passes virtarrowd's own parser, beyond the schema, and reads back."""
    folder = os.path.join(at.SRCDIR, "tests", "data", "nova")
    kept = {  # what each must read back with
        "bridged.xml": ["<source bridge='brq1234567-89'/>", "<mac address='fa:16:3e:00:00:05'/>",
                        "<ip address='10.77.0.5' prefix='24'/>", "<route gateway='10.77.0.1'/>",
                        "<source dir='/srv/www'/>", "<nova:name>nginx</nova:name>"],
        "plain.xml": ["<init>/bin/true</init>"],
        "web.xml": ["<range start='8080' to='8000'/>", "<mac address='52:54:00:d5:e6:f7'/>",
                    "<nova:name>web</nova:name>"],
    }
    for name in sorted(os.listdir(folder)):
        try:
            dom = DAEMON.conn.defineXML(at.read_text(os.path.join(folder, name)))
            back = dom.XMLDesc(0)
            dom.undefine()
            missing = [n for n in kept.get(name, ["(no expectations for this file)"]) if n not in back]
            checks.check(not missing, f"virtarrowd defines tests/data/nova/{name} and reads it back",
                         f"missing {missing} in:\n{back}")
        except libvirt.libvirtError as e:
            checks.check(False, f"virtarrowd defines tests/data/nova/{name}", str(e))


def main():
    global DAEMON
    checks = at.Failures()
    DAEMON = Daemon(prefix="arrow-nova-").start()
    DAEMON.conn  # opens the test's connection, which registers a silent error handler: replace it
    libvirt.registerErrorHandler(_record_libvirt_error, None)
    tmp = tempfile.mkdtemp(prefix="arrow-nova-locks-")
    os.environ.setdefault("OS_TEST_LOCK_PATH", tmp)
    try:
        # testtools' result prints the test's details on failure: Nova's log.
        result = testtools.TextTestResult(sys.stdout)
        result.startTestRun()
        unittest.defaultTestLoader.loadTestsFromTestCase(ArrowNovaTest).run(result)
        result.stopTestRun()
        checks.check(result.wasSuccessful() and result.testsRun == 1,
                     "Nova's functional harness: boot, HTTP, console, diagnostics, stop, start, reboots, pause, "
                     "suspend, delete of an Arrow server")
        for what, seconds in TIMINGS:
            print(f"# {what}: {seconds:.1f} s")
        seen = sorted(set(NOVA_LIBVIRT_ERRORS))
        print(f"# libvirt errors Nova met and tolerated ({len(seen)}):")
        for code, msg in seen:
            print(f"#   code {code}: {msg}")
        check_goldens_define(checks)
    except Exception as e:
        checks.check(False, f"unexpected {type(e).__name__}: {e}")
    if checks.failed:
        print("# daemon log (tail):\n" + DAEMON.log_tail())
    DAEMON.stop()
    at.remove_tree(tmp)
    checks.finish()


if __name__ == "__main__":
    main()

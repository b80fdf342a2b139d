#!/usr/bin/python3
"""Replays, with libvirt-python against a real virtarrowd, the calls OpenStack
Nova's libvirt driver makes at start-up and for spawn, power off, power on,
soft and hard reboot and delete, in Nova's order and with Nova's tolerance of
errors (nova/virt/libvirt/host.py and driver.py of Debian's python3-nova). A libvirtError that Nova
would not swallow fails the test, as does any state a Nova operator would see
wrong (no STARTED event, an id that does not change across a reboot, an
instance that still exists after delete)."""

import os
import sys
import threading
import time
import traceback
import uuid as uuidlib
import xml.etree.ElementTree as ET

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import arrowtest as at  # noqa: E402
from daemon import Daemon  # noqa: E402

NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"
MIN_LIBVIRT_VERSION = 8000000          # nova/virt/libvirt/driver.py MIN_LIBVIRT_VERSION
BOOT_TIMEOUT = 90                      # python3 over a 9p /usr under TCG on 2 busy cores
SOFT_REBOOT_SECONDS = 60               # Nova's wait_soft_reboot_seconds is 120
# Nova's power_state for each virDomainState (nova/virt/libvirt/guest.py).
NOSTATE, RUNNING, PAUSED, SHUTDOWN, CRASHED, SUSPENDED = 0, 1, 3, 4, 6, 7
POWER_STATE = {0: NOSTATE, 1: RUNNING, 2: RUNNING, 3: PAUSED, 4: SHUTDOWN, 5: SHUTDOWN,
               6: CRASHED, 7: SUSPENDED}


class Nova:
    """The parts of nova.virt.libvirt.host.Host and guest.Guest this test
    replays; every method names the Nova code it stands for."""

    def __init__(self, uri):
        self.uri = uri
        self.conn = None
        self.events = []  # (uuid, event, detail, monotonic time)
        self.lock = threading.Lock()
        self.closed = []

    # Host.initialize + _get_new_connection
    def initialize(self):
        libvirt.registerErrorHandler(lambda ctx, err: None, None)
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=self._dispatch, daemon=True).start()

    @staticmethod
    def _dispatch():
        while True:
            libvirt.virEventRunDefaultImpl()

    def connect(self):
        auth = [[libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_ECHOPROMPT, libvirt.VIR_CRED_REALM,
                 libvirt.VIR_CRED_PASSPHRASE, libvirt.VIR_CRED_NOECHOPROMPT, libvirt.VIR_CRED_EXTERNAL],
                lambda creds, data: 0, None]
        self.conn = libvirt.openAuth(self.uri, auth, 0)
        for event_id, cb in ((libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._lifecycle),
                             (libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, self._device),
                             (libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED, self._device)):
            self.conn.domainEventRegisterAny(None, event_id, cb, self)
        self.conn.registerCloseCallback(lambda conn, reason, opaque: self.closed.append(reason), None)

    def _lifecycle(self, conn, dom, event, detail, opaque):
        with self.lock:
            self.events.append((dom.UUIDString(), event, detail, time.monotonic()))

    def _device(self, conn, dom, dev, opaque):
        pass

    # Host.get_connection: every call first probes the link (_test_connection).
    def get_connection(self):
        self.conn.getLibVersion()
        return self.conn

    def has_min_version(self, lv_ver):
        return self.get_connection().getLibVersion() >= lv_ver

    # Host._get_domain / get_guest: NO_DOMAIN means InstanceNotFound.
    def get_guest(self, uuid):
        try:
            return self.get_connection().lookupByUUIDString(uuid)
        except libvirt.libvirtError as e:
            if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise

    # LibvirtDriver.get_info: (power state, internal id) or None when not found.
    def get_info(self, uuid):
        dom = self.get_guest(uuid)
        if dom is None:
            return None
        return POWER_STATE[dom.info()[0]], dom.ID()

    def wait_for_running(self, uuid, timeout=BOOT_TIMEOUT):
        """_wait_for_running, polled every 0.5 s as Nova's looping call does."""
        return at.wait_for(lambda: (self.get_info(uuid) or (None,))[0] == RUNNING, timeout,
                        "the instance to be RUNNING", interval=0.5)

    def wait_event(self, uuid, event, after, timeout=15):
        def seen():
            with self.lock:
                return any(u == uuid and e == event and t >= after for u, e, _, t in self.events)
        at.wait_for(seen, timeout, f"lifecycle event {event} for {uuid}")

    # LibvirtDriver._destroy: destroy, tolerating what Nova tolerates, then
    # wait until the instance is SHUTDOWN or gone.
    def destroy(self, uuid):
        dom = self.get_guest(uuid)
        if dom is not None:
            try:
                dom.destroy()
            except libvirt.libvirtError as e:
                code = e.get_error_code()
                ok = code == libvirt.VIR_ERR_NO_DOMAIN or (
                    code == libvirt.VIR_ERR_OPERATION_INVALID and self.get_info(uuid)[0] == SHUTDOWN)
                if not ok:
                    raise
                print(f"#   destroy: tolerated as Nova does: {e.get_error_message()}")
        at.wait_for(lambda: (self.get_info(uuid) or (SHUTDOWN,))[0] == SHUTDOWN, 30,
                 "the instance to be SHUTDOWN", interval=0.5)

    # LibvirtDriver._undefine_domain + Guest.delete_configuration.
    def undefine(self, uuid):
        dom = self.get_guest(uuid)
        if dom is None:
            return "gone"
        try:
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
            return "undefineFlags"
        except libvirt.libvirtError as e:
            print(f"#   undefineFlags failed ({e.get_error_message()}); retrying with undefine, as Nova does")
            dom.undefine()
            return "undefine"

    # Guest.create (write_instance_config) + Guest.launch.
    def create_guest(self, xml):
        dom = self.get_connection().defineXML(xml)
        dom.createWithFlags(0)
        return dom


def nova_xml(uuid, port):
    """Domain XML shaped as Nova's LibvirtConfigGuest writes it (uuid, name,
    memory in KiB without a unit, vcpu, then <metadata> with the nova
    namespace declared on <nova:instance>), for an Arrow running python's
    http.server behind a port forward."""
    return f"""<domain type="arrow">
  <uuid>{uuid}</uuid>
  <name>instance-0000002a</name>
  <memory>131072</memory>
  <vcpu>1</vcpu>
  <metadata>
    <nova:instance xmlns:nova="{NOVA_NS}">
      <nova:package version="31.0.0"/>
      <nova:name>web</nova:name>
      <nova:creationTime>2026-01-02 03:04:05</nova:creationTime>
      <nova:flavor name="m1.nano">
        <nova:memory>128</nova:memory>
        <nova:disk>0</nova:disk>
        <nova:swap>0</nova:swap>
        <nova:ephemeral>0</nova:ephemeral>
        <nova:vcpus>1</nova:vcpus>
      </nova:flavor>
      <nova:owner>
        <nova:user uuid="6f1c8d0e6a1f4d2b9c1e0f2a3b4c5d6e">admin</nova:user>
        <nova:project uuid="0a1b2c3d4e5f40718293a4b5c6d7e8f9">demo</nova:project>
      </nova:owner>
    </nova:instance>
  </metadata>
  <os>
    <type arch="x86_64" machine="microvm">exe</type>
    <init>/usr/bin/python3</init>
    <initarg>-m</initarg>
    <initarg>http.server</initarg>
    <initarg>8000</initarg>
    <initdir>/tmp</initdir>
  </os>
  <devices>
    <interface type="user">
      <portForward proto="tcp" address="127.0.0.1">
        <range start="{port}" to="8000"/>
      </portForward>
    </interface>
    <console type="pty"/>
  </devices>
</domain>
"""


class Run:
    """Numbered steps; the first failure stops the run (later steps build on
    the earlier ones) and the exit status is 1."""

    def __init__(self):
        self.n = 0

    def step(self, what, fn, *args):
        self.n += 1
        t0 = time.monotonic()
        try:
            value = fn(*args)
        except Exception as e:
            print(f"not ok {self.n} - {what}")
            if isinstance(e, libvirt.libvirtError):
                print(f"#   libvirtError code {e.get_error_code()}: {e.get_error_message()}")
            traceback.print_exc(file=sys.stdout)
            raise SystemExit(1)
        print(f"ok {self.n} - {what} ({time.monotonic() - t0:.1f} s)")
        sys.stdout.flush()
        return value


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def init_host(nova):
    """LibvirtDriver.init_host and the first get_available_resource."""
    out = {}

    def capabilities():
        caps = ET.fromstring(nova.get_connection().getCapabilities())
        check(caps.tag == "capabilities", f"root element <{caps.tag}>")
        check(caps.findtext("host/cpu/arch") == "x86_64", "host/cpu/arch")
        domains = caps.findall("guest[os_type='exe']/arch/domain[@type='arrow']")
        check(domains, "a <guest> with os_type exe and <domain type='arrow'/>")
        out["caps"] = caps

    def baseline_cpu():
        cpu = out["caps"].find("host/cpu")
        if cpu.find("model") is None:
            return "no host <cpu><model>: Nova does not call baselineCPU"
        try:
            nova.get_connection().baselineCPU([ET.tostring(cpu, encoding="unicode")],
                                              libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)
            return "answered"
        except libvirt.libvirtError as e:
            if e.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:  # host.py: anything else raises
                raise
            return "NO_SUPPORT (tolerated by Nova)"

    def domain_capabilities():
        # Host.get_domain_capabilities: each guest arch, its canonical machine
        # types plus the default one ("pc" on x86_64); any error drops the arch.
        results = []
        for arch in out["caps"].findall("guest/arch"):
            dom = arch.find("domain[@type='arrow']")
            emulator = (dom.findtext("emulator") if dom is not None else None) or arch.findtext("emulator")
            machines = [m.get("canonical") for m in arch.findall("machine") if m.get("canonical")]
            for machine in machines + ["pc"]:
                try:
                    xml = nova.get_connection().getDomainCapabilities(emulator, arch.get("name"), machine,
                                                                     "arrow", 0)
                    check(ET.fromstring(xml).tag == "domainCapabilities", "domain capabilities root")
                    results.append(f"{machine}: ok")
                except libvirt.libvirtError as e:
                    results.append(f"{machine}: error {e.get_error_code()} (Nova drops the arch)")
        return results

    def lib_version():
        check(nova.has_min_version(MIN_LIBVIRT_VERSION), "getLibVersion below Nova's 8.0.0")
        return nova.get_connection().getLibVersion()

    def node_devices():
        try:
            return len(nova.get_connection().listAllDevices(
                libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_MDEV | libvirt.VIR_CONNECT_LIST_NODE_DEVICES_INACTIVE))
        except libvirt.libvirtError as e:  # Host.list_all_devices: any error is an empty list
            return f"error {e.get_error_code()}, an empty list for Nova"

    def resources():
        # Not called here: getCPUModelNames (only for configured cpu_models)
        # and getCPUStats (the cpu.virt_driver compute monitor, after spawn).
        conn = nova.get_connection
        cpus, cpumap, online = conn().getCPUMap()
        check(cpus > 0 and online > 0 and any(cpumap), f"getCPUMap {cpus} {online}")
        info = conn().getInfo()
        check(info[1] > 0 and info[2] > 0, f"getInfo memory {info[1]} MiB, cpus {info[2]}")
        used = 0
        for dom in conn().listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            try:
                used += len(dom.vcpus()[0])
            except libvirt.libvirtError:  # _get_vcpu_used counts it as 1
                used += 1
        hv_type, hv_ver, host = conn().getType(), conn().getVersion(), conn().getHostname()
        check(hv_type == "Arrow", f"getType {hv_type!r}")
        check(hv_ver > 0 and host, f"getVersion {hv_ver}, getHostname {host!r}")
        for dom in conn().listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE |
                                         libvirt.VIR_CONNECT_LIST_DOMAINS_INACTIVE):
            dom.XMLDesc(0)  # disk over-commit accounting
        return f"{online}/{cpus} cpus online, {info[1]} MiB, {hv_type} {hv_ver} on {host}, vcpus used {used}"

    def find_secret():
        # Host.find_secret: VIR_ERR_NO_SECRET means "no such secret".
        try:
            nova.get_connection().secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, "client.nova")
        except libvirt.libvirtError as e:
            check(e.get_error_code() == libvirt.VIR_ERR_NO_SECRET,
                  f"secretLookupByUsage: error {e.get_error_code()} ({e.get_error_message()}), "
                  f"Nova expects VIR_ERR_NO_SECRET")
            return "VIR_ERR_NO_SECRET"
        raise AssertionError("secretLookupByUsage found a secret on a daemon that has none")

    R.step("openAuth, events 0/15/22 and the close callback", nova.connect)
    R.step("getCapabilities: exe guest of type arrow", capabilities)
    print("#   " + R.step("baselineCPU as Nova tolerates it", baseline_cpu))
    print("#   " + "; ".join(R.step("getDomainCapabilities per guest arch and machine", domain_capabilities)))
    print(f"#   {R.step('getLibVersion >= 8.0.0', lib_version)}")
    print(f"#   {R.step('listAllDevices(MDEV|INACTIVE)', node_devices)}")
    R.step("getHostname (the node name)", lambda: check(nova.get_connection().getHostname(), "hostname"))
    print("#   " + R.step("get_available_resource: getCPUMap, getInfo, vcpus, type, version", resources))
    print("#   " + R.step("secretLookupByUsage of a missing secret", find_secret))
    listed = R.step("listAllDomains (list_instance_uuids)", lambda: nova.get_connection().listAllDomains(0))
    check(listed == [], "a fresh daemon lists no domain")


def spawn(nova, uuid, port):
    t0 = time.monotonic()
    dom = R.step("spawn: defineXML with Nova's <metadata>, createWithFlags(0)",
                 nova.create_guest, nova_xml(uuid, port))
    check(dom.ID() > 0, f"createWithFlags left id {dom.ID()}")
    R.step("spawn: lookupByUUIDString + info() until RUNNING", nova.wait_for_running, uuid)
    R.step("spawn: lifecycle event STARTED", nova.wait_event, uuid, libvirt.VIR_DOMAIN_EVENT_STARTED, t0)

    def inspect():
        guest = nova.get_guest(uuid)
        check(guest.isActive() == 1, "isActive")
        state, maxmem, mem, vcpus, _ = guest.info()
        check((state, maxmem, vcpus) == (libvirt.VIR_DOMAIN_RUNNING, 131072, 1), f"info() {guest.info()}")
        root = ET.fromstring(guest.XMLDesc(0))
        check(root.get("id") == str(guest.ID()), f"XMLDesc id {root.get('id')} vs {guest.ID()}")
        check(root.findtext(f"metadata/{{{NOVA_NS}}}instance/{{{NOVA_NS}}}flavor/{{{NOVA_NS}}}vcpus") == "1",
              "XMLDesc(0) keeps Nova's <metadata><nova:instance> in its namespace")
        return guest.ID()
    R.step("spawn: isActive, info(), XMLDesc(0) with id and nova metadata", inspect)

    def vcpus_and_host_cpu():
        # LibvirtDriver._get_vcpu_used and get_server_diagnostics
        # (Guest.get_vcpus_info: dom.vcpus()), and Host.get_cpu_stats, which
        # the compute monitor cpu.virt_driver reads (getCPUStats(-1)).
        infos, maps = nova.get_guest(uuid).vcpus()
        check(len(infos) == 1 and infos[0][1] == libvirt.VIR_VCPU_RUNNING and len(maps) == 1 and any(maps[0]),
              f"vcpus() {infos} {maps}")
        stats = nova.get_connection().getCPUStats(libvirt.VIR_NODE_CPU_STATS_ALL_CPUS)
        check(set(stats) == {"kernel", "user", "idle", "iowait"} and stats["user"] > 0, f"getCPUStats {stats}")
        return f"vCPU 0 on host CPU {infos[0][3]}, {infos[0][2] / 1e9:.2f} s; host user {stats['user'] / 1e9:.0f} s"
    print("#   " + R.step("spawn: vcpus() (vCPUs used, diagnostics), getCPUStats (compute monitor)",
                           vcpus_and_host_cpu))
    R.step("spawn: the application answers through the port forward",
           at.http_get, f"http://127.0.0.1:{port}/", BOOT_TIMEOUT)


def power_off(nova, uuid):
    t0 = time.monotonic()
    R.step("power off: destroy, wait for SHUTDOWN", nova.destroy, uuid)
    R.step("power off: lifecycle event STOPPED", nova.wait_event, uuid, libvirt.VIR_DOMAIN_EVENT_STOPPED, t0)
    check(nova.get_info(uuid) == (SHUTDOWN, -1), f"get_info after power off: {nova.get_info(uuid)}")


def hard_reboot(nova, uuid, port, what):
    """LibvirtDriver._hard_reboot (also power_on): the old XML, destroy and
    undefine, define the regenerated XML, launch, wait for RUNNING."""
    t0 = time.monotonic()
    old = nova.get_info(uuid)
    R.step(f"{what}: XMLDesc(0) of the old guest", lambda: nova.get_guest(uuid).XMLDesc(0))
    R.step(f"{what}: _destroy", nova.destroy, uuid)
    print(f"#   {R.step(f'{what}: _undefine_domain', nova.undefine, uuid)}")
    R.step(f"{what}: defineXML + createWithFlags(0)", nova.create_guest, nova_xml(uuid, port))
    R.step(f"{what}: wait for RUNNING", nova.wait_for_running, uuid)
    R.step(f"{what}: lifecycle event STARTED", nova.wait_event, uuid, libvirt.VIR_DOMAIN_EVENT_STARTED, t0)
    new = nova.get_info(uuid)
    check(new[1] > 0 and new[1] != old[1], f"{what}: domain id {old[1]} -> {new[1]}")
    R.step(f"{what}: the application answers again", at.http_get, f"http://127.0.0.1:{port}/", BOOT_TIMEOUT)


def soft_reboot(nova, uuid, port):
    """LibvirtDriver._soft_reboot: shutdown, then once a second look the
    guest up until its id changes; once SHUTDOWN, launch it again."""
    state, old_id = nova.get_info(uuid)
    check(state == RUNNING, f"soft reboot from state {state}")
    R.step("soft reboot: shutdown()", lambda: nova.get_guest(uuid).shutdown())

    def wait_shutdown():
        for _ in range(SOFT_REBOOT_SECONDS):
            guest = nova.get_guest(uuid)
            state, new_id = POWER_STATE[guest.info()[0]], guest.ID()
            if new_id != old_id:
                check(state in (SHUTDOWN, CRASHED), f"id changed to {new_id} in state {state}")
                guest.createWithFlags(0)  # Guest.launch
                return new_id
            time.sleep(1)
        raise AssertionError("the guest did not shut down: Nova would fall back to a hard reboot")
    R.step("soft reboot: poll get_info + id until shut off, then launch", wait_shutdown)
    R.step("soft reboot: wait for RUNNING", nova.wait_for_running, uuid)
    new_id = nova.get_info(uuid)[1]
    check(new_id > 0 and new_id != old_id, f"soft reboot: domain id {old_id} -> {new_id}")
    R.step("soft reboot: the application answers again", at.http_get, f"http://127.0.0.1:{port}/", BOOT_TIMEOUT)


def delete(nova, uuid):
    t0 = time.monotonic()
    R.step("delete: _destroy", nova.destroy, uuid)
    how = R.step("delete: _undefine_domain", nova.undefine, uuid)
    check(how == "undefineFlags", "undefineFlags(MANAGED_SAVE|NVRAM) was refused")
    R.step("delete: lifecycle event UNDEFINED", nova.wait_event, uuid, libvirt.VIR_DOMAIN_EVENT_UNDEFINED, t0)

    def gone():
        try:
            nova.get_connection().lookupByUUIDString(uuid)
        except libvirt.libvirtError as e:
            check(e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN, f"error {e.get_error_code()}, not NO_DOMAIN")
            return
        raise AssertionError("the instance still exists after delete")
    R.step("delete: lookupByUUIDString -> VIR_ERR_NO_DOMAIN (42)", gone)


R = Run()


def main():
    daemon = Daemon(prefix="arrow-nova-").start()
    nova = Nova(daemon.uri)
    nova.initialize()
    uuid, port = str(uuidlib.uuid4()), at.free_port()
    try:
        init_host(nova)
        spawn(nova, uuid, port)
        power_off(nova, uuid)
        hard_reboot(nova, uuid, port, "power on")
        soft_reboot(nova, uuid, port)
        hard_reboot(nova, uuid, port, "hard reboot")
        delete(nova, uuid)
        R.step("no connection-closed callback", check, not nova.closed, f"closed: {nova.closed}")
        nova.conn.unregisterCloseCallback()
        nova.conn.close()
    except (SystemExit, Exception) as e:
        if not isinstance(e, SystemExit):
            print(f"not ok - {e}")
            traceback.print_exc(file=sys.stdout)
        print("# daemon log (tail):\n" + daemon.log_tail())
        daemon.stop()
        sys.exit(1)
    daemon.stop()
    print(f"# {R.n} steps passed")


if __name__ == "__main__":
    main()

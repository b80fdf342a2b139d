#!/usr/bin/python3
"""arrow_nova without Nova's services or a daemon: an image's arrow_*
properties → ArrowSpec (every refusal names its property, and the host
policy of nova.conf [arrow] holds), ArrowSpec → domain XML (golden files in
tests/data/nova/, which xmlschematest also validates against arrow.rng;
ARROW_REGENERATE=1 rewrites them, an unused one fails), and Nova's network
info → the Arrow's bridge interface through Nova's own VIF driver (skipped
when python3-nova is missing)."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "lib"))
import arrowtest as at  # noqa: E402

sys.path.insert(0, os.path.join(at.SRCDIR, "openstack"))
try:
    from lxml import etree
except ImportError as e:
    at.skip(f"arrow_nova needs lxml ({e}); scripts/install-deps installs python3-nova, which brings it")

from arrow_nova import guest_xml, properties as props  # noqa: E402
from arrow_nova.properties import HostPolicy, PortForward, PropertyError, Share  # noqa: E402

GOLDEN_DIR = os.path.join(at.SRCDIR, "tests", "data", "nova")
UUID = "6f1c2a34-5b6d-4e7f-8091-a2b3c4d5e6f7"
NOVA_NS = "http://openstack.org/xmlns/libvirt/nova/1.1"
checks = at.Failures()


def refused(properties, policy=HostPolicy()):
    """The PropertyError's text, None when PROPERTIES are accepted."""
    try:
        props.parse_properties(properties, policy)
    except PropertyError as e:
        return str(e)
    return None


def check_properties():
    spec = props.parse_properties({
        "arrow_program": "/usr/bin/python3",
        "arrow_args": "-m http.server '8000'",
        "arrow_env": "PYTHONUNBUFFERED=1 GREETING='hello world'",
        "arrow_workdir": "/srv",
        "arrow_user": "nobody",
        "arrow_group": "65534",
        "arrow_ports": "8080:8000, 5353:53/udp",
        "unrelated": "ignored",
    }, HostPolicy(allow_port_forwards=True))
    checks.equal(spec.args, ["-m", "http.server", "8000"], "arrow_args split as a shell would")
    checks.equal(spec.env, {"PYTHONUNBUFFERED": "1", "GREETING": "hello world"}, "arrow_env NAME=VALUE words")
    checks.equal((spec.workdir, spec.user, spec.group), ("/srv", "nobody", "65534"), "workdir, user, group")
    checks.equal(spec.ports, [PortForward("tcp", 8080, 8000), PortForward("udp", 5353, 53)], "arrow_ports")

    spec = props.parse_properties({"arrow_program": "/bin/echo", "arrow_args": '["a b", "", "$HOME"]',
                                   "arrow_env": '{"A": "x=y", "B": ""}'}, HostPolicy())
    checks.equal(spec.args, ["a b", "", "$HOME"], "arrow_args as a JSON array, verbatim")
    checks.equal(spec.env, {"A": "x=y", "B": ""}, "arrow_env as a JSON object")

    with tempfile.TemporaryDirectory(prefix="arrow-nova-test-") as root:
        os.mkdir(os.path.join(root, "www"))
        os.symlink("/etc", os.path.join(root, "escape"))
        policy = HostPolicy(share_roots=(root,))
        spec = props.parse_properties({"arrow_program": "/bin/x", "arrow_shares": f"{root}/www:/srv:ro,{root}:/data"},
                                      policy)
        checks.equal(spec.shares, [Share(f"{root}/www", "/srv", True), Share(root, "/data", False)],
                     "arrow_shares under a share root")
        spec = props.parse_properties({"arrow_program": "/bin/x", "arrow_shares": f'["{root}/www:/a,b"]'}, policy)
        checks.equal(spec.shares, [Share(f"{root}/www", "/a,b", False)], "arrow_shares as a JSON array, commas kept")
        checks.check("not under a directory" in (refused({"arrow_program": "/bin/x",
                                                          "arrow_shares": f"{root}/escape:/e"}, policy) or ""),
                     "a share whose symbolic link leaves the share root is refused")

    cases = [
        ({}, "arrow_program: missing"),
        ({"arrow_program": "python3"}, "arrow_program: 'python3' is not an absolute path"),
        ({"arrow_program": "/x", "arrow_args": "'unclosed"}, "arrow_args: cannot split"),
        ({"arrow_program": "/x", "arrow_args": "[1, 2]"}, "arrow_args: the JSON array must hold strings"),
        ({"arrow_program": "/x", "arrow_env": "NOEQUALS"}, "arrow_env: 'NOEQUALS' is not NAME=VALUE"),
        ({"arrow_program": "/x", "arrow_env": "1A=b"}, "arrow_env: '1A' is not a variable name"),
        ({"arrow_program": "/x", "arrow_env": "A=1 A=2"}, "arrow_env: 'A' is given twice"),
        ({"arrow_program": "/x", "arrow_workdir": "srv"}, "arrow_workdir: 'srv' is not an absolute path"),
        ({"arrow_program": "/x", "arrow_user": "a b"}, "arrow_user: 'a b' is not a user or group"),
        ({"arrow_program": "/x", "arrow_shares": "/srv:/srv"}, "nova.conf [arrow] share_roots is empty"),
        ({"arrow_program": "/x", "arrow_ports": "8080:80"}, "nova.conf [arrow] allow_port_forwards is false"),
    ]
    for properties, expected in cases:
        got = refused(properties)
        checks.check(got is not None and expected in got, f"refused: {expected}", got)
    allow = HostPolicy(allow_port_forwards=True, share_roots=("/srv",))
    for properties, expected in [
        ({"arrow_program": "/x", "arrow_ports": "8080"}, "'8080' is not HOSTPORT:GUESTPORT"),
        ({"arrow_program": "/x", "arrow_ports": "70000:80"}, "ports are 1-65535"),
        ({"arrow_program": "/x", "arrow_shares": "/srv/../etc:/e"}, "has a '..' component"),
        ({"arrow_program": "/x", "arrow_shares": "/etc:/e"}, "'/etc' is not under a directory"),
        ({"arrow_program": "/x", "arrow_shares": "/srv/a"}, "is not HOST:GUEST"),
    ]:
        got = refused(properties, allow)
        checks.check(got is not None and expected in got, f"refused with the policy allowing: {expected}", got)


def nova_metadata(name):
    meta = etree.Element(f"{{{NOVA_NS}}}instance", nsmap={"nova": NOVA_NS})
    etree.SubElement(meta, f"{{{NOVA_NS}}}name").text = name
    return meta


def golden(name, text, used):
    """Compares TEXT with tests/data/nova/NAME.xml (rewritten under ARROW_REGENERATE)."""
    used.add(name + ".xml")
    path = os.path.join(GOLDEN_DIR, name + ".xml")
    if os.environ.get("ARROW_REGENERATE"):
        os.makedirs(GOLDEN_DIR, exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    expected = at.read_text(path) if os.path.exists(path) else None
    checks.check(expected == text, f"domain XML {name} matches its golden file",
                 f"golden file {path} missing (ARROW_REGENERATE=1)" if expected is None else text)


def check_xml():
    used = set()
    web = props.parse_properties({"arrow_program": "/usr/bin/python3", "arrow_args": "-m http.server 8000",
                                  "arrow_env": "PYTHONUNBUFFERED=1", "arrow_workdir": "/srv",
                                  "arrow_ports": "8080:8000"}, HostPolicy(allow_port_forwards=True))
    golden("web", guest_xml.domain_xml("instance-00000001", UUID, 128, 1, web, metadata=[nova_metadata("web")],
                                       user_mac=guest_xml.mac_of(UUID)), used)
    bridged = props.parse_properties({"arrow_program": "/usr/sbin/nginx", "arrow_args": "-g 'daemon off;'",
                                      "arrow_user": "www-data", "arrow_group": "www-data",
                                      "arrow_shares": "/srv/www:/var/www:ro,/srv/cache:/var/cache/nginx"},
                                     HostPolicy(share_roots=("/srv",)))
    bridge = guest_xml.BridgeInterface("brq1234567-89", "fa:16:3e:00:00:05", "10.77.0.5", 24, "10.77.0.1")
    golden("bridged", guest_xml.domain_xml("instance-0000000a", UUID, 256, 2, bridged, bridge=bridge,
                                           metadata=[nova_metadata("nginx")]), used)
    plain = props.parse_properties({"arrow_program": "/bin/true"}, HostPolicy())
    golden("plain", guest_xml.domain_xml("instance-0000000b", UUID, 64, 1, plain), used)
    checks.equal(guest_xml.mac_of(UUID), "52:54:00:d5:e6:f7", "a user interface's MAC: 52:54:00 and the UUID's tail")
    unused = sorted(set(os.listdir(GOLDEN_DIR)) - used) if os.path.isdir(GOLDEN_DIR) else []
    checks.check(not unused, "no unused golden file in tests/data/nova", unused)


def check_nova_network():
    """Nova's network info through Nova's own VIF driver: a Linux bridge or
    an OVS hybrid-plug port becomes the bridge interface; others are refused."""
    try:
        import nova.monkey_patch  # noqa: F401
        import os_vif.objects
        from nova import config, exception, objects
        from nova.network import model as nm
        from nova.virt.libvirt import vif as libvirt_vif
    except ImportError as e:
        print(f"# skipped the Nova network checks: {e}")
        return
    objects.register_all()
    os_vif.objects.register_all()
    config.parse_args([], default_config_files=[])
    from arrow_nova import driver as arrow_driver
    drv = arrow_driver.ArrowDriver.__new__(arrow_driver.ArrowDriver)  # no connection: only the mapping
    drv.vif_driver = libvirt_vif.LibvirtGenericVIFDriver(None)
    flavor = objects.Flavor(name="arrow.small", memory_mb=128, vcpus=1, root_gb=1, ephemeral_gb=0, swap=0,
                            extra_specs={})
    instance = objects.Instance(uuid=UUID, id=1, display_name="web", flavor=flavor, image_ref="",
                                system_metadata={}, project_id="p", user_id="u")
    image_meta = objects.ImageMeta.from_dict({})
    port = "0c8e3f0a-1b2c-4d5e-8f90-a1b2c3d4e5f6"

    def vif(vif_type, details=None, ips=("10.77.0.5",), version=4):
        subnet = nm.Subnet(cidr="10.77.0.0/24" if version == 4 else "fd00::/64", version=version,
                           gateway=nm.IP(address="10.77.0.1" if version == 4 else "fd00::1", type="gateway"),
                           ips=[nm.FixedIP(address=a) for a in ips])
        net = nm.Network(id="9d1e6a36-7c2b-4e0f-a1d2-b3c4d5e6f708", bridge="brq9d1e6a36-7c", subnets=[subnet],
                         label="private")
        return nm.VIF(id=port, address="fa:16:3e:00:00:05", network=net, type=vif_type, details=details or {},
                      devname="tap" + port[:11], vnic_type="normal")

    def interface(vifs, spec=props.ArrowSpec(program="/bin/x")):
        try:
            return drv._arrow_interface(instance, image_meta, nm.NetworkInfo(vifs), spec)
        except exception.NovaException as e:
            return f"{type(e).__name__}: {e}"

    checks.equal(interface([vif("bridge")]),
                 guest_xml.BridgeInterface("brq9d1e6a36-7c", "fa:16:3e:00:00:05", "10.77.0.5", 24, "10.77.0.1"),
                 "a Linux bridge port: its bridge, MAC, address, prefix and gateway")
    checks.equal(interface([vif("ovs", {"ovs_hybrid_plug": True, "port_filter": True})]).bridge,
                 "qbr" + port[:11], "an OVS hybrid-plug port: Nova's qbr bridge")
    checks.equal(interface([]), None, "no port: no interface")
    for vifs, spec, expected in [
        ([vif("ovs", {"ovs_hybrid_plug": False})], None, "joins a Linux bridge only"),
        ([vif("bridge"), vif("bridge")], None, "one network interface; 2 ports"),
        ([vif("bridge", ips=("fd00::5",), version=6)], None, "no IPv4 address"),
        ([vif("bridge")], props.ArrowSpec(program="/bin/x", ports=[PortForward("tcp", 8080, 80)]),
         "arrow_ports needs an Arrow without Neutron ports"),
    ]:
        got = interface(vifs, spec) if spec else interface(vifs)
        checks.check(isinstance(got, str) and got.startswith("InvalidInput") and expected in got,
                     f"refused: {expected}", got)


def check_refusals():
    """Each refusal keeps LibvirtDriver's signature (Nova calls it by keyword
    too) and raises Nova's own exception type."""
    try:
        import inspect
        from nova import exception
        from nova.virt.libvirt import driver as libvirt_driver
        from arrow_nova import driver as arrow_driver
    except ImportError as e:
        print(f"# skipped the refusal checks: {e}")
        return
    drv = arrow_driver.ArrowDriver.__new__(arrow_driver.ArrowDriver)

    class Instance:
        uuid = UUID

    inst = Instance()
    cases = [
        ("rescue", (None, inst, None, None, None, None), exception.InstanceNotRescuable),
        ("snapshot", (None, inst, "img", None), exception.NotSupported),
        ("set_admin_password", (inst, "pw"), exception.SetAdminPasswdNotSupported),
        ("attach_volume", (None, {"serial": "vol"}, inst, "/dev/vdb"), exception.VolumeAttachFailed),
        ("swap_volume", (None, {}, {}, inst, "/dev/vdb", 1), exception.NotSupported),
        ("extend_volume", (None, {}, inst, 1), exception.ExtendVolumeNotSupported),
        ("attach_interface", (None, inst, None, None), exception.AttachInterfaceNotSupported),
        ("detach_interface", (None, inst, None), exception.NotSupported),
        ("get_vnc_console", (None, inst), exception.ConsoleTypeUnavailable),
        ("get_spice_console", (None, inst), exception.ConsoleTypeUnavailable),
        ("get_serial_console", (None, inst), exception.ConsoleTypeUnavailable),
        ("quiesce", (None, inst, None), exception.InstanceQuiesceNotSupported),
        ("unquiesce", (None, inst, None), exception.InstanceQuiesceNotSupported),
        ("migrate_disk_and_power_off", (None, inst, "dest", None, None), exception.InstanceFaultRollback),
        ("check_can_live_migrate_destination", (None, inst, None, None), exception.MigrationPreCheckError),
        ("check_can_live_migrate_source", (None, inst, None), exception.MigrationPreCheckError),
    ]
    for name, args, expected in cases:
        ours = inspect.signature(getattr(arrow_driver.ArrowDriver, name))
        theirs = inspect.signature(getattr(libvirt_driver.LibvirtDriver, name))
        checks.equal(list(ours.parameters), list(theirs.parameters), f"{name} keeps LibvirtDriver's parameters")
        try:
            getattr(drv, name)(*args)
            got = None
        except Exception as e:
            got = e
        checks.check(isinstance(got, expected) and "Arrow" in str(got), f"{name} raises {expected.__name__}: {got}",
                     repr(got))


check_properties()
check_xml()
check_nova_network()
check_refusals()
checks.finish()

"""An Arrow's domain XML from what Nova decided (name, uuid, flavor, the
image's ArrowSpec, at most one bridge interface, Nova's <metadata> child).
Pure: lxml only. The grammar is Arrow's (domain-xml/README.md); the daemon
validates it again and names any element it refuses."""

from dataclasses import dataclass
from typing import Optional, Sequence

from lxml import etree

from arrow_nova.properties import ArrowSpec


@dataclass(frozen=True)
class BridgeInterface:
    """<interface type='bridge'>: a TAP on an existing host bridge, with the
    static IPv4 address Neutron gave the port (ainit has no DHCP client)."""
    bridge: str
    mac: Optional[str]
    address: str
    prefix: int
    gateway: Optional[str] = None


def _sub(parent, tag, text=None, **attrs):
    e = etree.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        e.text = text
    return e


def _os(domain, spec: ArrowSpec):
    os_ = _sub(domain, "os")
    _sub(os_, "type", "exe", arch="x86_64", machine="microvm")
    _sub(os_, "init", spec.program)
    for arg in spec.args:
        _sub(os_, "initarg", arg)
    for name, value in spec.env.items():
        _sub(os_, "initenv", value, name=name)
    if spec.workdir:
        _sub(os_, "initdir", spec.workdir)
    if spec.user:
        _sub(os_, "inituser", spec.user)
    if spec.group:
        _sub(os_, "initgroup", spec.group)


def mac_of(uuid: str) -> str:
    """A MAC for an Arrow's user-mode interface: libvirt's QEMU prefix and the
    UUID's last three bytes (as virtarrowd assigns a bridge interface's).
    Each Arrow has its own user network, so it only has to be valid: Nova's
    diagnostics expect a <mac> in every <interface>."""
    tail = uuid.replace("-", "")[-6:].lower()
    return "52:54:00:" + ":".join(tail[i:i + 2] for i in range(0, 6, 2))


def _interface(devices, spec: ArrowSpec, bridge: Optional[BridgeInterface], user_mac: Optional[str]):
    if bridge is not None:
        iface = _sub(devices, "interface", type="bridge")
        if bridge.mac:
            _sub(iface, "mac", address=bridge.mac)
        _sub(iface, "source", bridge=bridge.bridge)
        _sub(iface, "ip", address=bridge.address, prefix=bridge.prefix)
        if bridge.gateway:
            _sub(iface, "route", gateway=bridge.gateway)
    elif spec.ports:
        iface = _sub(devices, "interface", type="user")
        if user_mac:
            _sub(iface, "mac", address=user_mac)
        for p in spec.ports:
            fwd = _sub(iface, "portForward", proto=p.proto, address="127.0.0.1")
            _sub(fwd, "range", start=p.host_port, to=p.guest_port)


def domain_xml(name: str, uuid: str, memory_mib: int, vcpus: int, spec: ArrowSpec,
               bridge: Optional[BridgeInterface] = None,
               metadata: Sequence[etree._Element] = (), user_mac: Optional[str] = None) -> str:
    """The domain XML of an Arrow. A bridge interface and port forwards are
    exclusive (the caller refuses both together): port forwards need the
    Arrow's own user-mode network."""
    domain = etree.Element("domain", type="arrow")
    _sub(domain, "name", name)
    _sub(domain, "uuid", uuid)
    if metadata:
        meta = _sub(domain, "metadata")
        for child in metadata:
            meta.append(child)
    _sub(domain, "memory", str(memory_mib), unit="MiB")
    _sub(domain, "vcpu", str(vcpus))
    _os(domain, spec)
    _sub(domain, "on_poweroff", "destroy")
    _sub(domain, "on_reboot", "restart")
    _sub(domain, "on_crash", "destroy")
    devices = _sub(domain, "devices")
    for share in spec.shares:
        fs = _sub(devices, "filesystem", type="mount", accessmode="passthrough")
        _sub(fs, "source", dir=share.source)
        _sub(fs, "target", dir=share.target)
        if share.readonly:
            _sub(fs, "readonly")
    _interface(devices, spec, bridge, user_mac)
    _sub(devices, "console", type="pty")
    return etree.tostring(domain, encoding="unicode", pretty_print=True)

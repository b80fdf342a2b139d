"""An image's arrow_* properties → what the Arrow runs (ArrowSpec). Pure: no
Nova, no libvirt; every refusal is a PropertyError naming the property.

Nova keeps an image's properties in the instance's system metadata as
image_<name>, each value cut to 255 characters; the driver passes that
mapping (without the prefix) to parse_properties."""

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence

PROGRAM = "arrow_program"
ARGS = "arrow_args"
ENV = "arrow_env"
WORKDIR = "arrow_workdir"
USER = "arrow_user"
GROUP = "arrow_group"
SHARES = "arrow_shares"
PORTS = "arrow_ports"
ALL = (PROGRAM, ARGS, ENV, WORKDIR, USER, GROUP, SHARES, PORTS)

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_USER = re.compile(r"[A-Za-z0-9._-]+\Z")
_PORT_RULE = re.compile(r"(\d+):(\d+)(?:/(tcp|udp))?\Z")


class PropertyError(ValueError):
    """A property the driver refuses; str() says which and why."""

    def __init__(self, name, reason):
        super().__init__(f"image property {name}: {reason}")
        self.name = name


@dataclass(frozen=True)
class Share:
    source: str
    target: str
    readonly: bool


@dataclass(frozen=True)
class PortForward:
    proto: str
    host_port: int
    guest_port: int


@dataclass
class ArrowSpec:
    program: str
    args: List[str] = field(default_factory=list)
    env: Dict[str, str] = field(default_factory=dict)
    workdir: Optional[str] = None
    user: Optional[str] = None
    group: Optional[str] = None
    shares: List[Share] = field(default_factory=list)
    ports: List[PortForward] = field(default_factory=list)


@dataclass(frozen=True)
class HostPolicy:
    """What the operator lets an image ask of the host ([arrow] options)."""
    allow_port_forwards: bool = False
    share_roots: Sequence[str] = ()


def _words(name, value):
    """A JSON array of strings, or words split as a POSIX shell would."""
    text = value.strip()
    if text.startswith("["):
        try:
            words = json.loads(text)
        except ValueError as e:
            raise PropertyError(name, f"not a valid JSON array ({e})")
        if not all(isinstance(w, str) for w in words):
            raise PropertyError(name, "the JSON array must hold strings only")
        return words
    try:
        return shlex.split(text)
    except ValueError as e:
        raise PropertyError(name, f"cannot split into words ({e})")


def _items(name, value):
    """A JSON array of strings, or words separated by commas or blanks."""
    text = value.strip()
    return _words(name, text if text.startswith("[") else text.replace(",", " "))


def _absolute(name, value):
    if not value.startswith("/") or "\0" in value:
        raise PropertyError(name, f"'{value}' is not an absolute path")
    return value


def _env(value):
    text = value.strip()
    if text.startswith("{"):
        try:
            pairs = json.loads(text)
        except ValueError as e:
            raise PropertyError(ENV, f"not a valid JSON object ({e})")
        if not all(isinstance(v, str) for v in pairs.values()):
            raise PropertyError(ENV, "the JSON object's values must be strings")
        items = list(pairs.items())
    else:
        items = []
        for word in _words(ENV, text):
            key, sep, val = word.partition("=")
            if not sep:
                raise PropertyError(ENV, f"'{word}' is not NAME=VALUE")
            items.append((key, val))
    env = {}
    for key, val in items:
        if not _ENV_NAME.match(key):
            raise PropertyError(ENV, f"'{key}' is not a variable name ([A-Za-z_][A-Za-z0-9_]*)")
        if key in env:
            raise PropertyError(ENV, f"'{key}' is given twice")
        env[key] = val
    return env


def _within(path, roots):
    real = os.path.realpath(path)
    for root in roots:
        root_real = os.path.realpath(root)
        if real == root_real or real.startswith(root_real.rstrip("/") + "/"):
            return True
    return False


def _shares(value, policy):
    shares = []
    for word in _items(SHARES, value):
        parts = word.split(":")
        readonly = False
        if len(parts) == 3 and parts[2] in ("ro", "rw"):
            readonly = parts[2] == "ro"
            parts = parts[:2]
        if len(parts) != 2:
            raise PropertyError(SHARES, f"'{word}' is not HOST:GUEST or HOST:GUEST:ro")
        source, target = (_absolute(SHARES, p) for p in parts)
        if ".." in source.split("/"):
            raise PropertyError(SHARES, f"'{source}' has a '..' component")
        if not policy.share_roots:
            raise PropertyError(SHARES, "host directories may not be shared on this compute host "
                                        "(nova.conf [arrow] share_roots is empty)")
        if not _within(source, policy.share_roots):
            raise PropertyError(SHARES, f"'{source}' is not under a directory of nova.conf [arrow] share_roots")
        shares.append(Share(source, target, readonly))
    return shares


def _ports(value, policy):
    if not policy.allow_port_forwards:
        raise PropertyError(PORTS, "port forwards are not allowed on this compute host "
                                   "(nova.conf [arrow] allow_port_forwards is false)")
    ports = []
    for word in _items(PORTS, value):
        m = _PORT_RULE.match(word)
        if not m:
            raise PropertyError(PORTS, f"'{word}' is not HOSTPORT:GUESTPORT[/tcp|/udp]")
        host, guest = int(m.group(1)), int(m.group(2))
        if not (1 <= host <= 65535 and 1 <= guest <= 65535):
            raise PropertyError(PORTS, f"'{word}': ports are 1-65535")
        ports.append(PortForward(m.group(3) or "tcp", host, guest))
    return ports


def _name(name, value):
    if not _USER.match(value):
        raise PropertyError(name, f"'{value}' is not a user or group name or number")
    return value


def parse_properties(props: Mapping[str, str], policy: HostPolicy) -> ArrowSpec:
    """The ArrowSpec that PROPS (image property name → value) ask for."""
    program = props.get(PROGRAM)
    if not program:
        raise PropertyError(PROGRAM, "missing: the image must name the program the Arrow runs "
                                     "(an absolute path on the compute host, e.g. /usr/bin/python3)")
    spec = ArrowSpec(program=_absolute(PROGRAM, program))
    if props.get(ARGS):
        spec.args = _words(ARGS, props[ARGS])
    if props.get(ENV):
        spec.env = _env(props[ENV])
    if props.get(WORKDIR):
        spec.workdir = _absolute(WORKDIR, props[WORKDIR])
    if props.get(USER):
        spec.user = _name(USER, props[USER])
    if props.get(GROUP):
        spec.group = _name(GROUP, props[GROUP])
    if props.get(SHARES):
        spec.shares = _shares(props[SHARES], policy)
    if props.get(PORTS):
        spec.ports = _ports(props[PORTS], policy)
    return spec

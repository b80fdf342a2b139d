"""Shared helpers for Arrow's integration tests (run through ./run with
Debian's python3): domain XML for a test Arrow, free loopback ports, HTTP
fetches with retries, and paths into the build tree."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from xml.sax.saxutils import escape, quoteattr

BUILDDIR = os.environ.get("ARROW_BUILDDIR", os.getcwd())
SRCDIR = os.environ.get("ARROW_SRCDIR", os.getcwd())


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def domain_xml(name, init, args=(), env=None, shares=(), forwards=(), memory_mib=128,
               initdir=None, inituser=None, extra_os="", on_poweroff=None):
    """Builds an Arrow domain XML. shares: (source, target, readonly);
    forwards: (host_port, guest_port)."""
    lines = ["<domain type='arrow'>", f"  <name>{escape(name)}</name>",
             f"  <memory unit='MiB'>{memory_mib}</memory>", "  <vcpu>1</vcpu>", "  <os>",
             "    <type arch='x86_64' machine='microvm'>exe</type>",
             f"    <init>{escape(init)}</init>"]
    lines += [f"    <initarg>{escape(a)}</initarg>" for a in args]
    for k, v in (env or {}).items():
        lines.append(f"    <initenv name={quoteattr(k)}>{escape(v)}</initenv>")
    if initdir:
        lines.append(f"    <initdir>{escape(initdir)}</initdir>")
    if inituser:
        lines.append(f"    <inituser>{escape(inituser)}</inituser>")
    if extra_os:
        lines.append(extra_os)
    lines.append("  </os>")
    if on_poweroff:
        lines.append(f"  <on_poweroff>{on_poweroff}</on_poweroff>")
    lines.append("  <devices>")
    for src, dst, ro in shares:
        lines += ["    <filesystem type='mount' accessmode='passthrough'>",
                  f"      <source dir={quoteattr(src)}/>", f"      <target dir={quoteattr(dst)}/>"]
        if ro:
            lines.append("      <readonly/>")
        lines.append("    </filesystem>")
    if forwards:
        lines.append("    <interface type='user'>")
        for host, guest in forwards:
            lines += ["      <portForward proto='tcp' address='127.0.0.1'>",
                      f"        <range start='{host}' to='{guest}'/>", "      </portForward>"]
        lines.append("    </interface>")
    lines += ["    <console type='pty'/>", "  </devices>", "</domain>", ""]
    return "\n".join(lines)


def http_get(url, timeout=60.0):
    """GETs url, retrying until the server answers or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.read()
        except OSError as e:  # connection refused/reset while the guest boots
            last = e
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout}s: {last}")


def write_temp(text, suffix=".xml", dir=None):
    fd, path = tempfile.mkstemp(suffix=suffix, dir=dir)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


class Failures:
    """Collects check results and prints a TAP-like summary; exit status 1
    when any check failed."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
            print(f"ok - {what}")
        else:
            self.failed += 1
            print(f"not ok - {what}")
        sys.stdout.flush()
        return cond

    def equal(self, actual, expected, what):
        ok = actual == expected
        if not ok:
            print(f"#   expected: {expected!r}\n#   actual:   {actual!r}")
        return self.check(ok, what)

    def finish(self):
        print(f"# {self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)

"""Shared helpers for Arrow's integration tests and benchmarks (run through
./run with Debian's python3): paths into the build tree, the one wait_for,
free loopback ports, HTTP fetches with retries, domain XML for a test Arrow,
and a TAP-like checker. A test finds this folder with

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from xml.sax.saxutils import escape, quoteattr

SRCDIR = os.environ.get("ARROW_SRCDIR") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILDDIR = os.environ.get("ARROW_BUILDDIR", os.getcwd())
KERNEL_DIR = os.environ.get("ARROW_KERNEL_DIR", os.path.join(BUILDDIR, "kernel"))
DAEMON = os.path.join(BUILDDIR, "driver", "daemon", "virtarrowd")
FAKE_DAEMON = os.path.join(BUILDDIR, "tests", "unit", "virtarrowd-fake")
ARROW = os.path.join(BUILDDIR, "virsh-ext", "arrow")
LAUNCH = os.path.join(BUILDDIR, "driver", "engine", "arrow-launch")
SKIP = 77  # automake's "skipped" status


def wait_for(predicate, timeout, what, interval=0.2, retry=()):
    """The first true value of predicate(), polled every INTERVAL seconds
    until TIMEOUT seconds pass; AssertionError naming WHAT after that.
    Exceptions of the types in RETRY count as "not yet" (a client failing
    while the guest boots); the last one is named in the error."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = predicate()
        except retry as e:
            value, last = None, e
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}"
                                 + (f" (last: {last})" if last else ""))
        time.sleep(interval)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=60.0):
    """(status, body) of a GET of URL, retried until the server answers or
    TIMEOUT seconds pass (connection refused or reset while the guest boots)."""
    def answer():
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    return wait_for(answer, timeout, f"{url} to answer", retry=(OSError,))


def http_status(url):
    """The status of one GET of URL, None when it fails."""
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.status
    except OSError:
        return None


def run_client(argv, timeout=30, input=None):
    """Runs a host client; returns (status, stdout+stderr), status 124 when
    it ran past TIMEOUT seconds."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired:
        return 124, f"{argv[0]}: timed out after {timeout} s"
    return r.returncode, r.stdout + r.stderr


def libvirt_error(call):
    """(code, message) of the libvirt error CALL() raises; (None, "no error")
    when it returns."""
    import libvirt
    try:
        call()
    except libvirt.libvirtError as e:
        return e.get_error_code(), str(e)
    return None, "no error"


def read_text(path):
    """The text of PATH, "" when it cannot be read."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def domain_xml(name, init, args=(), env=None, shares=(), forwards=(), memory_mib=128,
               initdir=None, inituser=None, extra_os="", on_poweroff=None, devices="", console=True):
    """An Arrow domain XML. shares: dicts with source, target and optionally
    readonly=True, transient=True (ShadowFS, tmpfs upper) or upper=HOSTDIR
    (ShadowFS, persistent upper); forwards: (host_port, guest_port) on
    127.0.0.1; devices: more device XML; console: a <console type='pty'/>."""
    lines = ["<domain type='arrow'>", f"  <name>{escape(name)}</name>",
             f"  <memory unit='MiB'>{memory_mib}</memory>", "  <vcpu>1</vcpu>", "  <os>",
             "    <type arch='x86_64' machine='microvm'>exe</type>",
             f"    <init>{escape(init)}</init>"]
    lines += [f"    <initarg>{escape(a)}</initarg>" for a in args]
    lines += [f"    <initenv name={quoteattr(k)}>{escape(v)}</initenv>" for k, v in (env or {}).items()]
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
    for s in shares:
        lines += ["    <filesystem type='mount' accessmode='passthrough'>",
                  f"      <source dir={quoteattr(s['source'])}/>", f"      <target dir={quoteattr(s['target'])}/>"]
        if s.get("readonly"):
            lines.append("      <readonly/>")
        if s.get("transient"):
            lines.append("      <transient/>")
        if s.get("upper"):
            lines.append(f"      <upper dir={quoteattr(s['upper'])}/>")
        lines.append("    </filesystem>")
    if forwards:
        lines.append("    <interface type='user'>")
        for host, guest in forwards:
            lines += ["      <portForward proto='tcp' address='127.0.0.1'>",
                      f"        <range start='{host}' to='{guest}'/>", "      </portForward>"]
        lines.append("    </interface>")
    if devices:
        lines.append(devices)
    if console:
        lines.append("    <console type='pty'/>")
    lines += ["  </devices>", "</domain>", ""]
    return "\n".join(lines)


def remove_tree(path):
    """Removes a test's temporary folder, unless ARROW_KEEP_TEST_ROOT is set."""
    if os.environ.get("ARROW_KEEP_TEST_ROOT"):
        print(f"# kept {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


# An application that runs until it is stopped, printing "tick N" each second.
TICK = "i=0; while :; do i=$((i+1)); echo tick $i; sleep 1; done"


def ticking_xml(name):
    """A minimal Arrow (64 MiB, no devices) running TICK under /usr/bin/sh."""
    return (f"<domain type='arrow'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            f"<os><type arch='x86_64' machine='microvm'>exe</type><init>/usr/bin/sh</init>"
            f"<initarg>-c</initarg><initarg>{TICK}</initarg></os></domain>")


def write_temp(text, suffix=".xml", dir=None):
    fd, path = tempfile.mkstemp(suffix=suffix, dir=dir)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def skip(reason):
    """Ends the test as skipped (status 77)."""
    print(f"SKIP: {reason}", flush=True)
    sys.exit(SKIP)


class Failures:
    """Collects check results as TAP-like lines; finish() prints the summary
    and exits 1 when any check failed."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print(f"ok - {what}")
        else:
            self.failed += 1
            shown = str(detail).strip()[-2000:].replace("\n", "\n#   ")
            print(f"not ok - {what}" + (f"\n#   {shown}" if detail else ""))
        sys.stdout.flush()
        return cond

    def equal(self, actual, expected, what):
        ok = actual == expected
        if not ok:
            print(f"#   expected: {expected!r}\n#   actual:   {actual!r}")
        return self.check(ok, what)

    def summary(self):
        """Prints the summary line; the exit status it stands for."""
        print(f"# {self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0

    def finish(self):
        sys.exit(self.summary())


def run_on_terminal(argv, keys=b"", send_after=None, timeout=60, size=None):
    """Runs ARGV on a new terminal (SIZE: (rows, cols) to set first); types
    KEYS once SEND_AFTER appears in its output. (exit status, output)."""
    import fcntl
    import pty
    import select
    import signal
    import struct
    import termios
    pid, fd = pty.fork()
    if pid == 0:
        if size:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
        os.execv(argv[0], argv)
    out, sent, deadline = b"", False, time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not sent and send_after is not None and send_after in out:
            os.write(fd, keys)
            sent = True
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out

#!/usr/bin/python3
"""Stock virt-manager 4.1 against a real virtarrowd under a private Xvfb:
started with `--connect arrow+unix:///system?socket=…` while one Arrow is
defined and shut off and another runs, it must reach the Active connection
state, list both Arrows with their states, and follow what another client
does (a new definition and a start reach it only through lifecycle events).
Asserted on virt-manager's --debug log; a screenshot of the screen goes to
$ARROW_BUILDDIR/tests/artefacts/virt_manager.png. Exits 77 (SKIP) when
virt-manager or Xvfb is not installed."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import arrowtest as at  # noqa: E402
from daemon import Daemon  # noqa: E402

VIRT_MANAGER = "/usr/bin/virt-manager"
T = at.Failures()
libvirt.registerErrorHandler(lambda ctx, err: None, None)

# Grabs the whole X screen of $DISPLAY into argv[1] with GTK's own Gdk, so no
# screenshot tool has to be installed.
SCREENSHOT = """
import sys, gi
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk
root = Gdk.get_default_root_window()
pixbuf = Gdk.pixbuf_get_from_window(root, 0, 0, root.get_width(), root.get_height())
pixbuf.savev(sys.argv[1], "png", [], [])
"""


class Group:
    """A child started in its own process group, stopped with all its
    descendants (virt-manager's dbus-run-session, GTK helpers)."""

    def __init__(self, argv, **kw):
        self.proc = subprocess.Popen(argv, start_new_session=True, **kw)

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass


def start_xvfb(log):
    """Xvfb on a display it picks itself (-displayfd): no clash with another
    test or a real X server. Returns (Group, ':N')."""
    r, w = os.pipe()
    xvfb = Group(["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                 pass_fds=(w,), stdout=log, stderr=log)
    os.close(w)
    with os.fdopen(r) as f:
        number = f.readline().strip()
    if not number.isdigit():
        xvfb.stop()
        raise AssertionError("Xvfb did not report its display")
    return xvfb, f":{number}"


def unexpected_tracebacks(text):
    """The log records holding a traceback, except the one expected: virt-manager
    tries to define a default storage pool on every connect and logs the
    (tolerated) NO_SUPPORT with its traceback."""
    records = re.split(r"\n(?=\[)", text)
    return [r for r in records if "Traceback" in r and "Error building default pool" not in r]


def screenshot(display, env, name):
    outdir = os.path.join(at.BUILDDIR, "tests", "artefacts")
    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, name)
    r = subprocess.run(["/usr/bin/python3", "-c", SCREENSHOT, path], env=dict(env, DISPLAY=display),
                       capture_output=True, text=True, timeout=30)
    saved = r.returncode == 0 and os.path.exists(path) and os.path.getsize(path) > 0
    T.check(saved, f"screenshot saved to {path}" + ("" if saved else f": {r.stderr.strip()}"))


def main():
    if not (os.path.exists(VIRT_MANAGER) and shutil.which("Xvfb") and shutil.which("dbus-run-session")):
        print("SKIP: virt-manager, Xvfb or dbus-run-session is not installed "
              "(Debian: virt-manager xvfb dbus)")
        sys.exit(77)

    d = Daemon(prefix="arrow-vmm-").start()
    home = os.path.join(d.root, "home")
    os.makedirs(home)
    vmm_log_path = os.path.join(d.root, "virt-manager.log")
    xlog = open(os.path.join(d.root, "xvfb.log"), "wb")
    vmm_log = open(vmm_log_path, "wb")
    xvfb = vmm = None
    try:
        conn = libvirt.open(d.uri)
        conn.defineXML(at.domain_xml("arrow-idle", "/bin/sleep", ["1000"]))
        conn.defineXML(at.domain_xml("arrow-run", "/bin/sleep", ["1000"])).create()

        xvfb, display = start_xvfb(xlog)
        # A private HOME, settings in memory and a private session bus: nothing
        # of the user's (or the machine's) virt-manager state is read or written.
        env = dict(os.environ, DISPLAY=display, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   XDG_CACHE_HOME=os.path.join(home, ".cache"), XDG_DATA_HOME=os.path.join(home, ".local"),
                   GSETTINGS_BACKEND="memory", NO_AT_BRIDGE="1", LANG="C.UTF-8", LC_ALL="C.UTF-8")
        env.pop("XDG_RUNTIME_DIR", None)
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        vmm = Group(["dbus-run-session", "--", VIRT_MANAGER, "--no-fork", "--debug", "--connect", d.uri],
                    env=env, stdout=vmm_log, stderr=subprocess.STDOUT)

        def log():
            with open(vmm_log_path, errors="replace") as f:
                return f.read()

        def logged(pattern, timeout, what):
            try:
                return at.wait_for(lambda: re.search(pattern, log(), re.M) or vmm.proc.poll() is not None,
                                timeout, what, interval=0.5)
            except AssertionError:
                return None

        uri = re.escape(d.uri)
        T.check(logged(rf"conn={uri} changed to state=Active", 90, "the Active state") and
                vmm.proc.poll() is None, "virt-manager connects and reaches the Active state")
        T.check(logged(r"domain=arrow-idle status=Shutoff added", 30, "arrow-idle"),
                "virt-manager lists arrow-idle as Shutoff")
        T.check(logged(r"domain=arrow-run status=Running added", 30, "arrow-run"),
                "virt-manager lists arrow-run as Running")
        T.check(logged(r"Using domain events", 1, "event mode"), "virt-manager uses domain events")

        # Discovery through events: virt-manager never re-lists by itself.
        conn.defineXML(at.domain_xml("arrow-new", "/bin/true"))
        T.check(logged(r"domain=arrow-new status=Shutoff added", 30, "arrow-new"),
                "an Arrow defined by another client appears in virt-manager")
        conn.lookupByName("arrow-new").undefine()
        T.check(logged(r"domain=arrow-new removed", 30, "arrow-new removed"),
                "an Arrow undefined by another client leaves virt-manager")
        time.sleep(4)  # more 3-second ticks: a fault in the stats path would close the connection
        screenshot(display, env, "virt_manager.png")  # arrow-run shown Running

        conn.lookupByName("arrow-run").destroy()
        T.check(logged(r"domain lifecycle event: domain=arrow-run state=VIR_DOMAIN_EVENT_STOPPED", 30,
                       "the STOPPED event"), "virt-manager hears that arrow-run stopped")
        conn.lookupByName("arrow-idle").create()
        T.check(logged(r"domain lifecycle event: domain=arrow-idle state=VIR_DOMAIN_EVENT_STARTED", 30,
                       "the STARTED event"), "virt-manager hears that arrow-idle started")
        time.sleep(4)
        screenshot(display, env, "virt_manager-after.png")  # arrow-run Shutoff, arrow-idle Running
        T.check(vmm.proc.poll() is None, "virt-manager is still running")
        T.check(not re.search(r"Blacklisting domain|changed to state=Disconnected", log()),
                "no Arrow hidden (denylisted) and no disconnection")
        unexpected = unexpected_tracebacks(log())
        T.check(not unexpected, "no traceback in virt-manager's log but the default storage pool's")
        for record in unexpected:
            print("#   " + record.replace("\n", "\n#   "))
        conn.close()
    except Exception as e:
        T.check(False, f"unexpected {type(e).__name__}: {e}")
    finally:
        for child in (vmm, xvfb):
            if child:
                child.stop()
        xlog.close()
        vmm_log.close()
        if T.failed:
            try:
                with open(vmm_log_path, errors="replace") as f:
                    print("# virt-manager log (tail):\n" + "".join(f.readlines()[-60:]))
            except OSError:
                pass
            print("# daemon log (tail):\n" + d.log_tail())
        d.stop()
    T.finish()


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""arrow:///session for a non-root user, as installed: Debian's libvirt client
(automatic mode) uses the direct socket $XDG_RUNTIME_DIR/libvirt/virtarrowd-sock
when it exists and otherwise starts a session libvirtd, which knows no Arrow.
The installed user unit virtarrowd.socket (enabled for every user) makes that
socket exist from login on. This test creates a user, shows the failure
without the socket, then provides the socket exactly as the built unit file
says (its ListenStream, with systemd-socket-activate standing in for the
user's systemd) and runs the plain `virsh -c arrow:///session` as that user;
then, with no socket, the `arrow` command, whose default URI for such a user
is the session daemon in direct mode, started on demand.
Root only (it creates the user); skips otherwise."""

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
from arrowtest import ARROW, BUILDDIR, DAEMON, SKIP, Failures, wait_for  # noqa: E402

USER = "arrowtest-session"
UNIT = os.path.join(BUILDDIR, "driver", "daemon", "user", "virtarrowd.socket")


def as_user(pw, env, argv, **kw):
    return subprocess.Popen(["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups", *argv],
                            env=env, **kw)


def run_as_user(pw, env, argv, timeout=60):
    p = as_user(pw, env, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def user_processes(uid):
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.stat(f"/proc/{d}").st_uid == uid:
                    pids.append(int(d))
            except OSError:
                pass
    return pids


def stop_user(pw, activator):
    """Ends ACTIVATOR and every process of the test's user (the daemons it started)."""
    if activator:
        activator.terminate()
        activator.wait(10)
    for pid in user_processes(pw.pw_uid):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    wait_for(lambda: not user_processes(pw.pw_uid), 30, "the test user's processes to end")


def main():
    if os.geteuid() != 0:
        print("SKIP: creating a test user needs root")
        return SKIP
    for tool in ("setpriv", "systemd-socket-activate", "useradd"):
        if not shutil.which(tool):
            print(f"SKIP: {tool} is missing")
            return SKIP
    checks = Failures()
    created = False
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
        created = True
    pw = pwd.getpwnam(USER)
    top = tempfile.mkdtemp(prefix="arrow-session-user-")
    os.chmod(top, 0o755)
    home, runtime = os.path.join(top, "home"), os.path.join(top, "run")
    for d in (home, runtime):
        os.mkdir(d, 0o700)
        os.chown(d, pw.pw_uid, pw.pw_gid)
    # The build tree's kernel and daemon (./run's ARROW_* and VIRTD_PATH, where
    # libvirt's client finds virtarrowd to start), as an installation has them in place.
    env = {k: v for k, v in os.environ.items() if k.startswith("ARROW_") or k in ("PATH", "LANG", "VIRTD_PATH")}
    env.update(HOME=home, USER=USER, LOGNAME=USER, XDG_RUNTIME_DIR=runtime)
    activator = None
    try:
        # As a user's login has it: no VIRTD_PATH, so the client starts the installed session libvirtd.
        cold = {k: v for k, v in env.items() if k != "VIRTD_PATH"}
        rc, out, err = run_as_user(pw, cold, ["virsh", "-c", "arrow:///session", "list"])
        checks.check(rc != 0 and "no connection driver available" in err,
                     "without virtarrowd's socket the client falls back to a session libvirtd, which knows no Arrow",
                     f"rc {rc}: {out} {err}")
        with open(UNIT) as f:
            listen = re.search(r"^ListenStream=(.*)$", f.read(), re.M).group(1)
        path = listen.replace("%t", runtime)
        checks.check(path == os.path.join(runtime, "libvirt", "virtarrowd-sock"),
                     "the user unit listens where the libvirt client looks for arrow:///session", path)
        os.makedirs(os.path.dirname(path), 0o700, exist_ok=True)
        os.chown(os.path.dirname(path), pw.pw_uid, pw.pw_gid)
        log = open(os.path.join(top, "daemon.log"), "w")
        # As the user's systemd starts a service: with HOME and XDG_RUNTIME_DIR (and the build tree's ARROW_*).
        passed = [a for k in sorted(env) for a in ("-E", k)]
        activator = as_user(pw, env, ["systemd-socket-activate", *passed, "-l", path, DAEMON, "--timeout", "120"],
                            stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(path), 30, "the session socket")
        rc, out, err = run_as_user(pw, env, ["virsh", "-c", "arrow:///session", "list", "--all"])
        checks.check(rc == 0 and re.search(r"Id\s+Name\s+State", out) is not None,
                     "plain `virsh -c arrow:///session list` works for a non-root user", f"rc {rc}: {out} {err}")
        rc, out, err = run_as_user(pw, env, ["virsh", "-c", "arrow:///session", "uri"])
        checks.check(rc == 0 and out.strip() == "arrow:///session", "and it is the Arrow session daemon",
                     f"rc {rc}: {out} {err}")
        stop_user(pw, activator)
        activator = None
        if os.path.exists(path):
            os.unlink(path)
        # Without the unit (no systemd user session): the arrow command's
        # default URI, the session daemon in direct mode, started on demand.
        rc, out, err = run_as_user(pw, env, [ARROW, "ps", "-a"])
        checks.check(rc == 0 and os.path.exists(path),
                     "`arrow ps` as a non-root user starts the session daemon itself", f"rc {rc}: {out} {err}")
    finally:
        stop_user(pw, activator)
        if checks.failed and os.path.exists(os.path.join(top, "daemon.log")):
            with open(os.path.join(top, "daemon.log")) as f:
                print("# session daemon log:\n" + f.read()[-3000:])
        shutil.rmtree(top, ignore_errors=True)
        if created:
            subprocess.run(["userdel", USER], check=False)
    return checks.summary()


if __name__ == "__main__":
    sys.exit(main())

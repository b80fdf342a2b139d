"""Issue 2 integration test: boots the real single-task kernel in real QEMU
(TCG) with ainit through arrow-launch, and checks what a user would: exit
statuses arriving over Anotify, a missing application, arguments arriving
intact, and servers from the host's /usr reached through port forwards."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import arrowtest as at  # noqa: E402

T = at.Failures()
workdir = tempfile.mkdtemp(prefix="arrow-boot-")


def launch(xml, timeout=120):
    path = at.write_temp(xml, dir=workdir)
    p = subprocess.run([at.LAUNCH, "--timeout", "90", path], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def exit_status():
    rc, out, err = launch(at.domain_xml("exit3", "/bin/sh", ["-c", "echo bye; exit 3"]))
    T.equal(rc, 3, "application exit status 3 reaches the host")
    T.check("bye" in out, "application output reaches the console")
    T.check("exited status 3" in err, "Anotify reported the exit")


def missing_application():
    rc, out, err = launch(at.domain_xml("missing", "/usr/bin/no-such-program"))
    T.equal(rc, 127, "missing application exits 127")
    T.check("/usr/bin/no-such-program" in out and "No such file" in out,
            "missing application: clear message on the console")


def not_executable():
    rc, out, _ = launch(at.domain_xml("noexec", "/usr/share/doc"))
    T.equal(rc, 126, "non-executable application exits 126")
    T.check("/usr/share/doc" in out, "non-executable: message names the path")


def arguments_intact():
    args = ["%s|", "a b", "q\"'", "\u00e9\u4e2d", "", "  lead", "x=y,z%41"]
    rc, out, _ = launch(at.domain_xml("args", "/usr/bin/printf", args))
    T.equal(rc, 0, "printf exits 0")
    T.check("a b|q\"'|\u00e9\u4e2d||  lead|x=y,z%41|" in out,
            "arguments with spaces, quotes, UTF-8 and empty ones arrive intact")


def environment_and_dir():
    rc, out, _ = launch(at.domain_xml("env", "/bin/sh", ["-c", 'echo "[$GREETING] $(pwd) $(id -un)"'],
                                      env={"GREETING": "hello world \u00e9"}, initdir="/tmp",
                                      inituser="nobody"))
    T.equal(rc, 0, "environment test exits 0")
    T.check("[hello world \u00e9] /tmp nobody" in out, "environment, working directory and user applied")


def serve(xml, url, expect, what):
    path = at.write_temp(xml, dir=workdir)
    p = subprocess.Popen([at.LAUNCH, "--timeout", "120", path], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        status, body = at.http_get(url, timeout=90)
        T.check(status == 200 and expect in body, what)
    except AssertionError as e:
        T.check(False, f"{what}: {e}")
    finally:
        p.send_signal(signal.SIGTERM)
        stopped = True
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            stopped = False
            p.kill()
            out, err = p.communicate()
        # SIGTERM asks the application to stop (Anotify SHUTDOWN): it ends
        # by that signal, so arrow-launch exits 128+15, within the timeout.
        T.check(stopped and p.returncode == 128 + signal.SIGTERM,
                f"{what}: SIGTERM stops the Arrow (status {p.returncode})")
    return out, err


def python_http_server():
    port = at.free_port()
    xml = at.domain_xml("pyhttp", "/usr/bin/python3", ["-m", "http.server", "8000"],
                        initdir="/usr/share", forwards=[(port, 8000)])
    serve(xml, f"http://127.0.0.1:{port}/", b"Directory listing",
          "python3 -m http.server from the host's /usr answers through the port forward")


def busybox_httpd_readonly_share():
    site = tempfile.mkdtemp(prefix="site-", dir=workdir)
    with open(os.path.join(site, "index.html"), "w") as f:
        f.write("<h1>served by an Arrow</h1>\n")
    port = at.free_port()
    xml = at.domain_xml("bbhttpd", "/bin/busybox", ["httpd", "-f", "-p", "8000", "-h", "/srv"],
                        shares=[dict(source=site, target="/srv", readonly=True)], forwards=[(port, 8000)])
    serve(xml, f"http://127.0.0.1:{port}/index.html", b"served by an Arrow",
          "busybox httpd serves a file from a read-only share")
    rc, out, _ = launch(at.domain_xml("rocheck", "/bin/sh", ["-c", "echo x > /srv/new"],
                                      shares=[dict(source=site, target="/srv", readonly=True)]))
    T.check(rc != 0 and not os.path.exists(os.path.join(site, "new")),
            "a read-only share refuses writes from the guest")


try:
    for case in (exit_status, missing_application, not_executable, arguments_intact,
                 environment_and_dir, python_http_server, busybox_httpd_readonly_share):
        case()
finally:
    shutil.rmtree(workdir, ignore_errors=True)
T.finish()

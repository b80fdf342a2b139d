#!/usr/bin/python3
"""Integration test of the `arrow` command against a real virtarrowd on a
private --root, real QEMU and the single-task kernel: exit statuses, stdin
and stdout as pipes (HELLO, 10 MB arriving whole and in order), a detached
web server fetched through its port forward, Ctrl-C through a terminal
(130), SIGINT forwarded to the application, logs, ps, inspect, events, stop,
rm, --rm, and the errors that say what to do. The daemon and every QEMU are
stopped even when a check fails."""

import hashlib
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
from arrowtest import ARROW, Failures, free_port, http_get, run_on_terminal  # noqa: E402
from daemon import Daemon  # noqa: E402

TIMEOUT = 90  # one Arrow run on a loaded 2-core machine under TCG


def arrow(d, *args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", TIMEOUT)
    return subprocess.run([ARROW, "-c", d.uri, *args], **kw)





def main():
    t = Failures()
    d = Daemon().start()
    try:
        checks(t, d)
    finally:
        d.stop()
    t.finish()


def checks(t, d):
    r = arrow(d, "run", "--", "/bin/sh", "-c", "exit 5")
    t.equal(r.returncode, 5, "arrow run -- /bin/sh -c 'exit 5' returns 5")
    r = arrow(d, "run", "--rm", "--", "sh", "-c", "echo found through PATH")
    t.equal(r.stdout, b"found through PATH\n", "a program name is looked up in PATH, as a shell does")

    r = arrow(d, "run", "--rm", "--", "/usr/bin/tr", "a-z", "A-Z", input=b"hello\n")
    t.equal((r.returncode, r.stdout), (0, b"HELLO\n"), "echo hello | arrow run -- tr a-z A-Z prints HELLO")
    t.check(b"tr-" not in arrow(d, "ps", "-a").stdout, "--rm removed the Arrow when it ended")

    r = arrow(d, "run", "--rm", "--", "/bin/cat", input=b"no newline at the end")
    t.equal(r.stdout, b"no newline at the end", "stdin without a final newline reaches the program, then EOF")

    # Through ainit's relay and the flow-controlled stdout port: nothing may
    # be dropped however slow the host is (kernel/ainit_output.c).
    pattern = "yes 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ | head -c 10485760"
    expected = subprocess.run(["/bin/sh", "-c", pattern], capture_output=True).stdout
    r = arrow(d, "run", "--rm", "--name", "big", "--", "/bin/sh", "-c", pattern)
    t.equal((r.returncode, len(r.stdout), hashlib.sha256(r.stdout).hexdigest()),
            (0, len(expected), hashlib.sha256(expected).hexdigest()),
            "10 MiB on stdout arrive whole and in order (sha256)")

    port = free_port()
    r = arrow(d, "run", "-p", f"{port}:8000", "--detach", "--name", "web", "-w", "/tmp",
              "--", "/usr/bin/python3", "-m", "http.server", "8000")
    t.equal((r.returncode, r.stdout.strip()), (0, b"web"), "arrow run --detach prints the name")
    status, _ = http_get(f"http://127.0.0.1:{port}/", timeout=TIMEOUT)
    t.equal(status, 200, "GET through -p reaches python3 -m http.server in the Arrow")
    ps = arrow(d, "ps").stdout.decode()
    t.check("web" in ps and "running" in ps and "http.server" in ps, "arrow ps lists it running with its command")
    logs = arrow(d, "logs", "web")
    if b"GET / HTTP" not in logs.stdout:
        print(f"# arrow logs: {logs.returncode} {logs.stdout[-500:]!r} {logs.stderr[-300:]!r}")
    t.check(logs.returncode == 0 and b"GET / HTTP" in logs.stdout, "arrow logs shows the server's output while it runs")
    inspect = arrow(d, "inspect", "web").stdout.decode()
    t.check("# state: running" in inspect and "<init>/usr/bin/python3</init>" in inspect,
            "arrow inspect shows the live state and the XML")
    r = arrow(d, "run", "--name", "web", "--", "/bin/true")
    t.check(r.returncode == 125 and b"name 'web' is taken" in r.stderr, "a taken name is refused, saying what to do")
    r = arrow(d, "rm", "web")
    t.check(r.returncode == 125 and b"arrow stop web" in r.stderr, "arrow rm refuses a running Arrow")
    t.equal(arrow(d, "stop", "web").returncode, 0, "arrow stop stops it")
    t.check("exited" in arrow(d, "ps", "-a").stdout.decode(), "then it is listed as exited")
    t.equal(arrow(d, "rm", "web").returncode, 0, "arrow rm removes it")
    t.check(b"web" not in arrow(d, "ps", "-a").stdout, "and it is gone")

    # Ctrl-C typed on a terminal: the guest's terminal makes it SIGINT.
    status, out = run_on_terminal([ARROW, "-c", d.uri, "run", "--rm", "--", "/bin/sh", "-c", "echo ready; exec sleep 60"],
                                  keys=b"\x03", send_after=b"ready", timeout=TIMEOUT)
    t.equal(status, 130, "Ctrl-C through a terminal stops sleep; arrow returns 130")
    t.check(b"ready\r\n" in out, "on a terminal the console is a terminal (\\r\\n)")
    status, out = run_on_terminal([ARROW, "-c", d.uri, "run", "--rm", "--", "/bin/sh", "-c",
                                   "echo ready; read line; echo got $line"], keys=b"typed\r", send_after=b"ready",
                                  timeout=TIMEOUT)
    t.check(status == 0 and b"got typed" in out, "typed input reaches the application")

    # SIGINT to arrow on pipes goes through virDomainSendProcessSignal.
    p = subprocess.Popen([ARROW, "-c", d.uri, "run", "--rm", "--", "/bin/sh", "-c", "echo ready; exec sleep 60"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready = p.stdout.readline()
    p.send_signal(signal.SIGINT)
    try:
        p.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
    t.equal((ready, p.returncode), (b"ready\n", 130), "SIGINT to arrow is forwarded to the application (130)")

    events = subprocess.Popen([ARROW, "-c", d.uri, "events"], stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    arrow(d, "run", "--name", "ev", "--", "/bin/sh", "-c", "exit 3")
    time.sleep(1)
    events.send_signal(signal.SIGINT)
    out = events.communicate(timeout=30)[0]
    t.check(" ev started" in out and " ev exited (exit status 3)" in out, "arrow events shows start and exit")

    r = arrow(d, "run", "--", "no-such-program-anywhere")
    t.check(r.returncode == 127 and b"not found on the host" in r.stderr, "a missing program: 127 before booting")
    r = subprocess.run([ARROW, "-c", f"arrow+unix:///system?socket={d.root}/nothing-here", "ps"],
                       capture_output=True, timeout=TIMEOUT)
    t.check(r.returncode == 125 and b"is virtarrowd running? systemctl start virtarrowd.socket" in r.stderr,
            "no daemon: the error says what to do")
    t.check(b"run [OPTIONS] [--] PROGRAM" in subprocess.run([ARROW, "--help"], capture_output=True).stdout,
            "arrow --help")


if __name__ == "__main__":
    main()

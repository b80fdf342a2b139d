#!/usr/bin/python3
"""The bounds on what a client may make virtarrowd hold (SECURITY.md, "RPC
bounds"), against the test daemon (the real server over the in-memory fake
driver) with a private virtarrowd.conf: a client that floods calls on the
read-only socket and never reads keeps the daemon's memory flat while a
libvirt-python client is served, and is dropped once its output stops
moving; max_clients and max_anonymous_clients pause accepting (the next
connection waits unanswered) until a client opens or leaves; a connection
never opened is dropped after anonymous_timeout; event registrations past
max_client_event_callbacks are refused; accept() out of file descriptors
backs off instead of spinning. Each refusal is logged once per episode."""

import os
import socket
import struct
import sys
import threading
import time

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import arrowtest as at  # noqa: E402
from daemon import Daemon  # noqa: E402

T = at.Failures()
libvirt.registerErrorHandler(lambda ctx, err: None, None)

REMOTE = 0x20008086
AUTH_LIST, CONNECT_OPEN, GET_LIB_VERSION, GET_CAPABILITIES, CALLBACK_REGISTER_ANY = 66, 1, 157, 7, 316
MIB = 1024 * 1024


def frame(proc, serial, payload=b""):
    return struct.pack(">IIIiiIi", 28 + len(payload), REMOTE, 1, proc, 0, serial, 0) + payload


OPEN_ARGS = struct.pack(">II", 0, 0)  # name: NULL, flags 0


def read_frame(s, timeout):
    """(header, payload) of the next frame on S; None at end of file,
    "timeout" when none came within TIMEOUT seconds."""
    s.settimeout(timeout)
    data = b""
    try:
        while len(data) < 4 or len(data) < struct.unpack(">I", data[:4])[0]:
            chunk = s.recv(4 - len(data) if len(data) < 4 else struct.unpack(">I", data[:4])[0] - len(data))
            if not chunk:
                return None
            data += chunk
    except socket.timeout:
        return "timeout"
    except ConnectionResetError:
        return None
    return struct.unpack(">IIIiiIi", data[:28]), data[28:]


def raw(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s


def call(s, proc, serial, payload=b"", timeout=5):
    s.sendall(frame(proc, serial, payload))
    return read_frame(s, timeout)


def answered(reply, serial):
    return isinstance(reply, tuple) and reply[0][5] == serial


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def daemon_with(conf, wrapper=()):
    d = Daemon(prefix="arrow-bounds-", program=at.FAKE_DAEMON, wrapper=wrapper)
    with open(os.path.join(d.root, "virtarrowd.conf"), "w") as f:
        f.write(conf)
    d.start()
    # Both sockets listening (the -ro one is logged last); no probe connection,
    # so that the client counts below are exact.
    at.wait_for(lambda: f"listening on {d.socket_ro} (read-only)" in d.log_text(), 10, "the read-only socket")
    return d


def test_flood(d):
    """(a) A read-only client floods CONNECT_GET_CAPABILITIES and never reads."""
    pid = d.proc.pid
    conn = libvirt.openReadOnly(d.uri_ro)
    conn.getCapabilities()
    rss_before = proc_status(pid, "VmRSS")
    flooder = raw(d.socket_ro)
    T.check(answered(call(flooder, CONNECT_OPEN, 0, OPEN_ARGS), 0), "the flooder opens a read-only connection")
    batch = b"".join(frame(GET_CAPABILITIES, 1 + i) for i in range(2000))
    flooder.setblocking(False)
    sent, served, slowest, rss_peak, pending, dropped = 0, 0, 0.0, rss_before, b"", False

    def flood():
        """Writes what the socket takes now (whole frames); False once the daemon dropped the flooder."""
        nonlocal sent, pending
        try:
            while True:
                pending = pending or batch
                n = flooder.send(pending)
                pending = pending[n:]  # a partial frame is finished first
                sent += n
        except BlockingIOError:
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    # Until the daemon stops reading it: the socket takes nothing for 0.5 s.
    last = time.monotonic()
    while time.monotonic() - last < 0.5:
        before = sent
        flood()
        if sent != before:
            last = time.monotonic()
        time.sleep(0.05)
    cpu0 = cpu_seconds(pid)
    time.sleep(1.5)
    cpu_idle = cpu_seconds(pid) - cpu0
    rss_peak = max(rss_peak, proc_status(pid, "VmRSS"))
    # The other client, while the flooder keeps pushing, until it is dropped.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not dropped:
        dropped = not flood()
        t = time.monotonic()
        ok = "<capabilities>" in conn.getCapabilities() and conn.getLibVersion() >= 9000000
        slowest = max(slowest, time.monotonic() - t)
        served += ok
        rss_peak = max(rss_peak, proc_status(pid, "VmRSS"))
        dropped = dropped or "have not moved for" in d.log_text()
    rss_after = proc_status(pid, "VmRSS")
    calls = sent // 28
    print(f"# flood: {calls} calls ({sent} bytes) written by the flooder, {served} answers to the other client "
          f"(slowest {slowest * 1000:.0f} ms); VmRSS before {rss_before} KiB, peak {rss_peak} KiB, after "
          f"{rss_after} KiB; daemon CPU over 1.5 s of blocked flood: {cpu_idle:.2f} s")
    T.check(calls > 2000, "the flooder got calls into the socket", calls)
    T.check(served > 10 and slowest < 2, "the other client is served throughout the flood", (served, slowest))
    T.check(rss_peak - rss_before < 64 * 1024, "the daemon's VmRSS grows by less than 64 MiB",
            (rss_before, rss_peak))
    T.check(cpu_idle < 0.3, "the daemon does not spin on the blocked flooder", cpu_idle)
    # client_output_timeout = 6: its unread replies have not moved, so it goes.
    T.check(dropped, "the flooder is dropped once its output stops moving")
    flooder.setblocking(True)
    got = 0
    while True:
        f = read_frame(flooder, 10)
        if not isinstance(f, tuple):
            break
        got += 1
    T.check(f is None, "the flooder's socket ends after what the kernel held", f)
    T.check(got < 2000, f"the flooder had at most a socket's worth of replies ({got}), not its {calls} calls", got)
    flooder.close()
    T.check(conn.getLibVersion() >= 9000000, "the other client is still served")
    conn.close()


def test_events(d):
    """(d) Event registrations past max_client_event_callbacks (4)."""
    s = raw(d.socket_ro)
    call(s, CONNECT_OPEN, 0, OPEN_ARGS)
    replies = [call(s, CALLBACK_REGISTER_ANY, i, struct.pack(">iI", 0, 0)) for i in range(1, 7)]
    statuses = [r[0][6] if isinstance(r, tuple) else r for r in replies]
    T.equal(statuses, [0, 0, 0, 0, 1, 1], "raw: four registrations accepted, the next ones refused")
    T.check(b"too many event callbacks on this connection (at most 4)" in replies[4][1], "raw: the refusal says why",
            replies[4][1])
    T.check(answered(call(s, GET_LIB_VERSION, 10), 10), "raw: the connection stays usable")
    s.close()
    libvirt.virEventRegisterDefaultImpl()

    def event_loop():
        while True:
            libvirt.virEventRunDefaultImpl()
    threading.Thread(target=event_loop, daemon=True).start()
    conn = libvirt.openReadOnly(d.uri_ro)
    cb = lambda *a: None  # noqa: E731
    ids = [conn.domainEventRegisterAny(None, ev, cb, None) for ev in range(4)]
    try:
        conn.domainEventRegisterAny(None, 4, cb, None)
        T.check(False, "libvirt-python: a fifth event ID is refused")
    except libvirt.libvirtError as e:
        T.check("too many event callbacks on this connection (at most 4)" in str(e),
                "libvirt-python: a fifth event ID is refused with the reason", e)
    conn.domainEventDeregisterAny(ids[0])
    conn.domainEventRegisterAny(None, 4, cb, None)
    T.check(True, "libvirt-python: after a deregistration a registration succeeds again")
    conn.close()
    T.equal(d.log_text().count("refusing event registrations past 4"), 2,
            "one log line per connection, not per refusal")


def test_anonymous_timeout(d):
    """(c) anonymous_timeout = 2: connections that never open are dropped."""
    conn = libvirt.openReadOnly(d.uri_ro)
    silent, chatty = raw(d.socket_ro), raw(d.socket_ro)
    t0 = time.monotonic()
    serial, dropped = 0, None
    while time.monotonic() - t0 < 10:
        serial += 1
        try:
            r = call(chatty, AUTH_LIST, serial, timeout=0.5)  # traffic, but never open
        except OSError:  # the daemon closed it before this call
            r = None
        if r is None:
            dropped = time.monotonic() - t0
            break
        time.sleep(0.3)
    T.check(dropped is not None and 1.5 < dropped < 5, "a chatty connection never opened is dropped after ~2 s",
            dropped)
    r = read_frame(silent, 5)
    T.check(r is None and time.monotonic() - t0 < 6, "a silent connection never opened is dropped", r)
    T.check(conn.getLibVersion() >= 9000000, "an opened connection older than anonymous_timeout stays")
    conn.close()
    silent.close()
    chatty.close()


def test_limits():
    """(b) max_clients = 4, max_anonymous_clients = 2."""
    d = daemon_with("max_clients = 4\nmax_anonymous_clients = 2\nanonymous_timeout = 0\n")
    try:
        conn = libvirt.open(d.uri)
        a1, a2 = raw(d.socket_ro), raw(d.socket)
        T.check(answered(call(a1, AUTH_LIST, 1), 1) and answered(call(a2, AUTH_LIST, 1), 1),
                "two anonymous connections are served")
        a3 = raw(d.socket_ro)  # connect() succeeds: the backlog
        T.equal(call(a3, AUTH_LIST, 1, timeout=1.5), "timeout",
                "a third anonymous connection is not accepted (max_anonymous_clients 2)")
        T.check(conn.getLibVersion() >= 9000000, "the existing connections are served meanwhile")
        a1.close()
        T.check(answered(read_frame(a3, 5), 1), "once one leaves, the waiting connection is accepted and answered")
        T.check(answered(call(a2, CONNECT_OPEN, 2, OPEN_ARGS), 2) and answered(call(a3, CONNECT_OPEN, 2, OPEN_ARGS), 2),
                "both open")
        a4 = raw(d.socket_ro)
        T.check(answered(call(a4, AUTH_LIST, 1), 1), "a fourth client is accepted (max_clients 4)")
        a5 = raw(d.socket_ro)
        T.equal(call(a5, AUTH_LIST, 1, timeout=1.5), "timeout", "a fifth is not accepted (max_clients 4)")
        T.check(answered(call(a2, GET_LIB_VERSION, 3), 3), "the four are served meanwhile")
        a2.close()
        T.check(answered(read_frame(a5, 5), 1), "a slot frees when one closes: the fifth is answered")
        for s in (a3, a4, a5):
            s.close()
        conn.close()
        # Four episodes: 2 anonymous (a3 waiting); a1 left, a3 in, 2 anonymous
        # again; both opened; 4 clients (a5 waiting); a2 left, a5 in, 4 again;
        # all left. One line at each start and each end, none per waiting client.
        at.wait_for(lambda: d.log_text().count("accepting new connections again") >= 4, 10, "the last episode's end")
        log = d.log_text()
        T.equal((log.count("accepting no new connection"), log.count("accepting new connections again")), (4, 4),
                "each episode at a limit is logged once, with its end")
    finally:
        d.stop()


def test_emfile():
    """accept() out of file descriptors pauses accepting instead of spinning."""
    probe = daemon_with("")
    base = len(os.listdir(f"/proc/{probe.proc.pid}/fd"))
    probe.stop()
    d = daemon_with("", wrapper=("prlimit", f"--nofile={base + 4}", "--"))
    try:
        pid = d.proc.pid
        socks = [raw(d.socket_ro) for _ in range(12)]
        at.wait_for(lambda: "pausing new connections" in d.log_text(), 10, "accept to fail with EMFILE")
        time.sleep(0.5)
        cpu0 = cpu_seconds(pid)
        time.sleep(2)
        cpu = cpu_seconds(pid) - cpu0
        print(f"# EMFILE: daemon CPU over 2 s with connections waiting: {cpu:.2f} s")
        T.check(cpu < 0.5, "out of descriptors, the daemon does not spin on accept", cpu)
        for s in socks:
            s.close()
        conn = at.wait_for(lambda: libvirt.openReadOnly(d.uri_ro), 10, "a client to get in again",
                           retry=(libvirt.libvirtError,))
        T.check(conn.getLibVersion() >= 9000000, "once clients leave, new ones are served")
        conn.close()
        log = d.log_text()
        T.check(log.count("pausing new connections") <= 3, "the failure is logged once per episode, not per attempt",
                log.count("pausing new connections"))
    finally:
        d.stop()


def main():
    d = daemon_with("anonymous_timeout = 2\nclient_output_timeout = 6\nmax_client_event_callbacks = 4\n")
    try:
        test_flood(d)
        test_anonymous_timeout(d)
        test_events(d)
    finally:
        log = d.stop()
    if T.failed:
        print("# daemon log:\n" + log[-4000:])
    test_limits()
    test_emfile()
    T.finish()


if __name__ == "__main__":
    main()

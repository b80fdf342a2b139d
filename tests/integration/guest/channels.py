#!/usr/bin/python3
"""Crossbow channels: <channel type='unix'> carries bytes between the host
and an Arrow, and between two Arrows, byte for byte, with back-pressure, and
a client stream reaches it through virDomainOpenChannel.

A real virtarrowd on a private --root, stock libvirt-python, real QEMU (TCG)
and kernel. Checked:
- an Arrow whose program echoes /dev/virtio-ports/org.example.x (ainit made
  the link; there is no udev) shows each channel's socket in its live XML (one
  at the given path, one without <source> in its runtime directory) and
  state='connected' once the guest opened the port;
- 10 MiB through the bound socket come back byte for byte (sent and read at
  once: the guest's port fills and QEMU holds the sender back);
- 10 MiB through virDomainOpenChannel come back byte for byte, the client
  sending faster than the guest reads (the daemon stops reading it instead
  of buffering), while the daemon answers other calls at once; a second
  client on the same channel is refused with libvirt's words; the stream
  ends when the Arrow stops;
- two Arrows joined through one socket (one binds, the other connects): 10
  MiB of random bytes written by one arrive at the other with the same
  SHA-256, the reader starting late (the writer waits, nothing is lost);
- an unmodified program in the guest (as the application's unprivileged
  user) connect()s to /run/crossbow/NAME.sock, which ainit relays to the
  port: 10 MiB echoed through it come back byte for byte;
- a channel that connects to a socket nobody listens on fails the start
  with an error naming the channel and the path; a bound path that is a
  regular file is refused and left intact; the daemon keeps serving."""

import hashlib
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import libvirt  # noqa: E402

from arrowtest import Failures, domain_xml, libvirt_error, remove_tree, wait_for  # noqa: E402
from daemon import run_checks  # noqa: E402

BOOT = 180       # seconds: boot under TCG on a busy 2-core host
TRANSFER = 600   # seconds for 10 MiB through a TCG guest, generously
SIZE = 10 * 1024 * 1024
PORT = "org.example.x"
# Echoes the port: a reader and a writer on one open file. cat ends when the
# host end closes (read returns 0); the loop waits for the next peer.
ECHO = f"exec 3<>/dev/virtio-ports/{PORT}; echo port-open; while :; do cat <&3 >&3; sleep 0.2; done"


def channel(name, path=None, mode="bind"):
    source = f"<source mode='{mode}' path='{path}'/>" if path else ""
    return f"    <channel type='unix'>{source}<target type='virtio' name='{name}'/></channel>"


def payload(size):
    """Deterministic bytes that are no repeating pattern of a small period."""
    out = bytearray()
    block = 0
    while len(out) < size:
        out += hashlib.sha256(block.to_bytes(8, "little")).digest() * 32
        block += 1
    return bytes(out[:size])


def echo_through_socket(path, data):
    """Sends DATA to the bound socket PATH while reading the echo; the echo."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    sender = threading.Thread(target=s.sendall, args=(data,))
    sender.start()
    got = bytearray()
    s.settimeout(TRANSFER)
    while len(got) < len(data):
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        got += chunk
    sender.join()
    s.close()
    return bytes(got)


def echo_through_stream(conn, dom, data, probe):
    """Sends DATA through virDomainOpenChannel while reading the echo;
    PROBE() runs meanwhile on another connection. (echo, probe results, the
    error of a second open meanwhile)."""
    st = conn.newStream(0)
    dom.openChannel(PORT, st, 0)
    _, second = libvirt_error(lambda: dom.openChannel(PORT, conn.newStream(0), 0))
    errors = []

    def send():
        try:
            for off in range(0, len(data), 1 << 18):
                st.send(data[off:off + (1 << 18)])
        except libvirt.libvirtError as e:
            errors.append(str(e))

    sender = threading.Thread(target=send)
    sender.start()
    got = bytearray()
    probes = []
    while len(got) < len(data):
        chunk = st.recv(1 << 18)
        if not chunk:
            break
        got += chunk
        if len(probes) < 3 and len(got) > (len(probes) + 1) * len(data) // 4:
            probes.append(probe())
    sender.join()
    st.finish()
    return bytes(got), probes, second, errors


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def timed(call):
    t0 = time.monotonic()
    call()
    return time.monotonic() - t0


def host_and_arrow(t, d, tmp):
    conn = d.conn
    path = os.path.join(tmp, "x.sock")
    xml = domain_xml("echo", "/bin/sh", args=["-c", ECHO], memory_mib=96,
                     devices=channel(PORT, path) + "\n" + channel("auto"))
    dom = conn.defineXML(xml)
    dom.create()
    wait_for(lambda: "port-open" in d.app_log("echo"), BOOT, "the echo program to open its port")
    live = dom.XMLDesc(0)
    t.check(f"<source mode='bind' path='{path}'/>" in live, "live XML: the bound channel's path", live)
    t.check("/echo/channel1.sock'/><target type='virtio' name='auto'" in live.replace("\n", "").replace("  ", "")
            or "/echo/channel1.sock'/>" in live,
            "live XML: a channel without <source> binds in the runtime directory", live)
    wait_for(lambda: f"name='{PORT}' state='connected'" in dom.XMLDesc(0), 30, "state='connected'")
    t.check(True, "live XML: state='connected' once the guest opened the port")

    data = payload(SIZE)
    got = echo_through_socket(path, data)
    t.check(got == data, f"10 MiB through the bound socket came back byte for byte ({len(got)} bytes)")

    other = libvirt.open(d.uri)
    probe = lambda: timed(lambda: other.lookupByName("echo").info())  # noqa: E731
    data2 = payload(SIZE)[::-1]
    base = rss_kib(d.proc.pid)
    peak = [base]
    sampling = threading.Event()

    def sample():
        while not sampling.wait(0.05):
            peak[0] = max(peak[0], rss_kib(d.proc.pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    got, probes, second, errors = echo_through_stream(conn, dom, data2, probe)
    sampling.set()
    sampler.join()
    # The client sends 10 MiB at once; the relay holds at most 1 MiB for the
    # guest and 1 MiB for the client, and stops reading either side past it.
    print(f"# daemon VmRSS {base} KiB, peak {peak[0]} KiB during the transfer")
    t.check(peak[0] - base < 8 * 1024, "the daemon's memory stayed bounded during the transfer",
            f"VmRSS {base} KiB -> peak {peak[0]} KiB")
    t.check(got == data2 and not errors,
            f"10 MiB through virDomainOpenChannel came back byte for byte ({len(got)} bytes)", errors)
    t.check(probes and max(probes) < 5, "the daemon answered other calls during the transfer",
            f"seconds: {probes}")
    t.check("Active channel stream exists" in second, "a second client on the channel is refused",
            second)
    # Another client may open it once the first finished; the Arrow's end
    # ends its stream.
    st = conn.newStream(0)
    dom.openChannel(PORT, st, 0)
    st.send(b"ping\n")
    echoed = b""
    while len(echoed) < 5:
        echoed += st.recv(64)
    t.check(echoed == b"ping\n", "the channel opens again after a client finished", echoed)
    st.finish()
    # virsh console NAME --devname CHANNEL: virDomainOpenConsole with its name.
    st = conn.newStream(0)
    dom.openConsole(PORT, st, 0)
    st.send(b"pong\n")
    echoed = b""
    while len(echoed) < 5:
        echoed += st.recv(64)
    t.check(echoed == b"pong\n", "virDomainOpenConsole with the channel's name (virsh console --devname)", echoed)
    dom.destroy()
    t.check(st.recv(64) == b"", "the stream ends when the Arrow stops")
    st.finish()
    t.check(not os.path.exists(path), "the bound socket is removed when the Arrow stops")
    other.close()


def two_arrows(t, d, tmp):
    conn = d.conn
    path = os.path.join(tmp, "pair.sock")
    writer = (f"head -c {SIZE} /dev/urandom | tee /dev/virtio-ports/pair | sha256sum | sed 's/^/sent /'; "
              "sleep 1000")
    # The reader starts reading late: the writer's port stays full meanwhile.
    reader = f"sleep 5; head -c {SIZE} /dev/virtio-ports/pair | sha256sum | sed 's/^/got /'; sleep 1000"
    a = conn.defineXML(domain_xml("writer", "/bin/sh", args=["-c", writer], memory_mib=96,
                                  devices=channel("pair", path)))
    b = conn.defineXML(domain_xml("reader", "/bin/sh", args=["-c", reader], memory_mib=96,
                                  devices=channel("pair", path, "connect")))
    a.create()
    b.create()
    wait_for(lambda: "sent " in d.app_log("writer") and "got " in d.app_log("reader"), TRANSFER,
             "both Arrows' SHA-256")
    sent = d.app_log("writer").split("sent ")[1].split()[0]
    got = d.app_log("reader").split("got ")[1].split()[0]
    t.check(sent == got and len(sent) == 64, "10 MiB from one Arrow reached the other byte for byte (SHA-256)",
            f"{sent} / {got}")
    b.destroy()
    a.destroy()


# An unmodified program that speaks to a Unix socket: it connects to
# /run/crossbow/NAME.sock, which ainit relays to the port, and echoes.
SOCKET_ECHO = ("import socket, sys\n"
               "s = socket.socket(socket.AF_UNIX)\n"
               "s.connect('/run/crossbow/sock.echo.sock')\n"
               "print('connected', flush=True)\n"
               "while True:\n"
               "    b = s.recv(65536)\n"
               "    if not b: break\n"
               "    s.sendall(b)\n")


def guest_socket(t, d, tmp):
    path = os.path.join(tmp, "sock.sock")
    dom = d.conn.defineXML(domain_xml("sockecho", "/usr/bin/python3", args=["-c", SOCKET_ECHO], memory_mib=96,
                                      inituser="nobody", devices=channel("sock.echo", path)))
    dom.create()
    wait_for(lambda: "connected" in d.app_log("sockecho"), BOOT, "the guest program to connect to its socket")
    data = payload(SIZE)
    got = echo_through_socket(path, data)
    t.check(got == data, f"10 MiB through /run/crossbow/NAME.sock in the guest came back byte for byte ({len(got)} bytes)")
    dom.destroy()


def refusals(t, d, tmp):
    conn = d.conn
    nobody = os.path.join(tmp, "nobody.sock")
    dom = conn.defineXML(domain_xml("lonely", "/bin/true", memory_mib=64, devices=channel("p", nobody, "connect")))
    _, err = libvirt_error(dom.create)
    t.check("channel 'p'" in err and nobody in err, "connect to a socket nobody listens on: a clear error",
            err)
    plain = os.path.join(tmp, "plain-file")
    with open(plain, "w") as f:
        f.write("keep me\n")
    dom2 = conn.defineXML(domain_xml("clash", "/bin/true", memory_mib=64, devices=channel("p", plain)))
    _, err = libvirt_error(dom2.create)
    with open(plain) as f:
        kept = f.read()
    t.check("not a socket" in err and kept == "keep me\n", "a bound path that is a file is refused, intact",
            err)
    t.check(conn.lookupByName("lonely").isActive() == 0 and len(conn.listAllDomains()) >= 2,
            "the daemon keeps serving")


def body(t, d):
    tmp = tempfile.mkdtemp(prefix="arrow-channels-")
    try:
        refusals(t, d, tmp)
        host_and_arrow(t, d, tmp)
        two_arrows(t, d, tmp)
        guest_socket(t, d, tmp)
    finally:
        remove_tree(tmp)


def main():
    t = Failures()
    run_checks(t, lambda d: body(t, d))


if __name__ == "__main__":
    main()

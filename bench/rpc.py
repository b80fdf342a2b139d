"""RPC benchmark: calls per second through stock libvirt-python for a
`virsh list`-class call (virConnectListAllDomains) and a `dominfo`-class pair
(virDomainLookupByName + virDomainGetInfo), against virtarrowd on a private
--root and, side by side in the same run, against libvirtd's own test driver
served by a private libvirtd (test+unix:///default?socket=...). Both hold the
same number of defined, inactive domains. Prints calls/s and the ratio
virtarrowd/libvirtd (target: >= 1)."""

import argparse
import os
import statistics
import sys
import tempfile
import time

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "lib"))
from arrowtest import DAEMON, FAKE_DAEMON  # noqa: E402
from daemon import Daemon, Service  # noqa: E402

LIBVIRTD = "/usr/sbin/libvirtd"

ARROW_XML = """<domain type='arrow'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='microvm'>exe</type>
    <init>/bin/true</init>
  </os>
</domain>"""

TEST_XML = """<domain type='test'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>"""


def start_virtarrowd(tmp):
    daemon = DAEMON if os.access(DAEMON, os.X_OK) else FAKE_DAEMON
    d = Daemon(root=os.path.join(tmp, "arrow"), program=daemon, args=()).start(timeout=30)
    return d, d.uri, os.path.basename(daemon)


def start_libvirtd(tmp):
    """A private libvirtd with no driver modules: only the built-in test and
    remote drivers, its sockets and pid file in TMP, no authentication."""
    sock_dir = os.path.join(tmp, "libvirtd-sock")
    no_modules = os.path.join(tmp, "libvirtd-no-modules")
    os.makedirs(sock_dir)
    os.makedirs(no_modules)
    conf = os.path.join(tmp, "libvirtd.conf")
    with open(conf, "w") as f:
        f.write(f'unix_sock_dir = "{sock_dir}"\nunix_sock_rw_perms = "0700"\n'
                'auth_unix_rw = "none"\nauth_unix_ro = "none"\nlisten_tls = 0\nlisten_tcp = 0\n'
                'log_outputs = "3:stderr"\n')
    env = dict(os.environ, LIBVIRT_DRIVER_DIR=no_modules)
    # A session daemon (not root) would look in XDG directories: keep them here.
    for var in ("XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        env[var] = os.path.join(tmp, "libvirtd-" + var.lower())
    sock = os.path.join(sock_dir, "libvirt-sock")
    p = Service([LIBVIRTD, "-f", conf, "-p", os.path.join(tmp, "libvirtd.pid")], sock,
                os.path.join(tmp, "libvirtd.log"), env).start(timeout=30)
    return p, "test+unix:///default?socket=" + sock


def populate(conn, template, count):
    """Leaves exactly COUNT defined, inactive domains on CONN."""
    for dom in conn.listAllDomains():  # the test driver starts with one running domain
        if dom.isActive():
            dom.destroy()
        dom.undefine()
    for i in range(count):
        conn.defineXML(template.format(name=f"bench{i:02d}"))
    doms = conn.listAllDomains()
    assert len(doms) == count and not any(d.isActive() for d in doms), "populate failed"


def rate(fn, seconds):
    """Calls of FN per second over about SECONDS."""
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(50):
            fn()
        n += 50
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def workloads(conn, count):
    names = [f"bench{i:02d}" for i in range(count)]
    state = {"i": 0}

    def list_all():
        assert len(conn.listAllDomains()) == count

    def dominfo():
        state["i"] = (state["i"] + 1) % count
        conn.lookupByName(names[state["i"]]).info()

    return [("list (LIST_ALL_DOMAINS)", list_all), ("dominfo (LOOKUP_BY_NAME + GET_INFO)", dominfo)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--domains", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=1.0, help="length of one measurement")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="arrow-bench-rpc-") as tmp:
        daemons = []
        try:
            arrowd, arrow_uri, label = start_virtarrowd(tmp)
            daemons.append(arrowd)
            libvirtd, test_uri = start_libvirtd(tmp)
            daemons.append(libvirtd)
            arrow = libvirt.open(arrow_uri)
            test = libvirt.open(test_uri)
            populate(arrow, ARROW_XML, args.domains)
            populate(test, TEST_XML, args.domains)
            targets = [(label, workloads(arrow, args.domains)), ("libvirtd test driver", workloads(test, args.domains))]
            for _, loads in targets:  # warm up both
                for _, fn in loads:
                    rate(fn, 0.2)
            results = {}
            for _ in range(args.rounds):  # alternate, so drift hits both alike
                for who, loads in targets:
                    for what, fn in loads:
                        results.setdefault((who, what), []).append(rate(fn, args.seconds))
            report(targets, results, args)
            arrow.close()
            test.close()
        finally:
            for d in daemons:
                d.stop()
    return 0


def report(targets, results, args):
    print(f"RPC calls per second, {args.domains} defined inactive domains on each, "
          f"median of {args.rounds} x {args.seconds:g} s, one libvirt-python client")
    (a, loads), (b, _) = targets
    print(f"  {'':40} {a:>16} {b:>22} {'ratio':>7}")
    worst = None
    for what, _ in loads:
        ra = statistics.median(results[(a, what)])
        rb = statistics.median(results[(b, what)])
        worst = ra / rb if worst is None else min(worst, ra / rb)
        print(f"  {what:40} {ra:16.0f} {rb:22.0f} {ra / rb:7.2f}")
    print(f"  virtarrowd/libvirtd: lowest ratio {worst:.2f} (target >= 1: {'met' if worst >= 1 else 'NOT met'})")
    if a != "virtarrowd":
        print(f"  note: driver/daemon/virtarrowd is not built: measured {a}, the RPC layer over the in-memory fake driver")


if __name__ == "__main__":
    sys.exit(main())

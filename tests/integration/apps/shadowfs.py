#!/usr/bin/python3
"""ShadowFS (issue 7): two Arrows shadow the same host directory; what one
writes or deletes, the other and the host never see. A ShadowFS with
<upper dir=> keeps the Arrow's writes across a restart in that host
directory, never in the shared one; deleting a shared file there fails
(LIMITATIONS.md: QEMU's 9p server refuses overlayfs's whiteout devices)."""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir, "lib"))
import apptest  # noqa: E402
from apps_cases import curl  # noqa: E402
from arrowtest import Failures, domain_xml, free_port  # noqa: E402
from daemon import Daemon  # noqa: E402

# Writes, overwrites and deletes in the shadowed directory, counts its boots
# in it, then serves it.
SCRIPT = """set -e
cd /srv/shared
n=$(cat boots 2>/dev/null || echo 0); echo $((n + 1)) > boots
if [ -n "$WRITER" ]; then
  echo "$WRITER wrote" > data.txt; echo new > new-$WRITER; mkdir -p sub/dir; echo x > sub/dir/f
  rm gone.txt 2> rm.err || true
fi
exec /usr/bin/busybox httpd -f -p 8000 -h /srv/shared
"""


def arrow_xml(name, shared, port, writer="", upper=None):
    share = dict(source=shared, target="/srv/shared")
    share.update(upper=upper) if upper else share.update(transient=True)
    return domain_xml(name, "/usr/bin/busybox", args=["sh", "-c", SCRIPT], env={"WRITER": writer},
                      shares=[share], forwards=[(port, 8000)])


def get(port, path):
    status, out = curl(port, path)
    return out if status == 0 and "404" not in out else None


def serving(port):
    return lambda: get(port, "/boots")


def main():
    apptest.need_programs(("/usr/bin/busybox", "busybox-static"), ("/usr/bin/curl", "curl"))
    checks = Failures()
    work = tempfile.mkdtemp(prefix="arrow-shadowfs-")
    shared, upper = os.path.join(work, "shared"), os.path.join(work, "upper")
    os.makedirs(shared)
    os.makedirs(upper)
    for name, text in (("data.txt", "original\n"), ("gone.txt", "still here\n")):
        with open(os.path.join(shared, name), "w") as f:
            f.write(text)
    before = sorted(os.listdir(shared))
    daemon = Daemon(prefix="arrow-apps-", args=()).start()
    try:
        pa, pb, pc = free_port(), free_port(), free_port()
        daemon.conn.createXML(arrow_xml("shadow-a", shared, pa, writer="a"), 0)
        daemon.conn.createXML(arrow_xml("shadow-b", shared, pb), 0)
        apptest.wait_ready(serving(pa), "Arrow a")
        apptest.wait_ready(serving(pb), "Arrow b")
        checks.check(get(pa, "/data.txt") == "a wrote\n", "a sees its own write")
        checks.check(get(pa, "/new-a") == "new\n" and get(pa, "/sub/dir/f") == "x\n", "a sees the files it created")
        checks.check(get(pa, "/gone.txt") is None and get(pa, "/rm.err") == "",
                     "a no longer sees the file it deleted")
        checks.check(get(pb, "/data.txt") == "original\n", "b, sharing the same files, does not see a's write")
        checks.check(get(pb, "/new-a") is None and get(pb, "/gone.txt") == "still here\n",
                     "b sees neither a's new file nor a's deletion")
        checks.check(get(pa, "/boots") == "1\n" and get(pb, "/boots") == "1\n", "each Arrow has its own boots count")
        with open(os.path.join(shared, "data.txt")) as f:
            host_data = f.read()
        checks.check(host_data == "original\n" and sorted(os.listdir(shared)) == before,
                     "the host's shared directory is untouched", f"{host_data!r} {os.listdir(shared)}")
        for name in ("shadow-a", "shadow-b"):
            daemon.conn.lookupByName(name).destroy()

        # <upper dir=>: the writes land in the host directory and survive a restart.
        for boot in (1, 2):
            dom = daemon.conn.createXML(arrow_xml("shadow-c", shared, pc, writer="c" if boot == 1 else "",
                                                  upper=upper), 0)
            apptest.wait_ready(serving(pc), f"Arrow c, boot {boot}")
            checks.check(get(pc, "/boots") == f"{boot}\n", f"persistent upper: boot {boot} counts {boot}",
                         str(get(pc, "/boots")) + daemon.app_log("shadow-c"))
            checks.check(get(pc, "/data.txt") == "c wrote\n" and get(pc, "/new-c") == "new\n",
                         f"persistent upper: boot {boot} sees c's writes")
            # The deletion is an overlayfs whiteout in the upper directory; with
            # 9p's mapped-xattr model it is a plain file on the host, so it works
            # and survives the restart.
            checks.check(get(pc, "/gone.txt") is None and get(pc, "/rm.err") == "",
                         f"persistent upper: boot {boot}: the shared file deleted on boot 1 stays deleted",
                         str(get(pc, "/rm.err")))
            dom.destroy()
        checks.check(os.path.exists(os.path.join(upper, "upper", "new-c")),
                     "persistent upper: the writes are in the <upper dir> on the host")
        checks.check(sorted(os.listdir(shared)) == before, "persistent upper: the shared directory is untouched")
    finally:
        daemon.stop()
        shutil.rmtree(work, ignore_errors=True)
    checks.finish()


main()

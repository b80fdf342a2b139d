"""The applications of the matrix: how each runs as an Arrow (from the host's
Debian package, nothing packaged), how it runs natively (for bench/apps.py),
when it is ready and what its own client checks. Used by apptest.py."""

import os

from arrowtest import free_port, run_client

GUEST = "127.0.0.1"


def curl(port, path="/", max_time=10):
    return run_client(["curl", "-sS", "--max-time", str(max_time), f"http://127.0.0.1:{port}{path}"])


# Readiness polls: a connection made while the guest boots is accepted by
# the port forward and then waits on TCP retransmits toward the guest, so
# one long attempt would hide the moment the application answers (bench/apps
# measured 6.3 s instead of about 3 s for busybox httpd): short attempts, retried.
READY_MAX_TIME = 1


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


class Case:
    name = ""
    needs = ()  # (program, Debian package)

    def arrow(self, work, port):  # -> domain_xml() keywords plus guest_port
        raise NotImplementedError

    def native(self, work, port):  # -> argv run on the host
        raise NotImplementedError

    def ready(self, port):
        raise NotImplementedError

    def check(self, port, work, checks):
        pass


class Busybox(Case):
    name = "busybox"
    needs = (("/usr/bin/busybox", "busybox-static"), ("/usr/bin/curl", "curl"))
    PAGE = "<h1>busybox httpd in an Arrow</h1>\n"

    def _site(self, work):
        _write(os.path.join(work, "www", "index.html"), self.PAGE)

    def arrow(self, work, port):
        self._site(work)
        return dict(init="/usr/bin/busybox", args=["httpd", "-f", "-p", "8000", "-h", "/srv/www"],
                    shares=[dict(source=os.path.join(work, "www"), target="/srv/www", readonly=True)],
                    guest_port=8000)

    def native(self, work, port):
        self._site(work)
        return ["/usr/bin/busybox", "httpd", "-f", "-p", f"127.0.0.1:{port}", "-h", os.path.join(work, "www")]

    def ready(self, port):
        status, out = curl(port, max_time=READY_MAX_TIME)
        return status == 0 and out == self.PAGE

    def check(self, port, work, checks):
        status, out = curl(port, "/index.html")
        checks.check(status == 0 and out == self.PAGE, "busybox: curl gets the page", out)


class Python(Case):
    name = "python"
    needs = (("/usr/bin/python3", "python3"), ("/usr/bin/curl", "curl"))

    def _files(self, work):
        _write(os.path.join(work, "files", "arrow-listing-marker.txt"), "x\n")

    def arrow(self, work, port):
        self._files(work)
        return dict(init="/usr/bin/python3", args=["-m", "http.server", "8000", "--directory", "/srv/files"],
                    shares=[dict(source=os.path.join(work, "files"), target="/srv/files", readonly=True)],
                    guest_port=8000)

    def native(self, work, port):
        self._files(work)
        return ["/usr/bin/python3", "-m", "http.server", str(port), "--bind", "127.0.0.1",
                "--directory", os.path.join(work, "files")]

    def ready(self, port):
        status, out = curl(port, max_time=READY_MAX_TIME)
        return status == 0 and "arrow-listing-marker.txt" in out

    def check(self, port, work, checks):
        status, out = curl(port)
        checks.check(status == 0 and "Directory listing for /" in out and "arrow-listing-marker.txt" in out,
                     "python: curl gets the directory listing", out)


class Node(Case):
    name = "node"
    needs = (("/usr/bin/node", "nodejs"), ("/usr/bin/curl", "curl"))
    SCRIPT = """const http = require('http');
const port = Number(process.env.PORT || 8000);
http.createServer((req, res) => {
  res.writeHead(200, {'Content-Type': 'text/plain'});
  res.end('node ' + process.version + ' says hello from ' + require('os').hostname() + '\\n');
}).listen(port, process.env.HOST || '0.0.0.0');
"""

    def _app(self, work):
        _write(os.path.join(work, "app", "server.js"), self.SCRIPT)

    def arrow(self, work, port):
        self._app(work)
        return dict(init="/usr/bin/node", args=["/srv/app/server.js"], env={"PORT": "8000"},
                    shares=[dict(source=os.path.join(work, "app"), target="/srv/app", readonly=True)],
                    memory_mib=256, guest_port=8000)

    def native(self, work, port):
        self._app(work)
        os.environ["PORT"], os.environ["HOST"] = str(port), "127.0.0.1"
        return ["/usr/bin/node", os.path.join(work, "app", "server.js")]

    def ready(self, port):
        status, out = curl(port, max_time=READY_MAX_TIME)
        return status == 0 and "says hello" in out

    def check(self, port, work, checks):
        status, out = curl(port)
        checks.check(status == 0 and out.startswith("node v") and "app-node" in out,
                     "node: curl gets the script's answer (hostname = the Arrow's name)", out)


class Redis(Case):
    name = "redis"
    needs = (("/usr/bin/redis-server", "redis-server"), ("/usr/bin/redis-cli", "redis-tools"),
             ("/usr/bin/redis-benchmark", "redis-tools"))

    def arrow(self, work, port):
        return dict(init="/usr/bin/redis-server",
                    args=["--port", "6379", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "",
                          "--appendonly", "no", "--dir", "/var/lib/redis"],
                    # the package's own data directory, writable through ShadowFS
                    shares=[dict(source="/var/lib/redis", target="/var/lib/redis", transient=True)],
                    guest_port=6379)

    def native(self, work, port):
        return ["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", work]

    def _cli(self, port, *args):
        return run_client(["redis-cli", "-h", "127.0.0.1", "-p", str(port), *args])

    def ready(self, port):
        status, out = self._cli(port, "ping")
        return status == 0 and out.strip() == "PONG"

    def check(self, port, work, checks):
        status, out = self._cli(port, "set", "k", "v")
        checks.check(status == 0 and out.strip() == "OK", "redis: redis-cli set k v", out)
        status, out = self._cli(port, "get", "k")
        checks.check(status == 0 and out.strip() == "v", "redis: redis-cli get k returns v", out)
        # 10 clients, not the default 50: user-mode networking stalls a burst
        # of 50 new connections (LIMITATIONS.md); SET and GET only, as the
        # whole suite takes minutes at TCG's ~1000 requests per second.
        status, out = run_client(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-q", "-n", "10000",
                            "-c", "10", "-t", "set,get"], timeout=240)
        checks.check(status == 0 and out.count("requests per second") == 2,
                     "redis: redis-benchmark -q -n 10000 -c 10 -t set,get completes", out)
        print("# " + "\n# ".join(line.strip() for line in out.replace("\r", "\n").splitlines()
                                 if "per second" in line and line.strip()[:4] in ("SET:", "GET:")))


class Nginx(Case):
    name = "nginx"
    needs = (("/usr/sbin/nginx", "nginx-light"), ("/usr/bin/curl", "curl"))
    PAGE = "<h1>static site served by nginx in an Arrow</h1>\n"
    # The package's compiled-in paths (/var/lib/nginx for temp files,
    # /var/log/nginx, opened before the config is read) stay as they are:
    # ShadowFS makes them writable. The config is the test's own (the
    # package's listens on 80 and runs workers as www-data, which the guest's
    # /etc/passwd does not name: see LIMITATIONS.md).
    CONF = """daemon off;
worker_processes 1;
pid /run/nginx.pid;
error_log stderr;
events { worker_connections 64; }
http {
  include /etc/nginx/mime.types;
  access_log /var/log/nginx/access.log;
  server { listen %(port)s; root %(root)s; }
}
"""

    def _files(self, work, port, root):
        _write(os.path.join(work, "srv", "site", "index.html"), self.PAGE)
        _write(os.path.join(work, "srv", "nginx.conf"), self.CONF % {"port": port, "root": root})

    def arrow(self, work, port):
        # Five 9p shares with /usr: microvm's 8 virtio devices allow no more
        # beside the console, entropy and the network (LIMITATIONS.md).
        self._files(work, "8080", "/srv/site")
        return dict(init="/usr/sbin/nginx", args=["-c", "/srv/nginx.conf"],
                    shares=[dict(source=os.path.join(work, "srv"), target="/srv", readonly=True),
                            dict(source="/etc/nginx", target="/etc/nginx", readonly=True),
                            dict(source="/var/lib/nginx", target="/var/lib/nginx", transient=True),
                            dict(source="/var/log/nginx", target="/var/log/nginx", transient=True)],
                    guest_port=8080)

    def native(self, work, port):
        self._files(work, f"127.0.0.1:{port}", os.path.join(work, "srv", "site"))
        conf = os.path.join(work, "srv", "nginx.conf")
        with open(conf) as f:
            text = f.read()
        # natively the writable paths are the work directory's (never the host's /var, /run)
        text = text.replace("/run/nginx.pid", os.path.join(work, "nginx.pid"))
        text = text.replace("/var/log/nginx/access.log", os.path.join(work, "access.log"))
        text = text.replace("http {", "http {\n  client_body_temp_path %s;" % os.path.join(work, "body"))
        with open(conf, "w") as f:
            f.write(text)
        return ["/usr/sbin/nginx", "-e", os.path.join(work, "error.log"), "-c", conf]

    def ready(self, port):
        status, out = curl(port, max_time=READY_MAX_TIME)
        return status == 0 and out == self.PAGE

    def check(self, port, work, checks):
        before = _host_access_log()
        status, out = curl(port, "/index.html")
        checks.check(status == 0 and out == self.PAGE, "nginx: curl gets the static site", out)
        checks.check(_host_access_log() == before,
                     "nginx: its access log went to ShadowFS, the host's /var/log/nginx is untouched")


def _host_access_log():
    try:
        st = os.stat("/var/log/nginx/access.log")
        return (st.st_size, st.st_mtime_ns)
    except OSError:
        return None


class Etcd(Case):
    name = "etcd"
    needs = (("/usr/bin/etcd", "etcd-server"), ("/usr/bin/etcdctl", "etcd-client"))

    def arrow(self, work, port):
        return dict(init="/usr/bin/etcd",
                    args=["--name", "arrow", "--data-dir", "/var/lib/etcd/arrow",
                          "--listen-client-urls", "http://0.0.0.0:2379",
                          "--advertise-client-urls", "http://127.0.0.1:2379",
                          "--listen-peer-urls", "http://127.0.0.1:2380",
                          "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
                          "--initial-cluster", "arrow=http://127.0.0.1:2380"],
                    # Its data dir is a tmpfs-backed ShadowFS inside guest memory, and
                    # Go plus bbolt need room: at 256 MiB a write sometimes got ENOSPC.
                    shares=[dict(source="/var/lib/etcd", target="/var/lib/etcd", transient=True)],
                    memory_mib=512, guest_port=2379)

    def native(self, work, port):
        peer = free_port()
        return ["/usr/bin/etcd", "--name", "native", "--data-dir", os.path.join(work, "data"),
                "--listen-client-urls", f"http://127.0.0.1:{port}",
                "--advertise-client-urls", f"http://127.0.0.1:{port}",
                "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                "--initial-cluster", f"native=http://127.0.0.1:{peer}"]

    def _ctl(self, port, *args):
        return run_client(["etcdctl", f"--endpoints=http://127.0.0.1:{port}", "--dial-timeout=5s", *args])

    def ready(self, port):
        status, out = self._ctl(port, "endpoint", "health")
        return status == 0 and "is healthy" in out

    def check(self, port, work, checks):
        status, out = self._ctl(port, "put", "arrow", "flies")
        checks.check(status == 0 and out.strip() == "OK", "etcd: etcdctl put", out)
        status, out = self._ctl(port, "get", "arrow")
        checks.check(status == 0 and out.split() == ["arrow", "flies"], "etcd: etcdctl get returns the value", out)


CASES = {c.name: c for c in (Busybox(), Python(), Node(), Redis(), Nginx(), Etcd())}

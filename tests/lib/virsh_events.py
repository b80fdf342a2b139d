"""`virsh event --all --loop` as a test watches it: stock virsh on its own
connection, its lines collected by a thread, each with its arrival time."""

import re
import signal
import subprocess
import threading
import time

from arrowtest import wait_for


class VirshEvents:
    """The event lines virsh prints for URI: every event, or only EVENT's
    (virsh event --event EVENT). quiet: virsh -q (no banner and no "events
    received" count when it ends)."""

    def __init__(self, uri, quiet=True, settle=1.0, event=None):
        # stdbuf: virsh's stdout is a pipe here, and each line must arrive when
        # the event does, not when virsh exits.
        which = ["--event", event] if event else ["--all"]
        argv = ["stdbuf", "-oL", "virsh"] + (["-q"] if quiet else []) + ["-c", uri, "event", *which, "--loop"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.timed = []  # (line, monotonic time)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        time.sleep(settle)  # virsh has registered its callbacks

    def _read(self):
        for line in self.proc.stdout:
            self.timed.append((line.strip(), time.monotonic()))

    @property
    def lines(self):
        return [text for text, _ in list(self.timed)]

    def of(self, name):
        """(line, time) of domain NAME's events."""
        return [(text, t) for text, t in list(self.timed) if f"for domain '{name}'" in text]

    def wait(self, name, pattern, timeout=60):
        """(line, time) of NAME's first event matching PATTERN."""
        def found():
            return next(((text, t) for text, t in self.of(name) if re.search(pattern, text)), None)
        return wait_for(found, timeout, f"virsh event /{pattern}/ for {name}", interval=0.05)

    def order(self, name, patterns):
        """True when PATTERNS match NAME's events in this order."""
        i = 0
        for text, _ in self.of(name):
            if i < len(patterns) and re.search(patterns[i], text):
                i += 1
        return i == len(patterns)

    def saw(self, line, timeout=15):
        """Whether LINE is printed within TIMEOUT seconds."""
        try:
            return wait_for(lambda: line in self.lines, timeout, line, interval=0.05)
        except AssertionError:
            return False

    def lifecycle(self, name):
        """The "Event Detail" pairs of NAME's lifecycle events, in order."""
        pat = re.compile(rf"event 'lifecycle' for domain '{re.escape(name)}': (\S+) (\S+)")
        return [m.groups() for m in map(pat.search, self.lines) if m]

    def stop(self):
        """Ctrl-C (virsh leaves its loop and prints its count), SIGKILL after 10 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)  # it takes the last lines, then sees the end
        if not self._reader.is_alive():
            self.proc.stdout.close()

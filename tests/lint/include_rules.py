#!/usr/bin/env python3
"""The layering rule of ARCHITECTURE.md ("Parts and what each may include"),
checked: every #include "…" of a project header in a part's sources must name
a part that part may use. Fails, naming file, line and the crossing, when one
does not; a header of the part itself is always allowed. It checks itself on
samples first, so a checker that can no longer fail fails too."""

import os
import re
import sys

# Part -> the parts it may include besides itself. A part is the longest
# prefix of a file's path found here. Keep in step with ARCHITECTURE.md.
RULES = {
    "util": set(),
    "anotify": {"util"},
    "domain-xml": {"util"},
    "kernel": {"anotify"},  # ainit shares the Anotify wire format, nothing else
    "driver/api": {"domain-xml", "util"},
    "driver/rpc": {"util"},
    "driver/engine": {"anotify", "domain-xml", "util"},
    "driver/arrow": {"driver/api", "driver/engine", "anotify", "domain-xml", "util"},
    "driver/remote": {"driver/api", "driver/rpc", "domain-xml", "util"},
    "driver/dbus": {"driver/api", "domain-xml", "util"},
    "driver/daemon": {"driver/api", "driver/arrow", "driver/remote", "driver/rpc", "driver/dbus", "domain-xml",
                      "util"},
    "virsh-ext": {"driver/api", "domain-xml", "util"},
    "openstack": set(),  # Python: no #include, a row to stay in step with ARCHITECTURE.md
}
# Headers generated into the build tree, and config.h: allowed everywhere.
GENERATED = {"config.h"}
# Tests, benchmarks and fuzzers are no part: they may use every part.
SOURCE = re.compile(r"\.(c|cc|h)$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def part_of(path):
    best = None
    for part in RULES:
        if path == part or path.startswith(part + "/"):
            if best is None or len(part) > len(best):
                best = part
    return best


def violations(path, text):
    """(line, included, why) for each include of PATH that crosses the rule."""
    part = part_of(path)
    if part is None:
        return []
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        m = INCLUDE.match(line)
        if not m:
            continue
        target = m.group(1)
        if target in GENERATED:
            continue
        target_part = part_of(target)
        if target_part is None or target_part == part or target_part in RULES[part]:
            continue
        out.append((number, target, f"{part} may not include {target_part}"))
    return out


def self_test():
    good = '#include "driver/rpc/xdr.h"\n#include "util/fd.h"\n#include "config.h"\n'
    bad = '#include "util/fd.h"\n#include "driver/api/driver_api.h"\n'
    assert violations("driver/rpc/server.cc", good) == [], "the checker refuses a lawful include"
    found = violations("driver/rpc/server.cc", bad)
    assert [(n, t) for n, t, _ in found] == [(2, "driver/api/driver_api.h")], f"the checker misses a crossing: {found}"
    assert violations("driver/engine/x.cc", '#include "driver/arrow/arrow_domain.h"\n'), "engine -> arrow not caught"
    assert violations("tests/unit/x.cc", '#include "driver/arrow/arrow_domain.h"\n') == [], "tests are free"


def main():
    self_test()
    top = os.environ.get("ARROW_SRCDIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    top = os.path.abspath(top)
    failures = 0
    checked = 0
    for part in sorted(RULES):
        for dirpath, dirnames, filenames in os.walk(os.path.join(top, part)):
            dirnames.sort()
            for name in sorted(filenames):
                rel = os.path.relpath(os.path.join(dirpath, name), top)
                # A sub-folder that is a part of its own is checked as that part.
                if not SOURCE.search(name) or part_of(rel) != part:
                    continue
                with open(os.path.join(top, rel), encoding="utf-8", errors="replace") as f:
                    found = violations(rel, f.read())
                checked += 1
                for number, target, why in found:
                    print(f"{rel}:{number}: includes {target}: {why}")
                    failures += 1
    print(f"include rules: {checked} files checked, {failures} crossing(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

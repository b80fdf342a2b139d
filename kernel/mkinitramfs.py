#!/usr/bin/env python3
"""Writes the Arrow initramfs: an uncompressed newc cpio holding /init (ainit),
/dev/console and the empty directories ainit mounts on. Reproducible: entries
sorted, mtimes 0, owner root, inode numbers by position, so a rebuild is byte
for byte identical.

Usage: mkinitramfs.py AINIT OUTPUT
"""
import os
import stat
import sys

# Directories ainit mounts on or writes into (it also creates any it lacks).
DIRS = ["dev", "etc", "proc", "run", "sys", "tmp", "usr"]
# The kernel opens /dev/console for init's stdio before devtmpfs is mounted.
CONSOLE = ("dev/console", stat.S_IFCHR | 0o600, (5, 1))


def header(ino, mode, nlink, size, rdev, name):
    """One newc header (070701) with name, padded to 4 bytes."""
    fields = [
        ino, mode, 0, 0, nlink, 0, size,  # ino mode uid gid nlink mtime filesize
        0, 0, rdev[0], rdev[1],           # devmajor devminor rdevmajor rdevminor
        len(name) + 1, 0,                 # namesize check
    ]
    data = b"070701" + b"".join(b"%08X" % f for f in fields) + name + b"\0"
    return data + b"\0" * (-len(data) % 4)


def entries(ainit):
    """(name, mode, rdev, content) in sorted order."""
    items = [(d, stat.S_IFDIR | 0o755, (0, 0), b"") for d in DIRS]
    items.append((CONSOLE[0], CONSOLE[1], CONSOLE[2], b""))
    with open(ainit, "rb") as f:
        items.append(("init", stat.S_IFREG | 0o755, (0, 0), f.read()))
    return sorted(items)


def build(ainit):
    out = bytearray()
    for ino, (name, mode, rdev, content) in enumerate(entries(ainit), start=1):
        nlink = 2 if stat.S_ISDIR(mode) else 1
        out += header(ino, mode, nlink, len(content), rdev, name.encode())
        out += content + b"\0" * (-len(content) % 4)
    out += header(0, 0, 1, 0, (0, 0), b"TRAILER!!!")
    return bytes(out + b"\0" * (-len(out) % 512))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mkinitramfs.py AINIT OUTPUT")
    data = build(sys.argv[1])
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, sys.argv[2])


if __name__ == "__main__":
    main()

"""The memory-exhaustion programs of the OOM test and benchmark: each is a
python3 -c program for a 96 MiB Arrow that creates /mark/started (a writable
share) just before its first allocation, so that file's host mtime starts
the clock; file_thrash also needs /data/big.bin (64 MiB, a read-only share),
which make_data() writes."""

import os

PATTERNS = {
    # Large blocks as fast as Python can fill them.
    "fast_large": "open('/mark/started', 'w').close()\n"
                  "a = []\n"
                  "while True:\n"
                  "    a.append(b'x' * (8 << 20))\n",
    # Small objects, interpreter work for each: without ainit's watch the
    # guest livelocked every time (no OOM kill in 120 s); now the kernel or
    # ainit acts, whichever comes first.
    "slow_small": "open('/mark/started', 'w').close()\n"
                  "a = []\n"
                  "i = 0\n"
                  "while True:\n"
                  "    a.append([str(i + j) for j in range(64)])\n"
                  "    i += 1\n",
    # A 64 MiB file of a read-only share mmapped and read over and over
    # while anonymous memory grows: the file pages thrash (without ainit's
    # watch: no OOM kill within 41-60 s in 3 of 5 runs).
    "file_thrash": "import mmap\n"
                   "f = open('/data/big.bin', 'rb')\n"
                   "m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)\n"
                   "open('/mark/started', 'w').close()\n"
                   "a = []\n"
                   "s = 0\n"
                   "while True:\n"
                   "    for off in range(0, len(m), 4096):\n"
                   "        s += m[off]\n"
                   "        if off % (32 << 12) == 0:\n"
                   "            a.append(bytearray(128 << 10))\n",
}



def make_data(directory):
    """Writes DIRECTORY/big.bin, the file file_thrash maps."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "big.bin"), "wb") as f:
        f.truncate(64 << 20)

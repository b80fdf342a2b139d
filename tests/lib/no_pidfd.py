#!/usr/bin/python3
"""Runs a program as on a kernel without pidfds (Linux before 5.3):

    no_pidfd.py PROGRAM [ARGS...]

installs a seccomp filter under which pidfd_open and pidfd_send_signal fail
with ENOSYS, then execs PROGRAM; the filter is inherited by everything it
starts. For Daemon(wrapper=[PYTHON, NO_PIDFD]). x86_64 only."""

import ctypes
import errno
import os
import struct
import sys

AUDIT_ARCH_X86_64 = 0xC000003E
SYSCALLS = {"pidfd_send_signal": 424, "pidfd_open": 434}  # x86_64 numbers
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
LD_W_ABS = 0x20   # BPF_LD | BPF_W | BPF_ABS
JEQ_K = 0x15      # BPF_JMP | BPF_JEQ | BPF_K
RET_K = 0x06      # BPF_RET | BPF_K


def insn(code, k, jt=0, jf=0):
    return struct.pack("HBBI", code, jt, jf, k)


def program():
    nrs = list(SYSCALLS.values())
    prog = [insn(LD_W_ABS, 4),                       # seccomp_data.arch
            insn(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
            insn(RET_K, SECCOMP_RET_ALLOW),          # another ABI: untouched
            insn(LD_W_ABS, 0)]                       # seccomp_data.nr
    for i, nr in enumerate(nrs):                     # a match jumps to the ENOSYS return
        prog.append(insn(JEQ_K, nr, len(nrs) - i, 0))
    prog.append(insn(RET_K, SECCOMP_RET_ALLOW))
    prog.append(insn(RET_K, SECCOMP_RET_ERRNO | errno.ENOSYS))
    return b"".join(prog), len(prog)


def install():
    if os.uname().machine != "x86_64":
        raise SystemExit("no_pidfd.py: x86_64 only")
    code, count = program()
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(code, len(code))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Fprog(count, ctypes.addressof(buf))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    install()
    os.execvp(sys.argv[1], sys.argv[1:])

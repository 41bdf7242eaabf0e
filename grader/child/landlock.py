"""Landlock for a confined process (Linux 5.13+; stdlib only): the ruleset of what it
may read and write, with no TCP and no signals out of its domain. Named after
linux/landlock.h.
"""

from __future__ import annotations

import os
import platform
import struct
from collections.abc import Iterable

from grader.child.privileges import _check, _libc
from grader.child.seccomp import SYS

LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1, 2, 4, 8
FS_REMOVE_DIR, FS_REMOVE_FILE, FS_MAKE_CHAR, FS_MAKE_DIR = 16, 32, 64, 128
FS_MAKE_REG, FS_MAKE_SOCK, FS_MAKE_FIFO, FS_MAKE_BLOCK = 256, 512, 1024, 2048
FS_MAKE_SYM, FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 4096, 8192, 16384, 32768
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2
READ = FS_READ_FILE | FS_READ_DIR
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
MIN_ABI = 1  # Linux 5.13; newer ABIs add rights (REFER 2, TRUNCATE 3, TCP 4, scoping 6)


def landlock_abi() -> int:
    """The Landlock ABI version of this kernel, 0 where there is none."""
    if platform.machine() != "x86_64":
        return 0
    abi = _libc.syscall(SYS["landlock_create_ruleset"], None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return max(int(abi), 0)


def _fs_rights(abi: int) -> int:
    rights = (1 << 13) - 1  # EXECUTE .. MAKE_SYM (ABI 1)
    if abi >= 2:
        rights |= FS_REFER
    if abi >= 3:
        rights |= FS_TRUNCATE
    if abi >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def landlock(read: Iterable[str], write: Iterable[str], rw_files: Iterable[str] = ()) -> None:
    """Restrict this process (and its future children) to reading ``read``, reading and
    writing ``write`` (folders, recursively) and ``rw_files`` (single files such as
    /dev/null). Everything else is refused, TCP bind/connect is refused, and signals or
    abstract unix sockets cannot reach a process outside this domain."""
    abi = landlock_abi()
    if abi < MIN_ABI:
        raise OSError(f"Landlock ABI {abi} < {MIN_ABI}")
    handled = _fs_rights(abi)
    # struct landlock_ruleset_attr grew with the ABI: pass only the fields this kernel
    # knows. (Without TCP rights or scoping, the empty network namespace and the PID
    # namespace still keep the network and the grader's processes out of reach.)
    net = NET_BIND_TCP | NET_CONNECT_TCP
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    if abi >= 6:
        attr = struct.pack("QQQ", handled, net, scoped)
    elif abi >= 4:
        attr = struct.pack("QQ", handled, net)
    else:
        attr = struct.pack("Q", handled)
    ruleset = _check(
        _libc.syscall(SYS["landlock_create_ruleset"], attr, len(attr), 0), "landlock ruleset"
    )
    try:
        grants = [(p, READ) for p in read] + [(p, handled & ~FS_EXECUTE) for p in write]
        grants += [(p, FS_READ_FILE | FS_WRITE_FILE) for p in rw_files]
        for path, rights in grants:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except PermissionError:
                if rights != READ:
                    raise
                continue  # a folder this uid cannot reach anyway (libpython's, as NOBODY)
            try:
                if not os.path.isdir(path):
                    rights &= FILE_RIGHTS
                rule = struct.pack("=Qi", rights & handled, fd)
                _check(
                    _libc.syscall(
                        SYS["landlock_add_rule"], ruleset, LANDLOCK_RULE_PATH_BENEATH, rule, 0
                    ),
                    f"landlock rule for {path}",
                )
            finally:
                os.close(fd)
        _check(_libc.syscall(SYS["landlock_restrict_self"], ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)

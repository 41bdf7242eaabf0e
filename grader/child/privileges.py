"""Process privileges of a confined process (Linux; stdlib only): the C library handle
the confinement modules share (``_libc``, ``_check``), the prctl flags, capabilities,
the change of a root process to uid NOBODY (``become_unprivileged``), no-new-privs and
the count of a uid's tasks. Named after linux/prctl.h and linux/capability.h.
"""

from __future__ import annotations

import ctypes
import os
import struct

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


# ----------------------------------------------------------------------- prctl / caps
PR_SET_PDEATHSIG = 1
PR_SET_SECUREBITS = 28
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
# SECBIT_NOROOT, NO_SETUID_FIXUP, KEEP_CAPS_LOCKED, NO_CAP_AMBIENT_RAISE and their locks.
SECUREBITS = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80
LINUX_CAPABILITY_VERSION_3 = 0x20080522
LAST_CAP = 63


def die_with_parent() -> None:
    """SIGKILL this process when its parent dies (the parent is grader code)."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0), "PR_SET_PDEATHSIG")


CAP_SETPCAP = 8
NOBODY = 65534  # the uid and gid student code runs as where the grader is root (no userns)


def _effective_capabilities() -> int:
    header = struct.pack("Ii", LINUX_CAPABILITY_VERSION_3, 0)
    data = ctypes.create_string_buffer(24)
    _check(_libc.capget(header, data), "capget")
    low, _, _, high, _, _ = struct.unpack("6I", data.raw)
    return int(low) | int(high) << 32


def drop_capabilities() -> None:
    """Lock securebits, empty the bounding and ambient sets, then zero every capability.

    A process that holds no CAP_SETPCAP (a normal user, or root after
    ``become_unprivileged``) can neither lock securebits nor shrink its bounding set; it
    holds no capability to lose, and no-new-privs with exec refused keeps it so."""
    if _effective_capabilities() >> CAP_SETPCAP & 1:
        _check(_libc.prctl(PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0), "PR_SET_SECUREBITS")
        _drop_bounding_set()
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = struct.pack("Ii", LINUX_CAPABILITY_VERSION_3, 0)
    data = bytes(24)  # two {effective, permitted, inheritable} of u32, all zero
    _check(_libc.capset(header, data), "capset")


def _drop_bounding_set() -> None:
    for cap in range(LAST_CAP + 1):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:
            _check(-1, f"PR_CAPBSET_DROP {cap}")  # EINVAL: past the kernel's last cap


def become_unprivileged() -> None:
    """Where the grader is root and there is no user namespace: empty the bounding set,
    then become uid and gid NOBODY with no supplementary groups (the kernel clears every
    capability on that change). It owns no file of the grader's and no process of it."""
    if os.geteuid() != 0:
        return
    _drop_bounding_set()
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    if _effective_capabilities() or os.getresuid() != (NOBODY,) * 3:
        raise OSError("could not drop root")


def tasks_of(uid: int) -> int:
    """How many tasks (threads) ``uid`` runs now: RLIMIT_NPROC counts them all, so
    without a user namespace the limit must leave room for the ones already there."""
    count = 0
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            count += int(fields.get("Threads", "1"))
    return count


def no_new_privs() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")

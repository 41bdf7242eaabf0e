"""The seccomp filter of a confined process (x86_64; stdlib only): the system calls it
refuses, answers 0 or allows on itself only, and the BPF program that says so. Named
after linux/seccomp.h and linux/filter.h.
"""

from __future__ import annotations

import ctypes
import os
import struct

from grader.child.namespaces import CLONE_THREAD
from grader.child.privileges import (
    PR_SET_PDEATHSIG,
    PR_SET_SECCOMP,
    SECCOMP_MODE_FILTER,
    _check,
    _libc,
)

# ----------------------------------------------------------------------- syscalls
# x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl). Other architectures: the
# grader reports confinement as unavailable (see ``available``).
SYS = {
    "fork": 57,
    "vfork": 58,
    "execve": 59,
    "clone": 56,
    "clone3": 435,
    "ptrace": 101,
    "syslog": 103,
    "setpgid": 109,
    "setsid": 112,
    "personality": 135,
    "vhangup": 153,
    "pivot_root": 155,
    "prctl": 157,
    "adjtimex": 159,
    "chroot": 161,
    "acct": 163,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "init_module": 175,
    "delete_module": 176,
    "quotactl": 179,
    "lookup_dcookie": 212,
    "clock_settime": 227,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "perf_event_open": 298,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "clock_adjtime": 305,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "execveat": 322,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "pidfd_open": 434,
    "pidfd_getfd": 438,
    "mount_setattr": 442,
    "socket": 41,
    "socketpair": 53,
    # SysV IPC and POSIX message queues: no path, so Landlock does not cover them.
    "shmget": 29,
    "shmat": 30,
    "shmctl": 31,
    "semget": 64,
    "semop": 65,
    "semctl": 66,
    "msgget": 68,
    "msgsnd": 69,
    "msgrcv": 70,
    "msgctl": 71,
    "semtimedop": 220,
    "mq_open": 240,
    "mq_unlink": 241,
    # Calls that act on another process named by its PID (see SELF_ONLY).
    "kill": 62,
    "rt_sigqueueinfo": 129,
    "tgkill": 234,
    "rt_tgsigqueueinfo": 297,
    "prlimit64": 302,
    "sched_setparam": 142,
    "sched_setscheduler": 144,
    "sched_setaffinity": 203,
    "sched_setattr": 314,
    # ... or by a thread id, a user, a pidfd: refused outright.
    "setpriority": 141,
    "tkill": 200,
    "ioprio_set": 251,
    "migrate_pages": 256,
    "move_pages": 279,
    "fanotify_init": 300,
    "pidfd_send_signal": 424,
    "process_madvise": 440,
    "process_mrelease": 448,
    # Who the parent, group and session leader are: answered 0 (see HIDDEN).
    "getppid": 110,
    "getpgrp": 111,
    "getpgid": 121,
    "getsid": 124,
    "landlock_create_ruleset": 444,
    "landlock_add_rule": 445,
    "landlock_restrict_self": 446,
}
# Refused outright (EPERM). Process creation (fork, vfork, execve) is refused too: a
# submission needs no other process, so a fork storm, a grandchild that outlives
# grading or a child holding a pipe open cannot even start. Threads are allowed.
DENIED = [
    "fork",
    "vfork",
    "execve",
    "execveat",
    "ptrace",
    "syslog",
    "setpgid",
    "setsid",
    "personality",
    "vhangup",
    "pivot_root",
    "adjtimex",
    "chroot",
    "acct",
    "settimeofday",
    "mount",
    "umount2",
    "swapon",
    "swapoff",
    "reboot",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    "init_module",
    "delete_module",
    "quotactl",
    "lookup_dcookie",
    "clock_settime",
    "kexec_load",
    "add_key",
    "request_key",
    "keyctl",
    "unshare",
    "perf_event_open",
    "name_to_handle_at",
    "open_by_handle_at",
    "clock_adjtime",
    "setns",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "finit_module",
    "kexec_file_load",
    "bpf",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "pidfd_open",
    "pidfd_getfd",
    "mount_setattr",
    "socket",
    "socketpair",
    "shmget",
    "shmat",
    "shmctl",
    "semget",
    "semop",
    "semctl",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "semtimedop",
    "mq_open",
    "mq_unlink",
    "setpriority",
    "tkill",
    "ioprio_set",
    "migrate_pages",
    "move_pages",
    "fanotify_init",
    "pidfd_send_signal",
    "process_madvise",
    "process_mrelease",
]
# Answered 0 without running: student code learns no PID but its own (with namespaces
# they are outside its PID namespace anyway), so nothing tells one run from the next.
HIDDEN = ["getppid", "getpgrp", "getpgid", "getsid"]
# Allowed only on the calling process itself (the PID in the first argument): without a
# PID namespace a process of the same uid as the grader could otherwise signal it, lower
# its limits (prlimit) or its scheduling. ``True``: 0 (meaning "myself") is allowed too;
# for kill, 0 means the whole process group and stays refused.
SELF_ONLY = {
    "kill": False,
    "rt_sigqueueinfo": False,
    "tgkill": False,
    "rt_tgsigqueueinfo": False,
    "prlimit64": True,
    "sched_setparam": True,
    "sched_setscheduler": True,
    "sched_setaffinity": True,
    "sched_setattr": True,
}


# ----------------------------------------------------------------------- seccomp
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
RET_KILL_PROCESS, RET_ERRNO, RET_ALLOW = 0x80000000, 0x00050000, 0x7FFF0000
EPERM, ENOSYS = 1, 38
LD_W_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def seccomp_program(processes: bool = False) -> bytes:
    """The BPF program (struct sock_filter[]): see the comments beside each part.

    ``processes``: the filter of the worker's driver, which runs no student code and
    forks the student's process (whose own filter, stacked on it, refuses that too).
    The SELF_ONLY calls may name the calling process only.
    """
    prog = [
        _ins(LD_W_ABS, 4),  # seccomp_data.arch
        _ins(JEQ, AUDIT_ARCH_X86_64, 1, 0),
        _ins(RET, RET_KILL_PROCESS),  # any other ABI (i386 via int 0x80): kill
        _ins(LD_W_ABS, 0),  # seccomp_data.nr
        _ins(JGE, X32_SYSCALL_BIT, 0, 1),
        _ins(RET, RET_ERRNO | EPERM),  # the x32 ABI: refused
    ]
    # clone3 passes its flags in memory BPF cannot read: answer ENOSYS, and the C library
    # falls back to clone, whose flags we can check.
    prog += [_ins(JEQ, SYS["clone3"], 0, 1), _ins(RET, RET_ERRNO | ENOSYS)]
    # clone: allowed only for a thread (CLONE_THREAD in flags, the first argument).
    prog += (
        []
        if processes
        else [
            _ins(JEQ, SYS["clone"], 0, 4),
            _ins(LD_W_ABS, 16),  # low 32 bits of args[0]
            _ins(JSET, CLONE_THREAD, 1, 0),
            _ins(RET, RET_ERRNO | EPERM),
            _ins(RET, RET_ALLOW),
        ]
    )
    # prctl(PR_SET_PDEATHSIG, 0) would let student code survive its parent: refused (the
    # driver sets it on the student's process before that locks itself down).
    prog += (
        []
        if processes
        else [
            _ins(JEQ, SYS["prctl"], 0, 4),
            _ins(LD_W_ABS, 16),
            _ins(JEQ, PR_SET_PDEATHSIG, 0, 1),
            _ins(RET, RET_ERRNO | EPERM),
            _ins(RET, RET_ALLOW),
        ]
    )
    if not processes:
        for name in HIDDEN:
            prog += [_ins(JEQ, SYS[name], 0, 1), _ins(RET, RET_ERRNO | 0)]
        me = os.getpid()
        for name, zero_ok in SELF_ONLY.items():
            block = [_ins(LD_W_ABS, 16)]  # low 32 bits of args[0]: a pid_t
            if zero_ok:
                block += [_ins(JEQ, me, 2, 0), _ins(JEQ, 0, 1, 0)]
            else:
                block += [_ins(JEQ, me, 1, 0)]
            block += [_ins(RET, RET_ERRNO | EPERM), _ins(RET, RET_ALLOW)]
            prog += [_ins(JEQ, SYS[name], 0, len(block)), *block]
    for name in DENIED:
        prog += [_ins(JEQ, SYS[name], 0, 1), _ins(RET, RET_ERRNO | EPERM)]
    prog.append(_ins(RET, RET_ALLOW))
    return b"".join(prog)


def seccomp(processes: bool = False) -> None:
    """Install the filter (needs no-new-privs or CAP_SYS_ADMIN)."""
    code = seccomp_program(processes)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("HxxxxxxQ", len(code) // 8, ctypes.addressof(buffer))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog, 0, 0), "seccomp filter")

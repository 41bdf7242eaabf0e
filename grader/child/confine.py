"""Kernel confinement for processes that run student code (Linux, x86_64; stdlib only).

Loaded by path (``python -I -S``, no site-packages) by ``worker.py`` and
``runner.py``, and imported by the grader to probe what the machine offers. Every
kernel interface is reached through ``ctypes`` and named after its C definition
(linux/landlock.h, linux/seccomp.h, linux/filter.h, linux/capability.h, sched.h) so the
module can be reviewed against the man pages.

The order a confined process follows (see ``worker.main``):

1. ``enter_namespaces``: a new user namespace (no capability in the grader's namespace,
   whoever runs the grader), new mount, network (no interface but a down loopback) and
   PID namespaces (the first child is PID 1: when it dies the kernel kills everything
   else in it, and nothing in it can see or signal a process outside).
2. ``bind_layout``: in the new mount namespace, a fresh tmpfs over ``/tmp`` with the
   sandbox's folder bound at ``/tmp/run`` -- every submission sees the same paths.
3. After ``fork`` (the child is PID 1): ``lock_down``: securebits locked, every
   capability dropped (bounding, ambient, effective, permitted, inheritable),
   ``PR_SET_NO_NEW_PRIVS``, a Landlock domain (read-only allow-list, write only in the
   scratch folder, no TCP, no signals or abstract sockets out of the domain) and a
   seccomp filter (``SECCOMP_FILTER``) refusing mount, namespace, tracing, kernel-key,
   module, BPF, io_uring and process-creation calls with EPERM.

None of these can be undone from inside: Landlock domains and seccomp filters only ever
stack, and no-new-privs is one-way.

Where the host refuses unprivileged user namespaces (``available`` probes), the LANDLOCK
mode skips steps 1 and 2: the folder stays where it is, and ``lock_down`` first makes a
root process uid NOBODY (``become_unprivileged``; ``hand_over`` lets that uid use its
folder). The seccomp filter already holds what the namespaces added: no ``socket`` (no
network), no process creation (nothing outlives it), no signal, limit or scheduling
call aimed at another process (``SELF_ONLY``), and no parent or group PID (``HIDDEN``).
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys
from collections.abc import Callable, Iterable

from grader.child import pyview

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

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


# ----------------------------------------------------------------------- namespaces
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000
MS_BIND, MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 4096, 0x4000, 1 << 18, 2, 4
RUN = "/tmp/run"  # where the sandbox's folder appears inside the mount namespace
# The two confinements (``available``): with user, mount, network and PID namespaces, or,
# where the host refuses unprivileged user namespaces (Docker's default seccomp profile,
# Ubuntu 24.04's AppArmor), Landlock and seccomp alone, as uid NOBODY when root.
NAMESPACES, LANDLOCK = "namespaces", "landlock"


def enter_namespaces() -> None:
    """unshare user, mount, network and PID namespaces and map our uid/gid into the new
    user namespace: an unprivileged process its own (the only mapping it may write);
    root, root and NOBODY (``_map_root_and_nobody``), so that ``lock_down`` can make
    the processes that run student code NOBODY, whom the kernel's process limit
    (RLIMIT_NPROC, which exempts root) binds, while the grader's own processes keep
    root's access to the files they lay out."""
    if os.geteuid() == 0:
        _map_root_and_nobody()
        return
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID
    _check(_libc.unshare(flags), "unshare(user, mount, net, pid)")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def _map_root_and_nobody() -> None:
    """As root: a mapping of two ids needs CAP_SETUID in the parent namespace, which a
    process loses for its own new namespace; so this process forks, the child unshares,
    and this one (still in the host's namespaces) writes the child's maps, then waits
    for it and ends the way it ends. Only the child returns."""
    ready_r, ready_w = os.pipe()
    mapped_r, mapped_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(ready_r)
        os.close(mapped_w)
        die_with_parent()
        flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID
        _check(_libc.unshare(flags), "unshare(user, mount, net, pid)")
        os.write(ready_w, b"1")
        os.close(ready_w)
        if os.read(mapped_r, 1) != b"1":
            raise OSError("the namespace's ids were not mapped")
        os.close(mapped_r)
        os.setresgid(0, 0, 0)  # the mapped root: full capabilities in the namespace
        os.setresuid(0, 0, 0)
        return
    os.close(ready_w)
    os.close(mapped_r)
    ok = os.read(ready_r, 1) == b"1"
    if ok:
        for name in ("uid_map", "gid_map"):
            with open(f"/proc/{child}/{name}", "w") as f:
                f.write(f"0 0 1\n{NOBODY} {NOBODY} 1\n")
        os.write(mapped_w, b"1")
    os.close(mapped_w)
    null = os.open(os.devnull, os.O_RDWR)  # the pipes reach EOF when the child dies
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    _, status = os.waitpid(child, 0)
    if os.WIFSIGNALED(status):  # die of the same signal (Python ignores some: reset it)
        import resource
        import signal

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def bind_layout(folder: str) -> None:
    """Make every mount private, lay a tmpfs over /tmp and bind ``folder`` at RUN.

    The interpreter's own folders that lie under /tmp (a checkout there, with nox's
    virtualenv inside it) are bound again at their own paths on the new tmpfs, so the
    confined process still finds its standard library and site-packages."""
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    keep = sorted({p for p in _interpreter_folders() if p.startswith("/tmp/") and os.path.isdir(p)})
    held = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in keep]
    fd = os.open(folder, os.O_PATH | os.O_DIRECTORY)
    try:
        opts = b"size=1m,mode=0755"
        _check(
            _libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, opts),
            "tmpfs on /tmp",
        )
        os.mkdir(RUN)
        source = f"/proc/self/fd/{fd}".encode()
        _check(_libc.mount(source, RUN.encode(), None, MS_BIND | MS_REC, None), "bind " + RUN)
        for path, kept in held:
            os.makedirs(path, exist_ok=True)
            bind_here(f"/proc/self/fd/{kept}", path)
    finally:
        os.close(fd)
        for _, kept in held:
            os.close(kept)


def unshare_pid_and_mount() -> None:
    """New PID (for our next child) and mount namespaces, inside the user namespace."""
    _check(_libc.unshare(CLONE_NEWPID | CLONE_NEWNS), "unshare(pid, mount)")


def mount_tmpfs(target: str, size: str) -> None:
    """A fresh tmpfs over ``target`` (this mount namespace only): its inode numbers and
    times start over, so nothing in it tells one mount from another."""
    options = f"size={size},mode=0755".encode()
    _check(_libc.mount(b"tmpfs", target.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options), "tmpfs")


def bind_here(source: str, target: str) -> None:
    """Bind ``source`` over the existing folder ``target`` (this mount namespace only)."""
    _check(_libc.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None), "bind")


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


# ----------------------------------------------------------------------- landlock
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


# ----------------------------------------------------------------------- policy
def stdlib_entries() -> list[str]:
    """Every entry of the standard library folder except ``site-packages`` (Landlock
    grants are recursive, so the folder itself cannot be granted); in the view of the
    installation where it is hidden from the child (``pyview``)."""
    import sysconfig

    found: set[str] = set()
    for key in ("stdlib", "platstdlib"):
        base = pyview.mapped(sysconfig.get_path(key))
        try:
            names = os.listdir(base)
        except OSError:  # a venv's platstdlib (only its site-packages), closed to NOBODY
            continue
        found.update(os.path.join(base, name) for name in names if name != "site-packages")
    return sorted(found)


def library_dirs() -> list[str]:
    """The folders of the shared libraries this interpreter has loaded (libc's folder
    holds what extension modules link against: libffi, libz, ...)."""
    dirs = {"/etc/ld.so.cache"}
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if path.startswith("/") and ".so" in path and os.path.exists(path):
                dirs.add(os.path.dirname(path))
    return sorted(d for d in dirs if os.path.exists(d))


def allowed_reads(read: Iterable[str]) -> list[str]:
    """What a confined process may read: the interpreter's files and ``read``."""
    return [*stdlib_entries(), *library_dirs(), "/dev/urandom", *read]


def lock_down(
    read: Iterable[str], write: Iterable[str], processes: bool = False, mode: str = ""
) -> None:
    """Steps 3 of the module docstring, in the order the kernel requires (``processes``:
    fork stays allowed, for the worker's driver; see ``seccomp_program``). A root
    process (the host's, or the namespace's mapped one) first becomes NOBODY."""
    if os.geteuid() == 0:  # without namespaces the host's root, with them the mapped one
        become_unprivileged()
        die_with_parent()  # a change of uid cleared it
    drop_capabilities()
    no_new_privs()
    landlock(allowed_reads(read), write, rw_files=["/dev/null"])
    seccomp(processes)


def lock_again(reads: list[str], write: Iterable[str]) -> None:
    """In a child of a locked-down process: a Landlock domain of its own inside its
    parent's (no signal reaches the parent, no ptrace of it) and the full seccomp filter.
    ``reads`` comes from ``allowed_reads``, computed before the parent's lock-down."""
    landlock(reads, write, rw_files=["/dev/null"])
    seccomp()


def hand_over(folder: str, writable: Iterable[str] = ()) -> None:
    """In the LANDLOCK mode as root: let NOBODY reach ``folder``, read everything in it
    and write in ``writable`` (whatever the grader's umask made of them)."""
    if os.geteuid() != 0:
        return
    os.chmod(folder, 0o711)  # reachable, not listable
    for base, dirs, files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(base, name), 0o755, follow_symlinks=False)
        for name in files:
            os.chmod(os.path.join(base, name), 0o644, follow_symlinks=False)
    for path in writable:
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)


def available() -> tuple[str, str]:
    """(mode, note): the strongest confinement this machine offers, and one line on
    what it lacks. Mode NAMESPACES (note ''), LANDLOCK (note: why not namespaces), or
    '' (note: why student code cannot be confined here at all).

    As root, student code runs as NOBODY in either mode: where that uid cannot read the
    interpreter's folders, they are seen through a view (``pyview``) built here."""
    if not sys.platform.startswith("linux") or platform.machine() != "x86_64":
        return (
            "",
            f"confinement needs Linux on x86_64 (this is {sys.platform} {platform.machine()})",
        )
    abi = landlock_abi()
    if abi < MIN_ABI:
        return "", "the kernel offers no Landlock (Linux 5.13+ with Landlock enabled is needed)"
    _view_for_nobody()
    why = _probe_namespaces()
    if not why:
        return NAMESPACES, ""
    why_not_either = _probe_landlock()
    if not why_not_either:
        return LANDLOCK, why
    return "", why if why_not_either == why else f"{why}; {why_not_either}"


def _probe(steps: list[str], run: Callable[[str, Callable[[int], None]], None]) -> str:
    """Run ``run(folder, reached)`` in a forked child (what it changes cannot be undone);
    '' if it got through, else ``steps[n]`` for the last ``reached(n)`` before it failed."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="minigrad-probe-") as folder:
        try:
            pid = os.fork()
        except OSError as exc:
            return f"cannot start a probe process ({exc.strerror})"
        if pid == 0:
            step = [0]
            try:
                run(folder, lambda n: step.__setitem__(0, n))
                os._exit(0)
            except BaseException:
                os._exit(10 + step[0])
        _, status = os.waitpid(pid, 0)
    if status == 0:
        return ""
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0
    return steps[code - 10] if 10 <= code < 10 + len(steps) else "the probe process failed"


def _interpreter_folders() -> list[str]:
    """The standard library and site-packages folders, as this process reads them."""
    import sysconfig

    viewed = set(pyview.VIEW.values())
    site = [p for p in sys.path if "site-packages" in p or p in viewed]
    return [pyview.mapped(p) for p in [sysconfig.get_path("stdlib"), *site]]


def _view_for_nobody() -> dict[str, str]:
    """As root: the view of the interpreter's folders that NOBODY cannot read."""
    if os.geteuid() != 0:
        return {}
    needed = [p for p in _interpreter_folders() if os.path.isdir(p)]
    hidden = pyview.hidden_from(NOBODY, needed)
    return pyview.ensure(hidden) if hidden else {}


def _probe_namespaces() -> str:
    view = _view_for_nobody()
    needed = [view.get(p, p) for p in _interpreter_folders() if os.path.isdir(p)]

    def run(folder: str, reached: Callable[[int], None]) -> None:
        pyview.apply(view)  # as the worker does
        enter_namespaces()
        reached(1)
        bind_layout(folder)
        reached(2)
        inner = os.fork()
        if inner == 0:
            try:
                become_unprivileged()  # as lock_down does
                drop_capabilities()
                no_new_privs()
                landlock([RUN, *needed], [])
                seccomp()
                for path in needed:  # still there, behind the new /tmp
                    os.listdir(path)
            except BaseException:
                os._exit(1)
            os._exit(0)
        reached(3)
        if os.waitpid(inner, 0)[1] != 0:
            raise OSError("lock-down")

    refuses = "the kernel refuses {} to this user"
    steps = ["user namespaces", "mounts in a user namespace", "fork", "Landlock or seccomp"]
    return _probe([refuses.format(step) for step in steps], run)


def _probe_landlock() -> str:
    """The LANDLOCK mode as the worker uses it: as root, NOBODY must reach a handed-over
    folder and read the interpreter's files (the standard library, site-packages), in
    a view of the installation where they are hidden from it (``pyview``)."""
    needed = [p for p in _interpreter_folders() if os.path.isdir(p)]
    view = _view_for_nobody()

    def run(folder: str, reached: Callable[[int], None]) -> None:
        pyview.apply(view)  # as the worker does
        work = os.path.join(folder, "work")
        os.mkdir(work)
        hand_over(folder, [work])
        become_unprivileged()
        reached(1)
        for path in needed:
            os.listdir(pyview.mapped(path))
        with open(os.path.join(work, "probe"), "w") as f:
            f.write("x")
        reached(2)
        lock_down([folder], [work])
        with open(os.path.join(work, "probe")) as f:
            f.read()

    steps = [
        "without namespaces, root cannot become an unprivileged user here",
        f"without namespaces, uid {NOBODY} cannot use the temp folder (let all users "
        "enter it: chmod a+x on it and its parents)",
        "without namespaces, the kernel refuses Landlock or seccomp to this user",
    ]
    return _probe(steps, run)

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
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct
import sys
from collections.abc import Iterable

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
]

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


def enter_namespaces() -> None:
    """unshare user, mount, network and PID namespaces; map our own uid/gid into the new
    user namespace (the only mapping an unprivileged process may write; as root it keeps
    file access as root, but holds no capability outside the namespace)."""
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID
    _check(_libc.unshare(flags), "unshare(user, mount, net, pid)")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def bind_layout(folder: str) -> None:
    """Make every mount private, lay a tmpfs over /tmp and bind ``folder`` at RUN."""
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
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
    finally:
        os.close(fd)


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


def drop_capabilities() -> None:
    """Lock securebits, empty the bounding and ambient sets, then zero every capability."""
    _check(_libc.prctl(PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0), "PR_SET_SECUREBITS")
    for cap in range(LAST_CAP + 1):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:
            _check(-1, f"PR_CAPBSET_DROP {cap}")  # EINVAL: past the kernel's last cap
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = struct.pack("Ii", LINUX_CAPABILITY_VERSION_3, 0)
    data = bytes(24)  # two {effective, permitted, inheritable} of u32, all zero
    _check(_libc.capset(header, data), "capset")


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
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
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
    # prctl(PR_SET_PDEATHSIG, ...) would let the child survive its parent: refused.
    prog += [
        _ins(JEQ, SYS["prctl"], 0, 4),
        _ins(LD_W_ABS, 16),
        _ins(JEQ, PR_SET_PDEATHSIG, 0, 1),
        _ins(RET, RET_ERRNO | EPERM),
        _ins(RET, RET_ALLOW),
    ]
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
    grants are recursive, so the folder itself cannot be granted)."""
    import sysconfig

    found: set[str] = set()
    for key in ("stdlib", "platstdlib"):
        base = sysconfig.get_path(key)
        for name in os.listdir(base):
            if name != "site-packages":
                found.add(os.path.join(base, name))
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


def lock_down(read: Iterable[str], write: Iterable[str], processes: bool = False) -> None:
    """Steps 3 of the module docstring, in the order the kernel requires (``processes``:
    fork stays allowed, for the worker's driver; see ``seccomp_program``)."""
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


def available() -> str:
    """'' where this machine can confine a child, else why not (one line)."""
    if not sys.platform.startswith("linux") or platform.machine() != "x86_64":
        return f"confinement needs Linux on x86_64 (this is {sys.platform} {platform.machine()})"
    abi = landlock_abi()
    if abi < MIN_ABI:
        return "the kernel offers no Landlock (Linux 5.13+ with Landlock enabled is needed)"
    import sysconfig

    needed = [sysconfig.get_path("stdlib"), *[p for p in sys.path if "site-packages" in p]]
    hidden = [p for p in needed if p.startswith("/tmp/")]
    if hidden:
        return f"{hidden[0]} is under /tmp, which the confinement replaces with an empty tmpfs"
    import tempfile

    steps = ["user namespaces", "mounts in a user namespace", "fork", "Landlock or seccomp"]
    with tempfile.TemporaryDirectory(prefix="minigrad-probe-") as folder:
        try:
            pid = os.fork()
        except OSError as exc:
            return f"cannot start a probe process ({exc.strerror})"
        if pid == 0:  # the whole setup, in a child: namespaces cannot be left again
            step = 0
            try:
                enter_namespaces()
                step = 1
                bind_layout(folder)
                step = 2
                inner = os.fork()
                if inner == 0:
                    step = 3
                    drop_capabilities()
                    no_new_privs()
                    landlock([RUN], [])
                    seccomp()
                    os._exit(0)
                _, inner_status = os.waitpid(inner, 0)
                os._exit(0 if inner_status == 0 else 13)
            except BaseException:
                os._exit(10 + step)
        _, status = os.waitpid(pid, 0)
    if status != 0:
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0
        what = steps[code - 10] if 10 <= code < 14 else "the probe"
        return f"the kernel refuses {what} to this user (needed to confine student code)"
    return ""
